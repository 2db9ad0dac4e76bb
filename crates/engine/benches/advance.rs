//! How many concurrently running failover sessions one core can advance.
//!
//! For N running sessions (3 VMs each, all Working) on a fresh SQLite database, it
//! times `Engine::step`, which reads every unfinished session, advances it and
//! writes the changes in one transaction. The baseline, measured in the same run,
//! is the in-memory part alone (`FailoverSession::advance` on the same sessions).
//! A step must take under a second for per-second progress updates.
//!
//! Run: `cargo bench -p entman-engine --bench advance` (one thread: a current-thread
//! runtime). `ENTMAN_BENCH_SIZES=1000,10000` chooses the session counts.

use entman_engine::{Engine, EngineConfig};
use entman_model::ids::*;
use entman_model::plan::VmOutcome;
use entman_model::session::*;
use entman_model::Timestamp;
use entman_store::Store;
use entman_store_sql::{sqlite_url, SqlStore};
use std::sync::Arc;
use std::time::Instant;

fn session(t0: Timestamp) -> FailoverSession {
    let tasks = (0..3)
        .map(|i| SessionTask {
            vm_name: format!("vm{i}"),
            point: Some(PointRef {
                id: PointId::new_random(),
                name: format!("vm{i}@2026-11-01 00:00:00"),
            }),
            creation_time: t0,
            end_time: None,
            state: SessionState::Starting,
            result: SessionResult::None,
            progress: 0,
            failure_message: None,
            // Long enough to stay running for the whole benchmark.
            plan: Some(TaskPlan {
                duration_ms: 3_600_000,
                outcome: VmOutcome::Success,
                message: None,
            }),
        })
        .collect();
    FailoverSession {
        id: SessionId::new_random(),
        plan_id: PlanId::new_random(),
        plan_name: "bench plan".into(),
        tenant_id: TenantId::new_random(),
        backup_server_id: BackupServerId::new_random(),
        kind: SessionKind::Test,
        creation_time: t0,
        end_time: None,
        state: SessionState::Starting,
        result: SessionResult::None,
        progress: 0,
        failure_message: None,
        tasks,
    }
}

async fn seed(
    n: usize,
    t0: Timestamp,
) -> (tempfile::TempDir, Arc<dyn Store>, Vec<FailoverSession>) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqlStore::connect(&sqlite_url(&dir.path().join("bench.db")))
        .await
        .unwrap();
    // Sessions reference a backup server; one is enough.
    let server_id = BackupServerId::new_random();
    store
        .insert_server(
            &entman_model::server::BackupServer {
                id: server_id,
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
    let sessions: Vec<_> = (0..n)
        .map(|_| FailoverSession {
            backup_server_id: server_id,
            ..session(t0)
        })
        .collect();
    for chunk in sessions.chunks(1000) {
        store.save_sessions(chunk).await.unwrap();
    }
    (dir, Arc::new(store), sessions)
}

fn main() {
    let sizes: Vec<usize> = std::env::var("ENTMAN_BENCH_SIZES")
        .unwrap_or_else(|_| "1000,5000,10000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    println!("| running sessions | in-memory advance (baseline) | engine step (read, advance, write) | sessions per second |");
    println!("|---:|---:|---:|---:|");
    for n in sizes {
        rt.block_on(async {
            let t0 = Timestamp::now().plus_millis(-60_000);
            let (_dir, store, sessions) = seed(n, t0).await;
            let started = Instant::now();
            let loaded = store.list_active_sessions().await.unwrap();
            let read = started.elapsed();
            let started = Instant::now();
            store.save_sessions(&loaded).await.unwrap();
            let write = started.elapsed();
            eprintln!(
                "n={n}: reading every running session {:.0} ms; writing all of them whole {:.0} ms",
                read.as_secs_f64() * 1e3,
                write.as_secs_f64() * 1e3
            );
            let engine = Engine::new(store, EngineConfig { time_scale: 1.0 });
            // Baseline: advancing the same sessions in memory, one second apart.
            let mut copies = sessions.clone();
            let started = Instant::now();
            for (i, s) in copies.iter_mut().enumerate() {
                s.advance(t0.plus_millis(10_000 + i as i64 % 7), 5_000);
            }
            let baseline = started.elapsed();
            // Engine steps, one simulated second apart, every session changing each time.
            let mut best = std::time::Duration::MAX;
            for k in 0..5 {
                let now = t0.plus_millis(10_000 + k * 40_000);
                let started = Instant::now();
                engine.step(now).await.unwrap();
                best = best.min(started.elapsed());
            }
            println!(
                "| {n} | {:.1} ms | {:.0} ms | {:.0} |",
                baseline.as_secs_f64() * 1000.0,
                best.as_secs_f64() * 1000.0,
                n as f64 / best.as_secs_f64()
            );
        });
    }
}
