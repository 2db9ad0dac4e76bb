//! The read model: rendered answers kept per caller class and request, served
//! without going to the store while the state they were rendered from is current.
//!
//! * A handler opts in by marking its [`crate::Reply`] [`Cacheable`] (with the
//!   instant its answer expires by itself, for windows such as "the last 30 days").
//!   Only `200` answers that carry the mark are kept. Answers that show the caller's
//!   own logon session or tasks are never marked.
//! * The key holds everything such an answer depends on besides the stored state:
//!   the negotiated format, the caller's class (a tenant by id; an account by its
//!   set of roles, which fixes its rights, viewer kind and scope), the link base and
//!   the request's path and query. A tenant never shares an entry with another
//!   tenant or with an account.
//! * An entry is filed under the store's [`entman_store::Store::state_version`] as
//!   noted *before* the handler read the store; a lookup serves it only while the
//!   version is still the same (any write moves it) and its own expiry has not
//!   come. Over a store that does not track its writes nothing is kept.
//! * Bounded: at most [`MAX_ENTRIES`] entries and [`MAX_BYTES`] of bodies; answers
//!   above [`MAX_BODY`] are not kept. When full, entries of older versions go
//!   first, then everything.

use axum::body::Bytes;
use axum::http::HeaderValue;
use entman_model::auth::{Principal, Role};
use entman_model::Timestamp;
use entman_repr::{Format, JsonStyle};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// Most entries kept.
pub const MAX_ENTRIES: usize = 4096;
/// Most body bytes kept in all.
pub const MAX_BYTES: usize = 16 * 1024 * 1024;
/// Largest body kept.
pub const MAX_BODY: usize = 1024 * 1024;

/// The mark of a cacheable answer: it may be served again until the state changes
/// or `until` comes, whichever is first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cacheable {
    /// When the answer goes stale by itself (a window moving with the clock).
    pub until: Option<Timestamp>,
}

/// One kept answer.
#[derive(Debug)]
pub struct Entry {
    /// The state version the answer was rendered from (noted before reading).
    pub version: u64,
    /// When it goes stale by itself.
    pub until: Option<Timestamp>,
    /// Its `Content-Type`.
    pub content_type: HeaderValue,
    /// Its body.
    pub body: Bytes,
    /// The route template it was answered by, for metrics.
    pub route: Option<Arc<str>>,
}

/// The kept answers.
#[derive(Debug, Default)]
pub struct ResponseCache {
    inner: RwLock<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    entries: HashMap<String, Arc<Entry>>,
    bytes: usize,
}

impl ResponseCache {
    /// The entry under `key`, if it is current at `version` and `now`.
    pub fn get(&self, key: &str, version: u64, now: Timestamp) -> Option<Arc<Entry>> {
        let inner = self
            .inner
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let entry = inner.entries.get(key)?;
        let fresh = entry.version == version && entry.until.is_none_or(|u| now < u);
        fresh.then(|| entry.clone())
    }

    /// Keeps an answer (unless it is too large).
    pub fn put(&self, key: String, entry: Entry) {
        if entry.body.len() > MAX_BODY {
            return;
        }
        let mut inner = self
            .inner
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let size = entry.body.len() + key.len();
        if inner.entries.len() >= MAX_ENTRIES || inner.bytes + size > MAX_BYTES {
            let version = entry.version;
            inner.entries.retain(|_, e| e.version == version);
            inner.bytes = inner
                .entries
                .iter()
                .map(|(k, e)| k.len() + e.body.len())
                .sum();
            if inner.entries.len() >= MAX_ENTRIES || inner.bytes + size > MAX_BYTES {
                inner.entries.clear();
                inner.bytes = 0;
            }
        }
        if let Some(old) = inner.entries.insert(key.clone(), Arc::new(entry)) {
            inner.bytes -= old.body.len() + key.len();
        }
        inner.bytes += size;
    }

    /// How many answers are kept (for tests and metrics).
    pub fn len(&self) -> usize {
        self.inner
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entries
            .len()
    }

    /// Whether nothing is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The response of a kept answer.
pub fn answer(entry: &Entry) -> axum::response::Response {
    let mut response = axum::response::Response::new(axum::body::Body::from(entry.body.clone()));
    let headers = response.headers_mut();
    headers.insert(axum::http::header::CONTENT_TYPE, entry.content_type.clone());
    headers.insert(
        axum::http::header::CONTENT_LENGTH,
        HeaderValue::from(entry.body.len()),
    );
    if let Some(route) = &entry.route {
        response
            .extensions_mut()
            .insert(crate::control::RouteTemplate(route.clone()));
    }
    response
}

/// Keeps a rendered response if its handler marked it [`Cacheable`] and it is a
/// `200`; gives the response back either way.
pub async fn keep(
    cache: &ResponseCache,
    key: String,
    version: u64,
    response: axum::response::Response,
) -> axum::response::Response {
    let Some(mark) = response.extensions().get::<Cacheable>().copied() else {
        return response;
    };
    if response.status() != axum::http::StatusCode::OK {
        return response;
    }
    let Some(content_type) = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .cloned()
    else {
        return response;
    };
    // Only answers of a known size within the bound are kept; others go out as they are.
    let length = response
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if length.is_none_or(|n| n > MAX_BODY) {
        return response;
    }
    let route = response
        .extensions()
        .get::<crate::control::RouteTemplate>()
        .map(|r| r.0.clone());
    let (parts, body) = response.into_parts();
    let body = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(body) => body,
        Err(e) => {
            // A rendered body is in memory and of the size it says, so this is a
            // bug; the answer must not go out truncated.
            tracing::error!(error = %e, "reading a rendered answer for the cache");
            return axum::response::IntoResponse::into_response(
                axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            );
        }
    };
    cache.put(
        key,
        Entry {
            version,
            until: mark.until,
            content_type,
            body: body.clone(),
            route,
        },
    );
    axum::response::Response::from_parts(parts, axum::body::Body::from(body))
}

/// The cache key of a request: format, caller class, link base, path and query.
pub fn key(format: Format, principal: &Principal, base: &str, path_and_query: &str) -> String {
    let format = match format {
        Format::Xml => "x",
        Format::Json(JsonStyle::Em12) => "j12",
        Format::Json(JsonStyle::Em13) => "j13",
    };
    let mut key = String::with_capacity(96 + base.len() + path_and_query.len());
    key.push_str(format);
    key.push('\u{1f}');
    match principal {
        Principal::Tenant { id } => {
            key.push_str("t:");
            // A GUID's hyphenated text, without a temporary String.
            let mut buf = uuid::Uuid::encode_buffer();
            key.push_str(id.0.hyphenated().encode_lower(&mut buf));
        }
        Principal::Account { roles, .. } => {
            // The set of roles, as a bit per role of `Role::ALL`.
            let mask = roles.iter().fold(0u64, |mask, role| {
                let bit = Role::ALL.iter().position(|r| r == role).unwrap_or(63);
                mask | (1 << bit)
            });
            key.push_str("a:");
            key.push_str(&mask.to_string());
        }
    }
    for part in [base, path_and_query] {
        key.push('\u{1f}');
        key.push_str(part);
    }
    key
}

#[cfg(test)]
mod tests {
    use super::*;
    use entman_model::ids::{AccountId, TenantId};

    fn entry(version: u64, until: Option<Timestamp>, body: &'static str) -> Entry {
        Entry {
            version,
            until,
            content_type: HeaderValue::from_static("application/xml"),
            route: None,
            body: Bytes::from_static(body.as_bytes()),
        }
    }

    #[test]
    fn entries_serve_only_their_version_and_before_their_expiry() {
        let cache = ResponseCache::default();
        let now = Timestamp::now();
        cache.put("k".into(), entry(3, Some(now.plus_millis(1000)), "a"));
        assert!(cache.get("k", 3, now).is_some());
        assert!(cache.get("k", 4, now).is_none());
        assert!(cache.get("k", 3, now.plus_millis(1000)).is_none());
        assert!(cache.get("other", 3, now).is_none());
    }

    #[tokio::test]
    async fn answers_above_the_bound_go_out_whole_and_are_not_kept() {
        let cache = ResponseCache::default();
        let big = vec![b'x'; MAX_BODY + 10];
        let mut response = axum::response::Response::new(axum::body::Body::from(big.clone()));
        response.headers_mut().insert(
            axum::http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/xml"),
        );
        response.headers_mut().insert(
            axum::http::header::CONTENT_LENGTH,
            HeaderValue::from(big.len()),
        );
        response.extensions_mut().insert(Cacheable { until: None });
        let out = keep(&cache, "k".into(), 1, response).await;
        let body = axum::body::to_bytes(out.into_body(), usize::MAX)
            .await
            .unwrap();
        assert_eq!(body.len(), big.len());
        assert!(cache.is_empty());
    }

    #[test]
    fn the_cache_stays_bounded() {
        let cache = ResponseCache::default();
        for i in 0..(MAX_ENTRIES + 10) {
            cache.put(format!("k{i}"), entry(1, None, "body"));
        }
        assert!(cache.len() <= MAX_ENTRIES);
        let big = vec![b'x'; MAX_BODY + 1];
        cache.put(
            "big".into(),
            Entry {
                body: Bytes::from(big),
                ..entry(1, None, "")
            },
        );
        assert!(cache.get("big", 1, Timestamp::now()).is_none());
    }

    #[test]
    fn keys_separate_tenants_role_sets_formats_and_bases() {
        let t1 = Principal::Tenant {
            id: TenantId::new_random(),
        };
        let t2 = Principal::Tenant {
            id: TenantId::new_random(),
        };
        let admin = Principal::Account {
            id: AccountId::new_random(),
            roles: vec![Role::PortalAdministrator],
        };
        let other_admin = Principal::Account {
            id: AccountId::new_random(),
            roles: vec![Role::PortalAdministrator],
        };
        let user = Principal::Account {
            id: AccountId::new_random(),
            roles: vec![Role::PortalUser],
        };
        let k = |p: &Principal, f: Format, base: &str| key(f, p, base, "/api/x?y");
        let xml = Format::Xml;
        assert_ne!(k(&t1, xml, "b"), k(&t2, xml, "b"));
        assert_ne!(k(&t1, xml, "b"), k(&admin, xml, "b"));
        assert_ne!(k(&admin, xml, "b"), k(&user, xml, "b"));
        assert_eq!(k(&admin, xml, "b"), k(&other_admin, xml, "b"));
        assert_ne!(
            k(&admin, xml, "b"),
            k(&admin, Format::Json(JsonStyle::Em12), "b")
        );
        assert_ne!(k(&admin, xml, "b"), k(&admin, xml, "c"));
    }
}
