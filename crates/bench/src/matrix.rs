//! The query-shape matrix (issue 9): every field of `type=CloudFailoverSession`
//! (query.md §4) as a filter (`==`, `!=`, date ranges, `,` OR of enumeration
//! values, `;` AND of two fields) and as `sortAsc`/`sortDesc`, on the first, the
//! middle and the last page, `pageSize=100`, as References and as Entities, with
//! one client and with several. Every request carries a distinct dummy parameter
//! so that the read cache never answers: each one is computed.
//!
//! Values to filter on are read from the server first (a failed session, its
//! plan name, message and server), so the matrix works on any world.

use anyhow::{bail, Context};
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;
use tokio::net::TcpStream;

/// One cell's measurements.
pub(crate) struct Cell {
    pub label: String,
    pub latencies_us: Vec<u32>,
    pub errors: u64,
}

impl Cell {
    fn percentile_ms(&self, p: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return 0.0;
        }
        let i = ((p / 100.0) * (self.latencies_us.len() - 1) as f64).round() as usize;
        self.latencies_us[i] as f64 / 1000.0
    }
}

/// A keep-alive HTTP/1 connection.
struct Client {
    addr: String,
    token: String,
    sender: hyper::client::conn::http1::SendRequest<Empty<Bytes>>,
}

impl Client {
    async fn connect(addr: &str, token: &str) -> anyhow::Result<Client> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let (sender, conn) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
        tokio::spawn(conn);
        Ok(Client {
            addr: addr.to_string(),
            token: token.to_string(),
            sender,
        })
    }

    async fn get(&mut self, path: &str, json: bool) -> anyhow::Result<(u16, Bytes)> {
        let mut req = hyper::Request::get(path)
            .header("Host", &self.addr)
            .header("X-RestSvcSessionId", &self.token);
        if json {
            req = req.header("Accept", "application/json");
        }
        let response = self.sender.send_request(req.body(Empty::new())?).await?;
        let status = response.status().as_u16();
        let body = response.into_body().collect().await?.to_bytes();
        Ok((status, body))
    }
}

/// Percent-encodes everything but letters and digits.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// `"text"` with inner quotes doubled (query.md §5.2).
fn quoted(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// Sample values read from the server.
struct Samples {
    uid: String,
    name: String,
    message: String,
    server_uid: String,
    server_name: String,
    created: String,
    ended: String,
    month_from: String,
    month_to: String,
}

async fn samples(client: &mut Client) -> anyhow::Result<Samples> {
    let (status, body) = client
        .get(
            "/api/query?type=CloudFailoverSession&format=Entities&pageSize=1&sortDesc=CreationTime&filter=Result%3D%3DFailed",
            true,
        )
        .await?;
    if status != 200 {
        bail!("the sample query answered {status}");
    }
    let v: serde_json::Value = serde_json::from_slice(&body)?;
    let s = &v["Entities"]["CloudFailoverSessions"]["CloudFailoverSessions"][0];
    let text = |k: &str| s[k].as_str().map(str::to_string);
    let uid = text("UID").context("no failed session to sample")?;
    let uid = uid.rsplit(':').next().unwrap_or(&uid).to_string();
    // EM 12 JSON writes the links as an array, EM 13 inside an object.
    let up = s["Links"]
        .as_array()
        .or_else(|| s["Links"]["Links"].as_array())
        .and_then(|l| l.iter().find(|l| l["Rel"] == "Up"))
        .context("no Up link")?;
    let server_name = up["Name"].as_str().unwrap_or_default().to_string();
    let server_uid = up["Href"]
        .as_str()
        .and_then(|h| h.rsplit('/').next())
        .unwrap_or_default()
        .to_string();
    let created = text("CreationTimeUTC").unwrap_or_default();
    let ended = text("EndTimeUTC").unwrap_or_else(|| created.clone());
    // A month-long window ending at the sampled session.
    let month_to = created.get(..10).unwrap_or("2026-12-01").to_string();
    let month_from = {
        let (y, m) = (
            month_to[..4].parse::<i32>().unwrap_or(2026),
            month_to[5..7].parse::<i32>().unwrap_or(12),
        );
        let (y, m) = if m == 1 { (y - 1, 12) } else { (y, m - 1) };
        format!("{y:04}-{m:02}{}", &month_to[7..])
    };
    // The task's message is the session's when the session has none.
    let message = text("FailureMessage")
        .or_else(|| {
            s["CloudFailoverTasks"]["CloudFailoverTasks"]
                .as_array()
                .or_else(|| s["CloudFailoverTasks"].as_array())
                .and_then(|t| t.iter().find_map(|t| t["FailureMessage"].as_str()))
                .map(str::to_string)
        })
        .unwrap_or_else(|| "Guest OS did not respond to the ping test.".into());
    Ok(Samples {
        uid,
        name: text("Name").unwrap_or_default(),
        message,
        server_uid,
        server_name,
        created,
        ended,
        month_from,
        month_to,
    })
}

/// The filters of the matrix, labelled.
fn filters(s: &Samples) -> Vec<(String, String)> {
    let mut f = vec![("(none)".to_string(), String::new())];
    let mut both = |field: &str, value: String| {
        f.push((format!("{field}=="), format!("{field}=={value}")));
        f.push((format!("{field}!="), format!("{field}!={value}")));
    };
    both("UID", s.uid.clone());
    both("Name", quoted(&s.name));
    both("Type", "FailoverPlan".into());
    both("CreationTime", quoted(&s.created));
    both("EndTime", quoted(&s.ended));
    both("State", "Stopped".into());
    both("Result", "Failed".into());
    both("FailureMessage", quoted(&s.message));
    both("BackupServerUid", s.server_uid.clone());
    both("BackupServerName", quoted(&s.server_name));
    let range = |field: &str| {
        format!(
            "{field}>={};{field}<{}",
            quoted(&s.month_from),
            quoted(&s.month_to)
        )
    };
    f.push(("CreationTime range".into(), range("CreationTime")));
    f.push(("EndTime range".into(), range("EndTime")));
    f.push(("Result OR".into(), "Result==Failed,Result==Warning".into()));
    f.push(("State OR".into(), "State==Working,State==Stopping".into()));
    f.push((
        "Result AND Name".into(),
        format!("Result==Failed;Name=={}", quoted(&s.name)),
    ));
    f.push((
        "Result AND CreationTime".into(),
        format!("Result==Failed;CreationTime>={}", quoted(&s.month_from)),
    ));
    f.push((
        "State AND BackupServerName".into(),
        format!(
            "State==Stopped;BackupServerName=={}",
            quoted(&s.server_name)
        ),
    ));
    f
}

const FIELDS: &[&str] = &[
    "UID",
    "Name",
    "Type",
    "CreationTime",
    "EndTime",
    "State",
    "Result",
    "FailureMessage",
    "BackupServerUid",
    "BackupServerName",
];

/// One query of the matrix: label, query string without `page`.
struct Shape {
    label: String,
    query: String,
}

fn shapes(s: &Samples) -> Vec<Shape> {
    let mut out = Vec::new();
    // Every filter, sorted by EndTime (the sort the issue measured), both formats.
    for (label, filter) in filters(s) {
        for format in ["References", "Entities"] {
            let mut q =
                format!("type=CloudFailoverSession&format={format}&pageSize=100&sortDesc=EndTime");
            if !filter.is_empty() {
                q.push_str("&filter=");
                q.push_str(&encode(&filter));
            }
            out.push(Shape {
                label: format!("filter {label} | sortDesc EndTime | {format}"),
                query: q,
            });
        }
    }
    // Every field as a sort, both directions, without a filter and with one.
    for field in FIELDS {
        for dir in ["sortAsc", "sortDesc"] {
            for (flabel, filter) in [("(none)", ""), ("Result==Failed", "Result%3D%3DFailed")] {
                for format in ["References", "Entities"] {
                    let mut q = format!(
                        "type=CloudFailoverSession&format={format}&pageSize=100&{dir}={field}"
                    );
                    if !filter.is_empty() {
                        q.push_str("&filter=");
                        q.push_str(filter);
                    }
                    out.push(Shape {
                        label: format!("filter {flabel} | {dir} {field} | {format}"),
                        query: q,
                    });
                }
            }
        }
    }
    out
}

fn pages_count(body: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(body).ok()?;
    let at = text.find("PagesCount=\"")? + "PagesCount=\"".len();
    text[at..].split('"').next()?.parse().ok()
}

/// When each client of a cell stops.
#[derive(Clone, Copy)]
enum Until {
    /// After this many requests.
    Requests(usize),
    /// At this instant.
    Time(Instant),
}

/// Runs one cell: `clients` connections sending `path` (each request made
/// distinct by a counter) until `until`.
async fn cell(
    addr: &str,
    token: &str,
    path: &str,
    clients: usize,
    until: Until,
    counter: Arc<AtomicU64>,
) -> anyhow::Result<Cell> {
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let mut client = Client::connect(addr, token).await?;
        let path = path.to_string();
        let counter = counter.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut errors = 0;
            let mut sent_count = 0usize;
            while match until {
                Until::Requests(n) => sent_count < n,
                Until::Time(end) => Instant::now() < end,
            } {
                sent_count += 1;
                let n = counter.fetch_add(1, Ordering::Relaxed);
                let url = format!("{path}&bench={n}");
                let sent = Instant::now();
                match client.get(&url, false).await {
                    Ok((200, _)) => lat.push(sent.elapsed().as_micros() as u32),
                    _ => errors += 1,
                }
            }
            (lat, errors)
        }));
    }
    let mut cell = Cell {
        label: String::new(),
        latencies_us: Vec::new(),
        errors: 0,
    };
    for t in tasks {
        let (lat, errors) = t.await?;
        cell.latencies_us.extend(lat);
        cell.errors += errors;
    }
    cell.latencies_us.sort_unstable();
    Ok(cell)
}

/// Options of [`run`].
pub(crate) struct MatrixOptions {
    pub addr: String,
    pub token: String,
    pub clients: Vec<usize>,
    pub requests: usize,
    pub pid: Option<u32>,
    pub limit_ms: f64,
}

/// Runs the matrix and prints one Markdown row per cell, then a summary.
pub(crate) fn run(o: MatrixOptions) -> anyhow::Result<bool> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let mut probe = Client::connect(&o.addr, &o.token).await?;
        let s = samples(&mut probe).await?;
        let shapes = shapes(&s);
        let counter = Arc::new(AtomicU64::new(0));
        println!(
            "query matrix: {} shapes x first/middle/last page x clients {:?}, {} requests per client per cell",
            shapes.len(),
            o.clients,
            o.requests
        );
        println!();
        println!("| filter | sort | format | page | clients | p50 ms | p99 ms | max ms | errors |");
        println!("|---|---|---|---:|---:|---:|---:|---:|---:|");
        let mut worst: Vec<(f64, String)> = Vec::new();
        let mut failures = 0usize;
        let mut peak_rss = 0u64;
        let mut all: Vec<Vec<u32>> = vec![Vec::new(); o.clients.len()];
        for shape in &shapes {
            let (status, body) = probe
                .get(&format!("/api/query?{}&bench=probe", shape.query), false)
                .await?;
            if status != 200 {
                bail!("{} answered {status}: {}", shape.label, String::from_utf8_lossy(&body));
            }
            let pages = pages_count(&body).context("no PagesCount")?;
            let mut page_list = vec![1, pages.div_ceil(2).max(1), pages];
            page_list.dedup();
            for page in page_list {
                let path = format!("/api/query?{}&page={page}", shape.query);
                for (ci, clients) in o.clients.iter().enumerate() {
                    let mut c = cell(&o.addr, &o.token, &path, *clients, Until::Requests(o.requests), counter.clone())
                        .await?;
                    c.label = format!("{} | {page} of {pages} | {clients}", shape.label);
                    let p99 = c.percentile_ms(99.0);
                    let over = p99 > o.limit_ms || c.errors > 0;
                    if over {
                        failures += 1;
                    }
                    all[ci].extend_from_slice(&c.latencies_us);
                    let cols: Vec<&str> = shape.label.split(" | ").collect();
                    println!(
                        "| {} | {} | {} | {page} of {pages} | {clients} | {:.1} | {:.1}{} | {:.1} | {} |",
                        cols[0].trim_start_matches("filter "),
                        cols[1],
                        cols[2],
                        c.percentile_ms(50.0),
                        p99,
                        if over { " **over**" } else { "" },
                        c.latencies_us.last().copied().unwrap_or(0) as f64 / 1000.0,
                        c.errors
                    );
                    worst.push((p99, c.label));
                    if let Some(pid) = o.pid {
                        peak_rss = peak_rss.max(crate::rss_kb(pid, "VmRSS:"));
                    }
                }
            }
        }
        worst.sort_by(|a, b| b.0.total_cmp(&a.0));
        println!();
        println!("cells: {}; over the {} ms p99 limit: {failures}", worst.len(), o.limit_ms);
        for (ci, clients) in o.clients.iter().enumerate() {
            let lat = &mut all[ci];
            lat.sort_unstable();
            let pct = |p: f64| {
                lat.get(((p / 100.0) * (lat.len().max(1) - 1) as f64).round() as usize)
                    .copied()
                    .unwrap_or(0) as f64
                    / 1000.0
            };
            println!(
                "all cells with {clients} client(s): {} requests, p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
                lat.len(),
                pct(50.0),
                pct(99.0),
                pct(100.0)
            );
        }
        println!("slowest cells (p99):");
        for (p99, label) in worst.iter().take(8) {
            println!("  {p99:.1} ms  {label}");
        }
        if let Some(pid) = o.pid {
            println!(
                "server memory: VmRSS {} kB now, highest seen {peak_rss} kB, VmHWM {} kB",
                crate::rss_kb(pid, "VmRSS:"),
                crate::rss_kb(pid, "VmHWM:")
            );
        }
        Ok(failures == 0)
    })
}

/// Runs `clients` connections that send `query` (each request made distinct)
/// without pause for `seconds`; prints the latencies. The load of the
/// isolation benchmark (docs/benchmarks.md).
pub(crate) fn hammer(
    addr: &str,
    token: &str,
    query: &str,
    clients: usize,
    seconds: u64,
) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let end = Instant::now() + std::time::Duration::from_secs(seconds);
        let path = format!("/api/query?{query}");
        let counter = Arc::new(AtomicU64::new(0));
        let cell = cell(addr, token, &path, clients, Until::Time(end), counter).await?;
        println!(
            "heavy queries: {} answered, p50 {:.1} ms, p99 {:.1} ms, {} errors",
            cell.latencies_us.len(),
            cell.percentile_ms(50.0),
            cell.percentile_ms(99.0),
            cell.errors
        );
        Ok(())
    })
}
