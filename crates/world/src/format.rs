//! The world definition file format (TOML). See `docs/world.md` for a user guide.
//!
//! Objects refer to each other by name (a tenant names its backup server, a plan
//! its tenant, a plan VM its replica). Identifiers are optional: when absent they
//! are derived from the names (UUID v5), so the same world file always produces
//! the same URLs.

use serde::Deserialize;

/// A whole world.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct World {
    /// Backup servers connected to EM.
    #[serde(default)]
    pub backup_servers: Vec<ServerDef>,
    /// Cloud tenants.
    #[serde(default)]
    pub tenants: Vec<TenantDef>,
    /// Cloud replicas with their VMs and points.
    #[serde(default)]
    pub replicas: Vec<ReplicaDef>,
    /// Cloud failover plans.
    #[serde(default)]
    pub plans: Vec<PlanDef>,
    /// Generated history of past failover sessions.
    #[serde(default)]
    pub history: Option<HistoryDef>,
    /// Backup, replication and backup copy jobs (slice 2, jobs-domain.md §8.2).
    #[serde(default)]
    pub jobs: Vec<JobDef>,
    /// Generated past runs of the scheduled jobs (jobs-domain.md §8.5).
    #[serde(default)]
    pub jobs_history: Option<JobsHistoryDef>,
}

/// A backup server.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerDef {
    /// Fixed id; derived from the name when absent.
    pub id: Option<uuid::Uuid>,
    /// DNS name or IP address.
    pub name: String,
    /// Free-text description.
    #[serde(default)]
    pub description: String,
    /// Port of the backup server's service (default 9392).
    #[serde(default = "default_port")]
    pub port: u16,
    /// Backup & Replication version shown on the entity.
    #[serde(default = "default_version")]
    pub version: String,
    /// WCF port of the backup server, if set.
    pub wcf_port: Option<u16>,
    /// Certificate thumbprint of the backup server.
    pub thumbprint: Option<String>,
    /// Account EM connects to the backup server with.
    #[serde(default = "default_username")]
    pub username: String,
}

fn default_port() -> u16 {
    9392
}
fn default_version() -> String {
    "13.0.0.1420".into()
}
fn default_username() -> String {
    "Administrator".into()
}

/// The kind of a tenant.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum TenantKindDef {
    /// User name and password.
    #[default]
    Standalone,
    /// VMware Cloud Director organization.
    Vcloud,
}

/// A cloud tenant.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantDef {
    /// Fixed id; derived from the name when absent.
    pub id: Option<uuid::Uuid>,
    /// Tenant name; for vCloud tenants the organization name.
    pub name: String,
    /// Name of the backup server the tenant lives on.
    pub backup_server: String,
    /// `standalone` (default) or `vcloud`.
    #[serde(default)]
    pub kind: TenantKindDef,
    /// Free-text description.
    #[serde(default)]
    pub description: String,
    /// Whether the tenant may log on (default true).
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Standalone tenants: logon password (stored hashed).
    pub password: Option<String>,
    /// vCloud tenants: `urn:vCloud:Organization:...` reference (generated when absent).
    pub organization_ref: Option<String>,
    /// vCloud tenants: organization users who may log on.
    #[serde(default)]
    pub vcloud_users: Vec<VCloudUserDef>,
    /// vCloud tenants: organization VDCs.
    #[serde(default)]
    pub vdcs: Vec<VdcDef>,
    /// `None`, `Success`, `Warning` or `Failed`.
    #[serde(default = "default_last_result")]
    pub last_result: String,
    /// ISO 8601; absent = never active.
    pub last_active: Option<String>,
    /// ISO 8601; absent = no lease.
    pub lease_expiration: Option<String>,
    /// Repository quotas.
    #[serde(default)]
    pub repositories: Vec<RepositoryDef>,
    /// Hardware-plan compute resources (standalone tenants).
    #[serde(default)]
    pub compute_resources: Vec<ComputeDef>,
    /// Whether traffic throttling is on.
    #[serde(default)]
    pub throttling_enabled: bool,
    /// Throttling speed limit, in `throttling_speed_unit`.
    #[serde(default = "one")]
    pub throttling_speed_limit: i32,
    /// `Mbps`, `KBps` or `MBps` (default).
    #[serde(default = "default_unit")]
    pub throttling_speed_unit: String,
    /// Public IP addresses allotted.
    #[serde(default)]
    pub public_ip_count: i32,
    /// Backups held on the provider.
    #[serde(default)]
    pub backup_count: i32,
    /// Tasks the tenant may run at once (default 1).
    #[serde(default = "one")]
    pub max_concurrent_tasks: i32,
    /// Workstation backups allowed.
    #[serde(default)]
    pub workstation_backup_count: i32,
    /// Server backups allowed.
    #[serde(default)]
    pub server_backup_count: i32,
    /// Whether deleted backups go to the recycle bin.
    #[serde(default)]
    pub backup_protection_enabled: bool,
    /// Days deleted backups are kept (default 1).
    #[serde(default = "one")]
    pub backup_protection_period: i32,
}

fn yes() -> bool {
    true
}
fn one() -> i32 {
    1
}
fn default_unit() -> String {
    "MBps".into()
}
fn default_last_result() -> String {
    "None".into()
}

/// A vCloud organization user.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VCloudUserDef {
    /// Logon name within the organization.
    pub login: String,
    /// Password (stored hashed).
    pub password: String,
}

/// An organization VDC.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VdcDef {
    /// VDC name.
    pub name: String,
    /// vCloud allocation model (default `AllocationPool`).
    #[serde(default = "default_allocation")]
    pub allocation_model: String,
    /// Storage in use, in GB.
    #[serde(default)]
    pub storage_usage_gb: i64,
    /// Memory in use, in MB.
    #[serde(default)]
    pub memory_usage_mb: i64,
    /// CPU in use, in MHz.
    #[serde(default)]
    pub cpu_usage_mhz: i64,
}

fn default_allocation() -> String {
    "AllocationPool".into()
}

/// A repository quota.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RepositoryDef {
    /// Repository name shown to the tenant.
    pub display_name: String,
    /// Quota, in MB.
    pub quota_mb: i64,
    /// Quota in use, in MB.
    #[serde(default)]
    pub used_quota_mb: i64,
}

/// A hardware-plan compute resource.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComputeDef {
    /// `VMware` or `HyperV`.
    #[serde(default = "default_platform")]
    pub platform: String,
    /// Network appliance name, if any.
    #[serde(default)]
    pub network_appliance: Option<String>,
    /// Production network name (default `VM Network`).
    #[serde(default = "default_network")]
    pub production_network: String,
    /// Memory in use, in MB.
    #[serde(default)]
    pub memory_usage_mb: i64,
    /// CPUs in use.
    #[serde(default)]
    pub cpu_count: i32,
    /// Storage name (default `Cloud Replicas`).
    #[serde(default = "default_storage")]
    pub storage_name: String,
    /// Storage in use, in GB.
    #[serde(default)]
    pub storage_usage_gb: i64,
    /// Storage allotted, in GB.
    #[serde(default)]
    pub storage_limit_gb: i64,
}

fn default_platform() -> String {
    "VMware".into()
}
fn default_network() -> String {
    "VM Network".into()
}
fn default_storage() -> String {
    "Cloud Replicas".into()
}

/// A cloud replica.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplicaDef {
    /// Fixed id; derived from the name when absent.
    pub id: Option<uuid::Uuid>,
    /// Replication job name.
    pub name: String,
    /// Tenant that owns the replica.
    pub tenant: String,
    /// `VMware`, `HyperV` or `vCloud`.
    #[serde(default = "default_platform")]
    pub platform: String,
    /// The replicated VMs.
    pub vms: Vec<ReplicaVmDef>,
}

/// A VM of a replica and its restore points.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplicaVmDef {
    /// VM name, unique within the replica.
    pub name: String,
    /// Display name; the VM name when absent.
    pub display_name: Option<String>,
    /// Explicit point times (ISO 8601).
    #[serde(default)]
    pub points: Vec<String>,
    /// Generated points: this many, one every `point_interval_hours`, the newest
    /// `point_offset_minutes` before the world is loaded.
    #[serde(default)]
    pub recent_points: u32,
    /// Hours between generated points (default 24).
    #[serde(default = "default_interval")]
    pub point_interval_hours: u32,
    /// Minutes before load time of the newest generated point (default 90).
    #[serde(default = "default_offset")]
    pub point_offset_minutes: u32,
    /// Point type of generated points.
    #[serde(default = "default_point_type")]
    pub point_type: String,
}

fn default_interval() -> u32 {
    24
}
fn default_offset() -> u32 {
    90
}
fn default_point_type() -> String {
    "Snapshot".into()
}

/// A cloud failover plan.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanDef {
    /// Fixed id; derived from the name when absent.
    pub id: Option<uuid::Uuid>,
    /// Plan name.
    pub name: String,
    /// Name of the tenant that owns the plan.
    pub tenant: String,
    /// Free-text description.
    pub description: Option<String>,
    /// Path of the pre-failover script.
    #[serde(default)]
    pub pre_command: String,
    /// Whether the pre-failover script runs.
    #[serde(default)]
    pub pre_command_enabled: bool,
    /// Path of the post-failover script.
    #[serde(default)]
    pub post_command: String,
    /// Whether the post-failover script runs.
    #[serde(default)]
    pub post_command_enabled: bool,
    /// VMs in processing order.
    pub vms: Vec<PlanVmDef>,
}

/// A VM of a plan and how its failover behaves.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanVmDef {
    /// VM name, as in the replica.
    pub name: String,
    /// Replica holding the VM; defaults to the tenant's replica that has a VM of this name.
    pub replica: Option<String>,
    /// Failover duration in seconds.
    #[serde(default = "default_duration")]
    pub duration_seconds: f64,
    /// `Success`, `Warning` or `Failed`.
    #[serde(default = "default_outcome")]
    pub outcome: String,
    /// Message shown for Warning and Failed outcomes.
    pub message: Option<String>,
}

fn default_duration() -> f64 {
    15.0
}
fn default_outcome() -> String {
    "Success".into()
}

/// Generated session history.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistoryDef {
    /// How many finished sessions to generate.
    pub sessions: u32,
    /// Spread over this many days before the load time.
    pub days: u32,
    /// Seed of the generator: the same seed gives the same history.
    #[serde(default)]
    pub seed: u64,
}

/// `[jobs_history]`: generated past runs of the scheduled jobs (jobs-domain.md §8.5).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobsHistoryDef {
    /// How many days before the load the runs go back.
    #[serde(default = "default_history_days")]
    pub days: u32,
    /// Seed of the outcome draws.
    #[serde(default)]
    pub seed: u64,
    /// Probability per VM and run of a `Warning`.
    #[serde(default = "default_rate")]
    pub warning_rate: f64,
    /// Probability per VM and run of a `Failed` first attempt.
    #[serde(default = "default_rate")]
    pub failure_rate: f64,
}

fn default_history_days() -> u32 {
    35
}
fn default_rate() -> f64 {
    0.05
}

/// A job (jobs-domain.md §8.2).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobDef {
    /// Fixed id; derived from the server's and the job's names when absent.
    pub id: Option<uuid::Uuid>,
    /// Job name, unique on its backup server.
    pub name: String,
    /// Name of the job's backup server.
    pub backup_server: String,
    /// `Backup`, `Replica`, `BackupCopy` or `ImmediateBackupCopy`.
    #[serde(rename = "type")]
    pub job_type: String,
    /// `VMware` (default), `HyperV` or `vCloud`; copy jobs take none.
    pub platform: Option<String>,
    /// Free text.
    #[serde(default)]
    pub description: String,
    /// Creation date `yyyy-mm-dd`; default the clock's date at load.
    pub created: Option<String>,
    /// Whether the schedule is enabled at load (default true).
    #[serde(default = "yes")]
    pub enabled: bool,
    /// The schedule; none: not scheduled.
    pub schedule: Option<ScheduleDef>,
    /// Automatic retries (default 3 every 10 minutes).
    pub retry: Option<RetryDef>,
    /// Tasks in progress at once (default 4).
    pub max_concurrent_tasks: Option<i64>,
    /// Seconds from creation to the tasks (default 45).
    pub startup_seconds: Option<f64>,
    /// Seconds from the last task to the end (default 4).
    pub finalize_seconds: Option<f64>,
    /// Seconds running tasks take to stop (default 5).
    pub stop_seconds: Option<f64>,
    /// Backup jobs: restore points kept per VM (default 7).
    pub retain_points: Option<i64>,
    /// Backup jobs: the repository of its files (checked once the world has
    /// repositories; slice 2, backups.md).
    pub repository: Option<String>,
    /// Backup jobs: days whose first file is a full backup (default Monday).
    pub full_backup_days: Option<Vec<String>>,
    /// Backup jobs: backup size in percent of the data (default 50).
    pub compression_percent: Option<i64>,
    /// Backup jobs: increment size in percent of the VM (default 5).
    pub change_rate_percent: Option<i64>,
    /// Copy jobs: the jobs (on the same backup server) whose VMs they copy.
    pub source_jobs: Option<Vec<String>>,
    /// Backup and replication jobs: the VMs, in processing order.
    #[serde(default)]
    pub vms: Vec<JobVmDef>,
    /// Explicit past runs, kept as given (jobs-domain.md §8.4).
    #[serde(default)]
    pub sessions: Vec<JobSessionDef>,
}

/// `[[jobs.sessions]]`: a past run of the job.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobSessionDef {
    /// `CreationTimeUTC`.
    pub created: String,
    /// The session's id; default derived from the job and `created`.
    pub id: Option<uuid::Uuid>,
    /// `IsRetry` (default false).
    pub retry: Option<bool>,
    /// `ImmediateBackupCopyWorker`, on sessions of immediate copy jobs only.
    pub job_type: Option<String>,
    /// `Progress` of the finished session (default 100).
    pub progress: Option<i64>,
    /// The task sessions, in order.
    pub vms: Vec<JobSessionVmDef>,
}

/// One task session of an explicit run.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobSessionVmDef {
    /// An include of the job (or a VM of a copy job's source jobs).
    pub name: String,
    /// `Success`, `Warning` or `Failed`.
    pub result: String,
    /// `Reason`; default as jobs-domain.md §3.
    pub reason: Option<String>,
    /// Processing start.
    pub start: String,
    /// `EndTimeUTC`.
    pub end: String,
}

/// A job's schedule (jobs-domain.md §8.2, `schedule`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleDef {
    /// `Everyday`, `WeekDays`, `SelectedDays` or `Periodically`.
    pub kind: String,
    /// Daily kinds: local start time `HH:MM`.
    pub time: Option<String>,
    /// `SelectedDays`: the day names.
    pub days: Option<Vec<String>>,
    /// `Periodically`: every so many hours.
    pub every_hours: Option<i64>,
    /// `Periodically`: every so many minutes.
    pub every_minutes: Option<i64>,
    /// The backup server's offset from UTC in hours (default 0).
    #[serde(default)]
    pub utc_offset_hours: i64,
}

/// A job's automatic retries.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetryDef {
    /// Retries per scheduled run; 0 turns retries off.
    pub times: i64,
    /// Minutes between a failed run and its retry.
    pub timeout_minutes: i64,
}

/// A VM of a job (jobs-domain.md §8.3).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobVmDef {
    /// VM name.
    pub name: String,
    /// Fixed `ObjectInJobId`; derived when absent.
    pub id: Option<uuid::Uuid>,
    /// `HierarchyObjRef`; derived when absent.
    #[serde(rename = "ref")]
    pub hierarchy_ref: Option<String>,
    /// Disk size in GiB (default 40).
    pub size_gib: Option<f64>,
    /// Seconds a successful or warning attempt takes (default 300).
    pub duration_seconds: Option<f64>,
    /// Seconds a failed attempt takes (default 55).
    pub fail_seconds: Option<f64>,
    /// Outcome per attempt, the last repeating (default `["Success"]`).
    pub outcomes: Option<Vec<String>>,
    /// `Reason` of warning and failed attempts.
    pub reason: Option<String>,
    /// `Reason` per attempt, the last repeating; wins over `reason`.
    pub reasons: Option<Vec<String>>,
}
