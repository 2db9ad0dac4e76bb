//! Accounts and logon sessions.

use super::*;

pub(super) fn roles_text(roles: &[Role]) -> String {
    roles
        .iter()
        .map(|r| r.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

pub(super) fn roles_of(s: &str) -> StoreResult<Vec<Role>> {
    s.split(',')
        .filter(|r| !r.is_empty())
        .map(|r| {
            r.parse()
                .map_err(|_| StoreError::Corrupt(format!("role [{r}]")))
        })
        .collect()
}

pub(super) fn account_row(row: &AnyRow) -> StoreResult<Account> {
    Ok(Account {
        id: AccountId(guid(row, "id")?),
        name: text(row, "name")?,
        password_hash: text(row, "password_hash")?,
        roles: roles_of(&text(row, "roles")?)?,
    })
}

pub(super) fn logon_row(row: &AnyRow) -> StoreResult<LogonSession> {
    let principal_id = guid(row, "principal_id")?;
    let principal = match text(row, "principal_kind")?.as_str() {
        "tenant" => Principal::Tenant {
            id: TenantId(principal_id),
        },
        "account" => Principal::Account {
            id: AccountId(principal_id),
            roles: roles_of(&text(row, "roles")?)?,
        },
        other => return Err(StoreError::Corrupt(format!("principal kind [{other}]"))),
    };
    Ok(LogonSession {
        id: LogonSessionId(guid(row, "id")?),
        user_name: text(row, "user_name")?,
        principal,
        api_version: text(row, "api_version")?,
        created: time(row, "created")?,
        last_seen: time(row, "last_seen")?,
    })
}

#[async_trait]
impl AccountStore for SqlStore {
    async fn logon_count(&self) -> StoreResult<u64> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM logon_sessions")
            .fetch_one(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(n.max(0) as u64)
    }

    async fn account_by_name(&self, name: &str) -> StoreResult<Option<Account>> {
        let row = sqlx::query("SELECT * FROM accounts WHERE name_key = $1")
            .bind(name.to_lowercase())
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?;
        row.as_ref().map(account_row).transpose()
    }

    async fn upsert_account(&self, a: &Account) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO accounts (id, name, name_key, password_hash, roles) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (name_key) DO UPDATE SET name = excluded.name, password_hash = excluded.password_hash, roles = excluded.roles",
        )
        .bind(a.id.to_string())
        .bind(a.name.clone())
        .bind(a.name.to_lowercase())
        .bind(a.password_hash.clone())
        .bind(roles_text(&a.roles))
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn list_accounts(&self) -> StoreResult<Vec<Account>> {
        let rows = self
            .fetch_all(sqlx::query("SELECT * FROM accounts"))
            .await?;
        let mut accounts = rows
            .iter()
            .map(account_row)
            .collect::<StoreResult<Vec<_>>>()?;
        sort_by_name(&mut accounts, |a| &a.name);
        Ok(accounts)
    }

    async fn delete_account(&self, name: &str) -> StoreResult<()> {
        self.execute_expect_row(
            sqlx::query("DELETE FROM accounts WHERE name_key = $1").bind(name.to_lowercase()),
        )
        .await
    }

    async fn insert_logon(&self, s: &LogonSession, token_hash: &str) -> StoreResult<()> {
        let (kind, id, roles) = match &s.principal {
            Principal::Account { id, roles } => ("account", id.to_string(), roles_text(roles)),
            Principal::Tenant { id } => ("tenant", id.to_string(), String::new()),
        };
        sqlx::query(
            "INSERT INTO logon_sessions (id, token_hash, user_name, principal_kind, principal_id, roles, api_version, created, last_seen, last_task) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 0)",
        )
        .bind(s.id.to_string())
        .bind(token_hash.to_string())
        .bind(s.user_name.clone())
        .bind(kind.to_string())
        .bind(id)
        .bind(roles)
        .bind(s.api_version.clone())
        .bind(s.created.micros())
        .bind(s.last_seen.micros())
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn logon_by_token(
        &self,
        token_hash: &str,
    ) -> StoreResult<Option<(LogonSession, String)>> {
        let row = sqlx::query("SELECT * FROM logon_sessions WHERE token_hash = $1")
            .bind(token_hash.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?;
        row.as_ref()
            .map(|r| Ok((logon_row(r)?, text(r, "token_hash")?)))
            .transpose()
    }

    async fn get_logon(&self, id: LogonSessionId) -> StoreResult<LogonSession> {
        let row = self
            .fetch_one(
                sqlx::query("SELECT * FROM logon_sessions WHERE id = $1").bind(id.to_string()),
            )
            .await?;
        logon_row(&row)
    }

    async fn touch_logon(&self, id: LogonSessionId, at: Timestamp) -> StoreResult<()> {
        self.execute_expect_row(
            sqlx::query(
                "UPDATE logon_sessions SET last_seen = $2 WHERE id = $1 AND last_seen < $2",
            )
            .bind(id.to_string())
            .bind(at.micros()),
        )
        .await
        .or_else(|e| {
            if matches!(e, StoreError::NotFound) {
                Ok(())
            } else {
                Err(e)
            }
        })
    }

    async fn delete_logon(&self, id: LogonSessionId) -> StoreResult<()> {
        self.execute_expect_row(
            sqlx::query("DELETE FROM logon_sessions WHERE id = $1").bind(id.to_string()),
        )
        .await
    }

    async fn purge_idle_logons(&self, idle_before: Timestamp) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM logon_sessions WHERE last_seen < $1")
            .bind(idle_before.micros())
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(done.rows_affected())
    }
}
