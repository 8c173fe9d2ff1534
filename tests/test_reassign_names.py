"""Reassignments that name people: a change of CoworkerId shows both members (name and location
beside the Ids) in dry runs, results and the question put to the user, and warns when the new member
does not belong to the check's location (or is inactive)."""

from __future__ import annotations

from typing import Any

import pytest
from mcp import Client

from nexudus_identity_mcp.sandbox import CHECKS_ONLY_PASSWORD, CHECKS_ONLY_USER, Sandbox
from nexudus_identity_mcp.tools.catalog import GET_TOOL, UPDATE_TOOL

from .helpers import ERAS, body, required_from, server_for
from .test_commands import Elicitations

pytestmark = pytest.mark.anyio
OLIVER_PASSPORT = 87654305  # Oliver Bennett (2004), Northside Hub Manchester (1002)


async def reassign(
    sandbox: Sandbox, to: int, *, era: str = "legacy", dry_run: bool = True, elicit: Any = None, **overrides: Any
) -> tuple[bool, dict[str, Any]]:
    async with Client(server_for(sandbox, **overrides), mode=era, elicitation_callback=elicit) as client:
        record = body(await client.call_tool(GET_TOOL, {"Id": OLIVER_PASSPORT}), GET_TOOL)["Record"]
        arguments = {**required_from(record), "CoworkerId": to, "Reassign": True, "DryRun": dry_run}
        result = await client.call_tool(UPDATE_TOOL, arguments)
    return bool(result.is_error), body(result, UPDATE_TOOL)


def member_change(out: dict[str, Any]) -> dict[str, Any]:
    [change] = [c for c in out["Changes"] if c["Field"] == "CoworkerId"]
    return change


@pytest.mark.parametrize("era", ERAS)
async def test_a_dry_run_names_both_members_and_their_locations(era: str) -> None:
    failed, out = await reassign(Sandbox(), 2005, era=era)
    change = member_change(out)
    assert not failed and out["DryRun"] and (change["From"], change["To"]) == (2004, 2005)
    assert change["FromMember"] == {
        "Id": 2004,
        "FullName": "Oliver Bennett",
        "Email": "oliver@bennett-design.example",
        "InvoicingBusinessId": 1002,
        "InvoicingBusinessName": "Northside Hub Manchester",
        "CompanyName": "Bennett Design Ltd",
        "Active": True,
    }
    assert change["ToMember"]["FullName"] == "Grace Okafor" and change["ToMember"]["InvoicingBusinessId"] == 1002
    assert "Oliver Bennett" in out["Message"] and "Grace Okafor" in out["Message"]
    assert not any("location" in w for w in out.get("Warnings", []))


async def test_a_member_of_another_location_is_warned_about() -> None:
    _, out = await reassign(Sandbox(), 2013)  # Zoë Kowalczyk, Harbour Works Lisbon (1001)
    assert member_change(out)["ToMember"]["InvoicingBusinessName"] == "Harbour Works Lisbon"
    [warning] = [w for w in out["Warnings"] if "does not belong to" in w]
    assert "Zoë Kowalczyk" in warning and "Northside Hub Manchester" in warning and "1002" in warning
    assert "does not belong to" not in out["Message"]  # said once, in Warnings (#27 item 2)


async def test_a_member_who_also_belongs_to_the_location_is_not_warned_about() -> None:
    sandbox = Sandbox()
    sandbox.state.records[OLIVER_PASSPORT]["BusinessId"] = 1003  # Grace Okafor belongs to 1002 and 1003
    _, out = await reassign(sandbox, 2005)
    assert not any("does not belong" in w for w in out.get("Warnings", []))


async def test_an_inactive_member_is_warned_about() -> None:
    _, out = await reassign(Sandbox(), 2011)  # the other Grace Okafor: inactive, at Lisbon
    warnings = " ".join(out["Warnings"])
    assert "inactive" in warnings and "does not belong to" in warnings


async def test_the_write_and_the_question_name_both_members() -> None:
    sandbox = Sandbox()
    asked = Elicitations("accept")
    failed, out = await reassign(sandbox, 2005, era="2026-07-28", dry_run=False, elicit=asked)
    assert not failed and not out["DryRun"] and member_change(out)["ToMember"]["FullName"] == "Grace Okafor"
    assert sandbox.state.records[OLIVER_PASSPORT]["CoworkerId"] == 2005
    [question] = asked.questions
    assert "Oliver Bennett" in question and "Grace Okafor" in question and "Northside Hub Manchester" in question


async def test_without_the_coworker_roles_it_still_works_and_says_why_no_names() -> None:
    sandbox = Sandbox()
    failed, out = await reassign(sandbox, 2005, token=None, username=CHECKS_ONLY_USER, password=CHECKS_ONLY_PASSWORD)
    change = member_change(out)
    assert not failed and "ToMember" not in change and (change["From"], change["To"]) == (2004, 2005)
    assert any("Coworker-Read role" in w for w in out["Warnings"])


async def test_member_names_follow_the_redaction_setting() -> None:
    _, out = await reassign(Sandbox(), 2005, mcp_redact="name")
    change = member_change(out)
    assert change["ToMember"]["FullName"].startswith("«NAME:") and change["ToMember"]["Email"].startswith("«NAME:")
    assert "Grace Okafor" not in str(out)
