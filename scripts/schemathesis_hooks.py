"""Hooks for the schemathesis run (scripts/schemathesis.sh).

The OTLP/HTTP routes take protobuf, which schemathesis cannot serialise by itself: the
fuzzer's bytes go out as they are, and the server must refuse what does not decode as an
OTLP export request with a 4xx problem, never a 5xx.
"""

import schemathesis


@schemathesis.serializer("application/x-protobuf")
def protobuf(ctx, value):
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8", "surrogatepass")
    return repr(value).encode()
