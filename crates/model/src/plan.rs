//! Cloud failover plans, the VMs they include, and how each VM behaves when failed over.

use crate::ids::{BackupServerId, PlanId, PlanVmId, ReplicaId, TenantId};
use crate::time::Timestamp;

crate::wire_enum! {
    /// Internal plan state (not exposed by the plan representation).
    pub enum PlanState ("plan state") {
        /// Not failed over: may be started.
        Ready = "Ready",
        /// Failed over: may be undone.
        InFailover = "InFailover",
    }
}

crate::wire_enum! {
    /// Outcome a VM's failover produces, chosen by the world definition.
    pub enum VmOutcome ("VM outcome") {
        Success = "Success",
        Warning = "Warning",
        Failed = "Failed",
    }
}

/// Pre- and post-failover scripts of a plan.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlanOptions {
    /// Whether the post-failover script runs.
    pub post_command_enabled: bool,
    /// Path of the post-failover script.
    pub post_command: String,
    /// Whether the pre-failover script runs.
    pub pre_command_enabled: bool,
    /// Path of the pre-failover script.
    pub pre_command: String,
}

/// A cloud failover plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Stable id of the plan (the `UID` GUID).
    pub id: PlanId,
    /// Backup server the plan lives on.
    pub backup_server_id: BackupServerId,
    /// Tenant that owns the plan.
    pub tenant_id: TenantId,
    /// Plan name, unique per backup server.
    pub name: String,
    /// Free-text description; `None` leaves the element out.
    pub description: Option<String>,
    /// Pre- and post-failover scripts.
    pub options: PlanOptions,
    /// Ready or in failover.
    pub state: PlanState,
    /// The VMs in processing order.
    pub vms: Vec<PlanVm>,
}

/// One VM of a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanVm {
    /// Stable id of the plan VM.
    pub id: PlanVmId,
    /// VM name.
    pub name: String,
    /// Processing order, from 0.
    pub order: i32,
    /// The cloud replica holding this VM's points.
    pub replica_id: ReplicaId,
    /// How a failover of this VM behaves.
    pub behaviour: VmBehaviour,
}

/// How the failover of one VM behaves (world data, used by the failover engine).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VmBehaviour {
    /// Duration of the VM's failover in milliseconds (before time scaling).
    pub duration_ms: u64,
    /// Outcome of the failover.
    pub outcome: VmOutcome,
    /// Message for a Warning or Failed outcome.
    pub message: Option<String>,
}

impl Default for VmBehaviour {
    fn default() -> Self {
        Self {
            duration_ms: 20_000,
            outcome: VmOutcome::Success,
            message: None,
        }
    }
}

/// Which restore point a failover uses for each VM (failover-plans.md §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailoverTarget {
    /// The latest point of each VM (`StartNow`, and `test`).
    Latest,
    /// The latest point created before this time (`StartDate`).
    Before(Timestamp),
}
