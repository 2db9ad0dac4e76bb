//! Request bodies: the format comes from `Content-Type` (sniffed when absent), an
//! empty body is no body whatever its type (conventions.md §4.2), another media
//! type with a non-empty body is `415`, and a body over the limit is `413`.
//!
//! The body is read and parsed when the extractor runs, but the outcome is kept
//! until the handler asks for it ([`Body::read`]): endpoints that take no body
//! (plan `test` and `undo`) never ask, so they ignore any body, whatever its type.
//!
//! A body over the limit is read on and discarded, up to [`DRAIN_LIMIT`] bytes and
//! for at most [`DRAIN_TIME`], before the `413` is answered (errors.md §2): a client
//! still sending when the server closes would see a reset instead of the answer.

use crate::{ApiError, AppState};
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE, EXPECT};
use axum::http::HeaderMap;
use entman_repr::input::body_format;
use entman_repr::Input;
use http_body_util::BodyExt;
use std::time::Duration;

/// How much of an oversized body is read and discarded before answering `413`.
pub const DRAIN_LIMIT: usize = 64 * 1024 * 1024;

/// How long an oversized body is read before answering `413` anyway.
pub const DRAIN_TIME: Duration = Duration::from_secs(15);

/// A request body: nothing, a parsed body, or why it cannot be read.
#[derive(Debug)]
pub struct Body(Result<Option<Input>, ApiError>);

impl Body {
    /// The parsed body (`None` for no body), or the error that reading it gave.
    pub fn read(self) -> Result<Option<Input>, ApiError> {
        self.0
    }
}

impl FromRequest<AppState> for Body {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let (parts, body) = request.into_parts();
        let bytes = read_limited(&parts.headers, body, state.config.max_body_bytes).await?;
        let content_type = parts
            .headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok());
        let parsed = body_format(content_type, &bytes)
            .map_err(ApiError::from)
            .and_then(|format| match format {
                None => Ok(None),
                Some(format) => Ok(Some(Input::parse(&bytes, format)?)),
            });
        Ok(Body(parsed))
    }
}

/// Reads a whole body of at most `limit` bytes.
async fn read_limited(
    headers: &HeaderMap,
    mut body: axum::body::Body,
    limit: usize,
) -> Result<Bytes, ApiError> {
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let expects_continue = headers
        .get(EXPECT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("100-continue"));
    if declared.is_some_and(|n| n > limit as u64) && expects_continue {
        // The client waits for `100 Continue` before it sends the body, which is
        // only sent once the body is read: answering now sends nothing it waits on.
        return Err(ApiError::TooLarge);
    }
    let mut buffer = Vec::with_capacity(declared.map_or(0, |n| n.min(limit as u64) as usize));
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(ApiError::body_unreadable)?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        if buffer.len() + data.len() > limit {
            drain(body, buffer.len() + data.len()).await;
            return Err(ApiError::TooLarge);
        }
        buffer.extend_from_slice(&data);
    }
    Ok(Bytes::from(buffer))
}

/// Reads and discards the rest of a body, within [`DRAIN_LIMIT`] and [`DRAIN_TIME`].
async fn drain(mut body: axum::body::Body, mut seen: usize) {
    let _ = tokio::time::timeout(DRAIN_TIME, async {
        while seen <= DRAIN_LIMIT {
            match body.frame().await {
                Some(Ok(frame)) => {
                    seen += frame.data_ref().map_or(0, axum::body::Bytes::len);
                }
                _ => break,
            }
        }
    })
    .await;
}
