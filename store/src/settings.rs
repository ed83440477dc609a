//! A tenant's settings, one JSON value per key. Each change records itself in the audit log.

use sqlx::PgConnection;

use crate::{audit::Actor, Error, Result};

/// The zone a tenant's days, weeks and hours-of-day follow.
const TIME_ZONE: &str = "time_zone";
pub const DEFAULT_TIME_ZONE: &str = "UTC";

/// The tenant's IANA time zone (UTC until someone sets one).
pub async fn time_zone(conn: &mut PgConnection) -> Result<String> {
    let tz = sqlx::query_scalar!(
        "SELECT value #>> '{}' AS \"tz!\" FROM settings WHERE key = $1",
        TIME_ZONE
    )
    .fetch_optional(&mut *conn)
    .await?;
    Ok(tz.unwrap_or_else(|| DEFAULT_TIME_ZONE.to_string()))
}

/// Sets the tenant's time zone; `tz` must be a zone PostgreSQL knows by name (the IANA
/// database), which is what makes every day boundary exact, half-hour offsets and daylight
/// saving included.
pub async fn set_time_zone(conn: &mut PgConnection, actor: &Actor, tz: &str) -> Result<String> {
    let name = sqlx::query_scalar!(
        "SELECT name AS \"name!\" FROM pg_timezone_names WHERE lower(name) = lower($1)
         ORDER BY name = $1 DESC LIMIT 1",
        tz.trim()
    )
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(Error::Invalid {
        field: "time_zone",
        reason: "must be an IANA time zone name, e.g. Europe/Berlin or Asia/Kolkata".into(),
    })?;
    let old = time_zone(conn).await?;
    sqlx::query!(
        "INSERT INTO settings (key, value) VALUES ($1, to_jsonb($2::text))
         ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = now()",
        TIME_ZONE,
        name
    )
    .execute(&mut *conn)
    .await?;
    let details = serde_json::json!({ "from": old, "to": name });
    crate::audit::record(conn, actor, "settings.time_zone", None, details).await?;
    Ok(name)
}
