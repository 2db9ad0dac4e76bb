//! The store story: one sequence of Store calls run against every configured
//! backend (SQLite always, PostgreSQL when `ENTMAN_TEST_DATABASE_URL` is set), so
//! both implementations keep the same promises.

use entman_model::auth::{LogonSession, Principal};
use entman_model::ids::*;
use entman_model::plan::PlanState;
use entman_model::task::{Operation, Task, TaskState};
use entman_model::Timestamp;
use entman_store::prelude::*;
use entman_store::{Scope, StoreError};
use entman_store_sql::SqlStore;
use entman_testkit::fixture::{self, ids};
use entman_testkit::{backends, TestDb};

async fn store_on(db: &TestDb) -> SqlStore {
    let store = SqlStore::connect(&db.url()).await.unwrap();
    fixture::load(&store).await;
    store
}

#[tokio::test]
async fn servers_are_unique_by_name_and_deleting_one_removes_everything_below_it() {
    for db in backends().await {
        let store = store_on(&db).await;
        let mut server = store.list_servers().await.unwrap().remove(0);
        let mut twin = server.clone();
        twin.id = BackupServerId::new_random();
        twin.name = server.name.to_uppercase();
        assert!(
            matches!(
                store.insert_server(&twin, None).await,
                Err(StoreError::Conflict(_))
            ),
            "{}",
            db.label()
        );
        server.description = "changed".into();
        store.update_server(&server, Some("hash")).await.unwrap();
        assert_eq!(
            store.get_server(server.id).await.unwrap().description,
            "changed"
        );
        store.delete_server(server.id).await.unwrap();
        assert!(store.list_tenants().await.unwrap().is_empty());
        assert!(store.list_plans(Scope::All).await.unwrap().is_empty());
        assert!(store
            .list_points(Scope::All, None)
            .await
            .unwrap()
            .is_empty());
        assert!(store
            .list_sessions(Scope::All, None)
            .await
            .unwrap()
            .is_empty());
        assert!(store.list_jobs().await.unwrap().is_empty());
        assert!(matches!(
            store.get_server(server.id).await,
            Err(StoreError::NotFound)
        ));
    }
}

#[tokio::test]
async fn a_tenant_scope_sees_only_the_tenants_objects() {
    for db in backends().await {
        let store = store_on(&db).await;
        let abc = Scope::Tenant(ids::TENANT.parse().unwrap());
        let other = Scope::Tenant(ids::VCLOUD_TENANT.parse().unwrap());
        assert_eq!(store.list_plans(abc).await.unwrap().len(), 1);
        assert!(store.list_plans(other).await.unwrap().is_empty());
        assert!(store.list_replicas(other).await.unwrap().is_empty());
        assert!(store.list_points(other, None).await.unwrap().is_empty());
        assert!(store.list_sessions(other, None).await.unwrap().is_empty());
        let plan: PlanId = ids::PLAN.parse().unwrap();
        assert!(matches!(
            store.get_plan(other, plan).await,
            Err(StoreError::NotFound)
        ));
        let point: PointId = ids::POINT.parse().unwrap();
        assert!(matches!(
            store.get_point(other, point).await,
            Err(StoreError::NotFound)
        ));
        assert!(store.get_point(abc, point).await.is_ok());
    }
}

#[tokio::test]
async fn plan_state_changes_are_conditional() {
    for db in backends().await {
        let store = store_on(&db).await;
        let plan: PlanId = ids::PLAN.parse().unwrap();
        assert!(store
            .try_set_plan_state(plan, PlanState::Ready, PlanState::InFailover)
            .await
            .unwrap());
        assert!(!store
            .try_set_plan_state(plan, PlanState::Ready, PlanState::InFailover)
            .await
            .unwrap());
        assert_eq!(
            store.get_plan(Scope::All, plan).await.unwrap().state,
            PlanState::InFailover
        );
    }
}

#[tokio::test]
async fn sessions_round_trip_and_active_ones_are_found() {
    for db in backends().await {
        let store = store_on(&db).await;
        let id: SessionId = ids::RUNNING_SESSION.parse().unwrap();
        let session = store.get_session(Scope::All, id).await.unwrap();
        assert_eq!(
            store.list_active_sessions().await.unwrap(),
            vec![session.clone()]
        );
        assert_eq!(
            store.active_session_of_plan(session.plan_id).await.unwrap(),
            Some(id)
        );
        let mut changed = session.clone();
        changed.progress = 42;
        changed.tasks[0].progress = 84;
        changed.tasks[0].failure_message = Some("'; DROP TABLE plans; -- \u{1}\u{202e}💣".into());
        store.save_session(&changed).await.unwrap();
        assert_eq!(
            store.get_session(Scope::All, id).await.unwrap(),
            changed,
            "{}",
            db.label()
        );
        let recent = store
            .list_sessions(
                Scope::All,
                Some(Timestamp::parse("2025-06-21T00:00:00Z").unwrap()),
            )
            .await
            .unwrap();
        assert_eq!(
            recent.len(),
            1,
            "only the session of 2025-06-23 is that recent"
        );
    }
}

#[tokio::test]
async fn task_numbers_count_per_logon_session_and_go_with_it() {
    for db in backends().await {
        let store = store_on(&db).await;
        let now = Timestamp::now();
        let logon = |id| LogonSession {
            id,
            user_name: "u".into(),
            principal: Principal::Tenant {
                id: ids::TENANT.parse().unwrap(),
            },
            api_version: "v1_7".into(),
            created: now,
            last_seen: now,
        };
        let (a, b) = (LogonSessionId::new_random(), LogonSessionId::new_random());
        store.insert_logon(&logon(a), "hash-a").await.unwrap();
        store.insert_logon(&logon(b), "hash-b").await.unwrap();
        let task = |l| Task {
            logon_session_id: l,
            number: TaskNumber(0),
            operation: Operation::UndoCloudFailoverPlan,
            state: TaskState::Running,
            outcome: None,
            related_session: None,
            creation_time: now,
        };
        assert_eq!(
            store.insert_task(&task(a)).await.unwrap().number,
            TaskNumber(1)
        );
        assert_eq!(
            store.insert_task(&task(a)).await.unwrap().number,
            TaskNumber(2)
        );
        assert_eq!(
            store.insert_task(&task(b)).await.unwrap().number,
            TaskNumber(1)
        );
        store.delete_task(a, TaskNumber(1)).await.unwrap();
        assert_eq!(
            store.insert_task(&task(a)).await.unwrap().number,
            TaskNumber(3),
            "numbers are never reused"
        );
        let (found, hash) = store.logon_by_token("hash-a").await.unwrap().unwrap();
        assert_eq!((found.id, hash.as_str()), (a, "hash-a"));
        assert_eq!(
            store.purge_idle_logons(now.plus_millis(1)).await.unwrap(),
            2
        );
        assert!(store.list_tasks(a).await.unwrap().is_empty());
        assert!(store.logon_by_token("hash-a").await.unwrap().is_none());
    }
}

#[tokio::test]
async fn jobs_round_trip_sorted_by_name_unique_per_server_and_keep_their_schedule_switch() {
    for db in backends().await {
        let store = store_on(&db).await;
        let jobs = store.list_jobs().await.unwrap();
        let names: Vec<&str> = jobs.iter().map(|j| j.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "Fileserver Backup",
                "Fileserver Backup Copy",
                "Fileserver02 Replication"
            ],
            "{}",
            db.label()
        );
        let id: JobId = ids::BACKUP_JOB.parse().unwrap();
        let job = store.get_job(id).await.unwrap();
        assert_eq!(&job, jobs.iter().find(|j| j.id == id).unwrap());
        assert_eq!(job.vms.len(), 2);
        let mut twin = job.clone();
        twin.id = JobId::new_random();
        twin.name = job.name.to_uppercase();
        assert!(
            matches!(store.insert_job(&twin).await, Err(StoreError::Conflict(_))),
            "{}",
            db.label()
        );
        store.set_job_schedule_enabled(id, false).await.unwrap();
        let off = store.get_job(id).await.unwrap();
        assert!(!off.schedule_enabled);
        assert_eq!(off.next_run(Timestamp::now()), None);
        assert!(matches!(
            store
                .set_job_schedule_enabled(JobId::new_random(), true)
                .await,
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            store.get_job(JobId::new_random()).await,
            Err(StoreError::NotFound)
        ));
        // A snapshot holds the jobs, and one taken before jobs existed restores
        // without them.
        let dump = store.dump(1000).await.unwrap();
        assert!(dump.iter().any(|t| t.name == "jobs" && t.rows.len() == 3));
        store.restore(&dump).await.unwrap();
        assert_eq!(store.list_jobs().await.unwrap().len(), 3);
        let older: Vec<_> = dump
            .into_iter()
            .filter(|t| !t.name.starts_with("job"))
            .collect();
        store.restore(&older).await.unwrap();
        assert!(
            store.list_jobs().await.unwrap().is_empty(),
            "{}",
            db.label()
        );
        store.clear_world(None).await.unwrap();
        assert!(store.list_jobs().await.unwrap().is_empty());
    }
}

#[tokio::test]
async fn job_runs_round_trip_with_their_tasks_and_a_stop_rewrites_them() {
    use entman_model::job_session::SessionKind;
    use entman_store::JobSessionFilter;
    for db in backends().await {
        let store = store_on(&db).await;
        let label = db.label();
        let all = store
            .list_job_sessions(JobSessionFilter::default())
            .await
            .unwrap();
        assert_eq!(all.len(), 3, "{label}");
        assert!(all.windows(2).all(|w| w[0].created <= w[1].created));
        let run: uuid::Uuid = ids::BACKUP_RUN.parse().unwrap();
        let stored = store.get_job_session(run).await.unwrap();
        assert_eq!(&stored, all.iter().find(|s| s.id == run).unwrap());
        assert_eq!(stored.tasks.len(), 2, "{label}");
        assert_eq!(stored.tasks[0].course.vm, 0);
        let task: uuid::Uuid = ids::BACKUP_RUN_TASK.parse().unwrap();
        assert_eq!(store.job_session_of_task(task).await.unwrap().id, run);
        let backup = store
            .list_job_sessions(JobSessionFilter {
                kind: Some(SessionKind::Backup),
                since: Some(stored.created.plus_millis(1)),
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(backup.len(), 1, "{label}: only the later backup run");
        let job = JobId(ids::BACKUP_JOB.parse().unwrap());
        let mut latest = store.latest_job_session(job).await.unwrap().unwrap();
        assert_eq!(latest.id.to_string(), ids::RUNNING_BACKUP_RUN);
        // A stop rewrites the course: tasks end, the run ends sooner.
        let at = latest.tasks_at.plus_millis(60_000);
        assert!(latest.stop(at, 5_000));
        store.update_job_session(&latest).await.unwrap();
        assert_eq!(store.get_job_session(latest.id).await.unwrap(), latest);
        assert!(matches!(
            store.get_job_session(uuid::Uuid::new_v4()).await,
            Err(StoreError::NotFound)
        ));
        assert!(
            matches!(
                store.insert_job_session(&latest).await,
                Err(StoreError::Conflict(_))
            ),
            "{label}: a run is written once"
        );
        // An explicit worker session of the copy job keeps its type and progress.
        let copy = store
            .get_job(JobId(ids::COPY_JOB.parse().unwrap()))
            .await
            .unwrap();
        let source = store.get_job(job).await.unwrap();
        let created = stored.created.plus_millis(-86_400_000);
        let worker = entman_model::job_session::JobSession::explicit(
            entman_model::job_session::ExplicitRun {
                id: uuid::Uuid::new_v4(),
                job: &copy,
                created,
                retry: false,
                worker: true,
                progress: Some(0),
                vms: vec![entman_model::job_session::ExplicitVm {
                    position: 0,
                    vm: &source.vms[0],
                    outcome: entman_model::job::JobOutcome::Success,
                    reason: String::new(),
                    start: created.plus_millis(60_000),
                    end: created.plus_millis(120_000),
                }],
                generation: entman_model::job_session::Generation::Em12,
            },
        );
        store.insert_job_session(&worker).await.unwrap();
        let back = store.get_job_session(worker.id).await.unwrap();
        assert_eq!(back, worker, "{label}");
        assert_eq!(back.job_type_name(), "ImmediateBackupCopyWorker");
        assert_eq!(back.progress(back.end), 0);
        // Deleting the job's server takes its runs with it.
        store.clear_world(None).await.unwrap();
        assert!(store
            .list_job_sessions(JobSessionFilter::default())
            .await
            .unwrap()
            .is_empty());
    }
}
