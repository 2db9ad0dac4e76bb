//! `/api/cloud/failoverSessions` (resources/failover-sessions.md).

use super::{kind, parse_id, related, represent_list, server_map};
use crate::auth::{Caller, Right};
use crate::error::OrNotFound;
use crate::params::{Params, Representation};
use crate::render::negotiate;
use crate::{ApiError, AppState, Reply};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};
use entman_model::ids::{BackupServerId, SessionId};
use entman_model::server::BackupServer;
use entman_model::session::FailoverSession;
use entman_model::Timestamp;
use entman_repr::resources::session::SessionView;
use entman_repr::resources::{Placement, Represent};
use entman_repr::{Format, ListWriter};
use std::collections::HashMap;

/// The collection lists sessions of the last 30 days only.
const WINDOW_DAYS: i64 = 30;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/cloud/failoversessions", get(list))
        .route("/api/cloud/failoversessions/{id}", get(one))
}

/// Sessions read and rendered at a time; a list longer than one page is streamed.
const PAGE: u64 = 500;

async fn list(
    State(state): State<AppState>,
    caller: Caller,
    params: Params,
    headers: HeaderMap,
    format: Option<Extension<Format>>,
) -> Result<Response, ApiError> {
    caller.require(Right::ReadSessions)?;
    let representation = params.representation()?;
    let format = format.map_or_else(|| negotiate(&headers, &state), |f| f.0);
    let since = state.now().plus_millis(-WINDOW_DAYS * 86_400_000);
    let servers = server_map(&state).await?;
    let first = state
        .store
        .list_sessions_page(
            caller.scope(),
            Some(since),
            None,
            PAGE,
            representation.is_entity(),
        )
        .await?;
    let first = shown_at(first, state.engine.progress_time());
    if (first.len() as u64) == PAGE {
        return Ok(stream(
            state,
            caller,
            servers,
            first,
            since,
            representation,
            format,
        ));
    }
    // The answer changes by itself when its oldest session leaves the window.
    let until = first
        .first()
        .map(|oldest| oldest.creation_time.plus_millis(WINDOW_DAYS * 86_400_000));
    let views = first.iter().map(|session| view(&servers, session));
    let list = represent_list(&caller.ctx, representation, "CloudFailoverSessions", views)?;
    Ok(Reply::ok(list).cacheable(until).into_response())
}

/// Sessions as read from the store, with the progress of the running ones as of
/// `at` ([`entman_engine::Engine::progress_time`]; the engine stores only their
/// transitions).
pub(crate) fn shown_at(mut sessions: Vec<FailoverSession>, at: Timestamp) -> Vec<FailoverSession> {
    for session in &mut sessions {
        session.show_progress_at(at);
    }
    sessions
}

/// The view of a session of the collection.
fn view<'a>(
    servers: &'a HashMap<BackupServerId, BackupServer>,
    session: &'a FailoverSession,
) -> Result<SessionView<'a>, ApiError> {
    Ok(SessionView {
        session,
        server: related(servers, &session.backup_server_id, "backup server")?,
    })
}

/// Streams a long collection page by page: memory stays bounded by a couple of
/// pages whatever the number of sessions, and the first bytes leave after the
/// first page. The pages follow the `(creation time, id)` key, so a session
/// written meanwhile is listed once or not at all, never twice. A store error
/// after the first bytes ends the body early (the status is already sent).
fn stream(
    state: AppState,
    caller: Caller,
    servers: HashMap<BackupServerId, BackupServer>,
    first: Vec<FailoverSession>,
    since: Timestamp,
    representation: Representation,
    format: Format,
) -> Response {
    let entity = representation.is_entity();
    let writer = ListWriter {
        root: if entity {
            "CloudFailoverSessions"
        } else {
            "EntityReferences"
        },
        json_key: if entity {
            "CloudFailoverSessions"
        } else {
            "Refs"
        },
        format,
    };
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(2);
    tokio::spawn(async move {
        let mut chunk = writer.head();
        let mut page = first;
        let mut first_item = true;
        loop {
            for session in &page {
                match view(&servers, session) {
                    Ok(view) => {
                        let node = view.represent(&caller.ctx, representation, Placement::Item);
                        writer.item(&node, first_item, &mut chunk);
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "streaming failover sessions");
                        let _ = tx.send(Err(std::io::Error::other("session list"))).await;
                        return;
                    }
                }
                first_item = false;
            }
            let after = page.last().map(|s| (s.creation_time, s.id));
            if tx
                .send(Ok(Bytes::from(std::mem::take(&mut chunk))))
                .await
                .is_err()
            {
                return; // the client went away
            }
            page = match state
                .store
                .list_sessions_page(caller.scope(), Some(since), after, PAGE, entity)
                .await
            {
                Ok(page) => shown_at(page, state.engine.progress_time()),
                Err(e) => {
                    tracing::error!(error = %e, "streaming failover sessions");
                    let _ = tx.send(Err(std::io::Error::other("session list"))).await;
                    return;
                }
            };
            if page.is_empty() {
                let _ = tx.send(Ok(Bytes::from(writer.tail()))).await;
                return;
            }
        }
    });
    let body = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|chunk| (chunk, rx))
    });
    let content_type = match format {
        Format::Xml => "application/xml; charset=utf-8",
        Format::Json(_) => "application/json; charset=utf-8",
    };
    let mut response = Response::new(axum::body::Body::from_stream(body));
    response.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        HeaderValue::from_static(content_type),
    );
    response
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
    let mut session = state
        .store
        .get_session(caller.scope(), id)
        .await
        .or_404(kind::SESSION, &raw)?;
    session.show_progress_at(state.engine.progress_time());
    let server = state.store.get_server(session.backup_server_id).await?;
    let view = SessionView {
        session: &session,
        server: &server,
    };
    Ok(Reply::state(view.represent(
        &caller.ctx,
        representation,
        Placement::Root,
    )))
}
