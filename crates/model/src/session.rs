//! Cloud failover sessions: one run of a plan (start or test), with one task per VM.

use crate::ids::{BackupServerId, PlanId, PointId, SessionId, TenantId};
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
    pub id: SessionId,
    /// The plan that ran. The plan may have been deleted since.
    pub plan_id: PlanId,
    /// Plan name at the time of the run (the session `Name`).
    pub plan_name: String,
    /// Owner of the plan, for tenant scoping.
    pub tenant_id: TenantId,
    pub backup_server_id: BackupServerId,
    pub kind: SessionKind,
    pub creation_time: Timestamp,
    /// Set once the session is `Stopped`.
    pub end_time: Option<Timestamp>,
    pub state: SessionState,
    pub result: SessionResult,
    /// 0–100.
    pub progress: i32,
    pub failure_message: Option<String>,
    /// One task per plan VM, in plan order.
    pub tasks: Vec<SessionTask>,
}

/// The failover of one VM within a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionTask {
    pub vm_name: String,
    /// The replica point used; `None` when no suitable point existed.
    pub point: Option<PointRef>,
    pub creation_time: Timestamp,
    pub end_time: Option<Timestamp>,
    pub state: SessionState,
    pub result: SessionResult,
    pub progress: i32,
    pub failure_message: Option<String>,
}

/// A replica point as a session task refers to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PointRef {
    pub id: PointId,
    /// Point display name `<vm>@<time>`.
    pub name: String,
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
