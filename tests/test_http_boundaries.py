"""The HTTP face's trust boundaries and limits: no anonymous access behind a reverse proxy, Host headers
that are a host and a port and nothing else, POST-only /mcp, client-token errors that never quote a
token, settings errors that name their variable, and connections that never finish a request being
closed by the server."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import httpx2
import pytest
from mcp import Client

from nexudus_identity_mcp.mcpserver.http_app import ConfigError, create_app, host_is_well_formed
from nexudus_identity_mcp.mcpserver.serving import deadline_protocol, uvicorn_options
from nexudus_identity_mcp.sandbox import Sandbox
from nexudus_identity_mcp.sandbox.loopback import LOOPBACK, ServedApp
from nexudus_identity_mcp.settings import SettingsError, read_settings

from .conftest import settings_for
from .helpers import server_for

pytestmark = pytest.mark.anyio
DESK_TOKEN = "desk-token-5f2a9c1e7b3d"
LIST = b'{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{}}'
HEADERS = {
    "Content-Type": "application/json",
    "Accept": "application/json, text/event-stream",
    "MCP-Protocol-Version": "2025-11-25",
}


@pytest.fixture
def open_server(sandbox: Sandbox) -> Iterator[str]:
    """`serve --http` as on a laptop: loopback, no client tokens, served over real sockets."""
    app = create_app(settings_for(), transport=sandbox.transport(), host=LOOPBACK)
    with ServedApp(app, lifespan="auto", **uvicorn_options()) as served:
        yield served.url


# ------------------------------------------------------------------ anonymous access behind a proxy
def test_a_public_allowed_host_without_tokens_refuses_to_build(sandbox: Sandbox) -> None:
    for hosts in ("mcp.example.com", "localhost,mcp.example.com:*", "10.0.0.5:8000"):
        with pytest.raises(ConfigError, match="NEXUDUS_MCP_CLIENT_TOKENS") as refused:
            create_app(settings_for(mcp_allowed_hosts=hosts), transport=sandbox.transport(), host=LOOPBACK)
        assert "\n" not in str(refused.value) and "proxy" in str(refused.value)
    # loopback names alone are fine without tokens; with tokens any name is
    assert create_app(settings_for(mcp_allowed_hosts="localhost:*,[::1]:8000"), transport=sandbox.transport())
    assert create_app(
        settings_for(mcp_allowed_hosts="mcp.example.com", mcp_client_tokens=f"desk={DESK_TOKEN}"),
        transport=sandbox.transport(),
        host=LOOPBACK,
    )


@pytest.mark.parametrize(
    "header",
    [
        ("X-Forwarded-For", "203.0.113.9"),
        ("X-Forwarded-Host", "mcp.example.com"),
        ("X-Forwarded-Proto", "https"),
        ("X-Real-IP", "203.0.113.9"),
        ("Forwarded", "for=203.0.113.9;proto=https"),
    ],
)
@pytest.mark.slow  # waits on real time or a loopback server (seconds)
async def test_a_forwarded_request_without_tokens_is_refused(open_server: str, header: tuple[str, str]) -> None:
    async with httpx2.AsyncClient(timeout=10) as http:
        refused = await http.post(f"{open_server}/mcp", content=LIST, headers={**HEADERS, header[0]: header[1]})
        direct = await http.post(f"{open_server}/mcp", content=LIST, headers=HEADERS)
    assert refused.status_code == 403 and "proxy" in refused.json()["message"]
    assert direct.status_code == 200, "a direct loopback caller is still served without tokens"


# ------------------------------------------------------------------ Host header forms
@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1:{port}@evil.com",
        "localhost:evil",
        "local host",
        "user@localhost:{port}",
        "localhost:{port}:1",
        "localhost:-1",
        "[::1]x",
        "localhost/evil",
    ],
)
@pytest.mark.slow  # waits on real time or a loopback server (seconds)
async def test_malformed_host_headers_are_refused(open_server: str, host: str) -> None:
    port = open_server.rsplit(":", 1)[1]
    async with httpx2.AsyncClient(timeout=10) as http:
        headers = {**HEADERS, "Host": host.format(port=port)}
        response = await http.post(f"{open_server}/mcp", content=LIST, headers=headers)
    assert response.status_code in (400, 421), response.text


async def test_well_formed_hosts_still_pass(open_server: str) -> None:
    port = open_server.rsplit(":", 1)[1]
    async with httpx2.AsyncClient(timeout=10) as http:
        for host in (f"127.0.0.1:{port}", f"localhost:{port}", "localhost"):
            response = await http.post(f"{open_server}/mcp", content=LIST, headers={**HEADERS, "Host": host})
            assert response.status_code == 200, (host, response.text)


def test_host_form() -> None:
    good = ["localhost", "localhost:8000", "mcp.example.com", "mcp.example.com.", "10.0.0.5:80", "[::1]:8000", "a_b"]
    bad = ["", "localhost:", "localhost:123456", "a b", "a@b", "-a", "[::1", "x:y:z", "é.example", "a" * 300]
    assert all(host_is_well_formed(h) for h in good)
    assert not any(host_is_well_formed(h) for h in bad)


# ------------------------------------------------------------------ methods and resource templates
async def test_mcp_answers_405_to_anything_but_post(open_server: str) -> None:
    async with httpx2.AsyncClient(timeout=10) as http:
        for method in ("GET", "DELETE", "PUT"):
            response = await http.request(method, f"{open_server}/mcp", headers={"Accept": "text/event-stream"})
            assert response.status_code == 405 and response.headers["allow"] == "POST", (method, response.text)


async def test_resource_templates_list_only_the_changes_template(sandbox: Sandbox) -> None:
    async with Client(server_for(sandbox), mode="legacy") as client:
        templates = (await client.list_resource_templates()).resource_templates
    assert [t.name for t in templates] == ["changes-filtered"]  # the journal's (tests/test_changes.py)


# ------------------------------------------------------------------ configuration errors
@pytest.mark.parametrize(
    "raw",
    [
        "just-a-secret-token-value-123456",
        "desk=ok-token-value-1234567,second-bare-secret-token-99",
        "reversed-secret-token-value-777=desk",
        "desk=dup-secret-token-value-42,ops=dup-secret-token-value-42",
        "bad name=spaced-secret-token-value-5",
    ],
)
def test_client_token_errors_never_show_a_token(sandbox: Sandbox, raw: str) -> None:
    with pytest.raises(ConfigError) as refused:
        create_app(settings_for(mcp_client_tokens=raw), transport=sandbox.transport(), host=LOOPBACK)
    message = str(refused.value)
    assert message.startswith("NEXUDUS_MCP_CLIENT_TOKENS: entry ")
    for part in raw.replace("=", ",").split(","):
        assert part not in message or part in ("desk", "ops"), message


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("NEXUDUS_AUTH", "barer", "NEXUDUS_AUTH: 'barer' is not one of auto, bearer, password, basic"),
        ("NEXUDUS_MAX_ATTEMPTS", "50", "NEXUDUS_MAX_ATTEMPTS: '50' is not a whole number from 1 to 10"),
        ("NEXUDUS_READ_TIMEOUT", "soon", "NEXUDUS_READ_TIMEOUT: 'soon' is not a number greater than 0"),
        ("NEXUDUS_MCP_READ_ONLY", "maybe", "NEXUDUS_MCP_READ_ONLY: 'maybe' is not true or false"),
        ("NEXUDUS_MCP_REDACT", "everything", "NEXUDUS_MCP_REDACT"),
        ("NEXUDUS_BASE_URL", "http://spaces.nexudus.com", "NEXUDUS_BASE_URL must use https"),
    ],
)
def test_settings_errors_name_the_variable_and_the_accepted_values(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as bad:
        read_settings()
    assert str(bad.value).startswith(expected) and "\n" not in str(bad.value)


def test_settings_errors_never_show_a_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEXUDUS_TOKEN", "tok-secret-value-31337")
    monkeypatch.setenv("NEXUDUS_AUTH", "basic")  # needs a username and password: an error about the auth
    monkeypatch.setenv("NEXUDUS_BASE_URL", "https://tok-secret-value-31337.example")
    with pytest.raises(SettingsError) as bad:
        read_settings()
    assert "tok-secret-value-31337" not in str(bad.value)


# ------------------------------------------------------------------ slow clients
def _closed_by_server(sock: socket.socket, limit: float) -> bool:
    """Wait (bounded) for the server to close the connection: EOF or a reset."""
    sock.settimeout(0.5)
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        try:
            if sock.recv(4096) == b"":
                return True
        except TimeoutError:
            continue
        except ConnectionResetError:
            return True
    return False


@pytest.fixture(params=["h11", "httptools"])
def short_deadlines(sandbox: Sandbox, request: pytest.FixtureRequest) -> Iterator[int]:
    """The deadlines on uvicorn's h11 protocol, and on httptools' when the `fast` extra is installed."""
    if request.param == "httptools":
        pytest.importorskip("httptools")
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as base
    else:
        from uvicorn.protocols.http.h11_impl import H11Protocol as base
    app = create_app(settings_for(), transport=sandbox.transport(), host=LOOPBACK)
    options = {**uvicorn_options(), "http": deadline_protocol(base, header_timeout=1.0, body_timeout=1.0)}
    with ServedApp(app, lifespan="auto", **options) as served:
        yield served.port


@pytest.mark.slow  # waits on real time or a loopback server (seconds)
def test_a_connection_that_never_finishes_its_headers_is_closed(short_deadlines: int) -> None:
    with socket.create_connection((LOOPBACK, short_deadlines), timeout=5) as sock:
        sock.sendall(b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Ty")
        assert _closed_by_server(sock, limit=15)


@pytest.mark.slow  # waits on real time or a loopback server (seconds)
def test_a_connection_that_never_finishes_its_body_is_closed(short_deadlines: int) -> None:
    with socket.create_connection((LOOPBACK, short_deadlines), timeout=5) as sock:
        sock.sendall(
            b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b'Accept: application/json, text/event-stream\r\nContent-Length: 500\r\n\r\n{"jsonrpc"'
        )
        assert _closed_by_server(sock, limit=15)


@pytest.mark.slow  # waits on real time or a loopback server (seconds)
def test_a_kept_alive_connection_that_stalls_in_its_next_headers_is_closed(short_deadlines: int) -> None:
    with socket.create_connection((LOOPBACK, short_deadlines), timeout=5) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        first = sock.recv(4096)
        assert first.startswith(b"HTTP/1.1 200")
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHo")  # before the keep-alive timer fires
        assert _closed_by_server(sock, limit=15)


def test_a_prompt_request_is_answered_under_the_deadlines(short_deadlines: int) -> None:
    response = httpx2.get(f"http://{LOOPBACK}:{short_deadlines}/healthz", timeout=10)
    assert response.status_code == 200


def test_the_listening_socket_gives_connections_without_nagle_delays() -> None:
    """asyncio sets TCP_NODELAY on accepted connections only when the listener's proto is TCP; without
    it every answer of `serve --http` and `sandbox` waited ~40 ms for a delayed ACK."""
    import socket

    from nexudus_identity_mcp.mcpserver.serving import bind

    sock = bind("127.0.0.1", 0)
    try:
        assert sock.proto == socket.IPPROTO_TCP
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
    finally:
        sock.close()
