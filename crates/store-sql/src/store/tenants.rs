//! Cloud tenants and their logins.

use super::*;

pub(super) fn tenant_row(row: &AnyRow) -> StoreResult<Tenant> {
    let detail = text(row, "detail")?;
    serde_json::from_str(&detail).map_err(|e| StoreError::Corrupt(format!("tenant detail: {e}")))
}

#[async_trait]
impl TenantStore for SqlStore {
    async fn list_tenants(&self) -> StoreResult<Vec<Tenant>> {
        let rows = self
            .fetch_all(sqlx::query("SELECT detail FROM tenants"))
            .await?;
        let mut tenants = rows
            .iter()
            .map(tenant_row)
            .collect::<StoreResult<Vec<_>>>()?;
        sort_by_name(&mut tenants, |t| &t.name);
        Ok(tenants)
    }

    async fn get_tenant(&self, id: TenantId) -> StoreResult<Tenant> {
        let row = self
            .fetch_one(sqlx::query("SELECT detail FROM tenants WHERE id = $1").bind(id.to_string()))
            .await?;
        tenant_row(&row)
    }

    async fn insert_tenant(&self, t: &Tenant, password_hash: Option<&str>) -> StoreResult<()> {
        let detail = serde_json::to_string(t).map_err(|e| StoreError::Backend(Box::new(e)))?;
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let org_ref = match &t.kind {
            TenantKind::VCloud {
                organization_ref, ..
            } => Some(organization_ref.clone()),
            TenantKind::Standalone { .. } => None,
        };
        sqlx::query("INSERT INTO tenants (id, backup_server_id, name, kind, enabled, detail, org_ref) VALUES ($1, $2, $3, $4, $5, $6, $7)")
            .bind(t.id.to_string())
            .bind(t.backup_server_id.to_string())
            .bind(t.name.clone())
            .bind(t.kind.type_name().to_string())
            .bind(b(t.enabled))
            .bind(detail)
            .bind(org_ref)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        if let (TenantKind::Standalone { username }, Some(hash)) = (&t.kind, password_hash) {
            sqlx::query("INSERT INTO tenant_logins (login_key, tenant_id, password_hash) VALUES ($1, $2, $3)")
                .bind(username.to_lowercase())
                .bind(t.id.to_string())
                .bind(hash.to_string())
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
        }
        tx.commit().await.map_err(db_err)
    }

    async fn tenant_credential(&self, login_key: &str) -> StoreResult<Option<TenantCredential>> {
        let row =
            sqlx::query("SELECT tenant_id, password_hash FROM tenant_logins WHERE login_key = $1")
                .bind(login_key.to_lowercase())
                .fetch_optional(&self.pool)
                .await
                .map_err(db_err)?;
        row.map(|r| {
            Ok(TenantCredential {
                tenant_id: TenantId(guid(&r, "tenant_id")?),
                password_hash: text(&r, "password_hash")?,
            })
        })
        .transpose()
    }

    async fn set_tenant_password(&self, login_key: &str, password_hash: &str) -> StoreResult<()> {
        self.execute_expect_row(
            sqlx::query("UPDATE tenant_logins SET password_hash = $2 WHERE login_key = $1")
                .bind(login_key.to_lowercase())
                .bind(password_hash.to_string()),
        )
        .await
    }

    async fn insert_tenant_login(
        &self,
        login_key: &str,
        cred: &TenantCredential,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO tenant_logins (login_key, tenant_id, password_hash) VALUES ($1, $2, $3)",
        )
        .bind(login_key.to_lowercase())
        .bind(cred.tenant_id.to_string())
        .bind(cred.password_hash.clone())
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(())
    }
}
