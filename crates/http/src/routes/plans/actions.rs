//! Plan operations: start, test, undo, edit and delete answer `202` with a Task
//! (failover-plans.md §5–9, tasks.md). The operation is carried out before the
//! answer ([`crate::routes::tasks::finished`]). A refusal by the provider's rules
//! is a task with `Success="false"`, not an HTTP error.

use super::load_plan;
use crate::auth::{Caller, Right};
use crate::body::Body;
use crate::params::Params;
use crate::routes::tasks::finished;
use crate::{ApiError, AppState, Reply};
use axum::extract::{Path, State};
use entman_engine::OperationError;
use entman_model::plan::FailoverTarget;
use entman_model::session::{FailoverSession, SessionKind};
use entman_model::task::{Operation, RelatedSession};
use entman_repr::spec::{read_start_spec, PlanOptionsUpdate};
use entman_repr::BodyError;

/// The `?action=` of `POST /api/cloud/cloudFailoverPlans/{ID}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PlanAction {
    /// A failover to the latest point or, with a `StartDate`, the latest before it.
    Start,
    /// A test failover to the latest points.
    Test,
    /// Ends a failover: the plan and its points return to `Ready`.
    Undo,
}

impl PlanAction {
    /// Reads the action from the query (case-insensitively).
    fn from_params(params: &Params) -> Result<PlanAction, ApiError> {
        let Some(action) = params.get("action") else {
            return Err(ApiError::plan_action_missing());
        };
        match action.to_ascii_lowercase().as_str() {
            "start" => Ok(PlanAction::Start),
            "test" => Ok(PlanAction::Test),
            "undo" => Ok(PlanAction::Undo),
            _ => Err(ApiError::plan_action_unknown(action)),
        }
    }

    /// The task operation it records.
    fn operation(self) -> Operation {
        match self {
            PlanAction::Start | PlanAction::Test => Operation::StartCloudFailoverPlan,
            PlanAction::Undo => Operation::UndoCloudFailoverPlan,
        }
    }
}

/// Records a task with the operation's outcome (`Ok` on success) and answers
/// 202 with it running.
async fn answer(
    state: &AppState,
    caller: &Caller,
    operation: Operation,
    subject: &str,
    result: Result<Option<RelatedSession>, OperationError>,
) -> Result<Reply, ApiError> {
    let result = result.map(|related| ("Ok".to_string(), related));
    finished(state, caller, operation, subject, result).await
}

/// `POST /api/cloud/cloudFailoverPlans/{ID}?action=start|test|undo`.
pub(super) async fn act(
    State(state): State<AppState>,
    caller: Caller,
    params: Params,
    Path(raw): Path<String>,
    body: Body,
) -> Result<Reply, ApiError> {
    let action = PlanAction::from_params(&params)?;
    caller.require(Right::OperatePlans)?;
    let plan = load_plan(&state, &caller, &raw).await?;
    let now = state.now();
    let result = match action {
        PlanAction::Start => {
            let target = read_start_spec(body.read()?.as_ref())?;
            let started = state
                .engine
                .start(&plan, SessionKind::Start, target, now)
                .await;
            started.map(|session| Some(related(session)))
        }
        PlanAction::Test => {
            let target = FailoverTarget::Latest;
            let started = state
                .engine
                .start(&plan, SessionKind::Test, target, now)
                .await;
            started.map(|session| Some(related(session)))
        }
        PlanAction::Undo => state.engine.undo(&plan).await.map(|()| None),
    };
    answer(&state, &caller, action.operation(), &plan.name, result).await
}

/// The `Related` link a start or test task gets.
fn related(session: FailoverSession) -> RelatedSession {
    RelatedSession {
        id: session.id,
        name: session.plan_name,
    }
}

/// `PUT /api/cloud/cloudFailoverPlans/{ID}`: edits the pre/post scripts.
pub(super) async fn edit(
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
pub(super) async fn delete(
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
