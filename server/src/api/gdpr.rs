//! A person's data on request (tenant admins): an export archive, or erasure. Each is a
//! request carried out by a job; see [`store::gdpr`].

use axum::{
    extract::{Path, State},
    http::{header, StatusCode},
    response::{IntoResponse, Response},
    Extension, Json,
};
use serde::Deserialize;
use uuid::Uuid;

use super::extract::{JsonBody, Me};
use crate::{error::ApiError, state::AppState};

/// `GET /api/v1/gdpr/requests`: the workspace's exports and erasures, newest first.
pub async fn list(
    State(state): State<AppState>,
    Extension(me): Me,
) -> Result<Json<Vec<types::gdpr::Request>>, ApiError> {
    let mut tx = state.store.tenant_tx(me.tenant()?.scope()).await?;
    let list = store::gdpr::list(&mut tx).await?;
    tx.commit().await?;
    Ok(Json(list))
}

/// `POST /api/v1/users/{id}/export`: 202 with the request; its archive follows.
pub async fn export(
    State(state): State<AppState>,
    Extension(me): Me,
    Path(id): Path<Uuid>,
) -> Result<Response, ApiError> {
    let mut tx = state.store.tenant_tx(me.tenant()?.scope()).await?;
    let request = store::gdpr::request_export(&mut tx, &me.actor(), store::UserId(id)).await?;
    tx.commit().await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(serde_json::json!({ "request": request })),
    )
        .into_response())
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EraseBody {
    /// `delete` or `pseudonymise`.
    mode: String,
    /// The person's e-mail address, typed.
    confirm: String,
}

/// `POST /api/v1/users/{id}/erase {"mode", "confirm"}`: 202 with the request.
pub async fn erase(
    State(state): State<AppState>,
    Extension(me): Me,
    Path(id): Path<Uuid>,
    JsonBody(body): JsonBody<EraseBody>,
) -> Result<Response, ApiError> {
    let mode = store::gdpr::Mode::parse(&body.mode)?;
    let mut tx = state.store.tenant_tx(me.tenant()?.scope()).await?;
    let request =
        store::gdpr::request_erasure(&mut tx, &me.actor(), store::UserId(id), mode, &body.confirm)
            .await?;
    tx.commit().await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(serde_json::json!({ "request": request })),
    )
        .into_response())
}

/// `GET /api/v1/gdpr/requests/{id}/archive`: the export's `.tar.gz`, for a week.
pub async fn archive(
    State(state): State<AppState>,
    Extension(me): Me,
    Path(id): Path<Uuid>,
) -> Result<Response, ApiError> {
    let mut tx = state.store.tenant_tx(me.tenant()?.scope()).await?;
    let (_, bytes) = store::gdpr::archive(&mut tx, &me.actor(), id).await?;
    tx.commit().await?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/gzip".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"devpulse-export-{id}.tar.gz\""),
            ),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
        bytes,
    )
        .into_response())
}
