"""Scale-out with a real Redis: several `serve --http` processes share per-check locks and the
write budget, so concurrent updates of different fields of the same checks lose nothing, the API's
write limit is never hit, and writes stop (and resume) with Redis."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest

from nexudus_identity_mcp.record.fields import REQUIRED
from nexudus_identity_mcp.sandbox import SANDBOX_TOKEN, Sandbox
from nexudus_identity_mcp.sandbox.loopback import LOOPBACK, ServedApp, free_port
from nexudus_identity_mcp.tools.catalog import UPDATE_TOOL

from .redis_server import RedisServer, running_redis

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

CHECKS = (87654301, 87654303, 87654304, 87654306)
FIELDS = ("Description", "Description1", "Description2", "IdentityDocumentIssuedBy", "StripeVerificationSessionId")
HEADERS = {
    "Content-Type": "application/json",
    "Accept": "application/json, text/event-stream",
    "MCP-Protocol-Version": "2025-11-25",
}


@contextmanager
def server_process(sandbox_url: str, **env_extra: str) -> Iterator[str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEXUDUS_")}
    env.update(
        NEXUDUS_BASE_URL=sandbox_url,
        NEXUDUS_TOKEN=SANDBOX_TOKEN,
        NEXUDUS_MCP_SECRET="scale-out",
        NEXUDUS_MCP_LOG_LEVEL="WARNING",
        NEXUDUS_MAX_CALL_SECONDS="60",
        **env_extra,
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "nexudus_identity_mcp", "serve", "--http", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://{LOOPBACK}:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx2.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx2.HTTPError:
                pass
            assert time.monotonic() < deadline, "server process did not start"
            time.sleep(0.05)
        yield f"{url}/mcp"
    finally:
        process.terminate()
        process.wait(timeout=10)


@contextmanager
def cluster(sandbox_url: str, count: int, **env: str) -> Iterator[list[str]]:
    with ExitStack() as stack:
        yield [stack.enter_context(server_process(sandbox_url, **env)) for _ in range(count)]


async def call_update(http: httpx2.AsyncClient, url: str, arguments: dict[str, Any]) -> dict[str, Any]:
    payload = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": UPDATE_TOOL, "arguments": arguments},
    }
    response = await http.post(url, json=payload, headers=HEADERS)
    assert response.status_code == 200, response.text[:300]
    content: dict[str, Any] = response.json()["result"]["structuredContent"]
    return content


async def rounds_of_updates(sandbox: Sandbox, urls: list[str], rounds: int) -> tuple[int, int, list[str]]:
    """Each round updates every field of every check at once (a different call per field), spread over
    the processes; afterwards every successful call's value must be in the record. Returns
    (successful calls, lost changes, error kinds)."""
    ok = lost = 0
    kinds: list[str] = []
    async with httpx2.AsyncClient(timeout=120) as http:
        for n in range(rounds):
            succeeded: list[tuple[int, str, str]] = []

            async def one(
                i: int, check: int, field: str, value: str, succeeded: list[tuple[int, str, str]] = succeeded
            ) -> None:
                record = sandbox.state.records[check]
                arguments = {k: record[k] for k in REQUIRED} | {field: value}
                body = await call_update(http, urls[i % len(urls)], arguments)
                if body.get("WasSuccessful"):
                    succeeded.append((check, field, value))
                else:
                    kinds.append(str(body.get("ErrorKind")))

            with anyio.fail_after(120):
                async with anyio.create_task_group() as tg:
                    i = 0
                    for check in CHECKS:
                        for field in FIELDS:
                            tg.start_soon(one, i, check, field, f"round {n} {field}")
                            i += 1
            ok += len(succeeded)
            lost += sum(1 for check, field, value in succeeded if sandbox.state.records[check].get(field) != value)
    return ok, lost, kinds


@pytest.fixture
def slow_sandbox() -> Iterator[tuple[Sandbox, str]]:
    sandbox = Sandbox()
    sandbox.state.write_limit = None
    sandbox.state.get_delay = 0.03  # every read takes a while: the window in which updates interleave
    with ServedApp(sandbox.app) as served:
        yield sandbox, served.url


@pytest.mark.parametrize("processes", [2, 4])
def test_concurrent_updates_lose_nothing_with_redis(
    slow_sandbox: tuple[Sandbox, str], tmp_path: Path, processes: int
) -> None:
    sandbox, url = slow_sandbox
    with (
        running_redis(tmp_path) as redis,
        cluster(
            url,
            processes,
            NEXUDUS_MCP_REDIS_URL=redis.url,
            NEXUDUS_MCP_READ_BUDGET="off",
            NEXUDUS_MCP_WRITE_BUDGET="off",
        ) as urls,
    ):
        ok, lost, kinds = anyio.run(rounds_of_updates, sandbox, urls, 10)
    assert (ok, lost, kinds) == (200, 0, [])


def test_without_shared_state_the_harness_sees_lost_updates(slow_sandbox: tuple[Sandbox, str]) -> None:
    """The same load on two processes that share nothing: the updates interfere, as the Redis-backed
    locks prevent (proof that the test above can fail). The read-back after each PUT answers most
    overwritten writes with `conflict` instead of success; one overwritten after its read-back is lost
    silently, which only shared locks prevent."""
    sandbox, url = slow_sandbox
    with cluster(url, 2) as urls:
        ok, lost, kinds = anyio.run(rounds_of_updates, sandbox, urls, 3)
    conflicts = kinds.count("conflict")
    print(f"\nwithout shared state: {lost} of {ok} successful updates lost, {conflicts} answered conflict")
    assert lost + conflicts > 0


def test_shared_write_budget_keeps_four_workers_under_the_api_limit(tmp_path: Path) -> None:
    sandbox = Sandbox()
    sandbox.state.write_limit, sandbox.state.write_window = 12, 6.0  # the API's 60/min, scaled down
    with (
        ServedApp(sandbox.app) as served,
        running_redis(tmp_path) as redis,
        cluster(
            served.url,
            4,
            NEXUDUS_MCP_REDIS_URL=redis.url,
            NEXUDUS_MCP_WRITE_BUDGET="12/6",
            NEXUDUS_MCP_READ_BUDGET="off",
            NEXUDUS_MAX_RETRY_AFTER="0",
        ) as urls,
    ):

        async def run() -> list[dict[str, Any]]:
            results: list[dict[str, Any]] = []
            async with httpx2.AsyncClient(timeout=120) as http:

                async def one(i: int) -> None:
                    check = sorted(sandbox.state.records)[i % len(sandbox.state.records)]
                    record = sandbox.state.records[check]
                    arguments = {k: record[k] for k in REQUIRED} | {"Description2": f"budget {i}"}
                    results.append(await call_update(http, urls[i % 4], arguments))

                with anyio.fail_after(120):
                    async with anyio.create_task_group() as tg:
                        for i in range(24):
                            tg.start_soon(one, i)
            return results

        results = anyio.run(run)
    throttled = [r for r in sandbox.state.requests if r.route == "update" and r.status == 409]
    assert throttled == []
    assert all(r.get("WasSuccessful") for r in results), [
        r.get("Message") for r in results if not r.get("WasSuccessful")
    ]


def test_writes_stop_while_redis_is_down_and_resume_after(slow_sandbox: tuple[Sandbox, str], tmp_path: Path) -> None:
    sandbox, url = slow_sandbox
    redis = RedisServer(tmp_path)
    redis.start()
    try:
        with cluster(
            url, 2, NEXUDUS_MCP_REDIS_URL=redis.url, NEXUDUS_MCP_WRITE_BUDGET="off", NEXUDUS_MCP_READ_BUDGET="off"
        ) as urls:
            before = anyio.run(rounds_of_updates, sandbox, urls, 1)
            redis.stop()
            snapshot = {c: dict(sandbox.state.records[c]) for c in CHECKS}
            down = anyio.run(rounds_of_updates, sandbox, urls, 1)
            assert {c: sandbox.state.records[c] for c in CHECKS} == snapshot, "a write went through without Redis"
            redis.start()
            after = anyio.run(rounds_of_updates, sandbox, urls, 2)
    finally:
        redis.stop()
    assert before == (20, 0, [])
    assert down[0] == 0 and set(down[2]) == {"upstream_unavailable"}
    assert after == (40, 0, [])
