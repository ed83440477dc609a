//! The REST resources for sessions and tools: writes become typed ingest items (the same path
//! as the batch API); reads come from `sessions` and the rollups, scoped like the summary.

use axum::{
    extract::{Path, State},
    http::StatusCode,
    Extension, Json,
};

use chrono::Utc;
use serde::Deserialize;
use serde_json::{json, Value};
use store::activity::Session;
use types::TimeRange;

use super::extract::{ApiQuery, JsonBody, Me};
use crate::{
    auth::Caller,
    error::ApiError,
    ingest::admit::{admit_events, admit_request},
    metrics_scope,
    state::AppState,
};

/// 201 for something new, 200 for a resend of something already stored.
fn created_if(new: bool) -> StatusCode {
    if new {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    }
}

/// Writes one typed item as the caller, under the same rate limits as every ingestion route;
/// `Ok(true)` when it was new. `renames` maps the item's field names back to the names the
/// caller sent, so an error points at the caller's own field.
async fn write_item(
    state: &AppState,
    me: &Caller,
    item: Value,
    renames: &[(&str, &str)],
) -> Result<bool, ApiError> {
    admit_request(&state.ingest_limits, me).await?;
    let event =
        crate::ingest::batch::parse_item(item, me.user_id, Utc::now()).map_err(|errors| {
            ApiError::Validation(
                errors
                    .into_iter()
                    .map(|mut e| {
                        let field = e.pointer.strip_prefix('/');
                        if let Some((_, theirs)) =
                            renames.iter().find(|(ours, _)| field == Some(ours))
                        {
                            e.pointer = format!("/{theirs}");
                        }
                        e
                    })
                    .collect(),
            )
        })?;
    admit_events(&state.ingest_limits, me, 1).await?;
    state
        .writer
        .submit(me.tenant()?.scope(), vec![event])
        .await?
        .single()
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SessionStart {
    session_id: String,
    /// When it started; now if absent.
    #[serde(default)]
    started_at: Option<String>,
    #[serde(default)]
    cwd: Option<String>,
    #[serde(default)]
    git_branch: Option<String>,
    #[serde(default)]
    model: Option<String>,
    /// startup, resume, clear, compact...
    #[serde(default)]
    source: Option<String>,
}

/// `POST /api/v1/metrics/sessions`: a session began.
pub async fn start_session(
    State(state): State<AppState>,
    Extension(me): Me,
    JsonBody(body): JsonBody<SessionStart>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let item = json!({
        "type": "session_start", "session_id": body.session_id,
        "timestamp": body.started_at.unwrap_or_else(|| Utc::now().to_rfc3339()),
        "cwd": body.cwd, "git_branch": body.git_branch, "model": body.model, "reason": body.source,
    });
    let new = write_item(
        &state,
        &me,
        item,
        &[("timestamp", "started_at"), ("reason", "source")],
    )
    .await?;
    Ok((
        created_if(new),
        Json(json!({ "session_id": body.session_id, "duplicate": !new })),
    ))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SessionEnd {
    #[serde(default)]
    ended_at: Option<String>,
    /// clear, logout, prompt_input_exit, other...
    #[serde(default)]
    reason: Option<String>,
}

/// `PUT /api/v1/metrics/sessions/{id}`: the session ended.
pub async fn end_session(
    State(state): State<AppState>,
    Extension(me): Me,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<SessionEnd>,
) -> Result<Json<Value>, ApiError> {
    let item = json!({
        "type": "session_end", "session_id": id,
        "timestamp": body.ended_at.unwrap_or_else(|| Utc::now().to_rfc3339()),
        "reason": body.reason,
    });
    let new = write_item(&state, &me, item, &[("timestamp", "ended_at")]).await?;
    Ok(Json(json!({ "session_id": id, "duplicate": !new })))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ToolUse {
    tool_name: String,
    #[serde(default)]
    session_id: Option<String>,
    #[serde(default)]
    tool_use_id: Option<String>,
    #[serde(default)]
    success: Option<bool>,
    #[serde(default)]
    duration_ms: Option<i64>,
    #[serde(default)]
    timestamp: Option<String>,
}

/// `POST /api/v1/metrics/tools`: one tool execution.
pub async fn record_tool(
    State(state): State<AppState>,
    Extension(me): Me,
    JsonBody(body): JsonBody<ToolUse>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let item = json!({
        "type": "tool_use", "tool_name": body.tool_name, "session_id": body.session_id,
        "tool_use_id": body.tool_use_id, "success": body.success, "duration_ms": body.duration_ms,
        "timestamp": body.timestamp.unwrap_or_else(|| Utc::now().to_rfc3339()),
    });
    let new = write_item(&state, &me, item, &[]).await?;
    Ok((created_if(new), Json(json!({ "duplicate": !new }))))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct Range {
    from: Option<String>,
    to: Option<String>,
    before: Option<String>,
    limit: Option<i64>,
}

fn range(q: &Range) -> Result<TimeRange, ApiError> {
    metrics_scope::range(q.from.as_deref(), q.to.as_deref(), Vec::new())
}

/// `GET /api/v1/metrics/sessions`: newest first, 50 a page (`limit` up to 500); pass the
/// answer's `next_before` as `before` for the next page.
pub async fn list_sessions(
    State(state): State<AppState>,
    Extension(me): Me,
    ApiQuery(q): ApiQuery<Range>,
) -> Result<Json<Value>, ApiError> {
    let range = range(&q)?;
    let before = metrics_scope::time("before", q.before.as_deref())
        .map_err(|e| ApiError::Validation(vec![e]))?;
    let limit = q.limit.unwrap_or(50);
    Ok(Json(
        metrics_scope::sessions_page(&state.store, &me, range, before, limit).await?,
    ))
}

/// `GET /api/v1/metrics/sessions/{id}`.
pub async fn get_session(
    State(state): State<AppState>,
    Extension(me): Me,
    Path(id): Path<String>,
) -> Result<Json<Session>, ApiError> {
    Ok(Json(metrics_scope::session(&state.store, &me, &id).await?))
}

/// `GET /api/v1/metrics/tools`: per tool, executions, failures, success rate and durations.
pub async fn list_tools(
    State(state): State<AppState>,
    Extension(me): Me,
    ApiQuery(q): ApiQuery<Range>,
) -> Result<Json<Value>, ApiError> {
    let range = range(&q)?;
    Ok(Json(metrics_scope::tools(&state.store, &me, range).await?))
}
