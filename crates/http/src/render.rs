//! Content negotiation and rendering (conventions.md §4).
//!
//! Handlers return [`Reply`] or [`crate::ApiError`]; both leave what to write in a
//! response extension ([`Pending`]). The [`render`] middleware, which sees the
//! request's `Accept` header, turns it into an XML or JSON body with the right
//! `Content-Type`. The same layer gives bare framework responses (a 405 from the
//! router, a 413 for an oversized body, a rejected path) an EM `Error` body, so
//! every error a client sees has the same shape.

use crate::cache::Cacheable;
use crate::AppState;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use entman_model::Timestamp;
use entman_repr::resources::error::error;
use entman_repr::{render as render_node, Format, Node};

/// What the render layer must write into a response body.
#[derive(Debug, Clone)]
pub enum Pending {
    /// A representation.
    Node(Box<Node>),
    /// An `Error` with this message (the status is the response's).
    Error(String),
}

/// A successful answer: a status, a representation (or none) and extra headers.
#[derive(Debug)]
pub struct Reply {
    status: StatusCode,
    node: Option<Node>,
    headers: HeaderMap,
    cacheable: Option<Cacheable>,
}

impl Reply {
    /// `200 OK` with a representation.
    pub fn ok(node: Node) -> Reply {
        Reply::with_status(StatusCode::OK, node)
    }

    /// `200 OK` with a representation of stored state only, which the read cache
    /// may keep until the state changes (see [`Reply::cacheable`]).
    pub fn state(node: Node) -> Reply {
        Reply::ok(node).cacheable(None)
    }

    /// A representation with another status (201, 202).
    pub fn with_status(status: StatusCode, node: Node) -> Reply {
        Reply {
            status,
            node: Some(node),
            headers: HeaderMap::new(),
            cacheable: None,
        }
    }

    /// A response without a body (and without `Content-Type`): 204, or the
    /// body-less 202 of `POST /backupServers?action=create`.
    pub fn empty(status: StatusCode) -> Reply {
        Reply {
            status,
            node: None,
            headers: HeaderMap::new(),
            cacheable: None,
        }
    }

    /// Marks the answer as one the read cache may keep (see [`crate::cache`]):
    /// it depends only on the stored state, the caller's class and the request,
    /// and on the clock only through `until`.
    pub fn cacheable(mut self, until: Option<Timestamp>) -> Reply {
        self.cacheable = Some(Cacheable { until });
        self
    }

    /// Adds a header.
    pub fn header(mut self, name: header::HeaderName, value: HeaderValue) -> Reply {
        self.headers.append(name, value);
        self
    }
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        let mut response = (self.status, self.headers).into_response();
        if let Some(mark) = self.cacheable {
            response.extensions_mut().insert(mark);
        }
        if let Some(node) = self.node {
            response
                .extensions_mut()
                .insert(Pending::Node(Box::new(node)));
        }
        response
    }
}

/// The response format asked for by `Accept`: JSON whenever `application/json` or
/// `text/json` appears anywhere in it, XML otherwise (conventions.md §4.1).
pub fn negotiate(headers: &HeaderMap, state: &AppState) -> Format {
    let wants_json = headers.get_all(header::ACCEPT).iter().any(|v| {
        v.to_str().is_ok_and(|s| {
            s.split(',').any(|part| {
                let media = part.split(';').next().unwrap_or("").trim();
                media.eq_ignore_ascii_case("application/json")
                    || media.eq_ignore_ascii_case("text/json")
            })
        })
    });
    if wants_json {
        Format::Json(state.config.json_style)
    } else {
        Format::Xml
    }
}

/// Middleware: renders pending bodies and gives bare error responses an EM body.
pub async fn render(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let format = request
        .extensions()
        .get::<Format>()
        .copied()
        .unwrap_or_else(|| negotiate(request.headers(), &state));
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let response = next.run(request).await;
    finish(response, format, &method, &path).await
}

/// Writes the pending representation or error of a response in `format`.
pub async fn finish(
    response: Response,
    format: Format,
    method: &axum::http::Method,
    path: &str,
) -> Response {
    let (mut parts, body) = response.into_parts();
    let node = match parts.extensions.remove::<Pending>() {
        Some(Pending::Node(node)) => *node,
        Some(Pending::Error(message)) => error(parts.status.as_u16(), &message, None),
        None if parts.status.is_client_error() || parts.status.is_server_error() => {
            let message = bare_message(parts.status, body, method, path).await;
            error(parts.status.as_u16(), &message, None)
        }
        None => return Response::from_parts(parts, body),
    };
    let text = render_node(&node, format);
    let content_type = match format {
        Format::Xml => "application/xml; charset=utf-8",
        Format::Json(_) => "application/json; charset=utf-8",
    };
    parts
        .headers
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    parts
        .headers
        .insert(header::CONTENT_LENGTH, HeaderValue::from(text.len()));
    Response::from_parts(parts, Body::from(text))
}

/// A message for an error response produced by the framework rather than a handler.
async fn bare_message(
    status: StatusCode,
    body: Body,
    method: &axum::http::Method,
    path: &str,
) -> String {
    let text = axum::body::to_bytes(body, 4096)
        .await
        .ok()
        .map(|b| String::from_utf8_lossy(&b).trim().to_string())
        .unwrap_or_default();
    match status {
        StatusCode::PAYLOAD_TOO_LARGE => "The request body is too large.".to_string(),
        StatusCode::METHOD_NOT_ALLOWED => {
            format!("Method [{method}] is not allowed for resource [{path}].")
        }
        StatusCode::NOT_FOUND => "The resource was not found.".to_string(),
        _ if !text.is_empty() => text,
        _ => status.canonical_reason().unwrap_or("Error").to_string(),
    }
}
