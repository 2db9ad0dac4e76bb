//! How many concurrently running failover sessions one core advances with
//! per-second progress (issue 8: 100,000, each step ≤ 1 s).
//!
//! For N running sessions (3 VMs each) in a fresh database it times
//! `Engine::step` on a current-thread runtime (one core), in two shapes:
//!
//! * **staggered**: the sessions started one after another over the last 25
//!   minutes and their VMs take 10–20 minutes each, as failovers started by many
//!   tenants would. Ten steps one second apart; each step advances every session
//!   and stores those with a transition (a VM started or ended). The first step
//!   also loads every running session (what a restart does) and is shown apart.
//! * **in step**: every session started at the same instant with the same VM
//!   durations, and the step falls on the second in which each of them ends one
//!   VM and starts the next: the worst case, where every session is written.
//!
//! Sessions belong to [`TENANTS`] tenants (ten running plans each at 100,000
//! sessions): a plan runs one session at a time, and the per-day counts the
//! store keeps per tenant grow with the number of tenants, not of sessions.
//!
//! The baseline, measured in the same run, is the in-memory part alone
//! (`FailoverSession::advance` on the same sessions).
//!
//! Run: `cargo bench -p entman-engine --bench advance`. `ENTMAN_BENCH_SIZES=10000,100000`
//! chooses the session counts (default 1000,10000), `ENTMAN_BENCH_SHAPES=in-step` one
//! shape (default `staggered,in-step`); with `ENTMAN_BENCH_DATABASE_URL`
//! naming a PostgreSQL server (`postgres://postgres@127.0.0.1:5432/postgres`) each
//! size runs on a new database there as well as on SQLite.

use entman_engine::{Engine, EngineConfig};
use entman_model::ids::*;
use entman_model::plan::VmOutcome;
use entman_model::session::*;
use entman_model::Timestamp;
use entman_store::prelude::*;
use entman_store_sql::SqlStore;
use entman_testkit::TestDb;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// From a session's creation to its first VM (the engine's lead at scale 1).
const LEAD_MS: i64 = 5_000;

/// Tenants the sessions belong to, round robin.
const TENANTS: usize = 10_000;

/// The tenants of a run.
fn tenants() -> Vec<TenantId> {
    (0..TENANTS).map(|_| TenantId::new_random()).collect()
}

/// A running session created at `created` whose VMs take `vm_ms` each.
fn session(
    server: BackupServerId,
    tenant: TenantId,
    created: Timestamp,
    vm_ms: [i64; 3],
) -> FailoverSession {
    let tasks = vm_ms
        .iter()
        .enumerate()
        .map(|(i, ms)| SessionTask {
            vm_name: format!("vm{i}"),
            point: Some(PointRef {
                id: PointId::new_random(),
                name: format!("vm{i}@2026-11-01 00:00:00"),
            }),
            creation_time: created.plus_millis(LEAD_MS + i as i64 * 10),
            end_time: None,
            state: SessionState::Starting,
            result: SessionResult::None,
            progress: 0,
            failure_message: None,
            plan: Some(TaskPlan {
                duration_ms: *ms,
                outcome: VmOutcome::Success,
                message: None,
            }),
        })
        .collect();
    FailoverSession {
        id: SessionId::new_random(),
        plan_id: PlanId::new_random(),
        plan_name: "bench plan".into(),
        tenant_id: tenant,
        backup_server_id: server,
        kind: SessionKind::Test,
        creation_time: created,
        end_time: None,
        state: SessionState::Starting,
        result: SessionResult::None,
        progress: 0,
        failure_message: None,
        tasks,
    }
}

/// Sessions started over the 25 minutes before `now`, VMs of 10–20 minutes.
fn staggered(server: BackupServerId, n: usize, now: Timestamp) -> Vec<FailoverSession> {
    let span_ms = 25 * 60_000;
    let tenants = tenants();
    (0..n)
        .map(|i| {
            let created = now.plus_millis(-span_ms + (i as i64 * span_ms) / n as i64);
            let vm = |k: i64| 600_000 + (i as i64 * 7_919 + k * 104_729) % 600_000;
            let mut s = session(server, tenants[i % TENANTS], created, [vm(0), vm(1), vm(2)]);
            // As the engine has stored it: brought to `now` at its transitions.
            s.advance(now, LEAD_MS);
            s
        })
        .collect()
}

/// A fresh database for one run (the test kit's: a temporary SQLite file, or a
/// new database on the PostgreSQL server, dropped afterwards) and its store.
async fn open(postgres: Option<&str>) -> (TestDb, SqlStore) {
    let db = match postgres {
        None => TestDb::sqlite(),
        Some(server) => TestDb::postgres_on(server).await,
    };
    let store = SqlStore::connect(&db.url()).await.unwrap();
    (db, store)
}

/// The backend's name as the tables in docs/benchmarks.md write it.
fn label(db: &TestDb) -> &'static str {
    match db.label() {
        "sqlite" => "SQLite",
        _ => "PostgreSQL",
    }
}

/// A fresh store holding one backup server and `sessions`.
async fn seed(store: &SqlStore, sessions: &[FailoverSession], server: BackupServerId) {
    store
        .insert_server(
            &entman_model::server::BackupServer {
                id: server,
                name: "bench".into(),
                description: String::new(),
                port: 9392,
                version: "13.0.0.1420".into(),
                wcf_port: None,
                certificate_thumbprint: None,
                username: "u".into(),
            },
            None,
        )
        .await
        .unwrap();
    for chunk in sessions.chunks(5_000) {
        store.save_sessions(chunk).await.unwrap();
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// A row of the table: sorted `steps` give the median and the max; `first` is
/// the step that loaded the sessions, when the row has one.
struct Row<'a> {
    db: &'a TestDb,
    shape: &'a str,
    n: usize,
    baseline: Duration,
    first: Option<Duration>,
    steps: &'a [Duration],
    stored: usize,
}

impl Row<'_> {
    fn print(&self) {
        let first = self
            .first
            .map_or("—".to_string(), |f| format!("{:.0} ms", ms(f)));
        println!(
            "| {} | {} | {} | {:.1} ms | {first} | {:.0} ms | {:.0} ms | {} |",
            label(self.db),
            self.shape,
            self.n,
            ms(self.baseline),
            ms(self.steps[self.steps.len() / 2]),
            ms(*self.steps.last().expect("a step")),
            self.stored,
        );
    }
}

/// The in-memory part alone: copies of `sessions` advanced to `to`. Returns the
/// time it took and the copies.
fn in_memory(sessions: &[FailoverSession], to: Timestamp) -> (Duration, Vec<FailoverSession>) {
    let mut copies = sessions.to_vec();
    let started = Instant::now();
    for s in &mut copies {
        s.advance(to, LEAD_MS);
    }
    (started.elapsed(), copies)
}

/// How long one engine step to `to` takes.
async fn timed_step(engine: &Engine, to: Timestamp) -> Duration {
    let started = Instant::now();
    engine.step(to).await.unwrap();
    started.elapsed()
}

/// One row of the staggered shape.
async fn run_staggered(n: usize, postgres: Option<&str>) {
    let (db, store) = open(postgres).await;
    let now = Timestamp::now();
    let server = BackupServerId::new_random();
    let sessions = staggered(server, n, now);
    seed(&store, &sessions, server).await;
    // Baseline: the same advance in memory, and how many sessions it changes.
    let mut copies = sessions.clone();
    let started = Instant::now();
    let mut transitions = 0;
    for s in &mut copies {
        if s.advance(now.plus_millis(1_000), LEAD_MS) == Change::Transition {
            transitions += 1;
        }
    }
    let baseline = started.elapsed();
    let engine = Engine::new(Arc::new(store.clone()), EngineConfig::default());
    let first = timed_step(&engine, now).await;
    let mut steps = Vec::new();
    for k in 1..=10 {
        steps.push(timed_step(&engine, now.plus_millis(k * 1_000)).await);
    }
    steps.sort();
    Row {
        db: &db,
        shape: "staggered",
        n,
        baseline,
        first: Some(first),
        steps: &steps,
        stored: transitions,
    }
    .print();
    store.close().await;
}

/// One row of the in-step shape: every session ends a VM in the measured step.
async fn run_in_step(n: usize, postgres: Option<&str>) {
    let (db, store) = open(postgres).await;
    let vm_ms = 600_000;
    let created = Timestamp::now().plus_millis(-(LEAD_MS + vm_ms - 500));
    let server = BackupServerId::new_random();
    let before = created.plus_millis(LEAD_MS + vm_ms - 500);
    let tenants = tenants();
    let sessions: Vec<_> = (0..n)
        .map(|i| {
            let mut s = session(server, tenants[i % TENANTS], created, [vm_ms; 3]);
            s.advance(before, LEAD_MS);
            s
        })
        .collect();
    seed(&store, &sessions, server).await;
    let boundary = before.plus_millis(1_000);
    let (baseline, _) = in_memory(&sessions, boundary);
    let engine = Engine::new(Arc::new(store.clone()), EngineConfig::default());
    let first = timed_step(&engine, before).await;
    let step = timed_step(&engine, boundary).await;
    Row {
        db: &db,
        shape: "in step",
        n,
        baseline,
        first: Some(first),
        steps: &[step],
        stored: n,
    }
    .print();
    // The same sessions through their second boundary and then all ending in
    // one step: that step writes every session row as well as a task row each.
    engine.step(boundary.plus_millis(vm_ms)).await.unwrap();
    let end = boundary.plus_millis(2 * vm_ms);
    let (baseline, copies) = in_memory(&sessions, end);
    assert!(copies.iter().all(FailoverSession::is_finished));
    let step = timed_step(&engine, end).await;
    Row {
        db: &db,
        shape: "ending in step",
        n,
        baseline,
        first: None,
        steps: &[step],
        stored: n,
    }
    .print();
    store.close().await;
}

fn main() {
    let sizes: Vec<usize> = std::env::var("ENTMAN_BENCH_SIZES")
        .unwrap_or_else(|_| "1000,10000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let postgres = std::env::var("ENTMAN_BENCH_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    println!("| backend | shape | running sessions | in-memory advance (baseline) | first step (loads all) | step, median | step, max | sessions stored per step |");
    println!("|---|---|---:|---:|---:|---:|---:|---:|");
    let mut backends = vec![None];
    if let Some(url) = postgres.as_deref() {
        backends.push(Some(url));
    }
    let shapes =
        std::env::var("ENTMAN_BENCH_SHAPES").unwrap_or_else(|_| "staggered,in-step".into());
    for backend in backends {
        for &n in &sizes {
            if shapes.contains("staggered") {
                rt.block_on(run_staggered(n, backend));
            }
            if shapes.contains("in-step") {
                rt.block_on(run_in_step(n, backend));
            }
        }
    }
}
