//! The [`Store`] implementation shared by both backends.

use crate::rows::*;
use crate::{migrate, Backend};
use async_trait::async_trait;
use entman_model::auth::{Account, LogonSession, Principal, Role};
use entman_model::ids::*;
use entman_model::plan::{Plan, PlanOptions, PlanState, PlanVm, VmBehaviour};
use entman_model::replica::{PointState, Replica, VmReplicaPoint};
use entman_model::server::BackupServer;
use entman_model::session::{FailoverSession, PointRef, SessionState, SessionTask, TaskPlan};
use entman_model::task::{RelatedSession, Task, TaskOutcome};
use entman_model::tenant::{Tenant, TenantKind};
use entman_model::Timestamp;
use entman_query::sql::{
    count_sql, page_sql, Bind, Dialect, Postgres as PostgresDialect, Sqlite as SqliteDialect,
};
use entman_store::{
    QueryPage, Restriction, Scope, SessionChanges, SessionKeys, SessionScan, SessionUpdate, Store,
    StoreError, StoreResult, TenantCredential,
};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::Row;
use sqlx::{AnyPool, Executor};
use std::collections::HashMap;
use std::time::Duration;

/// Binds query-service values to a scalar query.
fn bind_all<'q>(
    mut q: sqlx::query::QueryScalar<'q, sqlx::Any, i64, sqlx::any::AnyArguments<'q>>,
    binds: &'q [Bind],
) -> sqlx::query::QueryScalar<'q, sqlx::Any, i64, sqlx::any::AnyArguments<'q>> {
    for b in binds {
        q = match b {
            Bind::Text(t) => q.bind(t.as_str()),
            Bind::Int(i) => q.bind(*i),
        };
    }
    q
}

/// Binds query-service values to a row query.
fn bind_rows<'q>(mut q: Q<'q>, binds: &'q [Bind]) -> Q<'q> {
    for b in binds {
        q = match b {
            Bind::Text(t) => q.bind(t.as_str()),
            Bind::Int(i) => q.bind(*i),
        };
    }
    q
}

/// A query with bound arguments.
type Q<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>;

/// Native SQLite read connections.
const NATIVE_READERS: usize = 2;
/// Connections of the query service's pool.
const QUERY_CONNECTIONS: u32 = 3;
/// PostgreSQL ends a query-service statement after this long.
const QUERY_STATEMENT_TIMEOUT: Duration = Duration::from_secs(30);

/// A store on SQLite or PostgreSQL.
#[derive(Clone)]
pub struct SqlStore {
    pub(crate) pool: AnyPool,
    /// Connections of the query service only, so that however many heavy queries
    /// run, logons, the engine and the other resources keep their own pool.
    query_pool: AnyPool,
    pub(crate) backend: Backend,
    /// SQLite: the native connection for batch writes (see [`crate::native`]).
    native: Option<crate::native::NativeWriter>,
    /// SQLite: native connections for reads of many rows.
    readers: Option<crate::native::NativeReaders>,
}

impl std::fmt::Debug for SqlStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlStore")
            .field("backend", &self.backend)
            .finish()
    }
}

impl SqlStore {
    /// Connects to the database named by `url` (`sqlite://...` or `postgres://...`)
    /// and applies pending migrations.
    pub async fn connect(url: &str) -> StoreResult<SqlStore> {
        sqlx::any::install_default_drivers();
        let backend = Backend::from_url(url).ok_or_else(|| {
            StoreError::Backend("the database URL must start with sqlite:// or postgres://".into())
        })?;
        let pool = Self::pool(url, backend, 8, 10, false).await?;
        migrate::run(&pool, backend).await?;
        let query_pool =
            Self::pool(url, backend, QUERY_CONNECTIONS, QUERY_CONNECTIONS, true).await?;
        let (native, readers) = match (backend, crate::native::file_of(url)) {
            (Backend::Sqlite, Some(file)) => (
                Some(crate::native::NativeWriter::open(file)?),
                Some(crate::native::NativeReaders::open(file, NATIVE_READERS)?),
            ),
            _ => (None, None),
        };
        let store = SqlStore {
            pool,
            query_pool,
            backend,
            native,
            readers,
        };
        // A bulk load killed half-way left its indexes dropped: build them first.
        store.end_bulk_load().await?;
        Ok(store)
    }

    /// A pool of `sqlite` or `postgres` connections; `queries` marks the query
    /// service's pool, whose PostgreSQL statements the server ends after
    /// [`QUERY_STATEMENT_TIMEOUT`] (a backstop behind the HTTP layer's budget).
    async fn pool(
        url: &str,
        backend: Backend,
        sqlite: u32,
        postgres: u32,
        queries: bool,
    ) -> StoreResult<AnyPool> {
        let options = AnyPoolOptions::new().acquire_timeout(Duration::from_secs(10));
        Ok(match backend {
            Backend::Sqlite => options
                .max_connections(sqlite)
                .after_connect(|conn, _meta| {
                    Box::pin(async move {
                        for pragma in crate::SQLITE_PRAGMAS {
                            conn.execute(*pragma).await?;
                        }
                        Ok(())
                    })
                })
                .connect(url)
                .await
                .map_err(db_err)?,
            Backend::Postgres => options
                .max_connections(postgres)
                .after_connect(move |conn, _meta| {
                    Box::pin(async move {
                        if queries {
                            let timeout = QUERY_STATEMENT_TIMEOUT.as_millis();
                            conn.execute(format!("SET statement_timeout = {timeout}").as_str())
                                .await?;
                        }
                        Ok(())
                    })
                })
                .connect(url)
                .await
                .map_err(db_err)?,
        })
    }

    /// Refreshes the planner's statistics after a bulk load: PostgreSQL plans
    /// `IN (...)` lookups by primary key as full scans until it has them (a page of
    /// 100 sessions took 650 ms instead of 2 ms after `entman generate`).
    pub async fn analyze(&self) -> StoreResult<()> {
        if self.backend == Backend::Postgres {
            sqlx::query("ANALYZE")
                .execute(&self.pool)
                .await
                .map_err(db_err)?;
        }
        Ok(())
    }

    /// [`Store::save_sessions`] for a batch the caller gives away (`entman
    /// generate`): the SQLite writer thread takes it as it is instead of a copy.
    pub async fn save_owned_sessions(&self, sessions: Vec<FailoverSession>) -> StoreResult<()> {
        match &self.native {
            Some(native) if !sessions.is_empty() => native.save_sessions(sessions).await,
            _ => self.save_sessions(&sessions).await,
        }
    }

    /// Prepares SQLite's writer for bulk inserts (a larger page cache). Only for
    /// `entman generate`.
    pub async fn bulk_mode(&self) -> StoreResult<()> {
        match &self.native {
            Some(native) => native.bulk_settings().await,
            None => Ok(()),
        }
    }

    /// Closes the pools (used at shutdown and by tests).
    pub async fn close(&self) {
        self.query_pool.close().await;
        self.pool.close().await;
    }

    async fn fetch_all(&self, q: Q<'_>) -> StoreResult<Vec<AnyRow>> {
        q.fetch_all(&self.pool).await.map_err(db_err)
    }

    async fn fetch_one(&self, q: Q<'_>) -> StoreResult<AnyRow> {
        q.fetch_optional(&self.pool)
            .await
            .map_err(db_err)?
            .ok_or(StoreError::NotFound)
    }

    async fn execute_expect_row(&self, q: Q<'_>) -> StoreResult<()> {
        let done = q.execute(&self.pool).await.map_err(db_err)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// Counts sessions from the per-day buckets and the index (see `counts`).
    async fn bucket_count(&self, shape: &crate::counts::BucketCount) -> StoreResult<u64> {
        use crate::counts::Piece;
        if shape.results.is_empty() {
            return Ok(0);
        }
        let mut total: i64 = 0;
        for piece in crate::counts::pieces(shape) {
            let mut binds: Vec<Bind> = shape
                .results
                .iter()
                .map(|r| Bind::Text(r.to_string()))
                .collect();
            let list = (1..=binds.len())
                .map(|i| format!("${i}"))
                .collect::<Vec<_>>()
                .join(", ");
            let (table, mut sql) = match &piece {
                Piece::Days { .. } => (
                    "session_counts",
                    format!(
                        "SELECT COALESCE(SUM(n), 0) FROM session_counts WHERE result IN ({list})"
                    ),
                ),
                Piece::Exact { .. } => (
                    "s",
                    format!("SELECT COUNT(*) FROM failover_sessions s WHERE s.result IN ({list})"),
                ),
            };
            let mut push = |sql: &mut String, clause: &str, value: Bind| {
                binds.push(value);
                sql.push_str(&format!(" AND {clause} ${}", binds.len()));
            };
            if let Some(t) = &shape.tenant {
                push(
                    &mut sql,
                    if table == "s" {
                        "s.tenant_id ="
                    } else {
                        "tenant_id ="
                    },
                    Bind::Text(t.clone()),
                );
            }
            match piece {
                Piece::Days { from, to } => {
                    if let Some(f) = from {
                        push(&mut sql, "day >=", Bind::Int(f));
                    }
                    if let Some(t) = to {
                        push(&mut sql, "day <", Bind::Int(t));
                    }
                }
                Piece::Exact { from, to } => {
                    push(&mut sql, "s.creation_time >=", Bind::Int(from));
                    push(&mut sql, "s.creation_time <", Bind::Int(to));
                }
            }
            // SUM over BIGINT is NUMERIC on PostgreSQL; cast both forms to BIGINT.
            let sql = format!("SELECT CAST(({sql}) AS BIGINT)");
            let n: i64 = bind_all(sqlx::query_scalar(&sql), &binds)
                .fetch_one(&self.query_pool)
                .await
                .map_err(db_err)?;
            total += n;
        }
        Ok(total.max(0) as u64)
    }

    async fn plan_vms(&self, plan_ids: &[String]) -> StoreResult<Vec<(String, PlanVm)>> {
        let mut out = Vec::new();
        // Plans are few; one query per plan keeps the SQL free of dialect-specific
        // array binding.
        for id in plan_ids {
            let rows = self
                .fetch_all(
                    sqlx::query("SELECT * FROM plan_vms WHERE plan_id = $1 ORDER BY ord, name")
                        .bind(id.clone()),
                )
                .await?;
            for row in rows {
                out.push((id.clone(), plan_vm(&row)?));
            }
        }
        Ok(out)
    }

    async fn plans_from_rows(&self, rows: Vec<AnyRow>) -> StoreResult<Vec<Plan>> {
        let mut plans = rows
            .iter()
            .map(plan_row)
            .collect::<StoreResult<Vec<Plan>>>()?;
        let ids: Vec<String> = plans.iter().map(|p| p.id.to_string()).collect();
        for (plan_id, vm) in self.plan_vms(&ids).await? {
            if let Some(plan) = plans.iter_mut().find(|p| p.id.to_string() == plan_id) {
                plan.vms.push(vm);
            }
        }
        Ok(plans)
    }

    async fn session_tasks(&self, id: SessionId) -> StoreResult<Vec<SessionTask>> {
        let rows = self
            .fetch_all(
                sqlx::query("SELECT * FROM session_tasks WHERE session_id = $1 ORDER BY idx")
                    .bind(id.to_string()),
            )
            .await?;
        rows.iter().map(session_task).collect()
    }
}

fn b(v: bool) -> i64 {
    i64::from(v)
}

fn server_row(row: &AnyRow) -> StoreResult<BackupServer> {
    Ok(BackupServer {
        id: BackupServerId(guid(row, "id")?),
        name: text(row, "name")?,
        description: text(row, "description")?,
        port: u16::try_from(int(row, "port")?).map_err(|_| StoreError::Corrupt("port".into()))?,
        version: text(row, "version")?,
        wcf_port: opt_int(row, "wcf_port")?.and_then(|p| u16::try_from(p).ok()),
        certificate_thumbprint: opt_text(row, "thumbprint")?,
        username: text(row, "username")?,
    })
}

fn tenant_row(row: &AnyRow) -> StoreResult<Tenant> {
    let detail = text(row, "detail")?;
    serde_json::from_str(&detail).map_err(|e| StoreError::Corrupt(format!("tenant detail: {e}")))
}

fn replica_row(row: &AnyRow) -> StoreResult<Replica> {
    Ok(Replica {
        id: ReplicaId(guid(row, "id")?),
        backup_server_id: BackupServerId(guid(row, "backup_server_id")?),
        tenant_id: TenantId(guid(row, "tenant_id")?),
        name: text(row, "name")?,
        platform: wire(row, "platform")?,
    })
}

fn point_row(row: &AnyRow) -> StoreResult<VmReplicaPoint> {
    Ok(VmReplicaPoint {
        id: PointId(guid(row, "id")?),
        replica_id: ReplicaId(guid(row, "replica_id")?),
        vm_name: text(row, "vm_name")?,
        vm_display_name: text(row, "vm_display_name")?,
        creation_time: time(row, "creation_time")?,
        point_type: wire(row, "point_type")?,
        state: wire(row, "state")?,
    })
}

fn plan_row(row: &AnyRow) -> StoreResult<Plan> {
    Ok(Plan {
        id: PlanId(guid(row, "id")?),
        backup_server_id: BackupServerId(guid(row, "backup_server_id")?),
        tenant_id: TenantId(guid(row, "tenant_id")?),
        name: text(row, "name")?,
        description: opt_text(row, "description")?,
        options: PlanOptions {
            post_command_enabled: flag(row, "post_enabled")?,
            post_command: text(row, "post_command")?,
            pre_command_enabled: flag(row, "pre_enabled")?,
            pre_command: text(row, "pre_command")?,
        },
        state: wire(row, "state")?,
        vms: Vec::new(),
    })
}

fn plan_vm(row: &AnyRow) -> StoreResult<PlanVm> {
    Ok(PlanVm {
        id: PlanVmId(guid(row, "id")?),
        name: text(row, "name")?,
        order: i32::try_from(int(row, "ord")?).map_err(|_| StoreError::Corrupt("ord".into()))?,
        replica_id: ReplicaId(guid(row, "replica_id")?),
        behaviour: VmBehaviour {
            duration_ms: u64::try_from(int(row, "duration_ms")?).unwrap_or(0),
            outcome: wire(row, "outcome")?,
            message: opt_text(row, "message")?,
        },
    })
}

pub(crate) fn session_row(row: &impl Columns) -> StoreResult<FailoverSession> {
    Ok(FailoverSession {
        id: SessionId(guid(row, "id")?),
        plan_id: PlanId(guid(row, "plan_id")?),
        plan_name: text(row, "plan_name")?,
        tenant_id: TenantId(guid(row, "tenant_id")?),
        backup_server_id: BackupServerId(guid(row, "backup_server_id")?),
        kind: wire(row, "kind")?,
        creation_time: time(row, "creation_time")?,
        end_time: opt_time(row, "end_time")?,
        state: wire(row, "state")?,
        result: wire(row, "result")?,
        progress: int(row, "progress")?.clamp(0, 100) as i32,
        failure_message: opt_text(row, "failure_message")?,
        tasks: Vec::new(),
    })
}

fn session_keys_row(row: &AnyRow) -> StoreResult<SessionKeys> {
    Ok(SessionKeys {
        id: SessionId(guid(row, "id")?),
        plan_name: text(row, "plan_name")?,
        tenant_id: TenantId(guid(row, "tenant_id")?),
        backup_server_id: BackupServerId(guid(row, "backup_server_id")?),
        creation_time: time(row, "creation_time")?,
        end_time: opt_time(row, "end_time")?,
        state: wire(row, "state")?,
        result: wire(row, "result")?,
        failure_message: opt_text(row, "failure_message")?,
        revision: int(row, "revision")?,
    })
}

pub(crate) fn session_task(row: &impl Columns) -> StoreResult<SessionTask> {
    let point = match (opt_guid(row, "point_id")?, opt_text(row, "point_name")?) {
        (Some(id), Some(name)) => Some(PointRef {
            id: PointId(id),
            name,
        }),
        _ => None,
    };
    let plan = match (
        opt_int(row, "planned_ms")?,
        opt_text(row, "planned_outcome")?,
    ) {
        (Some(ms), Some(outcome)) => Some(TaskPlan {
            duration_ms: ms,
            outcome: outcome
                .parse()
                .map_err(|_| StoreError::Corrupt(format!("planned_outcome [{outcome}]")))?,
            message: opt_text(row, "planned_message")?,
        }),
        _ => None,
    };
    Ok(SessionTask {
        plan,
        vm_name: text(row, "vm_name")?,
        point,
        creation_time: time(row, "creation_time")?,
        end_time: opt_time(row, "end_time")?,
        state: wire(row, "state")?,
        result: wire(row, "result")?,
        progress: int(row, "progress")?.clamp(0, 100) as i32,
        failure_message: opt_text(row, "failure_message")?,
    })
}

/// Gives each session its tasks from rows of `session_tasks` ordered by session and index.
fn attach_tasks(sessions: &mut [FailoverSession], task_rows: &[AnyRow]) -> StoreResult<()> {
    let mut by_session: HashMap<String, Vec<SessionTask>> = HashMap::new();
    for row in task_rows {
        by_session
            .entry(text(row, "session_id")?)
            .or_default()
            .push(session_task(row)?);
    }
    for s in sessions {
        s.tasks = by_session.remove(&s.id.to_string()).unwrap_or_default();
    }
    Ok(())
}

fn roles_text(roles: &[Role]) -> String {
    roles
        .iter()
        .map(|r| r.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

fn roles_of(s: &str) -> StoreResult<Vec<Role>> {
    s.split(',')
        .filter(|r| !r.is_empty())
        .map(|r| {
            r.parse()
                .map_err(|_| StoreError::Corrupt(format!("role [{r}]")))
        })
        .collect()
}

fn account_row(row: &AnyRow) -> StoreResult<Account> {
    Ok(Account {
        id: AccountId(guid(row, "id")?),
        name: text(row, "name")?,
        password_hash: text(row, "password_hash")?,
        roles: roles_of(&text(row, "roles")?)?,
    })
}

fn logon_row(row: &AnyRow) -> StoreResult<LogonSession> {
    let principal_id = guid(row, "principal_id")?;
    let principal = match text(row, "principal_kind")?.as_str() {
        "tenant" => Principal::Tenant {
            id: TenantId(principal_id),
        },
        "account" => Principal::Account {
            id: AccountId(principal_id),
            roles: roles_of(&text(row, "roles")?)?,
        },
        other => return Err(StoreError::Corrupt(format!("principal kind [{other}]"))),
    };
    Ok(LogonSession {
        id: LogonSessionId(guid(row, "id")?),
        user_name: text(row, "user_name")?,
        principal,
        api_version: text(row, "api_version")?,
        created: time(row, "created")?,
        last_seen: time(row, "last_seen")?,
    })
}

fn task_row(row: &AnyRow) -> StoreResult<Task> {
    let outcome = match (opt_int(row, "success")?, opt_text(row, "message")?) {
        (Some(success), message) => Some(TaskOutcome {
            success: success != 0,
            message: message.unwrap_or_default(),
        }),
        (None, _) => None,
    };
    let related_session = match (
        opt_guid(row, "related_session_id")?,
        opt_text(row, "related_name")?,
    ) {
        (Some(id), Some(name)) => Some(RelatedSession {
            id: SessionId(id),
            name,
        }),
        _ => None,
    };
    let number = u32::try_from(int(row, "number")?)
        .map_err(|_| StoreError::Corrupt("task number".into()))?;
    Ok(Task {
        logon_session_id: LogonSessionId(guid(row, "logon_session_id")?),
        number: TaskNumber(number),
        operation: wire(row, "operation")?,
        state: wire(row, "state")?,
        outcome,
        related_session,
        creation_time: time(row, "creation_time")?,
    })
}

/// The scope condition for tables with a `tenant_id` column: `$1` is bound to the
/// tenant, or the condition is vacuous.
fn scoped(sql: &str, scope: Scope) -> (String, Option<String>) {
    match scope {
        Scope::All => (sql.replace("{scope}", "1 = 1"), None),
        Scope::Tenant(t) => (
            sql.replace("{scope}", "tenant_id = $1"),
            Some(t.to_string()),
        ),
    }
}

#[async_trait]
impl Store for SqlStore {
    fn backend(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }

    async fn dump(&self, max_sessions: u64) -> StoreResult<Vec<entman_store::TableRows>> {
        // One transaction: every table as of one moment.
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let tables = crate::snapshot::dump(&mut tx, self.backend, max_sessions).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(tables)
    }

    async fn restore(&self, tables: &[entman_store::TableRows]) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        crate::snapshot::restore(&mut tx, self.backend, tables).await?;
        tx.commit().await.map_err(db_err)
    }

    async fn clear_world(&self, keep_accounts: Option<&[String]>) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        // Readers of session revisions start over.
        sqlx::query(crate::batch::NEXT_EPOCH)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        for table in [
            "session_tasks",
            "failover_sessions",
            "session_counts",
            "tasks",
            "plan_vms",
            "plans",
            "vm_replica_points",
            "replicas",
            "tenant_logins",
            "tenants",
            "backup_servers",
        ] {
            // Table names are constants of this list, never client text.
            sqlx::query(&format!("DELETE FROM {table}"))
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
        }
        if let Some(keep) = keep_accounts {
            let keys: Vec<String> = keep.iter().map(|n| n.to_lowercase()).collect();
            let keep_json =
                serde_json::to_string(&keys).map_err(|e| StoreError::Backend(Box::new(e)))?;
            let list = match self.backend {
                Backend::Sqlite => "SELECT value FROM json_each($1)",
                Backend::Postgres => "SELECT json_array_elements_text($1::json)",
            };
            sqlx::query(&format!(
                "DELETE FROM logon_sessions WHERE principal_kind = 'account' AND principal_id NOT IN \
                 (SELECT id FROM accounts WHERE name_key IN ({list}))"
            ))
            .bind(&keep_json)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
            sqlx::query(&format!(
                "DELETE FROM accounts WHERE name_key NOT IN ({list})"
            ))
            .bind(&keep_json)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        }
        tx.commit().await.map_err(db_err)
    }

    async fn session_tally(
        &self,
    ) -> StoreResult<Vec<(SessionState, entman_model::session::SessionResult, u64)>> {
        let rows = sqlx::query(
            "SELECT state, result, COUNT(*) AS n FROM failover_sessions GROUP BY state, result",
        )
        .fetch_all(&self.query_pool)
        .await
        .map_err(db_err)?;
        rows.iter()
            .map(|row| {
                Ok((
                    wire(row, "state")?,
                    wire(row, "result")?,
                    int(row, "n")?.max(0) as u64,
                ))
            })
            .collect()
    }

    async fn logon_count(&self) -> StoreResult<u64> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM logon_sessions")
            .fetch_one(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(n.max(0) as u64)
    }

    fn pool_connections(&self) -> Vec<(&'static str, u64)> {
        let (mut idle, mut busy) = (0u64, 0u64);
        for pool in [&self.pool, &self.query_pool] {
            let size = u64::from(pool.size());
            let free = pool.num_idle() as u64;
            idle += free;
            busy += size.saturating_sub(free);
        }
        vec![("idle", idle), ("in_use", busy)]
    }

    async fn change_marker(&self) -> StoreResult<Option<u64>> {
        match &self.native {
            // The native connection's data_version moves with every commit by
            // another connection: the pool's and other processes' alike. Its own
            // commits (batch inserts) are seen by `Tracked` directly.
            Some(native) => native.data_version().await.map(Some),
            None => Ok(None),
        }
    }

    async fn meta(&self, key: &str) -> StoreResult<Option<String>> {
        sqlx::query_scalar("SELECT value FROM meta WHERE key = $1")
            .bind(key.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)
    }

    async fn set_meta(&self, key: &str, value: &str) -> StoreResult<()> {
        sqlx::query("INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value")
            .bind(key.to_string())
            .bind(value.to_string())
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn list_servers(&self) -> StoreResult<Vec<BackupServer>> {
        let rows = self
            .fetch_all(sqlx::query("SELECT * FROM backup_servers"))
            .await?;
        let mut servers = rows
            .iter()
            .map(server_row)
            .collect::<StoreResult<Vec<_>>>()?;
        sort_by_name(&mut servers, |s| &s.name);
        Ok(servers)
    }

    async fn get_server(&self, id: BackupServerId) -> StoreResult<BackupServer> {
        let row = self
            .fetch_one(
                sqlx::query("SELECT * FROM backup_servers WHERE id = $1").bind(id.to_string()),
            )
            .await?;
        server_row(&row)
    }

    async fn insert_server(
        &self,
        s: &BackupServer,
        password_hash: Option<&str>,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO backup_servers (id, name, name_key, description, port, version, wcf_port, thumbprint, username, password_hash) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(s.id.to_string())
        .bind(s.name.clone())
        .bind(s.name.to_lowercase())
        .bind(s.description.clone())
        .bind(i64::from(s.port))
        .bind(s.version.clone())
        .bind(s.wcf_port.map(i64::from))
        .bind(s.certificate_thumbprint.clone())
        .bind(s.username.clone())
        .bind(password_hash.map(str::to_string))
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn update_server(
        &self,
        s: &BackupServer,
        password_hash: Option<&str>,
    ) -> StoreResult<()> {
        self.execute_expect_row(
            sqlx::query(
                "UPDATE backup_servers SET name = $2, name_key = $3, description = $4, port = $5, version = $6, \
                 wcf_port = $7, thumbprint = $8, username = $9, password_hash = COALESCE($10, password_hash) WHERE id = $1",
            )
            .bind(s.id.to_string())
            .bind(s.name.clone())
            .bind(s.name.to_lowercase())
            .bind(s.description.clone())
            .bind(i64::from(s.port))
            .bind(s.version.clone())
            .bind(s.wcf_port.map(i64::from))
            .bind(s.certificate_thumbprint.clone())
            .bind(s.username.clone())
            .bind(password_hash.map(str::to_string)),
        )
        .await
    }

    async fn delete_server(&self, id: BackupServerId) -> StoreResult<()> {
        // Foreign keys cascade to tenants, replicas, points, plans and sessions;
        // readers of session revisions learn it from the epoch.
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        sqlx::query(crate::batch::NEXT_EPOCH)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        let done = sqlx::query("DELETE FROM backup_servers WHERE id = $1")
            .bind(id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        tx.commit().await.map_err(db_err)
    }

    async fn list_tenants(&self) -> StoreResult<Vec<Tenant>> {
        let rows = self
            .fetch_all(sqlx::query("SELECT detail FROM tenants"))
            .await?;
        let mut tenants = rows
            .iter()
            .map(tenant_row)
            .collect::<StoreResult<Vec<_>>>()?;
        sort_by_name(&mut tenants, |t| &t.name);
        Ok(tenants)
    }

    async fn get_tenant(&self, id: TenantId) -> StoreResult<Tenant> {
        let row = self
            .fetch_one(sqlx::query("SELECT detail FROM tenants WHERE id = $1").bind(id.to_string()))
            .await?;
        tenant_row(&row)
    }

    async fn insert_tenant(&self, t: &Tenant, password_hash: Option<&str>) -> StoreResult<()> {
        let detail = serde_json::to_string(t).map_err(|e| StoreError::Backend(Box::new(e)))?;
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let org_ref = match &t.kind {
            TenantKind::VCloud {
                organization_ref, ..
            } => Some(organization_ref.clone()),
            TenantKind::Standalone { .. } => None,
        };
        sqlx::query("INSERT INTO tenants (id, backup_server_id, name, kind, enabled, detail, org_ref) VALUES ($1, $2, $3, $4, $5, $6, $7)")
            .bind(t.id.to_string())
            .bind(t.backup_server_id.to_string())
            .bind(t.name.clone())
            .bind(t.kind.type_name().to_string())
            .bind(b(t.enabled))
            .bind(detail)
            .bind(org_ref)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        if let (TenantKind::Standalone { username }, Some(hash)) = (&t.kind, password_hash) {
            sqlx::query("INSERT INTO tenant_logins (login_key, tenant_id, password_hash) VALUES ($1, $2, $3)")
                .bind(username.to_lowercase())
                .bind(t.id.to_string())
                .bind(hash.to_string())
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
        }
        tx.commit().await.map_err(db_err)
    }

    async fn tenant_credential(&self, login_key: &str) -> StoreResult<Option<TenantCredential>> {
        let row =
            sqlx::query("SELECT tenant_id, password_hash FROM tenant_logins WHERE login_key = $1")
                .bind(login_key.to_lowercase())
                .fetch_optional(&self.pool)
                .await
                .map_err(db_err)?;
        row.map(|r| {
            Ok(TenantCredential {
                tenant_id: TenantId(guid(&r, "tenant_id")?),
                password_hash: text(&r, "password_hash")?,
            })
        })
        .transpose()
    }

    async fn set_tenant_password(&self, login_key: &str, password_hash: &str) -> StoreResult<()> {
        self.execute_expect_row(
            sqlx::query("UPDATE tenant_logins SET password_hash = $2 WHERE login_key = $1")
                .bind(login_key.to_lowercase())
                .bind(password_hash.to_string()),
        )
        .await
    }

    async fn insert_tenant_login(
        &self,
        login_key: &str,
        cred: &TenantCredential,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO tenant_logins (login_key, tenant_id, password_hash) VALUES ($1, $2, $3)",
        )
        .bind(login_key.to_lowercase())
        .bind(cred.tenant_id.to_string())
        .bind(cred.password_hash.clone())
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn list_replicas(&self, scope: Scope) -> StoreResult<Vec<Replica>> {
        let (sql, tenant) = scoped("SELECT * FROM replicas WHERE {scope}", scope);
        let rows = self.fetch_all(sqlx::query(&sql).bind(tenant)).await?;
        let mut replicas = rows
            .iter()
            .map(replica_row)
            .collect::<StoreResult<Vec<_>>>()?;
        sort_by_name(&mut replicas, |r| &r.name);
        Ok(replicas)
    }

    async fn get_replica(&self, scope: Scope, id: ReplicaId) -> StoreResult<Replica> {
        let row = self
            .fetch_one(sqlx::query("SELECT * FROM replicas WHERE id = $1").bind(id.to_string()))
            .await?;
        let replica = replica_row(&row)?;
        if scope.allows(replica.tenant_id) {
            Ok(replica)
        } else {
            Err(StoreError::NotFound)
        }
    }

    async fn insert_replica(&self, r: &Replica) -> StoreResult<()> {
        sqlx::query("INSERT INTO replicas (id, backup_server_id, tenant_id, name, platform) VALUES ($1, $2, $3, $4, $5)")
            .bind(r.id.to_string())
            .bind(r.backup_server_id.to_string())
            .bind(r.tenant_id.to_string())
            .bind(r.name.clone())
            .bind(r.platform.as_str().to_string())
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn list_points(
        &self,
        scope: Scope,
        replica: Option<ReplicaId>,
    ) -> StoreResult<Vec<VmReplicaPoint>> {
        let (sql, tenant) = scoped(
            "SELECT p.* FROM vm_replica_points p JOIN replicas r ON r.id = p.replica_id \
             WHERE {scope} AND ($2 IS NULL OR p.replica_id = $2) ORDER BY p.creation_time, p.id",
            scope,
        );
        let sql = sql.replace("tenant_id", "r.tenant_id");
        let rows = self
            .fetch_all(
                sqlx::query(&sql)
                    .bind(tenant)
                    .bind(replica.map(|r| r.to_string())),
            )
            .await?;
        rows.iter().map(point_row).collect()
    }

    async fn get_point(&self, scope: Scope, id: PointId) -> StoreResult<VmReplicaPoint> {
        let row = self
            .fetch_one(
                sqlx::query("SELECT p.*, r.tenant_id AS owner FROM vm_replica_points p JOIN replicas r ON r.id = p.replica_id WHERE p.id = $1")
                    .bind(id.to_string()),
            )
            .await?;
        if !scope.allows(TenantId(guid(&row, "owner")?)) {
            return Err(StoreError::NotFound);
        }
        point_row(&row)
    }

    async fn insert_point(&self, p: &VmReplicaPoint) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO vm_replica_points (id, replica_id, vm_name, vm_display_name, creation_time, point_type, state, name) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(p.id.to_string())
        .bind(p.replica_id.to_string())
        .bind(p.vm_name.clone())
        .bind(p.vm_display_name.clone())
        .bind(p.creation_time.micros())
        .bind(p.point_type.as_str().to_string())
        .bind(p.state.as_str().to_string())
        .bind(p.name())
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn set_point_state(&self, id: PointId, state: PointState) -> StoreResult<()> {
        self.execute_expect_row(
            sqlx::query("UPDATE vm_replica_points SET state = $2 WHERE id = $1")
                .bind(id.to_string())
                .bind(state.as_str().to_string()),
        )
        .await
    }

    async fn list_plans(&self, scope: Scope) -> StoreResult<Vec<Plan>> {
        let (sql, tenant) = scoped("SELECT * FROM plans WHERE {scope}", scope);
        let rows = self.fetch_all(sqlx::query(&sql).bind(tenant)).await?;
        let mut plans = self.plans_from_rows(rows).await?;
        sort_by_name(&mut plans, |p| &p.name);
        Ok(plans)
    }

    async fn get_plan(&self, scope: Scope, id: PlanId) -> StoreResult<Plan> {
        let row = self
            .fetch_one(sqlx::query("SELECT * FROM plans WHERE id = $1").bind(id.to_string()))
            .await?;
        let plan = self
            .plans_from_rows(vec![row])
            .await?
            .pop()
            .ok_or(StoreError::NotFound)?;
        if scope.allows(plan.tenant_id) {
            Ok(plan)
        } else {
            Err(StoreError::NotFound)
        }
    }

    async fn insert_plan(&self, p: &Plan) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        sqlx::query(
            "INSERT INTO plans (id, backup_server_id, tenant_id, name, description, post_enabled, post_command, pre_enabled, pre_command, state) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(p.id.to_string())
        .bind(p.backup_server_id.to_string())
        .bind(p.tenant_id.to_string())
        .bind(p.name.clone())
        .bind(p.description.clone())
        .bind(b(p.options.post_command_enabled))
        .bind(p.options.post_command.clone())
        .bind(b(p.options.pre_command_enabled))
        .bind(p.options.pre_command.clone())
        .bind(p.state.as_str().to_string())
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        for vm in &p.vms {
            sqlx::query(
                "INSERT INTO plan_vms (id, plan_id, name, ord, replica_id, duration_ms, outcome, message) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(vm.id.to_string())
            .bind(p.id.to_string())
            .bind(vm.name.clone())
            .bind(i64::from(vm.order))
            .bind(vm.replica_id.to_string())
            .bind(i64::try_from(vm.behaviour.duration_ms).unwrap_or(i64::MAX))
            .bind(vm.behaviour.outcome.as_str().to_string())
            .bind(vm.behaviour.message.clone())
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        }
        tx.commit().await.map_err(db_err)
    }

    async fn update_plan_options(&self, id: PlanId, o: &PlanOptions) -> StoreResult<()> {
        self.execute_expect_row(
            sqlx::query("UPDATE plans SET post_enabled = $2, post_command = $3, pre_enabled = $4, pre_command = $5 WHERE id = $1")
                .bind(id.to_string())
                .bind(b(o.post_command_enabled))
                .bind(o.post_command.clone())
                .bind(b(o.pre_command_enabled))
                .bind(o.pre_command.clone()),
        )
        .await
    }

    async fn set_plan_state(&self, id: PlanId, state: PlanState) -> StoreResult<()> {
        self.execute_expect_row(
            sqlx::query("UPDATE plans SET state = $2 WHERE id = $1")
                .bind(id.to_string())
                .bind(state.as_str().to_string()),
        )
        .await
    }

    async fn try_set_plan_state(
        &self,
        id: PlanId,
        from: PlanState,
        to: PlanState,
    ) -> StoreResult<bool> {
        let done = sqlx::query("UPDATE plans SET state = $3 WHERE id = $1 AND state = $2")
            .bind(id.to_string())
            .bind(from.as_str().to_string())
            .bind(to.as_str().to_string())
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(done.rows_affected() == 1)
    }

    async fn delete_plan(&self, id: PlanId) -> StoreResult<()> {
        self.execute_expect_row(sqlx::query("DELETE FROM plans WHERE id = $1").bind(id.to_string()))
            .await
    }

    async fn list_sessions(
        &self,
        scope: Scope,
        since: Option<Timestamp>,
    ) -> StoreResult<Vec<FailoverSession>> {
        let (sql, tenant) = scoped(
            "SELECT * FROM failover_sessions WHERE {scope} AND creation_time >= $2 ORDER BY creation_time, id",
            scope,
        );
        let rows = self
            .fetch_all(
                sqlx::query(&sql)
                    .bind(tenant)
                    .bind(since.map_or(i64::MIN, |t| t.micros())),
            )
            .await?;
        let mut sessions = rows
            .iter()
            .map(session_row)
            .collect::<StoreResult<Vec<_>>>()?;
        // All their tasks in one query rather than one query per session.
        let (task_sql, tenant) = scoped(
            "SELECT t.* FROM session_tasks t JOIN failover_sessions s ON s.id = t.session_id \
             WHERE {scope} AND s.creation_time >= $2 ORDER BY t.session_id, t.idx",
            scope,
        );
        let task_sql = task_sql.replace("tenant_id", "s.tenant_id");
        let task_rows = self
            .fetch_all(
                sqlx::query(&task_sql)
                    .bind(tenant)
                    .bind(since.map_or(i64::MIN, |t| t.micros())),
            )
            .await?;
        attach_tasks(&mut sessions, &task_rows)?;
        Ok(sessions)
    }

    async fn list_sessions_page(
        &self,
        scope: Scope,
        since: Option<Timestamp>,
        after: Option<(Timestamp, SessionId)>,
        limit: u64,
        with_tasks: bool,
    ) -> StoreResult<Vec<FailoverSession>> {
        let (sql, tenant) = scoped(
            "SELECT * FROM failover_sessions WHERE {scope} AND creation_time >= $2 \
             AND (creation_time > $3 OR (creation_time = $3 AND id > $4)) \
             ORDER BY creation_time, id LIMIT $5",
            scope,
        );
        let (after_time, after_id) = match after {
            Some((t, id)) => (t.micros(), id.to_string()),
            None => (i64::MIN, String::new()),
        };
        let rows = self
            .fetch_all(
                sqlx::query(&sql)
                    .bind(tenant)
                    .bind(since.map_or(i64::MIN, |t| t.micros()))
                    .bind(after_time)
                    .bind(after_id)
                    .bind(i64::try_from(limit).unwrap_or(i64::MAX)),
            )
            .await?;
        let mut sessions = rows
            .iter()
            .map(session_row)
            .collect::<StoreResult<Vec<_>>>()?;
        if with_tasks && !sessions.is_empty() {
            // The page's ids as one JSON parameter (see `json_insert`).
            let ids: Vec<String> = sessions.iter().map(|s| s.id.to_string()).collect();
            let list = match self.backend {
                Backend::Sqlite => "SELECT value FROM json_each($1)",
                Backend::Postgres => "SELECT jsonb_array_elements_text($1::jsonb)",
            };
            let task_sql = format!(
                "SELECT * FROM session_tasks WHERE session_id IN ({list}) ORDER BY session_id, idx"
            );
            let json = serde_json::to_string(&ids).map_err(|e| StoreError::Backend(Box::new(e)))?;
            let task_rows = self.fetch_all(sqlx::query(&task_sql).bind(json)).await?;
            attach_tasks(&mut sessions, &task_rows)?;
        }
        Ok(sessions)
    }

    async fn get_session(&self, scope: Scope, id: SessionId) -> StoreResult<FailoverSession> {
        let row = self
            .fetch_one(
                sqlx::query("SELECT * FROM failover_sessions WHERE id = $1").bind(id.to_string()),
            )
            .await?;
        let mut session = session_row(&row)?;
        if !scope.allows(session.tenant_id) {
            return Err(StoreError::NotFound);
        }
        session.tasks = self.session_tasks(id).await?;
        Ok(session)
    }

    async fn save_session(&self, s: &FailoverSession) -> StoreResult<()> {
        self.save_sessions(std::slice::from_ref(s)).await
    }

    async fn save_sessions(&self, sessions: &[FailoverSession]) -> StoreResult<()> {
        if sessions.is_empty() {
            return Ok(());
        }
        if let Some(native) = &self.native {
            return native.save_sessions(sessions.to_vec()).await;
        }
        // One transaction (one sync to disk) for the whole batch.
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        crate::batch::upsert_sessions(&mut tx, self.backend, sessions).await?;
        tx.commit().await.map_err(db_err)
    }

    async fn update_sessions(&self, updates: &[SessionUpdate<'_>]) -> StoreResult<()> {
        if updates.is_empty() {
            return Ok(());
        }
        if let Some(native) = &self.native {
            let (sessions, tasks) = crate::batch::step_rows(updates);
            return native.update_sessions(sessions, tasks).await;
        }
        let mut conn = self.pool.acquire().await.map_err(db_err)?;
        let cache = match self.backend {
            Backend::Sqlite => {
                crate::batch::step_cache_pragma(crate::batch::step_row_count(updates))
            }
            Backend::Postgres => None,
        };
        if let Some(grow) = &cache {
            sqlx::query(grow)
                .execute(&mut *conn)
                .await
                .map_err(db_err)?;
        }
        let committed = async {
            let mut tx = sqlx::Connection::begin(&mut *conn).await.map_err(db_err)?;
            crate::batch::update_sessions(&mut tx, self.backend, updates).await?;
            tx.commit().await.map_err(db_err)
        }
        .await;
        if cache.is_some() {
            // Back to the pool's size, which frees the pages above it (on an
            // error too, the transaction having been rolled back).
            sqlx::query(crate::SQLITE_CACHE_PRAGMA)
                .execute(&mut *conn)
                .await
                .map_err(db_err)?;
        }
        committed
    }

    async fn list_active_sessions(&self) -> StoreResult<Vec<FailoverSession>> {
        let rows = self
            .fetch_all(
                // A literal, so that SQLite uses the partial index `sessions_active`.
                sqlx::query(
                    "SELECT * FROM failover_sessions WHERE state <> 'Stopped' ORDER BY creation_time, id",
                ),
            )
            .await?;
        let mut sessions = rows
            .iter()
            .map(session_row)
            .collect::<StoreResult<Vec<_>>>()?;
        // All their tasks in one query rather than one query per session.
        let task_rows = self
            .fetch_all(sqlx::query(
                "SELECT t.* FROM session_tasks t JOIN failover_sessions s ON s.id = t.session_id \
                     WHERE s.state <> 'Stopped' ORDER BY t.session_id, t.idx",
            ))
            .await?;
        attach_tasks(&mut sessions, &task_rows)?;
        Ok(sessions)
    }

    async fn active_session_states(&self) -> StoreResult<Vec<(SessionId, SessionState)>> {
        let rows = self
            .fetch_all(sqlx::query(
                "SELECT id, state FROM failover_sessions WHERE state <> 'Stopped'",
            ))
            .await?;
        rows.iter()
            .map(|row| {
                let id = text(row, "id")?
                    .parse()
                    .map_err(|_| StoreError::Corrupt("a session id is not a GUID".into()))?;
                let state = text(row, "state")?
                    .parse()
                    .map_err(|_| StoreError::Corrupt("a session state is unknown".into()))?;
                Ok((id, state))
            })
            .collect()
    }

    async fn active_session_of_plan(&self, plan: PlanId) -> StoreResult<Option<SessionId>> {
        let row =
            sqlx::query("SELECT id FROM failover_sessions WHERE plan_id = $1 AND state <> $2")
                .bind(plan.to_string())
                .bind("Stopped")
                .fetch_optional(&self.pool)
                .await
                .map_err(db_err)?;
        row.map(|r| guid(&r, "id").map(SessionId)).transpose()
    }

    async fn sessions_by_ids(
        &self,
        ids: &[SessionId],
        with_tasks: bool,
    ) -> StoreResult<Vec<FailoverSession>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        if let Some(readers) = &self.readers {
            return readers.sessions_by_ids(ids.to_vec(), with_tasks).await;
        }
        // The ids as one JSON parameter: binding one parameter per id costs time
        // quadratic in their number through sqlx on SQLite.
        let list = match self.backend {
            Backend::Sqlite => "SELECT value FROM json_each($1)",
            Backend::Postgres => "SELECT jsonb_array_elements_text($1::jsonb)",
        };
        let json = serde_json::to_string(
            &ids.iter()
                .map(std::string::ToString::to_string)
                .collect::<Vec<_>>(),
        )
        .map_err(|e| StoreError::Backend(Box::new(e)))?;
        let sql = format!("SELECT * FROM failover_sessions WHERE id IN ({list})");
        let mut sessions: HashMap<SessionId, FailoverSession> = HashMap::new();
        for row in sqlx::query(&sql)
            .bind(json.clone())
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?
        {
            let s = session_row(&row)?;
            sessions.insert(s.id, s);
        }
        if with_tasks {
            let sql = format!(
                "SELECT * FROM session_tasks WHERE session_id IN ({list}) ORDER BY session_id, idx"
            );
            for row in sqlx::query(&sql)
                .bind(json)
                .fetch_all(&self.pool)
                .await
                .map_err(db_err)?
            {
                let id = SessionId(guid(&row, "session_id")?);
                if let Some(s) = sessions.get_mut(&id) {
                    s.tasks.push(session_task(&row)?);
                }
            }
        }
        Ok(ids.iter().filter_map(|id| sessions.remove(id)).collect())
    }

    async fn scan_sessions(
        &self,
        sink: &mut (dyn FnMut(SessionKeys) + Send),
    ) -> StoreResult<SessionScan> {
        use futures_util::TryStreamExt;
        let row = sqlx::query("SELECT epoch, revision FROM session_revision WHERE id = 1")
            .fetch_one(&self.query_pool)
            .await
            .map_err(db_err)?;
        let scan = SessionScan {
            epoch: int(&row, "epoch")?,
            revision: int(&row, "revision")?,
        };
        // One streamed statement in table order: sequential reads, bounded memory.
        let mut rows = sqlx::query(
            "SELECT id, plan_name, tenant_id, backup_server_id, creation_time, end_time, state, \
             result, failure_message, revision FROM failover_sessions",
        )
        .fetch(&self.query_pool);
        while let Some(row) = rows.try_next().await.map_err(db_err)? {
            sink(session_keys_row(&row)?);
        }
        Ok(scan)
    }

    async fn session_changes(
        &self,
        after: Option<(i64, SessionId)>,
        limit: u64,
    ) -> StoreResult<SessionChanges> {
        let epoch: i64 = sqlx::query_scalar("SELECT epoch FROM session_revision WHERE id = 1")
            .fetch_one(&self.pool)
            .await
            .map_err(db_err)?;
        let (revision, id) = match after {
            Some((r, id)) => (r, id.to_string()),
            None => (i64::MIN, String::new()),
        };
        let rows = sqlx::query(
            "SELECT id, plan_name, tenant_id, backup_server_id, creation_time, end_time, state, \
             result, failure_message, revision FROM failover_sessions \
             WHERE (revision, id) > ($1, $2) ORDER BY revision, id LIMIT $3",
        )
        .bind(revision)
        .bind(id)
        .bind(limit.min(i64::MAX as u64) as i64)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        let rows = rows
            .iter()
            .map(session_keys_row)
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(SessionChanges { epoch, rows })
    }

    async fn query_page(
        &self,
        query: &entman_query::CheckedQuery,
        restriction: &Restriction,
        offset: u64,
        limit: u64,
    ) -> StoreResult<QueryPage> {
        let dialect: &(dyn Dialect + Sync) = match self.backend {
            Backend::Sqlite => &SqliteDialect,
            Backend::Postgres => &PostgresDialect,
        };
        let total = if let Some(shape) = crate::counts::bucket_shape(query, restriction) {
            self.bucket_count(&shape).await?
        } else {
            let count = count_sql(query, restriction, dialect);
            let n: i64 = bind_all(sqlx::query_scalar(&count.text), &count.binds)
                .fetch_one(&self.query_pool)
                .await
                .map_err(db_err)?;
            n.max(0) as u64
        };
        if offset >= total || limit == 0 {
            return Ok(QueryPage {
                total,
                keys: Vec::new(),
            });
        }
        let end = offset.saturating_add(limit).min(total);
        // Pages in the second half are read from the end, so the database skips
        // `total - end` rows instead of `offset`.
        let reverse = offset > total / 2;
        let (skip, take) = if reverse {
            (total - end, end - offset)
        } else {
            (offset, end - offset)
        };
        let page = page_sql(query, restriction, dialect, skip, take, reverse);
        let rows = bind_rows(sqlx::query(&page.text), &page.binds)
            .fetch_all(&self.query_pool)
            .await
            .map_err(db_err)?;
        let mut keys = rows
            .iter()
            .map(|r| {
                r.try_get::<String, _>(0)
                    .or_else(|_| r.try_get::<i64, _>(0).map(|n| n.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| StoreError::Corrupt(format!("query key: {e}")))?;
        if reverse {
            keys.reverse();
        }
        Ok(QueryPage { total, keys })
    }

    async fn account_by_name(&self, name: &str) -> StoreResult<Option<Account>> {
        let row = sqlx::query("SELECT * FROM accounts WHERE name_key = $1")
            .bind(name.to_lowercase())
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?;
        row.as_ref().map(account_row).transpose()
    }

    async fn upsert_account(&self, a: &Account) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO accounts (id, name, name_key, password_hash, roles) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (name_key) DO UPDATE SET name = excluded.name, password_hash = excluded.password_hash, roles = excluded.roles",
        )
        .bind(a.id.to_string())
        .bind(a.name.clone())
        .bind(a.name.to_lowercase())
        .bind(a.password_hash.clone())
        .bind(roles_text(&a.roles))
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn list_accounts(&self) -> StoreResult<Vec<Account>> {
        let rows = self
            .fetch_all(sqlx::query("SELECT * FROM accounts"))
            .await?;
        let mut accounts = rows
            .iter()
            .map(account_row)
            .collect::<StoreResult<Vec<_>>>()?;
        sort_by_name(&mut accounts, |a| &a.name);
        Ok(accounts)
    }

    async fn delete_account(&self, name: &str) -> StoreResult<()> {
        self.execute_expect_row(
            sqlx::query("DELETE FROM accounts WHERE name_key = $1").bind(name.to_lowercase()),
        )
        .await
    }

    async fn insert_logon(&self, s: &LogonSession, token_hash: &str) -> StoreResult<()> {
        let (kind, id, roles) = match &s.principal {
            Principal::Account { id, roles } => ("account", id.to_string(), roles_text(roles)),
            Principal::Tenant { id } => ("tenant", id.to_string(), String::new()),
        };
        sqlx::query(
            "INSERT INTO logon_sessions (id, token_hash, user_name, principal_kind, principal_id, roles, api_version, created, last_seen, last_task) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 0)",
        )
        .bind(s.id.to_string())
        .bind(token_hash.to_string())
        .bind(s.user_name.clone())
        .bind(kind.to_string())
        .bind(id)
        .bind(roles)
        .bind(s.api_version.clone())
        .bind(s.created.micros())
        .bind(s.last_seen.micros())
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn logon_by_token(
        &self,
        token_hash: &str,
    ) -> StoreResult<Option<(LogonSession, String)>> {
        let row = sqlx::query("SELECT * FROM logon_sessions WHERE token_hash = $1")
            .bind(token_hash.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?;
        row.as_ref()
            .map(|r| Ok((logon_row(r)?, text(r, "token_hash")?)))
            .transpose()
    }

    async fn get_logon(&self, id: LogonSessionId) -> StoreResult<LogonSession> {
        let row = self
            .fetch_one(
                sqlx::query("SELECT * FROM logon_sessions WHERE id = $1").bind(id.to_string()),
            )
            .await?;
        logon_row(&row)
    }

    async fn touch_logon(&self, id: LogonSessionId, at: Timestamp) -> StoreResult<()> {
        self.execute_expect_row(
            sqlx::query(
                "UPDATE logon_sessions SET last_seen = $2 WHERE id = $1 AND last_seen < $2",
            )
            .bind(id.to_string())
            .bind(at.micros()),
        )
        .await
        .or_else(|e| {
            if matches!(e, StoreError::NotFound) {
                Ok(())
            } else {
                Err(e)
            }
        })
    }

    async fn delete_logon(&self, id: LogonSessionId) -> StoreResult<()> {
        self.execute_expect_row(
            sqlx::query("DELETE FROM logon_sessions WHERE id = $1").bind(id.to_string()),
        )
        .await
    }

    async fn purge_idle_logons(&self, idle_before: Timestamp) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM logon_sessions WHERE last_seen < $1")
            .bind(idle_before.micros())
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(done.rows_affected())
    }

    async fn insert_task(&self, t: &Task) -> StoreResult<Task> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        // The UPDATE comes first so that SQLite takes its write lock at once.
        let number: i64 = sqlx::query_scalar(
            "UPDATE logon_sessions SET last_task = last_task + 1 WHERE id = $1 RETURNING last_task",
        )
        .bind(t.logon_session_id.to_string())
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?
        .ok_or(StoreError::NotFound)?;
        let mut task = t.clone();
        task.number = TaskNumber(
            u32::try_from(number)
                .map_err(|_| StoreError::Conflict("task numbers exhausted".into()))?,
        );
        sqlx::query(
            "INSERT INTO tasks (logon_session_id, number, operation, state, success, message, related_session_id, related_name, creation_time) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(task.logon_session_id.to_string())
        .bind(number)
        .bind(task.operation.as_str().to_string())
        .bind(task.state.as_str().to_string())
        .bind(task.outcome.as_ref().map(|o| b(o.success)))
        .bind(task.outcome.as_ref().map(|o| o.message.clone()))
        .bind(task.related_session.as_ref().map(|r| r.id.to_string()))
        .bind(task.related_session.as_ref().map(|r| r.name.clone()))
        .bind(task.creation_time.micros())
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        Ok(task)
    }

    async fn get_task(&self, logon: LogonSessionId, number: TaskNumber) -> StoreResult<Task> {
        let row = self
            .fetch_one(
                sqlx::query("SELECT * FROM tasks WHERE logon_session_id = $1 AND number = $2")
                    .bind(logon.to_string())
                    .bind(i64::from(number.0)),
            )
            .await?;
        task_row(&row)
    }

    async fn list_tasks(&self, logon: LogonSessionId) -> StoreResult<Vec<Task>> {
        let rows = self
            .fetch_all(
                sqlx::query("SELECT * FROM tasks WHERE logon_session_id = $1 ORDER BY number")
                    .bind(logon.to_string()),
            )
            .await?;
        rows.iter().map(task_row).collect()
    }

    async fn update_task(&self, t: &Task) -> StoreResult<()> {
        self.execute_expect_row(
            sqlx::query(
                "UPDATE tasks SET state = $3, success = $4, message = $5, related_session_id = $6, related_name = $7 \
                 WHERE logon_session_id = $1 AND number = $2",
            )
            .bind(t.logon_session_id.to_string())
            .bind(i64::from(t.number.0))
            .bind(t.state.as_str().to_string())
            .bind(t.outcome.as_ref().map(|o| b(o.success)))
            .bind(t.outcome.as_ref().map(|o| o.message.clone()))
            .bind(t.related_session.as_ref().map(|r| r.id.to_string()))
            .bind(t.related_session.as_ref().map(|r| r.name.clone())),
        )
        .await
    }

    async fn delete_task(&self, logon: LogonSessionId, number: TaskNumber) -> StoreResult<()> {
        self.execute_expect_row(
            sqlx::query("DELETE FROM tasks WHERE logon_session_id = $1 AND number = $2")
                .bind(logon.to_string())
                .bind(i64::from(number.0)),
        )
        .await
    }
}
