//! Alert rules: a dashboard number over a trailing window (or a budget's standing) compared
//! with a threshold, for what its owner sees. A rule fires once when its number crosses the
//! threshold and resolves only when the number is back past a second level, its clear level,
//! so a value wavering around the threshold does not fire again and again (hysteresis).

use chrono::{DateTime, Datelike, TimeDelta, Timelike, Utc, Weekday};
use serde::{Deserialize, Serialize};

use crate::{
    anomalies::{Judged, Signal, MAX_SENSITIVITY, MIN_SENSITIVITY},
    dashboard::{Filters, Kpis},
    AlertRuleId, BudgetId, Invalid, UserId,
};

/// What a rule watches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    CostUsd,
    Tokens,
    Sessions,
    ActivePeople,
    /// Prompts, tool executions and API requests: whether anyone is working.
    Activity,
    ToolExecutions,
    ToolFailures,
    /// Failed tool executions over all, in percent.
    FailureRate,
    ApiErrors,
    LinesChanged,
    /// A budget's spend so far, in percent of its limit (dollars when it has one, else
    /// tokens).
    BudgetUsed,
    /// Where the budget's period ends at its current pace, in percent of its limit.
    BudgetProjected,
    /// How unusual the last whole local day's cost was, in spreads from the same weekday's
    /// usual (see [`crate::anomalies`]).
    UnusualCost,
    /// The same for tokens.
    UnusualTokens,
    /// The same for the tool failure rate (days with too few runs have no value).
    UnusualFailureRate,
    /// The same for activity (tool runs and API requests), both ways: a day far below the
    /// usual is as unusual as one far above.
    UnusualActivity,
}

/// How a metric's numbers read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    Usd,
    Count,
    Percent,
    /// Distances from the usual (see [`crate::anomalies::Judged::score`]).
    Spreads,
}

impl Metric {
    pub const ALL: [Metric; 16] = [
        Metric::CostUsd,
        Metric::Tokens,
        Metric::Sessions,
        Metric::ActivePeople,
        Metric::Activity,
        Metric::ToolExecutions,
        Metric::ToolFailures,
        Metric::FailureRate,
        Metric::ApiErrors,
        Metric::LinesChanged,
        Metric::BudgetUsed,
        Metric::BudgetProjected,
        Metric::UnusualCost,
        Metric::UnusualTokens,
        Metric::UnusualFailureRate,
        Metric::UnusualActivity,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Metric::CostUsd => "cost_usd",
            Metric::Tokens => "tokens",
            Metric::Sessions => "sessions",
            Metric::ActivePeople => "active_people",
            Metric::Activity => "activity",
            Metric::ToolExecutions => "tool_executions",
            Metric::ToolFailures => "tool_failures",
            Metric::FailureRate => "failure_rate",
            Metric::ApiErrors => "api_errors",
            Metric::LinesChanged => "lines_changed",
            Metric::BudgetUsed => "budget_used",
            Metric::BudgetProjected => "budget_projected",
            Metric::UnusualCost => "unusual_cost",
            Metric::UnusualTokens => "unusual_tokens",
            Metric::UnusualFailureRate => "unusual_failure_rate",
            Metric::UnusualActivity => "unusual_activity",
        }
    }

    pub fn parse(s: &str) -> Result<Metric, Invalid> {
        Metric::ALL
            .into_iter()
            .find(|m| m.as_str() == s.trim())
            .ok_or_else(|| Invalid {
                field: "metric",
                reason: format!(
                    "must be one of {}",
                    Metric::ALL.map(|m| m.as_str()).join(", ")
                ),
            })
    }

    pub fn label(self) -> &'static str {
        match self {
            Metric::CostUsd => "Cost",
            Metric::Tokens => "Tokens",
            Metric::Sessions => "Sessions",
            Metric::ActivePeople => "Active people",
            Metric::Activity => "Activity (prompts, tool runs, requests)",
            Metric::ToolExecutions => "Tool executions",
            Metric::ToolFailures => "Tool failures",
            Metric::FailureRate => "Tool failure rate",
            Metric::ApiErrors => "API errors",
            Metric::LinesChanged => "Lines changed",
            Metric::BudgetUsed => "Budget used",
            Metric::BudgetProjected => "Budget projected at period end",
            Metric::UnusualCost => "Unusual day: cost",
            Metric::UnusualTokens => "Unusual day: tokens",
            Metric::UnusualFailureRate => "Unusual day: tool failure rate",
            Metric::UnusualActivity => "Unusual day: activity",
        }
    }

    pub fn unit(self) -> Unit {
        match self {
            Metric::CostUsd => Unit::Usd,
            Metric::FailureRate | Metric::BudgetUsed | Metric::BudgetProjected => Unit::Percent,
            _ if self.unusual().is_some() => Unit::Spreads,
            _ => Unit::Count,
        }
    }

    pub fn is_budget(self) -> bool {
        matches!(self, Metric::BudgetUsed | Metric::BudgetProjected)
    }

    /// What an unusual-day metric watches; `None` for the others.
    pub fn unusual(self) -> Option<Signal> {
        match self {
            Metric::UnusualCost => Some(Signal::CostUsd),
            Metric::UnusualTokens => Some(Signal::Tokens),
            Metric::UnusualFailureRate => Some(Signal::FailureRate),
            Metric::UnusualActivity => Some(Signal::Activity),
            _ => None,
        }
    }

    /// The value an unusual-day rule compares with its threshold: the day's score, or its
    /// distance either way for a signal whose drops count too.
    pub fn of_judged(self, j: &Judged) -> Option<f64> {
        let signal = self.unusual()?;
        Some(if signal.both_ways() {
            j.score.abs()
        } else {
            j.score
        })
    }

    /// The metric's value in a window's totals; `None` when it has none (a failure rate
    /// without a single tool run). Budget metrics are not read from totals.
    pub fn of(self, k: &Kpis) -> Option<f64> {
        let c = &k.counts;
        Some(match self {
            Metric::CostUsd => c.cost_usd,
            Metric::Tokens => k.tokens() as f64,
            Metric::Sessions => k.sessions as f64,
            Metric::ActivePeople => k.active_people as f64,
            Metric::Activity => (c.activity.prompts + c.tool_executions + c.api_requests) as f64,
            Metric::ToolExecutions => c.tool_executions as f64,
            Metric::ToolFailures => c.tool_failures as f64,
            // Counted, not 100 × (1 − the success rate): 1 in 10 is exactly 10.
            Metric::FailureRate => {
                return (c.tool_executions > 0)
                    .then(|| 100.0 * c.tool_failures as f64 / c.tool_executions as f64)
            }
            Metric::ApiErrors => c.activity.api_errors as f64,
            Metric::LinesChanged => (c.lines_added + c.lines_removed) as f64,
            Metric::BudgetUsed
            | Metric::BudgetProjected
            | Metric::UnusualCost
            | Metric::UnusualTokens
            | Metric::UnusualFailureRate
            | Metric::UnusualActivity => return None,
        })
    }

    /// `v` as people read it: "$12.50", "42", "17.5%".
    pub fn show(self, v: f64) -> String {
        match self.unit() {
            Unit::Usd => format!("${v:.2}"),
            Unit::Percent => format!("{}%", trim(v, 1)),
            // Whole counts grouped as on the pages (14,166,080 tokens), fractions as they are.
            Unit::Count if v.fract() == 0.0 && v.abs() < 1e15 => crate::numbers::grouped(v as i64),
            Unit::Count => trim(v, 2),
            Unit::Spreads => {
                let n = trim(v.abs(), 1);
                let unit = if n == "1" { "spread" } else { "spreads" };
                if v < 0.0 && n != "0" {
                    format!("{n} {unit} below")
                } else {
                    format!("{n} {unit}")
                }
            }
        }
    }
}

fn trim(v: f64, places: usize) -> String {
    let s = format!("{v:.places$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// Which side of the threshold is trouble.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Above,
    Below,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Above => "above",
            Direction::Below => "below",
        }
    }

    pub fn parse(s: &str) -> Result<Direction, Invalid> {
        match s.trim() {
            "above" => Ok(Direction::Above),
            "below" => Ok(Direction::Below),
            _ => Err(Invalid {
                field: "direction",
                reason: "must be above or below".into(),
            }),
        }
    }
}

/// Hours of the working day, in the workspace's zone: the rule is judged only while its
/// whole window lies inside them (so "no activity for 2 h" does not fire at 9:00 for the
/// night before).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WorkingHours {
    /// The first hour (0–23) and the hour the day ends (1–24).
    pub from_hour: u8,
    pub to_hour: u8,
    /// Monday to Friday only.
    pub weekdays: bool,
}

impl WorkingHours {
    /// Whether the window `[local_now - window, local_now]` (local wall-clock times) lies
    /// inside one working day.
    pub fn covers(&self, local_now: DateTime<Utc>, window: TimeDelta) -> bool {
        let start = local_now - window;
        let day = start.date_naive();
        let end = if local_now.date_naive() == day {
            local_now.time().num_seconds_from_midnight()
        } else if local_now.date_naive() == day + chrono::Days::new(1)
            && local_now.time().num_seconds_from_midnight() == 0
        {
            24 * 3600
        } else {
            return false;
        };
        if self.weekdays && matches!(start.weekday(), Weekday::Sat | Weekday::Sun) {
            return false;
        }
        start.time().num_seconds_from_midnight() >= u32::from(self.from_hour) * 3600
            && end <= u32::from(self.to_hour) * 3600
    }
}

/// The longest window: a month.
pub const MAX_WINDOW_MINUTES: i32 = 31 * 24 * 60;
pub const MIN_WINDOW_MINUTES: i32 = 5;
/// The clear level when none is given: this share of the threshold back from it.
pub const DEFAULT_BAND: f64 = 0.1;

/// A rule as written by its owner.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewRule {
    pub name: String,
    pub metric: Metric,
    pub direction: Direction,
    pub threshold: f64,
    /// Where a firing rule resolves: at or under it for `above` (at or over it for
    /// `below`). Absent: 10% of the threshold back from it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clear: Option<f64>,
    /// The trailing window the metric is summed over (budget rules: the budget's period).
    #[serde(default = "default_window")]
    pub window_minutes: i32,
    /// Team, person, project, model and tool, as on the dashboard; ranges are ignored.
    #[serde(default)]
    pub filters: Filters,
    /// The budget a budget metric reads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget_id: Option<BudgetId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hours: Option<WorkingHours>,
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn default_window() -> i32 {
    60
}

fn yes() -> bool {
    true
}

impl NewRule {
    /// The rule with its checks done and its defaults filled in (the clear level, filters
    /// without a range).
    pub fn checked(mut self) -> Result<NewRule, Invalid> {
        let bad = |field, reason: &str| Invalid {
            field,
            reason: reason.into(),
        };
        self.name = self.name.trim().to_string();
        if self.name.is_empty() || self.name.chars().count() > 120 {
            return Err(bad("name", "must be 1 to 120 characters"));
        }
        if !self.threshold.is_finite() || self.threshold.abs() > 1e12 {
            return Err(bad("threshold", "must be a number"));
        }
        if self.threshold < 0.0 {
            return Err(bad("threshold", "must be 0 or more"));
        }
        if self.direction == Direction::Below && self.threshold == 0.0 {
            return Err(bad(
                "threshold",
                "nothing is below 0: use a threshold above 0 (below 1 means none)",
            ));
        }
        let clear = match self.clear {
            Some(c) if !c.is_finite() || c < 0.0 => {
                return Err(bad("clear", "must be a number, 0 or more"))
            }
            Some(c) => c,
            None => match self.direction {
                Direction::Above => self.threshold * (1.0 - DEFAULT_BAND),
                Direction::Below => self.threshold * (1.0 + DEFAULT_BAND),
            },
        };
        match self.direction {
            Direction::Above if clear > self.threshold => {
                return Err(bad("clear", "must be at or under the threshold"))
            }
            Direction::Below if clear < self.threshold => {
                return Err(bad("clear", "must be at or over the threshold"))
            }
            _ => {}
        }
        self.clear = Some(clear);
        if self.metric.unusual().is_some() {
            if self.direction != Direction::Above {
                return Err(bad(
                    "direction",
                    "an unusual day is a distance from the usual: use above",
                ));
            }
            if !(MIN_SENSITIVITY..=MAX_SENSITIVITY).contains(&self.threshold) {
                return Err(bad(
                    "threshold",
                    "must be 2 to 10 spreads from the usual (3.5 is the unusual days' default)",
                ));
            }
            if self.filters.project.is_some() {
                return Err(bad(
                    "project",
                    "unusual days are judged for people, teams and the workspace, not per project",
                ));
            }
            // Spend and tokens belong to API requests, which name no tool; tool runs name no
            // model. Such a rule would read nothing, every day, and never say so.
            if self.filters.tool.is_some()
                && matches!(self.metric, Metric::UnusualCost | Metric::UnusualTokens)
            {
                return Err(bad(
                    "tool",
                    "cost and tokens are not counted per tool: leave the tool empty",
                ));
            }
            if self.filters.model.is_some() && self.metric == Metric::UnusualFailureRate {
                return Err(bad(
                    "model",
                    "tool runs are not counted per model: leave the model empty",
                ));
            }
            if self.hours.is_some() {
                return Err(bad(
                    "hours",
                    "an unusual-day rule judges whole days: leave working hours empty",
                ));
            }
            self.budget_id = None;
            // Always the last whole day, whatever the form's window said.
            self.window_minutes = 24 * 60;
        } else if self.metric.is_budget() {
            if self.budget_id.is_none() {
                return Err(bad(
                    "budget_id",
                    "a budget metric needs the budget it reads",
                ));
            }
        } else {
            self.budget_id = None;
            if !(MIN_WINDOW_MINUTES..=MAX_WINDOW_MINUTES).contains(&self.window_minutes) {
                return Err(Invalid {
                    field: "window_minutes",
                    reason: format!("must be {MIN_WINDOW_MINUTES} to {MAX_WINDOW_MINUTES} minutes"),
                });
            }
        }
        if let Some(h) = self.hours {
            if h.from_hour > 23 || h.to_hour == 0 || h.to_hour > 24 || h.from_hour >= h.to_hour {
                return Err(bad(
                    "hours",
                    "from_hour must be 0–23 and before to_hour (1–24)",
                ));
            }
        }
        self.filters = Filters {
            range: None,
            from: None,
            to: None,
            grain: None,
            ..self.filters
        };
        Ok(self)
    }

    pub fn clear_level(&self) -> f64 {
        self.clear.unwrap_or(self.threshold)
    }

    /// "Cost above $200 over 24 h".
    pub fn describe(&self) -> String {
        let over = if self.metric.is_budget() {
            " this period".to_string()
        } else if self.metric.unusual().is_some() {
            " on the last whole day, against the same weekday's usual".to_string()
        } else {
            format!(" over {}", window_words(self.window_minutes))
        };
        format!(
            "{} {} {}{over}",
            self.metric.label(),
            self.direction.as_str(),
            self.metric.show(self.threshold)
        )
    }
}

/// "45 min", "2 h", "7 d".
pub fn window_words(minutes: i32) -> String {
    if minutes % 1440 == 0 {
        format!("{} d", minutes / 1440)
    } else if minutes % 60 == 0 {
        format!("{} h", minutes / 60)
    } else {
        format!("{minutes} min")
    }
}

/// Whether a rule is in trouble.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum State {
    Ok,
    Firing,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Ok => "ok",
            State::Firing => "firing",
        }
    }

    pub fn parse(s: &str) -> State {
        if s == "firing" {
            State::Firing
        } else {
            State::Ok
        }
    }
}

/// The rule's next state after reading `value`: it fires past the threshold, and a firing
/// rule resolves only back past the clear level. No value (nothing to take a rate of) keeps
/// the state.
pub fn judge(state: State, value: Option<f64>, rule: &NewRule) -> State {
    let Some(v) = value else { return state };
    let (t, c) = (rule.threshold, rule.clear_level());
    match (state, rule.direction) {
        (State::Ok, Direction::Above) if v > t => State::Firing,
        (State::Ok, Direction::Below) if v < t => State::Firing,
        (State::Firing, Direction::Above) if v <= c => State::Ok,
        (State::Firing, Direction::Below) if v >= c => State::Ok,
        (s, _) => s,
    }
}

/// A rule as stored, with where it stands.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Rule {
    pub id: AlertRuleId,
    pub owner: UserId,
    pub owner_name: String,
    #[serde(flatten)]
    pub rule: NewRule,
    pub state: State,
    /// Since when it is in its state (none: never judged).
    pub since: Option<DateTime<Utc>>,
    pub last_value: Option<f64>,
    pub evaluated_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    /// How the caller hears of it; `None` when they do not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mine: Option<Subscription>,
}

/// How one person hears of a rule: in the app (the bell) and/or by e-mail.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Subscription {
    pub in_app: bool,
    pub email: bool,
}

/// A rule fired or resolved.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Event {
    pub id: uuid::Uuid,
    pub rule_id: AlertRuleId,
    pub rule_name: String,
    /// `firing`: it fired; `ok`: it resolved.
    pub state: State,
    pub value: f64,
    pub threshold: f64,
    pub metric: Metric,
    pub at: DateTime<Utc>,
}

impl Event {
    /// One line for the bell, an e-mail subject, a chat message.
    pub fn headline(&self) -> String {
        match self.state {
            State::Firing => format!(
                "{} fired: {} (threshold {})",
                self.rule_name,
                self.metric.show(self.value),
                self.metric.show(self.threshold)
            ),
            State::Ok => format!(
                "{} resolved: {}",
                self.rule_name,
                self.metric.show(self.value)
            ),
        }
    }
}

/// An event in one person's bell.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Notification {
    pub id: uuid::Uuid,
    pub event: Event,
    pub read: bool,
}

/// The bell: the latest notifications and how many are unread.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Inbox {
    pub unread: i64,
    pub items: Vec<Notification>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(direction: Direction, threshold: f64, clear: Option<f64>) -> NewRule {
        NewRule {
            name: "r".into(),
            metric: Metric::FailureRate,
            direction,
            threshold,
            clear,
            window_minutes: 60,
            filters: Filters::default(),
            budget_id: None,
            hours: None,
            enabled: true,
        }
        .checked()
        .unwrap()
    }

    /// Runs `values` through the rule and returns the transitions.
    fn run(rule: &NewRule, values: &[Option<f64>]) -> Vec<(usize, State)> {
        let mut state = State::Ok;
        let mut out = vec![];
        for (i, v) in values.iter().enumerate() {
            let next = judge(state, *v, rule);
            if next != state {
                out.push((i, next));
            }
            state = next;
        }
        out
    }

    #[test]
    fn a_rule_fires_once_and_resolves_only_past_its_clear_level() {
        let r = rule(Direction::Above, 20.0, Some(10.0));
        let got = run(
            &r,
            &[
                Some(5.0),
                Some(25.0), // fires
                Some(19.0), // back under the threshold, not under the clear level
                Some(21.0), // over again: still the one firing
                Some(15.0),
                None,       // no data: holds
                Some(10.0), // resolves
                Some(19.9), // under the threshold: stays resolved
                Some(20.0), // at it: not past it
                Some(20.1), // fires again
            ],
        );
        assert_eq!(
            got,
            vec![(1, State::Firing), (6, State::Ok), (9, State::Firing)]
        );
    }

    #[test]
    fn below_rules_mirror_above_and_default_to_a_ten_percent_band() {
        let r = rule(Direction::Below, 1.0, None);
        assert_eq!(r.clear, Some(1.1));
        let got = run(&r, &[Some(3.0), Some(0.0), Some(1.0), Some(2.0), Some(0.5)]);
        assert_eq!(
            got,
            vec![(1, State::Firing), (3, State::Ok), (4, State::Firing)]
        );
        let up = rule(Direction::Above, 200.0, None);
        assert!((up.clear_level() - 180.0).abs() < 1e-9);
    }

    #[test]
    fn rules_are_checked_by_field() {
        let ok = rule(Direction::Above, 20.0, None);
        let field = |r: NewRule| r.checked().unwrap_err().field;
        assert_eq!(
            field(NewRule {
                name: " ".into(),
                ..ok.clone()
            }),
            "name"
        );
        assert_eq!(
            field(NewRule {
                threshold: f64::NAN,
                ..ok.clone()
            }),
            "threshold"
        );
        assert_eq!(
            field(NewRule {
                threshold: -1.0,
                ..ok.clone()
            }),
            "threshold"
        );
        assert_eq!(
            field(NewRule {
                clear: Some(30.0),
                ..ok.clone()
            }),
            "clear"
        );
        assert_eq!(
            field(NewRule {
                window_minutes: 1,
                ..ok.clone()
            }),
            "window_minutes"
        );
        assert_eq!(
            field(NewRule {
                metric: Metric::BudgetUsed,
                ..ok.clone()
            }),
            "budget_id"
        );
        let hours = Some(WorkingHours {
            from_hour: 18,
            to_hour: 9,
            weekdays: true,
        });
        assert_eq!(
            field(NewRule {
                hours,
                ..ok.clone()
            }),
            "hours"
        );
        assert_eq!(
            field(NewRule {
                direction: Direction::Below,
                threshold: 0.0,
                clear: None,
                ..ok
            }),
            "threshold"
        );
        assert_eq!(Metric::parse("cost_usd"), Ok(Metric::CostUsd));
        assert_eq!(Metric::parse("nope").unwrap_err().field, "metric");
    }

    #[test]
    fn working_hours_cover_only_windows_inside_one_working_day() {
        let h = WorkingHours {
            from_hour: 9,
            to_hour: 18,
            weekdays: true,
        };
        let at = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        let two = TimeDelta::hours(2);
        // Wednesday 2026-12-02.
        assert!(h.covers(at("2026-12-02T11:00:00Z"), two));
        assert!(!h.covers(at("2026-12-02T10:00:00Z"), two), "starts at 8:00");
        assert!(h.covers(at("2026-12-02T18:00:00Z"), two));
        assert!(!h.covers(at("2026-12-02T18:30:00Z"), two));
        // Saturday.
        assert!(!h.covers(at("2026-12-05T12:00:00Z"), two));
        let all_week = WorkingHours {
            weekdays: false,
            ..h
        };
        assert!(all_week.covers(at("2026-12-05T12:00:00Z"), two));
        let night = WorkingHours {
            from_hour: 0,
            to_hour: 24,
            weekdays: false,
        };
        assert!(
            !night.covers(at("2026-12-02T01:00:00Z"), two),
            "crosses midnight"
        );
    }

    #[test]
    fn events_read_in_words() {
        let e = Event {
            id: uuid::Uuid::nil(),
            rule_id: AlertRuleId(uuid::Uuid::nil()),
            rule_name: "Platform spend".into(),
            state: State::Firing,
            value: 212.5,
            threshold: 200.0,
            metric: Metric::CostUsd,
            at: "2026-12-07T10:00:00Z".parse().unwrap(),
        };
        assert_eq!(
            e.headline(),
            "Platform spend fired: $212.50 (threshold $200.00)"
        );
        assert_eq!(Metric::FailureRate.show(17.50), "17.5%");
        assert_eq!(window_words(120), "2 h");
        assert_eq!(window_words(45), "45 min");
    }

    #[test]
    fn unusual_day_rules_judge_whole_days_in_spreads() {
        let ok = NewRule {
            name: "Odd spend".into(),
            metric: Metric::UnusualCost,
            direction: Direction::Above,
            threshold: 3.5,
            clear: None,
            window_minutes: 60,
            filters: Filters::default(),
            budget_id: None,
            hours: None,
            enabled: true,
        };
        let checked = ok.clone().checked().unwrap();
        assert_eq!(checked.window_minutes, 1440, "always the last whole day");
        assert_eq!(
            checked.describe(),
            "Unusual day: cost above 3.5 spreads on the last whole day, against the same weekday's usual"
        );
        let field = |r: NewRule| r.checked().unwrap_err().field;
        assert_eq!(
            field(NewRule {
                direction: Direction::Below,
                ..ok.clone()
            }),
            "direction"
        );
        assert_eq!(
            field(NewRule {
                threshold: 1.5,
                ..ok.clone()
            }),
            "threshold"
        );
        assert_eq!(
            field(NewRule {
                threshold: 12.0,
                ..ok.clone()
            }),
            "threshold"
        );
        assert_eq!(
            field(NewRule {
                filters: Filters {
                    project: Some("web".into()),
                    ..Filters::default()
                },
                ..ok.clone()
            }),
            "project"
        );
        assert_eq!(
            field(NewRule {
                filters: Filters {
                    tool: Some("Bash".into()),
                    ..Filters::default()
                },
                ..ok.clone()
            }),
            "tool"
        );
        assert_eq!(
            field(NewRule {
                metric: Metric::UnusualFailureRate,
                filters: Filters {
                    model: Some("claude-sonnet-4-5".into()),
                    ..Filters::default()
                },
                ..ok.clone()
            }),
            "model"
        );
        // Activity may be narrowed either way: it counts what the narrowing leaves.
        assert!(NewRule {
            metric: Metric::UnusualActivity,
            filters: Filters {
                tool: Some("Bash".into()),
                ..Filters::default()
            },
            ..ok.clone()
        }
        .checked()
        .is_ok());
        assert_eq!(
            field(NewRule {
                hours: Some(WorkingHours {
                    from_hour: 9,
                    to_hour: 18,
                    weekdays: true
                }),
                ..ok
            }),
            "hours"
        );
        // A spend far below the usual is no news; activity far below is.
        let low = Judged {
            value: 1.0,
            median: 10.0,
            spread: 1.0,
            score: -9.0,
            history: 4,
        };
        assert_eq!(Metric::UnusualCost.of_judged(&low), Some(-9.0));
        assert_eq!(Metric::UnusualActivity.of_judged(&low), Some(9.0));
        assert_eq!(Metric::CostUsd.of_judged(&low), None);
        assert_eq!(Metric::UnusualTokens.show(4.26), "4.3 spreads");
        assert_eq!(Metric::UnusualCost.show(-9.0), "9 spreads below");
        assert_eq!(Metric::UnusualCost.show(-0.01), "0 spreads");
        assert_eq!(Metric::UnusualCost.show(1.0), "1 spread");
        assert_eq!(Metric::Tokens.show(14_166_080.0), "14,166,080");
        assert_eq!(Metric::Sessions.show(2.5), "2.5");
        assert_eq!(
            Metric::parse("unusual_activity"),
            Ok(Metric::UnusualActivity)
        );
    }
}
