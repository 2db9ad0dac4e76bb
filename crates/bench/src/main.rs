//! `entman-bench`: load benchmarks of entman (docs/benchmarks.md).
//!
//! * `entman-bench seed` — the seed-collection benchmark: starts the release
//!   `entman` on the demo world (EM 12 and EM 13), logs on as the administrator
//!   and as a tenant, and for each shape (who × XML/JSON × generation) loads
//!   `GET /api/cloud/failoverSessions` on entman and, in the same run, on a bare
//!   hyper server sending the very bytes entman answered; prints the ratio.
//! * `entman-bench load URL` — the load generator alone.
//! * `entman-bench bare` — the bare server alone.

mod bare;
mod load;
mod matrix;

use anyhow::{bail, Context};
use base64::Engine;
use clap::{Parser, Subcommand};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Parser)]
#[command(name = "entman-bench", about = "Load benchmarks of entman")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// The seed-collection benchmark against a bare server in the same run.
    Seed {
        /// The entman binary.
        #[arg(long, default_value = "target/release/entman")]
        entman: PathBuf,
        /// Connections of the load generator.
        #[arg(long, default_value_t = 32)]
        connections: usize,
        /// Seconds measured per shape and server.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// Path to load.
        #[arg(long, default_value = "/api/cloud/failoverSessions")]
        path: String,
    },
    /// The query-shape matrix against a running server (docs/benchmarks.md).
    QueryMatrix {
        /// `http://host:port` of a running entman.
        url: String,
        /// Administrator user.
        #[arg(long, default_value = "Administrator")]
        user: String,
        /// Administrator password.
        #[arg(long, env = "ENTMAN_ADMIN_PASSWORD")]
        password: String,
        /// Concurrent clients per cell, comma-separated.
        #[arg(long, value_delimiter = ',', default_value = "1,8")]
        clients: Vec<usize>,
        /// Requests per client per cell.
        #[arg(long, default_value_t = 12)]
        requests: usize,
        /// The server's process id, to report its memory.
        #[arg(long)]
        pid: Option<u32>,
        /// The p99 limit a cell must meet, in milliseconds.
        #[arg(long, default_value_t = 50.0)]
        limit_ms: f64,
    },
    /// Sends one query from several clients without pause, each request made
    /// distinct so that the read cache never answers (the isolation benchmark's load).
    Hammer {
        /// `http://host:port` of a running entman.
        url: String,
        /// Administrator password.
        #[arg(long, env = "ENTMAN_ADMIN_PASSWORD")]
        password: String,
        /// The query string after `/api/query?`.
        #[arg(long)]
        query: String,
        #[arg(long, default_value_t = 8)]
        clients: usize,
        #[arg(long, default_value_t = 20)]
        seconds: u64,
    },
    /// Loads one URL.
    Load {
        /// `http://host:port/path`.
        url: String,
        /// `Name: value` request headers.
        #[arg(long = "header", short = 'H')]
        headers: Vec<String>,
        #[arg(long, default_value_t = 32)]
        connections: usize,
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// The status every answer must have.
        #[arg(long, default_value_t = 200)]
        status: u16,
        /// The method: GET, or POST without a body (a logon).
        #[arg(long, default_value = "GET")]
        method: String,
    },
    /// Serves one body forever (prints `bare listening on <port>`).
    Bare {
        #[arg(long)]
        body_file: PathBuf,
        #[arg(long)]
        content_type: String,
    },
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Cmd::Seed {
            entman,
            connections,
            seconds,
            path,
        } => seed(&entman, connections, Duration::from_secs(seconds), &path),
        Cmd::QueryMatrix {
            url,
            user,
            password,
            clients,
            requests,
            pid,
            limit_ms,
        } => {
            let (addr, _) = split_url(&url)?;
            let token = logon_as(&addr, &user, &password)?;
            let ok = matrix::run(matrix::MatrixOptions {
                addr,
                token,
                clients,
                requests,
                pid,
                limit_ms,
            })?;
            if !ok {
                bail!("some cells are over the limit");
            }
            Ok(())
        }
        Cmd::Hammer {
            url,
            password,
            query,
            clients,
            seconds,
        } => {
            let (addr, _) = split_url(&url)?;
            let token = logon_as(&addr, "Administrator", &password)?;
            matrix::hammer(&addr, &token, &query, clients, seconds)
        }
        Cmd::Load {
            url,
            headers,
            connections,
            seconds,
            status,
            method,
        } => {
            let (addr, path) = split_url(&url)?;
            let method = hyper::Method::from_bytes(method.to_ascii_uppercase().as_bytes())?;
            let headers = headers
                .iter()
                .filter_map(|h| h.split_once(':'))
                .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
                .collect();
            let shape = load::Shape {
                addr,
                path,
                method,
                headers,
                status,
            };
            let report = load::run(
                &shape,
                connections,
                Duration::from_secs(2),
                Duration::from_secs(seconds),
            );
            print_report("load", &report);
            Ok(())
        }
        Cmd::Bare {
            body_file,
            content_type,
        } => {
            let body = Bytes::from(std::fs::read(&body_file)?);
            let runtime = tokio::runtime::Runtime::new()?;
            runtime.block_on(async {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
                println!("bare listening on {}", listener.local_addr()?.port());
                bare::serve(listener, body, content_type).await;
                Ok(())
            })
        }
    }
}

fn split_url(url: &str) -> anyhow::Result<(String, String)> {
    let rest = url
        .strip_prefix("http://")
        .context("only http:// URLs are loaded")?;
    let (addr, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    Ok((
        addr.to_string(),
        if path.is_empty() {
            "/".into()
        } else {
            path.into()
        },
    ))
}

fn print_report(label: &str, r: &load::Report) {
    println!(
        "{label}: {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms, {} errors, {:.1} MB/s",
        r.per_second(),
        r.percentile_ms(50.0),
        r.percentile_ms(99.0),
        r.errors,
        r.bytes as f64 / r.seconds / 1e6
    );
}

/// A child process killed when dropped.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Process {
    fn pid(&self) -> u32 {
        self.0.id()
    }
}

/// Waits for a line containing `marker` in a file a child writes; returns the rest
/// of that line after the marker.
fn wait_for_line(file: &Path, marker: &str) -> anyhow::Result<String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Ok(text) = std::fs::read_to_string(file) {
            if let Some(line) = text.lines().find(|l| l.contains(marker)) {
                let at = line.find(marker).unwrap() + marker.len();
                return Ok(line[at..].trim().to_string());
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    bail!("no line with {marker:?} in {} after 60 s", file.display())
}

/// Starts entman on the demo world in `dir`; returns the process and `host:port`.
fn start_entman(binary: &Path, dir: &Path, em_version: &str) -> anyhow::Result<(Process, String)> {
    std::fs::create_dir_all(dir)?;
    let log = dir.join("entman.log");
    let child = Command::new(binary)
        .args([
            "serve",
            "--no-https",
            "--http",
            "127.0.0.1:0",
            "--em-version",
            em_version,
        ])
        .arg("--data-dir")
        .arg(dir)
        .env("ENTMAN_ADMIN_PASSWORD", "bench")
        .stdout(std::fs::File::create(&log)?)
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| {
            format!(
                "cannot start {} (cargo build --release -p entman)",
                binary.display()
            )
        })?;
    let process = Process(child);
    let url = wait_for_line(&log, "entman listening on http://")?;
    Ok((process, url))
}

/// Starts the bare server on a copy of `body`.
fn start_bare(dir: &Path, body: &[u8], content_type: &str) -> anyhow::Result<(Process, String)> {
    let body_file = dir.join("bare-body");
    std::fs::write(&body_file, body)?;
    let log = dir.join("bare.log");
    let child = Command::new(std::env::current_exe()?)
        .args(["bare", "--content-type", content_type, "--body-file"])
        .arg(&body_file)
        .stdout(std::fs::File::create(&log)?)
        .spawn()?;
    let process = Process(child);
    let port = wait_for_line(&log, "bare listening on ")?;
    Ok((process, format!("127.0.0.1:{port}")))
}

/// One request: status, headers, body.
fn request(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, String)],
    body: Vec<u8>,
) -> anyhow::Result<(u16, hyper::HeaderMap, Bytes)> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let stream = tokio::net::TcpStream::connect(addr).await?;
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
        tokio::spawn(conn);
        let mut req = hyper::Request::builder()
            .method(method)
            .uri(path)
            .header("Host", addr);
        for (n, v) in headers {
            req = req.header(*n, v);
        }
        let response = sender
            .send_request(req.body(Full::new(Bytes::from(body)))?)
            .await?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.into_body().collect().await?.to_bytes();
        Ok((status, headers, body))
    })
}

/// Logs on with a user name and password; returns the token.
fn logon_as(addr: &str, user: &str, password: &str) -> anyhow::Result<String> {
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    token_of(request(
        addr,
        "POST",
        "/api/sessionMngr/?v=latest",
        &[("Authorization", format!("Basic {basic}"))],
        vec![],
    )?)
}

/// Logs on as the demo tenant or the benchmark's administrator; returns the token.
fn logon(addr: &str, tenant: bool) -> anyhow::Result<String> {
    if !tenant {
        return logon_as(addr, "Administrator", "bench");
    }
    token_of(request(
        addr,
        "POST",
        "/api/sessionMngr/?v=latest",
        &[("Content-Type", "application/json".into())],
        br#"{"TenantCredentials": {"Username": "ABC Company", "Password": "Qwe123"}}"#.to_vec(),
    )?)
}

/// The token of a logon answer.
fn token_of((status, headers, body): (u16, hyper::HeaderMap, Bytes)) -> anyhow::Result<String> {
    if status != 201 {
        bail!(
            "logon answered {status}: {}",
            String::from_utf8_lossy(&body)
        );
    }
    Ok(headers
        .get("x-restsvcsessionid")
        .context("no token header")?
        .to_str()?
        .to_string())
}

fn rss_kb(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

fn seed(binary: &Path, connections: usize, duration: Duration, path: &str) -> anyhow::Result<()> {
    let warmup = Duration::from_secs(2);
    let root = std::env::temp_dir().join(format!("entman-bench-{}", std::process::id()));
    println!(
        "seed collection GET {path}: {connections} connections, {} s per run, one load thread",
        duration.as_secs()
    );
    println!();
    println!("| shape | bytes | entman req/s | p50 / p99 ms | bare req/s | p50 / p99 ms | ratio |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    let mut worst: f64 = f64::MAX;
    for em in ["12", "13"] {
        let dir = root.join(format!("em{em}"));
        let (entman, addr) = start_entman(binary, &dir, em)?;
        let admin = logon(&addr, false)?;
        let tenant = logon(&addr, true)?;
        let formats: &[&str] = if em == "12" {
            &["xml", "json"]
        } else {
            &["json"]
        };
        for (who, token) in [("admin", &admin), ("tenant", &tenant)] {
            for format in formats {
                let mut headers = vec![("X-RestSvcSessionId".to_string(), token.clone())];
                if *format == "json" {
                    headers.push(("Accept".into(), "application/json".into()));
                }
                let header_refs: Vec<(&str, String)> = headers
                    .iter()
                    .map(|(n, v)| (n.as_str(), v.clone()))
                    .collect();
                let (status, response_headers, body) =
                    request(&addr, "GET", path, &header_refs, vec![])?;
                if status != 200 {
                    bail!("{path} answered {status}");
                }
                let content_type = response_headers
                    .get("content-type")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("application/xml")
                    .to_string();
                let (bare_process, bare_addr) = start_bare(&dir, &body, &content_type)?;
                let shape = load::Shape {
                    addr: addr.clone(),
                    path: path.to_string(),
                    method: hyper::Method::GET,
                    headers: headers.clone(),
                    status: 200,
                };
                let ours = load::run(&shape, connections, warmup, duration);
                let bare_shape = load::Shape {
                    addr: bare_addr,
                    ..shape
                };
                let theirs = load::run(&bare_shape, connections, warmup, duration);
                drop(bare_process);
                let ratio = ours.per_second() / theirs.per_second();
                worst = worst.min(ratio);
                println!(
                    "| {who}, {}, EM {em} | {} | {:.0} | {:.2} / {:.2} | {:.0} | {:.2} / {:.2} | {:.2} |",
                    format.to_uppercase(),
                    body.len(),
                    ours.per_second(),
                    ours.percentile_ms(50.0),
                    ours.percentile_ms(99.0),
                    theirs.per_second(),
                    theirs.percentile_ms(50.0),
                    theirs.percentile_ms(99.0),
                    ratio
                );
                if ours.errors > 0 || theirs.errors > 0 {
                    println!("  errors: entman {}, bare {}", ours.errors, theirs.errors);
                }
            }
        }
        println!(
            "  entman EM {em} memory: VmRSS {} kB, VmHWM {} kB",
            rss_kb(entman.pid(), "VmRSS:"),
            rss_kb(entman.pid(), "VmHWM:")
        );
        drop(entman);
    }
    let _ = std::fs::remove_dir_all(&root);
    println!();
    println!("lowest ratio entman / bare: {worst:.2}");
    Ok(())
}
