//! Logon sessions: tokens, the [`Caller`] extractor, and the role matrix of
//! auth.md §6.
//!
//! The token is the Base64 of the session's `SessionId` text (auth.md §2.2), and the
//! `SessionId` is a random v4 GUID. Neither is stored: the store keeps the SHA-256 of
//! the token and addresses the session by [`logon_key`], a one-way hash of the
//! `SessionId`, so the database holds nothing a token can be made from. A presented
//! token is decoded, hashed, looked up, and the stored hash compared in constant time.
//! A session idle for longer than the configured timeout is deleted and answers 401.
//!
//! [`front`] authenticates every request under `/api` before routing (auth.md §2.3), so
//! that an unauthenticated request answers 401 whatever its path. Sessions seen
//! recently are kept in memory ([`SessionCache`]) and confirmed against the store
//! once a second, so a request neither hashes a password nor queries the store.

use crate::{base_url, ApiError, AppState};
use axum::extract::{FromRequestParts, Request, State};
use axum::http::header::COOKIE;
use axum::http::request::Parts;
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use entman_model::auth::{LogonSession, Principal, Role};
use entman_model::ids::{parse_guid, LogonSessionId};
use entman_model::Timestamp;
use entman_repr::{Ctx, Viewer};
use entman_store::Scope;
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};
use subtle::ConstantTimeEq;
use uuid::Uuid;

/// Name of the token header and cookie.
pub const TOKEN_NAME: &str = "X-RestSvcSessionId";

/// A new `SessionId`: a version 4 GUID from the operating system's generator.
pub fn new_session_id() -> LogonSessionId {
    let mut bytes = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    LogonSessionId(uuid::Builder::from_random_bytes(bytes).into_uuid())
}

/// The token of a `SessionId`: the Base64 (standard alphabet) of its lowercase
/// hyphenated text, 48 characters.
pub fn token_of(session_id: LogonSessionId) -> String {
    base64::engine::general_purpose::STANDARD.encode(session_id.to_string())
}

/// The `SessionId` a token was made from, when it is the Base64 of a GUID's text.
pub fn session_id_of(token: &str) -> Option<LogonSessionId> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(token)
        .ok()?;
    let text = std::str::from_utf8(&bytes).ok()?;
    parse_guid(text).map(LogonSessionId)
}

/// The key a logon session is stored under: the first 16 bytes of the SHA-256 of
/// its `SessionId` text. One-way, so the store never holds a `SessionId` (and so
/// never a token); the same for every node that shares a database.
pub fn logon_key(session_id: LogonSessionId) -> LogonSessionId {
    let digest = Sha256::digest(format!("entman-logon:{session_id}").as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    LogonSessionId(Uuid::from_bytes(bytes))
}

/// The stored form of a token.
pub fn token_hash(token: &str) -> String {
    hex_of(&token_digest(token))
}

/// The SHA-256 of a token.
pub fn token_digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

fn hex_of(digest: &[u8; 32]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut hex = String::with_capacity(64);
    for &b in digest {
        hex.push(char::from(HEX[usize::from(b >> 4)]));
        hex.push(char::from(HEX[usize::from(b & 0xf)]));
    }
    hex
}

/// The token of a request: the cookie wins over the header (auth.md §2.3). The
/// cookie value is taken byte for byte (no `+` or percent decoding).
pub fn presented_token(parts: &Parts) -> Option<String> {
    let from_cookie = parts
        .headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|cookies| {
            cookies.split(';').find_map(|c| {
                let (name, value) = c.trim().split_once('=')?;
                name.eq_ignore_ascii_case(TOKEN_NAME)
                    .then(|| value.trim().to_string())
            })
        });
    from_cookie.or_else(|| {
        parts
            .headers
            .get(TOKEN_NAME)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.trim().to_string())
    })
}

/// An authenticated request: the logon session, its principal's view, and the
/// rendering context.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The logon session as stored: its `id` is the store key ([`logon_key`]).
    pub session: Arc<LogonSession>,
    /// The session's public `SessionId` (decoded from the token).
    pub session_id: LogonSessionId,
    /// How representations are written for this caller: link base, viewer, JSON style.
    pub ctx: Ctx,
    /// The client's address, for audit events.
    pub remote: Option<std::net::IpAddr>,
}

impl Caller {
    /// The logon session as clients see it: with its public `SessionId`.
    pub fn shown_session(&self) -> LogonSession {
        LogonSession {
            id: self.session_id,
            ..(*self.session).clone()
        }
    }

    /// Writes an audit event for this caller.
    pub fn audit(&self, event: &str, outcome: &str, detail: &str) {
        crate::audit::event(event, &self.session.user_name, outcome, self.remote, detail);
    }

    /// What this caller may see.
    pub fn scope(&self) -> Scope {
        match self.session.principal.tenant() {
            Some(t) => Scope::Tenant(t),
            None => Scope::All,
        }
    }

    /// Fails with 403 unless the caller has the right.
    pub fn require(&self, right: Right) -> Result<(), ApiError> {
        if allows(&self.session.principal, right) {
            Ok(())
        } else {
            Err(ApiError::Forbidden)
        }
    }
}

/// The viewer kind of a principal, for link selection.
pub fn viewer(principal: &Principal) -> Viewer {
    match principal {
        Principal::Tenant { .. } => Viewer::Tenant,
        p if p.has_role(Role::PortalAdministrator) => Viewer::Administrator,
        Principal::Account { .. } => Viewer::ProviderUser,
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        // The gate has already authenticated requests that went through the app.
        if let Some(caller) = parts.extensions.get::<Caller>() {
            return Ok(caller.clone());
        }
        authenticate(parts, state).await
    }
}

/// How long a logon session known to this process is trusted before the store is
/// asked again (it may have been ended elsewhere) and its idle timer written back.
pub const REVALIDATE: Duration = Duration::from_secs(1);

/// Logon sessions this process has seen recently, by token hash, so that a request
/// does not hash a password or query the store to authenticate. An entry is
/// trusted for [`REVALIDATE`] after the store last confirmed it; its idle timer
/// runs in memory and is written to the store when it is confirmed again.
#[derive(Debug, Default)]
pub struct SessionCache {
    known: RwLock<HashMap<[u8; 32], Arc<Known>>>,
}

#[derive(Debug)]
struct Known {
    digest: [u8; 32],
    session: Arc<LogonSession>,
    session_id: LogonSessionId,
    confirmed: Instant,
    /// Microseconds since the epoch of the last authenticated request.
    last_seen: AtomicI64,
}

impl SessionCache {
    fn get(&self, digest: &[u8; 32]) -> Option<Arc<Known>> {
        self.known
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(digest)
            .cloned()
    }

    fn put(&self, known: Known) {
        let mut map = self
            .known
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // Entries of sessions not seen for a while are confirmed again anyway.
        if map.len() >= 100_000 {
            map.retain(|_, k| k.confirmed.elapsed() < REVALIDATE);
        }
        map.insert(known.digest, Arc::new(known));
    }

    fn remove(&self, digest: &[u8; 32]) {
        self.known
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(digest);
    }

    /// Forgets the logon session stored under `key` (after a logoff).
    pub fn forget(&self, key: LogonSessionId) {
        self.known
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .retain(|_, k| k.session.id != key);
    }

    /// Forgets every logon session (the store's were replaced).
    pub fn clear(&self) {
        self.known
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clear();
    }
}

/// Authenticates a request by its token (auth.md §2.3).
pub async fn authenticate(parts: &Parts, state: &AppState) -> Result<Caller, ApiError> {
    let token = presented_token(parts).ok_or(ApiError::Unauthorized)?;
    // A token that is not the Base64 of a GUID cannot be one of ours.
    let session_id = session_id_of(&token).ok_or(ApiError::Unauthorized)?;
    let digest = token_digest(&token);
    let now = state.now();
    let idle_limit = state.config.idle_timeout.as_millis() as i64;
    let known = state.sessions.get(&digest);
    if let Some(known) = &known {
        let idle_ms = now
            .micros()
            .saturating_sub(known.last_seen.load(Ordering::Relaxed))
            / 1000;
        // Found by the digest itself: the entry is this token's (comparing the two
        // digests again would compare a value with itself).
        if idle_ms <= idle_limit && known.confirmed.elapsed() < REVALIDATE {
            known.last_seen.fetch_max(now.micros(), Ordering::Relaxed);
            return Ok(caller_of(
                parts,
                state,
                known.session.clone(),
                known.session_id,
            ));
        }
    }
    let hash = hex_of(&digest);
    let Some((mut session, stored)) = state.store.logon_by_token(&hash).await? else {
        state.sessions.remove(&digest);
        return Err(ApiError::Unauthorized);
    };
    // The database found the row by hash; the final decision compares the stored
    // hash in constant time so it never depends on where bytes differ.
    if !bool::from(stored.as_bytes().ct_eq(hash.as_bytes())) || session.id != logon_key(session_id)
    {
        return Err(ApiError::Unauthorized);
    }
    if let Some(known) = &known {
        let seen = Timestamp::from_micros(known.last_seen.load(Ordering::Relaxed));
        if seen > session.last_seen {
            session.last_seen = seen;
        }
    }
    let idle_ms = now.micros().saturating_sub(session.last_seen.micros()) / 1000;
    if idle_ms > idle_limit {
        state.sessions.remove(&digest);
        let _ = state.store.delete_logon(session.id).await;
        return Err(ApiError::Unauthorized);
    }
    // Refreshing the idle timer costs a write; once a second is precise enough.
    if idle_ms > 1000 {
        state.store.touch_logon(session.id, now).await?;
    }
    let session = Arc::new(session);
    state.sessions.put(Known {
        digest,
        session: session.clone(),
        session_id,
        confirmed: Instant::now(),
        last_seen: AtomicI64::new(now.micros()),
    });
    Ok(caller_of(parts, state, session, session_id))
}

fn caller_of(
    parts: &Parts,
    state: &AppState,
    session: Arc<LogonSession>,
    session_id: LogonSessionId,
) -> Caller {
    let ctx = Ctx {
        base: base_url(parts, state),
        viewer: viewer(&session.principal),
    };
    Caller {
        session,
        session_id,
        ctx,
        remote: crate::audit::client_addr(parts),
    }
}

/// Whether a request may go without a token: `GET /api/` and the logon.
fn is_public(method: &Method, path: &str) -> bool {
    match path {
        "/api" => method == Method::GET || method == Method::HEAD,
        "/api/sessionmngr" => method == Method::POST,
        _ => !path.starts_with("/api/") && path != "/api",
    }
}

/// Middleware in front of the router: authentication before routing (auth.md
/// §2.3), then the read cache ([`crate::cache`]).
///
/// Every request under `/api` except the entry point and the logon needs a valid
/// token, whatever its path, so an unauthenticated client sees 401 where a
/// logged-on one would see 404 or 501. The caller goes to the handlers in the
/// request's extensions, with the negotiated format. A `GET` whose answer is kept
/// for the caller's class and the current state is answered from the cache; a
/// cacheable answer rendered now is kept.
pub async fn front(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let format = crate::render::negotiate(request.headers(), &state);
    request.extensions_mut().insert(format);
    // Fault rules first look at one flag: without rules nothing else is done.
    let faulty = state.control.faults.active();
    if is_public(request.method(), request.uri().path()) {
        if faulty {
            let account = crate::routes::basic_user(request.headers());
            let (method, path) = (request.method().clone(), request.uri().path().to_string());
            if let Some(answer) =
                crate::control::apply_faults(&state, &method, &path, account.as_deref()).await
            {
                return crate::render::finish(answer, format, &method, &path).await;
            }
        }
        return next.run(request).await;
    }
    let (mut parts, body) = request.into_parts();
    let authenticated = authenticate(&parts, &state).await;
    if faulty {
        let account = match &authenticated {
            Ok(caller) => Some(caller.session.user_name.clone()),
            Err(_) => crate::routes::basic_user(&parts.headers),
        };
        if let Some(answer) = crate::control::apply_faults(
            &state,
            &parts.method,
            parts.uri.path(),
            account.as_deref(),
        )
        .await
        {
            let path = parts.uri.path().to_string();
            return crate::render::finish(answer, format, &parts.method, &path).await;
        }
    }
    let caller = match authenticated {
        Ok(caller) => caller,
        Err(e) => {
            let path = parts.uri.path().to_string();
            return crate::render::finish(e.into_response(), format, &parts.method, &path).await;
        }
    };
    let name = crate::control::AccountName(caller.session.user_name.clone());
    let version = state.store.state_version();
    let key = match (&parts.method, version) {
        (&Method::GET, Some(_)) => Some(crate::cache::key(
            format,
            &caller.session.principal,
            &caller.ctx.base,
            parts.uri.path_and_query().map_or("", |pq| pq.as_str()),
        )),
        _ => None,
    };
    if let (Some(key), Some(version)) = (&key, version) {
        if let Some(entry) = state.cache.get(key, version, state.now()) {
            let mut answer = crate::cache::answer(&entry);
            answer.extensions_mut().insert(name);
            return answer;
        }
    }
    parts.extensions.insert(caller);
    let response = next.run(Request::from_parts(parts, body)).await;
    let mut response = match (key, version) {
        (Some(key), Some(version)) => {
            crate::cache::keep(&state.cache, key, version, response).await
        }
        _ => response,
    };
    response.extensions_mut().insert(name);
    response
}

/// Operations the role matrix distinguishes (auth.md §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Right {
    /// `GET /querySvc`.
    QueryService,
    /// `GET /backupServers[/{ID}]`, `query?type=BackupServer`.
    ReadServers,
    /// Create, edit, delete backup servers.
    ManageServers,
    /// `POST /backupServers/{ID}?action=collect`.
    CollectServer,
    /// `GET /cloud`.
    CloudService,
    /// `GET /cloud/tenants[/{ID}]`.
    ReadTenants,
    /// Replicas and VM replica points.
    ReadReplicas,
    /// Plans and their includes.
    ReadPlans,
    /// Start, test, undo plans.
    OperatePlans,
    /// Edit and delete plans.
    EditPlans,
    /// Failover sessions.
    ReadSessions,
    /// The caller's own tasks.
    OwnTasks,
    /// Jobs and their includes, `query?type=Job` (Portal Administrator only,
    /// resources/jobs.md §1).
    Jobs,
    /// Job sessions and task sessions, their query types (Portal Administrator
    /// and Portal User, resources/job-sessions.md §1).
    ReadJobSessions,
    /// Stop a job session (Portal Administrator only).
    StopJobSessions,
}

/// Whether a principal holds a right (the union over its roles).
pub fn allows(principal: &Principal, right: Right) -> bool {
    use Right::*;
    match principal {
        Principal::Tenant { .. } => {
            matches!(
                right,
                QueryService
                    | CloudService
                    | ReadReplicas
                    | ReadPlans
                    | OperatePlans
                    | ReadSessions
                    | OwnTasks
            )
        }
        Principal::Account { roles, .. } => roles.iter().any(|role| role_allows(*role, right)),
    }
}

fn role_allows(role: Role, right: Right) -> bool {
    use Right::*;
    match role {
        Role::PortalAdministrator => true,
        Role::PortalUser => matches!(
            right,
            QueryService
                | ReadServers
                | CollectServer
                | CloudService
                | ReadTenants
                | ReadReplicas
                | ReadSessions
                | ReadJobSessions
                | OwnTasks
        ),
        Role::VmRestoreOperator | Role::FileRestoreOperator => {
            matches!(
                right,
                QueryService | CloudService | ReadPlans | OperatePlans | ReadSessions | OwnTasks
            )
        }
        Role::ExchangeRestoreOperator | Role::OracleRestoreOperator | Role::SqlRestoreOperator => {
            right == OwnTasks
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use entman_model::ids::{AccountId, TenantId};

    #[test]
    fn the_token_is_the_base64_of_the_session_id_text() {
        // The pair printed in the request examples of the EM documentation.
        let id: LogonSessionId = "44cfbdbe-5a95-4156-8867-91f069b7c2cc".parse().unwrap();
        assert_eq!(
            token_of(id),
            "NDRjZmJkYmUtNWE5NS00MTU2LTg4NjctOTFmMDY5YjdjMmNj"
        );
        assert_eq!(session_id_of(&token_of(id)), Some(id));
        assert_eq!(session_id_of("dGhpcyBpcyBub3QgYSB0b2tlbg=="), None);
        assert_eq!(session_id_of("not base64!"), None);
    }

    #[test]
    fn session_ids_are_random_version_4_guids() {
        let a = new_session_id();
        assert_eq!(a.0.get_version_num(), 4);
        assert_ne!(a, new_session_id());
        assert_eq!(token_of(a).len(), 48);
    }

    #[test]
    fn the_store_key_does_not_reveal_the_session_id() {
        let id = new_session_id();
        let key = logon_key(id);
        assert_ne!(key, id);
        assert_eq!(key, logon_key(id));
        assert!(!token_of(key).contains(&token_of(id)));
    }

    #[test]
    fn only_the_entry_point_and_the_logon_go_without_a_token() {
        assert!(is_public(&Method::GET, "/api"));
        assert!(is_public(&Method::POST, "/api/sessionmngr"));
        assert!(!is_public(&Method::GET, "/api/sessionmngr"));
        assert!(!is_public(&Method::POST, "/api"));
        assert!(!is_public(&Method::GET, "/api/jobs"));
        assert!(!is_public(&Method::GET, "/api/nothing"));
        assert!(is_public(&Method::GET, "/other"));
    }

    #[test]
    fn the_role_matrix_follows_the_spec() {
        let account = |roles: Vec<Role>| Principal::Account {
            id: AccountId::new_random(),
            roles,
        };
        let admin = account(vec![Role::PortalAdministrator]);
        let user = account(vec![Role::PortalUser]);
        let vm_op = account(vec![Role::VmRestoreOperator]);
        let sql_op = account(vec![Role::SqlRestoreOperator]);
        let tenant = Principal::Tenant {
            id: TenantId::new_random(),
        };
        assert!(allows(&admin, Right::EditPlans));
        assert!(!allows(&user, Right::ReadPlans));
        assert!(allows(&user, Right::ReadTenants));
        assert!(allows(&vm_op, Right::OperatePlans));
        assert!(!allows(&vm_op, Right::ReadServers));
        assert!(!allows(&sql_op, Right::CloudService));
        assert!(allows(&tenant, Right::OperatePlans));
        assert!(!allows(&tenant, Right::EditPlans));
        assert!(!allows(&tenant, Right::ReadTenants));
        let both = account(vec![Role::PortalUser, Role::VmRestoreOperator]);
        assert!(allows(&both, Right::ReadPlans) && allows(&both, Right::ReadTenants));
    }
}
