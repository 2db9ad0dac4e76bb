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
    }
}

/// Outcome of a finished task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskOutcome {
    pub success: bool,
    pub message: String,
}

/// A task of a logon session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Task {
    pub logon_session_id: LogonSessionId,
    pub number: TaskNumber,
    pub operation: Operation,
    pub state: TaskState,
    /// `None` while running.
    pub outcome: Option<TaskOutcome>,
    /// The failover session the operation created, once created.
    pub related_session: Option<RelatedSession>,
    pub creation_time: Timestamp,
}

/// A failover session a task links to (`Rel="Related"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelatedSession {
    pub id: SessionId,
    /// Plan name (the link `Name`).
    pub name: String,
}
