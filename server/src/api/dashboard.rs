//! What dashboards read, always from the rollups.

use axum::{extract::State, Extension, Json};

use serde::Deserialize;
use store::rollups;

use super::extract::{ApiQuery, Me};
use crate::{
    error::{ApiError, FieldError},
    metrics_scope::{self, range},
    state::AppState,
};

#[derive(Deserialize)]
pub struct SummaryQuery {
    from: Option<String>,
    to: Option<String>,
    group_by: Option<String>,
}

/// `GET /api/v1/dashboard/summary?from=&to=&group_by=user`: totals per user and overall in
/// `[from, to)`; by default the 30 days up to the end of today (UTC).
pub async fn summary(
    State(state): State<AppState>,
    Extension(me): Me,
    ApiQuery(q): ApiQuery<SummaryQuery>,
) -> Result<Json<rollups::Summary>, ApiError> {
    me.tenant()?;
    let mut errors = Vec::new();
    if q.group_by.as_deref().is_some_and(|g| g != "user") {
        errors.push(FieldError {
            pointer: "/group_by".into(),
            detail: "must be `user`".into(),
        });
    }
    let range = range(q.from.as_deref(), q.to.as_deref(), errors)?;
    Ok(Json(
        metrics_scope::summary(&state.store, &me, range).await?,
    ))
}
