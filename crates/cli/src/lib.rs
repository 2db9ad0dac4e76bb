//! The `entman` command line: `serve`, `demo-credentials`, `user`.

mod logs;
mod serve;
mod tls;
mod users;

use clap::{Args, Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;

pub use serve::{serve, ServeOptions};

/// entman: a Veeam Backup Enterprise Manager REST API server for Cloud Connect cloud failover.
#[derive(Debug, Parser)]
#[command(name = "entman", version, about)]
pub struct Cli {
    /// The subcommand to run.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (HTTPS on 0.0.0.0:9398 by default).
    Serve(ServeArgs),
    /// Print the logons of the demo world's tenants.
    DemoCredentials,
    /// Add a large synthetic history of finished failover sessions (for load and
    /// query benchmarks), generated over the plans of the database's world.
    Generate {
        /// How many sessions to add.
        #[arg(long)]
        sessions: u32,
        /// Spread over this many days before now.
        #[arg(long, default_value_t = 365)]
        days: u32,
        /// Seed of the generator.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// The database to add the sessions to.
        #[command(flatten)]
        db: DbArgs,
    },
    /// Manage Enterprise Manager accounts.
    User {
        /// What to do with the accounts.
        #[command(subcommand)]
        action: users::UserAction,
        /// The database holding the accounts.
        #[command(flatten)]
        db: DbArgs,
    },
}

/// Where the data lives.
#[derive(Debug, Clone, Args)]
pub struct DbArgs {
    /// Directory for the SQLite database and the generated certificate.
    #[arg(
        long,
        global = true,
        env = "ENTMAN_DATA_DIR",
        default_value = "./entman-data"
    )]
    pub data_dir: PathBuf,
    /// Database URL: sqlite://FILE or postgres://... (default: SQLite file in the data dir).
    #[arg(long, global = true, env = "ENTMAN_DATABASE_URL")]
    pub database: Option<String>,
}

/// Options of `entman serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// The database to serve.
    #[command(flatten)]
    pub db: DbArgs,
    /// HTTPS listen address.
    #[arg(long, env = "ENTMAN_HTTPS", default_value = "0.0.0.0:9398")]
    pub https: SocketAddr,
    /// Disable the HTTPS listener (use with --http).
    #[arg(long)]
    pub no_https: bool,
    /// Plain HTTP listen address, as older EM versions offered on 9399 (off by default).
    #[arg(long, env = "ENTMAN_HTTP")]
    pub http: Option<SocketAddr>,
    /// JSON generation to emulate: 12 (PascalCase keys) or 13 (camelCase keys).
    #[arg(long, env = "ENTMAN_EM_VERSION", default_value = "12", value_parser = ["12", "13"])]
    pub em_version: String,
    /// TLS certificate (PEM); generated in the data dir when absent.
    #[arg(long, env = "ENTMAN_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// TLS private key (PEM).
    #[arg(long, env = "ENTMAN_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// World definition (TOML) loaded into an empty database instead of the demo world.
    #[arg(long, env = "ENTMAN_WORLD")]
    pub world: Option<PathBuf>,
    /// Idle timeout of logon sessions, in seconds.
    #[arg(long, env = "ENTMAN_IDLE_TIMEOUT", default_value_t = 900)]
    pub idle_timeout: u64,
    /// Factor applied to every failover duration (e.g. 0.01 for tests and demos).
    #[arg(long, env = "ENTMAN_TIME_SCALE", default_value_t = 1.0, value_parser = parse_time_scale)]
    pub time_scale: f64,
    /// Public base URL for links (e.g. https://em.example.com:9398) when behind a proxy.
    #[arg(long, env = "ENTMAN_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Longest a query may run, in milliseconds, before it ends with a 503 Error.
    #[arg(long, env = "ENTMAN_QUERY_BUDGET_MS", default_value_t = 3000, value_parser = clap::value_parser!(u64).range(1..=600_000))]
    pub query_budget_ms: u64,
    /// Start with the manual clock standing at this instant (ISO 8601, e.g.
    /// 2026-06-23T08:00:00Z), so that a world with past times loads as of then;
    /// move it with the control API (`/_entman/clock`).
    #[arg(long, env = "ENTMAN_CLOCK_START", value_parser = parse_clock_start)]
    pub clock_start: Option<entman_model::Timestamp>,
    /// Job schedules create no runs (nor automatic retries or immediate copies):
    /// only the runs that are started through the API happen.
    #[arg(long, env = "ENTMAN_NO_SCHEDULES")]
    pub no_schedules: bool,
    /// Answer session queries in the database instead of the in-memory index.
    #[arg(long, env = "ENTMAN_NO_QUERY_INDEX")]
    pub no_query_index: bool,
    /// Turn the control API (`/_entman/`: health, metrics, reset, clock, faults, journal; docs/testing.md) off.
    #[arg(long, env = "ENTMAN_NO_CONTROL_API")]
    pub no_control_api: bool,
    /// Turn `/_entman/metrics` off.
    #[arg(long, env = "ENTMAN_NO_METRICS")]
    pub no_metrics: bool,
    /// Requests the journal (`/_entman/requests`) keeps; 0 keeps none.
    #[arg(long, env = "ENTMAN_JOURNAL_SIZE", default_value_t = 1000, value_parser = clap::value_parser!(u64).range(0..=1_000_000))]
    pub journal_size: u64,
    /// Fault rules in force from the start: a JSON list of rules as
    /// `POST /_entman/faults` takes them.
    #[arg(long, env = "ENTMAN_FAULTS", value_name = "FILE")]
    pub faults: Option<PathBuf>,
}

fn parse_time_scale(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 && v <= 1000.0 => Ok(v),
        _ => Err(format!(
            "[{s}] is not a time scale: give a number above 0 and at most 1000"
        )),
    }
}

fn parse_clock_start(s: &str) -> Result<entman_model::Timestamp, String> {
    entman_model::Timestamp::parse(s)
        .ok_or_else(|| format!("[{s}] is not a date-time: give e.g. 2026-06-23T08:00:00Z"))
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    let result = run_command(cli);
    logs::flush();
    result
}

fn run_command(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::DemoCredentials => {
            demo_credentials();
            Ok(())
        }
        Command::Serve(args) => {
            // Logons' hashes on threads of their own, at the normal priority;
            // everything else a little below it (see `serve_runtime`).
            let cores = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
            entman_http::password::start_hashers(cores)?;
            serve_runtime()?.block_on(serve::serve(ServeOptions::from_args(args)?))
        }
        Command::User { action, db } => runtime()?.block_on(users::run(action, db)),
        Command::Generate {
            sessions,
            days,
            seed,
            db,
        } => runtime()?.block_on(serve::generate(db, sessions, days, seed)),
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

/// The server's runtime. Its threads (requests, queries, the engine) run at
/// nice 5, so that a logon's password hash, on threads at the normal priority,
/// is not starved by heavy queries on a small machine (issue 9: logon p99 with
/// eight heavy queries running).
fn serve_runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    let target = (thread_nice() + 5).min(19);
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .on_thread_start(move || set_thread_nice(target))
        .build()?)
}

/// The calling thread's nice value.
fn thread_nice() -> i32 {
    #[cfg(target_os = "linux")]
    // SAFETY: getpriority only reads the calling thread's nice value.
    unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        libc::getpriority(libc::PRIO_PROCESS, tid)
    }
    #[cfg(not(target_os = "linux"))]
    0
}

/// Sets the calling thread's nice value (threads inherit their creator's, so
/// the value is set, not added to).
fn set_thread_nice(nice: i32) {
    #[cfg(target_os = "linux")]
    // SAFETY: setpriority on the calling thread (Linux: `who` is a thread id)
    // only changes its nice value; raising it needs no privilege.
    unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        if libc::getpriority(libc::PRIO_PROCESS, tid) < nice {
            libc::setpriority(libc::PRIO_PROCESS, tid, nice);
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = nice;
}

fn demo_credentials() {
    let world = entman_world::demo_world();
    println!("Demo world tenant logons (POST /api/sessionMngr/?v=latest with a LoginSpec body):");
    for (who, how) in entman_world::credentials(&world) {
        println!("  {who}: {how}");
    }
    println!("The administrator account is set by ENTMAN_ADMIN_USER / ENTMAN_ADMIN_PASSWORD at first start.");
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
