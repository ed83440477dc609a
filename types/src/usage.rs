//! A workspace's usage as its admins see it: activity per day, what it stores, what the write
//! path refused and how its keys are used.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// The days the usage page covers.
pub const DAYS: i64 = 30;

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Usage {
    /// Newest first, the days with any activity.
    pub days: Vec<Day>,
    /// Events stored, from PostgreSQL's statistics (an exact count of a large table is slow).
    pub events_estimate: i64,
    /// Tables by size on disk, largest first (an event partition counts under `events`).
    pub storage: Vec<Table>,
    /// Requests and items the write path refused, newest day first.
    pub rejections: Vec<Rejection>,
    /// Keys by last use, most recent first.
    pub keys: Vec<KeyUse>,
}

impl Usage {
    pub fn storage_bytes(&self) -> i64 {
        self.storage.iter().map(|t| t.bytes).sum()
    }

    /// Everything refused over the period.
    pub fn rejected(&self) -> i64 {
        self.rejections.iter().map(|r| r.count).sum()
    }

    /// The most people active on one day.
    pub fn peak_people(&self) -> i64 {
        self.days.iter().map(|d| d.people).max().unwrap_or(0)
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Day {
    pub day: NaiveDate,
    /// People with at least one session, tool run or API request that day.
    pub people: i64,
    pub sessions: i64,
    pub tool_runs: i64,
    pub api_requests: i64,
    pub cost_usd: f64,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Table {
    pub table: String,
    pub bytes: i64,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Rejection {
    pub day: NaiveDate,
    pub reason: String,
    pub count: i64,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct KeyUse {
    pub name: String,
    pub prefix: String,
    /// The owner's e-mail.
    pub owner: Option<String>,
    pub scopes: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_add_up_their_parts() {
        let day = |d: u32, people| Day {
            day: NaiveDate::from_ymd_opt(2026, 12, d).unwrap(),
            people,
            sessions: 1,
            tool_runs: 1,
            api_requests: 1,
            cost_usd: 1.0,
        };
        let u = Usage {
            days: vec![day(2, 3), day(1, 5)],
            storage: vec![
                Table {
                    table: "events".into(),
                    bytes: 900,
                },
                Table {
                    table: "rollups".into(),
                    bytes: 100,
                },
            ],
            rejections: vec![Rejection {
                day: NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(),
                reason: "invalid".into(),
                count: 4,
            }],
            ..Usage::default()
        };
        assert_eq!(
            (u.storage_bytes(), u.rejected(), u.peak_people()),
            (1000, 4, 5)
        );
    }
}
