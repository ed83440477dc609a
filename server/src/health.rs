use std::time::Duration;

use axum::{extract::State, Json};
use serde_json::{json, Value};

use crate::{error::ApiError, state::AppState};

/// The process is alive and serving; says nothing about its dependencies.
pub async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// The database is reachable and every schema is migrated. Load balancers send traffic only
/// while this answers 200; it recovers by itself when PostgreSQL comes back.
pub async fn readyz(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    match tokio::time::timeout(Duration::from_secs(3), state.store.ready()).await {
        Ok(Ok(())) => Ok(Json(json!({ "status": "ready" }))),
        Ok(Err(e)) => Err(ApiError::NotReady(e.to_string())),
        Err(_) => Err(ApiError::NotReady(
            "database did not answer within 3s".into(),
        )),
    }
}
