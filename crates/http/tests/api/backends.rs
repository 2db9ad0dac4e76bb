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
