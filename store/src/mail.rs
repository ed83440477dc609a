//! The workspace's outgoing e-mail: a message is queued (its template's values sealed, since
//! they may hold a link that sets a password) in the same transaction as what it tells of,
//! with the job that delivers it; the server's job runner renders and sends it and records
//! how it went. Tenant admins read the record.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::{jobs, sealing::Sealer, Email, Error, Result};

/// The job kind that delivers one e-mail; its payload is `{"email": <id>}`.
pub const SEND: &str = "email.send";

/// What an e-mail says, as the values its template needs. The server renders the words.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "template", rename_all = "snake_case")]
pub enum Message {
    /// Someone was invited to a workspace: the link sets their first password.
    Invitation {
        link: String,
        invited_by: Option<String>,
        expires_at: DateTime<Utc>,
    },
    /// A link to choose a new password, asked for by the person (`by_admin: None`) or
    /// issued by an admin.
    PasswordReset {
        link: String,
        by_admin: Option<String>,
        expires_at: DateTime<Utc>,
    },
    /// The person's second factor changed. Sent whoever made the change, so that one they did
    /// not make is seen; `by` names an admin who did.
    SecondFactorChanged {
        change: SecondFactorChange,
        by: Option<String>,
        at: DateTime<Utc>,
    },
    /// An alert rule the person hears of by e-mail fired or resolved.
    Alert {
        /// "Platform spend fired: $212.50 (threshold $200.00)".
        headline: String,
        /// The rule in words: "Cost above $200.00 over 1 d".
        rule: String,
        firing: bool,
        value: String,
        /// The alerts page.
        link: String,
        at: DateTime<Utc>,
    },
    /// A scheduled report's sending: the headline numbers in the body, its files attached.
    Report {
        name: String,
        /// "Nov 23 – Nov 29, 2026".
        period: String,
        /// What the numbers cover: "Everything you see", "Team Platform".
        scope: String,
        headline: Vec<Headline>,
        /// The reports page.
        link: String,
        /// The sending whose files the e-mail attaches.
        run: Uuid,
        /// Why the PDF is missing, when it is.
        pdf_error: Option<String>,
    },
}

/// One headline number of a report, as words: "Cost", "$212.50", "+12.5% vs the week before".
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Headline {
    pub label: String,
    pub value: String,
    pub change: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum SecondFactorChange {
    Enabled,
    Disabled,
    /// An admin cleared it.
    Reset,
    RecoveryCodeUsed,
    RecoveryCodesRenewed,
}

impl Message {
    pub fn template(&self) -> &'static str {
        match self {
            Message::Invitation { .. } => "invitation",
            Message::PasswordReset { .. } => "password_reset",
            Message::SecondFactorChanged { .. } => "second_factor_changed",
            Message::Alert { .. } => "alert",
            Message::Report { .. } => "report",
        }
    }
}

pub use types::mail::Sent;

/// An e-mail waiting to go out, opened for its sender.
#[derive(Clone, Debug)]
pub struct Outgoing {
    pub id: Uuid,
    pub to: Email,
    pub message: Message,
}

/// Queues `message` to `to` in the workspace of `conn`'s transaction, with its delivery job.
pub async fn queue(
    conn: &mut PgConnection,
    sealer: &Sealer,
    to: &Email,
    message: &Message,
) -> Result<Uuid> {
    let id = Uuid::new_v4();
    let values = serde_json::to_vec(message).expect("a message serializes");
    let sealed = sealer.seal(&values, id.as_bytes());
    sqlx::query!(
        "INSERT INTO emails (id, to_address, template, sealed) VALUES ($1, $2, $3, $4)",
        id,
        to.as_str(),
        message.template(),
        sealed
    )
    .execute(&mut *conn)
    .await?;
    jobs::enqueue_here(conn, SEND, &serde_json::json!({ "email": id })).await?;
    Ok(id)
}

/// The e-mail `id` if it still has to go out (`None`: sent already, by an earlier attempt of
/// the same job), its row locked until the transaction ends. A message sealed under a key
/// this instance lacks is an error, so the job retries, perhaps on the instance that sealed
/// it.
pub async fn outgoing(
    conn: &mut PgConnection,
    sealer: &Sealer,
    id: Uuid,
) -> Result<Option<Outgoing>> {
    let Some(row) = sqlx::query!(
        "SELECT to_address, sealed, status FROM emails WHERE id = $1 FOR UPDATE",
        id
    )
    .fetch_optional(&mut *conn)
    .await?
    else {
        return Err(Error::NotFound("e-mail"));
    };
    if row.status == "sent" {
        return Ok(None);
    }
    let unreadable = || {
        Error::Invalid {
        field: "sealed",
        reason: "cannot be opened with this instance's key (set the same DEVPULSE_SECRET_KEY on every instance)".into(),
    }
    };
    let sealed = row.sealed.ok_or_else(unreadable)?;
    let values = sealer
        .open(&sealed, id.as_bytes())
        .map_err(|_| unreadable())?;
    let message = serde_json::from_slice(&values).map_err(|_| unreadable())?;
    let to = Email::parse(&row.to_address).map_err(|_| Error::Invalid {
        field: "to_address",
        reason: "is not an e-mail address".into(),
    })?;
    Ok(Some(Outgoing { id, to, message }))
}

/// Records a delivery: the values (and the link in them) are forgotten.
pub async fn delivered(conn: &mut PgConnection, id: Uuid, subject: &str, via: &str) -> Result<()> {
    sqlx::query!(
        "UPDATE emails SET status = 'sent', sent_at = now(), subject = $2, delivered_via = $3,
                attempts = attempts + 1, sealed = NULL, last_error = NULL
         WHERE id = $1",
        id,
        subject,
        via
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Records a failed attempt; `given_up` when no attempt will follow. An e-mail already sent
/// (by a worker that died before it could say so) stays sent.
pub async fn attempt_failed(
    conn: &mut PgConnection,
    id: Uuid,
    error: &str,
    given_up: bool,
) -> Result<()> {
    sqlx::query!(
        "UPDATE emails SET attempts = attempts + 1, last_error = left($2, 2000),
                status = CASE WHEN $3 THEN 'failed' ELSE status END
         WHERE id = $1 AND status = 'queued'",
        id,
        error,
        given_up
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The newest e-mails, newest first.
pub async fn list(conn: &mut PgConnection, limit: i64) -> Result<Vec<Sent>> {
    Ok(sqlx::query_as!(
        Sent,
        r#"SELECT id, to_address AS "to", template, subject, status, attempts, last_error,
                  delivered_via, created_at, sent_at
           FROM emails ORDER BY created_at DESC LIMIT $1"#,
        limit
    )
    .fetch_all(&mut *conn)
    .await?)
}
