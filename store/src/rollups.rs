//! Reading the rollups: the numbers dashboards show, never from raw events.

use std::collections::BTreeMap;

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::{accounts::UserId, Result};

pub use types::metrics::{Counts, ModelTotals, Summary, Totals, UserTotals};
use types::{Grain, TimeRange};

/// [`Counts`] from a query row that selects every counter column under its own name (the
/// rollups and the sessions table name them alike): the one place that lists them for reads.
#[macro_export]
#[doc(hidden)]
macro_rules! counts_of {
    ($r:expr) => {
        types::metrics::Counts {
            tool_executions: $r.tool_executions,
            tool_failures: $r.tool_failures,
            agent_invocations: $r.agent_invocations,
            api_requests: $r.api_requests,
            input_tokens: $r.input_tokens,
            output_tokens: $r.output_tokens,
            cache_creation_tokens: $r.cache_creation_tokens,
            cache_read_tokens: $r.cache_read_tokens,
            cost_usd: $r.cost_usd,
            lines_added: $r.lines_added,
            lines_removed: $r.lines_removed,
            activity: types::metrics::Activity {
                prompts: $r.prompts,
                api_errors: $r.api_errors,
                commits: $r.commits,
                pull_requests: $r.pull_requests,
                active_user_ms: $r.active_user_ms,
                active_cli_ms: $r.active_cli_ms,
                edits_accepted: $r.edits_accepted,
                edits_rejected: $r.edits_rejected,
            },
        }
    };
}

/// Adds one grouped rollup row to `t`.
fn add_row(t: &mut Totals, r: &Row) {
    t.sessions += r.sessions;
    t.counts.add(&r.counts);
    if !r.tool.is_empty() && r.counts.tool_executions != 0 {
        *t.by_tool.entry(r.tool.clone()).or_default() += r.counts.tool_executions;
    }
    if !r.model.is_empty() && (r.counts.api_requests != 0 || r.counts.cost_usd != 0.0) {
        let m = t.by_model.entry(r.model.clone()).or_default();
        m.requests += r.counts.api_requests;
        m.cost_usd += r.counts.cost_usd;
    }
}

struct Row {
    user_id: Uuid,
    tool: String,
    model: String,
    sessions: i64,
    counts: Counts,
}

/// The `grain` column's code for a rollup grain.
pub fn grain_code(g: Grain) -> i8 {
    (match g {
        Grain::Minute => b'm',
        Grain::Hour => b'h',
        Grain::Day => b'd',
    }) as i8
}

/// `[from, to)` in pieces, each read from the coarsest rollup that covers it exactly: whole
/// UTC days from the day rows, the whole hours at their edges from the hour rows, and the
/// minutes left from the minute rows. A rolling week then reads seven days and a day's worth
/// of hours and minutes at its ends, not ten thousand minutes. The same rows as reading all
/// of it at the finest grain the range needs.
pub fn pieces(range: TimeRange) -> Vec<(Grain, DateTime<Utc>, DateTime<Utc>)> {
    let TimeRange { from, to } = range;
    let floor = |t: DateTime<Utc>, unit: TimeDelta| t.duration_trunc(unit).unwrap_or(t);
    let ceil = |t: DateTime<Utc>, unit: TimeDelta| {
        let f = floor(t, unit);
        if f == t {
            t
        } else {
            f + unit
        }
    };
    let (hour, day) = (TimeDelta::hours(1), TimeDelta::days(1));
    let (hour_from, hour_to) = (ceil(from, hour), floor(to, hour));
    if hour_from >= hour_to {
        return vec![(Grain::Minute, from, to)];
    }
    let (day_from, day_to) = (ceil(hour_from, day), floor(hour_to, day));
    let mut out = vec![(Grain::Minute, from, hour_from)];
    if day_from < day_to {
        out.push((Grain::Hour, hour_from, day_from));
        out.push((Grain::Day, day_from, day_to));
        out.push((Grain::Hour, day_to, hour_to));
    } else {
        out.push((Grain::Hour, hour_from, hour_to));
    }
    out.push((Grain::Minute, hour_to, to));
    out.retain(|(_, a, b)| a < b);
    out
}

/// [`pieces`] as the three arrays a query unnests: grain codes, starts and ends.
pub(crate) fn piece_arrays(range: TimeRange) -> (Vec<i8>, Vec<DateTime<Utc>>, Vec<DateTime<Utc>>) {
    let p = pieces(range);
    (
        p.iter().map(|(g, _, _)| grain_code(*g)).collect(),
        p.iter().map(|(_, f, _)| *f).collect(),
        p.iter().map(|(_, _, t)| *t).collect(),
    )
}

/// Totals in `[from, to)`, per user and overall; `only` limits it to some users (a manager's
/// teams, a developer's own numbers).
pub async fn summary(
    conn: &mut PgConnection,
    range: TimeRange,
    only: Option<&[UserId]>,
) -> Result<Summary> {
    let TimeRange { from, to } = range;
    let grain = range.grain();
    let (grains, froms, tos) = piece_arrays(range);
    let only: Option<Vec<Uuid>> = only.map(|u| u.iter().map(|u| u.0).collect());
    let rows = sqlx::query!(
        r#"SELECT user_id, tool, model,
                  sum(sessions)::int8 AS "sessions!", sum(tool_executions)::int8 AS "tool_executions!",
                  sum(tool_failures)::int8 AS "tool_failures!",
                  sum(agent_invocations)::int8 AS "agent_invocations!",
                  sum(api_requests)::int8 AS "api_requests!", sum(input_tokens)::int8 AS "input_tokens!",
                  sum(output_tokens)::int8 AS "output_tokens!",
                  sum(cache_creation_tokens)::int8 AS "cache_creation_tokens!",
                  sum(cache_read_tokens)::int8 AS "cache_read_tokens!",
                  sum(cost_usd)::float8 AS "cost_usd!", sum(lines_added)::int8 AS "lines_added!",
                  sum(lines_removed)::int8 AS "lines_removed!",
                  sum(prompts)::int8 AS "prompts!", sum(api_errors)::int8 AS "api_errors!",
                  sum(commits)::int8 AS "commits!", sum(pull_requests)::int8 AS "pull_requests!",
                  sum(active_user_ms)::int8 AS "active_user_ms!",
                  sum(active_cli_ms)::int8 AS "active_cli_ms!",
                  sum(edits_accepted)::int8 AS "edits_accepted!",
                  sum(edits_rejected)::int8 AS "edits_rejected!"
           FROM rollups r
           JOIN unnest($1::"char"[], $2::timestamptz[], $3::timestamptz[]) AS p(g, f, t)
             ON r.grain = p.g AND r.bucket >= p.f AND r.bucket < p.t
           WHERE ($4::uuid[] IS NULL OR r.user_id = ANY($4))
           GROUP BY user_id, tool, model"#,
        &grains,
        &froms,
        &tos,
        only.as_deref()
    )
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .map(|r| Row {
        user_id: r.user_id,
        tool: r.tool,
        model: r.model,
        sessions: r.sessions,
        counts: crate::counts_of!(r),
    })
    .collect::<Vec<_>>();
    let mut total = Totals::default();
    let mut per_user: BTreeMap<Uuid, Totals> = BTreeMap::new();
    for r in &rows {
        add_row(&mut total, r);
        add_row(per_user.entry(r.user_id).or_default(), r);
    }
    total.round_money();
    let ids: Vec<Uuid> = per_user.keys().copied().collect();
    let emails: BTreeMap<Uuid, String> =
        sqlx::query!("SELECT id, email FROM users WHERE id = ANY($1)", &ids)
            .fetch_all(&mut *conn)
            .await?
            .into_iter()
            .map(|r| (r.id, r.email))
            .collect();
    let mut users: Vec<UserTotals> = per_user
        .into_iter()
        .map(|(id, mut totals)| {
            totals.round_money();
            UserTotals {
                user_id: UserId(id),
                email: emails.get(&id).cloned(),
                totals,
            }
        })
        .collect();
    users.sort_by(|a, b| a.email.cmp(&b.email));
    Ok(Summary {
        from,
        to,
        grain,
        total,
        users,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn range(from: &str, to: &str) -> TimeRange {
        TimeRange {
            from: t(from),
            to: t(to),
        }
    }

    #[test]
    fn a_rolling_week_reads_days_with_hours_and_minutes_at_its_ends() {
        let r = range("2026-11-29T10:17:23Z", "2026-12-06T10:17:23Z");
        assert_eq!(
            pieces(r),
            vec![
                (
                    Grain::Minute,
                    t("2026-11-29T10:17:23Z"),
                    t("2026-11-29T11:00:00Z")
                ),
                (
                    Grain::Hour,
                    t("2026-11-29T11:00:00Z"),
                    t("2026-11-30T00:00:00Z")
                ),
                (
                    Grain::Day,
                    t("2026-11-30T00:00:00Z"),
                    t("2026-12-06T00:00:00Z")
                ),
                (
                    Grain::Hour,
                    t("2026-12-06T00:00:00Z"),
                    t("2026-12-06T10:00:00Z")
                ),
                (
                    Grain::Minute,
                    t("2026-12-06T10:00:00Z"),
                    t("2026-12-06T10:17:23Z")
                ),
            ]
        );
    }

    #[test]
    fn aligned_and_short_ranges_are_one_piece() {
        let days = range("2026-11-01T00:00:00Z", "2026-12-01T00:00:00Z");
        assert_eq!(pieces(days), vec![(Grain::Day, days.from, days.to)]);
        let hours = range("2026-11-01T05:00:00Z", "2026-11-01T09:00:00Z");
        assert_eq!(pieces(hours), vec![(Grain::Hour, hours.from, hours.to)]);
        let minutes = range("2026-11-01T05:10:00Z", "2026-11-01T05:50:00Z");
        assert_eq!(
            pieces(minutes),
            vec![(Grain::Minute, minutes.from, minutes.to)]
        );
        // Within one day but across hours: no day piece.
        let within = range("2026-11-01T05:30:00Z", "2026-11-01T09:15:00Z");
        assert_eq!(
            pieces(within),
            vec![
                (
                    Grain::Minute,
                    t("2026-11-01T05:30:00Z"),
                    t("2026-11-01T06:00:00Z")
                ),
                (
                    Grain::Hour,
                    t("2026-11-01T06:00:00Z"),
                    t("2026-11-01T09:00:00Z")
                ),
                (
                    Grain::Minute,
                    t("2026-11-01T09:00:00Z"),
                    t("2026-11-01T09:15:00Z")
                ),
            ]
        );
    }

    #[test]
    fn the_pieces_tile_the_range() {
        let starts = [
            "2026-11-29T23:59:00Z",
            "2026-11-30T00:00:00Z",
            "2026-11-30T00:01:30Z",
        ];
        let ends = [
            "2026-11-30T00:30:00Z",
            "2026-12-02T00:00:00Z",
            "2026-12-03T17:45:10Z",
        ];
        for from in starts {
            for to in ends {
                let p = pieces(range(from, to));
                assert_eq!(p.first().unwrap().1, t(from));
                assert_eq!(p.last().unwrap().2, t(to));
                for w in p.windows(2) {
                    assert_eq!(w[0].2, w[1].1, "{from}..{to}: {p:?}");
                }
            }
        }
    }
}
