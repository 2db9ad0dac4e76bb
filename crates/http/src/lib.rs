//! The HTTP layer of entman: the EM REST API over axum.
//!
//! Request flow: [`app`] lower-cases the path (EM matches URL templates
//! case-insensitively, and every id is case-insensitive too) and drops a trailing
//! slash; the router picks a handler per resource ([`routes`]); the handler
//! authenticates through the [`auth::Caller`] extractor, calls the store, and turns
//! domain objects into representation nodes; the [`render`] layer writes the node
//! (or the `ApiError`) as XML or JSON depending on `Accept`.

pub mod application;
pub mod audit;
pub mod auth;
pub mod body;
pub mod cache;
pub mod control;
pub mod error;
pub mod limiter;
pub mod params;
pub mod password;
pub mod render;
pub mod routes;
pub mod runs;
pub mod server;

pub use error::ApiError;
pub use render::Reply;

use axum::extract::Request;
use axum::http::request::Parts;
use axum::http::{header, Uri};
use axum::middleware::from_fn_with_state;
use axum::Router;
use entman_repr::JsonStyle;
use entman_store::Store;
use std::sync::Arc;
use std::time::Duration;
use tower::Layer;

/// Settings of the HTTP layer.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// JSON generation: EM 12 (PascalCase) or EM 13 (camelCase).
    pub json_style: JsonStyle,
    /// Versions advertised by `GET /api/`.
    pub versions: Vec<String>,
    /// Idle timeout of logon sessions.
    pub idle_timeout: Duration,
    /// Public base URL (`https://host:port`) overriding the `Host` header, for proxies.
    pub public_base: Option<String>,
    /// Largest accepted request body.
    pub max_body_bytes: usize,
    /// Longest a query (`/api/query`) may take before it ends with a 503.
    pub query_budget: Duration,
    /// The control API under `/_entman/`.
    pub control: control::ControlConfig,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            json_style: JsonStyle::Em12,
            versions: vec!["v1_5".into(), "v1_6".into(), "v1_7".into()],
            idle_timeout: Duration::from_secs(15 * 60),
            public_base: None,
            max_body_bytes: 1024 * 1024,
            query_budget: Duration::from_secs(3),
            control: control::ControlConfig::default(),
        }
    }
}

/// Shared state of the handlers: one `Arc`, so the clone every middleware and
/// extractor makes is one reference count.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// What [`AppState`] shares.
pub struct Shared {
    /// The store behind every resource.
    pub store: Arc<dyn Store>,
    /// The failover engine that carries out plan operations.
    pub engine: Arc<entman_engine::Engine>,
    /// The failed-logon throttle.
    pub limiter: Arc<limiter::LogonLimiter>,
    /// HTTP settings.
    pub config: Arc<HttpConfig>,
    /// Logon sessions seen recently.
    pub sessions: Arc<auth::SessionCache>,
    /// Rendered answers kept for unchanged state.
    pub cache: Arc<cache::ResponseCache>,
    /// The in-memory index answering session queries, when there is one.
    pub index: Option<Arc<entman_index::SessionIndex>>,
    /// The control API: fault rules, the request journal, metrics.
    pub control: Arc<control::Control>,
    /// The job runs as last read.
    pub runs: Arc<runs::RunCache>,
    /// When the state was made (the server's start).
    pub started: entman_model::Timestamp,
}

impl AppState {
    /// State over a store and engine, with the default logon throttle.
    pub fn new(
        store: Arc<dyn Store>,
        engine: Arc<entman_engine::Engine>,
        config: HttpConfig,
    ) -> AppState {
        AppState::with_index(store, engine, config, None)
    }

    /// State whose session queries go to an in-memory index over the same store.
    pub fn with_index(
        store: Arc<dyn Store>,
        engine: Arc<entman_engine::Engine>,
        config: HttpConfig,
        index: Option<Arc<entman_index::SessionIndex>>,
    ) -> AppState {
        let control = Arc::new(control::Control::new(config.control.clone()));
        let observer = control.clone();
        engine.on_step(move |d| observer.metrics.step(d));
        AppState(Arc::new(Shared {
            store,
            engine,
            limiter: Arc::new(limiter::LogonLimiter::default()),
            config: Arc::new(config),
            sessions: Arc::default(),
            cache: Arc::default(),
            index,
            control,
            runs: Arc::default(),
            started: entman_model::Timestamp::now(),
        }))
    }
}

impl Shared {
    /// The time by the server's clock (the engine's: system or manual).
    pub fn now(&self) -> entman_model::Timestamp {
        self.engine.clock().now()
    }
}

/// The scheme of the listener a request arrived on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// Plain HTTP (`--http`).
    Http,
    /// HTTPS (`--https`, the default listener).
    Https,
}

impl Scheme {
    fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }
}

/// `scheme://host[:port]/api` for links, from the configured public base or the
/// request's `Host` header.
pub fn base_url(parts: &Parts, state: &AppState) -> String {
    if let Some(base) = &state.config.public_base {
        return format!("{}/api", base.trim_end_matches('/'));
    }
    let scheme = parts
        .extensions
        .get::<Scheme>()
        .copied()
        .unwrap_or(Scheme::Https);
    let host = parts
        .headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| !h.is_empty())
        .or_else(|| {
            parts
                .uri
                .authority()
                .map(axum::http::uri::Authority::as_str)
        })
        .unwrap_or("localhost");
    let scheme = scheme.as_str();
    let mut base = String::with_capacity(scheme.len() + host.len() + 7);
    base.push_str(scheme);
    base.push_str("://");
    base.push_str(host);
    base.push_str("/api");
    base
}

/// The whole service for one listener: request logging, path normalisation,
/// routing and rendering.
pub fn app(state: AppState, scheme: Scheme) -> Router {
    let control = control::router(state.clone());
    let observed = state.clone();
    let routed = routes::router()
        .layer(from_fn_with_state(state.clone(), render::render))
        .layer(from_fn_with_state(state.clone(), auth::front))
        .layer(axum::extract::DefaultBodyLimit::max(
            state.config.max_body_bytes,
        ))
        .with_state(state);
    // URI rewriting has to happen before routing, so it wraps the routed service
    // instead of being one of its layers.
    let normalized = tower::util::MapRequestLayer::new(normalize).layer(routed);
    // The listener's scheme is recorded for both routers (links are built from it).
    control
        .fallback_service(normalized)
        .layer(from_fn_with_state(observed, control::observe))
        .layer(tower::util::MapRequestLayer::new(
            move |mut request: Request| {
                request.extensions_mut().insert(scheme);
                request
            },
        ))
}

/// Lower-cases the path, drops empty segments (`/api//cloud` is `/api/cloud`,
/// conventions.md §2.4), maps the `/api/task/{ID}` alias, drops one trailing slash
/// The query string is left as it was.
fn normalize(mut request: Request) -> Request {
    let uri = request.uri();
    let raw = uri.path();
    let normalized = raw.len() <= 1
        || (!raw.bytes().any(|b| b.is_ascii_uppercase())
            && !raw.contains("//")
            && !raw.ends_with('/')
            && !raw.starts_with("/api/task/"));
    if normalized {
        return request;
    }
    let mut path = collapse_slashes(&raw.to_ascii_lowercase());
    if path.len() > 1 && path.ends_with('/') {
        path.pop();
    }
    if let Some(rest) = path.strip_prefix("/api/task/") {
        path = format!("/api/tasks/{rest}");
    }
    if let Some(q) = uri.query() {
        path.push('?');
        path.push_str(q);
    }
    // Scheme and authority (HTTP/2 carries the host there) are kept as they were.
    let mut parts = uri.clone().into_parts();
    if let Ok(pq) = axum::http::uri::PathAndQuery::from_maybe_shared(axum::body::Bytes::from(path))
    {
        parts.path_and_query = Some(pq);
        if let Ok(new_uri) = Uri::from_parts(parts) {
            *request.uri_mut() = new_uri;
        }
    }
    request
}

/// The path with runs of `/` written as one.
fn collapse_slashes(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for c in path.chars() {
        if c == '/' && out.ends_with('/') {
            continue;
        }
        out.push(c);
    }
    out
}

/// A path for the log: the segment after `logonSessions/` becomes `{ID}`.
pub(crate) fn redact_path(path: &str) -> std::borrow::Cow<'_, str> {
    const SEGMENT: &[u8] = b"/logonsessions/";
    let at = path
        .as_bytes()
        .windows(SEGMENT.len())
        .position(|w| w.eq_ignore_ascii_case(SEGMENT));
    match at {
        Some(at) => {
            let start = at + SEGMENT.len();
            let end = path[start..].find('/').map_or(path.len(), |i| start + i);
            format!("{}{{ID}}{}", &path[..start], &path[end..]).into()
        }
        None => path.into(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn empty_path_segments_are_dropped() {
        assert_eq!(super::collapse_slashes("/api//cloud///x/"), "/api/cloud/x/");
        assert_eq!(super::collapse_slashes("//api"), "/api");
    }

    #[test]
    fn logon_session_ids_stay_out_of_the_log() {
        assert_eq!(
            super::redact_path("/api/logonSessions/44cfbdbe-5a95-4156-8867-91f069b7c2cc"),
            "/api/logonSessions/{ID}"
        );
        assert_eq!(
            super::redact_path("/api/logonSessions"),
            "/api/logonSessions"
        );
        assert_eq!(super::redact_path("/api/cloud/x"), "/api/cloud/x");
    }
}
