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
    /// The request method.
    pub method: String,
    /// The path as sent, a logon session id in it written `{ID}`.
    pub path: String,
    /// The query string as sent, or null.
    pub query: Option<String>,
    /// The status answered.
    pub status: u16,
    /// From the request's arrival to its answer's head, in milliseconds.
    pub latency_ms: f64,
    /// The EM account or tenant that made it, when known.
    pub account: Option<String>,
    /// The client's address.
    pub remote: Option<String>,
}

/// An answered request as kept: raw values, formatted only when the journal
/// is read (recording is on every request's path).
#[derive(Debug, Clone)]
pub struct Raw {
    /// When the request arrived.
    pub time: entman_model::Timestamp,
    /// Its method.
    pub method: axum::http::Method,
    /// Its target as received (path and query).
    pub uri: axum::http::Uri,
    /// The status answered.
    pub status: u16,
    /// From arrival to the answer's head.
    pub latency: std::time::Duration,
    /// The EM account or tenant that made it, when known.
    pub account: Option<String>,
    /// The client's address.
    pub remote: Option<std::net::IpAddr>,
}

impl Raw {
    fn entry(&self) -> Entry {
        Entry {
            time: self.time.to_string(),
            method: self.method.to_string(),
            path: crate::redact_path(self.uri.path()).into_owned(),
            query: self.uri.query().map(str::to_string),
            status: self.status,
            latency_ms: self.latency.as_micros() as f64 / 1000.0,
            account: self.account.clone(),
            remote: self.remote.map(|r| r.to_string()),
        }
    }
}

/// The journal: at most `capacity` entries, the oldest dropped first.
#[derive(Debug)]
pub struct Journal {
    capacity: usize,
    entries: Mutex<VecDeque<Raw>>,
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
    pub fn record(&self, entry: Raw) {
        if self.capacity == 0 {
            return;
        }
        let mut entries = self
            .entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        while entries.len() >= self.capacity {
            entries.pop_front();
        }
        entries.push_back(entry);
    }

    /// The newest `limit` entries, newest first.
    pub fn newest(&self, limit: usize) -> Vec<Entry> {
        let entries = self
            .entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        entries.iter().rev().take(limit).map(Raw::entry).collect()
    }

    /// Forgets every entry.
    pub fn clear(&self) {
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(n: u16) -> Raw {
        Raw {
            time: entman_model::Timestamp::now(),
            method: axum::http::Method::GET,
            uri: "/api/logonSessions/abc?x=1".parse().unwrap(),
            status: n,
            latency: std::time::Duration::from_micros(1500),
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
        let newest = &journal.newest(1)[0];
        assert_eq!(newest.status, 9);
        assert_eq!(newest.path, "/api/logonSessions/{ID}");
        assert_eq!(newest.query.as_deref(), Some("x=1"));
        assert_eq!(newest.latency_ms, 1.5);
        journal.clear();
        assert!(journal.newest(10).is_empty());
        let off = Journal::new(0);
        off.record(entry(1));
        assert!(off.newest(10).is_empty());
        assert!(!off.enabled());
    }
}
