//! Tasks (resources/tasks.md).

use super::{link, Ctx};
use crate::node::{Node, Value};
use entman_model::task::Task;

/// A `Task`. `element` is `Task` both at the root and inside `Tasks`.
pub fn task_node(ctx: &Ctx, task: &Task) -> Node {
    let href = ctx.url(&format!("/tasks/{}", task.number));
    let mut links = vec![link("Delete", href.clone(), None, Some("Task"))];
    if let Some(related) = &task.related_session {
        links.push(link(
            "Related",
            ctx.url(&format!(
                "/cloud/failoverSessions/{}?format=Entity",
                related.id
            )),
            Some(&related.name),
            Some("CloudFailoverSession"),
        ));
    }
    let result = match &task.outcome {
        Some(outcome) => Value::Node(
            Node::new("Result")
                .elem(0, "Message", &outcome.message)
                .attr(0, "Success", outcome.success),
        ),
        None => Value::Null,
    };
    Node::new("Task")
        .elem(0, "Links", Value::Links(links))
        .attr(0, "Href", href)
        .attr(0, "Type", "Task")
        .elem(1, "TaskId", task.number.to_string())
        .elem(1, "State", task.state.as_str())
        .elem(1, "Operation", task.operation.as_str())
        .elem(1, "Result", result)
}

/// `Tasks` root.
pub fn task_list(ctx: &Ctx, tasks: &[Task]) -> Node {
    Node::new("Tasks").elem(
        0,
        "Tasks",
        Value::Items(tasks.iter().map(|t| task_node(ctx, t)).collect()),
    )
}
