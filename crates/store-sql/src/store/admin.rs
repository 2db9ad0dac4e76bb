//! The state as a whole: backend facts, change tracking, metadata, clearing, snapshots.

use super::*;

#[async_trait]
impl AdminStore for SqlStore {
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
            "job_task_sessions",
            "job_sessions",
            "jobs",
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
}
