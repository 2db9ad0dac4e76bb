//! Counting sessions from the per-day buckets of `session_counts` (migration 4)
//! when a query only constrains `Result` and `CreationTime`: whole days come from
//! the buckets, the partial days at the edges of the range from the index.

use entman_query::check::{Checked, Condition, Value};
use entman_query::schema::{Kind, QueryType};
use entman_query::{CheckedQuery, Op};
use entman_store::Restriction;

const DAY: i64 = 86_400_000_000;

/// A session query that buckets can count: result names and a half-open time range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BucketCount {
    pub results: Vec<&'static str>,
    pub lo: Option<i64>,
    pub hi: Option<i64>,
    pub tenant: Option<String>,
}

/// The bucket form of a query, when it has one.
pub(crate) fn bucket_shape(q: &CheckedQuery, restriction: &Restriction) -> Option<BucketCount> {
    if q.query_type != QueryType::CloudFailoverSession {
        return None;
    }
    let tenant = match restriction {
        Restriction::None => None,
        Restriction::Tenant(t) => Some(t.clone()),
        Restriction::LogonSession(_) => return None,
    };
    let result_field = q.query_type.field("Result")?;
    let Kind::Enum(members) = result_field.kind else {
        return None;
    };
    let mut shape = BucketCount {
        results: members.iter().map(|m| m.1).collect(),
        lo: None,
        hi: None,
        tenant,
    };
    let mut conditions = Vec::new();
    if let Some(f) = &q.filter {
        collect_and(f, &mut conditions)?;
    }
    for c in conditions {
        match (c.field.name, &c.value) {
            ("Result", Value::Enum(index)) => {
                shape.results.retain(|name| {
                    members
                        .iter()
                        .position(|m| m.1 == *name)
                        .is_some_and(|i| c.op.holds(i.cmp(index)))
                });
            }
            ("CreationTime", Value::Time(t)) => {
                let (lo, hi) = match c.op {
                    Op::Eq => (Some(*t), Some(t.checked_add(1)?)),
                    Op::Gt => (Some(t.checked_add(1)?), None),
                    Op::Ge => (Some(*t), None),
                    Op::Lt => (None, Some(*t)),
                    Op::Le => (None, Some(t.checked_add(1)?)),
                    Op::Ne => return None,
                };
                shape.lo = shape.lo.max(lo);
                shape.hi = match (shape.hi, hi) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
            }
            _ => return None,
        }
    }
    // Day numbers are stored by truncating division; below 1970 it would differ
    // from the floor division used here.
    if shape.lo.is_some_and(|l| l < 0) || shape.hi.is_some_and(|h| h < 0) {
        return None;
    }
    Some(shape)
}

fn collect_and<'a>(f: &'a Checked, out: &mut Vec<&'a Condition>) -> Option<()> {
    match f {
        Checked::Cond(c) => out.push(c),
        Checked::And(parts) => {
            for p in parts {
                collect_and(p, out)?;
            }
        }
        Checked::Or(_) => return None,
    }
    Some(())
}

/// One piece of a bucket count: a sum over whole days or an exact count over an
/// interval (`[from, to)` in microseconds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Piece {
    Days { from: Option<i64>, to: Option<i64> },
    Exact { from: i64, to: i64 },
}

/// Splits the range into whole days (from the buckets) and partial edges.
pub(crate) fn pieces(shape: &BucketCount) -> Vec<Piece> {
    match (shape.lo, shape.hi) {
        (Some(lo), Some(hi)) if lo >= hi => vec![],
        (lo, hi) => {
            let first_day = lo.map(|l| (l + DAY - 1) / DAY);
            let end_day = hi.map(|h| h / DAY);
            if let (Some(f), Some(e), Some(l), Some(h)) = (first_day, end_day, lo, hi) {
                if f >= e {
                    return vec![Piece::Exact { from: l, to: h }];
                }
            }
            let mut out = vec![Piece::Days {
                from: first_day,
                to: end_day,
            }];
            if let (Some(l), Some(f)) = (lo, first_day) {
                if l < f * DAY {
                    out.push(Piece::Exact {
                        from: l,
                        to: f * DAY,
                    });
                }
            }
            if let (Some(h), Some(e)) = (hi, end_day) {
                if e * DAY < h {
                    out.push(Piece::Exact {
                        from: e * DAY,
                        to: h,
                    });
                }
            }
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use entman_query::{check_query, parse};

    fn shape(filter: &str) -> Option<BucketCount> {
        let f = parse(filter).unwrap();
        let q = check_query(QueryType::CloudFailoverSession, f.as_ref(), None).unwrap();
        bucket_shape(&q, &Restriction::None)
    }

    #[test]
    fn result_and_time_ranges_have_a_bucket_form() {
        let s = shape("Result>=Warning;CreationTime>=\"2026-03-01\";CreationTime<\"2026-09-01\"")
            .unwrap();
        assert_eq!(s.results, vec!["Warning", "Failed"]);
        assert_eq!(s.lo.unwrap() % DAY, 0);
        assert_eq!(
            pieces(&s),
            vec![Piece::Days {
                from: Some(s.lo.unwrap() / DAY),
                to: Some(s.hi.unwrap() / DAY)
            }]
        );
        let s = shape("CreationTime>\"2026-03-01T12:00:00Z\"").unwrap();
        assert_eq!(
            pieces(&s).len(),
            2,
            "whole days from the next midnight, plus the partial first day"
        );
        assert!(shape("Result==Failed,State==Working").is_none());
        assert!(shape("Name==x").is_none());
        assert!(shape("CreationTime!=\"2026-03-01\"").is_none());
        assert_eq!(
            pieces(&shape("CreationTime>\"2026-03-02\";CreationTime<\"2026-03-01\"").unwrap()),
            vec![]
        );
    }
}
