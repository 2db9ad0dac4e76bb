//! Cloud tenants: the Service Provider's tenant accounts (standalone or vCloud Director).

use crate::ids::{BackupServerId, TenantId};
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

crate::wire_enum! {
    /// Result of the tenant's last activity.
    pub enum LastResult ("tenant last result") {
        /// No activity yet.
        None = "None",
        Success = "Success",
        Warning = "Warning",
        Failed = "Failed",
    }
}

crate::wire_enum! {
    /// Platform of a hardware-plan compute resource.
    pub enum ComputePlatform ("platform type") {
        VMware = "VMware",
        HyperV = "HyperV",
    }
}

/// A cloud tenant account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tenant {
    /// Identifier.
    pub id: TenantId,
    /// Backup server the tenant lives on.
    pub backup_server_id: BackupServerId,
    /// Tenant name (standalone) or organization name (vCloud).
    pub name: String,
    /// Free text.
    pub description: String,
    /// Disabled tenants cannot log on.
    pub enabled: bool,
    /// Lease expiry; `None` when the lease option is off.
    pub lease_expiration: Option<Timestamp>,
    /// Backup repository quotas.
    pub resources: Vec<RepositoryQuota>,
    /// Result of the last activity.
    pub last_result: LastResult,
    /// Time of the last activity; `None` when never active.
    pub last_active: Option<Timestamp>,
    /// Replication resources from hardware plans (standalone tenants).
    pub compute_resources: Vec<ComputeResource>,
    /// Network throttling settings.
    pub throttling: Throttling,
    /// Counters shown on the tenant entity.
    pub counters: TenantCounters,
    /// Standalone or vCloud, with the kind's own data.
    pub kind: TenantKind,
}

/// Throttling settings of a tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Throttling {
    /// Whether throttling is on.
    pub enabled: bool,
    /// Speed limit, in `unit`.
    pub speed_limit: i32,
    /// `Mbps`, `KBps` or `MBps`.
    pub unit: String,
}

/// Numbers written on the tenant entity.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantCounters {
    /// Public IP addresses allotted to the tenant.
    pub public_ip_count: i32,
    /// Backups the tenant holds on the provider.
    pub backup_count: i32,
    /// Replicas the tenant holds on the provider.
    pub replica_count: i32,
    /// Tasks the tenant may run at once.
    pub max_concurrent_tasks: i32,
    /// Workstation backups the tenant may run.
    pub workstation_backup_count: i32,
    /// Server backups the tenant may run.
    pub server_backup_count: i32,
    /// Whether deleted backups are kept in the recycle bin.
    pub backup_protection_enabled: bool,
    /// Days deleted backups are kept.
    pub backup_protection_period: i32,
}

/// A repository quota (`CloudTenantResource`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepositoryQuota {
    /// Resource id (`Id` attribute).
    pub id: Uuid,
    /// Name shown to the tenant.
    pub display_name: String,
    /// Backing repository GUID (`urn:veeam:Repository:<guid>`).
    pub repository_id: Uuid,
    /// Quota in MB.
    pub quota_mb: i64,
    /// Used quota in MB.
    pub used_quota_mb: i64,
}

/// A hardware-plan compute resource (`CloudTenantComputeResource`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComputeResource {
    /// Resource id.
    pub id: Uuid,
    /// Hardware plan GUID (`urn:veeam:CloudHardwarePlan:<guid>`).
    pub hardware_plan_id: Uuid,
    /// VMware or Hyper-V.
    pub platform: ComputePlatform,
    /// Whether network failover resources are used.
    pub use_network_failover_resources: bool,
    /// Network extension appliance name.
    pub appliance_name: String,
    /// Production network of the appliance.
    pub production_network: String,
    /// Whether the appliance uses DHCP.
    pub obtain_ip_automatically: bool,
    /// Memory in use, MB.
    pub memory_usage_mb: i64,
    /// CPUs in use.
    pub cpu_count: i32,
    /// Storage usage per storage.
    pub storages: Vec<StorageStat>,
}

/// Storage usage of a compute resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StorageStat {
    /// Storage name.
    pub name: String,
    /// Gigabytes in use.
    pub usage_gb: i64,
    /// Gigabytes allotted.
    pub limit_gb: i64,
}

/// The kind of a tenant account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum TenantKind {
    /// A standalone tenant logging on with a user name and password.
    Standalone {
        /// Logon user name (usually the tenant name).
        username: String,
    },
    /// A VMware Cloud Director organization.
    VCloud {
        /// Organization name.
        organization_name: String,
        /// `urn:vCloud:Organization:...` reference.
        organization_ref: String,
        /// Organization VDCs.
        vdcs: Vec<VCloudComputeResource>,
    },
}

impl TenantKind {
    /// `Standalone` or `VCloud`: the query service's `Type` field values.
    pub fn type_name(&self) -> &'static str {
        match self {
            TenantKind::Standalone { .. } => "Standalone",
            TenantKind::VCloud { .. } => "VCloud",
        }
    }
}

/// An organization VDC of a vCloud tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VCloudComputeResource {
    /// Stable id of the compute resource.
    pub id: Uuid,
    /// VDC name.
    pub vdc_name: String,
    /// `urn:vCloud:Vdc:...` reference.
    pub vdc_ref: String,
    /// Whether the VDC can be used for failover.
    pub enabled: bool,
    /// vCloud allocation model, e.g. `AllocationPool`.
    pub allocation_model: String,
    /// Whether network failover resources are used.
    pub use_network_failover_resources: bool,
    /// CPU in use, in MHz.
    pub cpu_usage_mhz: i64,
    /// Memory in use, in MB.
    pub memory_usage_mb: i64,
    /// Storage in use, in GB.
    pub storage_usage_gb: i64,
}
