//! `GET /api/v1/usage`: the workspace's usage, as its `/usage` page shows it.

use axum::{extract::State, Extension, Json};

use super::extract::Me;
use crate::{error::ApiError, state::AppState};

pub async fn usage(
    State(state): State<AppState>,
    Extension(me): Me,
) -> Result<Json<types::usage::Usage>, ApiError> {
    let mut tx = state.store.tenant_tx(me.tenant()?.scope()).await?;
    let usage = store::usage::read(&mut tx, types::usage::DAYS).await?;
    tx.commit().await?;
    Ok(Json(usage))
}
