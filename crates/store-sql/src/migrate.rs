//! Schema migrations, applied in order at start. Each runs in a transaction and is
//! recorded in `schema_migrations`, so a restart applies only what is missing.

use entman_store::{StoreError, StoreResult};
use sqlx::AnyPool;

/// (version, SQL). Statements are separated by `;` at line ends.
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../migrations/0001_init.sql")),
    (2, include_str!("../migrations/0002_task_plans.sql")),
    (3, include_str!("../migrations/0003_query.sql")),
];

/// Applies every migration not applied yet.
pub async fn run(pool: &AnyPool) -> StoreResult<()> {
    sqlx::query("CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied BIGINT NOT NULL)")
        .execute(pool)
        .await
        .map_err(backend)?;
    for (version, sql) in MIGRATIONS {
        let done: Option<i64> =
            sqlx::query_scalar("SELECT version FROM schema_migrations WHERE version = $1")
                .bind(*version)
                .fetch_optional(pool)
                .await
                .map_err(backend)?;
        if done.is_some() {
            continue;
        }
        let mut tx = pool.begin().await.map_err(backend)?;
        for statement in statements(sql) {
            sqlx::query(&statement)
                .execute(&mut *tx)
                .await
                .map_err(|e| StoreError::Backend(format!("migration {version} failed: {e}")))?;
        }
        sqlx::query("INSERT INTO schema_migrations (version, applied) VALUES ($1, $2)")
            .bind(*version)
            .bind(entman_model::Timestamp::now().micros())
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        tracing::info!(version, "applied database migration");
    }
    backfill(pool).await
}

/// Fills columns that migrations added but cannot compute in SQL: point names
/// (`<vm>@<yyyy-MM-dd HH:mm:ss>`) and tenants' organization references.
async fn backfill(pool: &AnyPool) -> StoreResult<()> {
    use sqlx::Row;
    let rows =
        sqlx::query("SELECT id, vm_name, creation_time FROM vm_replica_points WHERE name IS NULL")
            .fetch_all(pool)
            .await
            .map_err(backend)?;
    for row in rows {
        let (id, vm, time): (String, String, i64) = (
            row.try_get(0).map_err(backend)?,
            row.try_get(1).map_err(backend)?,
            row.try_get(2).map_err(backend)?,
        );
        let name = format!(
            "{vm}@{}",
            entman_model::Timestamp::from_micros(time).display_name_form()
        );
        sqlx::query("UPDATE vm_replica_points SET name = $2 WHERE id = $1")
            .bind(id)
            .bind(name)
            .execute(pool)
            .await
            .map_err(backend)?;
    }
    let rows = sqlx::query("SELECT id, detail FROM tenants WHERE org_ref IS NULL AND kind = $1")
        .bind("VCloud")
        .fetch_all(pool)
        .await
        .map_err(backend)?;
    for row in rows {
        let (id, detail): (String, String) = (
            row.try_get(0).map_err(backend)?,
            row.try_get(1).map_err(backend)?,
        );
        let tenant: entman_model::tenant::Tenant = serde_json::from_str(&detail)
            .map_err(|e| StoreError::Corrupt(format!("tenant detail: {e}")))?;
        if let entman_model::tenant::TenantKind::VCloud {
            organization_ref, ..
        } = tenant.kind
        {
            sqlx::query("UPDATE tenants SET org_ref = $2 WHERE id = $1")
                .bind(id)
                .bind(organization_ref)
                .execute(pool)
                .await
                .map_err(backend)?;
        }
    }
    Ok(())
}

/// Splits a migration into statements, dropping `--` comment lines.
fn statements(sql: &str) -> Vec<String> {
    let cleaned: String = sql
        .lines()
        .filter(|l| !l.trim_start().starts_with("--"))
        .map(|l| format!("{l}\n"))
        .collect();
    cleaned
        .split(';')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

fn backend(e: sqlx::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_initial_migration_splits_into_statements() {
        let s = super::statements(super::MIGRATIONS[0].1);
        assert!(s.len() > 10);
        assert!(s.iter().all(|st| st.starts_with("CREATE")));
        assert_eq!(super::statements(super::MIGRATIONS[1].1).len(), 5);
        assert_eq!(super::statements(super::MIGRATIONS[2].1).len(), 4);
    }
}
