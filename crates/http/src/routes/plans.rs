//! `/api/cloud/cloudFailoverPlans` read path and includes (resources/failover-plans.md).

use super::{collection, kind, parse_id, related, server_map};
use crate::auth::{Caller, Right};
use crate::error::OrNotFound;
use crate::params::{Params, Representation};
use crate::{ApiError, AppState, Reply};
use axum::extract::{Path, State};
use axum::routing::get;
use axum::Router;
use entman_model::ids::{PlanId, PlanVmId, TenantId};
use entman_model::plan::Plan;
use entman_model::tenant::Tenant;
use entman_repr::resources::plan::{failovered_vm, PlanView};
use entman_repr::resources::{Placement, Represent};
use std::collections::HashMap;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/cloud/cloudfailoverplans", get(list))
        .route(
            "/api/cloud/cloudfailoverplans/{id}",
            get(one)
                .put(super::operations::edit_plan)
                .delete(super::operations::delete_plan)
                .post(super::operations::plan_action),
        )
        .route("/api/cloud/cloudfailoverplans/{id}/includes", get(includes))
        .route(
            "/api/cloud/cloudfailoverplans/{id}/includes/{vm}",
            get(include),
        )
}

async fn tenant_map(state: &AppState) -> Result<HashMap<TenantId, Tenant>, ApiError> {
    Ok(state
        .store
        .list_tenants()
        .await?
        .into_iter()
        .map(|t| (t.id, t))
        .collect())
}

async fn list(
    State(state): State<AppState>,
    caller: Caller,
    params: Params,
) -> Result<Reply, ApiError> {
    caller.require(Right::ReadPlans)?;
    let representation = params.representation()?;
    let servers = server_map(&state).await?;
    let tenants = tenant_map(&state).await?;
    let plans = state.store.list_plans(caller.scope()).await?;
    let mut items = Vec::with_capacity(plans.len());
    for plan in &plans {
        let view = PlanView {
            plan,
            server: related(&servers, &plan.backup_server_id, "backup server")?,
            tenant: related(&tenants, &plan.tenant_id, "tenant")?,
        };
        items.push(view.represent(
            &caller.ctx,
            representation == Representation::Entity,
            Placement::Item,
        ));
    }
    Ok(Reply::state(collection(
        representation,
        "CloudFailoverPlans",
        items,
    )))
}

/// Loads a plan visible to the caller (another tenant's plan is a 404).
pub(crate) async fn load_plan(
    state: &AppState,
    caller: &Caller,
    raw: &str,
) -> Result<Plan, ApiError> {
    let id: PlanId = parse_id(raw, kind::PLAN)?;
    state
        .store
        .get_plan(caller.scope(), id)
        .await
        .or_404(kind::PLAN, raw)
}

async fn one(
    State(state): State<AppState>,
    caller: Caller,
    params: Params,
    Path(raw): Path<String>,
) -> Result<Reply, ApiError> {
    caller.require(Right::ReadPlans)?;
    let representation = params.representation()?;
    let plan = load_plan(&state, &caller, &raw).await?;
    let server = state.store.get_server(plan.backup_server_id).await?;
    let tenant = state.store.get_tenant(plan.tenant_id).await?;
    let view = PlanView {
        plan: &plan,
        server: &server,
        tenant: &tenant,
    };
    Ok(Reply::state(view.represent(
        &caller.ctx,
        representation == Representation::Entity,
        Placement::Root,
    )))
}

async fn includes(
    State(state): State<AppState>,
    caller: Caller,
    Path(raw): Path<String>,
) -> Result<Reply, ApiError> {
    caller.require(Right::ReadPlans)?;
    let plan = load_plan(&state, &caller, &raw).await?;
    let server = state.store.get_server(plan.backup_server_id).await?;
    let tenant = state.store.get_tenant(plan.tenant_id).await?;
    Ok(Reply::state(
        PlanView {
            plan: &plan,
            server: &server,
            tenant: &tenant,
        }
        .includes_list(&caller.ctx),
    ))
}

async fn include(
    State(state): State<AppState>,
    caller: Caller,
    Path((raw, raw_vm)): Path<(String, String)>,
) -> Result<Reply, ApiError> {
    caller.require(Right::ReadPlans)?;
    let plan = load_plan(&state, &caller, &raw).await?;
    let vm_id: PlanVmId = parse_id(&raw_vm, kind::PLAN_VM)?;
    let vm = plan
        .vms
        .iter()
        .find(|v| v.id == vm_id)
        .ok_or_else(|| ApiError::not_found(kind::PLAN_VM, &raw_vm))?;
    Ok(Reply::state(failovered_vm(&caller.ctx, &plan, vm)))
}
