//! What decoding a body will cost, known before decoding it. A few bytes on the wire can stand
//! for a large decoded value (an empty OTLP `LogRecord` is 2 bytes of protobuf and a struct of
//! a few hundred; `[]` is 2 bytes of JSON and a `Vec`), so a body well within the size limit
//! could take gigabytes once decoded. Each ingestion request is costed first: one over
//! [`DECODED_LIMIT`] is refused with 413, and all requests being decoded at once share
//! [`Budget`], past which the server answers 503 with `Retry-After`.

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::ApiError;

/// What one request may cost decoded, in (estimated) bytes.
pub const DECODED_LIMIT: usize = 64 * 1024 * 1024;
/// What all requests being decoded at once may cost together.
pub const BUDGET: usize = 512 * 1024 * 1024;

/// Estimated decoded size of one message or JSON object/array (a generous upper bound of the
/// OTLP structs and of `serde_json::Value` containers).
const MESSAGE: usize = 256;
/// ... and of one string or bytes value, beyond its own length.
const STRING: usize = 32;
/// ... and of one more JSON value (each `,` or `:` starts one: `[0,0,0]` is three values).
const VALUE: usize = 32;
/// Nesting deeper than this is refused (prost stops at 100 itself).
const MAX_DEPTH: usize = 100;

/// Why a body was refused before decoding.
#[derive(Debug, PartialEq)]
pub enum Refusal {
    TooBig,
    /// Not protobuf at all; `prost` would say the same.
    Malformed(&'static str),
}

impl From<Refusal> for ApiError {
    fn from(r: Refusal) -> ApiError {
        match r {
            Refusal::TooBig => ApiError::PayloadTooLarge,
            Refusal::Malformed(why) => {
                ApiError::Malformed(format!("not an OTLP protobuf message: {why}"))
            }
        }
    }
}

/// The OTLP messages whose fields are messages themselves: the schema the walk needs.
#[derive(Clone, Copy, Debug)]
pub enum Root {
    Logs,
    Metrics,
}

#[derive(Clone, Copy, Debug)]
enum Msg {
    LogsRequest,
    ResourceLogs,
    ScopeLogs,
    LogRecord,
    MetricsRequest,
    ResourceMetrics,
    ScopeMetrics,
    Metric,
    /// Gauge and Sum: data points in field 1.
    Numbers,
    Histogram,
    ExpHistogram,
    Summary,
    NumberPoint,
    HistogramPoint,
    ExpHistogramPoint,
    SummaryPoint,
    Buckets,
    Exemplar,
    Resource,
    Scope,
    KeyValue,
    AnyValue,
    ArrayValue,
    KvList,
    EntityRef,
    /// A message whose fields decode no further (e.g. a quantile).
    Leaf,
}

/// The message type of `field` in `m`, if that field is a message.
fn child(m: Msg, field: u64) -> Option<Msg> {
    use Msg::*;
    Some(match (m, field) {
        (LogsRequest, 1) => ResourceLogs,
        (ResourceLogs, 1) | (ResourceMetrics, 1) => Resource,
        (ResourceLogs, 2) => ScopeLogs,
        (ScopeLogs, 1) | (ScopeMetrics, 1) => Scope,
        (ScopeLogs, 2) => LogRecord,
        (LogRecord, 5) => AnyValue,
        (LogRecord, 6) => KeyValue,
        (MetricsRequest, 1) => ResourceMetrics,
        (ResourceMetrics, 2) => ScopeMetrics,
        (ScopeMetrics, 2) => Metric,
        (Metric, 5) | (Metric, 7) => Numbers,
        (Metric, 9) => Histogram,
        (Metric, 10) => ExpHistogram,
        (Metric, 11) => Summary,
        (Metric, 12) => KeyValue,
        (Numbers, 1) => NumberPoint,
        (Histogram, 1) => HistogramPoint,
        (ExpHistogram, 1) => ExpHistogramPoint,
        (Summary, 1) => SummaryPoint,
        (NumberPoint, 7) | (HistogramPoint, 9) | (ExpHistogramPoint, 1) | (SummaryPoint, 7) => {
            KeyValue
        }
        (NumberPoint, 5) | (HistogramPoint, 8) | (ExpHistogramPoint, 11) => Exemplar,
        (ExpHistogramPoint, 8) | (ExpHistogramPoint, 9) => Buckets,
        (SummaryPoint, 6) => Leaf,
        (Exemplar, 7) => KeyValue,
        (Resource, 1) | (Scope, 3) | (KvList, 1) => KeyValue,
        (Resource, 3) => EntityRef,
        (KeyValue, 2) | (ArrayValue, 1) => AnyValue,
        (AnyValue, 5) => ArrayValue,
        (AnyValue, 6) => KvList,
        _ => return None,
    })
}

/// Packed varints decode to 8 bytes each, however short on the wire.
fn packed_varints(m: Msg, field: u64) -> bool {
    matches!((m, field), (Msg::Buckets, 2))
}

fn varint(buf: &[u8], at: &mut usize) -> Result<u64, Refusal> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *buf.get(*at).ok_or(Refusal::Malformed("truncated varint"))?;
        *at += 1;
        value |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(Refusal::Malformed("varint too long"))
}

/// Where the group of `field` that starts at `at` ends (after its end-group tag).
fn skip_group(buf: &[u8], mut at: usize, field: u64, depth: usize) -> Result<usize, Refusal> {
    if depth > MAX_DEPTH {
        return Err(Refusal::Malformed("nested too deeply"));
    }
    loop {
        let key = varint(buf, &mut at)?;
        let skip = match key & 7 {
            0 => {
                varint(buf, &mut at)?;
                0
            }
            1 => 8,
            5 => 4,
            2 => usize::try_from(varint(buf, &mut at)?)
                .map_err(|_| Refusal::Malformed("length out of range"))?,
            3 => {
                at = skip_group(buf, at, key >> 3, depth + 1)?;
                0
            }
            4 if key >> 3 == field => return Ok(at),
            _ => return Err(Refusal::Malformed("unmatched end of group")),
        };
        at = at
            .checked_add(skip)
            .filter(|end| *end <= buf.len())
            .ok_or(Refusal::Malformed("truncated field"))?;
    }
}

fn walk(buf: &[u8], m: Msg, depth: usize, cost: &mut usize) -> Result<(), Refusal> {
    if depth > MAX_DEPTH {
        return Err(Refusal::Malformed("nested too deeply"));
    }
    let mut at = 0;
    while at < buf.len() {
        let key = varint(buf, &mut at)?;
        let (field, wire_type) = (key >> 3, key & 7);
        let skip = match wire_type {
            0 => {
                varint(buf, &mut at)?;
                0
            }
            1 => 8,
            5 => 4,
            2 => {
                let len = usize::try_from(varint(buf, &mut at)?)
                    .map_err(|_| Refusal::Malformed("length out of range"))?;
                let end = at
                    .checked_add(len)
                    .filter(|end| *end <= buf.len())
                    .ok_or(Refusal::Malformed("truncated field"))?;
                match child(m, field) {
                    Some(c) => {
                        *cost += MESSAGE;
                        walk(&buf[at..end], c, depth + 1, cost)?;
                    }
                    None if packed_varints(m, field) => *cost += len * 8,
                    None => *cost += STRING + len,
                }
                len
            }
            // A group (deprecated): prost skips unknown ones without decoding them.
            3 => {
                at = skip_group(buf, at, field, depth)?;
                0
            }
            _ => return Err(Refusal::Malformed("unsupported wire type")),
        };
        at = at
            .checked_add(skip)
            .filter(|end| *end <= buf.len())
            .ok_or(Refusal::Malformed("truncated field"))?;
        if *cost > DECODED_LIMIT {
            return Err(Refusal::TooBig);
        }
    }
    Ok(())
}

/// The decoded cost of an OTLP export request in protobuf.
pub fn protobuf_cost(bytes: &[u8], root: Root) -> Result<usize, Refusal> {
    let mut cost = MESSAGE;
    let m = match root {
        Root::Logs => Msg::LogsRequest,
        Root::Metrics => Msg::MetricsRequest,
    };
    walk(bytes, m, 0, &mut cost)?;
    Ok(cost)
}

/// The decoded cost of a JSON body, from its structure alone (objects, arrays, strings),
/// whether or not it is valid JSON (the parser says what is wrong with it after).
pub fn json_cost(bytes: &[u8]) -> Result<usize, Refusal> {
    let mut cost = 0usize;
    let (mut in_string, mut escaped) = (false, false);
    for &b in bytes {
        if in_string {
            cost += 1;
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => {
                in_string = true;
                cost += STRING;
            }
            b'{' | b'[' => cost += MESSAGE,
            b',' | b':' => cost += VALUE,
            _ => {}
        }
    }
    if cost > DECODED_LIMIT {
        return Err(Refusal::TooBig);
    }
    Ok(cost)
}

/// The decoded cost all ingestion requests in progress may share.
#[derive(Clone)]
pub struct Budget(Arc<Semaphore>);

impl Default for Budget {
    fn default() -> Budget {
        Budget(Arc::new(Semaphore::new(BUDGET)))
    }
}

impl Budget {
    /// Room for `cost` until the permit drops, or 503 with `Retry-After` when the server is
    /// decoding as much as it may already.
    pub fn take(&self, cost: usize) -> Result<OwnedSemaphorePermit, ApiError> {
        self.0
            .clone()
            .try_acquire_many_owned(cost.clamp(1, BUDGET) as u32)
            .map_err(|_| ApiError::Busy(std::time::Duration::from_secs(1)))
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry_proto::tonic::{
        collector::logs::v1::ExportLogsServiceRequest,
        common::v1::{any_value, AnyValue, KeyValue},
        logs::v1::{LogRecord, ResourceLogs, ScopeLogs},
    };
    use prost::Message;

    use super::*;

    fn logs(records: usize, attributes: usize) -> Vec<u8> {
        let record = LogRecord {
            attributes: (0..attributes)
                .map(|i| KeyValue {
                    key: format!("k{i}"),
                    value: Some(AnyValue {
                        value: Some(any_value::Value::StringValue("v".into())),
                    }),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        };
        ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                scope_logs: vec![ScopeLogs {
                    log_records: vec![record; records],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
        .encode_to_vec()
    }

    #[test]
    fn an_ordinary_export_costs_what_it_holds() {
        // 512 records of 15 attributes: what an SDK's batch processor sends at most.
        let body = logs(512, 15);
        let cost = protobuf_cost(&body, Root::Logs).unwrap();
        // Each record: itself, 15 key-values and their values.
        assert!(cost > 512 * 31 * MESSAGE, "{cost}");
        assert!(cost < DECODED_LIMIT / 4, "{cost}");
    }

    /// `body` as field `field` (length-delimited) of an enclosing message.
    fn nest(field: u8, body: Vec<u8>) -> Vec<u8> {
        let mut out = vec![field << 3 | 2];
        let mut len = body.len();
        while len >= 0x80 {
            out.push((len as u8) | 0x80);
            len >>= 7;
        }
        out.push(len as u8);
        out.extend(body);
        out
    }

    #[test]
    fn millions_of_empty_records_are_refused_before_decoding() {
        // An empty record is 2 bytes on the wire: 8 MB of body, gigabytes decoded.
        let scope: Vec<u8> = [0x12, 0x00].repeat(4_000_000);
        let body = nest(1, nest(2, scope));
        assert!(body.len() < 10 * 1024 * 1024);
        assert_eq!(protobuf_cost(&body, Root::Logs), Err(Refusal::TooBig));
        // The same few records are fine.
        let small = nest(1, nest(2, [0x12, 0x00].repeat(1000)));
        assert!(protobuf_cost(&small, Root::Logs).is_ok());
        assert_eq!(
            ExportLogsServiceRequest::decode(&small[..])
                .unwrap()
                .resource_logs[0]
                .scope_logs[0]
                .log_records
                .len(),
            1000
        );
    }

    #[test]
    fn groups_are_skipped_as_prost_skips_them() {
        // An empty group on field 15 (start 0x7b, end 0x7c) before real records: prost
        // ignores it, so the walk must cost the records after it, not stop.
        let mut body = vec![0x7b, 0x7c];
        body.extend(nest(1, nest(2, [0x12, 0x00].repeat(4_000_000))));
        assert_eq!(protobuf_cost(&body, Root::Logs), Err(Refusal::TooBig));
        let mut small = vec![0x7b, 0x08, 0x01, 0x7c];
        small.extend(nest(1, nest(2, [0x12, 0x00].repeat(3))));
        assert!(protobuf_cost(&small, Root::Logs).is_ok());
        let decoded = ExportLogsServiceRequest::decode(&small[..]).unwrap();
        assert_eq!(decoded.resource_logs[0].scope_logs[0].log_records.len(), 3);
    }

    #[test]
    fn truncated_protobuf_is_malformed() {
        let body = logs(3, 2);
        assert!(matches!(
            protobuf_cost(&body[..body.len() - 3], Root::Logs),
            Err(Refusal::Malformed(_))
        ));
    }

    #[test]
    fn json_cost_counts_containers_and_strings() {
        assert_eq!(json_cost(b"[]").unwrap(), MESSAGE);
        assert_eq!(
            json_cost(br#"{"a":"[{"}"#).unwrap(),
            MESSAGE + 2 * STRING + 5 + VALUE
        );
        let many = "[]".repeat(1_000_000);
        assert_eq!(json_cost(many.as_bytes()), Err(Refusal::TooBig));
        // Scalars decode to a value each: 2 bytes on the wire, 32 in memory.
        let zeros = format!("[{}0]", "0,".repeat(4_000_000));
        assert_eq!(json_cost(zeros.as_bytes()), Err(Refusal::TooBig));
    }
}
