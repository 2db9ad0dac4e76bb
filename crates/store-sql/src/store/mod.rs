//! The store implementation shared by both backends: the pools and their
//! helpers here, each resource's part of the [`Store`](entman_store::Store) traits in a module of its own.

mod accounts;
mod admin;
mod job_sessions;
mod jobs;
mod plans;
mod replicas;
mod servers;
mod sessions;
mod tasks;

pub(crate) use sessions::{session_row, session_task};
mod tenants;

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
    AccountStore, AdminStore, JobStore, PlanStore, QueryPage, ReplicaStore, Restriction, Scope,
    ServerStore, SessionChanges, SessionKeys, SessionScan, SessionStore, SessionUpdate, StoreError,
    StoreResult, TaskStore, TenantCredential, TenantStore,
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
}

fn b(v: bool) -> i64 {
    i64::from(v)
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
