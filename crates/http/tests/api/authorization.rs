//! The authorization matrix of auth.md §6: every endpoint × every role and two
//! tenants, checking the status, and that nothing of another tenant leaks through
//! collections, objects or links. Also the failed-logon throttle.

use entman_model::auth::{Account, Role};
use entman_model::ids::AccountId;
use entman_testkit::{spawn_app, Logon, TestApp};
use reqwest::Method;
use serde_json::Value;

const PASSWORD: &str = "Matrix-Passw0rd";

/// Callers, in the column order of the matrix.
const COLUMNS: [&str; 6] = [
    "admin",
    "portal user",
    "VM restore operator",
    "SQL restore operator",
    "tenant ABC",
    "tenant QWE",
];

async fn account(app: &TestApp, name: &str, role: Role) -> Logon {
    let hash = entman_http::password::hash(PASSWORD);
    app.store
        .upsert_account(&Account {
            id: AccountId::new_random(),
            name: name.into(),
            password_hash: hash,
            roles: vec![role],
        })
        .await
        .unwrap();
    app.logon_as(name, PASSWORD).await
}

async fn callers(app: &TestApp) -> Vec<Logon> {
    vec![
        app.logon().await,
        account(app, "TECH\\portal.user", Role::PortalUser).await,
        account(app, "TECH\\vm.operator", Role::VmRestoreOperator).await,
        account(app, "TECH\\sql.operator", Role::SqlRestoreOperator).await,
        app.logon_tenant(serde_json::json!({"TenantCredentials": {"Username": "ABC Company", "Password": "Qwe123"}})).await,
        app.logon_tenant(serde_json::json!({"TenantCredentials": {"Username": "QWE Systems", "Password": "Qwe456"}})).await,
    ]
}

/// Hrefs of demo objects owned by ABC Company, found as the administrator.
struct Objects {
    server: String,
    tenant: String,
    replica: String,
    point: String,
    plan: String,
    session: String,
}

async fn json(app: &TestApp, logon: &Logon, url: &str) -> Value {
    serde_json::from_str(&app.get_text(logon, url, true).await.1).unwrap()
}

async fn objects(app: &TestApp, admin: &Logon) -> Objects {
    let first = |v: &Value, key: &str, owner: &str| -> String {
        v[key]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["Name"].as_str().unwrap().contains(owner))
            .unwrap()["Href"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let servers = json(app, admin, "/backupServers").await;
    let tenants = json(app, admin, "/cloud/tenants").await;
    let replicas = json(app, admin, "/cloud/replicas").await;
    let plans = json(app, admin, "/cloud/cloudFailoverPlans").await;
    let sessions = json(app, admin, "/cloud/failoverSessions").await;
    let replica = first(&replicas, "Refs", "ABC");
    let points = json(app, admin, &format!("{replica}/vmReplicaPoints")).await;
    Objects {
        server: first(&servers, "Refs", "172.17.53.48"),
        tenant: first(&tenants, "Refs", "ABC"),
        point: points["Refs"][0]["Href"].as_str().unwrap().to_string(),
        replica,
        plan: first(&plans, "Refs", "ABC Company Failover Plan"),
        session: first(&sessions, "Refs", "ABC"),
    }
}

#[tokio::test]
async fn every_endpoint_answers_each_role_and_tenant_as_the_matrix_says() {
    let app = spawn_app().await;
    let who = callers(&app).await;
    let o = objects(&app, &who[0]).await;
    let spec = |name: &str| {
        format!("{{\"DnsNameOrIpAddress\": \"{name}\", \"Username\": \"a\", \"Password\": \"b\"}}")
    };
    let rows: Vec<(Method, String, Option<String>, [u16; 6])> = vec![
        (
            Method::GET,
            app.url("/"),
            None,
            [200, 200, 200, 200, 200, 200],
        ),
        (
            Method::GET,
            app.url("/logonSessions"),
            None,
            [200, 200, 200, 200, 200, 200],
        ),
        (
            Method::GET,
            app.url("/querySvc"),
            None,
            [200, 200, 200, 403, 200, 200],
        ),
        (
            Method::GET,
            app.url("/backupServers"),
            None,
            [200, 200, 403, 403, 403, 403],
        ),
        (
            Method::GET,
            app.url("/jobs"),
            None,
            [200, 403, 403, 403, 403, 403],
        ),
        (
            Method::GET,
            app.url("/jobs?format=Entity"),
            None,
            [200, 403, 403, 403, 403, 403],
        ),
        (
            Method::GET,
            o.server.clone(),
            None,
            [200, 200, 403, 403, 403, 403],
        ),
        (
            Method::POST,
            format!("{}?action=collect", o.server),
            None,
            [202, 202, 403, 403, 403, 403],
        ),
        (
            Method::PUT,
            o.server.clone(),
            Some("{\"Description\": \"edited\"}".into()),
            [204, 403, 403, 403, 403, 403],
        ),
        (
            Method::POST,
            app.url("/backupServers?action=create"),
            Some(spec("new-server")),
            [202, 403, 403, 403, 403, 403],
        ),
        (
            Method::GET,
            app.url("/cloud"),
            None,
            [200, 200, 200, 403, 200, 200],
        ),
        (
            Method::GET,
            app.url("/cloud/tenants"),
            None,
            [200, 200, 403, 403, 403, 403],
        ),
        (
            Method::GET,
            o.tenant.clone(),
            None,
            [200, 200, 403, 403, 403, 403],
        ),
        (
            Method::GET,
            app.url("/cloud/replicas?format=Entity"),
            None,
            [200, 200, 403, 403, 200, 200],
        ),
        (
            Method::GET,
            o.replica.clone(),
            None,
            [200, 200, 403, 403, 200, 404],
        ),
        (
            Method::GET,
            format!("{}/vmReplicaPoints", o.replica),
            None,
            [200, 200, 403, 403, 200, 404],
        ),
        (
            Method::GET,
            app.url("/cloud/vmReplicaPoints"),
            None,
            [200, 200, 403, 403, 200, 200],
        ),
        (
            Method::GET,
            o.point.clone(),
            None,
            [200, 200, 403, 403, 200, 404],
        ),
        (
            Method::GET,
            app.url("/cloud/cloudFailoverPlans?format=Entity"),
            None,
            [200, 403, 200, 403, 200, 200],
        ),
        (
            Method::GET,
            o.plan.clone(),
            None,
            [200, 403, 200, 403, 200, 404],
        ),
        (
            Method::GET,
            format!("{}/includes", o.plan),
            None,
            [200, 403, 200, 403, 200, 404],
        ),
        (
            Method::POST,
            format!("{}?action=test", o.plan),
            None,
            [202, 403, 202, 403, 202, 404],
        ),
        (
            Method::POST,
            format!("{}?action=undo", o.plan),
            None,
            [202, 403, 202, 403, 202, 404],
        ),
        (
            Method::PUT,
            o.plan.clone(),
            Some("{\"CloudFailoverPlanOptions\": {}}".into()),
            [202, 403, 403, 403, 403, 403],
        ),
        (
            Method::GET,
            app.url("/cloud/failoverSessions?format=Entity"),
            None,
            [200, 200, 200, 403, 200, 200],
        ),
        (
            Method::GET,
            o.session.clone(),
            None,
            [200, 200, 200, 403, 200, 404],
        ),
        (
            Method::GET,
            app.url("/tasks"),
            None,
            [200, 200, 200, 200, 200, 200],
        ),
        (
            Method::GET,
            format!("{}?format=Entity", o.tenant),
            None,
            [200, 200, 403, 403, 403, 403],
        ),
        (
            Method::DELETE,
            o.plan.clone(),
            None,
            [202, 403, 403, 403, 403, 403],
        ),
    ];
    let mut failures = Vec::new();
    for (method, url, body, expected) in &rows {
        // The administrator goes last so that a deletion does not hide the others' answers.
        for column in (0..6).rev() {
            let ct = body.as_ref().map(|_| "application/json");
            let bytes = body.clone().unwrap_or_default().into_bytes();
            let (status, _, text) = app
                .send(Some(&who[column]), method.clone(), url, ct, bytes, true)
                .await;
            if status != expected[column] {
                failures.push(format!(
                    "{method} {url} as {}: {status}, expected {}: {text}",
                    COLUMNS[column], expected[column]
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "matrix violations:\n{}",
        failures.join("\n")
    );
}

#[tokio::test]
async fn nothing_of_another_tenant_leaks_through_collections_or_links() {
    let app = spawn_app().await;
    let qwe = app.logon_tenant(serde_json::json!({"TenantCredentials": {"Username": "QWE Systems", "Password": "Qwe456"}})).await;
    for path in [
        "/cloud/replicas?format=Entity",
        "/cloud/vmReplicaPoints?format=Entity",
        "/cloud/cloudFailoverPlans?format=Entity",
        "/cloud/failoverSessions?format=Entity",
        "/tasks",
        "/cloud",
    ] {
        for as_json in [false, true] {
            let (status, body) = app.get_text(&qwe, path, as_json).await;
            assert_eq!(status, 200, "{path}");
            for foreign in ["ABC", "TechCompany", "filesrv", "srv38", "tc-web"] {
                assert!(
                    !body.contains(foreign),
                    "{path} shows [{foreign}] to QWE Systems"
                );
            }
        }
    }
}

#[tokio::test]
async fn repeated_failed_logons_are_refused_with_retry_after_whether_or_not_the_account_exists() {
    // A fresh server per account: failures from one address also lock that address.
    for user in ["SRV12\\Administrator", "no-such-user"] {
        let app = spawn_app().await;
        let mut statuses = Vec::new();
        for _ in 0..10 {
            let r = app
                .client
                .post(app.url("/sessionMngr/?v=latest"))
                .basic_auth(user, Some("wrong"))
                .send()
                .await
                .unwrap();
            statuses.push(r.status().as_u16());
        }
        assert!(statuses.iter().all(|s| *s == 401), "{user}: {statuses:?}");
        let r = app
            .client
            .post(app.url("/sessionMngr/?v=latest"))
            .basic_auth(user, Some(entman_testkit::ADMIN.1))
            .header("Accept", "application/json")
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.status(),
            429,
            "{user}: locked even with the right password"
        );
        let retry: u64 = r.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=31).contains(&retry));
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["StatusCode"], 429);
    }
}

#[tokio::test]
async fn administrators_may_end_other_logon_sessions_and_other_roles_may_not() {
    let app = spawn_app().await;
    let who = callers(&app).await;
    let (admin, user) = (&who[0], &who[1]);
    let user_session = format!("/logonSessions/{}", user.session_id);
    let admin_session = format!("/logonSessions/{}", admin.session_id);
    assert_eq!(
        app.get_text(user, &admin_session, true).await.0,
        404,
        "another account's session is not visible"
    );
    assert_eq!(
        app.send(
            Some(user),
            Method::DELETE,
            &admin_session,
            None,
            vec![],
            true
        )
        .await
        .0,
        403
    );
    assert_eq!(app.get_text(admin, &user_session, true).await.0, 200);
    assert_eq!(
        app.send(
            Some(admin),
            Method::DELETE,
            &user_session,
            None,
            vec![],
            true
        )
        .await
        .0,
        204
    );
    assert_eq!(
        app.get_text(user, "/cloud", true).await.0,
        401,
        "the ended session's token stops working"
    );
}

#[tokio::test]
async fn backup_servers_are_added_edited_and_removed_with_their_cloud_objects() {
    let app = spawn_app().await;
    let admin = app.logon().await;
    let spec = "<BackupServerSpec xmlns=\"http://www.veeam.com/ent/v1.0\"><Description>Veeam backup server 01</Description>\
        <DnsNameOrIpAddress>172.16.13.119</DnsNameOrIpAddress><Username>172.16.13.119\\Administrator</Username>\
        <Port>9392</Port><Password>1234</Password><WcfPort>9405</WcfPort></BackupServerSpec>";
    let (status, headers, body) = app
        .send(
            Some(&admin),
            Method::POST,
            "/backupServers?action=create",
            Some("application/xml"),
            spec.into(),
            true,
        )
        .await;
    assert_eq!(status, 202, "{body}");
    assert!(
        headers.get("content-type").is_none() && body.is_empty(),
        "202 without a body"
    );
    let (status, _, body) = app
        .send(
            Some(&admin),
            Method::POST,
            "/backupServers?action=create",
            Some("application/xml"),
            spec.into(),
            true,
        )
        .await;
    assert_eq!(status, 400, "a server is added once: {body}");
    let missing = r#"{"DnsNameOrIpAddress": "x"}"#;
    assert_eq!(
        app.send(
            Some(&admin),
            Method::POST,
            "/backupServers?action=create",
            Some("application/json"),
            missing.into(),
            true
        )
        .await
        .0,
        400
    );
    let servers = json(&app, &admin, "/backupServers?format=Entity").await;
    let added = servers["BackupServers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["Name"] == "172.16.13.119")
        .unwrap()
        .clone();
    assert_eq!(
        (added["Port"].as_i64(), added["WcfPort"].as_i64()),
        (Some(9392), Some(9405))
    );
    let href = added["Links"][0]["Href"].as_str().unwrap().to_string();
    let edit = r#"{"Description": "", "DnsNameOrIpAddress": "srv02.tech.local", "Port": 9393}"#;
    assert_eq!(
        app.send(
            Some(&admin),
            Method::PUT,
            &href,
            Some("application/json"),
            edit.into(),
            true
        )
        .await
        .0,
        204
    );
    let edited = json(&app, &admin, &format!("{href}?format=Entity")).await;
    assert_eq!(
        (
            edited["Name"].as_str(),
            edited["Description"].as_str(),
            edited["Port"].as_i64()
        ),
        (Some("srv02.tech.local"), Some(""), Some(9393))
    );
    // Removing the demo server 172.17.53.48 removes its tenants, replicas, plans and sessions.
    let servers = json(&app, &admin, "/backupServers").await;
    let demo = servers["Refs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["Name"] == "172.17.53.48")
        .unwrap()["Href"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        app.send(Some(&admin), Method::DELETE, &demo, None, vec![], true)
            .await
            .0,
        204
    );
    assert_eq!(app.get_text(&admin, &demo, true).await.0, 404);
    let plans = json(&app, &admin, "/cloud/cloudFailoverPlans").await;
    assert!(plans["Refs"]
        .as_array()
        .unwrap()
        .iter()
        .all(|p| p["Name"] == "TechCompany DR Plan"));
    let tenants = json(&app, &admin, "/cloud/tenants").await;
    assert_eq!(tenants["Refs"].as_array().unwrap().len(), 1);
}
