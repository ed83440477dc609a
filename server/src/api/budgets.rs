//! Budgets over HTTP: where each budget the caller may see stands, and (tenant admins)
//! setting and removing them.

use axum::{
    extract::{Path, State},
    http::StatusCode,
    Extension, Json,
};
use chrono::Utc;
use store::budgets::{Budget, NewBudget, Status};
use uuid::Uuid;

use super::extract::{JsonBody, Me};
use crate::{auth::scope::scoped, error::ApiError, metrics_scope, state::AppState};

/// `GET /api/v1/budgets`: the budgets whose totals the caller sees whole, each with its
/// current period's spend, projection and the day the pace crosses the limit.
pub async fn status(
    State(state): State<AppState>,
    Extension(me): Me,
) -> Result<Json<Vec<Status>>, ApiError> {
    me.tenant()?;
    let mut tx = scoped(&state.store, &me).await?;
    let reader = metrics_scope::reader(&mut tx, &me).await?;
    let list = store::budgets::status(tx.conn(), &reader, Utc::now()).await?;
    tx.commit().await?;
    Ok(Json(list))
}

/// `POST /api/v1/budgets {"scope": "team", "team_id", "period": "month", "usd", "tokens"}`:
/// the budget of that scope and period (replacing the one there was).
pub async fn set(
    State(state): State<AppState>,
    Extension(me): Me,
    JsonBody(body): JsonBody<NewBudget>,
) -> Result<Json<Budget>, ApiError> {
    me.tenant()?;
    let mut tx = scoped(&state.store, &me).await?;
    let budget = store::budgets::set(tx.conn(), &me.actor(), &body).await?;
    tx.commit().await?;
    Ok(Json(budget))
}

/// `DELETE /api/v1/budgets/{id}`.
pub async fn delete(
    State(state): State<AppState>,
    Extension(me): Me,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, ApiError> {
    me.tenant()?;
    let mut tx = scoped(&state.store, &me).await?;
    store::budgets::delete(tx.conn(), &me.actor(), types::BudgetId(id)).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
