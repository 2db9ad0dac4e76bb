//! `ApiError`: every failure a handler can report, mapped to an HTTP status and an
//! EM `Error` body in exactly one place ([`ApiError::status`] and `IntoResponse`).
//!
//! The body is not rendered here: the response carries the error as an extension
//! and the render layer ([`crate::render`]) writes it in the negotiated format.

use crate::render::Pending;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use entman_repr::BodyError;
use entman_store::StoreError;

/// The message of a 503: the store, or a fault rule, made the service unavailable.
const UNAVAILABLE: &str = "The service is temporarily unavailable.";

/// The `Message` of the EM `Error` that a fault rule (controls.md §3) answers
/// with `status`.
pub(crate) fn injected_message(status: StatusCode) -> String {
    match status {
        StatusCode::SERVICE_UNAVAILABLE => UNAVAILABLE.to_string(),
        StatusCode::TOO_MANY_REQUESTS => "Too many requests. Try again later.".to_string(),
        s => s.canonical_reason().unwrap_or("Error").to_string(),
    }
}

/// Errors answered to API clients.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the request is malformed; the message says what was wrong.
    #[error("{0}")]
    BadRequest(String),
    /// 415: a non-empty request body in a media type other than XML or JSON.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// 413: the request body is larger than the configured limit.
    #[error("The request body is too large.")]
    TooLarge,
    /// 401: no, unknown, expired or deleted logon session.
    #[error("Authorization required. The logon session is not specified or has expired.")]
    Unauthorized,
    /// 401: wrong credentials on logon.
    #[error("The user name or password is incorrect.")]
    BadCredentials,
    /// 429: too many failed logons for this account or address.
    #[error("Too many failed logon attempts. Try again in {0} seconds.")]
    TooManyAttempts(u64),
    /// 403: the caller's role does not allow this.
    #[error("Access denied.")]
    Forbidden,
    /// 404: no such object (or not visible to the caller).
    #[error("{kind} with ID [{id}] was not found.")]
    NotFound {
        /// The object's kind as messages name it (`CloudFailoverPlan`).
        kind: &'static str,
        /// The id as the request gave it (clipped).
        id: String,
    },
    /// 404: an object the request needed is gone, where no handler said which
    /// (the safe default of a store's "not found": never a 500, never a leak).
    #[error("The requested object was not found.")]
    Missing,
    /// 404: no such resource path.
    #[error("Resource [{0}] was not found.")]
    NoSuchPath(String),
    /// 501: an EM resource outside this server's contract.
    #[error("Resource [{0}] is not supported by this server.")]
    NotImplemented(String),
    /// 503: a query ran past the per-query budget (`--query-budget-ms`).
    #[error("The query did not finish within {} ms. Narrow the filter, or ask for an earlier or a later page.", .0.as_millis())]
    QueryTooLong(std::time::Duration),
    /// 503: the store cannot be reached (the cause is logged, not returned).
    #[error("{}", UNAVAILABLE)]
    Unavailable(#[source] StoreError),
    /// 500: an unexpected failure; the cause is logged, not returned.
    #[error("An internal error occurred.")]
    Internal(String),
}

impl ApiError {
    /// A 404 for an object of a kind.
    pub fn not_found(kind: &'static str, id: impl ToString) -> ApiError {
        let mut id = id.to_string();
        if id.len() > 128 {
            let cut = (0..=128)
                .rev()
                .find(|i| id.is_char_boundary(*i))
                .unwrap_or(0);
            id.truncate(cut);
            id.push('…');
        }
        ApiError::NotFound { kind, id }
    }

    /// The HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Unauthorized | ApiError::BadCredentials => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden => StatusCode::FORBIDDEN,
            ApiError::TooManyAttempts(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::NotFound { .. } | ApiError::Missing | ApiError::NoSuchPath(_) => {
                StatusCode::NOT_FOUND
            }
            ApiError::NotImplemented(_) => StatusCode::NOT_IMPLEMENTED,
            ApiError::Unavailable(_) | ApiError::QueryTooLong(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Maps a store error for an object of `kind` with `id`.
    pub fn from_store(e: StoreError, kind: &'static str, id: impl ToString) -> ApiError {
        match e {
            StoreError::NotFound => ApiError::not_found(kind, id),
            other => other.into(),
        }
    }
}

/// The 400s and 501s of the handlers, with their messages. User text in a
/// message is clipped ([`clip`]) so an answer never echoes a whole hostile value.
impl ApiError {
    /// The request body stopped arriving or was malformed at the HTTP level.
    pub fn body_unreadable(cause: impl std::fmt::Display) -> ApiError {
        ApiError::BadRequest(format!("The request body could not be read: {cause}"))
    }

    /// A `format` value other than the entity or the reference representation.
    pub fn unsupported_format(value: &str) -> ApiError {
        ApiError::BadRequest(format!(
            "The value [{}] of parameter [format] is not supported: use Entity or References.",
            clip(value, 64)
        ))
    }

    /// An API version the logon does not know.
    pub fn unsupported_api_version(value: &str) -> ApiError {
        ApiError::BadRequest(format!(
            "API version [{}] is not supported.",
            clip(value, 32)
        ))
    }

    /// A request line that could not be split into method, target and version.
    pub fn malformed_request_line() -> ApiError {
        ApiError::BadRequest(
            "The request line is malformed: it must be a method, a target without spaces and an HTTP version.".into(),
        )
    }

    /// `POST` on a cloud failover plan without `?action=`.
    pub fn plan_action_missing() -> ApiError {
        ApiError::BadRequest(
            "A cloud failover plan action needs ?action=start, test or undo.".into(),
        )
    }

    /// A plan `?action=` other than start, test or undo.
    pub fn plan_action_unknown(action: &str) -> ApiError {
        ApiError::BadRequest(format!(
            "Action [{}] is not supported on a cloud failover plan: use start, test or undo.",
            clip(action, 32)
        ))
    }

    /// `POST /api/backupServers` without `?action=create`.
    pub fn server_create_needs_action() -> ApiError {
        ApiError::BadRequest("POST on backupServers needs ?action=create.".into())
    }

    /// A backup server `?action=` other than collect (or the out-of-scope ones).
    pub fn server_action_unknown() -> ApiError {
        ApiError::BadRequest("Use ?action=collect on a backup server.".into())
    }

    /// A job `?action=` that is missing or unknown (jobs.md §5).
    pub fn job_action_unknown() -> ApiError {
        ApiError::BadRequest(
            "Use ?action=start, stop, retry, sync or toggleScheduleEnabled on a job.".into(),
        )
    }

    /// A backup session `?action=` that is missing or unknown (job-sessions.md §7).
    pub fn job_session_action_unknown() -> ApiError {
        ApiError::BadRequest("Use ?action=stop on a backup session.".into())
    }

    /// A backup server whose name another server has.
    pub fn server_exists(name: &str) -> ApiError {
        ApiError::BadRequest(format!("Backup server [{name}] is already added."))
    }

    /// A query without `type`.
    pub fn query_type_missing() -> ApiError {
        ApiError::BadRequest("Parameter [type] is required.".into())
    }

    /// A query type EM does not have.
    pub fn query_type_unknown(name: &str) -> ApiError {
        ApiError::BadRequest(format!("Query type [{}] is not supported.", clip(name, 64)))
    }

    /// A filter that does not parse or does not fit its type's fields.
    pub fn filter_invalid(cause: impl std::fmt::Display) -> ApiError {
        ApiError::BadRequest(format!("Failed to parse filter: {cause}."))
    }

    /// A `sortAsc`/`sortDesc` field the query type does not have.
    pub fn sort_field_unknown(field: &str, query_type: &str) -> ApiError {
        ApiError::BadRequest(format!(
            "Failed to sort: [{}] is not a field of {query_type}.",
            clip(field, 64)
        ))
    }

    /// A paging parameter that is not a positive integer.
    pub fn not_positive(parameter: &str, value: &str) -> ApiError {
        ApiError::BadRequest(format!(
            "The value [{}] of parameter [{parameter}] must be a positive integer.",
            clip(value, 32)
        ))
    }

    /// A `pageSize` above the largest page.
    pub fn page_size_too_large(max: u64) -> ApiError {
        ApiError::BadRequest(format!("Parameter [pageSize] must not be above {max}."))
    }
}

/// At most `chars` characters of `text`.
fn clip(text: &str, chars: usize) -> String {
    text.chars().take(chars).collect()
}

/// `.or_404(kind, id)` on a store result: "not found" becomes the 404 of that
/// object (`<kind> with ID [<id>] was not found.`), anything else maps as usual.
pub trait OrNotFound<T> {
    /// See the trait.
    fn or_404(self, kind: &'static str, id: impl ToString) -> Result<T, ApiError>;
}

impl<T> OrNotFound<T> for Result<T, StoreError> {
    fn or_404(self, kind: &'static str, id: impl ToString) -> Result<T, ApiError> {
        self.map_err(|e| ApiError::from_store(e, kind, id))
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => ApiError::Missing,
            StoreError::Conflict(m) => {
                ApiError::BadRequest(format!("The request conflicts with existing data: {m}"))
            }
            e @ StoreError::Backend(_) => ApiError::Unavailable(e),
            StoreError::Corrupt(m) => ApiError::Internal(m),
        }
    }
}

impl From<BodyError> for ApiError {
    fn from(e: BodyError) -> Self {
        match e {
            BodyError::MediaType(_) => ApiError::UnsupportedMediaType(e.to_string()),
            other => ApiError::BadRequest(other.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        match &self {
            ApiError::Internal(cause) => tracing::error!(%cause, "internal error"),
            ApiError::Unavailable(cause) => {
                let cause: &dyn std::error::Error = cause;
                tracing::error!(error = cause, "store unavailable");
            }
            ApiError::QueryTooLong(budget) => {
                tracing::warn!(
                    budget_ms = budget.as_millis() as u64,
                    "query ended at its budget"
                );
            }
            _ => {}
        }
        let mut response = status.into_response();
        match &self {
            ApiError::Unauthorized | ApiError::BadCredentials => {
                response.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Basic Realm=RestSvc"),
                );
            }
            ApiError::TooManyAttempts(seconds) => {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(*seconds));
            }
            _ => {}
        }
        response
            .extensions_mut()
            .insert(Pending::Error(self.to_string()));
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_store_not_found_is_a_404_by_default_and_names_the_object_with_or_404() {
        let bare: ApiError = StoreError::NotFound.into();
        assert_eq!(bare.status(), StatusCode::NOT_FOUND);
        let named = Err::<(), _>(StoreError::NotFound)
            .or_404("CloudFailoverPlan", "urn:veeam:CloudFailoverPlan:x")
            .unwrap_err();
        assert_eq!(named.status(), StatusCode::NOT_FOUND);
        assert_eq!(
            named.to_string(),
            "CloudFailoverPlan with ID [urn:veeam:CloudFailoverPlan:x] was not found."
        );
    }

    #[test]
    fn a_backend_failure_is_a_503_that_keeps_the_driver_error_as_its_source() {
        let driver = std::io::Error::other("connection refused");
        let e: ApiError = StoreError::Backend(Box::new(driver)).into();
        assert_eq!(e.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(e.to_string(), UNAVAILABLE);
        let store = std::error::Error::source(&e).expect("the store error");
        let cause = store.source().expect("the driver error");
        assert_eq!(cause.to_string(), "connection refused");
        let other: ApiError = StoreError::Conflict("duplicate".into()).into();
        assert_eq!(other.status(), StatusCode::BAD_REQUEST);
    }
}
