//! The read path on every configured backend (SQLite always; PostgreSQL when
//! `ENTMAN_TEST_DATABASE_URL` is set), and that what the API shows survives a
//! restart of the server on the same database.

use entman_testkit::fixture::ids;
use entman_testkit::{backends, spawn, spawn_fixture_app, Options, Seed};

#[tokio::test]
async fn the_read_path_answers_the_same_on_every_backend() {
    let mut bodies = Vec::new();
    for db in backends().await {
        let label = db.label();
        let app = spawn_fixture_app(db).await;
        let logon = app.logon().await;
        let mut all = String::new();
        for path in [
            format!(
                "/cloud/failoverSessions/{}?format=Entity",
                ids::FINISHED_SESSION
            ),
            format!("/cloud/cloudFailoverPlans/{}?format=Entity", ids::PLAN),
            format!("/cloud/tenants/{}?format=Entity", ids::TENANT),
            "/cloud/vmReplicaPoints?format=Entity".to_string(),
            "/backupServers?format=Entity".to_string(),
        ] {
            let (status, body) = app.get_text(&logon, &path, true).await;
            assert_eq!(status, 200, "{label} {path}: {body}");
            all.push_str(&body);
        }
        bodies.push((label, all));
    }
    for (label, body) in &bodies[1..] {
        assert_eq!(body, &bodies[0].1, "{label} differs from {}", bodies[0].0);
    }
}

#[tokio::test]
async fn data_survives_a_restart_on_every_backend() {
    for db in backends().await {
        let label = db.label();
        let first = spawn(
            db,
            Options {
                seed: Seed::Demo,
                ..Options::default()
            },
        )
        .await;
        let logon = first.logon().await;
        let (_, before) = first
            .get_text(&logon, "/cloud/failoverSessions?format=Entity", true)
            .await;
        let before = before.replace(&first.address, "{address}");
        let (_, token_before) = first.get_text(&logon, "/logonSessions", true).await;
        let token_before = token_before.replace(&first.address, "{address}");
        let db = first.into_db();
        let second = spawn(
            db,
            Options {
                seed: Seed::Empty,
                ..Options::default()
            },
        )
        .await;
        let (status, after) = second
            .get_text(&logon, "/cloud/failoverSessions?format=Entity", true)
            .await;
        assert_eq!(status, 200, "{label}: the logon session survives too");
        assert!(
            after.replace(&second.address, "{address}") == before,
            "{label}: the sessions differ after a restart"
        );
        let (_, token_after) = second.get_text(&logon, "/logonSessions", true).await;
        assert_eq!(
            token_after.replace(&second.address, "{address}"),
            token_before
        );
    }
}

/// Stops race the engine's steps (a seeded stress test, on every backend): every
/// session ends; a refused stop never stops a session; an accepted stop ends the
/// session as stopped by the user unless its last VM finished in the moment between
/// the stop and the next step (then it ends as it would have; rare by construction,
/// while a lost stop — a step writing over `Stopping` — would end most of them so).
#[tokio::test]
async fn stops_racing_steps_are_never_lost_on_every_backend() {
    use entman_model::plan::FailoverTarget;
    use entman_model::session::{SessionKind, SessionResult, SessionState};
    for db in backends().await {
        let label = db.label();
        let app = spawn(
            db,
            Options {
                // A VM takes 15-60 s unscaled: 30-120 ms here, so stops land mid-run.
                time_scale: 0.002,
                ..Options::default()
            },
        )
        .await;
        let plans = app
            .store
            .list_plans(entman_store::Scope::All)
            .await
            .unwrap();
        let mut seed: u64 = 0x5eed;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let (mut accepted_stops, mut stopped_by_user) = (0, 0);
        for round in 0..6 {
            let mut accepted = Vec::new();
            for plan in &plans {
                let session = app
                    .engine
                    .start(
                        plan,
                        SessionKind::Test,
                        FailoverTarget::Latest,
                        entman_model::Timestamp::now(),
                    )
                    .await
                    .unwrap_or_else(|e| panic!("{label} round {round}: start {}: {e}", plan.name));
                // Stop after a random delay, while the engine steps.
                let engine = app.engine.clone();
                let delay = next() % 250;
                accepted.push(tokio::spawn(async move {
                    tokio::time::sleep(std::time::Duration::from_millis(delay)).await;
                    (session.id, engine.stop(session.id).await.unwrap())
                }));
            }
            let mut outcomes = Vec::new();
            for task in accepted {
                outcomes.push(task.await.unwrap());
            }
            // Wait until every session ended.
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
            while !app.store.list_active_sessions().await.unwrap().is_empty() {
                assert!(
                    std::time::Instant::now() < deadline,
                    "{label}: sessions did not end"
                );
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            for (id, stopped) in outcomes {
                let s = app
                    .store
                    .get_session(entman_store::Scope::All, id)
                    .await
                    .unwrap();
                assert_eq!(s.state, SessionState::Stopped, "{label} {id}");
                if stopped {
                    accepted_stops += 1;
                    if s.failure_message.as_deref()
                        == Some(entman_model::session::SESSION_STOPPED_BY_USER)
                    {
                        assert_eq!(s.result, SessionResult::Failed, "{label} {id}");
                        stopped_by_user += 1;
                    }
                } else {
                    assert_ne!(
                        s.failure_message.as_deref(),
                        Some(entman_model::session::SESSION_STOPPED_BY_USER),
                        "{label} {id}: a refused stop stopped the session"
                    );
                }
            }
        }
        assert!(
            accepted_stops >= 8,
            "{label}: only {accepted_stops} stops landed mid-run"
        );
        assert!(
            stopped_by_user * 4 >= accepted_stops * 3,
            "{label}: {stopped_by_user} of {accepted_stops} accepted stops took effect"
        );
    }
}
