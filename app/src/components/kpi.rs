//! Headline tiles: a number, its change against the previous equal period, and a sparkline
//! drawn as inline SVG on the server (so it is there before the WASM, and never shifts).

use leptos::prelude::*;
use types::dashboard::{Kpis, Overview};

use super::format::{change, change_vs_previous, compact, duration_ms, pct, usd};

/// How a tile's value reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    Count,
    Usd,
    Share,
    Score,
    Millis,
}

impl Unit {
    pub fn format(self, v: f64) -> String {
        match self {
            Unit::Count => compact(v),
            Unit::Usd => usd(v),
            Unit::Share => pct(v),
            Unit::Score => format!("{v:.1}"),
            Unit::Millis => duration_ms(v),
        }
    }
}

/// One headline number: what it is, how to read it off [`Kpis`], and whether up is good
/// (colours the change; spend and errors going up is not).
#[derive(Clone, Copy)]
pub struct KpiSpec {
    pub id: &'static str,
    pub label: &'static str,
    pub unit: Unit,
    pub up_is_good: bool,
    pub value: fn(&Kpis) -> Option<f64>,
    /// What the number counts, for the tile's title (a definition people can trust).
    pub about: &'static str,
}

fn n(v: i64) -> Option<f64> {
    Some(v as f64)
}

pub const KPIS: &[KpiSpec] = &[
    KpiSpec {
        id: "cost",
        label: "Cost",
        unit: Unit::Usd,
        up_is_good: false,
        value: |k| Some(k.counts.cost_usd),
        about: "Estimated API cost in USD from each request's tokens and the model's price",
    },
    KpiSpec {
        id: "active_people",
        label: "Active people",
        unit: Unit::Count,
        up_is_good: true,
        value: |k| n(k.active_people),
        about: "People with any recorded activity in the range",
    },
    KpiSpec {
        id: "sessions",
        label: "Sessions",
        unit: Unit::Count,
        up_is_good: true,
        value: |k| n(k.sessions),
        about: "Claude Code sessions started in the range",
    },
    KpiSpec {
        id: "tool_executions",
        label: "Tool executions",
        unit: Unit::Count,
        up_is_good: true,
        value: |k| n(k.counts.tool_executions),
        about: "Tool runs (Read, Edit, Bash, …), each counted once whatever reported it",
    },
    KpiSpec {
        id: "success_rate",
        label: "Tool success",
        unit: Unit::Share,
        up_is_good: true,
        value: Kpis::success_rate,
        about: "Tool executions that did not fail, of all tool executions",
    },
    KpiSpec {
        id: "tokens",
        label: "Tokens",
        unit: Unit::Count,
        up_is_good: true,
        value: |k| n(k.tokens()),
        about: "Input, output, cache write and cache read tokens together",
    },
    KpiSpec {
        id: "input_tokens",
        label: "Input tokens",
        unit: Unit::Count,
        up_is_good: true,
        value: |k| n(k.counts.input_tokens),
        about: "Tokens sent to the model outside the cache",
    },
    KpiSpec {
        id: "output_tokens",
        label: "Output tokens",
        unit: Unit::Count,
        up_is_good: true,
        value: |k| n(k.counts.output_tokens),
        about: "Tokens the model wrote",
    },
    KpiSpec {
        id: "cache_write_tokens",
        label: "Cache write",
        unit: Unit::Count,
        up_is_good: true,
        value: |k| n(k.counts.cache_creation_tokens),
        about: "Tokens written to the prompt cache",
    },
    KpiSpec {
        id: "cache_read_tokens",
        label: "Cache read",
        unit: Unit::Count,
        up_is_good: true,
        value: |k| n(k.counts.cache_read_tokens),
        about: "Tokens read from the prompt cache (billed at a fraction of input)",
    },
    KpiSpec {
        id: "lines_added",
        label: "Lines added",
        unit: Unit::Count,
        up_is_good: true,
        value: |k| n(k.counts.lines_added),
        about: "Lines the agent's edits added",
    },
    KpiSpec {
        id: "lines_removed",
        label: "Lines removed",
        unit: Unit::Count,
        up_is_good: true,
        value: |k| n(k.counts.lines_removed),
        about: "Lines the agent's edits removed",
    },
    KpiSpec {
        id: "commits",
        label: "Commits",
        unit: Unit::Count,
        up_is_good: true,
        value: |k| n(k.counts.activity.commits),
        about: "Commits Claude Code made (OpenTelemetry commit.count)",
    },
    KpiSpec {
        id: "pull_requests",
        label: "Pull requests",
        unit: Unit::Count,
        up_is_good: true,
        value: |k| n(k.counts.activity.pull_requests),
        about: "Pull requests Claude Code opened (OpenTelemetry pull_request.count)",
    },
    KpiSpec {
        id: "accept_rate",
        label: "Edit accept rate",
        unit: Unit::Share,
        up_is_good: true,
        value: Kpis::accept_rate,
        about: "Accepted edit suggestions of all decided ones (code_edit_tool.decision)",
    },
    KpiSpec {
        id: "avg_score",
        label: "Productivity score",
        unit: Unit::Score,
        up_is_good: true,
        value: |k| k.avg_score,
        about: "Mean session score 0–10: velocity, output, success, focus and agent use",
    },
    KpiSpec {
        id: "api_errors",
        label: "API errors",
        unit: Unit::Count,
        up_is_good: false,
        value: |k| n(k.counts.activity.api_errors),
        about: "Failed API requests (OpenTelemetry api_error)",
    },
    KpiSpec {
        id: "active_time",
        label: "Active time",
        unit: Unit::Millis,
        up_is_good: true,
        value: |k| n(k.counts.activity.active_user_ms + k.counts.activity.active_cli_ms),
        about: "Time people and the CLI were active (active_time.total)",
    },
];

/// The SVG path of a sparkline through `values`, scaled into `w` × `h` (y grows downwards).
pub fn sparkline_path(values: &[f64], w: f64, h: f64) -> String {
    if values.is_empty() {
        return String::new();
    }
    let max = values.iter().copied().fold(f64::MIN, f64::max);
    let min = values.iter().copied().fold(f64::MAX, f64::min).min(0.0);
    let span = if max > min { max - min } else { 1.0 };
    let step = if values.len() > 1 {
        w / (values.len() - 1) as f64
    } else {
        0.0
    };
    // Every tile draws one on every page: written into one string, tenths by integer
    // arithmetic (float formatting with a precision is slow).
    let mut path = String::with_capacity(values.len() * 12);
    for (i, v) in values.iter().enumerate() {
        path.push(if i == 0 { 'M' } else { 'L' });
        push_tenths(&mut path, i as f64 * step);
        path.push(',');
        push_tenths(&mut path, h - (v - min) / span * h);
    }
    path
}

/// `v` rounded to one decimal (ties away from zero; `{v:.1}` would round them to even,
/// a twentieth of a pixel apart). Server and browser run the same code, so they agree.
fn push_tenths(out: &mut String, v: f64) {
    use std::fmt::Write;
    let tenths = (v * 10.0).round() as i64;
    if tenths < 0 {
        out.push('-');
    }
    let t = tenths.unsigned_abs();
    let _ = write!(out, "{}.{}", t / 10, t % 10);
}

#[component]
pub fn KpiTiles(overview: Overview) -> impl IntoView {
    let tiles = KPIS
        .iter()
        .map(|spec| {
            let current = (spec.value)(&overview.current);
            let previous = (spec.value)(&overview.previous);
            let trend: Vec<f64> = overview
                .trend
                .iter()
                .map(|k| (spec.value)(k).unwrap_or(0.0))
                .collect();
            view! { <Tile spec=*spec current previous trend /> }
        })
        .collect_view();
    view! {
        <ul class="kpis" id="kpis" aria-label="Headline numbers">
            {tiles}
        </ul>
    }
}

#[component]
fn Tile(
    spec: KpiSpec,
    current: Option<f64>,
    previous: Option<f64>,
    trend: Vec<f64>,
) -> impl IntoView {
    let value = current
        .map(|v| spec.unit.format(v))
        .unwrap_or_else(|| "—".into());
    let delta = match (current, previous) {
        (Some(c), Some(p)) => change(c, p),
        _ => None,
    };
    let (delta_text, tone) = match delta {
        Some(d) => {
            let good = (d > 0.0) == spec.up_is_good;
            let tone = if d.abs() < 0.0005 {
                "flat"
            } else if good {
                "good"
            } else {
                "bad"
            };
            (change_vs_previous(d), tone)
        }
        None => ("no previous data".to_string(), "flat"),
    };
    let path = sparkline_path(&trend, 100.0, 24.0);
    view! {
        <li class="kpi" id=format!("kpi-{}", spec.id) data-value=current.map(|v| v.to_string()) title=spec.about>
            <span class="kpi-label">{spec.label}</span>
            <span class="kpi-value">{value}</span>
            <span class=format!("kpi-delta {tone}")>{delta_text}</span>
            <svg class="spark" viewBox="0 0 100 24" preserveAspectRatio="none" aria-hidden="true">
                <path d=path />
            </svg>
        </li>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sparkline_spans_the_box_from_zero() {
        assert_eq!(sparkline_path(&[], 100.0, 24.0), "");
        assert_eq!(
            sparkline_path(&[0.0, 5.0, 10.0], 100.0, 24.0),
            "M0.0,24.0L50.0,12.0L100.0,0.0"
        );
        // A flat line sits on the floor rather than dividing by zero.
        assert_eq!(sparkline_path(&[0.0, 0.0], 10.0, 4.0), "M0.0,4.0L10.0,4.0");
        for v in [0.0, 0.04, 3.33, 7.06, 12.349, 23.97, 99.99, -1.26] {
            let mut s = String::new();
            push_tenths(&mut s, v);
            assert_eq!(s, format!("{v:.1}"));
        }
    }

    #[test]
    fn every_tile_has_a_unique_id_and_a_definition() {
        let mut ids: Vec<_> = KPIS.iter().map(|k| k.id).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), KPIS.len());
        assert!(KPIS.iter().all(|k| !k.about.is_empty()));
    }

    #[test]
    fn tiles_read_their_numbers_off_the_kpis() {
        let mut k = Kpis::default();
        k.counts.cost_usd = 19.809566;
        k.counts.tool_executions = 424;
        k.counts.tool_failures = 38;
        let read = |id: &str| {
            let spec = KPIS.iter().find(|s| s.id == id).unwrap();
            (spec.value)(&k).map(|v| spec.unit.format(v))
        };
        assert_eq!(read("cost").as_deref(), Some("$19.81"));
        assert_eq!(read("success_rate").as_deref(), Some("91.0%"));
        assert_eq!(read("accept_rate"), None);
    }
}
