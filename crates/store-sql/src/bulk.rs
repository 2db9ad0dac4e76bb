//! Bulk loads into an empty session table (`entman generate`).
//!
//! Inserting a session with random keys updates every index of
//! `failover_sessions` row by row, and most of the time of a large load went to
//! writing the pages those B-trees dirtied. On SQLite a load larger than what is
//! stored therefore drops the table's secondary indexes first and builds them
//! once at the end (a sort and a sequential write each). The primary keys, the
//! foreign keys and the per-day count trigger stay, so what is stored stays
//! consistent throughout; a server reading the same file meanwhile only finds its
//! SQL queries slower. The dropped definitions are kept in `meta` until the end,
//! so a load killed half-way is finished by the next [`SqlStore::connect`].

use crate::rows::db_err;
use crate::store::SqlStore;
use crate::Backend;
use entman_store::{StoreError, StoreResult};
use sqlx::Row;

/// The `meta` key that holds the definitions dropped for a bulk load.
const DEFERRED: &str = "bulk_load_deferred";

/// Whether a bulk load deferred its indexes (and must end with [`SqlStore::end_bulk_load`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub enum BulkLoad {
    /// The secondary indexes were dropped and are built at the end.
    Deferred,
    /// Rows are inserted with every index in place (PostgreSQL, or a load
    /// smaller than what is stored).
    Direct,
}

impl SqlStore {
    /// Prepares a bulk load of `expected` sessions: see the module documentation.
    pub async fn begin_bulk_load(&self, expected: u64) -> StoreResult<BulkLoad> {
        if self.backend != Backend::Sqlite {
            return Ok(BulkLoad::Direct);
        }
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM failover_sessions")
            .fetch_one(&mut *tx)
            .await
            .map_err(db_err)?;
        if u64::try_from(stored).unwrap_or(u64::MAX) >= expected {
            // Ended here, not at drop: a dropped sqlx transaction is only rolled
            // back when its connection is next used.
            tx.rollback().await.map_err(db_err)?;
            return Ok(BulkLoad::Direct);
        }
        let rows = sqlx::query(
            "SELECT type, name, sql FROM sqlite_master WHERE tbl_name = 'failover_sessions' \
             AND type = 'index' AND sql IS NOT NULL ORDER BY name",
        )
        .fetch_all(&mut *tx)
        .await
        .map_err(db_err)?;
        let mut definitions = Vec::new();
        for row in &rows {
            let name: String = row.try_get("name").map_err(db_err)?;
            let sql: String = row.try_get("sql").map_err(db_err)?;
            sqlx::query(&format!("DROP INDEX \"{name}\""))
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
            definitions.push(sql);
        }
        let json =
            serde_json::to_string(&definitions).map_err(|e| StoreError::Backend(Box::new(e)))?;
        sqlx::query("INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value")
            .bind(DEFERRED)
            .bind(json)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        Ok(BulkLoad::Deferred)
    }

    /// Ends a bulk load: builds the indexes [`SqlStore::begin_bulk_load`]
    /// dropped. Does nothing when no load is pending.
    pub async fn end_bulk_load(&self) -> StoreResult<()> {
        if self.backend != Backend::Sqlite {
            return Ok(());
        }
        let json: Option<String> = sqlx::query_scalar("SELECT value FROM meta WHERE key = $1")
            .bind(DEFERRED)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?;
        let Some(json) = json else {
            return Ok(());
        };
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let definitions: Vec<String> = serde_json::from_str(&json)
            .map_err(|_| StoreError::Corrupt("the deferred index definitions".into()))?;
        // A pool connection idle since before the indexes were dropped (on
        // another connection) still holds them in its cached schema, and SQLite
        // answers "index already exists" from that cache. The first read of a
        // transaction compares the schema version and reloads a stale cache.
        sqlx::query("SELECT COUNT(*) FROM sqlite_master")
            .fetch_one(&mut *tx)
            .await
            .map_err(db_err)?;
        for sql in &definitions {
            sqlx::query(sql).execute(&mut *tx).await.map_err(db_err)?;
        }
        sqlx::query("DELETE FROM meta WHERE key = $1")
            .bind(DEFERRED)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        tx.commit().await.map_err(db_err)
    }
}
