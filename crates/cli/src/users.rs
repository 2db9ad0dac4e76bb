//! Enterprise Manager accounts: the administrator created at first start, and
//! `entman user add|list|remove|passwd`.

use crate::DbArgs;
use anyhow::Context;
use clap::Subcommand;
use entman_http::password;
use entman_model::auth::{Account, Role};
use entman_model::ids::AccountId;
use entman_store::prelude::*;
use entman_store::Store;
use entman_store_sql::{sqlite_url, SqlStore};
use rand::distributions::Alphanumeric;
use rand::Rng;

/// `entman user ...`.
#[derive(Debug, Subcommand)]
pub enum UserAction {
    /// Add an account (or replace its password and roles).
    Add {
        /// Account name, e.g. `SRV12\Administrator`.
        name: String,
        /// Roles, comma-separated: PortalAdministrator, PortalUser, VMRestoreOperator,
        /// FileRestoreOperator, ExchangeRestoreOperator, OracleRestoreOperator, SQLRestoreOperator.
        #[arg(long, default_value = "PortalUser", value_delimiter = ',')]
        roles: Vec<String>,
        /// Password; read from ENTMAN_USER_PASSWORD when absent, generated when neither is set.
        #[arg(long, env = "ENTMAN_USER_PASSWORD")]
        password: Option<String>,
    },
    /// List accounts and their roles.
    List,
    /// Remove an account.
    Remove { name: String },
    /// Set a new password of a tenant logon: the standalone tenant's name, or
    /// `Organization\\login` of a vCloud organization user (generated when none is given).
    TenantPasswd {
        login: String,
        #[arg(long, env = "ENTMAN_USER_PASSWORD")]
        password: Option<String>,
    },
    /// Set a new password (generated when none is given).
    Passwd {
        name: String,
        #[arg(long, env = "ENTMAN_USER_PASSWORD")]
        password: Option<String>,
    },
}

/// A strong random password.
pub(crate) fn generate_password() -> String {
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(24)
        .map(char::from)
        .collect()
}

/// Creates the administrator at first start. A password from the environment is
/// (re)applied on every start; without one, a generated password is printed once.
pub(crate) async fn ensure_admin(
    store: &dyn Store,
    name: &str,
    password: Option<&str>,
) -> anyhow::Result<()> {
    let existing = store.account_by_name(name).await?;
    let (id, roles) = match &existing {
        Some(a) => (a.id, a.roles.clone()),
        None => (AccountId::new_random(), vec![Role::PortalAdministrator]),
    };
    let password = match (password, &existing) {
        (Some(p), _) => p.to_string(),
        (None, Some(_)) => return Ok(()),
        (None, None) => {
            let generated = generate_password();
            println!("Generated password for the administrator account [{name}]: {generated}");
            println!("It is shown only this once and stored hashed; set ENTMAN_ADMIN_PASSWORD to choose one.");
            generated
        }
    };
    let account = Account {
        id,
        name: name.to_string(),
        password_hash: password::hash(&password),
        roles,
    };
    store.upsert_account(&account).await?;
    Ok(())
}

async fn open(db: &DbArgs) -> anyhow::Result<SqlStore> {
    std::fs::create_dir_all(&db.data_dir)?;
    let url = db
        .database
        .clone()
        .unwrap_or_else(|| sqlite_url(&db.data_dir.join("entman.db")));
    SqlStore::connect(&url)
        .await
        .context("cannot open the database")
}

/// Runs a `user` subcommand.
pub(crate) async fn run(action: UserAction, db: DbArgs) -> anyhow::Result<()> {
    let store = open(&db).await?;
    match action {
        UserAction::Add {
            name,
            roles,
            password,
        } => {
            let roles = roles
                .iter()
                .map(|r| r.trim().parse::<Role>().map_err(|e| anyhow::anyhow!("{e}")))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let password = password.unwrap_or_else(|| {
                let p = generate_password();
                println!("Generated password for [{name}]: {p}");
                p
            });
            let id = store
                .account_by_name(&name)
                .await?
                .map_or_else(AccountId::new_random, |a| a.id);
            store
                .upsert_account(&Account {
                    id,
                    name: name.clone(),
                    password_hash: password::hash(&password),
                    roles,
                })
                .await?;
            println!("Account [{name}] saved.");
        }
        UserAction::List => {
            for a in store.list_accounts().await? {
                let roles: Vec<&str> = a.roles.iter().map(|r| r.as_str()).collect();
                println!("{}\t{}", a.name, roles.join(","));
            }
        }
        UserAction::Remove { name } => {
            store
                .delete_account(&name)
                .await
                .with_context(|| format!("no account [{name}]"))?;
            println!("Account [{name}] removed.");
        }
        UserAction::TenantPasswd { login, password } => {
            let password = password.unwrap_or_else(|| {
                let p = generate_password();
                println!("Generated password for tenant logon [{login}]: {p}");
                p
            });
            store
                .set_tenant_password(&login, &password::hash(&password))
                .await
                .with_context(|| format!("no tenant logon [{login}]"))?;
            println!("Password of tenant logon [{login}] changed.");
        }
        UserAction::Passwd { name, password } => {
            let mut account = store
                .account_by_name(&name)
                .await?
                .with_context(|| format!("no account [{name}]"))?;
            let password = password.unwrap_or_else(|| {
                let p = generate_password();
                println!("Generated password for [{name}]: {p}");
                p
            });
            account.password_hash = password::hash(&password);
            store.upsert_account(&account).await?;
            println!("Password of [{name}] changed.");
        }
    }
    store.close().await;
    Ok(())
}
