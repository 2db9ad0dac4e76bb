//! Job sessions and task sessions (job-sessions.md; jobs-domain.md §2–5): one
//! run of a job and the processing of each of its VMs. The course of a run is
//! fixed when it is created (`plan_run`); every state, progress and result is
//! derived from it and the clock, so a session needs no writes while it runs and
//! a restarted server continues from the clock. Only a stop rewrites the course.

use crate::ids::{
    BackupJobSessionId, BackupServerId, BackupTaskSessionId, JobId, ReplicaJobSessionId,
    ReplicaTaskSessionId,
};
use crate::job::{Job, JobOutcome, JobType, JobVm};
use crate::job_run::{plan_run, PlannedTask, TaskPhase};
use crate::Timestamp;
use chrono::{Datelike, Timelike};
use uuid::Uuid;

/// `Reason` of the tasks a stop ends (jobs-domain.md §5).
pub const STOPPED_REASON: &str = "Job has been stopped by user.";

/// Microseconds in a second.
const SECOND: i64 = 1_000_000;

/// The EM generation the server imitates: it fixes the precision of stored
/// times and the form of session and point names (job-sessions.md §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Generation {
    /// EM 12: SQL Server `datetime` times, names in whole seconds.
    Em12,
    /// EM 13: microsecond times, names with the fraction.
    Em13,
}

impl Generation {
    /// The instant as this generation stores it: EM 12 rounds to `datetime`
    /// ticks (1/300 s, shown as milliseconds ending in 0, 3 or 7).
    pub fn quantize(self, t: Timestamp) -> Timestamp {
        match self {
            Generation::Em13 => t,
            Generation::Em12 => {
                let micros = t.micros();
                let ticks = (micros as i128 * 300 + 500_000).div_euclid(1_000_000);
                let ms = (ticks * 1000 + 150).div_euclid(300);
                Timestamp::from_micros(i64::try_from(ms * 1000).unwrap_or(micros))
            }
        }
    }

    /// [`Generation::quantize`], never later than `t`: a run created now must
    /// not be created after now (EM 12 rounds to the nearest tick, which may lie
    /// up to 1.67 ms ahead).
    pub fn quantize_down(self, t: Timestamp) -> Timestamp {
        let mut q = self.quantize(t);
        while q > t {
            // One tick (1/300 s) back.
            q = self.quantize(Timestamp::from_micros(q.micros() - 3_334));
        }
        q
    }

    /// `yyyy-MM-dd HH:mm:ss`, with EM 13's fraction (no trailing zeros).
    pub fn name_time(self, t: Timestamp) -> String {
        let seconds = t.display_name_form();
        let fraction = t.micros().rem_euclid(SECOND);
        match self {
            Generation::Em13 if fraction != 0 => {
                let digits = format!("{fraction:06}");
                format!("{seconds}.{}", digits.trim_end_matches('0'))
            }
            _ => seconds,
        }
    }

    /// The `Name` of a backup session's restore point link: EM 12 writes the
    /// creation time rounded to the minute in SQL Server style 100
    /// (`Jun 15 2026  5:34AM`), EM 13 the name time.
    pub fn point_time(self, t: Timestamp) -> String {
        match self {
            Generation::Em13 => self.name_time(t),
            Generation::Em12 => {
                let rounded = Timestamp::from_micros(
                    (t.micros() + 30 * SECOND).div_euclid(60 * SECOND) * 60 * SECOND,
                );
                let d = rounded.datetime();
                const MONTHS: [&str; 12] = [
                    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
                    "Dec",
                ];
                let (pm, hour) = d.hour12();
                format!(
                    "{} {:>2} {} {:>2}:{:02}{}",
                    MONTHS[d.month0() as usize],
                    d.day(),
                    d.year(),
                    hour,
                    d.minute(),
                    if pm { "PM" } else { "AM" }
                )
            }
        }
    }
}

/// Which collection a session belongs to (job-sessions.md §1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SessionKind {
    /// Backup and copy jobs: `/backupSessions`.
    Backup,
    /// Replication jobs: `/replicaSessions`.
    Replica,
}

impl SessionKind {
    /// The kind of a job's sessions.
    pub fn of(job_type: JobType) -> SessionKind {
        match job_type {
            JobType::Replica => SessionKind::Replica,
            _ => SessionKind::Backup,
        }
    }

    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            SessionKind::Backup => "backup",
            SessionKind::Replica => "replica",
        }
    }

    /// The session's UID type.
    pub fn session_urn(self) -> &'static str {
        match self {
            SessionKind::Backup => BackupJobSessionId::URN_TYPE,
            SessionKind::Replica => ReplicaJobSessionId::URN_TYPE,
        }
    }

    /// The task session's UID type.
    pub fn task_urn(self) -> &'static str {
        match self {
            SessionKind::Backup => BackupTaskSessionId::URN_TYPE,
            SessionKind::Replica => ReplicaTaskSessionId::URN_TYPE,
        }
    }
}

/// What created a run (jobs-domain.md §4, §6): only scheduled runs and their
/// automatic retries are retried automatically.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// `start`, `sync` or the controls.
    Manual,
    /// `retry`.
    ManualRetry,
    /// The schedule.
    Schedule,
    /// An automatic retry of a scheduled run.
    AutoRetry,
}

impl Trigger {
    /// `IsRetry`.
    pub fn is_retry(self) -> bool {
        matches!(self, Trigger::ManualRetry | Trigger::AutoRetry)
    }

    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Manual => "manual",
            Trigger::ManualRetry => "manual-retry",
            Trigger::Schedule => "schedule",
            Trigger::AutoRetry => "auto-retry",
        }
    }

    /// Parses the stored form.
    pub fn parse(s: &str) -> Option<Trigger> {
        [
            Trigger::Manual,
            Trigger::ManualRetry,
            Trigger::Schedule,
            Trigger::AutoRetry,
        ]
        .into_iter()
        .find(|t| t.as_str() == s)
    }
}

/// `State` of a job session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionState {
    /// Created, no task sessions yet.
    Starting,
    /// Tasks pending or in progress.
    Working,
    /// A stop was asked for; tasks are ending.
    Stopping,
    /// Final.
    Stopped,
}

impl SessionState {
    /// The wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            SessionState::Starting => "Starting",
            SessionState::Working => "Working",
            SessionState::Stopping => "Stopping",
            SessionState::Stopped => "Stopped",
        }
    }
}

/// A job session's `Result`: `None` until it is stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionResult {
    /// Still running.
    None,
    /// Ended with this outcome.
    Ended(JobOutcome),
}

impl SessionResult {
    /// The wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            SessionResult::None => "None",
            SessionResult::Ended(outcome) => outcome.as_str(),
        }
    }
}

/// One VM of a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobTaskSession {
    /// Identifier (derived from the session and the VM's position).
    pub id: Uuid,
    /// `VmDisplayName`.
    pub vm_name: String,
    /// `VmUid`: the include's `HierarchyObjRef`.
    pub vm_ref: String,
    /// `Name`: `<VM>@<creation time>`.
    pub name: String,
    /// When its restore (or replica) point is taken.
    pub point_time: Timestamp,
    /// The VM restore (or replica) point it writes (the task's `Related` link).
    pub vm_point_id: Uuid,
    /// The backup's restore point it writes (the session's `Related` link).
    pub restore_point_id: Uuid,
    /// Its course.
    pub course: PlannedTask,
}

impl JobTaskSession {
    /// Whether the task wrote a point: it completed with success or a warning.
    pub fn has_point(&self, t: Timestamp) -> bool {
        self.course.phase(t) == TaskPhase::Completed && self.course.outcome != JobOutcome::Failed
    }
}

/// One run of a job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobSession {
    /// Identifier.
    pub id: Uuid,
    /// The job.
    pub job_id: JobId,
    /// The job's backup server.
    pub backup_server_id: BackupServerId,
    /// `JobName` when the session was created.
    pub job_name: String,
    /// `JobType`.
    pub job_type: JobType,
    /// `Name`: `<job>@<creation time>`.
    pub name: String,
    /// What created it.
    pub trigger: Trigger,
    /// `CreationTimeUTC`.
    pub created: Timestamp,
    /// When the task sessions appear.
    pub tasks_at: Timestamp,
    /// `EndTimeUTC`.
    pub end: Timestamp,
    /// When a stop was asked for, and the progress shown from then on.
    pub stop: Option<(Timestamp, u8)>,
    /// An explicit world session of an immediate copy job written with
    /// `JobType` `ImmediateBackupCopyWorker` (jobs-domain.md §8.4).
    pub worker: bool,
    /// `Progress` once stopped, when the world fixes it (else 100).
    pub final_progress: Option<u8>,
    /// The VMs, in processing order.
    pub tasks: Vec<JobTaskSession>,
}

/// A UUID v5 derived from another and a label.
fn derive(base: Uuid, label: &str) -> Uuid {
    Uuid::new_v5(&base, label.as_bytes())
}

/// `JobType` of the explicit sessions of immediate copy jobs that the EM 12
/// capture shows.
pub const WORKER_JOB_TYPE: &str = "ImmediateBackupCopyWorker";

/// One VM of an explicit past run.
#[derive(Debug, Clone)]
pub struct ExplicitVm<'a> {
    /// Its position among the VMs the job processes.
    pub position: usize,
    /// The VM.
    pub vm: &'a JobVm,
    /// The task's result.
    pub outcome: JobOutcome,
    /// The task's `Reason`.
    pub reason: String,
    /// Processing start.
    pub start: Timestamp,
    /// `EndTimeUTC`.
    pub end: Timestamp,
}

/// An explicit past run (jobs-domain.md §8.4).
#[derive(Debug, Clone)]
pub struct ExplicitRun<'a> {
    /// The session's id.
    pub id: Uuid,
    /// The job.
    pub job: &'a Job,
    /// `CreationTimeUTC`.
    pub created: Timestamp,
    /// `IsRetry`.
    pub retry: bool,
    /// Written with `JobType` `ImmediateBackupCopyWorker`.
    pub worker: bool,
    /// `Progress` when finished (default 100).
    pub progress: Option<u8>,
    /// The task sessions, in order.
    pub vms: Vec<ExplicitVm<'a>>,
    /// Time precision and names.
    pub generation: Generation,
}

/// How a run is created: which job, which VMs at which attempt, when.
#[derive(Debug, Clone, Copy)]
pub struct RunRequest<'a> {
    /// The session's id.
    pub id: Uuid,
    /// The job.
    pub job: &'a Job,
    /// The VMs to process: position among the job's VMs, VM, attempt (from 0).
    pub vms: &'a [(usize, &'a JobVm, usize)],
    /// `CreationTimeUTC` (quantized to the generation).
    pub created: Timestamp,
    /// `--time-scale`.
    pub scale: f64,
    /// What creates it.
    pub trigger: Trigger,
    /// The generation (time precision and names).
    pub generation: Generation,
}

impl JobSession {
    /// A new run: the course of jobs-domain.md §2, fixed now.
    pub fn create(request: RunRequest<'_>) -> JobSession {
        let g = request.generation;
        let created = g.quantize_down(request.created);
        let mut course = plan_run(request.job, request.vms, created, request.scale);
        let tasks = course
            .tasks
            .drain(..)
            .zip(request.vms)
            .map(|(mut task, (position, vm, _))| {
                task.created = g.quantize(task.created);
                task.start = g.quantize(task.start);
                task.end = g.quantize(task.end);
                let point_time = g.quantize(point_time_of(task.start, task.end));
                let id = derive(request.id, &format!("task\u{0}{position}"));
                JobTaskSession {
                    id,
                    vm_point_id: derive(id, "vm-point"),
                    restore_point_id: derive(id, "restore-point"),
                    vm_name: vm.name.clone(),
                    vm_ref: vm.hierarchy_ref.clone(),
                    name: format!("{}@{}", vm.name, g.name_time(task.created)),
                    point_time,
                    course: task,
                }
            })
            .collect();
        JobSession {
            id: request.id,
            job_id: request.job.id,
            backup_server_id: request.job.backup_server_id,
            job_name: request.job.name.clone(),
            job_type: request.job.job_type,
            name: format!("{}@{}", request.job.name, g.name_time(created)),
            trigger: request.trigger,
            created,
            tasks_at: g.quantize(course.tasks_at),
            end: g.quantize(course.end),
            stop: None,
            worker: false,
            final_progress: None,
            tasks,
        }
    }

    /// `JobType` as written: the job's type, or `ImmediateBackupCopyWorker`.
    pub fn job_type_name(&self) -> &'static str {
        if self.worker {
            WORKER_JOB_TYPE
        } else {
            self.job_type.as_str()
        }
    }

    /// A past run the world gives explicitly (jobs-domain.md §8.4): tasks
    /// created after the job's start-up, 3 ms apart, each processed from its
    /// `start` to its `end` with its result; the run ends the finalize time after
    /// the last task.
    pub fn explicit(run: ExplicitRun<'_>) -> JobSession {
        let g = run.generation;
        let created = g.quantize(run.created);
        let job = run.job;
        let tasks_at =
            g.quantize(created.plus_millis(i64::try_from(job.timing.startup_ms).unwrap_or(0)));
        let copy = job.job_type.is_copy();
        let tasks: Vec<JobTaskSession> = run
            .vms
            .iter()
            .enumerate()
            .map(|(i, vm)| {
                let task_created =
                    g.quantize(tasks_at.plus_millis(3 * i64::try_from(i).unwrap_or(0)));
                let start = g.quantize(vm.start);
                let end = g.quantize(vm.end);
                let id = derive(run.id, &format!("task\u{0}{}", vm.position));
                JobTaskSession {
                    id,
                    vm_name: vm.vm.name.clone(),
                    vm_ref: vm.vm.hierarchy_ref.clone(),
                    name: format!("{}@{}", vm.vm.name, g.name_time(task_created)),
                    point_time: g.quantize(point_time_of(start, end)),
                    vm_point_id: derive(id, "vm-point"),
                    restore_point_id: derive(id, "restore-point"),
                    course: PlannedTask {
                        vm: vm.position,
                        created: task_created,
                        start,
                        end,
                        outcome: vm.outcome,
                        reason: vm.reason.clone(),
                        size_bytes: if copy { 0 } else { vm.vm.size_bytes },
                    },
                }
            })
            .collect();
        let last = tasks.iter().map(|t| t.course.end).max().unwrap_or(tasks_at);
        JobSession {
            id: run.id,
            job_id: job.id,
            backup_server_id: job.backup_server_id,
            job_name: job.name.clone(),
            job_type: job.job_type,
            name: format!("{}@{}", job.name, g.name_time(created)),
            trigger: if run.retry {
                Trigger::ManualRetry
            } else {
                Trigger::Manual
            },
            created,
            tasks_at,
            end: g.quantize(last.plus_millis(i64::try_from(job.timing.finalize_ms).unwrap_or(0))),
            stop: None,
            worker: run.worker,
            final_progress: run.progress,
            tasks,
        }
    }

    /// Which collection it belongs to.
    pub fn kind(&self) -> SessionKind {
        SessionKind::of(self.job_type)
    }

    /// The session's UID.
    pub fn uid(&self) -> String {
        format!("urn:veeam:{}:{}", self.kind().session_urn(), self.id)
    }

    /// `IsRetry`.
    pub fn is_retry(&self) -> bool {
        self.trigger.is_retry()
    }

    /// `State` at `t`.
    pub fn state(&self, t: Timestamp) -> SessionState {
        if t >= self.end {
            SessionState::Stopped
        } else if self.stop.is_some_and(|(at, _)| t >= at) {
            SessionState::Stopping
        } else if t >= self.tasks_at {
            SessionState::Working
        } else {
            SessionState::Starting
        }
    }

    /// `EndTimeUTC` at `t`: written once the session is `Stopped`.
    pub fn end_at(&self, t: Timestamp) -> Option<Timestamp> {
        self.is_over(t).then_some(self.end)
    }

    /// Whether the session is over at `t` (`Stopped`).
    pub fn is_over(&self, t: Timestamp) -> bool {
        t >= self.end
    }

    /// `Progress` at `t` (§3.1): 0 starting, the integer mean of the tasks'
    /// while working, unchanged while stopping, 100 when stopped.
    pub fn progress(&self, t: Timestamp) -> u8 {
        match self.state(t) {
            SessionState::Starting => 0,
            SessionState::Stopped => self.final_progress.unwrap_or(100),
            SessionState::Stopping => self.stop.map_or(0, |(_, p)| p),
            SessionState::Working => self.mean_progress(t),
        }
    }

    fn mean_progress(&self, t: Timestamp) -> u8 {
        if self.tasks.is_empty() || t < self.tasks_at {
            return 0;
        }
        let sum: usize = self
            .tasks
            .iter()
            .map(|task| usize::from(task.course.progress(t)))
            .sum();
        u8::try_from(sum / self.tasks.len()).unwrap_or(100)
    }

    /// `Result` at `t`: `None` until stopped, then the worst task result; a run
    /// stopped by the user is `Failed`.
    pub fn result(&self, t: Timestamp) -> SessionResult {
        if !self.is_over(t) {
            return SessionResult::None;
        }
        if self.stop.is_some() {
            return SessionResult::Ended(JobOutcome::Failed);
        }
        let worst = self
            .tasks
            .iter()
            .map(|task| task.course.outcome)
            .max_by_key(|o| severity(*o))
            .unwrap_or(JobOutcome::Success);
        SessionResult::Ended(worst)
    }

    /// The task sessions that exist at `t`, in VM order.
    pub fn tasks_at(&self, t: Timestamp) -> impl Iterator<Item = &JobTaskSession> {
        self.tasks
            .iter()
            .filter(move |task| task.course.created <= t)
    }

    /// The tasks whose points exist at `t` (the session's `Related` links);
    /// copy runs write none.
    pub fn points_at(&self, t: Timestamp) -> impl Iterator<Item = &JobTaskSession> {
        let writes = self.writes_points();
        self.tasks
            .iter()
            .filter(move |task| writes && task.has_point(t))
    }

    /// Whether the run's tasks write points: not a copy job's (jobs-domain.md §2).
    pub fn writes_points(&self) -> bool {
        !self.job_type.is_copy()
    }

    /// The VMs (by position) whose task failed, for a retry of this run.
    pub fn failed_positions(&self) -> Vec<usize> {
        self.tasks
            .iter()
            .filter(|task| task.course.outcome == JobOutcome::Failed)
            .map(|task| task.course.vm)
            .collect()
    }

    /// Stops the run at `at` (jobs-domain.md §5): pending tasks end at once,
    /// tasks in progress within `stop_ms` (a task that would end sooner ends as
    /// planned), all failed with the stop reason; a run still starting ends
    /// without tasks. `false` when the run is over or already stopping.
    pub fn stop(&mut self, at: Timestamp, stop_ms: i64) -> bool {
        if self.is_over(at) || self.stop.is_some() {
            return false;
        }
        self.stop = Some((at, self.mean_progress(at)));
        if at < self.tasks_at {
            self.tasks.clear();
            self.end = at;
            return true;
        }
        let until = at.plus_millis(stop_ms.max(0));
        let mut end = at;
        for task in &mut self.tasks {
            let course = &mut task.course;
            match course.phase(at) {
                TaskPhase::Completed => {}
                TaskPhase::InProgress if course.end <= until => {}
                TaskPhase::InProgress => end_stopped(course, until),
                TaskPhase::Pending => {
                    let now = at.max(course.created);
                    course.start = now;
                    end_stopped(course, now);
                }
            }
            end = end.max(course.end);
        }
        self.end = end;
        true
    }
}

/// When the point of a task that processed from `start` to `end` is taken:
/// `min(49 s, duration / 2)` after its start (jobs-domain.md §2 step 3).
fn point_time_of(start: Timestamp, end: Timestamp) -> Timestamp {
    let taken = ((end.micros() - start.micros()) / 2).min(49 * SECOND);
    Timestamp::from_micros(start.micros() + taken)
}

/// How a manual step advances a run (controls.md, "step").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ManualStep {
    /// How many unfinished VMs end now; `None`: all of them.
    pub vms: Option<usize>,
    /// Tasks in progress at once.
    pub slots: usize,
    /// From the last task's end to the run's end (scaled).
    pub finalize_ms: i64,
    /// How long a VM that has not been stepped yet still takes.
    pub open_ms: i64,
}

impl JobSession {
    /// Ends the next unfinished VMs of a run at `now` with their planned
    /// outcomes (manual progression): a run still starting gets its tasks now,
    /// pending VMs take the slots that free, and when no VM is left the run ends
    /// after the finalize time. `false` when the run is over or stopping.
    pub fn step_manually(&mut self, now: Timestamp, step: ManualStep) -> bool {
        if self.is_over(now) || self.stop.is_some() {
            return false;
        }
        if now < self.tasks_at {
            let early = self.tasks_at.micros() - now.micros();
            self.tasks_at = now;
            for task in &mut self.tasks {
                let c = &mut task.course;
                c.created = Timestamp::from_micros(c.created.micros() - early);
                c.start = Timestamp::from_micros(c.start.micros() - early).max(c.created);
            }
        }
        let mut left = step.vms.unwrap_or(usize::MAX);
        for task in &mut self.tasks {
            if left == 0 {
                break;
            }
            let c = &mut task.course;
            if c.phase(now) == TaskPhase::Completed {
                continue;
            }
            c.start = c.start.min(now).max(c.created);
            c.end = now;
            task.point_time = point_time_of(c.start, c.end);
            left -= 1;
        }
        // The VMs that were waiting take the free slots from now.
        let busy = |tasks: &[JobTaskSession]| {
            tasks
                .iter()
                .filter(|t| t.course.phase(now) == TaskPhase::InProgress)
                .count()
        };
        let mut running = busy(&self.tasks);
        for task in &mut self.tasks {
            if running >= step.slots.max(1) {
                break;
            }
            let c = &mut task.course;
            if c.phase(now) == TaskPhase::Pending {
                c.start = now.max(c.created);
                c.end = c.start.plus_millis(step.open_ms);
                running += 1;
            }
        }
        let last = self.tasks.iter().map(|t| t.course.end).max().unwrap_or(now);
        self.end = last.max(now).plus_millis(step.finalize_ms.max(0));
        true
    }
}

fn end_stopped(course: &mut PlannedTask, at: Timestamp) {
    course.end = at;
    course.outcome = JobOutcome::Failed;
    course.reason = STOPPED_REASON.to_string();
}

/// Ordering of outcomes for the worst result.
fn severity(outcome: JobOutcome) -> u8 {
    match outcome {
        JobOutcome::Success => 0,
        JobOutcome::Warning => 1,
        JobOutcome::Failed => 2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::ObjectInJobId;
    use crate::job::*;
    use proptest::prelude::*;

    fn at(s: &str) -> Timestamp {
        Timestamp::parse(s).unwrap()
    }

    #[test]
    fn em12_times_are_datetime_ticks_and_em13_keeps_microseconds() {
        let g = Generation::Em12;
        assert_eq!(
            g.quantize(at("2026-06-22T22:00:03.1712Z")).to_string(),
            "2026-06-22T22:00:03.17Z"
        );
        assert_eq!(
            g.quantize(at("2026-06-22T22:00:03.5021Z")).to_string(),
            "2026-06-22T22:00:03.503Z"
        );
        assert_eq!(
            g.quantize(at("2026-06-22T22:00:03.0051Z")).to_string(),
            "2026-06-22T22:00:03.007Z"
        );
        assert_eq!(
            g.quantize(at("2026-06-22T22:00:03.9990Z")).to_string(),
            "2026-06-22T22:00:04Z"
        );
        let t = at("2026-06-16T06:33:10.659559Z");
        assert_eq!(Generation::Em13.quantize(t), t);
        // Rounded to the nearest tick, but a creation time never ahead of the clock.
        let t = at("2026-06-22T22:00:03.0026Z");
        assert_eq!(g.quantize(t).to_string(), "2026-06-22T22:00:03.003Z");
        assert_eq!(g.quantize_down(t).to_string(), "2026-06-22T22:00:03Z");
        let t = at("2026-06-22T22:00:03.0068Z");
        assert_eq!(g.quantize(t).to_string(), "2026-06-22T22:00:03.007Z");
        assert_eq!(g.quantize_down(t).to_string(), "2026-06-22T22:00:03.003Z");
    }

    proptest! {
        #[test]
        fn a_creation_time_is_a_tick_and_never_ahead(micros in 0i64..4_000_000_000_000_000) {
            let t = Timestamp::from_micros(micros);
            let q = Generation::Em12.quantize_down(t);
            prop_assert!(q <= t);
            prop_assert!(t.micros() - q.micros() < 3_334 + 1_000);
            prop_assert_eq!(Generation::Em12.quantize(q), q);
        }
    }

    #[test]
    fn names_follow_the_generation() {
        let t = at("2026-06-15T05:34:19.503Z");
        assert_eq!(Generation::Em12.name_time(t), "2026-06-15 05:34:19");
        assert_eq!(Generation::Em12.point_time(t), "Jun 15 2026  5:34AM");
        assert_eq!(
            Generation::Em12.point_time(at("2026-06-22T22:00:03.17Z")),
            "Jun 22 2026 10:00PM"
        );
        assert_eq!(
            Generation::Em12.point_time(at("2014-10-19T05:22:52Z")),
            "Oct 19 2014  5:23AM"
        );
        let t13 = at("2026-06-16T06:33:10.659559Z");
        assert_eq!(
            Generation::Em13.name_time(t13),
            "2026-06-16 06:33:10.659559"
        );
        assert_eq!(
            Generation::Em13.name_time(at("2026-06-16T06:33:10.3991200Z")),
            "2026-06-16 06:33:10.39912"
        );
        assert_eq!(
            Generation::Em13.name_time(at("2026-06-16T06:33:10Z")),
            "2026-06-16 06:33:10"
        );
        assert_eq!(
            Generation::Em12.point_time(at("2026-06-16T12:29:30Z")),
            "Jun 16 2026 12:30PM"
        );
        assert_eq!(
            Generation::Em12.point_time(at("2026-06-16T00:05:00Z")),
            "Jun 16 2026 12:05AM"
        );
    }

    fn vm(name: &str, outcomes: Vec<JobOutcome>) -> JobVm {
        JobVm {
            id: ObjectInJobId::new_random(),
            name: name.into(),
            hierarchy_ref: format!("urn:VMware:Vm:x.{name}"),
            size_bytes: 60 << 30,
            duration_ms: 300_000,
            fail_ms: 55_000,
            outcomes,
            reasons: Vec::new(),
        }
    }

    fn job(vms: Vec<JobVm>) -> Job {
        Job {
            id: JobId::new_random(),
            backup_server_id: BackupServerId::new_random(),
            name: "Fileserver Backup".into(),
            job_type: JobType::Backup,
            platform: Some(Platform::VMware),
            description: String::new(),
            created: chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
            schedule_enabled: true,
            schedule: None,
            retry: RetryOptions {
                times: 3,
                timeout_minutes: 10,
            },
            timing: RunTiming {
                startup_ms: 45_000,
                finalize_ms: 4_000,
                stop_ms: 5_000,
                max_concurrent_tasks: 4,
            },
            backup: BackupOptions {
                retain_points: 7,
                full_backup_days: vec![Weekday::Monday],
                compression_percent: 50,
                change_rate_percent: 5,
            },
            vms,
            source_jobs: Vec::new(),
        }
    }

    fn run(job: &Job, created: Timestamp) -> JobSession {
        let vms: Vec<_> = job.vms.iter().enumerate().map(|(i, v)| (i, v, 0)).collect();
        JobSession::create(RunRequest {
            id: Uuid::new_v4(),
            job,
            vms: &vms,
            created,
            scale: 1.0,
            trigger: Trigger::Schedule,
            generation: Generation::Em12,
        })
    }

    #[test]
    fn a_run_starts_works_and_ends_with_the_worst_result() {
        use JobOutcome::*;
        let j = job(vec![
            vm("a", vec![Success]),
            vm("b", vec![Failed]),
            vm("c", vec![Warning]),
        ]);
        let t0 = at("2026-06-22T22:00:03.17Z");
        let s = run(&j, t0);
        assert_eq!(s.name, "Fileserver Backup@2026-06-22 22:00:03");
        assert_eq!(s.state(t0), SessionState::Starting);
        assert_eq!(s.tasks_at(t0).count(), 0);
        assert_eq!(s.result(t0), SessionResult::None);
        let working = t0.plus_millis(60_000);
        assert_eq!(s.state(working), SessionState::Working);
        assert_eq!(s.tasks_at(working).count(), 3);
        assert!(s.progress(working) > 0);
        assert_eq!(s.state(s.end), SessionState::Stopped);
        assert_eq!(s.progress(s.end), 100);
        assert_eq!(s.result(s.end), SessionResult::Ended(Failed));
        assert_eq!(s.points_at(s.end).count(), 2);
        assert_eq!(s.failed_positions(), vec![1]);
        assert!(s
            .tasks
            .iter()
            .all(|t| t.course.created.micros() % 1000 == 0));
    }

    #[test]
    fn a_stop_ends_pending_tasks_at_once_and_running_ones_within_the_stop_time() {
        let mut j = job((0..6)
            .map(|i| vm(&format!("vm{i}"), vec![JobOutcome::Success]))
            .collect());
        j.timing.max_concurrent_tasks = 2;
        let t0 = at("2026-06-22T22:00:00Z");
        let mut s = run(&j, t0);
        let at_stop = t0.plus_millis(45_000 + 150_000);
        let shown = s.progress(at_stop);
        assert!(s.stop(at_stop, 5_000));
        assert!(!s.stop(at_stop, 5_000), "a second stop is refused");
        assert_eq!(s.state(at_stop), SessionState::Stopping);
        assert_eq!(s.progress(at_stop.plus_millis(1_000)), shown);
        assert_eq!(s.end, at_stop.plus_millis(5_000));
        assert_eq!(s.result(s.end), SessionResult::Ended(JobOutcome::Failed));
        assert!(s
            .tasks
            .iter()
            .all(|t| t.course.outcome == JobOutcome::Failed && t.course.reason == STOPPED_REASON));
        assert_eq!(s.points_at(s.end).count(), 0);
    }

    #[test]
    fn stopping_a_starting_run_ends_it_without_tasks() {
        let j = job(vec![vm("a", vec![JobOutcome::Success])]);
        let t0 = at("2026-06-22T22:00:00Z");
        let mut s = run(&j, t0);
        assert!(s.stop(t0.plus_millis(10_000), 5_000));
        assert!(s.tasks.is_empty());
        assert_eq!(s.state(t0.plus_millis(10_000)), SessionState::Stopped);
        assert_eq!(s.result(s.end), SessionResult::Ended(JobOutcome::Failed));
    }

    #[test]
    fn manual_steps_end_vms_in_order_and_the_last_one_ends_the_run() {
        let mut j = job((0..3)
            .map(|i| vm(&format!("vm{i}"), vec![JobOutcome::Success]))
            .collect());
        j.timing.max_concurrent_tasks = 1;
        for v in &mut j.vms {
            v.duration_ms = 100 * 365 * 86_400_000;
        }
        let t0 = at("2026-06-22T22:00:00Z");
        let mut s = run(&j, t0);
        let step = |vms| ManualStep {
            vms,
            slots: 1,
            finalize_ms: 4_000,
            open_ms: 100 * 365 * 86_400_000,
        };
        // Still starting: the tasks appear now, the first VM ends.
        let t1 = t0.plus_millis(10_000);
        assert!(s.step_manually(t1, step(Some(1))));
        assert_eq!(s.tasks_at, t1);
        let later = t1.plus_millis(1_000);
        assert_eq!(s.tasks[0].course.phase(later), TaskPhase::Completed);
        assert_eq!(s.tasks[1].course.phase(later), TaskPhase::InProgress);
        assert_eq!(s.tasks[2].course.phase(later), TaskPhase::Pending);
        assert_eq!(s.state(later), SessionState::Working);
        let t2 = t1.plus_millis(60_000);
        assert!(s.step_manually(t2, step(None)));
        assert!(s
            .tasks
            .iter()
            .all(|t| t.course.phase(t2) == TaskPhase::Completed));
        assert_eq!(s.end, t2.plus_millis(4_000));
        assert!(
            !s.step_manually(s.end, step(None)),
            "a finished run does not step"
        );
        assert_eq!(s.result(s.end), SessionResult::Ended(JobOutcome::Success));
    }

    proptest! {
        #[test]
        fn progress_never_decreases_even_through_a_stop(
            outcomes in proptest::collection::vec(0u8..3, 1..8),
            stop_after in proptest::option::of(0i64..2_000_000),
        ) {
            let vms = outcomes.iter().enumerate().map(|(i, o)| vm(&format!("v{i}"), vec![match o {
                0 => JobOutcome::Success, 1 => JobOutcome::Warning, _ => JobOutcome::Failed,
            }])).collect();
            let j = job(vms);
            let t0 = at("2026-06-22T22:00:00Z");
            let planned = run(&j, t0);
            let mut s = planned.clone();
            let stop_at = stop_after.map(|ms| t0.plus_millis(ms));
            if let Some(at) = stop_at {
                s.stop(at, 5_000);
            }
            // Before the stop the planned course is what was shown.
            let mut last = 0;
            let mut t = t0;
            while t <= s.end.plus_millis(2_000) {
                let shown = if stop_at.is_some_and(|at| t < at) { &planned } else { &s };
                let p = shown.progress(t);
                prop_assert!(p >= last, "progress {} after {} at {}", p, last, t);
                last = p;
                for task in s.tasks_at(t) {
                    prop_assert!(task.course.start >= task.course.created);
                    prop_assert!(task.course.end >= task.course.start);
                }
                t = t.plus_millis(7_000);
            }
            prop_assert_eq!(s.progress(s.end), 100);
            prop_assert!(matches!(s.result(s.end), SessionResult::Ended(_)));
        }
    }
}
