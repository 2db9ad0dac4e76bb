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

mod jobs;

pub use jobs::{JobVmOutcome, RunAction};

use entman_model::clock::{Clock, ClockMode};
use entman_model::ids::{PlanId, SessionId};
use entman_model::job_session::Generation;
use entman_model::plan::{FailoverTarget, Plan, PlanOptions, PlanState, VmBehaviour};
use entman_model::replica::{PointState, VmReplicaPoint};
use entman_model::session::{
    task_change_is_stored, Change, FailoverSession, PointRef, SessionKind, SessionResult,
    SessionState, SessionTask, TaskPlan,
};
use entman_model::Timestamp;
use entman_store::{Scope, SessionUpdate, Store, StoreError};
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
    /// The EM generation: precision of job-run times and the form of their names.
    pub generation: Generation,
    /// Whether job schedules (and automatic retries, immediate copies) create runs;
    /// `--no-schedules` turns them off.
    pub schedules: bool,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            time_scale: 1.0,
            generation: Generation::Em12,
            schedules: true,
        }
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

/// How the sessions of a plan progress (controls.md §2, "progression").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Progression {
    /// VMs fail over one after another as the clock moves (the default).
    #[default]
    Timed,
    /// A start or test finishes the whole session before it is answered.
    Immediate,
    /// VMs advance only when [`Engine::step_session`] says so.
    Manual,
}

impl Progression {
    /// The name controls.md uses (`timed`, `immediate`, `manual`).
    pub fn as_str(self) -> &'static str {
        match self {
            Progression::Timed => "timed",
            Progression::Immediate => "immediate",
            Progression::Manual => "manual",
        }
    }

    /// Parses `timed`, `immediate` or `manual` (any case).
    pub fn parse(text: &str) -> Option<Progression> {
        [
            Progression::Timed,
            Progression::Immediate,
            Progression::Manual,
        ]
        .into_iter()
        .find(|p| p.as_str().eq_ignore_ascii_case(text))
    }
}

/// The test controls of an engine: progression per plan, outcome per plan VM.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Controls {
    /// Plans whose sessions do not progress timed, with how they do.
    pub progressions: Vec<(PlanId, Progression)>,
    /// VM outcomes set over the world's: plan, VM name (lower case), behaviour.
    pub outcomes: Vec<(PlanId, String, VmBehaviour)>,
    /// Jobs whose runs do not progress timed, with how they do.
    pub job_progressions: Vec<(entman_model::ids::JobId, Progression)>,
    /// Job VM outcomes set over the world's: job, VM name (lower case), outcome.
    pub job_outcomes: Vec<(entman_model::ids::JobId, String, JobVmOutcome)>,
}

/// How many VMs a manual step finishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepSpec {
    /// The next `n` unfinished VMs.
    Vms(usize),
    /// Every unfinished VM.
    ToEnd,
}

/// Why a step was refused.
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    /// The session has ended, is stopping, or does not exist.
    #[error("the session is not running")]
    NotRunning,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A VM of a manual session works until a step ends it: a hundred years.
const MANUAL_DURATION_MS: i64 = 100 * 365 * 86_400_000;

/// The engine. Cheap to share; one per server.
pub struct Engine {
    store: Arc<dyn Store>,
    config: EngineConfig,
    /// The factor applied to durations, as `f64` bits (changed at run time by
    /// `PUT /_entman/clock`).
    time_scale: AtomicU64,
    /// Where every time the engine uses comes from.
    clock: Arc<Clock>,
    /// Test controls: progression per plan, outcomes per plan VM (lower-case name).
    progressions: std::sync::Mutex<HashMap<PlanId, Progression>>,
    outcomes: std::sync::Mutex<HashMap<(PlanId, String), VmBehaviour>>,
    /// The same controls for jobs: progression per job, outcome per job VM.
    job_progressions: std::sync::Mutex<HashMap<entman_model::ids::JobId, Progression>>,
    job_outcomes: std::sync::Mutex<HashMap<(entman_model::ids::JobId, String), JobVmOutcome>>,
    wake: Notify,
    /// Serialises plan operations of this instance; the store's conditional plan
    /// state change protects against other instances sharing the database.
    operations: Mutex<()>,
    /// The unfinished sessions, kept in memory so that a step reads nothing: it
    /// advances them, writes what changed, and forgets the ones that finished.
    running: Mutex<Running>,
    /// Job schedules: the instant up to which due runs have been created.
    schedule_cursor: std::sync::Mutex<Option<Timestamp>>,
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
    /// The clock time of the latest step, in microseconds since the epoch (0
    /// before the first): what readers show progress at ([`Engine::progress_time`]).
    stepped_to: AtomicI64,
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

/// While held, no plan operation and no step runs ([`Engine::quiesce`]).
pub struct Quiesced<'a> {
    _operations: tokio::sync::MutexGuard<'a, ()>,
    _running: tokio::sync::MutexGuard<'a, Running>,
}

/// The engine's copy of the unfinished sessions.
#[derive(Default)]
struct Running {
    sessions: HashMap<SessionId, FailoverSession>,
    /// When the copy was last compared with the store.
    refreshed: Option<std::time::Instant>,
}

/// The columns of a session's own row that a step can change: when they are as
/// before, only task rows are written.
#[derive(PartialEq)]
struct RowColumns {
    state: SessionState,
    result: SessionResult,
    end_time: Option<Timestamp>,
    failure_message: Option<String>,
}

impl RowColumns {
    fn of(session: &FailoverSession) -> RowColumns {
        RowColumns {
            state: session.state,
            result: session.result,
            end_time: session.end_time,
            failure_message: session.failure_message.clone(),
        }
    }
}

impl Engine {
    /// A new engine over a store.
    pub fn new(store: Arc<dyn Store>, config: EngineConfig) -> Arc<Engine> {
        Engine::with_clock(store, config, Arc::new(Clock::system()))
    }

    /// A new engine reading the time from `clock`.
    pub fn with_clock(
        store: Arc<dyn Store>,
        config: EngineConfig,
        clock: Arc<Clock>,
    ) -> Arc<Engine> {
        let started = clock.now();
        Arc::new(Engine {
            store,
            time_scale: AtomicU64::new(config.time_scale.to_bits()),
            config,
            clock,
            progressions: Default::default(),
            outcomes: Default::default(),
            job_progressions: Default::default(),
            job_outcomes: Default::default(),
            wake: Notify::new(),
            operations: Mutex::new(()),
            running: Mutex::new(Running::default()),
            schedule_cursor: std::sync::Mutex::new(Some(started)),
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

    /// Has the loop look at its sessions and the clock again now.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// The clock the engine (and everything sharing it) reads.
    pub fn clock(&self) -> &Arc<Clock> {
        &self.clock
    }

    /// The factor applied to every duration of sessions started from now on.
    pub fn time_scale(&self) -> f64 {
        f64::from_bits(self.time_scale.load(Ordering::Relaxed))
    }

    /// Changes the time scale (a positive, finite factor) for sessions started
    /// from now on; running sessions keep the durations they started with.
    pub fn set_time_scale(&self, scale: f64) {
        if scale.is_finite() && scale > 0.0 {
            self.time_scale.store(scale.to_bits(), Ordering::Relaxed);
        }
    }

    /// The time readers show running sessions' progress at
    /// (`FailoverSession::show_progress_at`): the clock time of the latest step,
    /// so that an answer read now and one kept by the read cache since that step
    /// agree, and every read path shows the same figure. The clock's time before
    /// the first step.
    pub fn progress_time(&self) -> Timestamp {
        match self.activity.stepped_to.load(Ordering::Acquire) {
            0 => self.clock.now(),
            micros => Timestamp::from_micros(micros).min(self.clock.now()),
        }
    }

    /// The EM generation the engine writes job runs for.
    pub fn generation(&self) -> Generation {
        self.config.generation
    }

    /// The time scale given at start (what a reset returns to).
    pub fn initial_time_scale(&self) -> f64 {
        self.config.time_scale
    }

    fn scaled(&self, ms: f64) -> i64 {
        (ms * self.time_scale()).round().max(0.0) as i64
    }

    fn lead_ms(&self) -> i64 {
        self.scaled(LEAD_MS)
    }

    /// The lead a session started with: from its creation to its first task's
    /// (stored with the session, so a restart with another time scale does not
    /// shift it).
    fn lead_of(&self, session: &FailoverSession) -> i64 {
        session.stored_lead_ms().unwrap_or_else(|| self.lead_ms())
    }

    /// How the sessions of a plan progress.
    pub fn progression(&self, plan: PlanId) -> Progression {
        self.progressions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&plan)
            .copied()
            .unwrap_or_default()
    }

    /// Sets how the next sessions of a plan progress.
    pub fn set_progression(&self, plan: PlanId, progression: Progression) {
        let mut map = self
            .progressions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if progression == Progression::Timed {
            map.remove(&plan);
        } else {
            map.insert(plan, progression);
        }
    }

    /// Sets the outcome (and duration, before scaling) of a plan VM for the
    /// plan's next starts and tests, until removed.
    pub fn set_outcome(&self, plan: PlanId, vm: &str, behaviour: VmBehaviour) {
        self.outcomes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert((plan, vm.to_lowercase()), behaviour);
    }

    /// Removes an outcome set by [`Engine::set_outcome`]; false when none was.
    pub fn remove_outcome(&self, plan: PlanId, vm: &str) -> bool {
        self.outcomes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&(plan, vm.to_lowercase()))
            .is_some()
    }

    /// Progressions and outcomes set by tests, ordered by plan (and VM).
    pub fn controls(&self) -> Controls {
        let mut progressions: Vec<(PlanId, Progression)> = self
            .progressions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .map(|(p, m)| (*p, *m))
            .collect();
        progressions.sort_by_key(|(p, _)| p.0);
        let mut outcomes: Vec<(PlanId, String, VmBehaviour)> = self
            .outcomes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .map(|((p, vm), b)| (*p, vm.clone(), b.clone()))
            .collect();
        outcomes.sort_by(|a, b| (a.0 .0, &a.1).cmp(&(b.0 .0, &b.1)));
        let mut job_progressions: Vec<_> = self
            .job_progressions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .map(|(j, m)| (*j, *m))
            .collect();
        job_progressions.sort_by_key(|(j, _)| j.0);
        let mut job_outcomes: Vec<_> = self
            .job_outcomes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .map(|((j, vm), o)| (*j, vm.clone(), o.clone()))
            .collect();
        job_outcomes.sort_by(|a, b| (a.0 .0, &a.1).cmp(&(b.0 .0, &b.1)));
        Controls {
            progressions,
            outcomes,
            job_progressions,
            job_outcomes,
        }
    }

    /// Replaces the progressions and outcomes with `controls`.
    pub fn set_controls(&self, controls: Controls) {
        let mut progressions = self
            .progressions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        progressions.clear();
        progressions.extend(
            controls
                .progressions
                .into_iter()
                .filter(|(_, m)| *m != Progression::Timed),
        );
        drop(progressions);
        let mut outcomes = self
            .outcomes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        outcomes.clear();
        outcomes.extend(
            controls
                .outcomes
                .into_iter()
                .map(|(p, vm, b)| ((p, vm.to_lowercase()), b)),
        );
        drop(outcomes);
        let mut job_progressions = self
            .job_progressions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        job_progressions.clear();
        job_progressions.extend(
            controls
                .job_progressions
                .into_iter()
                .filter(|(_, m)| *m != Progression::Timed),
        );
        drop(job_progressions);
        let mut job_outcomes = self
            .job_outcomes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        job_outcomes.clear();
        job_outcomes.extend(
            controls
                .job_outcomes
                .into_iter()
                .map(|(j, vm, o)| ((j, vm.to_lowercase()), o)),
        );
    }

    /// Forgets every progression and outcome and returns to the initial time
    /// scale (a reset).
    pub fn reset_controls(&self) {
        self.progressions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clear();
        self.outcomes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clear();
        self.job_progressions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clear();
        self.job_outcomes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clear();
        // Schedules start over from the (reset) clock: no catching up on runs
        // that fell due before.
        *self
            .schedule_cursor
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = None;
        self.set_time_scale(self.config.time_scale);
    }

    /// Holds plan operations and steps off until the guard is dropped, and
    /// forgets the running set, so that the next step reads it from the store
    /// again: for replacing the store's state underneath (a reset).
    pub async fn quiesce(&self) -> Quiesced<'_> {
        let operations = self.operations.lock().await;
        let mut running = self.running.lock().await;
        running.sessions.clear();
        running.refreshed = None;
        Quiesced {
            _operations: operations,
            _running: running,
        }
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
        let progression = self.progression(plan.id);
        let mut session = self.new_session(plan, kind, target, chosen, now, progression);
        if progression == Progression::Immediate {
            session.advance(now, self.lead_of(&session));
        }
        if let Err(e) = self.store.save_session(&session).await {
            if kind == SessionKind::Start {
                let _ = self.store.set_plan_state(plan.id, PlanState::Ready).await;
            }
            return Err(e.into());
        }
        tracing::info!(plan = %plan.name, session = %session.id, kind = %kind, "failover session started");
        self.activity.started.fetch_add(1, Ordering::Relaxed);
        if session.is_finished() {
            self.finish(&session).await?;
            return Ok(session);
        }
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
        progression: Progression,
    ) -> FailoverSession {
        // Immediate and manual sessions have no lead: their VMs are ready at once.
        let lead = match progression {
            Progression::Timed => self.lead_ms(),
            Progression::Immediate | Progression::Manual => 0,
        };
        let tasks_created = now.plus_millis(lead);
        let overrides = self
            .outcomes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        let tasks = plan
            .vms
            .iter()
            .zip(chosen)
            .enumerate()
            .map(|(i, (vm, point))| {
                let created = match progression {
                    Progression::Timed => tasks_created.plus_millis(i as i64 * 10),
                    Progression::Immediate | Progression::Manual => tasks_created,
                };
                let behaviour = overrides
                    .get(&(plan.id, vm.name.to_lowercase()))
                    .unwrap_or(&vm.behaviour);
                let duration_ms = match progression {
                    Progression::Timed => self.scaled(behaviour.duration_ms as f64),
                    Progression::Immediate => 0,
                    Progression::Manual => MANUAL_DURATION_MS,
                };
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
                        duration_ms,
                        outcome: behaviour.outcome,
                        message: behaviour.message.clone(),
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

    /// Finishes the next VMs of a running session now, with their outcomes (a
    /// manual step, controls.md §2). The VM after them starts now. Returns the
    /// session as stored.
    pub async fn step_session(
        &self,
        id: SessionId,
        spec: StepSpec,
    ) -> Result<FailoverSession, StepError> {
        let now = self.clock.now();
        let mut running = self.running.lock().await;
        let mut session = match running.sessions.get(&id) {
            Some(session) => session.clone(),
            None => self
                .store
                .get_session(Scope::All, id)
                .await
                .map_err(|e| match e {
                    StoreError::NotFound => StepError::NotRunning,
                    other => StepError::Store(other),
                })?,
        };
        if session.is_finished() || session.state == SessionState::Stopping {
            return Err(StepError::NotRunning);
        }
        // Bring it to now first, then end the chosen VMs at now.
        let lead = self.lead_of(&session);
        session.advance(now, lead);
        if session.is_finished() {
            return Err(StepError::NotRunning);
        }
        let wanted = match spec {
            StepSpec::Vms(n) => n,
            StepSpec::ToEnd => usize::MAX,
        };
        let chosen: Vec<usize> = (0..session.tasks.len())
            .filter(|i| {
                let t = &session.tasks[*i];
                t.state != SessionState::Stopped && t.plan.is_some()
            })
            .take(wanted)
            .collect();
        // Still in the lead: the VMs are ready now.
        let first_start = session.windows(lead).into_iter().flatten().next();
        if first_start.is_some_and(|(start, _)| start > now) {
            for t in &mut session.tasks {
                t.creation_time = t.creation_time.min(now);
            }
        }
        // VMs run one after another: each chosen one now ends at `now`, so the
        // next starts there (and, when chosen too, ends there).
        for i in chosen {
            let windows = session.windows(self.lead_of(&session));
            if let (Some(Some((start, _))), Some(plan)) =
                (windows.get(i), session.tasks[i].plan.as_mut())
            {
                plan.duration_ms = (now.micros() - start.micros()).max(0) / 1000;
            }
        }
        let lead = self.lead_of(&session);
        session.advance(now, lead);
        if session.is_finished() {
            self.finish(&session).await?;
        }
        self.store.save_session(&session).await?;
        if session.is_finished() {
            running.sessions.remove(&id);
        } else {
            running.sessions.insert(id, session.clone());
        }
        drop(running);
        self.wake.notify_one();
        Ok(session)
    }

    /// Applies everything due up to `now` (after a manual clock moved there):
    /// steps until no session has anything left before it.
    pub async fn advance_to(&self, now: Timestamp) -> Result<(), StoreError> {
        // Each step brings every session to `now`; a stop needs a second.
        self.run_schedules(now).await?;
        for _ in 0..16 {
            if self.step(now).await?.is_none_or(|due| due > now) {
                return Ok(());
            }
        }
        Ok(())
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
        let mut progressed = false;
        for session in running.sessions.values_mut() {
            let before: Vec<SessionState> = session.tasks.iter().map(|t| t.state).collect();
            let row_before = RowColumns::of(session);
            let lead = self.lead_of(session);
            match session.advance(now, lead) {
                // Only transitions are stored, and of the VMs only those that
                // end: readers derive a VM's start and the progress in between
                // from the stored course (`FailoverSession::show_progress_at`).
                Change::Transition => {
                    let tasks: Vec<usize> = (0..session.tasks.len())
                        .filter(|i| task_change_is_stored(before[*i], session.tasks[*i].state))
                        .collect();
                    let row = RowColumns::of(session) != row_before;
                    if tasks.is_empty() && !row {
                        progressed = true;
                    } else {
                        changed.push((session.id, tasks, row));
                    }
                }
                Change::Progress => progressed = true,
                Change::Nothing => {}
            }
            if let Some(due) = self.next_due(session, now) {
                next = Some(next.map_or(due, |n| n.min(due)));
            }
        }
        // Before the state version moves: a reader that sees the new version also
        // sees this time (an answer cached under the old one may be newer, never older).
        self.activity
            .stepped_to
            .fetch_max(now.micros(), Ordering::AcqRel);
        if progressed && changed.is_empty() {
            // Nothing to write, but what readers derive moved: cached answers
            // showing running sessions are out of date.
            self.store.mark_changed();
        }
        // Effects of finished sessions first: if the server dies before the save, the
        // session finishes again on the next step and the (idempotent) effects repeat.
        // Borrowed from the running set: a step that changes every session copies none.
        let changed: Vec<SessionUpdate<'_>> = changed
            .into_iter()
            .filter_map(|(id, tasks, row)| {
                let session = running.sessions.get(&id)?;
                Some(SessionUpdate {
                    session,
                    tasks,
                    row,
                })
            })
            .collect();
        for update in changed.iter().filter(|u| u.session.is_finished()) {
            self.finish(update.session).await?;
        }
        if !changed.is_empty() {
            if let Err(e) = self.store.update_sessions(&changed).await {
                // What was not written is read back from the store at the next step.
                running.refreshed = None;
                return Err(e);
            }
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
        for window in session.windows(self.lead_of(session)).into_iter().flatten() {
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
            let now = self.clock.now();
            let began = std::time::Instant::now();
            self.activity
                .stepping_since
                .store(now.micros(), Ordering::Relaxed);
            let stepped = match self.step(now).await {
                Ok(due) => self
                    .run_schedules(now)
                    .await
                    .map(|scheduled| earliest(due, scheduled)),
                Err(e) => Err(e),
            };
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
            // A manual clock moves only when advanced, and the advance steps the
            // engine itself: the loop then only looks again now and then.
            let wait = match self.clock.mode() {
                ClockMode::System => wait.min(Duration::from_secs(60)),
                ClockMode::Manual => Duration::from_secs(1),
            };
            tokio::select! {
                () = &mut shutdown => return,
                () = self.wake.notified() => {}
                () = tokio::time::sleep(wait) => {}
            }
        }
    }
}

/// The earlier of two optional instants.
fn earliest(a: Option<Timestamp>, b: Option<Timestamp>) -> Option<Timestamp> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}
