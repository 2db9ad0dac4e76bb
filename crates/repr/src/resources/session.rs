//! Cloud failover sessions (resources/failover-sessions.md).

use super::{entity, link, named_link, reference, up_to_server, Ctx, Placement, Represent};
use crate::node::{opt_text, opt_value, Node, Value};
use entman_model::server::BackupServer;
use entman_model::session::{FailoverSession, SessionTask};

/// A session with its backup server.
pub struct SessionView<'a> {
    /// The session.
    pub session: &'a FailoverSession,
    /// Its backup server.
    pub server: &'a BackupServer,
}

impl SessionView<'_> {
    fn href(&self, ctx: &Ctx) -> String {
        ctx.url(&format!("/cloud/failoverSessions/{}", self.session.id))
    }
}

impl Represent for SessionView<'_> {
    /// Reference representation (§2).
    fn reference(&self, ctx: &Ctx, placement: Placement) -> Node {
        let s = self.session;
        let href = self.href(ctx);
        let links = vec![
            up_to_server(ctx, self.server),
            link(
                "Alternate",
                format!("{href}?format=Entity"),
                Some(&s.plan_name),
                Some("CloudFailoverSession"),
            ),
        ];
        reference(
            placement,
            s.id.uid(),
            &s.plan_name,
            href,
            "CloudFailoverSessionReference",
            links,
        )
    }

    /// Entity representation (§3): JobSession members on level 2, the session's own
    /// `CloudFailoverTasks` on level 3.
    fn entity(&self, ctx: &Ctx, _placement: Placement) -> Node {
        let s = self.session;
        let href = self.href(ctx);
        let links = vec![
            up_to_server(ctx, self.server),
            link(
                "Alternate",
                href.clone(),
                Some(&s.plan_name),
                Some("CloudFailoverSessionReference"),
            ),
        ];
        let tasks = s.tasks.iter().map(|t| task_node(ctx, t)).collect();
        entity(
            "CloudFailoverSession",
            format!("{href}?format=Entity"),
            "CloudFailoverSession",
            &s.plan_name,
            s.id.uid(),
            links,
        )
        .elem(2, "JobUid", Value::Null)
        .elem(2, "JobName", Value::Null)
        .elem(2, "JobType", "FailoverPlan")
        .elem(2, "CreationTimeUTC", s.creation_time)
        .elem(2, "EndTimeUTC", opt_value(s.end_time))
        .elem(2, "State", s.state.as_str())
        .elem(2, "Result", s.result.as_str())
        .elem(2, "Progress", s.progress)
        .elem(2, "FailureMessage", opt_text(s.failure_message.clone()))
        .elem(
            3,
            "CloudFailoverTasks",
            Value::List {
                json_key: "CloudFailoverTasks",
                items: tasks,
            },
        )
    }
}

/// One item of `CloudFailoverTasks` (the item element is also `CloudFailoverTasks`).
fn task_node(ctx: &Ctx, t: &SessionTask) -> Node {
    let point_link = match &t.point {
        Some(p) => Value::Node(named_link(
            "VmReplicaPointLink",
            "Related",
            ctx.url(&format!("/cloud/vmReplicaPoints/{}", p.id)),
            Some(&p.name),
            Some("CloudVmReplicaPointReference"),
        )),
        None => Value::Null,
    };
    Node::new("CloudFailoverTasks")
        .elem(0, "VmReplicaPointLink", point_link)
        .elem(0, "CreationTimeUTC", t.creation_time)
        .elem(0, "EndTimeUTC", opt_value(t.end_time))
        .elem(0, "State", t.state.as_str())
        .elem(0, "Result", t.result.as_str())
        .elem(0, "Progress", t.progress)
        .elem(0, "FailureMessage", opt_text(t.failure_message.clone()))
        .attr(0, "VmName", &t.vm_name)
}
