//! Refresh tokens: one family per login, rotated on every use. Presenting a token that was
//! already rotated means it leaked (or a tab raced another): within a short grace period we
//! treat it as the race and hand out a sibling; after it, we revoke the whole family.

use chrono::{DateTime, Duration, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::{
    accounts::{self, User, UserId},
    audit::{self, Actor},
    secrets, Result,
};

#[derive(Clone, Debug)]
pub struct Lifetimes {
    /// A refresh token unused for this long expires (idle timeout).
    pub idle: Duration,
    /// A family ends this long after the login, however active (absolute lifetime).
    pub absolute: Duration,
    /// Two tabs refreshing with the same token within this window both succeed.
    pub reuse_grace: Duration,
}

impl Default for Lifetimes {
    fn default() -> Self {
        Lifetimes {
            idle: Duration::days(7),
            absolute: Duration::days(30),
            reuse_grace: Duration::seconds(20),
        }
    }
}

impl Lifetimes {
    /// These lifetimes under a workspace's own sign-in lengths.
    pub fn under(&self, policy: &types::settings::PeoplePolicy) -> Lifetimes {
        Lifetimes {
            idle: Duration::hours(i64::from(policy.idle_hours)),
            absolute: Duration::hours(i64::from(policy.max_hours)),
            reuse_grace: self.reuse_grace,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Issued {
    /// The secret part only; the caller prefixes its scope (tenant slug).
    pub secret: String,
    pub family_id: Uuid,
    pub expires_at: DateTime<Utc>,
    /// When the token was handed out, by the database's clock: the time access tokens minted
    /// with it carry, compared with the user's `sessions_valid_after` (same clock, no skew).
    pub authenticated_at: DateTime<Utc>,
}

#[derive(Debug)]
pub enum Rotation {
    Rotated {
        user_id: UserId,
        issued: Issued,
    },
    /// A rotated token came back after the grace period: the family is now revoked.
    Reused {
        user_id: UserId,
        family_id: Uuid,
    },
    /// Unknown, expired or revoked.
    Invalid,
}

/// Starts a family for someone whose password was just verified, and records the sign-in as
/// theirs, from `from`'s address.
pub async fn sign_in(
    conn: &mut PgConnection,
    from: &Actor,
    user: &User,
    lifetimes: &Lifetimes,
) -> Result<Issued> {
    let issued = start_family(
        conn,
        user.id,
        lifetimes,
        from.ip.as_deref(),
        from.user_agent.as_deref(),
    )
    .await?;
    let actor = Actor {
        id: Some(user.id.0),
        ..from.clone()
    };
    audit::record(
        conn,
        &actor,
        "login.succeeded",
        Some(&user.id.to_string()),
        serde_json::json!({}),
    )
    .await?;
    Ok(issued)
}

pub async fn start_family(
    conn: &mut PgConnection,
    user_id: UserId,
    lifetimes: &Lifetimes,
    ip: Option<&str>,
    user_agent: Option<&str>,
) -> Result<Issued> {
    let family_id = Uuid::new_v4();
    let family_expires_at = Utc::now() + lifetimes.absolute;
    insert(
        conn,
        user_id,
        family_id,
        family_expires_at,
        lifetimes,
        ip,
        user_agent,
    )
    .await
}

async fn insert(
    conn: &mut PgConnection,
    user_id: UserId,
    family_id: Uuid,
    family_expires_at: DateTime<Utc>,
    lifetimes: &Lifetimes,
    ip: Option<&str>,
    user_agent: Option<&str>,
) -> Result<Issued> {
    let secret = secrets::random_token(32);
    let authenticated_at = sqlx::query_scalar!(
        r#"INSERT INTO refresh_tokens (family_id, user_id, token_hash, family_expires_at, ip, user_agent)
         VALUES ($1, $2, $3, $4, $5, $6)
         RETURNING clock_timestamp() AS "at!""#,
        family_id,
        user_id.0,
        secrets::sha256(&secret),
        family_expires_at,
        ip,
        user_agent.map(|ua| ua.chars().take(400).collect::<String>())
    )
    .fetch_one(&mut *conn)
    .await?;
    let expires_at = (Utc::now() + lifetimes.idle).min(family_expires_at);
    Ok(Issued {
        secret,
        family_id,
        expires_at,
        authenticated_at,
    })
}

/// Exchanges a refresh token for a new one. Run it in its own transaction: it locks the user
/// (see [`accounts::lock`]: a revocation running at the same time cannot miss the successor)
/// and then the token's row. A reuse revokes the family and is recorded; commit the
/// transaction even then.
pub async fn rotate(
    conn: &mut PgConnection,
    secret: &str,
    lifetimes: &Lifetimes,
    ip: Option<&str>,
    user_agent: Option<&str>,
) -> Result<Rotation> {
    let hash = secrets::sha256(secret);
    // Whose token it is, unlocked: the user's lock comes before the token's, as in every
    // revocation (user row, then tokens), so the two never wait on each other in a cycle.
    let Some(owner) = sqlx::query_scalar!(
        "SELECT user_id FROM refresh_tokens WHERE token_hash = $1",
        hash
    )
    .fetch_optional(&mut *conn)
    .await?
    else {
        return Ok(Rotation::Invalid);
    };
    let user_id = UserId(owner);
    if accounts::lock(conn, user_id).await? != Some(true) {
        return Ok(Rotation::Invalid);
    }
    // Read again under the locks: a revocation that committed while we waited shows here.
    let Some(row) = sqlx::query!(
        "SELECT id, family_id, created_at, family_expires_at, rotated_at, revoked_at
         FROM refresh_tokens WHERE token_hash = $1 FOR UPDATE",
        hash
    )
    .fetch_optional(&mut *conn)
    .await?
    else {
        return Ok(Rotation::Invalid);
    };
    // A policy shortened since the sign-in began applies from here: the family ends at the
    // earlier of its own end and its start plus today's whole length.
    let started = sqlx::query_scalar!(
        "SELECT min(created_at) AS \"at!\" FROM refresh_tokens WHERE family_id = $1",
        row.family_id
    )
    .fetch_one(&mut *conn)
    .await?;
    let family_expires_at = row.family_expires_at.min(started + lifetimes.absolute);
    let now = Utc::now();
    if row.revoked_at.is_some()
        || family_expires_at <= now
        || row.created_at + lifetimes.idle <= now
    {
        return Ok(Rotation::Invalid);
    }
    if let Some(rotated_at) = row.rotated_at {
        if now - rotated_at > lifetimes.reuse_grace {
            revoke_family(conn, user_id, row.family_id).await?;
            let actor = Actor {
                id: Some(user_id.0),
                name: "system".into(),
                ip: ip.map(String::from),
                user_agent: user_agent.map(String::from),
            };
            audit::record(
                conn,
                &actor,
                "session.family_revoked",
                Some(&user_id.to_string()),
                serde_json::json!({ "family_id": row.family_id, "reason": "refresh token reused" }),
            )
            .await?;
            return Ok(Rotation::Reused {
                user_id,
                family_id: row.family_id,
            });
        }
    } else {
        sqlx::query!(
            "UPDATE refresh_tokens SET rotated_at = now() WHERE id = $1",
            row.id
        )
        .execute(&mut *conn)
        .await?;
    }
    let issued = insert(
        conn,
        user_id,
        row.family_id,
        family_expires_at,
        lifetimes,
        ip,
        user_agent,
    )
    .await?;
    Ok(Rotation::Rotated { user_id, issued })
}

/// The family a token belongs to, if the token is known (used by logout).
pub async fn family_of(conn: &mut PgConnection, secret: &str) -> Result<Option<(UserId, Uuid)>> {
    Ok(sqlx::query!(
        "SELECT user_id, family_id FROM refresh_tokens WHERE token_hash = $1",
        secrets::sha256(secret)
    )
    .fetch_optional(&mut *conn)
    .await?
    .map(|r| (UserId(r.user_id), r.family_id)))
}

/// Signing out: ends the family `secret` belongs to, if it is known, and records it as done
/// by `caller` or, without one (an expired access token), by the session itself.
pub async fn sign_out(conn: &mut PgConnection, caller: Option<&Actor>, secret: &str) -> Result<()> {
    let Some((user_id, family)) = family_of(conn, secret).await? else {
        return Ok(());
    };
    revoke_family(conn, user_id, family).await?;
    let actor = caller.cloned().unwrap_or(Actor {
        id: Some(user_id.0),
        name: "session".into(),
        ..Actor::default()
    });
    audit::record(
        conn,
        &actor,
        "logout",
        Some(&user_id.to_string()),
        serde_json::json!({}),
    )
    .await
}

/// Ends one family of `user_id`'s, under the user's lock (see [`accounts::lock`]).
pub async fn revoke_family(
    conn: &mut PgConnection,
    user_id: UserId,
    family_id: Uuid,
) -> Result<()> {
    accounts::lock(conn, user_id).await?;
    sqlx::query!(
        "UPDATE refresh_tokens SET revoked_at = now() WHERE family_id = $1 AND revoked_at IS NULL",
        family_id
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Ends every family of the user, under the user's lock (see [`accounts::lock`]).
pub async fn revoke_all(conn: &mut PgConnection, user_id: UserId) -> Result<()> {
    accounts::lock(conn, user_id).await?;
    sqlx::query!(
        "UPDATE refresh_tokens SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL",
        user_id.0
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}
