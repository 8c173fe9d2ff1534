"""`serve` and `sandbox` as processes: a bad setting is answered by every tool over stdio (and stops
the HTTP server in one line), SIGINT and SIGTERM stop them cleanly, a busy port is one line with no
banner, and `check --sandbox` names no made-up URL."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

from nexudus_identity_mcp.sandbox.loopback import LOOPBACK

from .helpers import CHECK

pytestmark = [pytest.mark.anyio, pytest.mark.slow]
SERVER = [sys.executable, "-m", "nexudus_identity_mcp"]
INIT = {
    "jsonrpc": "2.0",
    "id": 0,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
}


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEXUDUS_")}
    env.update(extra)
    return env


# ------------------------------------------------------------------ a bad setting
async def test_stdio_with_a_bad_setting_answers_every_tool_with_it(tmp_path: Path) -> None:
    params = StdioServerParameters(
        command=SERVER[0], args=[*SERVER[1:], "serve"], env=clean_env(NEXUDUS_AUTH="barer", NEXUDUS_TOKEN="t0k3n-x")
    )
    with open(tmp_path / "stderr.txt", "w+") as errlog:
        async with Client(stdio_client(params, errlog=errlog)) as client:
            tools = [t.name for t in (await client.list_tools()).tools]
            assert len(tools) == 9
            results = [await client.call_tool(name, {"Id": CHECK} if "find" not in name else {}) for name in tools]
        errlog.seek(0)
        logged = errlog.read()
    expected = "NEXUDUS_AUTH: 'barer' is not one of auto, bearer, password, basic"
    for result in results:
        body: dict[str, Any] = result.structured_content  # type: ignore[assignment]
        assert result.is_error and body["ErrorKind"] == "not_configured" and expected in body["Message"]
    assert expected in logged and "Traceback" not in logged and "t0k3n-x" not in logged


def test_http_with_a_bad_setting_stops_in_one_line() -> None:
    done = subprocess.run(
        [*SERVER, "serve", "--http", "--port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
        env=clean_env(NEXUDUS_MAX_ATTEMPTS="lots"),
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "NEXUDUS_MAX_ATTEMPTS: 'lots' is not a whole number from 1 to 10" in done.stderr


def test_uvicorn_behind_a_proxy_without_tokens_refuses_to_start() -> None:
    """`uvicorn …http_app:app` on loopback with a public allowed host and no client tokens: every caller
    would arrive through the proxy as loopback, so the app fails its start-up with one line."""
    from nexudus_identity_mcp.sandbox.loopback import free_port

    done = subprocess.run(
        [sys.executable, "-m", "uvicorn", "nexudus_identity_mcp.mcpserver.http_app:app", "--port", str(free_port())],
        capture_output=True,
        text=True,
        timeout=60,
        env=clean_env(NEXUDUS_TOKEN="t", NEXUDUS_MCP_ALLOWED_HOSTS="mcp.example.com"),
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode != 0 and "Traceback" not in done.stderr, done.stderr
    assert "NEXUDUS_MCP_ALLOWED_HOSTS names 'mcp.example.com'" in done.stderr
    assert "NEXUDUS_MCP_CLIENT_TOKENS" in done.stderr


# ------------------------------------------------------------------ signals
def _wait_for(path: Path, text: str, process: subprocess.Popen[bytes], limit: float = 60) -> None:
    deadline = time.monotonic() + limit
    while text not in path.read_text():
        assert time.monotonic() < deadline and process.poll() is None, path.read_text()
        time.sleep(0.1)


def _stop(process: subprocess.Popen[bytes], signum: int, stderr: Path) -> str:
    process.send_signal(signum)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)
        raise AssertionError(f"still running 20 s after signal {signum}: {stderr.read_text()[-1000:]}") from None
    return stderr.read_text()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_stdio_serve_stops_on_a_signal(tmp_path: Path, signum: int) -> None:
    stderr = tmp_path / "stderr.txt"
    with open(stderr, "w") as errlog:
        process = subprocess.Popen(
            [*SERVER, "serve", "--sandbox"],
            stdin=subprocess.PIPE,  # left open, as a terminal's would be
            stdout=subprocess.PIPE,
            stderr=errlog,
            env=clean_env(),
        )
    assert process.stdin is not None and process.stdout is not None
    try:
        process.stdin.write(json.dumps(INIT).encode() + b"\n")
        process.stdin.flush()
        assert json.loads(process.stdout.readline())["id"] == 0, "answering before the signal"
        logged = _stop(process, signum, stderr)
    finally:
        process.stdin.close()
        process.stdout.close()
    assert process.returncode in (0, 130) and "Traceback" not in logged, logged


@pytest.mark.parametrize("command", [["serve", "--http", "--sandbox"], ["sandbox"]])
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_http_servers_stop_on_a_signal(tmp_path: Path, command: list[str], signum: int) -> None:
    stderr = tmp_path / "stderr.txt"
    with open(stderr, "w") as errlog:
        process = subprocess.Popen(
            [*SERVER, *command, "--port", "0"], stdin=subprocess.PIPE, stdout=errlog, stderr=errlog, env=clean_env()
        )
    try:
        _wait_for(stderr, "http://127.0.0.1:", process)
        logged = _stop(process, signum, stderr)
    finally:
        if process.stdin:
            process.stdin.close()
    assert process.returncode in (0, 130) and "Traceback" not in logged, logged


@pytest.mark.parametrize("stdin", ["devnull", "file"])
def test_stdio_serve_ends_with_its_input(tmp_path: Path, stdin: str) -> None:
    """Input that the event loop cannot wait on (/dev/null, a file) is read the SDK's way, to its end."""
    source = tmp_path / "input.jsonl"
    source.write_text(json.dumps(INIT) + "\n")
    with open(os.devnull if stdin == "devnull" else source, "rb") as given:
        done = subprocess.run(
            [*SERVER, "serve", "--sandbox"], stdin=given, capture_output=True, timeout=60, env=clean_env()
        )
    assert done.returncode == 0 and b"Traceback" not in done.stderr, done.stderr
    if stdin == "file":
        assert json.loads(done.stdout.splitlines()[0])["id"] == 0


# ------------------------------------------------------------------ a busy port
@pytest.mark.parametrize(
    ("command", "banner"), [(["serve", "--http", "--sandbox"], "/mcp"), (["sandbox"], "sandbox on")]
)
def test_a_busy_port_is_one_line_and_no_banner(command: list[str], banner: str) -> None:
    with socket.socket() as busy:
        busy.bind((LOOPBACK, 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = subprocess.run(
            [*SERVER, *command, "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=60,
            env=clean_env(),
            stdin=subprocess.DEVNULL,
        )
    lines = [line for line in done.stderr.splitlines() if "built-in sandbox" not in line]
    assert done.returncode == 2 and len(lines) == 1, done.stderr
    assert str(port) in lines[0] and "in use" in lines[0]
    assert banner not in done.stderr and "Traceback" not in done.stderr


def test_check_against_the_sandbox_names_no_url() -> None:
    done = subprocess.run(
        [*SERVER, "check", "--sandbox"], capture_output=True, text=True, timeout=60, env=clean_env(), stdin=None
    )
    assert done.returncode == 0, done.stderr
    assert "the built-in sandbox" in done.stdout and "http" not in done.stdout
