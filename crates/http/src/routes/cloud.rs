//! `/api/cloud/replicas` and `/api/cloud/vmReplicaPoints` (resources/replicas.md).

use super::{kind, parse_id, related, represent_list, server_map};
use crate::auth::{Caller, Right};
use crate::error::OrNotFound;
use crate::params::{Params, Representation};
use crate::{ApiError, AppState, Reply};
use axum::extract::{Path, State};
use axum::routing::get;
use axum::Router;
use entman_model::ids::{PointId, ReplicaId};
use entman_model::replica::{Replica, VmReplicaPoint};
use entman_repr::resources::replica::{PointView, ReplicaView};
use entman_repr::resources::{Placement, Represent};
use entman_repr::Ctx;
use std::collections::HashMap;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/cloud/replicas", get(list_replicas))
        .route("/api/cloud/replicas/{id}", get(one_replica))
        .route(
            "/api/cloud/replicas/{id}/vmreplicapoints",
            get(points_of_replica),
        )
        .route("/api/cloud/vmreplicapoints", get(list_points))
        .route("/api/cloud/vmreplicapoints/{id}", get(one_point))
        // EM 9.0 spelled the points of a replica this way (replicas.md §1).
        .route(
            "/api/cloud/vmreplicapoints/{id}/vmreplicapoints",
            get(points_of_replica),
        )
}

async fn list_replicas(
    State(state): State<AppState>,
    caller: Caller,
    params: Params,
) -> Result<Reply, ApiError> {
    caller.require(Right::ReadReplicas)?;
    let representation = params.representation()?;
    let servers = server_map(&state).await?;
    let replicas = state.store.list_replicas(caller.scope()).await?;
    let views = replicas.iter().map(|replica| {
        Ok(ReplicaView {
            replica,
            server: related(&servers, &replica.backup_server_id, "backup server")?,
        })
    });
    Ok(Reply::state(represent_list(
        &caller.ctx,
        representation,
        "CloudReplicas",
        views,
    )?))
}

async fn load_replica(state: &AppState, caller: &Caller, raw: &str) -> Result<Replica, ApiError> {
    let id: ReplicaId = parse_id(raw, kind::REPLICA)?;
    state
        .store
        .get_replica(caller.scope(), id)
        .await
        .or_404(kind::REPLICA, raw)
}

async fn one_replica(
    State(state): State<AppState>,
    caller: Caller,
    params: Params,
    Path(raw): Path<String>,
) -> Result<Reply, ApiError> {
    caller.require(Right::ReadReplicas)?;
    let representation = params.representation()?;
    let replica = load_replica(&state, &caller, &raw).await?;
    let server = state.store.get_server(replica.backup_server_id).await?;
    let view = ReplicaView {
        replica: &replica,
        server: &server,
    };
    Ok(Reply::state(view.represent(
        &caller.ctx,
        representation,
        Placement::Root,
    )))
}

async fn points_of_replica(
    State(state): State<AppState>,
    caller: Caller,
    params: Params,
    Path(raw): Path<String>,
) -> Result<Reply, ApiError> {
    caller.require(Right::ReadReplicas)?;
    let representation = params.representation()?;
    let replica = load_replica(&state, &caller, &raw).await?;
    let points = state
        .store
        .list_points(caller.scope(), Some(replica.id))
        .await?;
    let replicas = HashMap::from([(replica.id, replica)]);
    point_list(&state, &caller.ctx, representation, &points, &replicas).await
}

async fn list_points(
    State(state): State<AppState>,
    caller: Caller,
    params: Params,
) -> Result<Reply, ApiError> {
    caller.require(Right::ReadReplicas)?;
    let representation = params.representation()?;
    let points = state.store.list_points(caller.scope(), None).await?;
    let replicas: HashMap<ReplicaId, Replica> = state
        .store
        .list_replicas(caller.scope())
        .await?
        .into_iter()
        .map(|r| (r.id, r))
        .collect();
    point_list(&state, &caller.ctx, representation, &points, &replicas).await
}

async fn point_list(
    state: &AppState,
    ctx: &Ctx,
    representation: Representation,
    points: &[VmReplicaPoint],
    replicas: &HashMap<ReplicaId, Replica>,
) -> Result<Reply, ApiError> {
    let servers = server_map(state).await?;
    let views = points.iter().map(|point| {
        let replica = related(replicas, &point.replica_id, "replica")?;
        Ok(PointView {
            point,
            replica,
            server: related(&servers, &replica.backup_server_id, "backup server")?,
        })
    });
    Ok(Reply::state(represent_list(
        ctx,
        representation,
        "CloudVmReplicaPoints",
        views,
    )?))
}

async fn one_point(
    State(state): State<AppState>,
    caller: Caller,
    params: Params,
    Path(raw): Path<String>,
) -> Result<Reply, ApiError> {
    caller.require(Right::ReadReplicas)?;
    let representation = params.representation()?;
    let id: PointId = parse_id(&raw, kind::POINT)?;
    let point = state
        .store
        .get_point(caller.scope(), id)
        .await
        .or_404(kind::POINT, &raw)?;
    let replica = state
        .store
        .get_replica(caller.scope(), point.replica_id)
        .await?;
    let server = state.store.get_server(replica.backup_server_id).await?;
    let view = PointView {
        point: &point,
        replica: &replica,
        server: &server,
    };
    Ok(Reply::state(view.represent(
        &caller.ctx,
        representation,
        Placement::Root,
    )))
}
