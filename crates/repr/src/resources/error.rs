//! The `Error` representation (errors.md §1).

use crate::node::{JsonOrder, Node, Value};

/// An `Error` body. `inner` becomes `FirstChanceExceptionMessage` (5xx only).
/// JSON keys are alphabetical and always present (json.md J11).
pub fn error(status: u16, message: &str, inner: Option<&str>) -> Node {
    let mut node = Node::new("Error")
        .elem(
            0,
            "FirstChanceExceptionMessage",
            inner.map_or(Value::Null, Value::from),
        )
        .attr(0, "Message", message)
        .elem(0, "StackTrace", Value::Null)
        .attr(0, "Status", Value::Null)
        .attr(0, "StatusCode", i64::from(status));
    node.json_order = JsonOrder::Declared;
    node
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{to_json, to_xml, JsonStyle};

    #[test]
    fn json_error_has_every_key_in_alphabetical_order() {
        assert_eq!(
            to_json(
                &error(400, "Node [root] does not exist.", None),
                JsonStyle::Em12
            ),
            r#"{"FirstChanceExceptionMessage":null,"Message":"Node [root] does not exist.","StackTrace":null,"Status":null,"StatusCode":400}"#
        );
    }

    #[test]
    fn xml_error_matches_the_documented_401_byte_for_byte() {
        let xml = to_xml(&error(
            401,
            "Authorization required. The logon session is not specified or has expired.",
            None,
        ));
        assert_eq!(xml.len(), 287);
        assert!(xml.ends_with("StatusCode=\"401\" xmlns=\"http://www.veeam.com/ent/v1.0\" />"));
    }
}
