//! Backup servers.

use super::*;

pub(super) fn server_row(row: &AnyRow) -> StoreResult<BackupServer> {
    Ok(BackupServer {
        id: BackupServerId(guid(row, "id")?),
        name: text(row, "name")?,
        description: text(row, "description")?,
        port: u16::try_from(int(row, "port")?).map_err(|_| StoreError::Corrupt("port".into()))?,
        version: text(row, "version")?,
        wcf_port: opt_int(row, "wcf_port")?.and_then(|p| u16::try_from(p).ok()),
        certificate_thumbprint: opt_text(row, "thumbprint")?,
        username: text(row, "username")?,
    })
}

#[async_trait]
impl ServerStore for SqlStore {
    async fn list_servers(&self) -> StoreResult<Vec<BackupServer>> {
        let rows = self
            .fetch_all(sqlx::query("SELECT * FROM backup_servers"))
            .await?;
        let mut servers = rows
            .iter()
            .map(server_row)
            .collect::<StoreResult<Vec<_>>>()?;
        sort_by_name(&mut servers, |s| &s.name);
        Ok(servers)
    }

    async fn get_server(&self, id: BackupServerId) -> StoreResult<BackupServer> {
        let row = self
            .fetch_one(
                sqlx::query("SELECT * FROM backup_servers WHERE id = $1").bind(id.to_string()),
            )
            .await?;
        server_row(&row)
    }

    async fn insert_server(
        &self,
        s: &BackupServer,
        password_hash: Option<&str>,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO backup_servers (id, name, name_key, description, port, version, wcf_port, thumbprint, username, password_hash) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(s.id.to_string())
        .bind(s.name.clone())
        .bind(s.name.to_lowercase())
        .bind(s.description.clone())
        .bind(i64::from(s.port))
        .bind(s.version.clone())
        .bind(s.wcf_port.map(i64::from))
        .bind(s.certificate_thumbprint.clone())
        .bind(s.username.clone())
        .bind(password_hash.map(str::to_string))
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn update_server(
        &self,
        s: &BackupServer,
        password_hash: Option<&str>,
    ) -> StoreResult<()> {
        self.execute_expect_row(
            sqlx::query(
                "UPDATE backup_servers SET name = $2, name_key = $3, description = $4, port = $5, version = $6, \
                 wcf_port = $7, thumbprint = $8, username = $9, password_hash = COALESCE($10, password_hash) WHERE id = $1",
            )
            .bind(s.id.to_string())
            .bind(s.name.clone())
            .bind(s.name.to_lowercase())
            .bind(s.description.clone())
            .bind(i64::from(s.port))
            .bind(s.version.clone())
            .bind(s.wcf_port.map(i64::from))
            .bind(s.certificate_thumbprint.clone())
            .bind(s.username.clone())
            .bind(password_hash.map(str::to_string)),
        )
        .await
    }

    async fn delete_server(&self, id: BackupServerId) -> StoreResult<()> {
        // Foreign keys cascade to tenants, replicas, points, plans and sessions;
        // readers of session revisions learn it from the epoch.
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        sqlx::query(crate::batch::NEXT_EPOCH)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        let done = sqlx::query("DELETE FROM backup_servers WHERE id = $1")
            .bind(id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        tx.commit().await.map_err(db_err)
    }
}
