//! The tools' and the prompt's arguments: typed, described by their JSON Schema, and checked
//! while they are parsed, so that every problem names its field.

use std::borrow::Cow;

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::{de::DeserializeOwned, Deserialize, Deserializer};

use crate::backend::Range;

/// Arguments of type `T`, parsed with the path of any bad field in the message
/// (`` `metrics[1]`: unknown variant `foo`, expected one of ... ``) and then checked by
/// [`Check`]. Its JSON Schema is `T`'s.
#[derive(Debug)]
pub(crate) struct Args<T>(pub T);

/// Checks that a schema states but serde does not enforce (lengths, ranges, formats).
pub(crate) trait Check {
    /// The first problem, naming its field.
    fn check(&self) -> Result<(), String>;
}

impl<'de, T: DeserializeOwned + Check> Deserialize<'de> for Args<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let value = serde_json::Value::deserialize(d)?;
        let args: T = serde_path_to_error::deserialize(value).map_err(|e| {
            let path = e.path().to_string();
            match path.as_str() {
                "." => D::Error::custom(e.into_inner()),
                _ => D::Error::custom(format!("`{path}`: {}", e.into_inner())),
            }
        })?;
        args.check().map_err(D::Error::custom)?;
        Ok(Args(args))
    }
}

impl<T: JsonSchema> JsonSchema for Args<T> {
    fn inline_schema() -> bool {
        T::inline_schema()
    }

    fn schema_name() -> Cow<'static, str> {
        T::schema_name()
    }

    fn schema_id() -> Cow<'static, str> {
        T::schema_id()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        T::json_schema(generator)
    }
}

/// The ingest API's limit on identifiers and names.
const MAX_NAME: usize = 200;

/// `Some` text must be 1 to `max` characters.
fn text(field: &str, value: Option<&str>, max: usize) -> Result<(), String> {
    match value {
        Some(v) if v.is_empty() || v.chars().count() > max => {
            Err(format!("`{field}` must be 1 to {max} characters"))
        }
        _ => Ok(()),
    }
}

/// An RFC 3339 instant, kept in UTC.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Timestamp(pub DateTime<Utc>);

impl Timestamp {
    /// The instant as the ingest API wants it.
    pub(crate) fn rfc3339(self) -> String {
        self.0.to_rfc3339_opts(SecondsFormat::AutoSi, true)
    }

    /// `t`, or now.
    pub(crate) fn or_now(t: Option<Timestamp>) -> Timestamp {
        t.unwrap_or_else(|| Timestamp(Utc::now()))
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        DateTime::parse_from_rfc3339(&s)
            .map(|t| Timestamp(t.with_timezone(&Utc)))
            .map_err(|_| {
                serde::de::Error::custom(format!(
                    "`{s}` is not an RFC 3339 timestamp, e.g. 2025-09-01T12:00:00Z"
                ))
            })
    }
}

impl JsonSchema for Timestamp {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> Cow<'static, str> {
        "Timestamp".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "string", "format": "date-time" })
    }
}

/// How far back a read looks; it always ends now.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[schemars(inline)]
pub(crate) enum Timeframe {
    #[serde(rename = "1h")]
    Hour,
    #[default]
    #[serde(rename = "24h")]
    Day,
    #[serde(rename = "7d")]
    Week,
    #[serde(rename = "30d")]
    Month,
}

impl Timeframe {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Timeframe::Hour => "1h",
            Timeframe::Day => "24h",
            Timeframe::Week => "7d",
            Timeframe::Month => "30d",
        }
    }

    fn length(self) -> TimeDelta {
        match self {
            Timeframe::Hour => TimeDelta::hours(1),
            Timeframe::Day => TimeDelta::hours(24),
            Timeframe::Week => TimeDelta::days(7),
            Timeframe::Month => TimeDelta::days(30),
        }
    }

    /// The timeframe up to `now`.
    pub(crate) fn ending(self, now: DateTime<Utc>) -> Range {
        Range {
            from: now - self.length(),
            to: now,
        }
    }
}

/// How `query_dashboard` answers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
#[schemars(inline)]
pub(crate) enum Format {
    Json,
    #[default]
    Markdown,
}

/// The keys of the summary's totals, in the order the answers show them.
pub(crate) const METRICS: [&str; 14] = [
    "sessions",
    "tool_executions",
    "tool_failures",
    "agent_invocations",
    "api_requests",
    "input_tokens",
    "output_tokens",
    "cache_creation_tokens",
    "cache_read_tokens",
    "cost_usd",
    "lines_added",
    "lines_removed",
    "by_tool",
    "by_model",
];

/// One key of the summary's totals.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[schemars(inline)]
pub(crate) enum Metric {
    Sessions,
    ToolExecutions,
    ToolFailures,
    AgentInvocations,
    ApiRequests,
    InputTokens,
    OutputTokens,
    CacheCreationTokens,
    CacheReadTokens,
    CostUsd,
    LinesAdded,
    LinesRemoved,
    ByTool,
    ByModel,
}

impl Metric {
    pub(crate) fn key(self) -> &'static str {
        METRICS[self as usize]
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SessionStartArgs {
    /// The Claude Code session id.
    #[schemars(length(min = 1, max = 200))]
    pub session_id: String,
    /// The session's working directory.
    #[serde(default)]
    #[schemars(length(min = 1, max = 4096))]
    pub cwd: Option<String>,
    /// The git branch checked out in the working directory.
    #[serde(default)]
    #[schemars(length(min = 1, max = 400))]
    pub git_branch: Option<String>,
    /// The model the session uses.
    #[serde(default)]
    #[schemars(length(min = 1, max = 200))]
    pub model: Option<String>,
    /// When the session started (RFC 3339); now if absent.
    #[serde(default)]
    pub timestamp: Option<Timestamp>,
}

impl Check for SessionStartArgs {
    fn check(&self) -> Result<(), String> {
        text("session_id", Some(&self.session_id), MAX_NAME)?;
        text("cwd", self.cwd.as_deref(), 4096)?;
        text("git_branch", self.git_branch.as_deref(), 400)?;
        text("model", self.model.as_deref(), MAX_NAME)
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SessionEndArgs {
    /// The Claude Code session id.
    #[schemars(length(min = 1, max = 200))]
    pub session_id: String,
    /// Why it ended: clear, logout, prompt_input_exit, other...
    #[serde(default)]
    #[schemars(length(min = 1, max = 200))]
    pub reason: Option<String>,
    /// When the session ended (RFC 3339); now if absent.
    #[serde(default)]
    pub timestamp: Option<Timestamp>,
}

impl Check for SessionEndArgs {
    fn check(&self) -> Result<(), String> {
        text("session_id", Some(&self.session_id), MAX_NAME)?;
        text("reason", self.reason.as_deref(), MAX_NAME)
    }
}

/// The longest tool execution the ingest API accepts: a week.
const MAX_DURATION_MS: u64 = 7 * 86_400_000;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ToolUsageArgs {
    /// The tool's name, e.g. Bash, Edit, Read, Task.
    #[schemars(length(min = 1, max = 200))]
    pub tool_name: String,
    /// The session it ran in.
    #[serde(default)]
    #[schemars(length(min = 1, max = 200))]
    pub session_id: Option<String>,
    /// Whether it succeeded; true if absent.
    #[serde(default)]
    pub success: Option<bool>,
    /// How long it ran, in milliseconds.
    #[serde(default)]
    #[schemars(range(max = 604_800_000))]
    pub duration_ms: Option<u64>,
    /// The execution's id from Claude Code; resending the same id is recorded once. A unique
    /// id is generated if absent.
    #[serde(default)]
    #[schemars(length(min = 1, max = 200))]
    pub tool_use_id: Option<String>,
    /// When it ran (RFC 3339); now if absent.
    #[serde(default)]
    pub timestamp: Option<Timestamp>,
}

impl Check for ToolUsageArgs {
    fn check(&self) -> Result<(), String> {
        text("tool_name", Some(&self.tool_name), MAX_NAME)?;
        text("session_id", self.session_id.as_deref(), MAX_NAME)?;
        text("tool_use_id", self.tool_use_id.as_deref(), MAX_NAME)?;
        match self.duration_ms {
            Some(d) if d > MAX_DURATION_MS => Err(format!(
                "`duration_ms` must be at most {MAX_DURATION_MS} (a week)"
            )),
            _ => Ok(()),
        }
    }
}

/// The most sessions one `get_session_metrics` call lists.
pub(crate) const MAX_LIMIT: u32 = 100;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SessionMetricsArgs {
    /// One session by id; without it, the sessions that started in the timeframe.
    #[serde(default)]
    #[schemars(length(min = 1, max = 200))]
    pub session_id: Option<String>,
    /// How far back to look: 1h, 24h (default), 7d or 30d.
    #[serde(default)]
    pub timeframe: Option<Timeframe>,
    /// At most this many sessions, newest first (1 to 100, default 20).
    #[serde(default)]
    #[schemars(range(min = 1, max = 100))]
    pub limit: Option<u32>,
}

impl Check for SessionMetricsArgs {
    fn check(&self) -> Result<(), String> {
        text("session_id", self.session_id.as_deref(), MAX_NAME)?;
        match self.limit {
            Some(l) if !(1..=MAX_LIMIT).contains(&l) => {
                Err(format!("`limit` must be from 1 to {MAX_LIMIT}"))
            }
            _ => Ok(()),
        }
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ToolMetricsArgs {
    /// How far back to look: 1h, 24h (default), 7d or 30d.
    #[serde(default)]
    pub timeframe: Option<Timeframe>,
}

impl Check for ToolMetricsArgs {
    fn check(&self) -> Result<(), String> {
        Ok(())
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct DashboardArgs {
    /// How far back to look: 1h, 24h, 7d or 30d.
    pub timeframe: Timeframe,
    /// Which totals to show; all if absent.
    #[serde(default)]
    pub metrics: Option<Vec<Metric>>,
    /// `markdown` (a table, the default) or `json`.
    #[serde(default)]
    pub format: Option<Format>,
}

impl Check for DashboardArgs {
    fn check(&self) -> Result<(), String> {
        match &self.metrics {
            Some(m) if m.is_empty() => {
                Err("`metrics` must name at least one total (or be left out)".into())
            }
            _ => Ok(()),
        }
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ProductivityArgs {
    /// The period to analyse: 1h, 24h (default), 7d or 30d.
    #[serde(default)]
    pub timeframe: Option<Timeframe>,
}

impl Check for ProductivityArgs {
    fn check(&self) -> Result<(), String> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn parse<T: DeserializeOwned + Check>(v: serde_json::Value) -> Result<T, String> {
        serde_json::from_value::<Args<T>>(v)
            .map(|a| a.0)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn metric_keys_follow_the_enum() {
        let all: Vec<Metric> = serde_json::from_value(json!(METRICS)).unwrap();
        for (m, key) in all.iter().zip(METRICS) {
            assert_eq!(m.key(), key);
        }
    }

    #[test]
    fn errors_name_their_field() {
        let e = parse::<DashboardArgs>(json!({"timeframe": "2h"})).unwrap_err();
        assert!(e.contains("`timeframe`") && e.contains("2h"), "{e}");
        let e = parse::<DashboardArgs>(json!({"timeframe": "1h", "metrics": ["sessions", "x"]}))
            .unwrap_err();
        assert!(e.contains("`metrics[1]`") && e.contains("`x`"), "{e}");
        let e = parse::<SessionStartArgs>(json!({})).unwrap_err();
        assert!(e.contains("session_id"), "{e}");
        let e = parse::<SessionStartArgs>(json!({"session_id": "s", "timestamp": "yesterday"}))
            .unwrap_err();
        assert!(e.contains("`timestamp`") && e.contains("RFC 3339"), "{e}");
        let e = parse::<SessionStartArgs>(json!({"session_id": "s".repeat(201)})).unwrap_err();
        assert!(e.contains("`session_id`"), "{e}");
        let e = parse::<SessionMetricsArgs>(json!({"limit": 0})).unwrap_err();
        assert!(e.contains("`limit`"), "{e}");
        let e = parse::<ToolUsageArgs>(json!({"tool_name": "Bash", "sucess": true})).unwrap_err();
        assert!(e.contains("sucess"), "{e}");
        let e = parse::<ToolUsageArgs>(json!({"tool_name": "Bash", "success": "yes"})).unwrap_err();
        assert!(e.contains("`success`"), "{e}");
    }

    #[test]
    fn timestamps_are_kept_in_utc() {
        let a: SessionEndArgs =
            parse(json!({"session_id": "s", "timestamp": "2025-09-01T14:00:00+02:00"})).unwrap();
        assert_eq!(a.timestamp.unwrap().rfc3339(), "2025-09-01T12:00:00Z");
    }

    #[test]
    fn timeframes_end_now() {
        let now = Utc::now();
        let r = Timeframe::Week.ending(now);
        assert_eq!((r.to, r.to - r.from), (now, TimeDelta::days(7)));
        assert_eq!(Timeframe::default().as_str(), "24h");
    }
}
