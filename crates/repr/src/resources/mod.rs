//! Domain objects → representation nodes, one module per resource.
//!
//! Each key resource has a *view* (the object plus the related objects its links
//! name) with `reference` and `entity` renderings; the list helpers here wrap them
//! into `EntityReferences` and entity-list roots.

pub mod entry;
pub mod error;
pub mod job;
pub mod job_session;
pub mod plan;
pub mod query;
pub mod replica;
pub mod server;
pub mod session;
pub mod task;
pub mod tenant;

use crate::node::{Node, Value};
use entman_model::server::BackupServer;

/// Who is looking: decides which action links a representation carries
/// (links for actions the caller may not use are left out, README ambiguity 39).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Viewer {
    /// Portal Administrator.
    Administrator,
    /// Any other Enterprise Manager role.
    ProviderUser,
    /// A cloud tenant.
    Tenant,
}

/// Rendering context: the absolute API base and the viewer.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// `https://host:port/api` (no trailing slash).
    pub base: String,
    /// The caller.
    pub viewer: Viewer,
}

impl Ctx {
    /// An absolute URL for a path below `/api` (the path starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }
}

/// A `Link` element (conventions.md §7). `name` and `ty` are omitted when `None`.
pub fn link(rel: &'static str, href: String, name: Option<&str>, ty: Option<&'static str>) -> Node {
    named_link("Link", rel, href, name, ty)
}

/// A link-typed element with another element name (e.g. `VmReplicaPointLink`).
pub fn named_link(
    element: &'static str,
    rel: &'static str,
    href: String,
    name: Option<&str>,
    ty: Option<&'static str>,
) -> Node {
    // Absent `Name`/`Type`: not written in XML, `null` in JSON (json.md J4, J7).
    Node::new(element)
        .attr(0, "Href", href)
        .attr(0, "Name", name.map_or(Value::Null, Value::from))
        .attr(0, "Type", ty.map_or(Value::Null, Value::from))
        .attr(1, "Rel", rel)
}

/// The `Up` link to a backup server that every cloud object carries first.
pub fn up_to_server(ctx: &Ctx, server: &BackupServer) -> Node {
    link(
        "Up",
        ctx.url(&format!("/backupServers/{}", server.id)),
        Some(&server.name),
        Some("BackupServerReference"),
    )
}

/// A key resource with its two representations (conventions.md §6).
pub trait Represent {
    /// The reference representation (`EntityRef` at the root, `Ref` in lists).
    fn reference(&self, ctx: &Ctx, placement: Placement) -> Node;
    /// The entity representation.
    fn entity(&self, ctx: &Ctx, placement: Placement) -> Node;
    /// The representation a `format` parameter asks for.
    fn represent(&self, ctx: &Ctx, representation: Representation, placement: Placement) -> Node {
        match representation {
            Representation::Entity => self.entity(ctx, placement),
            Representation::Reference => self.reference(ctx, placement),
        }
    }
}

/// Which representation of a key resource is asked for (conventions.md §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Representation {
    /// `EntityRef` / `EntityReferences` (the default).
    Reference,
    /// The entity / entity list.
    Entity,
}

impl Representation {
    /// Parses a `format` value, case-insensitively.
    pub fn parse(v: &str) -> Option<Representation> {
        match v.trim().to_ascii_lowercase().as_str() {
            "entity" | "entities" => Some(Representation::Entity),
            "reference" | "references" | "ref" | "refs" => Some(Representation::Reference),
            _ => None,
        }
    }

    /// Whether the entity is asked for.
    pub fn is_entity(self) -> bool {
        self == Representation::Entity
    }
}

/// Whether the node is rendered as the document root or as an item of a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// Document root (`EntityRef`).
    Root,
    /// Item of an `EntityReferences` list (`Ref`).
    Item,
}

/// A reference representation (`EntityRef` / `Ref`, XSD `EntityReferenceType`):
/// element `Links`, attributes `UID`, `Name`, `Href`, `Type`.
pub fn reference(
    placement: Placement,
    uid: String,
    name: &str,
    href: String,
    ty: &'static str,
    links: Vec<Node>,
) -> Node {
    let element = match placement {
        Placement::Root => "EntityRef",
        Placement::Item => "Ref",
    };
    Node::new(element)
        .elem(0, "Links", Value::Links(links))
        .attr(0, "UID", uid)
        .attr(0, "Name", name)
        .attr(0, "Href", href)
        .attr(0, "Type", ty)
}

/// The start of an entity representation: `Links`, `Href`, `Type` (ResourceType,
/// level 0) and `Name`, `UID` (EntityType, level 1). Own members go on level 2+.
pub fn entity(
    element: &'static str,
    href: String,
    ty: &'static str,
    name: &str,
    uid: String,
    links: Vec<Node>,
) -> Node {
    Node::new(element)
        .elem(0, "Links", Value::Links(links))
        .attr(0, "Href", href)
        .attr(0, "Type", ty)
        .attr(1, "Name", name)
        .attr(1, "UID", uid)
}

/// `EntityReferences` root holding `Ref` items (JSON `{"Refs": [...]}`).
pub fn reference_list(refs: Vec<Node>) -> Node {
    Node::new("EntityReferences").elem(0, "Refs", Value::Items(refs))
}

/// An entity-list root such as `CloudFailoverSessions` (JSON `{"<key>": [...]}`).
pub fn entity_list(root: &'static str, json_key: &'static str, items: Vec<Node>) -> Node {
    Node::new(root).elem(0, json_key, Value::Items(items))
}
