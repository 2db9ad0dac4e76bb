//! `GET /api/`, logon (`POST /api/sessionMngr/`), `/api/logonSessions`, `GET /api/cloud`
//! and `GET /api/querySvc` (auth.md).

use super::{kind, parse_id};
use crate::audit::{self, ClientAddr};
use crate::auth::{
    logon_key, new_session_id, token_hash, token_of, viewer, Caller, Right, TOKEN_NAME,
};
use crate::body::Body;
use crate::error::OrNotFound;
use crate::limiter::Verdict;
use crate::params::{api_version, Params};
use crate::{base_url, password, ApiError, AppState, Reply};
use axum::extract::{Path, State};
use axum::http::header::{AUTHORIZATION, LOCATION, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::routing::{get, post};
use axum::Router;
use base64::Engine;
use entman_model::auth::{LogonSession, Principal, Role};
use entman_model::ids::LogonSessionId;
use entman_repr::resources::entry;
use entman_repr::spec::LoginSpec;
use entman_repr::{Ctx, Viewer};
use std::time::Instant;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/api", get(enterprise_manager))
        .route("/api/sessionmngr", post(logon))
        .route("/api/logonsessions", get(list_logon_sessions))
        .route(
            "/api/logonsessions/{id}",
            get(get_logon_session).delete(delete_logon_session),
        )
        .route("/api/cloud", get(cloud))
        .route("/api/querysvc", get(query_service))
}

/// Request parts for handlers that need the base URL without authentication.
struct Base(String);

impl axum::extract::FromRequestParts<AppState> for Base {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        Ok(Base(base_url(parts, state)))
    }
}

async fn enterprise_manager(State(state): State<AppState>, Base(base): Base) -> Reply {
    let ctx = Ctx {
        base,
        viewer: Viewer::Administrator,
    };
    let versions: Vec<&str> = state.config.versions.iter().map(String::as_str).collect();
    Reply::ok(entry::enterprise_manager(&ctx, &versions))
}

/// Credentials of a logon attempt.
enum Attempt {
    /// Basic authentication (or none) for an Enterprise Manager account.
    Account(Option<(String, String)>),
    /// A `LoginSpec` body for a tenant.
    Tenant(LoginSpec),
}

impl Attempt {
    /// The name failed attempts are counted under.
    fn key(&self) -> String {
        match self {
            Attempt::Account(Some((user, _))) => user.clone(),
            Attempt::Account(None) => String::new(),
            Attempt::Tenant(LoginSpec::Tenant { username, .. }) => username.clone(),
            Attempt::Tenant(LoginSpec::VCloud {
                organization,
                login,
                ..
            }) => format!("{organization}\\{login}"),
        }
    }
}

/// `POST /api/sessionMngr/?v=<version>`: Basic authentication for accounts, a
/// `LoginSpec` body for tenants. A token already on the request is ignored.
/// Failed attempts are throttled per account name and per client address.
async fn logon(
    State(state): State<AppState>,
    Base(base): Base,
    ClientAddr(remote): ClientAddr,
    params: Params,
    headers: HeaderMap,
    body: Body,
) -> Result<Reply, ApiError> {
    let version = api_version(params.get("v"))?;
    let body = body.read()?;
    let attempt = match body {
        Some(input) => Attempt::Tenant(LoginSpec::read(&input)?),
        None => Attempt::Account(basic_credentials(&headers)),
    };
    let key = attempt.key();
    if let Verdict::Refuse(wait) = state.limiter.check(&key, remote, Instant::now()) {
        audit::event("logon", &key, "refused (throttled)", remote, "");
        state.control.metrics.logon("refused");
        return Err(ApiError::TooManyAttempts(wait.as_secs() + 1));
    }
    let outcome = match &attempt {
        Attempt::Tenant(spec) => tenant_logon(&state, spec).await,
        Attempt::Account(Some((user, pass))) => account_logon(&state, user, pass).await,
        Attempt::Account(None) => Err(ApiError::BadCredentials),
    };
    let (user_name, principal) = match outcome {
        Ok(found) => {
            state.limiter.succeeded(&key, remote);
            found
        }
        Err(ApiError::BadCredentials) => {
            let delay = state.limiter.failed(&key, remote, Instant::now());
            audit::event("logon", &key, "failed", remote, "");
            state.control.metrics.logon("failed");
            tokio::time::sleep(delay).await;
            return Err(ApiError::BadCredentials);
        }
        Err(other) => return Err(other),
    };
    let now = state.now();
    let session_id = new_session_id();
    let token = token_of(session_id);
    // Stored under its one-way key: the SessionId is the token's content.
    let stored = LogonSession {
        id: logon_key(session_id),
        user_name,
        principal,
        api_version: version,
        created: now,
        last_seen: now,
    };
    state
        .store
        .insert_logon(&stored, &token_hash(&token))
        .await?;
    state.control.metrics.logon("success");
    audit::event(
        "logon",
        &stored.user_name,
        "success",
        remote,
        &format!("session key {}", stored.id),
    );
    let session = LogonSession {
        id: session_id,
        ..stored
    };
    let ctx = Ctx {
        base,
        viewer: viewer(&session.principal),
    };
    let node = entry::logon_session(&ctx, &session, "LogonSession");
    let href = ctx.url(&format!("/logonSessions/{}", session.id));
    let value =
        |s: String| HeaderValue::from_str(&s).map_err(|e| ApiError::Internal(e.to_string()));
    Ok(Reply::with_status(StatusCode::CREATED, node)
        .header(
            HeaderName::from_static("x-restsvcsessionid"),
            value(token.clone())?,
        )
        .header(
            SET_COOKIE,
            value(format!("{TOKEN_NAME}={token}; Path=/api"))?,
        )
        .header(LOCATION, value(href)?))
}

/// The user name of `Authorization: Basic` (never its password), for the journal.
pub(crate) fn basic_user(headers: &HeaderMap) -> Option<String> {
    basic_credentials(headers).map(|(user, _)| user)
}

/// [`basic_user`] of one `Authorization` value.
pub(crate) fn basic_user_of(authorization: &HeaderValue) -> Option<String> {
    credentials_of(authorization).map(|(user, _)| user)
}

/// Decodes `Authorization: Basic`: UTF-8, else ISO-8859-1 (what `requests` sends).
pub(crate) fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    credentials_of(headers.get(AUTHORIZATION)?)
}

/// [`basic_credentials`] of one `Authorization` value.
fn credentials_of(authorization: &HeaderValue) -> Option<(String, String)> {
    let value = authorization.to_str().ok()?.trim();
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(bytes.clone())
        .unwrap_or_else(|_| bytes.iter().map(|&b| char::from(b)).collect());
    let (user, pass) = text.split_once(':')?;
    // NUL never belongs to a credential (and cannot reach a PostgreSQL lookup).
    if text.contains('\0') {
        return None;
    }
    Some((user.to_string(), pass.to_string()))
}

pub(crate) async fn account_logon(
    state: &AppState,
    user: &str,
    pass: &str,
) -> Result<(String, Principal), ApiError> {
    let mut account = state.store.account_by_name(user).await?;
    // `DOMAIN\user` and `user@domain` also match an account stored as `user`.
    if account.is_none() {
        let bare = user
            .rsplit('\\')
            .next()
            .unwrap_or(user)
            .split('@')
            .next()
            .unwrap_or(user);
        if bare != user {
            account = state.store.account_by_name(bare).await?;
        }
    }
    let Some(account) = account else {
        password::verify_dummy_blocking(pass.to_string()).await;
        return Err(ApiError::BadCredentials);
    };
    let matches = password::verify_blocking(pass.to_string(), account.password_hash.clone()).await;
    if !matches || account.roles.is_empty() {
        return Err(ApiError::BadCredentials);
    }
    Ok((
        account.name.clone(),
        Principal::Account {
            id: account.id,
            roles: account.roles,
        },
    ))
}

async fn tenant_logon(state: &AppState, spec: &LoginSpec) -> Result<(String, Principal), ApiError> {
    let (key, pass) = match spec {
        LoginSpec::Tenant { username, password } => (username.clone(), password),
        LoginSpec::VCloud {
            organization,
            login,
            password,
        } => (format!("{organization}\\{login}"), password),
    };
    let Some(cred) = state.store.tenant_credential(&key).await? else {
        password::verify_dummy_blocking(pass.clone()).await;
        return Err(ApiError::BadCredentials);
    };
    if !password::verify_blocking(pass.clone(), cred.password_hash.clone()).await {
        return Err(ApiError::BadCredentials);
    }
    let tenant = state.store.get_tenant(cred.tenant_id).await?;
    let lease_over = tenant.lease_expiration.is_some_and(|t| t < state.now());
    if !tenant.enabled || lease_over {
        return Err(ApiError::BadCredentials);
    }
    Ok((tenant.name.clone(), Principal::Tenant { id: tenant.id }))
}

async fn list_logon_sessions(caller: Caller) -> Reply {
    Reply::ok(entry::logon_sessions(&caller.ctx, &caller.shown_session()))
}

/// A logon session by its `SessionId`, as clients see it (with that `SessionId`;
/// the store knows it only by its key). Another account's session: administrators
/// may see and end it, everyone else gets 404 on GET and 403 on DELETE (auth.md §4).
async fn find_logon(
    state: &AppState,
    caller: &Caller,
    raw: &str,
) -> Result<LogonSession, ApiError> {
    let id: LogonSessionId = parse_id(raw, kind::LOGON)?;
    if id == caller.session_id {
        return Ok(caller.shown_session());
    }
    let stored = state
        .store
        .get_logon(logon_key(id))
        .await
        .or_404(kind::LOGON, raw)?;
    Ok(LogonSession { id, ..stored })
}

async fn get_logon_session(
    State(state): State<AppState>,
    caller: Caller,
    Path(raw): Path<String>,
) -> Result<Reply, ApiError> {
    let session = find_logon(&state, &caller, &raw).await?;
    if session.id != caller.session_id
        && !caller.session.principal.has_role(Role::PortalAdministrator)
    {
        return Err(ApiError::not_found(kind::LOGON, raw));
    }
    let ctx = Ctx {
        base: caller.ctx.base.clone(),
        viewer: viewer(&session.principal),
    };
    Ok(Reply::ok(entry::logon_session(
        &ctx,
        &session,
        "LogonSession",
    )))
}

async fn delete_logon_session(
    State(state): State<AppState>,
    caller: Caller,
    Path(raw): Path<String>,
) -> Result<Reply, ApiError> {
    let session = find_logon(&state, &caller, &raw).await?;
    if session.id != caller.session_id
        && !caller.session.principal.has_role(Role::PortalAdministrator)
    {
        return Err(ApiError::Forbidden);
    }
    let key = logon_key(session.id);
    state
        .store
        .delete_logon(key)
        .await
        .or_404(kind::LOGON, &raw)?;
    state.sessions.forget(key);
    caller.audit("logoff", "success", &format!("session key {key}"));
    Ok(Reply::empty(StatusCode::NO_CONTENT))
}

async fn cloud(caller: Caller) -> Result<Reply, ApiError> {
    caller.require(Right::CloudService)?;
    Ok(Reply::ok(entry::cloud_connect_service(
        &caller.ctx,
        &caller.shown_session(),
    )))
}

async fn query_service(caller: Caller) -> Result<Reply, ApiError> {
    caller.require(Right::QueryService)?;
    Ok(Reply::ok(entry::query_service(
        &caller.ctx,
        &caller.shown_session(),
    )))
}
