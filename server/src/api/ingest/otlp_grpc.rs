//! OTLP over gRPC: the generated tonic services behind the gate, with the decoding budget
//! applied before tonic decodes anything.

use axum::{extract::State, response::Response, Extension};
use chrono::Utc;

use crate::{
    api::extract::Me,
    auth::Caller,
    error::ApiError,
    ingest::{
        self,
        admit::{admit_events, admit_request},
        otlp, rejections, wire,
    },
    state::AppState,
};

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
    let grpc = crate::error::is_grpc(req.headers());
    let (req, _decoding) = match grpc_admit(&state, &me, req, wire::Root::Logs).await {
        Ok(admitted) => admitted,
        Err(e) => return e.in_protocol(grpc),
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
    let grpc = crate::error::is_grpc(req.headers());
    let (req, _decoding) = match grpc_admit(&state, &me, req, wire::Root::Metrics).await {
        Ok(admitted) => admitted,
        Err(e) => return e.in_protocol(grpc),
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
    me: &Caller,
    req: axum::extract::Request,
    root: wire::Root,
) -> Result<
    (
        axum::extract::Request,
        Option<tokio::sync::OwnedSemaphorePermit>,
    ),
    ApiError,
> {
    // gRPC-Web carries its status in the body, which these services do not write: its
    // callers are told to use gRPC, or OTLP/HTTP at /v1/logs and /v1/metrics.
    if !crate::error::is_grpc(req.headers()) {
        return Err(ApiError::UnsupportedMediaType(
            "send application/grpc (gRPC-Web is not served; OTLP/HTTP is at /v1/logs and \
             /v1/metrics)"
                .into(),
        ));
    }
    admit_request(&state.ingest_limits, me).await?;
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
        (_, Some("gzip")) => ingest::inflate(Some("gzip"), message, state.body_limit)?,
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
    me: Caller,
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
            admit_events(&self.state.ingest_limits, &self.me, events.len()).await?;
            self.state.writer.submit(tenant.scope(), events).await
        };
        let receipt = written.await.map_err(|e| e.grpc_status())?;
        rejected.unstorable(&receipt);
        if let Ok(tenant) = self.me.tenant() {
            let count = rejected.count.max(0) as u64;
            self.state
                .rejections
                .record(tenant.scope(), rejections::OTLP_RECORDS, count);
        }
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
