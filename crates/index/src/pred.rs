//! A checked filter compiled against one view: values become the index's ids,
//! text comparisons are decided once per dictionary entry, and the predicate is
//! evaluated either over the base's columns at once (into a bit set) or on one
//! row of the delta. Semantics are those of `entman_query::eval`.

use crate::base::{Base, Column, Row, NULL_TIME};
use crate::bits::Bits;
use crate::texts::{EXTRA, NO_TEXT};
use crate::View;
use entman_query::ast::Op;
use entman_query::check::{Checked, Condition, Value};
use std::cmp::Ordering;

#[derive(Debug, Clone)]
pub(crate) enum Pred {
    Const(bool),
    And(Vec<Pred>),
    Or(Vec<Pred>),
    Uid(Op, [u8; 16]),
    Creation(Op, i64),
    /// Null (running) never matches but for `!=`.
    End(Op, i64),
    State(Op, u8),
    Result(Op, u8),
    /// A text column against a value whose place among the base's ranks is
    /// `place` (`exact`: the value is the text of that rank); extras are decided
    /// one by one; `null`: whether "no text" passes.
    Text {
        column: Column,
        /// Base ranks in `lo..hi` pass, or (`invert`) those outside.
        lo: u32,
        hi: u32,
        invert: bool,
        extras: Vec<bool>,
        null: bool,
    },
    /// Accepted server ids.
    Server(Vec<bool>),
    Tenant(u32),
}

/// How a missing value compares: only `!=` holds.
fn null_holds(op: Op) -> bool {
    op == Op::Ne
}

/// The 16 bytes of a GUID in lowercase text; their order is the text's order.
pub(crate) fn guid_bytes(text: &str) -> Option<[u8; 16]> {
    uuid::Uuid::parse_str(text).ok().map(|u| *u.as_bytes())
}

impl Pred {
    /// Compiles a filter (and the tenant restriction, as an extra conjunct:
    /// `None` no restriction, `Some(None)` a tenant the index does not know,
    /// which matches nothing).
    #[allow(clippy::option_option)]
    pub(crate) fn compile(
        filter: Option<&Checked>,
        tenant: Option<Option<u32>>,
        view: &View,
    ) -> Pred {
        let mut parts = Vec::new();
        if let Some(f) = filter {
            parts.push(Pred::of(f, view));
        }
        match tenant {
            Some(Some(t)) => parts.push(Pred::Tenant(t)),
            Some(None) => parts.push(Pred::Const(false)),
            None => {}
        }
        match parts.len() {
            0 => Pred::Const(true),
            1 => parts.pop().expect("one part"),
            _ => Pred::And(parts),
        }
    }

    fn of(f: &Checked, view: &View) -> Pred {
        match f {
            Checked::Or(p) => Pred::Or(p.iter().map(|x| Pred::of(x, view)).collect()),
            Checked::And(p) => Pred::And(p.iter().map(|x| Pred::of(x, view)).collect()),
            Checked::Cond(c) => Pred::condition(c, view),
        }
    }

    fn condition(c: &Condition, view: &View) -> Pred {
        let op = c.op;
        let Some(column) = Column::of(c.field.name) else {
            return Pred::Const(false);
        };
        match (column, &c.value) {
            (Column::Uid, Value::Uid(v)) => match guid_bytes(v) {
                Some(b) => Pred::Uid(op, b),
                None => Pred::Const(false),
            },
            (Column::Type, Value::Enum(v)) => Pred::Const(op.holds(0usize.cmp(v))),
            (Column::Creation, Value::Time(v)) => Pred::Creation(op, *v),
            (Column::End, Value::Time(v)) => Pred::End(op, *v),
            (Column::State, Value::Enum(v)) => Pred::State(op, clamp_u8(*v)),
            (Column::Result, Value::Enum(v)) => Pred::Result(op, clamp_u8(*v)),
            (Column::Name | Column::Message, Value::Text(v)) => {
                let (place, exact) = match view.base.texts.find(v) {
                    Ok(rank) => (rank as u32, true),
                    Err(place) => (place as u32, false),
                };
                // Ranks below `place` are less than the value; `place` itself is
                // equal when `exact`; the rest are greater.
                let equal_end = place + u32::from(exact);
                let (lo, hi, invert) = match op {
                    Op::Eq => (place, equal_end, false),
                    Op::Ne => (place, equal_end, true),
                    Op::Lt => (0, place, false),
                    Op::Le => (0, equal_end, false),
                    Op::Gt => (equal_end, u32::MAX, false),
                    Op::Ge => (place, u32::MAX, false),
                };
                Pred::Text {
                    column,
                    lo,
                    hi,
                    invert,
                    extras: view
                        .extras
                        .iter()
                        .map(|(_, t)| op.holds(t.as_ref().cmp(v.as_str())))
                        .collect(),
                    null: null_holds(op),
                }
            }
            (Column::ServerName, Value::Text(v)) => Pred::Server(
                view.servers
                    .iter()
                    .map(|s| match &s.name {
                        Some(n) => op.holds(n.as_ref().cmp(v.as_str())),
                        None => null_holds(op),
                    })
                    .collect(),
            ),
            (Column::ServerUid, Value::Uid(v)) => match guid_bytes(v) {
                Some(b) => Pred::Server(
                    view.servers
                        .iter()
                        .map(|s| op.holds(s.uid.cmp(&b)))
                        .collect(),
                ),
                None => Pred::Const(false),
            },
            // check_filter only produces the pairs above.
            _ => Pred::Const(false),
        }
    }

    /// Whether a row passes.
    pub(crate) fn test(&self, r: &Row) -> bool {
        match self {
            Pred::Const(b) => *b,
            Pred::And(p) => p.iter().all(|x| x.test(r)),
            Pred::Or(p) => p.iter().any(|x| x.test(r)),
            Pred::Uid(op, v) => op.holds(r.uid.cmp(v)),
            Pred::Creation(op, v) => op.holds(r.creation.cmp(v)),
            Pred::End(op, v) => time_holds(*op, r.end, *v),
            Pred::State(op, v) => op.holds(r.state.cmp(v)),
            Pred::Result(op, v) => op.holds(r.result.cmp(v)),
            Pred::Text { column, .. } => {
                let id = if *column == Column::Name {
                    r.name
                } else {
                    r.message
                };
                self.text_holds(id)
            }
            Pred::Server(accept) => accept.get(r.server as usize).copied().unwrap_or(false),
            Pred::Tenant(t) => r.tenant == *t,
        }
    }

    /// The rows of the base that pass, as a bit set.
    pub(crate) fn eval(&self, b: &Base) -> Bits {
        let n = b.len();
        match self {
            Pred::Const(true) => Bits::full(n),
            Pred::Const(false) => Bits::empty(n),
            Pred::And(parts) => {
                let mut acc = Bits::full(n);
                for p in parts {
                    acc.and(&p.eval(b));
                }
                acc
            }
            Pred::Or(parts) => {
                let mut acc = Bits::empty(n);
                for p in parts {
                    acc.or(&p.eval(b));
                }
                acc
            }
            Pred::Uid(op, v) => Bits::from_column(&b.uid, |u| op.holds(u.cmp(v))),
            Pred::Creation(op, v) => compare(&b.creation, *op, *v),
            Pred::End(op, v) => end_compare(&b.end, *op, *v),
            Pred::State(op, v) => compare(&b.state, *op, *v),
            Pred::Result(op, v) => compare(&b.result, *op, *v),
            Pred::Text {
                column,
                lo,
                hi,
                invert,
                null,
                ..
            } => {
                let col = if *column == Column::Name {
                    &b.name
                } else {
                    &b.message
                };
                // Base rows hold only ranks and NO_TEXT (never extras).
                let (lo, width, invert, null) = (*lo, hi.saturating_sub(*lo), *invert, *null);
                Bits::from_column(col, |id| {
                    if id == NO_TEXT {
                        null
                    } else {
                        (id.wrapping_sub(lo) < width) != invert
                    }
                })
            }
            Pred::Server(accept) => Bits::from_column(&b.server, |s| {
                accept.get(s as usize).copied().unwrap_or(false)
            }),
            Pred::Tenant(t) => Bits::from_column(&b.tenant, |x| x == *t),
        }
    }
}

fn clamp_u8(v: usize) -> u8 {
    v.min(u8::MAX as usize) as u8
}

#[inline]
fn time_holds(op: Op, stored: i64, v: i64) -> bool {
    if stored == NULL_TIME {
        null_holds(op)
    } else {
        op.holds(stored.cmp(&v))
    }
}

impl Pred {
    /// A [`Pred::Text`] on one text id.
    #[inline]
    fn text_holds(&self, id: u32) -> bool {
        let Pred::Text {
            lo,
            hi,
            invert,
            extras,
            null,
            ..
        } = self
        else {
            return false;
        };
        if id == NO_TEXT {
            *null
        } else if id & EXTRA != 0 {
            extras.get((id & !EXTRA) as usize).copied().unwrap_or(false)
        } else {
            (*lo <= id && id < *hi) != *invert
        }
    }
}

/// The sort key of a text id: "no text" first; an extra between the ranks
/// around its place, extras at one place by their text.
fn text_key(view: &View, id: u32) -> (u64, Option<&str>) {
    if id == NO_TEXT {
        (0, None)
    } else if id & EXTRA != 0 {
        match view.extras.get((id & !EXTRA) as usize) {
            Some((place, t)) => (2 * u64::from(*place) + 1, Some(t)),
            None => (0, None),
        }
    } else {
        (2 * u64::from(id) + 2, None)
    }
}

/// A column against a value. The operator is matched once, outside the loop,
/// so that each loop is one plain comparison the compiler can vectorise.
fn compare<T: Copy + Ord>(col: &[T], op: Op, v: T) -> Bits {
    match op {
        Op::Eq => Bits::from_column(col, |x| x == v),
        Op::Ne => Bits::from_column(col, |x| x != v),
        Op::Lt => Bits::from_column(col, |x| x < v),
        Op::Le => Bits::from_column(col, |x| x <= v),
        Op::Gt => Bits::from_column(col, |x| x > v),
        Op::Ge => Bits::from_column(col, |x| x >= v),
    }
}

/// [`compare`] for end times, where an unset time (the least value) only
/// satisfies `!=`.
fn end_compare(col: &[i64], op: Op, v: i64) -> Bits {
    debug_assert!(!null_holds(Op::Lt) && !null_holds(Op::Le) && null_holds(Op::Ne));
    match op {
        Op::Lt => Bits::from_column(col, |x| x != NULL_TIME && x < v),
        Op::Le => Bits::from_column(col, |x| x != NULL_TIME && x <= v),
        // NULL_TIME is below every time: `==`, `>` and `>=` never hold for it,
        // `!=` always does, as for a missing value.
        _ if v == NULL_TIME => Bits::from_column(col, |x| time_holds(op, x, v)),
        _ => compare(col, op, v),
    }
}

/// The order of two values of a column for sorting (nulls first).
pub(crate) fn cmp_column(column: Column, view: &View, a: &Row, b: &Row) -> Ordering {
    let server_name = |id: u32| {
        view.servers
            .get(id as usize)
            .and_then(|s| s.name.as_deref())
    };
    let server_uid = |id: u32| view.servers.get(id as usize).map(|s| s.uid);
    match column {
        Column::Uid | Column::Type => Ordering::Equal,
        Column::Creation => a.creation.cmp(&b.creation),
        Column::End => a.end.cmp(&b.end),
        Column::State => a.state.cmp(&b.state),
        Column::Result => a.result.cmp(&b.result),
        Column::Name => text_key(view, a.name).cmp(&text_key(view, b.name)),
        Column::Message => text_key(view, a.message).cmp(&text_key(view, b.message)),
        Column::ServerName => server_name(a.server).cmp(&server_name(b.server)),
        Column::ServerUid => server_uid(a.server).cmp(&server_uid(b.server)),
    }
}
