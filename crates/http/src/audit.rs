//! Audit events: logons (success and failure), logoffs, plan operations, stops,
//! edits and deletions, as structured log lines on the `entman::audit` target with
//! who, what, the outcome and from where (the time is the log line's).

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};

/// The client's address, when the listener provides it.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientAddr(client_addr(parts)))
    }
}

/// The client's address from the connection info.
pub fn client_addr(parts: &Parts) -> Option<IpAddr> {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
}

/// Writes one audit event.
pub fn event(event: &str, user: &str, outcome: &str, remote: Option<IpAddr>, detail: &str) {
    let remote = remote.map_or_else(|| "unknown".into(), |a| a.to_string());
    tracing::info!(target: "entman::audit", event, user, outcome, remote, detail, "audit");
}
