//! Paths that no in-scope route matched: EM resources outside this server's
//! contract answer 501 (they are linked from in-scope representations), anything
//! else 404.

use crate::ApiError;
use axum::http::Uri;

/// Top-level EM collections and services outside the contract.
const EM_TOP_LEVEL: &[&str] = &[
    "managedservers",
    "failoverplans",
    "hierarchyroots",
    "repositories",
    "backups",
    "restorepoints",
    "vmrestorepoints",
    "vapprestorepoints",
    "replicas",
    "vmreplicapoints",
    "catalog",
    "restoresessions",
    "security",
    "wanaccelerators",
    "backupfiles",
    "externalrepositories",
    "lookupsvc",
    "reports",
    "vcloud",
    "agents",
    "selfservice",
    "nas",
    "cdppolicies",
    "cdpreplicasessions",
    "cdpreplicatasksessions",
    "cdpreplica",
    "cdpreplicas",
    "cdpreplicavm",
    "cdpreplicavapp",
    "vappreplicapoints",
    "systemsessions",
];

/// EM collections under `/api/cloud` outside the contract.
const EM_CLOUD: &[&str] = &[
    "gateways",
    "hardwareplans",
    "publicipaddresses",
    "vlans",
    "gatewaypools",
];

/// Sub-resources of in-scope objects that are outside the contract.
const EM_SUB_RESOURCES: &[(&str, &[&str])] = &[
    (
        "backupservers",
        &[
            "jobs",
            "repositories",
            "externalrepositories",
            "credentials",
            "passwords",
            "managedservers",
        ],
    ),
    ("jobs", &["linkedjobs", "linkedbackuprepositories"]),
    ("backupsessions", &["agentmanagementsessions"]),
    (
        "tenants",
        &[
            "resources",
            "computeresources",
            "vcloudcomputeresources",
            "subtenants",
            "freelicensecounters",
            "gatewaypools",
        ],
    ),
];

/// Whether a (lower-case) path names an EM resource this server does not implement.
pub fn is_em_resource(path: &str) -> bool {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match segments.as_slice() {
        ["api", top, ..] if EM_TOP_LEVEL.contains(top) => true,
        ["api", "cloud", coll, ..] if EM_CLOUD.contains(coll) => true,
        ["api", "backupservers", _, sub, ..] => sub_resource("backupservers", sub),
        ["api", "jobs", _, sub, ..] => sub_resource("jobs", sub),
        ["api", "backupsessions", _, sub, ..] => sub_resource("backupsessions", sub),
        ["api", "cloud", "tenants", _, sub, ..] => sub_resource("tenants", sub),
        _ => false,
    }
}

fn sub_resource(parent: &str, sub: &str) -> bool {
    EM_SUB_RESOURCES
        .iter()
        .any(|(p, subs)| *p == parent && subs.contains(&sub))
}

/// The router fallback.
pub(super) async fn fallback(uri: Uri) -> ApiError {
    not_in_contract(&uri)
}

/// 501 for EM resources outside the contract, 404 otherwise.
pub(super) fn not_in_contract(uri: &Uri) -> ApiError {
    let path = uri.path();
    if is_em_resource(path) {
        ApiError::NotImplemented(path.to_string())
    } else {
        ApiError::NoSuchPath(path.to_string())
    }
}

/// A handler answering 501 (EM verbs this server does not implement on an
/// in-scope resource, e.g. creating a tenant).
pub(super) async fn not_implemented(uri: Uri) -> ApiError {
    ApiError::NotImplemented(uri.path().to_string())
}

#[cfg(test)]
mod tests {
    use super::is_em_resource;

    #[test]
    fn em_resources_outside_the_contract_are_recognised() {
        for p in [
            "/api/jobs/x/linkedjobs",
            "/api/cloud/gateways",
            "/api/backupservers/4ceb4e03-d23d-4c4e-be05-21580b260243/jobs",
            "/api/cloud/tenants/e38a8692-6816-443e-9052-7fa71ee7fd65/resources",
            "/api/reports/summary",
        ] {
            assert!(is_em_resource(p), "{p}");
        }
        for p in [
            "/api/nothing",
            "/other",
            "/api/cloud/nothing",
            "/api/backupservers/x/nothing",
            "/api/jobs",
            "/api/jobs/x/includes",
        ] {
            assert!(!is_em_resource(p), "{p}");
        }
    }
}
