//! Renders a [`Node`] as EM JSON (json.md), in the EM 12 (PascalCase) or EM 13
//! (camelCase) generation.

use crate::node::{JsonOrder, Kind, Member, Node, Value};
use std::fmt::Write;

/// The JSON generation to emulate (json.md J12).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum JsonStyle {
    /// EM 12 and earlier: keys equal the XML names.
    #[default]
    Em12,
    /// EM 13: camelCase keys.
    Em13,
}

/// Renders the node as a compact JSON document (the root element name disappears, J1).
pub fn to_json(root: &Node, style: JsonStyle) -> String {
    let mut out = String::with_capacity(1024);
    write_object(&mut out, root, style);
    out
}

/// The start of a root list object up to its first item (see `ListWriter`).
pub(crate) fn list_head(json_key: &str, style: JsonStyle) -> String {
    let mut out = String::from("{");
    write_key(&mut out, json_key, style);
    out.push('[');
    out
}

/// One item of a root list (see `ListWriter`).
pub(crate) fn list_item(item: &Node, first: bool, style: JsonStyle, out: &mut String) {
    if !first {
        out.push(',');
    }
    write_object(out, item, style);
}

fn write_object(out: &mut String, node: &Node, style: JsonStyle) {
    out.push('{');
    let mut first = true;
    for m in ordered(node) {
        if matches!(m.value, Value::Omit | Value::XmlOnly(_)) {
            continue;
        }
        if !first {
            out.push(',');
        }
        first = false;
        write_key(out, m.name, style);
        write_value(out, &m.value, style);
    }
    out.push('}');
}

fn write_value(out: &mut String, value: &Value, style: JsonStyle) {
    match value {
        Value::Text(s) => write_string(out, s),
        Value::Int(n) => {
            let _ = write!(out, "{n}");
        }
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Date(t) => write_string(out, &t.to_string()),
        Value::Node(n) => write_object(out, n, style),
        Value::List { json_key, items } => {
            out.push('{');
            write_key(out, json_key, style);
            write_array_or_null(out, items, style);
            out.push('}');
        }
        Value::Items(items) => write_array_or_null(out, items, style),
        Value::Links(items) => write_array(out, items, style),
        Value::Texts(items) | Value::Strings { items, .. } => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(out, item);
            }
            out.push(']');
        }
        Value::JsonOnly(inner) | Value::XmlOnly(inner) => write_value(out, inner, style),
        Value::Null | Value::Omit => out.push_str("null"),
    }
}

fn write_array_or_null(out: &mut String, items: &[Node], style: JsonStyle) {
    if items.is_empty() {
        out.push_str("null");
    } else {
        write_array(out, items, style);
    }
}

fn write_array(out: &mut String, items: &[Node], style: JsonStyle) {
    out.push('[');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_object(out, item, style);
    }
    out.push(']');
}

fn write_key(out: &mut String, name: &str, style: JsonStyle) {
    match style {
        JsonStyle::Em12 => write_string(out, name),
        JsonStyle::Em13 => write_string(out, &camel_case(name)),
    }
    out.push(':');
}

fn write_string(out: &mut String, s: &str) {
    // Most values need no escaping: write them straight through. Otherwise serde_json
    // escapes exactly what JSON requires and leaves '/' and non-ASCII alone.
    if !s.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\') {
        out.push('"');
        out.push_str(s);
        out.push('"');
        return;
    }
    out.push_str(&serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_string()));
}

/// Members in JSON order (J3): level descending, elements before attributes.
fn ordered(node: &Node) -> Vec<&Member> {
    let mut members: Vec<&Member> = node.members.iter().collect();
    if node.json_order == JsonOrder::Derived {
        members.sort_by_key(|m| (std::cmp::Reverse(m.level), m.kind == Kind::Attr));
    }
    members
}

/// The .NET camel-case rule: lower-case the leading run of capitals, except its
/// last letter when that letter starts a lower-case word (`UID` → `uid`,
/// `SessionId` → `sessionId`, `CPUCount` → `cpuCount`, `VMwareSSOToken` → `vMwareSSOToken`).
pub fn camel_case(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::with_capacity(name.len());
    for (i, &c) in chars.iter().enumerate() {
        if !c.is_uppercase() {
            out.extend(chars[i..].iter());
            return out;
        }
        let next_is_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
        if i > 0 && next_is_lower {
            out.extend(chars[i..].iter());
            return out;
        }
        out.extend(c.to_lowercase());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn camel_case_follows_the_dotnet_rule() {
        for (pascal, camel) in [
            ("SessionId", "sessionId"),
            ("UID", "uid"),
            ("ID", "id"),
            ("CPUCount", "cpuCount"),
            ("ADTenantType", "adTenantType"),
            ("VMwareSSOToken", "vMwareSSOToken"),
            ("CreationTimeUTC", "creationTimeUTC"),
            ("CloudFailoverSessions", "cloudFailoverSessions"),
            ("Rel", "rel"),
            ("vCloudTenant", "vCloudTenant"),
        ] {
            assert_eq!(camel_case(pascal), camel, "{pascal}");
        }
    }

    #[test]
    fn derived_members_come_first_elements_before_attributes() {
        let n = Node::new("E")
            .elem(0, "Links", Value::Null)
            .attr(0, "Href", "h")
            .attr(1, "Name", "n")
            .elem(2, "Own", "o")
            .attr(2, "OwnAttr", Value::Omit);
        assert_eq!(
            to_json(&n, JsonStyle::Em12),
            r#"{"Own":"o","Name":"n","Links":null,"Href":"h"}"#
        );
    }

    #[test]
    fn repeated_texts_folders_day_texts_and_one_sided_members() {
        let n = crate::node::one_of_each_kind();
        assert_eq!(
            to_json(&n, JsonStyle::Em12),
            r#"{"Days":["Sunday","Monday"],"Folders":["%windir%"],"Empty":[],"Day":{"Name":"Sunday","Value":"1,1"},"RetrySpecified1":true}"#
        );
    }

    #[test]
    fn empty_lists_are_null_inside_their_wrapper() {
        let n = Node::new("S").elem(
            0,
            "Tasks",
            Value::List {
                json_key: "Tasks",
                items: vec![],
            },
        );
        assert_eq!(to_json(&n, JsonStyle::Em12), r#"{"Tasks":{"Tasks":null}}"#);
    }
}
