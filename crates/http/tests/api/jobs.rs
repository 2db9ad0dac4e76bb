//! Jobs and their includes (resources/jobs.md §1–4): snapshots of every
//! representation reviewed against the examples of jobs.md, the roles, path ids
//! and errors of §1.

use chrono::{Duration, Timelike, Utc};
use entman_model::auth::{Account, Role};
use entman_model::ids::AccountId;
use entman_repr::JsonStyle;
use entman_testkit::fixture::ids;
use entman_testkit::{pretty_json, spawn_fixture_app, spawn_fixture_app_styled, TestApp, TestDb};
use insta::assert_snapshot;
use reqwest::Method;

/// The `NextRun` of the fixture's backup job (every day at 22:00 UTC) as of now.
fn next_22_utc() -> String {
    let now = Utc::now();
    let today = now.date_naive().and_hms_opt(22, 0, 0).unwrap().and_utc();
    let next = if now < today {
        today
    } else {
        today + Duration::days(1)
    };
    debug_assert_eq!(next.second(), 0);
    next.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// The answer with today's `NextRun` replaced by the one of the example.
fn as_in_example(text: &str) -> String {
    text.replace(&next_22_utc(), "2026-06-24T22:00:00Z")
}

async fn snap(app: &TestApp, name: &str, path: &str) {
    let logon = app.logon().await;
    let (status, xml) = app.get_text(&logon, path, false).await;
    assert_eq!(status, 200, "GET {path}: {xml}");
    let (status, json) = app.get_text(&logon, path, true).await;
    assert_eq!(status, 200, "GET {path} (JSON): {json}");
    serde_json::from_str::<serde_json::Value>(&json).expect("valid JSON");
    assert_snapshot!(format!("{name}.xml"), as_in_example(&xml));
    assert_snapshot!(format!("{name}.json"), pretty_json(&as_in_example(&json)));
}

/// jobs.md §2 (references and their list), §3.4 (backup and replication job
/// entities), §3.5 (the entity list, with the immediate copy job), §4 (includes).
#[tokio::test]
async fn job_representations_match_jobs_md() {
    let app = spawn_fixture_app(TestDb::sqlite()).await;
    snap(&app, "jobs_refs", "/jobs").await;
    snap(&app, "job_ref", &format!("/jobs/{}", ids::BACKUP_JOB)).await;
    snap(
        &app,
        "job_backup_entity",
        &format!("/jobs/{}?format=Entity", ids::BACKUP_JOB),
    )
    .await;
    snap(
        &app,
        "job_replica_entity",
        &format!("/jobs/{}?format=Entity", ids::REPLICA_JOB),
    )
    .await;
    snap(&app, "jobs_entities", "/jobs?format=Entity").await;
    snap(
        &app,
        "job_includes",
        &format!("/jobs/{}/includes", ids::BACKUP_JOB),
    )
    .await;
    snap(
        &app,
        "job_include",
        &format!("/jobs/{}/includes/{}", ids::BACKUP_JOB, ids::BACKUP_JOB_VM),
    )
    .await;
    snap(
        &app,
        "copy_job_includes",
        &format!("/jobs/{}/includes", ids::COPY_JOB),
    )
    .await;
}

/// json.md J12 on jobs.md §3.4: the EM 13 generation camel-cases every key,
/// `RetrySpecified1` included, and leaves the values alone.
#[tokio::test]
async fn em13_job_entity_uses_camel_case_keys() {
    let app = spawn_fixture_app_styled(TestDb::sqlite(), JsonStyle::Em13).await;
    let logon = app.logon().await;
    let path = format!("/jobs/{}?format=Entity", ids::BACKUP_JOB);
    let (status, json) = app.get_text(&logon, &path, true).await;
    assert_eq!(status, 200, "{json}");
    assert_snapshot!("em13_job_backup_entity", pretty_json(&as_in_example(&json)));
}

/// jobs.md §1: URN path ids and empty path segments (CloudStack's requests),
/// unknown jobs and includes, the out-of-scope verbs, and the roles.
#[tokio::test]
async fn jobs_answer_urn_ids_errors_and_roles_as_jobs_md_1_says() {
    let app = spawn_fixture_app(TestDb::sqlite()).await;
    let admin = app.logon().await;
    let get = |path: String| {
        let app = &app;
        let admin = &admin;
        async move { app.get_text(admin, &path, false).await }
    };
    let by_guid = get(format!("/jobs/{}/includes", ids::BACKUP_JOB)).await;
    let by_urn = get(format!("/jobs/urn:veeam:Job:{}/includes", ids::BACKUP_JOB)).await;
    assert_eq!(by_guid.0, 200);
    assert_eq!(by_urn, by_guid);
    let upper = get(format!("/jobs/{}", ids::BACKUP_JOB.to_uppercase())).await;
    assert_eq!(upper.0, 200, "{}", upper.1);
    assert_eq!(
        get(format!("/jobs/urn:veeam:CloudTenant:{}", ids::BACKUP_JOB))
            .await
            .0,
        404
    );
    let (status, body) = get("/jobs/00000000-0000-0000-0000-000000000001".into()).await;
    assert_eq!(status, 404);
    assert!(body.contains("Job"), "{body}");
    assert_eq!(get("/jobs/not-a-guid".into()).await.0, 404);
    let (status, body) = get(format!(
        "/jobs/{}/includes/00000000-0000-0000-0000-000000000002",
        ids::BACKUP_JOB
    ))
    .await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(
        get(format!("/jobs/{}/includes/x", ids::BACKUP_JOB)).await.0,
        404
    );
    // Out of scope: EM documents them, this server answers 501 with an Error.
    for (method, path) in [
        (
            Method::DELETE,
            format!("/jobs/{}/includes/{}", ids::BACKUP_JOB, ids::BACKUP_JOB_VM),
        ),
        (Method::GET, format!("/jobs/{}/linkedJobs", ids::COPY_JOB)),
    ] {
        let (status, _, body) = app
            .send(Some(&admin), method, &path, None, vec![], false)
            .await;
        assert_eq!(status, 501, "{path}: {body}");
        assert!(body.contains("<Error"), "{body}");
    }
    let (status, _, _) = app
        .send(Some(&admin), Method::PUT, "/jobs", None, vec![], false)
        .await;
    assert_eq!(status, 405);

    // Portal Administrator only: every other role and every tenant gets 403.
    for role in [
        Role::PortalUser,
        Role::VmRestoreOperator,
        Role::SqlRestoreOperator,
    ] {
        let name = format!("TECH\\{role:?}");
        app.store
            .upsert_account(&Account {
                id: AccountId::new_random(),
                name: name.clone(),
                password_hash: entman_http::password::hash("Pass1234"),
                roles: vec![role],
            })
            .await
            .unwrap();
        let logon = app.logon_as(&name, "Pass1234").await;
        for path in [
            "/jobs".to_string(),
            format!("/jobs/{}/includes", ids::BACKUP_JOB),
        ] {
            assert_eq!(
                app.get_text(&logon, &path, false).await.0,
                403,
                "{role:?} {path}"
            );
        }
    }
    let (user, password) = entman_testkit::fixture::TENANT_LOGON;
    let tenant = app
        .logon_tenant(
            serde_json::json!({"TenantCredentials": {"Username": user, "Password": password}}),
        )
        .await;
    assert_eq!(app.get_text(&tenant, "/jobs", false).await.0, 403);
    assert_eq!(
        app.get_text(&tenant, &format!("/jobs/{}", ids::BACKUP_JOB), false)
            .await
            .0,
        403
    );
}

async fn entity_json(
    app: &TestApp,
    logon: &entman_testkit::Logon,
    path: &str,
) -> serde_json::Value {
    let (status, body) = app.get_text(logon, path, true).await;
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

/// jobs.md §5: `toggleScheduleEnabled` answers a Task, flips `ScheduleEnabled`
/// and with it `NextRun` (through the read cache); a missing or unknown action
/// is a 400, the actions that run a job are not there yet (501), and an unknown
/// job is a 404 whatever the action.
#[tokio::test]
async fn toggling_the_schedule_flips_schedule_enabled_and_next_run() {
    let app = spawn_fixture_app(TestDb::sqlite()).await;
    let admin = app.logon().await;
    let entity = format!("/jobs/urn:veeam:Job:{}?format=Entity", ids::BACKUP_JOB);
    let before = entity_json(&app, &admin, &entity).await;
    assert_eq!(before["ScheduleEnabled"], true);
    assert_eq!(before["NextRun"], next_22_utc().as_str());
    let toggle = format!(
        "/jobs/urn:veeam:Job:{}?action=toggleScheduleEnabled",
        ids::BACKUP_JOB
    );
    let (status, _, body) = app
        .send(
            Some(&admin),
            Method::POST,
            &toggle,
            Some("application/xml"),
            vec![],
            false,
        )
        .await;
    assert_eq!(status, 202, "{body}");
    assert!(body.contains("<Operation>UpdateJob</Operation>"), "{body}");
    let task_id = body
        .split("<TaskId>")
        .nth(1)
        .unwrap()
        .split('<')
        .next()
        .unwrap()
        .to_string();
    let (status, task) = app
        .get_text(&admin, &format!("/tasks/{task_id}"), false)
        .await;
    assert_eq!(status, 200);
    assert!(task.contains("<State>Finished</State>"), "{task}");
    assert!(task.contains("Success=\"true\""), "{task}");
    assert!(task.contains("<Message>Ok</Message>"), "{task}");
    let after = entity_json(&app, &admin, &entity).await;
    assert_eq!(after["ScheduleEnabled"], false);
    assert!(after.get("NextRun").is_none(), "{after}");
    assert_eq!(after["ScheduleConfigured"], true);
    let (status, _, _) = app
        .send(Some(&admin), Method::POST, &toggle, None, vec![], false)
        .await;
    assert_eq!(status, 202);
    assert_eq!(
        entity_json(&app, &admin, &entity).await["NextRun"],
        next_22_utc().as_str()
    );

    let job = format!("/jobs/{}", ids::BACKUP_JOB);
    for (query, expected) in [("", 400), ("?action=explode", 400), ("?action=clone", 501)] {
        let (status, _, body) = app
            .send(
                Some(&admin),
                Method::POST,
                &format!("{job}{query}"),
                None,
                vec![],
                false,
            )
            .await;
        assert_eq!(status, expected, "{query}: {body}");
        assert!(body.contains("<Error"), "{body}");
    }
    let (status, _, _) = app
        .send(
            Some(&admin),
            Method::POST,
            "/jobs/00000000-0000-0000-0000-000000000001?action=toggleScheduleEnabled",
            None,
            vec![],
            false,
        )
        .await;
    assert_eq!(status, 404);
}

/// jobs.md §6: `type=Job`, with the filters the Zabbix script sends (ZB-3, ZB-4)
/// and the example of `get_query_job.md`, sorts on every kind of field (the
/// derived `NextRun` included), paging, and the role rule.
#[tokio::test]
async fn the_job_query_type_filters_sorts_and_pages_as_jobs_md_6_says() {
    let app = spawn_fixture_app(TestDb::sqlite()).await;
    let admin = app.logon().await;
    let (status, xml) = app
        .get_text(
            &admin,
            "/query?type=Job&filter=JobType%3D%3DBackup%2CJobType%3D%3DReplica",
            false,
        )
        .await;
    assert_eq!(status, 200, "{xml}");
    assert_snapshot!("query_jobs_refs.xml", xml);
    let names = |query: &str| {
        let (app, admin) = (&app, &admin);
        let query = query.to_string();
        async move {
            let (status, body) = app.get_text(admin, &format!("/query?{query}"), true).await;
            assert_eq!(status, 200, "{query}: {body}");
            let v: serde_json::Value = serde_json::from_str(&body).unwrap();
            let list = &v["Entities"]["Jobs"]["Jobs"];
            list.as_array()
                .map(|items| {
                    items
                        .iter()
                        .map(|j| j["Name"].as_str().unwrap().to_string())
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default()
        }
    };
    // ZB-3: the job discovery, sent encoded by http_build_query.
    assert_eq!(
        names("type=Job&filter=JobType%3D%3DBackup%2CJobType%3D%3DBackupCopy&format=entities")
            .await,
        ["Fileserver Backup"]
    );
    assert_eq!(
        names("type=Job&filter=JobType==Replica&format=entities").await,
        ["Fileserver02 Replication"]
    );
    // get_query_job.md: the `&` ends the filter; `JobType` is an ignored parameter.
    assert!(
        names("type=Job&filter=Platform==vCloud&JobType==Backup&format=entities")
            .await
            .is_empty()
    );
    assert_eq!(
        names("type=Job&filter=Platform==CustomPlatform&format=entities").await,
        ["Fileserver Backup Copy"]
    );
    assert_eq!(
        names("type=Job&filter=ScheduleConfigured==false&format=entities").await,
        ["Fileserver02 Replication"]
    );
    assert_eq!(
        names(&format!("type=Job&filter=BackupServerUid==\"urn:veeam:BackupServer:{}\";ScheduleEnabled==true&format=entities&sortDesc=Name", ids::SERVER)).await,
        ["Fileserver02 Replication", "Fileserver Backup Copy", "Fileserver Backup"]
    );
    // Only the backup job has a NextRun: a range on it, and nulls first ascending.
    let next = next_22_utc();
    assert_eq!(
        names(&format!(
            "type=Job&filter=NextRun>=\"{next}\"&format=entities"
        ))
        .await,
        ["Fileserver Backup"]
    );
    // Ties (both without NextRun) by UID: 2c49a44e… before 5adf6525….
    assert_eq!(
        names("type=Job&format=entities&sortAsc=NextRun").await,
        [
            "Fileserver02 Replication",
            "Fileserver Backup Copy",
            "Fileserver Backup"
        ]
    );
    assert_eq!(
        names("type=Job&format=entities&sortDesc=JobType").await,
        [
            "Fileserver02 Replication",
            "Fileserver Backup Copy",
            "Fileserver Backup"
        ]
    );
    assert_eq!(
        names("type=Job&format=entities&pageSize=2&page=2").await,
        ["Fileserver02 Replication"]
    );
    let (status, body) = app
        .get_text(&admin, "/query?type=Job&filter=Colour==red", false)
        .await;
    assert_eq!(status, 400, "{body}");
    let (user, password) = entman_testkit::fixture::TENANT_LOGON;
    let tenant = app
        .logon_tenant(
            serde_json::json!({"TenantCredentials": {"Username": user, "Password": password}}),
        )
        .await;
    assert_eq!(app.get_text(&tenant, "/query?type=Job", false).await.0, 403);
}
