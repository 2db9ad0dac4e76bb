//! The composition root: one place that assembles a running entman from an
//! opened store and its configuration — change tracking for the read cache, the
//! failover engine and its loop, the session query index, the idle-logon purge
//! and the application state the routers share. `entman serve` and the test kit
//! both build through [`App::build`], so what the tests run is what users run.

use crate::{app, server, AppState, HttpConfig, Scheme};
use entman_engine::{Engine, EngineConfig};
use entman_model::job_session::Generation;
use entman_store::{Store, StoreError, Tracked};
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;

/// How the session query index comes up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexLoad {
    /// No index: session queries run in the database (`--no-query-index`).
    Off,
    /// Loaded in the background, tried again every 30 s while it fails; session
    /// queries run in the database until it is ready (`entman serve`).
    Background,
    /// Loaded before [`App::build`] returns (tests, which always exercise it).
    Before,
}

/// What [`App::build`] needs besides the store.
#[derive(Debug, Clone)]
pub struct AppConfig {
    /// The HTTP layer's configuration.
    pub http: HttpConfig,
    /// The engine's time scale (1.0: real durations).
    pub time_scale: f64,
    /// How the session query index comes up.
    pub index: IndexLoad,
    /// How often other processes' writes to the same database are looked for.
    pub follow_writers_every: Duration,
    /// Whether job schedules create runs (`--no-schedules` turns them off).
    pub schedules: bool,
    /// Start with a manual clock standing at this instant (tests that replay the
    /// documentation's dates); `None`: the system clock.
    pub manual_clock: Option<entman_model::Timestamp>,
}

impl Default for AppConfig {
    fn default() -> Self {
        AppConfig {
            http: HttpConfig::default(),
            time_scale: 1.0,
            index: IndexLoad::Background,
            follow_writers_every: Duration::from_millis(100),
            schedules: true,
            manual_clock: None,
        }
    }
}

/// A built application: its state and the background tasks it runs.
pub struct App {
    state: AppState,
    untracked: Arc<dyn Store>,
    stop_engine: Option<tokio::sync::oneshot::Sender<()>>,
    engine_task: JoinHandle<()>,
    purge_task: JoinHandle<()>,
}

impl App {
    /// Assembles the application over `store` (opened, migrated and holding its
    /// world): tracks its writes for the read cache, starts the engine loop, the
    /// index (as `config.index` says) and the idle-logon purge.
    pub async fn build(store: Arc<dyn Store>, config: AppConfig) -> Result<App, StoreError> {
        // Every write through the server moves the state version its read cache
        // uses; so do other processes' writes to the same database.
        let tracked = Arc::new(Tracked::new(store.clone()));
        tracked
            .follow_other_writers(config.follow_writers_every)
            .await;
        let tracked: Arc<dyn Store> = tracked;
        let clock = match config.manual_clock {
            Some(at) => entman_model::Clock::manual(at),
            None => entman_model::Clock::system(),
        };
        let engine = Engine::with_clock(
            tracked.clone(),
            EngineConfig {
                time_scale: config.time_scale,
                generation: match config.http.json_style {
                    entman_repr::JsonStyle::Em13 => Generation::Em13,
                    entman_repr::JsonStyle::Em12 => Generation::Em12,
                },
                schedules: config.schedules,
            },
            Arc::new(clock),
        );
        let (stop_engine, engine_stopped) = tokio::sync::oneshot::channel::<()>();
        let engine_task = tokio::spawn(engine.clone().run(async move {
            let _ = engine_stopped.await;
        }));
        let index = start_index(&tracked, &config).await?;
        let purge_task = tokio::spawn(purge_idle_logons(
            tracked.clone(),
            engine.clock().clone(),
            config.http.idle_timeout,
        ));
        let state = AppState::with_index(tracked, engine, config.http, index);
        Ok(App {
            state,
            untracked: store,
            stop_engine: Some(stop_engine),
            engine_task,
            purge_task,
        })
    }

    /// The shared application state.
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// The store without change tracking (what the tracked one wraps).
    pub fn untracked_store(&self) -> &Arc<dyn Store> {
        &self.untracked
    }

    /// The service of a listener of `scheme`.
    pub fn router(&self, scheme: Scheme) -> axum::Router {
        app(self.state.clone(), scheme)
    }

    /// Serves every listener until `shutdown` resolves or one of them fails, then
    /// stops the engine after the last connection closed.
    pub async fn serve(
        mut self,
        listeners: Vec<(server::Listener, Scheme)>,
        shutdown: impl std::future::Future<Output = ()>,
    ) -> std::io::Result<()> {
        let (stop_servers, servers_stop) = tokio::sync::watch::channel(false);
        let mut servers = tokio::task::JoinSet::new();
        for (listener, scheme) in listeners {
            let mut stop = servers_stop.clone();
            let router = self.router(scheme);
            servers.spawn(async move {
                let shutdown = async move {
                    let _ = stop.wait_for(|stopped| *stopped).await;
                };
                server::serve(listener, router, shutdown).await
            });
        }
        let mut outcome = Ok(());
        tokio::select! {
            () = shutdown => {
                tracing::info!("shutting down");
            }
            Some(result) = servers.join_next() => {
                outcome = joined(result);
            }
        }
        let _ = stop_servers.send(true);
        while let Some(result) = servers.join_next().await {
            outcome = outcome.and(joined(result));
        }
        self.stop().await;
        outcome
    }

    /// Stops the engine loop (after its step in progress) and the purge.
    pub async fn stop(&mut self) {
        if let Some(stop) = self.stop_engine.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.engine_task).await;
        self.purge_task.abort();
    }
}

impl Drop for App {
    fn drop(&mut self) {
        self.engine_task.abort();
        self.purge_task.abort();
    }
}

/// A listener task's outcome.
fn joined(result: Result<std::io::Result<()>, tokio::task::JoinError>) -> std::io::Result<()> {
    result.map_err(std::io::Error::other)?
}

/// The session query index as `config.index` says.
async fn start_index(
    store: &Arc<dyn Store>,
    config: &AppConfig,
) -> Result<Option<Arc<entman_index::SessionIndex>>, StoreError> {
    if config.index == IndexLoad::Off {
        return Ok(None);
    }
    let index = entman_index::SessionIndex::new(
        store.clone(),
        entman_index::Options {
            budget: config.http.query_budget,
            ..entman_index::Options::default()
        },
    );
    if config.index == IndexLoad::Before {
        return match index.load().await {
            Ok(()) => Ok(Some(index)),
            Err(entman_index::IndexError::Store(e)) => Err(e),
            // A load has no budget to overrun.
            Err(e @ entman_index::IndexError::Overrun(_)) => Err(StoreError::Backend(Box::new(e))),
        };
    }
    let loading = index.clone();
    tokio::spawn(async move {
        // A load that fails (the database unreachable for a moment) is tried
        // again; session queries stay in the database meanwhile.
        while let Err(e) = loading.load().await {
            tracing::error!(error = %e, "the session query index did not load; trying again in 30 s");
            tokio::time::sleep(Duration::from_secs(30)).await;
        }
        release_freed_memory();
    });
    Ok(Some(index))
}

/// Hands memory freed by a big one-off job (loading the query index) back to
/// the operating system: glibc keeps freed small blocks in its heaps otherwise.
fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free memory of the allocator's heaps.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Deletes logon sessions idle past the timeout, once a minute, by the server's clock.
async fn purge_idle_logons(store: Arc<dyn Store>, clock: Arc<entman_model::Clock>, idle: Duration) {
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    loop {
        tick.tick().await;
        let before = clock.now().plus_millis(-(idle.as_millis() as i64));
        if let Err(e) = store.purge_idle_logons(before).await {
            tracing::warn!(error = %e, "purging idle logon sessions failed");
        }
    }
}
