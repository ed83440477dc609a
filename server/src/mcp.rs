//! MCP over Streamable HTTP at `/mcp`: the `mcp` crate's tools, resources and prompt, backed by
//! the same handlers as the REST API, so an MCP call sees exactly what the caller's key or
//! session may see over REST. The route's gate authenticates the caller; the handler hands the
//! caller and the state to the MCP service in the request's extensions, where [`ServerBackend`]
//! reads them per call.

use std::sync::Arc;

use axum::{
    extract::{Path, Request, State},
    response::{IntoResponse, Response},
    Extension, Json,
};
use mcp::{Backend, BackendError, Cx, Range, SessionQuery, StreamableHttpServerConfig};
use serde_json::Value;
use tower::ServiceExt;

use crate::{
    api::{dashboard, extract::ApiQuery, metrics},
    auth::{authorize, Access, Caller},
    error::ApiError,
    ingest::{
        admit::{admit_events, admit_request},
        batch::write_batch,
    },
    AppState,
};

pub type Service =
    mcp::StreamableHttpService<mcp::Devpulse<ServerBackend>, mcp::LocalSessionManager>;

/// Stateless (any instance answers any request) with plain JSON answers. Host checks are off:
/// every request carries its own credentials, which a DNS-rebinding page cannot add.
pub fn service() -> Service {
    let backend = Arc::new(ServerBackend);
    mcp::streamable_http_service(
        move || backend.clone(),
        StreamableHttpServerConfig::default()
            .with_legacy_session_mode(false)
            .with_json_response(true)
            .disable_allowed_hosts()
            .with_max_request_body_bytes(1024 * 1024),
    )
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
        Ok(r) => r.into_response(),
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

fn range_query<T: serde::de::DeserializeOwned>(
    range: &Range,
    extra: &str,
) -> Result<ApiQuery<T>, BackendError> {
    let fmt =
        |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let query = format!("from={}&to={}{extra}", fmt(range.from), fmt(range.to)).replace('+', "%2B");
    ApiQuery::parse(&query).map_err(backend_error)
}

fn to_value(v: impl serde::Serialize) -> Result<Value, BackendError> {
    serde_json::to_value(v).map_err(|e| BackendError::Unavailable(e.to_string()))
}

impl Backend for ServerBackend {
    async fn record(&self, cx: &Cx, items: Vec<Value>) -> Result<Value, BackendError> {
        let (state, me) = who(cx)?;
        authorize(Some(&me), Access::Ingest).map_err(backend_error)?;
        admit_request(&state.ingest_limits, &me)
            .await
            .map_err(backend_error)?;
        admit_events(&state.ingest_limits, &me, items.len())
            .await
            .map_err(backend_error)?;
        write_batch(
            &state.writer,
            &me,
            items.into_iter().map(Ok).collect(),
            |e| {
                e.source = store::events::Source::Mcp;
            },
        )
        .await
        .map_err(backend_error)
    }

    async fn sessions(&self, cx: &Cx, q: SessionQuery) -> Result<Value, BackendError> {
        let (state, me) = who(cx)?;
        match q.id {
            Some(id) => metrics::get_session(State(state), Extension(me), Path(id))
                .await
                .map_err(backend_error)
                .and_then(|Json(s)| to_value(s)),
            None => {
                let query = range_query(&q.range, &format!("&limit={}", q.limit))?;
                metrics::list_sessions(State(state), Extension(me), query)
                    .await
                    .map(|Json(v)| v)
                    .map_err(backend_error)
            }
        }
    }

    async fn tools(&self, cx: &Cx, range: Range) -> Result<Value, BackendError> {
        let (state, me) = who(cx)?;
        metrics::list_tools(State(state), Extension(me), range_query(&range, "")?)
            .await
            .map(|Json(v)| v)
            .map_err(backend_error)
    }

    async fn summary(&self, cx: &Cx, range: Range) -> Result<Value, BackendError> {
        let (state, me) = who(cx)?;
        dashboard::summary(
            State(state),
            Extension(me),
            range_query(&range, "&group_by=user")?,
        )
        .await
        .map_err(backend_error)
        .and_then(|Json(s)| to_value(s))
    }
}
