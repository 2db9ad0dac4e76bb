//! The failover engine through the API: start, test, undo, edit, delete and stop,
//! with sessions progressing over (scaled) time (failover-plans.md §5–10,
//! failover-sessions.md §3.1, tasks.md).

use entman_testkit::{backends, spawn, spawn_app, Logon, Options, Seed, TestApp, TestDb};
use reqwest::Method;
use serde_json::Value;

pub(crate) const START_NOW: &str = "<CloudFailoverPlanManagementSpec xmlns=\"http://www.veeam.com/ent/v1.0\"><StartNow>true</StartNow></CloudFailoverPlanManagementSpec>";

pub(crate) async fn json(app: &TestApp, logon: &Logon, url: &str) -> Value {
    let (status, body) = app.get_text(logon, url, true).await;
    assert_eq!(status, 200, "GET {url}: {body}");
    serde_json::from_str(&body).unwrap()
}

/// The href of a plan by name.
pub(crate) async fn plan_href(app: &TestApp, logon: &Logon, name: &str) -> String {
    let plans = json(app, logon, "/cloud/cloudFailoverPlans").await;
    let plan = plans["Refs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["Name"] == name)
        .unwrap_or_else(|| panic!("plan {name}"));
    plan["Href"].as_str().unwrap().to_string()
}

/// Posts an action and returns the finished task (JSON).
pub(crate) async fn act(
    app: &TestApp,
    logon: &Logon,
    href: &str,
    action: &str,
    body: Option<(&str, &str)>,
) -> Value {
    let (ct, bytes) = body.map_or((None, vec![]), |(ct, b)| (Some(ct), b.as_bytes().to_vec()));
    let (status, _, text) = app
        .send(
            Some(logon),
            Method::POST,
            &format!("{href}?action={action}"),
            ct,
            bytes,
            true,
        )
        .await;
    assert_eq!(status, 202, "{action}: {text}");
    let running: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(running["State"], "Running");
    assert!(running["Result"].is_null());
    json(app, logon, running["Href"].as_str().unwrap()).await
}

pub(crate) fn related(task: &Value) -> String {
    let links = task["Links"].as_array().unwrap();
    links
        .iter()
        .find(|l| l["Rel"] == "Related")
        .expect("Related link")["Href"]
        .as_str()
        .unwrap()
        .to_string()
}

/// How a test lets time pass while a session runs.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Pace {
    /// Real time: polls every 25 ms (for tests of the engine's own pace).
    RealTime,
    /// The manual clock, moved 50 ms at a time (a VM takes 80-600 ms at the
    /// tests' time scale), the engine applying each move before the next read.
    ManualClock,
}

/// Polls a session in real time until it is Stopped (see [`Pace::RealTime`]).
pub(crate) async fn poll_finished(app: &TestApp, logon: &Logon, href: &str) -> Value {
    run_to_end(app, logon, href, Pace::RealTime).await
}

/// Drives a session to its end on the manual clock, with no sleeping (see
/// [`Pace::ManualClock`]); the clock stops where it is first.
pub(crate) async fn wait_finished(app: &TestApp, logon: &Logon, href: &str) -> Value {
    run_to_end(app, logon, href, Pace::ManualClock).await
}

/// Reads a session until it is Stopped, checking on the way that progress never
/// decreases and that a running session has neither result nor end time.
async fn run_to_end(app: &TestApp, logon: &Logon, href: &str, pace: Pace) -> Value {
    let clock = app.engine.clock();
    if pace == Pace::ManualClock && clock.mode() == entman_model::ClockMode::System {
        clock.freeze();
    }
    let mut last = -1;
    for _ in 0..400 {
        let s = json(app, logon, href).await;
        let progress = s["Progress"].as_i64().unwrap();
        assert!(progress >= last, "progress went from {last} to {progress}");
        last = progress;
        if s["State"] == "Stopped" {
            return s;
        }
        assert_eq!(s["Result"], "None", "a running session has no result yet");
        assert!(
            s.get("EndTimeUTC").is_none(),
            "a running session has no EndTimeUTC key"
        );
        match pace {
            Pace::RealTime => tokio::time::sleep(std::time::Duration::from_millis(25)).await,
            Pace::ManualClock => {
                let now = clock.advance(50_000).unwrap();
                app.engine.advance_to(now).await.unwrap();
            }
        }
    }
    panic!("session {href} did not finish");
}

fn success(task: &Value) -> bool {
    task["State"] == "Finished" && task["Result"]["Success"] == true
}

#[tokio::test]
async fn starting_a_plan_runs_its_vms_in_order_to_a_finished_session_and_undo_resets_it() {
    for db in backends().await {
        start_run_and_undo(spawn(db, Options::default()).await).await;
    }
}

async fn start_run_and_undo(app: TestApp) {
    let admin = app.logon().await;
    let plan = plan_href(&app, &admin, "ABC Company Failover Plan").await;
    let task = act(
        &app,
        &admin,
        &plan,
        "start",
        Some(("application/xml", START_NOW)),
    )
    .await;
    assert!(success(&task), "{task}");
    assert_eq!(task["Operation"], "StartCloudFailoverPlan");
    assert_eq!(task["Result"]["Message"], "Ok");
    let session_href = related(&task);
    assert!(session_href.ends_with("?format=Entity"));
    // The session is listed at once.
    let listed = json(&app, &admin, "/cloud/failoverSessions").await;
    let id = session_href
        .split('/')
        .next_back()
        .unwrap()
        .split('?')
        .next()
        .unwrap();
    assert!(listed["Refs"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["Href"].as_str().unwrap().contains(id)));
    let session = wait_finished(&app, &admin, &session_href).await;
    assert_eq!(session["Result"], "Success");
    assert_eq!(session["Progress"], 100);
    let tasks = session["CloudFailoverTasks"]["CloudFailoverTasks"]
        .as_array()
        .unwrap();
    let names: Vec<&str> = tasks
        .iter()
        .map(|t| t["VmName"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["srv38", "srv40", "srv41"]);
    let mut previous_end = String::new();
    for t in tasks {
        assert_eq!(
            (
                t["State"].as_str(),
                t["Result"].as_str(),
                t["Progress"].as_i64()
            ),
            (Some("Stopped"), Some("Success"), Some(100))
        );
        let end = t["EndTimeUTC"].as_str().unwrap().to_string();
        assert!(end > previous_end, "VMs fail over one after another");
        previous_end = end;
        let point = json(
            &app,
            &admin,
            &format!(
                "{}?format=Entity",
                t["VmReplicaPointLink"]["Href"].as_str().unwrap()
            ),
        )
        .await;
        assert_eq!(point["State"], "Failover");
    }
    let again = act(&app, &admin, &plan, "start", None).await;
    assert!(!success(&again));
    assert!(
        again["Result"]["Message"]
            .as_str()
            .unwrap()
            .contains("already in the failover state"),
        "{again}"
    );
    let undo = act(&app, &admin, &plan, "undo", None).await;
    assert!(success(&undo), "{undo}");
    assert_eq!(undo["Operation"], "UndoCloudFailoverPlan");
    assert!(
        undo["Links"]
            .as_array()
            .unwrap()
            .iter()
            .all(|l| l["Rel"] != "Related"),
        "undo creates no session"
    );
    let point = json(
        &app,
        &admin,
        &format!(
            "{}?format=Entity",
            tasks[0]["VmReplicaPointLink"]["Href"].as_str().unwrap()
        ),
    )
    .await;
    assert_eq!(point["State"], "Ready");
    // Counts kept per day by triggers agree with counting the rows.
    for result in ["Success", "Failed", "None", "Warning"] {
        let bucketed = json(
            &app,
            &admin,
            &format!("/query?type=CloudFailoverSession&pageSize=1&filter=Result%3d%3d{result}"),
        )
        .await;
        let counted =
            json(&app, &admin, &format!("/query?type=CloudFailoverSession&pageSize=1&filter=Result%3d%3d{result}%3bName!%3dzzz")).await;
        assert_eq!(
            bucketed["PagingInfo"]["PagesCount"], counted["PagingInfo"]["PagesCount"],
            "{result}"
        );
    }
    let undo_again = act(&app, &admin, &plan, "undo", None).await;
    assert_eq!(
        undo_again["Result"]["Message"],
        "Cloud failover plan [ABC Company Failover Plan] is not in the failover state."
    );
}

#[tokio::test]
async fn vm_outcomes_of_the_world_give_warning_and_failed_sessions() {
    let app = spawn_app().await;
    let admin = app.logon().await;
    for (plan, result, message) in [
        ("ABC File Servers Failover Plan", "Warning", None),
        (
            "QWE Systems Failover Plan",
            "Failed",
            Some("Failed to power on the replica VM: not enough memory on the host."),
        ),
    ] {
        let href = plan_href(&app, &admin, plan).await;
        let task = act(
            &app,
            &admin,
            &href,
            "start",
            Some(("application/json", r#"{"StartNow": true}"#)),
        )
        .await;
        let session = wait_finished(&app, &admin, &related(&task)).await;
        assert_eq!(session["Result"], result, "{plan}");
        assert_eq!(session["FailureMessage"].as_str(), message, "{plan}");
        let vm_messages: Vec<&Value> = session["CloudFailoverTasks"]["CloudFailoverTasks"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t["Result"] != "Success")
            .map(|t| &t["FailureMessage"])
            .collect();
        assert_eq!(vm_messages.len(), 1);
        assert!(vm_messages[0].is_string());
    }
}

#[tokio::test]
async fn start_date_picks_the_latest_point_before_it_and_refuses_when_there_is_none() {
    let app = spawn_app().await;
    let admin = app.logon().await;
    let plan = plan_href(&app, &admin, "TechCompany DR Plan").await;
    let too_early = r#"{"StartNow": false, "StartDate": "2001-01-01T00:00:00Z"}"#;
    let refused = act(
        &app,
        &admin,
        &plan,
        "start",
        Some(("application/json", too_early)),
    )
    .await;
    assert!(!success(&refused));
    assert!(
        refused["Result"]["Message"]
            .as_str()
            .unwrap()
            .starts_with("No restore points created before 2001-01-01T00:00:00Z"),
        "{refused}"
    );
    // Points are 6 days apart; ten days ago lies between two of them.
    let date = entman_model::Timestamp::now().plus_millis(-10 * 86_400_000);
    let body = format!("<CloudFailoverPlanManagementSpec><StartNow>false</StartNow><StartDate>{date}</StartDate></CloudFailoverPlanManagementSpec>");
    let task = act(
        &app,
        &admin,
        &plan,
        "start",
        Some(("application/xml", &body)),
    )
    .await;
    assert!(success(&task), "{task}");
    let session = wait_finished(&app, &admin, &related(&task)).await;
    for t in session["CloudFailoverTasks"]["CloudFailoverTasks"]
        .as_array()
        .unwrap()
    {
        let point = json(
            &app,
            &admin,
            &format!(
                "{}?format=Entity",
                t["VmReplicaPointLink"]["Href"].as_str().unwrap()
            ),
        )
        .await;
        let created =
            entman_model::Timestamp::parse(point["CreationTimeUTC"].as_str().unwrap()).unwrap();
        assert!(created < date);
        assert!(
            created > date.plus_millis(-7 * 86_400_000),
            "the latest point before the date"
        );
    }
}

#[tokio::test]
async fn a_test_failover_creates_a_session_without_changing_the_plan() {
    let app = spawn_app().await;
    let admin = app.logon().await;
    let plan = plan_href(&app, &admin, "ABC Company Failover Plan").await;
    let task = act(&app, &admin, &plan, "test", Some(("application/json", ""))).await;
    assert!(success(&task));
    assert_eq!(task["Operation"], "StartCloudFailoverPlan");
    let session = wait_finished(&app, &admin, &related(&task)).await;
    let first = &session["CloudFailoverTasks"]["CloudFailoverTasks"][0];
    let point = json(
        &app,
        &admin,
        &format!(
            "{}?format=Entity",
            first["VmReplicaPointLink"]["Href"].as_str().unwrap()
        ),
    )
    .await;
    assert_eq!(point["State"], "Ready", "a test does not fail the VM over");
    let undo = act(&app, &admin, &plan, "undo", None).await;
    assert!(!success(&undo), "the plan is not in failover after a test");
    assert!(success(&act(&app, &admin, &plan, "start", None).await));
}

#[tokio::test]
async fn deleting_the_task_of_a_running_start_stops_its_session() {
    let app = spawn(
        TestDb::sqlite(),
        Options {
            time_scale: 1.0,
            ..Options::default()
        },
    )
    .await;
    let admin = app.logon().await;
    let plan = plan_href(&app, &admin, "QWE Systems Failover Plan").await;
    let task = act(&app, &admin, &plan, "start", None).await;
    let session_href = related(&task);
    let second = act(&app, &admin, &plan, "start", None).await;
    assert_eq!(
        second["Result"]["Message"],
        "Cloud failover plan [QWE Systems Failover Plan] is already running."
    );
    let edit = r#"{"CloudFailoverPlanOptions": {"PreFailoverPlanCommandEnabled": true, "PreFailoverPlanCommand": "C:\\pre.bat"}}"#;
    let (status, _, body) = app
        .send(
            Some(&admin),
            Method::PUT,
            &plan,
            Some("application/json"),
            edit.into(),
            true,
        )
        .await;
    assert_eq!(status, 202);
    let edit_task = json(
        &app,
        &admin,
        serde_json::from_str::<Value>(&body).unwrap()["Href"]
            .as_str()
            .unwrap(),
    )
    .await;
    assert!(edit_task["Result"]["Message"]
        .as_str()
        .unwrap()
        .contains("cannot be edited while a failover is running"));
    let (status, _, _) = app
        .send(
            Some(&admin),
            Method::DELETE,
            task["Href"].as_str().unwrap(),
            None,
            vec![],
            true,
        )
        .await;
    assert_eq!(status, 204);
    assert_eq!(
        app.get_text(&admin, task["Href"].as_str().unwrap(), true)
            .await
            .0,
        404
    );
    let session = wait_finished(&app, &admin, &session_href).await;
    assert_eq!(session["Result"], "Failed");
    assert_eq!(
        session["FailureMessage"],
        "Cloud failover session was stopped by user."
    );
    let tasks = session["CloudFailoverTasks"]["CloudFailoverTasks"]
        .as_array()
        .unwrap();
    assert!(tasks.iter().all(|t| t["State"] == "Stopped"));
    assert!(tasks
        .iter()
        .any(|t| t["FailureMessage"] == "Failover was stopped by user."));
}

#[tokio::test]
async fn plans_are_edited_and_deleted_as_tasks_and_deleting_a_failed_over_plan_is_refused() {
    let app = spawn_app().await;
    let admin = app.logon().await;
    let plan = plan_href(&app, &admin, "TechCompany DR Plan").await;
    let edit = "<CloudFailoverPlan xmlns=\"http://www.veeam.com/ent/v1.0\"><CloudFailoverPlanOptions><PostFailoverPlanCommandEnabled>true</PostFailoverPlanCommandEnabled><PostFailoverPlanCommand>C:\\scripts\\post-failover.bat</PostFailoverPlanCommand></CloudFailoverPlanOptions><CloudFailoverPlanInfo><Includes><CloudFailoverPlanVm><Name>x</Name></CloudFailoverPlanVm></Includes></CloudFailoverPlanInfo></CloudFailoverPlan>";
    let (status, _, body) = app
        .send(
            Some(&admin),
            Method::PUT,
            &plan,
            Some("application/xml"),
            edit.into(),
            true,
        )
        .await;
    assert_eq!(status, 202, "{body}");
    let task = json(
        &app,
        &admin,
        serde_json::from_str::<Value>(&body).unwrap()["Href"]
            .as_str()
            .unwrap(),
    )
    .await;
    assert!(success(&task));
    assert_eq!(task["Operation"], "UpdateFailoverPlan");
    let entity = json(&app, &admin, &format!("{plan}?format=Entity")).await;
    assert_eq!(
        entity["CloudFailoverPlanOptions"]["PostFailoverPlanCommand"],
        "C:\\scripts\\post-failover.bat"
    );
    assert_eq!(
        entity["CloudFailoverPlanOptions"]["PostFailoverPlanCommandEnabled"],
        true
    );
    let bad = r#"{"CloudFailoverPlanOptions": {"PreFailoverPlanCommandEnabled": true}}"#;
    assert_eq!(
        app.send(
            Some(&admin),
            Method::PUT,
            &plan,
            Some("application/json"),
            bad.into(),
            true
        )
        .await
        .0,
        400
    );
    let started = act(&app, &admin, &plan, "start", None).await;
    let session = wait_finished(&app, &admin, &related(&started)).await;
    let (_, _, body) = app
        .send(Some(&admin), Method::DELETE, &plan, None, vec![], true)
        .await;
    let refused = json(
        &app,
        &admin,
        serde_json::from_str::<Value>(&body).unwrap()["Href"]
            .as_str()
            .unwrap(),
    )
    .await;
    assert!(
        refused["Result"]["Message"]
            .as_str()
            .unwrap()
            .contains("Undo the failover"),
        "{refused}"
    );
    assert!(success(&act(&app, &admin, &plan, "undo", None).await));
    let (status, _, body) = app
        .send(Some(&admin), Method::DELETE, &plan, None, vec![], true)
        .await;
    assert_eq!(status, 202);
    let deleted = json(
        &app,
        &admin,
        serde_json::from_str::<Value>(&body).unwrap()["Href"]
            .as_str()
            .unwrap(),
    )
    .await;
    assert!(success(&deleted));
    assert_eq!(deleted["Operation"], "DeleteCloudFailoverPlan");
    assert_eq!(app.get_text(&admin, &plan, true).await.0, 404);
    assert_eq!(
        json(&app, &admin, session["Href"].as_str().unwrap()).await["State"],
        "Stopped",
        "sessions outlive their plan"
    );
}

#[tokio::test]
async fn invalid_action_requests_answer_400() {
    let app = spawn_app().await;
    let admin = app.logon().await;
    let plan = plan_href(&app, &admin, "ABC Company Failover Plan").await;
    for (query, ct, body) in [
        ("", None, ""),
        ("?action=explode", None, ""),
        ("?action=start", Some("application/xml"), "<CloudFailoverPlanManagementSpec />"),
        ("?action=start", Some("application/xml"), "<CloudFailoverPlanManagementSpec><StartDate>soon</StartDate></CloudFailoverPlanManagementSpec>"),
        ("?action=start", Some("application/json"), "{\"StartNow\": \"maybe\"}"),
        ("?action=start", Some("application/xml"), "<Wrong />"),
    ] {
        let (status, _, text) = app.send(Some(&admin), Method::POST, &format!("{plan}{query}"), ct, body.into(), true).await;
        assert_eq!(status, 400, "{query} {body}: {text}");
    }
    // An empty form body (veeam-easy-connect) is StartNow.
    let (status, _, _) = app
        .send(
            Some(&admin),
            Method::POST,
            &format!("{plan}?action=start"),
            Some("application/x-www-form-urlencoded"),
            vec![],
            true,
        )
        .await;
    assert_eq!(status, 202);
}

#[tokio::test]
async fn tenants_operate_their_own_plans_only_and_cannot_edit_them() {
    let app = spawn_app().await;
    let admin = app.logon().await;
    let tenant = app.logon_tenant(serde_json::json!({"TenantCredentials": {"Username": "ABC Company", "Password": "Qwe123"}})).await;
    let own = plan_href(&app, &tenant, "ABC Company Failover Plan").await;
    let foreign = plan_href(&app, &admin, "QWE Systems Failover Plan").await;
    let task = act(&app, &tenant, &own, "start", None).await;
    assert!(success(&task));
    wait_finished(&app, &tenant, &related(&task)).await;
    assert_eq!(
        app.send(
            Some(&tenant),
            Method::POST,
            &format!("{foreign}?action=start"),
            None,
            vec![],
            true
        )
        .await
        .0,
        404
    );
    assert_eq!(
        app.send(
            Some(&tenant),
            Method::PUT,
            &own,
            Some("application/json"),
            b"{}".to_vec(),
            true
        )
        .await
        .0,
        403
    );
    assert_eq!(
        app.send(Some(&tenant), Method::DELETE, &own, None, vec![], true)
            .await
            .0,
        403
    );
    // The tenant's task is not visible to the administrator's session.
    assert_eq!(
        app.get_text(&admin, task["Href"].as_str().unwrap(), true)
            .await
            .0,
        404
    );
}

#[tokio::test]
async fn concurrent_starts_of_one_plan_let_exactly_one_through() {
    let app = spawn_app().await;
    let admin = app.logon().await;
    let plan = plan_href(&app, &admin, "ABC File Servers Failover Plan").await;
    let attempts = (0..6).map(|_| act(&app, &admin, &plan, "start", None));
    let tasks = futures_join_all(attempts).await;
    assert_eq!(tasks.iter().filter(|t| success(t)).count(), 1);
}

#[tokio::test]
async fn a_hundred_plans_started_at_once_all_complete() {
    let mut world = String::from("[[backup_servers]]\nname = \"bs\"\n[[tenants]]\nname = \"t\"\nbackup_server = \"bs\"\npassword = \"p\"\n");
    for i in 0..100 {
        world.push_str(&format!(
            "[[replicas]]\nname = \"r{i}\"\ntenant = \"t\"\nvms = [{{ name = \"vm{i}a\", recent_points = 2 }}, {{ name = \"vm{i}b\", recent_points = 2 }}]\n\
             [[plans]]\nname = \"plan {i:03}\"\ntenant = \"t\"\nvms = [{{ name = \"vm{i}a\", duration_seconds = 20 }}, {{ name = \"vm{i}b\", duration_seconds = 30 }}]\n"
        ));
    }
    let world = entman_world::parse(&world).unwrap();
    let app = spawn(
        TestDb::sqlite(),
        Options {
            seed: Seed::Empty,
            ..Options::default()
        },
    )
    .await;
    entman_world::load(
        app.store.as_ref(),
        &world,
        entman_model::Timestamp::now(),
        entman_model::job_session::Generation::Em12,
        &|p| p.to_string(),
    )
    .await
    .unwrap();
    let admin = app.logon().await;
    let plans = json(&app, &admin, "/cloud/cloudFailoverPlans").await;
    let hrefs: Vec<String> = plans["Refs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["Href"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(hrefs.len(), 100);
    let tasks = futures_join_all(hrefs.iter().map(|h| act(&app, &admin, h, "start", None))).await;
    assert!(tasks.iter().all(success));
    for task in &tasks {
        let session = wait_finished(&app, &admin, &related(task)).await;
        assert_eq!(session["Result"], "Success");
    }
}

/// Awaits futures concurrently on this task (what `futures::future::join_all` does;
/// the futures borrow the app, so they cannot be spawned).
async fn futures_join_all<F: std::future::Future<Output = Value>>(
    futures: impl IntoIterator<Item = F>,
) -> Vec<Value> {
    use std::task::Poll;
    let mut futures: Vec<_> = futures.into_iter().map(Box::pin).collect();
    let mut results: Vec<Option<Value>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (f, slot) in futures.iter_mut().zip(results.iter_mut()) {
            if slot.is_none() {
                match f.as_mut().poll(cx) {
                    Poll::Ready(v) => *slot = Some(v),
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
    results
        .into_iter()
        .map(|r| r.expect("every future finished"))
        .collect()
}
