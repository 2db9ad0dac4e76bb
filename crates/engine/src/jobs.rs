//! Job runs (jobs-domain.md §2–6): the actions that create and stop them, and
//! the schedule that starts them. A run's course is fixed when it is created, so
//! nothing here steps running sessions; the schedule tick only creates runs that
//! fell due (scheduled runs, automatic retries, immediate copies).

use super::{Engine, OperationError, Progression, StepError, StepSpec, MANUAL_DURATION_MS};
use entman_model::ids::JobId;
use entman_model::job::{Job, JobOutcome, JobType, JobVm};
use entman_model::job_session::{JobSession, ManualStep, RunRequest, SessionResult, Trigger};
use entman_model::Timestamp;
use entman_store::{JobSessionFilter, StoreError};
use uuid::Uuid;

/// What a job action asks for (jobs.md §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunAction {
    /// `start`: backup and replication jobs.
    Start,
    /// `sync`: copy jobs.
    Sync,
    /// `retry`: the failed VMs of the last run.
    Retry,
}

/// An outcome the controls set for a job's VM (controls.md, "Jobs"): it applies
/// to every attempt of the VM's next runs, until reset or removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobVmOutcome {
    /// The result of each attempt.
    pub outcome: JobOutcome,
    /// The task's `Reason`; `None`: the default for the result.
    pub reason: Option<String>,
    /// Processing time; `None`: the world's.
    pub duration_ms: Option<u64>,
    /// `TotalSize`; `None`: the world's.
    pub size_bytes: Option<u64>,
}

/// How far back the tick looks for the retries of a scheduled run.
const RETRY_LOOKBACK_DAYS: i64 = 2;

fn refused(message: String) -> OperationError {
    OperationError::Refused(message)
}

/// A UUID v5 for a run the schedule creates, so that two ticks (or two
/// instances) that see the same due instant create the same run once.
fn scheduled_id(job: JobId, due: Timestamp, label: &str) -> Uuid {
    Uuid::new_v5(&job.0, format!("{label}\u{0}{}", due.micros()).as_bytes())
}

impl Engine {
    /// The job's latest run, if it has one.
    async fn latest_run(&self, job: JobId) -> Result<Option<JobSession>, StoreError> {
        self.store.latest_job_session(job).await
    }

    /// The VMs a run of `job` processes: its own includes, or for a copy job
    /// those of its source jobs, in order.
    async fn run_vms(&self, job: &Job) -> Result<Vec<JobVm>, StoreError> {
        let mut sources = Vec::new();
        for link in &job.source_jobs {
            match self.store.get_job(link.job).await {
                Ok(source) => sources.push(source),
                Err(StoreError::NotFound) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(job.run_vms(&sources).into_iter().cloned().collect())
    }

    /// A job's progression (controls.md): timed unless the controls say otherwise.
    pub fn job_progression(&self, job: JobId) -> Progression {
        lock(&self.job_progressions)
            .get(&job)
            .copied()
            .unwrap_or_default()
    }

    /// Sets how the runs of a job progress from its next run on.
    pub fn set_job_progression(&self, job: JobId, progression: Progression) {
        let mut map = lock(&self.job_progressions);
        if progression == Progression::Timed {
            map.remove(&job);
        } else {
            map.insert(job, progression);
        }
    }

    /// Sets the outcome of a job's VM (by name, case-insensitively) for its next runs.
    pub fn set_job_outcome(&self, job: JobId, vm: &str, outcome: JobVmOutcome) {
        lock(&self.job_outcomes).insert((job, vm.to_lowercase()), outcome);
    }

    /// Removes an outcome the controls set; `false` when there was none.
    pub fn remove_job_outcome(&self, job: JobId, vm: &str) -> bool {
        lock(&self.job_outcomes)
            .remove(&(job, vm.to_lowercase()))
            .is_some()
    }

    /// The VMs of a run as the controls make them: outcome overrides, and under
    /// manual progression durations that only a step ends.
    fn controlled(&self, job: &Job, mut vms: Vec<JobVm>) -> Vec<JobVm> {
        let outcomes = lock(&self.job_outcomes);
        let manual = self.job_progression(job.id) == Progression::Manual;
        for vm in &mut vms {
            if let Some(o) = outcomes.get(&(job.id, vm.name.to_lowercase())) {
                vm.outcomes = vec![o.outcome];
                vm.reasons = o.reason.clone().into_iter().collect();
                if let Some(ms) = o.duration_ms {
                    vm.duration_ms = ms;
                    vm.fail_ms = ms;
                }
                if let Some(bytes) = o.size_bytes {
                    vm.size_bytes = bytes;
                }
            }
            if manual {
                vm.duration_ms = MANUAL_DURATION_MS as u64;
                vm.fail_ms = MANUAL_DURATION_MS as u64;
            }
        }
        vms
    }

    /// Creates and stores a run of `job` over the VMs at `positions` (all when
    /// `None`), each at `attempt`. Under immediate progression the run is over
    /// at `created`: its course takes no time and ends there.
    async fn create_run(
        &self,
        id: Uuid,
        job: &Job,
        positions: Option<&[usize]>,
        attempt: usize,
        created: Timestamp,
        trigger: Trigger,
    ) -> Result<JobSession, StoreError> {
        let vms = self.controlled(job, self.run_vms(job).await?);
        let immediate = self.job_progression(job.id) == Progression::Immediate;
        let (created, scale) = if immediate {
            // Tasks are created 3 ms apart: start early enough to end by `created`.
            let n = i64::try_from(vms.len()).unwrap_or(0);
            (created.plus_millis(-3 * n - 1), 0.0)
        } else {
            (created, self.time_scale())
        };
        let chosen: Vec<(usize, &JobVm, usize)> = vms
            .iter()
            .enumerate()
            .filter(|(i, _)| positions.is_none_or(|p| p.contains(i)))
            .map(|(i, vm)| (i, vm, attempt))
            .collect();
        let session = JobSession::create(RunRequest {
            id,
            job,
            vms: &chosen,
            created,
            scale,
            trigger,
            generation: self.config.generation,
        });
        self.store.insert_job_session(&session).await?;
        Ok(session)
    }

    /// The attempt a retry of the job's latest run is on: one more than the
    /// retries since the last run that was not one.
    async fn retry_attempt(&self, job: JobId, now: Timestamp) -> Result<usize, StoreError> {
        let since = now.plus_millis(-RETRY_LOOKBACK_DAYS * 86_400_000);
        let runs = self
            .store
            .list_job_sessions(JobSessionFilter {
                job: Some(job),
                since: Some(since),
                ..Default::default()
            })
            .await?;
        let retries = runs.iter().rev().take_while(|s| s.is_retry()).count();
        Ok(retries + 1)
    }

    /// The job's latest run, when a new run may start: refused while one runs
    /// or while the job is disabled (jobs.md §5).
    async fn idle_run(
        &self,
        job: &Job,
        now: Timestamp,
    ) -> Result<Option<JobSession>, OperationError> {
        let latest = self.latest_run(job.id).await?;
        if latest.as_ref().is_some_and(|s| !s.is_over(now)) {
            return Err(refused(format!("Job \"{}\" is already running.", job.name)));
        }
        if !job.schedule_enabled {
            return Err(refused(format!("Job \"{}\" is disabled.", job.name)));
        }
        Ok(latest)
    }

    /// `start`, `sync` or `retry` of a job (jobs.md §5): the new run, or the
    /// refusal's message.
    pub async fn run_job(
        &self,
        job: &Job,
        action: RunAction,
    ) -> Result<JobSession, OperationError> {
        let _guard = self.operations.lock().await;
        let now = self.clock.now();
        let name = &job.name;
        let copy = job.job_type.is_copy();
        match action {
            RunAction::Start | RunAction::Retry if copy => {
                return Err(refused(format!(
                    "Job \"{name}\" is a backup copy job. Use the sync action to start it."
                )));
            }
            RunAction::Sync if !copy => {
                return Err(refused(format!("Job \"{name}\" is not a backup copy job.")));
            }
            _ => {}
        }
        let latest = self.idle_run(job, now).await?;
        let session = match action {
            RunAction::Start | RunAction::Sync => {
                self.create_run(Uuid::new_v4(), job, None, 0, now, Trigger::Manual)
                    .await?
            }
            RunAction::Retry => {
                let failed = latest
                    .filter(|s| s.result(now) == SessionResult::Ended(JobOutcome::Failed))
                    .map(|s| s.failed_positions())
                    .filter(|p| !p.is_empty())
                    .ok_or_else(|| {
                        refused(format!(
                            "Job \"{name}\" cannot be retried: its last session did not fail."
                        ))
                    })?;
                let attempt = self.retry_attempt(job.id, now).await?;
                self.create_run(
                    Uuid::new_v4(),
                    job,
                    Some(&failed),
                    attempt,
                    now,
                    Trigger::ManualRetry,
                )
                .await?
            }
        };
        self.wake();
        Ok(session)
    }

    /// Runs a job now as its schedule would (controls.md `POST /_entman/jobs/{ID}/run`):
    /// a scheduled run, retried automatically if it fails; refused like `start`.
    pub async fn run_job_now(&self, job: &Job) -> Result<JobSession, OperationError> {
        let _guard = self.operations.lock().await;
        let now = self.clock.now();
        self.idle_run(job, now).await?;
        let session = self
            .create_run(Uuid::new_v4(), job, None, 0, now, Trigger::Schedule)
            .await?;
        self.wake();
        Ok(session)
    }

    /// Ends the next VMs of a running job session now (controls.md `step`), the
    /// way manual progression needs; any running session can be stepped.
    pub async fn step_job_session(
        &self,
        id: Uuid,
        spec: StepSpec,
    ) -> Result<JobSession, StepError> {
        let _guard = self.operations.lock().await;
        let now = self.clock.now();
        let mut session = self.store.get_job_session(id).await?;
        let job = self.store.get_job(session.job_id).await?;
        let step = ManualStep {
            vms: match spec {
                StepSpec::Vms(n) => Some(n),
                StepSpec::ToEnd => None,
            },
            slots: usize::try_from(job.timing.max_concurrent_tasks.max(1)).unwrap_or(1),
            finalize_ms: self.scaled(job.timing.finalize_ms as f64),
            open_ms: MANUAL_DURATION_MS,
        };
        if !session.step_manually(now, step) {
            return Err(StepError::NotRunning);
        }
        self.store.update_job_session(&session).await?;
        self.wake();
        Ok(session)
    }

    /// `stop` of a job: stops its running run.
    pub async fn stop_job(&self, job: &Job) -> Result<JobSession, OperationError> {
        let _guard = self.operations.lock().await;
        let now = self.clock.now();
        let latest = self.latest_run(job.id).await?;
        match latest {
            Some(mut session) if !session.is_over(now) => {
                if session.stop(now, self.scaled(job.timing.stop_ms as f64)) {
                    self.store.update_job_session(&session).await?;
                }
                Ok(session)
            }
            _ => Err(refused(format!("Job \"{}\" is not running.", job.name))),
        }
    }

    /// `stop` of one backup session (job-sessions.md §7): the session as it is
    /// now; refused when it is over. A session already stopping stays as it is.
    pub async fn stop_job_session(&self, id: Uuid) -> Result<JobSession, OperationError> {
        let _guard = self.operations.lock().await;
        let now = self.clock.now();
        let mut session = self.store.get_job_session(id).await?;
        if session.is_over(now) {
            return Err(refused(format!(
                "Job session \"{}\" is not running.",
                session.name
            )));
        }
        let stop_ms = match self.store.get_job(session.job_id).await {
            Ok(job) => job.timing.stop_ms,
            Err(StoreError::NotFound) => 5_000,
            Err(e) => return Err(e.into()),
        };
        if session.stop(now, self.scaled(stop_ms as f64)) {
            self.store.update_job_session(&session).await?;
        }
        Ok(session)
    }

    /// Creates the runs that fell due up to `now` (jobs-domain.md §4, §6):
    /// scheduled runs, automatic retries of failed scheduled runs and immediate
    /// copies. Returns when the next one falls due. Off with `--no-schedules`.
    pub async fn run_schedules(&self, now: Timestamp) -> Result<Option<Timestamp>, StoreError> {
        if !self.config.schedules {
            return Ok(None);
        }
        let _guard = self.operations.lock().await;
        let jobs = self.store.list_jobs().await?;
        // After a reset the schedules start from the clock as it is now; a tick
        // whose `now` was read before that (the loop's) has nothing to do.
        let from = *lock(&self.schedule_cursor).get_or_insert_with(|| self.clock.now());
        if now <= from {
            return Ok(None);
        }
        let mut next: Option<Timestamp> = None;
        let mut due_at = |t: Timestamp| next = Some(next.map_or(t, |n: Timestamp| n.min(t)));
        for job in &jobs {
            if !job.schedule_enabled {
                continue;
            }
            let latest = self.latest_run(job.id).await?;
            // A run's end may start a retry or an immediate copy: look again then.
            if let Some(run) = latest.as_ref().filter(|r| !r.is_over(now)) {
                due_at(run.end);
            }
            if let Some(schedule) = &job.schedule {
                if job.job_type != JobType::ImmediateBackupCopy {
                    // The last instant due in (from, now]: earlier ones were missed.
                    let mut due = None;
                    let mut t = schedule.next_run_after(from);
                    while t <= now {
                        due = Some(t);
                        t = schedule.next_run_after(t);
                    }
                    due_at(t);
                    if let Some(due) = due {
                        let idle = latest.as_ref().is_none_or(|s| s.is_over(due));
                        if idle {
                            let id = scheduled_id(job.id, due, "schedule");
                            self.insert_due(id, job, None, 0, due, Trigger::Schedule)
                                .await?;
                            continue;
                        }
                    }
                }
            }
            if let Some(retry_at) = self
                .auto_retry(job, latest.as_ref(), now, &mut due_at)
                .await?
            {
                let (positions, attempt, at) = retry_at;
                let id = scheduled_id(job.id, at, "retry");
                self.insert_due(id, job, Some(&positions), attempt, at, Trigger::AutoRetry)
                    .await?;
            }
        }
        self.immediate_copies(&jobs, from, now).await?;
        *lock(&self.schedule_cursor) = Some(now);
        Ok(next)
    }

    /// An automatic retry due by `now` for the job's latest run: VMs, attempt,
    /// instant. Reports a retry due later through `due_at`.
    async fn auto_retry(
        &self,
        job: &Job,
        latest: Option<&JobSession>,
        now: Timestamp,
        due_at: &mut impl FnMut(Timestamp),
    ) -> Result<Option<(Vec<usize>, usize, Timestamp)>, StoreError> {
        let Some(last) = latest else { return Ok(None) };
        let automatic = matches!(last.trigger, Trigger::Schedule | Trigger::AutoRetry);
        if job.retry.times == 0
            || !automatic
            || last.stop.is_some()
            || last.result(now) != SessionResult::Ended(JobOutcome::Failed)
        {
            return Ok(None);
        }
        let attempt = self.retry_attempt(job.id, now).await?;
        if attempt > job.retry.times as usize {
            return Ok(None);
        }
        let wait = self.scaled(f64::from(job.retry.timeout_minutes) * 60_000.0);
        let at = last.end.plus_millis(wait);
        if at > now {
            due_at(at);
            return Ok(None);
        }
        let failed = last.failed_positions();
        Ok((!failed.is_empty()).then_some((failed, attempt, at)))
    }

    /// Immediate copy jobs start when a run of a source job that wrote a point
    /// ended in (from, now], if they are idle.
    async fn immediate_copies(
        &self,
        jobs: &[Job],
        from: Timestamp,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        for job in jobs {
            if job.job_type != JobType::ImmediateBackupCopy || !job.schedule_enabled {
                continue;
            }
            for source in &job.source_jobs {
                let Some(run) = self.latest_run(source.job).await? else {
                    continue;
                };
                let ended_now = run.is_over(now) && run.end > from;
                if !ended_now || run.points_at(now).next().is_none() {
                    continue;
                }
                let latest = self.latest_run(job.id).await?;
                if latest.is_none_or(|s| s.is_over(run.end)) {
                    let id = scheduled_id(job.id, run.end, "copy");
                    self.insert_due(id, job, None, 0, run.end, Trigger::Schedule)
                        .await?;
                }
            }
        }
        Ok(())
    }

    /// Creates a run the schedule made due; one that exists already (another
    /// tick, another instance) is left as it is.
    async fn insert_due(
        &self,
        id: Uuid,
        job: &Job,
        positions: Option<&[usize]>,
        attempt: usize,
        at: Timestamp,
        trigger: Trigger,
    ) -> Result<(), StoreError> {
        match self.store.get_job_session(id).await {
            Ok(_) => return Ok(()),
            Err(StoreError::NotFound) => {}
            Err(e) => return Err(e),
        }
        match self
            .create_run(id, job, positions, attempt, at, trigger)
            .await
        {
            Ok(_) | Err(StoreError::Conflict(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
