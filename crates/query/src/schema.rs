//! Query types and their fields (query.md §3–4): each field's value kind and the
//! SQL expression it reads, over the FROM clause of its type.

/// How a field's values are read and compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Text, compared case-insensitively (ASCII letters).
    Text,
    /// A UID of this URN type, or a bare GUID.
    Uid(&'static str),
    /// A date-time.
    Time,
    /// An integer.
    Int,
    /// A boolean (stored 0/1).
    Bool,
    /// An enumeration: (name in the API, value stored) in index order.
    Enum(&'static [(&'static str, &'static str)]),
    /// A task id `task-<n>`, compared by number.
    TaskId,
}

/// A queryable field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    /// Name, matched case-insensitively.
    pub name: &'static str,
    /// Other accepted names.
    pub aliases: &'static [&'static str],
    /// What kind of value the field holds; decides parsing and operators.
    pub kind: Kind,
    /// SQL expression over the type's FROM clause (a constant, never user text).
    pub column: &'static str,
    /// Whether the column can be NULL (only those get an explicit NULLS order,
    /// which would keep indexes from serving the sort).
    pub nullable: bool,
}

const fn f(name: &'static str, kind: Kind, column: &'static str) -> Field {
    Field {
        name,
        aliases: &[],
        kind,
        column,
        nullable: false,
    }
}

const fn nullable(name: &'static str, kind: Kind, column: &'static str) -> Field {
    Field {
        name,
        aliases: &[],
        kind,
        column,
        nullable: true,
    }
}

/// A query type of this contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QueryType {
    /// `type=BackupServer`
    BackupServer,
    /// `type=CloudTenant`
    CloudTenant,
    /// `type=CloudReplica`
    CloudReplica,
    /// `type=CloudVmReplicaPoint`
    CloudVmReplicaPoint,
    /// `type=CloudFailoverPlan`
    CloudFailoverPlan,
    /// `type=CloudFailoverSession`
    CloudFailoverSession,
    /// `type=Task`
    Task,
    /// `type=Job` (slice 2, resources/jobs.md §6): answered in memory
    /// ([`QueryType::in_memory`]), its `NextRun` being derived from the clock.
    Job,
    /// `type=BackupJobSession` (job-sessions.md §8): in memory, states derived from the clock.
    BackupJobSession,
    /// `type=ReplicaJobSession`.
    ReplicaJobSession,
    /// `type=BackupTaskSession`.
    BackupTaskSession,
    /// `type=ReplicaTaskSession`.
    ReplicaTaskSession,
}

/// Why a `type` value is not served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TypeLookup {
    /// Not a query type at all (400).
    Unknown,
    /// A type EM has that this server does not implement (501).
    NotImplemented,
}

/// Query types EM knows (the querySvc list) that this contract does not cover.
const OTHER_EM_TYPES: &[&str] = &[
    "VmRestorePoint",
    "VAppRestorePoint",
    "VmReplicaPoint",
    "RestorePoint",
    "RestoreSession",
    "Repository",
    "Backup",
    "Replica",
    "HierarchyRoot",
    "ManagedServer",
    "FailoverPlan",
    "WanAccelerator",
    "CloudGateway",
    "Passwords",
    "Credentials",
    "BackupFile",
    "VCloudOrganizationConfig",
    "CloudSubtenant",
    "CloudHardwarePlan",
    "CloudPublicIpAddress",
    "AgentBackupJob",
    "AgentRestorePoint",
    "AgentProtectionGroup",
    "DiscoveredComputer",
    "CloudGatewayPool",
    "VSphereSelfServiceConfig",
    "ExternalRepository",
    "NasJob",
    "FileServer",
    "VAppReplicaPoint",
];

const SESSION_STATES: &[(&str, &str)] = &[
    ("Starting", "Starting"),
    ("Stopping", "Stopping"),
    ("Working", "Working"),
    ("Stopped", "Stopped"),
];
const SESSION_RESULTS: &[(&str, &str)] = &[
    ("None", "None"),
    ("Success", "Success"),
    ("Warning", "Warning"),
    ("Failed", "Failed"),
];
const POINT_TYPES: &[(&str, &str)] = &[
    ("CDP", "CDP"),
    ("Full", "Full"),
    ("ReverseIncrement", "ReverseIncrement"),
    ("Increment", "Increment"),
    ("Snapshot", "Snapshot"),
];
const POINT_STATES: &[(&str, &str)] = &[
    ("Unknown", "Unknown"),
    ("Ready", "Ready"),
    ("Failover", "Failover"),
    ("Failback", "Failback"),
    ("PermanentFailover", "PermanentFailover"),
];
const PLATFORMS: &[(&str, &str)] = &[
    ("VMware", "VMware"),
    ("HyperV", "HyperV"),
    ("vCloud", "vCloud"),
];
const TENANT_TYPES: &[(&str, &str)] = &[
    ("vCD", "VCloud"),
    ("Standalone", "Standalone"),
    ("ActiveDirectory", "ActiveDirectory"),
];
const TASK_STATES: &[(&str, &str)] = &[
    ("Running", "Running"),
    ("OperationFinished", "OperationFinished"),
    ("Finished", "Finished"),
];

const SERVER_FIELDS: &[Field] = &[
    f("UID", Kind::Uid("BackupServer"), "b.id"),
    f("Name", Kind::Text, "b.name"),
    f("Description", Kind::Text, "b.description"),
    f("IpOrDnsName", Kind::Text, "b.name"),
    f("Port", Kind::Int, "b.port"),
    f("Version", Kind::Text, "b.version"),
];

const TENANT_FIELDS: &[Field] = &[
    f("UID", Kind::Uid("CloudTenant"), "t.id"),
    f("Name", Kind::Text, "t.name"),
    f("Enabled", Kind::Bool, "t.enabled"),
    Field {
        name: "BackupServerUid",
        aliases: &["BackupServerUId"],
        kind: Kind::Uid("BackupServer"),
        column: "t.backup_server_id",
        nullable: false,
    },
    f(
        "BackupServerName",
        Kind::Text,
        "(SELECT bs.name FROM backup_servers bs WHERE bs.id = t.backup_server_id)",
    ),
    f("Type", Kind::Enum(TENANT_TYPES), "t.kind"),
    nullable("OrganizationReference", Kind::Text, "t.org_ref"),
];

const REPLICA_FIELDS: &[Field] = &[
    f("UID", Kind::Uid("CloudReplica"), "r.id"),
    f("Name", Kind::Text, "r.name"),
    f("Platform", Kind::Enum(PLATFORMS), "r.platform"),
];

const POINT_FIELDS: &[Field] = &[
    f("UID", Kind::Uid("CloudVmReplicaPoint"), "p.id"),
    nullable("Name", Kind::Text, "p.name"),
    f("CreationTime", Kind::Time, "p.creation_time"),
    f("VmName", Kind::Text, "p.vm_name"),
    f("Type", Kind::Enum(POINT_TYPES), "p.point_type"),
    f("ReplicaUid", Kind::Uid("CloudReplica"), "p.replica_id"),
    f("ReplicaName", Kind::Text, "r.name"),
    f("VmDisplayName", Kind::Text, "p.vm_display_name"),
    f(
        "BackupServerUid",
        Kind::Uid("BackupServer"),
        "r.backup_server_id",
    ),
    f(
        "BackupServerName",
        Kind::Text,
        "(SELECT bs.name FROM backup_servers bs WHERE bs.id = r.backup_server_id)",
    ),
    f("State", Kind::Enum(POINT_STATES), "p.state"),
];

const PLAN_FIELDS: &[Field] = &[
    f("UID", Kind::Uid("CloudFailoverPlan"), "p.id"),
    f("Name", Kind::Text, "p.name"),
    nullable("Description", Kind::Text, "p.description"),
    f("CloudTenantUid", Kind::Uid("CloudTenant"), "p.tenant_id"),
    f(
        "CloudTenantName",
        Kind::Text,
        "(SELECT tn.name FROM tenants tn WHERE tn.id = p.tenant_id)",
    ),
    f(
        "BackupServerUid",
        Kind::Uid("BackupServer"),
        "p.backup_server_id",
    ),
    f(
        "BackupServerName",
        Kind::Text,
        "(SELECT bs.name FROM backup_servers bs WHERE bs.id = p.backup_server_id)",
    ),
];

const SESSION_FIELDS: &[Field] = &[
    f("UID", Kind::Uid("CloudFailoverSession"), "s.id"),
    f("Name", Kind::Text, "s.plan_name"),
    f(
        "Type",
        Kind::Enum(&[("FailoverPlan", "FailoverPlan")]),
        "'FailoverPlan'",
    ),
    f("CreationTime", Kind::Time, "s.creation_time"),
    nullable("EndTime", Kind::Time, "s.end_time"),
    f("State", Kind::Enum(SESSION_STATES), "s.state"),
    f("Result", Kind::Enum(SESSION_RESULTS), "s.result"),
    nullable("FailureMessage", Kind::Text, "s.failure_message"),
    f(
        "BackupServerUid",
        Kind::Uid("BackupServer"),
        "s.backup_server_id",
    ),
    f(
        "BackupServerName",
        Kind::Text,
        "(SELECT bs.name FROM backup_servers bs WHERE bs.id = s.backup_server_id)",
    ),
];

const TASK_FIELDS: &[Field] = &[
    Field {
        name: "TaskId",
        aliases: &["TaskUid"],
        kind: Kind::TaskId,
        column: "k.number",
        nullable: false,
    },
    f("State", Kind::Enum(TASK_STATES), "k.state"),
    f("Operation", Kind::Text, "k.operation"),
];

/// `JobType` members in index order (jobs.md §6).
const JOB_TYPES: &[(&str, &str)] = &[
    ("Backup", "Backup"),
    ("BackupCopy", "BackupCopy"),
    ("ImmediateBackupCopy", "ImmediateBackupCopy"),
    ("Replica", "Replica"),
];
const JOB_PLATFORMS: &[(&str, &str)] = &[
    ("VMware", "VMware"),
    ("HyperV", "HyperV"),
    ("vCloud", "vCloud"),
    ("CustomPlatform", "CustomPlatform"),
];

/// Job session states (job-sessions.md §8.1), in index order.
const JOB_SESSION_STATES: &[(&str, &str)] = &[
    ("Starting", "Starting"),
    ("Stopping", "Stopping"),
    ("Working", "Working"),
    ("Pausing", "Pausing"),
    ("Resuming", "Resuming"),
    ("Stopped", "Stopped"),
];
const BACKUP_SESSION_JOB_TYPES: &[(&str, &str)] = &[
    ("Backup", "Backup"),
    ("BackupCopy", "BackupCopy"),
    ("ImmediateBackupCopy", "ImmediateBackupCopy"),
    ("ImmediateBackupCopyWorker", "ImmediateBackupCopyWorker"),
    ("AgentBackup", "AgentBackup"),
    ("AgentManagement", "AgentManagement"),
    ("NasBackup", "NasBackup"),
];
const REPLICA_SESSION_JOB_TYPES: &[(&str, &str)] = &[("Replica", "Replica")];
const TASK_SESSION_STATES: &[(&str, &str)] = &[
    ("InProgress", "InProgress"),
    ("Pending", "Pending"),
    ("Completed", "Completed"),
];

/// The fields of a job session type (job-sessions.md §8.1); answered in memory,
/// in this order.
macro_rules! job_session_fields {
    ($uid:literal, $types:expr) => {
        &[
            f("UID", Kind::Uid($uid), "NULL"),
            f("Name", Kind::Text, "NULL"),
            f("JobType", Kind::Enum($types), "NULL"),
            f("JobUid", Kind::Uid("Job"), "NULL"),
            f("JobName", Kind::Text, "NULL"),
            f("CreationTime", Kind::Time, "NULL"),
            nullable("EndTime", Kind::Time, "NULL"),
            f("State", Kind::Enum(JOB_SESSION_STATES), "NULL"),
            f("Result", Kind::Enum(SESSION_RESULTS), "NULL"),
            f("IsRetry", Kind::Bool, "NULL"),
            f("BackupServerUid", Kind::Uid("BackupServer"), "NULL"),
            f("BackupServerName", Kind::Text, "NULL"),
        ]
    };
}

/// The fields of a task session type (job-sessions.md §8.1), in this order.
macro_rules! task_session_fields {
    ($uid:literal, $session:literal) => {
        &[
            f("UID", Kind::Uid($uid), "NULL"),
            f("Name", Kind::Text, "NULL"),
            f("CreationTime", Kind::Time, "NULL"),
            nullable("EndTime", Kind::Time, "NULL"),
            f("State", Kind::Enum(TASK_SESSION_STATES), "NULL"),
            f("Result", Kind::Enum(SESSION_RESULTS), "NULL"),
            f("Reason", Kind::Text, "NULL"),
            f("TotalSize", Kind::Int, "NULL"),
            f("JobSessionUid", Kind::Uid($session), "NULL"),
            f("JobUid", Kind::Uid("Job"), "NULL"),
            f("JobName", Kind::Text, "NULL"),
            f("BackupServerUid", Kind::Uid("BackupServer"), "NULL"),
            f("BackupServerName", Kind::Text, "NULL"),
            f("VmDisplayName", Kind::Text, "NULL"),
        ]
    };
}

const BACKUP_JOB_SESSION_FIELDS: &[Field] =
    job_session_fields!("BackupJobSession", BACKUP_SESSION_JOB_TYPES);
const REPLICA_JOB_SESSION_FIELDS: &[Field] =
    job_session_fields!("ReplicaJobSession", REPLICA_SESSION_JOB_TYPES);
const BACKUP_TASK_SESSION_FIELDS: &[Field] =
    task_session_fields!("BackupTaskSession", "BackupJobSession");
const REPLICA_TASK_SESSION_FIELDS: &[Field] =
    task_session_fields!("ReplicaTaskSession", "ReplicaJobSession");

/// Job fields. Jobs are answered in memory: the columns name what each field
/// reads (`NextRun` has none, it is derived from the schedule and the clock).
const JOB_FIELDS: &[Field] = &[
    f("UID", Kind::Uid("Job"), "j.id"),
    f("Name", Kind::Text, "j.name"),
    f("Description", Kind::Text, "NULL"),
    nullable("NextRun", Kind::Time, "NULL"),
    f("JobType", Kind::Enum(JOB_TYPES), "j.job_type"),
    f("Platform", Kind::Enum(JOB_PLATFORMS), "NULL"),
    f("ScheduleConfigured", Kind::Bool, "NULL"),
    f("ScheduleEnabled", Kind::Bool, "j.schedule_enabled"),
    f(
        "BackupServerUid",
        Kind::Uid("BackupServer"),
        "j.backup_server_id",
    ),
    f(
        "BackupServerName",
        Kind::Text,
        "(SELECT bs.name FROM backup_servers bs WHERE bs.id = j.backup_server_id)",
    ),
];

impl QueryType {
    /// Every type of this contract.
    pub const ALL: &'static [QueryType] = &[
        QueryType::BackupServer,
        QueryType::CloudTenant,
        QueryType::CloudReplica,
        QueryType::CloudVmReplicaPoint,
        QueryType::CloudFailoverPlan,
        QueryType::CloudFailoverSession,
        QueryType::Task,
        QueryType::Job,
        QueryType::BackupJobSession,
        QueryType::ReplicaJobSession,
        QueryType::BackupTaskSession,
        QueryType::ReplicaTaskSession,
    ];

    /// Whether the type is answered in memory ([`crate::eval::select`]) rather
    /// than in SQL: values derived at request time, and few rows.
    pub fn in_memory(self) -> bool {
        matches!(
            self,
            QueryType::Job
                | QueryType::BackupJobSession
                | QueryType::ReplicaJobSession
                | QueryType::BackupTaskSession
                | QueryType::ReplicaTaskSession
        )
    }

    /// The type's name.
    pub fn name(self) -> &'static str {
        match self {
            QueryType::BackupServer => "BackupServer",
            QueryType::CloudTenant => "CloudTenant",
            QueryType::CloudReplica => "CloudReplica",
            QueryType::CloudVmReplicaPoint => "CloudVmReplicaPoint",
            QueryType::CloudFailoverPlan => "CloudFailoverPlan",
            QueryType::CloudFailoverSession => "CloudFailoverSession",
            QueryType::Task => "Task",
            QueryType::Job => "Job",
            QueryType::BackupJobSession => "BackupJobSession",
            QueryType::ReplicaJobSession => "ReplicaJobSession",
            QueryType::BackupTaskSession => "BackupTaskSession",
            QueryType::ReplicaTaskSession => "ReplicaTaskSession",
        }
    }

    /// The list element of this type inside `Entities` (or `Resources` for tasks),
    /// query.md §3; also the JSON key of its array.
    pub fn list_element(self) -> &'static str {
        match self {
            QueryType::BackupServer => "BackupServers",
            QueryType::CloudTenant => "CloudTenants",
            QueryType::CloudReplica => "CloudReplicas",
            QueryType::CloudVmReplicaPoint => "CloudVmReplicaPoints",
            QueryType::CloudFailoverPlan => "CloudFailoverPlans",
            QueryType::CloudFailoverSession => "CloudFailoverSessions",
            QueryType::Task => "Tasks",
            QueryType::Job => "Jobs",
            QueryType::BackupJobSession => "BackupJobSessions",
            QueryType::ReplicaJobSession => "ReplicaJobSessions",
            QueryType::BackupTaskSession => "BackupTaskSessions",
            QueryType::ReplicaTaskSession => "ReplicaTaskSessions",
        }
    }

    /// Looks a `type` value up, case-insensitively.
    pub fn parse(name: &str) -> Result<QueryType, TypeLookup> {
        if let Some(t) = Self::ALL
            .iter()
            .find(|t| t.name().eq_ignore_ascii_case(name.trim()))
        {
            return Ok(*t);
        }
        if OTHER_EM_TYPES
            .iter()
            .any(|t| t.eq_ignore_ascii_case(name.trim()))
        {
            Err(TypeLookup::NotImplemented)
        } else {
            Err(TypeLookup::Unknown)
        }
    }

    /// The type's fields.
    pub fn fields(self) -> &'static [Field] {
        match self {
            QueryType::BackupServer => SERVER_FIELDS,
            QueryType::CloudTenant => TENANT_FIELDS,
            QueryType::CloudReplica => REPLICA_FIELDS,
            QueryType::CloudVmReplicaPoint => POINT_FIELDS,
            QueryType::CloudFailoverPlan => PLAN_FIELDS,
            QueryType::CloudFailoverSession => SESSION_FIELDS,
            QueryType::Task => TASK_FIELDS,
            QueryType::Job => JOB_FIELDS,
            QueryType::BackupJobSession => BACKUP_JOB_SESSION_FIELDS,
            QueryType::ReplicaJobSession => REPLICA_JOB_SESSION_FIELDS,
            QueryType::BackupTaskSession => BACKUP_TASK_SESSION_FIELDS,
            QueryType::ReplicaTaskSession => REPLICA_TASK_SESSION_FIELDS,
        }
    }

    /// A field by name or alias, case-insensitively.
    pub fn field(self, name: &str) -> Option<&'static Field> {
        self.fields().iter().find(|f| {
            f.name.eq_ignore_ascii_case(name)
                || f.aliases.iter().any(|a| a.eq_ignore_ascii_case(name))
        })
    }

    /// The sort field when none is given (query.md §6).
    pub fn default_sort(self) -> &'static Field {
        let name = match self {
            QueryType::CloudFailoverSession
            | QueryType::CloudVmReplicaPoint
            | QueryType::BackupJobSession
            | QueryType::ReplicaJobSession
            | QueryType::BackupTaskSession
            | QueryType::ReplicaTaskSession => "CreationTime",
            QueryType::Task => "TaskId",
            _ => "Name",
        };
        self.field(name).expect("default sort fields exist")
    }

    /// FROM clause (constant SQL).
    pub fn from_clause(self) -> &'static str {
        match self {
            QueryType::BackupServer => "backup_servers b",
            QueryType::CloudTenant => "tenants t",
            QueryType::CloudReplica => "replicas r",
            QueryType::CloudVmReplicaPoint => {
                "vm_replica_points p JOIN replicas r ON r.id = p.replica_id"
            }
            QueryType::CloudFailoverPlan => "plans p",
            QueryType::CloudFailoverSession => "failover_sessions s",
            QueryType::Task => "tasks k",
            QueryType::Job => "jobs j",
            // Answered in memory, never in SQL.
            QueryType::BackupJobSession
            | QueryType::ReplicaJobSession
            | QueryType::BackupTaskSession
            | QueryType::ReplicaTaskSession => "job_sessions js",
        }
    }

    /// The key column, which is also the tie-breaker of every sort.
    pub fn id_column(self) -> &'static str {
        match self {
            QueryType::BackupServer => "b.id",
            QueryType::CloudTenant => "t.id",
            QueryType::CloudReplica => "r.id",
            QueryType::CloudVmReplicaPoint => "p.id",
            QueryType::CloudFailoverPlan => "p.id",
            QueryType::CloudFailoverSession => "s.id",
            QueryType::Task => "k.number",
            QueryType::Job => "j.id",
            QueryType::BackupJobSession
            | QueryType::ReplicaJobSession
            | QueryType::BackupTaskSession
            | QueryType::ReplicaTaskSession => "js.id",
        }
    }

    /// The column holding the owning tenant, for tenant scoping.
    pub fn tenant_column(self) -> Option<&'static str> {
        match self {
            QueryType::CloudReplica | QueryType::CloudVmReplicaPoint => Some("r.tenant_id"),
            QueryType::CloudFailoverPlan => Some("p.tenant_id"),
            QueryType::CloudFailoverSession => Some("s.tenant_id"),
            _ => None,
        }
    }
}
