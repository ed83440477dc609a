//! The workspace's settings: its name, time zone, people policy and retention policy (the
//! `/settings` page;
//! REST twins under `/api/v1/settings`).

use leptos::prelude::*;
use types::{
    retention::{Policy, Preview, Retention},
    settings::{PeoplePolicy, Workspace},
};

#[cfg(feature = "ssr")]
use crate::api::workspace as ws;
use crate::AppError;

/// The workspace's name, address and time zone.
#[server(endpoint = "settings/workspace")]
pub async fn workspace_settings() -> Result<Workspace, AppError> {
    let (s, mut tx) = ws::allowed::<WorkspaceSettings>().await?;
    let w = Workspace {
        name: store::tenants::name_here(&mut tx).await?,
        slug: ws::slug(&s)?.to_string(),
        time_zone: store::settings::time_zone(&mut tx).await?,
        people: store::settings::people(&mut tx).await?,
    };
    tx.commit().await?;
    Ok(w)
}

/// Renames the workspace (e-mails and the system console show the name; the address stays).
#[server(endpoint = "settings/name")]
pub async fn rename(name: String) -> Result<String, AppError> {
    let (s, mut tx) = ws::allowed::<Rename>().await?;
    let name = store::tenants::rename_here(&mut tx, &s.actor, &name).await?;
    tx.commit().await?;
    Ok(name)
}

/// Sets the zone the workspace's days, weeks and hours-of-day follow; answers the zone's
/// canonical name.
#[server(endpoint = "settings/time_zone")]
pub async fn set_time_zone(time_zone: String) -> Result<String, AppError> {
    let (s, mut tx) = ws::allowed::<SetTimeZone>().await?;
    let tz = store::settings::set_time_zone(&mut tx, &s.actor, &time_zone).await?;
    tx.commit().await?;
    Ok(tz)
}

/// The people policy from the form: a ticked box, hours as numbers, a role by name.
pub fn people_policy_of(
    team_medians: Option<&str>,
    idle_hours: &str,
    max_hours: &str,
    default_role: &str,
) -> Result<PeoplePolicy, types::Invalid> {
    let hours = |field: &'static str, v: &str| {
        v.trim().parse::<u32>().map_err(|_| types::Invalid {
            field,
            reason: "must be a whole number of hours".into(),
        })
    };
    let default_role = types::Role::parse_tenant(default_role).map_err(|e| types::Invalid {
        field: "default_role",
        ..e
    })?;
    let p = PeoplePolicy {
        team_medians: team_medians.is_some(),
        idle_hours: hours("idle_hours", idle_hours)?,
        max_hours: hours("max_hours", max_hours)?,
        default_role,
    };
    p.check()?;
    Ok(p)
}

/// Saves what developers may compare themselves with, how long a sign-in lasts and the role
/// newcomers get.
#[server(endpoint = "settings/people")]
pub async fn set_people_policy(
    team_medians: Option<String>,
    idle_hours: String,
    max_hours: String,
    default_role: String,
) -> Result<PeoplePolicy, AppError> {
    let (s, mut tx) = ws::allowed::<SetPeoplePolicy>().await?;
    let p = people_policy_of(
        team_medians.as_deref(),
        &idle_hours,
        &max_hours,
        &default_role,
    )?;
    let p = store::settings::set_people(&mut tx, &s.actor, &p).await?;
    tx.commit().await?;
    Ok(p)
}

/// The retention policy and what its last run removed.
#[server(endpoint = "settings/retention")]
pub async fn get_retention() -> Result<Retention, AppError> {
    let (_, mut tx) = ws::allowed::<GetRetention>().await?;
    let r = store::retention::get(&mut tx).await?;
    tx.commit().await?;
    Ok(r)
}

/// A policy from the form: each field a number of days, empty to keep forever.
pub fn policy_of(
    raw_days: &str,
    minute_days: &str,
    hour_days: &str,
    day_days: &str,
) -> Result<Policy, types::Invalid> {
    use types::retention::parse_days;
    Ok(Policy {
        raw_days: parse_days("raw_days", raw_days)?,
        minute_days: parse_days("minute_days", minute_days)?,
        hour_days: parse_days("hour_days", hour_days)?,
        day_days: parse_days("day_days", day_days)?,
    })
}

/// What a policy would remove today.
#[server(endpoint = "settings/retention/preview")]
pub async fn preview_retention(
    raw_days: String,
    minute_days: String,
    hour_days: String,
    day_days: String,
) -> Result<Preview, AppError> {
    let (_, mut tx) = ws::allowed::<PreviewRetention>().await?;
    let policy = policy_of(&raw_days, &minute_days, &hour_days, &day_days)?;
    let p = store::retention::preview(&mut tx, &policy, chrono::Utc::now()).await?;
    tx.commit().await?;
    Ok(p)
}

/// Sets the policy; one that keeps anything less long needs `confirm` (a ticked box).
#[server(endpoint = "settings/retention/set")]
pub async fn set_retention(
    raw_days: String,
    minute_days: String,
    hour_days: String,
    day_days: String,
    confirm: Option<String>,
) -> Result<Retention, AppError> {
    let (s, mut tx) = ws::allowed::<SetRetention>().await?;
    let policy = policy_of(&raw_days, &minute_days, &hour_days, &day_days)?;
    store::retention::set(&mut tx, &s.actor, policy, confirm.is_some()).await?;
    let r = store::retention::get(&mut tx).await?;
    tx.commit().await?;
    Ok(r)
}
