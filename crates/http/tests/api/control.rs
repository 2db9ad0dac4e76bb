//! The control API under `/_entman/` (controls.md): access, health, metrics,
//! fault rules and the request journal, through a real server.

use entman_http::control::ControlConfig;
use entman_http::HttpConfig;
use entman_model::auth::{Account, Role};
use entman_model::ids::AccountId;
use entman_testkit::{spawn, spawn_app, Options, TestApp, TestDb, ADMIN};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// A request to the control API as the administrator (Basic), with a JSON body.
async fn control(
    app: &TestApp,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = app
        .client
        .request(method, format!("{}{path}", app.address))
        .basic_auth(ADMIN.0, Some(ADMIN.1));
    if let Some(b) = body {
        request = request.json(&b);
    }
    let response = request.send().await.expect("control request");
    let status = response.status();
    let text = response.text().await.unwrap();
    let value = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("{path}: not JSON: {text}"))
    };
    (status, value)
}

/// A server over SQLite with these control settings.
async fn spawn_with(control: ControlConfig) -> TestApp {
    let config = HttpConfig {
        control,
        ..HttpConfig::default()
    };
    spawn(
        TestDb::sqlite(),
        Options {
            config,
            ..Options::default()
        },
    )
    .await
}

async fn portal_user(app: &TestApp) -> (&'static str, &'static str) {
    app.store
        .upsert_account(&Account {
            id: AccountId::new_random(),
            name: "viewer".into(),
            password_hash: entman_http::password::hash("Viewer-Passw0rd"),
            roles: vec![Role::PortalUser],
        })
        .await
        .unwrap();
    ("viewer", "Viewer-Passw0rd")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_administrators_reach_the_control_api_and_every_call_is_refused_cleanly() {
    let app = spawn_app().await;
    let faults = format!("{}/_entman/faults", app.address);
    // No credentials: 401 with a JSON error.
    let response = app.client.get(&faults).send().await.unwrap();
    assert_eq!(response.status(), 401);
    assert!(response.headers().contains_key("www-authenticate"));
    let body: Value = response.json().await.unwrap();
    assert!(
        body["error"].as_str().unwrap().contains("administrator"),
        "{body}"
    );
    // Wrong password: 401.
    let response = app
        .client
        .get(&faults)
        .basic_auth(ADMIN.0, Some("wrong"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    // Another role, by Basic and by token: 403.
    let (user, pass) = portal_user(&app).await;
    let response = app
        .client
        .get(&faults)
        .basic_auth(user, Some(pass))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    let logon = app.logon_as(user, pass).await;
    let response = app
        .client
        .get(&faults)
        .header("X-RestSvcSessionId", &logon.token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    // A tenant: 403.
    let tenant = app
        .logon_tenant(
            json!({"TenantCredentials": {"Username": "ABC Company", "Password": "Qwe123"}}),
        )
        .await;
    let response = app
        .client
        .get(&faults)
        .header("X-RestSvcSessionId", &tenant.token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    // The administrator's token: 200.
    let admin = app.logon().await;
    let response = app
        .client
        .get(&faults)
        .header("X-RestSvcSessionId", &admin.token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.json::<Value>().await.unwrap(), json!([]));
    // Unknown control paths and bad bodies: 4xx JSON errors, nothing changes.
    let (status, body) = control(&app, Method::GET, "/_entman/nothing", None).await;
    assert_eq!(status, 404);
    assert!(body["error"].is_string());
    for bad in [
        json!({"path": "*"}),
        json!({"path": "*", "action": {"status": 200}}),
        json!("x"),
    ] {
        let (status, body) =
            control(&app, Method::POST, "/_entman/faults", Some(bad.clone())).await;
        assert_eq!(status, 400, "{bad}");
        assert!(body["error"].is_string(), "{body}");
    }
    let response = app
        .client
        .post(&faults)
        .basic_auth(ADMIN.0, Some(ADMIN.1))
        .header("Content-Type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let (status, _) = control(&app, Method::DELETE, "/_entman/faults/77", None).await;
    assert_eq!(status, 404);
    let (_, rules) = control(&app, Method::GET, "/_entman/faults", None).await;
    assert_eq!(rules, json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_metrics_need_no_logon() {
    let app = spawn_app().await;
    let health: Value = app
        .client
        .get(format!("{}/_entman/health", app.address))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "ok");
    assert_eq!(health["store"], "ok");
    assert_eq!(health["engine"], "ok");
    assert_eq!(health["version"], env!("CARGO_PKG_VERSION"));
    // Some traffic: a logon, a failed logon, a session by id, a query.
    let logon = app.logon().await;
    let failed = app
        .client
        .post(app.url("/sessionMngr/?v=latest"))
        .basic_auth(ADMIN.0, Some("wrong"))
        .send()
        .await
        .unwrap();
    assert_eq!(failed.status(), 401);
    let (status, body) = app.get_text(&logon, "/cloud/failoverSessions", true).await;
    assert_eq!(status, 200);
    let sessions: Value = serde_json::from_str(&body).unwrap();
    let href = sessions["Refs"][0]["Href"].as_str().unwrap().to_string();
    assert_eq!(app.get(&logon, &href, true).await.status(), 200);
    // Twice: the second answer comes from the read cache and still has its route.
    assert_eq!(app.get(&logon, &href, true).await.status(), 200);
    let response = app
        .client
        .get(format!("{}/_entman/metrics", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .contains("openmetrics-text"));
    let text = response.text().await.unwrap();
    for needle in [
        "entman_http_requests_total{method=\"GET\",route=\"/api/cloud/failoversessions/{id}\",status=\"200\"} 2",
        "entman_http_request_duration_seconds_bucket{",
        "entman_failover_sessions{state=\"Stopped\",result=\"Success\"}",
        "entman_failover_sessions_started_total",
        "entman_engine_step_duration_seconds_count",
        "entman_logon_sessions 1",
        "entman_logons_total{outcome=\"success\"} 1",
        "entman_logons_total{outcome=\"failed\"} 1",
        "entman_store_pool_connections{state=\"idle\"}",
    ] {
        assert!(text.contains(needle), "{needle} missing in:\n{text}");
    }
    // Raw paths with ids never become labels.
    let id = href.rsplit('/').next().unwrap();
    assert!(!text.contains(id), "{text}");
    // The session gauge counts what the store holds.
    let stored: u64 = text
        .lines()
        .filter(|l| l.starts_with("entman_failover_sessions{"))
        .map(|l| l.rsplit(' ').next().unwrap().parse::<u64>().unwrap())
        .sum();
    let total = sessions["Refs"].as_array().unwrap().len() as u64;
    assert!(stored >= total && total > 0, "{stored} vs {total}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fault_rule_answers_em_errors_until_its_times_are_used_up() {
    let app = spawn_app().await;
    let logon = app.logon().await;
    let (status, rule) = control(
        &app,
        Method::POST,
        "/_entman/faults",
        Some(
            json!({"method": "GET", "path": "/api/query*", "account": ADMIN.0, "times": 2,
                    "action": {"status": 503, "retryAfter": 5}}),
        ),
    )
    .await;
    assert_eq!(status, 201);
    assert_eq!(rule["id"], 1);
    assert_eq!(rule["times"], 2);
    let query = "/query?type=CloudFailoverPlan";
    // Another path and another account are not hit.
    assert_eq!(
        app.get(&logon, "/cloud/failoverSessions", false)
            .await
            .status(),
        200
    );
    let tenant = app
        .logon_tenant(
            json!({"TenantCredentials": {"Username": "ABC Company", "Password": "Qwe123"}}),
        )
        .await;
    assert_eq!(app.get(&tenant, query, false).await.status(), 200);
    for format_json in [false, true] {
        let response = app.get(&logon, query, format_json).await;
        assert_eq!(response.status(), 503);
        assert_eq!(response.headers()["retry-after"], "5");
        let body = response.text().await.unwrap();
        if format_json {
            let v: Value = serde_json::from_str(&body).unwrap();
            assert_eq!(v["StatusCode"], 503, "{body}");
        } else {
            assert!(
                body.contains("<Error ") && body.contains("StatusCode=\"503\""),
                "{body}"
            );
        }
    }
    // Used up: the real answer again, and the rule is gone.
    assert_eq!(app.get(&logon, query, false).await.status(), 200);
    let (_, rules) = control(&app, Method::GET, "/_entman/faults", None).await;
    assert_eq!(rules, json!([]));
    // Logons can be failed too (public path, matched by the Basic user name).
    control(
        &app,
        Method::POST,
        "/_entman/faults",
        Some(json!({"method": "POST", "path": "/api/sessionmngr", "action": {"status": 429, "retryAfter": 1}})),
    )
    .await;
    let response = app
        .client
        .post(app.url("/sessionMngr/?v=latest"))
        .basic_auth(ADMIN.0, Some(ADMIN.1))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["retry-after"], "1");
    let (status, _) = control(&app, Method::DELETE, "/_entman/faults", None).await;
    assert_eq!(status, 204);
    app.logon().await;
    // The control API itself is never faulted.
    control(
        &app,
        Method::POST,
        "/_entman/faults",
        Some(json!({"path": "*", "action": {"status": 500}})),
    )
    .await;
    let (status, _) = control(&app, Method::GET, "/_entman/faults", None).await;
    assert_eq!(status, 200);
    assert_eq!(app.get(&logon, "/cloud", false).await.status(), 500);
    control(&app, Method::DELETE, "/_entman/faults", None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delays_and_dropped_connections() {
    let app = spawn_app().await;
    let logon = app.logon().await;
    let (_, delay) = control(
        &app,
        Method::POST,
        "/_entman/faults",
        Some(json!({"path": "/api/cloud", "times": 1, "action": {"delayMs": [300, 400]}})),
    )
    .await;
    assert_eq!(delay["action"]["delayMs"], json!([300, 400]));
    let started = std::time::Instant::now();
    assert_eq!(app.get(&logon, "/cloud", false).await.status(), 200);
    assert!(started.elapsed() >= std::time::Duration::from_millis(300));
    control(
        &app,
        Method::POST,
        "/_entman/faults",
        Some(json!({"path": "/api/cloud", "times": 1, "action": {"drop": true}})),
    )
    .await;
    let dropped = app
        .client
        .get(app.url("/cloud"))
        .header("X-RestSvcSessionId", &logon.token)
        .send()
        .await;
    assert!(dropped.is_err(), "{dropped:?}");
    assert_eq!(app.get(&logon, "/cloud", false).await.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_journal_is_bounded_newest_first_and_holds_no_secrets() {
    let app = spawn_with(ControlConfig {
        journal_size: 5,
        ..ControlConfig::default()
    })
    .await;
    let logon = app.logon().await;
    let me = format!("/logonSessions/{}", logon.session_id);
    assert_eq!(app.get(&logon, &me, false).await.status(), 200);
    for _ in 0..6 {
        assert_eq!(
            app.get(&logon, "/cloud?format=Entity", false)
                .await
                .status(),
            200
        );
    }
    assert_eq!(app.get(&logon, &me, false).await.status(), 200);
    let (status, entries) = control(&app, Method::GET, "/_entman/requests", None).await;
    assert_eq!(status, 200);
    let entries = entries.as_array().unwrap().clone();
    assert_eq!(entries.len(), 5, "{entries:?}");
    let newest = &entries[0];
    assert_eq!(newest["method"], "GET");
    assert_eq!(newest["path"], "/api/logonSessions/{ID}");
    assert_eq!(newest["status"], 200);
    assert_eq!(newest["account"], ADMIN.0);
    assert_eq!(newest["remote"], "127.0.0.1");
    assert!(newest["latencyMs"].as_f64().unwrap() >= 0.0);
    assert_eq!(entries[1]["path"], "/api/cloud");
    assert_eq!(entries[1]["query"], "format=Entity");
    let text = serde_json::to_string(&entries).unwrap();
    assert!(
        !text.contains(&logon.token) && !text.contains(&logon.session_id),
        "{text}"
    );
    let (_, two) = control(&app, Method::GET, "/_entman/requests?limit=2", None).await;
    assert_eq!(two.as_array().unwrap().len(), 2);
    let (status, body) = control(&app, Method::GET, "/_entman/requests?limit=x", None).await;
    assert_eq!(status, 400, "{body}");
    let (status, _) = control(&app, Method::DELETE, "/_entman/requests", None).await;
    assert_eq!(status, 204);
    let (_, none) = control(&app, Method::GET, "/_entman/requests", None).await;
    assert_eq!(none, json!([]));
    // The logon itself is journaled under its Basic user name, without the password.
    app.logon().await;
    let (_, after) = control(&app, Method::GET, "/_entman/requests", None).await;
    assert_eq!(after[0]["path"], "/api/sessionMngr/");
    assert_eq!(after[0]["account"], ADMIN.0);
    assert!(!serde_json::to_string(&after).unwrap().contains(ADMIN.1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_control_api_can_be_turned_off() {
    let app = spawn_with(ControlConfig {
        enabled: false,
        ..ControlConfig::default()
    })
    .await;
    for path in ["/_entman/health", "/_entman/metrics", "/_entman/faults"] {
        let response = app
            .client
            .get(format!("{}{path}", app.address))
            .basic_auth(ADMIN.0, Some(ADMIN.1))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 404, "{path}");
    }
    let app = spawn_with(ControlConfig {
        metrics: false,
        ..ControlConfig::default()
    })
    .await;
    let status = |p: &'static str| {
        let app = &app;
        async move {
            app.client
                .get(format!("{}{p}", app.address))
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(status("/_entman/metrics").await, 404);
    assert_eq!(status("/_entman/health").await, 200);
}

use crate::failover::{act, json as em_json, plan_href, related, START_NOW};

/// The plan's id (the last segment of its href).
fn id_of(href: &str) -> String {
    href.rsplit('/')
        .next()
        .unwrap()
        .split('?')
        .next()
        .unwrap()
        .to_string()
}

/// Sets a plan's progression; returns the status.
async fn set_progression(app: &TestApp, plan_id: &str, body: Value) -> StatusCode {
    control(
        app,
        Method::PUT,
        &format!("/_entman/plans/{plan_id}/progression"),
        Some(body),
    )
    .await
    .0
}

/// State, result and end of each VM task of a session (EM JSON).
fn task_states(session: &Value) -> Vec<(Value, Value, Value)> {
    session["CloudFailoverTasks"]["CloudFailoverTasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["State"].clone(),
                t["Result"].clone(),
                t["EndTimeUTC"].clone(),
            )
        })
        .collect()
}

/// The object with `UID` `uid` anywhere in `value`.
fn find_uid<'a>(value: &'a Value, uid: &str) -> Option<&'a Value> {
    match value {
        Value::Object(map) if map.get("UID").and_then(Value::as_str) == Some(uid) => Some(value),
        Value::Object(map) => map.values().find_map(|v| find_uid(v, uid)),
        Value::Array(items) => items.iter().find_map(|v| find_uid(v, uid)),
        _ => None,
    }
}

/// The part of an href after `/api`, for another server on the same database.
fn api_path(href: &str) -> &str {
    &href[href.find("/api/").unwrap() + 4..]
}

/// Starts a plan through the EM API; returns the session's href.
async fn start(app: &TestApp, logon: &entman_testkit::Logon, plan: &str) -> String {
    let task = act(
        app,
        logon,
        plan,
        "start",
        Some(("application/xml", START_NOW)),
    )
    .await;
    related(&task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whole_failover_runs_on_the_manual_clock_without_sleeping() {
    let app = spawn_app().await;
    let (_, clock) = control(&app, Method::GET, "/_entman/clock", None).await;
    assert_eq!(clock["mode"], "system");
    assert_eq!(clock["timeScale"], 0.01);
    // Advancing needs the manual clock.
    let (status, _) = control(
        &app,
        Method::POST,
        "/_entman/clock/advance",
        Some(json!({"seconds": 1})),
    )
    .await;
    assert_eq!(status, 409);
    let at = "2031-05-01T08:00:00Z";
    let (status, clock) = control(
        &app,
        Method::PUT,
        "/_entman/clock",
        Some(json!({"mode": "manual", "now": at, "timeScale": 1})),
    )
    .await;
    assert_eq!(status, 200, "{clock}");
    assert_eq!(clock["mode"], "manual");
    assert_eq!(clock["timeScale"], 1.0);
    assert!(
        clock["now"]
            .as_str()
            .unwrap()
            .starts_with("2031-05-01T08:00:00"),
        "{clock}"
    );
    // Backwards is refused, and nothing changes.
    let (status, _) = control(
        &app,
        Method::PUT,
        "/_entman/clock",
        Some(json!({"mode": "manual", "now": "2031-04-30T00:00:00Z"})),
    )
    .await;
    assert_eq!(status, 400);
    // Logon sessions idle by the clock: one opened before a jump of years would
    // have expired, so log on now.
    let admin = app.logon().await;
    let plan = plan_href(&app, &admin, "ABC Company Failover Plan").await;
    let session = start(&app, &admin, &plan).await;
    let created = em_json(&app, &admin, &session).await;
    assert!(
        created["CreationTimeUTC"]
            .as_str()
            .unwrap()
            .starts_with("2031-05-01T08:00:00"),
        "{created}"
    );
    // Time stands still: nothing finishes by itself.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_ne!(em_json(&app, &admin, &session).await["State"], "Stopped");
    // 5 s lead, then 12 s, 15 s, 18 s: at +20 s the first VM is done, the second working.
    control(
        &app,
        Method::POST,
        "/_entman/clock/advance",
        Some(json!({"seconds": 20})),
    )
    .await;
    let mid = em_json(&app, &admin, &session).await;
    assert_eq!(mid["State"], "Working", "{mid}");
    let tasks = mid["CloudFailoverTasks"]["CloudFailoverTasks"]
        .as_array()
        .unwrap();
    assert_eq!(tasks[0]["State"], "Stopped");
    assert_eq!(tasks[0]["Result"], "Success");
    assert_eq!(tasks[1]["State"], "Working");
    // Between transitions the engine writes nothing: progress follows from the
    // stored course and the clock. 3 s of the second VM's 15 s: (100 + 20 + 0) / 3.
    assert_eq!(tasks[1]["Progress"], 20, "{mid}");
    assert_eq!(mid["Progress"], 40, "{mid}");
    control(
        &app,
        Method::POST,
        "/_entman/clock/advance",
        Some(json!({"seconds": 3})),
    )
    .await;
    // Every read path shows the new figure, none of them from a cache filled before.
    let uid = mid["UID"].as_str().unwrap().to_string();
    for url in [
        session.clone(),
        "/cloud/failoverSessions?format=Entity".to_string(),
        "/query?type=CloudFailoverSession&format=Entities".to_string(),
    ] {
        let body = em_json(&app, &admin, &url).await;
        let shown = find_uid(&body, &uid).unwrap_or_else(|| panic!("{url}: {body}"));
        assert_eq!(shown["Progress"], 46, "{url}: {shown}");
        assert_eq!(shown["State"], "Working", "{url}: {shown}");
    }
    // Past the end: finished before the advance answers.
    let (_, clock) = control(
        &app,
        Method::POST,
        "/_entman/clock/advance",
        Some(json!({"seconds": 60})),
    )
    .await;
    assert!(
        clock["now"]
            .as_str()
            .unwrap()
            .starts_with("2031-05-01T08:01:23"),
        "{clock}"
    );
    let done = em_json(&app, &admin, &session).await;
    assert_eq!(done["State"], "Stopped", "{done}");
    assert_eq!(done["Result"], "Success");
    assert!(
        done["EndTimeUTC"]
            .as_str()
            .unwrap()
            .starts_with("2031-05-01T08:00:50"),
        "{done}"
    );
    // Back to the system clock: time continues from the manual time.
    let (_, clock) = control(
        &app,
        Method::PUT,
        "/_entman/clock",
        Some(json!({"mode": "system"})),
    )
    .await;
    assert_eq!(clock["mode"], "system");
    assert!(
        clock["now"].as_str().unwrap() >= "2031-05-01T08:01:23",
        "{clock}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manual_and_immediate_progression_and_outcomes_on_the_fly() {
    let app = spawn_app().await;
    let admin = app.logon().await;
    let plan = plan_href(&app, &admin, "ABC Company Failover Plan").await;
    let plan_id = id_of(&plan);
    for (body, status) in [
        (json!({"mode": "sometimes"}), 400),
        (json!({"mode": "manual", "x": 1}), 400),
    ] {
        let got = set_progression(&app, &plan_id, body).await;
        assert_eq!(got, status);
    }
    let (status, _) = control(
        &app,
        Method::PUT,
        "/_entman/plans/00000000-0000-0000-0000-000000000001/progression",
        Some(json!({"mode": "manual"})),
    )
    .await;
    assert_eq!(status, 404);
    // Manual: VMs move only when stepped.
    let status = set_progression(&app, &plan_id, json!({"mode": "manual"})).await;
    assert_eq!(status, 204);
    let (status, _) = control(
        &app,
        Method::PUT,
        &format!("/_entman/plans/{plan_id}/vms/SRV40/outcome"),
        Some(json!({"result": "Failed", "message": "Disk not found."})),
    )
    .await;
    assert_eq!(status, 204);
    let (status, _) = control(
        &app,
        Method::PUT,
        &format!("/_entman/plans/{plan_id}/vms/nope/outcome"),
        Some(json!({"result": "Failed"})),
    )
    .await;
    assert_eq!(status, 404);
    let session = start(&app, &admin, &plan).await;
    let session_id = id_of(&session);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let still = em_json(&app, &admin, &session).await;
    assert_ne!(still["State"], "Stopped", "{still}");
    let step = format!("/_entman/sessions/{session_id}/step");
    let (status, one) = control(&app, Method::POST, &step, Some(json!({"vms": 1}))).await;
    assert_eq!(status, 200, "{one}");
    // Its links are built as the EM API builds them for this listener.
    assert!(
        one["Href"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{}/api/", app.address)),
        "{one}"
    );
    let tasks = one["CloudFailoverTasks"]["CloudFailoverTasks"]
        .as_array()
        .unwrap();
    assert_eq!(tasks[0]["State"], "Stopped");
    assert_eq!(tasks[0]["Result"], "Success");
    assert_ne!(tasks[1]["State"], "Stopped");
    assert_eq!(one["State"], "Working");
    // The EM API shows the same.
    let seen = em_json(&app, &admin, api_path(&session)).await;
    assert_eq!(task_states(&seen), task_states(&one));
    let (status, end) = control(&app, Method::POST, &step, Some(json!({"toEnd": true}))).await;
    assert_eq!(status, 200);
    assert_eq!(end["State"], "Stopped");
    assert_eq!(end["Result"], "Failed");
    let tasks = end["CloudFailoverTasks"]["CloudFailoverTasks"]
        .as_array()
        .unwrap();
    assert_eq!(tasks[1]["Result"], "Failed");
    assert_eq!(tasks[1]["FailureMessage"], "Disk not found.");
    assert_eq!(tasks[2]["Result"], "Success");
    let (status, _) = control(&app, Method::POST, &step, None).await;
    assert_eq!(status, 409);
    let (status, _) = control(
        &app,
        Method::POST,
        "/_entman/sessions/00000000-0000-0000-0000-000000000001/step",
        None,
    )
    .await;
    assert_eq!(status, 404);
    let (status, _) = control(&app, Method::POST, &step, Some(json!({"vms": 0}))).await;
    assert_eq!(status, 400);
    // Undo the failover so the plan can start again.
    act(&app, &admin, &plan, "undo", None).await;
    // Immediate: the session is finished when the Task is answered.
    set_progression(&app, &plan_id, json!({"mode": "immediate"})).await;
    let (status, _) = control(
        &app,
        Method::DELETE,
        &format!("/_entman/plans/{plan_id}/vms/srv40/outcome"),
        None,
    )
    .await;
    assert_eq!(status, 204);
    let (status, _) = control(
        &app,
        Method::DELETE,
        &format!("/_entman/plans/{plan_id}/vms/srv40/outcome"),
        None,
    )
    .await;
    assert_eq!(status, 404);
    let session = start(&app, &admin, &plan).await;
    let done = em_json(&app, &admin, &session).await;
    assert_eq!(done["State"], "Stopped", "{done}");
    assert_eq!(done["Result"], "Success");
    assert_eq!(done["Progress"], 100);
}

const QUERY_ALL: &str = "/query?type=CloudFailoverSession&pageSize=1000&sortAsc=CreationTime";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_after_a_running_failover_brings_back_the_first_state() {
    for db in entman_testkit::backends().await {
        reset_on(spawn(db, Options::default()).await).await;
    }
}

async fn reset_on(app: TestApp) {
    let admin = app.logon().await;
    let before = em_json(&app, &admin, "/cloud/failoverSessions").await;
    let queried_before = em_json(&app, &admin, QUERY_ALL).await;
    let plan = plan_href(&app, &admin, "ABC Company Failover Plan").await;
    let plan_id = id_of(&plan);
    // A running failover (manual: it stays running), a rule, a clock, an outcome.
    set_progression(&app, &plan_id, json!({"mode": "manual"})).await;
    let session = start(&app, &admin, &plan).await;
    control(
        &app,
        Method::POST,
        "/_entman/faults",
        Some(json!({"path": "/api/nothing", "action": {"status": 500}})),
    )
    .await;
    control(
        &app,
        Method::PUT,
        "/_entman/clock",
        Some(json!({"mode": "manual"})),
    )
    .await;
    let (user, pass) = portal_user(&app).await;
    // A bad body changes nothing.
    let (status, _) = control(
        &app,
        Method::POST,
        "/_entman/reset",
        Some(json!({"keepAccounts": "no"})),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        control(&app, Method::GET, "/_entman/faults", None)
            .await
            .1
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let (status, _) = control(&app, Method::POST, "/_entman/reset", None).await;
    assert_eq!(status, 204);
    // The logon session is still valid; the new session is gone.
    let (status, _) = app.get_text(&admin, &session, true).await;
    assert_eq!(status, 404);
    let after = em_json(&app, &admin, "/cloud/failoverSessions").await;
    assert_eq!(after, before, "the first state's sessions, the same ids");
    let queried = em_json(&app, &admin, QUERY_ALL).await;
    assert_eq!(queried, queried_before, "the index followed the reset");
    assert_eq!(
        control(&app, Method::GET, "/_entman/faults", None).await.1,
        json!([])
    );
    assert_eq!(
        control(&app, Method::GET, "/_entman/clock", None).await.1["mode"],
        "system"
    );
    // The plan is out of failover and timed again: it starts.
    let again = start(&app, &admin, &plan).await;
    assert_ne!(again, session);
    // Accounts stay by default; keepAccounts false keeps only the first ones.
    app.logon_as(user, pass).await;
    let (status, _) = control(
        &app,
        Method::POST,
        "/_entman/reset",
        Some(json!({"keepAccounts": false})),
    )
    .await;
    assert_eq!(status, 204);
    let refused = app
        .client
        .post(app.url("/sessionMngr/?v=latest"))
        .basic_auth(user, Some(pass))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    app.logon().await;
}

const ONE_SERVER: &str = "[[backup_servers]]\nname = \"bs1.lab\"\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_world_replaces_the_state_only_when_it_is_valid() {
    let app = spawn_app().await;
    let admin = app.logon().await;
    let put = |body: &'static str| {
        let app = &app;
        async move {
            let response = app
                .client
                .put(format!("{}/_entman/world", app.address))
                .basic_auth(ADMIN.0, Some(ADMIN.1))
                .header("Content-Type", "application/toml")
                .body(body)
                .send()
                .await
                .unwrap();
            let status = response.status();
            (status, response.text().await.unwrap())
        }
    };
    let (status, body) = put("[[backup_servers]]\nname = \"x\"\nport = \"not a number\n").await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("line"), "names the line: {body}");
    let (status, body) =
        put("[[plans]]\nname = \"p\"\nbackup_server = \"nowhere\"\ntenant = \"t\"\nvms = []\n")
            .await;
    assert_eq!(status, 400, "{body}");
    // Untouched.
    assert_eq!(
        em_json(&app, &admin, "/backupServers").await["Refs"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let (status, body) = put(ONE_SERVER).await;
    assert_eq!(status, 204, "{body}");
    let servers = em_json(&app, &admin, "/backupServers").await;
    assert_eq!(servers["Refs"].as_array().unwrap().len(), 1);
    assert_eq!(servers["Refs"][0]["Name"], "bs1.lab");
    let sessions = em_json(&app, &admin, "/cloud/failoverSessions").await;
    assert!(
        sessions["Refs"]
            .as_array()
            .is_none_or(std::vec::Vec::is_empty),
        "{sessions}"
    );
    // A reset now brings back this world, not the first one.
    control(&app, Method::POST, "/_entman/reset", None).await;
    assert_eq!(
        em_json(&app, &admin, "/backupServers").await["Refs"][0]["Name"],
        "bs1.lab"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snapshot_restores_the_state_exactly() {
    for db in entman_testkit::backends().await {
        snapshot_on(spawn(db, Options::default()).await).await;
    }
}

async fn snapshot_on(app: TestApp) {
    let admin = app.logon().await;
    let plan = plan_href(&app, &admin, "ABC Company Failover Plan").await;
    let plan_id = id_of(&plan);
    set_progression(&app, &plan_id, json!({"mode": "manual"})).await;
    control(
        &app,
        Method::PUT,
        &format!("/_entman/plans/{plan_id}/vms/srv41/outcome"),
        Some(json!({"result": "Warning", "message": "Slow disk.", "durationSeconds": 3})),
    )
    .await;
    let session = start(&app, &admin, &plan).await;
    let session_id = id_of(&session);
    control(
        &app,
        Method::POST,
        &format!("/_entman/sessions/{session_id}/step"),
        None,
    )
    .await;
    // The job controls go into the snapshot too.
    let (_, jobs) = app.get_text(&admin, &app.url("/jobs"), true).await;
    let jobs: Value = serde_json::from_str(&jobs).unwrap();
    let job_id = jobs["Refs"][0]["UID"]
        .as_str()
        .unwrap()
        .rsplit(':')
        .next()
        .unwrap()
        .to_string();
    let (status, _) = control(
        &app,
        Method::PUT,
        &format!("/_entman/jobs/{job_id}/progression"),
        Some(json!({"mode": "immediate"})),
    )
    .await;
    assert_eq!(status, 204);
    let (status, body) = control(
        &app,
        Method::PUT,
        &format!("/_entman/jobs/{job_id}/vms/cg01/outcome"),
        Some(json!({"result": "Failed", "totalSizeBytes": 7})),
    )
    .await;
    assert_eq!(status, 204, "{body}");
    let (status, taken) = control(&app, Method::GET, "/_entman/snapshot", None).await;
    assert_eq!(status, 200, "{taken}");
    assert_eq!(taken["format"], "entman-snapshot-1");
    assert_eq!(
        taken["progressions"],
        json!([{"plan": plan_id, "mode": "manual"}])
    );
    assert_eq!(taken["outcomes"][0]["vm"], "srv41");
    assert_eq!(
        taken["jobProgressions"],
        json!([{"job": job_id, "mode": "immediate"}])
    );
    assert_eq!(taken["jobOutcomes"][0]["vm"], "cg01");
    assert_eq!(taken["jobOutcomes"][0]["totalSizeBytes"], 7);
    let running = em_json(&app, &admin, &session).await;
    assert_eq!(running["State"], "Working");
    // Change everything: finish the session, drop the controls, load another world.
    control(
        &app,
        Method::POST,
        &format!("/_entman/sessions/{session_id}/step"),
        Some(json!({"toEnd": true})),
    )
    .await;
    let response = app
        .client
        .put(format!("{}/_entman/world", app.address))
        .basic_auth(ADMIN.0, Some(ADMIN.1))
        .header("Content-Type", "application/toml")
        .body(ONE_SERVER)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    // Bad documents change nothing.
    let (_, current) = control(&app, Method::GET, "/_entman/snapshot", None).await;
    let mut missing = taken.clone();
    missing["tables"]
        .as_array_mut()
        .unwrap()
        .retain(|t| t["name"] != "plans");
    let mut renamed = taken.clone();
    renamed["tables"][0]["columns"][0] = json!("id; DROP TABLE accounts");
    let mut typed = taken.clone();
    typed["tables"][0]["rows"][0][0] = json!(3.5);
    let mut foreign = taken.clone();
    foreign["tables"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "sqlite_master", "columns": [], "rows": []}));
    for bad in [json!({"format": "x"}), missing, renamed, typed, foreign] {
        let (status, body) = control(&app, Method::PUT, "/_entman/snapshot", Some(bad)).await;
        assert_eq!(status, 400, "{body}");
        assert!(body["error"].is_string());
    }
    let (_, unchanged) = control(&app, Method::GET, "/_entman/snapshot", None).await;
    let tables = |doc: &Value| doc["tables"].clone();
    assert_eq!(tables(&unchanged), tables(&current));
    // The round trip is exact.
    let (status, body) = control(&app, Method::PUT, "/_entman/snapshot", Some(taken.clone())).await;
    assert_eq!(status, 204, "{body}");
    let (_, again) = control(&app, Method::GET, "/_entman/snapshot", None).await;
    let without_time = |doc: &Value| {
        let mut doc = doc.clone();
        doc.as_object_mut().unwrap().remove("takenAt");
        doc
    };
    assert_eq!(without_time(&again), without_time(&taken));
    // And the server works from it: the session runs again, the controls are back.
    let back = em_json(&app, &admin, &session).await;
    assert_eq!(back["State"], "Working", "{back}");
    let (status, end) = control(
        &app,
        Method::POST,
        &format!("/_entman/sessions/{session_id}/step"),
        Some(json!({"toEnd": true})),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(end["Result"], "Warning", "{end}");
    assert_eq!(
        end["CloudFailoverTasks"]["CloudFailoverTasks"][2]["FailureMessage"],
        "Slow disk."
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stepped_manual_session_continues_after_a_restart() {
    let app = spawn_app().await;
    let admin = app.logon().await;
    let plan = plan_href(&app, &admin, "QWE Systems Failover Plan").await;
    set_progression(&app, &id_of(&plan), json!({"mode": "manual"})).await;
    let session = start(&app, &admin, &plan).await;
    let step = format!("/_entman/sessions/{}/step", id_of(&session));
    let (status, one) = control(&app, Method::POST, &step, None).await;
    assert_eq!(status, 200, "{one}");
    let app = spawn(
        app.into_db(),
        Options {
            seed: entman_testkit::Seed::Empty,
            ..Options::default()
        },
    )
    .await;
    let admin = app.logon().await;
    // The step's shortened course was stored: the session is where the step left it.
    let seen = em_json(&app, &admin, api_path(&session)).await;
    assert_eq!(task_states(&seen), task_states(&one));
    let (status, end) = control(&app, Method::POST, &step, Some(json!({"toEnd": true}))).await;
    assert_eq!(status, 200);
    assert_eq!(end["State"], "Stopped", "{end}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_session_gauges_count_alike_on_the_index_and_in_sql() {
    use std::collections::BTreeMap;
    for db in entman_testkit::backends().await {
        let label = db.label();
        let app = spawn(db, Options::default()).await;
        let sql: BTreeMap<String, u64> = app
            .store
            .session_tally()
            .await
            .unwrap()
            .into_iter()
            .map(|(s, r, n)| (format!("state=\"{s}\",result=\"{r}\""), n))
            .collect();
        let text = app
            .client
            .get(format!("{}/_entman/metrics", app.address))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let gauges: BTreeMap<String, u64> = text
            .lines()
            .filter_map(|l| l.strip_prefix("entman_failover_sessions{"))
            .map(|l| {
                let (labels, n) = l.split_once("} ").unwrap();
                (labels.to_string(), n.parse().unwrap())
            })
            .collect();
        assert!(!sql.is_empty(), "{label}");
        assert_eq!(gauges, sql, "{label}");
    }
}
