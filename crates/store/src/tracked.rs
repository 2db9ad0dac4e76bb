//! Change tracking: a [`Store`] wrapper that counts the writes that change what
//! the API shows, so that read caches can tell whether an answer they keep is
//! still current ([`AdminStore::state_version`]).
//!
//! The version moves *after* each write returns (its transaction committed): a
//! reader that notes the version, reads, and keeps what it read under the noted
//! version can only ever keep an answer older than the version it is filed under,
//! never newer, so a later lookup with the current version misses instead of
//! serving stale data. Writes that no cached representation shows (logon
//! sessions, tasks) do not move it. The count is per process; several instances
//! on one database will add the version other nodes publish (a later step).

use crate::*;
use async_trait::async_trait;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// A store whose writes move a version number.
pub struct Tracked {
    inner: Arc<dyn Store>,
    version: AtomicU64,
    /// Moves with every write except those of failover sessions (the engine's
    /// steps): what job runs are stored ([`AdminStore::job_runs_version`]).
    job_runs: AtomicU64,
}

impl Tracked {
    /// Wraps a store.
    pub fn new(inner: Arc<dyn Store>) -> Tracked {
        Tracked {
            inner,
            version: AtomicU64::new(1),
            job_runs: AtomicU64::new(1),
        }
    }

    fn changed(&self) {
        self.job_runs.fetch_add(1, Ordering::AcqRel);
        self.version.fetch_add(1, Ordering::AcqRel);
    }

    /// A write of failover sessions only (or their progress): job runs unchanged.
    fn sessions_changed(&self) {
        self.version.fetch_add(1, Ordering::AcqRel);
    }

    /// Follows the store's [`AdminStore::change_marker`] every `every` and moves the
    /// version when it changes: writes by other processes on the same database
    /// (`entman generate` beside a running server) then reach the read cache
    /// within that interval. The first marker is read before this returns, so a
    /// write made right after is not taken for the starting point. Ends when the
    /// store is dropped.
    pub async fn follow_other_writers(self: &Arc<Self>, every: std::time::Duration) {
        let mut last = match self.inner.change_marker().await {
            Ok(None) => return,
            Ok(Some(marker)) => Some(marker),
            Err(_) => None,
        };
        let weak = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let Some(tracked) = weak.upgrade() else {
                    return;
                };
                match tracked.inner.change_marker().await {
                    Ok(Some(marker)) => {
                        if last.is_some_and(|l| l != marker) {
                            tracked.changed();
                        }
                        last = Some(marker);
                    }
                    Ok(None) => return,
                    Err(_) => tracked.changed(),
                }
            }
        });
    }
}

#[async_trait]
impl AdminStore for Tracked {
    fn state_version(&self) -> Option<u64> {
        Some(self.version.load(Ordering::Acquire))
    }

    fn mark_changed(&self) {
        self.sessions_changed();
    }

    fn job_runs_version(&self) -> Option<u64> {
        Some(self.job_runs.load(Ordering::Acquire))
    }

    async fn change_marker(&self) -> StoreResult<Option<u64>> {
        self.inner.change_marker().await
    }

    fn backend(&self) -> &'static str {
        self.inner.backend()
    }

    async fn dump(&self, max_sessions: u64) -> StoreResult<Vec<TableRows>> {
        self.inner.dump(max_sessions).await
    }

    async fn restore(&self, tables: &[TableRows]) -> StoreResult<()> {
        let result = self.inner.restore(tables).await;
        self.changed();
        result
    }

    async fn clear_world(&self, keep_accounts: Option<&[String]>) -> StoreResult<()> {
        let result = self.inner.clear_world(keep_accounts).await;
        self.changed();
        result
    }

    fn pool_connections(&self) -> Vec<(&'static str, u64)> {
        self.inner.pool_connections()
    }

    async fn meta(&self, key: &str) -> StoreResult<Option<String>> {
        self.inner.meta(key).await
    }

    async fn set_meta(&self, key: &str, value: &str) -> StoreResult<()> {
        let result = self.inner.set_meta(key, value).await;
        self.changed();
        result
    }
}

#[async_trait]
impl ServerStore for Tracked {
    async fn list_servers(&self) -> StoreResult<Vec<BackupServer>> {
        self.inner.list_servers().await
    }

    async fn get_server(&self, id: BackupServerId) -> StoreResult<BackupServer> {
        self.inner.get_server(id).await
    }

    async fn insert_server(
        &self,
        server: &BackupServer,
        password_hash: Option<&str>,
    ) -> StoreResult<()> {
        let result = self.inner.insert_server(server, password_hash).await;
        self.changed();
        result
    }

    async fn update_server(
        &self,
        server: &BackupServer,
        password_hash: Option<&str>,
    ) -> StoreResult<()> {
        let result = self.inner.update_server(server, password_hash).await;
        self.changed();
        result
    }

    async fn delete_server(&self, id: BackupServerId) -> StoreResult<()> {
        let result = self.inner.delete_server(id).await;
        self.changed();
        result
    }
}

#[async_trait]
impl TenantStore for Tracked {
    async fn list_tenants(&self) -> StoreResult<Vec<Tenant>> {
        self.inner.list_tenants().await
    }

    async fn get_tenant(&self, id: TenantId) -> StoreResult<Tenant> {
        self.inner.get_tenant(id).await
    }

    async fn insert_tenant(&self, tenant: &Tenant, password_hash: Option<&str>) -> StoreResult<()> {
        let result = self.inner.insert_tenant(tenant, password_hash).await;
        self.changed();
        result
    }

    async fn tenant_credential(&self, login_key: &str) -> StoreResult<Option<TenantCredential>> {
        self.inner.tenant_credential(login_key).await
    }

    async fn set_tenant_password(&self, login_key: &str, password_hash: &str) -> StoreResult<()> {
        let result = self
            .inner
            .set_tenant_password(login_key, password_hash)
            .await;
        self.changed();
        result
    }

    async fn insert_tenant_login(
        &self,
        login_key: &str,
        cred: &TenantCredential,
    ) -> StoreResult<()> {
        let result = self.inner.insert_tenant_login(login_key, cred).await;
        self.changed();
        result
    }
}

#[async_trait]
impl ReplicaStore for Tracked {
    async fn list_replicas(&self, scope: Scope) -> StoreResult<Vec<Replica>> {
        self.inner.list_replicas(scope).await
    }

    async fn get_replica(&self, scope: Scope, id: ReplicaId) -> StoreResult<Replica> {
        self.inner.get_replica(scope, id).await
    }

    async fn insert_replica(&self, replica: &Replica) -> StoreResult<()> {
        let result = self.inner.insert_replica(replica).await;
        self.changed();
        result
    }

    async fn list_points(
        &self,
        scope: Scope,
        replica: Option<ReplicaId>,
    ) -> StoreResult<Vec<VmReplicaPoint>> {
        self.inner.list_points(scope, replica).await
    }

    async fn get_point(&self, scope: Scope, id: PointId) -> StoreResult<VmReplicaPoint> {
        self.inner.get_point(scope, id).await
    }

    async fn insert_point(&self, point: &VmReplicaPoint) -> StoreResult<()> {
        let result = self.inner.insert_point(point).await;
        self.changed();
        result
    }

    async fn set_point_state(&self, id: PointId, state: PointState) -> StoreResult<()> {
        let result = self.inner.set_point_state(id, state).await;
        self.changed();
        result
    }
}

#[async_trait]
impl PlanStore for Tracked {
    async fn list_plans(&self, scope: Scope) -> StoreResult<Vec<Plan>> {
        self.inner.list_plans(scope).await
    }

    async fn get_plan(&self, scope: Scope, id: PlanId) -> StoreResult<Plan> {
        self.inner.get_plan(scope, id).await
    }

    async fn insert_plan(&self, plan: &Plan) -> StoreResult<()> {
        let result = self.inner.insert_plan(plan).await;
        self.changed();
        result
    }

    async fn update_plan_options(&self, id: PlanId, options: &PlanOptions) -> StoreResult<()> {
        let result = self.inner.update_plan_options(id, options).await;
        self.changed();
        result
    }

    async fn set_plan_state(&self, id: PlanId, state: PlanState) -> StoreResult<()> {
        let result = self.inner.set_plan_state(id, state).await;
        self.changed();
        result
    }

    async fn try_set_plan_state(
        &self,
        id: PlanId,
        from: PlanState,
        to: PlanState,
    ) -> StoreResult<bool> {
        let result = self.inner.try_set_plan_state(id, from, to).await;
        self.changed();
        result
    }

    async fn delete_plan(&self, id: PlanId) -> StoreResult<()> {
        let result = self.inner.delete_plan(id).await;
        self.changed();
        result
    }
}

#[async_trait]
impl SessionStore for Tracked {
    async fn session_tally(&self) -> StoreResult<Vec<(SessionState, SessionResult, u64)>> {
        self.inner.session_tally().await
    }

    async fn list_sessions(
        &self,
        scope: Scope,
        since: Option<Timestamp>,
    ) -> StoreResult<Vec<FailoverSession>> {
        self.inner.list_sessions(scope, since).await
    }

    async fn list_sessions_page(
        &self,
        scope: Scope,
        since: Option<Timestamp>,
        after: Option<(Timestamp, SessionId)>,
        limit: u64,
        with_tasks: bool,
    ) -> StoreResult<Vec<FailoverSession>> {
        self.inner
            .list_sessions_page(scope, since, after, limit, with_tasks)
            .await
    }

    async fn get_session(&self, scope: Scope, id: SessionId) -> StoreResult<FailoverSession> {
        self.inner.get_session(scope, id).await
    }

    async fn save_session(&self, session: &FailoverSession) -> StoreResult<()> {
        let result = self.inner.save_session(session).await;
        self.sessions_changed();
        result
    }

    async fn save_sessions(&self, sessions: &[FailoverSession]) -> StoreResult<()> {
        let result = self.inner.save_sessions(sessions).await;
        self.sessions_changed();
        result
    }

    async fn update_sessions(&self, updates: &[SessionUpdate<'_>]) -> StoreResult<()> {
        let result = self.inner.update_sessions(updates).await;
        self.sessions_changed();
        result
    }

    async fn list_active_sessions(&self) -> StoreResult<Vec<FailoverSession>> {
        self.inner.list_active_sessions().await
    }

    async fn active_session_states(&self) -> StoreResult<Vec<(SessionId, SessionState)>> {
        self.inner.active_session_states().await
    }

    async fn active_session_of_plan(&self, plan: PlanId) -> StoreResult<Option<SessionId>> {
        self.inner.active_session_of_plan(plan).await
    }

    async fn sessions_by_ids(
        &self,
        ids: &[SessionId],
        with_tasks: bool,
    ) -> StoreResult<Vec<FailoverSession>> {
        self.inner.sessions_by_ids(ids, with_tasks).await
    }

    async fn scan_sessions(
        &self,
        sink: &mut (dyn FnMut(crate::SessionKeys) + Send),
    ) -> StoreResult<crate::SessionScan> {
        self.inner.scan_sessions(sink).await
    }

    async fn session_changes(
        &self,
        after: Option<(i64, SessionId)>,
        limit: u64,
    ) -> StoreResult<crate::SessionChanges> {
        self.inner.session_changes(after, limit).await
    }

    async fn query_page(
        &self,
        query: &entman_query::CheckedQuery,
        restriction: &Restriction,
        offset: u64,
        limit: u64,
    ) -> StoreResult<QueryPage> {
        self.inner
            .query_page(query, restriction, offset, limit)
            .await
    }
}

#[async_trait]
impl AccountStore for Tracked {
    async fn logon_count(&self) -> StoreResult<u64> {
        self.inner.logon_count().await
    }

    async fn account_by_name(&self, name: &str) -> StoreResult<Option<Account>> {
        self.inner.account_by_name(name).await
    }

    async fn upsert_account(&self, account: &Account) -> StoreResult<()> {
        let result = self.inner.upsert_account(account).await;
        self.changed();
        result
    }

    async fn list_accounts(&self) -> StoreResult<Vec<Account>> {
        self.inner.list_accounts().await
    }

    async fn delete_account(&self, name: &str) -> StoreResult<()> {
        let result = self.inner.delete_account(name).await;
        self.changed();
        result
    }

    async fn insert_logon(&self, session: &LogonSession, token_hash: &str) -> StoreResult<()> {
        self.inner.insert_logon(session, token_hash).await
    }

    async fn logon_by_token(
        &self,
        token_hash: &str,
    ) -> StoreResult<Option<(LogonSession, String)>> {
        self.inner.logon_by_token(token_hash).await
    }

    async fn get_logon(&self, id: LogonSessionId) -> StoreResult<LogonSession> {
        self.inner.get_logon(id).await
    }

    async fn touch_logon(&self, id: LogonSessionId, at: Timestamp) -> StoreResult<()> {
        self.inner.touch_logon(id, at).await
    }

    async fn delete_logon(&self, id: LogonSessionId) -> StoreResult<()> {
        self.inner.delete_logon(id).await
    }

    async fn purge_idle_logons(&self, idle_before: Timestamp) -> StoreResult<u64> {
        self.inner.purge_idle_logons(idle_before).await
    }
}

#[async_trait]
impl TaskStore for Tracked {
    async fn insert_task(&self, task: &Task) -> StoreResult<Task> {
        self.inner.insert_task(task).await
    }

    async fn get_task(&self, logon: LogonSessionId, number: TaskNumber) -> StoreResult<Task> {
        self.inner.get_task(logon, number).await
    }

    async fn list_tasks(&self, logon: LogonSessionId) -> StoreResult<Vec<Task>> {
        self.inner.list_tasks(logon).await
    }

    async fn update_task(&self, task: &Task) -> StoreResult<()> {
        self.inner.update_task(task).await
    }

    async fn delete_task(&self, logon: LogonSessionId, number: TaskNumber) -> StoreResult<()> {
        self.inner.delete_task(logon, number).await
    }
}

#[async_trait]
impl JobStore for Tracked {
    async fn list_jobs(&self) -> StoreResult<Vec<entman_model::job::Job>> {
        self.inner.list_jobs().await
    }

    async fn get_job(&self, id: JobId) -> StoreResult<entman_model::job::Job> {
        self.inner.get_job(id).await
    }

    async fn insert_job(&self, job: &entman_model::job::Job) -> StoreResult<()> {
        let result = self.inner.insert_job(job).await;
        self.changed();
        result
    }

    async fn set_job_schedule_enabled(&self, id: JobId, enabled: bool) -> StoreResult<()> {
        let result = self.inner.set_job_schedule_enabled(id, enabled).await;
        self.changed();
        result
    }
}

#[async_trait]
impl JobSessionStore for Tracked {
    async fn insert_job_session(&self, session: &JobSession) -> StoreResult<()> {
        let result = self.inner.insert_job_session(session).await;
        self.changed();
        result
    }

    async fn update_job_session(&self, session: &JobSession) -> StoreResult<()> {
        let result = self.inner.update_job_session(session).await;
        self.changed();
        result
    }

    async fn get_job_session(&self, id: uuid::Uuid) -> StoreResult<JobSession> {
        self.inner.get_job_session(id).await
    }

    async fn list_job_sessions(&self, filter: JobSessionFilter) -> StoreResult<Vec<JobSession>> {
        self.inner.list_job_sessions(filter).await
    }

    async fn job_session_of_task(&self, task: uuid::Uuid) -> StoreResult<JobSession> {
        self.inner.job_session_of_task(task).await
    }

    async fn latest_job_session(&self, job: JobId) -> StoreResult<Option<JobSession>> {
        self.inner.latest_job_session(job).await
    }
}
