//! The storage interface of entman.
//!
//! Handlers and the engine hold an `Arc<dyn Store>`; the SQLite and PostgreSQL
//! backends (crate `entman-store-sql`) implement it and pass the same test story.
//! Everything the API shows lives behind this trait, so a restarted server shows
//! exactly what it showed before.
//!
//! Text values must not contain NUL characters (PostgreSQL cannot store them);
//! the request parsers refuse them before they get here.

use async_trait::async_trait;
use entman_model::auth::{Account, LogonSession};
use entman_model::ids::*;
use entman_model::job::Job;
use entman_model::job_session::{JobSession, SessionKind};
use entman_model::plan::{Plan, PlanOptions, PlanState};
use entman_model::replica::{PointState, Replica, VmReplicaPoint};
use entman_model::server::BackupServer;
use entman_model::session::{FailoverSession, SessionResult, SessionState};
use entman_model::task::Task;
use entman_model::tenant::Tenant;
use entman_model::Timestamp;
use uuid::Uuid;

/// Errors of a store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The object does not exist.
    #[error("not found")]
    NotFound,
    /// A uniqueness or reference rule was broken (e.g. a duplicate server name).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The database cannot be reached or answered with an error (the driver's
    /// error is kept as the source).
    #[error("database error: {0}")]
    Backend(#[source] BoxError),
    /// Stored data could not be decoded (corruption or a schema mismatch).
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
}

/// The cause of a [`StoreError::Backend`]: the driver's error, or a message.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Result type of store calls.
pub type StoreResult<T> = Result<T, StoreError>;

/// One value of a stored row, as a snapshot holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cell {
    /// SQL `NULL`.
    Null,
    /// An integer column (`BIGINT`; instants are microseconds since the epoch).
    Int(i64),
    /// A text column.
    Text(String),
}

/// The rows of one table, in a fixed order, for a snapshot of the whole state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableRows {
    /// The table's name in the schema.
    pub name: String,
    /// Its column names, in the order of each row's cells.
    pub columns: Vec<String>,
    /// Every row, one cell per column.
    pub rows: Vec<Vec<Cell>>,
}

/// Which objects a caller may see: everything, or one tenant's own objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Provider accounts see every object.
    All,
    /// A tenant sees its own plans, replicas, points and sessions.
    Tenant(TenantId),
}

impl Scope {
    /// Whether an object owned by `owner` is visible in this scope.
    pub fn allows(&self, owner: TenantId) -> bool {
        match self {
            Scope::All => true,
            Scope::Tenant(t) => *t == owner,
        }
    }
}

/// One page of a query: how many rows match in all, and the keys of the page's
/// rows in order (GUIDs as text; task numbers for tasks).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryPage {
    /// Rows matching the query on every page (what `PagesCount` is computed from).
    pub total: u64,
    /// The keys of this page's rows, in the query's order.
    pub keys: Vec<String>,
}

pub use entman_query::sql::Restriction;

/// What a query index keeps of a session: the fields `type=CloudFailoverSession`
/// filters and sorts on (query.md §4), the owner, and the revision of the
/// transaction that last wrote the row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionKeys {
    /// The session's id (`UID`).
    pub id: SessionId,
    /// The plan's name at the time of the run (`Name`).
    pub plan_name: String,
    /// The plan's owner, for the tenant restriction.
    pub tenant_id: TenantId,
    /// The backup server the plan belongs to (`BackupServerUid`, `BackupServerName`).
    pub backup_server_id: BackupServerId,
    /// When the session started (`CreationTime`).
    pub creation_time: Timestamp,
    /// When it ended, once `Stopped` (`EndTime`).
    pub end_time: Option<Timestamp>,
    /// `State`.
    pub state: SessionState,
    /// `Result`.
    pub result: entman_model::session::SessionResult,
    /// `FailureMessage`, when the session failed or warned.
    pub failure_message: Option<String>,
    /// The revision of the transaction that last wrote the row.
    pub revision: i64,
}

/// What one step of the engine changed in a running session.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionUpdate<'a> {
    /// The session as it is now.
    pub session: &'a FailoverSession,
    /// The tasks (indexes into `session.tasks`) whose state changed.
    pub tasks: Vec<usize>,
    /// Whether the session's own stored columns (state, result, end time,
    /// message) changed. A VM ending and the next one starting changes only
    /// tasks: the session row, its indexes and its revision are left alone.
    pub row: bool,
}

impl SessionUpdate<'_> {
    /// An update of the session row and of the listed tasks.
    pub fn new(session: &FailoverSession, tasks: Vec<usize>) -> SessionUpdate<'_> {
        SessionUpdate {
            session,
            tasks,
            row: true,
        }
    }
}

/// Where a [`SessionStore::scan_sessions`] stood.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionScan {
    /// The deletion epoch: when it moves, sessions were deleted and a reader
    /// starts over.
    pub epoch: i64,
    /// The revision of the last write committed before the scan read its rows.
    pub revision: i64,
}

/// Session rows written since a point, with the deletion epoch read before them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionChanges {
    /// Moves whenever sessions were deleted; a reader that saw another epoch must
    /// start over.
    pub epoch: i64,
    /// In `(revision, id)` order.
    pub rows: Vec<SessionKeys>,
}

pub mod tracked;
pub use tracked::Tracked;

/// Where a tenant's logon credentials come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantCredential {
    /// Tenant the credential logs on as.
    pub tenant_id: TenantId,
    /// PHC string of the password hash.
    pub password_hash: String,
}

/// The storage interface: every part of it, as handlers and the engine hold it
/// (`Arc<dyn Store>`). Each part is a trait of its own, by resource, so that a
/// backend implements one resource in one place. Every method is one consistent
/// unit of work.
pub trait Store:
    AdminStore
    + ServerStore
    + TenantStore
    + ReplicaStore
    + PlanStore
    + SessionStore
    + AccountStore
    + TaskStore
    + JobStore
    + JobSessionStore
{
}

impl<
        T: AdminStore
            + ServerStore
            + TenantStore
            + ReplicaStore
            + PlanStore
            + SessionStore
            + AccountStore
            + TaskStore
            + JobStore
            + JobSessionStore,
    > Store for T
{
}

/// The state as a whole: backend facts, change tracking, metadata, clearing, snapshots.
#[async_trait]
pub trait AdminStore: Send + Sync + 'static {
    /// A short name of the backend, for logs (`sqlite`, `postgres`).
    fn backend(&self) -> &'static str;

    /// A number that moves whenever a write changes what the API shows, or `None`
    /// when the store does not track its writes (then nothing may be cached over
    /// it). See [`Tracked`].
    fn state_version(&self) -> Option<u64> {
        None
    }

    /// A number that moves whenever the stored job runs may have changed (every
    /// write but those of failover sessions), or `None` when the store does not
    /// track its writes: a reader may keep what it read of the job runs while it
    /// stays the same. Noted before reading, like [`AdminStore::state_version`].
    fn job_runs_version(&self) -> Option<u64> {
        None
    }

    /// Moves [`AdminStore::state_version`] without a write: what readers derive from
    /// the stored state and the clock (the progress of running sessions) moved.
    fn mark_changed(&self) {}

    /// A number that changes when another writer (another process on the same
    /// database file, another connection) committed; `None` when the backend cannot
    /// tell. [`Tracked`] polls it so that its version also moves for writes it did
    /// not see.
    async fn change_marker(&self) -> StoreResult<Option<u64>> {
        Ok(None)
    }

    /// Connections of the store's pools by state (`idle`, `in_use`), for metrics.
    fn pool_connections(&self) -> Vec<(&'static str, u64)> {
        Vec::new()
    }

    /// Reads a metadata value.
    async fn meta(&self, key: &str) -> StoreResult<Option<String>>;

    /// Writes a metadata value.
    async fn set_meta(&self, key: &str, value: &str) -> StoreResult<()>;

    /// Removes every world object (servers, tenants and their logins, replicas,
    /// points, plans), every failover session and every task of a logon
    /// session, in one transaction; logon sessions stay. Accounts stay, except
    /// when `keep_accounts` names the only ones to keep (their logon sessions
    /// go with the others).
    async fn clear_world(&self, keep_accounts: Option<&[String]>) -> StoreResult<()>;

    /// Every row of the state's tables (world, sessions and their tasks, accounts,
    /// logon sessions and their tasks, the recorded world), each table in a fixed
    /// order; `Conflict` when there are more than `max_sessions` sessions.
    async fn dump(&self, max_sessions: u64) -> StoreResult<Vec<TableRows>>;

    /// Replaces the state with a [`AdminStore::dump`], in one transaction. Tables and
    /// columns must be the store's own; `Conflict` names what does not fit.
    async fn restore(&self, tables: &[TableRows]) -> StoreResult<()>;
}

/// Backup servers.
#[async_trait]
pub trait ServerStore: Send + Sync + 'static {
    /// All backup servers, by name.
    async fn list_servers(&self) -> StoreResult<Vec<BackupServer>>;

    /// One backup server.
    async fn get_server(&self, id: BackupServerId) -> StoreResult<BackupServer>;

    /// Adds a server; `Conflict` when its name is taken. `password_hash` is kept, never shown.
    async fn insert_server(
        &self,
        server: &BackupServer,
        password_hash: Option<&str>,
    ) -> StoreResult<()>;

    /// Replaces a server's fields; `Conflict` when the new name is taken.
    async fn update_server(
        &self,
        server: &BackupServer,
        password_hash: Option<&str>,
    ) -> StoreResult<()>;

    /// Removes a server and every cloud object below it.
    async fn delete_server(&self, id: BackupServerId) -> StoreResult<()>;
}

/// Cloud tenants and their logins.
#[async_trait]
pub trait TenantStore: Send + Sync + 'static {
    /// All tenants, by name.
    async fn list_tenants(&self) -> StoreResult<Vec<Tenant>>;

    /// One tenant.
    async fn get_tenant(&self, id: TenantId) -> StoreResult<Tenant>;

    /// Adds a tenant with the hash of its logon password.
    async fn insert_tenant(&self, tenant: &Tenant, password_hash: Option<&str>) -> StoreResult<()>;

    /// Finds tenant credentials by logon key (standalone user name, or
    /// `organization\login` for vCloud users), case-insensitively.
    async fn tenant_credential(&self, login_key: &str) -> StoreResult<Option<TenantCredential>>;

    /// Replaces the password hash of a tenant logon key; `NotFound` when unknown.
    async fn set_tenant_password(&self, login_key: &str, password_hash: &str) -> StoreResult<()>;

    /// Registers an additional logon key for a tenant (vCloud organization users).
    async fn insert_tenant_login(
        &self,
        login_key: &str,
        cred: &TenantCredential,
    ) -> StoreResult<()>;
}

/// Cloud replicas and their VM replica points.
#[async_trait]
pub trait ReplicaStore: Send + Sync + 'static {
    /// Replicas visible in the scope, by name.
    async fn list_replicas(&self, scope: Scope) -> StoreResult<Vec<Replica>>;

    /// One replica, if visible.
    async fn get_replica(&self, scope: Scope, id: ReplicaId) -> StoreResult<Replica>;

    /// Adds a replica.
    async fn insert_replica(&self, replica: &Replica) -> StoreResult<()>;

    /// Points visible in the scope (optionally of one replica), by creation time.
    async fn list_points(
        &self,
        scope: Scope,
        replica: Option<ReplicaId>,
    ) -> StoreResult<Vec<VmReplicaPoint>>;

    /// One point, if visible.
    async fn get_point(&self, scope: Scope, id: PointId) -> StoreResult<VmReplicaPoint>;

    /// Adds a point.
    async fn insert_point(&self, point: &VmReplicaPoint) -> StoreResult<()>;

    /// Changes a point's state.
    async fn set_point_state(&self, id: PointId, state: PointState) -> StoreResult<()>;
}

/// Cloud failover plans.
#[async_trait]
pub trait PlanStore: Send + Sync + 'static {
    /// Plans visible in the scope, by name, with their VMs.
    async fn list_plans(&self, scope: Scope) -> StoreResult<Vec<Plan>>;

    /// One plan, if visible.
    async fn get_plan(&self, scope: Scope, id: PlanId) -> StoreResult<Plan>;

    /// Adds a plan with its VMs.
    async fn insert_plan(&self, plan: &Plan) -> StoreResult<()>;

    /// Replaces a plan's script options.
    async fn update_plan_options(&self, id: PlanId, options: &PlanOptions) -> StoreResult<()>;

    /// Changes the internal plan state.
    async fn set_plan_state(&self, id: PlanId, state: PlanState) -> StoreResult<()>;

    /// Changes the plan state only if it is `from`; returns whether it changed. This
    /// is the atomic check that two concurrent starts cannot both pass.
    async fn try_set_plan_state(
        &self,
        id: PlanId,
        from: PlanState,
        to: PlanState,
    ) -> StoreResult<bool>;

    /// Removes a plan and its VMs (its sessions stay).
    async fn delete_plan(&self, id: PlanId) -> StoreResult<()>;
}

/// Failover sessions, their VM tasks, and the query service over them.
#[async_trait]
pub trait SessionStore: Send + Sync + 'static {
    /// How many sessions are in each (state, result) pair, for metrics. Pairs
    /// without sessions may be left out.
    async fn session_tally(&self) -> StoreResult<Vec<(SessionState, SessionResult, u64)>>;

    /// Sessions visible in the scope created at or after `since`, oldest first.
    async fn list_sessions(
        &self,
        scope: Scope,
        since: Option<Timestamp>,
    ) -> StoreResult<Vec<FailoverSession>>;

    /// One page of [`SessionStore::list_sessions`]: at most `limit` sessions after the
    /// key `after` (creation time, id) in `(creation_time, id)` order, for lists
    /// too long to hold in memory. `with_tasks: false` leaves their task lists empty
    /// (reference lists do not show them).
    async fn list_sessions_page(
        &self,
        scope: Scope,
        since: Option<Timestamp>,
        after: Option<(Timestamp, SessionId)>,
        limit: u64,
        with_tasks: bool,
    ) -> StoreResult<Vec<FailoverSession>>;

    /// One session, if visible.
    async fn get_session(&self, scope: Scope, id: SessionId) -> StoreResult<FailoverSession>;

    /// Writes a session and its tasks (insert or full replace).
    async fn save_session(&self, session: &FailoverSession) -> StoreResult<()>;

    /// Writes several sessions in one transaction (the engine's batch per step).
    async fn save_sessions(&self, sessions: &[FailoverSession]) -> StoreResult<()>;

    /// Writes what changed in stored sessions as they run: the session's own
    /// columns where [`SessionUpdate::row`] says they changed, and those of the
    /// listed tasks. Everything in one transaction.
    async fn update_sessions(&self, updates: &[SessionUpdate<'_>]) -> StoreResult<()>;

    /// Every session that has not reached `Stopped`, oldest first.
    async fn list_active_sessions(&self) -> StoreResult<Vec<FailoverSession>>;

    /// The id and state of every session that has not reached `Stopped`.
    async fn active_session_states(&self) -> StoreResult<Vec<(SessionId, SessionState)>>;

    /// The unfinished session of a plan, if any.
    async fn active_session_of_plan(&self, plan: PlanId) -> StoreResult<Option<SessionId>>;

    /// Sessions by id, in the order given (unknown ids are skipped); without
    /// `with_tasks` their task lists are left empty (references do not show them).
    async fn sessions_by_ids(
        &self,
        ids: &[SessionId],
        with_tasks: bool,
    ) -> StoreResult<Vec<FailoverSession>>;

    /// Every session row, in no particular order (a sequential read), handed to
    /// `sink` one by one. Returns the deletion epoch and the revision of the last
    /// committed write, read before the rows: every later change has a higher
    /// revision, so [`SessionStore::session_changes`] after `(revision, max id)` finds it.
    async fn scan_sessions(
        &self,
        sink: &mut (dyn FnMut(SessionKeys) + Send),
    ) -> StoreResult<SessionScan>;

    /// At most `limit` session rows after the key `after` in `(revision, id)` order
    /// (all rows from the start when `None`). Revisions grow with every write, so
    /// a reader that remembers the last key it saw reads only what changed.
    async fn session_changes(
        &self,
        after: Option<(i64, SessionId)>,
        limit: u64,
    ) -> StoreResult<SessionChanges>;

    /// Runs a checked query in the database: counts the matching rows and returns
    /// the keys of rows `offset .. offset + limit` in the query's order.
    async fn query_page(
        &self,
        query: &entman_query::CheckedQuery,
        restriction: &Restriction,
        offset: u64,
        limit: u64,
    ) -> StoreResult<QueryPage>;
}

/// Accounts and logon sessions.
#[async_trait]
pub trait AccountStore: Send + Sync + 'static {
    /// How many logon sessions are stored (idle ones not yet purged included).
    async fn logon_count(&self) -> StoreResult<u64>;

    /// Finds an account by name, case-insensitively.
    async fn account_by_name(&self, name: &str) -> StoreResult<Option<Account>>;

    /// Adds or replaces an account (matched by name).
    async fn upsert_account(&self, account: &Account) -> StoreResult<()>;

    /// All accounts, by name.
    async fn list_accounts(&self) -> StoreResult<Vec<Account>>;

    /// Removes an account by name.
    async fn delete_account(&self, name: &str) -> StoreResult<()>;

    /// Adds a logon session reachable by the hash of its token.
    async fn insert_logon(&self, session: &LogonSession, token_hash: &str) -> StoreResult<()>;

    /// Finds the logon session of a token hash; returns it with the stored hash.
    async fn logon_by_token(&self, token_hash: &str)
        -> StoreResult<Option<(LogonSession, String)>>;
    /// One logon session.
    async fn get_logon(&self, id: LogonSessionId) -> StoreResult<LogonSession>;

    /// Records activity on a logon session.
    async fn touch_logon(&self, id: LogonSessionId, at: Timestamp) -> StoreResult<()>;

    /// Ends a logon session; its tasks go with it.
    async fn delete_logon(&self, id: LogonSessionId) -> StoreResult<()>;

    /// Ends every logon session idle since before `idle_before`; returns how many.
    async fn purge_idle_logons(&self, idle_before: Timestamp) -> StoreResult<u64>;
}

/// Tasks of logon sessions.
#[async_trait]
pub trait TaskStore: Send + Sync + 'static {
    /// Adds a task, allocating the next `task-<n>` number of its logon session.
    async fn insert_task(&self, task: &Task) -> StoreResult<Task>;

    /// One task of a logon session.
    async fn get_task(&self, logon: LogonSessionId, number: TaskNumber) -> StoreResult<Task>;

    /// Tasks of a logon session, by number.
    async fn list_tasks(&self, logon: LogonSessionId) -> StoreResult<Vec<Task>>;

    /// Replaces a task's state, outcome and related session.
    async fn update_task(&self, task: &Task) -> StoreResult<()>;

    /// Forgets a task.
    async fn delete_task(&self, logon: LogonSessionId, number: TaskNumber) -> StoreResult<()>;
}

/// The jobs of the backup servers (slice 2, resources/jobs.md).
#[async_trait]
pub trait JobStore: Send + Sync + 'static {
    /// All jobs, by name (case-insensitive), ties by id.
    async fn list_jobs(&self) -> StoreResult<Vec<Job>>;

    /// One job.
    async fn get_job(&self, id: JobId) -> StoreResult<Job>;

    /// Adds a job; `Conflict` when its name is taken on its backup server.
    async fn insert_job(&self, job: &Job) -> StoreResult<()>;

    /// Sets a job's `ScheduleEnabled`; `NotFound` for an unknown job.
    async fn set_job_schedule_enabled(&self, id: JobId, enabled: bool) -> StoreResult<()>;
}

/// Which job sessions a list holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JobSessionFilter {
    /// Only sessions of this collection.
    pub kind: Option<SessionKind>,
    /// Only the sessions of this job.
    pub job: Option<JobId>,
    /// Only sessions created at or after this instant.
    pub since: Option<Timestamp>,
}

/// The runs of jobs and their task sessions (slice 2, resources/job-sessions.md).
/// A run is written whole when it is created and rewritten only by a stop.
#[async_trait]
pub trait JobSessionStore: Send + Sync + 'static {
    /// Adds a run with its task sessions; `Conflict` when its id exists.
    async fn insert_job_session(&self, session: &JobSession) -> StoreResult<()>;

    /// Rewrites a run's course (after a stop or a manual step): its end, stop
    /// and task times and its tasks; `NotFound` for an unknown run.
    async fn update_job_session(&self, session: &JobSession) -> StoreResult<()>;

    /// One run with its task sessions.
    async fn get_job_session(&self, id: Uuid) -> StoreResult<JobSession>;

    /// The runs the filter admits, by creation time, ties by id, with their tasks.
    async fn list_job_sessions(&self, filter: JobSessionFilter) -> StoreResult<Vec<JobSession>>;

    /// The run a task session belongs to.
    async fn job_session_of_task(&self, task: Uuid) -> StoreResult<JobSession>;

    /// A job's latest run, if it has one.
    async fn latest_job_session(&self, job: JobId) -> StoreResult<Option<JobSession>>;
}

/// The store traits, for calling them on a concrete store (`use
/// entman_store::prelude::*`); a `dyn Store` needs no import.
pub mod prelude {
    pub use crate::{
        AccountStore, AdminStore, JobSessionStore, JobStore, PlanStore, ReplicaStore, ServerStore,
        SessionStore, Store, TaskStore, TenantStore,
    };
}
