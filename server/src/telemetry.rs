//! Trace export, when asked for: with `OTEL_EXPORTER_OTLP_ENDPOINT` (or
//! `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) set, every span the server opens (a request, the API
//! handler under it, the store's reads and writes under that) also goes to that OTLP/gRPC
//! collector, as service `OTEL_SERVICE_NAME` (default `devpulse`). Logs stay on stderr.
//!
//! The SDK's default batch processor exports from a thread of its own, where tonic finds no
//! Tokio reactor and the spans are dropped; this one batches on the server's runtime, so
//! [`Exporter::start`] must run inside it and [`Exporter::shutdown`] outside any task.

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::{
    runtime::Tokio,
    trace::{span_processor_with_async_runtime::BatchSpanProcessor, SdkTracerProvider},
    Resource,
};

/// Where spans go, from the environment the OpenTelemetry SDKs all read.
pub fn endpoint(get: impl Fn(&str) -> Option<String>) -> Option<String> {
    [
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
    ]
    .into_iter()
    .filter_map(|k| get(k).filter(|v| !v.trim().is_empty()))
    .next()
}

/// The running export; flushes what is batched when shut down.
pub struct Exporter {
    provider: SdkTracerProvider,
}

impl Exporter {
    /// Starts exporting to `endpoint`; the tracing layer goes into the subscriber.
    pub fn start<S>(
        endpoint: &str,
        service: String,
    ) -> Result<
        (
            Exporter,
            tracing_opentelemetry::OpenTelemetryLayer<S, opentelemetry_sdk::trace::Tracer>,
        ),
        String,
    >
    where
        S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    {
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .with_endpoint(endpoint)
            .build()
            .map_err(|e| format!("OTLP trace exporter for {endpoint}: {e}"))?;
        let provider = SdkTracerProvider::builder()
            .with_span_processor(BatchSpanProcessor::builder(exporter, Tokio).build())
            .with_resource(Resource::builder().with_service_name(service).build())
            .build();
        let tracer = provider.tracer("devpulse");
        Ok((
            Exporter { provider },
            tracing_opentelemetry::layer().with_tracer(tracer),
        ))
    }

    /// Sends what is still batched. Blocks: call it outside the runtime's tasks.
    pub fn shutdown(self) {
        if let Err(e) = self.provider.shutdown() {
            eprintln!("devpulse: flushing traces: {e}");
        }
    }
}
