//! Counting the matches of a query and picking one page of them in sort order.
//!
//! Two ways to a page, chosen by cost: walk the sort column's order over the
//! rows that match (cheap when matches are dense or the page is near an end:
//! pages past the middle are walked from the far end), or gather the matches and
//! select the page among them (cheap when matches are few). Rows of the delta are
//! merged into either way in sort order.

use crate::base::{Column, Row};
use crate::bits::Bits;
use crate::pred::{cmp_column, Pred};
use crate::{PagePath, View};
use std::cmp::Ordering;
use std::time::Instant;

/// The query took longer than its budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Overrun;

/// The matches of a query: their number, and the UIDs of one page.
pub(crate) struct Selected {
    pub total: u64,
    pub uids: Vec<[u8; 16]>,
}

/// How many walked rows between two looks at the clock.
const CLOCK_EVERY: usize = 1 << 16;

/// Counts the matches of `pred` and returns rows `offset .. offset + limit` of
/// them sorted by `column` (ties by UID) in the direction `desc`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn select(
    view: &View,
    pred: &Pred,
    column: Column,
    desc: bool,
    offset: u64,
    limit: u64,
    path: PagePath,
    deadline: Instant,
) -> Result<Selected, Overrun> {
    let base = &*view.base;
    let mut bits = pred.eval(base);
    bits.and_not(&view.superseded);
    let base_count = bits.count();
    let mut delta: Vec<Row> = view
        .delta
        .iter()
        .filter(|r| pred.test(r))
        .copied()
        .collect();
    let total = (base_count + delta.len()) as u64;
    if offset >= total || limit == 0 {
        return Ok(Selected {
            total,
            uids: Vec::new(),
        });
    }
    if Instant::now() > deadline {
        return Err(Overrun);
    }
    let end = offset.saturating_add(limit).min(total);
    // Pages in the second half are taken from the far end.
    let reverse = offset > total / 2;
    let (skip, take) = if reverse {
        (total - end, end - offset)
    } else {
        (offset, end - offset)
    };
    let walk_desc = desc != reverse;
    let order = |a: &Row, b: &Row| {
        let o = cmp_column(column, view, a, b).then_with(|| a.uid.cmp(&b.uid));
        if walk_desc {
            o.reverse()
        } else {
            o
        }
    };
    delta.sort_unstable_by(order);
    let want = (skip + take) as usize;
    // Rows the walk is expected to visit, against what gathering costs.
    let visits = want
        .saturating_mul(base.len())
        .checked_div(base_count)
        .unwrap_or(0);
    let groups = server_groups(view, column);
    let gather = match path {
        PagePath::Auto => {
            // Rows are stored in creation order, so a walk along a time order
            // reads nearly in sequence and may visit more rows for the same cost.
            let per_match = match column {
                Column::Creation | Column::End => 12,
                _ => 4,
            };
            base_count <= 4096 || visits > base_count.saturating_mul(per_match)
        }
        PagePath::Walk => false,
        PagePath::Gather => true,
    };
    // A walk over server groups needs every delta row placed among them.
    let groups = match groups {
        Some(Groups::Ordered(g)) if !gather => {
            match group_positions(view, column, &g, &delta, walk_desc) {
                Some(at) => Some(Groups::Walk(g, at)),
                None => Some(Groups::Ties),
            }
        }
        other => other,
    };
    let mut uids = match (gather, groups) {
        (false, Some(Groups::Walk(groups, at))) => {
            let runs: Vec<&[u32]> = groups
                .iter()
                .map(|g| {
                    let (a, b) = base.server_runs[*g as usize];
                    &base.by_server[a as usize..b as usize]
                })
                .collect();
            let walk = Walk::new(&bits, &base.uid, &delta, &at, skip, take);
            walk.run(&runs, walk_desc, deadline)?
        }
        (false, None) => {
            let perm = base
                .order(column)
                .expect("non-server columns have an order");
            let at = delta_positions(view, perm, &delta, &order, walk_desc);
            let walk = Walk::new(&bits, &base.uid, &delta, &at, skip, take);
            walk.run(&[perm], walk_desc, deadline)?
        }
        _ => match gather_keys(view, &bits, &delta, column) {
            Some(keyed) => select_keys(keyed, walk_desc, skip, take),
            None => gather_page(view, &bits, &delta, order, skip, take),
        },
    };
    if reverse {
        uids.reverse();
    }
    Ok(Selected { total, uids })
}

enum Groups {
    /// Server ids in ascending key order, with distinct keys.
    Ordered(Vec<u32>),
    /// Those, with the walk index of each delta row.
    Walk(Vec<u32>, Vec<usize>),
    /// Two servers share a key: their rows interleave, so no walk.
    Ties,
}

/// For the server columns, the order of servers by name or UID.
fn server_groups(view: &View, column: Column) -> Option<Groups> {
    if !matches!(column, Column::ServerName | Column::ServerUid) {
        return None;
    }
    let n = view.base.server_runs.len().min(view.servers.len());
    let key = |id: u32| server_key(view, column, id);
    let mut ids: Vec<u32> = (0..n as u32).collect();
    ids.sort_by_key(|id| key(*id));
    if ids.windows(2).any(|w| key(w[0]) == key(w[1])) {
        return Some(Groups::Ties);
    }
    Some(Groups::Ordered(ids))
}

/// What orders servers for a server column: the folded name, or the UID.
type ServerKey = (Option<std::sync::Arc<str>>, Option<[u8; 16]>);

fn server_key(view: &View, column: Column, id: u32) -> ServerKey {
    match view.servers.get(id as usize) {
        Some(s) if column == Column::ServerName => (s.name.clone(), None),
        Some(s) => (None, Some(s.uid)),
        None => (None, None),
    }
}

/// [`delta_positions`] for the walk over server groups (`groups` in ascending
/// key order, each run by UID); `None` when a delta row's server shares its key
/// with another server's group (their rows would interleave).
fn group_positions(
    view: &View,
    column: Column,
    groups: &[u32],
    delta: &[Row],
    walk_desc: bool,
) -> Option<Vec<usize>> {
    let base = &*view.base;
    let run = |g: u32| {
        let (a, b) = base.server_runs[g as usize];
        &base.by_server[a as usize..b as usize]
    };
    let mut starts = Vec::with_capacity(groups.len() + 1);
    let mut total = 0usize;
    for g in groups {
        starts.push(total);
        total += run(*g).len();
    }
    starts.push(total);
    let keys: Vec<ServerKey> = groups
        .iter()
        .map(|g| server_key(view, column, *g))
        .collect();
    delta
        .iter()
        .map(|d| {
            let k = server_key(view, column, d.server);
            let gi = keys.partition_point(|g| *g < k);
            let mut before = starts[gi];
            if gi < groups.len() && keys[gi] == k {
                if groups[gi] != d.server {
                    return None;
                }
                before += run(d.server).partition_point(|i| base.uid[*i as usize] < d.uid);
            }
            Some(if walk_desc { total - before } else { before })
        })
        .collect()
}

/// Where each delta row (sorted in walk order) goes in the walk over `perm`:
/// before the row at that walk index. A binary search per delta row, so the walk
/// itself never reads a base row's values.
fn delta_positions(
    view: &View,
    perm: &[u32],
    delta: &[Row],
    order: &impl Fn(&Row, &Row) -> Ordering,
    walk_desc: bool,
) -> Vec<usize> {
    let base = &*view.base;
    delta
        .iter()
        .map(|d| {
            // Base rows before `d` in ascending order (`order` is the walk's
            // order, reversed when the walk descends).
            let before = perm.partition_point(|i| {
                let row = base.row(*i as usize);
                let ascending = if walk_desc {
                    order(d, &row)
                } else {
                    order(&row, d)
                };
                ascending == Ordering::Less
            });
            // A descending walk meets the rows after `d` first.
            if walk_desc {
                perm.len() - before
            } else {
                before
            }
        })
        .collect()
}

/// Rows walked per chunk: a chunk with no delta row in it, wholly before the
/// page, is only counted.
const CHUNK: usize = 1024;

/// Walks base rows in order, merging the sorted delta (each before the walk
/// index `at` gives), and keeps positions `skip .. skip + take` of the matches.
struct Walk<'a> {
    bits: &'a Bits,
    uid: &'a [[u8; 16]],
    delta: &'a [Row],
    at: &'a [usize],
    skip: u64,
    take: u64,
    out: Vec<[u8; 16]>,
    /// Matches met so far.
    pos: u64,
    /// Base rows walked so far.
    j: usize,
    /// Delta rows merged so far.
    d: usize,
}

impl<'a> Walk<'a> {
    fn new(
        bits: &'a Bits,
        uid: &'a [[u8; 16]],
        delta: &'a [Row],
        at: &'a [usize],
        skip: u64,
        take: u64,
    ) -> Walk<'a> {
        Walk {
            bits,
            uid,
            delta,
            at,
            skip,
            take,
            out: Vec::with_capacity(take as usize),
            pos: 0,
            j: 0,
            d: 0,
        }
    }

    /// Walks `runs` (each ascending, in ascending order) in direction `desc`.
    fn run(
        mut self,
        runs: &[&[u32]],
        desc: bool,
        deadline: Instant,
    ) -> Result<Vec<[u8; 16]>, Overrun> {
        let mut chunks = 0usize;
        let mut each = |chunk: &[u32], w: &mut Walk| -> Result<bool, Overrun> {
            chunks += 1;
            if chunks.is_multiple_of(CLOCK_EVERY / CHUNK) && Instant::now() > deadline {
                return Err(Overrun);
            }
            Ok(w.chunk(chunk, desc))
        };
        if desc {
            for run in runs.iter().rev() {
                for chunk in run.rchunks(CHUNK) {
                    if each(chunk, &mut self)? {
                        return Ok(self.out);
                    }
                }
            }
        } else {
            for run in runs {
                for chunk in run.chunks(CHUNK) {
                    if each(chunk, &mut self)? {
                        return Ok(self.out);
                    }
                }
            }
        }
        while self.d < self.delta.len() {
            if self.emit(self.delta[self.d].uid) {
                break;
            }
            self.d += 1;
        }
        Ok(self.out)
    }

    /// One chunk (ascending; walked backwards when `desc`); true when the page
    /// is full.
    fn chunk(&mut self, chunk: &[u32], desc: bool) -> bool {
        let next_delta = self.at.get(self.d).copied().unwrap_or(usize::MAX);
        if self.pos < self.skip && next_delta >= self.j + chunk.len() {
            let bits = self.bits;
            let count: u64 = chunk.iter().map(|r| u64::from(bits.get(*r as usize))).sum();
            if self.pos + count <= self.skip {
                self.pos += count;
                self.j += chunk.len();
                return false;
            }
        }
        if desc {
            chunk.iter().rev().any(|r| self.row(*r))
        } else {
            chunk.iter().any(|r| self.row(*r))
        }
    }

    /// One base row, after the delta rows that go before it.
    #[inline]
    fn row(&mut self, r: u32) -> bool {
        while self.d < self.delta.len() && self.at[self.d] <= self.j {
            if self.emit(self.delta[self.d].uid) {
                return true;
            }
            self.d += 1;
        }
        self.j += 1;
        self.bits.get(r as usize) && self.emit(self.uid[r as usize])
    }

    #[inline]
    fn emit(&mut self, u: [u8; 16]) -> bool {
        if self.pos >= self.skip {
            self.out.push(u);
        }
        self.pos += 1;
        self.out.len() as u64 >= self.take
    }
}

/// The matches as (sort key, UID) pairs, when the column's order is that of
/// one integer per row: times, enumerations, UIDs, and texts by rank while no
/// delta row holds a text the base's dictionary lacks. Selecting among 24-byte
/// pairs is several times faster than among whole rows.
fn gather_keys(
    view: &View,
    bits: &Bits,
    delta: &[Row],
    column: Column,
) -> Option<Vec<(i64, [u8; 16])>> {
    use crate::texts::{EXTRA, NO_TEXT};
    if matches!(column, Column::ServerUid | Column::ServerName) {
        return None;
    }
    let base = &*view.base;
    let text_key = |id: u32| -> Option<i64> {
        if id == NO_TEXT {
            Some(0)
        } else if id & EXTRA != 0 {
            None
        } else {
            Some(2 * i64::from(id) + 2)
        }
    };
    let row_key = |r: &Row| -> Option<i64> {
        Some(match column {
            Column::Uid | Column::Type => 0,
            Column::Creation => r.creation,
            Column::End => r.end,
            Column::State => i64::from(r.state),
            Column::Result => i64::from(r.result),
            Column::Name => text_key(r.name)?,
            Column::Message => text_key(r.message)?,
            Column::ServerUid | Column::ServerName => return None,
        })
    };
    let mut keyed: Vec<(i64, [u8; 16])> = Vec::with_capacity(bits.count() + delta.len());
    for r in delta {
        keyed.push((row_key(r)?, r.uid));
    }
    let key_of = |i: usize| -> i64 {
        match column {
            Column::Creation => base.creation[i],
            Column::End => base.end[i],
            Column::State => i64::from(base.state[i]),
            Column::Result => i64::from(base.result[i]),
            // Base rows only hold ranks.
            Column::Name => text_key(base.name[i]).unwrap_or(0),
            Column::Message => text_key(base.message[i]).unwrap_or(0),
            _ => 0,
        }
    };
    keyed.extend(bits.ones().map(|i| (key_of(i), base.uid[i])));
    Some(keyed)
}

/// Positions `skip .. skip + take` of the pairs in walk order.
fn select_keys(
    mut keyed: Vec<(i64, [u8; 16])>,
    walk_desc: bool,
    skip: u64,
    take: u64,
) -> Vec<[u8; 16]> {
    let order = |a: &(i64, [u8; 16]), b: &(i64, [u8; 16])| {
        if walk_desc {
            b.cmp(a)
        } else {
            a.cmp(b)
        }
    };
    let want = ((skip + take) as usize).min(keyed.len());
    if want < keyed.len() {
        keyed.select_nth_unstable_by(want, order);
        keyed.truncate(want);
    }
    keyed.sort_unstable_by(order);
    keyed
        .iter()
        .skip(skip as usize)
        .take(take as usize)
        .map(|k| k.1)
        .collect()
}

/// Gathers every match and selects the page among them.
fn gather_page(
    view: &View,
    bits: &Bits,
    delta: &[Row],
    order: impl Fn(&Row, &Row) -> Ordering,
    skip: u64,
    take: u64,
) -> Vec<[u8; 16]> {
    let base = &*view.base;
    let mut rows: Vec<Row> = bits.ones().map(|i| base.row(i)).collect();
    rows.extend_from_slice(delta);
    let want = ((skip + take) as usize).min(rows.len());
    if want < rows.len() {
        rows.select_nth_unstable_by(want, &order);
        rows.truncate(want);
    }
    rows.sort_unstable_by(&order);
    rows.iter()
        .skip(skip as usize)
        .take(take as usize)
        .map(|r| r.uid)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn uid(n: u32) -> [u8; 16] {
        let mut u = [0u8; 16];
        u[..4].copy_from_slice(&n.to_be_bytes());
        u
    }

    fn delta_row(n: u32) -> Row {
        Row {
            uid: uid(n),
            creation: 0,
            end: 0,
            name: 0,
            message: 0,
            server: 0,
            tenant: 0,
            state: 0,
            result: 0,
        }
    }

    proptest! {
        /// The chunked walk (which only counts whole chunks before the page)
        /// keeps the same rows as merging and filtering one row at a time.
        #[test]
        fn the_chunked_walk_keeps_what_a_row_by_row_merge_keeps(
            n in 0usize..5000,
            density in 0u32..=100,
            seed in any::<u64>(),
            cuts in proptest::collection::vec(0usize..5000, 0..4),
            deltas in proptest::collection::vec(0usize..5001, 0..40),
            skip in 0u64..5200,
            take in 1u64..300,
            desc in any::<bool>(),
        ) {
            // Rows in a scrambled walk order, split into runs.
            let mut perm: Vec<u32> = (0..n as u32).collect();
            let mut x = seed | 1;
            for i in (1..perm.len()).rev() {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                perm.swap(i, (x % (i as u64 + 1)) as usize);
            }
            let uids: Vec<[u8; 16]> = (0..n as u32).map(uid).collect();
            let mut bits = Bits::empty(n);
            for r in 0..n {
                if ((r as u64 * 2654435761) ^ seed) % 100 < u64::from(density) {
                    bits.set(r);
                }
            }
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(n)).collect();
            cuts.push(0);
            cuts.push(n);
            cuts.sort_unstable();
            let runs: Vec<&[u32]> = cuts.windows(2).map(|w| &perm[w[0]..w[1]]).collect();
            // Delta rows, each before the walk index it names.
            let mut at: Vec<usize> = deltas.into_iter().map(|a| a.min(n)).collect();
            at.sort_unstable();
            let delta: Vec<Row> = (0..at.len() as u32).map(|i| delta_row((1 << 30) | i)).collect();
            // Row by row.
            let walked: Vec<u32> = if desc {
                perm.iter().rev().copied().collect()
            } else {
                perm.clone()
            };
            let mut merged = Vec::new();
            let mut d = 0;
            for (j, r) in walked.iter().enumerate() {
                while d < at.len() && at[d] <= j {
                    merged.push(delta[d].uid);
                    d += 1;
                }
                if bits.get(*r as usize) {
                    merged.push(uids[*r as usize]);
                }
            }
            merged.extend(delta[d..].iter().map(|r| r.uid));
            let expected: Vec<[u8; 16]> =
                merged.into_iter().skip(skip as usize).take(take as usize).collect();
            let far = Instant::now() + std::time::Duration::from_secs(60);
            let got = Walk::new(&bits, &uids, &delta, &at, skip, take)
                .run(&runs, desc, far)
                .unwrap();
            prop_assert_eq!(got, expected);
        }
    }
}
