//! Tasks of logon sessions.

use super::*;

pub(super) fn task_row(row: &AnyRow) -> StoreResult<Task> {
    let outcome = match (opt_int(row, "success")?, opt_text(row, "message")?) {
        (Some(success), message) => Some(TaskOutcome {
            success: success != 0,
            message: message.unwrap_or_default(),
        }),
        (None, _) => None,
    };
    let related_session = match (
        opt_guid(row, "related_session_id")?,
        opt_text(row, "related_name")?,
    ) {
        (Some(id), Some(name)) => Some(RelatedSession {
            id: SessionId(id),
            name,
        }),
        _ => None,
    };
    let number = u32::try_from(int(row, "number")?)
        .map_err(|_| StoreError::Corrupt("task number".into()))?;
    Ok(Task {
        logon_session_id: LogonSessionId(guid(row, "logon_session_id")?),
        number: TaskNumber(number),
        operation: wire(row, "operation")?,
        state: wire(row, "state")?,
        outcome,
        related_session,
        creation_time: time(row, "creation_time")?,
    })
}

#[async_trait]
impl TaskStore for SqlStore {
    async fn insert_task(&self, t: &Task) -> StoreResult<Task> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        // The UPDATE comes first so that SQLite takes its write lock at once.
        let number: i64 = sqlx::query_scalar(
            "UPDATE logon_sessions SET last_task = last_task + 1 WHERE id = $1 RETURNING last_task",
        )
        .bind(t.logon_session_id.to_string())
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?
        .ok_or(StoreError::NotFound)?;
        let mut task = t.clone();
        task.number = TaskNumber(
            u32::try_from(number)
                .map_err(|_| StoreError::Conflict("task numbers exhausted".into()))?,
        );
        sqlx::query(
            "INSERT INTO tasks (logon_session_id, number, operation, state, success, message, related_session_id, related_name, creation_time) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(task.logon_session_id.to_string())
        .bind(number)
        .bind(task.operation.as_str().to_string())
        .bind(task.state.as_str().to_string())
        .bind(task.outcome.as_ref().map(|o| b(o.success)))
        .bind(task.outcome.as_ref().map(|o| o.message.clone()))
        .bind(task.related_session.as_ref().map(|r| r.id.to_string()))
        .bind(task.related_session.as_ref().map(|r| r.name.clone()))
        .bind(task.creation_time.micros())
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        Ok(task)
    }

    async fn get_task(&self, logon: LogonSessionId, number: TaskNumber) -> StoreResult<Task> {
        let row = self
            .fetch_one(
                sqlx::query("SELECT * FROM tasks WHERE logon_session_id = $1 AND number = $2")
                    .bind(logon.to_string())
                    .bind(i64::from(number.0)),
            )
            .await?;
        task_row(&row)
    }

    async fn list_tasks(&self, logon: LogonSessionId) -> StoreResult<Vec<Task>> {
        let rows = self
            .fetch_all(
                sqlx::query("SELECT * FROM tasks WHERE logon_session_id = $1 ORDER BY number")
                    .bind(logon.to_string()),
            )
            .await?;
        rows.iter().map(task_row).collect()
    }

    async fn update_task(&self, t: &Task) -> StoreResult<()> {
        self.execute_expect_row(
            sqlx::query(
                "UPDATE tasks SET state = $3, success = $4, message = $5, related_session_id = $6, related_name = $7 \
                 WHERE logon_session_id = $1 AND number = $2",
            )
            .bind(t.logon_session_id.to_string())
            .bind(i64::from(t.number.0))
            .bind(t.state.as_str().to_string())
            .bind(t.outcome.as_ref().map(|o| b(o.success)))
            .bind(t.outcome.as_ref().map(|o| o.message.clone()))
            .bind(t.related_session.as_ref().map(|r| r.id.to_string()))
            .bind(t.related_session.as_ref().map(|r| r.name.clone())),
        )
        .await
    }

    async fn delete_task(&self, logon: LogonSessionId, number: TaskNumber) -> StoreResult<()> {
        self.execute_expect_row(
            sqlx::query("DELETE FROM tasks WHERE logon_session_id = $1 AND number = $2")
                .bind(logon.to_string())
                .bind(i64::from(number.0)),
        )
        .await
    }
}
