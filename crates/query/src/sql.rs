//! Checked queries → parameterized SQL. Every user value becomes a bound
//! parameter; the SQL text only ever contains constants of this crate (column
//! expressions, operators, placeholders). A [`Dialect`] supplies what differs
//! between SQLite and PostgreSQL; its defaults are SQLite's.

use crate::ast::Op;
use crate::check::{Checked, CheckedQuery, Condition, Direction, Value};
use crate::schema::Kind;
use std::fmt::Write as _;

/// A value bound to a placeholder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bind {
    /// A text value.
    Text(String),
    /// A whole number.
    Int(i64),
}

/// SQL text with its bound values, in placeholder order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sql {
    /// The statement, with placeholders.
    pub text: String,
    /// The values of the placeholders, in order.
    pub binds: Vec<Bind>,
}

impl Sql {
    fn bind(&mut self, d: &dyn Dialect, value: Bind) -> String {
        self.binds.push(value);
        d.placeholder(self.binds.len())
    }
}

/// What differs between SQL dialects.
pub trait Dialect {
    /// Placeholder of the n-th bound value (1-based).
    fn placeholder(&self, n: usize) -> String {
        format!("${n}")
    }
    /// Text folded for case-insensitive comparison: ASCII letters only, the same
    /// on every backend.
    fn fold(&self, expr: &str) -> String {
        format!("lower({expr})")
    }
    /// Folded text as compared and sorted: by code point.
    fn text_key(&self, folded: &str) -> String {
        folded.to_string()
    }
}

/// SQLite: `lower()` folds ASCII only; text compares by code point (BINARY).
pub struct Sqlite;
impl Dialect for Sqlite {}

/// PostgreSQL: under the "C" collation `lower()` folds ASCII letters only, as
/// SQLite's does, and text compares by code point.
pub struct Postgres;
impl Dialect for Postgres {
    fn fold(&self, expr: &str) -> String {
        format!("lower(({expr}) COLLATE \"C\")")
    }
    fn text_key(&self, folded: &str) -> String {
        format!("({folded}) COLLATE \"C\"")
    }
}

/// Rows a caller may see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Restriction {
    /// Everything.
    None,
    /// One tenant's objects (tenant GUID).
    Tenant(String),
    /// One logon session's tasks (logon session GUID).
    LogonSession(String),
}

fn sql_op(op: Op) -> &'static str {
    match op {
        Op::Eq => "=",
        Op::Ne => "<>",
        Op::Lt => "<",
        Op::Le => "<=",
        Op::Gt => ">",
        Op::Ge => ">=",
    }
}

fn compare(
    sql: &mut Sql,
    d: &dyn Dialect,
    column: &str,
    key: String,
    op: Op,
    value: Bind,
) -> String {
    let p = sql.bind(d, value);
    match op {
        // A missing value is never equal, so `!=` holds for it (query.md §5.4).
        Op::Ne => format!("({column} IS NULL OR {key} <> {p})"),
        _ => format!("{key} {} {p}", sql_op(op)),
    }
}

fn condition(sql: &mut Sql, d: &dyn Dialect, c: &Condition) -> String {
    let col = c.field.column;
    match (&c.value, c.field.kind) {
        (Value::Text(v), _) => {
            let key = d.text_key(&d.fold(col));
            compare(sql, d, col, key, c.op, Bind::Text(v.clone()))
        }
        (Value::Uid(v), _) => compare(sql, d, col, col.to_string(), c.op, Bind::Text(v.clone())),
        (Value::Time(v) | Value::Int(v), _) => {
            compare(sql, d, col, col.to_string(), c.op, Bind::Int(*v))
        }
        (Value::Bool(b), _) => {
            compare(sql, d, col, col.to_string(), c.op, Bind::Int(i64::from(*b)))
        }
        (Value::Task(n), _) => {
            compare(sql, d, col, col.to_string(), c.op, Bind::Int(i64::from(*n)))
        }
        (Value::Enum(index), Kind::Enum(members)) => {
            // Enumerations compare by index: the members that satisfy the operator
            // become an IN list of stored values, which an index can serve.
            let chosen: Vec<&str> = members
                .iter()
                .enumerate()
                .filter(|(i, _)| c.op.holds(i.cmp(index)))
                .map(|(_, m)| m.1)
                .collect();
            let in_list = if chosen.is_empty() {
                "1 = 0".to_string()
            } else {
                let ps: Vec<String> = chosen
                    .iter()
                    .map(|v| sql.bind(d, Bind::Text(v.to_string())))
                    .collect();
                format!("{col} IN ({})", ps.join(", "))
            };
            if c.op == Op::Ne {
                format!("({col} IS NULL OR {in_list})")
            } else {
                in_list
            }
        }
        (Value::Enum(_), _) => "1 = 0".to_string(),
    }
}

fn filter(sql: &mut Sql, d: &dyn Dialect, f: &Checked) -> String {
    match f {
        Checked::Cond(c) => condition(sql, d, c),
        Checked::And(parts) => format!(
            "({})",
            parts
                .iter()
                .map(|p| filter(sql, d, p))
                .collect::<Vec<_>>()
                .join(" AND ")
        ),
        Checked::Or(parts) => format!(
            "({})",
            parts
                .iter()
                .map(|p| filter(sql, d, p))
                .collect::<Vec<_>>()
                .join(" OR ")
        ),
    }
}

fn where_clause(
    sql: &mut Sql,
    d: &dyn Dialect,
    q: &CheckedQuery,
    restriction: &Restriction,
) -> String {
    let mut parts = Vec::new();
    match restriction {
        Restriction::None => {}
        Restriction::Tenant(t) => match q.query_type.tenant_column() {
            Some(col) => {
                let p = sql.bind(d, Bind::Text(t.clone()));
                parts.push(format!("{col} = {p}"));
            }
            None => parts.push("1 = 0".to_string()),
        },
        Restriction::LogonSession(id) => {
            let p = sql.bind(d, Bind::Text(id.clone()));
            parts.push(format!("k.logon_session_id = {p}"));
        }
    }
    if let Some(f) = &q.filter {
        parts.push(filter(sql, d, f));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", parts.join(" AND "))
    }
}

/// `SELECT COUNT(*)` of the query's rows.
pub fn count_sql(q: &CheckedQuery, restriction: &Restriction, d: &dyn Dialect) -> Sql {
    let mut sql = Sql::default();
    let w = where_clause(&mut sql, d, q, restriction);
    sql.text = format!("SELECT COUNT(*) FROM {}{w}", q.query_type.from_clause());
    sql
}

/// The sort key expression of the query's sort field.
fn sort_key(q: &CheckedQuery, d: &dyn Dialect) -> String {
    let col = q.sort.column;
    match q.sort.kind {
        Kind::Text => d.text_key(&d.fold(col)),
        Kind::Enum(members) => {
            let whens = members
                .iter()
                .enumerate()
                .fold(String::new(), |mut whens, (i, m)| {
                    let _ = write!(whens, " WHEN '{}' THEN {i}", m.1);
                    whens
                });
            format!("CASE {col}{whens} END")
        }
        _ => col.to_string(),
    }
}

/// `SELECT <id>` of one page: `offset` rows skipped, at most `limit` rows. With
/// `reverse` the order is inverted (the caller reverses the rows again), so pages
/// near the end skip few rows instead of nearly all of them.
///
/// Ties are broken by the key in the sort's direction, and only nullable columns
/// get an explicit NULLS order, so that an index on (filter, sort, key) serves the
/// whole ORDER BY without a sort step.
pub fn page_sql(
    q: &CheckedQuery,
    restriction: &Restriction,
    d: &dyn Dialect,
    offset: u64,
    limit: u64,
    reverse: bool,
) -> Sql {
    let mut sql = Sql::default();
    let w = where_clause(&mut sql, d, q, restriction);
    let ascending = (q.direction == Direction::Asc) != reverse;
    let order = match (ascending, q.sort.nullable) {
        (true, true) => "ASC NULLS FIRST",
        (false, true) => "DESC NULLS LAST",
        (true, false) => "ASC",
        (false, false) => "DESC",
    };
    // Ties follow the sort's direction so one index serves the whole ORDER BY.
    let tie = if ascending { "ASC" } else { "DESC" };
    let limit_p = sql.bind(d, Bind::Int(limit as i64));
    let offset_p = sql.bind(d, Bind::Int(offset as i64));
    sql.text = format!(
        "SELECT {id} FROM {from}{w} ORDER BY {key} {order}, {id} {tie} LIMIT {limit_p} OFFSET {offset_p}",
        id = q.query_type.id_column(),
        from = q.query_type.from_clause(),
        key = sort_key(q, d),
    );
    sql
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::check_query;
    use crate::parse;
    use crate::schema::QueryType;

    fn query(t: QueryType, filter: &str, sort: Option<(&str, Direction)>) -> CheckedQuery {
        let f = parse(filter).unwrap();
        check_query(t, f.as_ref(), sort).unwrap()
    }

    #[test]
    fn sqlite_session_query_is_exact() {
        let q = query(
            QueryType::CloudFailoverSession,
            "Result>=Warning;CreationTime>\"2019-07-01\"",
            Some(("CreationTime", Direction::Desc)),
        );
        let sql = page_sql(&q, &Restriction::None, &Sqlite, 200, 100, false);
        assert_eq!(
            sql.text,
            "SELECT s.id FROM failover_sessions s WHERE (s.result IN ($1, $2) AND s.creation_time > $3) \
             ORDER BY s.creation_time DESC, s.id DESC LIMIT $4 OFFSET $5"
        );
        assert_eq!(
            sql.binds,
            vec![
                Bind::Text("Warning".into()),
                Bind::Text("Failed".into()),
                Bind::Int(1_561_939_200_000_000),
                Bind::Int(100),
                Bind::Int(200)
            ]
        );
    }

    #[test]
    fn postgres_folds_ascii_and_compares_in_c_collation() {
        let q = query(
            QueryType::CloudFailoverPlan,
            "CloudTenantName==\"ABC Company\",Name!=x",
            None,
        );
        let sql = count_sql(&q, &Restriction::Tenant("t".into()), &Postgres);
        assert_eq!(
            sql.text,
            "SELECT COUNT(*) FROM plans p WHERE p.tenant_id = $1 AND \
             ((lower(((SELECT tn.name FROM tenants tn WHERE tn.id = p.tenant_id)) COLLATE \"C\")) COLLATE \"C\" = $2 \
             OR (p.name IS NULL OR (lower((p.name) COLLATE \"C\")) COLLATE \"C\" <> $3))"
        );
        assert_eq!(
            sql.binds,
            vec![
                Bind::Text("t".into()),
                Bind::Text("abc company".into()),
                Bind::Text("x".into())
            ]
        );
    }

    #[test]
    fn hostile_values_only_ever_reach_binds() {
        let evil = "'; DROP TABLE failover_sessions; --";
        let q = query(
            QueryType::CloudFailoverSession,
            &format!("Name==\"{evil}\";FailureMessage!=\"\\\"\"\""),
            None,
        );
        let sql = page_sql(&q, &Restriction::None, &Sqlite, 0, 10, true);
        assert!(!sql.text.contains("DROP"));
        assert!(!sql.text.contains('\''));
        assert!(sql.binds.contains(&Bind::Text(evil.to_ascii_lowercase())));
        assert!(sql
            .text
            .ends_with("ORDER BY s.creation_time DESC, s.id DESC LIMIT $3 OFFSET $4"));
    }

    #[test]
    fn enum_sorting_and_empty_enum_sets() {
        let q = query(
            QueryType::Task,
            "State<Running",
            Some(("State", Direction::Asc)),
        );
        let sql = page_sql(
            &q,
            &Restriction::LogonSession("l".into()),
            &Sqlite,
            0,
            5,
            false,
        );
        assert_eq!(
            sql.text,
            "SELECT k.number FROM tasks k WHERE k.logon_session_id = $1 AND 1 = 0 ORDER BY \
             CASE k.state WHEN 'Running' THEN 0 WHEN 'OperationFinished' THEN 1 WHEN 'Finished' THEN 2 END ASC, \
             k.number ASC LIMIT $2 OFFSET $3"
        );
    }
}
