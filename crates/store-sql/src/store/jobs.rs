//! Jobs of the backup servers (slice 2).

use super::*;
use entman_model::job::Job;

/// A job from its row: the JSON definition, with the columns that change over it.
pub(super) fn job_row(row: &AnyRow) -> StoreResult<Job> {
    let definition = text(row, "definition")?;
    let mut job: Job = serde_json::from_str(&definition)
        .map_err(|e| StoreError::Corrupt(format!("job definition: {e}")))?;
    job.schedule_enabled = flag(row, "schedule_enabled")?;
    Ok(job)
}

#[async_trait]
impl JobStore for SqlStore {
    async fn list_jobs(&self) -> StoreResult<Vec<Job>> {
        let rows = self
            .fetch_all(sqlx::query("SELECT * FROM jobs ORDER BY name_key, id"))
            .await?;
        rows.iter().map(job_row).collect()
    }

    async fn get_job(&self, id: JobId) -> StoreResult<Job> {
        let row = self
            .fetch_one(sqlx::query("SELECT * FROM jobs WHERE id = $1").bind(id.to_string()))
            .await?;
        job_row(&row)
    }

    async fn insert_job(&self, job: &Job) -> StoreResult<()> {
        let definition =
            serde_json::to_string(job).map_err(|e| StoreError::Backend(Box::new(e)))?;
        sqlx::query(
            "INSERT INTO jobs (id, backup_server_id, name, name_key, job_type, schedule_enabled, definition) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(job.id.to_string())
        .bind(job.backup_server_id.to_string())
        .bind(job.name.clone())
        .bind(job.name.to_lowercase())
        .bind(job.job_type.as_str())
        .bind(b(job.schedule_enabled))
        .bind(definition)
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn set_job_schedule_enabled(&self, id: JobId, enabled: bool) -> StoreResult<()> {
        self.execute_expect_row(
            sqlx::query("UPDATE jobs SET schedule_enabled = $2 WHERE id = $1")
                .bind(id.to_string())
                .bind(b(enabled)),
        )
        .await
    }
}
