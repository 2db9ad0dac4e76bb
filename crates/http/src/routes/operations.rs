//! Asynchronous operations: plan start/test/undo/edit/delete answer `202` with a
//! Task (failover-plans.md §5–9, tasks.md). The operation is carried out before
//! the answer; the task is stored `Finished` with its result, and the 202 shows it
//! `Running`, as EM's first answer does. A refusal by the provider's rules is a
//! task with `Success="false"`, not an HTTP error.

use super::plans::load_plan;
use crate::auth::{Caller, Right};
use crate::body::Body;
use crate::params::Params;
use crate::{ApiError, AppState, Reply};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use entman_engine::OperationError;
use entman_model::session::{FailoverSession, SessionKind};
use entman_model::task::{Operation, RelatedSession, Task, TaskOutcome, TaskState};
use entman_model::TaskNumber;
use entman_repr::resources::task::task_node;
use entman_repr::spec::{read_start_spec, PlanOptionsUpdate};
use entman_repr::BodyError;

/// Records a task with the operation's outcome and answers 202 with it running.
async fn answer(
    state: &AppState,
    caller: &Caller,
    operation: Operation,
    subject: &str,
    result: Result<Option<RelatedSession>, OperationError>,
) -> Result<Reply, ApiError> {
    let (outcome, related) = match result {
        Ok(related) => (
            TaskOutcome {
                success: true,
                message: "Ok".into(),
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

/// `POST /api/cloud/cloudFailoverPlans/{ID}?action=start|test|undo`.
pub async fn plan_action(
    State(state): State<AppState>,
    caller: Caller,
    params: Params,
    Path(raw): Path<String>,
    body: Body,
) -> Result<Reply, ApiError> {
    let action = params.get("action").map(str::to_ascii_lowercase);
    let action = match action.as_deref() {
        Some(a @ ("start" | "test" | "undo")) => a.to_string(),
        Some(other) => {
            return Err(ApiError::BadRequest(format!(
                "Action [{}] is not supported on a cloud failover plan: use start, test or undo.",
                other.chars().take(32).collect::<String>()
            )))
        }
        None => {
            return Err(ApiError::BadRequest(
                "A cloud failover plan action needs ?action=start, test or undo.".into(),
            ))
        }
    };
    caller.require(Right::OperatePlans)?;
    let plan = load_plan(&state, &caller, &raw).await?;
    let now = state.now();
    match action.as_str() {
        "start" => {
            let target = read_start_spec(body.read()?.as_ref())?;
            let result = state
                .engine
                .start(&plan, SessionKind::Start, target, now)
                .await;
            answer(
                &state,
                &caller,
                Operation::StartCloudFailoverPlan,
                &plan.name,
                result.map(related),
            )
            .await
        }
        "test" => {
            let target = entman_model::plan::FailoverTarget::Latest;
            let result = state
                .engine
                .start(&plan, SessionKind::Test, target, now)
                .await;
            answer(
                &state,
                &caller,
                Operation::StartCloudFailoverPlan,
                &plan.name,
                result.map(related),
            )
            .await
        }
        _ => {
            let result = state.engine.undo(&plan).await.map(|()| None);
            answer(
                &state,
                &caller,
                Operation::UndoCloudFailoverPlan,
                &plan.name,
                result,
            )
            .await
        }
    }
}

/// The `Related` link a start or test task gets.
fn related(session: FailoverSession) -> Option<RelatedSession> {
    Some(RelatedSession {
        id: session.id,
        name: session.plan_name,
    })
}

/// `PUT /api/cloud/cloudFailoverPlans/{ID}`: edits the pre/post scripts.
pub async fn edit_plan(
    State(state): State<AppState>,
    caller: Caller,
    Path(raw): Path<String>,
    body: Body,
) -> Result<Reply, ApiError> {
    caller.require(Right::EditPlans)?;
    let plan = load_plan(&state, &caller, &raw).await?;
    let input = body
        .read()?
        .ok_or(BodyError::Missing("CloudFailoverPlan"))?;
    let options = PlanOptionsUpdate::read(&input)?.apply(&plan.options)?;
    let result = state.engine.edit(&plan, &options).await.map(|()| None);
    answer(
        &state,
        &caller,
        Operation::UpdateFailoverPlan,
        &plan.name,
        result,
    )
    .await
}

/// `DELETE /api/cloud/cloudFailoverPlans/{ID}`.
pub async fn delete_plan(
    State(state): State<AppState>,
    caller: Caller,
    Path(raw): Path<String>,
) -> Result<Reply, ApiError> {
    caller.require(Right::EditPlans)?;
    let plan = load_plan(&state, &caller, &raw).await?;
    let result = state.engine.delete(&plan).await.map(|()| None);
    answer(
        &state,
        &caller,
        Operation::DeleteCloudFailoverPlan,
        &plan.name,
        result,
    )
    .await
}

/// Stops the failover session a task started, if it is still running
/// (`DELETE /api/tasks/{ID}` on a running operation).
pub async fn stop_related(state: &AppState, caller: &Caller, task: &Task) -> Result<(), ApiError> {
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
