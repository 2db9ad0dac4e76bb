//! Renders a [`Node`] as EM XML: the .NET `XmlSerializer` layout (conventions.md §9).

use crate::node::{Kind, Member, Node, Value};

/// The EM namespace.
pub const NAMESPACE: &str = "http://www.veeam.com/ent/v1.0";

/// Renders a whole document: prolog, namespace declarations on the root, 2-space
/// indentation, LF line ends, no trailing line break.
pub fn to_xml(root: &Node) -> String {
    let mut out = String::with_capacity(1024);
    out.push_str("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");
    write_node(&mut out, root, 0, true);
    out
}

/// The prolog and the start tag of a root list element (see `ListWriter`).
pub(crate) fn list_head(root: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<{root} xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xmlns=\"{NAMESPACE}\">"
    )
}

/// One item of a root list, on its own line (see `ListWriter`).
pub(crate) fn list_item(item: &Node, out: &mut String) {
    out.push('\n');
    write_node(out, item, 1, false);
}

fn write_node(out: &mut String, node: &Node, depth: usize, root: bool) {
    indent(out, depth);
    out.push('<');
    out.push_str(node.name);
    if root {
        out.push_str(
            " xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\"",
        );
    }
    for m in sorted(node, Kind::Attr) {
        if let Some(text) = scalar_text(&m.value) {
            out.push(' ');
            out.push_str(m.name);
            out.push_str("=\"");
            escape(out, &text, true);
            out.push('"');
        }
    }
    if root {
        out.push_str(" xmlns=\"");
        out.push_str(NAMESPACE);
        out.push('"');
    }
    if let Some(text) = node
        .members
        .iter()
        .find(|m| m.kind == Kind::Text)
        .and_then(|m| scalar_text(&m.value))
    {
        out.push('>');
        escape(out, &text, false);
        out.push_str("</");
        out.push_str(node.name);
        out.push('>');
        return;
    }
    let children: Vec<&Member> = sorted(node, Kind::Elem)
        .filter(|m| is_written(&m.value))
        .collect();
    if children.is_empty() {
        out.push_str(" />");
        return;
    }
    out.push('>');
    for m in children {
        out.push('\n');
        write_member(out, m, depth + 1);
    }
    out.push('\n');
    indent(out, depth);
    out.push_str("</");
    out.push_str(node.name);
    out.push('>');
}

fn write_member(out: &mut String, m: &Member, depth: usize) {
    write_value(out, m.name, &m.value, depth);
}

fn write_value(out: &mut String, name: &'static str, value: &Value, depth: usize) {
    match value {
        Value::XmlOnly(inner) => write_value(out, name, inner, depth),
        Value::Texts(texts) => {
            for (i, text) in texts.iter().enumerate() {
                if i > 0 {
                    out.push('\n');
                }
                write_simple(out, name, text, depth);
            }
        }
        Value::Strings { item, items } => {
            let nodes: Vec<Node> = items
                .iter()
                .map(|text| Node::new(item).text(0, "Value", text))
                .collect();
            write_wrapper(out, name, &nodes, depth);
        }
        Value::Node(n) => write_node(out, n, depth, false),
        Value::List { items, .. } | Value::Links(items) => write_wrapper(out, name, items, depth),
        Value::Items(items) => {
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push('\n');
                }
                write_node(out, item, depth, false);
            }
        }
        value => write_simple(out, name, &scalar_text(value).unwrap_or_default(), depth),
    }
}

/// `<name>text</name>`, or `<name />` for an empty text.
fn write_simple(out: &mut String, name: &str, text: &str, depth: usize) {
    indent(out, depth);
    out.push('<');
    out.push_str(name);
    if text.is_empty() {
        out.push_str(" />");
    } else {
        out.push('>');
        escape(out, text, false);
        out.push_str("</");
        out.push_str(name);
        out.push('>');
    }
}

fn write_wrapper(out: &mut String, name: &str, items: &[Node], depth: usize) {
    indent(out, depth);
    out.push('<');
    out.push_str(name);
    if items.is_empty() {
        out.push_str(" />");
        return;
    }
    out.push('>');
    for item in items {
        out.push('\n');
        write_node(out, item, depth + 1, false);
    }
    out.push('\n');
    indent(out, depth);
    out.push_str("</");
    out.push_str(name);
    out.push('>');
}

/// Members of one kind in XML order: base type first, declaration order within a type.
fn sorted(node: &Node, kind: Kind) -> impl Iterator<Item = &Member> {
    let mut members: Vec<&Member> = node.members.iter().filter(|m| m.kind == kind).collect();
    members.sort_by_key(|m| m.level);
    members.into_iter()
}

fn is_written(v: &Value) -> bool {
    match v {
        Value::Null | Value::Omit | Value::JsonOnly(_) => false,
        Value::XmlOnly(inner) => is_written(inner),
        // Root-level item lists and repeated elements with no items write nothing.
        Value::Items(items) => !items.is_empty(),
        Value::Texts(texts) => !texts.is_empty(),
        _ => true,
    }
}

fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::Text(s) => Some(s.clone()),
        Value::Int(n) => Some(n.to_string()),
        Value::Bool(b) => Some(if *b { "true" } else { "false" }.to_string()),
        Value::Date(t) => Some(t.to_string()),
        _ => None,
    }
}

fn indent(out: &mut String, depth: usize) {
    for _ in 0..depth {
        out.push_str("  ");
    }
}

/// Escapes text for XML 1.0 and drops characters XML 1.0 cannot carry.
fn escape(out: &mut String, s: &str, attribute: bool) {
    // Most values need nothing: copy them at once.
    let special = |b: &u8| matches!(b, b'&' | b'<' | b'>' | b'"') || *b < 0x20 || *b == 0xEF;
    if !s.as_bytes().iter().any(special) {
        out.push_str(s);
        return;
    }
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' if attribute => out.push_str("&quot;"),
            // Attribute values would lose these to whitespace normalisation.
            '\n' if attribute => out.push_str("&#xA;"),
            '\r' => out.push_str("&#xD;"),
            '\t' if attribute => out.push_str("&#x9;"),
            '\t' | '\n' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_root_is_self_closed_with_namespaces_in_serializer_order() {
        let n = Node::new("Error")
            .attr(0, "Message", "x")
            .attr(0, "StatusCode", 404i64);
        assert_eq!(
            to_xml(&n),
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<Error xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" Message=\"x\" StatusCode=\"404\" xmlns=\"http://www.veeam.com/ent/v1.0\" />"
        );
    }

    #[test]
    fn escapes_text_and_attributes_and_drops_control_characters() {
        let n = Node::new("R")
            .attr(0, "A", "a\"<&>\nb")
            .elem(0, "T", "x<&>\"'\u{1}y");
        let xml = to_xml(&n);
        assert!(xml.contains("A=\"a&quot;&lt;&amp;&gt;&#xA;b\""), "{xml}");
        assert!(xml.contains("<T>x&lt;&amp;&gt;\"'y</T>"), "{xml}");
    }

    #[test]
    fn repeated_texts_folders_day_texts_and_one_sided_members() {
        let n = crate::node::one_of_each_kind();
        let xml = to_xml(&n);
        assert!(
            xml.ends_with(
                "  <Days>Sunday</Days>\n  <Days>Monday</Days>\n  <Folders>\n    <Path>%windir%</Path>\n  </Folders>\n  <Empty />\n  <Day Name=\"Sunday\">1,1</Day>\n  <RetrySpecified>true</RetrySpecified>\n</S>"
            ),
            "{xml}"
        );
    }

    #[test]
    fn base_members_come_first_and_empty_strings_self_close() {
        let n = Node::new("E")
            .elem(1, "Own", "")
            .attr(1, "Name", "n")
            .elem(0, "Links", Value::Links(vec![]))
            .attr(0, "Href", "h");
        let xml = to_xml(&n);
        assert!(xml.contains("<E xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" Href=\"h\" Name=\"n\" xmlns"), "{xml}");
        assert!(xml.ends_with("  <Links />\n  <Own />\n</E>"), "{xml}");
    }
}
