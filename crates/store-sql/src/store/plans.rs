//! Cloud failover plans.

use super::*;

impl SqlStore {
    pub(super) async fn plan_vms(&self, plan_ids: &[String]) -> StoreResult<Vec<(String, PlanVm)>> {
        let mut out = Vec::new();
        // Plans are few; one query per plan keeps the SQL free of dialect-specific
        // array binding.
        for id in plan_ids {
            let rows = self
                .fetch_all(
                    sqlx::query("SELECT * FROM plan_vms WHERE plan_id = $1 ORDER BY ord, name")
                        .bind(id.clone()),
                )
                .await?;
            for row in rows {
                out.push((id.clone(), plan_vm(&row)?));
            }
        }
        Ok(out)
    }

    pub(super) async fn plans_from_rows(&self, rows: Vec<AnyRow>) -> StoreResult<Vec<Plan>> {
        let mut plans = rows
            .iter()
            .map(plan_row)
            .collect::<StoreResult<Vec<Plan>>>()?;
        let ids: Vec<String> = plans.iter().map(|p| p.id.to_string()).collect();
        for (plan_id, vm) in self.plan_vms(&ids).await? {
            if let Some(plan) = plans.iter_mut().find(|p| p.id.to_string() == plan_id) {
                plan.vms.push(vm);
            }
        }
        Ok(plans)
    }
}

pub(super) fn plan_row(row: &AnyRow) -> StoreResult<Plan> {
    Ok(Plan {
        id: PlanId(guid(row, "id")?),
        backup_server_id: BackupServerId(guid(row, "backup_server_id")?),
        tenant_id: TenantId(guid(row, "tenant_id")?),
        name: text(row, "name")?,
        description: opt_text(row, "description")?,
        options: PlanOptions {
            post_command_enabled: flag(row, "post_enabled")?,
            post_command: text(row, "post_command")?,
            pre_command_enabled: flag(row, "pre_enabled")?,
            pre_command: text(row, "pre_command")?,
        },
        state: wire(row, "state")?,
        vms: Vec::new(),
    })
}

pub(super) fn plan_vm(row: &AnyRow) -> StoreResult<PlanVm> {
    Ok(PlanVm {
        id: PlanVmId(guid(row, "id")?),
        name: text(row, "name")?,
        order: i32::try_from(int(row, "ord")?).map_err(|_| StoreError::Corrupt("ord".into()))?,
        replica_id: ReplicaId(guid(row, "replica_id")?),
        behaviour: VmBehaviour {
            duration_ms: u64::try_from(int(row, "duration_ms")?).unwrap_or(0),
            outcome: wire(row, "outcome")?,
            message: opt_text(row, "message")?,
        },
    })
}

#[async_trait]
impl PlanStore for SqlStore {
    async fn list_plans(&self, scope: Scope) -> StoreResult<Vec<Plan>> {
        let (sql, tenant) = scoped("SELECT * FROM plans WHERE {scope}", scope);
        let rows = self.fetch_all(sqlx::query(&sql).bind(tenant)).await?;
        let mut plans = self.plans_from_rows(rows).await?;
        sort_by_name(&mut plans, |p| &p.name);
        Ok(plans)
    }

    async fn get_plan(&self, scope: Scope, id: PlanId) -> StoreResult<Plan> {
        let row = self
            .fetch_one(sqlx::query("SELECT * FROM plans WHERE id = $1").bind(id.to_string()))
            .await?;
        let plan = self
            .plans_from_rows(vec![row])
            .await?
            .pop()
            .ok_or(StoreError::NotFound)?;
        if scope.allows(plan.tenant_id) {
            Ok(plan)
        } else {
            Err(StoreError::NotFound)
        }
    }

    async fn insert_plan(&self, p: &Plan) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        sqlx::query(
            "INSERT INTO plans (id, backup_server_id, tenant_id, name, description, post_enabled, post_command, pre_enabled, pre_command, state) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(p.id.to_string())
        .bind(p.backup_server_id.to_string())
        .bind(p.tenant_id.to_string())
        .bind(p.name.clone())
        .bind(p.description.clone())
        .bind(b(p.options.post_command_enabled))
        .bind(p.options.post_command.clone())
        .bind(b(p.options.pre_command_enabled))
        .bind(p.options.pre_command.clone())
        .bind(p.state.as_str().to_string())
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        for vm in &p.vms {
            sqlx::query(
                "INSERT INTO plan_vms (id, plan_id, name, ord, replica_id, duration_ms, outcome, message) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(vm.id.to_string())
            .bind(p.id.to_string())
            .bind(vm.name.clone())
            .bind(i64::from(vm.order))
            .bind(vm.replica_id.to_string())
            .bind(i64::try_from(vm.behaviour.duration_ms).unwrap_or(i64::MAX))
            .bind(vm.behaviour.outcome.as_str().to_string())
            .bind(vm.behaviour.message.clone())
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        }
        tx.commit().await.map_err(db_err)
    }

    async fn update_plan_options(&self, id: PlanId, o: &PlanOptions) -> StoreResult<()> {
        self.execute_expect_row(
            sqlx::query("UPDATE plans SET post_enabled = $2, post_command = $3, pre_enabled = $4, pre_command = $5 WHERE id = $1")
                .bind(id.to_string())
                .bind(b(o.post_command_enabled))
                .bind(o.post_command.clone())
                .bind(b(o.pre_command_enabled))
                .bind(o.pre_command.clone()),
        )
        .await
    }

    async fn set_plan_state(&self, id: PlanId, state: PlanState) -> StoreResult<()> {
        self.execute_expect_row(
            sqlx::query("UPDATE plans SET state = $2 WHERE id = $1")
                .bind(id.to_string())
                .bind(state.as_str().to_string()),
        )
        .await
    }

    async fn try_set_plan_state(
        &self,
        id: PlanId,
        from: PlanState,
        to: PlanState,
    ) -> StoreResult<bool> {
        let done = sqlx::query("UPDATE plans SET state = $3 WHERE id = $1 AND state = $2")
            .bind(id.to_string())
            .bind(from.as_str().to_string())
            .bind(to.as_str().to_string())
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(done.rows_affected() == 1)
    }

    async fn delete_plan(&self, id: PlanId) -> StoreResult<()> {
        self.execute_expect_row(sqlx::query("DELETE FROM plans WHERE id = $1").bind(id.to_string()))
            .await
    }
}
