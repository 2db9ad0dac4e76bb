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
    NotFound { kind: &'static str, id: String },
    /// 404: no such resource path.
    #[error("Resource [{0}] was not found.")]
    NoSuchPath(String),
    /// 405: the verb is not supported on the resource.
    #[error("Method [{method}] is not allowed for resource [{path}].")]
    MethodNotAllowed {
        method: String,
        path: String,
        allow: String,
    },
    /// 501: an EM resource outside this server's contract.
    #[error("Resource [{0}] is not supported by this server.")]
    NotImplemented(String),
    /// 503: a query ran past the per-query budget (`--query-budget-ms`).
    #[error("The query did not finish within {} ms. Narrow the filter, or ask for an earlier or a later page.", .0.as_millis())]
    QueryTooLong(std::time::Duration),
    /// 503: the store cannot be reached.
    #[error("The service is temporarily unavailable.")]
    Unavailable(String),
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
            ApiError::NotFound { .. } | ApiError::NoSuchPath(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
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

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => {
                ApiError::Internal("an object referenced by another was not found".into())
            }
            StoreError::Conflict(m) => {
                ApiError::BadRequest(format!("The request conflicts with existing data: {m}"))
            }
            StoreError::Backend(m) => ApiError::Unavailable(m),
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
            ApiError::Unavailable(cause) => tracing::error!(%cause, "store unavailable"),
            ApiError::QueryTooLong(budget) => {
                tracing::warn!(
                    budget_ms = budget.as_millis() as u64,
                    "query ended at its budget"
                )
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
            ApiError::MethodNotAllowed { allow, .. } => {
                if let Ok(v) = HeaderValue::from_str(allow) {
                    response.headers_mut().insert(header::ALLOW, v);
                }
            }
            _ => {}
        }
        response
            .extensions_mut()
            .insert(Pending::Error(self.to_string()));
        response
    }
}
