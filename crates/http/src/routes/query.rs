//! `GET /api/query` (query.md): filter, sort and page one type's objects in the
//! database, and answer a `QueryResult` with paging links.

use super::{related, server_map};
use crate::auth::{Caller, Right};
use crate::params::{Params, Representation};
use crate::{ApiError, AppState, Reply};
use axum::extract::{RawQuery, State};
use axum::routing::get;
use axum::Router;
use entman_index::IndexError;
use entman_model::ids::{PlanId, SessionId};
use entman_query::{check_query, parse, CheckedQuery, Direction, QueryType, TypeLookup};
use entman_repr::resources::job::JobView;
use entman_repr::resources::query::{query_result, Paging, QueryItems};
use entman_repr::resources::replica::{PointView, ReplicaView};
use entman_repr::resources::server::ServerView;
use entman_repr::resources::session::SessionView;
use entman_repr::resources::task::task_node;
use entman_repr::resources::tenant::TenantView;
use entman_repr::resources::{plan::PlanView, Placement, Represent};
use entman_repr::{Ctx, JsonStyle, Node};
use entman_store::{QueryPage, Restriction, Scope};
use percent_encoding::percent_decode_str;
use std::collections::HashMap;

/// Default page size (every EM capture reports 100).
const DEFAULT_PAGE_SIZE: u64 = 100;
/// Largest accepted page size (a safety limit; EM documents none).
pub(super) const MAX_PAGE_SIZE: u64 = 10_000;

mod job_runs;

pub(super) fn router() -> Router<AppState> {
    Router::new().route("/api/query", get(query))
}

/// The right a query type needs (auth.md §6).
fn right_of(t: QueryType) -> Right {
    match t {
        QueryType::BackupServer => Right::ReadServers,
        QueryType::CloudTenant => Right::ReadTenants,
        QueryType::CloudReplica | QueryType::CloudVmReplicaPoint => Right::ReadReplicas,
        QueryType::CloudFailoverPlan => Right::ReadPlans,
        QueryType::CloudFailoverSession => Right::ReadSessions,
        QueryType::Task => Right::OwnTasks,
        QueryType::Job => Right::Jobs,
        QueryType::BackupJobSession
        | QueryType::ReplicaJobSession
        | QueryType::BackupTaskSession
        | QueryType::ReplicaTaskSession => Right::ReadJobSessions,
    }
}

/// A positive integer parameter; digits beyond u64 saturate (a page that far
/// away is simply empty).
fn positive(params: &Params, name: &str, default: u64) -> Result<u64, ApiError> {
    let Some(raw) = params.get(name) else {
        return Ok(default);
    };
    let v = raw.trim();
    let bad = || ApiError::not_positive(name, v);
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let n = v.parse::<u64>().unwrap_or(u64::MAX);
    if n == 0 {
        return Err(bad());
    }
    Ok(n)
}

/// The first `sortAsc`/`sortDesc` parameter.
fn sort_param(params: &Params) -> Option<(&str, Direction)> {
    params.0.iter().find_map(|(k, v)| {
        if k.eq_ignore_ascii_case("sortAsc") {
            Some((v.as_str(), Direction::Asc))
        } else if k.eq_ignore_ascii_case("sortDesc") {
            Some((v.as_str(), Direction::Desc))
        } else {
            None
        }
    })
}

/// Parses and checks the query parameters.
fn checked(params: &Params) -> Result<CheckedQuery, ApiError> {
    let type_name = params
        .get("type")
        .ok_or_else(ApiError::query_type_missing)?;
    let t = QueryType::parse(type_name).map_err(|e| match e {
        TypeLookup::NotImplemented => {
            ApiError::NotImplemented(format!("/api/query?type={type_name}"))
        }
        TypeLookup::Unknown => ApiError::query_type_unknown(type_name),
    })?;
    let filter_text = params.get("filter").unwrap_or("");
    let filter = parse(filter_text).map_err(ApiError::filter_invalid)?;
    let sort = sort_param(params);
    if let Some((name, _)) = sort {
        if t.field(name.trim()).is_none() {
            return Err(ApiError::sort_field_unknown(name, t.name()));
        }
    }
    check_query(t, filter.as_ref(), sort).map_err(ApiError::filter_invalid)
}

async fn query(
    State(state): State<AppState>,
    caller: Caller,
    params: Params,
    RawQuery(raw): RawQuery,
) -> Result<Reply, ApiError> {
    let q = checked(&params)?;
    caller.require(right_of(q.query_type))?;
    let representation = params.representation()?;
    let page_size = positive(&params, "pageSize", DEFAULT_PAGE_SIZE)?;
    if page_size > MAX_PAGE_SIZE {
        return Err(ApiError::page_size_too_large(MAX_PAGE_SIZE));
    }
    let page = positive(&params, "page", 1)?;
    let restriction = match (q.query_type, caller.scope()) {
        (QueryType::Task, _) => Restriction::LogonSession(caller.session.id.to_string()),
        (_, Scope::Tenant(t)) => Restriction::Tenant(t.to_string()),
        (_, Scope::All) => Restriction::None,
    };
    let offset = (page - 1).saturating_mul(page_size);
    let result = run(&state, &q, &restriction, offset, page_size).await?;
    let items = load(&state, &caller, q.query_type, representation, &result.keys).await?;
    let pages = result.total.div_ceil(page_size).max(1);
    let encoding = match state.config.json_style {
        JsonStyle::Em12 => PagingEncoding::Reencode,
        JsonStyle::Em13 => PagingEncoding::Keep,
    };
    let paging = paging(
        &caller.ctx,
        raw.as_deref().unwrap_or(""),
        encoding,
        (page_size, page, pages),
    );
    let reply = Reply::ok(query_result(items, paging));
    // Tasks belong to the caller's logon session; what the in-memory types show
    // (`NextRun`, the states of job runs) moves with the clock; everything else
    // is stored state.
    Ok(match q.query_type {
        t if t == QueryType::Task || t.in_memory() => reply,
        _ => reply.cacheable(None),
    })
}

/// Counts and pages a query: session queries on the in-memory index when it has
/// loaded, everything else (and sessions until then) in the database, each within
/// the query budget.
async fn run(
    state: &AppState,
    q: &CheckedQuery,
    restriction: &Restriction,
    offset: u64,
    limit: u64,
) -> Result<QueryPage, ApiError> {
    let budget = state.config.query_budget;
    if job_runs::is_job_run_type(q.query_type) {
        let rows = job_runs::rows(state, q.query_type).await?;
        let (total, keys) = entman_query::eval::select(q, &rows, offset, limit);
        return Ok(QueryPage { total, keys });
    }
    if q.query_type.in_memory() {
        return job_page(state, q, offset, limit).await;
    }
    if let Some(index) = &state.index {
        match index.query(q, restriction, offset, limit).await {
            Ok(Some(page)) => return Ok(page),
            Ok(None) => {}
            Err(IndexError::Overrun(_)) => return Err(ApiError::QueryTooLong(budget)),
            Err(IndexError::Store(e)) => return Err(e.into()),
        }
    }
    tokio::time::timeout(
        budget,
        state.store.query_page(q, restriction, offset, limit),
    )
    .await
    .map_err(|_| ApiError::QueryTooLong(budget))?
    .map_err(ApiError::from)
}

/// A `type=Job` page, evaluated in memory (jobs are few, and `NextRun` is
/// derived from each schedule and the clock).
async fn job_page(
    state: &AppState,
    q: &CheckedQuery,
    offset: u64,
    limit: u64,
) -> Result<QueryPage, ApiError> {
    use entman_query::eval::Stored;
    let servers = server_map(state).await?;
    let now = state.now();
    let text = |s: &str| Stored::Text(s.to_string());
    let flag = |b: bool| Stored::Int(i64::from(b));
    let mut rows = Vec::new();
    for job in state.store.list_jobs().await? {
        let server = related(&servers, &job.backup_server_id, "backup server")?;
        // In the order of the type's fields (resources/jobs.md §6).
        let values = vec![
            text(&job.id.to_string()),
            text(&job.name),
            text(&job.description),
            job.next_run(now)
                .map_or(Stored::Null, |t| Stored::Int(t.micros())),
            text(job.job_type.as_str()),
            text(job.platform.map_or("CustomPlatform", |p| p.as_str())),
            flag(job.schedule_configured()),
            flag(job.schedule_enabled),
            text(&server.id.to_string()),
            text(&server.name),
        ];
        rows.push((job.id.to_string(), values));
    }
    let (total, keys) = entman_query::eval::select(q, &rows, offset, limit);
    Ok(QueryPage { total, keys })
}

/// First, Previous (not on page 1), Next (not on the last page), Last (query.md §7).
fn paging(
    ctx: &Ctx,
    raw: &str,
    encoding: PagingEncoding,
    (page_size, page, pages): (u64, u64, u64),
) -> Paging {
    let href = |k: u64| {
        ctx.url(&format!(
            "/query?{}",
            paging_query(raw, encoding, page_size, k)
        ))
    };
    let mut links = vec![("First", href(1))];
    if page > 1 {
        links.push(("Previous", href((page - 1).min(pages))));
    }
    if page < pages {
        links.push(("Next", href(page + 1)));
    }
    links.push(("Last", href(pages)));
    Paging {
        page,
        page_size,
        pages,
        links,
    }
}

/// How paging links write the values the client sent (query.md §7.1 step 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum PagingEncoding {
    /// EM 12: each value decoded and re-encoded as .NET's `HttpUtility.UrlEncode`
    /// does (lowercase hex, `A-Z a-z 0-9 - _ . ! * ( )` kept, space as `+`).
    Reencode,
    /// EM 13: the client's text, with the bytes a URI may not hold (those of
    /// conventions.md §2.11, space and controls) percent-encoded in uppercase hex.
    Keep,
}

/// The paging links' query strings (query.md §7.1): the client's pairs in order,
/// `page` pairs removed, the first `pageSize` pair kept in place with the effective
/// size and `page=<k>` right after it (or both appended), each other pair written
/// by the generation's `encoding`.
pub(super) fn paging_query(
    raw_query: &str,
    encoding: PagingEncoding,
    page_size: u64,
    page: u64,
) -> String {
    let name_of = |pair: &str| {
        percent_decode_str(pair.split('=').next().unwrap_or(""))
            .decode_utf8_lossy()
            .to_ascii_lowercase()
    };
    let mut out: Vec<String> = Vec::new();
    let mut placed = false;
    for pair in raw_query.split('&').filter(|p| !p.is_empty()) {
        match name_of(pair).as_str() {
            "page" => {}
            "pagesize" if placed => {}
            "pagesize" => {
                let name = pair.split('=').next().unwrap_or("pageSize");
                out.push(format!("{name}={page_size}"));
                out.push(format!("page={page}"));
                placed = true;
            }
            _ => out.push(write_pair(pair, encoding)),
        }
    }
    if !placed {
        out.push(format!("pageSize={page_size}"));
        out.push(format!("page={page}"));
    }
    out.join("&")
}

/// One `name=value` pair of a paging link: the name as the client sent it (made a
/// valid URI part), the value by `encoding`.
fn write_pair(pair: &str, encoding: PagingEncoding) -> String {
    let (name, value) = match pair.split_once('=') {
        Some((name, value)) => (name, Some(value)),
        None => (pair, None),
    };
    let name = uri_safe(name);
    match (value, encoding) {
        (None, _) => name,
        (Some(value), PagingEncoding::Keep) => format!("{name}={}", uri_safe(value)),
        (Some(value), PagingEncoding::Reencode) => {
            format!("{name}={}", url_encode_dotnet(&form_decode(value)))
        }
    }
}

/// Percent-decodes a query value as a form field: `+` is a space.
fn form_decode(value: &str) -> Vec<u8> {
    let spaced = value.replace('+', " ");
    percent_decode_str(&spaced).collect()
}

/// `HttpUtility.UrlEncode`: unreserved bytes kept, space as `+`, the rest `%xx`.
fn url_encode_dotnet(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 3);
    for &b in bytes {
        match b {
            b'A'..=b'Z'
            | b'a'..=b'z'
            | b'0'..=b'9'
            | b'-'
            | b'_'
            | b'.'
            | b'!'
            | b'*'
            | b'('
            | b')' => {
                out.push(char::from(b));
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02x}")),
        }
    }
    out
}

/// The text with every byte a URI may not hold percent-encoded (uppercase hex).
fn uri_safe(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for &b in text.as_bytes() {
        let invalid = b <= b' '
            || b == 0x7f
            || b >= 0x80
            || matches!(
                b,
                b'"' | b'<' | b'>' | b'{' | b'}' | b'|' | b'\\' | b'^' | b'`'
            );
        if invalid {
            out.push_str(&format!("%{b:02X}"));
        } else {
            out.push(char::from(b));
        }
    }
    out
}

/// Loads the page's objects by key and renders them, in the query's order.
async fn load(
    state: &AppState,
    caller: &Caller,
    t: QueryType,
    representation: Representation,
    keys: &[String],
) -> Result<QueryItems, ApiError> {
    let ctx = &caller.ctx;
    let scope = caller.scope();
    let entity = representation == Representation::Entity;
    let positions: HashMap<&str, usize> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| (k.as_str(), i))
        .collect();
    let pick = |id: String| positions.get(id.as_str()).copied();
    let mut nodes: Vec<(usize, Node)> = Vec::new();
    match t {
        QueryType::CloudFailoverSession => {
            let ids: Vec<SessionId> = keys.iter().filter_map(|k| k.parse().ok()).collect();
            let servers = server_map(state).await?;
            let sessions = state.store.sessions_by_ids(&ids, entity).await?;
            for (i, session) in super::sessions::shown_at(sessions, state.engine.progress_time())
                .iter()
                .enumerate()
            {
                let view = SessionView {
                    session,
                    server: related(&servers, &session.backup_server_id, "backup server")?,
                };
                nodes.push((i, view.represent(ctx, representation, Placement::Item)));
            }
        }
        QueryType::BackupServer => {
            for s in state.store.list_servers().await? {
                if let Some(i) = pick(s.id.to_string()) {
                    nodes.push((
                        i,
                        ServerView { server: &s }.represent(ctx, representation, Placement::Item),
                    ));
                }
            }
        }
        QueryType::CloudTenant => {
            let servers = server_map(state).await?;
            for tenant in state.store.list_tenants().await? {
                if let Some(i) = pick(tenant.id.to_string()) {
                    let view = TenantView {
                        tenant: &tenant,
                        server: related(&servers, &tenant.backup_server_id, "backup server")?,
                    };
                    nodes.push((i, view.represent(ctx, representation, Placement::Item)));
                }
            }
        }
        QueryType::CloudReplica => {
            let servers = server_map(state).await?;
            for replica in state.store.list_replicas(scope).await? {
                if let Some(i) = pick(replica.id.to_string()) {
                    let view = ReplicaView {
                        replica: &replica,
                        server: related(&servers, &replica.backup_server_id, "backup server")?,
                    };
                    nodes.push((i, view.represent(ctx, representation, Placement::Item)));
                }
            }
        }
        QueryType::CloudVmReplicaPoint => {
            let servers = server_map(state).await?;
            let replicas: HashMap<_, _> = state
                .store
                .list_replicas(scope)
                .await?
                .into_iter()
                .map(|r| (r.id, r))
                .collect();
            for point in state.store.list_points(scope, None).await? {
                if let Some(i) = pick(point.id.to_string()) {
                    let replica = related(&replicas, &point.replica_id, "replica")?;
                    let view = PointView {
                        point: &point,
                        replica,
                        server: related(&servers, &replica.backup_server_id, "backup server")?,
                    };
                    nodes.push((i, view.represent(ctx, representation, Placement::Item)));
                }
            }
        }
        QueryType::CloudFailoverPlan => {
            let servers = server_map(state).await?;
            let tenants: HashMap<_, _> = state
                .store
                .list_tenants()
                .await?
                .into_iter()
                .map(|t| (t.id, t))
                .collect();
            for id in keys.iter().filter_map(|k| k.parse::<PlanId>().ok()) {
                let plan = state.store.get_plan(scope, id).await?;
                let view = PlanView {
                    plan: &plan,
                    server: related(&servers, &plan.backup_server_id, "backup server")?,
                    tenant: related(&tenants, &plan.tenant_id, "tenant")?,
                };
                nodes.push((
                    nodes.len(),
                    view.represent(ctx, representation, Placement::Item),
                ));
            }
        }
        QueryType::Job => {
            let servers = server_map(state).await?;
            let now = state.now();
            for job in state.store.list_jobs().await? {
                if let Some(i) = pick(job.id.to_string()) {
                    let view = JobView {
                        job: &job,
                        server: related(&servers, &job.backup_server_id, "backup server")?,
                        now,
                    };
                    nodes.push((i, view.represent(ctx, representation, Placement::Item)));
                }
            }
        }
        QueryType::BackupJobSession
        | QueryType::ReplicaJobSession
        | QueryType::BackupTaskSession
        | QueryType::ReplicaTaskSession => {
            nodes = job_runs::items(state, ctx, t, representation, &positions).await?;
        }
        QueryType::Task => {
            for task in state.store.list_tasks(caller.session.id).await? {
                if let Some(i) = pick(task.number.0.to_string()) {
                    nodes.push((i, task_node(ctx, &task)));
                }
            }
        }
    }
    nodes.sort_by_key(|(i, _)| *i);
    let items: Vec<Node> = nodes.into_iter().map(|(_, n)| n).collect();
    Ok(match t {
        QueryType::Task => QueryItems::Tasks(items),
        _ if !entity => QueryItems::Refs(items),
        _ => QueryItems::Entities {
            list: t.list_element(),
            items,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::{paging_query, PagingEncoding::*};

    #[test]
    fn paging_links_place_page_after_page_size_in_both_generations() {
        for encoding in [Reencode, Keep] {
            assert_eq!(
                paging_query("type=CloudFailoverSession&format=Entities&sortDesc=CreationTime&pageSize=1&filter=State%3d%3dStopped", encoding, 1, 2),
                "type=CloudFailoverSession&format=Entities&sortDesc=CreationTime&pageSize=1&page=2&filter=State%3d%3dStopped"
            );
            assert_eq!(
                paging_query("type=Task&PAGESIZE=5&pagesize=9&Page=2", encoding, 5, 3),
                "type=Task&PAGESIZE=5&page=3"
            );
        }
    }

    #[test]
    fn em12_reencodes_values_like_dotnet() {
        // The EM 12 capture (query.md §7.1): the raw filter comes back encoded.
        assert_eq!(
            paging_query("type=BackupJobSession&filter=CreationTime%3E%3D%222026-06-14T21:07:25%22", Reencode, 100, 1),
            "type=BackupJobSession&filter=CreationTime%3e%3d%222026-06-14T21%3a07%3a25%22&pageSize=100&page=1"
        );
        // The EM 9.5 capture: format kept in the client's casing, v carried over.
        assert_eq!(
            paging_query("type=BackupJobSession&format=entities&filter=result==\"Failed\";endtime>\"2019-06-30\"&page=3&v=latest", Reencode, 100, 1),
            "type=BackupJobSession&format=entities&filter=result%3d%3d%22Failed%22%3bendtime%3e%222019-06-30%22&v=latest&pageSize=100&page=1"
        );
        // Spaces (as %20 or +) become +, non-ASCII its UTF-8 bytes, unreserved kept.
        assert_eq!(
            paging_query(
                "filter=Name==%22ABC%20Company+Plan%22&x=%C3%A9-_.!*()~",
                Reencode,
                10,
                1
            ),
            "filter=Name%3d%3d%22ABC+Company+Plan%22&x=%c3%a9-_.!*()%7e&pageSize=10&page=1"
        );
    }

    #[test]
    fn em13_keeps_the_clients_text_with_invalid_bytes_encoded() {
        // As the 13.1 documentation copies it: %3E%3D, a literal ; and raw ==.
        assert_eq!(
            paging_query("type=BackupJobSession&filter=result==Failed;endtime%3E%3D%222019-06-30%22", Keep, 100, 1),
            "type=BackupJobSession&filter=result==Failed;endtime%3E%3D%222019-06-30%22&pageSize=100&page=1"
        );
        // Bytes that reached the server raw (HTTP/2 lets `"` through) are encoded.
        assert_eq!(
            paging_query("filter=Name==\"Caf\u{e9}\"<>", Keep, 100, 2),
            "filter=Name==%22Caf%C3%A9%22%3C%3E&pageSize=100&page=2"
        );
    }
}
