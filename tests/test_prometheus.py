"""Real receivers of what `serve --http --sandbox` emits (#30): a real Prometheus (Debian's package)
scrapes it on loopback with a client token of its own, and PromQL over what it stored answers what
the calls did (item 3); the same server logs JSON (item 5): every stderr line is one object, the
audit line with its fields; and an OTLP/HTTP receiver gets its spans, set by the OTEL_* variables
alone (item 4)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest

from nexudus_identity_mcp.sandbox.loopback import LOOPBACK, free_port
from nexudus_identity_mcp.tools.catalog import GET_TOOL, UPDATE_TOOL

from .debian_packages import need
from .helpers import CHECK, body, required_from
from .test_http import mcp_client

pytestmark = pytest.mark.slow
PROMETHEUS_TOKEN = "prometheus-token-3c9e1a7f5b2d"
DESK_TOKEN = "desk-token-5f2a9c1e7b3d"


def wait_until(what: str, seconds: float, probe: Any) -> Any:
    """`probe()` until it returns something truthy, for at most `seconds` (a bounded wait)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            found = probe()
        except httpx2.HTTPError:
            found = None
        if found:
            return found
        assert time.monotonic() < deadline, f"{what} did not happen within {seconds:g} s"
        time.sleep(0.2)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEXUDUS_", "OTEL_"))}
    env.update(
        NEXUDUS_MCP_CLIENT_TOKENS=f"prometheus={PROMETHEUS_TOKEN},desk={DESK_TOKEN}",
        NEXUDUS_MCP_METRICS="on",
        NEXUDUS_MCP_LOG_FORMAT="json",
        NEXUDUS_MCP_SECRET="prometheus-test",
    )
    log = tmp_path / "server.log"
    with log.open("wb") as errors:
        process = subprocess.Popen(
            [sys.executable, "-m", "nexudus_identity_mcp", "serve", "--http", "--sandbox", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=errors,
        )
    url = f"http://{LOOPBACK}:{port}"
    try:
        wait_until("the server's /healthz", 30, lambda: httpx2.get(f"{url}/healthz", timeout=1).status_code == 200)
        yield url, log
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def prometheus(server: tuple[str, Path], tmp_path: Path) -> Iterator[str]:
    binary = need("prometheus", "prometheus")
    url, _ = server
    target = url.removeprefix("http://")
    (tmp_path / "token").write_text(PROMETHEUS_TOKEN)
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 1s, scrape_timeout: 1s}\n"
        "scrape_configs:\n"
        "  - job_name: mcp\n"
        f"    authorization: {{credentials_file: {tmp_path / 'token'}}}\n"
        f"    static_configs: [{{targets: ['{target}']}}]\n"
    )
    port = free_port()
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address={LOOPBACK}:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "prometheus.log").open("wb"),
    )
    api = f"http://{LOOPBACK}:{port}"
    try:
        wait_until("Prometheus's readiness", 60, lambda: httpx2.get(f"{api}/-/ready", timeout=1).status_code == 200)
        yield api
    finally:
        process.terminate()
        process.wait(timeout=20)


def query(api: str, promql: str) -> list[dict[str, Any]]:
    answer = httpx2.get(f"{api}/api/v1/query", params={"query": promql}, timeout=5).json()
    assert answer["status"] == "success", answer
    result: list[dict[str, Any]] = answer["data"]["result"]
    return result


def test_prometheus_scrapes_the_server_and_promql_answers(server: tuple[str, Path], prometheus: str) -> None:
    url, log = server

    async def calls() -> None:
        async with mcp_client(url, "legacy", token=DESK_TOKEN) as client:
            record = body(await client.call_tool(GET_TOOL, {"Id": CHECK}), GET_TOOL)["Record"]
            updated = await client.call_tool(UPDATE_TOOL, {**required_from(record), "Description": "Scraped"})
            assert not updated.is_error
            assert (await client.call_tool(GET_TOOL, {"Id": 999})).is_error

    anyio.run(calls)
    # The target is up (the token was accepted), then the counts arrive with the next scrape.
    wait_until("an up target", 30, lambda: query(prometheus, 'up{job="mcp"} == 1'))
    by_outcome = wait_until(
        "the tool calls in PromQL",
        30,
        lambda: (
            {
                (r["metric"]["tool"], r["metric"]["outcome"]): float(r["value"][1])
                for r in query(prometheus, "sum by (tool, outcome) (nexudus_mcp_tool_calls_total)")
            }
            or None
        ),
    )
    assert by_outcome == {(GET_TOOL, "ok"): 1.0, (GET_TOOL, "not_found"): 1.0, (UPDATE_TOOL, "ok"): 1.0}
    writes = query(prometheus, 'sum(nexudus_mcp_upstream_requests_total{route="update", status="200"})')
    assert float(writes[0]["value"][1]) == 1.0
    p99 = query(prometheus, "histogram_quantile(0.99, sum by (le) (nexudus_mcp_upstream_request_seconds_bucket))")
    assert 0 < float(p99[0]["value"][1]) < 20
    series = query(prometheus, '{__name__=~"nexudus_mcp_.*"}')
    labels = {k: v for s in series for k, v in s["metric"].items() if k not in ("__name__", "instance", "job")}
    assert str(CHECK) not in json.dumps(labels) and "desk" not in json.dumps(series)

    lines = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    audits = [line["audit"] for line in lines if line["logger"] == "nexudus_identity_mcp.audit"]
    assert audits == [
        {"action": "update", "client": "desk", "check": CHECK, "fields": ["Description"], "outcome": "updated"}
    ]
    assert all({"time", "level", "logger", "pid", "message"} <= set(line) for line in lines)
    assert PROMETHEUS_TOKEN not in log.read_text() and DESK_TOKEN not in log.read_text()


def test_traces_reach_an_otlp_receiver_named_by_the_standard_variables(tmp_path: Path) -> None:
    """`serve --http --sandbox` with OTEL_EXPORTER_OTLP_ENDPOINT and OTEL_SERVICE_NAME set (the otel
    extra installed): its spans arrive over OTLP/HTTP at a receiver on loopback, decoded with the
    protocol's own messages, the tool span under the SDK's tools/call span."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    received: list[ExportTraceServiceRequest] = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            message = ExportTraceServiceRequest()
            message.ParseFromString(self.rfile.read(int(self.headers["Content-Length"])))
            if self.path == "/v1/traces":
                received.append(message)
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    collector = ThreadingHTTPServer((LOOPBACK, 0), Receiver)
    threading.Thread(target=collector.serve_forever, daemon=True).start()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEXUDUS_", "OTEL_"))}
    env.update(
        OTEL_EXPORTER_OTLP_ENDPOINT=f"http://{LOOPBACK}:{collector.server_port}",
        OTEL_SERVICE_NAME="identity-mcp-under-test",
        OTEL_BSP_SCHEDULE_DELAY="200",
        NEXUDUS_MCP_CLIENT_TOKENS=f"desk={DESK_TOKEN}",
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "nexudus_identity_mcp", "serve", "--http", "--sandbox", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://{LOOPBACK}:{port}"
    try:
        wait_until("the server's /healthz", 30, lambda: httpx2.get(f"{url}/healthz", timeout=1).status_code == 200)

        async def call() -> None:
            async with mcp_client(url, "legacy", token=DESK_TOKEN) as client:
                assert not (await client.call_tool(GET_TOOL, {"Id": CHECK})).is_error

        anyio.run(call)

        def spans() -> dict[str, Any]:
            found = {}
            for message in received:
                for resource in message.resource_spans:
                    service = {a.key: a.value.string_value for a in resource.resource.attributes}["service.name"]
                    for scope in resource.scope_spans:
                        for span in scope.spans:
                            found[span.name] = (service, span)
            # The SDK's tools/call span ends after ours and may reach the receiver in a later export.
            wanted = (f"tool {GET_TOOL}", f"tools/call {GET_TOOL}", "nexudus get")
            return found if all(name in found for name in wanted) else {}

        found = wait_until("the spans at the OTLP receiver", 30, spans)
    finally:
        process.terminate()
        process.wait(timeout=10)
        collector.shutdown()
    service, tool = found[f"tool {GET_TOOL}"]
    _, sdk = found[f"tools/call {GET_TOOL}"]
    _, upstream = found["nexudus get"]
    assert service == "identity-mcp-under-test"
    assert tool.parent_span_id == sdk.span_id and upstream.parent_span_id == tool.span_id
    assert tool.trace_id == sdk.trace_id == upstream.trace_id
    shown = str([(s.name, list(s.attributes)) for _, s in found.values()])
    assert str(CHECK) not in shown and DESK_TOKEN not in shown
