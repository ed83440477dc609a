//! Ingestion endpoints: Claude Code's http hooks and its OTLP exporter. Each answers only
//! after the events are committed.

use axum::{
    body::Bytes,
    extract::State,
    http::{header, HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    Extension,
};
use chrono::Utc;

use super::Me;
use crate::{
    error::ApiError,
    ingest::{hooks, otlp},
    AppState,
};

fn header_str(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// `POST /api/v1/hooks/claude-code`: one hook body, as Claude Code's `http` hook sends it.
/// 204 with an empty body, which Claude Code reads as success.
pub async fn hook(
    State(state): State<AppState>,
    Extension(me): Me,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let tenant = me.tenant()?;
    let is_json = header_str(&headers, header::CONTENT_TYPE)
        .is_some_and(|c| c.split(';').next().unwrap_or("").trim() == "application/json");
    if !is_json {
        return Err(ApiError::UnsupportedMediaType(
            "send the hook's JSON with Content-Type: application/json".into(),
        ));
    }
    // serde_json refuses nesting deeper than 128 levels, so a deep body is an error, not a
    // stack overflow.
    let value: serde_json::Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::Malformed(format!("the body is not JSON: {e}")))?;
    let event = hooks::parse(&value, me.user_id, Utc::now()).map_err(ApiError::Validation)?;
    state.writer.submit(tenant.scope(), vec![event]).await?;
    Ok(StatusCode::NO_CONTENT)
}

fn otlp_response(content_type: &'static str, body: Vec<u8>) -> Response {
    (StatusCode::OK, [(header::CONTENT_TYPE, content_type)], body).into_response()
}

/// `POST /v1/metrics` (OTLP/HTTP).
pub async fn otlp_metrics(
    State(state): State<AppState>,
    Extension(me): Me,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let tenant = me.tenant()?;
    let (enc, bytes) = otlp::decode_body(
        header_str(&headers, header::CONTENT_TYPE),
        header_str(&headers, header::CONTENT_ENCODING),
        &body,
    )?;
    let request = otlp::decode_metrics(enc, &bytes)?;
    let (events, rejected) = otlp::metric_events(&request, me.user_id, Utc::now());
    state.writer.submit(tenant.scope(), events).await?;
    let (ct, out) = otlp::metrics_response(enc, rejected.count, rejected.message());
    Ok(otlp_response(ct, out))
}

/// `POST /v1/logs` (OTLP/HTTP): Claude Code's events.
pub async fn otlp_logs(
    State(state): State<AppState>,
    Extension(me): Me,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let tenant = me.tenant()?;
    let (enc, bytes) = otlp::decode_body(
        header_str(&headers, header::CONTENT_TYPE),
        header_str(&headers, header::CONTENT_ENCODING),
        &body,
    )?;
    let request = otlp::decode_logs(enc, &bytes)?;
    let (events, rejected) = otlp::log_events(&request, me.user_id, Utc::now());
    state.writer.submit(tenant.scope(), events).await?;
    let (ct, out) = otlp::logs_response(enc, rejected.count, rejected.message());
    Ok(otlp_response(ct, out))
}
