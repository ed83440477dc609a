//! Recovery codes, turning a second factor off, and an admin's reset.

use sqlx::PgConnection;

use crate::mail::SecondFactorChange;

use super::{enrolled, normalise, requirement, verify, Checked, CODE_ALPHABET, RECOVERY_CODES};
use crate::{
    audit::{self, Actor},
    secrets, Error, Result, User, UserId,
};

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
    match verify(conn, sealer, actor, user, code).await? {
        Checked::Done(_) => {}
        other => return Ok(other.map(|_| Vec::new())),
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
    super::tell(
        conn,
        sealer,
        user,
        SecondFactorChange::RecoveryCodesRenewed,
        None,
    )
    .await?;
    Ok(Checked::Done(codes))
}

pub(super) async fn replace_recovery_codes(
    conn: &mut PgConnection,
    user: UserId,
) -> Result<Vec<String>> {
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
    match verify(conn, sealer, actor, user.id, code).await? {
        Checked::Done(_) => {}
        other => return Ok(other.map(|_| ())),
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
    super::tell(conn, sealer, user.id, SecondFactorChange::Disabled, None).await?;
    Ok(Checked::Done(()))
}

/// An admin clears someone's second factor (a lost phone): their sessions end, and their next
/// sign-in sets up a new one if the workspace requires it.
pub async fn reset(
    conn: &mut PgConnection,
    sealer: &crate::sealing::Sealer,
    actor: &Actor,
    user: UserId,
) -> Result<()> {
    crate::accounts::get(conn, user).await?;
    // One's own goes through turning it off, which asks for a code (and the workspace rule).
    if actor.id == Some(user.0) {
        return Err(Error::Invalid {
            field: "id",
            reason: "is you: turn your own off on your profile, with a code".into(),
        });
    }
    remove(conn, user).await?;
    crate::accounts::end_sessions(conn, user).await?;
    audit::record(
        conn,
        actor,
        "mfa.reset",
        Some(&user.to_string()),
        serde_json::json!({}),
    )
    .await?;
    super::tell(
        conn,
        sealer,
        user,
        SecondFactorChange::Reset,
        Some(&actor.name),
    )
    .await
}

pub(super) async fn remove(conn: &mut PgConnection, user: UserId) -> Result<()> {
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
}
