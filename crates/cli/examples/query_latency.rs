//! Measures query latency over HTTP against a running entman: logs on, sends each
//! query `N` times in a row on one keep-alive connection, and prints the median,
//! p99 and maximum per query, plus the server's peak memory when its pid is given.
//!
//! ```sh
//! cargo run --release -p entman --example query_latency -- \
//!   http://127.0.0.1:9399 Administrator 'P@ssw0rd' 200 [PID] -- 'type=...' 'type=...'
//! ```

use std::time::{Duration, Instant};

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn peak_memory_mb(pid: &str) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let split = args
        .iter()
        .position(|a| a == "--")
        .expect("queries follow --");
    let (base, user, password) = (&args[1], &args[2], &args[3]);
    let n: usize = args[4].parse().expect("N");
    let pid = args.get(5).filter(|p| *p != "--").cloned();
    let client = reqwest::Client::new();
    let logon = client
        .post(format!("{base}/api/sessionMngr/?v=latest"))
        .basic_auth(user, Some(password))
        .send()
        .await
        .unwrap();
    assert_eq!(logon.status(), 201, "logon");
    let token = logon.headers()["x-restsvcsessionid"]
        .to_str()
        .unwrap()
        .to_string();
    println!("| query | requests | median | p99 | max | items on the page |");
    println!("|---|---:|---:|---:|---:|---:|");
    for query in &args[split + 1..] {
        let url = format!("{base}/api/query?{query}");
        let mut times = Vec::with_capacity(n);
        let mut items = 0;
        for i in 0..n + 5 {
            let started = Instant::now();
            let r = client
                .get(&url)
                .header("X-RestSvcSessionId", &token)
                .header("Accept", "application/json")
                .send()
                .await
                .unwrap();
            let status = r.status();
            let body = r.bytes().await.unwrap();
            let elapsed = started.elapsed();
            assert_eq!(status, 200, "{query}: {}", String::from_utf8_lossy(&body));
            if i == 0 {
                items = body.windows(5).filter(|w| w == b"\"UID\"").count();
            }
            if i >= 5 {
                times.push(elapsed); // the first five warm the caches
            }
        }
        times.sort();
        println!(
            "| `{query}` | {n} | {:.1} ms | {:.1} ms | {:.1} ms | {items} |",
            percentile(&times, 0.5).as_secs_f64() * 1e3,
            percentile(&times, 0.99).as_secs_f64() * 1e3,
            times.last().unwrap().as_secs_f64() * 1e3
        );
    }
    if let Some(pid) = pid {
        if let Some(mb) = peak_memory_mb(&pid) {
            println!("\nserver peak resident memory (VmHWM): {mb:.0} MB");
        }
    }
}
