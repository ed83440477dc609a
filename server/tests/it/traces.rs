//! Trace export: the real binary, told `OTEL_EXPORTER_OTLP_ENDPOINT`, sends its spans over
//! OTLP/gRPC to a collector this test runs (the generated TraceService behind an axum
//! server): a request's span, the API handler's under it with the same trace, and the
//! store's read under that, with the request id the answer carried.

use std::{
    process::Stdio,
    time::{Duration, Instant},
};

use opentelemetry_proto::tonic::{
    collector::trace::v1::{
        trace_service_server::{TraceService, TraceServiceServer},
        ExportTraceServiceRequest, ExportTraceServiceResponse,
    },
    common::v1::any_value::Value as AnyValue,
    trace::v1::Span,
};
use serde_json::{json, Value};
use store::testing::TestDb;
use tokio::sync::mpsc;

struct Collector(mpsc::UnboundedSender<(String, Span)>);

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        for resource in request.into_inner().resource_spans {
            let service = resource
                .resource
                .iter()
                .flat_map(|r| &r.attributes)
                .find(|a| a.key == "service.name")
                .and_then(|a| match a.value.as_ref()?.value.as_ref()? {
                    AnyValue::StringValue(s) => Some(s.clone()),
                    _ => None,
                })
                .unwrap_or_default();
            for scope in resource.scope_spans {
                for span in scope.spans {
                    let _ = self.0.send((service.clone(), span));
                }
            }
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

fn attribute(span: &Span, key: &str) -> Option<String> {
    span.attributes.iter().find(|a| a.key == key).and_then(|a| {
        match a.value.as_ref()?.value.as_ref()? {
            AnyValue::StringValue(s) => Some(s.clone()),
            other => Some(format!("{other:?}")),
        }
    })
}

#[tokio::test]
async fn spans_reach_an_otlp_collector_from_request_to_store() {
    // The collector: gRPC over HTTP/2 without TLS, as the exporter speaks it.
    let (tx, mut spans) = mpsc::unbounded_channel();
    let service = TraceServiceServer::new(Collector(tx));
    let app = axum::Router::new().route_service(
        "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
        tower::ServiceExt::<axum::extract::Request>::map_response(
            service,
            |r: http::Response<tonic::body::Body>| r.map(axum::body::Body::new),
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let collector = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let db = TestDb::new().await;
    server::tenancy::seed_demo(&db.store, Some("demo-superadmin-pass".into()))
        .await
        .unwrap()
        .expect("fresh database");
    let (mut child, base) = crate::common::real_server(&db, |c| {
        c.env("OTEL_EXPORTER_OTLP_ENDPOINT", &collector)
            .env("OTEL_SERVICE_NAME", "devpulse-under-test")
            .env(
                "DEVPULSE_JWT_KEYS",
                "k1:traces-test-secret-0123456789abcdefghij",
            )
            .stderr(Stdio::null());
    });

    let http = reqwest::Client::new();
    let r = http
        .post(format!("{base}/api/v1/auth/login"))
        .json(
            &json!({ "tenant": "demo", "email": "admin@demo.test", "password": "demo-admin-pass" }),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let admin = r.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let r = http
        .get(format!("{base}/api/v1/dashboard/overview?range=7d"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let request_id = r.headers()["x-request-id"].to_str().unwrap().to_string();

    // The batch goes within seconds; wait for the three spans of that request.
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut seen: Vec<(String, Span)> = Vec::new();
    let found = loop {
        let request = seen.iter().find(|(_, s)| {
            s.name == "request" && attribute(s, "id").as_deref() == Some(request_id.as_str())
        });
        if let Some((_, request)) = request {
            let handler = seen.iter().find(|(_, s)| {
                s.name == "handler"
                    && s.trace_id == request.trace_id
                    && s.parent_span_id == request.span_id
            });
            if let Some((_, handler)) = handler {
                let store = seen.iter().find(|(_, s)| {
                    s.name == "store.dashboard"
                        && s.trace_id == request.trace_id
                        && s.parent_span_id == handler.span_id
                });
                if let Some((_, store)) = store {
                    break Some((request.clone(), handler.clone(), store.clone()));
                }
            }
        }
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, spans.recv()).await {
            Ok(Some(span)) => seen.push(span),
            _ => break None,
        }
    };
    child.kill().ok();
    child.wait().ok();
    let (request, handler, store) = found.unwrap_or_else(|| {
        panic!(
            "no request → handler → store spans for {request_id}; got {:?}",
            seen.iter().map(|(_, s)| &s.name).collect::<Vec<_>>()
        )
    });
    assert!(seen
        .iter()
        .all(|(service, _)| service == "devpulse-under-test"));
    assert_eq!(
        attribute(&handler, "handler").as_deref(),
        Some("dashboard::overview")
    );
    assert_eq!(attribute(&store, "answer").as_deref(), Some("overview"));
    assert!(request.end_time_unix_nano >= handler.end_time_unix_nano);
    assert!(handler.end_time_unix_nano >= store.end_time_unix_nano);
}
