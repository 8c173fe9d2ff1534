"""What one update costs upstream: exactly two GETs (the read before the merge and the read-back that
catches a lost update) and one PUT, no token request after the first, and one reused TCP connection
across 100 sequential calls (the sandbox on real loopback HTTP)."""

from __future__ import annotations

import pytest
from mcp import Client

from nexudus_identity_mcp.mcpserver.app import build_server
from nexudus_identity_mcp.sandbox import ADMIN_PASSWORD, ADMIN_USER

from .conftest import ServedSandbox, settings_for
from .helpers import CHECK, required_from

pytestmark = pytest.mark.anyio
CALLS = 100


async def test_two_gets_one_put_one_token_one_connection(served_sandbox: ServedSandbox) -> None:
    state = served_sandbox.sandbox.state
    state.write_limit = None
    settings = settings_for(served_sandbox.url, token=None, username=ADMIN_USER, password=ADMIN_PASSWORD)
    async with Client(build_server(settings), mode="legacy") as client:
        record = (await client.call_tool("get_coworker_identity_check", {"Id": CHECK})).structured_content["Record"]  # type: ignore[index]
        state.requests.clear()
        for n in range(CALLS):
            result = await client.call_tool(
                "update_coworker_identity_check", {**required_from(record), "Description": f"call {n}"}
            )
            assert not result.is_error, result.structured_content
    routes = [r.route for r in state.requests]
    assert routes.count("get") == 2 * CALLS and routes.count("update") == CALLS
    assert routes.count("token") == 0, "the token from the first read is reused"
    assert len({r.peer for r in state.requests}) == 1, "one keep-alive connection for every call"
