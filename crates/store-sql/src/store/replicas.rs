//! Cloud replicas and their VM replica points.

use super::*;

pub(super) fn replica_row(row: &AnyRow) -> StoreResult<Replica> {
    Ok(Replica {
        id: ReplicaId(guid(row, "id")?),
        backup_server_id: BackupServerId(guid(row, "backup_server_id")?),
        tenant_id: TenantId(guid(row, "tenant_id")?),
        name: text(row, "name")?,
        platform: wire(row, "platform")?,
    })
}

pub(super) fn point_row(row: &AnyRow) -> StoreResult<VmReplicaPoint> {
    Ok(VmReplicaPoint {
        id: PointId(guid(row, "id")?),
        replica_id: ReplicaId(guid(row, "replica_id")?),
        vm_name: text(row, "vm_name")?,
        vm_display_name: text(row, "vm_display_name")?,
        creation_time: time(row, "creation_time")?,
        point_type: wire(row, "point_type")?,
        state: wire(row, "state")?,
    })
}

#[async_trait]
impl ReplicaStore for SqlStore {
    async fn list_replicas(&self, scope: Scope) -> StoreResult<Vec<Replica>> {
        let (sql, tenant) = scoped("SELECT * FROM replicas WHERE {scope}", scope);
        let rows = self.fetch_all(sqlx::query(&sql).bind(tenant)).await?;
        let mut replicas = rows
            .iter()
            .map(replica_row)
            .collect::<StoreResult<Vec<_>>>()?;
        sort_by_name(&mut replicas, |r| &r.name);
        Ok(replicas)
    }

    async fn get_replica(&self, scope: Scope, id: ReplicaId) -> StoreResult<Replica> {
        let row = self
            .fetch_one(sqlx::query("SELECT * FROM replicas WHERE id = $1").bind(id.to_string()))
            .await?;
        let replica = replica_row(&row)?;
        if scope.allows(replica.tenant_id) {
            Ok(replica)
        } else {
            Err(StoreError::NotFound)
        }
    }

    async fn insert_replica(&self, r: &Replica) -> StoreResult<()> {
        sqlx::query("INSERT INTO replicas (id, backup_server_id, tenant_id, name, platform) VALUES ($1, $2, $3, $4, $5)")
            .bind(r.id.to_string())
            .bind(r.backup_server_id.to_string())
            .bind(r.tenant_id.to_string())
            .bind(r.name.clone())
            .bind(r.platform.as_str().to_string())
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn list_points(
        &self,
        scope: Scope,
        replica: Option<ReplicaId>,
    ) -> StoreResult<Vec<VmReplicaPoint>> {
        let (sql, tenant) = scoped(
            "SELECT p.* FROM vm_replica_points p JOIN replicas r ON r.id = p.replica_id \
             WHERE {scope} AND ($2 IS NULL OR p.replica_id = $2) ORDER BY p.creation_time, p.id",
            scope,
        );
        let sql = sql.replace("tenant_id", "r.tenant_id");
        let rows = self
            .fetch_all(
                sqlx::query(&sql)
                    .bind(tenant)
                    .bind(replica.map(|r| r.to_string())),
            )
            .await?;
        rows.iter().map(point_row).collect()
    }

    async fn get_point(&self, scope: Scope, id: PointId) -> StoreResult<VmReplicaPoint> {
        let row = self
            .fetch_one(
                sqlx::query("SELECT p.*, r.tenant_id AS owner FROM vm_replica_points p JOIN replicas r ON r.id = p.replica_id WHERE p.id = $1")
                    .bind(id.to_string()),
            )
            .await?;
        if !scope.allows(TenantId(guid(&row, "owner")?)) {
            return Err(StoreError::NotFound);
        }
        point_row(&row)
    }

    async fn insert_point(&self, p: &VmReplicaPoint) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO vm_replica_points (id, replica_id, vm_name, vm_display_name, creation_time, point_type, state, name) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(p.id.to_string())
        .bind(p.replica_id.to_string())
        .bind(p.vm_name.clone())
        .bind(p.vm_display_name.clone())
        .bind(p.creation_time.micros())
        .bind(p.point_type.as_str().to_string())
        .bind(p.state.as_str().to_string())
        .bind(p.name())
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn set_point_state(&self, id: PointId, state: PointState) -> StoreResult<()> {
        self.execute_expect_row(
            sqlx::query("UPDATE vm_replica_points SET state = $2 WHERE id = $1")
                .bind(id.to_string())
                .bind(state.as_str().to_string()),
        )
        .await
    }
}
