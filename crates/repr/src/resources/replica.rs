//! Cloud replicas and VM replica points (resources/replicas.md).

use super::{entity, link, reference, up_to_server, Ctx, Placement, Represent};
use crate::node::{Node, Value};
use entman_model::replica::{Replica, VmReplicaPoint};
use entman_model::server::BackupServer;

/// A replica with its backup server.
pub struct ReplicaView<'a> {
    /// The replica.
    pub replica: &'a Replica,
    /// Its backup server.
    pub server: &'a BackupServer,
}

impl ReplicaView<'_> {
    fn href(&self, ctx: &Ctx) -> String {
        ctx.url(&format!("/cloud/replicas/{}", self.replica.id))
    }

    fn points_link(&self, ctx: &Ctx) -> Node {
        link(
            "Down",
            format!("{}/vmReplicaPoints", self.href(ctx)),
            None,
            Some("CloudVmReplicaPointReferenceList"),
        )
    }
}

impl Represent for ReplicaView<'_> {
    /// Reference representation (§2.1).
    fn reference(&self, ctx: &Ctx, placement: Placement) -> Node {
        let r = self.replica;
        let href = self.href(ctx);
        let links = vec![
            up_to_server(ctx, self.server),
            link(
                "Alternate",
                format!("{href}?format=Entity"),
                Some(&r.name),
                Some("CloudReplica"),
            ),
            self.points_link(ctx),
        ];
        reference(
            placement,
            r.id.uid(),
            &r.name,
            href,
            "CloudReplicaReference",
            links,
        )
    }

    /// Entity representation (§2.2).
    fn entity(&self, ctx: &Ctx, _placement: Placement) -> Node {
        let r = self.replica;
        let href = self.href(ctx);
        let links = vec![
            up_to_server(ctx, self.server),
            link(
                "Alternate",
                href.clone(),
                Some(&r.name),
                Some("CloudReplicaReference"),
            ),
            self.points_link(ctx),
        ];
        entity(
            "CloudReplica",
            format!("{href}?format=Entity"),
            "CloudReplica",
            &r.name,
            r.id.uid(),
            links,
        )
        .elem(2, "Ref", Value::Null)
        .elem(2, "Platform", r.platform.as_str())
    }
}

/// A VM replica point with its replica and backup server.
pub struct PointView<'a> {
    /// The point.
    pub point: &'a VmReplicaPoint,
    /// The replica it belongs to.
    pub replica: &'a Replica,
    /// The replica's backup server.
    pub server: &'a BackupServer,
}

impl PointView<'_> {
    fn href(&self, ctx: &Ctx) -> String {
        ctx.url(&format!("/cloud/vmReplicaPoints/{}", self.point.id))
    }

    fn up_links(&self, ctx: &Ctx) -> Vec<Node> {
        vec![
            up_to_server(ctx, self.server),
            link(
                "Up",
                ctx.url(&format!("/cloud/replicas/{}", self.replica.id)),
                Some(&self.replica.name),
                Some("CloudReplicaReference"),
            ),
        ]
    }
}

impl Represent for PointView<'_> {
    /// Reference representation (§3.1).
    fn reference(&self, ctx: &Ctx, placement: Placement) -> Node {
        let p = self.point;
        let name = p.name();
        let href = self.href(ctx);
        let mut links = self.up_links(ctx);
        links.push(link(
            "Alternate",
            format!("{href}?format=Entity"),
            Some(&name),
            Some("CloudVmReplicaPoint"),
        ));
        reference(
            placement,
            p.id.uid(),
            &name,
            href,
            "CloudVmReplicaPointReference",
            links,
        )
    }

    /// Entity representation (§3.2).
    fn entity(&self, ctx: &Ctx, placement: Placement) -> Node {
        // Items of entity lists are named CloudReplica (the XSD quirk of §3.3).
        let element = match placement {
            Placement::Root => "CloudVmReplicaPoint",
            Placement::Item => "CloudReplica",
        };
        let p = self.point;
        let name = p.name();
        let href = self.href(ctx);
        let mut links = self.up_links(ctx);
        links.push(link(
            "Alternate",
            href.clone(),
            Some(&name),
            Some("CloudVmReplicaPointReference"),
        ));
        entity(
            element,
            format!("{href}?format=Entity"),
            "CloudVmReplicaPoint",
            &name,
            p.id.uid(),
            links,
        )
        .elem(2, "CreationTimeUTC", p.creation_time)
        .elem(2, "VmName", Value::Null)
        .elem(2, "PointType", p.point_type.as_str())
        .elem(2, "State", p.state.as_str())
        .attr(2, "VmDisplayName", &p.vm_display_name)
    }
}
