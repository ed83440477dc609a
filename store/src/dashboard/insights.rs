//! Personal insights: plain rules over one person's numbers, each stating the numbers it rests
//! on. A team median is shown only over at least three colleagues, so it never reveals one.

use sqlx::PgConnection;

use types::dashboard::{
    median, Dimension, Filters, Insight, Insights, Kpis, SessionSort, Tone, Window,
};

use super::{breakdown, overview, sessions_page, source_grain, Reader};
use crate::{accounts::UserId, Error, Result};

/// The fewest colleagues a team median is computed over.
pub const MIN_PEERS: usize = 3;

fn usd(v: f64) -> String {
    format!("${v:.2}")
}

fn pct(v: f64) -> String {
    format!("{:.1}%", v * 100.0)
}

fn item(rule: &str, tone: Tone, title: String, detail: String, link: Option<String>) -> Insight {
    Insight {
        rule: rule.into(),
        tone,
        title,
        detail,
        link,
    }
}

pub async fn insights(
    conn: &mut PgConnection,
    reader: &Reader,
    w: &Window,
    f: &Filters,
) -> Result<Insights> {
    // About one person: the reader themself, or the person their filter names.
    let person = match (f.person, reader.audience) {
        (Some(p), _) => p,
        (None, types::dashboard::Audience::Own) => reader.me,
        _ => {
            return Err(Error::Invalid {
                field: "person",
                reason: "insights are about one person: pick a person".into(),
            })
        }
    };
    let f = Filters {
        person: Some(person),
        ..f.clone()
    };
    let o = overview(conn, reader, w, &f).await?;
    let (cur, prev) = (&o.current, &o.previous);
    let mut items = Vec::new();

    if prev.counts.cost_usd > 0.0 {
        let change = (cur.counts.cost_usd - prev.counts.cost_usd) / prev.counts.cost_usd;
        let tone = if change > 0.2 {
            Tone::Watch
        } else if change < -0.2 {
            Tone::Good
        } else {
            Tone::Info
        };
        items.push(item(
            "cost_trend",
            tone,
            format!(
                "Spend {} {:.0}% on the previous period",
                if change >= 0.0 { "up" } else { "down" },
                change.abs() * 100.0
            ),
            format!(
                "{} in this period against {} in the one before ({} sessions against {}).",
                usd(cur.counts.cost_usd),
                usd(prev.counts.cost_usd),
                cur.sessions,
                prev.sessions
            ),
            None,
        ));
    }

    // A workspace may keep developers from comparing themselves with colleagues; whoever
    // reads on their behalf (a manager, an admin) still sees the medians.
    let medians = reader.audience != types::dashboard::Audience::Own
        || crate::settings::people(conn).await?.team_medians;
    let peers = match medians {
        true => peer_medians(conn, w, person).await?,
        false => None,
    };
    if let Some(peers) = peers {
        if let (Some(mine), Some(theirs)) = (per_session(cur), peers.cost_per_session) {
            let tone = if mine > theirs * 1.5 {
                Tone::Watch
            } else {
                Tone::Info
            };
            items.push(item(
                "team_cost_per_session",
                tone,
                format!(
                    "Cost per session {} against a team median of {}",
                    usd(mine),
                    usd(theirs)
                ),
                format!(
                    "The median is over {} colleagues in your teams, for the same period.",
                    peers.people
                ),
                None,
            ));
        }
        if let (Some(mine), Some(theirs)) = (cur.success_rate(), peers.success_rate) {
            let tone = if mine + 0.05 < theirs {
                Tone::Watch
            } else {
                Tone::Good
            };
            items.push(item(
                "team_success_rate",
                tone,
                format!(
                    "Tool success {} against a team median of {}",
                    pct(mine),
                    pct(theirs)
                ),
                format!(
                    "{} of your {} tool executions failed.",
                    cur.counts.tool_failures, cur.counts.tool_executions
                ),
                None,
            ));
        }
    }

    let tools = breakdown(conn, reader, w, &f, Dimension::Tool, None).await?;
    if !tools.rows.is_empty() {
        let top: Vec<String> = tools
            .rows
            .iter()
            .take(3)
            .map(|r| format!("{} {}", r.label, r.counts.tool_executions))
            .collect();
        items.push(item(
            "top_tools",
            Tone::Info,
            format!("Most used tools: {}", top.join(", ")),
            format!(
                "Of {} tool executions in this period.",
                cur.counts.tool_executions
            ),
            None,
        ));
    }
    for r in tools.rows.iter().filter(|r| {
        r.counts.tool_executions >= 10
            && r.counts.tool_failures as f64 / r.counts.tool_executions as f64 > 0.10
    }) {
        let rate = r.counts.tool_failures as f64 / r.counts.tool_executions as f64;
        items.push(item(
            "failure_hot_spot",
            Tone::Watch,
            format!("{} fails {} of the time", r.label, pct(rate)),
            format!(
                "{} of {} runs failed (more than one in ten).",
                r.counts.tool_failures, r.counts.tool_executions
            ),
            Some(format!("/?person={}&tool={}", person.0, r.key)),
        ));
    }

    let expensive = sessions_page(conn, reader, w, &f, SessionSort::Cost, 1).await?;
    if let Some(s) = expensive
        .sessions
        .first()
        .filter(|s| s.counts.cost_usd > 0.0)
    {
        items.push(item(
            "expensive_session",
            Tone::Info,
            format!("Most expensive session: {}", usd(s.counts.cost_usd)),
            format!(
                "{} on {}, {} API requests, {} tool executions.",
                s.started_at.format("%Y-%m-%d %H:%M UTC"),
                s.project
                    .clone()
                    .unwrap_or_else(|| "an unnamed project".into()),
                s.counts.api_requests,
                s.counts.tool_executions
            ),
            Some(format!("/sessions/{}", s.id)),
        ));
    }

    let models = breakdown(conn, reader, w, &f, Dimension::Model, None).await?;
    let prices = crate::prices::table(conn).await?;
    let saved: f64 = models
        .rows
        .iter()
        .filter_map(|r| {
            let p = prices.get(&r.key)?;
            Some(r.counts.cache_read_tokens as f64 * (p.input - p.cache_read) / 1e6)
        })
        .sum();
    if saved > 0.0 {
        items.push(item(
            "cache_savings",
            Tone::Good,
            format!("Prompt caching saved about {}", usd(saved)),
            format!(
                "{} tokens were read from the cache at the cache-read price instead of the input price.",
                cur.counts.cache_read_tokens
            ),
            None,
        ));
    }
    Ok(Insights {
        window: w.clone(),
        items,
    })
}

fn per_session(k: &Kpis) -> Option<f64> {
    (k.sessions > 0).then(|| k.counts.cost_usd / k.sessions as f64)
}

struct Peers {
    people: usize,
    cost_per_session: Option<f64>,
    success_rate: Option<f64>,
}

/// Medians over the person's teammates (everyone sharing a team with them, themself left
/// out), or `None` when there are too few to keep any one of them private.
async fn peer_medians(
    conn: &mut PgConnection,
    w: &Window,
    person: UserId,
) -> Result<Option<Peers>> {
    let src = source_grain(conn, w).await?;
    let rows = sqlx::query!(
        r#"SELECT r.user_id, sum(r.sessions)::int8 AS "sessions!", sum(r.cost_usd)::float8 AS "cost!",
                  sum(r.tool_executions)::int8 AS "tools!", sum(r.tool_failures)::int8 AS "failures!"
           FROM rollups r
           WHERE r.grain = $1 AND r.bucket >= $2 AND r.bucket < $3 AND r.user_id <> $4
             AND r.user_id IN (SELECT m.user_id FROM team_members m WHERE m.team_id IN
                               (SELECT team_id FROM team_members WHERE user_id = $4))
           GROUP BY 1"#,
        super::code(src),
        w.from,
        w.to,
        person.0
    )
    .fetch_all(&mut *conn)
    .await?;
    if rows.len() < MIN_PEERS {
        return Ok(None);
    }
    let cps: Vec<f64> = rows
        .iter()
        .filter(|r| r.sessions > 0)
        .map(|r| r.cost / r.sessions as f64)
        .collect();
    let sr: Vec<f64> = rows
        .iter()
        .filter(|r| r.tools > 0)
        .map(|r| (r.tools - r.failures) as f64 / r.tools as f64)
        .collect();
    Ok(Some(Peers {
        people: rows.len(),
        cost_per_session: median(cps),
        success_rate: median(sr),
    }))
}
