//! Runs of jobs and their task sessions (slice 2): one row per run, one per VM.

use super::*;
use entman_model::job::{JobOutcome, JobType};
use entman_model::job_run::PlannedTask;
use entman_model::job_session::{JobSession, JobTaskSession, Trigger, WORKER_JOB_TYPE};
use entman_store::{JobSessionFilter, JobSessionStore};
use uuid::Uuid;

const SESSION_COLUMNS: &str = "id, job_id, backup_server_id, kind, job_name, job_type, name, \
     run_trigger, creation_time, tasks_time, end_time, stop_time, stop_progress, final_progress";

fn session_head(row: &AnyRow) -> StoreResult<JobSession> {
    let trigger = text(row, "run_trigger")?;
    let stop = match (opt_time(row, "stop_time")?, opt_int(row, "stop_progress")?) {
        (Some(at), Some(p)) => Some((at, u8::try_from(p.clamp(0, 100)).unwrap_or(0))),
        _ => None,
    };
    let job_type = text(row, "job_type")?;
    let worker = job_type == WORKER_JOB_TYPE;
    let job_type: JobType = if worker {
        JobType::ImmediateBackupCopy
    } else {
        job_type
            .parse()
            .map_err(|_| StoreError::Corrupt(format!("job_type: [{job_type}]")))?
    };
    let final_progress =
        opt_int(row, "final_progress")?.map(|p| u8::try_from(p.clamp(0, 100)).unwrap_or(100));
    Ok(JobSession {
        id: guid(row, "id")?,
        job_id: JobId(guid(row, "job_id")?),
        backup_server_id: BackupServerId(guid(row, "backup_server_id")?),
        job_name: text(row, "job_name")?,
        job_type,
        name: text(row, "name")?,
        trigger: Trigger::parse(&trigger)
            .ok_or_else(|| StoreError::Corrupt(format!("run_trigger: [{trigger}]")))?,
        created: time(row, "creation_time")?,
        tasks_at: time(row, "tasks_time")?,
        end: time(row, "end_time")?,
        stop,
        worker,
        final_progress,
        tasks: Vec::new(),
    })
}

fn task_row(row: &AnyRow) -> StoreResult<(Uuid, JobTaskSession)> {
    let position = int(row, "position")?;
    let size = int(row, "size_bytes")?;
    Ok((
        guid(row, "session_id")?,
        JobTaskSession {
            id: guid(row, "id")?,
            vm_name: text(row, "vm_name")?,
            vm_ref: text(row, "vm_ref")?,
            name: text(row, "name")?,
            point_time: time(row, "point_time")?,
            vm_point_id: guid(row, "vm_point_id")?,
            restore_point_id: guid(row, "restore_point")?,
            course: PlannedTask {
                vm: usize::try_from(position)
                    .map_err(|_| StoreError::Corrupt(format!("position: {position}")))?,
                created: time(row, "creation_time")?,
                start: time(row, "start_time")?,
                end: time(row, "end_time")?,
                outcome: wire::<JobOutcome>(row, "outcome")?,
                reason: text(row, "reason")?,
                size_bytes: u64::try_from(size)
                    .map_err(|_| StoreError::Corrupt(format!("size_bytes: {size}")))?,
            },
        },
    ))
}

/// The `WHERE` of a filter over `job_sessions`, with its binds.
fn filter_sql(filter: &JobSessionFilter) -> (String, Vec<Bind>) {
    let mut clauses = Vec::new();
    let mut binds = Vec::new();
    let mut add = |clause: &str, bind: Bind| {
        binds.push(bind);
        clauses.push(format!("{clause} ${}", binds.len()));
    };
    if let Some(kind) = filter.kind {
        add("kind =", Bind::Text(kind.as_str().to_string()));
    }
    if let Some(job) = filter.job {
        add("job_id =", Bind::Text(job.to_string()));
    }
    if let Some(since) = filter.since {
        add("creation_time >=", Bind::Int(since.micros()));
    }
    let sql = if clauses.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", clauses.join(" AND "))
    };
    (sql, binds)
}

impl SqlStore {
    /// Attaches their task sessions to runs, in VM order.
    async fn with_tasks(
        &self,
        mut sessions: Vec<JobSession>,
        where_sql: &str,
        binds: &[Bind],
    ) -> StoreResult<Vec<JobSession>> {
        if sessions.is_empty() {
            return Ok(sessions);
        }
        let sql = format!(
            "SELECT * FROM job_task_sessions WHERE session_id IN (SELECT id FROM job_sessions{where_sql}) \
             ORDER BY session_id, position"
        );
        let rows = self.fetch_all(bind_rows(sqlx::query(&sql), binds)).await?;
        let mut by_session: HashMap<Uuid, Vec<JobTaskSession>> = HashMap::new();
        for row in &rows {
            let (session, task) = task_row(row)?;
            by_session.entry(session).or_default().push(task);
        }
        for session in &mut sessions {
            session.tasks = by_session.remove(&session.id).unwrap_or_default();
        }
        Ok(sessions)
    }

    async fn sessions_where(
        &self,
        where_sql: &str,
        binds: &[Bind],
    ) -> StoreResult<Vec<JobSession>> {
        let sql = format!(
            "SELECT {SESSION_COLUMNS} FROM job_sessions{where_sql} ORDER BY creation_time, id"
        );
        let rows = self.fetch_all(bind_rows(sqlx::query(&sql), binds)).await?;
        let sessions = rows
            .iter()
            .map(session_head)
            .collect::<StoreResult<Vec<_>>>()?;
        self.with_tasks(sessions, where_sql, binds).await
    }

    async fn one_session(&self, where_sql: &str, bind: Bind) -> StoreResult<JobSession> {
        let binds = [bind];
        self.sessions_where(where_sql, &binds)
            .await?
            .pop()
            .ok_or(StoreError::NotFound)
    }
}

/// Writes a run's task rows inside a transaction.
async fn insert_tasks(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    session: &JobSession,
) -> StoreResult<()> {
    for task in &session.tasks {
        let c = &task.course;
        sqlx::query(
            "INSERT INTO job_task_sessions (id, session_id, position, vm_name, vm_ref, name, point_time, \
             vm_point_id, restore_point, creation_time, start_time, end_time, outcome, reason, size_bytes) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
        )
        .bind(task.id.to_string())
        .bind(session.id.to_string())
        .bind(i64::try_from(c.vm).unwrap_or(i64::MAX))
        .bind(task.vm_name.clone())
        .bind(task.vm_ref.clone())
        .bind(task.name.clone())
        .bind(task.point_time.micros())
        .bind(task.vm_point_id.to_string())
        .bind(task.restore_point_id.to_string())
        .bind(c.created.micros())
        .bind(c.start.micros())
        .bind(c.end.micros())
        .bind(c.outcome.as_str())
        .bind(c.reason.clone())
        .bind(i64::try_from(c.size_bytes).unwrap_or(i64::MAX))
        .execute(&mut **tx)
        .await
        .map_err(db_err)?;
    }
    Ok(())
}

#[async_trait]
impl JobSessionStore for SqlStore {
    async fn insert_job_session(&self, session: &JobSession) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        sqlx::query(
            "INSERT INTO job_sessions (id, job_id, backup_server_id, kind, job_name, job_type, name, \
             run_trigger, creation_time, tasks_time, end_time, stop_time, stop_progress, final_progress) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
        )
        .bind(session.id.to_string())
        .bind(session.job_id.to_string())
        .bind(session.backup_server_id.to_string())
        .bind(session.kind().as_str())
        .bind(session.job_name.clone())
        .bind(session.job_type_name())
        .bind(session.name.clone())
        .bind(session.trigger.as_str())
        .bind(session.created.micros())
        .bind(session.tasks_at.micros())
        .bind(session.end.micros())
        .bind(session.stop.map(|(at, _)| at.micros()))
        .bind(session.stop.map(|(_, p)| i64::from(p)))
        .bind(session.final_progress.map(i64::from))
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        insert_tasks(&mut tx, session).await?;
        tx.commit().await.map_err(db_err)
    }

    async fn update_job_session(&self, session: &JobSession) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let done = sqlx::query(
            "UPDATE job_sessions SET end_time = $2, stop_time = $3, stop_progress = $4, tasks_time = $5 \
             WHERE id = $1",
        )
        .bind(session.id.to_string())
        .bind(session.end.micros())
        .bind(session.stop.map(|(at, _)| at.micros()))
        .bind(session.stop.map(|(_, p)| i64::from(p)))
        .bind(session.tasks_at.micros())
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        sqlx::query("DELETE FROM job_task_sessions WHERE session_id = $1")
            .bind(session.id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        insert_tasks(&mut tx, session).await?;
        tx.commit().await.map_err(db_err)
    }

    async fn get_job_session(&self, id: Uuid) -> StoreResult<JobSession> {
        self.one_session(" WHERE id = $1", Bind::Text(id.to_string()))
            .await
    }

    async fn list_job_sessions(&self, filter: JobSessionFilter) -> StoreResult<Vec<JobSession>> {
        let (where_sql, binds) = filter_sql(&filter);
        self.sessions_where(&where_sql, &binds).await
    }

    async fn job_session_of_task(&self, task: Uuid) -> StoreResult<JobSession> {
        self.one_session(
            " WHERE id = (SELECT session_id FROM job_task_sessions WHERE id = $1)",
            Bind::Text(task.to_string()),
        )
        .await
    }

    async fn latest_job_session(&self, job: JobId) -> StoreResult<Option<JobSession>> {
        let sql = format!(
            "SELECT {SESSION_COLUMNS} FROM job_sessions WHERE job_id = $1 \
             ORDER BY creation_time DESC, id DESC LIMIT 1"
        );
        let row = sqlx::query(&sql)
            .bind(job.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?;
        let Some(row) = row else { return Ok(None) };
        let head = session_head(&row)?;
        let where_sql = " WHERE id = $1";
        let binds = [Bind::Text(head.id.to_string())];
        Ok(self.with_tasks(vec![head], where_sql, &binds).await?.pop())
    }
}
