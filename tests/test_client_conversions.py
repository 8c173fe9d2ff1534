"""The tools as two framework families convert them (issue #13, items 8 and 9).

- google-genai's built-in MCP support (`_mcp_utils.mcp_to_gemini_tool`) turns each input schema into
  a Gemini Schema; it crashed on `additionalProperties: false` ('bool' object has no attribute 'items').
- OpenAI strict mode (openai-agents' `ensure_strict_json_schema`; LangChain and pydantic-ai do the same)
  makes every property required: a strict client sends every optional property, null where unused.
  The update must then change only what was asked.

Both packages are in the test extra; the rule google-genai applies is also checked without it.
"""

from __future__ import annotations

import copy
from typing import Any

import mcp.types as types
import pytest
from mcp import Client

from nexudus_identity_mcp.sandbox import Sandbox
from nexudus_identity_mcp.tools.catalog import FIND_TOOL, GET_TOOL, UPDATE_TOOL, tool_definitions

from .helpers import CHECK, body, server_for

TOOLS = tool_definitions()


def sub_schemas(schema: Any) -> list[Any]:
    """Every value google-genai's filter recurses into as a schema (items, additionalProperties, properties)."""
    out = []
    for key in ("items", "additionalProperties"):
        if key in schema:
            out.append(schema[key])
    out.extend(schema.get("properties", {}).values())
    return out


@pytest.mark.parametrize("tool", TOOLS, ids=lambda t: t.name)
def test_google_genai_rule_every_sub_schema_is_an_object(tool: types.Tool) -> None:
    pending = [tool.input_schema]
    while pending:
        schema = pending.pop()
        assert isinstance(schema, dict), f"{tool.name}: a non-object where google-genai expects a schema"
        pending.extend(sub_schemas(schema))


@pytest.mark.parametrize("tool", TOOLS, ids=lambda t: t.name)
def test_google_genai_converts_every_tool(tool: types.Tool) -> None:
    mcp_utils = pytest.importorskip("google.genai._mcp_utils")
    declaration = mcp_utils.mcp_to_gemini_tool(tool).function_declarations[0]
    assert declaration.name == tool.name
    assert set(declaration.parameters.properties) == set(tool.input_schema["properties"])
    assert (declaration.parameters.required or []) == tool.input_schema.get("required", [])


@pytest.mark.parametrize("tool", TOOLS, ids=lambda t: t.name)
def test_openai_strict_conversion_accepts_every_tool(tool: types.Tool) -> None:
    strict = pytest.importorskip("agents.strict_schema")
    converted = strict.ensure_strict_json_schema(copy.deepcopy(tool.input_schema))
    assert converted["required"] == list(tool.input_schema["properties"])


def strict_shape(tool_name: str, given: dict[str, Any]) -> dict[str, Any]:
    """What a strict client sends: every property of the converted schema, null where unused."""
    tool = next(t for t in TOOLS if t.name == tool_name)
    try:
        from agents.strict_schema import ensure_strict_json_schema

        schema = ensure_strict_json_schema(copy.deepcopy(tool.input_schema))
    except ImportError:
        schema = tool.input_schema
    return {name: given.get(name) for name in schema["properties"]}


@pytest.mark.anyio
async def test_the_strict_argument_shape_changes_only_what_was_asked(sandbox: Sandbox) -> None:
    before = sandbox.state.record(CHECK)
    async with Client(server_for(sandbox), mode="legacy") as client:
        found = body(
            await client.call_tool(FIND_TOOL, strict_shape(FIND_TOOL, {"CoworkerId": 2001, "Name": ""})), FIND_TOOL
        )
        assert CHECK in [row["Id"] for row in found["Checks"]]
        record = body(await client.call_tool(GET_TOOL, strict_shape(GET_TOOL, {"Id": CHECK})), GET_TOOL)["Record"]
        required = {k: record[k] for k in tool_definitions()[2].input_schema["required"]}
        arguments = strict_shape(
            UPDATE_TOOL, {**required, "Description": "Seen again", "IdentityCheckProvider2": "None"}
        )
        assert None in arguments.values() and "ClearFields" in arguments
        result = await client.call_tool(UPDATE_TOOL, arguments)
        out = body(result, UPDATE_TOOL)
    assert not result.is_error, out
    assert out["Changes"] == [{"Field": "Description", "From": before["Description"], "To": "Seen again"}]
    after = sandbox.state.record(CHECK)
    changed = {k for k in after if after[k] != before[k]}
    assert changed - {"UpdatedOn", "UpdatedBy"} == {"Description"}
