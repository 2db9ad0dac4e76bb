//! The course of one run of a job (jobs-domain.md §2): fixed when the run is
//! created, so that every later state is derived from it and the clock, as for
//! failover sessions. Not yet driven by the engine (slice 2 continues).

use crate::job::{Job, JobOutcome, JobVm};
use crate::Timestamp;

/// Milliseconds between the creation of two tasks of one run (jobs-domain.md §2 step 2).
const TASK_CREATION_STEP_MS: i64 = 3;

/// One VM of a run, as fixed at the run's creation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedTask {
    /// The VM's position among the job's VMs (or the copied VMs).
    pub vm: usize,
    /// `CreationTimeUTC` of the task session.
    pub created: Timestamp,
    /// When it becomes `InProgress` (a processing slot freed).
    pub start: Timestamp,
    /// When it is `Completed`.
    pub end: Timestamp,
    /// Its result.
    pub outcome: JobOutcome,
    /// Its `Reason` (empty for a success).
    pub reason: String,
    /// `TotalSize` from its start (0 for copy jobs).
    pub size_bytes: u64,
}

/// A run's course: the tasks and when the session ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunCourse {
    /// `CreationTimeUTC` of the session.
    pub created: Timestamp,
    /// When the task sessions are created and the session is `Working`.
    pub tasks_at: Timestamp,
    /// The tasks, in VM order.
    pub tasks: Vec<PlannedTask>,
    /// `EndTimeUTC` of the session.
    pub end: Timestamp,
}

/// A task session's state at a moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TaskPhase {
    /// Waiting for a processing slot.
    Pending,
    /// Being processed.
    InProgress,
    /// Ended.
    Completed,
}

impl TaskPhase {
    /// The wire value of `State`.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskPhase::Pending => "Pending",
            TaskPhase::InProgress => "InProgress",
            TaskPhase::Completed => "Completed",
        }
    }
}

/// Milliseconds of a duration multiplied by the time scale.
fn scaled(ms: u64, scale: f64) -> i64 {
    #[allow(clippy::cast_possible_truncation, clippy::cast_precision_loss)]
    let ms = (ms as f64 * scale).round() as i64;
    ms.max(0)
}

/// The course of a run of `job` created at `created` over `vms` (each VM with the
/// attempt it is on, from 0), durations multiplied by `scale`: tasks created
/// together after the start-up, processed in VM order with at most
/// `max_concurrent_tasks` at once, the session ending `finalize` after the last.
pub fn plan_run(
    job: &Job,
    vms: &[(usize, &JobVm, usize)],
    created: Timestamp,
    scale: f64,
) -> RunCourse {
    let timing = job.timing;
    let tasks_at = created.plus_millis(scaled(timing.startup_ms, scale));
    let slots = usize::try_from(timing.max_concurrent_tasks.max(1)).unwrap_or(1);
    let mut free: Vec<Timestamp> = vec![tasks_at; slots];
    let mut tasks = Vec::with_capacity(vms.len());
    for (i, (position, vm, attempt)) in vms.iter().enumerate() {
        let task_created =
            tasks_at.plus_millis(TASK_CREATION_STEP_MS * i64::try_from(i).unwrap_or(i64::MAX / 8));
        // The slot that frees first (the earliest of equal ones).
        let slot = (0..slots).min_by_key(|s| free[*s]).unwrap_or(0);
        let start = free[slot].max(task_created);
        let outcome = vm.outcome(*attempt);
        let ms = match outcome {
            JobOutcome::Failed => vm.fail_ms,
            _ => vm.duration_ms,
        };
        let end = start.plus_millis(scaled(ms, scale));
        free[slot] = end;
        tasks.push(PlannedTask {
            vm: *position,
            created: task_created,
            start,
            end,
            outcome,
            reason: vm.reason(*attempt),
            size_bytes: if job.job_type.is_copy() {
                0
            } else {
                vm.size_bytes
            },
        });
    }
    let last = tasks.iter().map(|t| t.end).max().unwrap_or(tasks_at);
    RunCourse {
        created,
        tasks_at,
        end: last.plus_millis(scaled(timing.finalize_ms, scale)),
        tasks,
    }
}

impl PlannedTask {
    /// The task's state at `t` (it exists from `created`).
    pub fn phase(&self, t: Timestamp) -> TaskPhase {
        if t >= self.end {
            TaskPhase::Completed
        } else if t >= self.start {
            TaskPhase::InProgress
        } else {
            TaskPhase::Pending
        }
    }

    /// `EndTimeUTC` at `t`: written once the task is completed.
    pub fn end_at(&self, t: Timestamp) -> Option<Timestamp> {
        (self.phase(t) == TaskPhase::Completed).then_some(self.end)
    }

    /// `Reason` at `t`: the planned one once completed, empty before.
    pub fn reason_at(&self, t: Timestamp) -> &str {
        match self.phase(t) {
            TaskPhase::Completed => &self.reason,
            _ => "",
        }
    }

    /// Progress 0–100 at `t`, linear over the processing time.
    pub fn progress(&self, t: Timestamp) -> u8 {
        match self.phase(t) {
            TaskPhase::Pending => 0,
            TaskPhase::Completed => 100,
            TaskPhase::InProgress => {
                let done = t.micros() - self.start.micros();
                let all = (self.end.micros() - self.start.micros()).max(1);
                u8::try_from((done * 100 / all).clamp(0, 99)).unwrap_or(99)
            }
        }
    }

    /// `Result` at `t`: `Success` until the task ends otherwise.
    pub fn result(&self, t: Timestamp) -> JobOutcome {
        match self.phase(t) {
            TaskPhase::Completed => self.outcome,
            _ => JobOutcome::Success,
        }
    }

    /// `TotalSize` at `t` (jobs-domain.md §2): 0 while pending and after a failure.
    pub fn total_size(&self, t: Timestamp) -> u64 {
        match (self.phase(t), self.outcome) {
            (TaskPhase::Pending, _) | (TaskPhase::Completed, JobOutcome::Failed) => 0,
            _ => self.size_bytes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{BackupServerId, JobId, ObjectInJobId};
    use crate::job::*;
    use proptest::prelude::*;

    fn at(s: &str) -> Timestamp {
        Timestamp::parse(s).unwrap()
    }

    fn vm(name: &str, seconds: u64, outcomes: Vec<JobOutcome>) -> JobVm {
        JobVm {
            id: ObjectInJobId::new_random(),
            name: name.into(),
            hierarchy_ref: String::new(),
            size_bytes: 60 << 30,
            duration_ms: seconds * 1000,
            fail_ms: 55_000,
            outcomes,
            reasons: Vec::new(),
        }
    }

    fn job(slots: u32, vms: Vec<JobVm>) -> Job {
        Job {
            id: JobId::new_random(),
            backup_server_id: BackupServerId::new_random(),
            name: "Fileserver Backup".into(),
            job_type: JobType::Backup,
            platform: Some(Platform::VMware),
            description: String::new(),
            created: NaiveDate::from_ymd_opt(2026, 1, 12).unwrap(),
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
                max_concurrent_tasks: slots,
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

    fn all(job: &Job, attempt: usize) -> Vec<(usize, &JobVm, usize)> {
        job.vms
            .iter()
            .enumerate()
            .map(|(i, v)| (i, v, attempt))
            .collect()
    }

    /// jobs-domain.md §8.9: one slot, so srv05 waits for srv04.
    #[test]
    fn the_example_run_of_jobs_domain_8_9() {
        let j = job(
            1,
            vec![
                vm("srv04", 1814, vec![JobOutcome::Success]),
                vm("srv05", 2420, vec![JobOutcome::Warning]),
            ],
        );
        let c = plan_run(&j, &all(&j, 0), at("2026-06-20T22:00:03.17Z"), 1.0);
        assert_eq!(c.tasks_at, at("2026-06-20T22:00:48.17Z"));
        assert_eq!(c.tasks[0].start, at("2026-06-20T22:00:48.17Z"));
        assert_eq!(c.tasks[0].end, at("2026-06-20T22:31:02.17Z"));
        assert_eq!(c.tasks[1].created, at("2026-06-20T22:00:48.173Z"));
        assert_eq!(c.tasks[1].start, at("2026-06-20T22:31:02.17Z"));
        assert_eq!(c.end, c.tasks[1].end.plus_millis(4_000));
        assert_eq!(c.tasks[1].outcome, JobOutcome::Warning);
        let t = at("2026-06-20T22:10:00Z");
        assert_eq!(c.tasks[1].phase(t), TaskPhase::Pending);
        assert_eq!(c.tasks[1].total_size(t), 0);
        assert_eq!(c.tasks[0].total_size(t), 60 << 30);
        assert_eq!(c.tasks[1].result(t), JobOutcome::Success);
    }

    #[test]
    fn slots_run_tasks_in_parallel_and_a_failure_takes_fail_seconds_and_drops_its_size() {
        let j = job(
            2,
            vec![
                vm("a", 300, vec![JobOutcome::Success]),
                vm("b", 300, vec![JobOutcome::Failed, JobOutcome::Success]),
                vm("c", 100, vec![JobOutcome::Success]),
            ],
        );
        let c = plan_run(&j, &all(&j, 0), at("2026-06-20T22:00:00Z"), 1.0);
        // b fails after 55 s and frees its slot for c.
        assert_eq!(c.tasks[1].end, c.tasks[1].start.plus_millis(55_000));
        assert_eq!(c.tasks[2].start, c.tasks[1].end);
        assert_eq!(c.tasks[1].total_size(c.end), 0);
        assert_eq!(c.tasks[1].outcome, JobOutcome::Failed);
        // Its retry (attempt 1) succeeds.
        let retry = plan_run(&j, &[(1, &j.vms[1], 1)], c.end, 1.0);
        assert_eq!(retry.tasks[0].vm, 1);
        assert_eq!(retry.tasks[0].outcome, JobOutcome::Success);
        // A time scale shortens every duration.
        let fast = plan_run(&j, &all(&j, 0), at("2026-06-20T22:00:00Z"), 0.1);
        assert_eq!(fast.tasks_at, at("2026-06-20T22:00:04.5Z"));
    }

    proptest! {
        /// Task progress never decreases, task phases only move forward, at most
        /// `max_concurrent_tasks` tasks are in progress at once, and the session
        /// ends after every task.
        #[test]
        fn runs_move_forward_within_their_slots(
            slots in 1u32..5,
            vms in proptest::collection::vec((1u64..600, 0usize..3), 1..8),
            steps in proptest::collection::vec(0i64..120_000, 1..60),
        ) {
            let outcomes = [JobOutcome::Success, JobOutcome::Warning, JobOutcome::Failed];
            let j = job(slots, vms.iter().enumerate().map(|(i, (s, o))| vm(&format!("vm{i}"), *s, vec![outcomes[*o]])).collect());
            let c = plan_run(&j, &all(&j, 0), at("2026-06-20T22:00:00Z"), 1.0);
            prop_assert!(c.tasks.iter().all(|t| t.end <= c.end && t.start >= t.created));
            let mut t = c.created;
            let seen = |t| c.tasks.iter().map(|task| (task.phase(t), task.progress(t))).collect::<Vec<_>>();
            let mut before = seen(t);
            for step in steps {
                t = t.plus_millis(step * 30);
                let running = c.tasks.iter().filter(|task| task.phase(t) == TaskPhase::InProgress).count();
                prop_assert!(running <= slots as usize);
                let now = seen(t);
                prop_assert!(now.iter().zip(&before).all(|(n, b)| n >= b));
                before = now;
            }
        }
    }
}
