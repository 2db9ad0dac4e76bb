//! Tasks: the asynchronous operations a logon session started (`/api/tasks`).

use crate::ids::{LogonSessionId, SessionId, TaskNumber};
use crate::time::Timestamp;

crate::wire_enum! {
    /// Task state.
    pub enum TaskState ("task state") {
        Running = "Running",
        OperationFinished = "OperationFinished",
        Finished = "Finished",
    }
}

crate::wire_enum! {
    /// Operation names of the tasks in scope.
    pub enum Operation ("task operation") {
        StartCloudFailoverPlan = "StartCloudFailoverPlan",
        UndoCloudFailoverPlan = "UndoCloudFailoverPlan",
        UpdateFailoverPlan = "UpdateFailoverPlan",
        DeleteCloudFailoverPlan = "DeleteCloudFailoverPlan",
        CollectingBackupServer = "CollectingBackupServer",
        StartJob = "StartJob",
        StopJob = "StopJob",
        StopJobSession = "StopJobSession",
        RetryJob = "RetryJob",
        StartJobSync = "StartJobSync",
        UpdateJob = "UpdateJob",
    }
}

/// Outcome of a finished task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskOutcome {
    /// Whether the operation succeeded.
    pub success: bool,
    /// What happened, as the task's `Result` message says it.
    pub message: String,
}

/// A task of a logon session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Task {
    /// Logon session that owns the task; tasks are numbered per logon session.
    pub logon_session_id: LogonSessionId,
    /// The task's number (`task-<n>`).
    pub number: TaskNumber,
    /// The operation the task carries out.
    pub operation: Operation,
    /// Where the task is: running, operation finished, finished.
    pub state: TaskState,
    /// `None` while running.
    pub outcome: Option<TaskOutcome>,
    /// The failover session the operation created, once created.
    pub related_session: Option<RelatedSession>,
    /// When the task was created.
    pub creation_time: Timestamp,
}

/// A failover session a task links to (`Rel="Related"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelatedSession {
    /// Id of the session.
    pub id: SessionId,
    /// Plan name (the link `Name`).
    pub name: String,
}
