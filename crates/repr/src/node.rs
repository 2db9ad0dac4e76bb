//! The representation model: one tree that renders as EM XML and as EM JSON.
//!
//! A [`Node`] is an XML element (or the JSON object describing it). Each [`Member`]
//! is an attribute or a child element and carries the *level* of the XSD type that
//! declares it (0 = `ResourceType`, 1 = `EntityType`, higher = more derived). That one
//! number reproduces both orders EM uses:
//!
//! * XML: attributes base type first, then derived; child elements likewise
//!   (conventions.md §9.3–9.4);
//! * JSON: most-derived type first, and within a type its elements before its
//!   attributes (json.md J3).
//!
//! Absent values say how they disappear ([`Value::Null`] keeps a JSON `null`,
//! [`Value::Omit`] drops the key), which covers json.md J7.

use entman_model::Timestamp;

/// Whether a member is an XML attribute or a child element.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// A child element.
    Elem,
    /// An attribute.
    Attr,
    /// The element's text content (`<Day Name="Sunday">1,1,…</Day>`); JSON writes
    /// it under the member's name.
    Text,
}

/// The value of a member.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A string. An empty string is written `<X />` and `""`.
    Text(String),
    /// An integer.
    Int(i64),
    /// A boolean.
    Bool(bool),
    /// A date-time in EM format.
    Date(Timestamp),
    /// A complex child element.
    Node(Node),
    /// A list wrapper element: XML `<Wrapper><Item/>…</Wrapper>`; JSON
    /// `"Wrapper": {"<json_key>": [...]}` with `null` for no items (json.md J5, J6).
    List {
        /// Key of the array inside the wrapper object.
        json_key: &'static str,
        /// Items; each is written as an element named after the item node.
        items: Vec<Node>,
    },
    /// Items written directly inside the parent element (root lists such as
    /// `<CloudTenants>`); JSON `"<member name>": [...]` or `null`.
    Items(Vec<Node>),
    /// A `<Links>` element: XML wrapper of `Link` elements, JSON flat array (J4).
    Links(Vec<Node>),
    /// Repeated simple elements (`<Days>Sunday</Days><Days>Monday</Days>`); JSON
    /// an array of strings.
    Texts(Vec<String>),
    /// A wrapper of simple elements named `item` (`<Folders><Path>a</Path></Folders>`);
    /// JSON a bare array of strings, `[]` when empty.
    Strings {
        /// Element name of each item.
        item: &'static str,
        /// The items.
        items: Vec<String>,
    },
    /// Written in XML only (a member JSON names otherwise or leaves out).
    XmlOnly(Box<Value>),
    /// Written in JSON only (serializer artefacts XML does not have).
    JsonOnly(Box<Value>),
    /// Absent: omitted in XML, `null` in JSON.
    Null,
    /// Absent: omitted in XML and in JSON.
    Omit,
}

/// An attribute or child element of a node.
#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    /// XML name and (EM 12) JSON key.
    pub name: &'static str,
    /// Attribute or element.
    pub kind: Kind,
    /// Level of the declaring XSD type (0 = `ResourceType`).
    pub level: u8,
    /// The value.
    pub value: Value,
}

/// How JSON keys of a node are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonOrder {
    /// json.md J3: by level (derived first), elements before attributes.
    Derived,
    /// As the members were added (the `Error` type, json.md J11).
    Declared,
}

/// An element with its members.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// Element name.
    pub name: &'static str,
    /// Members in XSD declaration order within each level.
    pub members: Vec<Member>,
    /// JSON key order rule.
    pub json_order: JsonOrder,
}

impl Node {
    /// An empty node.
    pub fn new(name: &'static str) -> Self {
        Self {
            name,
            members: Vec::new(),
            json_order: JsonOrder::Derived,
        }
    }

    /// Adds an attribute at `level`.
    pub fn attr(mut self, level: u8, name: &'static str, value: impl Into<Value>) -> Self {
        self.members.push(Member {
            name,
            kind: Kind::Attr,
            level,
            value: value.into(),
        });
        self
    }

    /// Adds a child element at `level`.
    pub fn elem(mut self, level: u8, name: &'static str, value: impl Into<Value>) -> Self {
        self.members.push(Member {
            name,
            kind: Kind::Elem,
            level,
            value: value.into(),
        });
        self
    }

    /// Sets the element's text content (see [`Kind::Text`]).
    pub fn text(mut self, level: u8, name: &'static str, value: impl Into<Value>) -> Self {
        self.members.push(Member {
            name,
            kind: Kind::Text,
            level,
            value: value.into(),
        });
        self
    }

    /// Looks up a member by name (for tests and assertions).
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.members
            .iter()
            .find(|m| m.name == name)
            .map(|m| &m.value)
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Text(s)
    }
}
impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Text(s.to_string())
    }
}
impl From<&String> for Value {
    fn from(s: &String) -> Self {
        Value::Text(s.clone())
    }
}
impl From<i64> for Value {
    fn from(n: i64) -> Self {
        Value::Int(n)
    }
}
impl From<i32> for Value {
    fn from(n: i32) -> Self {
        Value::Int(i64::from(n))
    }
}
impl From<u16> for Value {
    fn from(n: u16) -> Self {
        Value::Int(i64::from(n))
    }
}
impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}
impl From<Timestamp> for Value {
    fn from(t: Timestamp) -> Self {
        Value::Date(t)
    }
}
impl From<Node> for Value {
    fn from(n: Node) -> Self {
        Value::Node(n)
    }
}

/// An optional string: `Null` when absent (string elements, json.md J7).
pub fn opt_text(v: Option<impl Into<String>>) -> Value {
    v.map_or(Value::Null, |s| Value::Text(s.into()))
}

/// An optional value-type element: `Omit` when absent (json.md J7).
pub fn opt_value<T: Into<Value>>(v: Option<T>) -> Value {
    v.map_or(Value::Omit, Into::into)
}

/// A node with one member of each kind the job entity needs (repeated texts, a
/// bare string list, text beside an attribute, one-sided members), rendered by
/// the tests of both formats.
#[cfg(test)]
pub(crate) fn one_of_each_kind() -> Node {
    Node::new("S")
        .elem(
            0,
            "Days",
            Value::Texts(vec!["Sunday".into(), "Monday".into()]),
        )
        .elem(
            0,
            "Folders",
            Value::Strings {
                item: "Path",
                items: vec!["%windir%".into()],
            },
        )
        .elem(
            0,
            "Empty",
            Value::Strings {
                item: "Path",
                items: vec![],
            },
        )
        .elem(
            0,
            "Day",
            Node::new("Day")
                .attr(1, "Name", "Sunday")
                .text(0, "Value", "1,1"),
        )
        .elem(
            0,
            "RetrySpecified",
            Value::XmlOnly(Box::new(Value::Bool(true))),
        )
        .elem(
            0,
            "RetrySpecified1",
            Value::JsonOnly(Box::new(Value::Bool(true))),
        )
}
