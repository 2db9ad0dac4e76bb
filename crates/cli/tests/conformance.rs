//! Conformance with the real `veeam-em` Python client: installs it from PyPI into a
//! virtualenv under `target/`, starts the `entman` binary with its generated HTTPS
//! certificate, and runs `tests/conformance/veeam_em_client.py` against it.
//!
//! Needs `python3` with `venv` and access to PyPI; set `ENTMAN_SKIP_CONFORMANCE=1`
//! to skip it where those are missing (CI installs them).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const VEEAM_EM: &str = "veeam-em==2022.11.0";

fn venv() -> PathBuf {
    let target = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/conformance-venv");
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
    let marker = target.join(".veeam-em-installed");
    if !marker.exists() {
        let status = Command::new(&python)
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                VEEAM_EM,
            ])
            .status()
            .expect("pip runs");
        assert!(status.success(), "installing {VEEAM_EM} failed");
        std::fs::write(&marker, VEEAM_EM).unwrap();
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
