//! Non-key service resources: `EnterpriseManager` (`GET /api/`), `LogonSession(s)`,
//! `CloudConnectService` (`GET /api/cloud`) and `QuerySvc` (`GET /api/querySvc`).

use super::{link, Ctx, Viewer};
use crate::node::{Node, Value};
use entman_model::auth::LogonSession;

/// `Down`/`Create` links of an Enterprise Manager account's LogonSession, after the
/// `Up` link and before `Delete` (auth.md §2.4). `(rel, path, name, type)`.
#[rustfmt::skip]
const ACCOUNT_SESSION_LINKS: &[(&str, &str, Option<&str>, Option<&str>)] = &[
    ("Down", "/backupServers", None, Some("BackupServerReferenceList")),
    ("Down", "/managedServers", None, Some("ManagedServerReferenceList")),
    ("Down", "/jobs", None, Some("JobReferenceList")),
    ("Down", "/failoverPlans", None, Some("FailoverPlanReferenceList")),
    ("Down", "/hierarchyRoots", None, Some("HierarchyRootReferenceList")),
    ("Down", "/repositories", None, Some("RepositoryReferenceList")),
    ("Down", "/backups", None, Some("BackupReferenceList")),
    ("Down", "/restorePoints", None, Some("RestorePointReferenceList")),
    ("Down", "/vmRestorePoints", None, Some("VmRestorePointReferenceList")),
    ("Down", "/vAppRestorePoints", None, Some("VAppRestorePointReferenceList")),
    ("Down", "/replicas", None, Some("ReplicaReferenceList")),
    ("Down", "/vmReplicaPoints", None, Some("VmReplicaPointReferenceList")),
    ("Down", "/catalog/vms", None, Some("CatalogVmReferenceList")),
    ("Down", "/backupSessions", None, Some("BackupJobSessionReferenceList")),
    ("Down", "/restoreSessions", None, Some("RestoreSessionReferenceList")),
    ("Down", "/replicaSessions", None, Some("ReplicaJobSessionReferenceList")),
    ("Down", "/backupTaskSessions", None, Some("BackupTaskSessionReferenceList")),
    ("Down", "/replicaTaskSessions", None, Some("ReplicaTaskSessionReferenceList")),
    ("Down", "/security", None, Some("EnterpriseSecuritySettings")),
    ("Down", "/wanAccelerators", None, Some("WanAcceleratorReferenceList")),
    ("Down", "/backupFiles", None, Some("BackupFileReferenceList")),
    ("Down", "/externalRepositories", None, Some("ExternalRepositoryReferenceList")),
    ("Down", "/cdpPolicies", None, Some("CdpPolicyReferenceList")),
    ("Down", "/cdpReplicaSessions", None, Some("CdpReplicaSessionReferenceList")),
    ("Down", "/cdpReplicaTaskSessions", None, Some("CdpReplicaTaskSessionReferenceList")),
    ("Down", "/vAppReplicaPoints", None, Some("VAppReplicaPointReferenceList")),
    ("Down", "/cdpReplica/vms", None, Some("VmCdpReplicaReferenceList")),
    ("Down", "/cdpReplica/vApps", None, Some("VAppCdpReplicaReferenceList")),
    ("Down", "/systemSessions", None, Some("BackupJobSessionReferenceList")),
    ("Down", "/tasks", None, Some("TaskList")),
    ("Down", "/querySvc", None, Some("QueryService")),
    ("Down", "/lookupSvc", None, Some("LookupService")),
    ("Down", "/reports/summary", Some("Summary"), Some("Report")),
    ("Down", "/backupServers?format=Entity", None, Some("BackupServerList")),
    ("Down", "/managedServers?format=Entity", None, Some("ManagedServerList")),
    ("Create", "/backupServers?action=create", None, None),
    ("Down", "/jobs?format=Entity", None, Some("JobList")),
    ("Down", "/failoverPlans?format=Entity", None, Some("FailoverPlanList")),
    ("Down", "/hierarchyRoots?format=Entity", None, Some("HierarchyRootList")),
    ("Down", "/repositories?format=Entity", None, Some("RepositoryList")),
    ("Down", "/backups?format=Entity", None, Some("BackupList")),
    ("Down", "/restorePoints?format=Entity", None, Some("RestorePointList")),
    ("Down", "/vmRestorePoints?format=Entity", None, Some("VmRestorePointList")),
    ("Down", "/vAppRestorePoints?format=Entity", None, Some("VAppRestorePointList")),
    ("Down", "/replicas?format=Entity", None, Some("ReplicaList")),
    ("Down", "/vmReplicaPoints?format=Entity", None, Some("VmReplicaPointList")),
    ("Down", "/catalog/vms?format=Entity", None, Some("CatalogVmList")),
    ("Down", "/backupSessions?format=Entity", None, Some("BackupJobSessionList")),
    ("Down", "/restoreSessions?format=Entity", None, Some("RestoreSessionList")),
    ("Down", "/replicaSessions?format=Entity", None, Some("ReplicaJobSessionList")),
    ("Down", "/backupTaskSessions?format=Entity", None, Some("BackupTaskSessionList")),
    ("Down", "/replicaTaskSessions?format=Entity", None, Some("ReplicaTaskSessionList")),
    ("Down", "/wanAccelerators?format=Entity", None, Some("WanAcceleratorList")),
    ("Down", "/vCloud", None, Some("VCloudService")),
    ("Down", "/backupFiles?format=Entity", None, Some("BackupFileList")),
    ("Down", "/cloud", None, Some("CloudConnectService")),
    ("Down", "/agents", None, Some("AgentsService")),
    ("Down", "/selfService/vSphere", None, Some("VSphereSelfService")),
    ("Down", "/externalRepositories?format=Entity", None, Some("ExternalRepositoryList")),
    ("Down", "/nas", None, Some("NasService")),
    ("Down", "/cdpPolicies?format=Entity", None, Some("CdpPolicyList")),
    ("Down", "/cdpReplicaSessions?format=Entity", None, Some("CdpReplicaSessionList")),
    ("Down", "/cdpReplicaTaskSessions?format=Entity", None, Some("CdpReplicaTaskSessionList")),
    ("Down", "/vAppReplicaPoints?format=Entity", None, Some("VAppReplicaPointList")),
    ("Down", "/cdpReplica/vms?format=Entity", None, Some("VmCdpReplicaList")),
    ("Down", "/cdpReplica/vApps?format=Entity", None, Some("VAppCdpReplicaList")),
    ("Down", "/systemSessions?format=Entity", None, Some("BackupJobSessionList")),
];

/// Collections linked from `/api/cloud` for Enterprise Manager accounts, in the
/// order of the 13.1 documentation: (path, reference list type, entity list type).
const CLOUD_COLLECTIONS: &[(&str, &str, &str)] = &[
    ("gateways", "CloudGatewayReferenceList", "CloudGatewayList"),
    ("tenants", "CloudTenantReferenceList", "CloudTenantList"),
    (
        "hardwarePlans",
        "CloudHardwarePlanReferenceList",
        "CloudHardwarePlanList",
    ),
    (
        "publicIpAddresses",
        "CloudPublicIpAddressReferenceList",
        "CloudPublicIpAddressList",
    ),
    (
        "cloudFailoverPlans",
        "CloudFailoverPlanReferenceList",
        "CloudFailoverPlanList",
    ),
    (
        "vmReplicaPoints",
        "CloudVmReplicaPointReferenceList",
        "CloudVmReplicaPointList",
    ),
    ("replicas", "CloudReplicaReferenceList", "CloudReplicaList"),
    (
        "vlans",
        "VlanConfigurationReferenceList",
        "VlanConfigurationList",
    ),
    (
        "failoverSessions",
        "CloudFailoverSessionReferenceList",
        "CloudFailoverSessionList",
    ),
    (
        "gatewayPools",
        "CloudGatewayPoolReferenceList",
        "CloudGatewayPoolList",
    ),
];

/// Collections a tenant session sees under `/api/cloud`.
const TENANT_CLOUD_COLLECTIONS: &[&str] = &["cloudFailoverPlans", "vmReplicaPoints", "replicas"];

/// `Create` links of `/api/cloud` for accounts.
const CLOUD_CREATE: &[&str] = &[
    "gateways",
    "tenants",
    "hardwarePlans",
    "publicIpAddresses",
    "gatewayPools",
];

/// Query types listed by `/api/querySvc` (EM 13 list, order fixed): (type, sort field).
pub const QUERY_TYPES: &[(&str, &str)] = &[
    ("VmRestorePoint", "name"),
    ("VAppRestorePoint", "name"),
    ("VmReplicaPoint", "name"),
    ("Task", "TaskUid"),
    ("Job", "name"),
    ("RestorePoint", "name"),
    ("BackupTaskSession", "name"),
    ("ReplicaTaskSession", "name"),
    ("RestoreSession", "name"),
    ("Repository", "name"),
    ("Backup", "name"),
    ("Replica", "name"),
    ("HierarchyRoot", "name"),
    ("BackupJobSession", "name"),
    ("ReplicaJobSession", "name"),
    ("BackupServer", "name"),
    ("ManagedServer", "name"),
    ("FailoverPlan", "name"),
    ("WanAccelerator", "name"),
    ("CloudGateway", "name"),
    ("CloudTenant", "name"),
    ("Passwords", "BackupServerUid"),
    ("Credentials", "BackupServerUid"),
    ("CloudReplica", "name"),
    ("BackupFile", "name"),
    ("VCloudOrganizationConfig", "name"),
    ("CloudSubtenant", "Name"),
    ("CloudHardwarePlan", "Name"),
    ("CloudPublicIpAddress", "Name"),
    ("AgentBackupJob", "name"),
    ("AgentRestorePoint", "name"),
    ("AgentProtectionGroup", "name"),
    ("DiscoveredComputer", "name"),
    ("CloudFailoverPlan", "Name"),
    ("CloudGatewayPool", "Name"),
    ("VSphereSelfServiceConfig", "Name"),
    ("ExternalRepository", "name"),
    ("NasJob", "name"),
    ("FileServer", "name"),
    ("VAppReplicaPoint", "name"),
];

/// The `<Type>List` link type of a query type (`Passwords` → `PasswordKeyList`).
fn query_list_type(ty: &str) -> String {
    match ty {
        "Passwords" => "PasswordKeyList".to_string(),
        "Credentials" => "CredentialsList".to_string(),
        other => format!("{other}List"),
    }
}

/// `GET /api/`: the entry point, listing supported API versions.
pub fn enterprise_manager(ctx: &Ctx, versions: &[&str]) -> Node {
    let supported = versions
        .iter()
        .map(|v| {
            let create = link(
                "Create",
                ctx.url(&format!("/sessionMngr/?v={v}")),
                None,
                Some("LogonSession"),
            );
            Node::new("SupportedVersion")
                .elem(0, "Links", Value::Links(vec![create]))
                .attr(0, "Name", *v)
        })
        .collect();
    Node::new("EnterpriseManager")
        .elem(
            0,
            "Links",
            Value::Links(vec![
                link(
                    "Down",
                    ctx.url("/logonSessions"),
                    None,
                    Some("LogonSessionList"),
                ),
                link(
                    "Create",
                    ctx.url("/sessionMngr/?v=latest"),
                    None,
                    Some("LogonSession"),
                ),
            ]),
        )
        .elem(
            1,
            "SupportedVersions",
            Value::List {
                json_key: "SupportedVersions",
                items: supported,
            },
        )
        // Not written in XML; `"Href": null, "Type": null` last in JSON (auth.md §1).
        .attr(0, "Href", Value::Null)
        .attr(0, "Type", Value::Null)
}

/// A `LogonSession` (auth.md §2.4), written as the element `element` (`LogonSession`
/// at the root and inside `LogonSessions`).
pub fn logon_session(ctx: &Ctx, session: &LogonSession, element: &'static str) -> Node {
    let href = ctx.url(&format!("/logonSessions/{}", session.id));
    let mut links = vec![link("Up", ctx.url("/"), None, Some("EnterpriseManager"))];
    match ctx.viewer {
        Viewer::Tenant => {
            links.push(link(
                "Down",
                ctx.url("/cloud"),
                None,
                Some("CloudConnectService"),
            ));
            links.push(link("Delete", href.clone(), None, Some("LogonSession")));
        }
        Viewer::Administrator | Viewer::ProviderUser => {
            for (rel, path, name, ty) in ACCOUNT_SESSION_LINKS {
                links.push(link(rel, ctx.url(path), *name, *ty));
            }
            links.push(link("Delete", href.clone(), None, None));
        }
    }
    Node::new(element)
        .elem(0, "Links", Value::Links(links))
        .attr(0, "Href", href)
        .attr(0, "Type", "LogonSession")
        .elem(1, "UserName", &session.user_name)
        .elem(1, "SessionId", session.id.to_string())
}

/// `GET /api/logonSessions`: the caller's own session only.
pub fn logon_sessions(ctx: &Ctx, session: &LogonSession) -> Node {
    Node::new("LogonSessions").elem(
        0,
        "LogonSessions",
        Value::Items(vec![logon_session(ctx, session, "LogonSession")]),
    )
}

/// `GET /api/cloud` (auth.md §5).
pub fn cloud_connect_service(ctx: &Ctx, session: &LogonSession) -> Node {
    let mut links = vec![link(
        "Up",
        ctx.url(&format!("/logonSessions/{}", session.id)),
        None,
        Some("LogonSession"),
    )];
    let tenant = ctx.viewer == Viewer::Tenant;
    let visible = |path: &str| !tenant || TENANT_CLOUD_COLLECTIONS.contains(&path);
    for (path, ref_type, _) in CLOUD_COLLECTIONS.iter().filter(|c| visible(c.0)) {
        links.push(link(
            "Down",
            ctx.url(&format!("/cloud/{path}")),
            None,
            Some(ref_type),
        ));
    }
    for (path, _, list_type) in CLOUD_COLLECTIONS.iter().filter(|c| visible(c.0)) {
        links.push(link(
            "Down",
            ctx.url(&format!("/cloud/{path}?format=Entity")),
            None,
            Some(list_type),
        ));
    }
    if !tenant {
        for path in CLOUD_CREATE {
            links.push(link(
                "Create",
                ctx.url(&format!("/cloud/{path}")),
                None,
                None,
            ));
        }
    }
    Node::new("CloudConnectService")
        .elem(0, "Links", Value::Links(links))
        .attr(0, "Href", ctx.url("/cloud"))
        .attr(0, "Type", "CloudConnectService")
}

/// `GET /api/querySvc` (query.md §1).
pub fn query_service(ctx: &Ctx, session: &LogonSession) -> Node {
    let mut links = vec![link(
        "Up",
        ctx.url(&format!("/logonSessions/{}", session.id)),
        None,
        Some("LogonSession"),
    )];
    for (ty, sort) in QUERY_TYPES {
        let href = ctx.url(&format!(
            "/query?type={ty}&format=Entities&sortAsc={sort}&pageSize=15&page=1"
        ));
        // The type is built from the query type's name, so not a `link` constant.
        links.push(
            Node::new("Link")
                .attr(0, "Href", href)
                .attr(0, "Name", Value::Null)
                .attr(0, "Type", query_list_type(ty))
                .attr(1, "Rel", "Down"),
        );
    }
    Node::new("QuerySvc")
        .elem(0, "Links", Value::Links(links))
        .attr(0, "Href", ctx.url("/querySvc"))
        .attr(0, "Type", "QueryService")
}
