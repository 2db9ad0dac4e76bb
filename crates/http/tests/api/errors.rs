//! Bad input gets a clear 4xx with EM's Error representation, never a 500 or a crash
//! (errors.md).

use entman_testkit::spawn_app;
use reqwest::Method;

fn error_json(body: &str) -> serde_json::Value {
    let v: serde_json::Value =
        serde_json::from_str(body).unwrap_or_else(|_| panic!("JSON error body: {body}"));
    let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "FirstChanceExceptionMessage",
            "Message",
            "StackTrace",
            "Status",
            "StatusCode"
        ]
    );
    v
}

#[tokio::test]
async fn missing_unknown_and_garbage_tokens_answer_401() {
    let app = spawn_app().await;
    for token in [
        None,
        Some("dGhpcyBpcyBub3QgYSB0b2tlbg=="),
        Some("'; DROP TABLE logon_sessions; --"),
    ] {
        let mut request = app
            .client
            .get(app.url("/cloud/failoverSessions"))
            .header("Accept", "application/json");
        if let Some(t) = token {
            request = request.header("X-RestSvcSessionId", t);
        }
        let r = request.send().await.unwrap();
        assert_eq!(r.status(), 401);
        assert_eq!(r.headers()["www-authenticate"], "Basic Realm=RestSvc");
        let v = error_json(&r.text().await.unwrap());
        assert_eq!(v["StatusCode"], 401);
    }
}

#[tokio::test]
async fn ids_that_are_not_guids_and_unknown_ids_answer_404() {
    let app = spawn_app().await;
    let me = app.logon().await;
    for path in [
        "/cloud/failoverSessions/not-a-guid",
        "/cloud/failoverSessions/00000000-0000-0000-0000-000000000000",
        "/cloud/cloudFailoverPlans/%27%3B%20DROP%20TABLE%20plans%3B--",
        "/cloud/replicas/12345678-1234-1234-1234-1234567890ab/vmReplicaPoints",
        "/backupServers/%00",
        "/tasks/task-999",
        "/tasks/task-0",
        "/cloud/tenants/xyz",
        "/logonSessions/abc",
    ] {
        let (status, _, body) = app
            .send(Some(&me), Method::GET, path, None, vec![], true)
            .await;
        assert_eq!(status, 404, "{path}: {body}");
        assert_eq!(error_json(&body)["StatusCode"], 404);
    }
}

#[tokio::test]
async fn unknown_paths_answer_404_and_em_resources_outside_the_contract_501() {
    let app = spawn_app().await;
    let me = app.logon().await;
    assert_eq!(app.get_text(&me, "/nothing/here", false).await.0, 404);
    for path in [
        "/repositories",
        "/jobs/4856ab37-2235-45e8-affe-d515878b01a9/linkedJobs",
        "/cloud/gateways",
        "/backupSessions/x/agentManagementSessions",
        "/reports/summary",
    ] {
        let (status, body) = app.get_text(&me, path, false).await;
        assert_eq!(status, 501, "{path}");
        assert!(body.contains("StatusCode=\"501\""));
    }
    let (status, _, _) = app
        .send(
            Some(&me),
            Method::POST,
            "/cloud/tenants",
            Some("application/json"),
            b"{}".to_vec(),
            true,
        )
        .await;
    assert_eq!(status, 501);
}

#[tokio::test]
async fn unsupported_methods_answer_405_with_allow_and_an_error_body() {
    let app = spawn_app().await;
    let me = app.logon().await;
    let (status, headers, body) = app
        .send(
            Some(&me),
            Method::PUT,
            "/cloud/failoverSessions",
            None,
            vec![],
            true,
        )
        .await;
    assert_eq!(status, 405);
    assert!(headers["allow"].to_str().unwrap().contains("GET"));
    assert!(error_json(&body)["Message"]
        .as_str()
        .unwrap()
        .contains("PUT"));
}

#[tokio::test]
async fn bad_format_values_answer_400() {
    let app = spawn_app().await;
    let me = app.logon().await;
    let (status, body) = app.get_text(&me, "/cloud/replicas?format=xml", true).await;
    assert_eq!(status, 400);
    assert!(error_json(&body)["Message"]
        .as_str()
        .unwrap()
        .contains("format"));
}

#[tokio::test]
async fn malformed_bodies_answer_400_and_oversized_ones_413() {
    let app = spawn_app().await;
    let me = app.logon().await;
    let cases: [(&str, &[u8]); 5] = [
        ("application/xml", b"<LoginSpec><TenantCredentials>"),
        ("application/json", b"{\"TenantCredentials\": "),
        ("application/json", b"[1,2,3]"),
        ("application/xml", b"<!DOCTYPE a [<!ENTITY x \"y\">]><LoginSpec>&x;</LoginSpec>"),
        ("application/xml", b"<LoginSpec><TenantCredentials><Username>\xff\xfe</Username></TenantCredentials></LoginSpec>"),
    ];
    for (ct, body) in cases {
        let (status, _, text) = app
            .send(
                None,
                Method::POST,
                "/sessionMngr/?v=latest",
                Some(ct),
                body.to_vec(),
                true,
            )
            .await;
        assert_eq!(
            status,
            400,
            "{ct} {:?}: {text}",
            String::from_utf8_lossy(body)
        );
        error_json(&text);
    }
    let huge = vec![b'<'; 2 * 1024 * 1024];
    let (status, _, text) = app
        .send(
            Some(&me),
            Method::PUT,
            "/backupServers/4ceb4e03-d23d-4c4e-be05-21580b260243",
            Some("application/xml"),
            huge,
            true,
        )
        .await;
    assert!(status == 413 || status == 404, "{status}: {text}");
    let (status, _, _) = app
        .send(
            None,
            Method::POST,
            "/sessionMngr/?v=latest",
            Some("application/xml"),
            vec![b'<'; 2 * 1024 * 1024],
            false,
        )
        .await;
    assert_eq!(status, 413);
}

#[tokio::test]
async fn hostile_hosts_and_strings_are_escaped_not_executed() {
    let app = spawn_app().await;
    let me = app.logon().await;
    let r = app
        .client
        .get(app.url("/"))
        .header("Host", "evil\"><x a=\"&")
        .send()
        .await
        .unwrap();
    // hyper refuses such a Host outright, or the server escapes it; either way no 500.
    assert!(r.status().as_u16() < 500);
    let (status, body) = app
        .get_text(&me, "/cloud/failoverSessions/%E2%80%AE%F0%9F%92%A3", true)
        .await;
    assert_eq!(status, 404);
    assert!(error_json(&body)["Message"]
        .as_str()
        .unwrap()
        .contains('💣'));
}
