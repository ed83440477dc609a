//! The workspace's rule: who must have a second factor.

use sqlx::PgConnection;

use super::{Requirement, SETTING};
use crate::{
    audit::{self, Actor},
    Error, Result,
};

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

/// `can_seal`: the server can keep authenticator seeds; without that nobody could set an app
/// up, and a rule requiring one would lock them out.
pub async fn set_requirement(
    conn: &mut PgConnection,
    actor: &Actor,
    to: Requirement,
    can_seal: bool,
) -> Result<Requirement> {
    if to != Requirement::Off && !can_seal {
        return Err(Error::Invalid {
            field: "required",
            reason: "cannot be required: this server has no DEVPULSE_SECRET_KEY to keep authenticator seeds with".into(),
        });
    }
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
