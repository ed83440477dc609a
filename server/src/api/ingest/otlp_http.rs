//! OTLP over HTTP: protobuf or JSON, gzip or not.

use axum::{
    body::Bytes,
    extract::State,
    http::{header, HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    Extension,
};
use chrono::Utc;

use super::header_str;
use crate::{
    api::extract::Me,
    auth::Caller,
    error::ApiError,
    ingest::{
        admit::{admit_events, admit_request},
        otlp, rejections,
    },
    state::AppState,
};

/// `POST /v1/metrics` (OTLP/HTTP).
pub async fn otlp_metrics(
    State(state): State<AppState>,
    Extension(me): Me,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    otlp_export(&state, &me, &headers, &body, otlp::Signal::Metrics).await
}

/// `POST /v1/logs` (OTLP/HTTP): Claude Code's events.
pub async fn otlp_logs(
    State(state): State<AppState>,
    Extension(me): Me,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    otlp_export(&state, &me, &headers, &body, otlp::Signal::Logs).await
}

async fn otlp_export(
    state: &AppState,
    me: &Caller,
    headers: &HeaderMap,
    body: &[u8],
    signal: otlp::Signal,
) -> Result<Response, ApiError> {
    let tenant = me.tenant()?;
    admit_request(&state.ingest_limits, me).await?;
    let (enc, bytes) = otlp::decode_body(
        header_str(headers, header::CONTENT_TYPE),
        header_str(headers, header::CONTENT_ENCODING),
        body,
        state.body_limit,
    )?;
    let _decoding = state
        .decoding
        .take(otlp::decoded_cost(signal, enc, &bytes)?)?;
    let (events, mut rejected) = otlp::events(signal, enc, &bytes, me.user_id, Utc::now())?;
    admit_events(&state.ingest_limits, me, events.len()).await?;
    let receipt = state.writer.submit(tenant.scope(), events).await?;
    rejected.unstorable(&receipt);
    let count = rejected.count.max(0) as u64;
    state
        .rejections
        .record(tenant.scope(), rejections::OTLP_RECORDS, count);
    let (content_type, out) = otlp::response(signal, enc, &rejected);
    Ok((StatusCode::OK, [(header::CONTENT_TYPE, content_type)], out).into_response())
}
