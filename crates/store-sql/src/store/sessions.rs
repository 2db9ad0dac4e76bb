//! Failover sessions, their VM tasks, and the query service over them.

use super::*;

impl SqlStore {
    /// [`SessionStore::save_sessions`] for a batch the caller gives away (`entman
    /// generate`): the SQLite writer thread takes it as it is instead of a copy.
    pub async fn save_owned_sessions(&self, sessions: Vec<FailoverSession>) -> StoreResult<()> {
        match &self.native {
            Some(native) if !sessions.is_empty() => native.save_sessions(sessions).await,
            _ => self.save_sessions(&sessions).await,
        }
    }

    /// Counts sessions from the per-day buckets and the index (see `counts`).
    pub(super) async fn bucket_count(
        &self,
        shape: &crate::counts::BucketCount,
    ) -> StoreResult<u64> {
        use crate::counts::Piece;
        if shape.results.is_empty() {
            return Ok(0);
        }
        let mut total: i64 = 0;
        for piece in crate::counts::pieces(shape) {
            let mut binds: Vec<Bind> = shape
                .results
                .iter()
                .map(|r| Bind::Text(r.to_string()))
                .collect();
            let list = (1..=binds.len())
                .map(|i| format!("${i}"))
                .collect::<Vec<_>>()
                .join(", ");
            let (table, mut sql) = match &piece {
                Piece::Days { .. } => (
                    "session_counts",
                    format!(
                        "SELECT COALESCE(SUM(n), 0) FROM session_counts WHERE result IN ({list})"
                    ),
                ),
                Piece::Exact { .. } => (
                    "s",
                    format!("SELECT COUNT(*) FROM failover_sessions s WHERE s.result IN ({list})"),
                ),
            };
            let mut push = |sql: &mut String, clause: &str, value: Bind| {
                binds.push(value);
                sql.push_str(&format!(" AND {clause} ${}", binds.len()));
            };
            if let Some(t) = &shape.tenant {
                push(
                    &mut sql,
                    if table == "s" {
                        "s.tenant_id ="
                    } else {
                        "tenant_id ="
                    },
                    Bind::Text(t.clone()),
                );
            }
            match piece {
                Piece::Days { from, to } => {
                    if let Some(f) = from {
                        push(&mut sql, "day >=", Bind::Int(f));
                    }
                    if let Some(t) = to {
                        push(&mut sql, "day <", Bind::Int(t));
                    }
                }
                Piece::Exact { from, to } => {
                    push(&mut sql, "s.creation_time >=", Bind::Int(from));
                    push(&mut sql, "s.creation_time <", Bind::Int(to));
                }
            }
            // SUM over BIGINT is NUMERIC on PostgreSQL; cast both forms to BIGINT.
            let sql = format!("SELECT CAST(({sql}) AS BIGINT)");
            let n: i64 = bind_all(sqlx::query_scalar(&sql), &binds)
                .fetch_one(&self.query_pool)
                .await
                .map_err(db_err)?;
            total += n;
        }
        Ok(total.max(0) as u64)
    }

    pub(super) async fn session_tasks(&self, id: SessionId) -> StoreResult<Vec<SessionTask>> {
        let rows = self
            .fetch_all(
                sqlx::query("SELECT * FROM session_tasks WHERE session_id = $1 ORDER BY idx")
                    .bind(id.to_string()),
            )
            .await?;
        rows.iter().map(session_task).collect()
    }
}

pub(crate) fn session_row(row: &impl Columns) -> StoreResult<FailoverSession> {
    Ok(FailoverSession {
        id: SessionId(guid(row, "id")?),
        plan_id: PlanId(guid(row, "plan_id")?),
        plan_name: text(row, "plan_name")?,
        tenant_id: TenantId(guid(row, "tenant_id")?),
        backup_server_id: BackupServerId(guid(row, "backup_server_id")?),
        kind: wire(row, "kind")?,
        creation_time: time(row, "creation_time")?,
        end_time: opt_time(row, "end_time")?,
        state: wire(row, "state")?,
        result: wire(row, "result")?,
        progress: int(row, "progress")?.clamp(0, 100) as i32,
        failure_message: opt_text(row, "failure_message")?,
        tasks: Vec::new(),
    })
}

pub(super) fn session_keys_row(row: &AnyRow) -> StoreResult<SessionKeys> {
    Ok(SessionKeys {
        id: SessionId(guid(row, "id")?),
        plan_name: text(row, "plan_name")?,
        tenant_id: TenantId(guid(row, "tenant_id")?),
        backup_server_id: BackupServerId(guid(row, "backup_server_id")?),
        creation_time: time(row, "creation_time")?,
        end_time: opt_time(row, "end_time")?,
        state: wire(row, "state")?,
        result: wire(row, "result")?,
        failure_message: opt_text(row, "failure_message")?,
        revision: int(row, "revision")?,
    })
}

pub(crate) fn session_task(row: &impl Columns) -> StoreResult<SessionTask> {
    let point = match (opt_guid(row, "point_id")?, opt_text(row, "point_name")?) {
        (Some(id), Some(name)) => Some(PointRef {
            id: PointId(id),
            name,
        }),
        _ => None,
    };
    let plan = match (
        opt_int(row, "planned_ms")?,
        opt_text(row, "planned_outcome")?,
    ) {
        (Some(ms), Some(outcome)) => Some(TaskPlan {
            duration_ms: ms,
            outcome: outcome
                .parse()
                .map_err(|_| StoreError::Corrupt(format!("planned_outcome [{outcome}]")))?,
            message: opt_text(row, "planned_message")?,
        }),
        _ => None,
    };
    Ok(SessionTask {
        plan,
        vm_name: text(row, "vm_name")?,
        point,
        creation_time: time(row, "creation_time")?,
        end_time: opt_time(row, "end_time")?,
        state: wire(row, "state")?,
        result: wire(row, "result")?,
        progress: int(row, "progress")?.clamp(0, 100) as i32,
        failure_message: opt_text(row, "failure_message")?,
    })
}

/// Gives each session its tasks from rows of `session_tasks` ordered by session and index.
pub(super) fn attach_tasks(
    sessions: &mut [FailoverSession],
    task_rows: &[AnyRow],
) -> StoreResult<()> {
    let mut by_session: HashMap<String, Vec<SessionTask>> = HashMap::new();
    for row in task_rows {
        by_session
            .entry(text(row, "session_id")?)
            .or_default()
            .push(session_task(row)?);
    }
    for s in sessions {
        s.tasks = by_session.remove(&s.id.to_string()).unwrap_or_default();
    }
    Ok(())
}

#[async_trait]
impl SessionStore for SqlStore {
    async fn session_tally(
        &self,
    ) -> StoreResult<Vec<(SessionState, entman_model::session::SessionResult, u64)>> {
        let rows = sqlx::query(
            "SELECT state, result, COUNT(*) AS n FROM failover_sessions GROUP BY state, result",
        )
        .fetch_all(&self.query_pool)
        .await
        .map_err(db_err)?;
        rows.iter()
            .map(|row| {
                Ok((
                    wire(row, "state")?,
                    wire(row, "result")?,
                    int(row, "n")?.max(0) as u64,
                ))
            })
            .collect()
    }

    async fn list_sessions(
        &self,
        scope: Scope,
        since: Option<Timestamp>,
    ) -> StoreResult<Vec<FailoverSession>> {
        let (sql, tenant) = scoped(
            "SELECT * FROM failover_sessions WHERE {scope} AND creation_time >= $2 ORDER BY creation_time, id",
            scope,
        );
        let rows = self
            .fetch_all(
                sqlx::query(&sql)
                    .bind(tenant)
                    .bind(since.map_or(i64::MIN, |t| t.micros())),
            )
            .await?;
        let mut sessions = rows
            .iter()
            .map(session_row)
            .collect::<StoreResult<Vec<_>>>()?;
        // All their tasks in one query rather than one query per session.
        let (task_sql, tenant) = scoped(
            "SELECT t.* FROM session_tasks t JOIN failover_sessions s ON s.id = t.session_id \
             WHERE {scope} AND s.creation_time >= $2 ORDER BY t.session_id, t.idx",
            scope,
        );
        let task_sql = task_sql.replace("tenant_id", "s.tenant_id");
        let task_rows = self
            .fetch_all(
                sqlx::query(&task_sql)
                    .bind(tenant)
                    .bind(since.map_or(i64::MIN, |t| t.micros())),
            )
            .await?;
        attach_tasks(&mut sessions, &task_rows)?;
        Ok(sessions)
    }

    async fn list_sessions_page(
        &self,
        scope: Scope,
        since: Option<Timestamp>,
        after: Option<(Timestamp, SessionId)>,
        limit: u64,
        with_tasks: bool,
    ) -> StoreResult<Vec<FailoverSession>> {
        let (sql, tenant) = scoped(
            "SELECT * FROM failover_sessions WHERE {scope} AND creation_time >= $2 \
             AND (creation_time > $3 OR (creation_time = $3 AND id > $4)) \
             ORDER BY creation_time, id LIMIT $5",
            scope,
        );
        let (after_time, after_id) = match after {
            Some((t, id)) => (t.micros(), id.to_string()),
            None => (i64::MIN, String::new()),
        };
        let rows = self
            .fetch_all(
                sqlx::query(&sql)
                    .bind(tenant)
                    .bind(since.map_or(i64::MIN, |t| t.micros()))
                    .bind(after_time)
                    .bind(after_id)
                    .bind(i64::try_from(limit).unwrap_or(i64::MAX)),
            )
            .await?;
        let mut sessions = rows
            .iter()
            .map(session_row)
            .collect::<StoreResult<Vec<_>>>()?;
        if with_tasks && !sessions.is_empty() {
            // The page's ids as one JSON parameter (see `json_insert`).
            let ids: Vec<String> = sessions.iter().map(|s| s.id.to_string()).collect();
            let list = match self.backend {
                Backend::Sqlite => "SELECT value FROM json_each($1)",
                Backend::Postgres => "SELECT jsonb_array_elements_text($1::jsonb)",
            };
            let task_sql = format!(
                "SELECT * FROM session_tasks WHERE session_id IN ({list}) ORDER BY session_id, idx"
            );
            let json = serde_json::to_string(&ids).map_err(|e| StoreError::Backend(Box::new(e)))?;
            let task_rows = self.fetch_all(sqlx::query(&task_sql).bind(json)).await?;
            attach_tasks(&mut sessions, &task_rows)?;
        }
        Ok(sessions)
    }

    async fn get_session(&self, scope: Scope, id: SessionId) -> StoreResult<FailoverSession> {
        let row = self
            .fetch_one(
                sqlx::query("SELECT * FROM failover_sessions WHERE id = $1").bind(id.to_string()),
            )
            .await?;
        let mut session = session_row(&row)?;
        if !scope.allows(session.tenant_id) {
            return Err(StoreError::NotFound);
        }
        session.tasks = self.session_tasks(id).await?;
        Ok(session)
    }

    async fn save_session(&self, s: &FailoverSession) -> StoreResult<()> {
        self.save_sessions(std::slice::from_ref(s)).await
    }

    async fn save_sessions(&self, sessions: &[FailoverSession]) -> StoreResult<()> {
        if sessions.is_empty() {
            return Ok(());
        }
        if let Some(native) = &self.native {
            return native.save_sessions(sessions.to_vec()).await;
        }
        // One transaction (one sync to disk) for the whole batch.
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        crate::batch::upsert_sessions(&mut tx, self.backend, sessions).await?;
        tx.commit().await.map_err(db_err)
    }

    async fn update_sessions(&self, updates: &[SessionUpdate<'_>]) -> StoreResult<()> {
        if updates.is_empty() {
            return Ok(());
        }
        if let Some(native) = &self.native {
            let (sessions, tasks) = crate::batch::step_rows(updates);
            return native.update_sessions(sessions, tasks).await;
        }
        let mut conn = self.pool.acquire().await.map_err(db_err)?;
        let cache = match self.backend {
            Backend::Sqlite => {
                crate::batch::step_cache_pragma(crate::batch::step_row_count(updates))
            }
            Backend::Postgres => None,
        };
        if let Some(grow) = &cache {
            sqlx::query(grow)
                .execute(&mut *conn)
                .await
                .map_err(db_err)?;
        }
        let committed = async {
            let mut tx = sqlx::Connection::begin(&mut *conn).await.map_err(db_err)?;
            crate::batch::update_sessions(&mut tx, self.backend, updates).await?;
            tx.commit().await.map_err(db_err)
        }
        .await;
        if cache.is_some() {
            // Back to the pool's size, which frees the pages above it (on an
            // error too, the transaction having been rolled back).
            sqlx::query(crate::SQLITE_CACHE_PRAGMA)
                .execute(&mut *conn)
                .await
                .map_err(db_err)?;
        }
        committed
    }

    async fn list_active_sessions(&self) -> StoreResult<Vec<FailoverSession>> {
        let rows = self
            .fetch_all(
                // A literal, so that SQLite uses the partial index `sessions_active`.
                sqlx::query(
                    "SELECT * FROM failover_sessions WHERE state <> 'Stopped' ORDER BY creation_time, id",
                ),
            )
            .await?;
        let mut sessions = rows
            .iter()
            .map(session_row)
            .collect::<StoreResult<Vec<_>>>()?;
        // All their tasks in one query rather than one query per session.
        let task_rows = self
            .fetch_all(sqlx::query(
                "SELECT t.* FROM session_tasks t JOIN failover_sessions s ON s.id = t.session_id \
                     WHERE s.state <> 'Stopped' ORDER BY t.session_id, t.idx",
            ))
            .await?;
        attach_tasks(&mut sessions, &task_rows)?;
        Ok(sessions)
    }

    async fn active_session_states(&self) -> StoreResult<Vec<(SessionId, SessionState)>> {
        let rows = self
            .fetch_all(sqlx::query(
                "SELECT id, state FROM failover_sessions WHERE state <> 'Stopped'",
            ))
            .await?;
        rows.iter()
            .map(|row| {
                let id = text(row, "id")?
                    .parse()
                    .map_err(|_| StoreError::Corrupt("a session id is not a GUID".into()))?;
                let state = text(row, "state")?
                    .parse()
                    .map_err(|_| StoreError::Corrupt("a session state is unknown".into()))?;
                Ok((id, state))
            })
            .collect()
    }

    async fn active_session_of_plan(&self, plan: PlanId) -> StoreResult<Option<SessionId>> {
        let row =
            sqlx::query("SELECT id FROM failover_sessions WHERE plan_id = $1 AND state <> $2")
                .bind(plan.to_string())
                .bind("Stopped")
                .fetch_optional(&self.pool)
                .await
                .map_err(db_err)?;
        row.map(|r| guid(&r, "id").map(SessionId)).transpose()
    }

    async fn sessions_by_ids(
        &self,
        ids: &[SessionId],
        with_tasks: bool,
    ) -> StoreResult<Vec<FailoverSession>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        if let Some(readers) = &self.readers {
            return readers.sessions_by_ids(ids.to_vec(), with_tasks).await;
        }
        // The ids as one JSON parameter: binding one parameter per id costs time
        // quadratic in their number through sqlx on SQLite.
        let list = match self.backend {
            Backend::Sqlite => "SELECT value FROM json_each($1)",
            Backend::Postgres => "SELECT jsonb_array_elements_text($1::jsonb)",
        };
        let json = serde_json::to_string(
            &ids.iter()
                .map(std::string::ToString::to_string)
                .collect::<Vec<_>>(),
        )
        .map_err(|e| StoreError::Backend(Box::new(e)))?;
        let sql = format!("SELECT * FROM failover_sessions WHERE id IN ({list})");
        let mut sessions: HashMap<SessionId, FailoverSession> = HashMap::new();
        for row in sqlx::query(&sql)
            .bind(json.clone())
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?
        {
            let s = session_row(&row)?;
            sessions.insert(s.id, s);
        }
        if with_tasks {
            let sql = format!(
                "SELECT * FROM session_tasks WHERE session_id IN ({list}) ORDER BY session_id, idx"
            );
            for row in sqlx::query(&sql)
                .bind(json)
                .fetch_all(&self.pool)
                .await
                .map_err(db_err)?
            {
                let id = SessionId(guid(&row, "session_id")?);
                if let Some(s) = sessions.get_mut(&id) {
                    s.tasks.push(session_task(&row)?);
                }
            }
        }
        Ok(ids.iter().filter_map(|id| sessions.remove(id)).collect())
    }

    async fn scan_sessions(
        &self,
        sink: &mut (dyn FnMut(SessionKeys) + Send),
    ) -> StoreResult<SessionScan> {
        use futures_util::TryStreamExt;
        let row = sqlx::query("SELECT epoch, revision FROM session_revision WHERE id = 1")
            .fetch_one(&self.query_pool)
            .await
            .map_err(db_err)?;
        let scan = SessionScan {
            epoch: int(&row, "epoch")?,
            revision: int(&row, "revision")?,
        };
        // One streamed statement in table order: sequential reads, bounded memory.
        let mut rows = sqlx::query(
            "SELECT id, plan_name, tenant_id, backup_server_id, creation_time, end_time, state, \
             result, failure_message, revision FROM failover_sessions",
        )
        .fetch(&self.query_pool);
        while let Some(row) = rows.try_next().await.map_err(db_err)? {
            sink(session_keys_row(&row)?);
        }
        Ok(scan)
    }

    async fn session_changes(
        &self,
        after: Option<(i64, SessionId)>,
        limit: u64,
    ) -> StoreResult<SessionChanges> {
        let epoch: i64 = sqlx::query_scalar("SELECT epoch FROM session_revision WHERE id = 1")
            .fetch_one(&self.pool)
            .await
            .map_err(db_err)?;
        let (revision, id) = match after {
            Some((r, id)) => (r, id.to_string()),
            None => (i64::MIN, String::new()),
        };
        let rows = sqlx::query(
            "SELECT id, plan_name, tenant_id, backup_server_id, creation_time, end_time, state, \
             result, failure_message, revision FROM failover_sessions \
             WHERE (revision, id) > ($1, $2) ORDER BY revision, id LIMIT $3",
        )
        .bind(revision)
        .bind(id)
        .bind(limit.min(i64::MAX as u64) as i64)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        let rows = rows
            .iter()
            .map(session_keys_row)
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(SessionChanges { epoch, rows })
    }

    async fn query_page(
        &self,
        query: &entman_query::CheckedQuery,
        restriction: &Restriction,
        offset: u64,
        limit: u64,
    ) -> StoreResult<QueryPage> {
        if query.query_type.in_memory() {
            return Err(StoreError::Conflict(format!(
                "type {} is answered in memory, not in SQL",
                query.query_type.name()
            )));
        }
        let dialect: &(dyn Dialect + Sync) = match self.backend {
            Backend::Sqlite => &SqliteDialect,
            Backend::Postgres => &PostgresDialect,
        };
        let total = if let Some(shape) = crate::counts::bucket_shape(query, restriction) {
            self.bucket_count(&shape).await?
        } else {
            let count = count_sql(query, restriction, dialect);
            let n: i64 = bind_all(sqlx::query_scalar(&count.text), &count.binds)
                .fetch_one(&self.query_pool)
                .await
                .map_err(db_err)?;
            n.max(0) as u64
        };
        if offset >= total || limit == 0 {
            return Ok(QueryPage {
                total,
                keys: Vec::new(),
            });
        }
        let end = offset.saturating_add(limit).min(total);
        // Pages in the second half are read from the end, so the database skips
        // `total - end` rows instead of `offset`.
        let reverse = offset > total / 2;
        let (skip, take) = if reverse {
            (total - end, end - offset)
        } else {
            (offset, end - offset)
        };
        let page = page_sql(query, restriction, dialect, skip, take, reverse);
        let rows = bind_rows(sqlx::query(&page.text), &page.binds)
            .fetch_all(&self.query_pool)
            .await
            .map_err(db_err)?;
        let mut keys = rows
            .iter()
            .map(|r| {
                r.try_get::<String, _>(0)
                    .or_else(|_| r.try_get::<i64, _>(0).map(|n| n.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| StoreError::Corrupt(format!("query key: {e}")))?;
        if reverse {
            keys.reverse();
        }
        Ok(QueryPage { total, keys })
    }
}
