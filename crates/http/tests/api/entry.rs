//! Logon, tokens, logon sessions (auth.md §2–4; client-expectations.md).

use entman_testkit::{spawn_app, ADMIN};
use reqwest::Method;

#[tokio::test]
async fn logon_answers_201_with_token_header_cookie_location_and_json_body() {
    let app = spawn_app().await;
    let response = app
        .client
        .post(app.url("/sessionMngr/?v=latest"))
        .basic_auth(ADMIN.0, Some(ADMIN.1))
        .header("Accept", "application/json")
        .header("Content-Type", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let headers = response.headers().clone();
    let token = headers["x-restsvcsessionid"].to_str().unwrap().to_string();
    // The token is the Base64 of the SessionId text (auth.md §2.2).
    assert_eq!(token.len(), 48);
    assert_eq!(
        headers["set-cookie"].to_str().unwrap(),
        format!("X-RestSvcSessionId={token}; Path=/api")
    );
    let body: serde_json::Value = response.json().await.unwrap();
    assert!(body["Links"].is_array());
    let session_id = body["SessionId"].as_str().unwrap();
    assert!(!session_id.is_empty());
    assert_eq!(
        entman_http::auth::token_of(session_id.parse().unwrap()),
        token
    );
    assert_eq!(body["UserName"], ADMIN.0);
    assert_eq!(
        headers["location"].to_str().unwrap(),
        app.url(&format!("/logonSessions/{session_id}"))
    );
}

#[tokio::test]
async fn every_historical_api_version_logs_on_and_unknown_ones_are_refused() {
    let app = spawn_app().await;
    for v in ["v1_4", "v1", "V1_7", "latest"] {
        let r = app
            .client
            .post(app.url(&format!("/sessionMngr/?v={v}")))
            .basic_auth(ADMIN.0, Some(ADMIN.1))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "{v}");
    }
    let r = app
        .client
        .post(app.url("/sessionMngr/"))
        .basic_auth(ADMIN.0, Some(ADMIN.1))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "missing v means latest");
    let r = app
        .client
        .post(app.url("/sessionMngr/?v=v2"))
        .basic_auth(ADMIN.0, Some(ADMIN.1))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn wrong_or_missing_credentials_answer_401_with_the_basic_challenge() {
    let app = spawn_app().await;
    for (user, pass) in [(ADMIN.0, "wrong"), ("nobody", "x"), ("", "")] {
        let r = app
            .client
            .post(app.url("/sessionMngr/?v=latest"))
            .basic_auth(user, Some(pass))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{user}");
        assert_eq!(r.headers()["www-authenticate"], "Basic Realm=RestSvc");
    }
    let r = app
        .client
        .post(app.url("/sessionMngr/?v=latest"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = app
        .client
        .post(app.url("/sessionMngr/?v=latest"))
        .header("Authorization", "Basic !!!not-base64")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn the_bare_user_name_and_domain_forms_log_on() {
    let app = spawn_app().await;
    // The test administrator is stored as SRV12\Administrator; a different domain
    // prefix does not match, the stored form does, case-insensitively.
    app.logon_as("srv12\\administrator", ADMIN.1).await;
}

#[tokio::test]
async fn logon_sessions_list_only_the_callers_session_and_whoami_works() {
    let app = spawn_app().await;
    let me = app.logon().await;
    let _other = app.logon().await;
    let r = app.get(&me, "/logonSessions", true).await;
    let body: serde_json::Value = r.json().await.unwrap();
    let list = body["LogonSessions"].as_array().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["SessionId"], me.session_id.as_str());
    let (status, _) = app
        .get_text(&me, &format!("/logonSessions/{}", me.session_id), true)
        .await;
    assert_eq!(status, 200);
    let (status, _) = app
        .get_text(
            &me,
            "/logonSessions/3f56fa52-c902-4655-9774-2025fde214d2",
            false,
        )
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn logging_off_answers_204_without_content_type_and_the_token_stops_working() {
    let app = spawn_app().await;
    let me = app.logon().await;
    let (status, headers, body) = app
        .send(
            Some(&me),
            Method::DELETE,
            &format!("/logonSessions/{}", me.session_id),
            Some("application/json"),
            vec![],
            true,
        )
        .await;
    assert_eq!(status, 204);
    assert!(headers.get("content-type").is_none());
    assert!(body.is_empty());
    let (status, _) = app.get_text(&me, "/cloud", false).await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn the_cookie_wins_over_the_header() {
    let app = spawn_app().await;
    let me = app.logon().await;
    let ok = app
        .client
        .get(app.url("/cloud"))
        .header("X-RestSvcSessionId", "bogus")
        .header("Cookie", format!("X-RestSvcSessionId={}", me.token))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let refused = app
        .client
        .get(app.url("/cloud"))
        .header("X-RestSvcSessionId", &me.token)
        .header("Cookie", "X-RestSvcSessionId=bogus")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
}

#[tokio::test]
async fn an_idle_session_expires() {
    use entman_http::HttpConfig;
    use entman_testkit::{spawn, Options, Seed, TestDb};
    let config = HttpConfig {
        idle_timeout: std::time::Duration::from_millis(1500),
        ..HttpConfig::default()
    };
    let app = spawn(
        TestDb::sqlite(),
        Options {
            seed: Seed::Empty,
            config,
            ..Options::default()
        },
    )
    .await;
    // Idle time is the clock's: a manual clock moved past the timeout ends it.
    let clock = app.engine.clock();
    clock.freeze();
    let me = app.logon().await;
    assert_eq!(app.get_text(&me, "/cloud", false).await.0, 200);
    clock.advance(1_000_000).unwrap();
    assert_eq!(
        app.get_text(&me, "/cloud", false).await.0,
        200,
        "not idle long enough"
    );
    clock.advance(2_600_000).unwrap();
    let r = app.get(&me, "/cloud", true).await;
    assert_eq!(r.status(), 401);
    assert_eq!(r.headers()["www-authenticate"], "Basic Realm=RestSvc");
}

#[tokio::test]
async fn paths_and_parameters_are_case_insensitive_and_unknown_parameters_are_ignored() {
    let app = spawn_app().await;
    let me = app.logon().await;
    for path in [
        "/CLOUD/FailoverSessions?FORMAT=entity&v=latest&v=again",
        "/cloud/failoversessions/?format=Entities",
    ] {
        let (status, body) = app.get_text(&me, path, true).await;
        assert_eq!(status, 200, "{path}");
        assert!(
            body.starts_with("{\"CloudFailoverSessions\":"),
            "{path}: {body}"
        );
    }
}

#[tokio::test]
async fn tenants_log_on_with_a_login_spec_in_xml_or_json() {
    let app = spawn_app().await;
    app.logon_tenant(
        serde_json::json!({"TenantCredentials": {"Username": "ABC Company", "Password": "Qwe123"}}),
    )
    .await;
    app.logon_tenant(serde_json::json!({"VCloudOrganizationCredentials": {"OrganizationName": "TechCompanyOrg", "Login": "user01", "Password": "Qwe789"}}))
        .await;
    let xml = "<LoginSpec xmlns=\"http://www.veeam.com/ent/v1.0\"><TenantCredentials><Username>QWE Systems</Username><Password>Qwe456</Password></TenantCredentials></LoginSpec>";
    let (status, _, body) = app
        .send(
            None,
            Method::POST,
            "/sessionMngr/?v=latest",
            Some("application/xml"),
            xml.into(),
            false,
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert!(body.contains("<UserName>QWE Systems</UserName>"));
    let wrong = r#"{"TenantCredentials": {"Username": "ABC Company", "Password": "nope"}}"#;
    let (status, _, _) = app
        .send(
            None,
            Method::POST,
            "/sessionMngr/?v=latest",
            Some("application/json"),
            wrong.into(),
            true,
        )
        .await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn a_tenant_sees_only_its_own_objects_and_others_answer_404() {
    let app = spawn_app().await;
    let admin = app.logon().await;
    let abc = app.logon_tenant(serde_json::json!({"TenantCredentials": {"Username": "ABC Company", "Password": "Qwe123"}})).await;
    let plans: serde_json::Value = app
        .get(&admin, "/cloud/cloudFailoverPlans?format=Entity", true)
        .await
        .json()
        .await
        .unwrap();
    let all = plans["CloudFailoverPlans"].as_array().unwrap();
    let own: Vec<_> = all
        .iter()
        .filter(|p| p["TenantName"] == "ABC Company")
        .collect();
    let foreign = all
        .iter()
        .find(|p| p["TenantName"] != "ABC Company")
        .unwrap();
    let mine: serde_json::Value = app
        .get(&abc, "/cloud/cloudFailoverPlans", true)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(mine["Refs"].as_array().unwrap().len(), own.len());
    let foreign_href = foreign["Href"].as_str().unwrap();
    assert_eq!(app.get(&abc, foreign_href, true).await.status(), 404);
    assert_eq!(app.get(&abc, "/cloud/tenants", true).await.status(), 403);
    assert_eq!(app.get(&abc, "/backupServers", true).await.status(), 403);
    let sessions: serde_json::Value = app
        .get(&abc, "/cloud/failoverSessions?format=Entity", true)
        .await
        .json()
        .await
        .unwrap();
    for s in sessions["CloudFailoverSessions"]
        .as_array()
        .into_iter()
        .flatten()
    {
        assert!(s["Name"].as_str().unwrap().starts_with("ABC"), "{s}");
    }
}

/// The composition root's router answers without a socket (tower's `oneshot`),
/// the same bytes as through a listener.
#[tokio::test]
async fn the_router_answers_without_a_socket_as_through_a_listener() {
    use tower::ServiceExt;
    let app = spawn_app().await;
    let host = app.address.trim_start_matches("http://");
    let request = axum::http::Request::get("/api/")
        .header("Host", host)
        .header("Accept", "application/xml")
        .body(axum::body::Body::empty())
        .unwrap();
    let response = app.router().oneshot(request).await.unwrap();
    assert_eq!(response.status(), 200);
    let body = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    let through_socket = app
        .client
        .get(app.url("/"))
        .header("Accept", "application/xml")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let body = String::from_utf8(body.to_vec()).unwrap();
    assert!(body.contains("<EnterpriseManager"), "{body}");
    assert_eq!(body, through_socket);
}
