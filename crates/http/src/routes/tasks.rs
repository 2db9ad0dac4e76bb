//! `/api/tasks` (resources/tasks.md): tasks of the caller's logon session, and
//! the rule every operation answering with a Task follows ([`accepted`]).

use super::kind;
use crate::auth::{Caller, Right};
use crate::error::OrNotFound;
use crate::{ApiError, AppState, Reply};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use entman_engine::OperationError;
use entman_model::task::{Operation, RelatedSession, Task, TaskOutcome, TaskState};
use entman_model::TaskNumber;
use entman_repr::resources::task::{task_list, task_node};

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/tasks", get(list))
        .route("/api/tasks/{id}", get(one).delete(remove))
}

fn number(raw: &str) -> Result<TaskNumber, ApiError> {
    raw.parse()
        .map_err(|()| ApiError::not_found(kind::TASK, raw))
}

async fn list(State(state): State<AppState>, caller: Caller) -> Result<Reply, ApiError> {
    caller.require(Right::OwnTasks)?;
    let tasks = state.store.list_tasks(caller.session.id).await?;
    Ok(Reply::ok(task_list(&caller.ctx, &tasks)))
}

async fn one(
    State(state): State<AppState>,
    caller: Caller,
    Path(raw): Path<String>,
) -> Result<Reply, ApiError> {
    caller.require(Right::OwnTasks)?;
    let task = state
        .store
        .get_task(caller.session.id, number(&raw)?)
        .await
        .or_404(kind::TASK, &raw)?;
    Ok(Reply::ok(task_node(&caller.ctx, &task)))
}

/// Forgets a task; a failover it started that is still running is stopped first.
async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    Path(raw): Path<String>,
) -> Result<Reply, ApiError> {
    caller.require(Right::OwnTasks)?;
    let task = state
        .store
        .get_task(caller.session.id, number(&raw)?)
        .await
        .or_404(kind::TASK, &raw)?;
    stop_related(&state, &caller, &task).await?;
    state
        .store
        .delete_task(caller.session.id, number(&raw)?)
        .await
        .or_404(kind::TASK, &raw)?;
    Ok(Reply::empty(StatusCode::NO_CONTENT))
}

/// Stores an operation's task and answers `202` with it: the operation was
/// carried out before the answer, so the task is stored `Finished` with its
/// outcome and `Related` session, and the answer shows it `Running` without them,
/// as EM's first answer does; `GET /api/tasks/{ID}` then shows it finished.
pub(crate) async fn accepted(
    state: &AppState,
    caller: &Caller,
    task: Task,
) -> Result<Reply, ApiError> {
    debug_assert_eq!(task.state, TaskState::Finished);
    let stored = state.store.insert_task(&task).await?;
    let first_answer = Task {
        state: TaskState::Running,
        outcome: None,
        related_session: None,
        ..stored
    };
    Ok(Reply::with_status(
        StatusCode::ACCEPTED,
        task_node(&caller.ctx, &first_answer),
    ))
}

/// Records the task of an operation, finished with its outcome, and answers 202
/// with it running: a refusal by the provider's rules is a task that did not
/// succeed, never an HTTP error (failover-plans.md §5, jobs.md §5).
pub(crate) async fn finished(
    state: &AppState,
    caller: &Caller,
    operation: Operation,
    subject: &str,
    result: Result<(String, Option<RelatedSession>), OperationError>,
) -> Result<Reply, ApiError> {
    let (outcome, related) = match result {
        Ok((message, related)) => (
            TaskOutcome {
                success: true,
                message,
            },
            related,
        ),
        Err(OperationError::Refused(message)) => (
            TaskOutcome {
                success: false,
                message,
            },
            None,
        ),
        Err(OperationError::Store(e)) => return Err(e.into()),
    };
    let verdict = if outcome.success {
        "success"
    } else {
        "refused"
    };
    caller.audit(
        operation.as_str(),
        verdict,
        &format!("{subject}: {}", outcome.message),
    );
    let task = Task {
        logon_session_id: caller.session.id,
        number: TaskNumber(0),
        operation,
        state: TaskState::Finished,
        outcome: Some(outcome),
        related_session: related,
        creation_time: state.now(),
    };
    accepted(state, caller, task).await
}

/// Stops the failover session a task started, if it is still running
/// (`DELETE /api/tasks/{ID}` on a running operation).
async fn stop_related(state: &AppState, caller: &Caller, task: &Task) -> Result<(), ApiError> {
    if let Some(related) = &task.related_session {
        match state.engine.stop(related.id).await {
            Ok(true) => caller.audit(
                "StopCloudFailoverSession",
                "success",
                &format!("{}: session {}", related.name, related.id),
            ),
            Ok(false) | Err(OperationError::Store(entman_store::StoreError::NotFound)) => {}
            Err(OperationError::Store(e)) => return Err(e.into()),
            Err(OperationError::Refused(m)) => return Err(ApiError::BadRequest(m)),
        }
    }
    Ok(())
}
