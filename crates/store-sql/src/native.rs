//! The SQLite write path on the native driver (rusqlite) for saving sessions in
//! batches (new sessions, `entman generate`) and for the engine's steps.
//!
//! Measured (docs/benchmarks.md): through sqlx's `Any` driver every statement
//! crosses a channel to the connection's worker thread and binding costs time
//! quadratic in the number of parameters (fixed for both backends by sending a
//! batch as one JSON parameter); a prepared statement executed per row on a native
//! connection still writes 200,000 sessions in 10 s instead of 15 s, with a third
//! of the CPU. The engine's per-step updates once measured faster as JSON
//! `UPDATE ... FROM` (3.0 s vs 3.9 s for 100,000 sessions, every row in random
//! order through a 1 MB cache); with rows in key order and a step-sized cache the
//! native updates took 100,000 boundaries from 2.2–2.4 s to 1.0–1.3 s. Most reads
//! stay on the sqlx pool. Both drivers open the same file in WAL mode and are the same
//! SQLite library (libsqlite3-sys, bundled once), so they see each other's commits
//! and SQLite's locking serialises their writes.

use crate::batch::{
    session_values, task_values, values_insert, StepSessionRow, StepTaskRow, NEXT_REVISION,
    SESSION_COLS, SESSION_CONFLICT, TASK_COLS, TASK_CONFLICT,
};
use crate::rows::NamedRow;
use entman_model::session::FailoverSession;
use entman_store::{StoreError, StoreResult};
use rusqlite::Connection;
use std::sync::{Arc, Mutex};

/// A native connection, shared by the blocking tasks that write through it.
#[derive(Clone)]
pub(crate) struct NativeWriter {
    conn: Arc<Mutex<Connection>>,
}

impl std::fmt::Debug for NativeWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NativeWriter")
    }
}

fn native_err(e: rusqlite::Error) -> StoreError {
    StoreError::Backend(Box::new(e))
}

/// The file of a `sqlite://FILE[?params]` URL.
pub(crate) fn file_of(url: &str) -> Option<&str> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let file = rest.split('?').next()?;
    (!file.is_empty() && file != ":memory:").then_some(file)
}

impl NativeWriter {
    /// Opens the database file with the settings of the sqlx pool (WAL, full sync,
    /// foreign keys, a 10 s busy timeout).
    pub(crate) fn open(file: &str) -> StoreResult<NativeWriter> {
        let conn = Connection::open(file).map_err(native_err)?;
        for pragma in crate::SQLITE_PRAGMAS {
            conn.execute_batch(pragma).map_err(native_err)?;
        }
        Ok(NativeWriter {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    /// Runs `work` in one immediate transaction on a blocking thread.
    async fn transaction<F>(&self, work: F) -> StoreResult<()>
    where
        F: FnOnce(&rusqlite::Transaction<'_>) -> rusqlite::Result<()> + Send + 'static,
    {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = conn
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let tx = conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(native_err)?;
            work(&tx).map_err(native_err)?;
            tx.commit().map_err(native_err)
        })
        .await
        .map_err(|e| StoreError::Backend(format!("the writer thread failed: {e}").into()))?
    }

    /// Sets the connection up for bulk inserts (`entman generate`): a 64 MB page
    /// cache instead of 1 MB, since the inserts touch many pages (a serving
    /// process keeps its memory).
    pub(crate) async fn bulk_settings(&self) -> StoreResult<()> {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let conn = conn
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            conn.execute_batch("PRAGMA cache_size = -65536")
                .map_err(native_err)
        })
        .await
        .map_err(|e| StoreError::Backend(format!("the writer thread failed: {e}").into()))?
    }

    /// `PRAGMA data_version` of this connection: it changes whenever another
    /// connection (the sqlx pool, another process) committed.
    pub(crate) async fn data_version(&self) -> StoreResult<u64> {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let conn = conn
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            conn.query_row("PRAGMA data_version", [], |row| row.get::<_, i64>(0))
                .map(|v| v as u64)
                .map_err(native_err)
        })
        .await
        .map_err(|e| StoreError::Backend(format!("the writer thread failed: {e}").into()))?
    }

    /// Writes a step's rows ([`crate::batch::step_rows`]) with prepared
    /// statements, in one transaction, with the page cache of
    /// [`crate::batch::step_cache_pragma`] while it runs.
    pub(crate) async fn update_sessions(
        &self,
        sessions: Vec<StepSessionRow>,
        tasks: Vec<StepTaskRow>,
    ) -> StoreResult<()> {
        let rows = sessions.len() + tasks.len();
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = conn
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let cache = crate::batch::step_cache_pragma(rows);
            if let Some(grow) = &cache {
                conn.execute_batch(grow).map_err(native_err)?;
            }
            let written = write_step(&mut conn, &sessions, &tasks);
            if cache.is_some() {
                conn.execute_batch(crate::SQLITE_CACHE_PRAGMA)
                    .map_err(native_err)?;
            }
            written.map_err(native_err)
        })
        .await
        .map_err(|e| StoreError::Backend(format!("the writer thread failed: {e}").into()))?
    }

    /// Inserts or updates whole sessions with their tasks (the row shapes and
    /// conflict rules of [`crate::batch`]).
    pub(crate) async fn save_sessions(&self, sessions: Vec<FailoverSession>) -> StoreResult<()> {
        self.transaction(move |tx| {
            let session_sql = values_insert("failover_sessions", SESSION_COLS, SESSION_CONFLICT);
            let task_sql = values_insert("session_tasks", TASK_COLS, TASK_CONFLICT);
            let mut session_stmt = tx.prepare_cached(&session_sql)?;
            let mut task_stmt = tx.prepare_cached(&task_sql)?;
            let revision: i64 = tx.query_row(NEXT_REVISION, [], |row| row.get(0))?;
            // In key order, each insert lands next to the one before in the
            // primary-key B-trees instead of on a random page of them.
            let mut sessions = sessions;
            sessions.sort_unstable_by_key(|s| s.id);
            for s in &sessions {
                session_stmt.execute(session_values(s, revision))?;
                for (idx, t) in s.tasks.iter().enumerate() {
                    task_stmt.execute(task_values(s, idx, t))?;
                }
            }
            Ok(())
        })
        .await
    }
}

/// One immediate transaction: the revision, then the session rows, then the
/// task rows. `Stopping` is only replaced by `Stopped`, as in the conflict rule.
fn write_step(
    conn: &mut Connection,
    sessions: &[StepSessionRow],
    tasks: &[StepTaskRow],
) -> rusqlite::Result<()> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    {
        let revision: i64 = tx.query_row(NEXT_REVISION, [], |row| row.get(0))?;
        let mut session_stmt = tx.prepare_cached(
            "UPDATE failover_sessions SET end_time = ?2, \
             state = CASE WHEN state = 'Stopping' AND ?3 <> 'Stopped' THEN 'Stopping' ELSE ?3 END, \
             result = ?4, progress = ?5, failure_message = ?6, revision = ?7 WHERE id = ?1",
        )?;
        for (id, end, state, result, progress, message) in sessions {
            session_stmt.execute(rusqlite::params![
                id, end, state, result, progress, message, revision
            ])?;
        }
        let mut task_stmt = tx.prepare_cached(
            "UPDATE session_tasks SET end_time = ?3, state = ?4, result = ?5, progress = ?6, \
             failure_message = ?7 WHERE session_id = ?1 AND idx = ?2",
        )?;
        for (id, idx, end, state, result, progress, message) in tasks {
            task_stmt.execute(rusqlite::params![
                id, idx, end, state, result, progress, message
            ])?;
        }
    }
    tx.commit()
}

fn column_names(stmt: &rusqlite::Statement<'_>) -> Vec<String> {
    stmt.column_names()
        .iter()
        .map(std::string::ToString::to_string)
        .collect()
}

/// Native read connections to the same file, for reads of many rows (a query
/// page's sessions with their tasks): rusqlite decodes rows in place, where the
/// sqlx `Any` driver converts every value and hands each row across a channel.
#[derive(Clone)]
pub(crate) struct NativeReaders {
    conns: Arc<Vec<Mutex<Connection>>>,
}

impl std::fmt::Debug for NativeReaders {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NativeReaders")
    }
}

impl NativeReaders {
    /// Opens `n` read-only connections.
    pub(crate) fn open(file: &str, n: usize) -> StoreResult<NativeReaders> {
        let mut conns = Vec::with_capacity(n);
        for _ in 0..n.max(1) {
            let conn = Connection::open(file).map_err(native_err)?;
            conn.execute_batch(
                "PRAGMA busy_timeout = 10000; PRAGMA query_only = 1; PRAGMA cache_size = -1024",
            )
            .map_err(native_err)?;
            conns.push(Mutex::new(conn));
        }
        Ok(NativeReaders {
            conns: Arc::new(conns),
        })
    }

    /// Runs `work` on a free connection (or waits for the first) on a blocking thread.
    async fn read<T, F>(&self, work: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let conns = self.conns.clone();
        tokio::task::spawn_blocking(move || {
            let free = conns.iter().find_map(|c| c.try_lock().ok());
            let conn = match free {
                Some(c) => c,
                None => conns[0]
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner),
            };
            work(&conn)
        })
        .await
        .map_err(|e| StoreError::Backend(format!("a reader thread failed: {e}").into()))?
    }

    /// Sessions by id (a JSON array of ids), optionally with their tasks, in
    /// the order given.
    pub(crate) async fn sessions_by_ids(
        &self,
        ids: Vec<entman_model::ids::SessionId>,
        with_tasks: bool,
    ) -> StoreResult<Vec<FailoverSession>> {
        self.read(move |conn| {
            let json = serde_json::to_string(
                &ids.iter()
                    .map(std::string::ToString::to_string)
                    .collect::<Vec<_>>(),
            )
            .map_err(|e| StoreError::Backend(Box::new(e)))?;
            let mut sessions = std::collections::HashMap::new();
            let mut stmt = conn
                .prepare_cached(
                    "SELECT * FROM failover_sessions WHERE id IN (SELECT value FROM json_each(?1))",
                )
                .map_err(native_err)?;
            let names = column_names(&stmt);
            let mut rows = stmt.query([&json]).map_err(native_err)?;
            while let Some(row) = rows.next().map_err(native_err)? {
                let row = NamedRow { row, names: &names };
                let s = crate::store::session_row(&row)?;
                sessions.insert(s.id, s);
            }
            if with_tasks {
                let mut stmt = conn
                    .prepare_cached(
                        "SELECT * FROM session_tasks WHERE session_id IN \
                         (SELECT value FROM json_each(?1)) ORDER BY session_id, idx",
                    )
                    .map_err(native_err)?;
                let names = column_names(&stmt);
                let mut rows = stmt.query([&json]).map_err(native_err)?;
                while let Some(row) = rows.next().map_err(native_err)? {
                    let row = NamedRow { row, names: &names };
                    let id = entman_model::ids::SessionId(crate::rows::guid(&row, "session_id")?);
                    if let Some(s) = sessions.get_mut(&id) {
                        s.tasks.push(crate::store::session_task(&row)?);
                    }
                }
            }
            Ok(ids.iter().filter_map(|id| sessions.remove(id)).collect())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn files_of_sqlite_urls() {
        assert_eq!(
            super::file_of("sqlite:///tmp/x.db?mode=rwc"),
            Some("/tmp/x.db")
        );
        assert_eq!(super::file_of("sqlite://data/e.db"), Some("data/e.db"));
        assert_eq!(super::file_of("sqlite::memory:"), None);
        assert_eq!(super::file_of("postgres://h/db"), None);
    }
}
