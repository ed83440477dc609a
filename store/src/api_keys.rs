//! API keys for collectors, OTLP exporters and scripts. A key reads
//! `dpk_<tenant slug>_<prefix>_<secret>`: the slug says which tenant schema to look in, the
//! prefix finds the row (and is shown in lists), and only a SHA-256 of the whole key is stored.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

pub use types::api_keys::{ApiKey, CreatedKey, Scope};

use crate::{
    accounts::{Role, UserId},
    audit::{self, Actor},
    secrets, Error, Result, Slug,
};

/// What a valid key proves.
#[derive(Clone, Debug)]
pub struct KeyIdentity {
    pub key_id: Uuid,
    pub user_id: UserId,
    pub email: String,
    pub role: Role,
    pub scopes: Vec<Scope>,
}

/// The parts of a presented key; nothing is checked but its shape.
#[derive(Debug, PartialEq, Eq)]
pub struct ParsedKey<'a> {
    pub slug: Slug,
    pub prefix: &'a str,
    pub full: &'a str,
}

pub fn parse(key: &str) -> Option<ParsedKey<'_>> {
    let rest = key.strip_prefix("dpk_")?;
    let (head, secret) = rest.rsplit_once('_')?;
    let (slug, prefix) = head.rsplit_once('_')?;
    let hex = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit());
    if !hex(prefix, 8) || !hex(secret, 48) {
        return None;
    }
    Some(ParsedKey {
        slug: Slug::parse(slug).ok()?,
        prefix,
        full: key,
    })
}

struct KeyRow {
    id: Uuid,
    user_id: Uuid,
    name: String,
    prefix: String,
    scopes: Vec<String>,
    created_at: DateTime<Utc>,
    expires_at: Option<DateTime<Utc>>,
    last_used_at: Option<DateTime<Utc>>,
    revoked_at: Option<DateTime<Utc>>,
}

impl TryFrom<KeyRow> for ApiKey {
    type Error = Error;
    fn try_from(r: KeyRow) -> Result<ApiKey> {
        Ok(ApiKey {
            id: r.id,
            user_id: UserId(r.user_id),
            name: r.name,
            prefix: r.prefix,
            scopes: r
                .scopes
                .iter()
                .map(|s| Scope::parse(s))
                .collect::<Result<_, _>>()?,
            created_at: r.created_at,
            expires_at: r.expires_at,
            last_used_at: r.last_used_at,
            revoked_at: r.revoked_at,
        })
    }
}

/// Creates a key for `user_id`, records who did it, and returns the key with the only copy
/// of its secret.
pub async fn create(
    conn: &mut PgConnection,
    actor: &Actor,
    tenant: &Slug,
    user_id: UserId,
    name: &str,
    scopes: &[Scope],
    expires_at: Option<DateTime<Utc>>,
) -> Result<(ApiKey, String)> {
    // The CLI acts as nobody in particular: its keys count as created by their owner.
    let created_by = actor.id.map_or(user_id, UserId);
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(Error::Invalid {
            field: "name",
            reason: "must be 1 to 100 characters".into(),
        });
    }
    if scopes.is_empty() {
        return Err(Error::Invalid {
            field: "scopes",
            reason: "give at least one scope".into(),
        });
    }
    if expires_at.is_some_and(|e| e <= Utc::now()) {
        return Err(Error::Invalid {
            field: "expires_at",
            reason: "must be in the future".into(),
        });
    }
    let prefix = secrets::random_token(4);
    let key = format!("dpk_{tenant}_{prefix}_{}", secrets::random_token(24));
    let mut scopes: Vec<&str> = scopes.iter().map(|s| s.as_str()).collect();
    scopes.sort_unstable();
    scopes.dedup();
    let scopes: Vec<String> = scopes.into_iter().map(String::from).collect();
    let row = sqlx::query_as!(
        KeyRow,
        "INSERT INTO api_keys (user_id, name, prefix, key_hash, scopes, expires_at, created_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         RETURNING id, user_id, name, prefix, scopes, created_at, expires_at, last_used_at, revoked_at",
        user_id.0,
        name,
        prefix,
        secrets::sha256(&key),
        &scopes,
        expires_at,
        created_by.0
    )
    .fetch_one(&mut *conn)
    .await?;
    let api_key = ApiKey::try_from(row)?;
    audit::record(
        conn,
        actor,
        "api_key.created",
        Some(&api_key.id.to_string()),
        serde_json::json!({ "owner": user_id, "prefix": api_key.prefix, "scopes": api_key.scopes }),
    )
    .await?;
    Ok((api_key, key))
}

pub async fn list(conn: &mut PgConnection, user_id: Option<UserId>) -> Result<Vec<ApiKey>> {
    sqlx::query_as!(
        KeyRow,
        "SELECT id, user_id, name, prefix, scopes, created_at, expires_at, last_used_at, revoked_at
         FROM api_keys WHERE ($1::uuid IS NULL OR user_id = $1) ORDER BY created_at DESC",
        user_id.map(|u| u.0)
    )
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .map(ApiKey::try_from)
    .collect()
}

/// Revokes a key, with `owner` only if it belongs to that user (else: not found), and records
/// who did it.
pub async fn revoke(
    conn: &mut PgConnection,
    actor: &Actor,
    id: Uuid,
    owner: Option<UserId>,
) -> Result<ApiKey> {
    let key: ApiKey = sqlx::query_as!(
        KeyRow,
        "UPDATE api_keys SET revoked_at = coalesce(revoked_at, now())
         WHERE id = $1 AND ($2::uuid IS NULL OR user_id = $2)
         RETURNING id, user_id, name, prefix, scopes, created_at, expires_at, last_used_at, revoked_at",
        id,
        owner.map(|u| u.0)
    )
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(Error::NotFound("api key"))?
    .try_into()?;
    audit::record(
        conn,
        actor,
        "api_key.revoked",
        Some(&id.to_string()),
        serde_json::json!({ "prefix": key.prefix }),
    )
    .await?;
    Ok(key)
}

/// Revokes every key of `user` still live and returns their prefixes; records nothing (the
/// caller's audited change, [`crate::accounts::change_active`], names them).
pub(crate) async fn revoke_all_of(conn: &mut PgConnection, user: UserId) -> Result<Vec<String>> {
    Ok(sqlx::query_scalar!(
        "UPDATE api_keys SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL
         RETURNING prefix",
        user.0
    )
    .fetch_all(&mut *conn)
    .await?)
}

/// Checks a presented key inside its tenant's scope. `None` for anything not valid right now.
pub async fn authenticate(
    conn: &mut PgConnection,
    key: &ParsedKey<'_>,
) -> Result<Option<KeyIdentity>> {
    let Some(row) = sqlx::query!(
        "SELECT k.id, k.user_id, k.key_hash, k.scopes, k.expires_at, k.revoked_at, k.last_used_at,
                u.email, u.role, u.status
         FROM api_keys k JOIN users u ON u.id = k.user_id WHERE k.prefix = $1",
        key.prefix
    )
    .fetch_optional(&mut *conn)
    .await?
    else {
        return Ok(None);
    };
    let now = Utc::now();
    if !secrets::constant_time_eq(&row.key_hash, &secrets::sha256(key.full))
        || row.revoked_at.is_some()
        || row.expires_at.is_some_and(|e| e <= now)
        || row.status != "active"
    {
        return Ok(None);
    }
    // Write at most once a minute per key: ingest traffic must not turn into row updates.
    if row
        .last_used_at
        .is_none_or(|t| now - t > chrono::Duration::minutes(1))
    {
        sqlx::query!(
            "UPDATE api_keys SET last_used_at = now() WHERE id = $1",
            row.id
        )
        .execute(&mut *conn)
        .await?;
    }
    Ok(Some(KeyIdentity {
        key_id: row.id,
        user_id: UserId(row.user_id),
        email: row.email,
        role: Role::parse(&row.role)?,
        scopes: row
            .scopes
            .iter()
            .map(|s| Scope::parse(s))
            .collect::<Result<_, _>>()?,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_parse_only_in_their_exact_shape() {
        let key = format!("dpk_acme_co_{}_{}", "0a1b2c3d", "f".repeat(48));
        let parsed = parse(&key).unwrap();
        assert_eq!(parsed.slug.as_str(), "acme_co");
        assert_eq!(parsed.prefix, "0a1b2c3d");
        for bad in [
            "",
            "dpk_",
            "dpk_acme_0a1b2c3d",
            &format!("dpk_acme_0a1b2c3_{}", "f".repeat(48)),
            &format!("dpk_acme_0a1b2c3d_{}", "f".repeat(47)),
            &format!("dpk_Acme_0a1b2c3d_{}", "f".repeat(48)),
            &format!("xpk_acme_0a1b2c3d_{}", "f".repeat(48)),
        ] {
            assert!(parse(bad).is_none(), "{bad}");
        }
    }
}
