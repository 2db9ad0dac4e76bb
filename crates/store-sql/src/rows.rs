//! Decoding rows into domain types, with corruption reported instead of panicking.

use entman_store::{StoreError, StoreResult};
use sqlx::any::AnyRow;
use sqlx::Row;
use std::str::FromStr;
use uuid::Uuid;

/// Maps a driver error, splitting out uniqueness conflicts.
pub(crate) fn db_err(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::RowNotFound => StoreError::NotFound,
        sqlx::Error::Database(d) if d.is_unique_violation() => {
            StoreError::Conflict(d.message().to_string())
        }
        sqlx::Error::Database(d) if d.is_foreign_key_violation() => {
            StoreError::Conflict(d.message().to_string())
        }
        _ => StoreError::Backend(Box::new(e)),
    }
}

/// A row of either driver: sqlx's `AnyRow` or a native rusqlite row
/// ([`NamedRow`]), so that one decoder per table serves both.
pub(crate) trait Columns {
    /// A nullable text column.
    fn text_value(&self, col: &str) -> StoreResult<Option<String>>;
    /// A nullable integer column.
    fn int_value(&self, col: &str) -> StoreResult<Option<i64>>;
}

impl Columns for AnyRow {
    fn text_value(&self, col: &str) -> StoreResult<Option<String>> {
        self.try_get::<Option<String>, _>(col)
            .map_err(|e| corrupt(col, e))
    }

    fn int_value(&self, col: &str) -> StoreResult<Option<i64>> {
        self.try_get::<Option<i64>, _>(col)
            .map_err(|e| corrupt(col, e))
    }
}

/// A rusqlite row with its statement's column names, so that a column is found
/// by comparing names in Rust (rusqlite asks SQLite for every name on every get).
pub(crate) struct NamedRow<'a, 'r> {
    pub row: &'a rusqlite::Row<'r>,
    pub names: &'a [String],
}

impl NamedRow<'_, '_> {
    fn index(&self, col: &str) -> StoreResult<usize> {
        self.names
            .iter()
            .position(|n| n == col)
            .ok_or_else(|| StoreError::Corrupt(format!("no column {col}")))
    }
}

impl Columns for NamedRow<'_, '_> {
    fn text_value(&self, col: &str) -> StoreResult<Option<String>> {
        self.row
            .get::<_, Option<String>>(self.index(col)?)
            .map_err(|e| StoreError::Corrupt(format!("{col}: {e}")))
    }

    fn int_value(&self, col: &str) -> StoreResult<Option<i64>> {
        self.row
            .get::<_, Option<i64>>(self.index(col)?)
            .map_err(|e| StoreError::Corrupt(format!("{col}: {e}")))
    }
}

fn null(col: &str) -> StoreError {
    StoreError::Corrupt(format!("{col}: unexpected NULL"))
}

/// A text column.
pub(crate) fn text(row: &impl Columns, col: &str) -> StoreResult<String> {
    row.text_value(col)?.ok_or_else(|| null(col))
}

/// A nullable text column.
pub(crate) fn opt_text(row: &impl Columns, col: &str) -> StoreResult<Option<String>> {
    row.text_value(col)
}

/// An integer column.
pub(crate) fn int(row: &impl Columns, col: &str) -> StoreResult<i64> {
    row.int_value(col)?.ok_or_else(|| null(col))
}

/// A nullable integer column.
pub(crate) fn opt_int(row: &impl Columns, col: &str) -> StoreResult<Option<i64>> {
    row.int_value(col)
}

/// A boolean stored as 0/1.
pub(crate) fn flag(row: &impl Columns, col: &str) -> StoreResult<bool> {
    int(row, col).map(|v| v != 0)
}

/// A GUID stored as text.
pub(crate) fn guid(row: &impl Columns, col: &str) -> StoreResult<Uuid> {
    let s = text(row, col)?;
    Uuid::parse_str(&s).map_err(|_| StoreError::Corrupt(format!("{col}: [{s}] is not a GUID")))
}

/// A nullable GUID stored as text.
pub(crate) fn opt_guid(row: &impl Columns, col: &str) -> StoreResult<Option<Uuid>> {
    opt_text(row, col)?
        .map(|s| {
            Uuid::parse_str(&s)
                .map_err(|_| StoreError::Corrupt(format!("{col}: [{s}] is not a GUID")))
        })
        .transpose()
}

/// A wire enum stored by name.
pub(crate) fn wire<T: FromStr>(row: &impl Columns, col: &str) -> StoreResult<T> {
    let s = text(row, col)?;
    s.parse()
        .map_err(|_| StoreError::Corrupt(format!("{col}: [{s}] is not a known value")))
}

/// An instant stored as microseconds.
pub(crate) fn time(row: &impl Columns, col: &str) -> StoreResult<entman_model::Timestamp> {
    int(row, col).map(entman_model::Timestamp::from_micros)
}

/// A nullable instant.
pub(crate) fn opt_time(
    row: &impl Columns,
    col: &str,
) -> StoreResult<Option<entman_model::Timestamp>> {
    Ok(opt_int(row, col)?.map(entman_model::Timestamp::from_micros))
}

fn corrupt(col: &str, e: sqlx::Error) -> StoreError {
    StoreError::Corrupt(format!("{col}: {e}"))
}

/// Sorts by name the way EM lists collections: case-insensitively, ties by exact name.
pub(crate) fn sort_by_name<T>(items: &mut [T], name: impl Fn(&T) -> &str) {
    items.sort_by(|a, b| {
        let (a, b) = (name(a), name(b));
        a.to_lowercase()
            .cmp(&b.to_lowercase())
            .then_with(|| a.cmp(b))
    });
}
