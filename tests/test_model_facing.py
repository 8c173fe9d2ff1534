"""What a model reads (issue #13), through the SDK's client against the sandbox: errors that point the
right way, descriptions a small model can follow, short results, a first text line that stands alone,
and argument floods that stay small (#19.6-7)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from mcp import Client

from nexudus_identity_mcp.mcpserver.app import INSTRUCTIONS
from nexudus_identity_mcp.record.fields import FIELDS, LINKAGE_FIELDS
from nexudus_identity_mcp.sandbox import Sandbox
from nexudus_identity_mcp.tools.catalog import FIND_TOOL, GET_TOOL, RUN_COMMAND_TOOL, UPDATE_TOOL, tool_definitions

from .helpers import CHECK, body, required_from, server_for
from .model_visible import MODEL_VISIBLE_BUDGET, model_visible_bytes

pytestmark = pytest.mark.anyio


async def call(sandbox: Sandbox, tool: str, arguments: dict[str, Any]) -> tuple[bool, dict[str, Any], str]:
    async with Client(server_for(sandbox), mode="legacy") as client:
        result = await client.call_tool(tool, arguments)
    first_line = result.content[0].text.partition("\n")[0]  # type: ignore[union-attr]
    return bool(result.is_error), body(result, tool), first_line


async def read(sandbox: Sandbox, check_id: int = CHECK) -> dict[str, Any]:
    _, out, _ = await call(sandbox, GET_TOOL, {"Id": check_id})
    return dict(out["Record"])


# ------------------------------------------------------------------ 1. the misleading error
async def test_status_is_said_to_be_read_only_not_another_field(sandbox: Sandbox) -> None:
    record = await read(sandbox)
    is_error, out, line = await call(
        sandbox, UPDATE_TOOL, {**required_from(record), "VerificationStatus": "Successful"}
    )
    [error] = out["Errors"]
    assert is_error and error["PropertyName"] == "VerificationStatus"
    assert "read-only" in error["Message"] and RUN_COMMAND_TOOL in error["Message"]
    assert "Hint" not in error and "AllowedValues" not in error and "VerificationType2" not in json.dumps(out)
    assert "VerificationStatus: is read-only" in line and RUN_COMMAND_TOOL in line
    assert sandbox.state.count("update") == 0


# ------------------------------------------------------------------ 2, 3, 7, 8: what the tool list says
def test_read_only_fields_are_said_up_front() -> None:
    update = next(t for t in tool_definitions() if t.name == UPDATE_TOOL)
    for text in (update.description or "", INSTRUCTIONS):
        assert "VerificationStatus and VerificationType are read-only" in text and RUN_COMMAND_TOOL in text


def test_every_field_has_a_short_hand_written_description() -> None:
    generated = re.compile(r"value for this coworker identity check|Whether \w+ is enabled|^ID of the ")
    for f in FIELDS:
        assert f.description and not generated.search(f.description), f.name
        assert len(f.description) <= 110, f.name
    for name in ("IdentityCheckProvider1", "IdentityCheckProvider2"):
        assert "slot" in next(f for f in FIELDS if f.name == name).description
    assert "charged" in next(f for f in FIELDS if f.name == "Billed").description


def test_enum_descriptions_say_what_the_schema_accepts_and_schemas_drop_additional_properties() -> None:
    """#27 item 11: a client that validates locally against `enum` (CrewAI, AutoGen) rejects codes, so no
    description promises them; the server still takes them (tests/test_validation.py)."""
    for tool in tool_definitions():
        assert "additionalProperties" not in tool.input_schema
        for name, prop in tool.input_schema["properties"].items():
            if "enum" in prop:
                assert "code" not in prop["description"].lower(), (tool.name, name)


def test_the_three_tools_stay_within_the_budget() -> None:
    sizes = {t.name: model_visible_bytes(t) for t in tool_definitions() if t.name in (FIND_TOOL, GET_TOOL, UPDATE_TOOL)}
    assert len(sizes) == 3 and sum(sizes.values()) <= MODEL_VISIBLE_BUDGET, sizes


async def test_unknown_properties_are_still_refused(sandbox: Sandbox) -> None:
    is_error, out, line = await call(sandbox, FIND_TOOL, {"Colour": "blue"})
    assert is_error and out["Errors"][0]["PropertyName"] == "Colour" and "Colour" in line


# ------------------------------------------------------------------ 4. required fields
async def test_every_missing_required_field_carries_the_records_value(sandbox: Sandbox) -> None:
    record = await read(sandbox)
    is_error, out, line = await call(sandbox, UPDATE_TOOL, {"Id": CHECK, "Description": "x"})
    hints = {e["PropertyName"]: e["Hint"] for e in out["Errors"]}
    assert is_error and hints == {k: str(v) for k, v in required_from(record).items() if k != "Id"}
    assert '(Hint: "1001")' in line and line.endswith("Fix them and call again.")
    # The Hints alone repair the call.
    is_error, out, _ = await call(sandbox, UPDATE_TOOL, {"Id": CHECK, "Description": "x", **hints})
    assert not is_error and [c["Field"] for c in out["Changes"]] == ["Description"]


async def test_no_hint_when_the_check_does_not_exist(sandbox: Sandbox) -> None:
    is_error, out, _ = await call(sandbox, UPDATE_TOOL, {"Id": 5, "Description": "x"})
    assert is_error and out["ErrorKind"] == "validation" and all("Hint" not in e for e in out["Errors"])


async def test_a_wrong_owner_copy_is_refused_and_reassign_moves_it(sandbox: Sandbox) -> None:
    record = await read(sandbox)
    args = {**required_from(record), "BusinessId": 1002}
    is_error, out, line = await call(sandbox, UPDATE_TOOL, args)
    [error] = out["Errors"]
    assert is_error and error["PropertyName"] == "BusinessId" and error["Hint"] == "1001"
    assert "BusinessId: is 1002 but the check's BusinessId is 1001" in line and sandbox.state.count("update") == 0
    is_error, out, _ = await call(sandbox, UPDATE_TOOL, {**args, "Reassign": True})
    assert not is_error and sandbox.state.record(CHECK)["BusinessId"] == 1002


async def test_an_enum_set_to_none_is_applied_with_a_warning(sandbox: Sandbox) -> None:
    record = await read(sandbox)
    is_error, out, line = await call(sandbox, UPDATE_TOOL, {**required_from(record), "IdentityDocumentType": "None"})
    assert not is_error and out["Changes"] == [{"Field": "IdentityDocumentType", "From": "Passport", "To": "None"}]
    assert out["Warnings"] == ["IdentityDocumentType changed from Passport to None"]
    assert "Tell the user" not in line and "changed from" not in line and "1 warning(s) in Warnings" in line
    is_error, out, _ = await call(sandbox, UPDATE_TOOL, {**required_from(await read(sandbox)), "Description": "y"})
    assert not is_error and "Warnings" not in out


# ------------------------------------------------------------------ 6. short reads
async def test_linkage_fields_are_shown_only_when_set(sandbox: Sandbox) -> None:
    record = await read(sandbox)
    assert not {"ProposalGuid", "CoworkerContractGuid", "IsNew", "SystemId"} & set(record)
    assert record["UniqueId"]  # set in the seed, so shown
    sandbox.state.records[CHECK]["ProposalGuid"] = "0f3c2a1e-0000-4000-8000-000000000001"
    assert (await read(sandbox))["ProposalGuid"] == "0f3c2a1e-0000-4000-8000-000000000001"
    assert {"ProposalGuid", "UniqueId", "IsNew", "SystemId"} <= LINKAGE_FIELDS


# ------------------------------------------------------------------ 9. null keeps, "" clears
async def test_null_keeps_and_empty_text_clears(sandbox: Sandbox) -> None:
    record = await read(sandbox)
    is_error, out, _ = await call(
        sandbox,
        UPDATE_TOOL,
        {
            **required_from(record),
            "Description": "",
            "IdentityDocumentIssuedBy": None,
            "IdentityCheckProvider1": "None",
        },
    )
    assert not is_error and [c["Field"] for c in out["Changes"]] == ["Description"]
    after = sandbox.state.record(CHECK)
    assert after["Description"] is None and after["IdentityDocumentIssuedBy"] == "República Portuguesa"
    assert after.get("IdentityCheckProvider1") is None


async def test_owner_ids_below_one_are_refused(sandbox: Sandbox) -> None:
    record = await read(sandbox)
    is_error, out, _ = await call(sandbox, UPDATE_TOOL, {**required_from(record), "CoworkerId": 0, "Reassign": True})
    assert is_error and out["Errors"][0]["PropertyName"] == "CoworkerId" and sandbox.state.count("update") == 0


# ------------------------------------------------------------------ 10 and #19.6-7: errors stay small
async def test_a_flood_of_arguments_is_answered_briefly(sandbox: Sandbox) -> None:
    flood = {f"x{i}": i for i in range(20_071)}
    flood["Y" * 100_000] = "Z" * 100_000
    record = await read(sandbox)
    async with Client(server_for(sandbox), mode="legacy") as client:
        result = await client.call_tool(UPDATE_TOOL, {**required_from(record), **flood})
    text = result.content[0].text  # type: ignore[union-attr]
    assert result.is_error and len(text) < 5000 and "and 20,067 more" in text
    assert text.partition("\n")[0].startswith("Failed (validation, local): nothing was sent to Nexudus. 6 problem(s)")


async def test_a_five_thousand_digit_enum_is_a_validation_error(sandbox: Sandbox) -> None:
    record = await read(sandbox)
    is_error, out, line = await call(sandbox, UPDATE_TOOL, {**required_from(record), "VerificationType1": "7" * 5000})
    assert is_error and out["ErrorKind"] == "validation" and "VerificationType1" in line and len(line) < 600
