//! Request bodies: XML or JSON parsed into one generic tree, [`Input`], that the
//! request-spec readers walk without caring which format arrived.
//!
//! Matching is lenient the way EM's is: element/property names are compared
//! case-insensitively, element order is free, unknown members are ignored, the
//! root may come with or without the EM namespace, a BOM and prolog are accepted
//! (conventions.md §9.10, json.md J10). It is strict where it must be: malformed
//! documents, DTD entity tricks and absurd nesting are refused.

use quick_xml::events::Event;
use quick_xml::Reader;

/// Deepest nesting accepted in a request body.
pub const MAX_DEPTH: usize = 32;

/// A body format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFormat {
    /// `application/xml`
    Xml,
    /// `application/json`
    Json,
}

/// Why a body could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    /// A non-empty body in a media type other than XML or JSON (415).
    #[error("The media type [{0}] of the request body is not supported: send application/xml or application/json.")]
    MediaType(String),
    /// Not well-formed XML.
    #[error("The request body is not valid XML: {0}")]
    Xml(String),
    /// Not valid JSON.
    #[error("The request body is not valid JSON: {0}")]
    Json(String),
    /// Nested deeper than [`MAX_DEPTH`].
    #[error("The request body is nested too deeply.")]
    TooDeep,
    /// The root element is not the one the endpoint reads.
    #[error("Expected a [{expected}] body, got [{found}].")]
    WrongRoot {
        /// The root element the endpoint reads.
        expected: &'static str,
        /// The root element the body had.
        found: String,
    },
    /// A required element is missing.
    #[error("Element [{0}] is required.")]
    Missing(&'static str),
    /// An element has a value of the wrong type.
    #[error("Element [{element}] has an invalid value [{value}]: {expected} expected.")]
    Invalid {
        /// The element's name.
        element: &'static str,
        /// The value as sent.
        value: String,
        /// What the element accepts.
        expected: &'static str,
    },
    /// Something else is wrong with the body.
    #[error("{0}")]
    Other(String),
}

/// One element (XML) or property (JSON) of a request body.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Input {
    /// Local name (namespace prefix removed). The JSON root is named `""`.
    pub name: String,
    /// XML attributes (local names); JSON has none.
    pub attrs: Vec<(String, String)>,
    /// Child elements / properties, in document order.
    pub children: Vec<Input>,
    /// Text content; `None` for JSON objects and elements without text.
    pub text: Option<String>,
}

impl Input {
    /// Parses a body in the given format.
    pub fn parse(bytes: &[u8], format: BodyFormat) -> Result<Input, BodyError> {
        let input = match format {
            BodyFormat::Xml => parse_xml(bytes)?,
            BodyFormat::Json => parse_json(bytes)?,
        };
        // NUL cannot be stored (PostgreSQL text refuses it) and is never meaningful
        // in an EM value; refuse it here rather than fail deeper down.
        if input.contains_nul() {
            return Err(BodyError::Other(
                "The request body contains a NUL character.".into(),
            ));
        }
        Ok(input)
    }

    fn contains_nul(&self) -> bool {
        self.name.contains('\0')
            || self.text.as_deref().is_some_and(|t| t.contains('\0'))
            || self
                .attrs
                .iter()
                .any(|(k, v)| k.contains('\0') || v.contains('\0'))
            || self.children.iter().any(Input::contains_nul)
    }

    /// The first child with this name (case-insensitive).
    pub fn child(&self, name: &str) -> Option<&Input> {
        self.children
            .iter()
            .find(|c| c.name.eq_ignore_ascii_case(name))
    }

    /// Text of the named child; `None` when absent or JSON `null`.
    pub fn text_of(&self, name: &str) -> Option<&str> {
        self.child(name).map(|c| c.text.as_deref().unwrap_or(""))
    }

    /// Text of a required child.
    pub fn required(&self, name: &'static str) -> Result<&str, BodyError> {
        self.text_of(name).ok_or(BodyError::Missing(name))
    }

    /// A boolean child: `true`, `false`, `1`, `0` (case-insensitive).
    pub fn bool_of(&self, name: &'static str) -> Result<Option<bool>, BodyError> {
        self.text_of(name)
            .map(|v| parse_bool(v).ok_or_else(|| invalid(name, v, "a boolean")))
            .transpose()
    }

    /// An unsigned 16-bit child (ports).
    pub fn port_of(&self, name: &'static str) -> Result<Option<u16>, BodyError> {
        self.text_of(name)
            .map(|v| {
                v.trim()
                    .parse::<u16>()
                    .ok()
                    .filter(|p| *p > 0)
                    .ok_or_else(|| invalid(name, v, "a port number from 1 to 65535"))
            })
            .transpose()
    }

    /// Checks the root element name (XML) — JSON bodies carry no root name.
    pub fn expect_root(&self, expected: &'static str) -> Result<(), BodyError> {
        if self.name.is_empty() || self.name.eq_ignore_ascii_case(expected) {
            Ok(())
        } else {
            Err(BodyError::WrongRoot {
                expected,
                found: self.name.clone(),
            })
        }
    }
}

fn invalid(element: &'static str, value: &str, expected: &'static str) -> BodyError {
    let mut value = value.to_string();
    if value.len() > 64 {
        let cut = (0..=64)
            .rev()
            .find(|i| value.is_char_boundary(*i))
            .unwrap_or(0);
        value.truncate(cut);
        value.push('…');
    }
    BodyError::Invalid {
        element,
        value,
        expected,
    }
}

/// Parses EM booleans.
pub fn parse_bool(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "true" | "1" => Some(true),
        "false" | "0" => Some(false),
        _ => None,
    }
}

fn local_name(qname: &[u8]) -> String {
    let local = match qname.iter().rposition(|b| *b == b':') {
        Some(i) => &qname[i + 1..],
        None => qname,
    };
    String::from_utf8_lossy(local).into_owned()
}

fn parse_xml(bytes: &[u8]) -> Result<Input, BodyError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = std::str::from_utf8(bytes).map_err(|_| BodyError::Xml("not UTF-8".into()))?;
    let mut reader = Reader::from_str(text);
    reader.config_mut().trim_text(true);
    let mut stack: Vec<Input> = Vec::new();
    let mut root: Option<Input> = None;
    loop {
        let event = reader
            .read_event()
            .map_err(|e| BodyError::Xml(e.to_string()))?;
        match event {
            Event::Start(start) | Event::Empty(start) if root.is_some() => {
                let _ = start;
                return Err(BodyError::Xml("content after the root element".into()));
            }
            Event::Start(start) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(BodyError::TooDeep);
                }
                stack.push(element(&start)?);
            }
            Event::Empty(start) => {
                let node = element(&start)?;
                close(&mut stack, &mut root, node);
            }
            Event::End(_) => {
                let node = stack
                    .pop()
                    .ok_or_else(|| BodyError::Xml("unexpected end tag".into()))?;
                close(&mut stack, &mut root, node);
            }
            Event::Text(t) => {
                let value = t.unescape().map_err(|e| BodyError::Xml(e.to_string()))?;
                append_text(&mut stack, &value)?;
            }
            Event::CData(c) => {
                let value = String::from_utf8_lossy(&c.into_inner()).into_owned();
                append_text(&mut stack, &value)?;
            }
            Event::DocType(_) => return Err(BodyError::Xml("DTDs are not accepted".into())),
            Event::Eof => break,
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
        }
    }
    if !stack.is_empty() {
        return Err(BodyError::Xml("unexpected end of document".into()));
    }
    root.ok_or_else(|| BodyError::Xml("no root element".into()))
}

fn element(start: &quick_xml::events::BytesStart<'_>) -> Result<Input, BodyError> {
    let mut node = Input {
        name: local_name(start.name().as_ref()),
        ..Default::default()
    };
    for attr in start.attributes() {
        let attr = attr.map_err(|e| BodyError::Xml(e.to_string()))?;
        let key = attr.key.as_ref();
        if key == b"xmlns" || key.starts_with(b"xmlns:") {
            continue;
        }
        let value = attr
            .unescape_value()
            .map_err(|e| BodyError::Xml(e.to_string()))?;
        node.attrs.push((local_name(key), value.into_owned()));
    }
    Ok(node)
}

fn append_text(stack: &mut [Input], value: &str) -> Result<(), BodyError> {
    match stack.last_mut() {
        Some(top) => {
            top.text.get_or_insert_with(String::new).push_str(value);
            Ok(())
        }
        None if value.trim().is_empty() => Ok(()),
        None => Err(BodyError::Xml("text outside the root element".into())),
    }
}

fn close(stack: &mut [Input], root: &mut Option<Input>, node: Input) {
    match stack.last_mut() {
        Some(parent) => parent.children.push(node),
        None => *root = Some(node),
    }
}

fn parse_json(bytes: &[u8]) -> Result<Input, BodyError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    // serde_json refuses nesting beyond 128 levels itself; the tree walk below is
    // bounded by MAX_DEPTH.
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| BodyError::Json(e.to_string()))?;
    if !value.is_object() {
        return Err(BodyError::Json("the body must be a JSON object".into()));
    }
    from_json(String::new(), &value, 0)
}

fn from_json(name: String, value: &serde_json::Value, depth: usize) -> Result<Input, BodyError> {
    if depth > MAX_DEPTH {
        return Err(BodyError::TooDeep);
    }
    let mut node = Input {
        name,
        ..Default::default()
    };
    match value {
        serde_json::Value::Object(map) => {
            for (key, v) in map {
                push_json_child(&mut node, key, v, depth)?;
            }
        }
        serde_json::Value::String(s) => node.text = Some(s.clone()),
        serde_json::Value::Bool(b) => node.text = Some(b.to_string()),
        serde_json::Value::Number(n) => node.text = Some(n.to_string()),
        serde_json::Value::Null | serde_json::Value::Array(_) => {}
    }
    Ok(node)
}

fn push_json_child(
    node: &mut Input,
    key: &str,
    v: &serde_json::Value,
    depth: usize,
) -> Result<(), BodyError> {
    match v {
        // null is the same as absent (json.md J10).
        serde_json::Value::Null => {}
        // A bare array stands for repeated elements of the same name.
        serde_json::Value::Array(items) => {
            for item in items {
                push_json_child(node, key, item, depth + 1)?;
            }
        }
        other => node
            .children
            .push(from_json(key.to_string(), other, depth + 1)?),
    }
    Ok(())
}

/// Decides the body format from `Content-Type`, sniffing when it is absent
/// (conventions.md §4.2). `Ok(None)` means an empty body: no body at all.
pub fn body_format(
    content_type: Option<&str>,
    body: &[u8],
) -> Result<Option<BodyFormat>, BodyError> {
    if body.is_empty() {
        return Ok(None);
    }
    let media = content_type.map(|ct| {
        ct.split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase()
    });
    match media.as_deref() {
        Some("application/xml" | "text/xml") => Ok(Some(BodyFormat::Xml)),
        Some("application/json" | "text/json") => Ok(Some(BodyFormat::Json)),
        Some("") | None => sniff(body),
        Some(other) => Err(BodyError::MediaType(other.chars().take(100).collect())),
    }
}

fn sniff(body: &[u8]) -> Result<Option<BodyFormat>, BodyError> {
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    match body.iter().find(|b| !b.is_ascii_whitespace()) {
        None => Ok(None),
        Some(b'<') => Ok(Some(BodyFormat::Xml)),
        Some(b'{') => Ok(Some(BodyFormat::Json)),
        Some(_) => Err(BodyError::Other(
            "The request body is neither XML nor JSON: send it with Content-Type application/xml or application/json."
                .into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn reads_xml_with_namespace_prolog_and_bom() {
        let body = "\u{feff}<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<LoginSpec xmlns=\"http://www.veeam.com/ent/v1.0\" xmlns:xsi=\"x\"><TenantCredentials><Username>ABC &amp; Co</Username><Password>Qwe123</Password></TenantCredentials></LoginSpec>";
        let input = Input::parse(body.as_bytes(), BodyFormat::Xml).unwrap();
        assert_eq!(input.name, "LoginSpec");
        let creds = input.child("tenantcredentials").unwrap();
        assert_eq!(creds.text_of("Username"), Some("ABC & Co"));
    }

    #[test]
    fn reads_json_case_insensitively_and_treats_null_as_absent() {
        let body = br#"{"startNow": true, "StartDate": null}"#;
        let input = Input::parse(body, BodyFormat::Json).unwrap();
        assert_eq!(input.bool_of("StartNow"), Ok(Some(true)));
        assert_eq!(input.text_of("StartDate"), None);
    }

    #[test]
    fn refuses_malformed_and_hostile_xml() {
        for body in [
            "<a><b></a>",
            "<a>",
            "<!DOCTYPE a [<!ENTITY x \"y\">]><a>&x;</a>",
            "<a>&unknown;</a>",
            "<a/><b/>",
            "text",
        ] {
            assert!(
                Input::parse(body.as_bytes(), BodyFormat::Xml).is_err(),
                "{body}"
            );
        }
        let deep = "<a>".repeat(100) + &"</a>".repeat(100);
        assert_eq!(
            Input::parse(deep.as_bytes(), BodyFormat::Xml),
            Err(BodyError::TooDeep)
        );
    }

    #[test]
    fn refuses_nul_characters_in_any_value() {
        let body = br#"{"TenantCredentials": {"Username": "a\u0000b", "Password": "x"}}"#;
        assert!(matches!(
            Input::parse(body, BodyFormat::Json),
            Err(BodyError::Other(_))
        ));
        assert!(Input::parse(b"<a>&#0;</a>", BodyFormat::Xml).is_err());
    }

    #[test]
    fn refuses_non_object_json() {
        for body in ["[]", "1", "\"x\"", "{", "{\"a\":}"] {
            assert!(
                Input::parse(body.as_bytes(), BodyFormat::Json).is_err(),
                "{body}"
            );
        }
    }

    #[test]
    fn chooses_the_format_from_content_type_or_by_sniffing() {
        assert_eq!(body_format(Some("application/json"), b""), Ok(None));
        assert_eq!(
            body_format(Some("application/x-www-form-urlencoded"), b""),
            Ok(None)
        );
        assert_eq!(body_format(None, b"  <a/>"), Ok(Some(BodyFormat::Xml)));
        assert_eq!(body_format(None, b"{}"), Ok(Some(BodyFormat::Json)));
        assert_eq!(
            body_format(Some("text/xml; charset=utf-8"), b"<a/>"),
            Ok(Some(BodyFormat::Xml))
        );
        assert!(body_format(Some("application/x-www-form-urlencoded"), b"StartNow=True").is_err());
        assert!(body_format(None, b"StartNow=True").is_err());
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = Input::parse(&bytes, BodyFormat::Xml);
            let _ = Input::parse(&bytes, BodyFormat::Json);
            let _ = body_format(None, &bytes);
        }
    }
}
