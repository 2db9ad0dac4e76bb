//! The read cache never serves stale data and never crosses callers: after every
//! kind of write the API (or the engine, or another writer of the store) makes,
//! every cached path answers what the same server without a cache answers, in XML
//! and JSON; and tenants only ever get their own answers.

use entman_store::prelude::*;
use entman_testkit::reqwest::Method;
use entman_testkit::{spawn_app, Logon, TestApp};
use serde_json::Value;
use std::time::{Duration, Instant};

/// GET on the cached server and on the reference server (no cache); the bodies
/// with the reference's address replaced by the app's.
async fn both(
    app: &TestApp,
    logon: &Logon,
    path: &str,
    json: bool,
) -> ((u16, String), (u16, String)) {
    let cached = app.get_text(logon, &app.url(path), json).await;
    let reference_url = format!("{}/api{path}", app.reference);
    let (status, body) = app.get_text(logon, &reference_url, json).await;
    (cached, (status, body.replace(&app.reference, &app.address)))
}

async fn refs(app: &TestApp, logon: &Logon, path: &str) -> Vec<String> {
    let (status, body) = app.get_text(logon, &app.url(path), true).await;
    assert_eq!(status, 200, "{path}");
    let v: Value = serde_json::from_str(&body).unwrap();
    v["Refs"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|r| {
                    r["Href"]
                        .as_str()
                        .unwrap()
                        .split("/api")
                        .nth(1)
                        .unwrap()
                        .to_string()
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Every path the read cache keeps answers for, for the objects that exist now.
async fn cached_paths(app: &TestApp, logon: &Logon) -> Vec<String> {
    let mut paths = Vec::new();
    for collection in [
        "/backupServers",
        "/cloud/tenants",
        "/cloud/replicas",
        "/cloud/vmReplicaPoints",
        "/cloud/cloudFailoverPlans",
        "/cloud/failoverSessions",
        "/jobs",
        // The other session and task lists share its code and its caching rule.
        "/backupSessions",
    ] {
        paths.push(collection.to_string());
        paths.push(format!("{collection}?format=Entity"));
        let items = refs(app, logon, collection).await;
        // The first and the last object (sessions: the newest is the one that moves).
        for item in items.first().into_iter().chain(items.last()) {
            paths.push(item.clone());
            paths.push(format!("{item}?format=Entity"));
            if collection == "/cloud/replicas" {
                paths.push(format!("{item}/vmReplicaPoints"));
            }
            if collection == "/cloud/cloudFailoverPlans" || collection == "/jobs" {
                paths.push(format!("{item}/includes"));
            }
            if collection == "/jobs" {
                paths.push(format!("{item}/backupSessions?format=Entity"));
            }
            if collection == "/backupSessions" {
                paths.push(format!("{item}/taskSessions?format=Entity"));
            }
        }
    }
    for t in [
        "BackupServer",
        "CloudTenant",
        "CloudReplica",
        "CloudVmReplicaPoint",
        "CloudFailoverPlan",
        "CloudFailoverSession",
        "Job",
        "BackupJobSession",
        "BackupTaskSession",
    ] {
        paths.push(format!("/query?type={t}"));
        paths.push(format!("/query?type={t}&format=Entities&pageSize=3&page=2"));
    }
    paths.push("/query?type=CloudFailoverSession&format=Entities&sortDesc=CreationTime&pageSize=5&filter=State%3D%3DWorking,Result%3D%3DFailed".into());
    paths
}

/// Where two answers first differ, for a short failure message.
fn first_difference(a: &(u16, String), b: &(u16, String)) -> String {
    let at =
        a.1.bytes()
            .zip(b.1.bytes())
            .position(|(x, y)| x != y)
            .unwrap_or(0);
    let around = |t: &str| {
        t.get(at.saturating_sub(80)..(at + 80).min(t.len()))
            .unwrap_or("")
            .to_string()
    };
    format!(
        "status {} vs {}; at byte {at}: {:?} vs {:?}",
        a.0,
        b.0,
        around(&a.1),
        around(&b.1)
    )
}

/// Reads every cached path twice (so the second comes from the cache) and
/// compares it with the reference. While a failover runs the engine may write
/// between two reads, so the cached answer must equal a reference answer read just
/// before or just after it (a stale one would equal neither).
async fn assert_cache_agrees(app: &TestApp, logon: &Logon, after: &str) {
    for path in cached_paths(app, logon).await {
        for json in [false, true] {
            let _ = app.get_text(logon, &app.url(&path), json).await;
            let mut last = String::new();
            let agreed = 'attempts: {
                for _ in 0..5 {
                    let before = both(app, logon, &path, json).await.1;
                    let (cached, after_ref) = both(app, logon, &path, json).await;
                    if cached == before || cached == after_ref {
                        break 'attempts true;
                    }
                    last = first_difference(&cached, &after_ref);
                }
                false
            };
            assert!(
                agreed,
                "after {after}: GET {path} ({}) differs from the uncached answer: {last}",
                if json { "JSON" } else { "XML" }
            );
        }
    }
}

/// Runs every failover session to its end on the manual clock (no sleeping).
async fn settle(app: &TestApp) {
    let clock = app.engine.clock();
    if clock.mode() == entman_model::ClockMode::System {
        clock.freeze();
    }
    for _ in 0..10_000 {
        if app.store.list_active_sessions().await.unwrap().is_empty() {
            return;
        }
        let now = clock.advance(100_000).unwrap();
        app.engine.advance_to(now).await.unwrap();
    }
    panic!("sessions did not finish");
}

async fn send(
    app: &TestApp,
    logon: &Logon,
    method: Method,
    path: &str,
    body: &str,
) -> (u16, String) {
    let content_type = (!body.is_empty()).then_some("application/xml");
    let (status, _, text) = app
        .send(
            Some(logon),
            method,
            path,
            content_type,
            body.as_bytes().to_vec(),
            true,
        )
        .await;
    (status, text)
}

fn path_of(href: &str) -> String {
    href.split("/api").nth(1).unwrap().to_string()
}

#[tokio::test]
async fn every_write_is_seen_through_every_cached_path() {
    let app = spawn_app().await;
    let admin = app.logon().await;
    assert_cache_agrees(&app, &admin, "start").await;
    assert!(!app.reference.is_empty());

    // Backup servers: create, edit, collect.
    let spec = "<BackupServerSpec xmlns=\"http://www.veeam.com/ent/v1.0\"><Description>cache test</Description><DnsNameOrIpAddress>10.9.9.9</DnsNameOrIpAddress><Username>u</Username><Password>p</Password></BackupServerSpec>";
    let (status, body) = send(
        &app,
        &admin,
        Method::POST,
        "/backupServers?action=create",
        spec,
    )
    .await;
    assert_eq!(status, 202, "{body}");
    assert_cache_agrees(&app, &admin, "adding a backup server").await;
    let servers = refs(&app, &admin, "/backupServers").await;
    let (added, _) = {
        let mut found = None;
        for s in &servers {
            let (_, body) = app
                .get_text(&admin, &app.url(&format!("{s}?format=Entity")), true)
                .await;
            if body.contains("10.9.9.9") {
                found = Some((s.clone(), body));
            }
        }
        found.expect("the added server")
    };
    let edit = "<BackupServerSpec xmlns=\"http://www.veeam.com/ent/v1.0\"><Description>edited</Description></BackupServerSpec>";
    assert_eq!(send(&app, &admin, Method::PUT, &added, edit).await.0, 204);
    assert_cache_agrees(&app, &admin, "editing a backup server").await;
    assert_eq!(
        send(
            &app,
            &admin,
            Method::POST,
            &format!("{added}?action=collect"),
            ""
        )
        .await
        .0,
        202
    );
    assert_cache_agrees(&app, &admin, "collecting a backup server").await;

    // Plans: edit options, test, start, undo, stop a start by deleting its task.
    let plans = refs(&app, &admin, "/cloud/cloudFailoverPlans").await;
    let plan = plans[0].clone();
    let options = "<CloudFailoverPlan xmlns=\"http://www.veeam.com/ent/v1.0\"><CloudFailoverPlanOptions><PostFailoverPlanCommandEnabled>true</PostFailoverPlanCommandEnabled><PostFailoverPlanCommand>C:\\post.bat</PostFailoverPlanCommand></CloudFailoverPlanOptions></CloudFailoverPlan>";
    assert_eq!(send(&app, &admin, Method::PUT, &plan, options).await.0, 202);
    assert_cache_agrees(&app, &admin, "editing a plan").await;
    for action in ["test", "start", "undo"] {
        let (status, body) = send(
            &app,
            &admin,
            Method::POST,
            &format!("{plan}?action={action}"),
            "",
        )
        .await;
        assert_eq!(status, 202, "{action}: {body}");
        // While it runs, and after.
        assert_cache_agrees(&app, &admin, &format!("{action} (running)")).await;
        settle(&app).await;
        assert_cache_agrees(&app, &admin, action).await;
    }
    let (status, body) = send(
        &app,
        &admin,
        Method::POST,
        &format!("{}?action=start", plans[1]),
        "",
    )
    .await;
    assert_eq!(status, 202);
    let task: Value = serde_json::from_str(&body).unwrap();
    let task = path_of(task["Href"].as_str().unwrap());
    assert_eq!(send(&app, &admin, Method::DELETE, &task, "").await.0, 204);
    settle(&app).await;
    assert_cache_agrees(&app, &admin, "stopping a failover").await;

    // Jobs: switch a schedule, start a run and stop it, start one that ends.
    let jobs = refs(&app, &admin, "/jobs").await;
    let job = jobs[0].clone();
    for action in [
        "toggleScheduleEnabled",
        "toggleScheduleEnabled",
        "start",
        "stop",
    ] {
        let (status, body) = send(
            &app,
            &admin,
            Method::POST,
            &format!("{job}?action={action}"),
            "",
        )
        .await;
        assert_eq!(status, 202, "{action}: {body}");
        assert_cache_agrees(&app, &admin, &format!("job {action}")).await;
    }
    settle(&app).await;
    let clock = app.engine.clock();
    let now = clock.advance(600_000_000).unwrap();
    app.engine.advance_to(now).await.unwrap();
    assert_cache_agrees(&app, &admin, "a job run that ended").await;

    // Another writer of the store (the engine, a second node later).
    let points = refs(&app, &admin, "/cloud/vmReplicaPoints").await;
    let point: entman_model::ids::PointId = points[0].rsplit('/').next().unwrap().parse().unwrap();
    app.store
        .set_point_state(point, entman_model::replica::PointState::Failback)
        .await
        .unwrap();
    assert_cache_agrees(&app, &admin, "a point state written to the store").await;

    // Deleting a plan and a server (with its cloud objects).
    let (status, _) = send(&app, &admin, Method::DELETE, &plans[1], "").await;
    assert_eq!(status, 202);
    assert_cache_agrees(&app, &admin, "deleting a plan").await;
    assert_eq!(send(&app, &admin, Method::DELETE, &added, "").await.0, 204);
    assert_cache_agrees(&app, &admin, "deleting a backup server").await;
    assert!(app.store.state_version().is_some());
}

#[tokio::test]
async fn tenants_and_roles_never_get_each_others_cached_answers() {
    let app = spawn_app().await;
    let admin = app.logon().await;
    let abc = app
        .logon_tenant(serde_json::json!({"TenantCredentials": {"Username": "ABC Company", "Password": "Qwe123"}}))
        .await;
    let qwe = app
        .logon_tenant(serde_json::json!({"TenantCredentials": {"Username": "QWE Systems", "Password": "Qwe456"}}))
        .await;
    let abc_plans = refs(&app, &abc, "/cloud/cloudFailoverPlans").await;
    let qwe_plans = refs(&app, &qwe, "/cloud/cloudFailoverPlans").await;
    assert!(!abc_plans.is_empty() && !qwe_plans.is_empty());
    assert!(abc_plans.iter().all(|p| !qwe_plans.contains(p)));
    // Each reads everything (so all of it is cached), in turn, several times.
    let paths = [
        "/cloud/cloudFailoverPlans",
        "/cloud/cloudFailoverPlans?format=Entity",
        "/cloud/failoverSessions",
        "/cloud/failoverSessions?format=Entity",
        "/cloud/replicas?format=Entity",
        "/cloud/vmReplicaPoints",
        "/query?type=CloudFailoverSession&format=Entities",
        "/query?type=CloudFailoverPlan",
    ];
    for _ in 0..2 {
        for path in paths {
            for (who, logon) in [("admin", &admin), ("ABC", &abc), ("QWE", &qwe)] {
                for json in [false, true] {
                    let (cached, reference) = both(&app, logon, path, json).await;
                    assert!(
                        cached == reference,
                        "{who} GET {path}: {}",
                        first_difference(&cached, &reference)
                    );
                }
            }
        }
    }
    // The tenants' answers differ from each other's and from the administrator's.
    let plans_url = app.url("/cloud/cloudFailoverPlans");
    let a = app.get_text(&abc, &plans_url, true).await.1;
    let q = app.get_text(&qwe, &plans_url, true).await.1;
    let all = app.get_text(&admin, &plans_url, true).await.1;
    assert!(a != q && a != all && q != all);
    // Another tenant's object stays 404 however often its owner read it.
    for plan in &abc_plans {
        for _ in 0..2 {
            assert_eq!(app.get_text(&abc, &app.url(plan), false).await.0, 200);
            assert_eq!(app.get_text(&qwe, &app.url(plan), false).await.0, 404);
        }
    }
    // A Portal User (another role set) gets 403 for plans even after an admin read them.
    let user = entman_model::auth::Account {
        id: entman_model::ids::AccountId::new_random(),
        name: "reader".into(),
        password_hash: entman_http::password::hash("Reader1!"),
        roles: vec![entman_model::auth::Role::PortalUser],
    };
    app.store.upsert_account(&user).await.unwrap();
    let reader = app.logon_as("reader", "Reader1!").await;
    assert_eq!(
        app.get_text(&admin, &app.url("/cloud/cloudFailoverPlans"), false)
            .await
            .0,
        200
    );
    assert_eq!(
        app.get_text(&reader, &app.url("/cloud/cloudFailoverPlans"), false)
            .await
            .0,
        403
    );
}

#[tokio::test]
async fn a_logoff_ends_the_session_at_once_although_it_was_cached() {
    let app = spawn_app().await;
    let admin = app.logon().await;
    assert_eq!(
        app.get_text(&admin, &app.url("/cloud/failoverSessions"), false)
            .await
            .0,
        200
    );
    let (status, _) = send(
        &app,
        &admin,
        Method::DELETE,
        &format!("/logonSessions/{}", admin.session_id),
        "",
    )
    .await;
    assert_eq!(status, 204);
    assert_eq!(
        app.get_text(&admin, &app.url("/cloud/failoverSessions"), false)
            .await
            .0,
        401
    );
}

#[tokio::test]
async fn long_collections_are_streamed_whole_in_every_format() {
    let app = spawn_app().await;
    let admin = app.logon().await;
    // 1,300 more sessions in the window: three pages of the stream.
    let plans = app
        .store
        .list_plans(entman_store::Scope::All)
        .await
        .unwrap();
    let points = app
        .store
        .list_points(entman_store::Scope::All, None)
        .await
        .unwrap();
    let def = entman_world::format::HistoryDef {
        sessions: 1300,
        days: 20,
        seed: 7,
    };
    let history: Vec<_> =
        entman_world::history::sessions(&def, &plans, &points, entman_model::Timestamp::now())
            .collect();
    app.store.save_sessions(&history).await.unwrap();
    let since = entman_model::Timestamp::now().plus_millis(-30 * 86_400_000);
    let expected = app
        .store
        .list_sessions(entman_store::Scope::All, Some(since))
        .await
        .unwrap();
    assert!(expected.len() > 1300);
    for (path, key) in [
        ("/cloud/failoverSessions", "Refs"),
        (
            "/cloud/failoverSessions?format=Entity",
            "CloudFailoverSessions",
        ),
    ] {
        let (status, body) = app.get_text(&admin, &app.url(path), true).await;
        assert_eq!(status, 200);
        let value: Value = serde_json::from_str(&body).expect("the streamed JSON parses");
        let items = value[key].as_array().unwrap();
        let ids: Vec<&str> = items
            .iter()
            .map(|i| i["UID"].as_str().unwrap().rsplit(':').next().unwrap())
            .collect();
        let want: Vec<String> = expected.iter().map(|s| s.id.to_string()).collect();
        assert_eq!(ids, want, "{path}: every session once, oldest first");
        if key == "CloudFailoverSessions" {
            let tasks = items
                .iter()
                .filter(|i| i["CloudFailoverTasks"]["CloudFailoverTasks"].is_array())
                .count();
            assert_eq!(tasks, items.len(), "entities carry their tasks");
        }
        let (status, xml) = app.get_text(&admin, &app.url(path), false).await;
        assert_eq!(status, 200);
        assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<"));
        let root = if key == "Refs" {
            "EntityReferences"
        } else {
            "CloudFailoverSessions"
        };
        assert!(xml.ends_with(&format!("\n</{root}>")), "{path}");
        let item = if key == "Refs" {
            "<Ref "
        } else {
            "<CloudFailoverSession "
        };
        assert_eq!(xml.matches(item).count(), expected.len(), "{path} XML");
        // The reference server streams the same bytes.
        let (_, reference) = both(&app, &admin, path, false).await;
        assert_eq!(reference.1.len(), xml.len());
    }
    // An answer above the cache's size bound (megabytes of entities) goes out whole, twice.
    let all = "/query?type=CloudFailoverSession&format=Entities&pageSize=5000";
    for _ in 0..2 {
        let (status, body) = app.get_text(&admin, &app.url(all), true).await;
        assert_eq!(status, 200);
        assert!(
            body.len() > entman_http::cache::MAX_BODY,
            "{} bytes",
            body.len()
        );
        let value: Value = serde_json::from_str(&body).expect("whole JSON");
        let n = value["Entities"]["CloudFailoverSessions"]["CloudFailoverSessions"]
            .as_array()
            .unwrap()
            .len();
        assert!(n > 1300);
    }
}

#[tokio::test]
async fn writes_by_another_process_reach_the_cache_within_moments() {
    let app = spawn_app().await;
    let admin = app.logon().await;
    let points = refs(&app, &admin, "/cloud/vmReplicaPoints").await;
    let point = format!("{}?format=Entity", points[0]);
    let (_, before) = app.get_text(&admin, &app.url(&point), true).await;
    let (_, again) = app.get_text(&admin, &app.url(&point), true).await;
    assert_eq!(before, again, "cached");
    // Another writer on the same database, as `entman generate` or a second
    // process would be: the app's store does not see this write.
    let other = entman_store_sql::SqlStore::connect(&app.db_url())
        .await
        .unwrap();
    let id: entman_model::ids::PointId = points[0].rsplit('/').next().unwrap().parse().unwrap();
    other
        .set_point_state(id, entman_model::replica::PointState::Failback)
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (_, now) = app.get_text(&admin, &app.url(&point), true).await;
        if now.contains("Failback") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the cache still serves the old point: {now}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
