//! Ingestion endpoints, one module per protocol: Claude Code's http hooks, its OTLP exporter
//! over HTTP and over gRPC, and the batch API. Each answers only after the events are
//! committed; what they share with MCP (rate limits, the batch write) is `crate::ingest`'s.

pub mod batch;
pub mod hook;
pub mod otlp_grpc;
pub mod otlp_http;

use axum::http::{header, HeaderMap};

fn header_str(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}
