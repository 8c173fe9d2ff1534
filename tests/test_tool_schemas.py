"""What a client sees of the tools: a snapshot of the exact tool list (names, schemas, annotations),
and a walk of every schema for the keywords that break major clients (the rules are in the
docstrings of tools/arguments.py, for input schemas, and tools/schemas.py, for output schemas).
A change to what the model sees must show up here as a reviewed diff.

To accept an intended change: UPDATE_SNAPSHOTS=1 python -m pytest tests/test_tool_schemas.py
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from nexudus_identity_mcp.sandbox import Sandbox

from .helpers import ERAS, server_for

pytestmark = pytest.mark.anyio
SNAPSHOT = Path(__file__).parent / "snapshots" / "tool_list.json"
FORBIDDEN = {"$ref", "$defs", "definitions", "anyOf", "oneOf", "allOf", "not", "format", "nullable"}
PAGE_REQUIRED = [
    "Id",
    "BusinessId",
    "CoworkerId",
    "Name",
    "IdentityCheckProvider",
    "IdentityDocumentType",
    "AddressDocumentType",
]


async def listed_tools(sandbox: Sandbox, era: str) -> list[dict[str, Any]]:
    async with Client(server_for(sandbox), mode=era) as client:
        tools = (await client.list_tools()).tools
    return [t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in tools]


@pytest.mark.parametrize("era", ERAS)
async def test_tool_list_matches_the_snapshot(sandbox: Sandbox, era: str) -> None:
    tools = await listed_tools(sandbox, era)
    for tool in tools:
        tool.pop("execution", None)  # 2025-11-25 only; not part of what we define
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        SNAPSHOT.write_text(json.dumps(tools, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    assert tools == json.loads(SNAPSHOT.read_text(encoding="utf-8"))


def walk(schema: Any, path: str = "$"):  # type: ignore[no-untyped-def]
    if isinstance(schema, dict):
        yield path, schema
        for key, value in schema.items():
            if key in ("properties",) and isinstance(value, dict):
                for name, sub in value.items():
                    yield from walk(sub, f"{path}.properties.{name}")
            elif key == "items":
                yield from walk(value, f"{path}.items")


async def test_every_schema_is_portable(sandbox: Sandbox) -> None:
    for tool in await listed_tools(sandbox, "legacy"):
        for kind in ("inputSchema", "outputSchema"):
            schema = tool[kind]
            text = json.dumps(schema)
            for word in FORBIDDEN:
                assert f'"{word}"' not in text or word in schema.get("properties", {}), (tool["name"], kind, word)
            assert schema["type"] == "object"
            for path, node in walk(schema):
                assert not isinstance(node.get("type"), list), (tool["name"], path)
                if ".properties." in path.rsplit(".items", 1)[-1]:
                    assert node.get("description"), f"{tool['name']} {kind} {path} has no description"
                if "enum" in node:
                    assert node["type"] == "string" and all(isinstance(v, str) for v in node["enum"]), path
        # google-genai's MCP support crashes on it; the server refuses unknown properties itself.
        assert "additionalProperties" not in tool["inputSchema"]


async def test_update_schema_is_the_reference_page(sandbox: Sandbox) -> None:
    tools = {t["name"]: t for t in await listed_tools(sandbox, "legacy")}
    update = tools["update_coworker_identity_check"]
    schema = update["inputSchema"]
    assert schema["required"] == PAGE_REQUIRED
    assert list(schema["properties"])[:7] == PAGE_REQUIRED
    assert {"ClearFields", "DryRun", "ExpectedUpdatedOn", "Reassign"} <= set(schema["properties"])
    doc_type = schema["properties"]["IdentityDocumentType"]
    assert doc_type["enum"][:3] == ["None", "Passport", "DriversLicense"]
    assert doc_type["description"] == "The identity document, for an IdDocument check."
    assert update["annotations"] == {
        "title": "Update a coworker identity check",
        "readOnlyHint": False,
        "destructiveHint": True,
        "idempotentHint": True,
        "openWorldHint": True,
    }
    assert tools["get_coworker_identity_check"]["annotations"]["readOnlyHint"] is True
    assert update["title"] and "A field left out or null keeps its value" in update["description"]
    assert "VerificationStatus and VerificationType are read-only here" in update["description"]
    assert "run_coworker_identity_check_command" in update["description"]
