//! Budgets: a spending limit in US dollars and/or tokens for the workspace, a team or a
//! person, per calendar month or week in the workspace's time zone; and where the period is
//! heading at its current pace.

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::{dashboard::Audience, BudgetId, Invalid, TeamId, UserId};

/// Whose spending a budget limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = BudgetScope))]
#[serde(tag = "scope", rename_all = "snake_case")]
pub enum Scope {
    Workspace,
    Team { team_id: TeamId },
    Person { user_id: UserId },
}

impl Scope {
    /// Whether a reader of `audience` may see budgets of this kind at all (whether they see
    /// this team or this person is the store's to say). A budget's numbers are its scope's
    /// totals, so only readers who see those totals whole see it: a manager sees the budgets
    /// of the teams they manage and their people, a developer their own, a viewer the
    /// workspace's.
    pub fn open_to(self, audience: Audience) -> bool {
        matches!(
            (self, audience),
            (_, Audience::Everyone)
                | (Scope::Workspace, Audience::Aggregate)
                | (Scope::Team { .. } | Scope::Person { .. }, Audience::Teams)
                | (Scope::Person { .. }, Audience::Own)
        )
    }
}

/// A budget's period: a calendar month or a week from Monday, in the workspace's zone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Period {
    Month,
    Week,
}

impl Period {
    pub fn as_str(self) -> &'static str {
        match self {
            Period::Month => "month",
            Period::Week => "week",
        }
    }

    pub fn parse(s: &str) -> Result<Period, Invalid> {
        match s.trim() {
            "month" => Ok(Period::Month),
            "week" => Ok(Period::Week),
            _ => Err(Invalid {
                field: "period",
                reason: "must be month or week".into(),
            }),
        }
    }
}

/// The largest limit accepted: beyond any real spend, below where `f64` loses cents.
pub const MAX_USD: f64 = 1e9;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Budget {
    pub id: BudgetId,
    #[serde(flatten)]
    pub scope: Scope,
    /// The workspace's, team's or person's name as the pages show it.
    pub name: String,
    pub period: Period,
    pub usd: Option<f64>,
    pub tokens: Option<i64>,
    pub created_at: DateTime<Utc>,
}

/// A budget to create.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewBudget {
    #[serde(flatten)]
    pub scope: Scope,
    pub period: Period,
    pub usd: Option<f64>,
    pub tokens: Option<i64>,
}

impl NewBudget {
    pub fn check(&self) -> Result<(), Invalid> {
        if self.usd.is_none() && self.tokens.is_none() {
            return Err(Invalid {
                field: "usd",
                reason: "give a limit in US dollars, in tokens, or both".into(),
            });
        }
        if let Some(usd) = self.usd {
            if !(usd.is_finite() && usd > 0.0 && usd <= MAX_USD) {
                return Err(Invalid {
                    field: "usd",
                    reason: format!("must be more than 0 and at most {MAX_USD:.0}"),
                });
            }
        }
        if let Some(tokens) = self.tokens {
            if tokens <= 0 {
                return Err(Invalid {
                    field: "tokens",
                    reason: "must be more than 0".into(),
                });
            }
        }
        Ok(())
    }
}

/// Where one limit stands in the current period.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Projection {
    pub limit: f64,
    pub spent: f64,
    /// Spent so far plus the period's pace (spent per day so far) over the days left.
    pub projected: f64,
    /// A range around `projected` from how much the days so far varied; `low` never under
    /// what is spent.
    pub low: f64,
    pub high: f64,
    /// Fewer than [`STEADY_DAYS`] whole days behind: the pace says little yet.
    pub early: bool,
    /// When the pace crosses the limit, if it does within the period (already past it:
    /// `None`, and `spent >= limit`).
    pub exceeds_on: Option<DateTime<Utc>>,
}

impl Projection {
    /// Spent as a share of the limit (1.0 is all of it).
    pub fn used(&self) -> f64 {
        self.spent / self.limit
    }

    pub fn over(&self) -> bool {
        self.spent >= self.limit
    }

    /// Spending at this pace ends the period over the limit.
    pub fn heading_over(&self) -> bool {
        !self.over() && self.projected > self.limit
    }
}

/// The whole days a pace needs behind it before it is more than a guess.
pub const STEADY_DAYS: usize = 3;

/// Projects `daily` (spend per local day of the period so far, today's partial day last)
/// over the period `[from, to)` at `now`. The pace is the spend per elapsed day; the range is
/// ±1.96 standard deviations of the whole days' spend, scaled by the square root of the days
/// left (days taken as independent), so it narrows as the period runs out.
pub fn project(
    limit: f64,
    daily: &[f64],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Projection {
    let day = TimeDelta::days(1).num_seconds() as f64;
    let to = to.max(from);
    let now = now.clamp(from, to);
    // An hour at least, so the first minutes of a period do not make a wild pace.
    let elapsed = ((now - from).num_seconds() as f64).max(3600.0) / day;
    let left = (to - now).num_seconds().max(0) as f64 / day;
    let spent: f64 = daily.iter().sum();
    let pace = spent / elapsed;
    let projected = spent + pace * left;
    let whole = &daily[..daily.len().saturating_sub(1)];
    let spread = match whole.len() {
        0 | 1 => 0.0,
        n => {
            let mean = whole.iter().sum::<f64>() / n as f64;
            let var = whole.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
            1.96 * var.sqrt() * left.sqrt()
        }
    };
    let exceeds_on = (spent < limit && projected > limit && pace > 0.0).then(|| {
        let days = (limit - spent) / pace;
        now + TimeDelta::seconds((days * day).round() as i64)
    });
    Projection {
        limit,
        spent,
        projected,
        low: (projected - spread).max(spent),
        high: projected + spread,
        early: whole.len() < STEADY_DAYS,
        exceeds_on,
    }
}

/// A budget with where its current period stands.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Status {
    pub budget: Budget,
    /// The current period, `[from, to)`.
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub usd: Option<Projection>,
    pub tokens: Option<Projection>,
    /// The workspace's offset from UTC now, so dates read as its local days.
    pub utc_offset_secs: i32,
}

impl Status {
    /// `at` as a date in the workspace's zone ("Dec 23").
    pub fn local_date(&self, at: DateTime<Utc>) -> String {
        (at + TimeDelta::seconds(i64::from(self.utc_offset_secs)))
            .format("%b %-d")
            .to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn a_steady_pace_projects_by_hand() {
        // November has 30 days; ten are over, each spent $10: $100 so far, $10 a day, twenty
        // days left: $300 at the end. A $250 limit is crossed after $150 more: 15 days on.
        let p = project(
            250.0,
            &[10.0; 10],
            t("2026-11-01T00:00:00Z"),
            t("2026-12-01T00:00:00Z"),
            t("2026-11-11T00:00:00Z"),
        );
        assert_eq!(p.spent, 100.0);
        assert!((p.projected - 300.0).abs() < 1e-9, "{p:?}");
        assert_eq!((p.low, p.high), (p.projected, p.projected), "no spread");
        assert!(!p.early);
        assert_eq!(p.exceeds_on, Some(t("2026-11-26T00:00:00Z")));
        assert!(p.heading_over() && !p.over());
        assert!((p.used() - 0.4).abs() < 1e-9);
    }

    #[test]
    fn uneven_days_widen_the_range_and_early_periods_say_so() {
        // Halfway through a week (3.5 days), whole days 4, 8, 6 and half a day of 3: $21 spent,
        // $6 a day, 3.5 days left: $42. The whole days' sample deviation is 2, so the range is
        // ±1.96 × 2 × √3.5.
        let p = project(
            100.0,
            &[4.0, 8.0, 6.0, 3.0],
            t("2026-11-30T00:00:00Z"),
            t("2026-12-07T00:00:00Z"),
            t("2026-12-03T12:00:00Z"),
        );
        assert!((p.projected - 42.0).abs() < 1e-9, "{p:?}");
        let half = 1.96 * 2.0 * 3.5f64.sqrt();
        assert!((p.high - (42.0 + half)).abs() < 1e-9);
        assert!((p.low - (42.0 - half)).abs() < 1e-9);
        assert!(!p.early, "three whole days");
        assert_eq!(p.exceeds_on, None, "under the limit at this pace");
        let first_day = project(
            100.0,
            &[5.0],
            t("2026-11-30T00:00:00Z"),
            t("2026-12-07T00:00:00Z"),
            t("2026-11-30T06:00:00Z"),
        );
        assert!(first_day.early);
    }

    #[test]
    fn a_limit_already_passed_is_over_with_no_crossing_ahead() {
        let p = project(
            50.0,
            &[30.0, 30.0],
            t("2026-11-01T00:00:00Z"),
            t("2026-12-01T00:00:00Z"),
            t("2026-11-02T12:00:00Z"),
        );
        assert!(p.over() && !p.heading_over());
        assert_eq!(p.exceeds_on, None);
        // The period's first second counts as an hour: $1 then is $24 a day, not $86,400.
        let start = project(
            10.0,
            &[1.0],
            t("2026-11-01T00:00:00Z"),
            t("2026-12-01T00:00:00Z"),
            t("2026-11-01T00:00:01Z"),
        );
        assert!(
            (start.projected - (1.0 + 24.0 * 30.0)).abs() < 0.01,
            "{start:?}"
        );
    }

    #[test]
    fn limits_are_checked_and_named() {
        let ok = NewBudget {
            scope: Scope::Workspace,
            period: Period::Month,
            usd: Some(500.0),
            tokens: None,
        };
        assert_eq!(ok.check(), Ok(()));
        let none = NewBudget { usd: None, ..ok };
        assert_eq!(none.check().unwrap_err().field, "usd");
        for bad in [0.0, -1.0, f64::NAN, 2e9] {
            let e = NewBudget {
                usd: Some(bad),
                ..ok
            }
            .check()
            .unwrap_err();
            assert_eq!(e.field, "usd", "{bad}");
        }
        let e = NewBudget {
            tokens: Some(0),
            ..ok
        }
        .check()
        .unwrap_err();
        assert_eq!(e.field, "tokens");
        assert_eq!(Period::parse("week"), Ok(Period::Week));
        assert_eq!(Period::parse("year").unwrap_err().field, "period");
    }

    #[test]
    fn each_reader_sees_the_budgets_whose_totals_it_sees_whole() {
        let team = Scope::Team {
            team_id: TeamId(uuid::Uuid::nil()),
        };
        let person = Scope::Person {
            user_id: UserId(uuid::Uuid::nil()),
        };
        use Audience::*;
        assert!([Scope::Workspace, team, person]
            .iter()
            .all(|s| s.open_to(Everyone)));
        assert!(Scope::Workspace.open_to(Aggregate) && !team.open_to(Aggregate));
        assert!(!Scope::Workspace.open_to(Teams) && team.open_to(Teams) && person.open_to(Teams));
        assert!(person.open_to(Own) && !team.open_to(Own) && !Scope::Workspace.open_to(Own));
    }

    #[test]
    fn a_budget_reads_as_flat_json() {
        let b = NewBudget {
            scope: Scope::Team {
                team_id: TeamId(uuid::Uuid::nil()),
            },
            period: Period::Week,
            usd: None,
            tokens: Some(1_000_000),
        };
        let v = serde_json::to_value(b).unwrap();
        assert_eq!(v["scope"], "team");
        assert_eq!(v["team_id"], uuid::Uuid::nil().to_string());
        assert_eq!(v["period"], "week");
        let back: NewBudget = serde_json::from_value(v).unwrap();
        assert_eq!(back, b);
    }
}
