//! Cloud tenants (resources/tenants.md).

use super::{entity, link, reference, up_to_server, Ctx, Placement, Represent};
use crate::node::{opt_value, Node, Value};
use entman_model::server::BackupServer;
use entman_model::tenant::{
    ComputeResource, RepositoryQuota, Tenant, TenantKind, VCloudComputeResource,
};

/// A tenant with the backup server it lives on.
pub struct TenantView<'a> {
    /// The tenant.
    pub tenant: &'a Tenant,
    /// Its backup server.
    pub server: &'a BackupServer,
}

impl TenantView<'_> {
    fn href(&self, ctx: &Ctx) -> String {
        ctx.url(&format!("/cloud/tenants/{}", self.tenant.id))
    }

    fn links(&self, ctx: &Ctx) -> Vec<Node> {
        let t = self.tenant;
        let href = self.href(ctx);
        let mut links = vec![
            up_to_server(ctx, self.server),
            link(
                "Alternate",
                href.clone(),
                Some(&t.name),
                Some("CloudTenantReference"),
            ),
            link(
                "Edit",
                href.clone(),
                Some(&t.name),
                Some("CloudTenantReference"),
            ),
            link(
                "Down",
                format!("{href}/resources"),
                None,
                Some("CloudTenantResourceList"),
            ),
            link(
                "Create",
                format!("{href}/resources"),
                None,
                Some("CloudTenantResource"),
            ),
            link("Delete", href.clone(), None, None),
        ];
        match t.kind {
            TenantKind::Standalone { .. } => {
                links.push(link(
                    "Down",
                    format!("{href}/computeResources"),
                    None,
                    Some("CloudTenantComputeResourceList"),
                ));
                links.push(link(
                    "Create",
                    format!("{href}/computeResources"),
                    None,
                    Some("CloudTenantComputeResource"),
                ));
                links.push(link(
                    "Down",
                    format!("{href}/subtenants"),
                    None,
                    Some("CloudSubtenantList"),
                ));
                links.push(link(
                    "Create",
                    format!("{href}/subtenants"),
                    None,
                    Some("CloudSubtenant"),
                ));
            }
            TenantKind::VCloud { .. } => {
                links.push(link(
                    "Down",
                    format!("{href}/vcloudcomputeresources"),
                    None,
                    Some("CloudTenantVCloudComputeResourceList"),
                ));
                links.push(link(
                    "Create",
                    format!("{href}/vcloudcomputeresources"),
                    None,
                    Some("CloudTenantVCloudComputeResource"),
                ));
            }
        }
        links.push(link(
            "Related",
            format!("{href}/freelicenseCounters"),
            Some("FreeLicenseCounters"),
            Some("FreeLicenseCounters"),
        ));
        links
    }
}

impl Represent for TenantView<'_> {
    /// Reference representation (§2).
    fn reference(&self, ctx: &Ctx, placement: Placement) -> Node {
        let t = self.tenant;
        let href = self.href(ctx);
        let links = vec![
            up_to_server(ctx, self.server),
            link(
                "Alternate",
                format!("{href}?format=Entity"),
                Some(&t.name),
                Some("CloudTenant"),
            ),
        ];
        reference(
            placement,
            t.id.uid(),
            &t.name,
            href,
            "CloudTenantReference",
            links,
        )
    }

    /// Entity representation (§3).
    fn entity(&self, ctx: &Ctx, _placement: Placement) -> Node {
        let t = self.tenant;
        let href = self.href(ctx);
        entity(
            "CloudTenant",
            format!("{href}?format=Entity"),
            "CloudTenant",
            &t.name,
            t.id.uid(),
            self.links(ctx),
        )
        .elem(2, "Password", Value::Null)
        .elem(2, "Description", &t.description)
        .elem(2, "Enabled", t.enabled)
        .elem(2, "LeaseOptions", lease(t))
        .elem(
            2,
            "Resources",
            Value::List {
                json_key: "CloudTenantResources",
                items: t
                    .resources
                    .iter()
                    .map(|r| repository_quota(&href, r))
                    .collect(),
            },
        )
        .elem(2, "LastResult", t.last_result.as_str())
        .elem(2, "LastActive", opt_value(t.last_active))
        .elem(
            2,
            "ComputeResources",
            Value::List {
                json_key: "CloudTenantComputeResources",
                items: t
                    .compute_resources
                    .iter()
                    .map(|c| compute_resource(&href, c))
                    .collect(),
            },
        )
        .elem(2, "ThrottlingEnabled", t.throttling.enabled)
        .elem(2, "ThrottlingSpeedLimit", t.throttling.speed_limit)
        .elem(2, "ThrottlingSpeedUnit", &t.throttling.unit)
        .elem(2, "PublicIpCount", t.counters.public_ip_count)
        .elem(2, "BackupCount", t.counters.backup_count)
        .elem(2, "ReplicaCount", t.counters.replica_count)
        .elem(2, "MaxConcurrentTasks", t.counters.max_concurrent_tasks)
        .elem(
            2,
            "WorkStationBackupCount",
            t.counters.workstation_backup_count,
        )
        .elem(2, "ServerBackupCount", t.counters.server_backup_count)
        .elem(
            2,
            "BackupProtectionEnabled",
            t.counters.backup_protection_enabled,
        )
        .elem(
            2,
            "BackupProtectionPeriod",
            t.counters.backup_protection_period,
        )
        .elem(2, "TenantType", tenant_type(&t.kind))
        .elem(
            2,
            "VCloudComputeResources",
            match &t.kind {
                TenantKind::VCloud { vdcs, .. } => Value::List {
                    json_key: "CloudTenantVCloudComputeResources",
                    items: vdcs.iter().map(|v| vcloud_resource(&href, v)).collect(),
                },
                TenantKind::Standalone { .. } => Value::Null,
            },
        )
        .elem(2, "CloudGatewayPools", Value::Null)
    }
}

fn lease(t: &Tenant) -> Node {
    Node::new("LeaseOptions")
        .attr(0, "Enabled", t.lease_expiration.is_some())
        .attr(0, "ExpirationDate", opt_value(t.lease_expiration))
}

/// A sub-resource node: own element(s), `Id` attribute, then ResourceType members
/// with `Links` absent (`null` in JSON).
fn sub_resource(element: &'static str, href: String, id: String) -> Node {
    Node::new(element)
        .elem(0, "Links", Value::Null)
        .attr(0, "Href", href)
        .attr(0, "Type", element)
        .attr(1, "Id", id)
}

fn repository_quota(tenant_href: &str, r: &RepositoryQuota) -> Node {
    let quota = Node::new("RepositoryQuota")
        .elem(0, "DisplayName", &r.display_name)
        .elem(
            0,
            "RepositoryUid",
            format!("urn:veeam:Repository:{}", r.repository_id),
        )
        .elem(0, "WanAcceleratorUid", Value::Null)
        .elem(0, "Quota", r.quota_mb)
        .elem(0, "UsedQuota", r.used_quota_mb);
    sub_resource(
        "CloudTenantResource",
        format!("{tenant_href}/resources/{}", r.id),
        r.id.to_string(),
    )
    .elem(1, "RepositoryQuota", quota)
}

fn compute_resource(tenant_href: &str, c: &ComputeResource) -> Node {
    let appliance = Node::new("NetworkAppliance")
        .elem(0, "Name", &c.appliance_name)
        .elem(0, "ProductionNetwork", &c.production_network)
        .elem(0, "ObtainIPAddressAutomatically", c.obtain_ip_automatically)
        .elem(0, "ManualIpAddressSettingsInfoType", Value::Null)
        .elem(0, "ViDistributedSwitchUuid", "")
        .elem(0, "ProductionNetworkUnderDvs", false);
    let storages = c
        .storages
        .iter()
        .map(|s| {
            Node::new("StorageResourceStat")
                .elem(0, "StorageName", &s.name)
                .elem(0, "StorageUsageGb", s.usage_gb)
                .elem(0, "StorageLimitGb", s.limit_gb)
        })
        .collect();
    let stats = Node::new("ComputeResourceStats")
        .elem(0, "MemoryUsageMb", c.memory_usage_mb)
        .elem(0, "CPUCount", c.cpu_count)
        .elem(
            0,
            "StorageResourceStats",
            Value::List {
                json_key: "StorageResourceStats",
                items: storages,
            },
        );
    sub_resource(
        "CloudTenantComputeResource",
        format!("{tenant_href}/computeResources/{}", c.id),
        c.id.to_string(),
    )
    .elem(
        1,
        "CloudHardwarePlanUid",
        format!("urn:veeam:CloudHardwarePlan:{}", c.hardware_plan_id),
    )
    .elem(1, "WanAcceleratorUid", Value::Null)
    .elem(1, "PlatformType", c.platform.as_str())
    .elem(
        1,
        "UseNetworkFailoverResources",
        c.use_network_failover_resources,
    )
    .elem(1, "NetworkAppliance", appliance)
    .elem(1, "ComputeResourceStats", stats)
}

fn vcloud_resource(tenant_href: &str, v: &VCloudComputeResource) -> Node {
    let usage = Node::new("ResourceUsage")
        .elem(0, "CpuUsageMhz", v.cpu_usage_mhz)
        .elem(0, "MemoryUsageMb", v.memory_usage_mb)
        .elem(0, "StorageUsageGb", v.storage_usage_gb);
    sub_resource(
        "CloudTenantVCloudComputeResource",
        format!("{tenant_href}/vcloudcomputeresources/{}", v.id),
        v.id.to_string(),
    )
    .elem(1, "VirtualDataCenterName", &v.vdc_name)
    .elem(1, "VirtualDataCenterRef", &v.vdc_ref)
    .elem(1, "Enabled", v.enabled)
    .elem(1, "AllocationModel", &v.allocation_model)
    .elem(
        1,
        "UseNetworkFailoverResources",
        v.use_network_failover_resources,
    )
    .elem(1, "ResourceUsage", usage)
    .elem(1, "WanAcceleratorUid", Value::Null)
    .elem(1, "NetworkAppliance", Value::Null)
}

fn tenant_type(kind: &TenantKind) -> Node {
    let (standalone, vcloud) = match kind {
        TenantKind::Standalone { username } => {
            let creds = Node::new("TenantCredentials")
                .elem(0, "Username", username)
                .elem(0, "Password", Value::Null);
            (
                Value::Node(Node::new("StandaloneTenant").elem(0, "TenantCredentials", creds)),
                Value::Null,
            )
        }
        TenantKind::VCloud {
            organization_name,
            organization_ref,
            ..
        } => (
            Value::Null,
            Value::Node(
                Node::new("vCloudTenant")
                    .elem(0, "OrganizationName", organization_name)
                    .elem(0, "OrganizationRef", organization_ref),
            ),
        ),
    };
    Node::new("TenantType")
        .elem(0, "StandaloneTenant", standalone)
        .elem(0, "vCloudTenant", vcloud)
        .elem(0, "ADTenantType", Value::Null)
}
