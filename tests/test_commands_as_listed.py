"""#24 item 5: commands as the API describes them: Order kept, one/many rules honoured, parameter types
passed on, the per-record list (its parameter's name unknown: every candidate sent, both outcomes
said), and the run role named both ways (…-Edit and …-Update) until probe knows."""

from __future__ import annotations

from typing import Any

import pytest
from mcp import Client

from nexudus_identity_mcp.record.operations import OPERATIONS
from nexudus_identity_mcp.sandbox import Sandbox, SandboxState
from nexudus_identity_mcp.sandbox.state import User
from nexudus_identity_mcp.tools.catalog import LIST_COMMANDS_TOOL, RUN_COMMAND_TOOL
from nexudus_identity_mcp.tools.commands import in_order, listed_command

from .helpers import body, server_for

pytestmark = pytest.mark.anyio
MANY_ONLY = "IDENTITYCHECK_CANCEL_SELECTED"
ONE_ONLY = "IDENTITYCHECK_REQUEST_NEW_DOCUMENT"
VERIFY = "IDENTITYCHECK_MARK_AS_VERIFIED"
GRACE, OTHER = 87654306, 87654301  # Grace's check is Cancelled in the seed; 87654301 is not


async def call(sandbox: Sandbox, tool: str, arguments: dict[str, Any], **overrides: Any) -> tuple[bool, dict[str, Any]]:
    async with Client(server_for(sandbox, **overrides), mode="legacy") as client:
        result = await client.call_tool(tool, arguments)
    return bool(result.is_error), body(result, tool)


def test_the_list_is_read_whole_and_kept_in_order() -> None:
    raw = [
        {"Key": "B", "Order": 2, "AppliesOnlyToMultipleEntities": True, "DisplayInDropdown": False, "Icon": "x"},
        {"Key": "none", "RequiresParameters": [{"Name": "Notes", "Type": "String"}, "Plain"]},
        {"Key": "A", "Order": 1, "Order2": 0, "Icon": 7, "RequiresParameters": [{"Name": "N", "Type": "Int32"}]},
    ]
    commands = in_order([listed_command(c) for c in raw])
    assert [c.key for c in commands] == ["A", "B", "none"]  # by Order; without one, last
    a, b, none = (c.shown() for c in commands)
    assert a["Parameters"] == [{"Name": "N", "Required": True, "Type": "Int32"}] and a["Icon"] is None
    assert b["ManyIdsOnly"] is True and b["OneIdOnly"] is False and b["DisplayInDropdown"] is False
    assert none["Order"] is None and [p["Type"] for p in none["Parameters"]] == ["String", None]


async def test_a_many_only_command_is_refused_for_one_id_and_runs_on_two(sandbox: Sandbox) -> None:
    failed, out = await call(sandbox, RUN_COMMAND_TOOL, {"Key": MANY_ONLY, "Ids": [OTHER]})
    assert failed and out["ErrorKind"] == "validation" and sandbox.state.count("run_command") == 0
    assert "two or more Ids" in out["Errors"][0]["Message"]
    failed, out = await call(sandbox, RUN_COMMAND_TOOL, {"Key": ONE_ONLY, "Ids": [OTHER, GRACE]})
    assert failed and "one check at a time" in out["Errors"][0]["Message"]
    failed, out = await call(sandbox, RUN_COMMAND_TOOL, {"Key": MANY_ONLY, "Ids": [OTHER, 87654302]})
    assert not failed and out["WasSuccessful"], out
    assert {sandbox.state.records[i]["VerificationStatus"] for i in (OTHER, 87654302)} == {5}


async def test_the_sandbox_refuses_a_many_only_command_on_one_record_itself(sandbox: Sandbox) -> None:
    """The rule the server enforces first is the API's own: the sandbox says no too."""
    from nexudus_identity_mcp.sandbox.commands import run_command

    status, envelope = run_command(sandbox.state.records, {"Key": MANY_ONLY, "Ids": [OTHER]}, "now", None)
    assert status == 400 and "multiple records" in envelope["Message"]


async def test_one_checks_commands_when_nexudus_honours_the_id(sandbox: Sandbox) -> None:
    failed, out = await call(sandbox, LIST_COMMANDS_TOOL, {"Id": GRACE})
    assert not failed, out
    keys = [c["Key"] for c in out["Commands"]]
    assert out["ForCheck"] == GRACE and out["FilteredByNexudus"] is True
    assert "IDENTITYCHECK_CANCEL" not in keys and MANY_ONLY not in keys and VERIFY in keys  # it is Cancelled
    assert "shorter list" in out["Message"]


async def test_one_checks_commands_when_nexudus_ignores_the_id() -> None:
    sandbox = Sandbox(SandboxState(commands_record_param=None))
    failed, out = await call(sandbox, LIST_COMMANDS_TOOL, {"Id": GRACE})
    assert not failed and out["FilteredByNexudus"] is False and len(out["Commands"]) == 5
    assert "ignored the Id" in out["Message"] and "may still be refused" in out["Message"]
    failed, out = await call(sandbox, LIST_COMMANDS_TOOL, {"Id": 5})
    assert failed and out["ErrorKind"] == "not_found"


async def test_the_run_role_is_named_both_ways_and_either_name_runs() -> None:
    assert OPERATIONS["run_command"].roles == ("CoworkerIdentityCheck-Edit", "CoworkerIdentityCheck-Update")
    sandbox = Sandbox()
    read = frozenset({"CoworkerIdentityCheck-Read", "CoworkerIdentityCheck-List"})
    sandbox.state.users["reader@sandbox.example"] = User("pw-reader-1", read)
    sandbox.state.users["updater@sandbox.example"] = User("pw-updater-1", read | {"CoworkerIdentityCheck-Update"})
    as_reader = {"token": None, "username": "reader@sandbox.example", "password": "pw-reader-1"}
    failed, out = await call(sandbox, RUN_COMMAND_TOOL, {"Key": VERIFY, "Ids": [GRACE]}, **as_reader)
    assert failed and out["ErrorKind"] == "unauthorized"
    assert "CoworkerIdentityCheck-Edit or CoworkerIdentityCheck-Update" in out["Message"]
    as_updater = {"token": None, "username": "updater@sandbox.example", "password": "pw-updater-1"}
    failed, out = await call(sandbox, RUN_COMMAND_TOOL, {"Key": VERIFY, "Ids": [GRACE]}, **as_updater)
    assert not failed and out["WasSuccessful"], out
