//! The time range every read takes: `[from, to)` in UTC, parsed the same way for REST query
//! fields, server functions and MCP arguments.

use chrono::{DateTime, DurationRound, TimeDelta, Timelike, Utc};
use serde::{Deserialize, Serialize};

use crate::problem::FieldError;

/// `[from, to)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TimeRange {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

/// The longest range a read may ask for.
pub const MAX_DAYS: i64 = 3660;
/// The range when the caller names neither end: the 30 days up to the end of today.
pub const DEFAULT_DAYS: i64 = 30;

impl TimeRange {
    /// `from` and `to` as RFC 3339 strings, either optional: `to` defaults to the end of
    /// today (UTC) and `from` to [`DEFAULT_DAYS`] before `to`. Every problem is reported, each
    /// with the pointer of its field.
    pub fn parse(
        from: Option<&str>,
        to: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<TimeRange, Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut time = |field: &str, v: Option<&str>| match v.map(|s| parse_time(field, s)) {
            Some(Ok(t)) => Some(t),
            Some(Err(e)) => {
                errors.push(e);
                None
            }
            None => None,
        };
        let (from, to) = (time("from", from), time("to", to));
        if !errors.is_empty() {
            return Err(errors);
        }
        let end_of_today = now
            .duration_trunc(TimeDelta::days(1))
            .expect("a day divides time")
            + TimeDelta::days(1);
        let to = to.unwrap_or(end_of_today);
        let from = from.unwrap_or(to - TimeDelta::days(DEFAULT_DAYS));
        TimeRange::new(from, to).map_err(|e| vec![e])
    }

    /// A range whose ends are already times: `from` must come first, and the span is bounded.
    pub fn new(from: DateTime<Utc>, to: DateTime<Utc>) -> Result<TimeRange, FieldError> {
        if from >= to {
            return Err(FieldError::new("/from", "must be before `to`"));
        }
        if to - from > TimeDelta::days(MAX_DAYS) {
            return Err(FieldError::new(
                "/from",
                "the range may span at most ten years",
            ));
        }
        Ok(TimeRange { from, to })
    }

    /// The coarsest rollup grain whose buckets start exactly at both ends, so that an answer
    /// read at that grain is exact.
    pub fn grain(&self) -> Grain {
        Grain::exact_for(self.from, self.to)
    }
}

/// One RFC 3339 time, or the error naming `field`.
pub fn parse_time(field: &str, s: &str) -> Result<DateTime<Utc>, FieldError> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| {
            FieldError::new(
                format!("/{field}"),
                "must be an RFC 3339 timestamp, e.g. 2025-09-01T00:00:00Z",
            )
        })
}

/// An RFC 3339 time, or a form's `datetime-local` value (`2025-09-01T09:30`, seconds
/// optional), which carries no zone and is read as UTC, as the form's labels say.
pub fn parse_form_time(field: &str, s: &str) -> Result<DateTime<Utc>, FieldError> {
    parse_time(field, s).or_else(|e| {
        ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"]
            .iter()
            .find_map(|f| chrono::NaiveDateTime::parse_from_str(s, f).ok())
            .map(|t| t.and_utc())
            .ok_or(e)
    })
}

/// The bucket size of a rollup.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Grain {
    Minute,
    Hour,
    Day,
}

impl Grain {
    pub fn as_str(self) -> &'static str {
        match self {
            Grain::Minute => "minute",
            Grain::Hour => "hour",
            Grain::Day => "day",
        }
    }

    /// The coarsest grain whose buckets start exactly at `from` and `to`.
    pub fn exact_for(from: DateTime<Utc>, to: DateTime<Utc>) -> Grain {
        let on_hour = |t: DateTime<Utc>| t.minute() == 0 && t.second() == 0 && t.nanosecond() == 0;
        let on_day = |t: DateTime<Utc>| on_hour(t) && t.hour() == 0;
        if on_day(from) && on_day(to) {
            Grain::Day
        } else if on_hour(from) && on_hour(to) {
            Grain::Hour
        } else {
            Grain::Minute
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn defaults_to_the_thirty_days_up_to_the_end_of_today() {
        let r = TimeRange::parse(None, None, t("2026-12-02T10:30:00Z")).unwrap();
        assert_eq!(r.to, t("2026-12-03T00:00:00Z"));
        assert_eq!(r.from, t("2026-11-03T00:00:00Z"));
        assert_eq!(r.grain(), Grain::Day);
        let r = TimeRange::parse(
            None,
            Some("2026-01-31T00:00:00Z"),
            t("2026-12-02T10:30:00Z"),
        )
        .unwrap();
        assert_eq!(r.from, t("2026-01-01T00:00:00Z"));
    }

    #[test]
    fn names_every_bad_field() {
        let e =
            TimeRange::parse(Some("yesterday"), Some("x"), t("2026-12-02T00:00:00Z")).unwrap_err();
        let pointers: Vec<_> = e.iter().map(|e| e.pointer.as_str()).collect();
        assert_eq!(pointers, ["/from", "/to"]);
        let e = TimeRange::parse(
            Some("2026-01-02T00:00:00Z"),
            Some("2026-01-01T00:00:00Z"),
            t("2026-12-02T00:00:00Z"),
        )
        .unwrap_err();
        assert_eq!(e, [FieldError::new("/from", "must be before `to`")]);
        let e = TimeRange::parse(
            Some("2000-01-01T00:00:00Z"),
            Some("2026-01-01T00:00:00Z"),
            t("2026-12-02T00:00:00Z"),
        )
        .unwrap_err();
        assert_eq!(e[0].detail, "the range may span at most ten years");
    }

    #[test]
    fn offsets_are_read_as_utc() {
        let r = TimeRange::parse(
            Some("2026-01-01T05:30:00+05:30"),
            Some("2026-01-02T00:00:00Z"),
            t("2026-12-02T00:00:00Z"),
        )
        .unwrap();
        assert_eq!(r.from, t("2026-01-01T00:00:00Z"));
    }

    #[test]
    fn the_grain_is_the_coarsest_exact_one() {
        let g = |a, b| Grain::exact_for(t(a), t(b));
        assert_eq!(
            g("2026-01-01T00:00:00Z", "2026-01-03T00:00:00Z"),
            Grain::Day
        );
        assert_eq!(
            g("2026-01-01T01:00:00Z", "2026-01-03T00:00:00Z"),
            Grain::Hour
        );
        assert_eq!(
            g("2026-01-01T01:00:30Z", "2026-01-03T00:00:00Z"),
            Grain::Minute
        );
        assert_eq!(serde_json::to_string(&Grain::Hour).unwrap(), "\"hour\"");
    }
}
