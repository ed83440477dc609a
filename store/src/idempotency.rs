//! `Idempotency-Key` for batch requests: the first request with a key runs; a retry with the
//! same body gets the first answer again; the same key with a different body is a mistake.

use sqlx::PgConnection;

use crate::Result;

/// A request left in flight this long (its server died mid-request) may run again.
const STALE_SECS: i64 = 60;

#[derive(Debug, PartialEq)]
pub enum Claim {
    /// Ours to run; call [`complete`] with the answer.
    Run,
    /// Done before: this is the answer.
    Replay {
        status: i16,
        response: serde_json::Value,
    },
    /// The key came with another body.
    Mismatch,
    /// The first request with this key is still running.
    InFlight,
}

/// Claims `key` for a request whose body hashes to `hash`. Runs in its own transaction so the
/// claim is visible to concurrent requests at once.
pub async fn claim(conn: &mut PgConnection, key: &str, hash: &[u8]) -> Result<Claim> {
    let inserted = sqlx::query!(
        "INSERT INTO idempotency_keys (key, request_hash) VALUES ($1, $2)
         ON CONFLICT (key) DO UPDATE SET request_hash = EXCLUDED.request_hash, created_at = now()
             WHERE idempotency_keys.status IS NULL
               AND idempotency_keys.created_at < now() - make_interval(secs => $3)
         RETURNING key",
        key,
        hash,
        STALE_SECS as f64
    )
    .fetch_optional(&mut *conn)
    .await?;
    if inserted.is_some() {
        return Ok(Claim::Run);
    }
    let row = sqlx::query!(
        "SELECT request_hash, status, response FROM idempotency_keys WHERE key = $1",
        key
    )
    .fetch_one(&mut *conn)
    .await?;
    Ok(if row.request_hash != hash {
        Claim::Mismatch
    } else {
        match (row.status, row.response) {
            (Some(status), Some(response)) => Claim::Replay { status, response },
            _ => Claim::InFlight,
        }
    })
}

pub async fn complete(
    conn: &mut PgConnection,
    key: &str,
    status: i16,
    response: &serde_json::Value,
) -> Result<()> {
    sqlx::query!(
        "UPDATE idempotency_keys SET status = $2, response = $3 WHERE key = $1",
        key,
        status,
        response
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Lets a request that failed run again with the same key.
pub async fn release(conn: &mut PgConnection, key: &str) -> Result<()> {
    sqlx::query!(
        "DELETE FROM idempotency_keys WHERE key = $1 AND status IS NULL",
        key
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}
