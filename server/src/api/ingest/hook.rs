//! Claude Code's `http` hooks.

use axum::{
    body::Bytes,
    extract::State,
    http::{header, HeaderMap, StatusCode},
    Extension,
};
use chrono::Utc;

use super::header_str;
use crate::{
    api::extract::Me,
    error::ApiError,
    ingest::{
        admit::{admit_events, admit_request},
        hooks, wire,
    },
    state::AppState,
};

/// `POST /api/v1/hooks/claude-code`: one hook body, as Claude Code's `http` hook sends it.
/// 204 with an empty body, which Claude Code reads as success.
pub async fn hook(
    State(state): State<AppState>,
    Extension(me): Me,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let tenant = me.tenant()?;
    admit_request(&state.ingest_limits, &me).await?;
    let is_json = header_str(&headers, header::CONTENT_TYPE)
        .is_some_and(|c| c.split(';').next().unwrap_or("").trim() == "application/json");
    if !is_json {
        return Err(ApiError::UnsupportedMediaType(
            "send the hook's JSON with Content-Type: application/json".into(),
        ));
    }
    let _decoding = state.decoding.take(wire::json_cost(&body)?)?;
    // serde_json refuses nesting deeper than 128 levels, so a deep body is an error, not a
    // stack overflow.
    let value: serde_json::Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::Malformed(format!("the body is not JSON: {e}")))?;
    let event = hooks::parse(&value, me.user_id, Utc::now()).map_err(ApiError::Validation)?;
    admit_events(&state.ingest_limits, &me, 1).await?;
    state
        .writer
        .submit(tenant.scope(), vec![event])
        .await?
        .single()?;
    Ok(StatusCode::NO_CONTENT)
}
