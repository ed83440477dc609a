//! Ingestion endpoints: Claude Code's http hooks and its OTLP exporter. Each answers only
//! after the events are committed.

use axum::{
    body::Bytes,
    extract::State,
    http::{header, HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    Extension,
};
use chrono::Utc;

use super::extract::Me;
use crate::{
    error::ApiError,
    ingest::{hooks, otlp, wire, Fate},
    AppState,
};

fn header_str(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// `POST /api/v1/hooks/claude-code`: one hook body, as Claude Code's `http` hook sends it.
/// 204 with an empty body, which Claude Code reads as success.
pub async fn hook(
    State(state): State<AppState>,
    Extension(me): Me,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let tenant = me.tenant()?;
    admit_request(&state, &me).await?;
    let is_json = header_str(&headers, header::CONTENT_TYPE)
        .is_some_and(|c| c.split(';').next().unwrap_or("").trim() == "application/json");
    if !is_json {
        return Err(ApiError::UnsupportedMediaType(
            "send the hook's JSON with Content-Type: application/json".into(),
        ));
    }
    let _decoding = state.decoding.take(wire::json_cost(&body)?)?;
    // serde_json refuses nesting deeper than 128 levels, so a deep body is an error, not a
    // stack overflow.
    let value: serde_json::Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::Malformed(format!("the body is not JSON: {e}")))?;
    let event = hooks::parse(&value, me.user_id, Utc::now()).map_err(ApiError::Validation)?;
    admit_events(&state, &me, 1).await?;
    state
        .writer
        .submit(tenant.scope(), vec![event])
        .await?
        .single()?;
    Ok(StatusCode::NO_CONTENT)
}

/// The per-key request bucket (checked first, before any parsing) and the per-tenant event
/// bucket (once the number of events is known).
pub(crate) async fn admit_request(
    state: &AppState,
    me: &crate::auth::Caller,
) -> Result<(), ApiError> {
    let key = match &me.via {
        crate::auth::Via::ApiKey { key_id, .. } => key_id.to_string(),
        crate::auth::Via::Session { .. } => me.user_id.to_string(),
    };
    state
        .ingest_limits
        .take_key(&key)
        .await
        .map_err(ApiError::TooManyRequests)
}

pub(crate) async fn admit_events(
    state: &AppState,
    me: &crate::auth::Caller,
    events: usize,
) -> Result<(), ApiError> {
    let tenant = me.tenant()?.scope().schema().to_string();
    state
        .ingest_limits
        .take_tenant(&tenant, events as f64)
        .await
        .map_err(ApiError::TooManyRequests)
}

/// `POST /v1/metrics` (OTLP/HTTP).
pub async fn otlp_metrics(
    State(state): State<AppState>,
    Extension(me): Me,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    otlp_export(&state, &me, &headers, &body, otlp::Signal::Metrics).await
}

/// `POST /v1/logs` (OTLP/HTTP): Claude Code's events.
pub async fn otlp_logs(
    State(state): State<AppState>,
    Extension(me): Me,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    otlp_export(&state, &me, &headers, &body, otlp::Signal::Logs).await
}

async fn otlp_export(
    state: &AppState,
    me: &crate::auth::Caller,
    headers: &HeaderMap,
    body: &[u8],
    signal: otlp::Signal,
) -> Result<Response, ApiError> {
    let tenant = me.tenant()?;
    admit_request(state, me).await?;
    let (enc, bytes) = otlp::decode_body(
        header_str(headers, header::CONTENT_TYPE),
        header_str(headers, header::CONTENT_ENCODING),
        body,
        state.body_limit,
    )?;
    let _decoding = state
        .decoding
        .take(otlp::decoded_cost(signal, enc, &bytes)?)?;
    let (events, mut rejected) = otlp::events(signal, enc, &bytes, me.user_id, Utc::now())?;
    admit_events(state, me, events.len()).await?;
    let receipt = state.writer.submit(tenant.scope(), events).await?;
    rejected.unstorable(&receipt);
    let (content_type, out) = otlp::response(signal, enc, &rejected);
    Ok((StatusCode::OK, [(header::CONTENT_TYPE, content_type)], out).into_response())
}

/// OTLP/gRPC: the generated tonic services, mounted at their gRPC paths on the main port
/// (HTTP/2 without TLS) and on `OTLP_GRPC_PORT`. The gate in front has already authenticated
/// the caller (from the `authorization` metadata, an HTTP/2 header), so each request gets a
/// service bound to that caller.
pub async fn otlp_grpc_logs(
    State(state): State<AppState>,
    Extension(me): Me,
    req: axum::extract::Request,
) -> Response {
    use opentelemetry_proto::tonic::collector::logs::v1::logs_service_server::LogsServiceServer;
    let (req, _decoding) = match grpc_admit(&state, &me, req, wire::Root::Logs).await {
        Ok(admitted) => admitted,
        Err(e) => return e.into_grpc_response(),
    };
    let limit = state.body_limit;
    let service = LogsServiceServer::new(Grpc { state, me })
        .accept_compressed(tonic::codec::CompressionEncoding::Gzip)
        .max_decoding_message_size(limit);
    grpc_call(service, req).await
}

/// `MetricsService/Export` over gRPC; see [`otlp_grpc_logs`].
pub async fn otlp_grpc_metrics(
    State(state): State<AppState>,
    Extension(me): Me,
    req: axum::extract::Request,
) -> Response {
    use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::MetricsServiceServer;
    let (req, _decoding) = match grpc_admit(&state, &me, req, wire::Root::Metrics).await {
        Ok(admitted) => admitted,
        Err(e) => return e.into_grpc_response(),
    };
    let limit = state.body_limit;
    let service = MetricsServiceServer::new(Grpc { state, me })
        .accept_compressed(tonic::codec::CompressionEncoding::Gzip)
        .max_decoding_message_size(limit);
    grpc_call(service, req).await
}

/// The rate limit, then the decoded cost of a unary gRPC call, before tonic decodes it. The
/// body is one frame (a compressed flag, a 4-byte length, the message); a compressed message
/// is inflated here, once, costed and handed to tonic as an uncompressed frame. A message the
/// walk cannot read is refused (tonic would otherwise decode it unbudgeted), with the status
/// gRPC gives an unparsable message; what is not a frame at all is left to tonic to refuse.
async fn grpc_admit(
    state: &AppState,
    me: &crate::auth::Caller,
    req: axum::extract::Request,
    root: wire::Root,
) -> Result<
    (
        axum::extract::Request,
        Option<tokio::sync::OwnedSemaphorePermit>,
    ),
    ApiError,
> {
    admit_request(state, me).await?;
    let (mut parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, state.body_limit)
        .await
        .map_err(|_| ApiError::PayloadTooLarge)?;
    let Some((&flag, rest)) = bytes.split_first().filter(|(_, r)| r.len() >= 4) else {
        return Ok((
            axum::extract::Request::from_parts(parts, bytes.into()),
            None,
        ));
    };
    let (len, message) = rest.split_at(4);
    let len = u32::from_be_bytes(len.try_into().expect("four bytes")) as usize;
    let message = &message[..len.min(message.len())];
    let encoding = parts
        .headers
        .get("grpc-encoding")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let inflated = match (flag, encoding.as_deref()) {
        (0, _) => std::borrow::Cow::Borrowed(message),
        (_, Some("gzip")) => crate::ingest::inflate(Some("gzip"), message, state.body_limit)?,
        // An encoding we do not take: tonic answers it.
        _ => {
            return Ok((
                axum::extract::Request::from_parts(parts, bytes.into()),
                None,
            ))
        }
    };
    let cost = wire::protobuf_cost(&inflated, root)? + inflated.len();
    let permit = state.decoding.take(cost)?;
    let body = if flag == 0 {
        bytes
    } else {
        parts.headers.remove("grpc-encoding");
        let mut frame = Vec::with_capacity(5 + inflated.len());
        frame.push(0);
        frame.extend_from_slice(&(inflated.len() as u32).to_be_bytes());
        frame.extend_from_slice(&inflated);
        frame.into()
    };
    Ok((
        axum::extract::Request::from_parts(parts, axum::body::Body::from(body)),
        Some(permit),
    ))
}

/// Runs one call through a generated service.
async fn grpc_call<S>(service: S, req: axum::extract::Request) -> Response
where
    S: tower::Service<
        axum::extract::Request,
        Response = http::Response<tonic::body::Body>,
        Error = std::convert::Infallible,
    >,
{
    use tower::ServiceExt;
    match service.oneshot(req).await {
        Ok(response) => response.map(axum::body::Body::new),
        Err(never) => match never {},
    }
}

struct Grpc {
    state: AppState,
    me: crate::auth::Caller,
}

impl Grpc {
    /// Writes the events; what PostgreSQL refused joins the request's rejections.
    async fn write(
        &self,
        events: Vec<store::events::Event>,
        rejected: &mut otlp::Rejected,
    ) -> Result<(), tonic::Status> {
        let written = async {
            let tenant = self.me.tenant()?;
            admit_events(&self.state, &self.me, events.len()).await?;
            self.state.writer.submit(tenant.scope(), events).await
        };
        let receipt = written.await.map_err(|e| e.grpc_status())?;
        rejected.unstorable(&receipt);
        Ok(())
    }
}

#[tonic::async_trait]
impl opentelemetry_proto::tonic::collector::logs::v1::logs_service_server::LogsService for Grpc {
    async fn export(
        &self,
        request: tonic::Request<
            opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest,
        >,
    ) -> Result<
        tonic::Response<opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceResponse>,
        tonic::Status,
    > {
        let (events, mut rejected) =
            otlp::log_events(request.get_ref(), self.me.user_id, Utc::now());
        self.write(events, &mut rejected).await?;
        Ok(tonic::Response::new(otlp::logs_answer(&rejected)))
    }
}

#[tonic::async_trait]
impl opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::MetricsService
    for Grpc
{
    async fn export(
        &self,
        request: tonic::Request<
            opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest,
        >,
    ) -> Result<
        tonic::Response<
            opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceResponse,
        >,
        tonic::Status,
    > {
        let (events, mut rejected) =
            otlp::metric_events(request.get_ref(), self.me.user_id, Utc::now());
        self.write(events, &mut rejected).await?;
        Ok(tonic::Response::new(otlp::metrics_answer(&rejected)))
    }
}

#[derive(serde::Serialize)]
struct ItemResult {
    index: usize,
    status: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    errors: Vec<crate::error::FieldError>,
}

/// `POST /api/v1/ingest/batch`: a JSON array or NDJSON of items (hook bodies or typed items).
/// Good items are written even when others are rejected; each item's fate is in the answer.
/// With `Idempotency-Key`, a retry of the same body replays the first answer.
pub async fn batch(
    State(state): State<AppState>,
    Extension(me): Me,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let tenant = me.tenant()?;
    admit_request(&state, &me).await?;
    let content_type = header_str(&headers, header::CONTENT_TYPE)
        .map(|c| c.split(';').next().unwrap_or("").trim().to_string());
    let body = crate::ingest::inflate(
        header_str(&headers, header::CONTENT_ENCODING),
        &body,
        state.body_limit,
    )?;
    let _decoding = state.decoding.take(wire::json_cost(&body)?)?;
    let too_many = || {
        ApiError::field(
            "",
            format!("a batch holds at most {} items", state.batch_max_items),
        )
    };
    let items: Vec<Result<serde_json::Value, String>> = match content_type.as_deref() {
        Some("application/json") => serde_json::from_slice::<Vec<serde_json::Value>>(&body)
            .map_err(|e| ApiError::Malformed(format!("the body is not a JSON array: {e}")))?
            .into_iter()
            .map(Ok)
            .collect(),
        Some("application/x-ndjson") | Some("application/jsonl") => {
            let lines = || {
                body.split(|b| *b == b'\n')
                    .filter(|line| !line.iter().all(u8::is_ascii_whitespace))
            };
            // Counted before any line is parsed.
            if lines().count() > state.batch_max_items {
                return Err(too_many());
            }
            lines()
                .map(|line| serde_json::from_slice(line).map_err(|e| format!("not JSON: {e}")))
                .collect()
        }
        _ => {
            return Err(ApiError::UnsupportedMediaType(
                "send a JSON array (application/json) or NDJSON (application/x-ndjson)".into(),
            ))
        }
    };
    if items.len() > state.batch_max_items {
        return Err(too_many());
    }
    let import = import_batch(&state, &me, &headers).await?;
    let idempotency = match headers.get("idempotency-key") {
        None => None,
        Some(v) => match v.to_str() {
            Ok(k) if !k.is_empty() && k.len() <= 200 => Some(k.to_string()),
            _ => {
                return Err(ApiError::field(
                    "/Idempotency-Key",
                    "must be 1 to 200 visible ASCII characters",
                ))
            }
        },
    };
    // A replay is answered before the event bucket is charged: it writes nothing.
    if let Some(key) = &idempotency {
        use store::idempotency::{claim, Claim};
        let hash = store::secrets::sha256(&String::from_utf8_lossy(&body));
        let mut tx = state.store.tenant_tx(tenant.scope()).await?;
        let claimed = claim(&mut tx, me.user_id, key, &hash).await?;
        tx.commit().await?;
        match claimed {
            Claim::Run => {}
            Claim::Replay { status, response } => {
                let status = StatusCode::from_u16(status as u16).unwrap_or(StatusCode::OK);
                let mut r = (status, axum::Json(response)).into_response();
                r.headers_mut()
                    .insert("idempotent-replayed", "true".parse().expect("ascii"));
                return Ok(r);
            }
            Claim::Mismatch => {
                return Err(ApiError::field(
                    "/Idempotency-Key",
                    "was used before with a different body",
                ))
            }
            Claim::InFlight => {
                return Err(ApiError::Store(store::Error::Conflict(
                    "a request with this Idempotency-Key is still in flight".into(),
                )))
            }
        }
    }
    let result = match admit_events(&state, &me, items.len()).await {
        Ok(()) => {
            write_batch(&state, &me, items, |event| {
                if let Some(batch) = import {
                    event.source = store::events::Source::Import;
                    event.import_batch = Some(batch.0);
                }
            })
            .await
        }
        Err(e) => Err(e),
    };
    if let Some(key) = &idempotency {
        let mut tx = state.store.tenant_tx(tenant.scope()).await?;
        match &result {
            Ok(answer) => {
                store::idempotency::complete(&mut tx, me.user_id, key, 200, answer).await?
            }
            Err(_) => store::idempotency::release(&mut tx, me.user_id, key).await?,
        }
        tx.commit().await?;
    }
    Ok(axum::Json(result?).into_response())
}

/// `Devpulse-Import-Batch: <id>` files the items under one of the caller's open import
/// batches (`POST /api/v1/imports`), so `DELETE /api/v1/imports/{id}` can take them out again.
async fn import_batch(
    state: &AppState,
    me: &crate::auth::Caller,
    headers: &HeaderMap,
) -> Result<Option<store::imports::ImportId>, ApiError> {
    let Some(value) = headers.get("devpulse-import-batch") else {
        return Ok(None);
    };
    let id = value
        .to_str()
        .ok()
        .and_then(|v| uuid::Uuid::parse_str(v.trim()).ok())
        .map(store::imports::ImportId)
        .ok_or_else(|| ApiError::field("/Devpulse-Import-Batch", "must be an import batch id"))?;
    let mut tx = state.store.tenant_tx(me.tenant()?.scope()).await?;
    store::imports::open_for_writes(&mut tx, me.user_id, id).await?;
    tx.commit().await?;
    Ok(Some(id))
}

/// Parses and writes batch items; `file` marks each accepted event (its source, its import
/// batch). Answers with each item's fate.
pub async fn write_batch(
    state: &AppState,
    me: &crate::auth::Caller,
    items: Vec<Result<serde_json::Value, String>>,
    file: impl Fn(&mut store::events::Event),
) -> Result<serde_json::Value, ApiError> {
    let now = Utc::now();
    let mut results = Vec::with_capacity(items.len());
    let mut events = Vec::new();
    let mut positions = Vec::new();
    for (index, item) in items.into_iter().enumerate() {
        let parsed = item
            .map_err(|detail| {
                vec![crate::error::FieldError {
                    pointer: String::new(),
                    detail,
                }]
            })
            .and_then(|v| crate::ingest::batch::parse_item(v, me.user_id, now));
        match parsed {
            Ok(mut event) => {
                file(&mut event);
                positions.push(index);
                events.push(event);
                results.push(ItemResult {
                    index,
                    status: "accepted",
                    errors: Vec::new(),
                });
            }
            Err(errors) => results.push(ItemResult {
                index,
                status: "rejected",
                errors: errors
                    .into_iter()
                    .map(|e| crate::error::FieldError {
                        pointer: format!("/{index}{}", e.pointer),
                        detail: e.detail,
                    })
                    .collect(),
            }),
        }
    }
    let receipt = state.writer.submit(me.tenant()?.scope(), events).await?;
    for (pos, fate) in positions.into_iter().zip(receipt.fates) {
        match fate {
            Fate::New => {}
            Fate::Duplicate => results[pos].status = "duplicate",
            Fate::Unstorable(detail) => {
                results[pos].status = "rejected";
                results[pos].errors.push(crate::error::FieldError {
                    pointer: format!("/{pos}"),
                    detail,
                });
            }
        }
    }
    let count = |s: &str| results.iter().filter(|r| r.status == s).count();
    Ok(serde_json::json!({
        "accepted": count("accepted"),
        "duplicates": count("duplicate"),
        "rejected": count("rejected"),
        "items": results,
    }))
}
