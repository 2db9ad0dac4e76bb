//! The four job-session query types (job-sessions.md §8), answered in memory:
//! their `State`, `Result` and `EndTime` are derived from each run's course and
//! the clock, so the rows are built at request time and filtered, sorted and
//! paged by the reference semantics (`query::eval::select`). No 30-day window.

use super::super::{related, server_map};
use crate::{ApiError, AppState};
use entman_model::job_session::{Generation, JobSession, SessionKind};
use entman_model::server::BackupServer;
use entman_model::Timestamp;
use entman_query::eval::{Row, Stored};
use entman_query::QueryType;
use entman_repr::resources::job_session::{JobSessionView, TaskSessionView};
use entman_repr::resources::{Placement, Represent};
use entman_repr::{Ctx, Node};
use std::collections::HashMap;

/// Which runs a type lists, and whether it lists their tasks.
fn shape(t: QueryType) -> Option<(SessionKind, bool)> {
    match t {
        QueryType::BackupJobSession => Some((SessionKind::Backup, false)),
        QueryType::ReplicaJobSession => Some((SessionKind::Replica, false)),
        QueryType::BackupTaskSession => Some((SessionKind::Backup, true)),
        QueryType::ReplicaTaskSession => Some((SessionKind::Replica, true)),
        _ => None,
    }
}

/// Whether a type is one of the four.
pub(super) fn is_job_run_type(t: QueryType) -> bool {
    shape(t).is_some()
}

/// Every stored run (from the run cache); a query keeps those of its kind that
/// exist at its time ([`exists`]).
async fn runs(state: &AppState) -> Result<std::sync::Arc<Vec<JobSession>>, ApiError> {
    Ok(state.runs.all(state.store.as_ref()).await?)
}

/// Whether a run is of `kind` and exists at `now`.
fn exists(run: &JobSession, kind: SessionKind, now: Timestamp) -> bool {
    run.kind() == kind && run.created <= now
}

fn text(s: &str) -> Stored {
    Stored::Text(s.to_string())
}

fn time(t: Timestamp) -> Stored {
    Stored::Int(t.micros())
}

/// A run's values in the order of its type's fields.
fn session_row(s: &JobSession, server: &BackupServer, now: Timestamp) -> Row {
    let state = s.state(now);
    let values = vec![
        text(&s.id.to_string()),
        text(&s.name),
        text(s.job_type_name()),
        text(&s.job_id.to_string()),
        text(&s.job_name),
        time(s.created),
        s.end_at(now).map_or(Stored::Null, time),
        text(state.as_str()),
        text(s.result(now).as_str()),
        Stored::Int(i64::from(s.is_retry())),
        text(&server.id.to_string()),
        text(&server.name),
    ];
    (s.id.to_string(), values)
}

/// The task sessions' rows of a run, in the order of their type's fields.
fn task_rows(s: &JobSession, server: &BackupServer, now: Timestamp) -> Vec<Row> {
    s.tasks_at(now)
        .map(|task| {
            let c = &task.course;
            let state = c.phase(now).as_str();
            let end = c.end_at(now).map_or(Stored::Null, time);
            let reason = c.reason_at(now);
            let values = vec![
                text(&task.id.to_string()),
                text(&task.name),
                time(c.created),
                end,
                text(state),
                text(c.result(now).as_str()),
                text(reason),
                Stored::Int(i64::try_from(c.total_size(now)).unwrap_or(i64::MAX)),
                text(&s.id.to_string()),
                text(&s.job_id.to_string()),
                text(&s.job_name),
                text(&server.id.to_string()),
                text(&server.name),
                text(&task.vm_name),
            ];
            (task.id.to_string(), values)
        })
        .collect()
}

/// The rows a query of one of the four types runs over.
pub(super) async fn rows(state: &AppState, t: QueryType) -> Result<Vec<Row>, ApiError> {
    let Some((kind, tasks)) = shape(t) else {
        return Ok(Vec::new());
    };
    let now = state.now();
    let servers = server_map(state).await?;
    let mut rows = Vec::new();
    let all = runs(state).await?;
    for run in all.iter().filter(|r| exists(r, kind, now)) {
        let server = related(&servers, &run.backup_server_id, "backup server")?;
        if tasks {
            rows.extend(task_rows(run, server, now));
        } else {
            rows.push(session_row(run, server, now));
        }
    }
    Ok(rows)
}

/// The representations of the page's keys (`positions`: key → position on the
/// page), each with its position.
pub(super) async fn items(
    state: &AppState,
    ctx: &Ctx,
    t: QueryType,
    representation: entman_repr::resources::Representation,
    positions: &HashMap<&str, usize>,
) -> Result<Vec<(usize, Node)>, ApiError> {
    let pick = |id: String| positions.get(id.as_str()).copied();
    let Some((kind, tasks)) = shape(t) else {
        return Ok(Vec::new());
    };
    let now = state.now();
    let generation: Generation = state.engine.generation();
    let servers: HashMap<_, _> = server_map(state).await?;
    let mut nodes = Vec::new();
    let all = runs(state).await?;
    for run in all.iter().filter(|r| exists(r, kind, now)) {
        let server = related(&servers, &run.backup_server_id, "backup server")?;
        if tasks {
            for task in run.tasks_at(now) {
                if let Some(i) = pick(task.id.to_string()) {
                    let view = TaskSessionView {
                        session: run,
                        task,
                        server,
                        now,
                        generation,
                    };
                    nodes.push((i, view.represent(ctx, representation, Placement::Item)));
                }
            }
        } else if let Some(i) = pick(run.id.to_string()) {
            let view = JobSessionView {
                session: run,
                server,
                now,
                generation,
            };
            nodes.push((i, view.represent(ctx, representation, Placement::Item)));
        }
    }
    Ok(nodes)
}
