//! An in-memory index of the failover sessions that answers
//! `type=CloudFailoverSession` queries (query.md) without the database.
//!
//! The store stamps every session row it writes with a growing revision
//! (migration 7). The index remembers the last `(revision, id)` it read and, before
//! a query, reads what was written since — by this process or any other sharing
//! the database — so a query sees every write that finished before it began. Rows
//! live in a [`base::Base`] (columns plus one order per sort field, built at once)
//! and a small delta of rows written since the build; the delta is folded into a
//! new base when it grows past [`Options::rebuild_after`]. When sessions are
//! deleted the store moves an epoch, and the index starts over.
//!
//! Results (totals and order) are those of the reference semantics
//! (`entman_query::eval`); `crates/testkit/tests/query_equivalence.rs` holds the
//! index, the SQL and the reference against each other on both backends.

mod base;
mod bits;
mod page;
mod pred;
mod texts;

use base::{Base, Column, Row, NULL_TIME};
use bits::Bits;
use entman_model::ids::SessionId;
use entman_query::schema::Kind;
use entman_query::{CheckedQuery, Direction, QueryType};
use entman_store::{QueryPage, Restriction, SessionKeys, Store, StoreError};
pub use page::Overrun;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};
use texts::{Collector, Extras, NO_TEXT};

/// Why the index could not answer.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    /// Reading what changed failed.
    #[error("{0}")]
    Store(#[from] StoreError),
    /// The query ran past its budget.
    #[error("the query ran longer than {} ms", .0.as_millis())]
    Overrun(Duration),
}

/// Tuning of the index.
#[derive(Debug, Clone)]
pub struct Options {
    /// Fold the delta into a new base once it holds this many rows.
    pub rebuild_after: usize,
    /// Longest a query may compute before it ends with [`IndexError::Overrun`].
    pub budget: Duration,
    /// Read changes at least this often even when the store reports no write of
    /// its own (writes by other nodes on a shared PostgreSQL).
    pub max_staleness: Duration,
    /// Queries computed at once (each on a blocking thread).
    pub workers: usize,
    /// Rows read per round trip.
    pub page_rows: u64,
    /// How pages are picked (tests force each way).
    pub path: PagePath,
}

/// How a page is picked from the matches (see `page.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PagePath {
    /// By the expected cost.
    Auto,
    /// Walk the sort order wherever possible.
    Walk,
    /// Gather the matches and select.
    Gather,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            rebuild_after: 32_768,
            budget: Duration::from_secs(2),
            max_staleness: Duration::from_millis(500),
            // One core stays free for logons, cheap requests and the engine.
            workers: std::thread::available_parallelism()
                .map_or(1, |n| n.get().saturating_sub(1).max(1)),
            page_rows: 50_000,
            path: PagePath::Auto,
        }
    }
}

/// A backup server as the index sees it.
#[derive(Debug, Clone)]
pub(crate) struct Server {
    pub uid: [u8; 16],
    /// Folded name; `None` for a server the store no longer lists.
    pub name: Option<Arc<str>>,
}

/// What one query reads: immutable, shared by the queries running on it.
#[derive(Debug, Default)]
pub(crate) struct View {
    pub base: Arc<Base>,
    /// Base rows that a delta row replaces.
    pub superseded: Arc<Bits>,
    /// Rows written since the base was built (distinct UIDs).
    pub delta: Arc<Vec<Row>>,
    /// Texts of delta rows that the base's dictionary does not hold.
    pub extras: Arc<Vec<(u32, Arc<str>)>>,
    pub servers: Arc<Vec<Server>>,
    pub tenants: Arc<HashMap<[u8; 16], u32>>,
}

/// An append-only dictionary: ids stay valid until the index starts over.
#[derive(Debug)]
struct Dict<K> {
    list: Vec<K>,
    ids: HashMap<K, u32>,
}

impl<K: Clone + Eq + Hash> Dict<K> {
    fn new() -> Self {
        Dict {
            list: Vec::new(),
            ids: HashMap::new(),
        }
    }

    fn id(&mut self, k: &K) -> u32 {
        if let Some(id) = self.ids.get(k) {
            return *id;
        }
        let id = self.list.len() as u32;
        self.list.push(k.clone());
        self.ids.insert(k.clone(), id);
        id
    }
}

/// The writer's side: where reading stopped, and the pieces of the next view.
struct Writer {
    cursor: Option<(i64, SessionId)>,
    epoch: Option<i64>,
    synced_version: Option<u64>,
    synced_at: Option<Instant>,
    extras: Extras,
    servers: Dict<[u8; 16]>,
    tenants: Dict<[u8; 16]>,
    base: Arc<Base>,
    superseded: Arc<Bits>,
    delta: Arc<Vec<Row>>,
    delta_at: HashMap<[u8; 16], usize>,
    /// Extras published to the current view (to publish anew only on growth).
    published_extras: Arc<Vec<(u32, Arc<str>)>>,
}

impl Writer {
    fn new() -> Writer {
        Writer {
            cursor: None,
            epoch: None,
            synced_version: None,
            synced_at: None,
            extras: Extras::default(),
            servers: Dict::new(),
            tenants: Dict::new(),
            base: Arc::new(Base::default()),
            superseded: Arc::new(Bits::empty(0)),
            delta: Arc::new(Vec::new()),
            delta_at: HashMap::new(),
            published_extras: Arc::new(Vec::new()),
        }
    }

    /// A changed row; its texts are ranks of the base's dictionary or extras.
    fn row(&mut self, k: &SessionKeys) -> Row {
        let (extras, texts) = (&mut self.extras, &self.base.texts);
        keys_row(&mut self.servers, &mut self.tenants, k, &mut |t| {
            extras.id(texts, t)
        })
    }

    /// Puts a changed row into the delta, hiding the base row it replaces.
    fn apply(&mut self, row: Row) {
        if let Some(i) = self.base.find(&row.uid) {
            Arc::make_mut(&mut self.superseded).set(i);
        }
        let delta = Arc::make_mut(&mut self.delta);
        if let Some(at) = self.delta_at.get(&row.uid) {
            delta[*at] = row;
        } else {
            self.delta_at.insert(row.uid, delta.len());
            delta.push(row);
        }
    }

    /// Makes `base` the base, with an empty delta and no extras.
    fn install(&mut self, base: Base) {
        self.base = Arc::new(base);
        self.superseded = Arc::new(Bits::empty(self.base.len()));
        self.delta = Arc::new(Vec::new());
        self.delta_at.clear();
        self.extras = Extras::default();
        self.published_extras = Arc::new(Vec::new());
    }

    /// Every live row: base rows not replaced, and the delta.
    fn live_rows(&self) -> Vec<Row> {
        let base = &self.base;
        let mut rows: Vec<Row> = (0..base.len())
            .filter(|i| !self.superseded.get(*i))
            .map(|i| base.row(i))
            .collect();
        rows.extend_from_slice(&self.delta);
        rows
    }
}

/// A row of the index from a store row; `text` gives the id of a folded text.
fn keys_row(
    servers: &mut Dict<[u8; 16]>,
    tenants: &mut Dict<[u8; 16]>,
    k: &SessionKeys,
    text: &mut dyn FnMut(&str) -> u32,
) -> Row {
    let name = text(&k.plan_name.to_ascii_lowercase());
    let message = match &k.failure_message {
        Some(m) => text(&m.to_ascii_lowercase()),
        None => NO_TEXT,
    };
    Row {
        uid: *k.id.0.as_bytes(),
        creation: k.creation_time.micros(),
        end: k.end_time.map_or(NULL_TIME, |t| t.micros()),
        name,
        message,
        server: servers.id(k.backup_server_id.0.as_bytes()),
        tenant: tenants.id(k.tenant_id.0.as_bytes()),
        state: member_index("State", k.state.as_str()),
        result: member_index("Result", k.result.as_str()),
    }
}

/// Maps the text ids of rows.
fn remap_texts(rows: &mut [Row], map: impl Fn(u32) -> u32) {
    for r in rows {
        if r.name != NO_TEXT {
            r.name = map(r.name);
        }
        if r.message != NO_TEXT {
            r.message = map(r.message);
        }
    }
}

/// The position of a stored enumeration value among its field's members.
fn member_index(field: &str, stored: &str) -> u8 {
    let field = QueryType::CloudFailoverSession
        .field(field)
        .expect("session fields exist");
    match field.kind {
        Kind::Enum(members) => members
            .iter()
            .position(|m| m.1 == stored)
            .map_or(u8::MAX, |i| i as u8),
        _ => u8::MAX,
    }
}

/// Sizes of the index, for logs and benchmarks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    /// Sessions in the sorted base.
    pub base_rows: usize,
    /// Sessions written since the base was built (walked as a delta).
    pub delta_rows: usize,
    /// Distinct texts interned (plan names, failure messages).
    pub texts: usize,
    /// Estimated bytes of the columns and orders.
    pub bytes: usize,
}

/// The session index. Cheap to share (`Arc`).
pub struct SessionIndex {
    store: Arc<dyn Store>,
    options: Options,
    view: RwLock<Option<Arc<View>>>,
    writer: tokio::sync::Mutex<Writer>,
    permits: tokio::sync::Semaphore,
}

impl std::fmt::Debug for SessionIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionIndex")
            .field("ready", &self.is_ready())
            .finish()
    }
}

impl SessionIndex {
    /// An empty index over a store; [`SessionIndex::load`] fills it.
    pub fn new(store: Arc<dyn Store>, options: Options) -> Arc<SessionIndex> {
        let workers = options.workers.max(1);
        Arc::new(SessionIndex {
            store,
            options,
            view: RwLock::new(None),
            writer: tokio::sync::Mutex::new(Writer::new()),
            permits: tokio::sync::Semaphore::new(workers),
        })
    }

    /// Reads every session; until this has finished the index answers nothing
    /// (callers fall back to SQL).
    pub async fn load(&self) -> Result<(), IndexError> {
        let started = Instant::now();
        self.sync().await?;
        let stats = self.stats();
        tracing::info!(
            rows = stats.base_rows + stats.delta_rows,
            mib = stats.bytes / (1 << 20),
            ms = started.elapsed().as_millis() as u64,
            "session query index loaded"
        );
        Ok(())
    }

    /// Whether the index has loaded.
    pub fn is_ready(&self) -> bool {
        self.current().is_some()
    }

    fn current(&self) -> Option<Arc<View>> {
        self.view
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Sizes of the current view.
    pub fn stats(&self) -> Stats {
        let view = self.current().unwrap_or_default();
        Stats {
            base_rows: view.base.len(),
            delta_rows: view.delta.len(),
            texts: view.base.texts.len() + view.extras.len(),
            bytes: view.base.bytes() + view.delta.len() * 64 + view.extras.len() * 64,
        }
    }

    /// Answers a query, or `None` when the index does not serve it (another type,
    /// a restriction to a logon session, or not loaded yet).
    pub async fn query(
        &self,
        q: &CheckedQuery,
        restriction: &Restriction,
        offset: u64,
        limit: u64,
    ) -> Result<Option<QueryPage>, IndexError> {
        if q.query_type != QueryType::CloudFailoverSession || !self.is_ready() {
            return Ok(None);
        }
        let Some(column) = Column::of(q.sort.name) else {
            return Ok(None);
        };
        let tenant = match restriction {
            Restriction::None => None,
            Restriction::Tenant(t) => Some(t.clone()),
            Restriction::LogonSession(_) => return Ok(None),
        };
        let started = Instant::now();
        self.sync().await?;
        let Some(view) = self.current() else {
            return Ok(None);
        };
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| StoreError::Backend("the index is shutting down".into()))?;
        let budget = self.options.budget;
        let filter = q.filter.clone();
        let desc = q.direction == Direction::Desc;
        let path = self.options.path;
        let selected = tokio::task::spawn_blocking(move || {
            let tenant =
                tenant.map(|t| pred::guid_bytes(&t).and_then(|b| view.tenants.get(&b).copied()));
            let p = pred::Pred::compile(filter.as_ref(), tenant, &view);
            page::select(
                &view,
                &p,
                column,
                desc,
                offset,
                limit,
                path,
                started + budget,
            )
        })
        .await
        .map_err(|e| StoreError::Backend(format!("a query thread failed: {e}").into()))?
        .map_err(|Overrun| IndexError::Overrun(budget))?;
        Ok(Some(QueryPage {
            total: selected.total,
            keys: selected
                .uids
                .iter()
                .map(|u| uuid::Uuid::from_bytes(*u).to_string())
                .collect(),
        }))
    }

    /// Reads what changed since the last read, unless nothing can have changed.
    pub async fn sync(&self) -> Result<(), IndexError> {
        let version = self.store.state_version();
        let fresh = |w: &Writer| {
            version.is_some()
                && w.synced_version == version
                && w.synced_at
                    .is_some_and(|at| at.elapsed() < self.options.max_staleness)
        };
        let mut w = self.writer.lock().await;
        if fresh(&w) {
            return Ok(());
        }
        let read_at = Instant::now();
        loop {
            if w.epoch.is_none() {
                self.load_all(&mut w).await?;
            }
            if self.read_changes(&mut w).await? {
                break;
            }
            tracing::info!("sessions were deleted; the query index starts over");
            *w = Writer::new();
        }
        if w.delta.len() > self.options.rebuild_after {
            let rows = w.live_rows();
            self.rebuild(&mut w, rows).await?;
        }
        let servers = self.store.list_servers().await?;
        if w.published_extras.len() != w.extras.list.len() {
            w.published_extras = Arc::new(w.extras.list.clone());
        }
        let view = Self::view_of(&mut w, &servers);
        *self
            .view
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(Arc::new(view));
        w.synced_version = version;
        w.synced_at = Some(read_at);
        Ok(())
    }

    /// Reads every session into a new base (a sequential scan).
    async fn load_all(&self, w: &mut Writer) -> Result<(), IndexError> {
        let mut rows = Vec::new();
        let mut collector = Collector::default();
        let hasher = texts::load_hasher();
        let scan = {
            let (servers, tenants) = (&mut w.servers, &mut w.tenants);
            let mut sink = |k: SessionKeys| {
                let row = keys_row(servers, tenants, &k, &mut |t| collector.id(t, &hasher));
                rows.push(row);
            };
            self.store.scan_sessions(&mut sink).await?
        };
        w.epoch = Some(scan.epoch);
        // Changes after the scan have higher revisions than any row it read.
        w.cursor = Some((scan.revision, SessionId(uuid::Uuid::max())));
        // A row rewritten during the scan may show twice: keep either (its
        // rewrite has a revision above the scan's, so the changes read next
        // carry its latest values). In place: no second copy of a million rows.
        rows.sort_unstable_by_key(|r| r.uid);
        rows.dedup_by_key(|r| r.uid);
        let servers = w.servers.list.len();
        let base = tokio::task::spawn_blocking(move || {
            let (sorted, rank) = collector.finish();
            remap_texts(&mut rows, |id| rank[id as usize]);
            Base::build(rows, sorted, servers)
        })
        .await
        .map_err(|e| StoreError::Backend(format!("index build failed: {e}").into()))?;
        w.install(base);
        Ok(())
    }

    /// Reads the changes since the cursor into the delta; `false` when the
    /// epoch moved (sessions were deleted) and the index must start over.
    async fn read_changes(&self, w: &mut Writer) -> Result<bool, IndexError> {
        loop {
            let changes = self
                .store
                .session_changes(w.cursor, self.options.page_rows)
                .await?;
            if w.epoch != Some(changes.epoch) {
                return Ok(false);
            }
            let full = changes.rows.len() as u64 >= self.options.page_rows;
            for keys in &changes.rows {
                let row = w.row(keys);
                w.apply(row);
                w.cursor = Some((keys.revision, keys.id));
            }
            if !full {
                return Ok(true);
            }
        }
    }

    /// Builds a new base of `rows` (the live rows) and empties the delta.
    async fn rebuild(&self, w: &mut Writer, mut rows: Vec<Row>) -> Result<(), IndexError> {
        let old = w.base.clone();
        let extras = w.extras.list.clone();
        let servers = w.servers.list.len();
        let base = tokio::task::spawn_blocking(move || {
            let (sorted, old_rank, extra_rank) = texts::merge(&old.texts, &extras);
            drop(old);
            remap_texts(&mut rows, |id| {
                if id & texts::EXTRA != 0 {
                    extra_rank[(id & !texts::EXTRA) as usize]
                } else {
                    old_rank[id as usize]
                }
            });
            Base::build(rows, sorted, servers)
        })
        .await
        .map_err(|e| StoreError::Backend(format!("index build failed: {e}").into()))?;
        w.install(base);
        Ok(())
    }

    fn view_of(w: &mut Writer, servers: &[entman_model::server::BackupServer]) -> View {
        for s in servers {
            w.servers.id(s.id.0.as_bytes());
        }
        let mut list: Vec<Server> = w
            .servers
            .list
            .iter()
            .map(|uid| Server {
                uid: *uid,
                name: None,
            })
            .collect();
        for s in servers {
            let id = w.servers.id(s.id.0.as_bytes()) as usize;
            list[id].name = Some(Arc::from(s.name.to_ascii_lowercase()));
        }
        View {
            base: w.base.clone(),
            superseded: w.superseded.clone(),
            delta: w.delta.clone(),
            extras: w.published_extras.clone(),
            servers: Arc::new(list),
            tenants: Arc::new(w.tenants.ids.clone()),
        }
    }
}
