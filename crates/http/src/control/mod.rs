//! entman's own control API under `/_entman/` (controls.md, not EM): health,
//! metrics, fault rules and the request journal. JSON in and out; errors are
//! `{"error": "..."}` with a 4xx status, and nothing changes on an error.
//!
//! The router sits beside the EM API, outside its path normalisation, read
//! cache and rendering, so that nothing here is ever answered as EM would.
//! [`observe`] wraps both: it times every request, counts it for the metrics,
//! and writes it to the journal (control calls excepted).

pub mod faults;
mod jobs;
pub mod journal;
pub mod metrics;

use crate::audit;
use crate::auth::authenticate;
use crate::{ApiError, AppState};
use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequestParts, MatchedPath, Path, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, delete, get, post, put};
use axum::{Json, Router};
use entman_engine::{Controls, Progression, StepError, StepSpec};
use entman_model::auth::{Principal, Role};
use entman_model::clock::ClockError;
use entman_model::ids::{KeyId, PlanId, SessionId};
use entman_model::plan::{Plan, VmBehaviour, VmOutcome};
use entman_model::{ClockMode, Timestamp};
use entman_repr::resources::session::SessionView;
use entman_repr::resources::{Placement, Represent};
use entman_repr::{Ctx, Format, Viewer};
use entman_store::{Cell, Scope, StoreError, TableRows};
use serde_json::{json, Value};
use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock, RwLock};
use std::time::{Duration, Instant};

/// Settings of the control API.
#[derive(Debug, Clone)]
pub struct ControlConfig {
    /// Whether `/_entman/` answers at all (`--no-control-api` turns it off).
    pub enabled: bool,
    /// Whether `/_entman/metrics` answers (`--no-metrics` turns it off).
    pub metrics: bool,
    /// Entries the request journal keeps (`--journal-size`; 0 keeps none).
    pub journal_size: usize,
    /// Fault rules in force from the start (`--faults FILE`).
    pub faults: Vec<faults::Rule>,
    /// The accounts a reset with `keepAccounts: false` keeps: those made at
    /// first start (the administrator).
    pub first_accounts: Vec<String>,
}

impl Default for ControlConfig {
    fn default() -> Self {
        ControlConfig {
            enabled: true,
            metrics: true,
            journal_size: 1000,
            faults: Vec::new(),
            first_accounts: Vec::new(),
        }
    }
}

/// The control API's state, shared by every listener of a server.
#[derive(Debug)]
pub struct Control {
    /// How it was configured at start.
    pub config: ControlConfig,
    /// The active fault rules.
    pub faults: faults::Faults,
    /// The last answered requests.
    pub journal: journal::Journal,
    /// The Prometheus registry and its series.
    pub metrics: metrics::Metrics,
}

impl Control {
    /// The control state for `config`, with its `--faults` rules active.
    pub fn new(config: ControlConfig) -> Control {
        let faults = faults::Faults::default();
        for rule in &config.faults {
            faults.add(rule.clone());
        }
        Control {
            journal: journal::Journal::new(config.journal_size),
            faults,
            metrics: metrics::Metrics::new(),
            config,
        }
    }
}

/// The route template a request matched, for metric labels.
#[derive(Debug, Clone)]
pub struct RouteTemplate(pub Arc<str>);

/// The route templates seen, so that marking a response costs no allocation.
fn interned(template: &str) -> Arc<str> {
    static SEEN: OnceLock<RwLock<HashSet<Arc<str>>>> = OnceLock::new();
    let seen = SEEN.get_or_init(Default::default);
    if let Some(t) = seen
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .get(template)
    {
        return t.clone();
    }
    let t: Arc<str> = Arc::from(template);
    seen.write()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .insert(t.clone());
    t
}

/// The EM account or tenant a request was made by, for the journal.
#[derive(Debug, Clone)]
pub struct AccountName(pub String);

/// Marks a response whose connection must be closed without an answer (a
/// `drop` fault); the listener sees it and ends the connection.
#[derive(Debug, Clone, Copy)]
pub struct DropConnection;

/// Route layer: copies the matched route template into the response.
pub async fn mark_route(request: Request, next: Next) -> Response {
    let template = request
        .extensions()
        .get::<MatchedPath>()
        .map(|m| interned(m.as_str()));
    let mut response = next.run(request).await;
    if let Some(t) = template {
        response.extensions_mut().insert(RouteTemplate(t));
    }
    response
}

/// Outermost middleware: the request log line, the metrics and the journal.
pub async fn observe(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let arrived = Timestamp::now();
    let method = request.method().clone();
    let uri = request.uri().clone();
    let remote = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let control = &state.control;
    let journaled = control.journal.enabled() && !is_control_path(uri.path());
    // Decoded only if the request turns out to have no account (a logon).
    let authorization = if journaled {
        request.headers().get(header::AUTHORIZATION).cloned()
    } else {
        None
    };
    let response = next.run(request).await;
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    if control.config.metrics {
        let route = response
            .extensions()
            .get::<RouteTemplate>()
            .map(|r| r.0.clone());
        control.metrics.request(&method, route, status, elapsed);
    }
    if journaled {
        let account = response
            .extensions()
            .get::<AccountName>()
            .map(|a| a.0.clone())
            .or_else(|| crate::routes::basic_user_of(authorization.as_ref()?));
        // Kept raw; formatted when the journal is read.
        control.journal.record(journal::Raw {
            time: arrived,
            method: method.clone(),
            uri: uri.clone(),
            status,
            latency: elapsed,
            account,
            remote,
        });
    }
    if tracing::enabled!(target: "entman::request", tracing::Level::INFO) {
        let path = crate::redact_path(uri.path());
        // One preformatted message: a quarter of the cost of the same line as fields.
        let micros = elapsed.as_micros();
        tracing::info!(
            target: "entman::request",
            "{method} {path} {status} {}.{:03} ms",
            micros / 1000,
            micros % 1000
        );
    }
    response
}

fn is_control_path(path: &str) -> bool {
    path.len() >= 8 && path[..8].eq_ignore_ascii_case("/_entman")
}

/// Applies the fault rules to an EM request: `Some` answer for an error status
/// or a drop, `None` to go on (after the delay of a delay rule).
pub async fn apply_faults(
    state: &AppState,
    method: &Method,
    path: &str,
    account: Option<&str>,
) -> Option<Response> {
    let action = state
        .control
        .faults
        .decide(method.as_str(), path, account)?;
    let mut response = match action {
        faults::Action::Delay { .. } => {
            if let Some(d) = action.delay() {
                tokio::time::sleep(d).await;
            }
            return None;
        }
        faults::Action::Drop => {
            let mut r = StatusCode::SERVICE_UNAVAILABLE.into_response();
            r.extensions_mut().insert(DropConnection);
            r
        }
        faults::Action::Status {
            status,
            retry_after,
        } => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            let mut r = status.into_response();
            let message = crate::error::injected_message(status);
            r.extensions_mut()
                .insert(crate::render::Pending::Error(message));
            if let Some(seconds) = retry_after {
                r.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
            }
            r
        }
    };
    if let Some(a) = account {
        response.extensions_mut().insert(AccountName(a.to_string()));
    }
    Some(response)
}

/// The control routes (empty when the control API is off).
pub fn router(state: AppState) -> Router {
    if !state.control.config.enabled {
        return Router::new();
    }
    Router::new()
        .route("/_entman/health", get(health))
        .route("/_entman/metrics", get(metrics_text))
        .route(
            "/_entman/faults",
            get(list_faults).post(add_fault).delete(clear_faults),
        )
        .route("/_entman/faults/{id}", delete(remove_fault))
        .route(
            "/_entman/requests",
            get(list_requests).delete(clear_requests),
        )
        .route("/_entman/clock", get(get_clock).put(put_clock))
        .route("/_entman/clock/advance", post(advance_clock))
        .route("/_entman/plans/{id}/progression", put(put_progression))
        .route(
            "/_entman/plans/{id}/vms/{vm}/outcome",
            put(put_outcome).delete(delete_outcome),
        )
        .route("/_entman/sessions/{id}/step", post(step_session))
        .route("/_entman/jobs/{id}/progression", put(jobs::put_progression))
        .route(
            "/_entman/jobs/{id}/vms/{vm}/outcome",
            put(jobs::put_outcome).delete(jobs::delete_outcome),
        )
        .route("/_entman/jobs/{id}/run", post(jobs::run_now))
        .route("/_entman/jobSessions/{id}/step", post(jobs::step))
        .route("/_entman/reset", post(reset))
        .route("/_entman/world", put(put_world))
        .route(
            "/_entman/snapshot",
            get(get_snapshot)
                .put(put_snapshot)
                .layer(axum::extract::DefaultBodyLimit::max(SNAPSHOT_MAX_BYTES)),
        )
        .route("/_entman", any(no_such_control))
        .route("/_entman/{*rest}", any(no_such_control))
        .method_not_allowed_fallback(wrong_method)
        .route_layer(axum::middleware::from_fn(mark_route))
        .with_state(state)
}

/// An error of the control API: `{"error": "..."}` with a 4xx (or 503) status.
#[derive(Debug)]
pub struct ControlError {
    status: StatusCode,
    message: String,
}

impl ControlError {
    fn new(status: StatusCode, message: impl Into<String>) -> ControlError {
        ControlError {
            status,
            message: message.into(),
        }
    }

    fn bad(message: impl Into<String>) -> ControlError {
        ControlError::new(StatusCode::BAD_REQUEST, message)
    }
}

impl IntoResponse for ControlError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(json!({ "error": self.message }))).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"entman control\""),
            );
        }
        response
    }
}

async fn no_such_control(method: Method, uri: axum::http::Uri) -> ControlError {
    ControlError::new(
        StatusCode::NOT_FOUND,
        format!("{method} {} is not a control endpoint", uri.path()),
    )
}

async fn wrong_method(method: Method, uri: axum::http::Uri) -> ControlError {
    ControlError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("{method} is not allowed on {}", uri.path()),
    )
}

/// A caller of the control API: an EM account with the `PortalAdministrator`
/// role, by Basic authentication or by a logon session's token.
#[derive(Debug, Clone)]
pub struct Admin {
    /// The administrator's account name (for the audit event).
    pub name: String,
}

impl FromRequestParts<AppState> for Admin {
    type Rejection = ControlError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Admin, ControlError> {
        let remote = audit::client_addr(parts);
        let what = format!("{} {}", parts.method, parts.uri.path());
        let outcome = admin_of(parts, state).await;
        match &outcome {
            Ok(admin) => audit::event("control", &admin.name, "success", remote, &what),
            Err((who, e)) => audit::event(
                "control",
                who,
                "refused",
                remote,
                &format!("{what}: {}", e.message),
            ),
        }
        outcome.map_err(|(_, e)| e)
    }
}

/// The administrator behind a request, or who was refused and why.
async fn admin_of(parts: &Parts, state: &AppState) -> Result<Admin, (String, ControlError)> {
    let unauthorized = |who: &str| {
        (
            who.to_string(),
            ControlError::new(
                StatusCode::UNAUTHORIZED,
                "an administrator's Basic credentials or logon session token is required",
            ),
        )
    };
    let forbidden = |who: &str| {
        (
            who.to_string(),
            ControlError::new(
                StatusCode::FORBIDDEN,
                "the control API is for accounts with the PortalAdministrator role",
            ),
        )
    };
    let principal_ok = |p: &Principal| matches!(p, Principal::Account { roles, .. } if roles.contains(&Role::PortalAdministrator));
    if let Some((user, pass)) = crate::routes::basic_credentials(&parts.headers) {
        let remote = audit::client_addr(parts);
        if let crate::limiter::Verdict::Refuse(wait) =
            state.limiter.check(&user, remote, Instant::now())
        {
            return Err((
                user,
                ControlError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    format!(
                        "too many failed logons; try again in {} seconds",
                        wait.as_secs() + 1
                    ),
                ),
            ));
        }
        return match crate::routes::account_logon(state, &user, &pass).await {
            Ok((name, principal)) => {
                state.limiter.succeeded(&user, remote);
                if principal_ok(&principal) {
                    Ok(Admin { name })
                } else {
                    Err(forbidden(&name))
                }
            }
            Err(ApiError::BadCredentials) => {
                let delay = state.limiter.failed(&user, remote, Instant::now());
                tokio::time::sleep(delay).await;
                Err(unauthorized(&user))
            }
            Err(e) => Err((user, ControlError::new(e.status(), e.to_string()))),
        };
    }
    match authenticate(parts, state).await {
        Ok(caller) if principal_ok(&caller.session.principal) => Ok(Admin {
            name: caller.session.user_name.clone(),
        }),
        Ok(caller) => Err(forbidden(&caller.session.user_name)),
        Err(_) => Err(unauthorized("")),
    }
}

/// How long the store may take to answer a health check.
const HEALTH_TIMEOUT: Duration = Duration::from_secs(2);
/// A step running longer than this means the engine is stuck.
const STEP_STUCK: Duration = Duration::from_secs(60);
/// The engine loop steps at least once a minute; twice that without a step
/// means it has stopped.
const LOOP_SILENT: Duration = Duration::from_secs(120);

async fn health(State(state): State<AppState>) -> Response {
    let store = match tokio::time::timeout(HEALTH_TIMEOUT, state.store.meta("schema_version")).await
    {
        Ok(Ok(_)) => "ok".to_string(),
        Ok(Err(e)) => format!("unreachable: {e}"),
        Err(_) => format!(
            "unreachable: no answer within {} s",
            HEALTH_TIMEOUT.as_secs()
        ),
    };
    let activity = state.engine.activity();
    let now = Timestamp::now().micros();
    let age = |t: Timestamp| Duration::from_micros(now.saturating_sub(t.micros()).max(0) as u64);
    let engine = match (activity.stepping_since, activity.last_step) {
        (Some(since), _) if age(since) > STEP_STUCK => {
            format!("stalled: one step has run for {} s", age(since).as_secs())
        }
        (None, last) if age(last.unwrap_or(state.started)) > LOOP_SILENT => {
            format!(
                "stalled: no step for {} s",
                age(last.unwrap_or(state.started)).as_secs()
            )
        }
        _ => "ok".to_string(),
    };
    let healthy = store == "ok" && engine == "ok";
    let body = json!({
        "status": if healthy { "ok" } else { "unavailable" },
        "store": store,
        "engine": engine,
        "version": env!("CARGO_PKG_VERSION"),
    });
    let status = if healthy {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body)).into_response()
}

async fn metrics_text(State(state): State<AppState>) -> Response {
    if !state.control.config.metrics {
        return ControlError::new(
            StatusCode::NOT_FOUND,
            "metrics are turned off (--no-metrics)",
        )
        .into_response();
    }
    let text = state.control.metrics.render(&state).await;
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

/// A JSON request body.
fn json_body(body: &Bytes) -> Result<Value, ControlError> {
    if body.is_empty() {
        return Err(ControlError::bad("a JSON body is required"));
    }
    serde_json::from_slice(body)
        .map_err(|e| ControlError::bad(format!("the body is not JSON: {e}")))
}

async fn list_faults(State(state): State<AppState>, _: Admin) -> Response {
    Json(state.control.faults.list()).into_response()
}

async fn add_fault(
    State(state): State<AppState>,
    _: Admin,
    body: Bytes,
) -> Result<Response, ControlError> {
    let rule = faults::Rule::from_json(&json_body(&body)?).map_err(|e| ControlError::bad(e.0))?;
    Ok((StatusCode::CREATED, Json(state.control.faults.add(rule))).into_response())
}

async fn clear_faults(State(state): State<AppState>, _: Admin) -> StatusCode {
    state.control.faults.clear();
    StatusCode::NO_CONTENT
}

async fn remove_fault(
    State(state): State<AppState>,
    _: Admin,
    Path(id): Path<String>,
) -> Result<StatusCode, ControlError> {
    let missing = || {
        ControlError::new(
            StatusCode::NOT_FOUND,
            format!(
                "no fault rule has the id [{}]",
                id.chars().take(40).collect::<String>()
            ),
        )
    };
    let n: u64 = id.parse().map_err(|_| missing())?;
    if state.control.faults.remove(n) {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(missing())
    }
}

#[derive(Debug, serde::Deserialize)]
struct Limit {
    limit: Option<String>,
}

async fn list_requests(
    State(state): State<AppState>,
    _: Admin,
    Query(q): Query<Limit>,
) -> Result<Response, ControlError> {
    let limit = match q.limit.as_deref() {
        None | Some("") => usize::MAX,
        Some(text) => text.parse::<usize>().map_err(|_| {
            ControlError::bad(format!(
                "[limit] must be a whole number, not [{}]",
                text.chars().take(40).collect::<String>()
            ))
        })?,
    };
    Ok(Json(state.control.journal.newest(limit)).into_response())
}

async fn clear_requests(State(state): State<AppState>, _: Admin) -> StatusCode {
    state.control.journal.clear();
    StatusCode::NO_CONTENT
}

/// Only these keys may be in a body object.
fn object<'a>(
    value: &'a Value,
    allowed: &[&str],
) -> Result<&'a serde_json::Map<String, Value>, ControlError> {
    let Value::Object(m) = value else {
        return Err(ControlError::bad("the body must be a JSON object"));
    };
    if let Some(k) = m.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(ControlError::bad(format!(
            "unknown field [{}]; expected one of {}",
            k.chars().take(40).collect::<String>(),
            allowed.join(", ")
        )));
    }
    Ok(m)
}

/// At most `n` characters of a client's text, for error messages.
fn clip(text: &str) -> String {
    text.chars().take(60).collect()
}

fn clock_json(state: &AppState) -> Value {
    let clock = state.engine.clock();
    json!({
        "mode": match clock.mode() {
            ClockMode::System => "system",
            ClockMode::Manual => "manual",
        },
        "now": clock.now().to_string(),
        "timeScale": state.engine.time_scale(),
    })
}

async fn get_clock(State(state): State<AppState>, _: Admin) -> Response {
    Json(clock_json(&state)).into_response()
}

async fn put_clock(
    State(state): State<AppState>,
    _: Admin,
    body: Bytes,
) -> Result<Response, ControlError> {
    let body = json_body(&body)?;
    let m = object(&body, &["mode", "now", "timeScale"])?;
    let scale = match m.get("timeScale") {
        None | Some(Value::Null) => None,
        Some(v) => match v.as_f64() {
            Some(f) if f.is_finite() && f > 0.0 && f <= 1_000_000.0 => Some(f),
            _ => return Err(ControlError::bad("[timeScale] must be a positive number")),
        },
    };
    let clock = state.engine.clock();
    match m.get("mode").and_then(Value::as_str) {
        Some("manual") => match m.get("now") {
            None | Some(Value::Null) => {
                clock.freeze();
            }
            Some(Value::String(text)) => {
                let at = Timestamp::parse(text).ok_or_else(|| {
                    ControlError::bad(format!(
                        "[now] must be a date and time such as 2026-01-01T10:00:00Z, not [{}]",
                        clip(text)
                    ))
                })?;
                clock
                    .set_manual(at)
                    .map_err(|e| ControlError::bad(e.to_string()))?;
            }
            Some(other) => {
                return Err(ControlError::bad(format!(
                    "[now] must be a string, not {other}"
                )))
            }
        },
        Some("system") => {
            if m.get("now").is_some_and(|v| !v.is_null()) {
                return Err(ControlError::bad("[now] is only for the manual clock"));
            }
            clock.set_system();
        }
        _ => return Err(ControlError::bad("[mode] must be \"manual\" or \"system\"")),
    }
    if let Some(scale) = scale {
        state.engine.set_time_scale(scale);
    }
    // The loop looks at the clock again.
    state.engine.wake();
    Ok(Json(clock_json(&state)).into_response())
}

async fn advance_clock(
    State(state): State<AppState>,
    _: Admin,
    body: Bytes,
) -> Result<Response, ControlError> {
    let body = json_body(&body)?;
    let m = object(&body, &["seconds"])?;
    let seconds = m
        .get("seconds")
        .and_then(Value::as_f64)
        .filter(|s| s.is_finite() && *s >= 0.0 && *s <= 100.0 * 365.0 * 86_400.0)
        .ok_or_else(|| ControlError::bad("[seconds] must be a number of seconds, 0 or more"))?;
    let now = state
        .engine
        .clock()
        .advance((seconds * 1_000_000.0).round() as i64)
        .map_err(|e| match e {
            ClockError::NotManual => ControlError::new(
                StatusCode::CONFLICT,
                "the clock is not manual; PUT /_entman/clock {\"mode\": \"manual\"} first",
            ),
            backwards @ ClockError::Backwards { .. } => ControlError::bad(backwards.to_string()),
        })?;
    state.engine.advance_to(now).await.map_err(|e| {
        ControlError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("the engine could not advance: {e}"),
        )
    })?;
    Ok(Json(clock_json(&state)).into_response())
}

fn unavailable(e: StoreError) -> ControlError {
    ControlError::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string())
}

/// A plan by its path id (GUID or UID), or 404.
async fn plan_of(state: &AppState, raw: &str) -> Result<Plan, ControlError> {
    let missing = || {
        ControlError::new(
            StatusCode::NOT_FOUND,
            format!("no cloud failover plan has the id [{}]", clip(raw)),
        )
    };
    let id = PlanId::from_path(raw).ok_or_else(missing)?;
    state
        .store
        .get_plan(Scope::All, id)
        .await
        .map_err(|e| match e {
            StoreError::NotFound => missing(),
            other => unavailable(other),
        })
}

async fn put_progression(
    State(state): State<AppState>,
    _: Admin,
    Path(raw): Path<String>,
    body: Bytes,
) -> Result<StatusCode, ControlError> {
    let mode = progression_of(&body)?;
    let plan = plan_of(&state, &raw).await?;
    state.engine.set_progression(plan.id, mode);
    Ok(StatusCode::NO_CONTENT)
}

async fn put_outcome(
    State(state): State<AppState>,
    _: Admin,
    Path((raw, vm)): Path<(String, String)>,
    body: Bytes,
) -> Result<StatusCode, ControlError> {
    let body = json_body(&body)?;
    let m = object(&body, &["result", "message", "durationSeconds"])?;
    let plan = plan_of(&state, &raw).await?;
    let Some(plan_vm) = plan.vms.iter().find(|v| v.name.eq_ignore_ascii_case(&vm)) else {
        return Err(ControlError::new(
            StatusCode::NOT_FOUND,
            format!(
                "cloud failover plan [{}] has no VM [{}]",
                plan.name,
                clip(&vm)
            ),
        ));
    };
    let outcome = m
        .get("result")
        .and_then(Value::as_str)
        .and_then(|text| text.parse::<VmOutcome>().ok())
        .ok_or_else(|| {
            ControlError::bad("[result] must be \"Success\", \"Warning\" or \"Failed\"")
        })?;
    let message = message_of(m)?;
    let duration_ms = duration_of(m)?.unwrap_or(plan_vm.behaviour.duration_ms);
    state.engine.set_outcome(
        plan.id,
        &plan_vm.name,
        VmBehaviour {
            duration_ms,
            outcome,
            message,
        },
    );
    Ok(StatusCode::NO_CONTENT)
}

/// The `mode` of a progression body (`PUT …/progression`).
fn progression_of(body: &Bytes) -> Result<Progression, ControlError> {
    let body = json_body(body)?;
    let m = object(&body, &["mode"])?;
    m.get("mode")
        .and_then(Value::as_str)
        .and_then(Progression::parse)
        .ok_or_else(|| ControlError::bad("[mode] must be \"timed\", \"immediate\" or \"manual\""))
}

/// The optional `message` of an outcome body.
fn message_of(m: &serde_json::Map<String, Value>) -> Result<Option<String>, ControlError> {
    match m.get("message") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) if text.len() <= 4096 && !text.contains('\0') => {
            Ok(Some(text.clone()))
        }
        Some(_) => Err(ControlError::bad(
            "[message] must be a string of at most 4096 bytes",
        )),
    }
}

/// The optional `durationSeconds` of an outcome body, in milliseconds.
fn duration_of(m: &serde_json::Map<String, Value>) -> Result<Option<u64>, ControlError> {
    match m.get("durationSeconds") {
        None | Some(Value::Null) => Ok(None),
        Some(v) => match v.as_f64() {
            Some(s) if s.is_finite() && (0.0..=86_400.0 * 365.0).contains(&s) => {
                Ok(Some((s * 1000.0).round() as u64))
            }
            _ => Err(ControlError::bad(
                "[durationSeconds] must be a number of seconds, 0 or more",
            )),
        },
    }
}

async fn delete_outcome(
    State(state): State<AppState>,
    _: Admin,
    Path((raw, vm)): Path<(String, String)>,
) -> Result<StatusCode, ControlError> {
    let plan = plan_of(&state, &raw).await?;
    if state.engine.remove_outcome(plan.id, &vm) {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ControlError::new(
            StatusCode::NOT_FOUND,
            format!(
                "no outcome is set for VM [{}] of plan [{}]",
                clip(&vm),
                plan.name
            ),
        ))
    }
}

fn step_spec(body: &Bytes) -> Result<StepSpec, ControlError> {
    if body.is_empty() {
        return Ok(StepSpec::Vms(1));
    }
    let body = json_body(body)?;
    let m = object(&body, &["vms", "toEnd"])?;
    match (m.get("vms"), m.get("toEnd")) {
        (None, Some(Value::Bool(true))) => Ok(StepSpec::ToEnd),
        (None, None | Some(Value::Bool(false))) => Ok(StepSpec::Vms(1)),
        (Some(v), None | Some(Value::Bool(false))) => match v.as_u64() {
            Some(n) if n >= 1 => Ok(StepSpec::Vms(n.min(100_000) as usize)),
            _ => Err(ControlError::bad(
                "[vms] must be a whole number of at least 1",
            )),
        },
        _ => Err(ControlError::bad(
            "give either {\"vms\": <n>} or {\"toEnd\": true}",
        )),
    }
}

async fn step_session(
    State(state): State<AppState>,
    _: Admin,
    Path(raw): Path<String>,
    parts: Parts,
    body: Bytes,
) -> Result<Response, ControlError> {
    let spec = step_spec(&body)?;
    let missing = || {
        ControlError::new(
            StatusCode::NOT_FOUND,
            format!("no cloud failover session has the id [{}]", clip(&raw)),
        )
    };
    let id = SessionId::from_path(&raw).ok_or_else(missing)?;
    let session = match state.engine.step_session(id, spec).await {
        Ok(session) => session,
        Err(StepError::NotRunning) => {
            return match state.store.get_session(Scope::All, id).await {
                Ok(_) => Err(ControlError::new(
                    StatusCode::CONFLICT,
                    "the session is not running",
                )),
                Err(StoreError::NotFound) => Err(missing()),
                Err(e) => Err(unavailable(e)),
            };
        }
        Err(StepError::Store(e)) => return Err(unavailable(e)),
    };
    let server = state
        .store
        .get_server(session.backup_server_id)
        .await
        .map_err(unavailable)?;
    // Links as the EM API writes them for this request (scheme, Host, --public-url).
    let ctx = Ctx {
        base: crate::base_url(&parts, &state),
        viewer: Viewer::Administrator,
    };
    let node = SessionView {
        session: &session,
        server: &server,
    }
    .represent(
        &ctx,
        entman_repr::resources::Representation::Entity,
        Placement::Root,
    );
    let text = entman_repr::render(&node, Format::Json(state.config.json_style));
    Ok((
        [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
        text,
    )
        .into_response())
}

/// Replaces the whole state with `world` (already checked), as loaded at
/// `anchor`: world objects, sessions and tasks go, logon sessions stay; the
/// engine's controls, the fault rules, the journal and the clock start over.
async fn replace_state(
    state: &AppState,
    name: &str,
    text: &str,
    anchor: Timestamp,
    keep_accounts: Option<&[String]>,
) -> Result<(), ControlError> {
    let quiet = state.engine.quiesce().await;
    state
        .store
        .clear_world(keep_accounts)
        .await
        .map_err(unavailable)?;
    entman_world::install(
        state.store.as_ref(),
        name,
        text,
        anchor,
        state.engine.generation(),
        &crate::password::hash,
    )
    .await
    .map_err(|e| ControlError::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string()))?;
    state.engine.reset_controls();
    state.engine.clock().reset();
    drop(quiet);
    state.control.faults.clear();
    state.control.journal.clear();
    state.engine.wake();
    Ok(())
}

async fn reset(
    State(state): State<AppState>,
    _: Admin,
    body: Bytes,
) -> Result<StatusCode, ControlError> {
    let keep_accounts = if body.is_empty() {
        true
    } else {
        let body = json_body(&body)?;
        let m = object(&body, &["keepAccounts"])?;
        match m.get("keepAccounts") {
            None | Some(Value::Null) => true,
            Some(Value::Bool(b)) => *b,
            Some(_) => return Err(ControlError::bad("[keepAccounts] must be true or false")),
        }
    };
    let Some((name, text, anchor)) = entman_world::recorded(state.store.as_ref())
        .await
        .map_err(|e| ControlError::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string()))?
    else {
        return Err(ControlError::new(
            StatusCode::CONFLICT,
            "the world this state was loaded from is not recorded; PUT /_entman/world to give one",
        ));
    };
    let first = state.control.config.first_accounts.clone();
    replace_state(
        &state,
        &name,
        &text,
        anchor,
        (!keep_accounts).then_some(first.as_slice()),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn put_world(
    State(state): State<AppState>,
    _: Admin,
    headers: axum::http::HeaderMap,
    body: Bytes,
) -> Result<StatusCode, ControlError> {
    let media = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if !matches!(
        media.as_str(),
        "application/toml" | "text/toml" | "text/plain" | ""
    ) {
        return Err(ControlError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!(
                "a world file is TOML (application/toml), not [{}]",
                clip(&media)
            ),
        ));
    }
    let text =
        std::str::from_utf8(&body).map_err(|_| ControlError::bad("the world file is not UTF-8"))?;
    if text.trim().is_empty() {
        return Err(ControlError::bad("a world file (TOML) is required"));
    }
    // Everything is checked before anything changes.
    let world = entman_world::parse(text).map_err(|e| ControlError::bad(e.to_string()))?;
    entman_world::check(&world).map_err(|e| ControlError::bad(e.to_string()))?;
    replace_state(&state, "control API", text, Timestamp::now(), None).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Sessions a snapshot may hold (a snapshot is one JSON document in memory).
pub const SNAPSHOT_MAX_SESSIONS: u64 = 100_000;
/// The largest snapshot document `PUT /_entman/snapshot` takes.
const SNAPSHOT_MAX_BYTES: usize = 256 * 1024 * 1024;
/// What a snapshot document says it is.
const SNAPSHOT_FORMAT: &str = "entman-snapshot-1";

fn cell_json(c: &Cell) -> Value {
    match c {
        Cell::Null => Value::Null,
        Cell::Int(i) => Value::from(*i),
        Cell::Text(t) => Value::from(t.clone()),
    }
}

async fn get_snapshot(State(state): State<AppState>, _: Admin) -> Result<Response, ControlError> {
    let tables = state
        .store
        .dump(SNAPSHOT_MAX_SESSIONS)
        .await
        .map_err(|e| match e {
            StoreError::Conflict(m) => ControlError::new(StatusCode::CONFLICT, m),
            other => unavailable(other),
        })?;
    let controls = state.engine.controls();
    let tables: Vec<Value> = tables
        .iter()
        .map(|t| {
            json!({
                "name": t.name,
                "columns": t.columns,
                "rows": t.rows.iter().map(|r| r.iter().map(cell_json).collect::<Vec<_>>()).collect::<Vec<_>>(),
            })
        })
        .collect();
    let progressions: Vec<Value> = controls
        .progressions
        .iter()
        .map(|(plan, mode)| json!({"plan": plan.to_string(), "mode": mode.as_str()}))
        .collect();
    let outcomes: Vec<Value> = controls
        .outcomes
        .iter()
        .map(|(plan, vm, b)| {
            json!({
                "plan": plan.to_string(),
                "vm": vm,
                "result": b.outcome.as_str(),
                "message": b.message,
                "durationSeconds": b.duration_ms as f64 / 1000.0,
            })
        })
        .collect();
    let job_progressions: Vec<Value> = controls
        .job_progressions
        .iter()
        .map(|(job, mode)| json!({"job": job.to_string(), "mode": mode.as_str()}))
        .collect();
    let job_outcomes: Vec<Value> = controls
        .job_outcomes
        .iter()
        .map(|(job, vm, o)| {
            json!({
                "job": job.to_string(),
                "vm": vm,
                "result": o.outcome.as_str(),
                "message": o.reason,
                "durationSeconds": o.duration_ms.map(|ms| ms as f64 / 1000.0),
                "totalSizeBytes": o.size_bytes,
            })
        })
        .collect();
    Ok(Json(json!({
        "format": SNAPSHOT_FORMAT,
        "takenAt": Timestamp::now().to_string(),
        "tables": tables,
        "progressions": progressions,
        "outcomes": outcomes,
        "jobProgressions": job_progressions,
        "jobOutcomes": job_outcomes,
    }))
    .into_response())
}

/// A snapshot document read back: the tables and the engine's controls
/// (public for the fuzz target; the store checks the tables against its own).
pub fn read_snapshot(doc: &Value) -> Result<(Vec<TableRows>, Controls), ControlError> {
    let m = object(
        doc,
        &[
            "format",
            "takenAt",
            "tables",
            "progressions",
            "outcomes",
            "jobProgressions",
            "jobOutcomes",
        ],
    )?;
    if m.get("format").and_then(Value::as_str) != Some(SNAPSHOT_FORMAT) {
        return Err(ControlError::bad(format!(
            "[format] must be \"{SNAPSHOT_FORMAT}\": give a document from GET /_entman/snapshot"
        )));
    }
    let list = |key: &str| -> Result<&Vec<Value>, ControlError> {
        match m.get(key) {
            Some(Value::Array(a)) => Ok(a),
            _ => Err(ControlError::bad(format!("[{key}] must be a list"))),
        }
    };
    let mut tables = Vec::new();
    for t in list("tables")? {
        let t = object(t, &["name", "columns", "rows"])?;
        let name = t
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| ControlError::bad("each table needs a [name]"))?;
        let columns = t
            .get("columns")
            .and_then(Value::as_array)
            .and_then(|c| {
                c.iter()
                    .map(|v| v.as_str().map(str::to_string))
                    .collect::<Option<Vec<_>>>()
            })
            .ok_or_else(|| {
                ControlError::bad(format!("table [{}] needs [columns] as strings", clip(name)))
            })?;
        let rows = t
            .get("rows")
            .and_then(Value::as_array)
            .ok_or_else(|| ControlError::bad(format!("table [{}] needs [rows]", clip(name))))?;
        let rows = rows
            .iter()
            .map(|r| {
                r.as_array()
                    .ok_or(())?
                    .iter()
                    .map(|v| match v {
                        Value::Null => Ok(Cell::Null),
                        Value::String(s) => Ok(Cell::Text(s.clone())),
                        Value::Number(n) => n.as_i64().map(Cell::Int).ok_or(()),
                        _ => Err(()),
                    })
                    .collect::<Result<Vec<_>, ()>>()
            })
            .collect::<Result<Vec<_>, ()>>()
            .map_err(|()| {
                ControlError::bad(format!(
                    "the rows of table [{}] must be lists of strings, whole numbers and nulls",
                    clip(name)
                ))
            })?;
        tables.push(TableRows {
            name: name.to_string(),
            columns,
            rows,
        });
    }
    let plan_id = |v: Option<&Value>| -> Result<PlanId, ControlError> {
        v.and_then(Value::as_str)
            .and_then(PlanId::from_path)
            .ok_or_else(|| ControlError::bad("[plan] must be a plan's GUID"))
    };
    let mut controls = Controls::default();
    for p in list("progressions")? {
        let p = object(p, &["plan", "mode"])?;
        let mode = p
            .get("mode")
            .and_then(Value::as_str)
            .and_then(Progression::parse)
            .ok_or_else(|| ControlError::bad("[mode] must be timed, immediate or manual"))?;
        controls.progressions.push((plan_id(p.get("plan"))?, mode));
    }
    for o in list("outcomes")? {
        let o = object(o, &["plan", "vm", "result", "message", "durationSeconds"])?;
        let vm = o
            .get("vm")
            .and_then(Value::as_str)
            .ok_or_else(|| ControlError::bad("[vm] must be a VM name"))?;
        let outcome = o
            .get("result")
            .and_then(Value::as_str)
            .and_then(|r| r.parse::<VmOutcome>().ok())
            .ok_or_else(|| ControlError::bad("[result] must be Success, Warning or Failed"))?;
        let message = match o.get("message") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => return Err(ControlError::bad("[message] must be a string or null")),
        };
        let seconds = o
            .get("durationSeconds")
            .and_then(Value::as_f64)
            .filter(|s| s.is_finite() && *s >= 0.0 && *s <= 86_400.0 * 365.0)
            .ok_or_else(|| ControlError::bad("[durationSeconds] must be a number of seconds"))?;
        controls.outcomes.push((
            plan_id(o.get("plan"))?,
            vm.to_string(),
            VmBehaviour {
                duration_ms: (seconds * 1000.0).round() as u64,
                outcome,
                message,
            },
        ));
    }
    jobs::read_job_controls(m, &mut controls)?;
    Ok((tables, controls))
}

async fn put_snapshot(
    State(state): State<AppState>,
    _: Admin,
    body: Bytes,
) -> Result<StatusCode, ControlError> {
    let doc = json_body(&body)?;
    let (tables, controls) = read_snapshot(&doc)?;
    let quiet = state.engine.quiesce().await;
    state.store.restore(&tables).await.map_err(|e| match e {
        StoreError::Conflict(m) => ControlError::bad(m),
        other => unavailable(other),
    })?;
    state.engine.set_controls(controls);
    drop(quiet);
    // The logon sessions were replaced with the snapshot's.
    state.sessions.clear();
    state.engine.wake();
    Ok(StatusCode::NO_CONTENT)
}
