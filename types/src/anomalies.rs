//! Unusual days: a person's, a team's or the workspace's day whose cost, tokens, tool failure
//! rate or activity lies far from what the same weekday usually brings. The baseline is
//! robust: the median of the same weekday over the previous weeks, and the spread is the
//! median absolute deviation (scaled to a standard deviation) with a floor, so one odd week
//! in the history does not hide the next and a perfectly steady history does not flag a cent.
//! No day is judged before three same weekdays are behind it.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::{Invalid, TeamId, UserId};

/// What is watched.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Signal {
    CostUsd,
    Tokens,
    /// Failed tool runs in percent of all (days with at least [`MIN_RUNS`] runs).
    FailureRate,
    /// Tool runs and API requests.
    Activity,
}

/// Fewer tool runs than this in a day make no failure rate worth judging.
pub const MIN_RUNS: f64 = 5.0;
/// Same weekdays needed behind a day before it is judged.
pub const MIN_HISTORY: usize = 3;
/// How many same weekdays the baseline reads.
pub const WEEKS: usize = 8;
/// How far (in spreads) from the median a day must lie by default.
pub const DEFAULT_SENSITIVITY: f64 = 3.5;
/// The touchiest and the least touchy sensitivity one may ask for.
pub const MIN_SENSITIVITY: f64 = 2.0;
pub const MAX_SENSITIVITY: f64 = 10.0;

impl Signal {
    pub const ALL: [Signal; 4] = [
        Signal::CostUsd,
        Signal::Tokens,
        Signal::FailureRate,
        Signal::Activity,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Signal::CostUsd => "cost_usd",
            Signal::Tokens => "tokens",
            Signal::FailureRate => "failure_rate",
            Signal::Activity => "activity",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Signal::CostUsd => "Cost",
            Signal::Tokens => "Tokens",
            Signal::FailureRate => "Tool failure rate",
            Signal::Activity => "Activity",
        }
    }

    /// The smallest spread a baseline is given: below it, differences are noise whatever the
    /// history says.
    pub fn floor(self) -> f64 {
        match self {
            Signal::CostUsd => 1.0,
            Signal::Tokens => 10_000.0,
            Signal::FailureRate => 5.0,
            Signal::Activity => 10.0,
        }
    }

    /// Whether a day below the usual counts too (a drop in activity is news; a drop in
    /// spend or failures is not).
    pub fn both_ways(self) -> bool {
        self == Signal::Activity
    }

    pub fn show(self, v: f64) -> String {
        match self {
            Signal::CostUsd => format!("${v:.2}"),
            Signal::FailureRate => format!("{v:.1}%"),
            _ => crate::numbers::grouped(v.round() as i64),
        }
    }
}

/// How far a day must lie from its baseline, in spreads: 2 (touchy) to 10 (only the wild).
pub fn sensitivity(v: Option<f64>) -> Result<f64, Invalid> {
    match v {
        None => Ok(DEFAULT_SENSITIVITY),
        Some(s) if s.is_finite() && (MIN_SENSITIVITY..=MAX_SENSITIVITY).contains(&s) => Ok(s),
        Some(_) => Err(Invalid {
            field: "sensitivity",
            reason: "must be 2 to 10 (spreads from the usual)".into(),
        }),
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// A day's value against its baseline.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Judged {
    pub value: f64,
    pub median: f64,
    /// 1.4826 × the median absolute deviation, at least the signal's floor and a tenth of
    /// the median.
    pub spread: f64,
    /// (value − median) / spread.
    pub score: f64,
    /// The same weekdays the baseline read.
    pub history: usize,
}

/// Judges `value` against `history` (the same weekday in earlier weeks, any order); `None`
/// when the history is too short to judge.
pub fn judge(signal: Signal, history: &[f64], value: f64) -> Option<Judged> {
    if history.len() < MIN_HISTORY {
        return None;
    }
    let m = median(history.to_vec());
    let mad = median(history.iter().map(|x| (x - m).abs()).collect());
    let spread = (1.4826 * mad).max(signal.floor()).max(0.1 * m.abs());
    Some(Judged {
        value,
        median: m,
        spread,
        score: (value - m) / spread,
        history: history.len(),
    })
}

impl Judged {
    pub fn unusual(&self, signal: Signal, sensitivity: f64) -> bool {
        self.score >= sensitivity || (signal.both_ways() && self.score <= -sensitivity)
    }
}

/// Whose day it was.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Who {
    Workspace,
    Team { team_id: TeamId, name: String },
    Person { user_id: UserId, name: String },
}

impl Who {
    pub fn name(&self) -> &str {
        match self {
            Who::Workspace => "The workspace",
            Who::Team { name, .. } | Who::Person { name, .. } => name,
        }
    }
}

/// An unusual day, with the numbers that made it one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Anomaly {
    pub day: NaiveDate,
    pub who: Who,
    pub signal: Signal,
    #[serde(flatten)]
    pub judged: Judged,
}

impl Anomaly {
    /// "Cost was $48.20 on Tue Dec 1, against a median of $12.10 on the 6 Tuesdays before
    /// (usual spread $3.40): 10.6 spreads above."
    pub fn explain(&self) -> String {
        let j = &self.judged;
        let s = self.signal;
        let weekday = self.day.format("%A");
        format!(
            "{} was {} on {}, against a median of {} on the {} {weekday}s before (usual spread {}): {:.1} spreads {}.",
            s.label(),
            s.show(j.value),
            self.day.format("%a %b %-d"),
            s.show(j.median),
            j.history,
            s.show(j.spread),
            j.score.abs(),
            if j.score >= 0.0 { "above" } else { "below" }
        )
    }
}

/// One series, as [`find`] and [`judge_day`] read it: `days` are `(day, value)` in any
/// order, with no entry for a day of nothing (read as 0 for spend and activity from `first`
/// on, skipped for a rate).
struct Days {
    signal: Signal,
    by_day: std::collections::BTreeMap<NaiveDate, f64>,
    first: NaiveDate,
}

impl Days {
    fn new(signal: Signal, days: &[(NaiveDate, f64)], first: NaiveDate) -> Days {
        Days {
            signal,
            by_day: days.iter().copied().collect(),
            first,
        }
    }

    fn value_on(&self, d: NaiveDate) -> Option<f64> {
        match self.by_day.get(&d) {
            Some(v) => Some(*v),
            // A rate of no runs is no rate; no spend is zero spend, but only once the series
            // has begun.
            None if self.signal == Signal::FailureRate => None,
            None if d >= self.first => Some(0.0),
            None => None,
        }
    }

    /// `day` against the same weekday of up to [`WEEKS`] weeks before it.
    fn judge(&self, day: NaiveDate) -> Option<Judged> {
        let v = self.value_on(day)?;
        let history: Vec<f64> = (1..=WEEKS as u64)
            .filter_map(|w| day.checked_sub_days(chrono::Days::new(7 * w)))
            .filter(|d| *d >= self.first)
            .filter_map(|d| self.value_on(d))
            .collect();
        judge(self.signal, &history, v)
    }
}

/// The unusual days of one series (`days` and `first` as in [`judge_day`]). Only days from
/// `since` to `until` are judged.
pub fn find(
    signal: Signal,
    days: &[(NaiveDate, f64)],
    first: NaiveDate,
    since: NaiveDate,
    until: NaiveDate,
    sensitivity: f64,
) -> Vec<(NaiveDate, Judged)> {
    let series = Days::new(signal, days, first);
    let mut out = Vec::new();
    let mut day = since;
    while day <= until {
        if let Some(j) = series.judge(day) {
            if j.unusual(signal, sensitivity) {
                out.push((day, j));
            }
        }
        day = day.succ_opt().expect("a date after");
    }
    out
}

/// `day` of one series against the same weekday of up to [`WEEKS`] weeks before it, unusual
/// or not; `None` when it cannot be judged (too little history, a rate of too few runs).
/// `days` are `(day, value)` in any order, with no entry for a day of nothing (read as 0 for
/// spend and activity from `first`, the series' first day, on).
pub fn judge_day(
    signal: Signal,
    days: &[(NaiveDate, f64)],
    first: NaiveDate,
    day: NaiveDate,
) -> Option<Judged> {
    Days::new(signal, days, first).judge(day)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn a_steady_history_flags_the_odd_day_and_nothing_else() {
        // Five weeks of $10 a day, a little noise, then $60 on one Wednesday.
        let first = d("2026-10-26");
        let mut days = vec![];
        let mut day = first;
        let mut i = 0;
        while day <= d("2026-12-06") {
            let noise = [0.0, 0.4, -0.3, 0.8, -0.6, 0.2, -0.1][i % 7];
            days.push((day, 10.0 + noise));
            day = day.succ_opt().unwrap();
            i += 1;
        }
        let odd = d("2026-12-02");
        days.iter_mut().find(|(x, _)| *x == odd).unwrap().1 = 60.0;
        let found = find(
            Signal::CostUsd,
            &days,
            first,
            d("2026-11-16"),
            d("2026-12-06"),
            3.5,
        );
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, odd);
        let j = &found[0].1;
        // Every Wednesday was $9.70: no deviation at all, so the floor of $1 is the spread.
        assert!((j.median - 9.7).abs() < 1e-9, "{j:?}");
        assert!((j.spread - 1.0).abs() < 1e-9, "{j:?}");
        assert!((j.score - 50.3).abs() < 1e-9, "{j:?}");
        assert_eq!(j.history, 5);
    }

    #[test]
    fn nothing_is_judged_before_three_weeks_of_history() {
        let first = d("2026-11-23");
        let days: Vec<(NaiveDate, f64)> = (0..14)
            .map(|i| {
                (
                    first + chrono::Days::new(i),
                    if i == 13 { 500.0 } else { 10.0 },
                )
            })
            .collect();
        assert!(find(Signal::CostUsd, &days, first, first, d("2026-12-06"), 2.0).is_empty());
        // Judged one day at a time (as a rule judges yesterday), the same: no verdict at all.
        assert_eq!(
            judge_day(Signal::CostUsd, &days, first, d("2026-12-06")),
            None
        );
    }

    #[test]
    fn one_day_is_judged_as_the_search_judges_it() {
        let first = d("2026-11-01");
        let mut days: Vec<(NaiveDate, f64)> = (0..35)
            .map(|i| (first + chrono::Days::new(i), 10.0))
            .collect();
        // No entry on one day is a day of no spend (0), which is unusual too, but below.
        let odd = d("2026-12-05");
        days.retain(|(x, _)| *x != d("2026-12-04") && *x != odd);
        days.push((odd, 25.0));
        let j = judge_day(Signal::CostUsd, &days, first, odd).unwrap();
        assert_eq!(
            (j.median, j.spread, j.score, j.history),
            (10.0, 1.0, 15.0, 4)
        );
        let found = find(Signal::CostUsd, &days, first, odd, odd, 3.5);
        assert_eq!(found, vec![(odd, j)]);
        let empty = judge_day(Signal::CostUsd, &days, first, d("2026-12-04")).unwrap();
        assert_eq!(empty.value, 0.0);
        assert!(empty.score < 0.0);
        // A rate with no runs that day has no verdict.
        assert_eq!(
            judge_day(Signal::FailureRate, &days, first, d("2026-12-04")),
            None
        );
    }

    #[test]
    fn activity_counts_drops_spend_does_not() {
        let h = [100.0, 110.0, 95.0, 105.0];
        let drop = judge(Signal::Activity, &h, 2.0).unwrap();
        assert!(drop.unusual(Signal::Activity, 3.5), "{drop:?}");
        let cheap = judge(Signal::CostUsd, &h, 2.0).unwrap();
        assert!(!cheap.unusual(Signal::CostUsd, 3.5));
        assert!(judge(Signal::CostUsd, &h[..2], 1000.0).is_none());
    }

    #[test]
    fn one_odd_week_in_the_history_does_not_hide_the_next() {
        // A robust baseline: the median and MAD shrug off the earlier spike.
        let h = [10.0, 10.5, 90.0, 9.5, 10.0, 10.2];
        let j = judge(Signal::CostUsd, &h, 60.0).unwrap();
        assert!(j.unusual(Signal::CostUsd, 3.5), "{j:?}");
    }

    #[test]
    fn an_anomaly_explains_itself() {
        let a = Anomaly {
            day: d("2026-12-01"),
            who: Who::Workspace,
            signal: Signal::CostUsd,
            judged: Judged {
                value: 48.2,
                median: 12.1,
                spread: 3.4,
                score: (48.2 - 12.1) / 3.4,
                history: 6,
            },
        };
        assert_eq!(
            a.explain(),
            "Cost was $48.20 on Tue Dec 1, against a median of $12.10 on the 6 Tuesdays before (usual spread $3.40): 10.6 spreads above."
        );
        assert_eq!(Signal::Tokens.show(14_166_080.0), "14,166,080");
        assert_eq!(sensitivity(None), Ok(3.5));
        assert_eq!(sensitivity(Some(1.0)).unwrap_err().field, "sensitivity");
    }
}
