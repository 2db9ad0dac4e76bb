//! The request journal (controls.md §2): the last requests the server answered,
//! newest first, bounded in size. It never holds bodies, passwords or tokens: a
//! logon session's id in a path (what a token is made of) is written `{ID}`.

use serde::Serialize;
use std::collections::VecDeque;
use std::sync::Mutex;

/// One answered request.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    /// When the request arrived (ISO 8601, UTC).
    pub time: String,
    pub method: String,
    pub path: String,
    /// The query string as sent, or null.
    pub query: Option<String>,
    pub status: u16,
    pub latency_ms: f64,
    /// The EM account or tenant that made it, when known.
    pub account: Option<String>,
    /// The client's address.
    pub remote: Option<String>,
}

/// The journal: at most `capacity` entries, the oldest dropped first.
#[derive(Debug)]
pub struct Journal {
    capacity: usize,
    entries: Mutex<VecDeque<Entry>>,
}

impl Journal {
    /// A journal of `capacity` entries; 0 keeps nothing.
    pub fn new(capacity: usize) -> Journal {
        Journal {
            capacity,
            entries: Mutex::new(VecDeque::with_capacity(capacity.min(4096))),
        }
    }

    /// Whether entries are kept at all.
    pub fn enabled(&self) -> bool {
        self.capacity > 0
    }

    /// Adds an entry, dropping the oldest when full.
    pub fn record(&self, entry: Entry) {
        if self.capacity == 0 {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        while entries.len() >= self.capacity {
            entries.pop_front();
        }
        entries.push_back(entry);
    }

    /// The newest `limit` entries, newest first.
    pub fn newest(&self, limit: usize) -> Vec<Entry> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.iter().rev().take(limit).cloned().collect()
    }

    /// Forgets every entry.
    pub fn clear(&self) {
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(n: u16) -> Entry {
        Entry {
            time: String::new(),
            method: "GET".into(),
            path: "/api".into(),
            query: None,
            status: n,
            latency_ms: 0.0,
            account: None,
            remote: None,
        }
    }

    #[test]
    fn the_journal_stays_bounded_and_answers_newest_first() {
        let journal = Journal::new(3);
        for n in 0..10 {
            journal.record(entry(n));
        }
        let statuses: Vec<u16> = journal.newest(10).iter().map(|e| e.status).collect();
        assert_eq!(statuses, vec![9, 8, 7]);
        assert_eq!(journal.newest(1)[0].status, 9);
        journal.clear();
        assert!(journal.newest(10).is_empty());
        let off = Journal::new(0);
        off.record(entry(1));
        assert!(off.newest(10).is_empty());
        assert!(!off.enabled());
    }
}
