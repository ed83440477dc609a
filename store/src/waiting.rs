//! The sessions one browser keeps waiting in other workspaces (the workspace switcher): their
//! refresh tokens, sealed with the server's key into one cookie value so that nobody else can
//! write one (a planted list does not open) or read one (the cookie travels on every path).
//! Instances must share `DEVPULSE_SECRET_KEY` for a list to open on each of them; a list that
//! does not open is an empty one.

use sqlx::PgConnection;

use crate::{sealing::Sealer, secrets, tenants, Result, Store, TenantStatus, User, UserId};

/// The most sessions kept waiting (the cookie stays well under 4 KB).
pub const MAX_WAITING: usize = 10;
/// What the sealing is bound to, so no other sealed value can pass for a list.
const OWNER: &[u8] = b"devpulse waiting sessions";

/// The workspace a refresh token belongs to (its scope: a slug, or the registry's `_`).
pub fn scope_of(token: &str) -> &str {
    token.split_once('.').map_or("", |(scope, _)| scope)
}

/// `tokens` as a cookie value.
pub fn seal(sealer: &Sealer, tokens: &[String]) -> String {
    let json = serde_json::to_vec(tokens).expect("strings serialise");
    hex::encode(sealer.seal(&json, OWNER))
}

/// The tokens of a cookie value; none when it does not open (another key, tampered, planted).
pub fn open(sealer: &Sealer, value: &str) -> Vec<String> {
    let Ok(bytes) = hex::decode(value.trim()) else {
        return Vec::new();
    };
    let Ok(json) = sealer.open(&bytes, OWNER) else {
        return Vec::new();
    };
    let mut tokens: Vec<String> = serde_json::from_slice(&json).unwrap_or_default();
    tokens.retain(|t| !scope_of(t).is_empty());
    tokens.truncate(MAX_WAITING);
    tokens
}

/// The person a refresh token signs in, when it still would: known, not revoked, not rotated
/// (a rotated copy is stale, not necessarily stolen: refreshing it would revoke the session),
/// and its family not over. The idle limit is the refresh's to apply.
pub async fn holder(conn: &mut PgConnection, secret: &str) -> Result<Option<User>> {
    let id = sqlx::query_scalar!(
        "SELECT user_id FROM refresh_tokens
         WHERE token_hash = $1 AND revoked_at IS NULL AND rotated_at IS NULL
           AND family_expires_at > now()",
        secrets::sha256(secret)
    )
    .fetch_optional(&mut *conn)
    .await?;
    match id {
        Some(id) => Ok(Some(crate::accounts::get(conn, UserId(id)).await?)),
        None => Ok(None),
    }
}

/// The switcher's list: `current` (the caller's own workspace, when they are in one) and, of
/// the waiting `tokens`, the workspaces where each still signs in the person with `email`,
/// active, with their role there; by slug.
pub async fn memberships(
    store: &Store,
    email: &str,
    tokens: &[String],
    current: Option<types::Membership>,
) -> Result<Vec<types::Membership>> {
    let mut out: Vec<types::Membership> = current.into_iter().collect();
    for token in tokens {
        let (scope, secret) = token.split_once('.').unwrap_or_default();
        if out.iter().any(|m| m.slug == scope) {
            continue;
        }
        let Ok(slug) = crate::Slug::parse(scope) else {
            continue;
        };
        let Ok(tenant) = tenants::find_by_slug(store.pool(), &slug).await else {
            continue;
        };
        if tenant.status != TenantStatus::Active {
            continue;
        }
        // One workspace that cannot be read just now leaves the others listed.
        let user = async {
            let mut tx = store.tenant_tx(tenant.scope()).await?;
            let user = holder(&mut tx, secret).await?;
            tx.commit().await?;
            Ok::<_, crate::Error>(user)
        }
        .await
        .unwrap_or_else(|e| {
            tracing::warn!(tenant = %tenant.slug, error = %e, "reading a waiting session failed");
            None
        });
        if let Some(u) = user.filter(|u| u.active && u.email.eq_ignore_ascii_case(email)) {
            out.push(types::Membership {
                slug: tenant.slug.to_string(),
                name: tenant.name,
                role: u.role,
                current: false,
            });
        }
    }
    out.sort_by(|a, b| a.slug.cmp(&b.slug));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_opens_only_with_the_key_that_sealed_it() {
        let dir = tempfile::tempdir().unwrap();
        let sealer = Sealer::new(None, Some(dir.path())).unwrap();
        let list = vec!["acme.s1".to_string(), "beta.s2".to_string()];
        let value = seal(&sealer, &list);
        assert_eq!(open(&sealer, &value), list);
        let other = Sealer::new(Some(&"ab".repeat(32)), None).unwrap();
        assert!(open(&other, &value).is_empty(), "another key");
        let mut tampered = value.clone();
        tampered.replace_range(60..62, if &value[60..62] == "00" { "11" } else { "00" });
        assert!(open(&sealer, &tampered).is_empty(), "tampered");
        assert!(open(&sealer, "not hex").is_empty());
        let many: Vec<String> = (0..30).map(|i| format!("w{i}.s")).collect();
        assert_eq!(open(&sealer, &seal(&sealer, &many)).len(), MAX_WAITING);
    }
}
