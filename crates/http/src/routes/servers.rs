//! `/api/backupServers` (resources/backup-servers.md).

use super::{kind, parse_id, represent_list};
use crate::auth::{Caller, Right};
use crate::body::Body;
use crate::error::OrNotFound;
use crate::params::Params;
use crate::{password, ApiError, AppState, Reply};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use entman_model::ids::BackupServerId;
use entman_model::server::{BackupServer, DEFAULT_BACKUP_PORT};
use entman_model::task::{Operation, Task, TaskOutcome, TaskState};
use entman_model::TaskNumber;
use entman_repr::resources::server::ServerView;
use entman_repr::resources::{Placement, Represent};
use entman_repr::spec::BackupServerSpec;
use entman_repr::{BodyError, Input};

/// Version reported for a newly added server until a collection says otherwise.
pub(super) const DEFAULT_VERSION: &str = "13.0.0.1420";

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/backupservers", get(list).post(create))
        .route(
            "/api/backupservers/{id}",
            get(one).put(update).delete(remove).post(action),
        )
}

async fn list(
    State(state): State<AppState>,
    caller: Caller,
    params: Params,
) -> Result<Reply, ApiError> {
    caller.require(Right::ReadServers)?;
    let servers = state.store.list_servers().await?;
    let representation = params.representation()?;
    let views = servers.iter().map(|server| Ok(ServerView { server }));
    Ok(Reply::state(represent_list(
        &caller.ctx,
        representation,
        "BackupServers",
        views,
    )?))
}

async fn load(state: &AppState, raw: &str) -> Result<BackupServer, ApiError> {
    let id: BackupServerId = parse_id(raw, kind::SERVER)?;
    state.store.get_server(id).await.or_404(kind::SERVER, raw)
}

async fn one(
    State(state): State<AppState>,
    caller: Caller,
    params: Params,
    Path(raw): Path<String>,
) -> Result<Reply, ApiError> {
    caller.require(Right::ReadServers)?;
    let representation = params.representation()?;
    let server = load(&state, &raw).await?;
    let view = ServerView { server: &server };
    Ok(Reply::state(view.represent(
        &caller.ctx,
        representation,
        Placement::Root,
    )))
}

fn spec_of(body: Option<Input>) -> Result<BackupServerSpec, ApiError> {
    let input = body.ok_or(BodyError::Missing("BackupServerSpec"))?;
    Ok(BackupServerSpec::read(&input)?)
}

fn required(value: Option<String>, name: &'static str) -> Result<String, ApiError> {
    value
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(|| BodyError::Missing(name).into())
}

/// `POST /api/backupServers?action=create`: 202 with no body.
async fn create(
    State(state): State<AppState>,
    caller: Caller,
    params: Params,
    body: Body,
) -> Result<Reply, ApiError> {
    caller.require(Right::ManageServers)?;
    match params.get("action") {
        Some(a) if a.eq_ignore_ascii_case("create") => {}
        _ => return Err(ApiError::server_create_needs_action()),
    }
    let spec = spec_of(body.read()?)?;
    let server = BackupServer {
        id: BackupServerId::new_random(),
        name: required(spec.dns_name_or_ip, "DnsNameOrIpAddress")?
            .trim()
            .to_string(),
        description: spec.description.unwrap_or_default(),
        port: spec.port.unwrap_or(DEFAULT_BACKUP_PORT),
        version: DEFAULT_VERSION.to_string(),
        wcf_port: spec.wcf_port,
        certificate_thumbprint: spec.thumbprint,
        username: required(spec.username, "Username")?,
    };
    let hash = password::hash_blocking(required(spec.password, "Password")?).await;
    state
        .store
        .insert_server(&server, Some(&hash))
        .await
        .map_err(|e| match e {
            entman_store::StoreError::Conflict(_) => ApiError::server_exists(&server.name),
            other => other.into(),
        })?;
    caller.audit("AddBackupServer", "success", &server.name);
    Ok(Reply::empty(StatusCode::ACCEPTED))
}

/// `PUT /api/backupServers/{ID}`: changes only the elements given; 204.
async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(raw): Path<String>,
    body: Body,
) -> Result<Reply, ApiError> {
    caller.require(Right::ManageServers)?;
    let mut server = load(&state, &raw).await?;
    let spec = spec_of(body.read()?)?;
    if let Some(name) = spec.dns_name_or_ip.filter(|n| !n.trim().is_empty()) {
        server.name = name.trim().to_string();
    }
    if let Some(d) = spec.description {
        server.description = d;
    }
    if let Some(p) = spec.port {
        server.port = p;
    }
    if let Some(u) = spec.username.filter(|u| !u.is_empty()) {
        server.username = u;
    }
    if spec.wcf_port.is_some() {
        server.wcf_port = spec.wcf_port;
    }
    if spec.thumbprint.is_some() {
        server.certificate_thumbprint = spec.thumbprint;
    }
    let hash = match spec.password {
        Some(p) => Some(password::hash_blocking(p).await),
        None => None,
    };
    state
        .store
        .update_server(&server, hash.as_deref())
        .await
        .map_err(|e| match e {
            entman_store::StoreError::Conflict(_) => ApiError::server_exists(&server.name),
            other => ApiError::from_store(other, kind::SERVER, &raw),
        })?;
    caller.audit("EditBackupServer", "success", &server.name);
    Ok(Reply::empty(StatusCode::NO_CONTENT))
}

/// `DELETE /api/backupServers/{ID}`: removes the server and every cloud object below it.
async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    Path(raw): Path<String>,
) -> Result<Reply, ApiError> {
    caller.require(Right::ManageServers)?;
    let server = load(&state, &raw).await?;
    state
        .store
        .delete_server(server.id)
        .await
        .or_404(kind::SERVER, &raw)?;
    caller.audit("DeleteBackupServer", "success", &server.name);
    Ok(Reply::empty(StatusCode::NO_CONTENT))
}

/// `POST /api/backupServers/{ID}?action=collect` (and the out-of-scope actions).
async fn action(
    State(state): State<AppState>,
    caller: Caller,
    params: Params,
    Path(raw): Path<String>,
) -> Result<Reply, ApiError> {
    let action = params.get("action").unwrap_or("").to_ascii_lowercase();
    match action.as_str() {
        "collect" => {}
        "veeamzip" | "quickbackup" => {
            return Err(ApiError::NotImplemented(format!(
                "/api/backupServers/{raw}?action={action}"
            )))
        }
        _ => return Err(ApiError::server_action_unknown()),
    }
    caller.require(Right::CollectServer)?;
    load(&state, &raw).await?;
    // Data collection on a real server starts a background job and reports at once.
    let task = Task {
        logon_session_id: caller.session.id,
        number: TaskNumber(0),
        operation: Operation::CollectingBackupServer,
        state: TaskState::Finished,
        outcome: Some(TaskOutcome {
            success: true,
            message: "Data collection started. To view results, go to Sessions.".into(),
        }),
        related_session: None,
        creation_time: state.now(),
    };
    super::tasks::accepted(&state, &caller, task).await
}
