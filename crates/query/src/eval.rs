//! Reference semantics of a checked filter over one row, in memory. The SQL the
//! [`crate::sql`] module emits must select exactly the rows this accepts; the
//! property tests of the store hold the two against each other.

use crate::ast::Op;
use crate::check::{fold, Checked, CheckedQuery, Condition, Direction, Value};
use crate::schema::{Field, Kind};
use std::cmp::Ordering;

/// A field's value in a row, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stored {
    /// A text, GUID or enumeration value.
    Text(String),
    /// A number, time (microseconds) or boolean (0/1).
    Int(i64),
    /// No value (the column is NULL).
    Null,
}

/// Whether the row (given as a lookup from field to stored value) passes the filter.
pub fn matches(filter: &Checked, row: &dyn Fn(&Field) -> Stored) -> bool {
    match filter {
        Checked::Or(parts) => parts.iter().any(|p| matches(p, row)),
        Checked::And(parts) => parts.iter().all(|p| matches(p, row)),
        Checked::Cond(c) => condition(c, row(c.field)),
    }
}

fn condition(c: &Condition, stored: Stored) -> bool {
    let ordering = match (&c.value, stored) {
        (_, Stored::Null) => None,
        (Value::Text(v), Stored::Text(s)) => Some(fold(&s).cmp(v)),
        (Value::Uid(v), Stored::Text(s)) => Some(s.cmp(v)),
        (Value::Time(v) | Value::Int(v), Stored::Int(s)) => Some(s.cmp(v)),
        (Value::Bool(v), Stored::Int(s)) => Some(s.cmp(&i64::from(*v))),
        (Value::Task(v), Stored::Int(s)) => Some(s.cmp(&i64::from(*v))),
        (Value::Enum(v), Stored::Text(s)) => match c.field.kind {
            Kind::Enum(members) => members.iter().position(|m| m.1 == s).map(|i| i.cmp(v)),
            _ => None,
        },
        _ => None,
    };
    match ordering {
        Some(ord) => c.op.holds(ord),
        None => c.op == Op::Ne,
    }
}

/// Compares two stored values the way sorting does (nulls first).
pub fn sort_cmp(field: &Field, a: &Stored, b: &Stored) -> Ordering {
    let key = |s: &Stored| -> (u8, Option<i64>, Option<String>) {
        match (s, field.kind) {
            (Stored::Null, _) => (0, None, None),
            (Stored::Text(t), Kind::Enum(members)) => (
                1,
                members.iter().position(|m| m.1 == t).map(|i| i as i64),
                None,
            ),
            (Stored::Text(t), Kind::Text) => (1, None, Some(fold(t))),
            (Stored::Text(t), _) => (1, None, Some(t.clone())),
            (Stored::Int(i), _) => (1, Some(*i), None),
        }
    };
    key(a).cmp(&key(b))
}

/// A row of an in-memory type: its key (the UID's GUID) and one stored value
/// per field of the type, in the order of [`crate::QueryType::fields`].
pub type Row = (String, Vec<Stored>);

/// Answers a query over rows in memory (types whose values are derived at
/// request time, [`crate::QueryType::in_memory`]): the rows the filter accepts,
/// sorted by the sort field with ties by key in the same direction, as the SQL
/// does; returns the total and the keys of `limit` rows from `offset`.
pub fn select(q: &CheckedQuery, rows: &[Row], offset: u64, limit: u64) -> (u64, Vec<String>) {
    let fields = q.query_type.fields();
    let position = |f: &Field| fields.iter().position(|g| g.name == f.name);
    let value = |row: &Row, f: &Field| {
        position(f)
            .and_then(|i| row.1.get(i).cloned())
            .unwrap_or(Stored::Null)
    };
    let mut hits: Vec<&Row> = rows
        .iter()
        .filter(|row| {
            q.filter
                .as_ref()
                .is_none_or(|filter| matches(filter, &|f: &Field| value(row, f)))
        })
        .collect();
    hits.sort_by(|a, b| {
        let order =
            sort_cmp(q.sort, &value(a, q.sort), &value(b, q.sort)).then_with(|| a.0.cmp(&b.0));
        match q.direction {
            Direction::Asc => order,
            Direction::Desc => order.reverse(),
        }
    });
    let total = hits.len() as u64;
    let keys = hits
        .into_iter()
        .skip(usize::try_from(offset).unwrap_or(usize::MAX))
        .take(usize::try_from(limit).unwrap_or(usize::MAX))
        .map(|row| row.0.clone())
        .collect();
    (total, keys)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{check_query, parse, QueryType};

    fn job_row(key: &str, name: &str, next_run: Option<i64>, job_type: &str) -> Row {
        let t = |s: &str| Stored::Text(s.to_string());
        (
            key.to_string(),
            vec![
                t(key),
                t(name),
                t(""),
                next_run.map_or(Stored::Null, Stored::Int),
                t(job_type),
                t("VMware"),
                Stored::Int(1),
                Stored::Int(1),
                t("s"),
                t("srv"),
            ],
        )
    }

    #[test]
    fn select_filters_sorts_with_ties_by_key_and_pages() {
        let rows = vec![
            job_row("c", "Gamma", None, "Backup"),
            job_row("a", "alpha", Some(5), "Replica"),
            job_row("b", "Beta", None, "Backup"),
        ];
        let q = |filter: Option<&str>, sort: Option<(&str, Direction)>| {
            let f = filter.and_then(|f| parse(f).unwrap());
            check_query(QueryType::Job, f.as_ref(), sort).unwrap()
        };
        // Default sort: Name, case-insensitively.
        assert_eq!(
            select(&q(None, None), &rows, 0, 10),
            (3, vec!["a".into(), "b".into(), "c".into()])
        );
        // Nulls first ascending, ties by key; the reverse descending.
        let by_next = q(None, Some(("NextRun", Direction::Asc)));
        assert_eq!(select(&by_next, &rows, 0, 10).1, ["b", "c", "a"]);
        let by_next_desc = q(None, Some(("NextRun", Direction::Desc)));
        assert_eq!(select(&by_next_desc, &rows, 0, 10).1, ["a", "c", "b"]);
        // The total counts every match; the page is a slice of them.
        let backups = q(Some("JobType==Backup"), None);
        assert_eq!(select(&backups, &rows, 1, 5), (2, vec!["c".into()]));
        assert_eq!(select(&backups, &rows, 5, 5), (2, vec![]));
    }
}
