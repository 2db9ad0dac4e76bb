//! Reading cloud failover plans: the collection, one plan, its includes.

use super::load_plan;
use crate::auth::{Caller, Right};
use crate::params::Params;
use crate::routes::{kind, parse_id, related, represent_list, server_map};
use crate::{ApiError, AppState, Reply};
use axum::extract::{Path, State};
use entman_model::ids::{PlanVmId, TenantId};
use entman_model::tenant::Tenant;
use entman_repr::resources::plan::{failovered_vm, PlanView};
use entman_repr::resources::{Placement, Represent};
use std::collections::HashMap;

async fn tenant_map(state: &AppState) -> Result<HashMap<TenantId, Tenant>, ApiError> {
    Ok(state
        .store
        .list_tenants()
        .await?
        .into_iter()
        .map(|t| (t.id, t))
        .collect())
}

pub(super) async fn list(
    State(state): State<AppState>,
    caller: Caller,
    params: Params,
) -> Result<Reply, ApiError> {
    caller.require(Right::ReadPlans)?;
    let representation = params.representation()?;
    let servers = server_map(&state).await?;
    let tenants = tenant_map(&state).await?;
    let plans = state.store.list_plans(caller.scope()).await?;
    let views = plans.iter().map(|plan| {
        Ok(PlanView {
            plan,
            server: related(&servers, &plan.backup_server_id, "backup server")?,
            tenant: related(&tenants, &plan.tenant_id, "tenant")?,
        })
    });
    Ok(Reply::state(represent_list(
        &caller.ctx,
        representation,
        "CloudFailoverPlans",
        views,
    )?))
}

pub(super) async fn one(
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
        representation,
        Placement::Root,
    )))
}

pub(super) async fn includes(
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

pub(super) async fn include(
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
