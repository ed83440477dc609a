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
    anomalies::{find, Anomaly, Signal, Who, MIN_RUNS},
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
           GROUP BY 1, 2"#,
        w.tz,
        code(src),
        w.from,
        w.to,
        reader
            .people
            .as_ref()
            .map(|p| p.iter().map(|u| u.0).collect::<Vec<Uuid>>()) as Option<Vec<Uuid>>
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
    // The last whole local day, and the first day judged.
    let today = sqlx::query_scalar!(
        r#"SELECT ($1::timestamptz AT TIME ZONE $2::text)::date AS "d!""#,
        now,
        w.tz
    )
    .fetch_one(&mut *conn)
    .await?;
    let until = today.pred_opt().unwrap_or(today);
    let since = until
        .checked_sub_days(Days::new(days as u64 - 1))
        .unwrap_or(until);

    let mut series: Vec<(Who, BTreeMap<NaiveDate, Day>)> = Vec::new();
    let sum = |members: &mut dyn Iterator<Item = &BTreeMap<NaiveDate, Day>>| {
        let mut total: BTreeMap<NaiveDate, Day> = BTreeMap::new();
        for m in members {
            for (day, d) in m {
                total.entry(*day).or_default().add(d);
            }
        }
        total
    };
    if matches!(reader.audience, Audience::Everyone | Audience::Aggregate) {
        series.push((Who::Workspace, sum(&mut by_person.values())));
    }
    let visible_teams = match reader.audience {
        Audience::Everyone => Some(teams::Visible::All),
        Audience::Teams => Some(teams::Visible::ManagedBy(reader.me)),
        _ => None,
    };
    if let Some(visible) = visible_teams {
        for t in teams::list(conn, visible).await? {
            let members: Vec<Uuid> = t.members.iter().map(|m| m.user_id.0).collect();
            let total = sum(&mut by_person
                .iter()
                .filter(|(u, _)| members.contains(u))
                .map(|(_, d)| d));
            series.push((
                Who::Team {
                    team_id: t.id,
                    name: t.name,
                },
                total,
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
