//! Snapshot tests of every representation, in XML and in JSON (EM 12 and, for a
//! few, EM 13). The fixture holds the ids, names and times of the documentation
//! examples; each test names the example of `shared/spec` its snapshots were
//! reviewed against (element names and order, attributes, link Rel/Type, JSON key
//! order, list wrappers and nulls).

use entman_repr::JsonStyle;
use entman_testkit::fixture::ids;
use entman_testkit::{
    pretty_json, spawn_fixture_app, spawn_fixture_app_styled, Logon, TestApp, TestDb,
};
use insta::assert_snapshot;

/// Replaces the random logon session id with the one of the spec examples.
fn stable(text: &str, logon: &Logon) -> String {
    text.replace(&logon.session_id, "15a3fc97-0325-4119-b789-5c0367c6c565")
}

/// Fetches `path` in XML and JSON and snapshots both.
async fn snap(app: &TestApp, logon: &Logon, name: &str, path: &str) {
    let (status, xml) = app.get_text(logon, path, false).await;
    assert_eq!(status, 200, "GET {path}: {xml}");
    let (status, json) = app.get_text(logon, path, true).await;
    assert_eq!(status, 200, "GET {path} (JSON): {json}");
    assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"));
    serde_json::from_str::<serde_json::Value>(&json).expect("valid JSON");
    assert_snapshot!(format!("{name}.xml"), stable(&xml, logon));
    assert_snapshot!(format!("{name}.json"), pretty_json(&stable(&json, logon)));
}

async fn fixture() -> (TestApp, Logon) {
    let app = spawn_fixture_app(TestDb::sqlite()).await;
    let logon = app.logon().await;
    (app, logon)
}

/// auth.md §1 (EnterpriseManager XML capture and JSON).
#[tokio::test]
async fn entry_point_matches_auth_md_1() {
    let (app, logon) = fixture().await;
    snap(&app, &logon, "enterprise_manager", "/").await;
}

/// auth.md §2.4 (administrator LogonSession, XML and JSON) and §3 (LogonSessions).
#[tokio::test]
async fn logon_sessions_match_auth_md_2_and_3() {
    let (app, logon) = fixture().await;
    snap(
        &app,
        &logon,
        "logon_session_admin",
        &format!("/logonSessions/{}", logon.session_id),
    )
    .await;
    snap(&app, &logon, "logon_sessions_admin", "/logonSessions").await;
}

/// auth.md §2.4 tenant LogonSession and §5 tenant CloudConnectService.
#[tokio::test]
async fn tenant_views_match_auth_md_2_and_5() {
    let (app, _) = fixture().await;
    let tenant = app
        .logon_tenant(serde_json::json!({"TenantCredentials": {"Username": "ABC Company", "Password": "Qwe123"}}))
        .await;
    snap(
        &app,
        &tenant,
        "logon_session_tenant",
        &format!("/logonSessions/{}", tenant.session_id),
    )
    .await;
    snap(&app, &tenant, "cloud_tenant_view", "/cloud").await;
}

/// auth.md §5 (administrator CloudConnectService) and query.md §1 (QuerySvc).
#[tokio::test]
async fn services_match_auth_md_5_and_query_md_1() {
    let (app, logon) = fixture().await;
    snap(&app, &logon, "cloud_admin_view", "/cloud").await;
    snap(&app, &logon, "query_svc", "/querySvc").await;
}

/// backup-servers.md §2 (EntityRef) and §3 (BackupServer, BackupServers).
#[tokio::test]
async fn backup_servers_match_backup_servers_md() {
    let (app, logon) = fixture().await;
    snap(
        &app,
        &logon,
        "backup_server_ref",
        &format!("/backupServers/{}", ids::SERVER),
    )
    .await;
    snap(
        &app,
        &logon,
        "backup_server_entity",
        &format!("/backupServers/{}?format=Entity", ids::SERVER),
    )
    .await;
    snap(&app, &logon, "backup_servers_refs", "/backupServers").await;
    snap(
        &app,
        &logon,
        "backup_servers_entities",
        "/backupServers?format=Entity",
    )
    .await;
}

/// tenants.md §2 (references) and §3.2 (standalone entity); the vCloud tenant follows
/// the third tenant of `representation_collections.md`.
#[tokio::test]
async fn tenants_match_tenants_md() {
    let (app, logon) = fixture().await;
    snap(&app, &logon, "tenants_refs", "/cloud/tenants").await;
    snap(
        &app,
        &logon,
        "tenant_entity_standalone",
        &format!("/cloud/tenants/{}?format=Entity", ids::TENANT),
    )
    .await;
    snap(
        &app,
        &logon,
        "tenant_entity_vcloud",
        &format!("/cloud/tenants/{}?format=Entity", ids::VCLOUD_TENANT),
    )
    .await;
    snap(
        &app,
        &logon,
        "tenant_ref",
        &format!("/cloud/tenants/{}", ids::TENANT),
    )
    .await;
}

/// replicas.md §2.1, §2.2, §3.1, §3.2 and §3.3 (the `CloudReplica` item quirk).
#[tokio::test]
async fn replicas_and_points_match_replicas_md() {
    let (app, logon) = fixture().await;
    snap(
        &app,
        &logon,
        "replica_ref",
        &format!("/cloud/replicas/{}", ids::REPLICA),
    )
    .await;
    snap(
        &app,
        &logon,
        "replica_entity",
        &format!("/cloud/replicas/{}?format=Entity", ids::REPLICA),
    )
    .await;
    snap(
        &app,
        &logon,
        "replicas_entities",
        "/cloud/replicas?format=Entity",
    )
    .await;
    snap(
        &app,
        &logon,
        "replica_points_refs",
        &format!("/cloud/replicas/{}/vmReplicaPoints", ids::REPLICA),
    )
    .await;
    snap(
        &app,
        &logon,
        "point_entity",
        &format!("/cloud/vmReplicaPoints/{}?format=Entity", ids::POINT),
    )
    .await;
    snap(
        &app,
        &logon,
        "point_ref",
        &format!("/cloud/vmReplicaPoints/{}", ids::POINT),
    )
    .await;
    snap(
        &app,
        &logon,
        "points_entities",
        "/cloud/vmReplicaPoints?format=Entity",
    )
    .await;
}

/// failover-plans.md §2 (EntityRef), §3 (entity) and §4 (includes).
#[tokio::test]
async fn plans_match_failover_plans_md() {
    let (app, logon) = fixture().await;
    snap(
        &app,
        &logon,
        "plan_ref",
        &format!("/cloud/cloudFailoverPlans/{}", ids::PLAN),
    )
    .await;
    snap(
        &app,
        &logon,
        "plan_entity",
        &format!("/cloud/cloudFailoverPlans/{}?format=Entity", ids::PLAN),
    )
    .await;
    snap(&app, &logon, "plans_refs", "/cloud/cloudFailoverPlans").await;
    snap(
        &app,
        &logon,
        "plan_includes",
        &format!("/cloud/cloudFailoverPlans/{}/includes", ids::PLAN),
    )
    .await;
    snap(
        &app,
        &logon,
        "plan_include",
        &format!(
            "/cloud/cloudFailoverPlans/{}/includes/{}",
            ids::PLAN,
            ids::PLAN_VM
        ),
    )
    .await;
}

/// failover-sessions.md §2 (EntityRef), §3.2 (finished, running and failed
/// sessions) and the empty collection of §2 (all fixture sessions are older than 30 days).
#[tokio::test]
async fn sessions_match_failover_sessions_md() {
    let (app, logon) = fixture().await;
    snap(
        &app,
        &logon,
        "session_ref",
        &format!("/cloud/failoverSessions/{}", ids::RUNNING_SESSION),
    )
    .await;
    snap(
        &app,
        &logon,
        "session_finished",
        &format!(
            "/cloud/failoverSessions/{}?format=Entity",
            ids::FINISHED_SESSION
        ),
    )
    .await;
    snap(
        &app,
        &logon,
        "session_running",
        &format!(
            "/cloud/failoverSessions/{}?format=Entity",
            ids::RUNNING_SESSION
        ),
    )
    .await;
    snap(
        &app,
        &logon,
        "session_failed",
        &format!(
            "/cloud/failoverSessions/{}?format=Entity",
            ids::FAILED_SESSION
        ),
    )
    .await;
    snap(
        &app,
        &logon,
        "sessions_refs_empty",
        "/cloud/failoverSessions",
    )
    .await;
    snap(
        &app,
        &logon,
        "sessions_entities_empty",
        "/cloud/failoverSessions?format=Entity",
    )
    .await;
}

/// tasks.md §4 (Task, Tasks) and backup-servers.md §5 (collect task).
#[tokio::test]
async fn tasks_match_tasks_md() {
    let (app, logon) = fixture().await;
    snap(&app, &logon, "tasks_empty", "/tasks").await;
    let (status, _, body) = app
        .send(
            Some(&logon),
            reqwest::Method::POST,
            &format!("/backupServers/{}?action=collect", ids::SERVER),
            None,
            vec![],
            false,
        )
        .await;
    assert_eq!(status, 202, "{body}");
    assert_snapshot!("collect_task_running.xml", body);
    snap(&app, &logon, "collect_task_finished", "/tasks/task-1").await;
    snap(&app, &logon, "tasks_one", "/tasks").await;
}

/// json.md J12: the EM 13 generation writes camelCase keys.
#[tokio::test]
async fn em13_json_uses_camel_case_keys() {
    let app = spawn_fixture_app_styled(TestDb::sqlite(), JsonStyle::Em13).await;
    let logon = app.logon().await;
    for (name, path) in [
        (
            "em13_logon_session",
            format!("/logonSessions/{}", logon.session_id),
        ),
        (
            "em13_session_finished",
            format!(
                "/cloud/failoverSessions/{}?format=Entity",
                ids::FINISHED_SESSION
            ),
        ),
        // All 50 Entities keys camel-cased, paging links as EM 13 writes them.
        (
            "em13_query_result",
            "/query?type=CloudFailoverSession&format=Entities&sortAsc=CreationTime&pageSize=1&filter=State%3D%3DStopped".to_string(),
        ),
    ] {
        let (status, json) = app.get_text(&logon, &path, true).await;
        assert_eq!(status, 200);
        assert_snapshot!(name, pretty_json(&stable(&json, &logon)));
    }
}
