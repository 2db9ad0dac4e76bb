//! Query parameters: names matched case-insensitively, the first occurrence wins,
//! unknown parameters ignored (conventions.md §2.5–2.6).

use crate::ApiError;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use percent_encoding::percent_decode_str;

/// The decoded query parameters of a request, in order.
#[derive(Debug, Clone, Default)]
pub struct Params(pub Vec<(String, String)>);

impl Params {
    /// Parses a raw query string (`a=b&c=d`); `+` is a space, `%xx` is decoded,
    /// invalid UTF-8 is replaced.
    pub fn parse(query: &str) -> Params {
        let decode = |s: &str| {
            percent_decode_str(&s.replace('+', " "))
                .decode_utf8_lossy()
                .into_owned()
        };
        Params(
            query
                .split('&')
                .filter(|p| !p.is_empty())
                .map(|pair| match pair.split_once('=') {
                    Some((k, v)) => (decode(k), decode(v)),
                    None => (decode(pair), String::new()),
                })
                .collect(),
        )
    }

    /// The first value of a parameter, by case-insensitive name.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The `format` parameter: reference (default) or entity representation.
    pub fn representation(&self) -> Result<Representation, ApiError> {
        match self.get("format") {
            None => Ok(Representation::Reference),
            Some(v) => Representation::parse(v).ok_or_else(|| ApiError::unsupported_format(v)),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Params::parse(parts.uri.query().unwrap_or("")))
    }
}

pub use entman_repr::resources::Representation;

/// API version names accepted at logon (conventions.md §3), with the name stored.
pub fn api_version(v: Option<&str>) -> Result<String, ApiError> {
    let Some(v) = v else { return Ok("v1_7".into()) };
    let lower = v.trim().to_ascii_lowercase();
    let canonical = match lower.as_str() {
        "latest" => "v1_7",
        "v1" | "v1_0" => "v1",
        "v1_1" | "v1_2" | "v1_3" | "v1_4" | "v1_5" | "v1_6" | "v1_7" => lower.as_str(),
        _ => return Err(ApiError::unsupported_api_version(v)),
    };
    Ok(canonical.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_case_insensitive_and_the_first_occurrence_wins() {
        let p = Params::parse("Format=Entity&format=refs&v=latest&flag");
        assert_eq!(p.get("FORMAT"), Some("Entity"));
        assert_eq!(p.get("flag"), Some(""));
        assert_eq!(p.representation().unwrap(), Representation::Entity);
    }

    #[test]
    fn values_are_percent_decoded() {
        let p = Params::parse("filter=result%3d%3d%22Failed%22+x&bad=%ff");
        assert_eq!(p.get("filter"), Some("result==\"Failed\" x"));
        assert_eq!(p.get("bad"), Some("\u{fffd}"));
    }

    #[test]
    fn format_values_are_checked() {
        for ok in ["entity", "Entities", "REFS", "Reference", "ref"] {
            assert!(Representation::parse(ok).is_some(), "{ok}");
        }
        assert!(Params::parse("format=xml").representation().is_err());
    }

    #[test]
    fn every_historical_api_version_is_accepted() {
        for v in ["v1", "v1_0", "v1_4", "V1_5", "v1_7", "latest", "LATEST"] {
            assert!(api_version(Some(v)).is_ok(), "{v}");
        }
        assert_eq!(api_version(None).unwrap(), "v1_7");
        assert!(api_version(Some("v2")).is_err());
    }
}
