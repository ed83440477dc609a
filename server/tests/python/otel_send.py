"""Sends Claude Code-shaped metrics and events to devpulse with the real OpenTelemetry SDK.

Usage: send.py <base url> <api key> <protobuf|json|grpc> <session prefix>

`grpc` uses the OTLP/gRPC exporters (plaintext HTTP/2) against <base url>'s host and port.

Metrics use the SDK's default (cumulative) temporality and are exported twice, so the server
must turn cumulative sums into deltas. Session `<prefix>-counters` sends only counters;
session `<prefix>-events` sends api_request events as well (so its counters must not count).
"""
import sys
import time

from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource

base, key, encoding, prefix = sys.argv[1:5]
headers = {"Authorization": f"Bearer {key}"}
if encoding == "grpc":
    import grpc
    from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter as GrpcLogs
    from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import (
        OTLPMetricExporter as GrpcMetrics,
    )

    # gRPC metadata keys are lower case; gzip as Claude Code's exporter may send it.
    options = dict(endpoint=base, insecure=True, headers=(("authorization", f"Bearer {key}"),),
                   compression=grpc.Compression.Gzip)
    metric_exporter, log_exporter = GrpcMetrics(**options), GrpcLogs(**options)
else:
    if encoding == "protobuf":
        from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    else:
        from opentelemetry.exporter.otlp.json.http._log_exporter import OTLPLogExporter
        from opentelemetry.exporter.otlp.json.http.metric_exporter import OTLPMetricExporter
    metric_exporter = OTLPMetricExporter(endpoint=f"{base}/v1/metrics", headers=headers)
    log_exporter = OTLPLogExporter(endpoint=f"{base}/v1/logs", headers=headers)

resource = Resource.create({"service.name": "claude-code", "service.version": "2.0.14"})
reader = PeriodicExportingMetricReader(metric_exporter, export_interval_millis=3_600_000)
meters = MeterProvider(resource=resource, metric_readers=[reader])
meter = meters.get_meter("com.anthropic.claude_code")
sessions = meter.create_counter("claude_code.session.count")
tokens = meter.create_counter("claude_code.token.usage", unit="tokens")
cost = meter.create_counter("claude_code.cost.usage", unit="USD")
lines = meter.create_counter("claude_code.lines_of_code.count")

counters, events = f"{prefix}-counters", f"{prefix}-events"
model = "claude-sonnet-4-5-20250929"
for s in (counters, events):
    sessions.add(1, {"session.id": s, "start_type": "fresh"})
    tokens.add(1000, {"session.id": s, "type": "input", "model": model})
    tokens.add(200, {"session.id": s, "type": "output", "model": model})
    cost.add(0.25, {"session.id": s, "model": model})
lines.add(10, {"session.id": counters, "type": "added", "model": model})
if not reader.force_flush():
    sys.exit("first metrics export failed")
# A second export of the same cumulative series: only the increase may count.
tokens.add(500, {"session.id": counters, "type": "input", "model": model})
cost.add(0.5, {"session.id": counters, "model": model})
lines.add(5, {"session.id": counters, "type": "added", "model": model})
if not reader.force_flush():
    sys.exit("second metrics export failed")

logs = LoggerProvider(resource=resource)
logs.add_log_record_processor(SimpleLogRecordProcessor(log_exporter))
logger = logs.get_logger("com.anthropic.claude_code")
now = time.time_ns()
for i in range(2):
    logger.emit(
        timestamp=now + i,
        body="claude_code.api_request",
        attributes={
            "session.id": events, "event.name": "api_request", "model": model,
            "request_id": f"{prefix}-req-{i}", "input_tokens": "100", "output_tokens": "50",
            "cache_read_tokens": "0", "cache_creation_tokens": "0", "cost_usd": "0.01",
            "duration_ms": "900",
        },
    )
logger.emit(
    timestamp=now + 5,
    body="claude_code.tool_result",
    attributes={
        "session.id": events, "event.name": "tool_result", "tool_name": "Bash",
        "tool_use_id": f"{prefix}-tool-1", "success": "false", "duration_ms": "1200",
    },
)
if not logs.force_flush():
    sys.exit("logs export failed")
meters.shutdown()
logs.shutdown()
print("sent")
