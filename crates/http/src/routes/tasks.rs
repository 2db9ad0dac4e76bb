//! `/api/tasks` (resources/tasks.md): tasks of the caller's logon session.

use super::kind;
use crate::auth::{Caller, Right};
use crate::error::OrNotFound;
use crate::{ApiError, AppState, Reply};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use entman_model::TaskNumber;
use entman_repr::resources::task::{task_list, task_node};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/tasks", get(list))
        .route("/api/tasks/{id}", get(one).delete(remove))
}

fn number(raw: &str) -> Result<TaskNumber, ApiError> {
    raw.parse()
        .map_err(|_| ApiError::not_found(kind::TASK, raw))
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
    super::operations::stop_related(&state, &caller, &task).await?;
    state
        .store
        .delete_task(caller.session.id, number(&raw)?)
        .await
        .or_404(kind::TASK, &raw)?;
    Ok(Reply::empty(StatusCode::NO_CONTENT))
}
