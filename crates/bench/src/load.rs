//! A closed-loop HTTP/1.1 load generator: `connections` keep-alive connections,
//! each sending the next request as soon as the previous answer is read, for a
//! fixed time, on one thread (like `wrk -t1`). Reports requests per second and
//! latency percentiles; any status other than the expected one counts as an error.

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use std::time::{Duration, Instant};
use tokio::net::TcpStream;

/// What to send.
#[derive(Debug, Clone)]
pub(crate) struct Shape {
    /// `host:port`.
    pub addr: String,
    /// Path and query.
    pub path: String,
    /// The method (`GET`, or `POST` with no body, as a logon).
    pub method: hyper::Method,
    /// Extra request headers.
    pub headers: Vec<(String, String)>,
    /// The status every answer must have.
    pub status: u16,
}

/// The outcome of a run.
#[derive(Debug, Clone)]
pub(crate) struct Report {
    pub requests: u64,
    pub errors: u64,
    pub seconds: f64,
    pub bytes: u64,
    /// Latencies in microseconds, sorted.
    pub latencies: Vec<u32>,
}

impl Report {
    pub(crate) fn per_second(&self) -> f64 {
        self.requests as f64 / self.seconds
    }

    /// The `p`-th percentile latency in milliseconds.
    pub(crate) fn percentile_ms(&self, p: f64) -> f64 {
        if self.latencies.is_empty() {
            return 0.0;
        }
        let i = ((self.latencies.len() as f64 - 1.0) * p / 100.0).round() as usize;
        f64::from(self.latencies[i]) / 1000.0
    }
}

/// Runs `connections` connections for `warmup` (not counted) and then `duration`.
pub(crate) fn run(
    shape: &Shape,
    connections: usize,
    warmup: Duration,
    duration: Duration,
) -> Report {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime for the load generator");
    runtime.block_on(async {
        let start = Instant::now() + warmup;
        let end = start + duration;
        let mut tasks = Vec::new();
        for _ in 0..connections {
            let shape = shape.clone();
            tasks.push(tokio::spawn(
                async move { connection(shape, start, end).await },
            ));
        }
        let mut report = Report {
            requests: 0,
            errors: 0,
            seconds: duration.as_secs_f64(),
            bytes: 0,
            latencies: Vec::new(),
        };
        for task in tasks {
            let part = task.await.expect("a load connection");
            report.requests += part.requests;
            report.errors += part.errors;
            report.bytes += part.bytes;
            report.latencies.extend(part.latencies);
        }
        report.latencies.sort_unstable();
        report
    })
}

async fn connection(shape: Shape, start: Instant, end: Instant) -> Report {
    let mut part = Report {
        requests: 0,
        errors: 0,
        seconds: 0.0,
        bytes: 0,
        latencies: Vec::new(),
    };
    'reconnect: while Instant::now() < end {
        let Ok(stream) = TcpStream::connect(&shape.addr).await else {
            part.errors += 1;
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let _ = stream.set_nodelay(true);
        let io = hyper_util::rt::TokioIo::new(stream);
        let Ok((mut sender, conn)) = hyper::client::conn::http1::handshake(io).await else {
            part.errors += 1;
            continue;
        };
        tokio::spawn(conn);
        while Instant::now() < end {
            let mut request = hyper::Request::builder()
                .method(shape.method.clone())
                .uri(&shape.path)
                .header("Host", &shape.addr);
            for (name, value) in &shape.headers {
                request = request.header(name, value);
            }
            let request = request.body(Empty::<Bytes>::new()).expect("a request");
            let sent = Instant::now();
            let answer = async {
                let response = sender.send_request(request).await.ok()?;
                let status = response.status().as_u16();
                let body = response.into_body().collect().await.ok()?.to_bytes();
                Some((status, body.len()))
            }
            .await;
            let counted = sent >= start;
            match answer {
                Some((status, len)) if status == shape.status => {
                    if counted {
                        part.requests += 1;
                        part.bytes += len as u64;
                        part.latencies
                            .push(sent.elapsed().as_micros().min(u32::MAX as u128) as u32);
                    }
                }
                Some(_) => {
                    if counted {
                        part.errors += 1;
                    }
                }
                None => {
                    part.errors += 1;
                    continue 'reconnect;
                }
            }
        }
    }
    part
}
