//! Job sessions and task sessions (resources/job-sessions.md): snapshots of
//! every representation at the moment of the examples, reviewed against them,
//! the roles and ids of §1, and a job's whole life on the manual clock
//! (jobs-domain.md §2–6).

use entman_model::auth::{Account, Role};
use entman_model::ids::AccountId;
use entman_model::Timestamp;
use entman_testkit::fixture::ids;
use entman_testkit::{pretty_json, spawn, Options, Seed, TestApp, TestDb};
use insta::assert_snapshot;
use reqwest::Method;
use serde_json::Value;

/// The fixture with the clock standing at the moment of job-sessions.md's
/// examples (the running session at `Progress` 21).
async fn at_run_moment() -> TestApp {
    let config = entman_http::HttpConfig {
        public_base: Some(entman_testkit::SNAPSHOT_BASE.into()),
        ..entman_http::HttpConfig::default()
    };
    spawn(
        TestDb::sqlite(),
        Options {
            seed: Seed::Fixture,
            config,
            manual_clock: Timestamp::parse(ids::RUN_MOMENT),
            ..Options::default()
        },
    )
    .await
}

async fn snap(app: &TestApp, name: &str, path: &str) {
    let logon = app.logon().await;
    let (status, xml) = app.get_text(&logon, path, false).await;
    assert_eq!(status, 200, "GET {path}: {xml}");
    let (status, json) = app.get_text(&logon, path, true).await;
    assert_eq!(status, 200, "GET {path} (JSON): {json}");
    serde_json::from_str::<Value>(&json).expect("valid JSON");
    assert_snapshot!(format!("{name}.xml"), xml);
    assert_snapshot!(format!("{name}.json"), pretty_json(&json));
}

/// §2–6: references, entities and lists of backup and replica sessions and of
/// their task sessions, as the examples print them.
#[tokio::test]
async fn job_session_representations_match_job_sessions_md() {
    let app = at_run_moment().await;
    let run = ids::BACKUP_RUN;
    let running = ids::RUNNING_BACKUP_RUN;
    let replica = ids::REPLICA_RUN;
    snap(&app, "backup_sessions_refs", "/backupSessions").await;
    snap(
        &app,
        "backup_session_ref",
        &format!("/backupSessions/{run}"),
    )
    .await;
    snap(
        &app,
        "backup_session_entity",
        &format!("/backupSessions/{run}?format=Entity"),
    )
    .await;
    snap(
        &app,
        "backup_session_running_entity",
        &format!("/backupSessions/{running}?format=Entity"),
    )
    .await;
    snap(
        &app,
        "backup_sessions_entities",
        "/backupSessions?format=Entity",
    )
    .await;
    snap(
        &app,
        "replica_session_ref",
        &format!("/replicaSessions/{replica}"),
    )
    .await;
    snap(
        &app,
        "replica_session_entity",
        &format!("/replicaSessions/{replica}?format=Entity"),
    )
    .await;
    snap(
        &app,
        "backup_session_tasks_refs",
        &format!("/backupSessions/{run}/taskSessions"),
    )
    .await;
    snap(
        &app,
        "backup_session_tasks_entities",
        &format!("/backupSessions/{run}/taskSessions?format=Entity"),
    )
    .await;
    snap(
        &app,
        "backup_task_ref",
        &format!("/backupTaskSessions/{}", ids::BACKUP_RUN_TASK),
    )
    .await;
    snap(
        &app,
        "backup_task_entity",
        &format!("/backupTaskSessions/{}?format=Entity", ids::BACKUP_RUN_TASK),
    )
    .await;
    snap(
        &app,
        "replica_session_tasks_entities",
        &format!("/replicaSessions/{replica}/replicaTaskSessions?format=Entity"),
    )
    .await;
    snap(
        &app,
        "replica_task_ref",
        &format!("/replicaTaskSessions/{}", ids::REPLICA_RUN_TASK),
    )
    .await;
}

async fn json(app: &TestApp, logon: &entman_testkit::Logon, path: &str) -> Value {
    let (status, text) = app.get_text(logon, path, true).await;
    assert_eq!(status, 200, "GET {path}: {text}");
    serde_json::from_str(&text).expect("JSON")
}

fn uids(list: &Value, key: &str) -> Vec<String> {
    list[key]
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|i| i["UID"].as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// §1: lists hold the runs of the kind, in the 30-day window, in creation order;
/// a job's list of the other kind is empty; both task lists; the typo aliases;
/// URN ids; ids of the other kind and unknown ids are 404.
#[tokio::test]
async fn lists_windows_ids_and_aliases_follow_section_1() {
    let app = at_run_moment().await;
    let logon = app.logon().await;
    let backup = json(&app, &logon, "/backupSessions").await;
    assert_eq!(
        uids(&backup, "Refs"),
        vec![
            format!("urn:veeam:BackupJobSession:{}", ids::BACKUP_RUN),
            format!("urn:veeam:BackupJobSession:{}", ids::RUNNING_BACKUP_RUN),
        ]
    );
    let replica = json(&app, &logon, "/replicaSessions").await;
    assert_eq!(uids(&replica, "Refs").len(), 1);
    let of_job = json(
        &app,
        &logon,
        &format!("/jobs/{}/backupSessions", ids::BACKUP_JOB),
    )
    .await;
    assert_eq!(uids(&of_job, "Refs").len(), 2);
    let other_kind = json(
        &app,
        &logon,
        &format!("/jobs/{}/backupSessions", ids::REPLICA_JOB),
    )
    .await;
    assert_eq!(other_kind["Refs"], Value::Null, "an empty list is null");
    let tasks = json(&app, &logon, "/backupTaskSessions?format=Entity").await;
    let names: Vec<&str> = tasks["BackupTaskSessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["Name"].as_str().unwrap())
        .collect();
    // The running run's srv05 is still pending, but its task session exists.
    assert_eq!(
        names,
        vec![
            "srv04@2026-06-22 22:00:48",
            "srv05@2026-06-22 22:00:48",
            "srv04@2026-06-23 22:00:47",
            "srv05@2026-06-23 22:00:47",
        ]
    );
    let pending = &tasks["BackupTaskSessions"][3];
    assert_eq!(pending["State"], "Pending");
    assert_eq!(pending["TotalSize"], 0);
    assert!(pending.get("EndTimeUTC").is_none());
    // The typo spelling of the documentation's replication examples.
    let alias = json(
        &app,
        &logon,
        &format!("/replicaSessions/{}/repicaTaskSessions", ids::REPLICA_RUN),
    )
    .await;
    assert_eq!(uids(&alias, "Refs").len(), 1);
    let (status, _) = app
        .get_text(
            &logon,
            &format!("/repicaTaskSessions/{}", ids::REPLICA_RUN_TASK),
            true,
        )
        .await;
    assert_eq!(status, 200);
    // URN ids of the right type, 404 for another type or another kind.
    let urn = format!(
        "/backupSessions/urn:veeam:BackupJobSession:{}",
        ids::BACKUP_RUN
    );
    assert_eq!(app.get_text(&logon, &urn, true).await.0, 200);
    for path in [
        format!(
            "/backupSessions/urn:veeam:ReplicaJobSession:{}",
            ids::BACKUP_RUN
        ),
        format!("/backupSessions/{}", ids::REPLICA_RUN),
        format!("/replicaSessions/{}", ids::BACKUP_RUN),
        format!("/backupTaskSessions/{}", ids::REPLICA_RUN_TASK),
        "/backupSessions/00000000-0000-0000-0000-000000000000".to_string(),
        "/backupSessions/not-a-guid".to_string(),
    ] {
        let (status, body) = app.get_text(&logon, &path, false).await;
        assert_eq!(status, 404, "{path}: {body}");
        assert!(body.contains("<Error"), "{body}");
    }
    let (status, _, _) = app
        .send(
            Some(&logon),
            Method::POST,
            &format!("/replicaSessions/{}", ids::REPLICA_RUN),
            None,
            Vec::new(),
            false,
        )
        .await;
    assert_eq!(status, 405, "replica sessions have no action");
}

/// §1 roles: Portal User reads sessions but may not stop them, nor read a job's
/// lists; restore operators and tenants get 403.
#[tokio::test]
async fn roles_of_section_1() {
    let app = at_run_moment().await;
    for (name, role) in [
        ("portaluser", Role::PortalUser),
        ("restoreop", Role::VmRestoreOperator),
    ] {
        app.store
            .upsert_account(&Account {
                id: AccountId::new_random(),
                name: name.into(),
                password_hash: entman_http::password::hash("Secret1!"),
                roles: vec![role],
            })
            .await
            .unwrap();
    }
    let user = app.logon_as("portaluser", "Secret1!").await;
    assert_eq!(app.get_text(&user, "/backupSessions", true).await.0, 200);
    assert_eq!(
        app.get_text(&user, "/replicaTaskSessions", true).await.0,
        200
    );
    let entity = json(
        &app,
        &user,
        &format!("/backupSessions/{}?format=Entity", ids::RUNNING_BACKUP_RUN),
    )
    .await;
    assert!(
        !entity["Links"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["Rel"] == "Stop"),
        "no Stop link for a role that may not stop"
    );
    let path = format!("/backupSessions/{}?action=stop", ids::RUNNING_BACKUP_RUN);
    let (status, _, _) = app
        .send(Some(&user), Method::POST, &path, None, Vec::new(), false)
        .await;
    assert_eq!(status, 403);
    let job_list = format!("/jobs/{}/backupSessions", ids::BACKUP_JOB);
    assert_eq!(app.get_text(&user, &job_list, true).await.0, 403);
    let operator = app.logon_as("restoreop", "Secret1!").await;
    assert_eq!(
        app.get_text(&operator, "/backupSessions", true).await.0,
        403
    );
    let tenant = app
        .logon_tenant(serde_json::json!({"TenantCredentials": {"Username": "ABC Company", "Password": "Qwe123"}}))
        .await;
    assert_eq!(
        app.get_text(&tenant, "/backupTaskSessions", true).await.0,
        403
    );
}

/// A task's `Result` and message from a 202 answer: the stored task, read back.
async fn task_result(app: &TestApp, logon: &entman_testkit::Logon, answer: &str) -> (bool, String) {
    let task: Value = serde_json::from_str(answer).expect("task JSON");
    let href = task["Href"].as_str().expect("task href");
    // Links carry the snapshot base of the fixture; the test server is elsewhere.
    let href = href
        .strip_prefix(&format!("{}/api", entman_testkit::SNAPSHOT_BASE))
        .unwrap_or(href)
        .to_string();
    let stored = json(app, logon, &href).await;
    (
        stored["Result"]["Success"].as_bool().unwrap_or(false),
        stored["Result"]["Message"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    )
}

async fn post(app: &TestApp, logon: &entman_testkit::Logon, path: &str) -> (bool, String) {
    let (status, _, body) = app
        .send(Some(logon), Method::POST, path, None, Vec::new(), true)
        .await;
    assert_eq!(status, 202, "POST {path}: {body}");
    task_result(app, logon, &body).await
}

/// Moves the manual clock and lets the engine act on it.
async fn advance(app: &TestApp, seconds: i64) {
    let now = app
        .engine
        .clock()
        .advance(seconds * 1_000_000)
        .expect("manual clock");
    app.engine.advance_to(now).await.expect("advance");
}

fn job_id_of(jobs: &Value, name: &str) -> String {
    let job = jobs["Refs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["Name"] == name)
        .unwrap_or_else(|| panic!("job {name}"));
    id_of(job)
}

/// The GUID of an object's UID.
fn id_of(object: &Value) -> String {
    let uid = object["UID"].as_str().expect("a UID");
    uid.rsplit(':').next().unwrap_or(uid).to_string()
}

/// jobs-domain.md §2–6 on the demo world and the manual clock: a scheduled
/// run with a failed VM, its automatic retry of that VM, a run started by hand,
/// its refusals, a stop and a manual retry.
#[tokio::test]
async fn a_job_runs_on_schedule_retries_and_stops() {
    // A Monday, a minute before the gateway job's 23:30 (UTC+1) schedule.
    let app = spawn(
        TestDb::sqlite(),
        Options {
            seed: Seed::Demo,
            time_scale: 1.0,
            schedules: true,
            manual_clock: Timestamp::parse("2026-06-22T22:29:00Z"),
            ..Options::default()
        },
    )
    .await;
    let logon = app.logon().await;
    let jobs = json(&app, &logon, "/jobs").await;
    let job = job_id_of(&jobs, "Gateway Backup");
    let sessions = format!("/jobs/{job}/backupSessions?format=Entity");
    // The generated history ([jobs_history]): every run over, each weekday's
    // scheduled run failing on cg02 and retried.
    let history = json(&app, &logon, &sessions).await;
    let history = history["BackupJobSessions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(history.len() >= 15, "{} past runs", history.len());
    assert!(history.iter().all(|r| r["State"] == "Stopped"));
    assert!(history.iter().any(|r| r["IsRetry"] == true));
    let before = history.len();
    let nth = |list: &Value, i: usize| list["BackupJobSessions"][before + i].clone();

    // 22:30:00Z: the scheduled run starts.
    advance(&app, 61).await;
    let list = json(&app, &logon, &sessions).await;
    let run = &nth(&list, 0);
    assert_eq!(run["State"], "Starting");
    assert_eq!(run["Result"], "None");
    assert_eq!(run["IsRetry"], false);
    assert_eq!(run["CreationTimeUTC"], "2026-06-22T22:30:00Z");
    assert_eq!(run["Name"], "Gateway Backup@2026-06-22 22:30:00");
    let run_id = id_of(run);

    // Start-up (45 s), cg02 fails after 55 s, cg01 takes 240 s, finalize 4 s.
    advance(&app, 100).await;
    let run = json(
        &app,
        &logon,
        &format!("/backupSessions/{run_id}?format=Entity"),
    )
    .await;
    assert_eq!(run["State"], "Working");
    let tasks = json(
        &app,
        &logon,
        &format!("/backupSessions/{run_id}/taskSessions?format=Entity"),
    )
    .await;
    let tasks = tasks["BackupTaskSessions"].as_array().unwrap().clone();
    assert_eq!(tasks.len(), 2);
    assert_eq!(tasks[0]["State"], "InProgress");
    assert_eq!(tasks[1]["State"], "Completed");
    assert_eq!(tasks[1]["Result"], "Failed");
    assert_eq!(
        tasks[1]["Reason"],
        "Processing cg02 Error: Cannot create snapshot."
    );
    assert_eq!(tasks[1]["TotalSize"], 0);
    advance(&app, 240).await;
    let run = json(
        &app,
        &logon,
        &format!("/backupSessions/{run_id}?format=Entity"),
    )
    .await;
    assert_eq!(run["State"], "Stopped");
    assert_eq!(run["Result"], "Failed");
    assert_eq!(run["Progress"], 100);
    assert_eq!(run["EndTimeUTC"], "2026-06-22T22:34:49Z");
    let related = run["Links"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["Rel"] == "Related")
        .count();
    assert_eq!(related, 1, "one point: cg01's");

    // The automatic retry, 15 minutes after the failed run: cg02 only, succeeds.
    advance(&app, 15 * 60).await;
    let list = json(&app, &logon, &sessions).await;
    let runs = list["BackupJobSessions"].as_array().unwrap();
    assert_eq!(runs.len(), before + 2);
    let retry = nth(&list, 1);
    assert_eq!(retry["IsRetry"], true);
    assert_eq!(retry["CreationTimeUTC"], "2026-06-22T22:49:49Z");
    let retry_id = id_of(&retry);
    advance(&app, 600).await;
    let retry = json(
        &app,
        &logon,
        &format!("/backupSessions/{retry_id}?format=Entity"),
    )
    .await;
    assert_eq!(retry["Result"], "Success");
    let retry_tasks = json(
        &app,
        &logon,
        &format!("/backupSessions/{retry_id}/taskSessions"),
    )
    .await;
    assert_eq!(uids(&retry_tasks, "Refs").len(), 1);

    // By hand: start, a second start refused, stop, the session stops failed.
    let (ok, message) = post(&app, &logon, &format!("/jobs/{job}?action=start")).await;
    assert!(ok, "{message}");
    assert_eq!(message, "Job \"Gateway Backup\" triggered to start.");
    let (ok, message) = post(&app, &logon, &format!("/jobs/{job}?action=start")).await;
    assert!(!ok);
    assert_eq!(message, "Job \"Gateway Backup\" is already running.");
    let (ok, message) = post(&app, &logon, &format!("/jobs/{job}?action=retry")).await;
    assert!(!ok, "{message}");
    advance(&app, 60).await;
    let (ok, message) = post(&app, &logon, &format!("/jobs/{job}?action=stop")).await;
    assert!(ok, "{message}");
    assert_eq!(message, "Job \"Gateway Backup\" triggered to stop.");
    let list = json(&app, &logon, &sessions).await;
    let manual = nth(&list, 2);
    assert_eq!(manual["State"], "Stopping");
    let manual_id = id_of(&manual);
    advance(&app, 10).await;
    let manual = json(
        &app,
        &logon,
        &format!("/backupSessions/{manual_id}?format=Entity"),
    )
    .await;
    assert_eq!(manual["State"], "Stopped");
    assert_eq!(manual["Result"], "Failed");
    let tasks = json(
        &app,
        &logon,
        &format!("/backupSessions/{manual_id}/taskSessions?format=Entity"),
    )
    .await;
    for task in tasks["BackupTaskSessions"].as_array().unwrap() {
        assert_eq!(task["Reason"], "Job has been stopped by user.");
        assert_eq!(task["Result"], "Failed");
    }
    let (ok, message) = post(
        &app,
        &logon,
        &format!("/backupSessions/{manual_id}?action=stop"),
    )
    .await;
    assert!(!ok);
    assert_eq!(
        message,
        format!(
            "Job session \"{}\" is not running.",
            manual["Name"].as_str().unwrap()
        )
    );
    // A stopped run failed: it may be retried by hand, and is not retried automatically.
    let (ok, message) = post(&app, &logon, &format!("/jobs/{job}?action=retry")).await;
    assert!(ok, "{message}");
    assert_eq!(message, "Job \"Gateway Backup\" triggered to retry.");
    let list = json(&app, &logon, &sessions).await;
    assert_eq!(nth(&list, 3)["IsRetry"], true);
    // Copy jobs sync, other jobs start.
    let copy = job_id_of(&jobs, "Infrastructure Backup Copy");
    let (ok, message) = post(&app, &logon, &format!("/jobs/{copy}?action=start")).await;
    assert!(!ok);
    assert!(message.contains("Use the sync action"), "{message}");
    let (ok, message) = post(&app, &logon, &format!("/jobs/{job}?action=sync")).await;
    assert!(!ok);
    assert_eq!(message, "Job \"Gateway Backup\" is not a backup copy job.");
}

/// A disabled job refuses runs; a missing action on a backup session is 400.
#[tokio::test]
async fn a_disabled_job_refuses_to_run() {
    let app = at_run_moment().await;
    let logon = app.logon().await;
    let job = ids::REPLICA_JOB;
    let (ok, _) = post(
        &app,
        &logon,
        &format!("/jobs/{job}?action=toggleScheduleEnabled"),
    )
    .await;
    assert!(ok);
    let (ok, message) = post(&app, &logon, &format!("/jobs/{job}?action=start")).await;
    assert!(!ok);
    assert_eq!(message, "Job \"Fileserver02 Replication\" is disabled.");
    let (status, _, body) = app
        .send(
            Some(&logon),
            Method::POST,
            &format!("/backupSessions/{}", ids::RUNNING_BACKUP_RUN),
            None,
            Vec::new(),
            false,
        )
        .await;
    assert_eq!(status, 400, "{body}");
}

/// §3 and §5.2 from an EM 13 generation server: camelCase keys, microsecond
/// times, names with the fraction, restore point names in the ISO form.
#[tokio::test]
async fn em13_sessions_carry_microseconds_and_names_with_fractions() {
    let config = entman_http::HttpConfig {
        public_base: Some(entman_testkit::SNAPSHOT_BASE.into()),
        json_style: entman_repr::JsonStyle::Em13,
        ..entman_http::HttpConfig::default()
    };
    let app = spawn(
        TestDb::sqlite(),
        Options {
            seed: Seed::Fixture,
            config,
            manual_clock: Timestamp::parse(ids::RUN_MOMENT),
            ..Options::default()
        },
    )
    .await;
    let logon = app.logon().await;
    for (name, path) in [
        (
            "em13_backup_session_entity",
            format!("/backupSessions/{}?format=Entity", ids::BACKUP_RUN),
        ),
        (
            "em13_backup_session_tasks",
            format!(
                "/backupSessions/{}/taskSessions?format=Entity",
                ids::BACKUP_RUN
            ),
        ),
    ] {
        let (status, json) = app.get_text(&logon, &path, true).await;
        assert_eq!(status, 200, "{json}");
        assert_snapshot!(name, pretty_json(&json));
    }
}

/// The fixture with the clock at `at` (an instant of job-sessions.md's examples).
async fn fixture_at(at: &str) -> TestApp {
    let config = entman_http::HttpConfig {
        public_base: Some(entman_testkit::SNAPSHOT_BASE.into()),
        ..entman_http::HttpConfig::default()
    };
    spawn(
        TestDb::sqlite(),
        Options {
            seed: Seed::Fixture,
            config,
            manual_clock: Timestamp::parse(at),
            ..Options::default()
        },
    )
    .await
}

/// §8.3: the examples of the four query types, as the clients send them.
#[tokio::test]
async fn the_session_query_types_answer_the_examples_of_section_8() {
    // "Sent on 2026-06-23 at 08:00Z, before that evening's run."
    let morning = fixture_at("2026-06-23T08:00:00Z").await;
    snap(
        &morning,
        "query_backup_job_sessions",
        "/query?type=BackupJobSession&format=Entities&filter=CreationTime%3E%3D%222026-06-22T00%3A00%3A00%22",
    )
    .await;
    let app = at_run_moment().await;
    snap(
        &app,
        "query_last_session_of_a_job",
        "/query?type=BackupJobSession&sortDesc=EndTime&pageSize=1&format=entities&filter=JobName%3D%3D%22Fileserver+Backup%22",
    )
    .await;
    snap(
        &app,
        "query_replica_sessions",
        "/query?type=ReplicaJobSession&format=Entities&filter=JobName%3D%3D%22Fileserver02+Replication%22%3BResult%3D%3DSuccess",
    )
    .await;
    snap(
        &app,
        "query_backup_task_sessions",
        "/query?type=BackupTaskSession&format=Entities&filter=CreationTime>=\"2026-06-22T00:00:00\"",
    )
    .await;
}

/// §8.1–8.2: every field filters and sorts; the clients' requests work; fields
/// that are not query fields are 400; the roles of §1.
#[tokio::test]
async fn session_query_fields_filters_sorts_and_roles() {
    let app = at_run_moment().await;
    let logon = app.logon().await;
    let names = |v: &Value, list: &str| -> Vec<String> {
        v["Entities"][list][list]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|i| i["Name"].as_str().unwrap().to_string())
                    .collect()
            })
            .unwrap_or_default()
    };
    let q = |s: &str| format!("/query?format=Entities&{s}");
    let count = |v: &Value| v["PagingInfo"]["PagesCount"].clone();
    // Default order: CreationTime ascending.
    let all = json(&app, &logon, &q("type=BackupJobSession")).await;
    assert_eq!(
        names(&all, "BackupJobSessions"),
        vec![
            "Fileserver Backup@2026-06-22 22:00:03",
            "Fileserver Backup@2026-06-23 22:00:02"
        ]
    );
    for (filter, expected) in [
        ("State==Working", 1),
        ("State==Stopped", 1),
        ("Result==None", 1),
        ("Result==Warning", 1),
        ("Result==Failed,Result==Warning", 1),
        ("IsRetry==false", 2),
        ("JobType==Backup", 2),
        ("JobType==BackupCopy", 0),
        ("BackupServerName==\"srv13.tech.local\"", 2),
        ("CreationTime>=\"2026-06-23T00:00:00Z\"", 1),
        ("EndTime<\"2026-06-23T00:00:00Z\"", 1),
        (&format!("JobUid==\"urn:veeam:Job:{}\"", ids::BACKUP_JOB), 2),
        (
            &format!("UID==\"urn:veeam:BackupJobSession:{}\"", ids::BACKUP_RUN),
            1,
        ),
    ] {
        let v = json(
            &app,
            &logon,
            &q(&format!("type=BackupJobSession&pageSize=1&filter={filter}")),
        )
        .await;
        let n = v["PagingInfo"]["PagesCount"].as_u64().unwrap();
        let shown = names(&v, "BackupJobSessions").len();
        assert_eq!(
            (shown, n.max(1)),
            (expected.min(1), (expected as u64).max(1)),
            "{filter}"
        );
    }
    // sortDesc=EndTime puts the running run last.
    let v = json(&app, &logon, &q("type=BackupJobSession&sortDesc=EndTime")).await;
    assert_eq!(
        names(&v, "BackupJobSessions")[0],
        "Fileserver Backup@2026-06-22 22:00:03"
    );
    // Task sessions: veeam-em's request, and a filter on the VM.
    let v = json(
        &app,
        &logon,
        &q("type=BackupTaskSession&pageSize=2000&sortDesc=CreationTime&page=1"),
    )
    .await;
    assert_eq!(
        names(&v, "BackupTaskSessions"),
        vec![
            "srv05@2026-06-23 22:00:47",
            "srv04@2026-06-23 22:00:47",
            "srv05@2026-06-22 22:00:48",
            "srv04@2026-06-22 22:00:48",
        ]
    );
    for (filter, expected) in [
        ("Result==Warning;VmDisplayName==srv05", 1),
        ("State==Pending", 1),
        ("State==InProgress", 1),
        ("TotalSize>0", 3),
        ("Reason==\"\"", 3),
        (
            &format!(
                "JobSessionUid==\"urn:veeam:BackupJobSession:{}\"",
                ids::BACKUP_RUN
            ),
            2,
        ),
        ("JobName==\"Fileserver Backup\"", 4),
    ] {
        let v = json(
            &app,
            &logon,
            &q(&format!("type=BackupTaskSession&filter={filter}")),
        )
        .await;
        assert_eq!(names(&v, "BackupTaskSessions").len(), expected, "{filter}");
        assert_eq!(count(&v), 1);
    }
    let v = json(
        &app,
        &logon,
        &q("type=ReplicaTaskSession&filter=Result==Success;VmDisplayName==srv06"),
    )
    .await;
    assert_eq!(
        names(&v, "ReplicaTaskSessions"),
        vec!["srv06@2026-06-22 06:47:16"]
    );
    for path in [
        "/query?type=BackupJobSession&filter=Progress==100",
        "/query?type=BackupTaskSession&filter=VmUid==x",
        "/query?type=ReplicaJobSession&filter=JobType==Backup",
    ] {
        let (status, body) = app.get_text(&logon, path, false).await;
        assert_eq!(status, 400, "{path}: {body}");
    }
    let tenant = app
        .logon_tenant(serde_json::json!({"TenantCredentials": {"Username": "ABC Company", "Password": "Qwe123"}}))
        .await;
    assert_eq!(
        app.get_text(&tenant, "/query?type=BackupTaskSession", true)
            .await
            .0,
        403
    );
}

/// A control call as the administrator (the logon session's header).
async fn control(
    app: &TestApp,
    logon: &entman_testkit::Logon,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let (status, _, text) = app
        .send(
            Some(logon),
            method,
            &format!("{}{path}", app.address),
            body.as_ref().map(|_| "application/json"),
            body.map(|b| b.to_string().into_bytes()).unwrap_or_default(),
            true,
        )
        .await;
    let value = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("{path}: not JSON: {text}"))
    };
    (status, value)
}

/// controls.md "Jobs (slice 2)": progression, VM outcomes, step, run now, the
/// manual clock driving a schedule, and a reset that forgets the controls.
#[tokio::test]
async fn the_controls_drive_jobs_and_their_runs() {
    let app = spawn(
        TestDb::sqlite(),
        Options {
            seed: Seed::Demo,
            time_scale: 1.0,
            schedules: true,
            // A Monday noon: the gateway job next runs at 22:30Z.
            manual_clock: Timestamp::parse("2026-06-22T12:00:00Z"),
            ..Options::default()
        },
    )
    .await;
    let mut logon = app.logon().await;
    let jobs = json(&app, &logon, "/jobs").await;
    let job = job_id_of(&jobs, "Gateway Backup");
    let sessions = format!("/jobs/{job}/backupSessions?format=Entity");
    let count = |list: &Value| list["BackupJobSessions"].as_array().map_or(0, Vec::len);
    let before = count(&json(&app, &logon, &sessions).await);

    // Manual progression: VMs end only by step.
    let (status, _) = control(
        &app,
        &logon,
        Method::PUT,
        &format!("/_entman/jobs/{job}/progression"),
        Some(serde_json::json!({"mode": "manual"})),
    )
    .await;
    assert_eq!(status, 204);
    let (ok, _) = post(&app, &logon, &format!("/jobs/{job}?action=start")).await;
    assert!(ok);
    let list = json(&app, &logon, &sessions).await;
    let run = list["BackupJobSessions"][before].clone();
    let run_id = id_of(&run);
    let step = format!("/_entman/jobSessions/{run_id}/step");
    let (status, stepped) = control(
        &app,
        &logon,
        Method::POST,
        &step,
        Some(serde_json::json!({"vms": 1})),
    )
    .await;
    assert_eq!(status, 200, "{stepped}");
    assert_eq!(stepped["State"], "Working");
    assert_eq!(stepped["UID"], run["UID"]);
    advance_by_control(&app, &logon, 3600).await;
    logon = app.logon().await; // idle logons expire as the clock moves
    let still = json(
        &app,
        &logon,
        &format!("/backupSessions/{run_id}?format=Entity"),
    )
    .await;
    assert_eq!(
        still["State"], "Working",
        "an hour later the manual run still waits"
    );
    let (status, ended) = control(
        &app,
        &logon,
        Method::POST,
        &step,
        Some(serde_json::json!({"toEnd": true})),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(ended["State"], "Working", "finalizing");
    advance_by_control(&app, &logon, 5).await;
    logon = app.logon().await; // idle logons expire as the clock moves
    let done = json(
        &app,
        &logon,
        &format!("/backupSessions/{run_id}?format=Entity"),
    )
    .await;
    assert_eq!(done["State"], "Stopped");
    assert_eq!(
        done["Result"], "Failed",
        "cg02 fails its first attempt, as the world says"
    );
    let (status, _) = control(&app, &logon, Method::POST, &step, None).await;
    assert_eq!(status, 409, "a finished run does not step");
    let (status, _) = control(
        &app,
        &logon,
        Method::POST,
        "/_entman/jobSessions/00000000-0000-0000-0000-000000000001/step",
        None,
    )
    .await;
    assert_eq!(status, 404);

    // An outcome for cg02 and immediate progression: the next run is over at once.
    let outcome = format!("/_entman/jobs/{job}/vms/CG02/outcome");
    let (status, _) = control(&app, &logon, Method::PUT, &outcome, Some(serde_json::json!({"result": "Warning", "message": "Processing cg02 Warning: low space.", "totalSizeBytes": 1234}))).await;
    assert_eq!(status, 204);
    let (status, body) = control(
        &app,
        &logon,
        Method::PUT,
        &format!("/_entman/jobs/{job}/vms/nope/outcome"),
        Some(serde_json::json!({"result": "Warning"})),
    )
    .await;
    assert_eq!(status, 404, "{body}");
    let (status, _) = control(
        &app,
        &logon,
        Method::PUT,
        &outcome,
        Some(serde_json::json!({"result": "Maybe"})),
    )
    .await;
    assert_eq!(status, 400);
    let (status, _) = control(
        &app,
        &logon,
        Method::PUT,
        &format!("/_entman/jobs/{job}/progression"),
        Some(serde_json::json!({"mode": "immediate"})),
    )
    .await;
    assert_eq!(status, 204);
    let (status, now_run) = control(
        &app,
        &logon,
        Method::POST,
        &format!("/_entman/jobs/{job}/run"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{now_run}");
    assert_eq!(now_run["State"], "Stopped");
    assert_eq!(now_run["Result"], "Warning");
    assert_eq!(now_run["IsRetry"], false);
    let tasks = json(
        &app,
        &logon,
        &format!(
            "/backupSessions/{}/taskSessions?format=Entity",
            id_of(&now_run)
        ),
    )
    .await;
    let cg02 = &tasks["BackupTaskSessions"][1];
    assert_eq!(cg02["Reason"], "Processing cg02 Warning: low space.");
    assert_eq!(cg02["TotalSize"], 1234);
    let (status, _) = control(&app, &logon, Method::DELETE, &outcome, None).await;
    assert_eq!(status, 204);
    let (status, _) = control(&app, &logon, Method::DELETE, &outcome, None).await;
    assert_eq!(status, 404);

    // Back to timed: the manual clock passing 22:30Z starts the scheduled run.
    let (status, _) = control(
        &app,
        &logon,
        Method::PUT,
        &format!("/_entman/jobs/{job}/progression"),
        Some(serde_json::json!({"mode": "timed"})),
    )
    .await;
    assert_eq!(status, 204);
    let runs = count(&json(&app, &logon, &sessions).await);
    // 13:00:05 + 9 h 30 min: five seconds past the 22:30Z schedule.
    advance_by_control(&app, &logon, 9 * 3600 + 30 * 60).await;
    logon = app.logon().await; // idle logons expire as the clock moves
    let list = json(&app, &logon, &sessions).await;
    assert_eq!(count(&list), runs + 1);
    let scheduled = list["BackupJobSessions"][runs].clone();
    assert_eq!(scheduled["CreationTimeUTC"], "2026-06-22T22:30:00Z");
    assert_eq!(scheduled["State"], "Starting");

    // A reset forgets the controls (and the runs since the load).
    let (status, _) = control(
        &app,
        &logon,
        Method::PUT,
        &format!("/_entman/jobs/{job}/progression"),
        Some(serde_json::json!({"mode": "immediate"})),
    )
    .await;
    assert_eq!(status, 204);
    let (status, _) = control(&app, &logon, Method::POST, "/_entman/reset", None).await;
    assert_eq!(status, 204);
    logon = app.logon().await;
    let (ok, message) = post(&app, &logon, &format!("/jobs/{job}?action=start")).await;
    assert!(ok, "{message}");
    let list = json(&app, &logon, &sessions).await;
    let runs = list["BackupJobSessions"].as_array().unwrap();
    assert_eq!(
        runs.len(),
        1,
        "only the new run: no catching up on schedules: {:?}",
        runs.iter()
            .map(|r| (r["Name"].clone(), r["IsRetry"].clone()))
            .collect::<Vec<_>>()
    );
    assert_eq!(runs[0]["State"], "Starting", "timed again after the reset");
}

/// Moves the manual clock through the control API (the engine has acted before it answers).
async fn advance_by_control(app: &TestApp, logon: &entman_testkit::Logon, seconds: u64) {
    let (status, body) = control(
        app,
        logon,
        Method::POST,
        "/_entman/clock/advance",
        Some(serde_json::json!({ "seconds": seconds })),
    )
    .await;
    assert_eq!(status, 200, "{body}");
}
