"""What staff ask next, end to end as clients reach the server: over stdio (`serve --sandbox`, a
subprocess) and over streamable HTTP (uvicorn on 127.0.0.1, a bearer client token): find a member,
documents about to expire, check a number without seeing it, and a reassignment that names people."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client

from nexudus_identity_mcp.mcpserver.http_app import create_app
from nexudus_identity_mcp.record.document_number import normalise_number
from nexudus_identity_mcp.sandbox import Sandbox, SandboxState
from nexudus_identity_mcp.sandbox.loopback import LOOPBACK, ServedApp
from nexudus_identity_mcp.tools.catalog import COMPARE_NUMBER_TOOL, FIND_MEMBERS_TOOL, FIND_TOOL, GET_TOOL, UPDATE_TOOL

from .conftest import settings_for
from .helpers import body, required_from
from .test_stdio_and_cli import clean_env

pytestmark = [pytest.mark.anyio, pytest.mark.slow]
TOKEN = "desk-token-5f2a9c1e7b3d"
Call = Callable[[str, dict[str, Any]], Any]


@asynccontextmanager
async def over(transport: str, tmp_path: Path) -> AsyncIterator[Call]:
    """A client session over stdio or HTTP, both serving the documented sandbox."""
    if transport == "stdio":
        params = StdioServerParameters(
            command=sys.executable,
            args=["-m", "nexudus_identity_mcp", "serve", "--sandbox", "--profile", "documented"],
            env=clean_env(),
        )
        with open(tmp_path / "stderr.txt", "w") as errlog:
            async with Client(stdio_client(params, errlog=errlog)) as client:
                yield _caller(client)
        return
    sandbox = Sandbox(SandboxState(profile="documented"))
    app = create_app(settings_for(mcp_client_tokens=f"desk={TOKEN}"), transport=sandbox.transport(), host=LOOPBACK)
    with ServedApp(app, lifespan="auto") as served:
        http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
        async with Client(streamable_http_client(f"http://{LOOPBACK}:{served.port}/mcp", http_client=http)) as client:
            yield _caller(client)


def _caller(client: Client) -> Call:
    async def call(tool: str, arguments: dict[str, Any]) -> tuple[bool, dict[str, Any], str]:
        result = await client.call_tool(tool, arguments)
        return bool(result.is_error), body(result, tool), result.content[0].text  # type: ignore[union-attr]

    return call


TRANSPORTS = pytest.mark.parametrize("transport", ["stdio", "http"])


@TRANSPORTS
async def test_find_a_member(transport: str, tmp_path: Path) -> None:
    async with over(transport, tmp_path) as call:
        failed, out, _ = await call(FIND_MEMBERS_TOOL, {"FullName": "ribeir"})
        assert not failed and sorted(r["FullName"] for r in out["Members"]) == ["Ana Ribeira", "Ana Ribeiro"]
        _, by_email, _ = await call(FIND_MEMBERS_TOOL, {"Email": "tomas@ferreira-filhos.example"})
        assert [r["Id"] for r in by_email["Members"]] == [2002]


@TRANSPORTS
async def test_documents_about_to_expire(transport: str, tmp_path: Path) -> None:
    async with over(transport, tmp_path) as call:
        failed, out, _ = await call(FIND_TOOL, {"ExpiresBefore": "2030-01-01"})
        assert not failed and [r["Id"] for r in out["Checks"]] == [87654306, 87654303]
        assert out["Checks"][0]["IdentityDocumentType"] == "ResidentCard"


@TRANSPORTS
async def test_check_a_number_without_seeing_it(transport: str, tmp_path: Path) -> None:
    async with over(transport, tmp_path) as call:
        failed, out, text = await call(COMPARE_NUMBER_TOOL, {"Id": 87654301, "IdentityDocumentNumber": "cb 7734-129"})
        assert not failed and out["Match"] == "matches" and "cb7734129" not in normalise_number(text)
        _, near, text = await call(COMPARE_NUMBER_TOOL, {"Id": 87654301, "IdentityDocumentNumber": "CB7734128"})
        assert near["Match"] == "does_not_match" and "cb773412" not in normalise_number(text)


@TRANSPORTS
async def test_a_reassignment_names_both_members(transport: str, tmp_path: Path) -> None:
    async with over(transport, tmp_path) as call:
        _, read, _ = await call(GET_TOOL, {"Id": 87654305})
        arguments = {**required_from(read["Record"]), "CoworkerId": 2013, "Reassign": True, "DryRun": True}
        failed, out, _ = await call(UPDATE_TOOL, arguments)
        [change] = out["Changes"]
        assert not failed and change["FromMember"]["FullName"] == "Oliver Bennett"
        assert change["ToMember"]["FullName"] == "Zoë Kowalczyk"
        assert any("does not belong to" in w for w in out["Warnings"])
