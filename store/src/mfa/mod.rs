//! Second factors: an authenticator app (TOTP, RFC 6238) with single-use recovery codes, the
//! second step of a password sign-in, and the workspace's rule about who must have one.
//! Every change records its own audit entry; so does every second step, failed or not.

//!
//! One file per part: `totp` (the app: seeds, setting one up, checking codes), `recovery`
//! (recovery codes, turning off, an admin's reset), `challenges` (the second step of a
//! sign-in), `rule` (who must have one).

use chrono::Duration;
use sqlx::PgConnection;
pub use types::mfa::{Enrolment, Requirement, Status};

use crate::{Result, User, UserId};

mod challenges;
mod recovery;
mod rule;
mod totp;

pub use challenges::{account_label, challenge, live, owed, Challenge, Live, Owed};
pub use recovery::{renew_recovery_codes, reset, turn_off};
pub use rule::{requirement, set_requirement};
pub use totp::{begin, code_at, confirm, verify};

/// How long the second step of a sign-in (or setting up an app) may take.
pub const CHALLENGE_TTL: Duration = Duration::minutes(10);
/// Wrong codes one challenge survives; then the password must be typed again.
pub const MAX_ATTEMPTS: i32 = 5;
pub const RECOVERY_CODES: usize = 10;
/// Wrong codes a person may enter (across challenges, sources and correct passwords) before
/// codes are refused for [`LOCKOUT`] after the last one.
pub const MAX_FAILURES: i32 = 10;
pub const LOCKOUT: Duration = Duration::minutes(15);
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

/// The outcome of an action that asks for a current code first. A wrong code is not an
/// error: its audit entry must be committed, so the caller commits and then refuses.
#[derive(Debug, PartialEq, Eq)]
pub enum Checked<T> {
    Done(T),
    WrongCode,
    /// Too many wrong codes lately ([`MAX_FAILURES`] within [`LOCKOUT`]): none is checked.
    Locked,
}

impl<T> Checked<T> {
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Checked<U> {
        match self {
            Checked::Done(t) => Checked::Done(f(t)),
            Checked::WrongCode => Checked::WrongCode,
            Checked::Locked => Checked::Locked,
        }
    }
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

/// What a person types, as compared: spaces and dashes dropped, letters lowercased.
fn normalise(code: &str) -> String {
    code.chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .flat_map(char::to_lowercase)
        .collect()
}

/// Tells the person by e-mail that their second factor changed, in the transaction that
/// changes it. A workspace's people only: the installation's super admins sign in outside any
/// workspace and have no mailbox here.
pub(crate) async fn tell(
    conn: &mut PgConnection,
    sealer: &crate::sealing::Sealer,
    user: UserId,
    change: crate::mail::SecondFactorChange,
    by: Option<&str>,
) -> Result<()> {
    let in_workspace =
        sqlx::query_scalar!(r#"SELECT to_regclass('emails') IS NOT NULL AS "here!""#)
            .fetch_one(&mut *conn)
            .await?;
    if !in_workspace {
        return Ok(());
    }
    let person = crate::accounts::get(conn, user).await?;
    let to = crate::Email::parse(&person.email)?;
    let message = crate::mail::Message::SecondFactorChanged {
        change,
        by: by.map(String::from),
        at: chrono::Utc::now(),
    };
    crate::mail::queue(conn, sealer, &to, &message).await?;
    Ok(())
}
