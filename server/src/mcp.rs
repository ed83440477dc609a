//! MCP over Streamable HTTP at `/mcp`: the `mcp` crate's tools, resources and prompt, backed by
//! the same store reads and write path as the REST API, under the same scoping rules
//! (`auth::scope`, `metrics_scope`), so an MCP call sees exactly what the caller's key or
//! session may see over REST. The route's gate authenticates the caller; the handler hands the
//! caller and the state to the MCP service in the request's extensions, where [`ServerBackend`]
//! reads them per call.

use std::sync::Arc;

use axum::{
    extract::{Request, State},
    response::{IntoResponse, Response},
    Extension,
};
use chrono::SubsecRound;
use mcp::{Backend, BackendError, Cx, Range, SessionQuery, StreamableHttpServerConfig};
use serde_json::Value;
use tower::ServiceExt;

use crate::{
    auth::{authorize, Access, Caller},
    error::ApiError,
    ingest::{
        admit::{admit_events, admit_request},
        batch::write_batch,
    },
    metrics_scope::{self, bounded},
    state::{AppState, McpService},
};

/// Stateless (any instance answers any request) with plain JSON answers. Host checks are off:
/// every request carries its own credentials, which a DNS-rebinding page cannot add.
pub fn service() -> McpService {
    let backend = Arc::new(ServerBackend);
    let service = mcp::streamable_http_service(
        move || backend.clone(),
        StreamableHttpServerConfig::default()
            .with_legacy_session_mode(false)
            .with_json_response(true)
            .disable_allowed_hosts()
            .with_max_request_body_bytes(1024 * 1024),
    );
    McpService::new(ServiceExt::<Request>::map_response(
        service,
        IntoResponse::into_response,
    ))
}

/// `GET|POST|DELETE /mcp`.
pub async fn handler(
    State(state): State<AppState>,
    Extension(me): Extension<Caller>,
    mut req: Request,
) -> Response {
    let service = state.mcp.clone();
    req.extensions_mut().insert(me);
    req.extensions_mut().insert(state);
    match service.oneshot(req).await {
        Ok(r) => r,
        Err(never) => match never {},
    }
}

pub struct ServerBackend;

fn who(cx: &Cx) -> Result<(AppState, Caller), BackendError> {
    match (cx.extension::<AppState>(), cx.extension::<Caller>()) {
        (Some(s), Some(c)) => Ok((s.clone(), c.clone())),
        _ => Err(BackendError::Unavailable(
            "no caller on this request".into(),
        )),
    }
}

fn backend_error(e: ApiError) -> BackendError {
    let text = e.to_string();
    match e {
        ApiError::Forbidden(_) | ApiError::Unauthenticated => BackendError::Forbidden(text),
        ApiError::NotFound(_) | ApiError::Store(store::Error::NotFound(_)) => {
            BackendError::NotFound(text)
        }
        ApiError::Validation(_)
        | ApiError::Malformed(_)
        | ApiError::Store(store::Error::Invalid { .. }) => BackendError::Invalid(text),
        _ => BackendError::Unavailable(text),
    }
}

/// `range` checked as REST checks its `from` and `to`. MCP's answers have always carried
/// whole-second bounds (they once went through a query string), and the rollup grain follows
/// the bounds. The ends are rounded up, not down: a timeframe ends at the moment it is asked,
/// and cutting `to` back to the second could leave out an event of that same second (with
/// `to` on a minute, its whole minute's bucket).
fn bounds(range: &Range) -> Result<Range, ApiError> {
    let up = |t: chrono::DateTime<chrono::Utc>| {
        let whole = t.trunc_subsecs(0);
        if whole < t {
            whole + chrono::TimeDelta::seconds(1)
        } else {
            whole
        }
    };
    bounded(Range {
        from: up(range.from),
        to: up(range.to),
    })
}

fn to_value(v: impl serde::Serialize) -> Result<Value, BackendError> {
    serde_json::to_value(v).map_err(|e| BackendError::Unavailable(e.to_string()))
}

// Each read is its REST twin's function in `metrics_scope`, so that the same request is
// checked, scoped and answered the same way over both.
impl Backend for ServerBackend {
    async fn record(&self, cx: &Cx, items: Vec<Value>) -> Result<Value, BackendError> {
        let (state, me) = who(cx)?;
        authorize(Some(&me), Access::Ingest).map_err(backend_error)?;
        let written = async {
            admit_request(&state.ingest_limits, &me).await?;
            admit_events(&state.ingest_limits, &me, items.len()).await?;
            write_batch(
                &state.writer,
                &me,
                items.into_iter().map(Ok).collect(),
                |e| {
                    e.source = store::events::Source::Mcp;
                },
            )
            .await
        };
        written.await.map_err(backend_error)
    }

    async fn sessions(&self, cx: &Cx, q: SessionQuery) -> Result<Value, BackendError> {
        let (state, me) = who(cx)?;
        if let Some(id) = q.id {
            return metrics_scope::session(&state.store, &me, &id)
                .await
                .map_err(backend_error)
                .and_then(to_value);
        }
        let read = async {
            let range = bounds(&q.range)?;
            metrics_scope::sessions_page(&state.store, &me, range, None, i64::from(q.limit)).await
        };
        read.await.map_err(backend_error)
    }

    async fn tools(&self, cx: &Cx, range: Range) -> Result<Value, BackendError> {
        let (state, me) = who(cx)?;
        let read = async { metrics_scope::tools(&state.store, &me, bounds(&range)?).await };
        read.await.map_err(backend_error)
    }

    async fn summary(&self, cx: &Cx, range: Range) -> Result<Value, BackendError> {
        let (state, me) = who(cx)?;
        let read = async { metrics_scope::summary(&state.store, &me, bounds(&range)?).await };
        read.await.map_err(backend_error).and_then(to_value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_timeframe_keeps_what_happened_in_its_last_second() {
        let t = |s: &str| s.parse::<chrono::DateTime<chrono::Utc>>().unwrap();
        let asked = Range {
            from: t("2026-12-02T15:41:00.300Z"),
            to: t("2026-12-03T15:41:00.300Z"),
        };
        let r = bounds(&asked).unwrap();
        // An event at 15:41:00.100 sits in the 15:41 minute bucket, which `to` must pass.
        assert_eq!(r.to, t("2026-12-03T15:41:01Z"));
        assert_eq!(r.from, t("2026-12-02T15:41:01Z"));
        let whole = Range {
            from: t("2026-12-02T15:41:00Z"),
            to: t("2026-12-03T15:41:00Z"),
        };
        assert_eq!(bounds(&whole).unwrap().to, whole.to);
    }
}
