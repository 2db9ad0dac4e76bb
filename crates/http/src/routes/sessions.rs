//! `/api/cloud/failoverSessions` (resources/failover-sessions.md).

use super::{collection, kind, parse_id, related, server_map};
use crate::auth::{Caller, Right};
use crate::params::{Params, Representation};
use crate::{ApiError, AppState, Reply};
use axum::extract::{Path, State};
use axum::routing::get;
use axum::Router;
use entman_model::ids::SessionId;
use entman_model::Timestamp;
use entman_repr::resources::session::SessionView;
use entman_repr::resources::{Placement, Represent};

/// The collection lists sessions of the last 30 days only.
const WINDOW_DAYS: i64 = 30;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/cloud/failoversessions", get(list))
        .route("/api/cloud/failoversessions/{id}", get(one))
}

async fn list(
    State(state): State<AppState>,
    caller: Caller,
    params: Params,
) -> Result<Reply, ApiError> {
    caller.require(Right::ReadSessions)?;
    let representation = params.representation()?;
    let since = Timestamp::now().plus_millis(-WINDOW_DAYS * 86_400_000);
    let servers = server_map(&state).await?;
    let sessions = state
        .store
        .list_sessions(caller.scope(), Some(since))
        .await?;
    // The answer changes by itself when its oldest session leaves the window.
    let until = sessions
        .iter()
        .map(|s| s.creation_time)
        .min()
        .map(|oldest| oldest.plus_millis(WINDOW_DAYS * 86_400_000));
    let mut items = Vec::with_capacity(sessions.len());
    for session in &sessions {
        let view = SessionView {
            session,
            server: related(&servers, &session.backup_server_id, "backup server")?,
        };
        items.push(view.represent(
            &caller.ctx,
            representation == Representation::Entity,
            Placement::Item,
        ));
    }
    Ok(Reply::ok(collection(representation, "CloudFailoverSessions", items)).cacheable(until))
}

async fn one(
    State(state): State<AppState>,
    caller: Caller,
    params: Params,
    Path(raw): Path<String>,
) -> Result<Reply, ApiError> {
    caller.require(Right::ReadSessions)?;
    let representation = params.representation()?;
    let id: SessionId = parse_id(&raw, kind::SESSION)?;
    let session = state
        .store
        .get_session(caller.scope(), id)
        .await
        .map_err(|e| ApiError::from_store(e, kind::SESSION, &raw))?;
    let server = state.store.get_server(session.backup_server_id).await?;
    let view = SessionView {
        session: &session,
        server: &server,
    };
    Ok(Reply::state(view.represent(
        &caller.ctx,
        representation == Representation::Entity,
        Placement::Root,
    )))
}
