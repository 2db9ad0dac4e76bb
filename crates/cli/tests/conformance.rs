//! Conformance with real Python clients from PyPI, each installed into a virtualenv
//! under `target/`, against the `entman` binary with its generated HTTPS
//! certificate: the `veeam-em` client runs `tests/conformance/veeam_em_client.py`;
//! `veeam-exporter`, a Prometheus exporter, collects its default backup-session
//! metrics once (its dry mode) with its own metric definitions.
//!
//! Needs `python3` with `venv` and access to PyPI; set `ENTMAN_SKIP_CONFORMANCE=1`
//! to skip them where those are missing (CI installs them).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const VEEAM_EM: &str = "veeam-em==2022.11.0";
const VEEAM_EXPORTER: &str = "veeam-exporter==1.1.0";

fn venv() -> PathBuf {
    venv_with("conformance-venv", VEEAM_EM)
}

/// A virtualenv under `target/` with `package` installed (once).
fn venv_with(dir: &str, package: &str) -> PathBuf {
    let target = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../target")
        .join(dir);
    let python = target.join("bin/python");
    if !python.exists() {
        let status = Command::new(
            std::env::var("ENTMAN_PYTHON").unwrap_or_else(|_| "python3".into()),
        )
        .args(["-m", "venv"])
        .arg(&target)
        .status()
        .expect("python3 is needed for the conformance test (ENTMAN_SKIP_CONFORMANCE=1 skips it)");
        assert!(status.success(), "creating the virtualenv failed");
    }
    let marker = target.join(".installed");
    if std::fs::read_to_string(&marker).ok().as_deref() != Some(package) {
        let status = Command::new(&python)
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                package,
            ])
            .status()
            .expect("pip runs");
        assert!(status.success(), "installing {package} failed");
        std::fs::write(&marker, package).unwrap();
    }
    python
}

/// The server process, killed when dropped (also when an assertion fails).
struct Entman(std::process::Child);

impl Drop for Entman {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_entman(data_dir: &Path, password: &str) -> (Entman, String) {
    let child = Command::new(env!("CARGO_BIN_EXE_entman"))
        .args(["serve", "--https", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .env("ENTMAN_ADMIN_USER", "SRV12\\Administrator")
        .env("ENTMAN_ADMIN_PASSWORD", password)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .expect("start entman");
    let mut child = Entman(child);
    let mut lines = BufReader::new(child.0.stdout.take().unwrap()).lines();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        assert!(Instant::now() < deadline, "entman did not start");
        let line = lines.next().expect("entman output").unwrap();
        if let Some(addr) = line.strip_prefix("entman listening on https://") {
            let port = addr.rsplit(':').next().unwrap().to_string();
            std::thread::spawn(move || lines.for_each(drop));
            return (child, port);
        }
    }
}

#[test]
fn the_veeam_em_python_client_works_unchanged() {
    if std::env::var("ENTMAN_SKIP_CONFORMANCE").is_ok_and(|v| v == "1") {
        eprintln!("skipped: ENTMAN_SKIP_CONFORMANCE=1");
        return;
    }
    let python = venv();
    let dir = tempfile::tempdir().unwrap();
    let password = "Conformance-Passw0rd";
    let (server, port) = start_entman(dir.path(), password);
    let script =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/conformance/veeam_em_client.py");
    let output = Command::new(&python)
        .arg(&script)
        .env("ENTMAN_URL", format!("https://localhost:{port}"))
        .env("ENTMAN_USER", "SRV12\\Administrator")
        .env("ENTMAN_PASSWORD", password)
        .env("REQUESTS_CA_BUNDLE", dir.path().join("tls-cert.pem"))
        .output()
        .expect("run the client script");
    drop(server);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "veeam-em conformance failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("checks passed"), "{stdout}");
    println!("{stdout}");
}

/// jobs-domain.md §9.6: veeam-exporter 1.1.0 logs on, reads
/// `/backupSessions?format=Entity` and each recent session's
/// `taskSessions?format=entity`, and turns them into its metrics, without an error.
#[test]
fn the_veeam_exporter_collects_its_backup_session_metrics() {
    if std::env::var("ENTMAN_SKIP_CONFORMANCE").is_ok_and(|v| v == "1") {
        eprintln!("skipped: ENTMAN_SKIP_CONFORMANCE=1");
        return;
    }
    let python = venv_with("conformance-exporter-venv", VEEAM_EXPORTER);
    let dir = tempfile::tempdir().unwrap();
    let password = "Conformance-Passw0rd";
    let (server, port) = start_entman(dir.path(), password);
    let config = dir.path().join("exporter.yml");
    std::fs::write(
        &config,
        format!(
            "veeams:\n  - host: localhost\n    port: {port}\n    user: 'SRV12\\Administrator'\n    \
             password: '{password}'\n    protocol: https\n    verify_ssl: false\n    timeout: 20\n\
             weblisten:\n  address: 127.0.0.1\n  port: 9247\n\
             logger:\n  level: debug\n  facility: {}\n\
             metrics_file: \"conf/metrics/*backup_jobs_sessions_metrics.yml\"\n",
            dir.path().join("exporter.log").display()
        ),
    )
    .unwrap();
    let exporter = python.parent().unwrap().join("veeam_exporter");
    let output = Command::new(&exporter)
        .args(["-n", "-v", "-c"])
        .arg(&config)
        .output()
        .expect("run veeam_exporter");
    drop(server);
    let text = String::from_utf8_lossy(&output.stdout).to_string()
        + &String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "veeam_exporter failed:\n{text}");
    assert!(!text.contains("level=ERROR"), "{text}");
    let metric = |name: &str| -> Vec<(String, f64)> {
        text.lines()
            .filter_map(|l| l.split_once(" - ").map(|(_, m)| m))
            .filter(|m| m.starts_with(&format!("{name}{{")))
            .filter_map(|m| {
                let (labels, value) = m.rsplit_once(' ')?;
                Some((labels.to_string(), value.parse().ok()?))
            })
            .collect()
    };
    // One series per backup job with a run in the last day, its state a result code.
    let states = metric("veeam_em_jobs_sessions_state");
    assert!(states.len() >= 3, "{text}");
    for (labels, value) in &states {
        assert!((1.0..=5.0).contains(value), "{labels} {value}");
        assert!(
            labels.contains("backupserver=\"") && labels.contains("jobtype=\""),
            "{labels}"
        );
    }
    assert!(states
        .iter()
        .any(|(l, _)| l.contains("jobname=\"Infrastructure Backup\"")));
    // The VM metrics come from each session's task sessions.
    let sizes = metric("veeam_em_vmjobs_sessions_total_bytes");
    assert!(sizes.iter().any(|(_, v)| *v > 0.0), "{text}");
    assert!(
        sizes.iter().any(|(l, _)| l.contains("vmname=\"dc01\"")),
        "{text}"
    );
    let durations = metric("veeam_em_jobs_sessions_duration");
    assert!(durations.iter().all(|(_, v)| *v >= 0.0), "{text}");
}
