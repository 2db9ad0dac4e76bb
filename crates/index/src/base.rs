//! The index's data: session rows as columns, and one order of the rows per sort
//! field, built at once from a snapshot ([`Base::build`]). Rows written after the
//! build live beside it in the view's delta (see `lib.rs`) until the next build.

use crate::texts::{Sorted, NO_TEXT};

/// `end` of a session that has not ended.
pub(crate) const NULL_TIME: i64 = i64::MIN;

/// What the index knows of one session. Texts are ranks in the base's sorted
/// dictionary of folded strings, or ids of the view's extras (`texts.rs`); servers and tenants are ids into theirs; state
/// and result are indexes in their enumerations' order (query.md §5.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Row {
    pub uid: [u8; 16],
    pub creation: i64,
    pub end: i64,
    pub name: u32,
    pub message: u32,
    pub server: u32,
    pub tenant: u32,
    pub state: u8,
    pub result: u8,
}

/// A sortable column of `type=CloudFailoverSession` (query.md §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Column {
    Uid,
    Name,
    Type,
    Creation,
    End,
    State,
    Result,
    Message,
    ServerUid,
    ServerName,
}

impl Column {
    /// The column a query field reads.
    pub(crate) fn of(field_name: &str) -> Option<Column> {
        Some(match field_name {
            "UID" => Column::Uid,
            "Name" => Column::Name,
            "Type" => Column::Type,
            "CreationTime" => Column::Creation,
            "EndTime" => Column::End,
            "State" => Column::State,
            "Result" => Column::Result,
            "FailureMessage" => Column::Message,
            "BackupServerUid" => Column::ServerUid,
            "BackupServerName" => Column::ServerName,
            _ => return None,
        })
    }
}

/// Rows in columns, with their orders.
#[derive(Debug, Default)]
pub(crate) struct Base {
    /// The texts the rows' ranks point into.
    pub texts: Sorted,
    pub uid: Vec<[u8; 16]>,
    pub creation: Vec<i64>,
    pub end: Vec<i64>,
    pub name: Vec<u32>,
    pub message: Vec<u32>,
    pub server: Vec<u32>,
    pub tenant: Vec<u32>,
    pub state: Vec<u8>,
    pub result: Vec<u8>,
    /// Row numbers by UID.
    pub by_uid: Vec<u32>,
    /// By (creation time, UID).
    pub by_creation: Vec<u32>,
    /// By (end time with nulls first, UID).
    pub by_end: Vec<u32>,
    /// By (folded name, UID).
    pub by_name: Vec<u32>,
    /// By (folded message with nulls first, UID).
    pub by_message: Vec<u32>,
    /// By (state, UID).
    pub by_state: Vec<u32>,
    /// By (result, UID).
    pub by_result: Vec<u32>,
    /// By (server id, UID); `server_runs[s]` is the range of server `s`. The
    /// order of servers is chosen per query (their names can change).
    pub by_server: Vec<u32>,
    pub server_runs: Vec<(u32, u32)>,
}

impl Base {
    /// Builds the columns and orders of `rows` (UIDs must be distinct, texts
    /// ranks in `texts`); `servers` is the number of server ids.
    pub(crate) fn build(mut rows: Vec<Row>, texts: Sorted, servers: usize) -> Base {
        // Rows in creation order: a time range is then a run of row numbers, and
        // end times (minutes after creation) nearly follow, so walks and gathers
        // over times read the columns in order instead of at random.
        rows.sort_unstable_by_key(|r| (r.creation, r.uid));
        let n = rows.len();
        assert!(n < u32::MAX as usize, "row numbers are 32-bit");
        let mut b = Base {
            uid: rows.iter().map(|r| r.uid).collect(),
            creation: rows.iter().map(|r| r.creation).collect(),
            end: rows.iter().map(|r| r.end).collect(),
            name: rows.iter().map(|r| r.name).collect(),
            message: rows.iter().map(|r| r.message).collect(),
            server: rows.iter().map(|r| r.server).collect(),
            tenant: rows.iter().map(|r| r.tenant).collect(),
            state: rows.iter().map(|r| r.state).collect(),
            result: rows.iter().map(|r| r.result).collect(),
            texts,
            ..Base::default()
        };
        drop(rows);
        let mut keyed: Vec<([u8; 16], u32)> = b
            .uid
            .iter()
            .enumerate()
            .map(|(i, u)| (*u, i as u32))
            .collect();
        keyed.sort_unstable();
        b.by_uid = keyed.into_iter().map(|(_, i)| i).collect();
        b.by_creation = by_time(&b.by_uid, &b.creation);
        b.by_end = by_time(&b.by_uid, &b.end);
        // Texts by rank; "no text" first.
        let text_rank = |id: u32| {
            if id == NO_TEXT {
                0
            } else {
                id as usize + 1
            }
        };
        let groups = b.texts.len() + 1;
        b.by_name = grouped(&b.by_uid, groups, |i| text_rank(b.name[i])).0;
        b.by_message = grouped(&b.by_uid, groups, |i| text_rank(b.message[i])).0;
        b.by_state = grouped(&b.by_uid, 256, |i| b.state[i] as usize).0;
        b.by_result = grouped(&b.by_uid, 256, |i| b.result[i] as usize).0;
        let (by_server, runs) = grouped(&b.by_uid, servers, |i| b.server[i] as usize);
        b.by_server = by_server;
        b.server_runs = runs;
        b
    }

    pub(crate) fn len(&self) -> usize {
        self.uid.len()
    }

    /// Row `i`.
    pub(crate) fn row(&self, i: usize) -> Row {
        Row {
            uid: self.uid[i],
            creation: self.creation[i],
            end: self.end[i],
            name: self.name[i],
            message: self.message[i],
            server: self.server[i],
            tenant: self.tenant[i],
            state: self.state[i],
            result: self.result[i],
        }
    }

    /// The row number of a UID.
    pub(crate) fn find(&self, uid: &[u8; 16]) -> Option<usize> {
        self.by_uid
            .binary_search_by(|i| self.uid[*i as usize].cmp(uid))
            .ok()
            .map(|at| self.by_uid[at] as usize)
    }

    /// The order of a column whose order does not depend on server names.
    pub(crate) fn order(&self, column: Column) -> Option<&[u32]> {
        Some(match column {
            Column::Uid | Column::Type => &self.by_uid,
            Column::Creation => &self.by_creation,
            Column::End => &self.by_end,
            Column::Name => &self.by_name,
            Column::Message => &self.by_message,
            Column::State => &self.by_state,
            Column::Result => &self.by_result,
            Column::ServerUid | Column::ServerName => return None,
        })
    }

    /// Bytes held (an estimate for the stats).
    pub(crate) fn bytes(&self) -> usize {
        self.len() * (16 + 8 + 8 + 4 * 4 + 2 + 4 * 8)
            + self.server_runs.len() * 8
            + self.texts.bytes()
    }
}

/// Rows ordered by a time column, ties by UID: sort positions in UID order by time.
fn by_time(by_uid: &[u32], time: &[i64]) -> Vec<u32> {
    let mut keyed: Vec<(i64, u32)> = by_uid
        .iter()
        .enumerate()
        .map(|(pos, i)| (time[*i as usize], pos as u32))
        .collect();
    keyed.sort_unstable();
    keyed
        .into_iter()
        .map(|(_, pos)| by_uid[pos as usize])
        .collect()
}

/// A stable counting sort of the UID order by a small group number: rows by
/// (group, UID), with each group's range.
fn grouped(
    by_uid: &[u32],
    groups: usize,
    group_of: impl Fn(usize) -> usize,
) -> (Vec<u32>, Vec<(u32, u32)>) {
    let mut counts = vec![0u32; groups];
    for i in by_uid {
        counts[group_of(*i as usize)] += 1;
    }
    let mut runs = Vec::with_capacity(groups);
    let mut start = 0u32;
    for c in &counts {
        runs.push((start, start + c));
        start += c;
    }
    let mut next: Vec<u32> = runs.iter().map(|r| r.0).collect();
    let mut out = vec![0u32; by_uid.len()];
    for i in by_uid {
        let g = group_of(*i as usize);
        out[next[g] as usize] = *i;
        next[g] += 1;
    }
    (out, runs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(uid: u8, creation: i64, end: i64, name: u32, state: u8, server: u32) -> Row {
        let mut u = [0u8; 16];
        u[0] = uid;
        Row {
            uid: u,
            creation,
            end,
            name,
            message: NO_TEXT,
            server,
            tenant: 0,
            state,
            result: 0,
        }
    }

    #[test]
    fn orders_break_ties_by_uid() {
        let texts = Sorted::from_sorted(["a", "b"]);
        let rows = vec![
            row(3, 10, NULL_TIME, 1, 1, 1),
            row(1, 10, 5, 0, 0, 0),
            row(2, 5, NULL_TIME, 1, 1, 1),
        ];
        let b = Base::build(rows, texts, 2);
        // Orders as the UIDs' first bytes (row numbers follow creation order).
        let uids =
            |perm: &[u32]| -> Vec<u8> { perm.iter().map(|i| b.uid[*i as usize][0]).collect() };
        assert_eq!(uids(&b.by_uid), vec![1, 2, 3]);
        assert_eq!(uids(&b.by_creation), vec![2, 1, 3]);
        assert_eq!(b.by_creation, vec![0, 1, 2], "rows are in creation order");
        assert_eq!(uids(&b.by_end), vec![2, 3, 1]);
        // Name rank 0 ("a") before rank 1 ("b").
        assert_eq!(uids(&b.by_name), vec![1, 2, 3]);
        assert_eq!(uids(&b.by_state), vec![1, 2, 3]);
        assert_eq!(uids(&b.by_server), vec![1, 2, 3]);
        assert_eq!(b.server_runs, vec![(0, 1), (1, 3)]);
        let mut u = [0u8; 16];
        u[0] = 2;
        assert_eq!(b.find(&u).map(|i| b.uid[i][0]), Some(2));
        u[0] = 9;
        assert_eq!(b.find(&u), None);
    }
}
