"""What an operator watches (#30): /metrics behind /mcp's authentication or on a loopback port of its
own, with bounded labels and no personal data; sign-ins and refusals counted by reason; OpenTelemetry
spans per tool call and API request inside the client's own trace (the SDK's in-memory exporter);
JSON log lines, audit lines included, scrubbed like the text ones. The real Prometheus scraping a
server is in test_prometheus.py."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from typing import Any

import httpx2
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from nexudus_identity_mcp.logs import configure_logging
from nexudus_identity_mcp.mcpserver.http_app import create_app
from nexudus_identity_mcp.nexudus.budget import RequestBudget
from nexudus_identity_mcp.record.redaction import Redactor, parse_categories
from nexudus_identity_mcp.sandbox import Sandbox
from nexudus_identity_mcp.sandbox.loopback import LOOPBACK, ServedApp, free_port
from nexudus_identity_mcp.sandbox.state import STAFF_PASSWORD
from nexudus_identity_mcp.settings import MetricsSetting, Rate, SettingsError, read_settings
from nexudus_identity_mcp.state import StateStore
from nexudus_identity_mcp.telemetry.jsonlog import JsonFormatter
from nexudus_identity_mcp.telemetry.metrics import METRICS, stop_metrics_port
from nexudus_identity_mcp.tools.catalog import GET_TOOL, UPDATE_TOOL
from nexudus_identity_mcp.tools.results import audit

from .conftest import settings_for
from .helpers import CHECK, body, required_from
from .signin_browser import sign_in
from .test_http import DESK_TOKEN, TOKENS, mcp_client
from .test_signin import ANA, BEN, authorize_url, register, signed_in
from .test_signin import SignInServer as SignInSite
from .test_signin import server as server  # the sign-in server fixture, reused
from .test_state import redis_server as redis_server  # the three stores (memory, SQLite, Redis), reused
from .test_state import store as store

pytestmark = pytest.mark.anyio
SAMPLE = re.compile(r"^(?P<name>[a-z_]+)(?:\{(?P<labels>[^}]*)\})? (?P<value>\S+)$", re.M)


def samples(text: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    """Every sample of `name` in a text exposition: {sorted label pairs: value}."""
    found = {}
    for match in SAMPLE.finditer(text):
        if match["name"] == name:
            labels = tuple(sorted(re.findall(r'(\w+)="([^"]*)"', match["labels"] or "")))
            found[labels] = float(match["value"])
    return found


def value(text: str, name: str, **labels: str) -> float:
    return samples(text, name).get(tuple(sorted(labels.items())), 0.0)


@pytest.fixture
def metrics_server(sandbox: Sandbox) -> Iterator[str]:
    app = create_app(
        settings_for(mcp_client_tokens=TOKENS, mcp_metrics="on"), transport=sandbox.transport(), host=LOOPBACK
    )
    with ServedApp(app, lifespan="auto") as served:
        yield served.url
    METRICS.enabled = False


def scrape(url: str, token: str | None = DESK_TOKEN) -> httpx2.Response:
    return httpx2.get(f"{url}/metrics", headers={"Authorization": f"Bearer {token}"} if token else {})


async def test_metrics_count_calls_upstream_requests_and_conflict_free_writes(
    metrics_server: str, sandbox: Sandbox
) -> None:
    before = scrape(metrics_server).text
    async with mcp_client(metrics_server, "legacy") as client:
        record = body(await client.call_tool(GET_TOOL, {"Id": CHECK}), GET_TOOL)["Record"]
        await client.call_tool(UPDATE_TOOL, {**required_from(record), "Description": "Metrics"})
        missing = await client.call_tool(GET_TOOL, {"Id": 999})
        assert missing.is_error
    after = scrape(metrics_server)
    assert after.status_code == 200 and after.headers["content-type"].startswith("text/plain")
    text = after.text
    calls = "nexudus_mcp_tool_calls_total"
    assert value(text, calls, tool=GET_TOOL, outcome="ok") - value(before, calls, tool=GET_TOOL, outcome="ok") == 1
    assert (
        value(text, calls, tool=GET_TOOL, outcome="not_found")
        - value(before, calls, tool=GET_TOOL, outcome="not_found")
        == 1
    )
    assert (
        value(text, calls, tool=UPDATE_TOOL, outcome="ok") - value(before, calls, tool=UPDATE_TOOL, outcome="ok") == 1
    )
    upstream = "nexudus_mcp_upstream_requests_total"
    assert (
        value(text, upstream, route="update", status="200") - value(before, upstream, route="update", status="200") == 1
    )
    assert value(text, upstream, route="get", status="404") > value(before, upstream, route="get", status="404")
    assert value(text, "nexudus_mcp_check_lock_wait_seconds_count", result="acquired") >= 1
    assert value(text, "nexudus_mcp_upstream_request_seconds_count", route="get") >= 3
    # No Id, no name, no value: every label value is one of the bounded sets.
    record_text = json.dumps(record)
    for labels in (dict(k) for name in ("nexudus_mcp_tool_calls_total", upstream) for k in samples(text, name)):
        for label in labels.values():
            assert label not in record_text or label in ("200",), label
    assert str(CHECK) not in text and "999" not in re.sub(r" \S+$", "", text, flags=re.M)
    assert "desk" not in text  # the client's name says who called: never a label


async def test_metrics_need_the_same_token_as_mcp(metrics_server: str) -> None:
    assert scrape(metrics_server, token=None).status_code == 401
    assert scrape(metrics_server, token="not-a-client-token-at-all").status_code == 401
    assert scrape(metrics_server).status_code == 200


def test_in_sign_in_mode_metrics_need_a_signed_in_token_as_mcp_does(sandbox: Sandbox, tmp_path: Any) -> None:
    from nexudus_identity_mcp.mcpserver import http_app

    port = free_port()
    settings = settings_for(
        mcp_auth="oauth", mcp_state_dir=str(tmp_path), mcp_secret="signin-test-secret", mcp_metrics="on"
    )
    app = http_app.create_app(
        settings, transport=sandbox.transport(), host=LOOPBACK, public_url=f"http://{LOOPBACK}:{port}"
    )
    try:
        with ServedApp(app, port=port, lifespan="auto") as served:
            site = SignInSite(served.url, sandbox, tmp_path)
            refused = scrape(served.url, token=None)
            assert refused.status_code == 401 and "www-authenticate" in refused.headers
            assert scrape(served.url, token="forged-access-token").status_code == 401
            access = signed_in(site, register(site))["access_token"]
            assert scrape(served.url, token=access).status_code == 200
    finally:
        METRICS.enabled = False


def test_metrics_off_serve_nothing_and_count_nothing(sandbox: Sandbox) -> None:
    app = create_app(settings_for(mcp_client_tokens=TOKENS), transport=sandbox.transport(), host=LOOPBACK)
    with ServedApp(app, lifespan="auto") as served:
        assert scrape(served.url).status_code == 404
    assert METRICS.enabled is False


def test_metrics_on_a_loopback_port_of_their_own(sandbox: Sandbox) -> None:
    port = free_port()
    app = create_app(settings_for(mcp_metrics=f"127.0.0.1:{port}"), transport=sandbox.transport(), host=LOOPBACK)
    try:
        with ServedApp(app, lifespan="auto") as served:
            assert httpx2.get(f"{served.url}/metrics").status_code == 404  # not on the MCP endpoint
            answer = httpx2.get(f"http://{LOOPBACK}:{port}/metrics")
            assert answer.status_code == 200 and "nexudus_mcp_tool_calls_total" in answer.text
    finally:
        stop_metrics_port()
        METRICS.enabled = False


def test_the_metrics_setting_names_what_it_accepts(monkeypatch: pytest.MonkeyPatch) -> None:
    assert MetricsSetting.parse("9464") == MetricsSetting("port", "127.0.0.1", 9464)
    assert MetricsSetting.parse("[::1]:9464") == MetricsSetting("port", "::1", 9464)
    assert MetricsSetting.parse("ON").mode == "on" and MetricsSetting.parse(None).mode == "off"
    for bad, said in (("0.0.0.0:9464", "not a loopback address"), ("sometimes", "is not off, on, or a port")):
        monkeypatch.setenv("NEXUDUS_MCP_METRICS", bad)
        with pytest.raises(SettingsError, match=said):
            read_settings()


def test_sign_ins_and_refusals_by_reason(server: Any) -> None:  # the imported fixture
    METRICS.enabled = True
    try:
        before = METRICS.exposition().decode()
        client = register(server)
        assert sign_in(authorize_url(server, client), ANA, STAFF_PASSWORD).code
        assert sign_in(authorize_url(server, client), BEN, "wrong").status == 401
        assert sign_in(authorize_url(server, client), ANA, STAFF_PASSWORD, tamper_csrf=True).status == 403
        text = METRICS.exposition().decode()
    finally:
        METRICS.enabled = False
    assert value(text, "nexudus_mcp_signins_total") - value(before, "nexudus_mcp_signins_total") == 1
    refusals = "nexudus_mcp_signin_refusals_total"
    for reason in ("wrong_credentials", "forged_form"):
        assert value(text, refusals, reason=reason) - value(before, refusals, reason=reason) == 1
    assert "ana.staff" not in text and "ben.staff" not in text


async def test_each_store_says_what_is_left_of_the_budget_and_the_gauge_shows_it(store: StateStore) -> None:
    rate = Rate(60, 60.0)  # capacity 10, refilled 50 a minute
    first = await store.take("reads:left", rate)
    second = await store.take("reads:left", rate)
    assert first == pytest.approx(9.0, abs=0.2) and second == pytest.approx(8.0, abs=0.2)
    METRICS.enabled = True
    try:
        budget = RequestBudget(store, settings_for(mcp_read_budget="60/60"))
        await budget.before("get", deadline=1e12)
        left = value(METRICS.exposition().decode(), "nexudus_mcp_budget_left", kind="requests", window="60/60s")
    finally:
        METRICS.enabled = False
    assert left == pytest.approx(9.0, abs=0.2)


# ------------------------------------------------------------------------------------ traces
@pytest.fixture(scope="module")
def spans() -> InMemorySpanExporter:
    """The SDK in this process, once (OpenTelemetry allows one global provider), exporting to memory."""
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return exporter


async def test_spans_for_the_tool_call_and_each_request_inside_the_clients_trace(
    spans: InMemorySpanExporter, sandbox: Sandbox
) -> None:
    app = create_app(settings_for(mcp_client_tokens=TOKENS), transport=sandbox.transport(), host=LOOPBACK)
    spans.clear()
    tracer = trace.get_tracer("test-client")
    with ServedApp(app, lifespan="auto") as served:
        async with mcp_client(served.url, "legacy") as client:
            with tracer.start_as_current_span("staff request") as root:
                result = await client.call_tool(GET_TOOL, {"Id": CHECK})
    assert not result.is_error
    finished: list[ReadableSpan] = list(spans.get_finished_spans())
    by_name = {s.name: s for s in finished}
    trace_id = root.get_span_context().trace_id
    sdk_server = by_name[f"tools/call {GET_TOOL}"]  # the MCP SDK's own span, from the client's _meta
    tool = by_name[f"tool {GET_TOOL}"]
    upstream = by_name["nexudus get"]
    assert sdk_server.context.trace_id == trace_id, "the SDK's trace context on the MCP request is kept"
    assert tool.parent is not None and tool.parent.span_id == sdk_server.context.span_id
    assert upstream.parent is not None and upstream.parent.span_id == tool.context.span_id
    assert tool.context.trace_id == upstream.context.trace_id == trace_id
    assert tool.attributes is not None and tool.attributes["nexudus_mcp.outcome"] == "ok"
    assert upstream.attributes is not None and upstream.attributes["http.response.status_code"] == 200
    record = sandbox.state.record(CHECK)
    ours = [s for s in finished if s.name.startswith(("tool ", "nexudus "))]
    shown = json.dumps([dict(s.attributes or {}) for s in ours])
    for sensitive in (str(CHECK), record["IdentityDocumentNumber"], record.get("CoworkerFullName") or "-", "/api/"):
        assert sensitive not in shown


async def test_a_failed_call_marks_its_spans(spans: InMemorySpanExporter, sandbox: Sandbox) -> None:
    app = create_app(settings_for(mcp_client_tokens=TOKENS), transport=sandbox.transport(), host=LOOPBACK)
    spans.clear()
    with ServedApp(app, lifespan="auto") as served:
        async with mcp_client(served.url, "legacy") as client:
            assert (await client.call_tool(GET_TOOL, {"Id": 999})).is_error
    by_name = {s.name: s for s in spans.get_finished_spans()}
    tool, upstream = by_name[f"tool {GET_TOOL}"], by_name["nexudus get"]
    assert tool.attributes is not None and tool.attributes["nexudus_mcp.outcome"] == "not_found"
    assert not tool.status.is_ok and not upstream.status.is_ok
    assert upstream.attributes is not None and upstream.attributes["http.response.status_code"] == 404


# ------------------------------------------------------------------------------------ JSON logs
@pytest.fixture
def json_stderr(monkeypatch: pytest.MonkeyPatch) -> Iterator[io.StringIO]:
    stream = io.StringIO()
    monkeypatch.setattr("sys.stderr", stream)
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    configure_logging("INFO", "json")
    yield stream
    root.handlers[:], _ = saved
    root.setLevel(saved[1])


def test_json_lines_carry_the_audit_fields_and_are_scrubbed(json_stderr: io.StringIO) -> None:
    number = "CB7734129"
    redactor = Redactor(parse_categories("id_document,name"), "json-log-test-secret")
    with redactor.scope() as scope:
        redactor.note_record({"Id": 1, "IdentityDocumentNumber": number, "CoworkerFullName": "Ana Example"}, scope)
        audit("frontdesk", 1, ["Description"], "updated")
        logging.getLogger("nexudus_identity_mcp.test").warning("read %s for %s", number, "Ana Example")
    lines = [json.loads(line) for line in json_stderr.getvalue().splitlines()]
    assert len(lines) == 2
    first, second = lines
    assert first["logger"] == "nexudus_identity_mcp.audit" and first["level"] == "INFO"
    assert first["audit"] == {
        "action": "update",
        "client": "frontdesk",
        "check": 1,
        "fields": ["Description"],
        "outcome": "updated",
    }
    assert first["message"] == "update client=frontdesk check=1 fields=Description outcome=updated"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", first["time"]) and first["pid"] > 0
    assert number not in json_stderr.getvalue() and "Ana Example" not in json_stderr.getvalue()
    assert "«ID_DOC:" in second["message"] and "«NAME:" in second["message"]


def test_json_fields_pass_through_the_scrubber_too() -> None:
    redactor = Redactor(parse_categories("id_document"), "json-log-test-secret")
    line = logging.LogRecord("nexudus_identity_mcp.audit", logging.INFO, __file__, 1, "x", None, None)
    line.event_fields = {"client": "desk", "note": "K7Q920511"}
    with redactor.scope() as scope:
        redactor.note_record({"Id": 2, "IdentityDocumentNumber": "K7Q920511"}, scope)
        shown = JsonFormatter().format(line)
    assert "K7Q920511" not in shown and json.loads(shown)["audit"]["client"] == "desk"
