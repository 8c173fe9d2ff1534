"""Helpers for tests that talk to the MCP server through real clients."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx2
import jsonschema
import mcp.types as types

from nexudus_identity_mcp.mcpserver.app import build_server
from nexudus_identity_mcp.record.fields import REQUIRED
from nexudus_identity_mcp.sandbox import Sandbox
from nexudus_identity_mcp.tools.catalog import tool_definitions

from .conftest import settings_for

ERAS = ["legacy", "2026-07-28"]
OUTPUT_SCHEMAS = {t.name: t.output_schema for t in tool_definitions()}
CHECK = 87654301


def server_for(sandbox: Sandbox, **overrides: Any):  # type: ignore[no-untyped-def]
    """The real MCP server, its API client reaching the in-process sandbox."""
    return build_server(settings_for(**overrides), transport=sandbox.transport())


def body(result: types.CallToolResult, tool: str) -> dict[str, Any]:
    """structuredContent, checked against the tool's outputSchema and against the text content."""
    import json

    assert result.structured_content is not None
    jsonschema.validate(result.structured_content, OUTPUT_SCHEMAS[tool])
    # Every key a result carries is declared in its tool's outputSchema (the declaration is the result's
    # model: a key said only in a handler is a key no client was told about).
    undeclared = set(result.structured_content) - set(OUTPUT_SCHEMAS[tool]["properties"])
    assert not undeclared, f"{tool} answered keys its outputSchema does not declare: {sorted(undeclared)}"
    text = result.content[0].text  # type: ignore[union-attr]
    summary, _, payload = text.partition("\n")
    assert summary and json.loads(payload) == result.structured_content
    return result.structured_content


def required_from(record: dict[str, Any]) -> dict[str, Any]:
    """The seven required update fields, copied from a record as get returns it."""
    return {n: record[n] for n in REQUIRED}


class AfterPut(httpx2.AsyncBaseTransport):
    """The sandbox, with `hook(request, response)` run after each PUT it answers: a second writer
    changing the record before the read-back, or an odd envelope served in place of the real one
    (the hook returns a response to replace the sandbox's, or None to keep it)."""

    def __init__(
        self, sandbox: Sandbox, hook: Callable[[httpx2.Request, httpx2.Response], httpx2.Response | None]
    ) -> None:
        self.inner = sandbox.transport()
        self.hook = hook

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        response = await self.inner.handle_async_request(request)
        if request.method == "PUT":
            await response.aread()
            return self.hook(request, response) or response
        return response
