//! `/api/cloud/tenants` (resources/tenants.md): read-only here; other verbs are EM
//! features outside the contract (501).

use super::out_of_scope::not_implemented;
use super::{kind, parse_id, related, represent_list, server_map};
use crate::auth::{Caller, Right};
use crate::error::OrNotFound;
use crate::params::Params;
use crate::{ApiError, AppState, Reply};
use axum::extract::{Path, State};
use axum::routing::get;
use axum::Router;
use entman_model::ids::TenantId;
use entman_repr::resources::tenant::TenantView;
use entman_repr::resources::{Placement, Represent};

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/cloud/tenants", get(list).fallback(not_implemented))
        .route(
            "/api/cloud/tenants/{id}",
            get(one).fallback(not_implemented),
        )
}

async fn list(
    State(state): State<AppState>,
    caller: Caller,
    params: Params,
) -> Result<Reply, ApiError> {
    caller.require(Right::ReadTenants)?;
    let representation = params.representation()?;
    let servers = server_map(&state).await?;
    let tenants = state.store.list_tenants().await?;
    let views = tenants.iter().map(|tenant| {
        Ok(TenantView {
            tenant,
            server: related(&servers, &tenant.backup_server_id, "backup server")?,
        })
    });
    Ok(Reply::state(represent_list(
        &caller.ctx,
        representation,
        "CloudTenants",
        views,
    )?))
}

async fn one(
    State(state): State<AppState>,
    caller: Caller,
    params: Params,
    Path(raw): Path<String>,
) -> Result<Reply, ApiError> {
    caller.require(Right::ReadTenants)?;
    let representation = params.representation()?;
    let id: TenantId = parse_id(&raw, kind::TENANT)?;
    let tenant = state
        .store
        .get_tenant(id)
        .await
        .or_404(kind::TENANT, &raw)?;
    let server = state.store.get_server(tenant.backup_server_id).await?;
    let view = TenantView {
        tenant: &tenant,
        server: &server,
    };
    Ok(Reply::state(view.represent(
        &caller.ctx,
        representation,
        Placement::Root,
    )))
}
