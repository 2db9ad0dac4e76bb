//! Snapshots of the whole state (`/_entman/snapshot`): every row of the state's
//! tables, read and written generically. Table names are this module's
//! constants and column names come from the database's own catalog; a snapshot
//! whose tables or columns differ from the catalog's is refused, so no client
//! text ever becomes part of a statement (values are bound parameters).

use crate::Backend;
use entman_store::{Cell, StoreError, StoreResult, TableRows};
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

/// The tables of a snapshot, parents before children (the order rows are
/// written in; deletes go the other way).
const TABLES: &[&str] = &[
    "backup_servers",
    "jobs",
    "job_sessions",
    "job_task_sessions",
    "tenants",
    "tenant_logins",
    "replicas",
    "vm_replica_points",
    "plans",
    "plan_vms",
    "failover_sessions",
    "session_tasks",
    "accounts",
    "logon_sessions",
    "tasks",
    "meta",
];

/// The `meta` keys that belong to the state (the recorded world); the others
/// (schema bookkeeping) are not the snapshot's.
/// Tables added after snapshots were first taken: a snapshot without one holds
/// none of its rows.
const LATER_TABLES: &[&str] = &["jobs", "job_sessions", "job_task_sessions"];

const STATE_META: &[&str] = &["world", "world_text", "world_anchor"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Int,
    Text,
}

/// The columns of a table, in their declared order, from the catalog.
async fn columns(
    tx: &mut Transaction<'_, Any>,
    backend: Backend,
    table: &str,
) -> StoreResult<Vec<(String, Kind)>> {
    let sql = match backend {
        Backend::Sqlite => "SELECT name, type FROM pragma_table_info($1) ORDER BY cid",
        Backend::Postgres => {
            "SELECT column_name::text AS name, data_type::text AS type FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position"
        }
    };
    let rows = sqlx::query(sql)
        .bind(table.to_string())
        .fetch_all(&mut **tx)
        .await
        .map_err(crate::rows::db_err)?;
    let cols: Vec<(String, Kind)> = rows
        .iter()
        .map(|r| {
            let name: String = r.try_get("name").map_err(crate::rows::db_err)?;
            let kind: String = r.try_get("type").map_err(crate::rows::db_err)?;
            let kind = if kind.to_ascii_uppercase().contains("INT") {
                Kind::Int
            } else {
                Kind::Text
            };
            Ok((name, kind))
        })
        .collect::<StoreResult<_>>()?;
    if cols.is_empty() {
        return Err(StoreError::Corrupt(format!("table {table} has no columns")));
    }
    Ok(cols)
}

fn quoted(names: &[(String, Kind)]) -> Vec<String> {
    names
        .iter()
        .map(|(n, _)| format!("\"{}\"", n.replace('"', "\"\"")))
        .collect()
}

fn cell(row: &AnyRow, i: usize, kind: Kind) -> StoreResult<Cell> {
    let value = match kind {
        Kind::Int => row
            .try_get::<Option<i64>, _>(i)
            .map(|v| v.map_or(Cell::Null, Cell::Int)),
        Kind::Text => row
            .try_get::<Option<String>, _>(i)
            .map(|v| v.map_or(Cell::Null, Cell::Text)),
    };
    value.map_err(|e| StoreError::Corrupt(format!("column {i}: {e}")))
}

/// Every row of the snapshot's tables, each table ordered by all its columns.
pub(crate) async fn dump(
    tx: &mut Transaction<'_, Any>,
    backend: Backend,
    max_sessions: u64,
) -> StoreResult<Vec<TableRows>> {
    let sessions: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM failover_sessions")
        .fetch_one(&mut **tx)
        .await
        .map_err(crate::rows::db_err)?;
    if sessions.max(0) as u64 > max_sessions {
        return Err(StoreError::Conflict(format!(
            "the state holds {sessions} sessions; a snapshot takes at most {max_sessions}"
        )));
    }
    let mut tables = Vec::with_capacity(TABLES.len());
    for table in TABLES {
        let cols = columns(tx, backend, table).await?;
        let names = quoted(&cols);
        let order: Vec<String> = (1..=cols.len()).map(|i| i.to_string()).collect();
        let filter = if *table == "meta" {
            " WHERE key IN ('world', 'world_text', 'world_anchor')"
        } else {
            ""
        };
        let sql = format!(
            "SELECT {} FROM {table}{filter} ORDER BY {}",
            names.join(", "),
            order.join(", ")
        );
        let rows = sqlx::query(&sql)
            .fetch_all(&mut **tx)
            .await
            .map_err(crate::rows::db_err)?;
        let rows = rows
            .iter()
            .map(|r| {
                cols.iter()
                    .enumerate()
                    .map(|(i, (_, kind))| cell(r, i, *kind))
                    .collect::<StoreResult<Vec<_>>>()
            })
            .collect::<StoreResult<Vec<_>>>()?;
        tables.push(TableRows {
            name: table.to_string(),
            columns: cols.into_iter().map(|(n, _)| n).collect(),
            rows,
        });
    }
    Ok(tables)
}

fn refuse(message: String) -> StoreError {
    StoreError::Conflict(message)
}

/// Checks a snapshot against the catalog: the same tables, the same columns in
/// the same order, values of the columns' kinds. Returns the kinds per table.
async fn check(
    tx: &mut Transaction<'_, Any>,
    backend: Backend,
    tables: &[TableRows],
) -> StoreResult<Vec<Vec<(String, Kind)>>> {
    if let Some(t) = tables.iter().find(|t| !TABLES.contains(&t.name.as_str())) {
        return Err(refuse(format!(
            "[{}] is not a table of the state",
            clip(&t.name)
        )));
    }
    let mut kinds = Vec::with_capacity(TABLES.len());
    for (i, table) in TABLES.iter().enumerate() {
        let given = tables
            .iter()
            .filter(|t| t.name == *table)
            .collect::<Vec<_>>();
        let cols = columns(tx, backend, table).await?;
        let given = match given.as_slice() {
            [given] => *given,
            [] if LATER_TABLES.contains(table) => {
                kinds.push(cols);
                continue;
            }
            _ => {
                return Err(refuse(format!(
                    "the snapshot must hold table [{table}] once"
                )));
            }
        };
        let names: Vec<&str> = cols.iter().map(|(n, _)| n.as_str()).collect();
        if given
            .columns
            .iter()
            .map(String::as_str)
            .ne(names.iter().copied())
        {
            return Err(refuse(format!(
                "table [{table}] must have the columns {} in this order",
                names.join(", ")
            )));
        }
        for (r, row) in given.rows.iter().enumerate() {
            if row.len() != cols.len() {
                return Err(refuse(format!(
                    "row {} of [{table}] has {} values for {} columns",
                    r + 1,
                    row.len(),
                    cols.len()
                )));
            }
            for (value, (name, kind)) in row.iter().zip(&cols) {
                let fits = matches!(
                    (value, kind),
                    (Cell::Null, _) | (Cell::Int(_), Kind::Int) | (Cell::Text(_), Kind::Text)
                );
                if !fits {
                    return Err(refuse(format!(
                        "row {} of [{table}]: [{name}] must be {}",
                        r + 1,
                        if *kind == Kind::Int {
                            "a whole number"
                        } else {
                            "a string"
                        }
                    )));
                }
                if matches!(value, Cell::Text(t) if t.contains('\0')) {
                    return Err(refuse(format!(
                        "row {} of [{table}]: [{name}] holds NUL",
                        r + 1
                    )));
                }
            }
            if *table == "meta" {
                let key = match row.first() {
                    Some(Cell::Text(k)) => k.as_str(),
                    _ => "",
                };
                if !STATE_META.contains(&key) {
                    return Err(refuse(format!(
                        "[meta] may only hold {}",
                        STATE_META.join(", ")
                    )));
                }
            }
        }
        debug_assert_eq!(kinds.len(), i);
        kinds.push(cols);
    }
    Ok(kinds)
}

fn clip(text: &str) -> String {
    text.chars().take(60).collect()
}

/// Replaces the state's rows with the snapshot's (checked first), and moves the
/// session epoch so that readers of revisions start over.
pub(crate) async fn restore(
    tx: &mut Transaction<'_, Any>,
    backend: Backend,
    tables: &[TableRows],
) -> StoreResult<()> {
    let kinds = check(tx, backend, tables).await?;
    sqlx::query(crate::batch::NEXT_EPOCH)
        .execute(&mut **tx)
        .await
        .map_err(crate::rows::db_err)?;
    for table in TABLES.iter().rev() {
        let sql = if *table == "meta" {
            "DELETE FROM meta WHERE key IN ('world', 'world_text', 'world_anchor')".to_string()
        } else {
            format!("DELETE FROM {table}")
        };
        sqlx::query(&sql)
            .execute(&mut **tx)
            .await
            .map_err(crate::rows::db_err)?;
        if *table == "failover_sessions" {
            sqlx::query("DELETE FROM session_counts")
                .execute(&mut **tx)
                .await
                .map_err(crate::rows::db_err)?;
        }
    }
    for (table, cols) in TABLES.iter().zip(&kinds) {
        // Checked: every table is there but a later one, which then has no rows.
        let Some(given) = tables.iter().find(|t| t.name == *table) else {
            continue;
        };
        let placeholders: Vec<String> = (1..=cols.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "INSERT INTO {table} ({}) VALUES ({})",
            quoted(cols).join(", "),
            placeholders.join(", ")
        );
        for (r, row) in given.rows.iter().enumerate() {
            let mut q = sqlx::query(&sql);
            for (value, (_, kind)) in row.iter().zip(cols) {
                q = match (value, kind) {
                    (Cell::Int(v), _) => q.bind(*v),
                    (Cell::Text(v), _) => q.bind(v.clone()),
                    (Cell::Null, Kind::Int) => q.bind(None::<i64>),
                    (Cell::Null, Kind::Text) => q.bind(None::<String>),
                };
            }
            q.execute(&mut **tx)
                .await
                .map_err(|e| refuse(format!("row {} of [{table}] does not fit: {e}", r + 1)))?;
        }
    }
    // Revisions keep growing past every restored one.
    let highest: Option<i64> = sqlx::query_scalar("SELECT MAX(revision) FROM failover_sessions")
        .fetch_one(&mut **tx)
        .await
        .map_err(crate::rows::db_err)?;
    sqlx::query("UPDATE session_revision SET revision = $1 WHERE id = 1 AND revision < $1")
        .bind(highest.unwrap_or(0).saturating_add(1))
        .execute(&mut **tx)
        .await
        .map_err(crate::rows::db_err)?;
    Ok(())
}
