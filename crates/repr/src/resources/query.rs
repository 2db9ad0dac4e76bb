//! The `QueryResult` representation (query.md §8).

use super::link;
use crate::node::{Node, Value};

/// What a query returned.
pub enum QueryItems {
    /// `Refs` of `Ref` items.
    Refs(Vec<Node>),
    /// `Entities` holding one list element, e.g. `CloudFailoverSessions`.
    Entities {
        /// Name of the list element.
        list: &'static str,
        /// The entities.
        items: Vec<Node>,
    },
    /// `Resources` holding `Tasks`.
    Tasks(Vec<Node>),
}

/// Paging information: numbers and the links of §7.
pub struct Paging {
    /// 1-based page number.
    pub page: u64,
    /// Items per page.
    pub page_size: u64,
    /// Number of pages (`PagesCount`).
    pub pages: u64,
    /// (rel, absolute href) in the order First, Previous, Next, Last.
    pub links: Vec<(&'static str, String)>,
}

/// The sibling keys of `Entities` in EM's order (json.md A-J3, from EM 12 and EM 13
/// captures; the misspellings and the singular `AgentBackupJob` are EM's). JSON
/// writes all of them, the unused ones `null`; XML writes only the one in use.
#[rustfmt::skip]
pub const ENTITIES_KEYS: [&str; 50] = [
    "Jobs", "FailoverPlans", "Backups", "Replicas", "Repositories", "RestorePoints",
    "VmRestorePoints", "VAppRestorePoints", "VmReplicaPoints", "BackupJobSessions",
    "ReplicaJobSessions", "ReplicaTaskSessions", "RestoreSessions", "HierarchyRoots",
    "BackupTaskSessions", "BackupServers", "ManagedServers", "EnterpiseRoles",
    "EnterpiseAccounts", "WanAccelerators", "CloudGateways", "CloudTenants", "CloudReplicas",
    "VCloudOrganizationConfigs", "BackupFiles", "VSphereSelfServiceConfigs", "CloudPublicIps",
    "CloudHardwarePlans", "CloudVmReplicaPoints", "AgentRestorePoints", "AgentBackupJob",
    "CloudGatewayPools", "CloudFailoverPlans", "ExternalRepositories", "VlanConfigurations",
    "CloudFailoverSessions", "AgentProtectionGroups", "DiscoveredComputers", "FileServers",
    "NASJobs", "CdpReplicas", "CdpReplicaVms", "CdpPolicies", "CdpReplicaSessions",
    "CdpReplicaTaskSessions", "VAppReplicaPoints", "VmCdpReplicas", "VAppCdpReplicas",
    "VAppCdpReplicaVms", "SystemSessions",
];

/// The `Entities` element holding `list`, with every sibling key of [`ENTITIES_KEYS`].
fn entities(list: &'static str, items: Vec<Node>) -> Node {
    let mut node = Node::new("Entities");
    let mut list_value = Some(Value::List {
        json_key: list,
        items,
    });
    for key in ENTITIES_KEYS {
        let value = if key == list {
            list_value.take().unwrap_or(Value::Null)
        } else {
            Value::Null
        };
        node = node.elem(0, key, value);
    }
    if let Some(value) = list_value {
        node = node.elem(0, list, value);
    }
    node
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
        QueryItems::Entities { list, items } => {
            (Value::Null, Value::Node(entities(list, items)), Value::Null)
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{render, Format, JsonStyle};

    fn paging() -> Paging {
        Paging {
            page: 1,
            page_size: 100,
            pages: 1,
            links: vec![("First", "h1".into()), ("Last", "h2".into())],
        }
    }

    fn keys_of(json: &str, pointer: &str) -> Vec<String> {
        // serde_json keeps no order; find the keys by scanning the object text.
        let value: serde_json::Value = serde_json::from_str(json).unwrap();
        assert!(value.pointer(pointer).is_some(), "{pointer} in {json}");
        let start = json
            .find("\"Entities\":{")
            .or_else(|| json.find("\"entities\":{"))
            .unwrap();
        let mut depth = 0;
        let mut keys = Vec::new();
        let bytes = json.as_bytes();
        let mut i = start + json[start..].find('{').unwrap();
        let mut key_start = None;
        let mut in_string = false;
        while i < bytes.len() {
            let c = bytes[i];
            if in_string {
                if c == b'"' {
                    in_string = false;
                    if depth == 1 && bytes.get(i + 1) == Some(&b':') {
                        keys.push(json[key_start.unwrap()..i].to_string());
                    }
                }
            } else if c == b'"' {
                in_string = true;
                key_start = Some(i + 1);
            } else if c == b'{' || c == b'[' {
                depth += 1;
            } else if c == b'}' || c == b']' {
                depth -= 1;
                if depth == 0 {
                    break;
                }
            }
            i += 1;
        }
        keys
    }

    #[test]
    fn json_entities_carry_all_fifty_keys_in_em_order() {
        let node = query_result(
            QueryItems::Entities {
                list: "CloudFailoverSessions",
                items: vec![],
            },
            paging(),
        );
        let json = render(&node, Format::Json(JsonStyle::Em12));
        let keys = keys_of(&json, "/Entities/CloudFailoverSessions");
        assert_eq!(keys, ENTITIES_KEYS.to_vec());
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert!(value["Entities"]["Jobs"].is_null());
        assert!(value["Entities"]["CloudFailoverSessions"].is_object());
        // EM 13 camel-cases the same list.
        let json = render(&node, Format::Json(JsonStyle::Em13));
        let keys = keys_of(&json, "/entities/cloudFailoverSessions");
        assert_eq!(keys.len(), 50);
        assert_eq!(keys[0], "jobs");
        assert_eq!(keys[23], "vCloudOrganizationConfigs");
        assert_eq!(keys[39], "nasJobs");
        // XML writes only the list in use.
        let xml = render(&node, Format::Xml);
        assert!(xml.contains("<Entities>") && xml.contains("<CloudFailoverSessions"));
        assert!(!xml.contains("<Jobs"));
    }

    #[test]
    fn references_have_null_entities_and_paging_links_have_four_keys() {
        let node = query_result(QueryItems::Refs(vec![]), paging());
        let json = render(&node, Format::Json(JsonStyle::Em12));
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert!(value["Entities"].is_null());
        let link = &value["PagingInfo"]["Links"][0];
        assert!(
            json.contains("{\"Rel\":\"First\",\"Href\":\"h1\",\"Name\":null,\"Type\":null}"),
            "{json}"
        );
        assert!(link["Name"].is_null());
        let xml = render(&node, Format::Xml);
        assert!(xml.contains("<Link Href=\"h1\" Rel=\"First\" />"), "{xml}");
    }
}
