//! OTLP/HTTP: Claude Code's built-in exporter (metrics every 60 s, events every 5 s), as
//! protobuf or JSON, gzip or not. `claude_code.*` metrics and events map onto the model;
//! anything else is kept as an `other` event.

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
    events::{Cumulative, Event, Kind, Source, Usage},
    UserId,
};

use super::{check_time, content_key};
use crate::error::ApiError;

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Protobuf,
    Json,
}

/// The body's encoding from its Content-Type, inflated if gzip.
pub fn decode_body(
    content_type: Option<&str>,
    content_encoding: Option<&str>,
    body: &[u8],
) -> Result<(Encoding, Vec<u8>), ApiError> {
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
    let bytes = super::inflate(content_encoding, body)?;
    Ok((encoding, bytes))
}

/// Which OTLP export a request carries.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    Metrics,
    Logs,
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
                    pointer: crate::api::json_pointer(e.path()),
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

fn text(attrs: &BTreeMap<String, Value>, key: &str) -> Option<String> {
    match attrs.get(key)? {
        Value::String(s) if !s.is_empty() => Some(s.chars().take(400).collect()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn number(attrs: &BTreeMap<String, Value>, key: &str) -> Option<f64> {
    match attrs.get(key)? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
    .filter(|v: &f64| v.is_finite())
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
        let resource = resource_attributes(&rm.resource);
        for sm in &rm.scope_metrics {
            for m in &sm.metrics {
                let (points, cumulative) = match &m.data {
                    Some(metric::Data::Sum(s)) => (
                        &s.data_points,
                        s.aggregation_temporality == AggregationTemporality::Cumulative as i32,
                    ),
                    Some(metric::Data::Gauge(g)) => (&g.data_points, false),
                    _ => {
                        // Histograms and summaries: Claude Code sends none; keep a trace.
                        let key =
                            content_key("otlp:metric", &[m.name.as_bytes(), &m.encode_to_vec()]);
                        let mut e = Event::new(key, Kind::Other, Source::Otlp, now, user);
                        e.attrs = json!({ "metric": m.name, "resource": resource });
                        events.push(e);
                        continue;
                    }
                };
                for p in points {
                    let attrs = attributes(&p.attributes);
                    let value = match p.value {
                        Some(number_data_point::Value::AsDouble(v)) if v.is_finite() => v,
                        Some(number_data_point::Value::AsInt(v)) => v as f64,
                        _ => {
                            rejected.add(format!("{}: data point without a finite value", m.name));
                            continue;
                        }
                    };
                    let at = match within_limits(nanos(p.time_unix_nano), now, &m.name) {
                        Ok(at) => at,
                        Err(why) => {
                            rejected.add(why);
                            continue;
                        }
                    };
                    if value < 0.0 && m.name.starts_with("claude_code.") {
                        rejected.add(format!("{}: negative counter value", m.name));
                        continue;
                    }
                    let attrs_json = serde_json::to_string(&attrs).unwrap_or_default();
                    let key = content_key(
                        "otlp:m",
                        &[
                            m.name.as_bytes(),
                            attrs_json.as_bytes(),
                            &p.start_time_unix_nano.to_le_bytes(),
                            &p.time_unix_nano.to_le_bytes(),
                        ],
                    );
                    let session = text(&attrs, "session.id");
                    let model = text(&attrs, "model");
                    let kind_attr = text(&attrs, "type");
                    let mut e = Event::new(key, Kind::Other, Source::Otlp, at, user);
                    e.session_id = session;
                    e.model = model;
                    match m.name.as_str() {
                        "claude_code.session.count" => {
                            e.kind = Kind::SessionStart {
                                source: text(&attrs, "start_type"),
                            };
                        }
                        "claude_code.token.usage" => {
                            let mut u = Usage::default();
                            let v = value.round() as i64;
                            match kind_attr.as_deref() {
                                Some("input") => u.input_tokens = v,
                                Some("output") => u.output_tokens = v,
                                Some("cacheRead") => u.cache_read_tokens = v,
                                Some("cacheCreation") => u.cache_creation_tokens = v,
                                _ => {
                                    rejected.add("claude_code.token.usage: unknown type".into());
                                    continue;
                                }
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
                                Some("added") => e.lines_added = Some(value.round() as i64),
                                Some("removed") => e.lines_removed = Some(value.round() as i64),
                                _ => {
                                    rejected.add(
                                        "claude_code.lines_of_code.count: unknown type".into(),
                                    );
                                    continue;
                                }
                            }
                        }
                        _ => {}
                    }
                    if cumulative && e.kind != Kind::Other {
                        e.cumulative = Some(Cumulative {
                            series_key: content_key(
                                "series",
                                &[m.name.as_bytes(), attrs_json.as_bytes()],
                            ),
                            start_at: nanos(p.start_time_unix_nano).unwrap_or(at),
                            reported: None,
                        });
                    }
                    e.attrs = json!({
                        "metric": m.name, "value": value, "attributes": attrs,
                        "resource": resource, "cumulative": cumulative,
                    });
                    events.push(e);
                }
            }
        }
    }
    (events, rejected)
}

/// Every log record (Claude Code's events) into an event.
pub fn log_events(
    req: &ExportLogsServiceRequest,
    user: UserId,
    now: DateTime<Utc>,
) -> (Vec<Event>, Rejected) {
    let mut events = Vec::new();
    let mut rejected = Rejected::new();
    for rl in &req.resource_logs {
        let resource = resource_attributes(&rl.resource);
        for sl in &rl.scope_logs {
            for r in &sl.log_records {
                let attrs = attributes(&r.attributes);
                let body = r.body.as_ref().map(any_to_json);
                let name = text(&attrs, "event.name")
                    .or_else(|| (!r.event_name.is_empty()).then(|| r.event_name.clone()))
                    .or_else(|| body.as_ref().and_then(|b| b.as_str().map(String::from)))
                    .unwrap_or_default();
                let name = name.trim_start_matches("claude_code.").to_string();
                let at = nanos(r.time_unix_nano)
                    .or_else(|| nanos(r.observed_time_unix_nano))
                    .or_else(|| {
                        text(&attrs, "event.timestamp")
                            .and_then(|s| DateTime::parse_from_rfc3339(&s).ok())
                            .map(|t| t.with_timezone(&Utc))
                    });
                let at = match within_limits(at, now, &format!("event {name}")) {
                    Ok(at) => at,
                    Err(why) => {
                        rejected.add(why);
                        continue;
                    }
                };
                let whole = content_key(
                    "otlp:log",
                    &[
                        name.as_bytes(),
                        serde_json::to_string(&attrs).unwrap_or_default().as_bytes(),
                        &r.time_unix_nano.to_le_bytes(),
                    ],
                );
                let mut e = Event::new(whole, Kind::Other, Source::Otlp, at, user);
                e.session_id = text(&attrs, "session.id");
                e.model = text(&attrs, "model");
                e.tool = text(&attrs, "tool_name");
                e.duration_ms = number(&attrs, "duration_ms").map(|d| d.round() as i64);
                match name.as_str() {
                    "tool_result" => {
                        if let Some(id) = text(&attrs, "tool_use_id") {
                            e.key = format!("otlp:tool_result:{id}");
                            e.kind = Kind::ToolEnd { tool_use_id: id };
                        }
                        e.success = text(&attrs, "success").map(|s| s == "true");
                    }
                    "api_request" => {
                        let id = text(&attrs, "request_id").unwrap_or_else(|| e.key.clone());
                        e.key = format!("otlp:api_request:{id}");
                        e.kind = Kind::ApiRequest { request_id: id };
                        let tokens =
                            |k: &str| number(&attrs, k).map_or(0, |v| v.max(0.0).round() as i64);
                        e.usage = Some(Usage {
                            input_tokens: tokens("input_tokens"),
                            output_tokens: tokens("output_tokens"),
                            cache_creation_tokens: tokens("cache_creation_tokens"),
                            cache_read_tokens: tokens("cache_read_tokens"),
                            cost_usd: number(&attrs, "cost_usd").unwrap_or(0.0).max(0.0),
                        });
                    }
                    "user_prompt" => {
                        if let Some(id) = text(&attrs, "prompt.id") {
                            e.key = format!("otlp:user_prompt:{id}");
                        }
                    }
                    _ => {}
                }
                let mut kept = attrs.clone();
                // Prompts are sensitive even when the user opted in to sending them.
                if kept.contains_key("prompt") {
                    kept.insert("prompt".into(), Value::String("<not stored>".into()));
                }
                e.attrs = json!({ "event": name, "attributes": kept, "resource": resource });
                events.push(e);
            }
        }
    }
    (events, rejected)
}
