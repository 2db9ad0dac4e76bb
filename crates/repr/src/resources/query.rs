//! The `QueryResult` representation (query.md §8).

use super::link;
use crate::node::{Node, Value};

/// What a query returned.
pub enum QueryItems {
    /// `Refs` of `Ref` items.
    Refs(Vec<Node>),
    /// `Entities` holding one list element, e.g. `CloudFailoverSessions`.
    Entities {
        list: &'static str,
        items: Vec<Node>,
    },
    /// `Resources` holding `Tasks`.
    Tasks(Vec<Node>),
}

/// Paging information: numbers and the links of §7.
pub struct Paging {
    pub page: u64,
    pub page_size: u64,
    pub pages: u64,
    /// (rel, absolute href) in the order First, Previous, Next, Last.
    pub links: Vec<(&'static str, String)>,
}

/// A `QueryResult`: every key is written in JSON, the unused ones `null`.
pub fn query_result(items: QueryItems, paging: Paging) -> Node {
    let (refs, entities, resources) = match items {
        QueryItems::Refs(refs) => (
            Value::List {
                json_key: "Refs",
                items: refs,
            },
            Value::Null,
            Value::Null,
        ),
        QueryItems::Entities { list, items } => (
            Value::Null,
            Value::Node(Node::new("Entities").elem(
                0,
                list,
                Value::List {
                    json_key: list,
                    items,
                },
            )),
            Value::Null,
        ),
        QueryItems::Tasks(tasks) => (
            Value::Null,
            Value::Null,
            Value::Node(Node::new("Resources").elem(
                0,
                "Tasks",
                Value::List {
                    json_key: "Tasks",
                    items: tasks,
                },
            )),
        ),
    };
    let links = paging
        .links
        .into_iter()
        .map(|(rel, href)| link(rel, href, None, None))
        .collect();
    let info = Node::new("PagingInfo")
        .elem(0, "Links", Value::Links(links))
        .attr(0, "PageNum", paging.page as i64)
        .attr(0, "PageSize", paging.page_size as i64)
        .attr(0, "PagesCount", paging.pages as i64);
    Node::new("QueryResult")
        .elem(0, "Refs", refs)
        .elem(0, "Entities", entities)
        .elem(0, "Resources", resources)
        .elem(0, "Links", Value::Null)
        .elem(0, "PagingInfo", info)
}
