"""What the OTLP/gRPC receiver answers to calls it must refuse, seen by the real grpcio client.

Usage: grpc_refusals.py <host:port> <api key>
Prints one JSON object: case -> [gRPC status code name, details].
"""
import json
import sys

import grpc

target, key = sys.argv[1:3]
channel = grpc.insecure_channel(target)
logs = channel.unary_unary(
    "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
    request_serializer=lambda b: b,
    response_deserializer=lambda b: b,
)
auth = (("authorization", f"Bearer {key}"),)


def nest(field, body):
    """`body` as length-delimited field `field` of an enclosing message."""
    out, n = bytearray([field << 3 | 2]), len(body)
    while n >= 0x80:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out) + body


# 4 million empty log records: 8 MB on the wire, gigabytes once decoded.
amplified = nest(1, nest(2, b"\x12\x00" * 4_000_000))
cases = {
    "no key": (b"", ()),
    "wrong key": (b"", (("authorization", "Bearer dp_nope_nope"),)),
    # Field 1 (resource_logs), length-delimited, declares 100 bytes and carries 2.
    "truncated protobuf": (b"\x0a\x64\x0a\x00", auth),
    # 65 MiB of zeros, about 64 KiB once gzipped: past the body limit the server inflates to.
    "gzip bomb": (bytes(65 * 1024 * 1024), auth),
    "amplified": (amplified, auth),
    # The same behind an empty group (field 15), which prost skips: still costed.
    "amplified after a group": (b"\x7b\x7c" + amplified, auth),
    # Past the body limit (10 MiB) as it arrives (grpcio declares no length, so the
    # receiver's own read stops at the limit), refused before anything decodes it.
    "over the body limit": (bytes(11 * 1024 * 1024), auth),
    # An empty export is valid: nothing to store, and success.
    "empty export": (b"", auth),
}
codes = {}
for name, (body, metadata) in cases.items():
    try:
        gzip = grpc.Compression.Gzip if name == "gzip bomb" else grpc.Compression.NoCompression
        logs(body, metadata=metadata, timeout=30, compression=gzip)
        codes[name] = ["OK", ""]
    except grpc.RpcError as e:
        codes[name] = [e.code().name, e.details()]
print(json.dumps(codes))
