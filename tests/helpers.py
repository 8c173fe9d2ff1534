"""Helpers for tests that talk to the MCP server through real clients."""

from __future__ import annotations

from typing import Any

import jsonschema
import mcp.types as types

from nexudus_identity_mcp.app import build_server
from nexudus_identity_mcp.sandbox import Sandbox
from nexudus_identity_mcp.schemas import tool_definitions

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
    text = result.content[0].text  # type: ignore[union-attr]
    summary, _, payload = text.partition("\n")
    assert summary and json.loads(payload) == result.structured_content
    return result.structured_content


def required_from(record: dict[str, Any]) -> dict[str, Any]:
    """The seven required update fields, copied from a record as get returns it."""
    names = (
        "Id",
        "BusinessId",
        "CoworkerId",
        "Name",
        "IdentityCheckProvider",
        "IdentityDocumentType",
        "AddressDocumentType",
    )
    return {n: record[n] for n in names}
