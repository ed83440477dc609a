//! Webhooks over HTTP (tenant admins): where the workspace's alerts are posted, a test
//! delivery, and the log of attempts.

use axum::{
    extract::{Path, State},
    http::StatusCode,
    Extension, Json,
};
use serde::Deserialize;
use store::webhooks::{Created, Delivery, NewWebhook, Webhook};
use uuid::Uuid;

use super::extract::{JsonBody, Me};
use crate::{auth::scope::scoped, error::ApiError, state::AppState};

/// `GET /api/v1/webhooks`: each with its latest attempt.
pub async fn list(
    State(state): State<AppState>,
    Extension(me): Me,
) -> Result<Json<Vec<Webhook>>, ApiError> {
    me.tenant()?;
    let mut tx = scoped(&state.store, &me).await?;
    let list = store::webhooks::list(tx.conn()).await?;
    tx.commit().await?;
    Ok(Json(list))
}

/// `POST /api/v1/webhooks {"name", "url", "format": "json" | "slack" | "teams"}`: the webhook
/// with its signing secret, shown this once.
pub async fn create(
    State(state): State<AppState>,
    Extension(me): Me,
    JsonBody(body): JsonBody<NewWebhook>,
) -> Result<(StatusCode, Json<Created>), ApiError> {
    me.tenant()?;
    check_url(&state, &body.url)?;
    let mut tx = scoped(&state.store, &me).await?;
    let created = store::webhooks::create(tx.conn(), &me.actor(), &state.sealer, body).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// Whether the server may post to `url` (see `outbound`), as a field error.
pub fn check_url(state: &AppState, url: &str) -> Result<(), ApiError> {
    app::ssr::Outbound::check(&state.outbound, url).map_err(|why| ApiError::field("/url", why))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct Change {
    pub enabled: bool,
}

/// `PUT /api/v1/webhooks/{id} {"enabled": false}`.
pub async fn change(
    State(state): State<AppState>,
    Extension(me): Me,
    Path(id): Path<Uuid>,
    JsonBody(body): JsonBody<Change>,
) -> Result<Json<Webhook>, ApiError> {
    me.tenant()?;
    let mut tx = scoped(&state.store, &me).await?;
    let hook = store::webhooks::set_enabled(tx.conn(), &me.actor(), id, body.enabled).await?;
    tx.commit().await?;
    Ok(Json(hook))
}

/// `DELETE /api/v1/webhooks/{id}`.
pub async fn delete(
    State(state): State<AppState>,
    Extension(me): Me,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, ApiError> {
    me.tenant()?;
    let mut tx = scoped(&state.store, &me).await?;
    store::webhooks::delete(tx.conn(), &me.actor(), id).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/v1/webhooks/{id}/test`: queues a test delivery (see the log for how it went).
pub async fn test(
    State(state): State<AppState>,
    Extension(me): Me,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, ApiError> {
    me.tenant()?;
    let mut tx = scoped(&state.store, &me).await?;
    store::webhooks::queue_test(tx.conn(), &me.actor(), id).await?;
    tx.commit().await?;
    Ok(StatusCode::ACCEPTED)
}

/// `GET /api/v1/webhooks/{id}/deliveries`: the latest attempts, newest first.
pub async fn deliveries(
    State(state): State<AppState>,
    Extension(me): Me,
    Path(id): Path<Uuid>,
) -> Result<Json<Vec<Delivery>>, ApiError> {
    me.tenant()?;
    let mut tx = scoped(&state.store, &me).await?;
    let list = store::webhooks::list(tx.conn()).await?;
    if !list.iter().any(|w| w.id == id) {
        return Err(ApiError::NotFound("webhook"));
    }
    let deliveries = store::webhooks::deliveries(tx.conn(), id, 100).await?;
    tx.commit().await?;
    Ok(Json(deliveries))
}
