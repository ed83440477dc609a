//! How long a workspace keeps what it stores: raw events (and the per-event rows derived from
//! them) for some days, the minute rollups longer, hour and day rollups for years. `None`
//! keeps forever, the default: imported history is old by nature, and nothing is removed
//! until an admin chooses a policy.

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::Invalid;

/// The shortest raw-event retention: a week, so the last-day and last-week views, which
/// session drill-down reads from raw events, always have their detail.
pub const MIN_DAYS: u32 = 7;
/// A hundred years; anything longer is "forever".
pub const MAX_DAYS: u32 = 36_500;

/// Days kept per kind of data; `None` keeps everything.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Raw events, and the tool runs, API requests, prompts and counters derived one per
    /// event. Sessions (each a summary) stay.
    #[serde(default)]
    pub raw_days: Option<u32>,
    #[serde(default)]
    pub minute_days: Option<u32>,
    #[serde(default)]
    pub hour_days: Option<u32>,
    #[serde(default)]
    pub day_days: Option<u32>,
}

/// The instants before which each kind of data goes, for a policy applied at some moment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Cutoffs {
    pub raw: Option<DateTime<Utc>>,
    pub minute: Option<DateTime<Utc>>,
    pub hour: Option<DateTime<Utc>>,
    pub day: Option<DateTime<Utc>>,
}

impl Policy {
    /// Keeps everything.
    pub fn forever(&self) -> bool {
        *self == Policy::default()
    }

    /// Each field in range, and nothing finer kept longer than something coarser (the
    /// coarser rollups are what remains once the finer detail is gone).
    pub fn check(&self) -> Result<(), Invalid> {
        let fields = self.fields();
        for (field, days) in fields {
            if let Some(d) = days {
                if !(MIN_DAYS..=MAX_DAYS).contains(&d) {
                    return Err(Invalid {
                        field,
                        reason: format!(
                            "must be between {MIN_DAYS} and {MAX_DAYS} days, or empty to keep everything"
                        ),
                    });
                }
            }
        }
        let keep = |d: Option<u32>| d.unwrap_or(u32::MAX);
        for pair in fields.windows(2) {
            let ((finer, f), (coarser, c)) = (pair[0], pair[1]);
            if keep(f) > keep(c) {
                return Err(Invalid {
                    field: coarser,
                    reason: format!(
                        "must keep at least as long as {} ({})",
                        label(finer),
                        f.map_or("forever".to_string(), |d| format!("{d} days"))
                    ),
                });
            }
        }
        Ok(())
    }

    /// (field, days) from the finest data to the coarsest.
    fn fields(&self) -> [(&'static str, Option<u32>); 4] {
        [
            ("raw_days", self.raw_days),
            ("minute_days", self.minute_days),
            ("hour_days", self.hour_days),
            ("day_days", self.day_days),
        ]
    }

    pub fn cutoffs(&self, now: DateTime<Utc>) -> Cutoffs {
        let at = |d: Option<u32>| d.map(|d| now - TimeDelta::days(i64::from(d)));
        Cutoffs {
            raw: at(self.raw_days),
            minute: at(self.minute_days),
            hour: at(self.hour_days),
            day: at(self.day_days),
        }
    }

    /// Whether `self` removes something `old` keeps: the change an admin confirms after seeing
    /// what will go.
    pub fn shortens(&self, old: &Policy) -> bool {
        let keep = |d: Option<u32>| d.unwrap_or(u32::MAX);
        self.fields()
            .iter()
            .zip(old.fields())
            .any(|((_, new), (_, old))| keep(*new) < keep(old))
    }

    /// One line in words, for the audit log and the console.
    pub fn describe(&self) -> String {
        if self.forever() {
            return "everything is kept".into();
        }
        self.fields()
            .iter()
            .map(|(field, days)| match days {
                Some(d) => format!("{} {d} days", label(field)),
                None => format!("{} forever", label(field)),
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// A policy field's name in words.
pub fn label(field: &str) -> &'static str {
    match field {
        "raw_days" => "raw events",
        "minute_days" => "minute rollups",
        "hour_days" => "hour rollups",
        _ => "day rollups",
    }
}

/// What a policy would remove today: rows older than each cutoff.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Preview {
    pub cutoffs: Option<Cutoffs>,
    pub raw_events: i64,
    /// Tool runs, API requests, prompts and counter rows derived from those events.
    pub derived_rows: i64,
    pub minute_rollups: i64,
    pub hour_rollups: i64,
    pub day_rollups: i64,
    /// Import batches that could no longer be rolled back exactly.
    pub import_batches: i64,
    pub oldest_event: Option<DateTime<Utc>>,
}

impl Preview {
    pub fn removes_anything(&self) -> bool {
        self.raw_events
            + self.derived_rows
            + self.minute_rollups
            + self.hour_rollups
            + self.day_rollups
            > 0
    }
}

/// What one enforcement removed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Outcome {
    pub raw_events: i64,
    pub derived_rows: i64,
    pub minute_rollups: i64,
    pub hour_rollups: i64,
    pub day_rollups: i64,
    /// Whole monthly partitions dropped (the rest was deleted in batches).
    pub partitions_dropped: Vec<String>,
    /// Import batches some of whose rows went (no longer rolled back).
    pub import_batches_trimmed: i64,
}

impl Outcome {
    pub fn removed_anything(&self) -> bool {
        self.raw_events
            + self.derived_rows
            + self.minute_rollups
            + self.hour_rollups
            + self.day_rollups
            > 0
            || !self.partitions_dropped.is_empty()
    }
}

/// The policy, what it last did, and when.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Retention {
    pub policy: Policy,
    pub last_run: Option<LastRun>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LastRun {
    pub at: DateTime<Utc>,
    pub outcome: Outcome,
}

/// A day count from a form field: empty keeps forever.
pub fn parse_days(field: &'static str, s: &str) -> Result<Option<u32>, Invalid> {
    let s = s.trim();
    if s.is_empty() || s.eq_ignore_ascii_case("forever") {
        return Ok(None);
    }
    s.parse::<u32>().map(Some).map_err(|_| Invalid {
        field,
        reason: "must be a whole number of days, or empty to keep everything".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(raw: Option<u32>, m: Option<u32>, h: Option<u32>, d: Option<u32>) -> Policy {
        Policy {
            raw_days: raw,
            minute_days: m,
            hour_days: h,
            day_days: d,
        }
    }

    #[test]
    fn the_default_keeps_everything() {
        let d = Policy::default();
        assert!(d.forever());
        assert!(d.check().is_ok());
        assert_eq!(d.cutoffs("2026-12-04T00:00:00Z".parse().unwrap()).raw, None);
        assert_eq!(d.describe(), "everything is kept");
    }

    #[test]
    fn finer_data_is_never_kept_longer_than_coarser() {
        assert!(p(Some(30), Some(90), None, None).check().is_ok());
        assert!(p(Some(30), Some(30), Some(730), Some(3650)).check().is_ok());
        let e = p(Some(90), Some(30), None, None).check().unwrap_err();
        assert_eq!(e.field, "minute_days");
        assert!(e.reason.contains("raw events (90 days)"), "{}", e.reason);
        let e = p(None, Some(30), None, None).check().unwrap_err();
        assert_eq!(e.field, "minute_days");
        assert!(e.reason.contains("forever"));
        assert_eq!(
            p(Some(30), Some(60), Some(400), Some(365))
                .check()
                .unwrap_err()
                .field,
            "day_days"
        );
    }

    #[test]
    fn days_are_bounded() {
        assert_eq!(
            p(Some(3), None, None, None).check().unwrap_err().field,
            "raw_days"
        );
        assert_eq!(
            p(Some(30), None, None, Some(40_000))
                .check()
                .unwrap_err()
                .field,
            "day_days"
        );
    }

    #[test]
    fn shortening_is_any_kind_kept_less_long() {
        let old = p(Some(90), None, None, None);
        assert!(p(Some(30), None, None, None).shortens(&old));
        assert!(!p(Some(120), None, None, None).shortens(&old));
        assert!(!p(None, None, None, None).shortens(&old));
        assert!(p(Some(90), Some(365), None, None).shortens(&old));
        assert!(!old.shortens(&old));
    }

    #[test]
    fn cutoffs_count_back_whole_days() {
        let now: DateTime<Utc> = "2026-12-04T12:00:00Z".parse().unwrap();
        let c = p(Some(30), Some(60), None, None).cutoffs(now);
        assert_eq!(c.raw, Some("2026-11-04T12:00:00Z".parse().unwrap()));
        assert_eq!(c.minute, Some("2026-10-05T12:00:00Z".parse().unwrap()));
        assert_eq!(c.hour, None);
    }

    #[test]
    fn form_days_are_numbers_or_empty() {
        assert_eq!(parse_days("raw_days", " 30 "), Ok(Some(30)));
        assert_eq!(parse_days("raw_days", ""), Ok(None));
        assert_eq!(parse_days("raw_days", "Forever"), Ok(None));
        assert_eq!(parse_days("raw_days", "-3").unwrap_err().field, "raw_days");
    }
}
