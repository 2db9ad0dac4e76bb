//! The cloud failover engine.
//!
//! Plan operations ([`Engine::start`], [`Engine::undo`], [`Engine::edit`],
//! [`Engine::delete`], [`Engine::stop`]) check the rules a Cloud Connect provider
//! enforces (failover-plans.md §10) and write their effects through the store. A
//! background loop ([`Engine::run`]) advances every unfinished failover session:
//! each VM's failover follows the plan fixed in the session when it started, so
//! one [`Engine::step`] is a pure function of the stored state and the time. Steps
//! are safe to repeat, and a restarted server continues every session from where
//! the clock says it is.

use entman_model::ids::SessionId;
use entman_model::plan::{FailoverTarget, Plan, PlanOptions, PlanState};
use entman_model::replica::{PointState, VmReplicaPoint};
use entman_model::session::{
    FailoverSession, PointRef, SessionKind, SessionResult, SessionState, SessionTask, TaskPlan,
};
use entman_model::Timestamp;
use entman_store::{Scope, Store, StoreError};
use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::sync::{Mutex, Notify};

/// Settings of the engine.
#[derive(Debug, Clone, Copy)]
pub struct EngineConfig {
    /// Factor applied to every duration (0.01 makes a 60 s failover take 0.6 s).
    pub time_scale: f64,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig { time_scale: 1.0 }
    }
}

/// Why a plan operation did not happen.
#[derive(Debug, thiserror::Error)]
pub enum OperationError {
    /// The provider refuses the operation: the task finishes with `Success="false"`
    /// and this message.
    #[error("{0}")]
    Refused(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Delay between a session's creation and its first VM's failover (the EM
/// examples show VM tasks about five seconds after the session).
const LEAD_MS: f64 = 5_000.0;
/// Interval of progress updates of running VMs (before time scaling).
const PROGRESS_MS: f64 = 1_000.0;

/// How often the engine compares its running sessions with the store's (sessions
/// started or stopped by another instance on the same database, or written by
/// another writer).
const REFRESH: Duration = Duration::from_secs(5);

/// The engine. Cheap to share; one per server.
pub struct Engine {
    store: Arc<dyn Store>,
    config: EngineConfig,
    wake: Notify,
    /// Serialises plan operations of this instance; the store's conditional plan
    /// state change protects against other instances sharing the database.
    operations: Mutex<()>,
    /// The unfinished sessions, kept in memory so that a step reads nothing: it
    /// advances them, writes what changed, and forgets the ones that finished.
    running: Mutex<Running>,
    /// What the loop has done, for health checks and metrics.
    activity: Activity,
}

/// Counters and times of the engine's work (for `/_entman/health` and metrics).
#[derive(Default)]
struct Activity {
    /// Sessions started (or tested) by this instance.
    started: AtomicU64,
    /// When the loop last finished a step, in microseconds since the epoch.
    last_step: AtomicI64,
    /// When the step in progress began (0 while none is).
    stepping_since: AtomicI64,
    /// Called with the duration of every step of the loop.
    on_step: OnceLock<Box<dyn Fn(Duration) + Send + Sync>>,
}

/// A reading of the engine's activity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EngineActivity {
    /// Sessions this instance has started or tested.
    pub sessions_started: u64,
    /// When the loop last finished a step (`None` before the first).
    pub last_step: Option<Timestamp>,
    /// When the step in progress began, if one is.
    pub stepping_since: Option<Timestamp>,
}

/// The engine's copy of the unfinished sessions.
#[derive(Default)]
struct Running {
    sessions: HashMap<SessionId, FailoverSession>,
    /// When the copy was last compared with the store.
    refreshed: Option<std::time::Instant>,
}

impl Engine {
    /// A new engine over a store.
    pub fn new(store: Arc<dyn Store>, config: EngineConfig) -> Arc<Engine> {
        Arc::new(Engine {
            store,
            config,
            wake: Notify::new(),
            operations: Mutex::new(()),
            running: Mutex::new(Running::default()),
            activity: Activity::default(),
        })
    }

    /// What the engine has done so far.
    pub fn activity(&self) -> EngineActivity {
        let at = |micros: i64| (micros != 0).then(|| Timestamp::from_micros(micros));
        EngineActivity {
            sessions_started: self.activity.started.load(Ordering::Relaxed),
            last_step: at(self.activity.last_step.load(Ordering::Relaxed)),
            stepping_since: at(self.activity.stepping_since.load(Ordering::Relaxed)),
        }
    }

    /// Has `observe` called with the duration of every step of the loop (once;
    /// later calls are ignored).
    pub fn on_step(&self, observe: impl Fn(Duration) + Send + Sync + 'static) {
        let _ = self.activity.on_step.set(Box::new(observe));
    }

    fn scaled(&self, ms: f64) -> i64 {
        (ms * self.config.time_scale).round().max(0.0) as i64
    }

    fn lead_ms(&self) -> i64 {
        self.scaled(LEAD_MS)
    }

    /// Starts (`SessionKind::Start`) or tests (`SessionKind::Test`) a plan: creates
    /// the failover session, and for a start puts the plan into failover.
    pub async fn start(
        &self,
        plan: &Plan,
        kind: SessionKind,
        target: FailoverTarget,
        now: Timestamp,
    ) -> Result<FailoverSession, OperationError> {
        let _guard = self.operations.lock().await;
        if self.store.active_session_of_plan(plan.id).await?.is_some() {
            return Err(OperationError::Refused(format!(
                "Cloud failover plan [{}] is already running.",
                plan.name
            )));
        }
        let chosen = self.choose_points(plan, target).await?;
        if let FailoverTarget::Before(date) = target {
            if chosen.iter().all(Option::is_none) {
                return Err(OperationError::Refused(format!(
                    "No restore points created before {date} were found for the VMs of cloud failover plan [{}].",
                    plan.name
                )));
            }
        }
        if kind == SessionKind::Start
            && !self
                .store
                .try_set_plan_state(plan.id, PlanState::Ready, PlanState::InFailover)
                .await?
        {
            return Err(OperationError::Refused(format!(
                "Cloud failover plan [{}] is already in the failover state.",
                plan.name
            )));
        }
        let session = self.new_session(plan, kind, target, chosen, now);
        if let Err(e) = self.store.save_session(&session).await {
            if kind == SessionKind::Start {
                let _ = self.store.set_plan_state(plan.id, PlanState::Ready).await;
            }
            return Err(e.into());
        }
        tracing::info!(plan = %plan.name, session = %session.id, kind = %kind, "failover session started");
        self.activity.started.fetch_add(1, Ordering::Relaxed);
        self.running
            .lock()
            .await
            .sessions
            .insert(session.id, session.clone());
        self.wake.notify_one();
        Ok(session)
    }

    /// For each plan VM, the point it fails over to.
    async fn choose_points(
        &self,
        plan: &Plan,
        target: FailoverTarget,
    ) -> Result<Vec<Option<VmReplicaPoint>>, OperationError> {
        let mut chosen = Vec::with_capacity(plan.vms.len());
        for vm in &plan.vms {
            let points = self
                .store
                .list_points(Scope::All, Some(vm.replica_id))
                .await?;
            let best = points
                .into_iter()
                .filter(|p| p.vm_name.eq_ignore_ascii_case(&vm.name))
                .filter(|p| match target {
                    FailoverTarget::Latest => true,
                    FailoverTarget::Before(date) => p.creation_time < date,
                })
                .max_by_key(|p| p.creation_time);
            chosen.push(best);
        }
        Ok(chosen)
    }

    fn new_session(
        &self,
        plan: &Plan,
        kind: SessionKind,
        target: FailoverTarget,
        chosen: Vec<Option<VmReplicaPoint>>,
        now: Timestamp,
    ) -> FailoverSession {
        let tasks_created = now.plus_millis(self.lead_ms());
        let tasks = plan
            .vms
            .iter()
            .zip(chosen)
            .enumerate()
            .map(|(i, (vm, point))| {
                let created = tasks_created.plus_millis(i as i64 * 10);
                let mut task = SessionTask {
                    vm_name: vm.name.clone(),
                    point: point.as_ref().map(|p| PointRef {
                        id: p.id,
                        name: p.name(),
                    }),
                    creation_time: created,
                    end_time: None,
                    state: SessionState::Starting,
                    result: SessionResult::None,
                    progress: 0,
                    failure_message: None,
                    plan: Some(TaskPlan {
                        duration_ms: self.scaled(vm.behaviour.duration_ms as f64),
                        outcome: vm.behaviour.outcome,
                        message: vm.behaviour.message.clone(),
                    }),
                };
                if point.is_none() {
                    // Nothing to fail over to: this VM fails at once, the others proceed.
                    task.state = SessionState::Stopped;
                    task.end_time = Some(created);
                    task.progress = 100;
                    task.result = SessionResult::Failed;
                    task.failure_message = Some(match target {
                        FailoverTarget::Latest => {
                            format!("No restore point was found for VM {}.", vm.name)
                        }
                        FailoverTarget::Before(d) => format!(
                            "No restore point created before {d} was found for VM {}.",
                            vm.name
                        ),
                    });
                    task.plan = Some(TaskPlan {
                        duration_ms: 0,
                        outcome: entman_model::plan::VmOutcome::Failed,
                        message: task.failure_message.clone(),
                    });
                }
                task
            })
            .collect();
        FailoverSession {
            id: SessionId::new_random(),
            plan_id: plan.id,
            plan_name: plan.name.clone(),
            tenant_id: plan.tenant_id,
            backup_server_id: plan.backup_server_id,
            kind,
            creation_time: now,
            end_time: None,
            state: SessionState::Starting,
            result: SessionResult::None,
            progress: 0,
            failure_message: None,
            tasks,
        }
    }

    /// Undoes a failover: the plan returns to `Ready` and its points that are in
    /// `Failover` return to `Ready`. No session is created.
    pub async fn undo(&self, plan: &Plan) -> Result<(), OperationError> {
        let _guard = self.operations.lock().await;
        if self.store.active_session_of_plan(plan.id).await?.is_some() {
            return Err(OperationError::Refused(format!(
                "Cloud failover plan [{}] cannot be undone while a failover is running.",
                plan.name
            )));
        }
        if !self
            .store
            .try_set_plan_state(plan.id, PlanState::InFailover, PlanState::Ready)
            .await?
        {
            return Err(OperationError::Refused(format!(
                "Cloud failover plan [{}] is not in the failover state.",
                plan.name
            )));
        }
        for vm in &plan.vms {
            for point in self
                .store
                .list_points(Scope::All, Some(vm.replica_id))
                .await?
            {
                if point.vm_name.eq_ignore_ascii_case(&vm.name)
                    && point.state == PointState::Failover
                {
                    self.store
                        .set_point_state(point.id, PointState::Ready)
                        .await?;
                }
            }
        }
        tracing::info!(plan = %plan.name, "failover undone");
        Ok(())
    }

    /// Changes a plan's scripts, unless a failover of it is running.
    pub async fn edit(&self, plan: &Plan, options: &PlanOptions) -> Result<(), OperationError> {
        let _guard = self.operations.lock().await;
        if self.store.active_session_of_plan(plan.id).await?.is_some() {
            return Err(OperationError::Refused(format!(
                "Cloud failover plan [{}] cannot be edited while a failover is running.",
                plan.name
            )));
        }
        self.store.update_plan_options(plan.id, options).await?;
        Ok(())
    }

    /// Deletes a plan, unless it is running or failed over. Its sessions stay.
    pub async fn delete(&self, plan: &Plan) -> Result<(), OperationError> {
        let _guard = self.operations.lock().await;
        if self.store.active_session_of_plan(plan.id).await?.is_some() {
            return Err(OperationError::Refused(format!(
                "Cloud failover plan [{}] cannot be deleted while a failover is running.",
                plan.name
            )));
        }
        let current = self.store.get_plan(Scope::All, plan.id).await?;
        if current.state == PlanState::InFailover {
            return Err(OperationError::Refused(format!(
                "Cloud failover plan [{}] is in the failover state. Undo the failover before deleting the plan.",
                plan.name
            )));
        }
        self.store.delete_plan(plan.id).await?;
        Ok(())
    }

    /// Asks a running session to stop: it goes `Stopping`, and the next step ends
    /// its unfinished VMs as failed. Returns whether the session was running.
    pub async fn stop(&self, id: SessionId) -> Result<bool, OperationError> {
        // Holding the running set: no step of this instance runs meanwhile.
        let mut running = self.running.lock().await;
        let mut session = match running.sessions.get(&id) {
            Some(session) => session.clone(),
            None => self.store.get_session(Scope::All, id).await?,
        };
        if session.is_finished() {
            return Ok(false);
        }
        session.state = SessionState::Stopping;
        self.store.save_session(&session).await?;
        running.sessions.insert(id, session);
        drop(running);
        tracing::info!(session = %id, "failover session stop requested");
        self.wake.notify_one();
        Ok(true)
    }

    /// Advances every unfinished session to `now` and persists what changed.
    /// Returns when the next step is due, if any session is still running.
    pub async fn step(&self, now: Timestamp) -> Result<Option<Timestamp>, StoreError> {
        let mut running = self.running.lock().await;
        if running.refreshed.is_none_or(|t| t.elapsed() >= REFRESH) {
            self.refresh(&mut running).await?;
        }
        let mut next: Option<Timestamp> = None;
        let mut changed = Vec::new();
        for session in running.sessions.values_mut() {
            let before = session.tasks.clone();
            if session.advance(now, self.lead_ms()) {
                let tasks: Vec<usize> = (0..session.tasks.len())
                    .filter(|i| session.tasks[*i] != before[*i])
                    .collect();
                changed.push((session.clone(), tasks));
            }
            if let Some(due) = self.next_due(session, now) {
                next = Some(next.map_or(due, |n| n.min(due)));
            }
        }
        // Effects of finished sessions first: if the server dies before the save, the
        // session finishes again on the next step and the (idempotent) effects repeat.
        for (session, _) in changed.iter().filter(|(s, _)| s.is_finished()) {
            self.finish(session).await?;
        }
        if let Err(e) = self.store.update_sessions(&changed).await {
            // What was not written is read back from the store at the next step.
            running.refreshed = None;
            return Err(e);
        }
        running.sessions.retain(|_, s| !s.is_finished());
        Ok(next)
    }

    /// Brings the running set in line with the store: loads the unfinished sessions
    /// it does not hold (all of them the first time), drops the ones the store has
    /// finished, and takes over a `Stopping` written by another writer.
    async fn refresh(&self, running: &mut Running) -> Result<(), StoreError> {
        if running.refreshed.is_none() {
            running.sessions = self
                .store
                .list_active_sessions()
                .await?
                .into_iter()
                .map(|s| (s.id, s))
                .collect();
        } else {
            let states: HashMap<SessionId, SessionState> = self
                .store
                .active_session_states()
                .await?
                .into_iter()
                .collect();
            running.sessions.retain(|id, _| states.contains_key(id));
            let missing: Vec<SessionId> = states
                .iter()
                .filter(|(id, _)| !running.sessions.contains_key(id))
                .map(|(id, _)| *id)
                .collect();
            for session in self.store.sessions_by_ids(&missing, true).await? {
                running.sessions.insert(session.id, session);
            }
            for (id, state) in states {
                if let Some(session) = running.sessions.get_mut(&id) {
                    if state == SessionState::Stopping {
                        session.state = SessionState::Stopping;
                    }
                }
            }
        }
        running.refreshed = Some(std::time::Instant::now());
        Ok(())
    }

    /// Effects of a finished session: for a start, the points of the VMs that
    /// failed over are in `Failover`.
    async fn finish(&self, session: &FailoverSession) -> Result<(), StoreError> {
        tracing::info!(session = %session.id, plan = %session.plan_name, result = %session.result, "failover session finished");
        if session.kind != SessionKind::Start {
            return Ok(());
        }
        for task in &session.tasks {
            if let (Some(point), SessionResult::Success | SessionResult::Warning) =
                (&task.point, task.result)
            {
                match self
                    .store
                    .set_point_state(point.id, PointState::Failover)
                    .await
                {
                    Ok(()) | Err(StoreError::NotFound) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(())
    }

    /// When a session next changes: its next window boundary, or the next progress
    /// update while a VM is working.
    fn next_due(&self, session: &FailoverSession, now: Timestamp) -> Option<Timestamp> {
        if session.is_finished() {
            return None;
        }
        if session.state == SessionState::Stopping {
            return Some(now);
        }
        let mut due: Option<Timestamp> = None;
        let mut consider = |t: Timestamp| {
            if t > now {
                due = Some(due.map_or(t, |d| d.min(t)));
            }
        };
        for window in session.windows(self.lead_ms()).into_iter().flatten() {
            consider(window.0);
            consider(window.1);
            if window.0 <= now && now < window.1 {
                consider(now.plus_millis(self.scaled(PROGRESS_MS).max(20)));
            }
        }
        Some(due.unwrap_or(now))
    }

    /// Runs the loop until `shutdown` resolves: step, then sleep until the next
    /// step is due or an operation wakes the loop. Store errors are logged and
    /// retried.
    pub async fn run(self: Arc<Self>, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            let now = Timestamp::now();
            let began = std::time::Instant::now();
            self.activity
                .stepping_since
                .store(now.micros(), Ordering::Relaxed);
            let stepped = self.step(now).await;
            self.activity.stepping_since.store(0, Ordering::Relaxed);
            self.activity
                .last_step
                .store(Timestamp::now().micros(), Ordering::Relaxed);
            if let Some(observe) = self.activity.on_step.get() {
                observe(began.elapsed());
            }
            let wait = match stepped {
                Ok(Some(due)) => {
                    Duration::from_micros(due.micros().saturating_sub(now.micros()).max(0) as u64)
                }
                Ok(None) => Duration::from_secs(3600),
                Err(e) => {
                    tracing::warn!(error = %e, "advancing failover sessions failed; retrying");
                    Duration::from_secs(1)
                }
            };
            tokio::select! {
                _ = &mut shutdown => return,
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(wait.min(Duration::from_secs(60))) => {}
            }
        }
    }
}
