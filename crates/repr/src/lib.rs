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
