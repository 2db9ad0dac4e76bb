//! Schema migrations, applied in order at start. Each runs in a transaction and is
//! recorded in `schema_migrations`, so a restart applies only what is missing.

use entman_store::{StoreError, StoreResult};
use sqlx::AnyPool;

/// (version, SQL). Statements are separated by `;` at line ends.
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../migrations/0001_init.sql")),
    (2, include_str!("../migrations/0002_task_plans.sql")),
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
    }
}
