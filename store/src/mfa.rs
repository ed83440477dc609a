//! Second factors: an authenticator app (TOTP, RFC 6238) with single-use recovery codes, the
//! second step of a password sign-in, and the workspace's rule about who must have one.
//! Every change records its own audit entry; so does every second step, failed or not.

use chrono::Duration;
use sqlx::PgConnection;
use totp_rs::{Builder, Totp};
pub use types::mfa::{Enrolment, Requirement, Status};

use crate::{
    audit::{self, Actor},
    secrets, Error, Result, User, UserId,
};

/// How long the second step of a sign-in (or setting up an app) may take.
pub const CHALLENGE_TTL: Duration = Duration::minutes(10);
/// Wrong codes one challenge survives; then the password must be typed again.
pub const MAX_ATTEMPTS: i32 = 5;
pub const RECOVERY_CODES: usize = 10;
const ISSUER: &str = "devpulse";
const SETTING: &str = "mfa_required";
/// Recovery codes avoid letters and digits that read alike (0/o, 1/l/i).
const CODE_ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";

/// How a second step was made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Totp,
    RecoveryCode,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Totp => "totp",
            Method::RecoveryCode => "recovery_code",
        }
    }
}

fn totp(seed: Vec<u8>, account: &str) -> Totp {
    Builder::new()
        .with_secret(seed)
        .with_account_name(account.replace(':', " "))
        .with_issuer(Some(ISSUER))
        .build()
        .expect("a 20-byte seed and 6 digits are RFC 6238")
}

fn now_secs() -> u64 {
    u64::try_from(chrono::Utc::now().timestamp()).unwrap_or_default()
}

/// The code an app with `seed` shows at `unix_secs` (tests type it as a person would).
pub fn code_at(seed_base32: &str, unix_secs: u64) -> String {
    let seed = totp_rs::Secret::try_from_base32(seed_base32)
        .expect("base32 seed")
        .as_bytes()
        .to_vec();
    totp(seed, "x").generate(unix_secs).to_string()
}

/// The `otpauth://` link drawn as a QR code, an `<svg>` element with no XML prolog so it can
/// sit inside the page.
fn qr_svg(url: &str) -> String {
    let svg = qrcode::QrCode::new(url.as_bytes())
        .map(|code| {
            code.render::<qrcode::render::svg::Color<'_>>()
                .min_dimensions(200, 200)
                .dark_color(qrcode::render::svg::Color("#000000"))
                .light_color(qrcode::render::svg::Color("#ffffff"))
                .build()
        })
        .unwrap_or_default();
    match svg.find("<svg") {
        Some(at) => svg[at..].to_string(),
        None => svg,
    }
}

fn enrolment(seed: Vec<u8>, account: &str) -> Enrolment {
    let t = totp(seed, account);
    let url = t.to_url().expect("the account name has no colon");
    Enrolment {
        secret: t.secret().to_base32(),
        qr_svg: qr_svg(&url),
        otpauth_url: url,
    }
}

fn owner(user: UserId) -> [u8; 16] {
    *user.0.as_bytes()
}

/// Whether `user` has a confirmed authenticator app.
pub async fn enrolled(conn: &mut PgConnection, user: UserId) -> Result<bool> {
    Ok(sqlx::query_scalar!(
        "SELECT EXISTS (SELECT 1 FROM mfa_totp WHERE user_id = $1 AND confirmed_at IS NOT NULL)
         AS \"e!\"",
        user.0
    )
    .fetch_one(&mut *conn)
    .await?)
}

/// Everyone in the scope with a confirmed authenticator app (for the admin's list of people).
pub async fn enrolled_users(conn: &mut PgConnection) -> Result<std::collections::HashSet<UserId>> {
    Ok(
        sqlx::query_scalar!("SELECT user_id FROM mfa_totp WHERE confirmed_at IS NOT NULL")
            .fetch_all(&mut *conn)
            .await?
            .into_iter()
            .map(UserId)
            .collect(),
    )
}

/// `tenant`: the person belongs to a workspace, whose rule applies (super admins have none).
pub async fn status(conn: &mut PgConnection, user: &User, tenant: bool) -> Result<Status> {
    let required = if tenant {
        requirement(conn).await?
    } else {
        Requirement::Off
    };
    let left = sqlx::query_scalar!(
        "SELECT count(*) AS \"n!\" FROM mfa_recovery_codes WHERE user_id = $1 AND used_at IS NULL",
        user.id.0
    )
    .fetch_one(&mut *conn)
    .await?;
    Ok(Status {
        enrolled: enrolled(conn, user.id).await?,
        recovery_codes_left: left,
        required: required.applies_to(user.role),
    })
}

/// Starts setting up an authenticator app, or shows the one being set up (a reload must not
/// change the seed under a person halfway through scanning it). `account` is the label the
/// app shows.
pub async fn begin(
    conn: &mut PgConnection,
    sealer: &crate::sealing::Sealer,
    user: UserId,
    account: &str,
) -> Result<Enrolment> {
    if !sealer.can_seal() {
        return Err(Error::Invalid {
            field: "mfa",
            reason: "this server has no DEVPULSE_SECRET_KEY to keep authenticator seeds with"
                .into(),
        });
    }
    let row = sqlx::query!(
        "SELECT secret, confirmed_at IS NOT NULL AS \"confirmed!\",
                created_at > now() - make_interval(secs => $2) AS \"fresh!\"
         FROM mfa_totp WHERE user_id = $1 FOR UPDATE",
        user.0,
        CHALLENGE_TTL.num_seconds() as f64
    )
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(row) = &row {
        if row.confirmed {
            return Err(Error::Conflict(
                "an authenticator app is already set up; turn it off first to set up another"
                    .into(),
            ));
        }
        if row.fresh {
            if let Ok(seed) = sealer.open(&row.secret, &owner(user)) {
                return Ok(enrolment(seed, account));
            }
        }
    }
    let mut seed = vec![0u8; 20];
    getrandom::fill(&mut seed).expect("the OS random source works");
    sqlx::query!(
        "INSERT INTO mfa_totp (user_id, secret) VALUES ($1, $2)
         ON CONFLICT (user_id) DO UPDATE SET secret = excluded.secret, created_at = now(),
             last_step = NULL",
        user.0,
        sealer.seal(&seed, &owner(user))
    )
    .execute(&mut *conn)
    .await?;
    Ok(enrolment(seed, account))
}

/// Finishes setting up the app with a code from it; the answer is the recovery codes, shown
/// once.
pub async fn confirm(
    conn: &mut PgConnection,
    sealer: &crate::sealing::Sealer,
    actor: &Actor,
    user: UserId,
    code: &str,
) -> Result<Vec<String>> {
    let row = sqlx::query!(
        "SELECT secret FROM mfa_totp WHERE user_id = $1 AND confirmed_at IS NULL FOR UPDATE",
        user.0
    )
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(Error::Invalid {
        field: "code",
        reason: "there is no authenticator app being set up; start again".into(),
    })?;
    let seed = sealer
        .open(&row.secret, &owner(user))
        .map_err(|_| Error::Invalid {
            field: "code",
            reason: "the app being set up cannot be read any more; start again".into(),
        })?;
    let step = totp(seed, "x")
        .check(&normalise(code), now_secs())
        .ok_or(Error::Invalid {
            field: "code",
            reason: "is not the code your authenticator app shows now".into(),
        })?;
    sqlx::query!(
        "UPDATE mfa_totp SET confirmed_at = now(), last_step = $2 WHERE user_id = $1",
        user.0,
        step as i64
    )
    .execute(&mut *conn)
    .await?;
    let codes = replace_recovery_codes(conn, user).await?;
    audit::record(
        conn,
        actor,
        "mfa.enrolled",
        Some(&user.to_string()),
        serde_json::json!({ "method": "totp" }),
    )
    .await?;
    Ok(codes)
}

/// Checks a second step: a code from the app (each 30-second step accepted once) or an unused
/// recovery code (then spent). `None` for a wrong code; both outcomes are audited, so the
/// caller commits either way.
pub async fn verify(
    conn: &mut PgConnection,
    sealer: &crate::sealing::Sealer,
    actor: &Actor,
    user: UserId,
    code: &str,
) -> Result<Option<Method>> {
    let code = normalise(code);
    let method = if code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()) {
        verify_totp(conn, sealer, user, &code)
            .await?
            .then_some(Method::Totp)
    } else {
        let spent = sqlx::query_scalar!(
            "UPDATE mfa_recovery_codes SET used_at = now()
             WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL RETURNING 1 AS \"one!\"",
            user.0,
            secrets::sha256(&code)
        )
        .fetch_optional(&mut *conn)
        .await?;
        spent.map(|_| Method::RecoveryCode)
    };
    let (action, details) = match method {
        Some(m) => ("mfa.verified", serde_json::json!({ "method": m.as_str() })),
        None => (
            "mfa.failed",
            serde_json::json!({ "reason": "wrong, used or expired code" }),
        ),
    };
    audit::record(conn, actor, action, Some(&user.to_string()), details).await?;
    Ok(method)
}

async fn verify_totp(
    conn: &mut PgConnection,
    sealer: &crate::sealing::Sealer,
    user: UserId,
    code: &str,
) -> Result<bool> {
    let Some(row) = sqlx::query!(
        "SELECT secret, last_step FROM mfa_totp
         WHERE user_id = $1 AND confirmed_at IS NOT NULL FOR UPDATE",
        user.0
    )
    .fetch_optional(&mut *conn)
    .await?
    else {
        return Ok(false);
    };
    let Ok(seed) = sealer.open(&row.secret, &owner(user)) else {
        return Ok(false);
    };
    let Some(step) = totp(seed, "x").check(code, now_secs()) else {
        return Ok(false);
    };
    // A code seen once (or an older one) is refused: someone who watched it typed, or caught
    // it on the wire, cannot use it again in the same half minute.
    if row.last_step.is_some_and(|last| step as i64 <= last) {
        return Ok(false);
    }
    sqlx::query!(
        "UPDATE mfa_totp SET last_step = $2 WHERE user_id = $1",
        user.0,
        step as i64
    )
    .execute(&mut *conn)
    .await?;
    Ok(true)
}

/// The outcome of an action that asks for a current code first. A wrong code is not an
/// error: its audit entry must be committed, so the caller commits and then refuses.
#[derive(Debug, PartialEq, Eq)]
pub enum Checked<T> {
    Done(T),
    WrongCode,
}

/// New recovery codes, the old ones void. Asks for a current code, so a session left open on
/// someone's desk cannot mint a lasting way past the second factor.
pub async fn renew_recovery_codes(
    conn: &mut PgConnection,
    sealer: &crate::sealing::Sealer,
    actor: &Actor,
    user: UserId,
    code: &str,
) -> Result<Checked<Vec<String>>> {
    if !enrolled(conn, user).await? {
        return Err(Error::Invalid {
            field: "mfa",
            reason: "set up an authenticator app first".into(),
        });
    }
    if verify(conn, sealer, actor, user, code).await?.is_none() {
        return Ok(Checked::WrongCode);
    }
    let codes = replace_recovery_codes(conn, user).await?;
    audit::record(
        conn,
        actor,
        "mfa.recovery_codes_renewed",
        Some(&user.to_string()),
        serde_json::json!({}),
    )
    .await?;
    Ok(Checked::Done(codes))
}

async fn replace_recovery_codes(conn: &mut PgConnection, user: UserId) -> Result<Vec<String>> {
    sqlx::query!("DELETE FROM mfa_recovery_codes WHERE user_id = $1", user.0)
        .execute(&mut *conn)
        .await?;
    let codes: Vec<String> = (0..RECOVERY_CODES).map(|_| recovery_code()).collect();
    let hashes: Vec<Vec<u8>> = codes
        .iter()
        .map(|c| secrets::sha256(&normalise(c)))
        .collect();
    sqlx::query!(
        "INSERT INTO mfa_recovery_codes (user_id, code_hash) SELECT $1, h FROM unnest($2::bytea[]) h",
        user.0,
        &hashes
    )
    .execute(&mut *conn)
    .await?;
    Ok(codes)
}

/// `xxxxx-xxxxx` from a 31-letter alphabet: 49 bits.
fn recovery_code() -> String {
    let mut bytes = [0u8; 10];
    getrandom::fill(&mut bytes).expect("the OS random source works");
    let letters: String = bytes
        .iter()
        // 256 = 8 × 31 + 8: the first eight letters are a little likelier; rejecting
        // would cost more code than the 0.4 bit it buys back.
        .map(|b| CODE_ALPHABET[usize::from(*b) % CODE_ALPHABET.len()] as char)
        .collect();
    format!("{}-{}", &letters[..5], &letters[5..])
}

/// What a person types, as compared: spaces and dashes dropped, letters lowercased.
fn normalise(code: &str) -> String {
    code.chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .flat_map(char::to_lowercase)
        .collect()
}

/// The person turns their own second factor off, with a current code, where the workspace
/// does not require one of them (`tenant`: they belong to one; super admins do not).
pub async fn turn_off(
    conn: &mut PgConnection,
    sealer: &crate::sealing::Sealer,
    actor: &Actor,
    user: &User,
    tenant: bool,
    code: &str,
) -> Result<Checked<()>> {
    if tenant && requirement(conn).await?.applies_to(user.role) {
        return Err(Error::Invalid {
            field: "mfa",
            reason: "your workspace requires a second factor of your role; an admin can reset it if you lost your device".into(),
        });
    }
    if verify(conn, sealer, actor, user.id, code).await?.is_none() {
        return Ok(Checked::WrongCode);
    }
    remove(conn, user.id).await?;
    audit::record(
        conn,
        actor,
        "mfa.disabled",
        Some(&user.id.to_string()),
        serde_json::json!({}),
    )
    .await?;
    Ok(Checked::Done(()))
}

/// An admin clears someone's second factor (a lost phone): their sessions end, and their next
/// sign-in sets up a new one if the workspace requires it.
pub async fn reset(conn: &mut PgConnection, actor: &Actor, user: UserId) -> Result<()> {
    crate::accounts::get(conn, user).await?;
    remove(conn, user).await?;
    crate::accounts::end_sessions(conn, user).await?;
    audit::record(
        conn,
        actor,
        "mfa.reset",
        Some(&user.to_string()),
        serde_json::json!({}),
    )
    .await
}

async fn remove(conn: &mut PgConnection, user: UserId) -> Result<()> {
    sqlx::query!("DELETE FROM mfa_totp WHERE user_id = $1", user.0)
        .execute(&mut *conn)
        .await?;
    sqlx::query!("DELETE FROM mfa_recovery_codes WHERE user_id = $1", user.0)
        .execute(&mut *conn)
        .await?;
    sqlx::query!("DELETE FROM mfa_challenges WHERE user_id = $1", user.0)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

// --- the second step of a sign-in ---------------------------------------------------------

/// What a sign-in still owes after the password.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Owed {
    /// A code from the app or a recovery code.
    Verify,
    /// The workspace requires an app the person has not set up: set one up now.
    Enrol,
}

impl Owed {
    fn as_str(self) -> &'static str {
        match self {
            Owed::Verify => "verify",
            Owed::Enrol => "enrol",
        }
    }
}

/// What, if anything, `user` owes after a correct password.
pub async fn owed(conn: &mut PgConnection, user: &User, tenant: bool) -> Result<Option<Owed>> {
    if enrolled(conn, user.id).await? {
        return Ok(Some(Owed::Verify));
    }
    let required = tenant && requirement(conn).await?.applies_to(user.role);
    Ok(required.then_some(Owed::Enrol))
}

/// A challenge for the second step; the answer is the token the browser keeps.
pub async fn challenge(conn: &mut PgConnection, user: UserId, owed: Owed) -> Result<String> {
    let token = secrets::random_token(32);
    sqlx::query!("DELETE FROM mfa_challenges WHERE expires_at < now() OR used_at IS NOT NULL",)
        .execute(&mut *conn)
        .await?;
    sqlx::query!(
        "INSERT INTO mfa_challenges (token_hash, user_id, kind, expires_at)
         VALUES ($1, $2, $3, now() + make_interval(secs => $4))",
        secrets::sha256(&token),
        user.0,
        owed.as_str(),
        CHALLENGE_TTL.num_seconds() as f64
    )
    .execute(&mut *conn)
    .await?;
    Ok(token)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Challenge {
    pub user: UserId,
    pub owed: Owed,
}

/// The challenge `token` stands for while it is live (unspent, unexpired, attempts left).
/// `attempt`: one more code is being tried against it, which counts.
async fn challenge_for(
    conn: &mut PgConnection,
    token: &str,
    attempt: bool,
) -> Result<Option<Challenge>> {
    let row = sqlx::query!(
        "UPDATE mfa_challenges SET attempts = attempts + $2::int
         WHERE token_hash = $1 AND used_at IS NULL AND expires_at > now() AND attempts < $3
         RETURNING user_id, kind",
        secrets::sha256(token),
        i32::from(attempt),
        MAX_ATTEMPTS
    )
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(|r| Challenge {
        user: UserId(r.user_id),
        owed: if r.kind == "enrol" {
            Owed::Enrol
        } else {
            Owed::Verify
        },
    }))
}

/// A live challenge found from its token (`<scope>.<secret>`, the scope being the workspace's
/// slug or `_` for super admins), with what the second step needs.
#[derive(Clone, Debug)]
pub struct Live {
    /// `None` for super admins.
    pub tenant: Option<crate::Tenant>,
    pub user: User,
    pub owed: Owed,
    /// The token's scope part, for throttling by account.
    pub scope: String,
    secret: String,
}

/// The challenge `token` names while it is live and its person active; `attempt` counts one
/// more code against it (committed here, whatever the code turns out to be).
pub async fn live(store: &crate::Store, token: &str, attempt: bool) -> Result<Option<Live>> {
    let Some((scope, secret)) = token.split_once('.') else {
        return Ok(None);
    };
    let tenant = if scope == "_" {
        None
    } else {
        let Ok(slug) = crate::Slug::parse(scope) else {
            return Ok(None);
        };
        match crate::tenants::find_by_slug(store.pool(), &slug).await {
            Ok(t) if t.status == crate::TenantStatus::Active => Some(t),
            Ok(_) | Err(Error::NotFound(_)) => return Ok(None),
            Err(e) => return Err(e),
        }
    };
    let mut tx = store.scoped_tx(tenant.as_ref().map(|t| t.scope())).await?;
    let challenge = challenge_for(tx.conn(), secret, attempt).await?;
    let user = match challenge {
        Some(c) => Some(crate::accounts::get(tx.conn(), c.user).await?),
        None => None,
    };
    tx.commit().await?;
    Ok(match (challenge, user) {
        (Some(c), Some(user)) if user.active => Some(Live {
            tenant,
            user,
            owed: c.owed,
            scope: scope.to_string(),
            secret: secret.to_string(),
        }),
        _ => None,
    })
}

impl Live {
    /// The label an authenticator app shows for this account.
    pub fn account_label(&self) -> String {
        account_label(
            &self.user.email,
            self.tenant.as_ref().map(|t| t.slug.as_str()),
        )
    }

    /// The app this sign-in sets up (the workspace requires one the person lacks).
    pub async fn enrolment(
        &self,
        store: &crate::Store,
        sealer: &crate::sealing::Sealer,
    ) -> Result<Enrolment> {
        if self.owed != Owed::Enrol {
            return Err(Error::Invalid {
                field: "mfa_token",
                reason: "is for a sign-in that needs a code, not a new app".into(),
            });
        }
        let mut tx = store
            .scoped_tx(self.tenant.as_ref().map(|t| t.scope()))
            .await?;
        let e = begin(tx.conn(), sealer, self.user.id, &self.account_label()).await?;
        tx.commit().await?;
        Ok(e)
    }

    /// The challenge is met: it cannot be used again.
    pub async fn spend(&self, conn: &mut PgConnection) -> Result<()> {
        spend(conn, &self.secret).await
    }
}

/// The label an authenticator app shows: the e-mail, and the workspace when there is one.
pub fn account_label(email: &str, workspace: Option<&str>) -> String {
    match workspace {
        Some(slug) => format!("{email} ({slug})"),
        None => email.to_string(),
    }
}

/// The challenge is met: it cannot be used again.
async fn spend(conn: &mut PgConnection, token: &str) -> Result<()> {
    sqlx::query!(
        "UPDATE mfa_challenges SET used_at = now() WHERE token_hash = $1",
        secrets::sha256(token)
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

// --- the workspace's rule -----------------------------------------------------------------

/// Who in the workspace must have a second factor (tenant schemas only).
pub async fn requirement(conn: &mut PgConnection) -> Result<Requirement> {
    let value = sqlx::query_scalar!(
        "SELECT value #>> '{}' AS \"v!\" FROM settings WHERE key = $1",
        SETTING
    )
    .fetch_optional(&mut *conn)
    .await?;
    Ok(value
        .as_deref()
        .and_then(Requirement::parse)
        .unwrap_or_default())
}

pub async fn set_requirement(
    conn: &mut PgConnection,
    actor: &Actor,
    to: Requirement,
) -> Result<Requirement> {
    let from = requirement(conn).await?;
    sqlx::query!(
        "INSERT INTO settings (key, value) VALUES ($1, to_jsonb($2::text))
         ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = now()",
        SETTING,
        to.as_str()
    )
    .execute(&mut *conn)
    .await?;
    audit::record(
        conn,
        actor,
        "settings.mfa_required",
        None,
        serde_json::json!({ "from": from, "to": to }),
    )
    .await?;
    Ok(to)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovery_codes_are_typed_forgivingly() {
        let code = recovery_code();
        assert_eq!(code.len(), 11);
        assert_eq!(&code[5..6], "-");
        assert_eq!(
            normalise(&code.to_uppercase().replace('-', " ")),
            normalise(&code)
        );
        assert!(normalise(&code).bytes().all(|b| CODE_ALPHABET.contains(&b)));
    }

    #[test]
    fn an_enrolment_is_a_scannable_link_and_typeable_seed() {
        let e = enrolment(vec![7u8; 20], "ada@example.com (acme)");
        assert!(e.otpauth_url.starts_with("otpauth://totp/"));
        assert!(e.otpauth_url.contains("issuer=devpulse"));
        assert!(e.otpauth_url.contains(&format!("secret={}", e.secret)));
        assert!(e.qr_svg.starts_with("<svg"), "{}", &e.qr_svg[..40]);
        // The RFC 6238 test vector's shape: the code for a time is the app's.
        let code = code_at(&e.secret, 59);
        assert_eq!(code.len(), 6);
        assert_eq!(
            totp(vec![7u8; 20], "x").check(&code, 59),
            Some(1),
            "step 1 (30–59 s)"
        );
    }
}
