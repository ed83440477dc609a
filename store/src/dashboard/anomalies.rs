//! Unusual days (`types::anomalies`) in what a reader sees: each person they see by name,
//! each team they see whole, and the workspace for those who see its totals. Read from the
//! daily rollups of the last 90 local days; today, still under way, is never judged.

use chrono::{DateTime, Days, NaiveDate, Utc};
use sqlx::PgConnection;
use std::collections::BTreeMap;
use uuid::Uuid;

use super::{code, names, source_grain, window, Reader};
use crate::{teams, Result};
use types::{
    anomalies::{find, judge_day, Anomaly, Judged, Signal, Who, MIN_RUNS},
    dashboard::{Audience, Filters, Preset},
    Grain, UserId,
};

/// The longest look back for unusual days.
pub const MAX_DAYS: i64 = 31;

/// One day's sums for one person.
#[derive(Clone, Copy, Default)]
struct Day {
    cost: f64,
    tokens: f64,
    runs: f64,
    fails: f64,
    requests: f64,
}

impl Day {
    fn add(&mut self, o: &Day) {
        self.cost += o.cost;
        self.tokens += o.tokens;
        self.runs += o.runs;
        self.fails += o.fails;
        self.requests += o.requests;
    }

    fn signal(&self, s: Signal) -> Option<f64> {
        match s {
            Signal::CostUsd => Some(self.cost),
            Signal::Tokens => Some(self.tokens),
            Signal::FailureRate => (self.runs >= MIN_RUNS).then(|| 100.0 * self.fails / self.runs),
            Signal::Activity => Some(self.runs + self.requests),
        }
    }
}

/// Each person's daily sums over the last 90 local days (of `people`, `None`: everyone;
/// narrowed to a model or tool when given), and the last whole local day.
async fn daily(
    conn: &mut PgConnection,
    people: Option<Vec<Uuid>>,
    model: Option<&str>,
    tool: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(BTreeMap<Uuid, BTreeMap<NaiveDate, Day>>, NaiveDate)> {
    let f = Filters {
        range: Some(Preset::Last90Days),
        grain: Some(Grain::Day),
        ..Filters::default()
    };
    let w = window(conn, &f, now).await?;
    let src = source_grain(conn, &w).await?;
    let rows = sqlx::query!(
        r#"SELECT (r.bucket AT TIME ZONE $1::text)::date AS "day!", r.user_id,
                  sum(r.cost_usd)::float8 AS "cost!",
                  sum(r.input_tokens + r.output_tokens + r.cache_creation_tokens
                      + r.cache_read_tokens)::float8 AS "tokens!",
                  sum(r.tool_executions)::float8 AS "runs!",
                  sum(r.tool_failures)::float8 AS "fails!",
                  sum(r.api_requests)::float8 AS "requests!"
           FROM rollups r
           WHERE r.grain = $2 AND r.bucket >= $3 AND r.bucket < $4
             AND ($5::uuid[] IS NULL OR r.user_id = ANY($5))
             AND ($6::text IS NULL OR r.model = $6)
             AND ($7::text IS NULL OR r.tool = $7)
           GROUP BY 1, 2"#,
        w.tz,
        code(src),
        w.from,
        w.to,
        people as Option<Vec<Uuid>>,
        model,
        tool
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut by_person: BTreeMap<Uuid, BTreeMap<NaiveDate, Day>> = BTreeMap::new();
    for r in rows {
        let d = Day {
            cost: r.cost,
            tokens: r.tokens,
            runs: r.runs,
            fails: r.fails,
            requests: r.requests,
        };
        by_person
            .entry(r.user_id)
            .or_default()
            .entry(r.day)
            .or_default()
            .add(&d);
    }
    let today = sqlx::query_scalar!(
        r#"SELECT ($1::timestamptz AT TIME ZONE $2::text)::date AS "d!""#,
        now,
        w.tz
    )
    .fetch_one(&mut *conn)
    .await?;
    Ok((by_person, today.pred_opt().unwrap_or(today)))
}

fn total<'a>(
    members: impl Iterator<Item = &'a BTreeMap<NaiveDate, Day>>,
) -> BTreeMap<NaiveDate, Day> {
    let mut total: BTreeMap<NaiveDate, Day> = BTreeMap::new();
    for m in members {
        for (day, d) in m {
            total.entry(*day).or_default().add(d);
        }
    }
    total
}

/// Whether `signal` was usual on the last whole local day for the people `f` narrows
/// `reader`'s view to (its model and tool too), all of them together: what an unusual-day
/// alert rule reads. `None` when the day cannot be judged yet (see
/// [`types::anomalies::judge_day`]).
pub async fn last_day(
    conn: &mut PgConnection,
    reader: &Reader,
    f: &Filters,
    signal: Signal,
    now: DateTime<Utc>,
) -> Result<Option<Judged>> {
    let people = reader.people_for(conn, f).await?;
    let (by_person, until) =
        daily(conn, people, f.model.as_deref(), f.tool.as_deref(), now).await?;
    let series = total(by_person.values());
    let Some(first) = series.keys().next().copied() else {
        return Ok(None);
    };
    let values: Vec<(NaiveDate, f64)> = series
        .iter()
        .filter_map(|(day, d)| d.signal(signal).map(|v| (*day, v)))
        .collect();
    Ok(judge_day(signal, &values, first, until))
}

/// The unusual days of the last `days` whole local days, at `sensitivity` spreads, newest
/// first (the most unusual first within a day).
pub async fn anomalies(
    conn: &mut PgConnection,
    reader: &Reader,
    now: DateTime<Utc>,
    days: i64,
    sensitivity: f64,
) -> Result<Vec<Anomaly>> {
    let days = days.clamp(1, MAX_DAYS);
    let people = reader
        .people
        .as_ref()
        .map(|p| p.iter().map(|u| u.0).collect::<Vec<Uuid>>());
    let (by_person, until) = daily(conn, people, None, None, now).await?;
    let since = until
        .checked_sub_days(Days::new(days as u64 - 1))
        .unwrap_or(until);

    let mut series: Vec<(Who, BTreeMap<NaiveDate, Day>)> = Vec::new();
    if matches!(reader.audience, Audience::Everyone | Audience::Aggregate) {
        series.push((Who::Workspace, total(by_person.values())));
    }
    let visible_teams = match reader.audience {
        Audience::Everyone => Some(teams::Visible::All),
        Audience::Teams => Some(teams::Visible::ManagedBy(reader.me)),
        _ => None,
    };
    if let Some(visible) = visible_teams {
        for t in teams::list(conn, visible).await? {
            let members: Vec<Uuid> = t.members.iter().map(|m| m.user_id.0).collect();
            let sums = total(
                by_person
                    .iter()
                    .filter(|(u, _)| members.contains(u))
                    .map(|(_, d)| d),
            );
            series.push((
                Who::Team {
                    team_id: t.id,
                    name: t.name,
                },
                sums,
            ));
        }
    }
    if reader.names_people() {
        let ids: Vec<Uuid> = by_person.keys().copied().collect();
        let named = names(conn, &ids).await?;
        for (user, daily) in &by_person {
            series.push((
                Who::Person {
                    user_id: UserId(*user),
                    name: named.get(user).cloned().unwrap_or_else(|| user.to_string()),
                },
                daily.clone(),
            ));
        }
    }

    let mut out = Vec::new();
    for (who, daily) in series {
        let Some(first) = daily.keys().next().copied() else {
            continue;
        };
        for signal in Signal::ALL {
            let values: Vec<(NaiveDate, f64)> = daily
                .iter()
                .filter_map(|(day, d)| d.signal(signal).map(|v| (*day, v)))
                .collect();
            for (day, judged) in find(signal, &values, first, since, until, sensitivity) {
                out.push(Anomaly {
                    day,
                    who: who.clone(),
                    signal,
                    judged,
                });
            }
        }
    }
    out.sort_by(|a, b| {
        b.day
            .cmp(&a.day)
            .then(b.judged.score.abs().total_cmp(&a.judged.score.abs()))
    });
    out.truncate(200);
    Ok(out)
}
