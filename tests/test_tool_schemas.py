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

import jsonschema
import pytest
from mcp import Client

from nexudus_identity_mcp.sandbox import Sandbox
from nexudus_identity_mcp.tools.schemas import any_value, nullable
from nexudus_identity_mcp.tools.shape import fit

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


# What the MCP Inspector's schema lint counts as saying nothing about the value (annotations only).
ANNOTATIONS = {"title", "description", "default", "examples", "deprecated", "readOnly", "writeOnly", "$comment"}


def walk(schema: Any, path: str = "$"):  # type: ignore[no-untyped-def]
    if isinstance(schema, dict):
        yield path, schema
        for key, value in schema.items():
            if key in ("properties",) and isinstance(value, dict):
                for name, sub in value.items():
                    yield from walk(sub, f"{path}.properties.{name}")
            elif key == "items":
                yield from walk(value, f"{path}.items")
            elif key == "anyOf" and isinstance(value, list):
                for number, branch in enumerate(value):
                    yield from walk(branch, f"{path}.anyOf[{number}]")


async def test_every_schema_is_portable(sandbox: Sandbox) -> None:
    for tool in await listed_tools(sandbox, "legacy"):
        for kind in ("inputSchema", "outputSchema"):
            schema = tool[kind]
            text = json.dumps(schema)
            # Output schemas may say "this or null" with typed anyOf branches (tools/schemas.py's docstring).
            forbidden = FORBIDDEN - {"anyOf"} if kind == "outputSchema" else FORBIDDEN
            for word in forbidden:
                assert f'"{word}"' not in text or word in schema.get("properties", {}), (tool["name"], kind, word)
            assert schema["type"] == "object"
            for path, node in walk(schema):
                assert not isinstance(node.get("type"), list), (tool["name"], path)
                if ".properties." in path.rsplit(".items", 1)[-1] and not path.endswith("]"):
                    assert node.get("description"), f"{tool['name']} {kind} {path} has no description"
                if "enum" in node:
                    assert node["type"] == "string" and all(isinstance(v, str) for v in node["enum"]), path
                if "anyOf" in node:  # flat typed branches, one type each, no two alike
                    branches = node["anyOf"]
                    assert all(set(b) == {"type"} and isinstance(b["type"], str) for b in branches), path
                    assert len({b["type"] for b in branches}) == len(branches) >= 2, path
                    assert "type" not in node, path
        # google-genai's MCP support crashes on it; the server refuses unknown properties itself.
        assert "additionalProperties" not in tool["inputSchema"]


async def test_every_property_says_what_it_holds(sandbox: Sandbox) -> None:
    """No node of any schema (property, item or branch) is annotations only: each has a type or
    another validation keyword, or the Inspector's `--strict` lint warns that it accepts anything."""
    untyped = [
        f"{tool['name']} {kind} {path}"
        for tool in await listed_tools(sandbox, "legacy")
        for kind in ("inputSchema", "outputSchema")
        for path, node in walk(tool[kind])
        if not set(node) - ANNOTATIONS
    ]
    assert untyped == []


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


async def test_real_results_of_every_tool_validate_and_keep_their_nulls(sandbox: Sandbox) -> None:
    """Each tool's real answers (successes and failures, through the SDK client) validate against the
    outputSchema it lists, and a record's empty fields stay null: typing them did not make the
    server drop them (tools/shape.py fits Nexudus's values where they enter a result)."""
    async with Client(server_for(sandbox), mode="legacy") as client:
        schemas = {t.name: t.output_schema for t in (await client.list_tools()).tools}
        seen: dict[str, int] = {}

        async def call(tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
            result = await client.call_tool(tool, arguments)
            assert result.structured_content is not None, tool
            jsonschema.validate(result.structured_content, schemas[tool])
            seen[tool] = seen.get(tool, 0) + 1
            return result.structured_content

        rows = (await call("find_coworker_identity_checks", {"PageSize": 50}))["Checks"]
        assert any(row.get("IdentityDocumentExpirationDate", "absent") is None for row in rows)
        records = [(await call("get_coworker_identity_check", {"Id": row["Id"]}))["Record"] for row in rows]
        assert any(record.get("Description", "absent") is None for record in records)
        assert all(isinstance(record["Id"], int) and isinstance(record["Billed"], bool) for record in records)
        shown = {*PAGE_REQUIRED, "VerificationStatus", "VerificationType", "Billed", "UpdatedOn"}
        assert all(shown <= set(record) for record in records)  # enums as names, none dropped by the entry fit
        record = records[0]
        required = {name: record[name] for name in PAGE_REQUIRED}
        updated = await call("update_coworker_identity_check", {**required, "Description": "Seen at the desk."})
        assert updated["WasSuccessful"] and updated["Changes"][0]["To"] == "Seen at the desk."
        await call("update_coworker_identity_check", {"Id": record["Id"], "IdentityDocumentType": "Passprot"})
        await call("get_coworker_identity_check", {"Id": 1})
        commands = (await call("list_coworker_identity_check_commands", {}))["Commands"]
        await call(
            "run_coworker_identity_check_command", {"Key": commands[0]["Key"], "Ids": [record["Id"]], "DryRun": True}
        )
        await call("find_coworkers", {"FullName": "a"})
        await call("compare_identity_document_number", {"Id": record["Id"], "IdentityDocumentNumber": "X1"})
        entries = (await call("list_coworker_identity_check_changes", {}))["Entries"]
        await call("undo_coworker_identity_check_update", {"EntryId": entries[0]["EntryId"], "DryRun": True})
        await call("undo_coworker_identity_check_update", {"EntryId": entries[0]["EntryId"]})
        await call("undo_coworker_identity_check_update", {"EntryId": 999999})
    assert set(seen) == set(schemas)


def test_the_fit_keeps_null_where_the_schema_allows_it_and_coerces_otherwise() -> None:
    maybe_text, maybe_number = nullable("string", "d"), nullable("integer", "d")
    assert fit(None, maybe_text) == (True, None)
    assert fit(7, maybe_text) == (True, "7")
    assert fit("87654301", maybe_number) == (True, 87654301)
    assert fit("Passport", maybe_number) == (False, None)
    anything = any_value("d")
    assert [fit(v, anything) for v in (True, 3, "x", None, [1])] == [(True, v) for v in (True, 3, "x", None, [1])]
    assert fit({"A": None, "B": "x"}, {"type": "object", "properties": {"A": maybe_number, "B": maybe_number}}) == (
        True,
        {"A": None},
    )
