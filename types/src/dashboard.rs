//! The dashboard's vocabulary: the filters as the URL carries them, whose numbers a role reads
//! ([`Audience`]), the window a read covers, and the read models widgets render. Server
//! functions, the REST API and the pages all speak it.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{
    ids::{TeamId, UserId},
    metrics::Counts,
    problem::FieldError,
    range::Grain,
    roles::{Permission, Role},
};

/// Whose numbers a dashboard read covers, from the caller's role: one rule for server
/// functions, REST, the WebSocket and MCP.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Audience {
    /// Everyone in the tenant, by name (tenant admins).
    Everyone,
    /// The people in the teams the caller manages, and the caller (managers).
    Teams,
    /// The caller alone (developers).
    Own,
    /// Tenant-wide totals with no person's name or row (viewers: colleagues' privacy).
    Aggregate,
}

/// The permissions that open the dashboard, most to least: a role reads as the first it holds.
pub const DASHBOARD_READ: &[Permission] = &[
    Permission::MetricsViewAll,
    Permission::MetricsViewTeam,
    Permission::MetricsViewOwn,
    Permission::DashboardView,
];

impl Audience {
    /// `None`: the role may not read the dashboard at all.
    pub fn of(role: Role) -> Option<Audience> {
        if role.allows(Permission::MetricsViewAll) {
            Some(Audience::Everyone)
        } else if role.allows(Permission::MetricsViewTeam) {
            Some(Audience::Teams)
        } else if role.allows(Permission::MetricsViewOwn) {
            Some(Audience::Own)
        } else if role.allows(Permission::DashboardView) {
            Some(Audience::Aggregate)
        } else {
            None
        }
    }

    /// Whether answers may name people and break numbers down per person.
    pub fn names_people(self) -> bool {
        self != Audience::Aggregate
    }

    /// Whether the caller can narrow the view to one person or team.
    pub fn can_pick_people(self) -> bool {
        matches!(self, Audience::Everyone | Audience::Teams)
    }

    pub fn label(self) -> &'static str {
        match self {
            Audience::Everyone => "Everyone",
            Audience::Teams => "My teams",
            Audience::Own => "Me",
            Audience::Aggregate => "Whole workspace (totals only)",
        }
    }
}

/// The time ranges one click away. Days follow the tenant's time zone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Preset {
    #[serde(rename = "1h")]
    LastHour,
    #[serde(rename = "24h")]
    LastDay,
    #[serde(rename = "7d")]
    Last7Days,
    #[serde(rename = "30d")]
    Last30Days,
    #[serde(rename = "90d")]
    Last90Days,
    #[serde(rename = "week")]
    ThisWeek,
    #[serde(rename = "month")]
    ThisMonth,
}

impl Preset {
    pub const ALL: [Preset; 7] = [
        Preset::LastHour,
        Preset::LastDay,
        Preset::Last7Days,
        Preset::Last30Days,
        Preset::Last90Days,
        Preset::ThisWeek,
        Preset::ThisMonth,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Preset::LastHour => "1h",
            Preset::LastDay => "24h",
            Preset::Last7Days => "7d",
            Preset::Last30Days => "30d",
            Preset::Last90Days => "90d",
            Preset::ThisWeek => "week",
            Preset::ThisMonth => "month",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Preset::LastHour => "Last hour",
            Preset::LastDay => "Last 24 hours",
            Preset::Last7Days => "Last 7 days",
            Preset::Last30Days => "Last 30 days",
            Preset::Last90Days => "Last 90 days",
            Preset::ThisWeek => "This week",
            Preset::ThisMonth => "This month",
        }
    }

    pub fn parse(s: &str) -> Option<Preset> {
        Preset::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

/// What a dashboard shows, exactly as its URL says it: shareable, and read the same by the
/// server's render and the browser. Absent fields mean "all" (and the last 30 days).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Filters {
    /// A preset range; ignored when `from` and `to` are both given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range: Option<Preset>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<DateTime<Utc>>,
    /// The bucket of charts; chosen from the range's length when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grain: Option<Grain>,
    /// One person (only people the caller may see).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub person: Option<UserId>,
    /// One team's members (only teams the caller may see).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<TeamId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool: Option<String>,
}

/// The middle value (the mean of the two middle ones for an even count).
pub fn median(mut values: Vec<f64>) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let n = values.len();
    Some(if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    })
}

/// The longest a free-text filter may be.
const MAX_FILTER_LEN: usize = 200;

impl Filters {
    /// Whether nothing is narrowed or chosen (every field absent).
    pub fn is_empty(&self) -> bool {
        *self == Filters::default()
    }

    /// Reads the URL's query pairs. A bad value is reported (naming its field) and dropped,
    /// so a hand-edited link still shows something; unknown keys are ignored.
    pub fn from_query<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> (Filters, Vec<FieldError>) {
        let mut f = Filters::default();
        let mut errors = Vec::new();
        for (key, value) in pairs {
            let value = value.trim();
            if value.is_empty() {
                continue;
            }
            let bad = |reason: &str| FieldError::new(format!("/{key}"), reason);
            // PostgreSQL takes no NUL in text: refused here rather than failing there.
            if value.contains('\0') {
                errors.push(bad("must not contain the NUL character"));
                continue;
            }
            match key {
                "range" => match Preset::parse(value) {
                    Some(p) => f.range = Some(p),
                    None => errors.push(bad("must be one of 1h, 24h, 7d, 30d, 90d, week, month")),
                },
                "from" | "to" => match crate::range::parse_form_time(key, value) {
                    Ok(t) if key == "from" => f.from = Some(t),
                    Ok(t) => f.to = Some(t),
                    Err(e) => errors.push(e),
                },
                "grain" => match value {
                    "minute" => f.grain = Some(Grain::Minute),
                    "hour" => f.grain = Some(Grain::Hour),
                    "day" => f.grain = Some(Grain::Day),
                    _ => errors.push(bad("must be minute, hour or day")),
                },
                "person" => match value.parse() {
                    Ok(u) => f.person = Some(UserId(u)),
                    Err(_) => errors.push(bad("must be a person's id")),
                },
                "team" => match value.parse() {
                    Ok(t) => f.team = Some(TeamId(t)),
                    Err(_) => errors.push(bad("must be a team's id")),
                },
                "project" | "model" | "tool" if value.len() > MAX_FILTER_LEN => {
                    errors.push(bad("is too long"))
                }
                "project" => f.project = Some(value.to_string()),
                "model" => f.model = Some(value.to_string()),
                "tool" => f.tool = Some(value.to_string()),
                _ => {}
            }
        }
        // A project is known per session and a tool per run, and no store row has both: a
        // tool filter beside a project filter would narrow nothing, so it is refused by name.
        if f.project.is_some() && f.tool.take().is_some() {
            errors.push(FieldError::new(
                "/tool",
                "cannot be combined with a project filter (projects are counted per session, tools per run)",
            ));
        }
        if f.from.is_some() != f.to.is_some() {
            let missing = if f.from.is_none() { "/from" } else { "/to" };
            errors.push(FieldError::new(
                missing,
                "give both `from` and `to`, or neither",
            ));
            f.from = None;
            f.to = None;
        }
        if let (Some(from), Some(to)) = (f.from, f.to) {
            if let Err(e) = crate::range::TimeRange::new(from, to) {
                errors.push(e);
                f.from = None;
                f.to = None;
            }
        }
        (f, errors)
    }

    /// The query string that reads back as these filters (without the `?`), in a fixed
    /// order so equal filters make equal links.
    pub fn to_query(&self) -> String {
        let mut pairs: Vec<(&str, String)> = Vec::new();
        if let (Some(from), Some(to)) = (self.from, self.to) {
            pairs.push((
                "from",
                from.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            ));
            pairs.push(("to", to.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)));
        } else if let Some(r) = self.range {
            pairs.push(("range", r.as_str().into()));
        }
        if let Some(g) = self.grain {
            pairs.push(("grain", g.as_str().into()));
        }
        if let Some(p) = self.person {
            pairs.push(("person", p.0.to_string()));
        }
        if let Some(t) = self.team {
            pairs.push(("team", t.0.to_string()));
        }
        for (k, v) in [
            ("project", &self.project),
            ("model", &self.model),
            ("tool", &self.tool),
        ] {
            if let Some(v) = v {
                pairs.push((k, v.clone()));
            }
        }
        let mut query = String::new();
        for (k, v) in pairs {
            if !query.is_empty() {
                query.push('&');
            }
            query.push_str(k);
            query.push('=');
            encode_into(&mut query, &v);
        }
        query
    }

    /// These filters (a widget's own) over `page`'s: a range given here replaces the page's
    /// (and its grain with it), and every other field set here holds whatever the page says
    /// for that field; what is not set here follows the page.
    pub fn over(&self, page: &Filters) -> Filters {
        let own_range = self.range.is_some() || (self.from.is_some() && self.to.is_some());
        let (range, from, to, grain) = if own_range {
            (self.range, self.from, self.to, self.grain)
        } else {
            (page.range, page.from, page.to, self.grain.or(page.grain))
        };
        let or = |own: &Option<String>, page: &Option<String>| own.clone().or_else(|| page.clone());
        Filters {
            range,
            from,
            to,
            grain,
            person: self.person.or(page.person),
            team: self.team.or(page.team),
            project: or(&self.project, &page.project),
            model: or(&self.model, &page.model),
            tool: or(&self.tool, &page.tool),
        }
    }

    /// What these filters (a widget's own) say in a few words: "Last 7 days · project api".
    pub fn describe(&self) -> String {
        let mut parts: Vec<String> = Vec::new();
        match (self.from, self.to, self.range) {
            (Some(f), Some(t), _) => parts.push(format!(
                "{} to {}",
                f.format("%Y-%m-%d %H:%M"),
                t.format("%Y-%m-%d %H:%M")
            )),
            (_, _, Some(r)) => parts.push(r.label().to_string()),
            _ => {}
        }
        if let Some(g) = self.grain {
            parts.push(format!("by {}", g.as_str()));
        }
        if self.team.is_some() {
            parts.push("one team".into());
        }
        if self.person.is_some() {
            parts.push("one person".into());
        }
        for (k, v) in [
            ("project", &self.project),
            ("model", &self.model),
            ("tool", &self.tool),
        ] {
            if let Some(v) = v {
                parts.push(format!("{k} {v}"));
            }
        }
        parts.join(" · ")
    }

    /// The preset in effect: the URL's, or the default when no absolute range is given.
    pub fn preset(&self) -> Option<Preset> {
        match (self.from, self.to) {
            (Some(_), Some(_)) => None,
            _ => Some(self.range.unwrap_or(Preset::Last30Days)),
        }
    }
}

/// Percent-encodes everything but unreserved characters (RFC 3986).
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    encode_into(&mut out, s);
    out
}

/// [`encode`], onto the end of `out`: links are built for every row a page shows, so no
/// allocation per byte or per pair.
fn encode_into(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => {
                out.push('%');
                out.push(HEX[usize::from(b >> 4)] as char);
                out.push(HEX[usize::from(b & 15)] as char);
            }
        }
    }
}

/// The display grain for a span when the URL names none: about 60 to 1,500 points.
pub fn auto_grain(from: DateTime<Utc>, to: DateTime<Utc>) -> Grain {
    let hours = (to - from).num_hours();
    if hours <= 3 {
        Grain::Minute
    } else if hours <= 72 {
        Grain::Hour
    } else {
        Grain::Day
    }
}

/// The most buckets a chart is drawn with: a finer grain asked for a long range is coarsened.
pub const MAX_BUCKETS: i64 = 1_500;

/// The grain to use: the asked one unless it would make more than [`MAX_BUCKETS`] points.
pub fn fit_grain(asked: Option<Grain>, from: DateTime<Utc>, to: DateTime<Utc>) -> Grain {
    let secs = |g: Grain| match g {
        Grain::Minute => 60,
        Grain::Hour => 3_600,
        Grain::Day => 86_400,
    };
    let mut g = asked.unwrap_or_else(|| auto_grain(from, to));
    while g != Grain::Day && (to - from).num_seconds() / secs(g) > MAX_BUCKETS {
        g = if g == Grain::Minute {
            Grain::Hour
        } else {
            Grain::Day
        };
    }
    g
}

/// The resolved span of a read: what "last 7 days" meant when it was asked, in which zone,
/// and the equal span before it that changes are measured against.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Window {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub previous_from: DateTime<Utc>,
    /// The tenant's IANA time zone: day and week boundaries, and the heatmap's hours.
    pub tz: String,
    /// The charts' bucket.
    pub grain: Grain,
    /// What the page calls it ("Last 7 days", or the dates).
    pub label: String,
}

/// Totals for a window, as the tiles show them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Kpis {
    /// People with any activity.
    pub active_people: i64,
    pub sessions: i64,
    #[serde(flatten)]
    pub counts: Counts,
    /// The mean productivity score (0–10) of the sessions that started in the window.
    pub avg_score: Option<f64>,
}

impl Kpis {
    pub fn tokens(&self) -> i64 {
        let c = &self.counts;
        c.input_tokens + c.output_tokens + c.cache_creation_tokens + c.cache_read_tokens
    }

    /// Succeeded tool executions over all, if there were any.
    pub fn success_rate(&self) -> Option<f64> {
        let c = &self.counts;
        (c.tool_executions > 0)
            .then(|| (c.tool_executions - c.tool_failures) as f64 / c.tool_executions as f64)
    }

    /// Accepted edits over decided ones, if any were decided.
    pub fn accept_rate(&self) -> Option<f64> {
        let a = &self.counts.activity;
        let decided = a.edits_accepted + a.edits_rejected;
        (decided > 0).then(|| a.edits_accepted as f64 / decided as f64)
    }
}

/// The headline numbers: this window, the one before, and each bucket's (the sparklines).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Overview {
    pub window: Window,
    pub audience: Audience,
    pub current: Kpis,
    pub previous: Kpis,
    /// Every bucket of the window, in order, empty ones included.
    pub buckets: Vec<DateTime<Utc>>,
    pub trend: Vec<Kpis>,
}

/// How a time series is split into lines.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Split {
    Model,
    Person,
    Team,
    Project,
    /// Input, output, cache write, cache read.
    TokenKind,
}

impl Split {
    pub const ALL: [Split; 5] = [
        Split::Model,
        Split::Person,
        Split::Team,
        Split::Project,
        Split::TokenKind,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Split::Model => "model",
            Split::Person => "person",
            Split::Team => "team",
            Split::Project => "project",
            Split::TokenKind => "token_kind",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Split::Model => "by model",
            Split::Person => "by person",
            Split::Team => "by team",
            Split::Project => "by project",
            Split::TokenKind => "by token kind",
        }
    }

    pub fn parse(s: &str) -> Option<Split> {
        Split::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// Whether the split names people (refused to an [`Audience::Aggregate`] reader).
    pub fn names_people(self) -> bool {
        self == Split::Person
    }
}

/// What a time series measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Measure {
    Cost,
    Tokens,
    Sessions,
    Lines,
    ToolRuns,
}

impl Measure {
    pub const ALL: [Measure; 5] = [
        Measure::Cost,
        Measure::Tokens,
        Measure::Sessions,
        Measure::Lines,
        Measure::ToolRuns,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Measure::Cost => "cost",
            Measure::Tokens => "tokens",
            Measure::Sessions => "sessions",
            Measure::Lines => "lines",
            Measure::ToolRuns => "tool_runs",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Measure::Cost => "Cost (USD)",
            Measure::Tokens => "Tokens",
            Measure::Sessions => "Sessions",
            Measure::Lines => "Lines changed",
            Measure::ToolRuns => "Tool executions",
        }
    }

    pub fn parse(s: &str) -> Option<Measure> {
        Measure::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

/// One line of a series: a key (a model's name, a person's id, ...), what to call it, and
/// one value per bucket.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Line {
    pub key: String,
    pub label: String,
    pub values: Vec<f64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Series {
    pub window: Window,
    pub split: Split,
    pub measure: Measure,
    pub buckets: Vec<DateTime<Utc>>,
    /// Largest total first.
    pub lines: Vec<Line>,
}

/// What a breakdown table groups by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Dimension {
    Model,
    Tool,
    Person,
    Team,
    Project,
}

impl Dimension {
    pub const ALL: [Dimension; 5] = [
        Dimension::Model,
        Dimension::Tool,
        Dimension::Person,
        Dimension::Team,
        Dimension::Project,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Dimension::Model => "model",
            Dimension::Tool => "tool",
            Dimension::Person => "person",
            Dimension::Team => "team",
            Dimension::Project => "project",
        }
    }

    pub fn parse(s: &str) -> Option<Dimension> {
        Dimension::ALL.into_iter().find(|x| x.as_str() == s)
    }

    pub fn names_people(self) -> bool {
        self == Dimension::Person
    }
}

/// One row of a breakdown: everything counted for one model, tool, person, team or project.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Row {
    pub key: String,
    pub label: String,
    /// People with activity in the row (1 for a person's own row).
    pub people: i64,
    pub sessions: i64,
    #[serde(flatten)]
    pub counts: Counts,
    /// Tool durations' median and 95th percentile, to the histogram's resolution.
    pub p50_ms: Option<i64>,
    pub p95_ms: Option<i64>,
    pub avg_score: Option<f64>,
}

impl Row {
    pub fn kpis(&self) -> Kpis {
        Kpis {
            active_people: self.people,
            sessions: self.sessions,
            counts: self.counts.clone(),
            avg_score: self.avg_score,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Breakdown {
    pub window: Window,
    pub by: Dimension,
    /// Largest cost first (tools: most executions first).
    pub rows: Vec<Row>,
}

/// Activity by weekday (0 = Monday) and hour of day, in the tenant's zone.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Heatmap {
    pub window: Window,
    /// `cells[weekday][hour]`: tool executions plus prompts, as a measure of hands-on work.
    pub cells: Vec<Vec<i64>>,
}

/// One session as the sessions table lists it.
pub use crate::metrics::Session as SessionRow;

/// How the sessions table is ordered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum SessionSort {
    #[default]
    Started,
    Cost,
    Duration,
    Tools,
    Score,
}

impl SessionSort {
    pub const ALL: [SessionSort; 5] = [
        SessionSort::Started,
        SessionSort::Cost,
        SessionSort::Duration,
        SessionSort::Tools,
        SessionSort::Score,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SessionSort::Started => "started",
            SessionSort::Cost => "cost",
            SessionSort::Duration => "duration",
            SessionSort::Tools => "tools",
            SessionSort::Score => "score",
        }
    }

    pub fn parse(s: &str) -> Option<SessionSort> {
        SessionSort::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

/// One option of a filter's picker: the value its URL carries and what people read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Choice {
    pub value: String,
    pub label: String,
}

/// What the filter bar offers its reader: people and teams they may narrow to (none for a
/// reader of their own or of totals only), and the projects, models and tools seen in the
/// window among the people they see.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Choices {
    pub people: Vec<Choice>,
    pub teams: Vec<Choice>,
    pub projects: Vec<String>,
    pub models: Vec<String>,
    pub tools: Vec<String>,
}

/// A page of the sessions table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SessionPage {
    pub window: Window,
    pub sort: SessionSort,
    pub page: i64,
    pub per_page: i64,
    /// Sessions matching the filters, all pages together.
    pub total: i64,
    pub sessions: Vec<SessionRow>,
}

/// What an event kind (`tool_end`, `api_request`…) reads as in a sentence about it: the
/// live feed says "Ran Bash", not "tool_end Bash".
pub fn kind_label(kind: &str) -> &'static str {
    match kind {
        "session_start" => "Session started",
        "session_end" => "Session ended",
        "tool_start" => "Started",
        "tool_end" => "Ran",
        "api_request" => "Asked",
        "usage_counter" => "Usage from",
        "lines_counter" => "Lines changed",
        "prompt" => "Prompt",
        "api_error" => "API error",
        "counter" => "Counted",
        _ => "Event",
    }
}

/// One entry of a session's timeline.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TimelineEntry {
    pub at: DateTime<Utc>,
    /// `prompt`, `tool`, `api_request`, `api_error`, `session_start`, `session_end`, ...
    pub kind: String,
    pub tool: Option<String>,
    pub model: Option<String>,
    pub success: Option<bool>,
    pub duration_ms: Option<i64>,
    pub tokens: Option<i64>,
    pub cache_read_tokens: Option<i64>,
    pub cost_usd: Option<f64>,
    /// A failure's reason, an error's status, a subagent's type.
    pub detail: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SessionDetail {
    pub session: SessionRow,
    /// Oldest first; at most [`TIMELINE_LIMIT`] entries.
    pub timeline: Vec<TimelineEntry>,
    /// Whether the timeline was cut at the limit.
    pub truncated: bool,
    pub by_tool: BTreeMap<String, i64>,
}

pub const TIMELINE_LIMIT: i64 = 2_000;

/// Who is working right now, by how recently their sessions reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Presence {
    /// Reported within five minutes.
    Active,
    /// Within half an hour.
    Idle,
    Offline,
}

impl Presence {
    pub fn of(last_seen: DateTime<Utc>, now: DateTime<Utc>) -> Presence {
        let age = now - last_seen;
        if age <= chrono::TimeDelta::minutes(5) {
            Presence::Active
        } else if age <= chrono::TimeDelta::minutes(30) {
            Presence::Idle
        } else {
            Presence::Offline
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Presence::Active => "active",
            Presence::Idle => "idle",
            Presence::Offline => "offline",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PersonPresence {
    /// `None` for readers who may not see names.
    pub user_id: Option<UserId>,
    pub name: Option<String>,
    pub presence: Presence,
    pub last_seen_at: DateTime<Utc>,
    pub project: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RecentEvent {
    pub at: DateTime<Utc>,
    pub kind: String,
    pub tool: Option<String>,
    pub model: Option<String>,
    pub success: Option<bool>,
    /// Who, for readers who may see names.
    pub person: Option<String>,
    pub session_id: Option<String>,
}

/// The live widget: who is working now, and the latest events.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Activity {
    pub active: i64,
    pub idle: i64,
    pub people: Vec<PersonPresence>,
    pub recent: Vec<RecentEvent>,
}

/// How an insight reads: good news, something to look at, or a plain fact.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Tone {
    Good,
    Watch,
    Info,
}

/// One observation about a person's own numbers: the rule that produced it and the numbers
/// it rests on, never an unexplained score.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Insight {
    /// The rule's id (`cost_trend`, `team_cost_per_session`, ...).
    pub rule: String,
    pub tone: Tone,
    pub title: String,
    /// The numbers, in words.
    pub detail: String,
    /// Where to look further (a session, a filter), when there is one.
    pub link: Option<String>,
}

/// A developer's insights over the window.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Insights {
    pub window: Window,
    pub items: Vec<Insight>,
}

/// What a widget asks the server for: one of the dashboard's query shapes. The widget
/// registry (`app::widgets`) pairs each widget with one; `GET /api/v1/dashboard/charts`
/// answers by it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "shape", rename_all = "snake_case")]
pub enum Query {
    Overview,
    Series {
        split: Split,
        measure: Measure,
    },
    Breakdown {
        by: Dimension,
    },
    Heatmap,
    Sessions,
    Activity,
    Insights,
    /// The budgets the reader sees, each with its period's spend and projection.
    Budgets,
}

impl Query {
    /// Whether the answer names people (so a totals-only reader cannot have it).
    pub fn names_people(self) -> bool {
        match self {
            Query::Series { split, .. } => split.names_people(),
            Query::Breakdown { by } => by.names_people(),
            Query::Sessions => true,
            // Each budget is read as the reader, who sees only the scopes they see whole.
            Query::Overview
            | Query::Heatmap
            | Query::Activity
            | Query::Insights
            | Query::Budgets => false,
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
    fn every_event_kind_reads_as_words() {
        for kind in [
            "session_start",
            "session_end",
            "tool_start",
            "tool_end",
            "api_request",
            "usage_counter",
            "lines_counter",
            "prompt",
            "api_error",
            "counter",
        ] {
            assert_ne!(kind_label(kind), "Event", "{kind}");
            assert!(!kind_label(kind).contains('_'));
        }
        assert_eq!(kind_label("something_new"), "Event");
    }

    #[test]
    fn each_role_reads_as_one_audience() {
        assert_eq!(Audience::of(Role::TenantAdmin), Some(Audience::Everyone));
        assert_eq!(Audience::of(Role::SuperAdmin), Some(Audience::Everyone));
        assert_eq!(Audience::of(Role::Manager), Some(Audience::Teams));
        assert_eq!(Audience::of(Role::Developer), Some(Audience::Own));
        assert_eq!(Audience::of(Role::Viewer), Some(Audience::Aggregate));
        assert!(!Audience::Aggregate.names_people());
        assert!(Audience::Own.names_people());
    }

    #[test]
    fn filters_read_back_from_their_own_link() {
        fn decode(s: &str) -> String {
            let b = s.as_bytes();
            let (mut out, mut i) = (Vec::new(), 0);
            while i < b.len() {
                if b[i] == b'%' {
                    out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
                    i += 3;
                } else {
                    out.push(b[i]);
                    i += 1;
                }
            }
            String::from_utf8(out).unwrap()
        }
        let f = Filters {
            from: Some(t("2025-09-01T00:00:00Z")),
            to: Some(t("2025-09-02T12:30:00Z")),
            grain: Some(Grain::Hour),
            project: Some("a b/ü&c=d%e~f".into()),
            model: Some("claude-opus-4.1".into()),
            ..Filters::default()
        };
        let tool = Filters {
            tool: Some("mcp__git__log".into()),
            ..Filters::default()
        };
        assert_eq!(Filters::from_query([("tool", "mcp__git__log")]).0, tool);
        assert_eq!(tool.to_query(), "tool=mcp__git__log");
        let query = f.to_query();
        assert!(
            query
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.~%&=".contains(&b)),
            "only unreserved characters and escapes: {query}"
        );
        assert!(
            query.contains("project=a%20b%2F%C3%BC%26c%3Dd%25e~f"),
            "{query}"
        );
        let pairs: Vec<(String, String)> = query
            .split('&')
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap();
                (k.to_string(), decode(v))
            })
            .collect();
        let (back, errors) =
            Filters::from_query(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(back, f);
        assert_eq!(Filters::default().to_query(), "");
    }

    #[test]
    fn a_widgets_own_filters_hold_over_the_pages() {
        let page = Filters {
            range: Some(Preset::Last30Days),
            grain: Some(Grain::Day),
            project: Some("web".into()),
            model: Some("opus".into()),
            ..Filters::default()
        };
        assert_eq!(
            Filters::default().over(&page),
            page,
            "nothing of its own: the page's"
        );
        let own = Filters {
            range: Some(Preset::Last7Days),
            project: Some("api".into()),
            ..Filters::default()
        };
        let both = own.over(&page);
        assert_eq!(both.range, Some(Preset::Last7Days));
        assert_eq!(both.grain, None, "its own range picks its own grain");
        assert_eq!(both.project.as_deref(), Some("api"));
        assert_eq!(
            both.model.as_deref(),
            Some("opus"),
            "what it leaves follows the page"
        );
        let absolute = Filters {
            from: Some(t("2025-09-01T00:00:00Z")),
            to: Some(t("2025-09-02T00:00:00Z")),
            ..Filters::default()
        };
        let fixed = absolute.over(&page);
        assert_eq!((fixed.from, fixed.range), (absolute.from, None));
        assert_eq!(own.describe(), "Last 7 days · project api");
        assert_eq!(Filters::default().describe(), "");
    }

    #[test]
    fn filters_round_trip_through_the_url() {
        let (f, errors) = Filters::from_query([
            ("range", "7d"),
            ("grain", "hour"),
            ("project", "payments api"),
            ("model", "claude-opus-4-1-20250805"),
            ("utm", "ignored"),
        ]);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(f.range, Some(Preset::Last7Days));
        let q = f.to_query();
        assert_eq!(
            q,
            "range=7d&grain=hour&project=payments%20api&model=claude-opus-4-1-20250805"
        );
        let pairs: Vec<(String, String)> = q
            .split('&')
            .map(|kv| {
                let (k, v) = kv.split_once('=').unwrap();
                (k.to_string(), v.replace("%20", " "))
            })
            .collect();
        let (back, _) = Filters::from_query(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        assert_eq!(back, f);
    }

    #[test]
    fn bad_values_are_named_and_dropped() {
        let (f, errors) = Filters::from_query([
            ("range", "forever"),
            ("person", "bob"),
            ("from", "2025-09-01T00:00:00Z"),
            ("tool", "Read"),
        ]);
        let pointers: Vec<_> = errors.iter().map(|e| e.pointer.as_str()).collect();
        assert_eq!(pointers, ["/range", "/person", "/to"]);
        assert_eq!(f.range, None);
        assert_eq!(f.from, None);
        assert_eq!(f.tool.as_deref(), Some("Read"));
        assert_eq!(f.preset(), Some(Preset::Last30Days));
        let (f, errors) = Filters::from_query([
            ("from", "2025-09-02T00:00:00Z"),
            ("to", "2025-09-01T00:00:00Z"),
        ]);
        assert_eq!(errors[0].pointer, "/from");
        assert_eq!((f.from, f.to), (None, None));
        let (f, errors) = Filters::from_query([("project", "api"), ("tool", "Read")]);
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].pointer, "/tool");
        assert_eq!((f.project.as_deref(), f.tool), (Some("api"), None));
    }

    #[test]
    fn a_form_s_local_times_read_as_utc() {
        let (f, errors) =
            Filters::from_query([("from", "2025-09-01T09:30"), ("to", "2025-09-02T00:00:00")]);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(f.from, Some(t("2025-09-01T09:30:00Z")));
        assert_eq!(f.to, Some(t("2025-09-02T00:00:00Z")));
    }

    #[test]
    fn an_absolute_range_wins_over_a_preset() {
        let (f, _) = Filters::from_query([
            ("range", "7d"),
            ("from", "2025-09-01T00:00:00Z"),
            ("to", "2025-09-15T00:00:00Z"),
        ]);
        assert_eq!(f.preset(), None);
        assert_eq!(
            f.to_query(),
            "from=2025-09-01T00%3A00%3A00Z&to=2025-09-15T00%3A00%3A00Z"
        );
    }

    #[test]
    fn the_grain_follows_the_span_and_never_makes_too_many_points() {
        let from = t("2026-01-01T00:00:00Z");
        assert_eq!(
            fit_grain(None, from, t("2026-01-01T01:00:00Z")),
            Grain::Minute
        );
        assert_eq!(
            fit_grain(None, from, t("2026-01-02T00:00:00Z")),
            Grain::Hour
        );
        assert_eq!(fit_grain(None, from, t("2026-01-31T00:00:00Z")), Grain::Day);
        assert_eq!(
            fit_grain(Some(Grain::Hour), from, t("2026-01-31T00:00:00Z")),
            Grain::Hour
        );
        // 90 days of minutes would be 129,600 points: hours are still too many, so days.
        assert_eq!(
            fit_grain(Some(Grain::Minute), from, t("2026-04-01T00:00:00Z")),
            Grain::Day
        );
    }

    #[test]
    fn the_median_is_the_middle_value() {
        assert_eq!(median(vec![]), None);
        assert_eq!(median(vec![3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), Some(2.5));
    }

    #[test]
    fn rates_need_something_to_divide_by() {
        let mut k = Kpis::default();
        assert_eq!(k.success_rate(), None);
        assert_eq!(k.accept_rate(), None);
        k.counts.tool_executions = 8;
        k.counts.tool_failures = 2;
        k.counts.activity.edits_accepted = 3;
        k.counts.activity.edits_rejected = 1;
        assert_eq!(k.success_rate(), Some(0.75));
        assert_eq!(k.accept_rate(), Some(0.75));
    }

    #[test]
    fn presence_follows_the_last_report() {
        let now = t("2026-01-01T12:00:00Z");
        assert_eq!(
            Presence::of(t("2026-01-01T11:57:00Z"), now),
            Presence::Active
        );
        assert_eq!(Presence::of(t("2026-01-01T11:40:00Z"), now), Presence::Idle);
        assert_eq!(
            Presence::of(t("2026-01-01T10:00:00Z"), now),
            Presence::Offline
        );
    }
}
