//! People: tenant users (in the tenant's schema) and super admins (in the registry's `users`
//! table, same shape). Every function takes a connection that is already inside the right
//! scope: a `TenantTx` for a tenant, a `RegistryTx` for super admins.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::{Error, Result};

pub use types::{people::User, Role, UserId};

/// A normalised (trimmed, lower-case) e-mail address.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

impl Email {
    pub fn parse(s: &str) -> Result<Email> {
        let e = s.trim().to_lowercase();
        let valid = e.len() <= 320
            && e.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty()
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
            })
            // Nor the invisible characters a pasted list may carry (a byte-order mark, a
            // zero-width space): an account under such an address could never sign in.
            && !e.chars().any(|c| {
                c.is_whitespace()
                    || c.is_control()
                    || matches!(c, '\u{200b}'..='\u{200f}' | '\u{2060}' | '\u{feff}')
            });
        if valid {
            Ok(Email(e))
        } else {
            Err(Error::Invalid {
                field: "email",
                reason: "is not an e-mail address".into(),
            })
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Email {
    type Error = Error;
    fn try_from(s: String) -> Result<Email> {
        Email::parse(&s)
    }
}

impl From<Email> for String {
    fn from(e: Email) -> String {
        e.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

struct UserRow {
    id: Uuid,
    email: String,
    name: String,
    role: String,
    status: String,
    sessions_valid_after: DateTime<Utc>,
    created_at: DateTime<Utc>,
}

impl TryFrom<UserRow> for User {
    type Error = Error;
    fn try_from(r: UserRow) -> Result<User> {
        Ok(User {
            id: UserId(r.id),
            email: r.email,
            name: r.name,
            role: Role::parse(&r.role)?,
            active: r.status == "active",
            sessions_valid_after: r.sessions_valid_after,
            created_at: r.created_at,
        })
    }
}

// --- passwords ---------------------------------------------------------------------------

const COMMON_PASSWORDS: &str = include_str!("common-passwords.txt");

/// Length ≥ 12, not the e-mail address, not a well-known password.
pub fn check_password_policy(password: &str, email: &str) -> Result<()> {
    let invalid = |reason: &'static str| {
        Err(Error::Invalid {
            field: "password",
            reason: reason.into(),
        })
    };
    if password.chars().count() < 12 {
        return invalid("must be at least 12 characters");
    }
    if password.chars().count() > 256 {
        return invalid("must be at most 256 characters");
    }
    let lower = password.to_lowercase();
    if lower == email.to_lowercase()
        || lower == email.split('@').next().unwrap_or("").to_lowercase()
    {
        return invalid("must not be your e-mail address");
    }
    if COMMON_PASSWORDS
        .lines()
        .any(|common| common.trim() == lower)
    {
        return invalid("is too common; choose another");
    }
    Ok(())
}

fn argon2() -> argon2::Argon2<'static> {
    // OWASP's argon2id recommendation: 19 MiB, 2 iterations, 1 lane.
    let params = argon2::Params::new(19 * 1024, 2, 1, None).expect("valid argon2 params");
    argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
}

/// CPU-heavy (~tens of ms): call from a blocking thread.
pub fn hash_password(password: &str) -> String {
    use argon2::password_hash::{rand_core::OsRng, PasswordHasher, SaltString};
    let salt = SaltString::generate(&mut OsRng);
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2 hashing cannot fail with valid params")
        .to_string()
}

/// CPU-heavy: call from a blocking thread. Constant-time comparison inside argon2.
pub fn verify_password(hash: &str, password: &str) -> bool {
    use argon2::password_hash::{PasswordHash, PasswordVerifier};
    PasswordHash::new(hash)
        .map(|parsed| {
            argon2()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// [`hash_password`] on the blocking pool: argon2 takes tens of milliseconds, which would stall
/// every other request sharing the runtime's worker thread.
pub async fn hash_password_blocking(password: String) -> Result<String> {
    hashing(move || hash_password(&password)).await
}

/// [`verify_password`] on the blocking pool, for the same reason.
pub async fn verify_password_blocking(hash: String, password: String) -> Result<bool> {
    hashing(move || verify_password(&hash, &password)).await
}

/// Password hashes run on at most half the cores, with a short queue behind them; when the
/// queue is full the caller is told to come back ([`Error::Busy`]) instead of waiting. Each
/// hash holds 19 MiB and a core for tens of milliseconds: unbounded, a flood of sign-ins
/// fills the blocking pool's 512 threads and the memory with them, and starves everything
/// else on the machine.
async fn hashing<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static SLOTS: std::sync::OnceLock<(tokio::sync::Semaphore, usize)> = std::sync::OnceLock::new();
    static WAITING: AtomicUsize = AtomicUsize::new(0);
    let (slots, queue) = SLOTS.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        // Half the cores at most: under a sign-in flood the other half keeps ingestion and
        // pages answering (measured by `server/examples/login-flood.rs`). A full queue waits
        // about 16 hashes' time before its turn.
        (tokio::sync::Semaphore::new((cores / 2).max(1)), 16 * cores)
    });
    let permit = match slots.try_acquire() {
        Ok(p) => p,
        Err(_) => {
            if WAITING.fetch_add(1, Ordering::AcqRel) >= *queue {
                WAITING.fetch_sub(1, Ordering::AcqRel);
                return Err(Error::Busy("password checks"));
            }
            let p = slots.acquire().await;
            WAITING.fetch_sub(1, Ordering::AcqRel);
            p.expect("the semaphore is never closed")
        }
    };
    let out = tokio::task::spawn_blocking(f)
        .await
        .expect("argon2 does not panic");
    drop(permit);
    Ok(out)
}

/// A hash of a random password, verified against when the e-mail is unknown, so that an
/// unknown address and a wrong password cost the same time.
pub fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash_password(&crate::secrets::random_token(24)))
}

// --- queries -----------------------------------------------------------------------------

pub async fn create(
    conn: &mut PgConnection,
    email: &Email,
    name: &str,
    role: Role,
    password_hash: Option<&str>,
) -> Result<User> {
    let name = name.trim();
    if name.chars().count() > 200 {
        return Err(Error::Invalid {
            field: "name",
            reason: "must be at most 200 characters".into(),
        });
    }
    let row = sqlx::query_as!(
        UserRow,
        "INSERT INTO users (email, name, role, password_hash) VALUES ($1, $2, $3, $4)
         ON CONFLICT (email) DO NOTHING
         RETURNING id, email, name, role, status, sessions_valid_after, created_at",
        email.as_str(),
        name,
        role.as_str(),
        password_hash
    )
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(|| Error::Conflict(format!("user {email}").into()))?;
    row.try_into()
}

pub async fn get(conn: &mut PgConnection, id: UserId) -> Result<User> {
    sqlx::query_as!(
        UserRow,
        "SELECT id, email, name, role, status, sessions_valid_after, created_at FROM users
         WHERE id = $1 AND erased_at IS NULL",
        id.0
    )
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(Error::NotFound("user"))?
    .try_into()
}

/// The user and their password hash, for logging in.
pub async fn find_for_login(
    conn: &mut PgConnection,
    email: &Email,
) -> Result<Option<(User, Option<String>)>> {
    let row = sqlx::query!(
        "SELECT id, email, name, role, status, sessions_valid_after, created_at, password_hash
         FROM users WHERE email = $1",
        email.as_str()
    )
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|r| {
        let user = User::try_from(UserRow {
            id: r.id,
            email: r.email,
            name: r.name,
            role: r.role,
            status: r.status,
            sessions_valid_after: r.sessions_valid_after,
            created_at: r.created_at,
        })?;
        Ok((user, r.password_hash))
    })
    .transpose()
}

pub async fn find_by_email(conn: &mut PgConnection, email: &Email) -> Result<User> {
    Ok(find_for_login(conn, email)
        .await?
        .ok_or(Error::NotFound("user"))?
        .0)
}

pub async fn list(conn: &mut PgConnection) -> Result<Vec<User>> {
    sqlx::query_as!(
        UserRow,
        "SELECT id, email, name, role, status, sessions_valid_after, created_at FROM users
         WHERE erased_at IS NULL ORDER BY email"
    )
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .map(User::try_from)
    .collect()
}

pub async fn set_name(conn: &mut PgConnection, id: UserId, name: &str) -> Result<User> {
    let name = name.trim();
    if name.chars().count() > 200 {
        return Err(Error::Invalid {
            field: "name",
            reason: "must be at most 200 characters".into(),
        });
    }
    sqlx::query!(
        "UPDATE users SET name = $2, updated_at = now()
         WHERE id = $1 AND erased_at IS NULL",
        id.0,
        name
    )
    .execute(&mut *conn)
    .await?;
    // Dashboards name people: the answers they keep are out of date.
    crate::audit::answers_changed(conn).await?;
    get(conn, id).await
}

/// The theme `id` picked, if any (in the registry or a workspace, whichever `conn` is in).
pub async fn theme(conn: &mut PgConnection, id: UserId) -> Result<Option<types::Theme>> {
    let t = sqlx::query_scalar!("SELECT theme FROM users WHERE id = $1", id.0)
        .fetch_optional(&mut *conn)
        .await?
        .flatten();
    Ok(t.as_deref().and_then(types::Theme::parse))
}

/// Remembers `id`'s theme (`None`: follow the system), so every browser they sign in on
/// starts in it.
pub async fn set_theme(
    conn: &mut PgConnection,
    id: UserId,
    theme: Option<types::Theme>,
) -> Result<()> {
    let done = sqlx::query!(
        "UPDATE users SET theme = $2 WHERE id = $1",
        id.0,
        theme.map(|t| t.as_str())
    )
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() == 0 {
        return Err(Error::NotFound("user"));
    }
    Ok(())
}

/// Takes the user's row lock until the transaction ends. Every change that ends sessions and
/// every refresh-token rotation takes it first, so a rotation either finishes before the
/// revocation reads the tokens (and its successor is revoked with the rest) or starts after
/// it (and finds its token revoked). `sessions_valid_after` is read from the clock after the
/// wait (`clock_timestamp()`, not the transaction's `now()`), so it lies after every access
/// token a rotation that won the lock handed out.
pub(crate) async fn lock(conn: &mut PgConnection, id: UserId) -> Result<Option<bool>> {
    Ok(sqlx::query_scalar!(
        "SELECT status = 'active' AS \"active!\" FROM users WHERE id = $1 FOR NO KEY UPDATE",
        id.0
    )
    .fetch_optional(&mut *conn)
    .await?)
}

/// Changes the role and ends every session of the user.
pub async fn set_role(conn: &mut PgConnection, id: UserId, role: Role) -> Result<User> {
    lock(conn, id).await?;
    let n = sqlx::query!(
        "UPDATE users SET role = $2, sessions_valid_after = clock_timestamp(), updated_at = now()
         WHERE id = $1 AND erased_at IS NULL",
        id.0,
        role.as_str()
    )
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if n == 0 {
        return Err(Error::NotFound("user"));
    }
    crate::refresh_tokens::revoke_all(conn, id).await?;
    get(conn, id).await
}

/// Replaces the password hash and ends every session of the user.
pub async fn set_password_hash(conn: &mut PgConnection, id: UserId, hash: &str) -> Result<()> {
    lock(conn, id).await?;
    let n = sqlx::query!(
        "UPDATE users SET password_hash = $2, sessions_valid_after = clock_timestamp(), updated_at = now()
         WHERE id = $1 AND erased_at IS NULL",
        id.0,
        hash
    )
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if n == 0 {
        return Err(Error::NotFound("user"));
    }
    crate::refresh_tokens::revoke_all(conn, id).await
}

/// Deactivates (or reactivates) the user; deactivation ends every session. The API keys are
/// revoked by [`change_active`], which names them in its audit entry.
pub async fn set_active(conn: &mut PgConnection, id: UserId, active: bool) -> Result<User> {
    lock(conn, id).await?;
    let status = if active { "active" } else { "deactivated" };
    // Only a deactivation ends sessions: reactivating someone already active (oneself, say)
    // must not sign them out.
    let n = sqlx::query!(
        "UPDATE users SET status = $2, updated_at = now(),
                sessions_valid_after = CASE WHEN $2 = 'deactivated' THEN clock_timestamp()
                                            ELSE sessions_valid_after END
         WHERE id = $1 AND erased_at IS NULL",
        id.0,
        status
    )
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if n == 0 {
        return Err(Error::NotFound("user"));
    }
    if !active {
        crate::refresh_tokens::revoke_all(conn, id).await?;
    }
    get(conn, id).await
}

/// Ends every session of the user (logout everywhere) without changing anything else.
pub async fn end_sessions(conn: &mut PgConnection, id: UserId) -> Result<()> {
    lock(conn, id).await?;
    sqlx::query!(
        "UPDATE users SET sessions_valid_after = clock_timestamp() WHERE id = $1",
        id.0
    )
    .execute(&mut *conn)
    .await?;
    crate::refresh_tokens::revoke_all(conn, id).await
}

// --- audited changes, shared by the API, the CLI and the UI --------------------------------

/// Changes the role (ending the user's sessions) and records who did it. Nobody changes their
/// own: an admin demoting themselves could leave the workspace without one.
pub async fn change_role(
    conn: &mut PgConnection,
    actor: &crate::audit::Actor,
    id: UserId,
    role: Role,
) -> Result<User> {
    let before = get(conn, id).await?;
    if actor.id == Some(id.0) && role != before.role {
        return Err(Error::Invalid {
            field: "role",
            reason: "you cannot change your own role; another admin can".into(),
        });
    }
    let user = set_role(conn, id, role).await?;
    crate::audit::record(
        conn,
        actor,
        "user.role_changed",
        Some(&id.to_string()),
        serde_json::json!({ "from": before.role, "to": role }),
    )
    .await?;
    Ok(user)
}

/// Deactivates or reactivates the user and records who did it; deactivating also revokes the
/// user's API keys, and reactivating does not revive them. Nobody deactivates themselves:
/// a tenant would otherwise be able to lock out its last admin by accident.
pub async fn change_active(
    conn: &mut PgConnection,
    actor: &crate::audit::Actor,
    id: UserId,
    active: bool,
) -> Result<User> {
    if !active && actor.id == Some(id.0) {
        return Err(Error::Invalid {
            field: "user",
            reason: "you cannot deactivate yourself".into(),
        });
    }
    let user = set_active(conn, id, active).await?;
    // Revoked, not merely refused while deactivated: whatever prompted the deactivation (a
    // leaver, a leaked laptop) is no reason to trust the keys again on reactivation.
    let (action, details) = if active {
        ("user.reactivated", serde_json::json!({}))
    } else {
        let revoked = crate::api_keys::revoke_all_of(conn, id).await?;
        (
            "user.deactivated",
            serde_json::json!({ "api_keys_revoked": revoked }),
        )
    };
    crate::audit::record(conn, actor, action, Some(&id.to_string()), details).await?;
    Ok(user)
}

/// Why a password change was refused, by field.
#[derive(Debug)]
pub enum PasswordChangeError {
    CurrentWrong,
    Policy(String),
    Store(Error),
}

impl From<Error> for PasswordChangeError {
    fn from(e: Error) -> Self {
        PasswordChangeError::Store(e)
    }
}

/// Checks the current password and the policy, stores the new hash, ends every session of the
/// user and records it.
pub async fn change_password(
    conn: &mut PgConnection,
    actor: &crate::audit::Actor,
    id: UserId,
    current: String,
    new: String,
) -> std::result::Result<(), PasswordChangeError> {
    let user = get(conn, id).await?;
    check_password_policy(&new, &user.email).map_err(|e| {
        PasswordChangeError::Policy(
            e.to_string()
                .trim_start_matches("invalid password: ")
                .to_string(),
        )
    })?;
    let email = Email::parse(&user.email)?;
    let hash = find_for_login(conn, &email)
        .await?
        .and_then(|(_, h)| h)
        .unwrap_or_else(|| dummy_hash().to_string());
    if !verify_password_blocking(hash, current).await? {
        return Err(PasswordChangeError::CurrentWrong);
    }
    let new_hash = hash_password_blocking(new).await?;
    set_password_hash(conn, id, &new_hash).await?;
    crate::audit::record(
        conn,
        actor,
        "password.changed",
        Some(&id.to_string()),
        serde_json::json!({}),
    )
    .await?;
    Ok(())
}

/// Creates a user who signs in with `password` (checked against the policy, hashed off the
/// runtime) and records who did it. Without a password, see [`crate::invitations::invite`].
pub async fn create_with_password(
    conn: &mut PgConnection,
    actor: &crate::audit::Actor,
    email: &Email,
    name: &str,
    role: Role,
    password: String,
) -> Result<User> {
    check_password_policy(&password, email.as_str())?;
    let hash = hash_password_blocking(password).await?;
    let user = create(conn, email, name, role, Some(&hash)).await?;
    crate::audit::record(
        conn,
        actor,
        "user.created",
        Some(&user.id.to_string()),
        serde_json::json!({ "email": user.email, "role": role }),
    )
    .await?;
    Ok(user)
}

/// Ends every session of the user (logout everywhere) and records it.
pub async fn log_out_everywhere(
    conn: &mut PgConnection,
    actor: &crate::audit::Actor,
    id: UserId,
) -> Result<()> {
    end_sessions(conn, id).await?;
    crate::audit::record(
        conn,
        actor,
        "logout.everywhere",
        Some(&id.to_string()),
        serde_json::json!({}),
    )
    .await
}

/// Failed password sign-ins to one account (or unknown address) from one place, gathered over
/// a moment so a password-guessing run is a few audit entries rather than thousands.
pub async fn record_failed_logins(
    conn: &mut PgConnection,
    from: &crate::audit::Actor,
    target: Option<&str>,
    attempts: u64,
    first_at: DateTime<Utc>,
    last_at: DateTime<Utc>,
) -> Result<()> {
    crate::audit::record(
        conn,
        from,
        "login.failed",
        target,
        serde_json::json!({ "attempts": attempts, "first_at": first_at, "last_at": last_at }),
    )
    .await
}

/// One change for several people, all or none (in the caller's transaction), each audited
/// as its own route would; people it would not change are left alone.
pub async fn change_many(
    conn: &mut PgConnection,
    actor: &crate::audit::Actor,
    ids: &[UserId],
    change: &types::people::BulkChange,
) -> Result<Vec<User>> {
    use types::people::BulkChange;
    if ids.is_empty() || ids.len() > types::people::MAX_BULK_INVITES {
        return Err(Error::Invalid {
            field: "ids",
            reason: format!(
                "name between 1 and {} people",
                types::people::MAX_BULK_INVITES
            )
            .into(),
        });
    }
    // In one order whoever asks, so two lists that overlap cannot lock each other.
    let mut ids = ids.to_vec();
    ids.sort_by_key(|u| u.0);
    ids.dedup();
    let mut changed = Vec::with_capacity(ids.len());
    for id in ids {
        let user = get(conn, id).await?;
        changed.push(match change {
            BulkChange::Role { role } if *role != user.role => {
                change_role(conn, actor, id, *role).await?
            }
            BulkChange::Deactivate if user.active => change_active(conn, actor, id, false).await?,
            BulkChange::Reactivate if !user.active => change_active(conn, actor, id, true).await?,
            _ => user,
        });
    }
    Ok(changed)
}
