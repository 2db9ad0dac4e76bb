//! Reference semantics of a checked filter over one row, in memory. The SQL the
//! [`crate::sql`] module emits must select exactly the rows this accepts; the
//! property tests of the store hold the two against each other.

use crate::ast::Op;
use crate::check::{fold, Checked, Condition, Value};
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
