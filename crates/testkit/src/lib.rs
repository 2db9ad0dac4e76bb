//! Dev-only helpers: start entman on a random port over a fresh database, and
//! speak HTTP to it the way EM clients do.
//!
//! Every test gets its own database: a SQLite file in a temporary directory, or,
//! when `ENTMAN_TEST_DATABASE_URL` names a PostgreSQL server, a new database on it
//! (dropped again when the test ends). [`backends`] lists the ones to run on.

pub mod fixture;

use entman_engine::Engine;
use entman_http::application::{App, AppConfig, IndexLoad};
use entman_http::{app, server, AppState, HttpConfig, Scheme};
use entman_model::auth::{Account, Role};
use entman_model::ids::AccountId;
use entman_model::job_session::Generation;
use entman_model::Timestamp;
use entman_store::Store;
use entman_store_sql::{sqlite_url, SqlStore};
use std::sync::Arc;

pub use reqwest;

/// The administrator every test app has.
pub const ADMIN: (&str, &str) = ("SRV12\\Administrator", "P@ssw0rd");

/// Base URL used for links in snapshot apps, so that snapshots are stable.
pub const SNAPSHOT_BASE: &str = "https://localhost:9398";

/// A database for one test.
pub enum TestDb {
    /// A SQLite file in a temporary directory.
    Sqlite(tempfile::TempDir),
    /// A database created on a PostgreSQL server.
    Postgres {
        /// URL of the server.
        server: String,
        /// Name of the database created for the test.
        name: String,
    },
}

impl TestDb {
    /// A fresh SQLite database.
    pub fn sqlite() -> TestDb {
        TestDb::Sqlite(tempfile::tempdir().expect("temporary directory"))
    }

    /// A fresh PostgreSQL database, when `ENTMAN_TEST_DATABASE_URL` is set.
    pub async fn postgres() -> Option<TestDb> {
        let server = std::env::var("ENTMAN_TEST_DATABASE_URL")
            .ok()
            .filter(|u| !u.is_empty())?;
        Some(TestDb::postgres_on(&server).await)
    }

    /// A fresh database on the PostgreSQL server `server` (a URL to any of its
    /// databases), dropped with the value.
    pub async fn postgres_on(server: &str) -> TestDb {
        let name = format!("entman_test_{}", uuid::Uuid::new_v4().simple());
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect(server)
            .await
            .expect("the PostgreSQL server must be reachable");
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .expect("create test database");
        TestDb::Postgres {
            server: server.to_string(),
            name,
        }
    }

    /// The URL entman connects to.
    pub fn url(&self) -> String {
        match self {
            TestDb::Sqlite(dir) => sqlite_url(&dir.path().join("entman.db")),
            TestDb::Postgres { server, name } => with_database(server, name),
        }
    }

    /// `sqlite` or `postgres`.
    pub fn label(&self) -> &'static str {
        match self {
            TestDb::Sqlite(_) => "sqlite",
            TestDb::Postgres { .. } => "postgres",
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let TestDb::Postgres { server, name } = self {
            let (server, name) = (server.clone(), name.clone());
            // Drop runs inside a test's runtime; use a separate thread and runtime.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .ok()?;
                rt.block_on(async {
                    use sqlx::Connection;
                    let mut conn = sqlx::PgConnection::connect(&server).await.ok()?;
                    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .execute(&mut conn)
                        .await
                        .ok()
                })
            })
            .join();
        }
    }
}

/// Replaces the database name of a PostgreSQL URL.
fn with_database(server: &str, name: &str) -> String {
    let (base, query) = match server.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (server, None),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let root = match base[scheme_end..].find('/') {
        Some(i) => &base[..scheme_end + i],
        None => base,
    };
    match query {
        Some(q) => format!("{root}/{name}?{q}"),
        None => format!("{root}/{name}"),
    }
}

/// The databases tests run on: SQLite always, PostgreSQL when configured.
pub async fn backends() -> Vec<TestDb> {
    let mut dbs = vec![TestDb::sqlite()];
    if let Some(pg) = TestDb::postgres().await {
        dbs.push(pg);
    }
    dbs
}

/// What world a test app starts with.
pub enum Seed {
    /// The built-in demo world, anchored at the current time.
    Demo,
    /// The snapshot fixture (documentation example values, fixed times).
    Fixture,
    /// Nothing but the administrator.
    Empty,
}

/// The HTTPS listener of a test app.
pub struct Https {
    /// `https://127.0.0.1:<port>`.
    pub address: String,
    /// The server's self-signed certificate, for clients to trust.
    pub cert_pem: String,
    server: tokio::task::JoinHandle<()>,
}

/// A running entman on a random local port.
pub struct TestApp {
    /// `http://127.0.0.1:<port>`.
    pub address: String,
    /// `http://127.0.0.1:<port>` of the same server without the read cache.
    pub reference: String,
    reference_server: tokio::task::JoinHandle<()>,
    /// The HTTPS listener, when [`Options::https`] asked for one.
    pub https: Option<Https>,
    /// The store behind the server.
    pub store: Arc<dyn Store>,
    /// The engine behind the server.
    pub engine: Arc<Engine>,
    /// An HTTP client without cookie storage.
    pub client: reqwest::Client,
    db: Option<TestDb>,
    server: tokio::task::JoinHandle<()>,
    /// The application (engine loop, index, purge); dropped with the app.
    application: Option<App>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.server.abort();
        self.reference_server.abort();
        if let Some(https) = &self.https {
            https.server.abort();
        }
    }
}

/// Options of [`spawn`].
pub struct Options {
    /// What the store holds before the server starts.
    pub seed: Seed,
    /// The server's configuration.
    pub config: HttpConfig,
    /// Time scale of the engine; tests default to 0.01 (a 15 s VM takes 150 ms).
    pub time_scale: f64,
    /// Also listen on HTTPS with a self-signed certificate.
    pub https: bool,
    /// Whether job schedules create runs; off in tests unless one asks, so that
    /// no run appears at a wall-clock time in the middle of a test.
    pub schedules: bool,
    /// Start with a manual clock at this instant instead of the system clock.
    pub manual_clock: Option<entman_model::Timestamp>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            seed: Seed::Demo,
            config: HttpConfig::default(),
            time_scale: 0.01,
            https: false,
            schedules: false,
            manual_clock: None,
        }
    }
}

/// Starts an app over SQLite with the demo world.
pub async fn spawn_app() -> TestApp {
    spawn(TestDb::sqlite(), Options::default()).await
}

/// Starts an app over the snapshot fixture, with stable link bases.
pub async fn spawn_fixture_app(db: TestDb) -> TestApp {
    spawn_fixture_app_styled(db, entman_repr::JsonStyle::default()).await
}

/// [`spawn_fixture_app`] answering JSON in the given EM generation.
pub async fn spawn_fixture_app_styled(db: TestDb, json_style: entman_repr::JsonStyle) -> TestApp {
    let config = HttpConfig {
        public_base: Some(SNAPSHOT_BASE.into()),
        json_style,
        ..HttpConfig::default()
    };
    spawn(
        db,
        Options {
            seed: Seed::Fixture,
            config,
            ..Options::default()
        },
    )
    .await
}

/// Starts an app on `db`.
pub async fn spawn(db: TestDb, mut options: Options) -> TestApp {
    // As in `entman serve`: a reset that drops accounts keeps the administrator.
    if options.config.control.first_accounts.is_empty() {
        options.config.control.first_accounts.push(ADMIN.0.into());
    }
    let sql: Arc<dyn Store> = Arc::new(
        SqlStore::connect(&db.url())
            .await
            .expect("connect to the test database"),
    );
    let hash = entman_http::password::hash(ADMIN.1);
    sql.upsert_account(&Account {
        id: AccountId::new_random(),
        name: ADMIN.0.into(),
        password_hash: hash,
        roles: vec![Role::PortalAdministrator],
    })
    .await
    .expect("create the administrator");
    match options.seed {
        Seed::Demo => {
            entman_world::install(
                sql.as_ref(),
                "demo",
                entman_world::demo_text(),
                options.manual_clock.unwrap_or_else(Timestamp::now),
                match options.config.json_style {
                    entman_repr::JsonStyle::Em13 => Generation::Em13,
                    entman_repr::JsonStyle::Em12 => Generation::Em12,
                },
                &entman_http::password::hash,
            )
            .await
            .expect("load the demo world");
        }
        Seed::Fixture => {
            let generation = match options.config.json_style {
                entman_repr::JsonStyle::Em13 => Generation::Em13,
                entman_repr::JsonStyle::Em12 => Generation::Em12,
            };
            fixture::load_for(sql.as_ref(), generation).await;
        }
        Seed::Empty => {}
    }
    // As `entman serve` builds it, with the index loaded before the first
    // request so that tests always exercise it.
    let application = App::build(
        sql.clone(),
        AppConfig {
            http: options.config.clone(),
            time_scale: options.time_scale,
            index: IndexLoad::Before,
            schedules: options.schedules,
            manual_clock: options.manual_clock,
            ..AppConfig::default()
        },
    )
    .await
    .expect("build the application");
    let state = application.state().clone();
    let store = state.store.clone();
    let engine = state.engine.clone();
    let (address, server) = listen(state.clone(), None).await;
    // The same server over the untracked store: nothing is cached there and
    // queries run in SQL, so its answers are the reference for the read cache's
    // and the index's.
    let reference_state = AppState::new(sql, engine.clone(), options.config);
    let (reference, reference_server) = listen(reference_state, None).await;
    let https = if options.https {
        let tls = test_certificate();
        let config = server::tls_config(tls.cert_pem.as_bytes(), tls.key_pem.as_bytes())
            .expect("TLS configuration of the test certificate");
        let (address, task) = listen(state, Some(config)).await;
        Some(Https {
            address,
            cert_pem: tls.cert_pem,
            server: task,
        })
    } else {
        None
    };
    let client = reqwest::Client::builder().build().expect("HTTP client");
    TestApp {
        address,
        reference,
        reference_server,
        https,
        store,
        engine,
        client,
        db: Some(db),
        server,
        application: Some(application),
    }
}

/// Serves the app on a random local port: plain HTTP, or HTTPS with `tls`.
async fn listen(
    state: AppState,
    tls: Option<std::sync::Arc<server::rustls::ServerConfig>>,
) -> (String, tokio::task::JoinHandle<()>) {
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a random port");
    let (scheme, label) = match tls {
        Some(_) => (Scheme::Https, "https"),
        None => (Scheme::Http, "http"),
    };
    let address = format!("{label}://{}", tcp.local_addr().unwrap());
    let router = app(state, scheme);
    let task = tokio::spawn(async move {
        server::serve(
            server::Listener { tcp, tls },
            router,
            std::future::pending(),
        )
        .await
        .expect("server runs");
    });
    (address, task)
}

/// A self-signed certificate for `localhost` and `127.0.0.1`, in PEM.
pub struct TestCertificate {
    /// The certificate, PEM.
    pub cert_pem: String,
    /// Its private key, PEM.
    pub key_pem: String,
}

/// A new self-signed test certificate.
pub fn test_certificate() -> TestCertificate {
    let certified =
        rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()])
            .expect("generate a test certificate");
    TestCertificate {
        cert_pem: certified.cert.pem(),
        key_pem: certified.key_pair.serialize_pem(),
    }
}

/// A logged-on session.
#[derive(Debug, Clone)]
pub struct Logon {
    /// The `X-RestSvcSessionId` token.
    pub token: String,
    /// The logon session's id.
    pub session_id: String,
}

impl TestApp {
    /// The service the listeners run (plain HTTP), for requests without a socket
    /// (`tower::ServiceExt::oneshot`).
    pub fn router(&self) -> axum::Router {
        self.application
            .as_ref()
            .expect("the application runs until into_db")
            .router(Scheme::Http)
    }

    /// Stops the server and hands back its database, e.g. to start another server on it.
    pub fn into_db(mut self) -> TestDb {
        self.server.abort();
        self.reference_server.abort();
        if let Some(https) = &self.https {
            https.server.abort();
        }
        drop(self.application.take());
        self.db
            .take()
            .expect("the database is present until into_db")
    }

    /// The URL of the app's database, for a second writer (as another process would be).
    pub fn db_url(&self) -> String {
        self.db.as_ref().map(TestDb::url).unwrap_or_default()
    }

    /// Absolute URL of a path below `/api` (`path` starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}/api{}", self.address, path)
    }

    /// Logs on as the administrator (Basic auth, body-less POST).
    pub async fn logon(&self) -> Logon {
        self.logon_as(ADMIN.0, ADMIN.1).await
    }

    /// Logs on with Basic credentials; panics unless 201.
    pub async fn logon_as(&self, user: &str, password: &str) -> Logon {
        let response = self
            .client
            .post(self.url("/sessionMngr/?v=latest"))
            .basic_auth(user, Some(password))
            .header("Accept", "application/json")
            .send()
            .await
            .expect("logon request");
        assert_eq!(response.status(), 201, "logon as {user}");
        Self::logon_from(response).await
    }

    /// Logs on a tenant with a JSON `LoginSpec`; panics unless 201.
    pub async fn logon_tenant(&self, login_spec: serde_json::Value) -> Logon {
        let response = self
            .client
            .post(self.url("/sessionMngr/?v=latest"))
            .header("Accept", "application/json")
            .json(&login_spec)
            .send()
            .await
            .expect("logon request");
        assert_eq!(response.status(), 201, "tenant logon");
        Self::logon_from(response).await
    }

    async fn logon_from(response: reqwest::Response) -> Logon {
        let token = response.headers()["x-restsvcsessionid"]
            .to_str()
            .unwrap()
            .to_string();
        let body: serde_json::Value = response.json().await.expect("LogonSession JSON");
        // EM 13 writes camelCase keys.
        let id = body
            .get("SessionId")
            .or_else(|| body.get("sessionId"))
            .and_then(|v| v.as_str());
        Logon {
            token,
            session_id: id.expect("SessionId in the LogonSession").to_string(),
        }
    }

    /// GET with the session token; `json` selects `Accept: application/json`.
    pub async fn get(&self, logon: &Logon, url: &str, json: bool) -> reqwest::Response {
        let url = if url.starts_with("http") {
            url.to_string()
        } else {
            self.url(url)
        };
        let mut request = self
            .client
            .get(url)
            .header("X-RestSvcSessionId", &logon.token);
        if json {
            request = request.header("Accept", "application/json");
        }
        request.send().await.expect("GET request")
    }

    /// GET returning status and body text.
    pub async fn get_text(&self, logon: &Logon, url: &str, json: bool) -> (u16, String) {
        let response = self.get(logon, url, json).await;
        let status = response.status().as_u16();
        (status, response.text().await.expect("body"))
    }

    /// Sends any request with the session token and returns status and body.
    pub async fn send(
        &self,
        logon: Option<&Logon>,
        method: reqwest::Method,
        path: &str,
        content_type: Option<&str>,
        body: Vec<u8>,
        json: bool,
    ) -> (u16, reqwest::header::HeaderMap, String) {
        let url = if path.starts_with("http") {
            path.to_string()
        } else {
            self.url(path)
        };
        let mut request = self.client.request(method, url).body(body);
        if let Some(l) = logon {
            request = request.header("X-RestSvcSessionId", &l.token);
        }
        if let Some(ct) = content_type {
            request = request.header("Content-Type", ct);
        }
        if json {
            request = request.header("Accept", "application/json");
        }
        let response = request.send().await.expect("request");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        (status, headers, response.text().await.expect("body"))
    }
}

/// Replaces every EM date-time in a text with `[time]`, for snapshots of data
/// anchored at the current time.
pub fn redact_times(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < bytes.len() {
        if let Some(len) = time_at(&bytes[i..]) {
            out.push_str("[time]");
            i += len;
        } else {
            let c = text[i..].chars().next().unwrap();
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

/// Length of an EM date-time (`yyyy-MM-ddTHH:mm:ss[.f+]Z`) at the start of `b`.
fn time_at(b: &[u8]) -> Option<usize> {
    let pattern = b"dddd-dd-ddTdd:dd:dd";
    if b.len() < pattern.len() + 1 {
        return None;
    }
    for (i, p) in pattern.iter().enumerate() {
        let ok = if *p == b'd' {
            b[i].is_ascii_digit()
        } else {
            b[i] == *p
        };
        if !ok {
            return None;
        }
    }
    let mut end = pattern.len();
    if b[end] == b'.' {
        end += 1;
        while end < b.len() && b[end].is_ascii_digit() {
            end += 1;
        }
    }
    (end < b.len() && b[end] == b'Z').then_some(end + 1)
}

/// Pretty-prints JSON for snapshots (key order preserved as sent).
pub fn pretty_json(text: &str) -> String {
    // serde_json without `preserve_order` would sort keys; re-indent by hand instead.
    let mut out = String::new();
    let mut indent = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    let newline = |out: &mut String, indent: usize| {
        out.push('\n');
        out.push_str(&"  ".repeat(indent));
    };
    for c in text.chars() {
        if in_string {
            out.push(c);
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => {
                in_string = true;
                out.push(c);
            }
            '{' | '[' => {
                out.push(c);
                indent += 1;
                newline(&mut out, indent);
            }
            '}' | ']' => {
                indent = indent.saturating_sub(1);
                newline(&mut out, indent);
                out.push(c);
            }
            ',' => {
                out.push(c);
                newline(&mut out, indent);
            }
            ':' => out.push_str(": "),
            c if c.is_whitespace() => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn times_are_redacted() {
        assert_eq!(
            super::redact_times("a 2020-05-06T20:29:45.077Z b 2015-12-07T17:38:16Z"),
            "a [time] b [time]"
        );
        assert_eq!(
            super::redact_times("2020-05-06T20:29:45"),
            "2020-05-06T20:29:45"
        );
    }

    #[test]
    fn postgres_urls_get_the_test_database() {
        assert_eq!(
            super::with_database("postgres://u@127.0.0.1:5432/test", "x"),
            "postgres://u@127.0.0.1:5432/x"
        );
        assert_eq!(
            super::with_database("postgres://127.0.0.1", "x"),
            "postgres://127.0.0.1/x"
        );
        assert_eq!(
            super::with_database("postgres://h/db?sslmode=disable", "x"),
            "postgres://h/x?sslmode=disable"
        );
    }
}
