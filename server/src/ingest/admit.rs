//! What lets a request into the write path, whichever way it came (hooks, OTLP over HTTP and
//! gRPC, the batch API, the metrics resources, MCP): the rate limits, and for batches the
//! `Idempotency-Key` claim. Kept apart from any protocol so that MCP is admitted exactly like
//! REST without going through REST's handlers.

use store::Store;

use super::limits::IngestLimits;
use crate::{
    auth::{Caller, Via},
    error::ApiError,
};

/// The per-key request bucket: checked first, before any parsing, so a flood costs no
/// decoding. Sessions have no key; their user stands in for it.
pub async fn admit_request(limits: &IngestLimits, me: &Caller) -> Result<(), ApiError> {
    let key = match &me.via {
        Via::ApiKey { key_id, .. } => key_id.to_string(),
        Via::Session { .. } | Via::Ticket | Via::Support { .. } => me.user_id.to_string(),
    };
    limits
        .take_key(&key)
        .await
        .map_err(ApiError::TooManyRequests)
}

/// The per-tenant event bucket, once the number of events is known.
pub async fn admit_events(
    limits: &IngestLimits,
    me: &Caller,
    events: usize,
) -> Result<(), ApiError> {
    let tenant = me.tenant()?.scope().schema().to_string();
    limits
        .take_tenant(&tenant, events as f64)
        .await
        .map_err(ApiError::TooManyRequests)
}

/// An earlier answer to the same `Idempotency-Key` and body, to be sent again.
pub struct Replay {
    pub status: i16,
    pub response: serde_json::Value,
}

/// Claims `key` for a batch of `body`: `None` when this request is the one to run (and must
/// [`settle`] the key), the first answer when it ran before. The same key with another body,
/// or while the first request still runs, is refused.
pub async fn claim_idempotency(
    store: &Store,
    me: &Caller,
    key: &str,
    body: &[u8],
) -> Result<Option<Replay>, ApiError> {
    use store::idempotency::{claim, Claim};
    let hash = store::secrets::sha256(&String::from_utf8_lossy(body));
    let mut tx = store.tenant_tx(me.tenant()?.scope()).await?;
    let claimed = claim(&mut tx, me.user_id, key, &hash).await?;
    tx.commit().await?;
    match claimed {
        Claim::Run => Ok(None),
        Claim::Replay { status, response } => Ok(Some(Replay { status, response })),
        Claim::Mismatch => Err(ApiError::field(
            "/Idempotency-Key",
            "was used before with a different body",
        )),
        Claim::InFlight => Err(ApiError::Store(store::Error::Conflict(
            "a request with this Idempotency-Key is still in flight".into(),
        ))),
    }
}

/// Records the answer of a claimed key for retries to replay; a failed request releases the
/// key instead, so that a retry runs again.
pub async fn settle_idempotency(
    store: &Store,
    me: &Caller,
    key: &str,
    result: &Result<serde_json::Value, ApiError>,
) -> Result<(), ApiError> {
    let mut tx = store.tenant_tx(me.tenant()?.scope()).await?;
    match result {
        Ok(answer) => store::idempotency::complete(&mut tx, me.user_id, key, 200, answer).await?,
        Err(_) => store::idempotency::release(&mut tx, me.user_id, key).await?,
    }
    tx.commit().await?;
    Ok(())
}
