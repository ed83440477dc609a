//! What the MCP surface needs from devpulse, and nothing more.

use std::{fmt, future::Future};

use rmcp::ErrorData;
use serde_json::{json, Value};

/// Where devpulse's data lives for the MCP surface: the server implements it with direct store
/// calls, the collector CLI over the REST API (with a local fallback).
///
/// Every method gets the request's [`Cx`]. Over Streamable HTTP it carries the HTTP request's
/// [`http::request::Parts`], so the implementation learns *per request* who is calling (the
/// API-key middleware's extension, headers); over stdio it carries nothing.
///
/// The JSON values have the shapes of the REST API's answers (see each method); the MCP layer
/// reads them leniently, so extra fields are passed through and missing ones are skipped.
///
/// Implementations may use `async fn` in their `impl` block.
pub trait Backend: Send + Sync + 'static {
    /// Writes `items`: typed items of `POST /api/v1/ingest/batch` (`type`, `timestamp`, `id`,
    /// `session_id`, `tool_name`, ...). Returns that endpoint's answer:
    /// `{"accepted", "duplicates", "rejected", "items": [{"index", "status", "errors"?}]}`.
    fn record(
        &self,
        cx: &Cx,
        items: Vec<Value>,
    ) -> impl Future<Output = Result<Value, BackendError>> + Send;

    /// With `q.id`, one session (`GET /api/v1/metrics/sessions/{id}`; the range does not
    /// apply); otherwise up to `q.limit` sessions started in `q.range`, newest first
    /// (`GET /api/v1/metrics/sessions`: `{"sessions": [...], "next_before"}`).
    fn sessions(
        &self,
        cx: &Cx,
        q: SessionQuery,
    ) -> impl Future<Output = Result<Value, BackendError>> + Send;

    /// Per-tool statistics in `range` (`GET /api/v1/metrics/tools`:
    /// `{"from", "to", "tools": [{"tool", "executions", "failures", "success_rate", ...}]}`).
    fn tools(
        &self,
        cx: &Cx,
        range: Range,
    ) -> impl Future<Output = Result<Value, BackendError>> + Send;

    /// Totals in `range` (`GET /api/v1/dashboard/summary`:
    /// `{"from", "to", "grain", "total": {...}, "users": [{"user_id", "email", ...}]}`).
    fn summary(
        &self,
        cx: &Cx,
        range: Range,
    ) -> impl Future<Output = Result<Value, BackendError>> + Send;
}

/// The request a [`Backend`] call serves.
#[derive(Clone, Debug, Default)]
pub struct Cx {
    /// The HTTP request's parts (method, URI, headers and the extensions that middleware
    /// inserted, such as the authenticated caller) when served over Streamable HTTP; `None`
    /// over stdio.
    pub parts: Option<http::request::Parts>,
}

impl Cx {
    /// A context for a request that came with these HTTP parts (or none).
    pub fn new(parts: Option<http::request::Parts>) -> Self {
        Cx { parts }
    }

    /// An extension of the HTTP request, e.g. what an authentication middleware inserted.
    pub fn extension<T: Send + Sync + 'static>(&self) -> Option<&T> {
        self.parts.as_ref()?.extensions.get::<T>()
    }

    /// A header of the HTTP request.
    pub fn header(&self, name: impl http::header::AsHeaderName) -> Option<&http::HeaderValue> {
        self.parts.as_ref()?.headers.get(name)
    }
}

/// `[from, to)`: the one range type of server, browser and MCP.
pub use types::TimeRange as Range;

/// Which sessions [`Backend::sessions`] answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionQuery {
    /// One session by id; then `range` and `limit` do not apply.
    pub id: Option<String>,
    /// Sessions that started in this range.
    pub range: Range,
    /// At most this many (1 to 100).
    pub limit: u32,
}

/// Why a [`Backend`] call failed. The message reaches the MCP client, so it must not leak
/// internals.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BackendError {
    /// The request is wrong (a field's value): MCP `invalid_params` (-32602).
    Invalid(String),
    /// The caller may not do or see this: MCP `invalid_request` (-32600) with
    /// `data.kind = "forbidden"`.
    Forbidden(String),
    /// What was asked for does not exist (e.g. an unknown session id): an error result the
    /// assistant can read for tools, `resource_not_found` (-32002) elsewhere.
    NotFound(String),
    /// The store or the remote server failed: MCP `internal_error` (-32603) with this message.
    Unavailable(String),
}

impl fmt::Display for BackendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BackendError::Invalid(m) => write!(f, "invalid request: {m}"),
            BackendError::Forbidden(m) => write!(f, "forbidden: {m}"),
            BackendError::NotFound(m) => write!(f, "not found: {m}"),
            BackendError::Unavailable(m) => write!(f, "devpulse is unavailable: {m}"),
        }
    }
}

impl std::error::Error for BackendError {}

impl From<BackendError> for ErrorData {
    fn from(e: BackendError) -> ErrorData {
        let message = e.to_string();
        match e {
            BackendError::Invalid(_) => ErrorData::invalid_params(message, None),
            BackendError::Forbidden(_) => {
                ErrorData::invalid_request(message, Some(json!({ "kind": "forbidden" })))
            }
            BackendError::NotFound(_) => ErrorData::resource_not_found(message, None),
            BackendError::Unavailable(_) => ErrorData::internal_error(message, None),
        }
    }
}
