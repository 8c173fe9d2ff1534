"""Issue 22 item 7: one caller looping over reads must not starve another's (the request budget).

Over HTTP with real parallel clients: with client tokens every caller shares the server's one account:
one caller runs six read loops back to back (well over the budget's rate) while another reads now
and then; each active caller gets an equal part of the budget, so the quiet caller's reads all
succeed (before: they waited for the looper's turn and some answered `rate_limited`). In the sign-in
mode each staff member calls with their own Nexudus account and so has their own budget. The
latencies are printed, not asserted (`pytest tests/test_fair_share.py -s`)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from nexudus_identity_mcp.mcpserver.http_app import create_app
from nexudus_identity_mcp.sandbox import Sandbox
from nexudus_identity_mcp.sandbox.loopback import LOOPBACK, ServedApp, free_port
from nexudus_identity_mcp.tools.catalog import GET_TOOL

from .conftest import settings_for
from .helpers import CHECK
from .redis_server import running_redis
from .test_signin import ANA, BEN, SignInServer, sdk_oauth

pytestmark = [pytest.mark.anyio, pytest.mark.slow]  # waits on real time (seconds)
LOOP_TOKEN, DESK_TOKEN = "loop-token-5f2a9c1e7b3d", "desk-token-8e4b2d6f0a1c"
BUDGET = {"mcp_read_budget": "12/6", "mcp_write_budget": "off", "max_call_seconds": 2.0}  # 2 at once, 1.7/s
LOOPS, LOOP_CALLS, QUIET_CALLS = 6, 3, 3


async def contend(
    loop_client: Client, quiet_client: Client, loops: int = LOOPS
) -> tuple[list[str], list[str], list[float]]:
    """(the looper's outcomes, the quiet caller's outcomes, the quiet caller's latencies in s)."""
    looped: list[str] = []
    quiet: list[str] = []
    latencies: list[float] = []

    async def read(client: Client) -> str:
        result = await client.call_tool(GET_TOOL, {"Id": CHECK})
        return str((result.structured_content or {}).get("ErrorKind", "success"))

    async def loop() -> None:
        for _ in range(LOOP_CALLS):
            looped.append(await read(loop_client))

    async def now_and_then() -> None:
        await anyio.sleep(0.5)  # the looper has drained the bucket by now
        for _ in range(QUIET_CALLS):
            started = time.monotonic()
            quiet.append(await read(quiet_client))
            latencies.append(time.monotonic() - started)
            await anyio.sleep(0.6)

    with anyio.fail_after(90):
        async with anyio.create_task_group() as tg:
            for _ in range(loops):
                tg.start_soon(loop)
            tg.start_soon(now_and_then)
    return looped, quiet, latencies


def report(mode: str, looped: list[str], quiet: list[str], latencies: list[float]) -> None:
    print(
        f"\n{mode}: looper {looped.count('success')}/{len(looped)} reads served, "
        f"{looped.count('rate_limited')} rate_limited; quiet caller {quiet}, latency "
        f"max {max(latencies):.2f} s, mean {sum(latencies) / len(latencies):.2f} s"
    )


def token_client(url: str, token: str) -> Client:
    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=30)
    return Client(streamable_http_client(f"{url}/mcp", http_client=http))


@pytest.fixture(params=["memory", "sqlite", "redis"])
def state(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, Any]]:
    if request.param == "memory":
        yield {}
    elif request.param == "sqlite":
        yield {"mcp_state_dir": str(tmp_path)}
    else:
        with running_redis(tmp_path) as redis:
            yield {"mcp_redis_url": redis.url}


async def test_one_client_looping_does_not_starve_another_on_the_shared_account(
    sandbox: Sandbox, state: dict[str, Any]
) -> None:
    settings = settings_for(mcp_client_tokens=f"looper={LOOP_TOKEN},desk={DESK_TOKEN}", **BUDGET, **state)
    with ServedApp(create_app(settings, transport=sandbox.transport(), host=LOOPBACK), lifespan="auto") as served:
        async with token_client(served.url, LOOP_TOKEN) as looper, token_client(served.url, DESK_TOKEN) as desk:
            looped, quiet, latencies = await contend(looper, desk)
    report(f"client tokens, {next(iter(state), 'memory')}", looped, quiet, latencies)
    assert quiet == ["success"] * QUIET_CALLS
    assert "rate_limited" in looped, "the looper asked for more than the budget gives"


async def test_in_the_sign_in_mode_each_staff_member_has_their_own_budget(sandbox: Sandbox, tmp_path: Path) -> None:
    """Ana uses up her budget (one read, then `rate_limited`: the next token is 10 minutes away); Ben's
    reads still go through, as they use his own account. Before, the two shared one bucket and Ben's
    first read was already `rate_limited`."""
    port = free_port()
    settings = settings_for(
        mcp_auth="oauth", mcp_state_dir=str(tmp_path), mcp_secret="fair-share-test-secret", mcp_read_budget="2/600"
    )
    app = create_app(settings, transport=sandbox.transport(), host=LOOPBACK, public_url=f"http://{LOOPBACK}:{port}")
    with ServedApp(app, port=port, lifespan="auto") as served:
        signin = SignInServer(served.url, sandbox, tmp_path)
        ana, _ = sdk_oauth(signin, ANA)
        ben, _ = sdk_oauth(signin, BEN)
        async with (
            httpx2.AsyncClient(auth=ana, timeout=30) as ana_http,
            httpx2.AsyncClient(auth=ben, timeout=30) as ben_http,
            Client(streamable_http_client(signin.mcp, http_client=ana_http)) as ana_client,
            Client(streamable_http_client(signin.mcp, http_client=ben_http)) as ben_client,
        ):
            outcomes = []
            for client in (ana_client, ana_client, ben_client, ben_client):
                result = await client.call_tool(GET_TOOL, {"Id": CHECK})
                outcomes.append(str((result.structured_content or {}).get("ErrorKind", "success")))
    print(f"\nsign-in mode, Ana, Ana, Ben, Ben: {outcomes}")
    assert outcomes[:2] == ["success", "rate_limited"]
    assert outcomes[2] == "success", "Ben's read waited on Ana's budget"
