//! `/api/jobs` (resources/jobs.md): the jobs of every backup server and their
//! includes, for the Portal Administrator only.

use super::job_sessions::finished_task;
use super::{kind, parse_id, related, represent_list, server_map};
use crate::auth::{Caller, Right};
use crate::error::OrNotFound;
use crate::params::Params;
use crate::{ApiError, AppState, Reply};
use axum::extract::{Path, State};
use axum::routing::get;
use axum::Router;
use entman_engine::RunAction;
use entman_model::ids::{JobId, ObjectInJobId};
use entman_model::job::Job;
use entman_model::task::Operation;
use entman_model::Timestamp;
use entman_repr::resources::job::{object_in_job, objects_in_job, JobView};
use entman_repr::resources::{Placement, Represent};

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/jobs", get(list))
        .route(
            "/api/jobs/{id}",
            get(one)
                .post(action)
                .put(super::out_of_scope::not_implemented)
                .delete(super::out_of_scope::not_implemented),
        )
        .route(
            "/api/jobs/{id}/includes",
            get(includes).post(super::out_of_scope::not_implemented),
        )
        .route(
            "/api/jobs/{id}/includes/{include}",
            get(include).delete(super::out_of_scope::not_implemented),
        )
}

/// The answer of job representations: cacheable until the earliest `NextRun`
/// among them moves (the only value that depends on the clock).
fn reply<'a>(
    node: entman_repr::Node,
    jobs: impl IntoIterator<Item = &'a Job>,
    now: Timestamp,
) -> Reply {
    let until = jobs.into_iter().filter_map(|j| j.next_run(now)).min();
    Reply::ok(node).cacheable(until)
}

async fn list(
    State(state): State<AppState>,
    caller: Caller,
    params: Params,
) -> Result<Reply, ApiError> {
    caller.require(Right::Jobs)?;
    let representation = params.representation()?;
    let jobs = state.store.list_jobs().await?;
    let servers = server_map(&state).await?;
    let now = state.now();
    let views = jobs.iter().map(|job| {
        Ok(JobView {
            job,
            server: related(&servers, &job.backup_server_id, "backup server")?,
            now,
        })
    });
    let node = represent_list(&caller.ctx, representation, "Jobs", views)?;
    Ok(reply(node, &jobs, now))
}

async fn load(state: &AppState, raw: &str) -> Result<Job, ApiError> {
    let id: JobId = parse_id(raw, kind::JOB)?;
    state.store.get_job(id).await.or_404(kind::JOB, raw)
}

async fn one(
    State(state): State<AppState>,
    caller: Caller,
    params: Params,
    Path(raw): Path<String>,
) -> Result<Reply, ApiError> {
    caller.require(Right::Jobs)?;
    let representation = params.representation()?;
    let job = load(&state, &raw).await?;
    let server = state
        .store
        .get_server(job.backup_server_id)
        .await
        .or_404(kind::SERVER, job.backup_server_id)?;
    let now = state.now();
    let view = JobView {
        job: &job,
        server: &server,
        now,
    };
    let node = view.represent(&caller.ctx, representation, Placement::Root);
    Ok(reply(node, [&job], now))
}

async fn includes(
    State(state): State<AppState>,
    caller: Caller,
    Path(raw): Path<String>,
) -> Result<Reply, ApiError> {
    caller.require(Right::Jobs)?;
    let job = load(&state, &raw).await?;
    Ok(Reply::state(objects_in_job(&caller.ctx, &job)))
}

async fn include(
    State(state): State<AppState>,
    caller: Caller,
    Path((raw, raw_include)): Path<(String, String)>,
) -> Result<Reply, ApiError> {
    caller.require(Right::Jobs)?;
    let job = load(&state, &raw).await?;
    let vm = raw_include
        .parse::<ObjectInJobId>()
        .ok()
        .and_then(|id| job.vm(id))
        .ok_or_else(|| ApiError::not_found(kind::INCLUDE, &raw_include))?;
    Ok(Reply::state(object_in_job(&caller.ctx, &job, vm, true)))
}

/// `POST /api/jobs/{ID}?action=…` (§5). `toggleScheduleEnabled` flips the
/// schedule at once; `start`, `sync`, `retry` and `stop` go to the engine;
/// `clone` is out of scope.
async fn action(
    State(state): State<AppState>,
    caller: Caller,
    params: Params,
    Path(raw): Path<String>,
) -> Result<Reply, ApiError> {
    caller.require(Right::Jobs)?;
    let action = params.get("action").unwrap_or("").to_ascii_lowercase();
    match action.as_str() {
        "togglescheduleenabled" => toggle_schedule(&state, &caller, &raw).await,
        "start" => run(&state, &caller, &raw, RunAction::Start).await,
        "sync" => run(&state, &caller, &raw, RunAction::Sync).await,
        "retry" => run(&state, &caller, &raw, RunAction::Retry).await,
        "stop" => stop(&state, &caller, &raw).await,
        "clone" => {
            load(&state, &raw).await?;
            Err(ApiError::NotImplemented(format!(
                "/api/jobs/{raw}?action={action}"
            )))
        }
        _ => Err(ApiError::job_action_unknown()),
    }
}

/// `start`, `sync`, `retry`: a new run at once, or a refusal (jobs.md §5).
async fn run(
    state: &AppState,
    caller: &Caller,
    raw: &str,
    action: RunAction,
) -> Result<Reply, ApiError> {
    let job = load(state, raw).await?;
    let (operation, verb) = match action {
        RunAction::Start => (Operation::StartJob, "start"),
        RunAction::Sync => (Operation::StartJobSync, ""),
        RunAction::Retry => (Operation::RetryJob, "retry"),
    };
    let result = state
        .engine
        .run_job(&job, action)
        .await
        .map(|_| match action {
            RunAction::Sync => "Ok".to_string(),
            _ => format!("Job \"{}\" triggered to {verb}.", job.name),
        });
    finished_task(state, caller, operation, &job.name, result).await
}

/// `stop`: stops the job's running run.
async fn stop(state: &AppState, caller: &Caller, raw: &str) -> Result<Reply, ApiError> {
    let job = load(state, raw).await?;
    let result = state
        .engine
        .stop_job(&job)
        .await
        .map(|_| format!("Job \"{}\" triggered to stop.", job.name));
    finished_task(state, caller, Operation::StopJob, &job.name, result).await
}

/// `toggleScheduleEnabled`: flips `ScheduleEnabled` (and with it `NextRun`),
/// whether or not the job runs; never refused.
async fn toggle_schedule(state: &AppState, caller: &Caller, raw: &str) -> Result<Reply, ApiError> {
    let job = load(state, raw).await?;
    state
        .store
        .set_job_schedule_enabled(job.id, !job.schedule_enabled)
        .await
        .or_404(kind::JOB, raw)?;
    finished_task(
        state,
        caller,
        Operation::UpdateJob,
        &job.name,
        Ok("Ok".into()),
    )
    .await
}
