"""Shared fixtures: a fresh sandbox, API clients bound to it, and the sandbox served on loopback."""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from nexudus_identity_mcp.nexudus import NexudusClient
from nexudus_identity_mcp.sandbox import SANDBOX_TOKEN, Sandbox
from nexudus_identity_mcp.sandbox.loopback import LOOPBACK, ServedApp
from nexudus_identity_mcp.settings import Settings


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True)
def _no_nexudus_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never pick up a developer's real credentials from the environment."""
    for name in list(os.environ):
        if name.startswith("NEXUDUS_"):
            monkeypatch.delenv(name)


@pytest.fixture
def sandbox() -> Sandbox:
    return Sandbox()


def settings_for(base_url: str = f"http://{LOOPBACK}", **overrides: Any) -> Settings:
    values: dict[str, Any] = {"base_url": base_url, "token": SANDBOX_TOKEN}
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


class Clock:
    """A clock a test moves: what the API client's token cache reads (`NexudusClient(clock=…)`).
    Starts at the real monotonic time; `advance` jumps ahead, so a token falls due at once."""

    def __init__(self) -> None:
        self.now = time.monotonic()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Sleeps:
    """Stands in for anyio.sleep in retry tests: records each wait instead of waiting."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def client_for(sandbox: Sandbox, sleeps: Sleeps):  # type: ignore[no-untyped-def]
    """Factory: an API client talking to the in-process sandbox with the given settings."""
    made: list[NexudusClient] = []

    def make(*, clock: Callable[[], float] = time.monotonic, **overrides: Any) -> NexudusClient:
        client = NexudusClient(settings_for(**overrides), transport=sandbox.transport(), sleep=sleeps, clock=clock)
        made.append(client)
        return client

    return make


class ServedSandbox:
    def __init__(self, sandbox: Sandbox, port: int) -> None:
        self.sandbox = sandbox
        self.port = port
        self.url = f"http://{LOOPBACK}:{port}"


@pytest.fixture
def served_sandbox(sandbox: Sandbox) -> Iterator[ServedSandbox]:
    """The same sandbox served by uvicorn on 127.0.0.1 in a background thread."""
    with ServedApp(sandbox.app) as served:
        yield ServedSandbox(sandbox, served.port)


NODE_DIR = Path(__file__).parent / "node"


@pytest.fixture(scope="session")
def node_tools() -> Path:
    """tests/node with its packages installed from the lock file on first use (the TypeScript SDK,
    the conformance suite, Node 22, mcpb, and the Claude Code, Codex and Gemini CLIs). CI must have
    node and npm; elsewhere the tests are skipped."""
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        if os.environ.get("CI"):
            pytest.fail("node and npm are required in CI for the TypeScript SDK and conformance tests")
        pytest.skip("node/npm not installed")
    done = npm_ci(npm, NODE_DIR)
    if done is not None:
        done.check_returncode()
    return NODE_DIR


def npm_ci(npm: str, folder: Path) -> subprocess.CompletedProcess[str] | None:
    """`npm ci` in `folder` when its packages are missing or older than its package-lock.json (a pull
    that adds a package), not only on first use; None when they are already installed. Several xdist
    workers ask at once: one installs while the others wait on the lock, then find it done."""
    with (folder / ".install.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        installed = folder / "node_modules" / ".package-lock.json"
        if installed.is_file() and installed.stat().st_mtime >= (folder / "package-lock.json").stat().st_mtime:
            return None
        return subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"], cwd=folder, timeout=900, capture_output=True, text=True
        )


@pytest.fixture
def captured_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)
    return caplog
