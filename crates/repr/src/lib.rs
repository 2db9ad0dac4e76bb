//! EM wire representations.
//!
//! * [`node`]: the one representation model (a tree of attributes and elements
//!   tagged with their XSD type level);
//! * [`xml`] and [`json`]: its two renderings;
//! * [`input`]: request bodies (XML or JSON) parsed into one generic tree;
//! * [`spec`]: the request specs EM accepts (`LoginSpec`, `BackupServerSpec`, ...);
//! * [`resources`]: domain objects → representation nodes, with every link EM emits.

pub mod input;
pub mod json;
pub mod node;
pub mod resources;
pub mod spec;
pub mod xml;

pub use input::{BodyError, BodyFormat, Input};
pub use json::{to_json, JsonStyle};
pub use node::{Node, Value};
pub use resources::{Ctx, Viewer};
pub use xml::to_xml;

/// A response format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// XML (the default).
    Xml,
    /// JSON in the given generation.
    Json(JsonStyle),
}

/// Renders a node in a format.
pub fn render(node: &Node, format: Format) -> String {
    match format {
        Format::Xml => to_xml(node),
        Format::Json(style) => to_json(node, style),
    }
}

/// A root list (`EntityReferences`, `CloudFailoverSessions`, ...) written in pieces,
/// for collections too long to render at once: [`ListWriter::head`], then
/// [`ListWriter::item`] for each item, then [`ListWriter::tail`]. The pieces of a
/// non-empty list join to exactly what [`render`] writes for the whole list node
/// (`resources::reference_list` / `resources::entity_list`).
#[derive(Debug, Clone, Copy)]
pub struct ListWriter {
    /// The root element.
    pub root: &'static str,
    /// The JSON key of the array (EM 12 spelling).
    pub json_key: &'static str,
    /// The format.
    pub format: Format,
}

impl ListWriter {
    /// The document up to the first item.
    pub fn head(&self) -> String {
        match self.format {
            Format::Xml => xml::list_head(self.root),
            Format::Json(style) => json::list_head(self.json_key, style),
        }
    }

    /// One item; `first` for the first one.
    pub fn item(&self, item: &Node, first: bool, out: &mut String) {
        match self.format {
            Format::Xml => xml::list_item(item, out),
            Format::Json(style) => json::list_item(item, first, style, out),
        }
    }

    /// The document after the last item.
    pub fn tail(&self) -> String {
        match self.format {
            Format::Xml => format!("\n</{}>", self.root),
            Format::Json(_) => "]}".to_string(),
        }
    }
}

#[cfg(test)]
mod list_writer_tests {
    use super::*;
    use crate::resources::{entity_list, reference_list};

    #[test]
    fn pieces_join_to_the_whole_list() {
        let items: Vec<Node> = (0..3)
            .map(|i| {
                Node::new("Ref")
                    .attr(0, "Href", format!("h{i}"))
                    .elem(0, "Links", Value::Links(vec![]))
                    .elem(1, "Note", "a <b> & \"c\"")
            })
            .collect();
        for format in [
            Format::Xml,
            Format::Json(JsonStyle::Em12),
            Format::Json(JsonStyle::Em13),
        ] {
            for (root, key, whole) in [
                ("EntityReferences", "Refs", reference_list(items.clone())),
                (
                    "CloudFailoverSessions",
                    "CloudFailoverSessions",
                    entity_list(
                        "CloudFailoverSessions",
                        "CloudFailoverSessions",
                        items.clone(),
                    ),
                ),
            ] {
                let writer = ListWriter {
                    root,
                    json_key: key,
                    format,
                };
                let mut text = writer.head();
                for (i, item) in items.iter().enumerate() {
                    writer.item(item, i == 0, &mut text);
                }
                text.push_str(&writer.tail());
                assert_eq!(text, render(&whole, format), "{root} {format:?}");
            }
        }
    }
}
