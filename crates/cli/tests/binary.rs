//! End-to-end tests of the `entman` binary: HTTPS with the generated certificate,
//! graceful shutdown, and resuming running failovers after a SIGKILL.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const PASSWORD: &str = "Test-Passw0rd";

/// A running `entman serve`.
struct Server {
    child: Child,
    https: Option<String>,
    http: Option<String>,
}

impl Server {
    fn start(data_dir: &Path, extra: &[&str]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_entman"))
            .arg("serve")
            .arg("--data-dir")
            .arg(data_dir)
            .args(["--https", "127.0.0.1:0"])
            .args(extra)
            .env("ENTMAN_ADMIN_PASSWORD", PASSWORD)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start entman");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let wants_http = extra.contains(&"--http");
        let wants_https = !extra.contains(&"--no-https");
        let (mut https, mut http) = (None, None);
        let deadline = Instant::now() + Duration::from_secs(60);
        while (wants_https && https.is_none()) || (wants_http && http.is_none()) {
            let line = rx
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                .expect("entman prints its addresses");
            if let Some(a) = line.strip_prefix("entman listening on https://") {
                https = Some(a.to_string());
            } else if let Some(a) = line.strip_prefix("entman listening on http://") {
                http = Some(a.to_string());
            }
        }
        Server { child, https, http }
    }

    fn pid(&self) -> String {
        self.child.id().to_string()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn client_trusting(cert: &Path) -> reqwest::Client {
    let pem = std::fs::read(cert).unwrap();
    reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
        .build()
        .unwrap()
}

async fn logon(client: &reqwest::Client, base: &str) -> String {
    let r = client
        .post(format!("{base}/api/sessionMngr/?v=latest"))
        .basic_auth("Administrator", Some(PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    r.headers()["x-restsvcsessionid"]
        .to_str()
        .unwrap()
        .to_string()
}

async fn get_json(client: &reqwest::Client, token: &str, url: &str) -> serde_json::Value {
    let r = client
        .get(url)
        .header("X-RestSvcSessionId", token)
        .header("Accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "GET {url}");
    r.json().await.unwrap()
}

#[tokio::test]
async fn serves_https_with_a_generated_certificate_for_localhost() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let port = server
        .https
        .as_ref()
        .unwrap()
        .rsplit(':')
        .next()
        .unwrap()
        .to_string();
    let client = client_trusting(&dir.path().join("tls-cert.pem"));
    let base = format!("https://localhost:{port}");
    let token = logon(&client, &base).await;
    let cloud = get_json(&client, &token, &format!("{base}/api/cloud")).await;
    assert!(cloud["Href"]
        .as_str()
        .unwrap()
        .starts_with(&format!("{base}/api/")));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("tls-key.pem"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

#[tokio::test]
async fn sigterm_shuts_the_server_down_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start(dir.path(), &["--http", "127.0.0.1:0"]);
    let status = Command::new("kill")
        .args(["-TERM", &server.pid()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(code) = server.child.try_wait().unwrap() {
            assert!(code.success(), "exit status {code}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "entman did not stop after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test]
async fn a_killed_server_resumes_its_running_failovers() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    // At a time scale of 0.2 the three VMs of the plan take 9 s in all.
    let args = ["--no-https", "--http", "127.0.0.1:0", "--time-scale", "0.2"];
    let first = Server::start(data, &args);
    let base = format!("http://{}", first.http.as_ref().unwrap());
    let client = reqwest::Client::new();
    let token = logon(&client, &base).await;
    let plans = get_json(
        &client,
        &token,
        &format!("{base}/api/cloud/cloudFailoverPlans"),
    )
    .await;
    let plan = plans["Refs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["Name"] == "ABC Company Failover Plan")
        .unwrap();
    let href = plan["Href"].as_str().unwrap().to_string();
    let r = client
        .post(format!("{href}?action=start"))
        .header("X-RestSvcSessionId", &token)
        .header("Accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let task: serde_json::Value = r.json().await.unwrap();
    let task = get_json(&client, &token, task["Href"].as_str().unwrap()).await;
    let session_href = task["Links"][1]["Href"].as_str().unwrap().to_string();
    let session_path = session_href.split("/api").nth(1).unwrap().to_string();
    // Wait until the failover is under way, then kill the server without warning.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let s = get_json(&client, &token, &session_href).await;
        if s["State"] == "Working" {
            break;
        }
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop(first); // SIGKILL
    let second = Server::start(data, &args);
    let base = format!("http://{}", second.http.as_ref().unwrap());
    let session_href = format!("{base}/api{session_path}");
    let deadline = Instant::now() + Duration::from_secs(60);
    let finished = loop {
        // The logon session survived the restart too.
        let s = get_json(&client, &token, &session_href).await;
        if s["State"] == "Stopped" {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "the session never finished after the restart: {s}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(finished["Result"], "Success", "{finished}");
    assert_eq!(finished["Progress"], 100);
    let tasks = finished["CloudFailoverTasks"]["CloudFailoverTasks"]
        .as_array()
        .unwrap();
    assert!(tasks
        .iter()
        .all(|t| t["State"] == "Stopped" && t["Result"] == "Success"));
}

fn entman(data_dir: &Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_entman"))
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .output()
        .expect("run entman");
    assert!(
        out.status.success(),
        "entman {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test]
async fn accounts_and_tenant_passwords_are_managed_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let args = ["--no-https", "--http", "127.0.0.1:0"];
    drop(Server::start(dir.path(), &args)); // first start loads the demo world
    entman(
        dir.path(),
        &[
            "user",
            "add",
            "TECH\\jdoe",
            "--roles",
            "PortalUser,VMRestoreOperator",
            "--password",
            "Jdoe-Passw0rd",
        ],
    );
    assert!(
        entman(dir.path(), &["user", "list"]).contains("TECH\\jdoe\tPortalUser,VMRestoreOperator")
    );
    entman(
        dir.path(),
        &[
            "user",
            "tenant-passwd",
            "ABC Company",
            "--password",
            "New-Tenant-Pw",
        ],
    );
    let server = Server::start(dir.path(), &args);
    let base = format!("http://{}", server.http.as_ref().unwrap());
    let client = reqwest::Client::new();
    let r = client
        .post(format!("{base}/api/sessionMngr/?v=latest"))
        .basic_auth("tech\\JDOE", Some("Jdoe-Passw0rd"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let login = |password: &str| serde_json::json!({"TenantCredentials": {"Username": "ABC Company", "Password": password}});
    let r = client
        .post(format!("{base}/api/sessionMngr/?v=latest"))
        .json(&login("Qwe123"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "the old tenant password no longer works");
    let r = client
        .post(format!("{base}/api/sessionMngr/?v=latest"))
        .json(&login("New-Tenant-Pw"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    drop(server);
    entman(dir.path(), &["user", "remove", "TECH\\jdoe"]);
    assert!(!entman(dir.path(), &["user", "list"]).contains("jdoe"));
}

/// The failover sessions the server counts, through the query service.
async fn session_count(client: &reqwest::Client, token: &str, base: &str) -> u64 {
    let url = format!("{base}/api/query?type=CloudFailoverSession&format=References&pageSize=1");
    get_json(client, token, &url).await["PagingInfo"]["PagesCount"]
        .as_u64()
        .expect("PagesCount")
}

#[tokio::test]
async fn generate_adds_a_history_that_the_server_then_serves() {
    let dir = tempfile::tempdir().unwrap();
    let args = ["--no-https", "--http", "127.0.0.1:0"];
    let server = Server::start(dir.path(), &args); // loads the demo world
    let base = format!("http://{}", server.http.as_deref().unwrap());
    let client = reqwest::Client::new();
    let token = logon(&client, &base).await;
    let demo = session_count(&client, &token, &base).await;
    drop(server);

    // Larger than what is stored: the indexes are dropped and built at the end,
    // on other pool connections than the ones that read the world before.
    let out = entman(
        dir.path(),
        &["generate", "--sessions", "1000", "--days", "30"],
    );
    assert!(out.contains("1000 sessions written"), "{out}");
    // Smaller than what is stored: inserted with the indexes in place.
    let out = entman(
        dir.path(),
        &["generate", "--sessions", "200", "--seed", "2"],
    );
    assert!(out.contains("200 sessions written"), "{out}");

    let server = Server::start(dir.path(), &args);
    let base = format!("http://{}", server.http.as_deref().unwrap());
    let token = logon(&client, &base).await;
    assert_eq!(session_count(&client, &token, &base).await, demo + 1200);
}

/// `--clock-start` (jobs-domain.md §8.1): the server starts on the manual clock at
/// that instant, the world's job history is anchored there, and `--no-schedules`
/// keeps the clock's moves from starting runs.
#[tokio::test]
async fn clock_start_loads_the_world_as_of_that_instant() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(
        dir.path(),
        &[
            "--no-https",
            "--http",
            "127.0.0.1:0",
            "--clock-start",
            "2026-06-23T08:00:00Z",
            "--no-schedules",
        ],
    );
    let base = format!("http://{}", server.http.as_ref().unwrap());
    let client = reqwest::Client::new();
    let token = logon(&client, &base).await;
    let clock: serde_json::Value = client
        .get(format!("{base}/_entman/clock"))
        .basic_auth("Administrator", Some(PASSWORD))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(clock["mode"], "manual");
    assert_eq!(clock["now"], "2026-06-23T08:00:00Z");
    let runs = get_json(
        &client,
        &token,
        &format!("{base}/api/backupSessions?format=Entity"),
    )
    .await;
    let runs = runs["BackupJobSessions"].as_array().unwrap();
    assert!(!runs.is_empty());
    assert!(runs
        .iter()
        .all(|r| r["CreationTimeUTC"].as_str().unwrap().as_bytes()
            < "2026-06-23T08:00:00Z".as_bytes()));
    let r = Command::new(env!("CARGO_BIN_EXE_entman"))
        .args(["serve", "--clock-start", "yesterday"])
        .output()
        .unwrap();
    assert!(!r.status.success());
    assert!(String::from_utf8_lossy(&r.stderr).contains("is not a date-time"));
}

/// jobs-domain.md §2: a job run is fixed when it starts, so a server killed in
/// the middle of it serves it on from the clock after a restart, to its end.
#[tokio::test]
async fn a_killed_server_serves_its_running_job_runs_to_their_end() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    // At a time scale of 0.01 the two VMs of the job (600 s each, in parallel) take 6.5 s.
    let args = [
        "--no-https",
        "--http",
        "127.0.0.1:0",
        "--time-scale",
        "0.01",
        "--no-schedules",
    ];
    let first = Server::start(data, &args);
    let base = format!("http://{}", first.http.as_ref().unwrap());
    let client = reqwest::Client::new();
    let token = logon(&client, &base).await;
    let jobs = get_json(&client, &token, &format!("{base}/api/jobs")).await;
    let job = jobs["Refs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["Name"] == "vCD Cell Backup")
        .unwrap();
    let href = job["Href"].as_str().unwrap().to_string();
    let job_path = href.split("/api").nth(1).unwrap().to_string();
    let r = client
        .post(format!("{href}?action=start"))
        .header("X-RestSvcSessionId", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let latest = |runs: &serde_json::Value| {
        runs["BackupJobSessions"]
            .as_array()
            .unwrap()
            .last()
            .cloned()
            .unwrap()
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    let running = loop {
        let runs = get_json(
            &client,
            &token,
            &format!("{base}/api{job_path}/backupSessions?format=Entity"),
        )
        .await;
        let run = latest(&runs);
        if run["State"] == "Working" {
            break run;
        }
        assert!(Instant::now() < deadline, "{run}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    drop(first); // SIGKILL
    let second = Server::start(data, &args);
    let base = format!("http://{}", second.http.as_ref().unwrap());
    let deadline = Instant::now() + Duration::from_secs(60);
    let finished = loop {
        let runs = get_json(
            &client,
            &token,
            &format!("{base}/api{job_path}/backupSessions?format=Entity"),
        )
        .await;
        let run = latest(&runs);
        assert_eq!(run["UID"], running["UID"], "the same run, no other");
        if run["State"] == "Stopped" {
            break run;
        }
        assert!(
            Instant::now() < deadline,
            "the run never finished after the restart: {run}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(finished["Result"], "Success", "{finished}");
    assert_eq!(finished["Progress"], 100);
    let uid = finished["UID"].as_str().unwrap();
    let id = uid.rsplit(':').next().unwrap();
    let tasks = get_json(
        &client,
        &token,
        &format!("{base}/api/backupSessions/{id}/taskSessions?format=Entity"),
    )
    .await;
    let tasks = tasks["BackupTaskSessions"].as_array().unwrap();
    assert_eq!(tasks.len(), 2);
    assert!(tasks
        .iter()
        .all(|t| t["State"] == "Completed" && t["Result"] == "Success"));
}
