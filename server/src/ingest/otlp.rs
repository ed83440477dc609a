//! OTLP/HTTP: Claude Code's built-in exporter (metrics every 60 s, events every 5 s), as
//! protobuf or JSON, gzip or not. `claude_code.*` metrics and events map onto the model;
//! anything else is kept as an `other` event.
//!
//! Longer than our ~600-line mark on purpose: it is the one table from OTLP's shapes (logs and
//! the four metric kinds) to the model's events, and splitting it by record kind would put the
//! shared attribute and time rules in a third file every reader has to open as well.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeZone, Utc};
use opentelemetry_proto::tonic::{
    collector::{
        logs::v1::{ExportLogsPartialSuccess, ExportLogsServiceRequest, ExportLogsServiceResponse},
        metrics::v1::{
            ExportMetricsPartialSuccess, ExportMetricsServiceRequest, ExportMetricsServiceResponse,
        },
    },
    common::v1::{any_value, AnyValue, KeyValue},
    metrics::v1::{metric, number_data_point, AggregationTemporality},
};
use prost::Message;
use serde_json::{json, Value};
use store::{
    events::{self, Counter, Cumulative, Event, Kind, Source, Usage},
    UserId,
};

use super::{check_time, content_key};
use crate::error::ApiError;

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Protobuf,
    Json,
}

/// The body's encoding from its Content-Type, inflated if gzip (to at most `limit` bytes).
pub fn decode_body<'a>(
    content_type: Option<&str>,
    content_encoding: Option<&str>,
    body: &'a [u8],
    limit: usize,
) -> Result<(Encoding, std::borrow::Cow<'a, [u8]>), ApiError> {
    let encoding = match content_type.map(|c| c.split(';').next().unwrap_or("").trim()) {
        Some("application/x-protobuf") | Some("application/protobuf") => Encoding::Protobuf,
        Some("application/json") => Encoding::Json,
        other => {
            return Err(ApiError::UnsupportedMediaType(format!(
                "send application/x-protobuf or application/json, not {}",
                other.unwrap_or("nothing")
            )))
        }
    };
    let bytes = super::inflate(content_encoding, body, limit)?;
    Ok((encoding, bytes))
}

/// Which OTLP export a request carries.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    Metrics,
    Logs,
}

/// What decoding the request will cost (see [`super::wire`]), known before decoding it.
pub fn decoded_cost(signal: Signal, enc: Encoding, bytes: &[u8]) -> Result<usize, ApiError> {
    use super::wire::{json_cost, protobuf_cost, Root};
    let root = match signal {
        Signal::Metrics => Root::Metrics,
        Signal::Logs => Root::Logs,
    };
    Ok(match enc {
        Encoding::Protobuf => protobuf_cost(bytes, root)?,
        Encoding::Json => json_cost(bytes)?,
    })
}

/// The request decoded and turned into events, with what was rejected inside it.
pub fn events(
    signal: Signal,
    enc: Encoding,
    bytes: &[u8],
    user: UserId,
    now: DateTime<Utc>,
) -> Result<(Vec<Event>, Rejected), ApiError> {
    Ok(match signal {
        Signal::Metrics => metric_events(
            &decode::<ExportMetricsServiceRequest>(enc, bytes)?,
            user,
            now,
        ),
        Signal::Logs => log_events(&decode::<ExportLogsServiceRequest>(enc, bytes)?, user, now),
    })
}

fn decode<T: Message + Default + serde::de::DeserializeOwned>(
    enc: Encoding,
    bytes: &[u8],
) -> Result<T, ApiError> {
    match enc {
        Encoding::Protobuf => T::decode(bytes)
            .map_err(|e| ApiError::Malformed(format!("not an OTLP protobuf message: {e}"))),
        Encoding::Json => {
            let de = &mut serde_json::Deserializer::from_slice(bytes);
            serde_path_to_error::deserialize(de).map_err(|e| {
                ApiError::Validation(vec![crate::error::FieldError {
                    pointer: crate::error::json_pointer(e.path()),
                    detail: e.inner().to_string(),
                }])
            })
        }
    }
}

/// The OTLP answer, in the request's encoding, with partial success when some was rejected.
pub fn response(signal: Signal, enc: Encoding, rejected: &Rejected) -> (&'static str, Vec<u8>) {
    fn encode<T: Message + serde::Serialize>(enc: Encoding, r: T) -> (&'static str, Vec<u8>) {
        match enc {
            Encoding::Protobuf => ("application/x-protobuf", r.encode_to_vec()),
            Encoding::Json => (
                "application/json",
                serde_json::to_vec(&r).expect("serialises"),
            ),
        }
    }
    match signal {
        Signal::Metrics => encode(enc, metrics_answer(rejected)),
        Signal::Logs => encode(enc, logs_answer(rejected)),
    }
}

/// The answer to a metrics export, with partial success when some points were rejected.
pub fn metrics_answer(rejected: &Rejected) -> ExportMetricsServiceResponse {
    ExportMetricsServiceResponse {
        partial_success: (rejected.count > 0).then(|| ExportMetricsPartialSuccess {
            rejected_data_points: rejected.count,
            error_message: rejected.message(),
        }),
    }
}

/// The answer to a logs export, with partial success when some records were rejected.
pub fn logs_answer(rejected: &Rejected) -> ExportLogsServiceResponse {
    ExportLogsServiceResponse {
        partial_success: (rejected.count > 0).then(|| ExportLogsPartialSuccess {
            rejected_log_records: rejected.count,
            error_message: rejected.message(),
        }),
    }
}

fn any_to_json(v: &AnyValue) -> Value {
    match &v.value {
        Some(any_value::Value::StringValue(s)) => Value::String(s.clone()),
        Some(any_value::Value::BoolValue(b)) => Value::Bool(*b),
        Some(any_value::Value::IntValue(i)) => json!(i),
        Some(any_value::Value::DoubleValue(d)) => json!(d),
        Some(any_value::Value::ArrayValue(a)) => {
            Value::Array(a.values.iter().map(any_to_json).collect())
        }
        Some(any_value::Value::KvlistValue(kv)) => Value::Object(
            kv.values
                .iter()
                .map(|k| {
                    (
                        k.key.clone(),
                        k.value.as_ref().map_or(Value::Null, any_to_json),
                    )
                })
                .collect(),
        ),
        Some(any_value::Value::BytesValue(b)) => Value::String(hex::encode(b)),
        _ => Value::Null,
    }
}

/// Attributes as a sorted map of JSON values (sorted, so hashes of them are stable).
fn attributes(kvs: &[KeyValue]) -> BTreeMap<String, Value> {
    kvs.iter()
        .map(|kv| {
            (
                kv.key.clone(),
                kv.value.as_ref().map_or(Value::Null, any_to_json),
            )
        })
        .collect()
}

fn resource_attributes(
    r: &Option<opentelemetry_proto::tonic::resource::v1::Resource>,
) -> BTreeMap<String, Value> {
    r.as_ref()
        .map(|r| attributes(&r.attributes))
        .unwrap_or_default()
}

/// Names (of a session, tool, model, request...) longer than this refuse their record: cut
/// short, two different names could become one.
const MAX_NAME: usize = 200;
/// Longer attribute values are cut to this in storage (error messages, tool parameters).
const KEEP_CHARS: usize = 1000;
/// Token and cost figures of one request at most, as for the batch API.
const MAX_TOKENS: f64 = 1e9;
const MAX_COST: f64 = 1e6;
/// A counter data point's value at most (cumulative totals grow large, not this large).
const MAX_COUNTER: f64 = 1e12;
/// A duration at most: a week, as for hooks.
const MAX_DURATION_MS: f64 = 7.0 * 86_400_000.0;

fn text(attrs: &BTreeMap<String, Value>, key: &str) -> Option<String> {
    match attrs.get(key)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A name attribute, refused when too long.
fn name(attrs: &BTreeMap<String, Value>, key: &str, what: &str) -> Result<Option<String>, String> {
    match text(attrs, key) {
        Some(s) if s.chars().count() > MAX_NAME => Err(format!(
            "{what}: attribute {key} is longer than {MAX_NAME} characters"
        )),
        v => Ok(v),
    }
}

/// A numeric attribute (OTLP attributes often carry numbers as strings) from 0 to `max`;
/// present but not such a number refuses the record.
fn amount(
    attrs: &BTreeMap<String, Value>,
    key: &str,
    max: f64,
    what: &str,
) -> Result<Option<f64>, String> {
    let v = match attrs.get(key) {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(s)) => s.trim().parse::<f64>().ok(),
        Some(Value::Number(n)) => n.as_f64(),
        Some(_) => None,
    };
    match v {
        Some(v) if v.is_finite() && (0.0..=max).contains(&v) => Ok(Some(v)),
        _ => Err(format!(
            "{what}: attribute {key} must be a number from 0 to {max}"
        )),
    }
}

/// The attributes as stored: long strings cut, at any depth.
fn kept(mut attrs: BTreeMap<String, Value>) -> BTreeMap<String, Value> {
    fn cut(v: &mut Value) {
        match v {
            Value::String(s) if s.len() > KEEP_CHARS && s.chars().count() > KEEP_CHARS => {
                *s = s.chars().take(KEEP_CHARS).collect::<String>() + "…";
            }
            Value::Array(a) => a.iter_mut().for_each(cut),
            Value::Object(m) => m.values_mut().for_each(cut),
            _ => {}
        }
    }
    attrs.values_mut().for_each(cut);
    attrs
}

fn nanos(t: u64) -> Option<DateTime<Utc>> {
    (t > 0).then(|| Utc.timestamp_nanos(t.min(i64::MAX as u64) as i64))
}

/// A rejected item and why, for the partial-success message.
pub struct Rejected {
    pub count: i64,
    pub first: Option<String>,
}

impl Rejected {
    fn new() -> Rejected {
        Rejected {
            count: 0,
            first: None,
        }
    }
    fn add(&mut self, why: String) {
        self.count += 1;
        self.first.get_or_insert(why);
    }
    /// Events PostgreSQL refused, and those naming another person's session, are rejected
    /// too.
    pub fn unstorable(&mut self, receipt: &super::Receipt) {
        for fate in &receipt.fates {
            match fate {
                super::Fate::Unstorable(why) => self.add(why.clone()),
                super::Fate::Refused(r) => self.add(format!("{} {}", r.field, r.reason)),
                _ => {}
            }
        }
    }

    pub fn message(&self) -> String {
        match &self.first {
            Some(first) if self.count > 1 => format!("{first} (and {} more)", self.count - 1),
            Some(first) => first.clone(),
            None => String::new(),
        }
    }
}

fn within_limits(
    at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    what: &str,
) -> Result<DateTime<Utc>, String> {
    let at = at.ok_or_else(|| format!("{what}: no timestamp"))?;
    check_time(at, now).map_err(|why| format!("{what}: timestamp {why}"))?;
    Ok(at)
}

/// Every data point into an event; bad points are counted, not fatal.
pub fn metric_events(
    req: &ExportMetricsServiceRequest,
    user: UserId,
    now: DateTime<Utc>,
) -> (Vec<Event>, Rejected) {
    let mut events = Vec::new();
    let mut rejected = Rejected::new();
    for rm in &req.resource_metrics {
        let resource = kept(resource_attributes(&rm.resource));
        for sm in &rm.scope_metrics {
            for m in &sm.metrics {
                let (points, cumulative) = match &m.data {
                    Some(metric::Data::Sum(s)) => (
                        &s.data_points,
                        s.aggregation_temporality == AggregationTemporality::Cumulative as i32,
                    ),
                    Some(metric::Data::Gauge(g)) => (&g.data_points, false),
                    other => {
                        // Histograms and summaries: Claude Code sends none; keep a trace.
                        match other_metric(m, other.as_ref(), &resource, user, now) {
                            Ok(e) => events.push(e),
                            Err(why) => rejected.add(why),
                        }
                        continue;
                    }
                };
                for p in points {
                    match point_event(m, p, cumulative, &resource, user, now) {
                        Ok(e) => events.push(e),
                        Err(why) => rejected.add(why),
                    }
                }
            }
        }
    }
    (events, rejected)
}

/// A histogram or summary, kept whole as one event at the time of its latest point.
fn other_metric(
    m: &opentelemetry_proto::tonic::metrics::v1::Metric,
    data: Option<&metric::Data>,
    resource: &BTreeMap<String, Value>,
    user: UserId,
    now: DateTime<Utc>,
) -> Result<Event, String> {
    let latest = match data {
        Some(metric::Data::Histogram(h)) => h.data_points.iter().map(|p| p.time_unix_nano).max(),
        Some(metric::Data::ExponentialHistogram(h)) => {
            h.data_points.iter().map(|p| p.time_unix_nano).max()
        }
        Some(metric::Data::Summary(s)) => s.data_points.iter().map(|p| p.time_unix_nano).max(),
        _ => None,
    };
    // Keyed by its content, which includes its points' times, and stored at the latest of
    // them, so the same export sent again is the same event.
    let at = match latest.and_then(nanos) {
        Some(t) => within_limits(Some(t), now, &m.name)?,
        None => now,
    };
    let key = content_key("otlp:metric", &[m.name.as_bytes(), &m.encode_to_vec()]);
    let mut e = Event::new(key, Kind::Other, Source::Otlp, at, user);
    e.attrs = json!({ "metric": m.name, "resource": resource });
    Ok(e)
}

/// One number data point into an event.
fn point_event(
    m: &opentelemetry_proto::tonic::metrics::v1::Metric,
    p: &opentelemetry_proto::tonic::metrics::v1::NumberDataPoint,
    cumulative: bool,
    resource: &BTreeMap<String, Value>,
    user: UserId,
    now: DateTime<Utc>,
) -> Result<Event, String> {
    let what = m.name.as_str();
    let attrs = attributes(&p.attributes);
    let value = match p.value {
        Some(number_data_point::Value::AsDouble(v)) if v.is_finite() => v,
        Some(number_data_point::Value::AsInt(v)) => v as f64,
        _ => return Err(format!("{what}: data point without a finite value")),
    };
    let at = within_limits(nanos(p.time_unix_nano), now, what)?;
    let ours = what.starts_with("claude_code.");
    if ours && !(0.0..=MAX_COUNTER).contains(&value) {
        return Err(format!("{what}: value must be from 0 to {MAX_COUNTER}"));
    }
    let attrs_json = serde_json::to_string(&attrs).unwrap_or_default();
    let key = content_key(
        "otlp:m",
        &[
            what.as_bytes(),
            attrs_json.as_bytes(),
            &p.start_time_unix_nano.to_le_bytes(),
            &p.time_unix_nano.to_le_bytes(),
        ],
    );
    let mut e = Event::new(key, Kind::Other, Source::Otlp, at, user);
    e.session_id = name(&attrs, "session.id", what)?;
    e.model = name(&attrs, "model", what)?;
    let kind_attr = name(&attrs, "type", what)?;
    let unknown_type = || {
        format!(
            "{what}: unknown type {:?}",
            kind_attr.as_deref().unwrap_or("")
        )
    };
    let whole = value.round() as i64;
    match what {
        "claude_code.session.count" => {
            e.kind = Kind::SessionStart {
                source: name(&attrs, "start_type", what)?,
            };
        }
        "claude_code.token.usage" => {
            let mut u = Usage::default();
            match kind_attr.as_deref() {
                Some("input") => u.input_tokens = whole,
                Some("output") => u.output_tokens = whole,
                Some("cacheRead") => u.cache_read_tokens = whole,
                Some("cacheCreation") => u.cache_creation_tokens = whole,
                _ => return Err(unknown_type()),
            }
            e.kind = Kind::UsageCounter;
            e.usage = Some(u);
        }
        "claude_code.cost.usage" => {
            e.kind = Kind::UsageCounter;
            e.usage = Some(Usage {
                cost_usd: value,
                ..Usage::default()
            });
        }
        "claude_code.lines_of_code.count" => {
            e.kind = Kind::LinesCounter;
            match kind_attr.as_deref() {
                Some("added") => e.lines_added = Some(whole),
                Some("removed") => e.lines_removed = Some(whole),
                _ => return Err(unknown_type()),
            }
        }
        "claude_code.commit.count" => {
            e.kind = Kind::Counter(Counter::Commits);
            e.count = Some(whole);
        }
        "claude_code.pull_request.count" => {
            e.kind = Kind::Counter(Counter::PullRequests);
            e.count = Some(whole);
        }
        "claude_code.active_time.total" => {
            e.kind = Kind::Counter(match kind_attr.as_deref() {
                Some("user") => Counter::ActiveUserMs,
                Some("cli") => Counter::ActiveCliMs,
                _ => return Err(unknown_type()),
            });
            // Seconds, kept as milliseconds.
            e.count = Some((value * 1000.0).round() as i64);
        }
        "claude_code.code_edit_tool.decision" => {
            e.kind = Kind::Counter(match name(&attrs, "decision", what)?.as_deref() {
                Some("accept") => Counter::EditsAccepted,
                Some("reject") => Counter::EditsRejected,
                other => {
                    return Err(format!(
                        "{what}: unknown decision {:?}",
                        other.unwrap_or("")
                    ))
                }
            });
            // Older versions name the tool `tool`.
            e.tool = match name(&attrs, "tool_name", what)? {
                Some(t) => Some(t),
                None => name(&attrs, "tool", what)?,
            };
            e.count = Some(whole);
        }
        _ => {}
    }
    if cumulative && e.kind != Kind::Other {
        e.cumulative = Some(Cumulative {
            series_key: content_key("series", &[what.as_bytes(), attrs_json.as_bytes()]),
            start_at: nanos(p.start_time_unix_nano).unwrap_or(at),
            reported: None,
        });
    }
    e.attrs = json!({
        "metric": what, "value": value, "attributes": kept(attrs),
        "resource": resource, "cumulative": cumulative,
    });
    Ok(e)
}

/// Every log record (Claude Code's events) into an event; bad records are counted, not fatal.
pub fn log_events(
    req: &ExportLogsServiceRequest,
    user: UserId,
    now: DateTime<Utc>,
) -> (Vec<Event>, Rejected) {
    let mut events = Vec::new();
    let mut rejected = Rejected::new();
    for rl in &req.resource_logs {
        let resource = kept(resource_attributes(&rl.resource));
        for sl in &rl.scope_logs {
            for r in &sl.log_records {
                match log_event(r, &resource, user, now) {
                    Ok(e) => events.push(e),
                    Err(why) => rejected.add(why),
                }
            }
        }
    }
    (events, rejected)
}

fn log_event(
    r: &opentelemetry_proto::tonic::logs::v1::LogRecord,
    resource: &BTreeMap<String, Value>,
    user: UserId,
    now: DateTime<Utc>,
) -> Result<Event, String> {
    let attrs = attributes(&r.attributes);
    let body = r.body.as_ref().map(any_to_json);
    let event_name = text(&attrs, "event.name")
        .or_else(|| (!r.event_name.is_empty()).then(|| r.event_name.clone()))
        .or_else(|| body.as_ref().and_then(|b| b.as_str().map(String::from)))
        .unwrap_or_default();
    let event_name = event_name.trim_start_matches("claude_code.");
    if event_name.chars().count() > MAX_NAME {
        return Err(format!(
            "an event name is longer than {MAX_NAME} characters"
        ));
    }
    let what = format!("event {event_name}");
    let at = nanos(r.time_unix_nano)
        .or_else(|| nanos(r.observed_time_unix_nano))
        .or_else(|| {
            text(&attrs, "event.timestamp")
                .and_then(|s| DateTime::parse_from_rfc3339(&s).ok())
                .map(|t| t.with_timezone(&Utc))
        });
    let at = within_limits(at, now, &what)?;
    let whole = content_key(
        "otlp:log",
        &[
            event_name.as_bytes(),
            serde_json::to_string(&attrs).unwrap_or_default().as_bytes(),
            &r.time_unix_nano.to_le_bytes(),
        ],
    );
    let mut e = Event::new(whole, Kind::Other, Source::Otlp, at, user);
    e.session_id = name(&attrs, "session.id", &what)?;
    e.model = name(&attrs, "model", &what)?;
    e.tool = name(&attrs, "tool_name", &what)?;
    // Checked where it is counted; on other events an odd duration is only not read.
    let duration = amount(&attrs, "duration_ms", MAX_DURATION_MS, &what);
    let counted = matches!(event_name, "tool_result" | "api_request" | "api_error");
    e.duration_ms = if counted {
        duration?
    } else {
        duration.ok().flatten()
    }
    .map(|d| d.round() as i64);
    match event_name {
        "tool_result" => {
            if let Some(id) = name(&attrs, "tool_use_id", &what)? {
                e.key = format!("otlp:tool_result:{id}");
                e.kind = Kind::ToolEnd { tool_use_id: id };
            }
            // "true" or "false"; anything else says nothing either way.
            e.success = match text(&attrs, "success").as_deref() {
                Some("true") => Some(true),
                Some("false") => Some(false),
                _ => None,
            };
            if e.tool.as_deref().is_some_and(events::is_agent_tool) {
                e.agent = subagent_type(&attrs);
            }
        }
        "api_request" => {
            let id = name(&attrs, "request_id", &what)?.unwrap_or_else(|| e.key.clone());
            e.key = format!("otlp:api_request:{id}");
            e.kind = Kind::ApiRequest { request_id: id };
            let tokens = |k: &str| {
                amount(&attrs, k, MAX_TOKENS, &what).map(|v| v.map_or(0, |v| v.round() as i64))
            };
            e.usage = Some(Usage {
                input_tokens: tokens("input_tokens")?,
                output_tokens: tokens("output_tokens")?,
                cache_creation_tokens: tokens("cache_creation_tokens")?,
                cache_read_tokens: tokens("cache_read_tokens")?,
                cost_usd: amount(&attrs, "cost_usd", MAX_COST, &what)?.unwrap_or(0.0),
            });
        }
        "api_error" => {
            e.kind = Kind::ApiError;
            // One per attempt of a request, where it says which.
            if let Some(id) = name(&attrs, "request_id", &what)? {
                let attempt = name(&attrs, "attempt", &what)?.unwrap_or_default();
                e.key = format!("otlp:api_error:{id}:{attempt}");
            }
        }
        "user_prompt" => {
            let id = name(&attrs, "prompt.id", &what)?;
            if let Some(id) = &id {
                e.key = format!("otlp:user_prompt:{id}");
            }
            e.kind = Kind::Prompt { prompt_id: id };
        }
        // tool_decision and newer events are kept as they came, for the session's timeline
        // (edit decisions are counted from the code_edit_tool.decision counter).
        _ => {}
    }
    let mut kept = kept(attrs);
    // Prompts are sensitive even when the user opted in to sending them.
    if kept.contains_key("prompt") {
        kept.insert("prompt".into(), Value::String("<not stored>".into()));
    }
    e.attrs = json!({ "event": event_name, "attributes": kept, "resource": resource });
    Ok(e)
}

/// The subagent type of an agent tool's run, from its `tool_parameters` (a JSON string).
fn subagent_type(attrs: &BTreeMap<String, Value>) -> Option<String> {
    let params: Value = serde_json::from_str(&text(attrs, "tool_parameters")?).ok()?;
    let t = params.get("subagent_type")?.as_str()?;
    (!t.is_empty() && t.chars().count() <= MAX_NAME).then(|| t.to_string())
}
