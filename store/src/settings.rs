//! A tenant's settings, one JSON value per key. Each change records itself in the audit log.

use sqlx::PgConnection;
use types::settings::PeoplePolicy;

use crate::{audit::Actor, Error, Result};

/// The value stored under `key`, read as `T` (`None` when unset or unreadable: a setting
/// written by a later version falls back to its default).
pub(crate) async fn read<T: serde::de::DeserializeOwned>(
    conn: &mut PgConnection,
    key: &str,
) -> Result<Option<T>> {
    let v = sqlx::query_scalar!("SELECT value FROM settings WHERE key = $1", key)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(v.and_then(|v| serde_json::from_value(v).ok()))
}

/// Stores `value` under `key` (the caller audits the change when it is someone's decision).
pub(crate) async fn write<T: serde::Serialize>(
    conn: &mut PgConnection,
    key: &str,
    value: &T,
) -> Result<()> {
    let value = serde_json::to_value(value).expect("settings serialise");
    sqlx::query!(
        "INSERT INTO settings (key, value) VALUES ($1, $2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = now()",
        key,
        value
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

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

const PEOPLE: &str = "people";

/// How the workspace treats its people (the defaults until an admin saves a policy).
pub async fn people(conn: &mut PgConnection) -> Result<PeoplePolicy> {
    Ok(read(conn, PEOPLE).await?.unwrap_or_default())
}

/// Saves the people policy and records the change with what it was before. Sign-in lengths
/// apply from each session's next refresh (a shorter one ends sessions already past it).
pub async fn set_people(
    conn: &mut PgConnection,
    actor: &Actor,
    policy: &PeoplePolicy,
) -> Result<PeoplePolicy> {
    policy.check()?;
    let old = people(conn).await?;
    write(conn, PEOPLE, policy).await?;
    let details = serde_json::json!({ "from": old, "to": policy });
    crate::audit::record(conn, actor, "settings.people", None, details).await?;
    Ok(*policy)
}
