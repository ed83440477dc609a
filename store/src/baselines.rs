//! Before and after (see `types::baselines`): each person's newest legacy baseline, read from
//! the `other` events an import brought, against the sessions devpulse saw live, for the
//! people and teams a [`Reader`] sees.

use std::collections::BTreeMap;

use sqlx::PgConnection;
use uuid::Uuid;

use crate::{dashboard::Reader, teams, Result};
pub use types::baselines::{Compared, Comparison, Rates};
use types::dashboard::Audience;

struct Live {
    moved: chrono::DateTime<chrono::Utc>,
    sessions: i64,
    hours: f64,
    runs: i64,
    failures: i64,
    lines: i64,
}

impl Live {
    fn rates(&self) -> Rates {
        Rates::measured(
            self.hours,
            self.runs,
            self.failures,
            self.lines,
            self.sessions,
        )
    }
}

/// The people (with a baseline) and teams `reader` sees, each before and after. A reader of
/// totals only gets the teams, each pooling at least two people (else it is left out, or its
/// after is).
pub async fn compare(conn: &mut PgConnection, reader: &Reader) -> Result<Comparison> {
    let people: Option<Vec<Uuid>> = reader
        .people
        .as_ref()
        .map(|p| p.iter().map(|u| u.0).collect());
    // The computed historical baseline is the better one; the current one holds the hooks'
    // defaults until they computed it.
    let base = sqlx::query!(
        r#"SELECT DISTINCT ON (user_id) user_id, occurred_at,
                  CASE WHEN jsonb_typeof(attrs -> 'attributes' -> 'average_commands_per_hour') = 'number'
                       THEN (attrs -> 'attributes' ->> 'average_commands_per_hour')::float8 END AS cph,
                  CASE WHEN jsonb_typeof(attrs -> 'attributes' -> 'average_lines_per_hour') = 'number'
                       THEN (attrs -> 'attributes' ->> 'average_lines_per_hour')::float8 END AS lph,
                  CASE WHEN jsonb_typeof(attrs -> 'attributes' -> 'average_success_rate') = 'number'
                       THEN (attrs -> 'attributes' ->> 'average_success_rate')::float8 END AS success,
                  CASE WHEN jsonb_typeof(attrs -> 'attributes' -> 'sessions_count') = 'number'
                       THEN (attrs -> 'attributes' ->> 'sessions_count')::float8::int8 END AS sessions
           FROM events
           WHERE kind = 'other' AND source = 'import'
             AND attrs -> 'attributes' ->> 'origin' IN
                 ('legacy/historical-baseline.json', 'legacy/current-baseline.json')
             AND ($1::uuid[] IS NULL OR user_id = ANY($1))
           ORDER BY user_id,
                    (attrs -> 'attributes' ->> 'origin' = 'legacy/historical-baseline.json') DESC,
                    occurred_at DESC"#,
        people.as_deref()
    )
    .fetch_all(&mut *conn)
    .await?;
    let live: BTreeMap<Uuid, Live> = sqlx::query!(
        r#"SELECT user_id, min(started_at) AS "moved!", count(*) AS "sessions!",
                  coalesce(sum(extract(epoch FROM coalesce(ended_at, last_seen_at) - started_at)), 0)::float8
                      / 3600 AS "hours!",
                  coalesce(sum(tool_executions), 0)::int8 AS "runs!",
                  coalesce(sum(tool_failures), 0)::int8 AS "failures!",
                  coalesce(sum(lines_added + lines_removed), 0)::int8 AS "lines!"
           FROM sessions
           WHERE import_batch IS NULL AND ($1::uuid[] IS NULL OR user_id = ANY($1))
           GROUP BY user_id"#,
        people.as_deref()
    )
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .map(|r| {
        (
            r.user_id,
            Live {
                moved: r.moved,
                sessions: r.sessions,
                hours: r.hours,
                runs: r.runs,
                failures: r.failures,
                lines: r.lines,
            },
        )
    })
    .collect();
    let ids: Vec<Uuid> = base.iter().map(|b| b.user_id).collect();
    let names: BTreeMap<Uuid, String> = sqlx::query!(
        "SELECT id, CASE WHEN name = '' THEN email ELSE name END AS \"label!\"
         FROM users WHERE id = ANY($1) AND erased_at IS NULL",
        &ids
    )
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .map(|r| (r.id, r.label))
    .collect();
    let before: BTreeMap<Uuid, (Rates, chrono::DateTime<chrono::Utc>)> = base
        .iter()
        .map(|b| {
            (
                b.user_id,
                (
                    Rates::baseline(b.cph, b.lph, b.success, b.sessions.unwrap_or(0)),
                    b.occurred_at,
                ),
            )
        })
        .collect();

    let mut out = Comparison::default();
    if reader.names_people() {
        for (id, (rates, at)) in &before {
            let Some(label) = names.get(id) else { continue };
            let after = live.get(id);
            out.people.push(Compared {
                key: id.to_string(),
                label: label.clone(),
                before: Some(rates.clone()),
                baseline_at: Some(*at),
                after: after.map(Live::rates),
                moved_at: after.map(|l| l.moved),
            });
        }
        out.people.sort_by(|a, b| a.label.cmp(&b.label));
    }
    let visible = match reader.audience {
        Audience::Everyone | Audience::Aggregate => Some(teams::Visible::All),
        Audience::Teams => Some(teams::Visible::ManagedBy(reader.me)),
        Audience::Own => None,
    };
    if let Some(v) = visible {
        for team in teams::list(conn, v).await? {
            // The team's people who brought a baseline: their before, and their after.
            let members: Vec<Uuid> = team
                .members
                .iter()
                .map(|m| m.user_id.0)
                .filter(|u| before.contains_key(u))
                .collect();
            // For a reader of totals, a team row must not be one person's numbers.
            let fewest = if reader.names_people() { 1 } else { 2 };
            if members.len() < fewest {
                continue;
            }
            let pooled = Rates::pooled(members.iter().map(|u| &before[u].0));
            let lives: Vec<&Live> = members.iter().filter_map(|u| live.get(u)).collect();
            let after = (lives.len() >= fewest).then(|| {
                Rates::measured(
                    lives.iter().map(|l| l.hours).sum(),
                    lives.iter().map(|l| l.runs).sum(),
                    lives.iter().map(|l| l.failures).sum(),
                    lives.iter().map(|l| l.lines).sum(),
                    lives.iter().map(|l| l.sessions).sum(),
                )
            });
            out.teams.push(Compared {
                key: team.id.to_string(),
                label: team.name.clone(),
                before: pooled,
                baseline_at: members.iter().map(|u| before[u].1).max(),
                after,
                moved_at: lives.iter().map(|l| l.moved).min(),
            });
        }
    }
    Ok(out)
}
