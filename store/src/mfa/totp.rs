//! The authenticator app: its seed (sealed), setting one up, and checking its codes.

use sqlx::PgConnection;

use crate::mail::SecondFactorChange;
use totp_rs::{Builder, Totp};

use super::{
    normalise, recovery::replace_recovery_codes, Checked, Enrolment, Method, CHALLENGE_TTL, ISSUER,
    LOCKOUT, MAX_FAILURES,
};
use crate::{
    audit::{self, Actor},
    secrets, Error, Result, UserId,
};

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

/// What a seed is sealed to: its purpose and its person.
fn owner(user: UserId) -> Vec<u8> {
    [b"totp:".as_slice(), user.0.as_bytes()].concat()
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
/// once. A wrong code is audited (commit, then refuse).
pub async fn confirm(
    conn: &mut PgConnection,
    sealer: &crate::sealing::Sealer,
    actor: &Actor,
    user: UserId,
    code: &str,
) -> Result<Checked<Vec<String>>> {
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
    let Some(step) = totp(seed, "x").check(&normalise(code), now_secs()) else {
        audit::record(
            conn,
            actor,
            "mfa.failed",
            Some(&user.to_string()),
            serde_json::json!({ "reason": "wrong code while setting up an app" }),
        )
        .await?;
        return Ok(Checked::WrongCode);
    };
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
    super::tell(conn, sealer, user, SecondFactorChange::Enabled, None).await?;
    Ok(Checked::Done(codes))
}

/// Checks a second step: a code from the app (each 30-second step accepted once) or an unused
/// recovery code (then spent). Wrong codes are counted per person: after [`MAX_FAILURES`]
/// within [`LOCKOUT`], every code is refused until it passes. Both outcomes are audited, so
/// the caller commits either way.
pub async fn verify(
    conn: &mut PgConnection,
    sealer: &crate::sealing::Sealer,
    actor: &Actor,
    user: UserId,
    code: &str,
) -> Result<Checked<Method>> {
    // The person's row, locked: their codes are checked one at a time, against one count.
    let Some(row) = sqlx::query!(
        "SELECT failures,
                coalesce(failed_at > now() - make_interval(secs => $2), false) AS \"recent!\"
         FROM mfa_totp WHERE user_id = $1 AND confirmed_at IS NOT NULL FOR UPDATE",
        user.0,
        LOCKOUT.num_seconds() as f64
    )
    .fetch_optional(&mut *conn)
    .await?
    else {
        return Ok(Checked::WrongCode);
    };
    if row.recent && row.failures >= MAX_FAILURES {
        audit::record(
            conn,
            actor,
            "mfa.failed",
            Some(&user.to_string()),
            serde_json::json!({ "reason": "too many wrong codes" }),
        )
        .await?;
        return Ok(Checked::Locked);
    }
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
    sqlx::query!(
        "UPDATE mfa_totp SET
             failures = CASE WHEN $2 THEN 0
                             WHEN failed_at > now() - make_interval(secs => $3) THEN failures + 1
                             ELSE 1 END,
             failed_at = CASE WHEN $2 THEN failed_at ELSE now() END
         WHERE user_id = $1",
        user.0,
        method.is_some(),
        LOCKOUT.num_seconds() as f64
    )
    .execute(&mut *conn)
    .await?;
    let (action, details) = match method {
        Some(m) => ("mfa.verified", serde_json::json!({ "method": m.as_str() })),
        None => (
            "mfa.failed",
            serde_json::json!({ "reason": "wrong, used or expired code" }),
        ),
    };
    audit::record(conn, actor, action, Some(&user.to_string()), details).await?;
    if method == Some(Method::RecoveryCode) {
        // One fewer way in, and possibly someone else's: the person hears of it.
        super::tell(
            conn,
            sealer,
            user,
            SecondFactorChange::RecoveryCodeUsed,
            None,
        )
        .await?;
    }
    Ok(match method {
        Some(m) => Checked::Done(m),
        None => Checked::WrongCode,
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_enrolment_is_a_scannable_link_and_typeable_seed() {
        let e = enrolment(vec![7u8; 20], "ada@example.com (acme)");
        assert!(e.otpauth_url.starts_with("otpauth://totp/"));
        assert!(e.otpauth_url.contains("issuer=devpulse"));
        assert!(e.otpauth_url.contains(&format!("secret={}", e.secret)));
        assert!(e.qr_svg.starts_with("<svg"), "{}", &e.qr_svg[..40]);
        // The code for a time is the app's: step 1 covers 30–59 s.
        let code = code_at(&e.secret, 59);
        assert_eq!(code.len(), 6);
        assert_eq!(totp(vec![7u8; 20], "x").check(&code, 59), Some(1));
    }
}
