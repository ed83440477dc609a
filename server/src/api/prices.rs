//! Model prices: the shipped table (`pricing/prices.json`) and the tenant's overrides, which
//! price every request that arrives without a cost from then on.

use axum::{
    extract::{Path, State},
    Extension, Json,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use store::prices;

use super::extract::{JsonBody, Me};
use crate::{error::ApiError, state::AppState};

#[derive(Serialize, utoipa::ToSchema)]
pub struct PriceRow {
    model: String,
    #[serde(flatten)]
    price: prices::Price,
    /// `tenant` when the tenant set it, `shipped` when it comes with devpulse.
    source: &'static str,
}

pub async fn list(
    State(state): State<AppState>,
    Extension(me): Me,
) -> Result<Json<Vec<PriceRow>>, ApiError> {
    let mut tx = state.store.tenant_tx(me.tenant()?.scope()).await?;
    let own = prices::overrides(&mut tx).await?;
    tx.commit().await?;
    let shipped = prices::Prices::shipped();
    let overridden: Vec<String> = own.iter().map(|(m, _)| m.clone()).collect();
    let mut rows: Vec<PriceRow> = shipped
        .models()
        .filter(|(m, _)| !overridden.iter().any(|o| o == m))
        .map(|(m, p)| PriceRow {
            model: m.to_string(),
            price: *p,
            source: "shipped",
        })
        .chain(own.into_iter().map(|(model, price)| PriceRow {
            model,
            price,
            source: "tenant",
        }))
        .collect();
    rows.sort_by(|a, b| a.model.cmp(&b.model));
    Ok(Json(rows))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetPrice {
    input: f64,
    output: f64,
    cache_write: f64,
    cache_read: f64,
}

pub async fn set(
    State(state): State<AppState>,
    Extension(me): Me,
    Path(model): Path<String>,
    JsonBody(p): JsonBody<SetPrice>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let price = prices::Price {
        input: p.input,
        output: p.output,
        cache_write: p.cache_write,
        cache_read: p.cache_read,
    };
    let mut tx = state.store.tenant_tx(me.tenant()?.scope()).await?;
    prices::set(&mut tx, &me.actor(), &model, Some(price)).await?;
    tx.commit().await?;
    Ok(Json(json!({ "model": model, "price": price })))
}

pub async fn reset(
    State(state): State<AppState>,
    Extension(me): Me,
    Path(model): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let mut tx = state.store.tenant_tx(me.tenant()?.scope()).await?;
    prices::set(&mut tx, &me.actor(), &model, None).await?;
    tx.commit().await?;
    Ok(Json(json!({ "model": model, "price": null })))
}
