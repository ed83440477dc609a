//! Single-use tickets that open one WebSocket for a signed-in person (see the migration that
//! creates `ws_tickets`).

use sqlx::PgConnection;

use crate::{
    accounts::UserId,
    secrets::{random_token, sha256},
    Result,
};

/// How long a ticket may wait to be used.
pub const TTL_SECS: i64 = 30;

/// A new ticket for `user`; only its hash is stored. Expired tickets are swept on the way.
pub async fn issue(conn: &mut PgConnection, user: UserId) -> Result<String> {
    sqlx::query!("DELETE FROM ws_tickets WHERE expires_at < now()")
        .execute(&mut *conn)
        .await?;
    let secret = random_token(32);
    sqlx::query!(
        "INSERT INTO ws_tickets (hash, user_id, expires_at)
         VALUES ($1, $2, now() + make_interval(secs => $3))",
        sha256(&secret),
        user.0,
        TTL_SECS as f64
    )
    .execute(&mut *conn)
    .await?;
    Ok(secret)
}

/// Whose ticket `secret` was, if it is still good; using it spends it, so a second use (or a
/// copy from a log) finds nothing.
pub async fn redeem(conn: &mut PgConnection, secret: &str) -> Result<Option<UserId>> {
    let row = sqlx::query!(
        "DELETE FROM ws_tickets WHERE hash = $1
         RETURNING user_id, expires_at > now() AS \"fresh!\"",
        sha256(secret)
    )
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.filter(|r| r.fresh).map(|r| UserId(r.user_id)))
}
