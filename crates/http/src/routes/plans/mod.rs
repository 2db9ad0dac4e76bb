//! `/api/cloud/cloudFailoverPlans` (resources/failover-plans.md): the read path
//! ([`read`]) and the operations that answer with a Task ([`actions`]), over one
//! way of loading a plan the caller may see.

mod actions;
mod read;

use super::{kind, parse_id};
use crate::auth::Caller;
use crate::error::OrNotFound;
use crate::{ApiError, AppState};
use axum::routing::get;
use axum::Router;
use entman_model::ids::PlanId;
use entman_model::plan::Plan;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/cloud/cloudfailoverplans", get(read::list))
        .route(
            "/api/cloud/cloudfailoverplans/{id}",
            get(read::one)
                .put(actions::edit)
                .delete(actions::delete)
                .post(actions::act),
        )
        .route(
            "/api/cloud/cloudfailoverplans/{id}/includes",
            get(read::includes),
        )
        .route(
            "/api/cloud/cloudfailoverplans/{id}/includes/{vm}",
            get(read::include),
        )
}

/// Loads a plan visible to the caller (another tenant's plan is a 404).
async fn load_plan(state: &AppState, caller: &Caller, raw: &str) -> Result<Plan, ApiError> {
    let id: PlanId = parse_id(raw, kind::PLAN)?;
    state
        .store
        .get_plan(caller.scope(), id)
        .await
        .or_404(kind::PLAN, raw)
}
