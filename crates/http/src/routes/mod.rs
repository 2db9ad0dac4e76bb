//! Routers per EM resource, merged into one. Paths are lower case because
//! [`crate::app`] lower-cases every request path before routing.

mod cloud;
mod entry;
mod job_sessions;
mod jobs;
mod out_of_scope;

pub(crate) use entry::{account_logon, basic_credentials, basic_user, basic_user_of};
pub use out_of_scope::is_em_resource;
mod plans;
mod query;
mod servers;
mod sessions;
mod tasks;
mod tenants;

use crate::params::Representation;
use crate::{ApiError, AppState};
use axum::Router;
use entman_model::ids::*;
use entman_model::server::BackupServer;
use entman_repr::resources::{entity_list, reference_list, Placement, Represent};
use entman_repr::{Ctx, Node};
use std::collections::HashMap;

/// Every route of the API.
pub fn router() -> Router<AppState> {
    Router::new()
        .merge(entry::router())
        .merge(servers::router())
        .merge(tenants::router())
        .merge(cloud::router())
        .merge(plans::router())
        .merge(sessions::router())
        .merge(tasks::router())
        .merge(jobs::router())
        .merge(job_sessions::router())
        .merge(query::router())
        .route(
            crate::server::lenient::MALFORMED_PATH,
            axum::routing::any(malformed_request_line),
        )
        .fallback(out_of_scope::fallback)
        .route_layer(axum::middleware::from_fn(crate::control::mark_route))
}

/// The answer to a request line that could not be split into method, target and
/// version (see [`crate::server::lenient`]).
async fn malformed_request_line() -> ApiError {
    ApiError::malformed_request_line()
}

/// A collection root in the asked representation: `EntityReferences` of `Ref`s, or
/// the entity list `list` (JSON `{"<list>": [...]}`).
pub(crate) fn collection(
    representation: Representation,
    list: &'static str,
    items: Vec<Node>,
) -> Node {
    match representation {
        Representation::Reference => reference_list(items),
        Representation::Entity => entity_list(list, list, items),
    }
}

/// A collection of key resources in the asked representation: each view as a
/// list item, in the collection root [`collection`] gives. A view that cannot be
/// built (a dangling reference) fails the whole list.
pub(crate) fn represent_list<V: Represent>(
    ctx: &Ctx,
    representation: Representation,
    list: &'static str,
    views: impl IntoIterator<Item = Result<V, ApiError>>,
) -> Result<Node, ApiError> {
    let items = views
        .into_iter()
        .map(|view| view.map(|v| v.represent(ctx, representation, Placement::Item)))
        .collect::<Result<Vec<Node>, ApiError>>()?;
    Ok(collection(representation, list, items))
}

/// Parses a path id: the GUID or the resource's UID (`urn:veeam:<Type>:<guid>`,
/// conventions.md §2.4), answering 404 for anything else, a UID of another type
/// included (README: "Path IDs that are not GUIDs → 404").
pub(crate) fn parse_id<T: KeyId>(raw: &str, kind: &'static str) -> Result<T, ApiError> {
    T::from_path(raw).ok_or_else(|| ApiError::not_found(kind, raw))
}

/// Backup servers by id, for the `Up` links of cloud objects.
pub(crate) async fn server_map(
    state: &AppState,
) -> Result<HashMap<BackupServerId, BackupServer>, ApiError> {
    Ok(state
        .store
        .list_servers()
        .await?
        .into_iter()
        .map(|s| (s.id, s))
        .collect())
}

/// Looks up a related object that must exist (a dangling reference is a 500).
pub(crate) fn related<'a, K: std::hash::Hash + Eq + std::fmt::Display, V>(
    map: &'a HashMap<K, V>,
    key: &K,
    what: &str,
) -> Result<&'a V, ApiError> {
    map.get(key)
        .ok_or_else(|| ApiError::Internal(format!("{what} {key} referenced but missing")))
}

/// 404 kinds, as they appear in error messages.
pub(crate) mod kind {
    pub(crate) const SERVER: &str = "Backup server";
    pub(crate) const TENANT: &str = "Cloud tenant";
    pub(crate) const REPLICA: &str = "Cloud replica";
    pub(crate) const POINT: &str = "Cloud VM replica point";
    pub(crate) const PLAN: &str = "Cloud failover plan";
    pub(crate) const PLAN_VM: &str = "Cloud failover plan VM";
    pub(crate) const SESSION: &str = "Cloud failover session";
    pub(crate) const LOGON: &str = "Logon session";
    pub(crate) const TASK: &str = "Task";
    pub(crate) const JOB: &str = "Job";
    pub(crate) const INCLUDE: &str = "Job include";
    pub(crate) const BACKUP_SESSION: &str = "Backup job session";
    pub(crate) const REPLICA_SESSION: &str = "Replica job session";
    pub(crate) const BACKUP_TASK: &str = "Backup task session";
    pub(crate) const REPLICA_TASK: &str = "Replica task session";
}
