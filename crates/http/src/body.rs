//! Request bodies: the format comes from `Content-Type` (sniffed when absent), an
//! empty body is no body whatever its type (conventions.md §4.2).

use crate::ApiError;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header::CONTENT_TYPE;
use entman_repr::input::body_format;
use entman_repr::Input;

/// An optional parsed request body.
#[derive(Debug, Clone)]
pub struct Body(pub Option<Input>);

impl<S: Send + Sync> FromRequest<S> for Body {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let content_type = request
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| {
                if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::TooLarge
                } else {
                    ApiError::BadRequest(format!("The request body could not be read: {rejection}"))
                }
            })?;
        let Some(format) = body_format(content_type.as_deref(), &bytes)? else {
            return Ok(Body(None));
        };
        Ok(Body(Some(Input::parse(&bytes, format)?)))
    }
}
