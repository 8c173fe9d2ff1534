"""The get and update tools end to end through the SDK's in-memory client, in both protocol eras
(the 2025-11-25 handshake and the 2026-07-28 stateless protocol), against the sandbox."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError

from nexudus_identity_mcp.mcpserver.app import build_server
from nexudus_identity_mcp.record.fields import SENT_FIELDS
from nexudus_identity_mcp.sandbox import Fault, Sandbox
from nexudus_identity_mcp.settings import Settings

from .helpers import CHECK, ERAS, body, required_from, server_for

pytestmark = pytest.mark.anyio
GET = "get_coworker_identity_check"
UPDATE = "update_coworker_identity_check"


@pytest.fixture(params=ERAS)
def era(request: pytest.FixtureRequest) -> str:
    return request.param


async def call(
    sandbox: Sandbox, era: str, tool: str, arguments: dict[str, Any], **overrides: Any
) -> tuple[bool, dict[str, Any]]:
    async with Client(server_for(sandbox, **overrides), mode=era) as client:
        result = await client.call_tool(tool, arguments)
    return bool(result.is_error), body(result, tool)


async def read(sandbox: Sandbox, era: str, check_id: int = CHECK) -> dict[str, Any]:
    is_error, out = await call(sandbox, era, GET, {"Id": check_id})
    assert not is_error, out
    return out["Record"]


# ------------------------------------------------------------------ get
async def test_get_returns_the_record_with_enum_names(sandbox: Sandbox, era: str) -> None:
    record = await read(sandbox, era)
    assert record["IdentityDocumentType"] == "Passport" and record["VerificationStatus"] == "Successful"
    assert record["AddressDocumentType"] == "None" and record["IdentityCheckProvider"] == "Manual"
    assert record["CoworkerFullName"] == "Ana Ribeiro" and record["UpdatedOn"]
    assert record["IdentityDocumentNumber"].startswith("«ID_DOC:")


async def test_get_unknown_id_and_bad_arguments(sandbox: Sandbox, era: str) -> None:
    is_error, out = await call(sandbox, era, GET, {"Id": 5})
    assert is_error and out["ErrorKind"] == "not_found" and out["Source"] == "nexudus" and not out["Retryable"]
    is_error, out = await call(sandbox, era, GET, {"id": "abc"})
    assert is_error and out["ErrorKind"] == "validation"
    assert {e["PropertyName"] for e in out["Errors"]} == {"Id", "id"}


async def test_unknown_tool_is_a_protocol_error(sandbox: Sandbox, era: str) -> None:
    async with Client(server_for(sandbox), mode=era) as client:
        with pytest.raises(MCPError) as caught:
            await client.call_tool("delete_coworker_identity_check", {"Id": CHECK})
    assert "Unknown tool" in caught.value.message


# ------------------------------------------------------------------ update: the happy path and the merge
async def test_update_merges_onto_the_current_record(sandbox: Sandbox, era: str) -> None:
    before = sandbox.state.record(CHECK)
    record = await read(sandbox, era)
    is_error, out = await call(sandbox, era, UPDATE, {**required_from(record), "Name": "Passport check 2026"})
    assert not is_error and out["WasSuccessful"] and out["DryRun"] is False
    assert out["Changes"] == [{"Field": "Name", "From": "Passport check", "To": "Passport check 2026"}]
    assert out["Value"] == {"Id": CHECK} and out["UpdatedOn"] and out["UpdatedBy"]
    after = sandbox.state.record(CHECK)
    changed = {k for k in after if after[k] != before[k]}
    assert changed == {"Name", "UpdatedOn", "UpdatedBy"}, "every field the call left out was kept"
    put = [r for r in sandbox.state.requests if r.route == "update"]
    assert len(put) == 1 and set(put[0].fields or []) == {f.name for f in SENT_FIELDS}
    assert [r.route for r in sandbox.state.requests].count("get") == 3  # our read, the tool's own read, its read-back


async def test_lenient_values_are_normalised(sandbox: Sandbox, era: str) -> None:
    record = await read(sandbox, era, 87654310)
    args = {
        **required_from(record),
        "IdentityCheckProvider": "stripe identity",
        "IdentityDocumentType": "3",
        "AddressDocumentType": 7,
        "BusinessId": str(record["BusinessId"]),
        "Billed": "true",
        "IdentityDocumentExpirationDate": "2030-02-28T12:00:00+02:00",
        "VerificationType1": "ADDRESS",
    }
    is_error, out = await call(sandbox, era, UPDATE, args)
    assert not is_error, out
    stored = sandbox.state.record(87654310)
    assert stored["IdentityCheckProvider"] == 2 and stored["IdentityDocumentType"] == 3
    assert stored["AddressDocumentType"] == 7 and stored["Billed"] is True and stored["VerificationType1"] == 2
    assert stored["IdentityDocumentExpirationDate"] == "2030-02-28T00:00:00Z"  # the date given, at midnight
    shown = {c["Field"]: c["To"] for c in out["Changes"]}
    assert (
        shown["IdentityCheckProvider"] == "StripeIdentity" and shown["AddressDocumentType"] == "VehicleRegistrationCard"
    )


@pytest.mark.parametrize(
    "given",
    ["2031-03-14", "2031-03-14T00:00", "2031-03-14T00:00:00Z", "2031-03-14T01:00:00+01:00", "2031-03-14T00:00:00.000Z"],
)
async def test_same_date_in_any_form_is_no_change(sandbox: Sandbox, given: str) -> None:
    record = await read(sandbox, "legacy")
    is_error, out = await call(
        sandbox, "legacy", UPDATE, {**required_from(record), "IdentityDocumentExpirationDate": given}
    )
    assert not is_error and out["Changes"] == []
    assert sandbox.state.count("update") == 0


async def test_clear_fields_blanks_only_what_is_named(sandbox: Sandbox, era: str) -> None:
    record = await read(sandbox, era)
    is_error, out = await call(
        sandbox, era, UPDATE, {**required_from(record), "ClearFields": ["Description", "Billed"]}
    )
    assert not is_error, out
    assert {c["Field"] for c in out["Changes"]} == {"Description", "Billed"}
    stored = sandbox.state.record(CHECK)
    assert stored["Description"] is None and stored["Billed"] is False
    assert stored["IdentityDocumentIssuedBy"] == "República Portuguesa"


async def test_clear_fields_refuses_required_and_unknown_names(sandbox: Sandbox, era: str) -> None:
    record = await read(sandbox, era)
    is_error, out = await call(
        sandbox, era, UPDATE, {**required_from(record), "ClearFields": ["Name", "Descripton"], "Description": "x"}
    )
    assert is_error and out["ErrorKind"] == "validation"
    messages = " ".join(e["Message"] for e in out["Errors"])
    assert "required" in messages and "Descripton" in messages
    assert any(e.get("Hint") == "Description" for e in out["Errors"])
    assert sandbox.state.count("update") == 0


async def test_no_change_makes_no_put(sandbox: Sandbox, era: str) -> None:
    record = await read(sandbox, era)
    is_error, out = await call(sandbox, era, UPDATE, {**required_from(record), "Description": record["Description"]})
    assert not is_error and out["WasSuccessful"] and out["Changes"] == []
    assert "Nothing" in out["Message"] and sandbox.state.count("update") == 0


async def test_dry_run_sends_nothing_and_shows_the_body(sandbox: Sandbox, era: str) -> None:
    before = sandbox.state.record(CHECK)
    record = await read(sandbox, era)
    is_error, out = await call(
        sandbox, era, UPDATE, {**required_from(record), "IdentityDocumentType": "IdCard", "DryRun": True}
    )
    assert not is_error and out["DryRun"] is True
    assert out["Changes"] == [{"Field": "IdentityDocumentType", "From": "Passport", "To": "IdCard"}]
    assert set(out["Body"]) == {f.name for f in SENT_FIELDS}
    assert out["Body"]["IdentityDocumentType"] == "IdCard", "enums as names, as everywhere else (#27 item 3)"
    assert out["Body"]["IdentityDocumentNumber"].startswith("«ID_DOC:")
    assert sandbox.state.count("update") == 0 and sandbox.state.record(CHECK) == before


async def test_conflict_when_the_record_changed_since_it_was_read(sandbox: Sandbox, era: str) -> None:
    record = await read(sandbox, era)
    is_error, _ = await call(
        sandbox,
        era,
        UPDATE,
        {**required_from(record), "Description": "first writer", "ExpectedUpdatedOn": record["UpdatedOn"]},
    )
    assert not is_error
    is_error, out = await call(
        sandbox,
        era,
        UPDATE,
        {**required_from(record), "Description": "second writer", "ExpectedUpdatedOn": record["UpdatedOn"]},
    )
    assert is_error and out["ErrorKind"] == "conflict" and not out["Retryable"]
    assert out["CurrentUpdatedOn"] == sandbox.state.record(CHECK)["UpdatedOn"] != record["UpdatedOn"]
    assert sandbox.state.record(CHECK)["Description"] == "first writer"
    assert sandbox.state.count("update") == 1


async def test_document_number_token_round_trip(sandbox: Sandbox, era: str) -> None:
    # One server for the whole exchange: without NEXUDUS_MCP_SECRET the token key is per process.
    async with Client(server_for(sandbox), mode=era) as client:
        record = body(await client.call_tool(GET, {"Id": CHECK}), GET)["Record"]
        token = record["IdentityDocumentNumber"]

        async def update(number: str) -> tuple[bool, dict[str, Any]]:
            result = await client.call_tool(UPDATE, {**required_from(record), "IdentityDocumentNumber": number})
            return bool(result.is_error), body(result, UPDATE)

        is_error, out = await update(token)
        assert not is_error and out["Changes"] == [], "the current token means: unchanged"
        is_error, out = await update("«ID_DOC:00000000»")
        assert is_error and out["Errors"][0]["PropertyName"] == "IdentityDocumentNumber"
        is_error, out = await update("X1234567")
        assert not is_error and out["Changes"][0]["To"].startswith("«ID_DOC:")
    assert sandbox.state.record(CHECK)["IdentityDocumentNumber"] == "X1234567"


async def test_tokens_agree_across_servers_with_a_shared_secret(sandbox: Sandbox) -> None:
    tokens = []
    for _ in range(2):
        async with Client(server_for(sandbox, mcp_secret="shared-between-workers"), mode="legacy") as client:
            tokens.append(body(await client.call_tool(GET, {"Id": CHECK}), GET)["Record"]["IdentityDocumentNumber"])
    assert tokens[0] == tokens[1]


# ------------------------------------------------------------------ update: errors, one per kind
async def test_local_validation_reports_everything_with_hints(sandbox: Sandbox, era: str) -> None:
    record = await read(sandbox, era)
    args = {
        **required_from(record),
        "IdentityDocumentType": "Pasport",
        "IdentityDocumentExpiryDate": "2031-01-01",
        "Billed": "maybe",
    }
    del args["Name"]
    requests_before = len(sandbox.state.requests)
    is_error, out = await call(sandbox, era, UPDATE, args)
    assert is_error and out["ErrorKind"] == "validation" and out["Source"] == "local" and not out["Retryable"]
    errors = {e["PropertyName"]: e for e in out["Errors"]}
    assert set(errors) == {"Name", "IdentityDocumentType", "IdentityDocumentExpiryDate", "Billed"}
    assert errors["IdentityDocumentType"]["Hint"] == "Passport"
    assert "NEXUSCard" in errors["IdentityDocumentType"]["AllowedValues"]
    assert errors["IdentityDocumentType"]["AttemptedValue"] == "Pasport"
    assert errors["IdentityDocumentExpiryDate"]["Hint"] == "IdentityDocumentExpirationDate"
    assert errors["Name"]["Hint"] == record["Name"], "a missing required field carries the record's value"
    assert "AllowedValues" not in errors["IdentityDocumentExpiryDate"], "no enum names for a date property"
    new = sandbox.state.requests[requests_before:]
    assert [r.method for r in new] == ["GET"], "invalid input is never sent; the record is only read for the Hints"


async def test_api_validation_is_passed_through_with_allowed_values(sandbox: Sandbox, era: str) -> None:
    record = await read(sandbox, era)
    is_error, out = await call(sandbox, era, UPDATE, {**required_from(record), "BusinessId": 9999, "Reassign": True})
    assert is_error and out["ErrorKind"] == "validation" and out["Source"] == "nexudus" and out["Status"] == 400
    assert out["Errors"] == [
        {"PropertyName": "BusinessId", "Message": "does not match an existing business", "AttemptedValue": 9999}
    ]
    sandbox.state.inject(
        Fault(
            "status",
            route="update",
            status=400,
            body={
                "Message": "IdentityDocumentType: is not valid for this business",
                "Value": None,
                "WasSuccessful": False,
                "Errors": [
                    {
                        "AttemptedValue": 1,
                        "Message": "is not valid for this business",
                        "PropertyName": "IdentityDocumentType",
                    }
                ],
            },
        )
    )
    is_error, out = await call(sandbox, era, UPDATE, {**required_from(record), "Name": "x"})
    assert is_error and out["Errors"][0]["AllowedValues"][1] == "Passport"


@pytest.mark.parametrize(
    ("fault", "kind", "retryable"),
    [
        (Fault("status", route="update", status=409, count=10, retry_after="3"), "rate_limited", True),
        (Fault("status", route="update", status=429, count=10), "rate_limited", True),
        (Fault("status", route="update", status=503, count=10), "upstream_unavailable", True),
        (Fault("html", route="update", status=200), "upstream_error", False),
        (Fault("envelope_errors", route="update"), "validation", False),
        (Fault("status", route="get", status=401, count=10), "unauthorized", False),
    ],
)
async def test_each_api_error_kind(sandbox: Sandbox, era: str, fault: Fault, kind: str, retryable: bool) -> None:
    record = await read(sandbox, era)
    sandbox.state.inject(copy.deepcopy(fault))  # the parameter is shared by both eras' runs
    is_error, out = await call(sandbox, era, UPDATE, {**required_from(record), "Name": "changed"}, max_attempts=1)
    assert is_error and out["ErrorKind"] == kind and out["Retryable"] is retryable and out["Source"] == "nexudus"
    if kind == "rate_limited":
        assert out["RetryAfterSeconds"] == (3.0 if fault.retry_after else 1.0)
    assert sandbox.state.record(CHECK)["Name"] == "Passport check"


async def test_unknown_id(sandbox: Sandbox, era: str) -> None:
    record = await read(sandbox, era)
    is_error, out = await call(sandbox, era, UPDATE, {**required_from(record), "Id": 123})
    assert is_error and out["ErrorKind"] == "not_found" and "123" in out["Message"]
    assert sandbox.state.count("update") == 0


async def test_wrong_credentials(sandbox: Sandbox, era: str) -> None:
    record = await read(sandbox, era)
    is_error, out = await call(sandbox, era, UPDATE, required_from(record), token="revoked")
    assert is_error and out["ErrorKind"] == "unauthorized" and "CoworkerIdentityCheck-Read" in out["Message"]


async def test_not_configured(sandbox: Sandbox, era: str) -> None:
    server = build_server(Settings(_env_file=None), transport=sandbox.transport())  # type: ignore[call-arg]
    async with Client(server, mode=era) as client:
        result = await client.call_tool(
            UPDATE,
            {
                "Id": CHECK,
                "BusinessId": 1001,
                "CoworkerId": 2001,
                "Name": "x",
                "IdentityCheckProvider": "Manual",
                "IdentityDocumentType": 1,
                "AddressDocumentType": 0,
            },
        )
    out = body(result, UPDATE)
    assert result.is_error and out["ErrorKind"] == "not_configured" and out["Source"] == "local"
    assert "NEXUDUS_TOKEN" in out["Message"] and "NEXUDUS_USERNAME" in out["Message"]
    assert sandbox.state.requests == []
