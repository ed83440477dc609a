//! Time series: one measure over the window's buckets, split into lines.

use std::collections::BTreeMap;

use sqlx::PgConnection;
use uuid::Uuid;

use types::dashboard::{Filters, Line, Measure, Series, Split, Window};
use types::metrics::Counts;

use super::{buckets, code, index, names, overview::cells, per_person, source_grain, Reader};
use crate::{Error, Result};

/// The most lines a chart gets; the rest are summed into "Other".
pub const MAX_LINES: usize = 8;

fn measure(m: Measure, sessions: i64, c: &Counts) -> f64 {
    match m {
        Measure::Cost => c.cost_usd,
        Measure::Tokens => {
            (c.input_tokens + c.output_tokens + c.cache_creation_tokens + c.cache_read_tokens)
                as f64
        }
        Measure::Sessions => sessions as f64,
        Measure::Lines => (c.lines_added + c.lines_removed) as f64,
        Measure::ToolRuns => c.tool_executions as f64,
    }
}

/// The measure's column of a row that selects them all.
fn pick(m: Measure, cost: f64, tokens: i64, sessions: i64, lines: i64, tools: i64) -> f64 {
    match m {
        Measure::Cost => cost,
        Measure::Tokens => tokens as f64,
        Measure::Sessions => sessions as f64,
        Measure::Lines => lines as f64,
        Measure::ToolRuns => tools as f64,
    }
}

pub async fn series(
    conn: &mut PgConnection,
    reader: &Reader,
    w: &Window,
    f: &Filters,
    split: Split,
    m: Measure,
) -> Result<Series> {
    if split.names_people() && !reader.names_people() {
        return Err(Error::Invalid {
            field: "split",
            reason: "your role sees totals only, not people".into(),
        });
    }
    let people = reader.people_for(conn, f).await?;
    let people = people.as_deref();
    let buckets = buckets(conn, w, w.from).await?;
    let slots = index(&buckets);
    let n = buckets.len();
    let mut lines: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    let mut add = |key: String, bucket, value: f64| {
        if let Some(&i) = slots.get(&bucket) {
            lines.entry(key).or_insert_with(|| vec![0.0; n])[i] += value;
        }
    };
    match split {
        Split::TokenKind => {
            for c in cells(conn, w, w.from, people, f).await? {
                let k = &c.counts;
                for (key, v) in [
                    ("input", k.input_tokens),
                    ("output", k.output_tokens),
                    ("cache_write", k.cache_creation_tokens),
                    ("cache_read", k.cache_read_tokens),
                ] {
                    add(key.to_string(), c.bucket, v as f64);
                }
            }
        }
        Split::Person => {
            for c in cells(conn, w, w.from, people, f).await? {
                add(
                    c.user_id.to_string(),
                    c.bucket,
                    measure(m, c.sessions, &c.counts),
                );
            }
        }
        // Rollups carry no project: split by project, or narrowed to one, the lines come from
        // the sessions, each counted in the bucket it started in (as the overview's cells).
        Split::Project | Split::Model | Split::Team
            if split == Split::Project || f.project.is_some() =>
        {
            let rows = sqlx::query!(
                r#"SELECT date_trunc($1::text, s.started_at, $2::text) AS "bucket!",
                          CASE $8::text WHEN 'model' THEN coalesce(s.model, '')
                                        WHEN 'team' THEN coalesce(tm.team_id::text, '')
                                        ELSE coalesce(s.project, '') END AS "key!",
                          count(*)::int8 AS "sessions!",
                          sum(s.cost_usd)::float8 AS "cost!",
                          sum(s.input_tokens + s.output_tokens + s.cache_creation_tokens
                              + s.cache_read_tokens)::int8 AS "tokens!",
                          sum(s.lines_added + s.lines_removed)::int8 AS "lines!",
                          sum(s.tool_executions)::int8 AS "tools!"
                   FROM sessions s
                   LEFT JOIN team_members tm ON $8::text = 'team' AND tm.user_id = s.user_id
                   WHERE s.started_at >= $3 AND s.started_at < $4
                     AND ($5::uuid[] IS NULL OR s.user_id = ANY($5))
                     AND ($6::text IS NULL OR s.project = $6)
                     AND ($7::text IS NULL OR s.model = $7)
                   GROUP BY 1, 2"#,
                w.grain.as_str(),
                w.tz,
                w.from,
                w.to,
                people,
                f.project,
                f.model,
                split.as_str()
            )
            .fetch_all(&mut *conn)
            .await?;
            for r in rows {
                // A session whose model is not known yet belongs to no model's line.
                if split == Split::Model && r.key.is_empty() {
                    continue;
                }
                let v = pick(m, r.cost, r.tokens, r.sessions, r.lines, r.tools);
                add(r.key, r.bucket, v);
            }
        }
        Split::Project | Split::Model | Split::Team => {
            let src = source_grain(conn, w).await?;
            let rows = sqlx::query!(
                r#"SELECT date_trunc($1::text, r.bucket, $2::text) AS "bucket!",
                          CASE WHEN $9::text = 'team' THEN coalesce(tm.team_id::text, '')
                               ELSE r.model END AS "key!",
                          sum(r.sessions)::int8 AS "sessions!", sum(r.cost_usd)::float8 AS "cost!",
                          sum(r.input_tokens + r.output_tokens + r.cache_creation_tokens
                              + r.cache_read_tokens)::int8 AS "tokens!",
                          sum(r.lines_added + r.lines_removed)::int8 AS "lines!",
                          sum(r.tool_executions)::int8 AS "tools!"
                   FROM rollup_rows r
                   LEFT JOIN team_members tm ON $9::text = 'team' AND tm.user_id = r.user_id
                   WHERE r.per_person = $10 AND r.grain = $3 AND r.bucket >= $4
                     AND r.bucket < $5
                     AND ($6::uuid[] IS NULL OR r.user_id = ANY($6))
                     AND ($7::text IS NULL OR r.model = $7)
                     AND ($8::text IS NULL OR r.tool = $8)
                   GROUP BY 1, 2"#,
                w.grain.as_str(),
                w.tz,
                code(src),
                w.from,
                w.to,
                people,
                f.model,
                f.tool,
                split.as_str(),
                split == Split::Team && per_person(f)
            )
            .fetch_all(&mut *conn)
            .await?;
            for r in rows {
                let v = pick(m, r.cost, r.tokens, r.sessions, r.lines, r.tools);
                // Rows with no model are tool runs and session starts: they belong to no
                // model's line, and a model split shows only what models did.
                if split == Split::Model && r.key.is_empty() {
                    continue;
                }
                add(r.key, r.bucket, v);
            }
        }
    }
    let labels = labels(conn, split, lines.keys()).await?;
    let mut lines: Vec<Line> = lines
        .into_iter()
        .filter(|(_, v)| v.iter().any(|x| *x != 0.0))
        .map(|(key, values)| Line {
            label: labels.get(&key).cloned().unwrap_or_else(|| key.clone()),
            key,
            values,
        })
        .collect();
    let total = |l: &Line| l.values.iter().sum::<f64>();
    if split != Split::TokenKind {
        lines.sort_by(|a, b| total(b).total_cmp(&total(a)).then(a.key.cmp(&b.key)));
    }
    if lines.len() > MAX_LINES {
        let rest = lines.split_off(MAX_LINES - 1);
        let mut other = vec![0.0; n];
        for l in rest {
            for (o, v) in other.iter_mut().zip(l.values) {
                *o += v;
            }
        }
        lines.push(Line {
            key: "other".into(),
            label: "Other".into(),
            values: other,
        });
    }
    if m == Measure::Cost {
        for l in &mut lines {
            for v in &mut l.values {
                *v = types::metrics::round_usd(*v);
            }
        }
    }
    Ok(Series {
        window: w.clone(),
        split,
        measure: if split == Split::TokenKind {
            Measure::Tokens
        } else {
            m
        },
        buckets,
        lines,
    })
}

/// What to call each line's key: people and teams by name, the rest as they are.
pub(super) async fn labels<'a>(
    conn: &mut PgConnection,
    split: Split,
    keys: impl Iterator<Item = &'a String>,
) -> Result<BTreeMap<String, String>> {
    let ids: Vec<Uuid> = keys.filter_map(|k| k.parse().ok()).collect();
    let mut out = BTreeMap::new();
    match split {
        Split::Person => {
            for (id, name) in names(conn, &ids).await? {
                out.insert(id.to_string(), name);
            }
        }
        Split::Team => {
            for r in sqlx::query!("SELECT id, name FROM teams WHERE id = ANY($1)", &ids)
                .fetch_all(&mut *conn)
                .await?
            {
                out.insert(r.id.to_string(), r.name);
            }
            out.insert(String::new(), "No team".into());
        }
        Split::Project => {
            out.insert(String::new(), "(no project)".into());
        }
        Split::TokenKind => {
            for (k, l) in [
                ("input", "Input"),
                ("output", "Output"),
                ("cache_write", "Cache write"),
                ("cache_read", "Cache read"),
            ] {
                out.insert(k.into(), l.into());
            }
        }
        Split::Model => {}
    }
    Ok(out)
}
