//! `/api/backupSessions`, `/api/replicaSessions`, `/api/backupTaskSessions`,
//! `/api/replicaTaskSessions` and the session lists of a job
//! (resources/job-sessions.md §1–7). Every state is derived from the stored
//! course of a run and the clock.

use super::{kind, parse_id, related, represent_list, server_map};
use crate::auth::{Caller, Right};
use crate::error::OrNotFound;
use crate::params::Params;
use crate::{ApiError, AppState, Reply};
use axum::extract::{Path, State};
use axum::routing::get;
use axum::Router;
use entman_engine::OperationError;
use entman_model::ids::{
    BackupJobSessionId, BackupTaskSessionId, JobId, KeyId, ReplicaJobSessionId,
    ReplicaTaskSessionId,
};
use entman_model::job_session::{JobSession, SessionKind};
use entman_model::task::Operation;
use entman_model::Timestamp;
use entman_repr::resources::job_session::{
    session_list_root, task_list_root, JobSessionView, TaskSessionView,
};
use entman_repr::resources::{Placement, Represent};
use uuid::Uuid;

/// How long lists look back: the last 30 days (§1).
const WINDOW_MS: i64 = 30 * 86_400_000;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/backupsessions", get(backup_sessions))
        .route(
            "/api/backupsessions/{id}",
            get(backup_session).post(stop_backup_session),
        )
        .route(
            "/api/backupsessions/{id}/tasksessions",
            get(backup_session_tasks),
        )
        .route("/api/backuptasksessions", get(backup_tasks))
        .route("/api/backuptasksessions/{id}", get(backup_task))
        .route("/api/replicasessions", get(replica_sessions))
        .route("/api/replicasessions/{id}", get(replica_session))
        .route(
            "/api/replicasessions/{id}/replicatasksessions",
            get(replica_session_tasks),
        )
        // The spelling every documented replication example prints (§1).
        .route(
            "/api/replicasessions/{id}/repicatasksessions",
            get(replica_session_tasks),
        )
        .route("/api/replicatasksessions", get(replica_tasks))
        .route("/api/replicatasksessions/{id}", get(replica_task))
        .route("/api/repicatasksessions/{id}", get(replica_task))
        .route("/api/jobs/{id}/backupsessions", get(job_backup_sessions))
        .route("/api/jobs/{id}/replicasessions", get(job_replica_sessions))
}

/// The start of the 30-day window at `now`.
fn window_start(now: Timestamp) -> Timestamp {
    now.plus_millis(-WINDOW_MS)
}

/// An answer about runs at `now`: while one of them runs, its figures move with
/// the clock and nothing is kept; otherwise it holds until the first of them
/// leaves the 30-day window (a write moves the state version before that).
fn reply<'a>(
    node: entman_repr::Node,
    sessions: impl IntoIterator<Item = &'a JobSession>,
    now: Timestamp,
    windowed: bool,
) -> Reply {
    reply_until(node, sessions, now, windowed, None)
}

/// [`reply`], also ending at `appears`: when a run the clock has not reached
/// yet comes into view.
fn reply_until<'a>(
    node: entman_repr::Node,
    sessions: impl IntoIterator<Item = &'a JobSession>,
    now: Timestamp,
    windowed: bool,
    appears: Option<Timestamp>,
) -> Reply {
    let mut until: Option<Timestamp> = appears;
    for session in sessions {
        if !session.is_over(now) {
            return Reply::ok(node);
        }
        if windowed {
            let leaves = session.created.plus_millis(WINDOW_MS);
            until = Some(until.map_or(leaves, |u: Timestamp| u.min(leaves)));
        }
    }
    Reply::ok(node).cacheable(until)
}

fn not_found(kind: SessionKind, raw: &str) -> ApiError {
    ApiError::not_found(
        match kind {
            SessionKind::Backup => kind::BACKUP_SESSION,
            SessionKind::Replica => kind::REPLICA_SESSION,
        },
        raw,
    )
}

fn task_not_found(kind: SessionKind, raw: &str) -> ApiError {
    ApiError::not_found(
        match kind {
            SessionKind::Backup => kind::BACKUP_TASK,
            SessionKind::Replica => kind::REPLICA_TASK,
        },
        raw,
    )
}

/// A path id of a run of `kind`: the GUID or that kind's URN.
fn session_id(kind: SessionKind, raw: &str) -> Result<Uuid, ApiError> {
    let id = match kind {
        SessionKind::Backup => BackupJobSessionId::from_path(raw).map(|i| i.0),
        SessionKind::Replica => ReplicaJobSessionId::from_path(raw).map(|i| i.0),
    };
    id.ok_or_else(|| not_found(kind, raw))
}

fn task_id(kind: SessionKind, raw: &str) -> Result<Uuid, ApiError> {
    let id = match kind {
        SessionKind::Backup => BackupTaskSessionId::from_path(raw).map(|i| i.0),
        SessionKind::Replica => ReplicaTaskSessionId::from_path(raw).map(|i| i.0),
    };
    id.ok_or_else(|| task_not_found(kind, raw))
}

/// A run of `kind` by path id; a run of the other kind is not found.
async fn load(state: &AppState, kind: SessionKind, raw: &str) -> Result<JobSession, ApiError> {
    let id = session_id(kind, raw)?;
    // A run the clock has not reached yet (a manual clock set back before it)
    // does not exist yet.
    match state.store.get_job_session(id).await {
        Ok(session) if session.kind() == kind && session.created <= state.now() => Ok(session),
        Ok(_) | Err(entman_store::StoreError::NotFound) => Err(not_found(kind, raw)),
        Err(e) => Err(e.into()),
    }
}

/// A list of runs in the asked representation.
async fn session_list(
    state: &AppState,
    caller: &Caller,
    params: &Params,
    kind: SessionKind,
    job: Option<JobId>,
) -> Result<Reply, ApiError> {
    caller.require(if job.is_some() {
        Right::Jobs
    } else {
        Right::ReadJobSessions
    })?;
    let representation = params.representation()?;
    let now = state.now();
    let from = window_start(now);
    let runs = state.runs.all(state.store.as_ref()).await?;
    let sessions: Vec<&JobSession> = runs
        .iter()
        .filter(|s| s.kind() == kind && job.is_none_or(|j| s.job_id == j) && s.created >= from)
        .collect();
    // A run created after the clock (a manual clock set before it) is not there
    // yet; the answer ends when the first of them comes into view.
    let appears = sessions
        .iter()
        .map(|s| s.created)
        .filter(|c| *c > now)
        .min();
    let sessions: Vec<&JobSession> = sessions.into_iter().filter(|s| s.created <= now).collect();
    let servers = server_map(state).await?;
    let generation = state.engine.generation();
    let views = sessions.iter().map(|session| {
        Ok(JobSessionView {
            session,
            server: related(&servers, &session.backup_server_id, "backup server")?,
            now,
            generation,
        })
    });
    let node = represent_list(&caller.ctx, representation, session_list_root(kind), views)?;
    Ok(reply_until(node, sessions, now, true, appears))
}

async fn one_session(
    state: &AppState,
    caller: &Caller,
    params: &Params,
    kind: SessionKind,
    raw: &str,
) -> Result<Reply, ApiError> {
    caller.require(Right::ReadJobSessions)?;
    let representation = params.representation()?;
    let session = load(state, kind, raw).await?;
    let server = state
        .store
        .get_server(session.backup_server_id)
        .await
        .or_404(kind::SERVER, session.backup_server_id)?;
    let now = state.now();
    let view = JobSessionView {
        session: &session,
        server: &server,
        now,
        generation: state.engine.generation(),
    };
    let node = view.represent(&caller.ctx, representation, Placement::Root);
    Ok(reply(node, [&session], now, false))
}

/// Task sessions of the runs given, created within the window, in the order of
/// §1: creation time, then the VM's position, then id.
async fn task_list(
    state: &AppState,
    caller: &Caller,
    params: &Params,
    kind: SessionKind,
    sessions: &[&JobSession],
) -> Result<Reply, ApiError> {
    let representation = params.representation()?;
    let now = state.now();
    let from = window_start(now);
    let servers = server_map(state).await?;
    let generation = state.engine.generation();
    let mut tasks: Vec<_> = sessions
        .iter()
        .copied()
        .flat_map(|session| session.tasks_at(now).map(move |task| (session, task)))
        .filter(|(_, task)| task.course.created >= from)
        .collect();
    tasks.sort_by_key(|(_, t)| (t.course.created, t.course.vm, t.id));
    let views = tasks.iter().map(|(session, task)| {
        Ok(TaskSessionView {
            session,
            task,
            server: related(&servers, &session.backup_server_id, "backup server")?,
            now,
            generation,
        })
    });
    let node = represent_list(&caller.ctx, representation, task_list_root(kind), views)?;
    Ok(reply(node, sessions.iter().copied(), now, true))
}

async fn all_tasks(
    state: &AppState,
    caller: &Caller,
    params: &Params,
    kind: SessionKind,
) -> Result<Reply, ApiError> {
    caller.require(Right::ReadJobSessions)?;
    // The runs whose tasks can lie in the window: created up to a day before it.
    let from = window_start(state.now()).plus_millis(-86_400_000);
    let runs = state.runs.all(state.store.as_ref()).await?;
    let windowed: Vec<&JobSession> = runs
        .iter()
        .filter(|s| s.kind() == kind && s.created >= from)
        .collect();
    task_list(state, caller, params, kind, &windowed).await
}

async fn session_tasks(
    state: &AppState,
    caller: &Caller,
    params: &Params,
    kind: SessionKind,
    raw: &str,
) -> Result<Reply, ApiError> {
    caller.require(Right::ReadJobSessions)?;
    let session = load(state, kind, raw).await?;
    task_list(state, caller, params, kind, &[&session]).await
}

async fn one_task(
    state: &AppState,
    caller: &Caller,
    params: &Params,
    kind: SessionKind,
    raw: &str,
) -> Result<Reply, ApiError> {
    caller.require(Right::ReadJobSessions)?;
    let representation = params.representation()?;
    let id = task_id(kind, raw)?;
    let now = state.now();
    let session = match state.store.job_session_of_task(id).await {
        Ok(session) if session.kind() == kind => session,
        Ok(_) | Err(entman_store::StoreError::NotFound) => return Err(task_not_found(kind, raw)),
        Err(e) => return Err(e.into()),
    };
    let task = session
        .tasks_at(now)
        .find(|t| t.id == id)
        .ok_or_else(|| task_not_found(kind, raw))?;
    let server = state
        .store
        .get_server(session.backup_server_id)
        .await
        .or_404(kind::SERVER, session.backup_server_id)?;
    let view = TaskSessionView {
        session: &session,
        task,
        server: &server,
        now,
        generation: state.engine.generation(),
    };
    let node = view.represent(&caller.ctx, representation, Placement::Root);
    Ok(reply(node, [&session], now, false))
}

async fn backup_sessions(
    State(state): State<AppState>,
    caller: Caller,
    params: Params,
) -> Result<Reply, ApiError> {
    session_list(&state, &caller, &params, SessionKind::Backup, None).await
}

async fn replica_sessions(
    State(state): State<AppState>,
    caller: Caller,
    params: Params,
) -> Result<Reply, ApiError> {
    session_list(&state, &caller, &params, SessionKind::Replica, None).await
}

async fn backup_session(
    State(state): State<AppState>,
    caller: Caller,
    params: Params,
    Path(raw): Path<String>,
) -> Result<Reply, ApiError> {
    one_session(&state, &caller, &params, SessionKind::Backup, &raw).await
}

async fn replica_session(
    State(state): State<AppState>,
    caller: Caller,
    params: Params,
    Path(raw): Path<String>,
) -> Result<Reply, ApiError> {
    one_session(&state, &caller, &params, SessionKind::Replica, &raw).await
}

async fn backup_session_tasks(
    State(state): State<AppState>,
    caller: Caller,
    params: Params,
    Path(raw): Path<String>,
) -> Result<Reply, ApiError> {
    session_tasks(&state, &caller, &params, SessionKind::Backup, &raw).await
}

async fn replica_session_tasks(
    State(state): State<AppState>,
    caller: Caller,
    params: Params,
    Path(raw): Path<String>,
) -> Result<Reply, ApiError> {
    session_tasks(&state, &caller, &params, SessionKind::Replica, &raw).await
}

async fn backup_tasks(
    State(state): State<AppState>,
    caller: Caller,
    params: Params,
) -> Result<Reply, ApiError> {
    all_tasks(&state, &caller, &params, SessionKind::Backup).await
}

async fn replica_tasks(
    State(state): State<AppState>,
    caller: Caller,
    params: Params,
) -> Result<Reply, ApiError> {
    all_tasks(&state, &caller, &params, SessionKind::Replica).await
}

async fn backup_task(
    State(state): State<AppState>,
    caller: Caller,
    params: Params,
    Path(raw): Path<String>,
) -> Result<Reply, ApiError> {
    one_task(&state, &caller, &params, SessionKind::Backup, &raw).await
}

async fn replica_task(
    State(state): State<AppState>,
    caller: Caller,
    params: Params,
    Path(raw): Path<String>,
) -> Result<Reply, ApiError> {
    one_task(&state, &caller, &params, SessionKind::Replica, &raw).await
}

/// `/api/jobs/{ID}/backupSessions` and `/replicaSessions`: the job's runs of
/// that kind (none for a job of the other kind).
async fn job_sessions(
    state: &AppState,
    caller: &Caller,
    params: &Params,
    kind: SessionKind,
    raw: &str,
) -> Result<Reply, ApiError> {
    caller.require(Right::Jobs)?;
    let id: JobId = parse_id(raw, kind::JOB)?;
    let job = state.store.get_job(id).await.or_404(kind::JOB, raw)?;
    session_list(state, caller, params, kind, Some(job.id)).await
}

async fn job_backup_sessions(
    State(state): State<AppState>,
    caller: Caller,
    params: Params,
    Path(raw): Path<String>,
) -> Result<Reply, ApiError> {
    job_sessions(&state, &caller, &params, SessionKind::Backup, &raw).await
}

async fn job_replica_sessions(
    State(state): State<AppState>,
    caller: Caller,
    params: Params,
    Path(raw): Path<String>,
) -> Result<Reply, ApiError> {
    job_sessions(&state, &caller, &params, SessionKind::Replica, &raw).await
}

/// `POST /api/backupSessions/{ID}?action=stop` (§7).
async fn stop_backup_session(
    State(state): State<AppState>,
    caller: Caller,
    params: Params,
    Path(raw): Path<String>,
) -> Result<Reply, ApiError> {
    caller.require(Right::StopJobSessions)?;
    let session = load(&state, SessionKind::Backup, &raw).await?;
    if !params
        .get("action")
        .is_some_and(|a| a.eq_ignore_ascii_case("stop"))
    {
        return Err(ApiError::job_session_action_unknown());
    }
    let result = state
        .engine
        .stop_job_session(session.id)
        .await
        .map(|stopped| format!("Job Session \"{}\" triggered to stop.", stopped.name));
    finished_task(
        &state,
        &caller,
        Operation::StopJobSession,
        &session.name,
        result,
    )
    .await
}

/// Records a job operation's task, finished with its outcome (jobs.md §5).
pub(super) async fn finished_task(
    state: &AppState,
    caller: &Caller,
    operation: Operation,
    subject: &str,
    result: Result<String, OperationError>,
) -> Result<Reply, ApiError> {
    let result = result.map(|message| (message, None));
    super::tasks::finished(state, caller, operation, subject, result).await
}
