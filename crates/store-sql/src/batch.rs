//! Writing many session rows at once.
//!
//! A batch goes to the database as one JSON parameter that the database expands
//! (`json_each` in SQLite, `jsonb_array_elements` in PostgreSQL): binding many
//! parameters through sqlx costs time quadratic in their number on SQLite (sqlx
//! looks up each parameter's name), and parsing huge statements costs too. The
//! row shape of each table ([`session_values`], [`task_values`]) and its conflict
//! rule are defined once here and also used by the native SQLite writer
//! ([`crate::native`]), so both paths write the same columns the same way.

use crate::rows::db_err;
use crate::Backend;
use entman_model::session::{FailoverSession, SessionTask};
use entman_store::{SessionUpdate, StoreError, StoreResult};

/// Rows per JSON batch.
const JSON_BATCH_ROWS: usize = 2000;

/// A column and how a JSON value becomes its SQL value.
#[derive(Clone, Copy)]
pub(crate) enum Col {
    Text(&'static str),
    Int(&'static str),
}

impl Col {
    fn name(self) -> &'static str {
        match self {
            Col::Text(n) | Col::Int(n) => n,
        }
    }
}

/// The columns of a session row, in the order of [`session_values`].
pub(crate) const SESSION_COLS: &[Col] = &[
    Col::Text("id"),
    Col::Text("plan_id"),
    Col::Text("plan_name"),
    Col::Text("tenant_id"),
    Col::Text("backup_server_id"),
    Col::Text("kind"),
    Col::Int("creation_time"),
    Col::Int("end_time"),
    Col::Text("state"),
    Col::Text("result"),
    Col::Int("progress"),
    Col::Text("failure_message"),
    Col::Int("revision"),
];

/// Takes the next session revision inside a transaction (migration 7): the row
/// lock it takes orders every transaction that writes sessions, so revisions
/// become visible in increasing order.
pub(crate) const NEXT_REVISION: &str =
    "UPDATE session_revision SET revision = revision + 1 WHERE id = 1 RETURNING revision";

/// Marks that sessions were deleted: readers of revisions start over.
pub(crate) const NEXT_EPOCH: &str =
    "UPDATE session_revision SET revision = revision + 1, epoch = epoch + 1 WHERE id = 1";

/// [`NEXT_REVISION`] on a sqlx transaction.
pub(crate) async fn next_revision(tx: &mut sqlx::Transaction<'_, sqlx::Any>) -> StoreResult<i64> {
    sqlx::query_scalar(NEXT_REVISION)
        .fetch_one(&mut **tx)
        .await
        .map_err(db_err)
}

/// The columns of a task row, in the order of [`task_values`].
pub(crate) const TASK_COLS: &[Col] = &[
    Col::Text("session_id"),
    Col::Int("idx"),
    Col::Text("vm_name"),
    Col::Text("point_id"),
    Col::Text("point_name"),
    Col::Int("creation_time"),
    Col::Int("end_time"),
    Col::Text("state"),
    Col::Text("result"),
    Col::Int("progress"),
    Col::Text("failure_message"),
    Col::Int("planned_ms"),
    Col::Text("planned_outcome"),
    Col::Text("planned_message"),
];

/// A session upsert updates the columns that change as a session runs; a
/// `Stopping` is only ever replaced by `Stopped`, so a step never takes back a
/// stop asked for meanwhile, by this process or another.
pub(crate) const SESSION_CONFLICT: &str = "ON CONFLICT (id) DO UPDATE SET end_time = excluded.end_time, \
     state = CASE WHEN failover_sessions.state = 'Stopping' AND excluded.state <> 'Stopped' \
     THEN failover_sessions.state ELSE excluded.state END, \
     result = excluded.result, progress = excluded.progress, failure_message = excluded.failure_message, \
     revision = excluded.revision";

/// A task upsert updates the columns that change as a task runs, and its
/// planned duration and start (a manual step ends a VM now by shortening them).
pub(crate) const TASK_CONFLICT: &str =
    "ON CONFLICT (session_id, idx) DO UPDATE SET end_time = excluded.end_time, \
     state = excluded.state, result = excluded.result, progress = excluded.progress, \
     failure_message = excluded.failure_message, creation_time = excluded.creation_time, \
     planned_ms = excluded.planned_ms";

/// The values of a session row ([`SESSION_COLS`]).
#[allow(clippy::type_complexity)]
pub(crate) fn session_values(
    s: &FailoverSession,
    revision: i64,
) -> (
    String,
    String,
    &str,
    String,
    String,
    &'static str,
    i64,
    Option<i64>,
    &'static str,
    &'static str,
    i64,
    Option<&str>,
    i64,
) {
    (
        s.id.to_string(),
        s.plan_id.to_string(),
        &s.plan_name,
        s.tenant_id.to_string(),
        s.backup_server_id.to_string(),
        s.kind.as_str(),
        s.creation_time.micros(),
        s.end_time.map(|t| t.micros()),
        s.state.as_str(),
        s.result.as_str(),
        i64::from(s.progress),
        s.failure_message.as_deref(),
        revision,
    )
}

/// The values of task `idx` of session `s` ([`TASK_COLS`]).
#[allow(clippy::type_complexity)]
pub(crate) fn task_values<'a>(
    s: &FailoverSession,
    idx: usize,
    t: &'a SessionTask,
) -> (
    String,
    i64,
    &'a str,
    Option<String>,
    Option<&'a str>,
    i64,
    Option<i64>,
    &'static str,
    &'static str,
    i64,
    Option<&'a str>,
    Option<i64>,
    Option<&'static str>,
    Option<&'a str>,
) {
    (
        s.id.to_string(),
        idx as i64,
        &t.vm_name,
        t.point.as_ref().map(|p| p.id.to_string()),
        t.point.as_ref().map(|p| p.name.as_str()),
        t.creation_time.micros(),
        t.end_time.map(|e| e.micros()),
        t.state.as_str(),
        t.result.as_str(),
        i64::from(t.progress),
        t.failure_message.as_deref(),
        t.plan.as_ref().map(|p| p.duration_ms),
        t.plan.as_ref().map(|p| p.outcome.as_str()),
        t.plan.as_ref().and_then(|p| p.message.as_deref()),
    )
}

/// `INSERT INTO table (cols) VALUES (?1, …) conflict`, for a prepared statement
/// executed per row (the native writer).
pub(crate) fn values_insert(table: &str, cols: &[Col], conflict: &str) -> String {
    let names: Vec<&str> = cols.iter().map(|c| c.name()).collect();
    let marks: Vec<String> = (1..=cols.len()).map(|i| format!("?{i}")).collect();
    format!(
        "INSERT INTO {table} ({}) VALUES ({}) {conflict}",
        names.join(", "),
        marks.join(", ")
    )
}

/// `INSERT INTO table (cols) SELECT <row fields> FROM <the JSON array in $1>
/// conflict`: a whole batch of rows in one bound parameter.
fn json_insert(backend: Backend, table: &str, cols: &[Col], conflict: &str) -> String {
    let names: Vec<&str> = cols.iter().map(|c| c.name()).collect();
    let fields: Vec<String> = cols
        .iter()
        .enumerate()
        .map(|(i, c)| match (backend, c) {
            (Backend::Sqlite, _) => format!("value ->> {i}"),
            (Backend::Postgres, Col::Text(_)) => format!("e ->> {i}"),
            (Backend::Postgres, Col::Int(_)) => format!("(e ->> {i})::bigint"),
        })
        .collect();
    let source = match backend {
        // `WHERE true` keeps SQLite from reading ON CONFLICT as a join clause.
        Backend::Sqlite => "json_each($1) WHERE true",
        Backend::Postgres => "jsonb_array_elements($1::jsonb) AS e",
    };
    format!(
        "INSERT INTO {table} ({}) SELECT {} FROM {source} {conflict}",
        names.join(", "),
        fields.join(", ")
    )
}

/// Runs `sql` once per batch of rows, each batch bound as one JSON array (`$1`),
/// with `extra` bound as `$2` when given.
async fn execute_json<T: serde::Serialize>(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    sql: &str,
    rows: &[T],
    extra: Option<i64>,
) -> StoreResult<()> {
    for chunk in rows.chunks(JSON_BATCH_ROWS) {
        let json = serde_json::to_string(chunk).map_err(|e| StoreError::Backend(Box::new(e)))?;
        let mut q = sqlx::query(sql).bind(json);
        if let Some(v) = extra {
            q = q.bind(v);
        }
        q.execute(&mut **tx).await.map_err(db_err)?;
    }
    Ok(())
}

/// Writes sessions and their tasks inside a transaction: insert, or update the
/// columns that change as a session runs. The task list of a session never
/// changes length.
pub(crate) async fn upsert_sessions(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    backend: Backend,
    sessions: &[FailoverSession],
) -> StoreResult<()> {
    let revision = next_revision(tx).await?;
    let rows: Vec<_> = sessions
        .iter()
        .map(|s| session_values(s, revision))
        .collect();
    let sql = json_insert(backend, "failover_sessions", SESSION_COLS, SESSION_CONFLICT);
    execute_json(tx, &sql, &rows, None).await?;
    let rows: Vec<_> = sessions
        .iter()
        .flat_map(|s| {
            s.tasks
                .iter()
                .enumerate()
                .map(move |(i, t)| task_values(s, i, t))
        })
        .collect();
    let sql = json_insert(backend, "session_tasks", TASK_COLS, TASK_CONFLICT);
    execute_json(tx, &sql, &rows, None).await
}

/// For a step of more than 1,024 row updates on SQLite, the page cache its
/// transaction gets: about 1 KB per row, at most 64 MB. The rows lie on pages all
/// over the tables; with the pool's 1 MB cache (kept small for the many reader
/// connections) each update read its pages back from the file and spilled dirty
/// pages to the WAL in the middle of the transaction. After the transaction the
/// connection goes back to [`crate::SQLITE_CACHE_PRAGMA`], which frees the pages.
pub(crate) fn step_cache_pragma(rows: usize) -> Option<String> {
    const SMALL_ROWS: usize = 1024;
    const MAX_KIB: usize = 64 * 1024;
    (rows > SMALL_ROWS).then(|| format!("PRAGMA cache_size = -{}", rows.min(MAX_KIB)))
}

/// The rows a step updates: the session rows it writes and its tasks.
pub(crate) fn step_row_count(updates: &[SessionUpdate<'_>]) -> usize {
    updates
        .iter()
        .map(|u| usize::from(u.row) + u.tasks.len())
        .sum()
}

/// A step's changes: the running columns of each session whose row changed, and
/// those of the listed tasks, as JSON batches (PostgreSQL, and SQLite without a
/// file; a file goes through the native writer, which measured about twice as
/// fast with rows in key order and a step-sized cache). `UPDATE … FROM` the batch
/// (the planner probes the primary key per row) measured faster than upserting
/// whole rows. `Stopping` is only replaced by `Stopped`, as in [`SESSION_CONFLICT`].
///
/// A session row is written only when its own columns changed: a VM ending and
/// the next one starting writes two task rows and leaves the session row, its
/// seven indexes and its revision (which the query index follows) alone. Its
/// stored `progress` then lags; readers show the larger of it and the tasks'
/// ([`FailoverSession::show_progress_at`]).
pub(crate) async fn update_sessions(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    backend: Backend,
    updates: &[SessionUpdate<'_>],
) -> StoreResult<()> {
    let keep_stopping = "CASE WHEN failover_sessions.state = 'Stopping' AND v_state <> 'Stopped' \
                         THEN 'Stopping' ELSE v_state END";
    let (session_sql, task_sql) = match backend {
        Backend::Sqlite => (
            format!(
                "UPDATE failover_sessions SET end_time = v.value ->> 1, state = {}, \
                 result = v.value ->> 3, progress = v.value ->> 4, failure_message = v.value ->> 5, \
                 revision = $2 FROM json_each($1) AS v WHERE failover_sessions.id = v.value ->> 0",
                keep_stopping.replace("v_state", "(v.value ->> 2)")
            ),
            "UPDATE session_tasks SET end_time = v.value ->> 2, state = v.value ->> 3, \
             result = v.value ->> 4, progress = v.value ->> 5, failure_message = v.value ->> 6 \
             FROM json_each($1) AS v \
             WHERE session_tasks.session_id = v.value ->> 0 AND session_tasks.idx = v.value ->> 1"
                .to_string(),
        ),
        Backend::Postgres => (
            format!(
                "UPDATE failover_sessions SET end_time = (e ->> 1)::bigint, state = {}, \
                 result = e ->> 3, progress = (e ->> 4)::bigint, failure_message = e ->> 5, \
                 revision = $2 FROM jsonb_array_elements($1::jsonb) AS e WHERE failover_sessions.id = e ->> 0",
                keep_stopping.replace("v_state", "(e ->> 2)")
            ),
            "UPDATE session_tasks SET end_time = (e ->> 2)::bigint, state = e ->> 3, \
             result = e ->> 4, progress = (e ->> 5)::bigint, failure_message = e ->> 6 \
             FROM jsonb_array_elements($1::jsonb) AS e \
             WHERE session_tasks.session_id = e ->> 0 AND session_tasks.idx = (e ->> 1)::bigint"
                .to_string(),
        ),
    };
    let (sessions, tasks) = step_rows(updates);
    // The revision moves even when no session row changed: other writers'
    // read caches follow it.
    let revision = next_revision(tx).await?;
    execute_json(tx, &session_sql, &sessions, Some(revision)).await?;
    execute_json(tx, &task_sql, &tasks, None).await
}

/// A session row's running columns as a step writes them: id, end time, state,
/// result, progress, message.
pub(crate) type StepSessionRow = (
    String,
    Option<i64>,
    &'static str,
    &'static str,
    i64,
    Option<String>,
);

/// A task row's running columns as a step writes them: session id, index, end
/// time, state, result, progress, message.
pub(crate) type StepTaskRow = (
    String,
    i64,
    Option<i64>,
    &'static str,
    &'static str,
    i64,
    Option<String>,
);

/// The rows a step writes: the sessions whose own columns changed and the listed
/// tasks, each in key order (neighbouring updates then touch neighbouring pages).
pub(crate) fn step_rows(updates: &[SessionUpdate<'_>]) -> (Vec<StepSessionRow>, Vec<StepTaskRow>) {
    // A UUID's bytes sort as its hyphenated lowercase text, the stored key.
    let mut updates: Vec<&SessionUpdate<'_>> = updates.iter().collect();
    updates.sort_unstable_by_key(|u| u.session.id);
    let sessions: Vec<StepSessionRow> = updates
        .iter()
        .filter(|u| u.row)
        .map(|SessionUpdate { session: s, .. }| {
            (
                s.id.to_string(),
                s.end_time.map(|t| t.micros()),
                s.state.as_str(),
                s.result.as_str(),
                i64::from(s.progress),
                s.failure_message.clone(),
            )
        })
        .collect();
    let tasks: Vec<StepTaskRow> = updates
        .iter()
        .flat_map(
            |SessionUpdate {
                 session: s,
                 tasks: idx,
                 ..
             }| {
                let id = s.id.to_string();
                idx.iter().filter_map(move |&i| {
                    let t = s.tasks.get(i)?;
                    Some((
                        id.clone(),
                        i as i64,
                        t.end_time.map(|e| e.micros()),
                        t.state.as_str(),
                        t.result.as_str(),
                        i64::from(t.progress),
                        t.failure_message.clone(),
                    ))
                })
            },
        )
        .collect();
    (sessions, tasks)
}
