//! `entman serve`: open the store, make sure the administrator and the world exist,
//! and serve the API on HTTPS (and optionally plain HTTP) until SIGINT/SIGTERM.

use crate::{tls, users, ServeArgs};
use anyhow::Context;
use entman_http::application::{App, AppConfig, IndexLoad};
use entman_http::{server, HttpConfig, Scheme};
use entman_model::job_session::Generation;
use entman_model::Timestamp;
use entman_repr::JsonStyle;
use entman_store::prelude::*;
use entman_store::Store;
use entman_store_sql::{sqlite_url, SqlStore};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Everything `serve` needs, resolved from the command line and environment.
#[derive(Clone)]
pub struct ServeOptions {
    /// Where the SQLite database and the generated certificate live.
    pub data_dir: PathBuf,
    /// The database to open (`sqlite://…` in `data_dir` unless `--database`).
    pub database_url: String,
    /// The HTTPS listener, unless `--no-https`.
    pub https: Option<SocketAddr>,
    /// The plain HTTP listener, if asked for.
    pub http: Option<SocketAddr>,
    /// The JSON generation answered (EM 12 or EM 13).
    pub json_style: JsonStyle,
    /// PEM certificate and key given; a self-signed pair is generated otherwise.
    pub tls_files: Option<(PathBuf, PathBuf)>,
    /// A world file to load into an empty database; the demo world otherwise.
    pub world: Option<PathBuf>,
    /// How long a logon session lives without requests.
    pub idle_timeout: Duration,
    /// The base of every link, when clients reach the server through a proxy.
    pub public_url: Option<String>,
    /// The engine's time scale (1.0: real durations).
    pub time_scale: f64,
    /// The per-query budget of the query service.
    pub query_budget: Duration,
    /// Whether session queries use the in-memory index.
    pub query_index: bool,
    /// Whether job schedules create runs.
    pub schedules: bool,
    /// Start with a manual clock at this instant (`--clock-start`).
    pub clock_start: Option<Timestamp>,
    /// The control API's settings.
    pub control: entman_http::control::ControlConfig,
    /// The administrator account's name.
    pub admin_user: String,
    /// Its password, when given (`ENTMAN_ADMIN_PASSWORD`).
    pub admin_password: Option<String>,
}

impl std::fmt::Debug for ServeOptions {
    // The administrator password never reaches a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServeOptions")
            .field("data_dir", &self.data_dir)
            .field("database", &redact_url(&self.database_url))
            .field("https", &self.https)
            .field("http", &self.http)
            .field("admin_user", &self.admin_user)
            .field(
                "admin_password",
                &self.admin_password.as_ref().map(|_| "<redacted>"),
            )
            .finish_non_exhaustive()
    }
}

/// Hides the password of a database URL.
fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => format!("{}://<redacted>{}", &url[..s], &url[at..]),
        _ => url.to_string(),
    }
}

impl ServeOptions {
    /// Resolves command-line arguments and the `ENTMAN_ADMIN_*` variables.
    pub fn from_args(args: ServeArgs) -> anyhow::Result<ServeOptions> {
        if args.no_https && args.http.is_none() {
            anyhow::bail!("--no-https needs --http ADDR, or there is nothing to listen on");
        }
        let database_url = args
            .db
            .database
            .clone()
            .unwrap_or_else(|| sqlite_url(&args.db.data_dir.join("entman.db")));
        let admin_user =
            std::env::var("ENTMAN_ADMIN_USER").unwrap_or_else(|_| "Administrator".into());
        Ok(ServeOptions {
            data_dir: args.db.data_dir,
            database_url,
            https: (!args.no_https).then_some(args.https),
            http: args.http,
            json_style: if args.em_version == "13" {
                JsonStyle::Em13
            } else {
                JsonStyle::Em12
            },
            tls_files: args.tls_cert.zip(args.tls_key),
            world: args.world,
            idle_timeout: Duration::from_secs(args.idle_timeout.max(1)),
            public_url: args.public_url,
            time_scale: args.time_scale,
            query_budget: Duration::from_millis(args.query_budget_ms),
            query_index: !args.no_query_index,
            schedules: !args.no_schedules,
            clock_start: args.clock_start,
            control: entman_http::control::ControlConfig {
                enabled: !args.no_control_api,
                metrics: !args.no_metrics,
                journal_size: args.journal_size as usize,
                faults: match &args.faults {
                    Some(path) => read_faults(path)?,
                    None => Vec::new(),
                },
                first_accounts: vec![admin_user.clone()],
            },
            admin_user,
            admin_password: std::env::var("ENTMAN_ADMIN_PASSWORD")
                .ok()
                .filter(|p| !p.is_empty()),
        })
    }
}

/// Reads a `--faults` file: a JSON list of fault rules (controls.md §3).
fn read_faults(path: &std::path::Path) -> anyhow::Result<Vec<entman_http::control::faults::Rule>> {
    use anyhow::Context;
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the fault rules in {}", path.display()))?;
    let value: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))?;
    let serde_json::Value::Array(rules) = value else {
        anyhow::bail!("{} must hold a JSON list of fault rules", path.display());
    };
    rules
        .iter()
        .enumerate()
        .map(|(i, rule)| {
            entman_http::control::faults::Rule::from_json(rule)
                .map_err(|e| anyhow::anyhow!("{}: rule {}: {e}", path.display(), i + 1))
        })
        .collect()
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(crate::logs::ansi())
        .with_writer(crate::logs::LogOutput)
        .try_init();
}

/// Opens the store and prepares it: migrations, administrator, world (the
/// application adds change tracking, [`App::build`]).
pub(crate) async fn prepare_store(opts: &ServeOptions) -> anyhow::Result<Arc<dyn Store>> {
    std::fs::create_dir_all(&opts.data_dir).with_context(|| {
        format!(
            "cannot create the data directory {}",
            opts.data_dir.display()
        )
    })?;
    let store = SqlStore::connect(&opts.database_url)
        .await
        .with_context(|| {
            format!(
                "cannot open the database {}",
                redact_url(&opts.database_url)
            )
        })?;
    let store: Arc<dyn Store> = Arc::new(store);
    users::ensure_admin(
        store.as_ref(),
        &opts.admin_user,
        opts.admin_password.as_deref(),
    )
    .await?;
    let anchor = opts.clock_start.unwrap_or_else(Timestamp::now);
    ensure_world(
        store.as_ref(),
        opts.world.as_deref(),
        opts.json_style,
        anchor,
    )
    .await?;
    Ok(store)
}

/// Loads the world into a database that has none yet.
async fn ensure_world(
    store: &dyn Store,
    file: Option<&std::path::Path>,
    style: JsonStyle,
    anchor: Timestamp,
) -> anyhow::Result<()> {
    if store.meta("world").await?.is_some() {
        return Ok(());
    }
    let (name, text) = match file {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            (path.display().to_string(), text)
        }
        None => ("demo".to_string(), entman_world::demo_text().to_string()),
    };
    let report = entman_world::install(
        store,
        &name,
        &text,
        anchor,
        match style {
            JsonStyle::Em13 => Generation::Em13,
            JsonStyle::Em12 => Generation::Em12,
        },
        &entman_http::password::hash,
    )
    .await?;
    tracing::info!(world = name, ?report, "world loaded");
    Ok(())
}

/// `entman generate`: appends a synthetic history in batches.
pub(crate) async fn generate(
    db: crate::DbArgs,
    sessions: u32,
    days: u32,
    seed: u64,
) -> anyhow::Result<()> {
    init_tracing();
    std::fs::create_dir_all(&db.data_dir)?;
    let url = db
        .database
        .clone()
        .unwrap_or_else(|| sqlite_url(&db.data_dir.join("entman.db")));
    let store = SqlStore::connect(&url)
        .await
        .with_context(|| format!("cannot open the database {}", redact_url(&url)))?;
    store.bulk_mode().await?;
    ensure_world(&store, None, JsonStyle::Em12, Timestamp::now()).await?;
    let plans = store.list_plans(entman_store::Scope::All).await?;
    let points = store.list_points(entman_store::Scope::All, None).await?;
    let def = entman_world::format::HistoryDef {
        sessions,
        days,
        seed,
    };
    let started = std::time::Instant::now();
    let load = store.begin_bulk_load(u64::from(sessions)).await?;
    // A bar on a terminal; plain progress lines otherwise (logs, CI).
    let bar = if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        indicatif::ProgressBar::new(u64::from(sessions)).with_style(
            indicatif::ProgressStyle::with_template(
                "{bar:40} {pos}/{len} sessions ({per_sec}, {eta} left)",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        )
    } else {
        indicatif::ProgressBar::hidden()
    };
    // The history is generated on its own thread, a batch ahead of the writer.
    let (batches, mut ready) = tokio::sync::mpsc::channel(1);
    let now = Timestamp::now();
    let generator = std::thread::spawn(move || {
        generate_batches(&def, &plans, &points, now, &batches);
    });
    let mut written = 0u64;
    while let Some(batch) = ready.recv().await {
        let n = batch.len() as u64;
        store.save_owned_sessions(batch).await?;
        let before = written;
        written += n;
        bar.set_position(written);
        if bar.is_hidden() && written / 100_000 > before / 100_000 {
            println!(
                "{written} sessions written ({:.0} s)",
                started.elapsed().as_secs_f64()
            );
        }
    }
    generator
        .join()
        .map_err(|_| anyhow::anyhow!("the history generator failed"))?;
    bar.finish_and_clear();
    if load == entman_store_sql::BulkLoad::Deferred {
        println!(
            "{written} sessions inserted in {:.1} s; building the session indexes",
            started.elapsed().as_secs_f64()
        );
        store.end_bulk_load().await?;
    }
    store.analyze().await?;
    println!(
        "{written} sessions written in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    store.close().await;
    Ok(())
}

/// Sessions a bulk load writes per transaction.
const GENERATE_BATCH: usize = 50_000;

/// Sends the history of `def` in batches of [`GENERATE_BATCH`] until it is
/// generated or the receiver is gone.
fn generate_batches(
    def: &entman_world::format::HistoryDef,
    plans: &[entman_model::plan::Plan],
    points: &[entman_model::replica::VmReplicaPoint],
    now: Timestamp,
    batches: &tokio::sync::mpsc::Sender<Vec<entman_model::session::FailoverSession>>,
) {
    let mut batch = Vec::with_capacity(GENERATE_BATCH);
    for session in entman_world::history::sessions(def, plans, points, now) {
        batch.push(session);
        if batch.len() == GENERATE_BATCH {
            let full = std::mem::replace(&mut batch, Vec::with_capacity(GENERATE_BATCH));
            if batches.blocking_send(full).is_err() {
                return;
            }
        }
    }
    if !batch.is_empty() {
        let _ = batches.blocking_send(batch);
    }
}

/// Runs the server until SIGINT or SIGTERM.
pub async fn serve(opts: ServeOptions) -> anyhow::Result<()> {
    init_tracing();
    let store = prepare_store(&opts).await?;
    let config = AppConfig {
        http: HttpConfig {
            json_style: opts.json_style,
            idle_timeout: opts.idle_timeout,
            public_base: opts.public_url.clone(),
            query_budget: opts.query_budget,
            control: opts.control.clone(),
            ..HttpConfig::default()
        },
        time_scale: opts.time_scale,
        index: if opts.query_index {
            IndexLoad::Background
        } else {
            IndexLoad::Off
        },
        schedules: opts.schedules,
        manual_clock: opts.clock_start,
        ..AppConfig::default()
    };
    let application = App::build(store, config).await?;
    let shutdown = shutdown_signal();
    let mut listeners = Vec::new();
    let mut wanted = Vec::new();
    if let Some(addr) = opts.https {
        let tls = tls::rustls_config(&opts.data_dir, opts.tls_files.as_ref())?;
        wanted.push((addr, Some(tls), Scheme::Https));
    }
    if let Some(addr) = opts.http {
        wanted.push((addr, None, Scheme::Http));
    }
    for (addr, tls, scheme) in wanted {
        let tcp = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr}"))?;
        let shown = if tls.is_some() { "https" } else { "http" };
        println!("entman listening on {shown}://{}", tcp.local_addr()?);
        listeners.push((server::Listener { tcp, tls }, scheme));
    }
    let served = application.serve(listeners, shutdown).await;
    crate::logs::flush();
    Ok(served?)
}

/// Waits for SIGINT or SIGTERM. The handlers are installed when this is called,
/// not when the future is first polled: called before the server announces that
/// it listens, a signal sent right after that line is never lost to the default
/// action (the process dying without its clean shutdown).
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, Signal, SignalKind};
        async fn wait(s: Option<Signal>) {
            match s {
                Some(mut s) => {
                    s.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        }
        let term = signal(SignalKind::terminate()).ok();
        let int = signal(SignalKind::interrupt()).ok();
        async move {
            tokio::select! {
                () = wait(term) => {},
                () = wait(int) => {},
            }
        }
    }
    #[cfg(not(unix))]
    async {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn database_passwords_are_redacted() {
        assert_eq!(
            super::redact_url("postgres://u:secret@h:5432/db"),
            "postgres://<redacted>@h:5432/db"
        );
        assert_eq!(super::redact_url("sqlite://x.db"), "sqlite://x.db");
    }

    #[test]
    fn a_faults_file_is_a_json_list_of_checked_rules() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("faults.json");
        std::fs::write(
            &path,
            r#"[{"path": "/api/query*", "times": 2, "action": {"status": 503, "retryAfter": 5}},
                {"method": "POST", "path": "/api/sessionmngr", "action": {"delayMs": [10, 20]}}]"#,
        )
        .unwrap();
        let rules = super::read_faults(&path).unwrap();
        assert_eq!(rules.len(), 2);
        assert_eq!(rules[0].times, Some(2));
        assert_eq!(rules[1].method.as_deref(), Some("POST"));
        for (text, says) in [
            (r#"{"path": "*"}"#, "a JSON list"),
            (r#"[{"path": "*", "action": {"status": 200}}]"#, "rule 1"),
            ("not json", "is not JSON"),
        ] {
            std::fs::write(&path, text).unwrap();
            let e = super::read_faults(&path).unwrap_err().to_string();
            assert!(e.contains(says), "{text}: {e}");
        }
        assert!(super::read_faults(&dir.path().join("missing.json")).is_err());
    }
}
