//! Job sessions and task sessions (resources/job-sessions.md §2–6): one run of a
//! job and the processing of each VM in it, as the clock finds them.

use super::{entity, link, reference, up_to_server, Ctx, Placement, Represent, Viewer};
use crate::node::{Node, Value};
use entman_model::job_session::{Generation, JobSession, JobTaskSession, SessionKind};
use entman_model::server::BackupServer;
use entman_model::Timestamp;

/// The words that differ between backup and replica sessions.
struct Words {
    sessions: &'static str,
    session_ref: &'static str,
    session: &'static str,
    tasks_path: &'static str,
    task_list: &'static str,
    task_sessions: &'static str,
    task_ref: &'static str,
    task: &'static str,
}

fn words(kind: SessionKind) -> Words {
    match kind {
        SessionKind::Backup => Words {
            sessions: "backupSessions",
            session_ref: "BackupJobSessionReference",
            session: "BackupJobSession",
            tasks_path: "taskSessions",
            task_list: "BackupTaskSessionReferenceList",
            task_sessions: "backupTaskSessions",
            task_ref: "BackupTaskSessionReference",
            task: "BackupTaskSession",
        },
        SessionKind::Replica => Words {
            sessions: "replicaSessions",
            session_ref: "ReplicaJobSessionReference",
            session: "ReplicaJobSession",
            tasks_path: "replicaTaskSessions",
            task_list: "ReplicaTaskSessionReferenceList",
            task_sessions: "replicaTaskSessions",
            task_ref: "ReplicaTaskSessionReference",
            task: "ReplicaTaskSession",
        },
    }
}

/// The entity-list root of a kind's sessions (§4).
pub fn session_list_root(kind: SessionKind) -> &'static str {
    match kind {
        SessionKind::Backup => "BackupJobSessions",
        SessionKind::Replica => "ReplicaJobSessions",
    }
}

/// The entity-list root of a kind's task sessions (§6).
pub fn task_list_root(kind: SessionKind) -> &'static str {
    match kind {
        SessionKind::Backup => "BackupTaskSessions",
        SessionKind::Replica => "ReplicaTaskSessions",
    }
}

/// A run with its backup server, at a moment.
#[derive(Debug, Clone, Copy)]
pub struct JobSessionView<'a> {
    /// The run.
    pub session: &'a JobSession,
    /// Its job's backup server.
    pub server: &'a BackupServer,
    /// The clock.
    pub now: Timestamp,
    /// The EM generation (restore point names).
    pub generation: Generation,
}

fn session_href(ctx: &Ctx, session: &JobSession) -> String {
    let w = words(session.kind());
    ctx.url(&format!("/{}/{}", w.sessions, session.id))
}

fn job_link(ctx: &Ctx, session: &JobSession) -> Node {
    link(
        "Up",
        ctx.url(&format!("/jobs/{}", session.job_id)),
        Some(&session.job_name),
        Some("JobReference"),
    )
}

fn tasks_link(session: &JobSession, href: &str) -> Node {
    let w = words(session.kind());
    link(
        "Down",
        format!("{href}/{}", w.tasks_path),
        None,
        Some(w.task_list),
    )
}

/// The text of a time: EM writes it with the generation's precision, which the
/// stored times already have.
fn date(t: Timestamp) -> Value {
    Value::Date(t)
}

impl Represent for JobSessionView<'_> {
    /// Reference representation (§2).
    fn reference(&self, ctx: &Ctx, placement: Placement) -> Node {
        let s = self.session;
        let w = words(s.kind());
        let href = session_href(ctx, s);
        let links = vec![
            up_to_server(ctx, self.server),
            job_link(ctx, s),
            link(
                "Alternate",
                format!("{href}?format=Entity"),
                Some(&s.name),
                Some(w.session),
            ),
            tasks_link(s, &href),
        ];
        reference(placement, s.uid(), &s.name, href, w.session_ref, links)
    }

    /// Entity representation (§3).
    fn entity(&self, ctx: &Ctx, _placement: Placement) -> Node {
        let s = self.session;
        let w = words(s.kind());
        let href = session_href(ctx, s);
        let mut links = vec![
            up_to_server(ctx, self.server),
            job_link(ctx, s),
            link(
                "Alternate",
                href.clone(),
                Some(&s.name),
                Some(w.session_ref),
            ),
            tasks_link(s, &href),
        ];
        if s.kind() == SessionKind::Backup {
            // Action links only for the role that may use them (README ambiguity 39).
            if ctx.viewer == Viewer::Administrator {
                links.push(link("Stop", format!("{href}?action=stop"), None, None));
            }
            let point_name = self.generation.point_time(s.created);
            links.extend(s.points_at(self.now).map(|task| {
                link(
                    "Related",
                    ctx.url(&format!("/restorePoints/{}", task.restore_point_id)),
                    Some(&point_name),
                    Some("RestorePointReference"),
                )
            }));
        }
        let state = s.state(self.now);
        let end = s.end_at(self.now).map_or(Value::Omit, date);
        entity(
            w.session,
            format!("{href}?format=Entity"),
            w.session,
            &s.name,
            s.uid(),
            links,
        )
        .elem(2, "JobUid", s.job_id.uid())
        .elem(2, "JobName", s.job_name.as_str())
        .elem(2, "JobType", s.job_type_name())
        .elem(2, "CreationTimeUTC", date(s.created))
        .elem(2, "EndTimeUTC", end)
        .elem(2, "State", state.as_str())
        .elem(2, "Result", s.result(self.now).as_str())
        .elem(2, "Progress", i64::from(s.progress(self.now)))
        .elem(2, "FailureMessage", Value::Null)
        .elem(3, "IsRetry", s.is_retry())
    }
}

/// One VM of a run, with the run and its backup server, at a moment.
#[derive(Debug, Clone, Copy)]
pub struct TaskSessionView<'a> {
    /// The run.
    pub session: &'a JobSession,
    /// The VM's task session.
    pub task: &'a JobTaskSession,
    /// The job's backup server.
    pub server: &'a BackupServer,
    /// The clock.
    pub now: Timestamp,
    /// The EM generation (point names).
    pub generation: Generation,
}

impl TaskSessionView<'_> {
    fn href(&self, ctx: &Ctx) -> String {
        let w = words(self.session.kind());
        ctx.url(&format!("/{}/{}", w.task_sessions, self.task.id))
    }

    fn uid(&self) -> String {
        format!(
            "urn:veeam:{}:{}",
            self.session.kind().task_urn(),
            self.task.id
        )
    }

    fn session_link(&self, ctx: &Ctx) -> Node {
        let w = words(self.session.kind());
        link(
            "Up",
            session_href(ctx, self.session),
            Some(&self.session.name),
            Some(w.session_ref),
        )
    }
}

impl Represent for TaskSessionView<'_> {
    /// Reference representation (§5.1).
    fn reference(&self, ctx: &Ctx, placement: Placement) -> Node {
        let w = words(self.session.kind());
        let t = self.task;
        let href = self.href(ctx);
        let links = vec![
            up_to_server(ctx, self.server),
            self.session_link(ctx),
            link(
                "Alternate",
                format!("{href}?format=Entity"),
                Some(&t.name),
                Some(w.task),
            ),
        ];
        reference(placement, self.uid(), &t.name, href, w.task_ref, links)
    }

    /// Entity representation (§5.2).
    fn entity(&self, ctx: &Ctx, _placement: Placement) -> Node {
        let kind = self.session.kind();
        let w = words(kind);
        let t = self.task;
        let c = &t.course;
        let href = self.href(ctx);
        let mut links = vec![
            up_to_server(ctx, self.server),
            self.session_link(ctx),
            link("Alternate", href.clone(), Some(&t.name), Some(w.task_ref)),
        ];
        if self.session.writes_points() && t.has_point(self.now) {
            let (path, ty) = match kind {
                SessionKind::Backup => ("vmRestorePoints", "VmRestorePoint"),
                SessionKind::Replica => ("vmReplicaPoints", "VmReplicaPoint"),
            };
            let name = format!("{}@{}", t.vm_name, self.generation.name_time(t.point_time));
            links.push(link(
                "Related",
                ctx.url(&format!("/{path}/{}?format=Entity", t.vm_point_id)),
                Some(&name),
                Some(ty),
            ));
        }
        let state = c.phase(self.now).as_str();
        let end = c.end_at(self.now).map_or(Value::Omit, date);
        let reason = c.reason_at(self.now);
        let vm_uid = match kind {
            SessionKind::Backup => Value::from(t.vm_ref.as_str()),
            SessionKind::Replica => Value::Omit,
        };
        entity(
            w.task,
            format!("{href}?format=Entity"),
            w.task,
            &t.name,
            self.uid(),
            links,
        )
        .elem(2, "JobSessionUid", self.session.uid())
        .elem(2, "CreationTimeUTC", date(c.created))
        .elem(2, "EndTimeUTC", end)
        .elem(2, "State", state)
        .elem(2, "Result", c.result(self.now).as_str())
        .elem(2, "Reason", reason)
        .elem(
            2,
            "TotalSize",
            i64::try_from(c.total_size(self.now)).unwrap_or(i64::MAX),
        )
        .elem(2, "VmUid", vm_uid)
        .attr(2, "VmDisplayName", t.vm_name.as_str())
    }
}
