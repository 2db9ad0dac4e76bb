//! Identifiers. Every key resource has a GUID newtype so that a session id can never
//! be passed where a plan id is expected; `uid()` renders the EM URN
//! `urn:veeam:<Type>:<guid>` with the GUID in lowercase.

use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

macro_rules! id_type {
    ($(#[$meta:meta])* $name:ident, $urn_type:literal) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// The type segment of this resource's UID.
            pub const URN_TYPE: &'static str = $urn_type;

            /// A new random identifier.
            pub fn new_random() -> Self {
                Self(Uuid::new_v4())
            }

            /// The EM UID: `urn:veeam:<Type>:<guid>`.
            pub fn uid(&self) -> String {
                format!("urn:veeam:{}:{}", $urn_type, self.0)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                // Uuid's Display is lowercase and hyphenated, as EM writes GUIDs.
                self.0.fmt(f)
            }
        }

        impl KeyId for $name {
            const URN_TYPE: &'static str = $urn_type;
            fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }
        }

        impl FromStr for $name {
            type Err = InvalidId;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                parse_guid(s).map(Self).ok_or(InvalidId)
            }
        }
    };
}

/// The identifier of a key resource: a GUID with the type segment of its UID.
pub trait KeyId: Sized {
    /// The type segment of the resource's UID (`urn:veeam:<Type>:<guid>`).
    const URN_TYPE: &'static str;
    /// The identifier of a GUID.
    fn from_uuid(uuid: Uuid) -> Self;

    /// A path id: the GUID, or the resource's UID (conventions.md §2.4). A UID of
    /// another type is `None`.
    fn from_path(raw: &str) -> Option<Self> {
        parse_uid(raw, Self::URN_TYPE).map(Self::from_uuid)
    }
}

id_type!(/// A backup server connected to EM.
    BackupServerId, "BackupServer");
id_type!(/// A cloud tenant account.
    TenantId, "CloudTenant");
id_type!(/// A cloud replica (a tenant's replication job targeting the provider).
    ReplicaId, "CloudReplica");
id_type!(/// A restore point of one VM of a cloud replica.
    PointId, "CloudVmReplicaPoint");
id_type!(/// A cloud failover plan.
    PlanId, "CloudFailoverPlan");
id_type!(/// One VM entry of a cloud failover plan (`FailoverPlanVMId`).
    PlanVmId, "CloudFailoveredVm");
id_type!(/// A cloud failover session.
    SessionId, "CloudFailoverSession");
id_type!(/// A logon session (`SessionId` of a `LogonSession`).
    LogonSessionId, "LogonSession");
id_type!(/// A provider (Enterprise Manager) account.
    AccountId, "Account");
id_type!(/// A backup, replication or backup copy job (slice 2).
    JobId, "Job");
id_type!(/// One VM a job processes (`ObjectInJobId`).
    ObjectInJobId, "ObjectInJob");
id_type!(/// One run of a backup or backup copy job (`BackupJobSession`).
    BackupJobSessionId, "BackupJobSession");
id_type!(/// One run of a replication job (`ReplicaJobSession`).
    ReplicaJobSessionId, "ReplicaJobSession");
id_type!(/// The processing of one VM in a backup run (`BackupTaskSession`).
    BackupTaskSessionId, "BackupTaskSession");
id_type!(/// The processing of one VM in a replication run (`ReplicaTaskSession`).
    ReplicaTaskSessionId, "ReplicaTaskSession");

/// Error for text that is not a hyphenated GUID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not a GUID in hyphenated form")]
pub struct InvalidId;

/// Parses a GUID in hyphenated form, case-insensitively. Braced, URN and simple
/// (unhyphenated) forms are refused: EM paths always carry the hyphenated form.
pub fn parse_guid(s: &str) -> Option<Uuid> {
    if s.len() != 36 {
        return None;
    }
    Uuid::parse_str(s).ok()
}

/// Splits an EM UID (`urn:veeam:<Type>:<guid>`) or a bare GUID into the GUID.
/// Returns `None` when the text is neither, or names another type.
pub fn parse_uid(s: &str, urn_type: &str) -> Option<Uuid> {
    let guid = match s.strip_prefix("urn:veeam:") {
        Some(rest) => {
            let (ty, guid) = rest.split_once(':')?;
            if !ty.eq_ignore_ascii_case(urn_type) {
                return None;
            }
            guid
        }
        None => s,
    };
    parse_guid(guid)
}

/// Number of a task within its logon session: `task-<n>`, counting from 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TaskNumber(pub u32);

impl fmt::Display for TaskNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "task-{}", self.0)
    }
}

impl FromStr for TaskNumber {
    type Err = ();
    /// Accepts `task-<n>` (case-insensitive prefix) with `n` a positive decimal integer.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let digits = s
            .get(..5)
            .filter(|p| p.eq_ignore_ascii_case("task-"))
            .map(|_| &s[5..])
            .ok_or(())?;
        if digits.is_empty() || digits.len() > 9 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(());
        }
        match digits.parse::<u32>() {
            Ok(n) if n > 0 => Ok(TaskNumber(n)),
            _ => Err(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uid_is_urn_with_lowercase_guid() {
        let id: PlanId = "3F56FA52-C902-4655-9774-2025FDE214D2".parse().unwrap();
        assert_eq!(
            id.uid(),
            "urn:veeam:CloudFailoverPlan:3f56fa52-c902-4655-9774-2025fde214d2"
        );
    }

    #[test]
    fn only_hyphenated_guids_are_ids() {
        assert!("3f56fa52c902465597742025fde214d2"
            .parse::<PlanId>()
            .is_err());
        assert!("{3f56fa52-c902-4655-9774-2025fde214d2}"
            .parse::<PlanId>()
            .is_err());
        assert!("not-a-guid".parse::<PlanId>().is_err());
        assert!("".parse::<PlanId>().is_err());
    }

    #[test]
    fn uid_parsing_accepts_urn_or_bare_guid() {
        let g = "3f56fa52-c902-4655-9774-2025fde214d2";
        assert!(parse_uid(g, "CloudTenant").is_some());
        assert!(parse_uid(&format!("urn:veeam:CloudTenant:{g}"), "CloudTenant").is_some());
        assert!(parse_uid(&format!("urn:veeam:BackupServer:{g}"), "CloudTenant").is_none());
    }

    #[test]
    fn task_numbers_round_trip() {
        assert_eq!("task-12".parse::<TaskNumber>(), Ok(TaskNumber(12)));
        assert_eq!("Task-3".parse::<TaskNumber>(), Ok(TaskNumber(3)));
        assert_eq!(TaskNumber(7).to_string(), "task-7");
        for bad in [
            "task-0",
            "task-",
            "task-x",
            "task--1",
            "tas",
            "task-99999999999",
            "task-١",
        ] {
            assert!(bad.parse::<TaskNumber>().is_err(), "{bad}");
        }
    }
}
