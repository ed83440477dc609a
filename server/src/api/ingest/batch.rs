//! The batch API: many items in one request, JSON array or NDJSON, optionally filed under an
//! import batch and made idempotent by `Idempotency-Key`.

use axum::{
    body::Bytes,
    extract::State,
    http::{header, HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    Extension,
};

use super::header_str;
use crate::{
    api::extract::Me,
    auth::Caller,
    error::ApiError,
    ingest::{
        self,
        admit::{admit_events, admit_request, claim_idempotency, settle_idempotency, Replay},
        batch::write_batch,
        rejections, wire,
    },
    state::AppState,
};

/// `POST /api/v1/ingest/batch`: a JSON array or NDJSON of items (hook bodies or typed items).
/// Good items are written even when others are rejected; each item's fate is in the answer.
/// With `Idempotency-Key`, a retry of the same body replays the first answer.
pub async fn batch(
    State(state): State<AppState>,
    Extension(me): Me,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    me.tenant()?;
    admit_request(&state.ingest_limits, &me).await?;
    let content_type = header_str(&headers, header::CONTENT_TYPE)
        .map(|c| c.split(';').next().unwrap_or("").trim().to_string());
    let body = ingest::inflate(
        header_str(&headers, header::CONTENT_ENCODING),
        &body,
        state.body_limit,
    )?;
    let _decoding = state.decoding.take(wire::json_cost(&body)?)?;
    let too_many = || {
        ApiError::field(
            "",
            format!("a batch holds at most {} items", state.batch_max_items),
        )
    };
    let items: Vec<Result<serde_json::Value, String>> = match content_type.as_deref() {
        Some("application/json") => serde_json::from_slice::<Vec<serde_json::Value>>(&body)
            .map_err(|e| ApiError::Malformed(format!("the body is not a JSON array: {e}")))?
            .into_iter()
            .map(Ok)
            .collect(),
        Some("application/x-ndjson") | Some("application/jsonl") => {
            let lines = || {
                body.split(|b| *b == b'\n')
                    .filter(|line| !line.iter().all(u8::is_ascii_whitespace))
            };
            // Counted before any line is parsed.
            if lines().count() > state.batch_max_items {
                return Err(too_many());
            }
            lines()
                .map(|line| serde_json::from_slice(line).map_err(|e| format!("not JSON: {e}")))
                .collect()
        }
        _ => {
            return Err(ApiError::UnsupportedMediaType(
                "send a JSON array (application/json) or NDJSON (application/x-ndjson)".into(),
            ))
        }
    };
    if items.len() > state.batch_max_items {
        return Err(too_many());
    }
    let import = import_batch(&state, &me, &headers).await?;
    let idempotency = match headers.get("idempotency-key") {
        None => None,
        Some(v) => match v.to_str() {
            Ok(k) if !k.is_empty() && k.len() <= 200 => Some(k.to_string()),
            _ => {
                return Err(ApiError::field(
                    "/Idempotency-Key",
                    "must be 1 to 200 visible ASCII characters",
                ))
            }
        },
    };
    // A replay is answered before the event bucket is charged: it writes nothing.
    if let Some(key) = &idempotency {
        if let Some(Replay { status, response }) =
            claim_idempotency(&state.store, &me, key, &body).await?
        {
            let status = StatusCode::from_u16(status as u16).unwrap_or(StatusCode::OK);
            let mut r = (status, axum::Json(response)).into_response();
            r.headers_mut()
                .insert("idempotent-replayed", "true".parse().expect("ascii"));
            return Ok(r);
        }
    }
    let result = match admit_events(&state.ingest_limits, &me, items.len()).await {
        Ok(()) => {
            write_batch(&state.writer, &me, items, |event| {
                if let Some(batch) = import {
                    event.source = store::events::Source::Import;
                    event.import_batch = Some(batch.0);
                }
            })
            .await
        }
        Err(e) => Err(e),
    };
    if let Some(key) = &idempotency {
        settle_idempotency(&state.store, &me, key, &result).await?;
    }
    if let (Ok(answer), Ok(tenant)) = (&result, me.tenant()) {
        let rejected = answer["rejected"].as_u64().unwrap_or(0);
        state
            .rejections
            .record(tenant.scope(), rejections::BATCH_ITEMS, rejected);
    }
    Ok(axum::Json(result?).into_response())
}

/// `Devpulse-Import-Batch: <id>` files the items under one of the caller's open import
/// batches (`POST /api/v1/imports`), so `DELETE /api/v1/imports/{id}` can take them out again.
async fn import_batch(
    state: &AppState,
    me: &Caller,
    headers: &HeaderMap,
) -> Result<Option<store::imports::ImportId>, ApiError> {
    let Some(value) = headers.get("devpulse-import-batch") else {
        return Ok(None);
    };
    let id = value
        .to_str()
        .ok()
        .and_then(|v| uuid::Uuid::parse_str(v.trim()).ok())
        .map(store::imports::ImportId)
        .ok_or_else(|| ApiError::field("/Devpulse-Import-Batch", "must be an import batch id"))?;
    let mut tx = state.store.tenant_tx(me.tenant()?.scope()).await?;
    store::imports::open_for_writes(&mut tx, me.user_id, id).await?;
    tx.commit().await?;
    Ok(Some(id))
}
