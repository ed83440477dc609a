//! `Idempotency-Key` for batch requests: the first request with a key runs; a retry with the
//! same body gets the first answer again; the same key with a different body is a mistake.
//! Keys are the sender's own (another person's equal key is another key) and last 24 hours.

use sqlx::PgConnection;

use crate::{accounts::UserId, Result};

/// How long a key is remembered: as long as a client may reasonably retry.
const KEEP_HOURS: i64 = 24;

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
pub async fn claim(conn: &mut PgConnection, user: UserId, key: &str, hash: &[u8]) -> Result<Claim> {
    let inserted = sqlx::query!(
        "INSERT INTO idempotency_keys (user_id, key, request_hash) VALUES ($4, $1, $2)
         ON CONFLICT (user_id, key) DO UPDATE
             SET request_hash = EXCLUDED.request_hash, created_at = now()
             WHERE (idempotency_keys.status IS NULL
                    AND idempotency_keys.created_at < now() - make_interval(secs => $3))
                -- Expired but not yet pruned: a new request.
                OR idempotency_keys.created_at < now() - make_interval(hours => $5)
         RETURNING key",
        key,
        hash,
        STALE_SECS as f64,
        user.0,
        KEEP_HOURS as i32
    )
    .fetch_optional(&mut *conn)
    .await?;
    if inserted.is_some() {
        return Ok(Claim::Run);
    }
    let row = sqlx::query!(
        "SELECT request_hash, status, response FROM idempotency_keys
         WHERE user_id = $2 AND key = $1",
        key,
        user.0
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
    user: UserId,
    key: &str,
    status: i16,
    response: &serde_json::Value,
) -> Result<()> {
    sqlx::query!(
        "UPDATE idempotency_keys SET status = $2, response = $3 WHERE user_id = $4 AND key = $1",
        key,
        status,
        response,
        user.0
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Lets a request that failed run again with the same key.
pub async fn release(conn: &mut PgConnection, user: UserId, key: &str) -> Result<()> {
    sqlx::query!(
        "DELETE FROM idempotency_keys WHERE user_id = $2 AND key = $1 AND status IS NULL",
        key,
        user.0
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Forgets the keys of one tenant schema older than a day. Run by the migration role (the
/// server's hourly upkeep), which names the schema.
pub async fn prune(conn: &mut PgConnection, schema: &str) -> Result<()> {
    crate::ident::check(schema, "schema")?;
    sqlx::query(&format!(
        "DELETE FROM {}.idempotency_keys WHERE created_at < now() - make_interval(hours => $1)",
        crate::ident::quote(schema)
    ))
    .bind(KEEP_HOURS as i32)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
