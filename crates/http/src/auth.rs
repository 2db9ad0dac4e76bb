//! Logon sessions: tokens, the [`Caller`] extractor, and the role matrix of
//! auth.md §6.
//!
//! A token is 16 random bytes in Base64 (the documented shape). Only its SHA-256
//! is stored; a presented token is hashed, looked up, and the stored hash compared
//! in constant time. A session idle for longer than the configured timeout is
//! deleted and answers 401.

use crate::{base_url, ApiError, AppState};
use axum::extract::FromRequestParts;
use axum::http::header::COOKIE;
use axum::http::request::Parts;
use base64::Engine;
use entman_model::auth::{LogonSession, Principal, Role};
use entman_model::Timestamp;
use entman_repr::{Ctx, Viewer};
use entman_store::Scope;
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Name of the token header and cookie.
pub const TOKEN_NAME: &str = "X-RestSvcSessionId";

/// A new random token.
pub fn new_token() -> String {
    let mut bytes = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The stored form of a token.
pub fn token_hash(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
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
    pub session: LogonSession,
    pub ctx: Ctx,
    /// The client's address, for audit events.
    pub remote: Option<std::net::IpAddr>,
}

impl Caller {
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
        let token = presented_token(parts).ok_or(ApiError::Unauthorized)?;
        let hash = token_hash(&token);
        let (session, stored) = state
            .store
            .logon_by_token(&hash)
            .await?
            .ok_or(ApiError::Unauthorized)?;
        // The database found the row by hash; the final decision compares the
        // stored hash in constant time so it never depends on where bytes differ.
        if !bool::from(stored.as_bytes().ct_eq(hash.as_bytes())) {
            return Err(ApiError::Unauthorized);
        }
        let now = Timestamp::now();
        let idle_ms = now.micros().saturating_sub(session.last_seen.micros()) / 1000;
        if idle_ms > state.config.idle_timeout.as_millis() as i64 {
            let _ = state.store.delete_logon(session.id).await;
            return Err(ApiError::Unauthorized);
        }
        // Refreshing the idle timer costs a write; once a second is precise enough.
        if idle_ms > 1000 {
            state.store.touch_logon(session.id, now).await?;
        }
        let ctx = Ctx {
            base: base_url(parts, state),
            viewer: viewer(&session.principal),
        };
        Ok(Caller {
            session,
            ctx,
            remote: crate::audit::client_addr(parts),
        })
    }
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
    fn tokens_are_sixteen_random_bytes_in_base64() {
        let t = new_token();
        assert_eq!(t.len(), 24);
        assert!(t.ends_with("=="));
        assert_ne!(t, new_token());
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
