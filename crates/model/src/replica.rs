//! Cloud replicas and the restore points of their VMs.

use crate::ids::{BackupServerId, PointId, ReplicaId, TenantId};
use crate::time::Timestamp;

crate::wire_enum! {
    /// Platform of a cloud replica.
    pub enum ReplicaPlatform ("replica platform") {
        VMware = "VMware",
        HyperV = "HyperV",
        VCloud = "vCloud",
    }
}

crate::wire_enum! {
    /// Kind of a VM replica point.
    pub enum PointType ("point type") {
        Cdp = "CDP",
        Full = "Full",
        ReverseIncrement = "ReverseIncrement",
        Increment = "Increment",
        Snapshot = "Snapshot",
    }
}

crate::wire_enum! {
    /// State of a VM replica point. Declaration order is the documented order used
    /// when the query language compares states.
    pub enum PointState ("point state") {
        Unknown = "Unknown",
        Ready = "Ready",
        Failover = "Failover",
        Failback = "Failback",
        PermanentFailover = "PermanentFailover",
    }
}

/// A tenant's replica on the provider side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replica {
    /// Stable id of the replica.
    pub id: ReplicaId,
    /// Backup server the replica lives on.
    pub backup_server_id: BackupServerId,
    /// Tenant that created the replica.
    pub tenant_id: TenantId,
    /// Replication job name.
    pub name: String,
    /// Virtualization platform of the replicated VMs.
    pub platform: ReplicaPlatform,
}

/// A restore point of one VM of a replica.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VmReplicaPoint {
    /// Stable id of the point.
    pub id: PointId,
    /// Replica the point belongs to.
    pub replica_id: ReplicaId,
    /// VM name (queryable as `VmName`).
    pub vm_name: String,
    /// VM display name (`VmDisplayName` attribute).
    pub vm_display_name: String,
    /// When the point was created.
    pub creation_time: Timestamp,
    /// Kind of point (full, increment, snapshot, CDP).
    pub point_type: PointType,
    /// Whether the point is ready or in failover or failback.
    pub state: PointState,
}

impl VmReplicaPoint {
    /// The point's display name: `<vm>@<yyyy-MM-dd HH:mm:ss>`.
    pub fn name(&self) -> String {
        format!(
            "{}@{}",
            self.vm_name,
            self.creation_time.display_name_form()
        )
    }
}
