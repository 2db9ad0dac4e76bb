//! SQLite and PostgreSQL implementations of the entman [`Store`](entman_store::Store).
//!
//! Both backends run through sqlx's `Any` driver with one set of SQL statements:
//! the schema only uses types both databases share (TEXT, BIGINT; instants as
//! microseconds since the epoch), and statements use `$n` placeholders, which
//! SQLite and PostgreSQL both understand. What differs lives in [`Backend`]: the
//! connection setup (SQLite: WAL, foreign keys, busy timeout, full sync) and the
//! migration history table. Values are always bound, never formatted into SQL.

mod batch;
mod bulk;
mod counts;
mod migrate;
mod native;
mod rows;
mod snapshot;

/// The settings of every SQLite connection: WAL lets readers proceed during
/// writes; FULL sync makes every commit durable before the API reports it; foreign
/// keys are off by default in SQLite; writers wait for each other up to 10 s. A
/// page cache of 1 MB per connection (SQLite's default is 2 MB): a dozen
/// connections each keeping its own copy of hot pages cost the server tens of MB,
/// and the operating system caches the file anyway (`entman generate` gives its
/// writer 64 MB, see `SqlStore::bulk_mode`).
const SQLITE_PRAGMAS: &[&str] = &[
    "PRAGMA journal_mode = WAL",
    "PRAGMA synchronous = FULL",
    "PRAGMA foreign_keys = ON",
    "PRAGMA busy_timeout = 10000",
    SQLITE_CACHE_PRAGMA,
];

/// The page cache of each pooled SQLite connection: 1 MB.
const SQLITE_CACHE_PRAGMA: &str = "PRAGMA cache_size = -1024";
mod store;

pub use bulk::BulkLoad;
pub use store::SqlStore;

/// The database behind a [`SqlStore`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Embedded SQLite file (the default).
    Sqlite,
    /// A PostgreSQL server (several entman instances may share it).
    Postgres,
}

impl Backend {
    /// Picks the backend from a database URL's scheme.
    pub fn from_url(url: &str) -> Option<Backend> {
        let scheme = url.split(':').next()?.to_ascii_lowercase();
        match scheme.as_str() {
            "sqlite" => Some(Backend::Sqlite),
            "postgres" | "postgresql" => Some(Backend::Postgres),
            _ => None,
        }
    }
}

/// The SQLite URL of a database file, created when missing.
pub fn sqlite_url(path: &std::path::Path) -> String {
    format!("sqlite://{}?mode=rwc", path.display())
}
