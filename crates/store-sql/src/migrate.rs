//! Schema migrations, applied in order at start. Each runs in a transaction and is
//! recorded in `schema_migrations`, so a restart applies only what is missing.

use entman_store::{StoreError, StoreResult};
use sqlx::AnyPool;

/// A migration: the same SQL for both databases, or one text per dialect.
struct Migration {
    version: i64,
    sqlite: &'static str,
    postgres: &'static str,
}

const fn shared(version: i64, sql: &'static str) -> Migration {
    Migration {
        version,
        sqlite: sql,
        postgres: sql,
    }
}

/// Statements end with `;` at the end of a line; trigger bodies (`BEGIN` … `END;`)
/// and `$$` quoted function bodies are kept whole.
const MIGRATIONS: &[Migration] = &[
    shared(1, include_str!("../migrations/0001_init.sql")),
    shared(2, include_str!("../migrations/0002_task_plans.sql")),
    shared(3, include_str!("../migrations/0003_query.sql")),
    Migration {
        version: 4,
        sqlite: include_str!("../migrations/sqlite/0004_session_counts.sql"),
        postgres: include_str!("../migrations/postgres/0004_session_counts.sql"),
    },
    shared(5, include_str!("../migrations/0005_logon_keys.sql")),
    shared(6, include_str!("../migrations/0006_active_sessions.sql")),
    shared(7, include_str!("../migrations/0007_session_revisions.sql")),
    Migration {
        version: 8,
        // SQLite rewrites a row in place; it has no fill factor.
        sqlite: "",
        postgres: include_str!("../migrations/postgres/0008_step_fillfactor.sql"),
    },
    Migration {
        version: 9,
        // SQLite has row triggers only.
        sqlite: "",
        postgres: include_str!("../migrations/postgres/0009_statement_counts.sql"),
    },
    shared(10, include_str!("../migrations/0010_jobs.sql")),
    shared(11, include_str!("../migrations/0011_job_sessions.sql")),
];

/// Applies every migration not applied yet.
pub(crate) async fn run(pool: &AnyPool, dialect: crate::Backend) -> StoreResult<()> {
    sqlx::query("CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied BIGINT NOT NULL)")
        .execute(pool)
        .await
        .map_err(backend)?;
    for migration in MIGRATIONS {
        let version = &migration.version;
        let sql = match dialect {
            crate::Backend::Sqlite => migration.sqlite,
            crate::Backend::Postgres => migration.postgres,
        };
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
                .map_err(|e| {
                    StoreError::Backend(format!("migration {version} failed: {e}").into())
                })?;
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

/// Splits a migration into statements (see [`MIGRATIONS`]), dropping comment lines.
fn statements(sql: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let (mut in_trigger, mut in_dollars) = (false, false);
    for line in sql.lines() {
        let t = line.trim();
        if t.starts_with("--") || (t.is_empty() && current.is_empty()) {
            continue;
        }
        current.push_str(line);
        current.push('\n');
        if t.matches("$$").count() % 2 == 1 {
            in_dollars = !in_dollars;
        }
        if !in_dollars && t.ends_with("BEGIN") && current.trim_start().starts_with("CREATE TRIGGER")
        {
            in_trigger = true;
        }
        let complete = if in_trigger {
            t == "END;"
        } else {
            !in_dollars && t.ends_with(';')
        };
        if complete {
            in_trigger = false;
            out.push(
                current.trim().trim_end_matches(';').to_string()
                    + if t == "END;" { ";" } else { "" },
            );
            current.clear();
        }
    }
    if !current.trim().is_empty() {
        out.push(current.trim().to_string());
    }
    out
}

fn backend(e: sqlx::Error) -> StoreError {
    StoreError::Backend(Box::new(e))
}

#[cfg(test)]
mod tests {
    #[test]
    fn migrations_split_into_whole_statements() {
        let s = super::statements(super::MIGRATIONS[0].sqlite);
        assert!(s.len() > 10);
        assert!(s.iter().all(|st| st.starts_with("CREATE")));
        assert_eq!(super::statements(super::MIGRATIONS[1].sqlite).len(), 5);
        assert_eq!(super::statements(super::MIGRATIONS[2].sqlite).len(), 4);
        let sqlite = super::statements(super::MIGRATIONS[3].sqlite);
        assert_eq!(sqlite.len(), 5);
        assert!(sqlite[2].starts_with("CREATE TRIGGER") && sqlite[2].ends_with("END;"));
        let postgres = super::statements(super::MIGRATIONS[3].postgres);
        assert_eq!(postgres.len(), 5);
        assert!(postgres[2].starts_with("CREATE FUNCTION") && postgres[2].ends_with("$$"));
    }
}
