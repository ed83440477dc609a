//! Scheduled reports: a digest of the numbers one person sees (the whole workspace, or one
//! team of it) over last week or last month, e-mailed to the people chosen, with the
//! dashboard as a PDF and its daily numbers as CSV attached.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::{BoardId, Invalid, Permission, ReportId, TeamId, UserId};

/// Who may take numbers away as files (PDFs, CSV exports, scheduled reports): anyone who
/// reads metrics, and those granted `reports.export`. Viewers (`reports.view`) read what
/// reports send them.
pub const EXPORTS: &[Permission] = &[
    Permission::MetricsViewAll,
    Permission::MetricsViewTeam,
    Permission::MetricsViewOwn,
    Permission::ReportsExport,
];

/// How often a report goes out, and so the period it covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Cadence {
    /// Mondays at 07:00 in the workspace's zone, about the week (Monday to Sunday) before.
    Weekly,
    /// The 1st at 07:00 in the workspace's zone, about the month before.
    Monthly,
}

impl Cadence {
    pub const ALL: [Cadence; 2] = [Cadence::Weekly, Cadence::Monthly];

    pub fn as_str(self) -> &'static str {
        match self {
            Cadence::Weekly => "weekly",
            Cadence::Monthly => "monthly",
        }
    }

    pub fn parse(s: &str) -> Option<Cadence> {
        Cadence::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// PostgreSQL's `date_trunc` unit for the period.
    pub fn unit(self) -> &'static str {
        match self {
            Cadence::Weekly => "week",
            Cadence::Monthly => "month",
        }
    }

    /// "Weekly, Mondays at 07:00".
    pub fn describe(self) -> &'static str {
        match self {
            Cadence::Weekly => "Weekly, on Mondays at 07:00, about the week before",
            Cadence::Monthly => "Monthly, on the 1st at 07:00, about the month before",
        }
    }
}

/// The most people one report goes to.
pub const MAX_RECIPIENTS: usize = 50;

/// A report as its owner asks for it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewReport {
    pub name: String,
    pub cadence: Cadence,
    /// One team's numbers; absent: everything the owner sees.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<TeamId>,
    /// The dashboard the PDF follows; absent: the default dashboard.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub board: Option<BoardId>,
    /// Who receives it (people of the workspace who may see its numbers).
    pub recipients: Vec<UserId>,
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn yes() -> bool {
    true
}

impl NewReport {
    /// The report with its name trimmed and its recipients each named once.
    pub fn checked(mut self) -> Result<NewReport, Invalid> {
        self.name = self.name.trim().to_string();
        if self.name.is_empty() || self.name.chars().count() > 120 {
            return Err(Invalid {
                field: "name",
                reason: "must be 1 to 120 characters".into(),
            });
        }
        let mut seen = Vec::with_capacity(self.recipients.len());
        for r in self.recipients {
            if !seen.contains(&r) {
                seen.push(r);
            }
        }
        self.recipients = seen;
        if self.recipients.is_empty() || self.recipients.len() > MAX_RECIPIENTS {
            return Err(Invalid {
                field: "recipients",
                reason: format!("must name 1 to {MAX_RECIPIENTS} people"),
            });
        }
        Ok(self)
    }
}

/// Someone a report goes to.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Recipient {
    pub id: UserId,
    pub email: String,
    pub name: Option<String>,
}

/// One sending of a report: the period it covered and what was attached.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Run {
    pub id: uuid::Uuid,
    /// The period's first and last local day.
    pub first_day: NaiveDate,
    pub last_day: NaiveDate,
    pub at: DateTime<Utc>,
    pub recipients: i32,
    /// Whether the PDF was made; when not, why (`pdf_error`).
    pub pdf: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pdf_error: Option<String>,
}

/// A report as it stands.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Report {
    pub id: ReportId,
    pub name: String,
    pub cadence: Cadence,
    pub team: Option<TeamId>,
    pub team_name: Option<String>,
    pub board: Option<BoardId>,
    pub owner: UserId,
    pub owner_email: String,
    pub recipients: Vec<Recipient>,
    pub enabled: bool,
    /// When it goes out next (while enabled).
    pub next_at: DateTime<Utc>,
    /// The latest sendings, newest first.
    pub runs: Vec<Run>,
    /// Whether the reader may change it (its owner, or a tenant admin).
    pub editable: bool,
}

/// How many sendings a report lists.
pub const RECENT_RUNS: i64 = 5;

/// A period in words: "Nov 23 – Nov 29, 2026".
pub fn period_words(first: NaiveDate, last: NaiveDate) -> String {
    if first == last {
        first.format("%b %-d, %Y").to_string()
    } else {
        format!("{} – {}", first.format("%b %-d"), last.format("%b %-d, %Y"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new(recipients: Vec<UserId>) -> NewReport {
        NewReport {
            name: "  Weekly digest ".into(),
            cadence: Cadence::Weekly,
            team: None,
            board: None,
            recipients,
            enabled: true,
        }
    }

    #[test]
    fn a_report_is_named_and_sent_to_each_person_once() {
        let a = UserId(uuid::Uuid::from_u128(1));
        let b = UserId(uuid::Uuid::from_u128(2));
        let r = new(vec![a, b, a]).checked().unwrap();
        assert_eq!(r.name, "Weekly digest");
        assert_eq!(r.recipients, vec![a, b]);
        assert_eq!(new(vec![]).checked().unwrap_err().field, "recipients");
        let mut unnamed = new(vec![a]);
        unnamed.name = " ".into();
        assert_eq!(unnamed.checked().unwrap_err().field, "name");
        let many = (0..=MAX_RECIPIENTS as u128)
            .map(|i| UserId(uuid::Uuid::from_u128(i)))
            .collect();
        assert_eq!(new(many).checked().unwrap_err().field, "recipients");
    }

    #[test]
    fn cadences_read_and_periods_are_worded() {
        for c in Cadence::ALL {
            assert_eq!(Cadence::parse(c.as_str()), Some(c));
        }
        assert_eq!(Cadence::parse("daily"), None);
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        assert_eq!(
            period_words(d("2026-11-23"), d("2026-11-29")),
            "Nov 23 – Nov 29, 2026"
        );
        assert_eq!(
            period_words(d("2026-11-01"), d("2026-11-01")),
            "Nov 1, 2026"
        );
    }
}
