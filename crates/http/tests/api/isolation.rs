//! Heavy queries never starve the rest (issue 9): while eight clients run the
//! most expensive query shapes without pause, logons, cheap requests and the
//! engine keep working; and a query past its budget ends with EM's `Error`
//! instead of holding on. Speed limits live in the benchmarks
//! (docs/benchmarks.md); these tests check behaviour, with generous bounds.

use super::failover::{act, plan_href, poll_finished, related, START_NOW};
use entman_model::ids::*;
use entman_model::session::*;
use entman_model::Timestamp;
use entman_testkit::{spawn, Options, TestDb};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Sessions of the demo world's first plan, spread over a year.
async fn bulk_sessions(app: &entman_testkit::TestApp, n: usize) {
    let plans = app
        .store
        .list_plans(entman_store::Scope::All)
        .await
        .unwrap();
    let plan = &plans[0];
    let t0 = Timestamp::now().plus_millis(-365 * 86_400_000);
    let sessions: Vec<FailoverSession> = (0..n)
        .map(|i| FailoverSession {
            id: SessionId::new_random(),
            plan_id: plan.id,
            plan_name: plan.name.clone(),
            tenant_id: plan.tenant_id,
            backup_server_id: plan.backup_server_id,
            kind: SessionKind::Start,
            creation_time: t0.plus_millis(i as i64 * 1_500_000),
            end_time: Some(t0.plus_millis(i as i64 * 1_500_000 + 60_000)),
            state: SessionState::Stopped,
            result: if i % 2 == 0 {
                SessionResult::Failed
            } else {
                SessionResult::Success
            },
            progress: 100,
            failure_message: (i % 2 == 0).then(|| format!("No restore point before {i}.")),
            tasks: vec![],
        })
        .collect();
    app.store.save_sessions(&sessions).await.unwrap();
}

/// The shapes that cost the most: middle pages of unselective filters sorted on
/// text, entities, a unique-valued text column; and SQL-path types.
const HEAVY: &[&str] = &[
    "type=CloudFailoverSession&format=Entities&sortAsc=Name&filter=State%21%3DStarting&page=50",
    "type=CloudFailoverSession&format=Entities&sortDesc=FailureMessage&filter=FailureMessage%21%3D%22x%22&page=40",
    "type=CloudFailoverSession&sortDesc=EndTime&filter=BackupServerName%21%3D%22none%22&page=60",
    "type=CloudVmReplicaPoint&format=Entities&filter=BackupServerName%21%3D%22none%22",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heavy_queries_leave_logons_cheap_requests_and_the_engine_their_pace() {
    let app = spawn(TestDb::sqlite(), Options::default()).await;
    bulk_sessions(&app, 20_000).await;
    let admin = app.logon().await;
    let app = Arc::new(app);
    let stop = Arc::new(AtomicBool::new(false));
    let answered = Arc::new(AtomicU64::new(0));
    let mut load = Vec::new();
    for client in 0..8usize {
        let (app, stop, answered) = (app.clone(), stop.clone(), answered.clone());
        let logon = app.logon().await;
        load.push(tokio::spawn(async move {
            let mut n = client;
            while !stop.load(Ordering::Relaxed) {
                // A distinct parameter per request: the read cache never answers.
                let q = format!("/query?{}&n={n}", HEAVY[n % HEAVY.len()]);
                let (status, body) = app.get_text(&logon, &q, false).await;
                assert_eq!(status, 200, "{q}: {body}");
                answered.fetch_add(1, Ordering::Relaxed);
                n += 8;
            }
        }));
    }
    // Logons, cheap requests and a failover, all while the load runs.
    let mut slowest = Duration::ZERO;
    for _ in 0..10 {
        let started = Instant::now();
        let logon = app.logon().await;
        let (status, _) = app.get_text(&logon, "/backupServers", false).await;
        assert_eq!(status, 200);
        slowest = slowest.max(started.elapsed());
    }
    let plan = plan_href(&app, &admin, "ABC Company Failover Plan").await;
    let task = act(
        &app,
        &admin,
        &plan,
        "start",
        Some(("application/xml", START_NOW)),
    )
    .await;
    let started = Instant::now();
    // In real time: the engine's own loop must keep its pace beside the queries.
    let session = poll_finished(&app, &admin, &related(&task)).await;
    let failover = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    for task in load {
        task.await.unwrap();
    }
    assert_eq!(session["Result"], "Success");
    assert!(
        answered.load(Ordering::Relaxed) >= 8,
        "the heavy queries ran meanwhile"
    );
    // Generous: a logon plus a GET never waits on the queries' connections.
    assert!(
        slowest < Duration::from_secs(5),
        "slowest logon {slowest:?}"
    );
    // The plan's VMs take about a second at the tests' time scale.
    assert!(
        failover < Duration::from_secs(20),
        "failover took {failover:?}"
    );
}

#[tokio::test]
async fn a_query_past_its_budget_ends_with_an_em_error() {
    let mut options = Options::default();
    options.config.query_budget = Duration::ZERO;
    let app = spawn(TestDb::sqlite(), options).await;
    bulk_sessions(&app, 20_000).await;
    let logon = app.logon().await;
    // The index on the app's listener; the database on the reference listener,
    // which has no index (a query of 20,000 rows outlasts the timer's 1 ms tick).
    for (base, query) in [
        (
            app.address.clone(),
            "type=CloudFailoverSession&format=Entities",
        ),
        (
            app.reference.clone(),
            "type=CloudFailoverSession&filter=FailureMessage%21%3Dx&sortAsc=FailureMessage",
        ),
    ] {
        let url = format!("{base}/api/query?{query}");
        let (status, body) = app.get_text(&logon, &url, false).await;
        assert_eq!(status, 503, "{query}: {body}");
        assert!(body.contains("<Error"), "{body}");
        assert!(
            body.contains("The query did not finish within 0 ms."),
            "{body}"
        );
        // The server goes on answering.
        let (status, _) = app
            .get_text(&logon, &format!("{base}/api/backupServers"), false)
            .await;
        assert_eq!(status, 200);
    }
}
