"""The official MCP Python client against devpulse, over Streamable HTTP or stdio.

    mcp_client.py http  <server base URL> <api key> <session id>
    mcp_client.py stdio <devpulse binary>          <session id>   (env: the laptop's HOME etc.)

Lists the tools, resources and prompt, calls every tool (recording a session with two tool
runs, one failed), tries bad arguments, and prints one JSON line with what it saw and the
round-trip times, for server/tests/mcp.rs to check against the server's data.
"""

import json
import os
import sys
import time

import anyio
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

TOOLS = {
    "record_session_start",
    "record_session_end",
    "record_tool_usage",
    "get_session_metrics",
    "get_tool_metrics",
    "query_dashboard",
}


def text_of(result):
    return "".join(getattr(c, "text", "") for c in result.content)


async def exercise(session: ClientSession, sid: str) -> dict:
    timings = []

    async def call(name, args):
        started = time.perf_counter()
        result = await session.call_tool(name, args)
        timings.append((time.perf_counter() - started) * 1000)
        return result

    await session.initialize()
    out = {}
    tools = (await session.list_tools()).tools
    out["tools"] = sorted(t.name for t in tools)
    missing = TOOLS - set(out["tools"])
    assert not missing, f"tools missing: {missing}"
    for t in tools:
        assert t.input_schema.get("type") == "object", (t.name, t.input_schema)

    r = await call("record_session_start", {"session_id": sid, "cwd": "/home/dev/shop", "git_branch": "main"})
    assert not r.is_error, text_of(r)
    r = await call("record_tool_usage", {"session_id": sid, "tool_name": "Bash", "duration_ms": 1200})
    assert not r.is_error, text_of(r)
    r = await call("record_tool_usage", {"session_id": sid, "tool_name": "Edit", "success": False, "duration_ms": 40})
    assert not r.is_error, text_of(r)
    r = await call("record_session_end", {"session_id": sid, "reason": "logout"})
    assert not r.is_error, text_of(r)

    r = await call("get_session_metrics", {"session_id": sid})
    out["session"] = text_of(r)
    out["session_error"] = bool(r.is_error)
    r = await call("get_tool_metrics", {"timeframe": "24h"})
    assert not r.is_error, text_of(r)
    out["tools_text"] = text_of(r)
    r = await call("query_dashboard", {"timeframe": "24h", "format": "json"})
    assert not r.is_error, text_of(r)
    out["dashboard"] = text_of(r)
    r = await call("query_dashboard", {"timeframe": "7d", "metrics": ["tool_executions", "tool_failures"]})
    assert not r.is_error, text_of(r)
    out["dashboard_markdown"] = text_of(r)

    # Bad arguments are MCP errors naming the field, and the server stays up.
    bad = {}
    for name, args in [
        ("query_dashboard", {"timeframe": "2y"}),
        ("query_dashboard", {"timeframe": "24h", "metrics": ["happiness"]}),
        ("record_session_start", {}),
        ("get_session_metrics", {"limit": 1000}),
    ]:
        try:
            r = await session.call_tool(name, args)
            bad[f"{name} {json.dumps(args)}"] = {"error": bool(r.is_error), "text": text_of(r)}
        except Exception as e:  # a protocol error is an acceptable answer too
            bad[f"{name} {json.dumps(args)}"] = {"error": True, "text": str(e)}
    out["bad"] = bad

    resources = (await session.list_resources()).resources
    out["resources"] = sorted(str(r.uri) for r in resources)
    summary = await session.read_resource("devpulse://summary/current")
    out["summary_resource"] = "".join(getattr(c, "text", "") for c in summary.contents)
    prompts = (await session.list_prompts()).prompts
    out["prompts"] = [p.name for p in prompts]
    prompt = await session.get_prompt("analyze-productivity", {"timeframe": "24h"})
    out["prompt_messages"] = len(prompt.messages)

    timings.sort()
    out["round_trip_ms"] = {
        "calls": len(timings),
        "p50": timings[len(timings) // 2],
        "p99": timings[min(len(timings) - 1, int(len(timings) * 0.99))],
    }
    return out


async def over_http(base: str, key: str, sid: str) -> dict:
    http = create_mcp_http_client(headers={"Authorization": f"Bearer {key}"})
    async with http:
        async with streamable_http_client(base.rstrip("/") + "/mcp", http_client=http) as streams:
            read, write = streams[0], streams[1]
            async with ClientSession(read, write) as session:
                return await exercise(session, sid)


async def over_stdio(binary: str, sid: str) -> dict:
    params = StdioServerParameters(command=binary, args=["mcp"], env=dict(os.environ))
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            return await exercise(session, sid)


def main():
    mode = sys.argv[1]
    if mode == "http":
        out = anyio.run(over_http, sys.argv[2], sys.argv[3], sys.argv[4])
    elif mode == "stdio":
        out = anyio.run(over_stdio, sys.argv[2], sys.argv[3])
    else:
        raise SystemExit(f"unknown mode {mode}")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
