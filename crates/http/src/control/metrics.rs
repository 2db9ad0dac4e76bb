//! Prometheus metrics (controls.md §5), with `prometheus-client`: counters and
//! histograms kept as requests are answered, gauges read from the store, the
//! index and the engine when scraped. `route` labels are the matched route
//! templates (`/api/cloud/failoversessions/{id}`), never raw paths.

use crate::AppState;
use axum::http::Method;
use entman_model::session::{SessionResult, SessionState};
use entman_query::{check_query, parse, QueryType};
use entman_store::Restriction;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    route: String,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SessionLabels {
    state: String,
    result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabels {
    state: String,
}

type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    // 0.5 ms to about 16 s.
    Histogram::new(exponential_buckets(0.0005, 2.0, 16))
}

/// The metrics of one server.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    durations: Histograms<RouteLabels>,
    steps: Histogram,
    logons: Family<OutcomeLabels, Counter>,
    sessions: Family<SessionLabels, Gauge>,
    started: Counter,
    logon_sessions: Gauge,
    pool: Family<StateLabels, Gauge>,
    /// One scrape at a time refreshes the gauges.
    scrape: tokio::sync::Mutex<()>,
    /// The counter and histogram of each (method, route, status) seen, so that
    /// counting a request allocates nothing once its labels are known.
    handles: std::sync::RwLock<HashMap<HandleKey, (Counter, Histogram)>>,
}

type HandleKey = (Method, Option<Arc<str>>, u16);

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// A registry with every series of controls.md §5, all at zero.
    pub fn new() -> Metrics {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "entman_http_requests",
            "HTTP requests answered, by method, route template and status",
            requests.clone(),
        );
        let durations: Histograms<RouteLabels> =
            Family::new_with_constructor(latency_histogram as fn() -> Histogram);
        registry.register(
            "entman_http_request_duration_seconds",
            "Time to answer HTTP requests, by route template",
            durations.clone(),
        );
        let steps = latency_histogram();
        registry.register(
            "entman_engine_step_duration_seconds",
            "Time of one step of the failover engine over the running sessions",
            steps.clone(),
        );
        let logons = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "entman_logons",
            "Logon attempts, by outcome (success, failed, refused)",
            logons.clone(),
        );
        let sessions = Family::<SessionLabels, Gauge>::default();
        registry.register(
            "entman_failover_sessions",
            "Cloud failover sessions stored, by state and result",
            sessions.clone(),
        );
        let started = Counter::default();
        registry.register(
            "entman_failover_sessions_started",
            "Cloud failover sessions started or tested by this instance",
            started.clone(),
        );
        let logon_sessions = Gauge::default();
        registry.register(
            "entman_logon_sessions",
            "Logon sessions stored",
            logon_sessions.clone(),
        );
        let pool = Family::<StateLabels, Gauge>::default();
        registry.register(
            "entman_store_pool_connections",
            "Connections of the store's pools, by state (idle, in_use)",
            pool.clone(),
        );
        Metrics {
            registry,
            requests,
            durations,
            steps,
            logons,
            sessions,
            started,
            logon_sessions,
            pool,
            scrape: tokio::sync::Mutex::new(()),
            handles: Default::default(),
        }
    }

    /// Counts one answered request (`route`: the matched template, if any).
    pub fn request(
        &self,
        method: &Method,
        route: Option<Arc<str>>,
        status: u16,
        elapsed: Duration,
    ) {
        let key: HandleKey = (method.clone(), route, status);
        let known = self
            .handles
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&key)
            .cloned();
        let (counter, histogram) = if let Some(handles) = known {
            handles
        } else {
            let route = key.1.as_deref().unwrap_or("other").to_string();
            let handles = (
                self.requests
                    .get_or_create(&RequestLabels {
                        method: method.as_str().to_string(),
                        route: route.clone(),
                        status: status.to_string(),
                    })
                    .clone(),
                self.durations.get_or_create(&RouteLabels { route }).clone(),
            );
            self.handles
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .insert(key, handles.clone());
            handles
        };
        counter.inc();
        histogram.observe(elapsed.as_secs_f64());
    }

    /// Counts one logon attempt (`success`, `failed`, `refused`).
    pub fn logon(&self, outcome: &str) {
        self.logons
            .get_or_create(&OutcomeLabels {
                outcome: outcome.to_string(),
            })
            .inc();
    }

    /// Records one engine step.
    pub fn step(&self, elapsed: Duration) {
        self.steps.observe(elapsed.as_secs_f64());
    }

    /// Reads the gauges and writes every metric in the text format.
    pub async fn render(&self, state: &AppState) -> String {
        let _one = self.scrape.lock().await;
        match session_tally(state).await {
            Ok(tally) => {
                self.sessions.clear();
                for (s, r, n) in tally {
                    self.sessions
                        .get_or_create(&SessionLabels {
                            state: s.as_str().to_string(),
                            result: r.as_str().to_string(),
                        })
                        .set(n.min(i64::MAX as u64) as i64);
                }
            }
            Err(e) => tracing::warn!(error = %e, "counting sessions for metrics failed"),
        }
        let started = state.engine.activity().sessions_started;
        let counted = self.started.get();
        if started > counted {
            self.started.inc_by(started - counted);
        }
        match state.store.logon_count().await {
            Ok(n) => {
                self.logon_sessions.set(n.min(i64::MAX as u64) as i64);
            }
            Err(e) => tracing::warn!(error = %e, "counting logon sessions for metrics failed"),
        }
        for (s, n) in state.store.pool_connections() {
            self.pool
                .get_or_create(&StateLabels {
                    state: s.to_string(),
                })
                .set(n.min(i64::MAX as u64) as i64);
        }
        let mut text = String::new();
        if let Err(e) = prometheus_client::encoding::text::encode(&mut text, &self.registry) {
            tracing::warn!(error = %e, "encoding metrics failed");
        }
        text
    }
}

/// Sessions by state and result: counted on the in-memory index when it has
/// loaded (sixteen column scans), else by one `GROUP BY` in the database.
async fn session_tally(
    state: &AppState,
) -> Result<Vec<(SessionState, SessionResult, u64)>, crate::ApiError> {
    if let Some(index) = state.index.as_ref().filter(|i| i.is_ready()) {
        let mut tally = Vec::new();
        for s in SessionState::ALL {
            for r in SessionResult::ALL {
                let filter = parse(&format!("State=={s};Result=={r}"))
                    .map_err(|e| crate::ApiError::Internal(e.to_string()))?;
                let q = check_query(QueryType::CloudFailoverSession, filter.as_ref(), None)
                    .map_err(|e| crate::ApiError::Internal(e.to_string()))?;
                match index.query(&q, &Restriction::None, 0, 0).await {
                    Ok(Some(page)) => {
                        if page.total > 0 {
                            tally.push((*s, *r, page.total));
                        }
                    }
                    // The index went away (reloading): count in the database.
                    Ok(None) => return Ok(state.store.session_tally().await?),
                    Err(entman_index::IndexError::Overrun(_)) => {
                        return Err(crate::ApiError::QueryTooLong(state.config.query_budget))
                    }
                    Err(entman_index::IndexError::Store(e)) => return Err(e.into()),
                }
            }
        }
        return Ok(tally);
    }
    Ok(state.store.session_tally().await?)
}
