//! Checking a parsed filter against a query type: every field must exist, every
//! value must fit its field's kind (query.md §5.4). The result holds typed values
//! ready to be bound.

use crate::ast::{Comparison, Filter, Op};
use crate::error::{QueryError, QueryErrorKind};
use crate::schema::{Field, Kind, QueryType};
use entman_model::ids::parse_uid;
use entman_model::{TaskNumber, Timestamp};

/// A typed comparison value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// Text, already folded to lower case (ASCII), as compared.
    Text(String),
    /// A GUID in lowercase hyphenated form.
    Uid(String),
    /// Microseconds since the epoch.
    Time(i64),
    /// A whole number.
    Int(i64),
    /// A boolean.
    Bool(bool),
    /// Index in the field's enumeration.
    Enum(usize),
    /// A task number.
    Task(u32),
}

/// A comparison bound to a field.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    /// The field compared.
    pub field: &'static Field,
    /// The comparison operator.
    pub op: Op,
    /// The value, parsed for the field's kind.
    pub value: Value,
}

/// A checked filter.
#[derive(Debug, Clone, PartialEq)]
pub enum Checked {
    /// Any of the parts holds (`,`).
    Or(Vec<Checked>),
    /// All of the parts hold (`;`).
    And(Vec<Checked>),
    /// One comparison.
    Cond(Condition),
}

/// Sort direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Ascending (`sortAsc`).
    Asc,
    /// Descending (`sortDesc`).
    Desc,
}

/// A complete, checked query.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckedQuery {
    /// The type queried.
    pub query_type: QueryType,
    /// The filter; `None` selects every row of the type.
    pub filter: Option<Checked>,
    /// The field to sort by (the type's default when none was asked).
    pub sort: &'static Field,
    /// The sort direction.
    pub direction: Direction,
}

/// ASCII lower case: the folding both databases apply the same way.
pub fn fold(s: &str) -> String {
    s.to_ascii_lowercase()
}

/// Checks a filter for a type.
pub fn check_filter(filter: &Filter, t: QueryType) -> Result<Checked, QueryError> {
    Ok(match filter {
        Filter::Or(parts) => Checked::Or(
            parts
                .iter()
                .map(|p| check_filter(p, t))
                .collect::<Result<_, _>>()?,
        ),
        Filter::And(parts) => Checked::And(
            parts
                .iter()
                .map(|p| check_filter(p, t))
                .collect::<Result<_, _>>()?,
        ),
        Filter::Cmp(c) => Checked::Cond(check_comparison(c, t)?),
    })
}

fn check_comparison(c: &Comparison, t: QueryType) -> Result<Condition, QueryError> {
    let field = t.field(&c.field).ok_or_else(|| {
        QueryError::at(
            c.field_pos,
            QueryErrorKind::UnknownField {
                field: c.field.clone(),
                type_name: t.name(),
            },
        )
    })?;
    let bad = |expected: &str| {
        QueryError::at(
            c.value_pos,
            QueryErrorKind::BadValue {
                field: field.name.to_string(),
                value: c.value.chars().take(64).collect(),
                expected: expected.to_string(),
            },
        )
    };
    let value = match field.kind {
        Kind::Text => Value::Text(fold(&c.value)),
        Kind::Uid(urn) => Value::Uid(
            parse_uid(c.value.trim(), urn)
                .ok_or_else(|| bad(&format!("urn:veeam:{urn}:<GUID> or a GUID")))?
                .to_string(),
        ),
        Kind::Time => Value::Time(
            Timestamp::parse(&c.value)
                .ok_or_else(|| bad("an ISO 8601 date-time"))?
                .micros(),
        ),
        Kind::Int => Value::Int(c.value.trim().parse().map_err(|_| bad("an integer"))?),
        Kind::Bool => Value::Bool(match c.value.trim().to_ascii_lowercase().as_str() {
            "true" => true,
            "false" => false,
            _ => return Err(bad("true or false")),
        }),
        Kind::Enum(members) => Value::Enum(
            members
                .iter()
                .position(|(name, _)| name.eq_ignore_ascii_case(c.value.trim()))
                .ok_or_else(|| {
                    bad(&format!(
                        "one of {}",
                        members.iter().map(|m| m.0).collect::<Vec<_>>().join(", ")
                    ))
                })?,
        ),
        Kind::TaskId => match c.value.trim().parse::<TaskNumber>() {
            Ok(n) => Value::Task(n.0),
            Err(()) => return Err(bad("task-<number>")),
        },
    };
    Ok(Condition {
        field,
        op: c.op,
        value,
    })
}

/// Builds a checked query from the `type`, `filter` and sort parameters.
pub fn check_query(
    t: QueryType,
    filter: Option<&Filter>,
    sort: Option<(&str, Direction)>,
) -> Result<CheckedQuery, QueryError> {
    let filter = filter.map(|f| check_filter(f, t)).transpose()?;
    let (sort, direction) = match sort {
        Some((name, dir)) => {
            let field = t.field(name.trim()).ok_or_else(|| {
                QueryError::at(
                    0,
                    QueryErrorKind::UnknownField {
                        field: name.to_string(),
                        type_name: t.name(),
                    },
                )
            })?;
            (field, dir)
        }
        None => (t.default_sort(), Direction::Asc),
    };
    Ok(CheckedQuery {
        query_type: t,
        filter,
        sort,
        direction,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse;

    fn check(t: QueryType, s: &str) -> Result<Checked, QueryError> {
        check_filter(&parse(s).unwrap().unwrap(), t)
    }

    #[test]
    fn values_are_typed_by_field() {
        let c = check(
            QueryType::CloudFailoverSession,
            "result==failed;creationtime>\"2019-07-01\";uid==a986d473-0248-4884-9832-17ec982ee393",
        )
        .unwrap();
        let Checked::And(parts) = c else { panic!() };
        assert!(matches!(
            &parts[0],
            Checked::Cond(Condition {
                value: Value::Enum(3),
                ..
            })
        ));
        assert!(matches!(
            &parts[1],
            Checked::Cond(Condition {
                value: Value::Time(_),
                ..
            })
        ));
        assert!(matches!(
            &parts[2],
            Checked::Cond(Condition {
                value: Value::Uid(_),
                ..
            })
        ));
        assert!(check(QueryType::CloudTenant, "Type==ActiveDirectory;Enabled==TRUE;BackupServerUId==urn:veeam:BackupServer:4ceb4e03-d23d-4c4e-be05-21580b260243").is_ok());
        assert!(check(QueryType::Task, "TaskUid>=task-3").is_ok());
        assert!(check(
            QueryType::BackupServer,
            "Port<=9392;Version==\"11.0.0.837\""
        )
        .is_ok());
    }

    #[test]
    fn unknown_fields_and_bad_values_name_what_and_where() {
        let e = check(
            QueryType::CloudFailoverSession,
            "Result==Failed;Colour==red",
        )
        .unwrap_err();
        assert_eq!(e.position, 15);
        assert!(e
            .to_string()
            .contains("[Colour] is not a field of CloudFailoverSession"));
        for (t, f, pos) in [
            (QueryType::CloudFailoverSession, "Result==Maybe", 8),
            (
                QueryType::CloudFailoverSession,
                "CreationTime>yesterday",
                13,
            ),
            (QueryType::CloudFailoverSession, "UID==nope", 5),
            (
                QueryType::CloudFailoverSession,
                "UID==urn:veeam:BackupServer:4ceb4e03-d23d-4c4e-be05-21580b260243",
                5,
            ),
            (QueryType::BackupServer, "Port==ninety", 6),
            (QueryType::CloudTenant, "Enabled==yes", 9),
            (QueryType::Task, "TaskId==7", 8),
        ] {
            let e = check(t, f).unwrap_err();
            assert_eq!(e.position, pos, "{f}: {e}");
            assert!(e.to_string().contains("is not a valid value"), "{e}");
        }
    }

    #[test]
    fn sort_fields_are_checked_and_defaults_apply() {
        let q = check_query(QueryType::CloudFailoverSession, None, None).unwrap();
        assert_eq!((q.sort.name, q.direction), ("CreationTime", Direction::Asc));
        assert_eq!(
            check_query(QueryType::Task, None, None).unwrap().sort.name,
            "TaskId"
        );
        assert_eq!(
            check_query(QueryType::CloudFailoverPlan, None, None)
                .unwrap()
                .sort
                .name,
            "Name"
        );
        assert!(check_query(
            QueryType::CloudReplica,
            None,
            Some(("Colour", Direction::Desc))
        )
        .is_err());
        assert_eq!(
            check_query(QueryType::Task, None, Some(("taskuid", Direction::Asc)))
                .unwrap()
                .sort
                .name,
            "TaskId"
        );
    }
}
