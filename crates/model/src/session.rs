//! Cloud failover sessions: one run of a plan (start or test), with one task per VM.

use crate::ids::{BackupServerId, PlanId, PointId, SessionId, TenantId};
use crate::plan::VmOutcome;
use crate::time::Timestamp;

crate::wire_enum! {
    /// State of a session or of one of its VM tasks. Declaration order is the
    /// documented order used when the query language compares states.
    pub enum SessionState ("session state") {
        Starting = "Starting",
        Stopping = "Stopping",
        Working = "Working",
        Stopped = "Stopped",
    }
}

crate::wire_enum! {
    /// Result of a session or of a VM task. Declaration order is severity order:
    /// `None` (still running) < `Success` < `Warning` < `Failed`.
    pub enum SessionResult ("session result") {
        None = "None",
        Success = "Success",
        Warning = "Warning",
        Failed = "Failed",
    }
}

crate::wire_enum! {
    /// What created the session.
    pub enum SessionKind ("session kind") {
        /// `?action=start`: the plan is failed over.
        Start = "Start",
        /// `?action=test`: a test failover without state changes.
        Test = "Test",
    }
}

/// A cloud failover session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailoverSession {
    /// Stable id of the session.
    pub id: SessionId,
    /// The plan that ran. The plan may have been deleted since.
    pub plan_id: PlanId,
    /// Plan name at the time of the run (the session `Name`).
    pub plan_name: String,
    /// Owner of the plan, for tenant scoping.
    pub tenant_id: TenantId,
    /// Backup server the session ran on.
    pub backup_server_id: BackupServerId,
    /// Whether this is a failover (start) or a test.
    pub kind: SessionKind,
    /// When the session started.
    pub creation_time: Timestamp,
    /// Set once the session is `Stopped`.
    pub end_time: Option<Timestamp>,
    /// Where the session is in its course.
    pub state: SessionState,
    /// The session's result; `None` while it runs.
    pub result: SessionResult,
    /// 0–100.
    pub progress: i32,
    /// Why the session warned or failed; `None` on success.
    pub failure_message: Option<String>,
    /// One task per plan VM, in plan order.
    pub tasks: Vec<SessionTask>,
}

/// The failover of one VM within a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionTask {
    /// Name of the VM this task fails over.
    pub vm_name: String,
    /// The replica point used; `None` when no suitable point existed.
    pub point: Option<PointRef>,
    /// When the VM's failover started.
    pub creation_time: Timestamp,
    /// Set once the task is `Stopped`.
    pub end_time: Option<Timestamp>,
    /// Where the task is in its course.
    pub state: SessionState,
    /// The task's result; `None` while it runs.
    pub result: SessionResult,
    /// 0–100.
    pub progress: i32,
    /// Why the task warned or failed; `None` on success.
    pub failure_message: Option<String>,
    /// How this VM's failover goes (from the world data, fixed when the session
    /// starts); `None` for history loaded from a world file.
    pub plan: Option<TaskPlan>,
}

/// The planned course of one VM task: duration (already time-scaled) and outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskPlan {
    /// Milliseconds of work, after time scaling.
    pub duration_ms: i64,
    /// Result the VM's failover ends with.
    pub outcome: VmOutcome,
    /// Message of a Warning or Failed outcome.
    pub message: Option<String>,
}

/// A replica point as a session task refers to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PointRef {
    /// Id of the point.
    pub id: PointId,
    /// Point display name `<vm>@<time>`.
    pub name: String,
}

/// What advancing a session changed ([`FailoverSession::advance`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Nothing: the session is as it was.
    Nothing,
    /// Only progress figures, which readers derive from the stored course
    /// ([`FailoverSession::show_progress_at`]): nothing to store.
    Progress,
    /// A state of the session or of a VM (with its result, times and message):
    /// what the store must hold.
    Transition,
}

impl SessionResult {
    /// The worse of two results (`Failed` > `Warning` > `Success` > `None`).
    pub fn worst(self, other: SessionResult) -> SessionResult {
        self.max(other)
    }
}

impl FailoverSession {
    /// The session result implied by its tasks: the worst task result, or
    /// `Success` for a session without tasks.
    pub fn aggregate_result(tasks: &[SessionTask]) -> SessionResult {
        tasks
            .iter()
            .fold(SessionResult::Success, |acc, t| acc.worst(t.result))
    }

    /// Session progress implied by its tasks: the integer mean of task progress.
    pub fn aggregate_progress(tasks: &[SessionTask]) -> i32 {
        if tasks.is_empty() {
            return 0;
        }
        let sum: i64 = tasks
            .iter()
            .map(|t| i64::from(t.progress.clamp(0, 100)))
            .sum();
        (sum / tasks.len() as i64) as i32
    }
}

/// Message of VM tasks that a stop request ended.
pub const STOPPED_BY_USER: &str = "Failover was stopped by user.";
/// Message of a session that a stop request ended.
pub const SESSION_STOPPED_BY_USER: &str = "Cloud failover session was stopped by user.";
/// Message of tasks that cannot be resumed after a restart (no stored plan).
pub const NOT_RESUMABLE: &str =
    "The failover was interrupted by a restart of the service and could not be resumed.";

impl From<VmOutcome> for SessionResult {
    fn from(o: VmOutcome) -> Self {
        match o {
            VmOutcome::Success => SessionResult::Success,
            VmOutcome::Warning => SessionResult::Warning,
            VmOutcome::Failed => SessionResult::Failed,
        }
    }
}

impl FailoverSession {
    /// Whether the session has reached its terminal state.
    pub fn is_finished(&self) -> bool {
        self.state == SessionState::Stopped
    }

    /// Work windows of the tasks: VMs fail over one after another in plan order,
    /// the first `lead_ms` after the session was created. `(start, end)` per task;
    /// `None` for tasks without a plan.
    pub fn windows(&self, lead_ms: i64) -> Vec<Option<(Timestamp, Timestamp)>> {
        let mut cursor = self.creation_time.plus_millis(lead_ms);
        self.tasks
            .iter()
            .map(|t| {
                let plan = t.plan.as_ref()?;
                let start = cursor;
                cursor = cursor.plus_millis(plan.duration_ms.max(0));
                Some((start, cursor))
            })
            .collect()
    }

    /// The lead the session started with: from its creation to its first task's
    /// (stored with the session, so a later change of time scale does not shift it).
    /// `None` for a session without tasks.
    pub fn stored_lead_ms(&self) -> Option<i64> {
        self.tasks
            .first()
            .map(|t| (t.creation_time.micros() - self.creation_time.micros()).max(0) / 1000)
    }

    /// Advances the session to `now`. The course of each task is a function of
    /// the session's creation time and the task plans, so advancing is safe to
    /// repeat and a restarted server continues where the time says it is. Progress
    /// never decreases and a `Stopped` session never changes again. Returns what
    /// changed.
    pub fn advance(&mut self, now: Timestamp, lead_ms: i64) -> Change {
        if self.is_finished() {
            return Change::Nothing;
        }
        if self.state == SessionState::Stopping {
            self.stop_now(now);
            return Change::Transition;
        }
        let (state_before, progress_before) = (self.state, self.progress);
        let (mut transition, mut progressed) = (false, false);
        let windows = self.windows(lead_ms);
        for (task, window) in self.tasks.iter_mut().zip(windows) {
            if task.state == SessionState::Stopped {
                continue;
            }
            let (was, was_at) = (task.state, task.progress);
            match (window, task.plan.clone()) {
                (Some((start, end)), Some(plan)) => advance_task(task, &plan, start, end, now),
                _ => finish_task(
                    task,
                    now,
                    SessionResult::Failed,
                    Some(NOT_RESUMABLE.to_string()),
                ),
            }
            transition |= task.state != was;
            progressed |= task.progress != was_at;
        }
        self.settle(now);
        if transition || self.state != state_before {
            Change::Transition
        } else if progressed || self.progress != progress_before {
            Change::Progress
        } else {
            Change::Nothing
        }
    }

    /// Shows the progress of a running session as of `now`, changing nothing else.
    ///
    /// The engine stores a running session only when a VM ends or the session's
    /// own state changes ([`task_change_is_stored`]): that a VM started, and the
    /// progress in between, follow from the stored course and the clock, and
    /// readers derive them here. A VM stored `Starting` whose window has begun is
    /// shown `Working`. A VM stays below 100 % until the engine stores it ended,
    /// so what a reader sees agrees with the stored results (and with queries on
    /// them), and progress never decreases.
    pub fn show_progress_at(&mut self, now: Timestamp) {
        if self.is_finished() {
            return;
        }
        let Some(lead) = self.stored_lead_ms() else {
            return;
        };
        let windows = self.windows(lead);
        for (task, window) in self.tasks.iter_mut().zip(windows) {
            let Some((start, end)) = window else {
                continue;
            };
            if task.state == SessionState::Starting && now >= start {
                task.state = SessionState::Working;
            }
            if task.state == SessionState::Working {
                task.progress = task.progress.max(window_progress(start, end, now));
            }
        }
        if self.state == SessionState::Starting
            && self.tasks.iter().any(|t| t.state != SessionState::Starting)
        {
            self.state = SessionState::Working;
        }
        self.progress = self
            .progress
            .max(Self::aggregate_progress(&self.tasks).min(99));
    }

    /// Ends every unfinished task as stopped by the user and the session with it.
    /// A session whose tasks had all finished ends as if no stop had been asked.
    fn stop_now(&mut self, now: Timestamp) {
        if self.tasks.iter().all(|t| t.state == SessionState::Stopped) {
            self.settle(now);
            return;
        }
        for task in self
            .tasks
            .iter_mut()
            .filter(|t| t.state != SessionState::Stopped)
        {
            finish_task(
                task,
                now,
                SessionResult::Failed,
                Some(STOPPED_BY_USER.to_string()),
            );
        }
        self.state = SessionState::Stopped;
        self.end_time = Some(now.max(self.creation_time));
        self.progress = 100;
        self.result = SessionResult::Failed;
        self.failure_message = Some(SESSION_STOPPED_BY_USER.to_string());
    }

    /// Derives the session's state, progress and result from its tasks.
    fn settle(&mut self, now: Timestamp) {
        let all_stopped = self.tasks.iter().all(|t| t.state == SessionState::Stopped);
        if all_stopped {
            self.state = SessionState::Stopped;
            let last = self.tasks.iter().filter_map(|t| t.end_time).max();
            self.end_time = Some(last.unwrap_or(now).max(self.creation_time));
            self.progress = 100;
            self.result = Self::aggregate_result(&self.tasks);
            if self.result == SessionResult::Failed && self.failure_message.is_none() {
                self.failure_message = self
                    .tasks
                    .iter()
                    .find(|t| t.result == SessionResult::Failed)
                    .and_then(|t| t.failure_message.clone());
            }
            return;
        }
        let started = self.tasks.iter().any(|t| t.state != SessionState::Starting);
        self.state = if started {
            SessionState::Working
        } else {
            SessionState::Starting
        };
        self.progress = self
            .progress
            .max(Self::aggregate_progress(&self.tasks).min(99));
    }
}

/// Whether a VM task's change of state from `before` to `after` in a step is
/// written to the store. A VM that starts working is not: readers derive it
/// from the stored course ([`FailoverSession::show_progress_at`]), so the
/// boundary between two VMs writes one task row, not two.
pub fn task_change_is_stored(before: SessionState, after: SessionState) -> bool {
    before != after && !(before == SessionState::Starting && after == SessionState::Working)
}

fn advance_task(
    task: &mut SessionTask,
    plan: &TaskPlan,
    start: Timestamp,
    end: Timestamp,
    now: Timestamp,
) {
    if now >= end {
        finish_task(task, end, plan.outcome.into(), plan.message.clone());
    } else if now >= start {
        task.state = SessionState::Working;
        task.progress = task.progress.max(window_progress(start, end, now));
    }
}

/// How far (0–99 %) a VM working from `start` to `end` is at `now`.
fn window_progress(start: Timestamp, end: Timestamp, now: Timestamp) -> i32 {
    let span = (end.micros() - start.micros()).max(1);
    let done = (now.micros() - start.micros()).clamp(0, span) * 100 / span;
    (done as i32).clamp(0, 99)
}

fn finish_task(
    task: &mut SessionTask,
    at: Timestamp,
    result: SessionResult,
    message: Option<String>,
) {
    task.state = SessionState::Stopped;
    task.end_time = Some(at.max(task.creation_time));
    task.progress = 100;
    task.result = result;
    task.failure_message = match result {
        SessionResult::Success => None,
        _ => message,
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(result: SessionResult, progress: i32) -> SessionTask {
        SessionTask {
            vm_name: "vm".into(),
            point: None,
            creation_time: Timestamp::from_micros(0),
            end_time: None,
            state: SessionState::Working,
            result,
            progress,
            failure_message: None,
            plan: None,
        }
    }

    #[test]
    fn session_result_is_the_worst_task_result() {
        use SessionResult::*;
        assert_eq!(FailoverSession::aggregate_result(&[]), Success);
        assert_eq!(
            FailoverSession::aggregate_result(&[task(Success, 0), task(Warning, 0)]),
            Warning
        );
        assert_eq!(
            FailoverSession::aggregate_result(&[
                task(Failed, 0),
                task(Warning, 0),
                task(Success, 0)
            ]),
            Failed
        );
    }

    #[test]
    fn session_progress_is_the_mean_of_task_progress() {
        use SessionResult::*;
        assert_eq!(
            FailoverSession::aggregate_progress(&[task(None, 100), task(None, 51)]),
            75
        );
        assert_eq!(FailoverSession::aggregate_progress(&[]), 0);
    }

    #[test]
    fn wire_names_parse_case_insensitively() {
        assert_eq!("stopped".parse::<SessionState>(), Ok(SessionState::Stopped));
        assert_eq!("NONE".parse::<SessionResult>(), Ok(SessionResult::None));
        assert!("Done".parse::<SessionState>().is_err());
    }
}

#[cfg(test)]
mod machine_tests {
    use super::*;
    use crate::ids::*;
    use proptest::prelude::*;

    fn session(plans: &[(i64, VmOutcome)]) -> FailoverSession {
        let t0 = Timestamp::from_micros(1_700_000_000_000_000);
        FailoverSession {
            id: SessionId::new_random(),
            plan_id: PlanId::new_random(),
            plan_name: "p".into(),
            tenant_id: TenantId::new_random(),
            backup_server_id: BackupServerId::new_random(),
            kind: SessionKind::Start,
            creation_time: t0,
            end_time: None,
            state: SessionState::Starting,
            result: SessionResult::None,
            progress: 0,
            failure_message: None,
            tasks: plans
                .iter()
                .enumerate()
                .map(|(i, (d, o))| SessionTask {
                    vm_name: format!("vm{i}"),
                    point: None,
                    creation_time: t0,
                    end_time: None,
                    state: SessionState::Starting,
                    result: SessionResult::None,
                    progress: 0,
                    failure_message: None,
                    plan: Some(TaskPlan {
                        duration_ms: *d,
                        outcome: *o,
                        message: (*o != VmOutcome::Success).then(|| "bad".to_string()),
                    }),
                })
                .collect(),
        }
    }

    #[test]
    fn vms_fail_over_one_after_another_and_the_session_ends_with_the_worst_result() {
        let mut s = session(&[(1000, VmOutcome::Success), (2000, VmOutcome::Warning)]);
        let t0 = s.creation_time;
        s.advance(t0.plus_millis(50), 100);
        assert_eq!(s.state, SessionState::Starting);
        s.advance(t0.plus_millis(600), 100);
        assert_eq!(
            (s.state, s.tasks[0].state, s.tasks[1].state),
            (
                SessionState::Working,
                SessionState::Working,
                SessionState::Starting
            )
        );
        assert_eq!(s.tasks[0].progress, 50);
        s.advance(t0.plus_millis(1600), 100);
        assert_eq!(
            (s.tasks[0].state, s.tasks[0].result),
            (SessionState::Stopped, SessionResult::Success)
        );
        assert_eq!(s.tasks[0].end_time, Some(t0.plus_millis(1100)));
        s.advance(t0.plus_millis(10_000), 100);
        assert_eq!(
            (s.state, s.result, s.progress),
            (SessionState::Stopped, SessionResult::Warning, 100)
        );
        assert_eq!(s.end_time, Some(t0.plus_millis(3100)));
        assert_eq!(s.failure_message, None);
    }

    #[test]
    fn a_stop_request_fails_the_unfinished_vms() {
        let mut s = session(&[(1000, VmOutcome::Success), (2000, VmOutcome::Success)]);
        let t0 = s.creation_time;
        s.advance(t0.plus_millis(1500), 100);
        s.state = SessionState::Stopping;
        assert_eq!(s.advance(t0.plus_millis(1600), 100), Change::Transition);
        assert_eq!(
            (s.state, s.result),
            (SessionState::Stopped, SessionResult::Failed)
        );
        assert_eq!(s.tasks[0].result, SessionResult::Success);
        assert_eq!(s.tasks[1].failure_message.as_deref(), Some(STOPPED_BY_USER));
    }

    #[test]
    fn tasks_without_a_plan_end_failed_instead_of_running_forever() {
        let mut s = session(&[(1000, VmOutcome::Success)]);
        s.tasks[0].plan = None;
        s.advance(s.creation_time, 0);
        assert_eq!(
            (s.state, s.result),
            (SessionState::Stopped, SessionResult::Failed)
        );
        assert_eq!(s.failure_message.as_deref(), Some(NOT_RESUMABLE));
    }

    fn outcome() -> impl Strategy<Value = VmOutcome> {
        prop_oneof![
            Just(VmOutcome::Success),
            Just(VmOutcome::Warning),
            Just(VmOutcome::Failed)
        ]
    }

    proptest! {
        #[test]
        fn progress_is_monotonic_terminal_states_are_final_and_the_result_is_the_worst(
            plans in proptest::collection::vec((0i64..5_000, outcome()), 0..6),
            mut steps in proptest::collection::vec(0i64..40_000, 1..30),
            stop_at in proptest::option::of(0usize..30),
        ) {
            steps.sort_unstable();
            let mut s = session(&plans);
            let t0 = s.creation_time;
            let mut last_progress = 0;
            let mut finished: Option<FailoverSession> = None;
            let mut task_progress = vec![0; plans.len()];
            for (i, ms) in steps.iter().enumerate() {
                if Some(i) == stop_at && !s.is_finished() {
                    s.state = SessionState::Stopping;
                }
                s.advance(t0.plus_millis(*ms), 200);
                prop_assert!(s.progress >= last_progress);
                prop_assert!((0..=100).contains(&s.progress));
                last_progress = s.progress;
                for (t, p) in s.tasks.iter().zip(task_progress.iter_mut()) {
                    prop_assert!(t.progress >= *p);
                    *p = t.progress;
                }
                if let Some(f) = &finished {
                    prop_assert_eq!(f, &s);
                }
                if s.is_finished() {
                    prop_assert_eq!(s.progress, 100);
                    prop_assert!(s.end_time.is_some());
                    prop_assert_eq!(s.result, FailoverSession::aggregate_result(&s.tasks));
                    finished = Some(s.clone());
                } else {
                    prop_assert_eq!(s.result, SessionResult::None);
                    prop_assert!(s.end_time.is_none());
                }
            }
            s.advance(t0.plus_millis(1_000_000), 200);
            prop_assert!(s.is_finished());
        }

        /// A store that receives a session only at its transitions (the tasks
        /// whose change [`task_change_is_stored`], the session's own columns only
        /// when its state, result, end time or message changed), read through
        /// `show_progress_at`, shows what the engine holds at every step.
        #[test]
        fn stored_transitions_with_derived_progress_show_what_the_engine_holds(
            plans in proptest::collection::vec((0i64..5_000, outcome()), 0..6),
            mut steps in proptest::collection::vec(0i64..40_000, 1..30),
            lead in 0i64..500,
        ) {
            steps.sort_unstable();
            let mut live = session(&plans);
            for t in &mut live.tasks {
                t.creation_time = live.creation_time.plus_millis(lead);
            }
            let t0 = live.creation_time;
            let mut stored = live.clone();
            let mut shown_before = 0;
            for ms in steps {
                let now = t0.plus_millis(ms);
                let row = |s: &FailoverSession| {
                    (s.state, s.result, s.end_time, s.failure_message.clone())
                };
                let before: Vec<SessionState> = live.tasks.iter().map(|t| t.state).collect();
                match live.advance(now, lead) {
                    Change::Transition => {
                        if row(&live) != row(&stored) {
                            let tasks = std::mem::take(&mut stored.tasks);
                            stored = live.clone();
                            stored.tasks = tasks;
                        }
                        for ((kept, task), was) in stored.tasks.iter_mut().zip(&live.tasks).zip(before) {
                            if task_change_is_stored(was, task.state) {
                                kept.clone_from(task);
                            }
                        }
                    }
                    Change::Progress => prop_assert_ne!(&stored, &live),
                    Change::Nothing => {}
                }
                let mut shown = stored.clone();
                shown.show_progress_at(now);
                prop_assert_eq!(&shown, &live);
                prop_assert!(shown.progress >= shown_before);
                shown_before = shown.progress;
            }
        }
    }

    #[test]
    fn a_vm_boundary_stores_the_ended_vm_only_and_readers_show_the_next_one_working() {
        let mut live = session(&[(1000, VmOutcome::Success), (1000, VmOutcome::Warning)]);
        let t0 = live.creation_time;
        assert_eq!(live.advance(t0.plus_millis(100), 0), Change::Transition);
        let mut stored = live.clone();
        // The first VM ends and the second starts in the same step.
        let before: Vec<SessionState> = live.tasks.iter().map(|t| t.state).collect();
        assert_eq!(live.advance(t0.plus_millis(1_500), 0), Change::Transition);
        let written: Vec<usize> = (0..2)
            .filter(|i| task_change_is_stored(before[*i], live.tasks[*i].state))
            .collect();
        assert_eq!(written, [0]);
        stored.tasks[0].clone_from(&live.tasks[0]);
        assert_eq!(stored.tasks[1].state, SessionState::Starting);
        let mut shown = stored.clone();
        shown.show_progress_at(t0.plus_millis(1_500));
        assert_eq!(shown, live);
        assert_eq!(shown.tasks[1].state, SessionState::Working);
        assert!(!task_change_is_stored(
            SessionState::Starting,
            SessionState::Working
        ));
        assert!(task_change_is_stored(
            SessionState::Working,
            SessionState::Stopped
        ));
        assert!(task_change_is_stored(
            SessionState::Starting,
            SessionState::Stopped
        ));
    }

    #[test]
    fn derived_progress_stays_below_100_until_the_vm_is_stored_ended() {
        let mut s = session(&[(1000, VmOutcome::Success)]);
        let t0 = s.creation_time;
        assert_eq!(s.advance(t0.plus_millis(100), 0), Change::Transition);
        let stored = s.clone();
        assert_eq!(s.advance(t0.plus_millis(500), 0), Change::Progress);
        let mut shown = stored.clone();
        shown.show_progress_at(t0.plus_millis(5_000));
        assert_eq!(
            (shown.state, shown.tasks[0].progress, shown.progress),
            (SessionState::Working, 99, 99)
        );
    }
}
