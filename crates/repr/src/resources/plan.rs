//! Cloud failover plans and their includes (resources/failover-plans.md).

use super::{entity, link, reference, up_to_server, Ctx, Placement, Represent, Viewer};
use crate::node::{Node, Value};
use entman_model::plan::{Plan, PlanVm};
use entman_model::server::BackupServer;
use entman_model::tenant::Tenant;

/// A plan with its backup server and tenant.
pub struct PlanView<'a> {
    /// The plan.
    pub plan: &'a Plan,
    /// Its backup server.
    pub server: &'a BackupServer,
    /// The tenant that owns it.
    pub tenant: &'a Tenant,
}

impl PlanView<'_> {
    fn href(&self, ctx: &Ctx) -> String {
        ctx.url(&format!("/cloud/cloudFailoverPlans/{}", self.plan.id))
    }

    fn includes(&self, ctx: &Ctx) -> Vec<Node> {
        self.plan
            .vms
            .iter()
            .map(|vm| failovered_vm(ctx, self.plan, vm))
            .collect()
    }

    /// `CloudFailoveredVms` root (§4).
    pub fn includes_list(&self, ctx: &Ctx) -> Node {
        Node::new("CloudFailoveredVms").elem(
            0,
            "CloudFailoveredVms",
            Value::Items(self.includes(ctx)),
        )
    }
}

impl Represent for PlanView<'_> {
    /// Reference representation (§2).
    fn reference(&self, ctx: &Ctx, placement: Placement) -> Node {
        let p = self.plan;
        let href = self.href(ctx);
        let links = vec![
            up_to_server(ctx, self.server),
            link(
                "Alternate",
                format!("{href}?format=Entity"),
                Some(&p.name),
                Some("CloudFailoverPlan"),
            ),
            link(
                "Related",
                ctx.url(&format!("/cloud/tenants/{}?format=Entity", self.tenant.id)),
                Some(&self.tenant.name),
                Some("CloudTenant"),
            ),
        ];
        reference(
            placement,
            p.id.uid(),
            &p.name,
            href,
            "CloudFailoverPlanReference",
            links,
        )
    }

    /// Entity representation (§3). Tenants get no `Edit`/`Delete` links.
    fn entity(&self, ctx: &Ctx, _placement: Placement) -> Node {
        let p = self.plan;
        let href = self.href(ctx);
        let may_edit = ctx.viewer != Viewer::Tenant;
        let mut links = vec![
            up_to_server(ctx, self.server),
            link(
                "Alternate",
                href.clone(),
                Some(&p.name),
                Some("CloudFailoverPlanReference"),
            ),
        ];
        if may_edit {
            links.push(link(
                "Edit",
                href.clone(),
                Some(&p.name),
                Some("CloudFailoverPlanReference"),
            ));
        }
        links.push(link("Start", format!("{href}?action=start"), None, None));
        links.push(link("Test", format!("{href}?action=test"), None, None));
        links.push(link("Undo", format!("{href}?action=undo"), None, None));
        if may_edit {
            links.push(link(
                "Delete",
                href.clone(),
                Some(&p.name),
                Some("CloudFailoverPlanReference"),
            ));
        }
        let options = Node::new("CloudFailoverPlanOptions")
            .elem(
                0,
                "PostFailoverPlanCommandEnabled",
                p.options.post_command_enabled,
            )
            .elem(0, "PostFailoverPlanCommand", &p.options.post_command)
            .elem(
                0,
                "PreFailoverPlanCommandEnabled",
                p.options.pre_command_enabled,
            )
            .elem(0, "PreFailoverPlanCommand", &p.options.pre_command);
        let info = Node::new("CloudFailoverPlanInfo").elem(
            0,
            "Includes",
            Value::List {
                json_key: "CloudFailoveredVms",
                items: self.includes(ctx),
            },
        );
        entity(
            "CloudFailoverPlan",
            format!("{href}?format=Entity"),
            "CloudFailoverPlan",
            &p.name,
            p.id.uid(),
            links,
        )
        .elem(2, "TenantUid", self.tenant.id.uid())
        .elem(2, "TenantName", &self.tenant.name)
        .elem(
            2,
            "Description",
            p.description.as_ref().map_or(Value::Null, Value::from),
        )
        .elem(2, "CloudFailoverPlanOptions", options)
        .elem(2, "CloudFailoverPlanInfo", info)
    }
}

/// One `CloudFailoveredVm` (§3, §4).
pub fn failovered_vm(ctx: &Ctx, plan: &Plan, vm: &PlanVm) -> Node {
    Node::new("CloudFailoveredVm")
        .elem(0, "Links", Value::Null)
        .attr(
            0,
            "Href",
            ctx.url(&format!(
                "/cloud/cloudFailoverPlans/{}/includes/{}",
                plan.id, vm.id
            )),
        )
        .attr(0, "Type", "CloudFailoveredVm")
        .elem(1, "FailoverPlanVMId", vm.id.to_string())
        .elem(1, "Name", &vm.name)
        .elem(1, "Order", vm.order)
}
