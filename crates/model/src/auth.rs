//! Who is calling: provider accounts with EM roles, and cloud tenants.

use crate::ids::{AccountId, LogonSessionId, TenantId};
use crate::time::Timestamp;

crate::wire_enum! {
    /// Enterprise Manager roles.
    pub enum Role ("role") {
        PortalAdministrator = "PortalAdministrator",
        PortalUser = "PortalUser",
        VmRestoreOperator = "VMRestoreOperator",
        FileRestoreOperator = "FileRestoreOperator",
        ExchangeRestoreOperator = "ExchangeRestoreOperator",
        OracleRestoreOperator = "OracleRestoreOperator",
        SqlRestoreOperator = "SQLRestoreOperator",
    }
}

/// A provider account that logs on with Basic authentication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// Stable id of the account.
    pub id: AccountId,
    /// Name as stored, e.g. `SRV12\Administrator`.
    pub name: String,
    /// PHC string of the password hash.
    pub password_hash: String,
    /// Roles the account holds; the union of their rights applies.
    pub roles: Vec<Role>,
}

/// The principal a logon session acts for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// A provider account with its roles.
    Account {
        /// The account.
        id: AccountId,
        /// Its roles at logon.
        roles: Vec<Role>,
    },
    /// A cloud tenant.
    Tenant {
        /// The tenant.
        id: TenantId,
    },
}

impl Principal {
    /// Whether the principal holds a role.
    pub fn has_role(&self, role: Role) -> bool {
        matches!(self, Principal::Account { roles, .. } if roles.contains(&role))
    }

    /// The tenant this principal is scoped to, if it is a tenant.
    pub fn tenant(&self) -> Option<TenantId> {
        match self {
            Principal::Tenant { id } => Some(*id),
            Principal::Account { .. } => None,
        }
    }
}

/// A logon session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogonSession {
    /// Id of the session (the `SessionId` of the representation).
    pub id: LogonSessionId,
    /// `UserName` of the LogonSession representation.
    pub user_name: String,
    /// Who the session acts for; decides roles and tenant scope.
    pub principal: Principal,
    /// API version chosen at logon (`v1_7`, ...).
    pub api_version: String,
    /// When the logon happened.
    pub created: Timestamp,
    /// Last authenticated request; the idle timeout counts from here.
    pub last_seen: Timestamp,
}
