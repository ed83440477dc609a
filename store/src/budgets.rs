//! Budgets: spending limits per month or week for the workspace, a team or a person, and
//! where each stands. A budget's numbers are the dashboard's own (its overview of the current
//! period, by local day), read as the caller, so nobody sees a total through a budget that
//! the dashboard would not show them.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::{audit, audit::Actor, dashboard::Reader, Error, Result};
pub use types::budgets::{Budget, NewBudget, Period, Projection, Scope, Status};
use types::{
    dashboard::{Filters, Preset},
    BudgetId, Grain, TeamId, UserId,
};

/// Every budget: the workspace's first, then teams' and people's by name.
pub async fn list(conn: &mut PgConnection) -> Result<Vec<Budget>> {
    let rows = sqlx::query!(
        r#"SELECT b.id, b.scope, b.team_id, b.user_id, b.period, b.usd, b.tokens, b.created_at,
                  coalesce(t.name, u.email, '') AS "name!"
           FROM budgets b
           LEFT JOIN teams t ON t.id = b.team_id
           LEFT JOIN users u ON u.id = b.user_id
           ORDER BY CASE b.scope WHEN 'workspace' THEN 0 WHEN 'team' THEN 1 ELSE 2 END, 9,
                    b.period"#
    )
    .fetch_all(&mut *conn)
    .await?;
    // Read only when a budget needs it: every dashboard lists the budgets.
    let workspace = match rows.iter().any(|r| r.scope == "workspace") {
        true => crate::tenants::name_here(conn).await?,
        false => String::new(),
    };
    rows.into_iter()
        .map(|r| {
            let scope = match (r.scope.as_str(), r.team_id, r.user_id) {
                ("team", Some(t), _) => Scope::Team { team_id: TeamId(t) },
                ("person", _, Some(u)) => Scope::Person { user_id: UserId(u) },
                _ => Scope::Workspace,
            };
            Ok(Budget {
                id: BudgetId(r.id),
                name: match scope {
                    Scope::Workspace => workspace.clone(),
                    _ => r.name,
                },
                scope,
                period: Period::parse(&r.period)?,
                usd: r.usd,
                tokens: r.tokens,
                created_at: r.created_at,
            })
        })
        .collect()
}

/// Sets the budget of a scope and period (a second one for the same is a change of the
/// first), audited with the limits before and after.
pub async fn set(conn: &mut PgConnection, actor: &Actor, new: &NewBudget) -> Result<Budget> {
    new.check()?;
    let (scope, team, user) = match new.scope {
        Scope::Workspace => ("workspace", None, None),
        Scope::Team { team_id } => ("team", Some(team_id.0), None),
        Scope::Person { user_id } => ("person", None, Some(user_id.0)),
    };
    // Named here rather than by the foreign keys' errors: the field that is wrong.
    if let Some(t) = team {
        sqlx::query_scalar!("SELECT 1 AS \"one!\" FROM teams WHERE id = $1", t)
            .fetch_optional(&mut *conn)
            .await?
            .ok_or(Error::NotFound("team"))?;
    }
    if let Some(u) = user {
        sqlx::query_scalar!(
            "SELECT 1 AS \"one!\" FROM users WHERE id = $1 AND erased_at IS NULL",
            u
        )
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(Error::NotFound("user"))?;
    }
    let before = sqlx::query!(
        "SELECT usd, tokens FROM budgets WHERE scope = $1 AND team_id IS NOT DISTINCT FROM $2
           AND user_id IS NOT DISTINCT FROM $3 AND period = $4",
        scope,
        team,
        user,
        new.period.as_str()
    )
    .fetch_optional(&mut *conn)
    .await?;
    let id = sqlx::query_scalar!(
        "INSERT INTO budgets (id, scope, team_id, user_id, period, usd, tokens)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (scope, coalesce(team_id, '00000000-0000-0000-0000-000000000000'),
                      coalesce(user_id, '00000000-0000-0000-0000-000000000000'), period)
         DO UPDATE SET usd = excluded.usd, tokens = excluded.tokens
         RETURNING id",
        Uuid::new_v4(),
        scope,
        team,
        user,
        new.period.as_str(),
        new.usd,
        new.tokens
    )
    .fetch_one(&mut *conn)
    .await?;
    let details = serde_json::json!({
        "scope": scope,
        "team_id": team,
        "user_id": user,
        "period": new.period.as_str(),
        "usd": new.usd,
        "tokens": new.tokens,
        "before": before.map(|b| serde_json::json!({ "usd": b.usd, "tokens": b.tokens })),
    });
    audit::record(conn, actor, "budget.set", Some(&id.to_string()), details).await?;
    list(conn)
        .await?
        .into_iter()
        .find(|b| b.id.0 == id)
        .ok_or(Error::NotFound("budget"))
}

pub async fn delete(conn: &mut PgConnection, actor: &Actor, id: BudgetId) -> Result<()> {
    let gone = sqlx::query!(
        "DELETE FROM budgets WHERE id = $1 RETURNING scope, period, usd, tokens",
        id.0
    )
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(Error::NotFound("budget"))?;
    let details = serde_json::json!({
        "scope": gone.scope, "period": gone.period, "usd": gone.usd, "tokens": gone.tokens,
    });
    audit::record(
        conn,
        actor,
        "budget.deleted",
        Some(&id.to_string()),
        details,
    )
    .await
}

/// The budgets `reader` may see, each with where its current period stands at `now`.
pub async fn status(
    conn: &mut PgConnection,
    reader: &Reader,
    now: DateTime<Utc>,
) -> Result<Vec<Status>> {
    let mut out = Vec::new();
    let mut offset = None;
    for budget in list(conn).await? {
        if let Some(s) = standing(conn, reader, budget, now, &mut offset).await? {
            out.push(s);
        }
    }
    Ok(out)
}

/// The budget `id` with where it stands, if `reader` may see it.
pub async fn status_of(
    conn: &mut PgConnection,
    reader: &Reader,
    id: BudgetId,
    now: DateTime<Utc>,
) -> Result<Option<Status>> {
    let Some(budget) = list(conn).await?.into_iter().find(|b| b.id == id) else {
        return Ok(None);
    };
    standing(conn, reader, budget, now, &mut None).await
}

/// The dashboard filters that cover a budget's scope.
pub fn filters(scope: Scope) -> Filters {
    let mut f = Filters::default();
    match scope {
        Scope::Workspace => {}
        Scope::Team { team_id } => f.team = Some(team_id),
        Scope::Person { user_id } => f.person = Some(user_id),
    }
    f
}

/// Where `budget`'s current period stands, or `None` when `reader` does not see its totals
/// whole. `offset` keeps the zone's offset from UTC across budgets (one query for all).
async fn standing(
    conn: &mut PgConnection,
    reader: &Reader,
    budget: Budget,
    now: DateTime<Utc>,
    offset: &mut Option<i32>,
) -> Result<Option<Status>> {
    if !budget.scope.open_to(reader.audience) {
        return Ok(None);
    }
    let f = Filters {
        range: Some(match budget.period {
            Period::Month => Preset::ThisMonth,
            Period::Week => Preset::ThisWeek,
        }),
        grain: Some(Grain::Day),
        ..filters(budget.scope)
    };
    let w = crate::dashboard::window(conn, &f, now).await?;
    let o = match crate::dashboard::overview(conn, reader, &w, &f).await {
        Ok(o) => o,
        // A team they do not manage, a person they do not see: not theirs to see.
        Err(Error::NotFound(_) | Error::Invalid { .. }) => return Ok(None),
        Err(e) => return Err(e),
    };
    // The days begun so far; the period's later days are still empty.
    let days: Vec<&types::dashboard::Kpis> = o
        .buckets
        .iter()
        .zip(&o.trend)
        .filter(|(start, _)| **start <= now)
        .map(|(_, k)| k)
        .collect();
    let cost: Vec<f64> = days.iter().map(|k| k.counts.cost_usd).collect();
    let tokens: Vec<f64> = days.iter().map(|k| k.tokens() as f64).collect();
    let project =
        |limit: f64, daily: &[f64]| types::budgets::project(limit, daily, w.from, w.to, now);
    let utc_offset_secs = match *offset {
        Some(o) => o,
        None => {
            let o = sqlx::query_scalar!(
                r#"SELECT extract(epoch FROM ($1::timestamptz AT TIME ZONE $2::text)
                                          - ($1::timestamptz AT TIME ZONE 'UTC'))::int4 AS "o!""#,
                now,
                w.tz
            )
            .fetch_one(&mut *conn)
            .await?;
            *offset = Some(o);
            o
        }
    };
    Ok(Some(Status {
        usd: budget.usd.map(|l| project(l, &cost)),
        tokens: budget.tokens.map(|l| project(l as f64, &tokens)),
        from: w.from,
        to: w.to,
        budget,
        utc_offset_secs,
    }))
}
