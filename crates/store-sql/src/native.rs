//! The SQLite write path on the native driver (rusqlite) for saving sessions in
//! batches (new sessions, `entman generate`).
//!
//! Measured (docs/benchmarks.md): through sqlx's `Any` driver every statement
//! crosses a channel to the connection's worker thread and binding costs time
//! quadratic in the number of parameters (fixed for both backends by sending a
//! batch as one JSON parameter); a prepared statement executed per row on a native
//! connection still writes 200,000 sessions in 10 s instead of 15 s, with a third
//! of the CPU. The engine's per-step updates stay on the JSON `UPDATE ... FROM`,
//! which measured faster than per-row native updates (3.0 s vs 3.9 s for 100,000
//! sessions). Reads stay on the sqlx pool. Both drivers open the same file in WAL mode and are the same
//! SQLite library (libsqlite3-sys, bundled once), so they see each other's commits
//! and SQLite's locking serialises their writes.

use entman_model::session::FailoverSession;
use entman_store::{StoreError, StoreResult};
use rusqlite::{params, Connection};
use std::sync::{Arc, Mutex};

/// A native connection, shared by the blocking tasks that write through it.
#[derive(Clone)]
pub struct NativeWriter {
    conn: Arc<Mutex<Connection>>,
}

impl std::fmt::Debug for NativeWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NativeWriter")
    }
}

fn native_err(e: rusqlite::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

/// The file of a `sqlite://FILE[?params]` URL.
pub fn file_of(url: &str) -> Option<&str> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let file = rest.split('?').next()?;
    (!file.is_empty() && file != ":memory:").then_some(file)
}

const UPSERT_SESSION: &str = "INSERT INTO failover_sessions (id, plan_id, plan_name, tenant_id, backup_server_id, kind, creation_time, end_time, state, result, progress, failure_message) \
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12) \
    ON CONFLICT (id) DO UPDATE SET end_time = excluded.end_time, \
    state = CASE WHEN failover_sessions.state = 'Stopping' AND excluded.state <> 'Stopped' THEN failover_sessions.state ELSE excluded.state END, \
    result = excluded.result, progress = excluded.progress, failure_message = excluded.failure_message";

const UPSERT_TASK: &str = "INSERT INTO session_tasks (session_id, idx, vm_name, point_id, point_name, creation_time, end_time, state, result, progress, failure_message, planned_ms, planned_outcome, planned_message) \
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14) \
    ON CONFLICT (session_id, idx) DO UPDATE SET end_time = excluded.end_time, state = excluded.state, \
    result = excluded.result, progress = excluded.progress, failure_message = excluded.failure_message";

impl NativeWriter {
    /// Opens the database file with the settings of the sqlx pool (WAL, full sync,
    /// foreign keys, a 10 s busy timeout).
    pub fn open(file: &str) -> StoreResult<NativeWriter> {
        let conn = Connection::open(file).map_err(native_err)?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000; PRAGMA cache_size = -65536;",
        )
        .map_err(native_err)?;
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
            let mut conn = conn.lock().unwrap_or_else(|e| e.into_inner());
            let tx = conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(native_err)?;
            work(&tx).map_err(native_err)?;
            tx.commit().map_err(native_err)
        })
        .await
        .map_err(|e| StoreError::Backend(format!("the writer thread failed: {e}")))?
    }

    /// `PRAGMA data_version` of this connection: it changes whenever another
    /// connection (the sqlx pool, another process) committed.
    pub async fn data_version(&self) -> StoreResult<u64> {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let conn = conn.lock().unwrap_or_else(|e| e.into_inner());
            conn.query_row("PRAGMA data_version", [], |row| row.get::<_, i64>(0))
                .map(|v| v as u64)
                .map_err(native_err)
        })
        .await
        .map_err(|e| StoreError::Backend(format!("the writer thread failed: {e}")))?
    }

    /// Inserts or updates whole sessions with their tasks.
    pub async fn save_sessions(&self, sessions: Vec<FailoverSession>) -> StoreResult<()> {
        self.transaction(move |tx| {
            let mut session_stmt = tx.prepare_cached(UPSERT_SESSION)?;
            let mut task_stmt = tx.prepare_cached(UPSERT_TASK)?;
            for s in &sessions {
                let id = s.id.to_string();
                session_stmt.execute(params![
                    id,
                    s.plan_id.to_string(),
                    s.plan_name,
                    s.tenant_id.to_string(),
                    s.backup_server_id.to_string(),
                    s.kind.as_str(),
                    s.creation_time.micros(),
                    s.end_time.map(|t| t.micros()),
                    s.state.as_str(),
                    s.result.as_str(),
                    i64::from(s.progress),
                    s.failure_message,
                ])?;
                for (idx, t) in s.tasks.iter().enumerate() {
                    task_stmt.execute(params![
                        id,
                        idx as i64,
                        t.vm_name,
                        t.point.as_ref().map(|p| p.id.to_string()),
                        t.point.as_ref().map(|p| p.name.as_str()),
                        t.creation_time.micros(),
                        t.end_time.map(|e| e.micros()),
                        t.state.as_str(),
                        t.result.as_str(),
                        i64::from(t.progress),
                        t.failure_message,
                        t.plan.as_ref().map(|p| p.duration_ms),
                        t.plan.as_ref().map(|p| p.outcome.as_str()),
                        t.plan.as_ref().and_then(|p| p.message.as_deref()),
                    ])?;
                }
            }
            Ok(())
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
