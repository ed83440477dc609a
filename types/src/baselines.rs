//! Before and after: the legacy hooks' baselines an import brings (`historical-baseline.json`,
//! else `current-baseline.json`: commands and lines per hour, success rate) against the same
//! people's numbers since they moved to devpulse (their sessions that were not imported).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Rates over some hours of sessions.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Rates {
    /// Tool executions (the hooks' "commands") per session hour.
    pub commands_per_hour: Option<f64>,
    /// Lines added and removed per session hour.
    pub lines_per_hour: Option<f64>,
    /// Tool executions that succeeded, in percent.
    pub success_rate: Option<f64>,
    /// The sessions behind the rates (for a baseline, the count it says it averaged).
    pub sessions: i64,
}

impl Rates {
    /// A baseline's rates as its file wrote them: success as 0–1 in the hooks' defaults and
    /// 0–100 once computed, read as percent either way.
    pub fn baseline(
        commands_per_hour: Option<f64>,
        lines_per_hour: Option<f64>,
        success: Option<f64>,
        sessions: i64,
    ) -> Rates {
        Rates {
            commands_per_hour,
            lines_per_hour,
            success_rate: success.map(|s| if s <= 1.0 { s * 100.0 } else { s }),
            sessions,
        }
    }

    /// Rates from totals: `hours` of sessions with these counts.
    pub fn measured(hours: f64, tool_runs: i64, failures: i64, lines: i64, sessions: i64) -> Rates {
        let per_hour = |n: i64| (hours > 0.0).then(|| n as f64 / hours);
        Rates {
            commands_per_hour: per_hour(tool_runs),
            lines_per_hour: per_hour(lines),
            success_rate: (tool_runs > 0)
                .then(|| (tool_runs - failures) as f64 * 100.0 / tool_runs as f64),
            sessions,
        }
    }

    /// Baselines of several people as one: each rate weighted by the sessions behind it.
    pub fn pooled<'a>(all: impl IntoIterator<Item = &'a Rates>) -> Option<Rates> {
        let all: Vec<&Rates> = all.into_iter().collect();
        if all.is_empty() {
            return None;
        }
        let mean = |get: fn(&Rates) -> Option<f64>| {
            let (mut sum, mut weight) = (0.0, 0.0);
            for r in &all {
                if let Some(v) = get(r) {
                    let w = r.sessions.max(1) as f64;
                    sum += v * w;
                    weight += w;
                }
            }
            (weight > 0.0).then(|| sum / weight)
        };
        Some(Rates {
            commands_per_hour: mean(|r| r.commands_per_hour),
            lines_per_hour: mean(|r| r.lines_per_hour),
            success_rate: mean(|r| r.success_rate),
            sessions: all.iter().map(|r| r.sessions).sum(),
        })
    }
}

/// One person's or team's before and after.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Compared {
    pub key: String,
    pub label: String,
    /// The legacy baseline (`None`: no import brought one).
    pub before: Option<Rates>,
    /// When the newest baseline was written.
    pub baseline_at: Option<DateTime<Utc>>,
    /// Since devpulse: sessions that were not imported (`None`: none yet).
    pub after: Option<Rates>,
    /// The first session devpulse saw live.
    pub moved_at: Option<DateTime<Utc>>,
}

/// Before and after for the people and teams a reader sees.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Comparison {
    pub people: Vec<Compared>,
    pub teams: Vec<Compared>,
}

/// "+12%" from `before` to `after`, when both are there and `before` is not zero.
pub fn change(before: Option<f64>, after: Option<f64>) -> Option<f64> {
    match (before, after) {
        (Some(b), Some(a)) if b != 0.0 => Some((a - b) / b.abs()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn baselines_read_success_as_percent_and_pool_by_sessions() {
        let a = Rates::baseline(Some(12.0), Some(80.0), Some(0.9), 10);
        assert_eq!(a.success_rate, Some(90.0));
        let b = Rates::baseline(Some(24.0), None, Some(97.5), 30);
        assert_eq!(b.success_rate, Some(97.5));
        let p = Rates::pooled([&a, &b]).unwrap();
        assert_eq!(p.commands_per_hour, Some(21.0));
        assert_eq!(p.lines_per_hour, Some(80.0), "only who has one counts");
        assert_eq!(p.sessions, 40);
        assert_eq!(Rates::pooled([]), None);
    }

    #[test]
    fn measured_rates_are_per_session_hour() {
        let r = Rates::measured(2.0, 40, 4, 300, 3);
        assert_eq!(r.commands_per_hour, Some(20.0));
        assert_eq!(r.lines_per_hour, Some(150.0));
        assert_eq!(r.success_rate, Some(90.0));
        let none = Rates::measured(0.0, 0, 0, 0, 0);
        assert_eq!((none.commands_per_hour, none.success_rate), (None, None));
        assert_eq!(change(Some(10.0), Some(15.0)), Some(0.5));
        assert_eq!(change(Some(0.0), Some(15.0)), None);
    }
}
