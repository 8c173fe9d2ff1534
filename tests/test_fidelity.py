"""Faithful to the live API (issue 12): the real joined names, fields nobody documented kept in the
PUT and out of the model's sight, searches that prove every filter on every row, member-name
search, and the sandbox's two profiles (documented and live) that show each of these."""

from __future__ import annotations

import json
import logging
from datetime import date
from typing import Any

import httpx2
import pytest
from mcp import Client

from nexudus_identity_mcp.record import enums
from nexudus_identity_mcp.record.fields import FIELDS, READ_ONLY_NAMES, SEARCH_FILTERS
from nexudus_identity_mcp.sandbox import Fault, Sandbox, SandboxState
from nexudus_identity_mcp.sandbox.state import LIVE_HONOURED_FILTERS
from nexudus_identity_mcp.tools.search import MAX_SCAN_PAGES, MAX_SCAN_ROWS

from .helpers import body, required_from, server_for

pytestmark = pytest.mark.anyio
GET = "get_coworker_identity_check"
FIND = "find_coworker_identity_checks"
UPDATE = "update_coworker_identity_check"
PATH = "/api/spaces/coworkeridentitychecks"
AUTH = {"Authorization": "Bearer sandbox-token"}
UNKNOWN_TEXT = ("ToStringText", "CoworkerEmail", "CustomFields")
UNKNOWN_SCALARS = ("ReviewAttempts", "RequiresReview", "LocalizationDetails")


def live() -> Sandbox:
    return Sandbox(SandboxState(profile="live"))


class Session:
    """One MCP client session on the real server, against one sandbox."""

    def __init__(self, client: Client) -> None:
        self.client = client

    async def __call__(self, tool: str, arguments: dict[str, Any]) -> tuple[bool, dict[str, Any]]:
        result = await self.client.call_tool(tool, arguments)
        return bool(result.is_error), body(result, tool)


async def calls(sandbox: Sandbox, *steps: tuple[str, dict[str, Any]], **overrides: Any) -> list[dict[str, Any]]:
    out = []
    async with Client(server_for(sandbox, **overrides), mode="legacy") as client:
        session = Session(client)
        for tool, arguments in steps:
            is_error, answer = await session(tool, arguments)
            assert not is_error, answer
            out.append(answer)
    return out


def searches(sandbox: Sandbox) -> int:
    return sandbox.state.count("search")


# ------------------------------------------------------------------ 1, 8: names the API uses
def test_enum_api_names_are_the_apis() -> None:
    assert enums.IDENTITY_DOCUMENT_TYPE.api_name == "eIdentityCheckDocumentType"
    assert enums.ADDRESS_DOCUMENT_TYPE.api_name == "eAddressCheckDocumentType"
    assert {e.api_name for e in enums.ALL_ENUMS} == {
        "eIdentityCheckProvider",
        "eIdentityCheckDocumentType",
        "eAddressCheckDocumentType",
        "eIdVerificationType",
        "eIdVerificationStatus",
    }


def test_joined_member_fields_have_the_apis_names() -> None:
    names = {f.name: f for f in FIELDS}
    for old in ("CoworkerType", "CompanyName", "BillingName"):
        assert old not in names
    assert names["CoworkerCompanyName"].pii == names["CoworkerBillingName"].pii == "name"
    assert {"CoworkerCoworkerType", "CoworkerCompanyName", "CoworkerBillingName"} <= READ_ONLY_NAMES


@pytest.mark.parametrize("profile", ["documented", "live"])
async def test_joined_names_are_redacted_under_name(profile: str) -> None:
    sandbox = Sandbox(SandboxState(profile=profile))
    stored = sandbox.state.record(87654303)
    assert stored["CoworkerCompanyName"] == "Ferreira & Filhos Lda" and stored["CoworkerCoworkerType"]
    [out] = await calls(sandbox, (GET, {"Id": 87654303}), mcp_redact="id_document,name")
    record = out["Record"]
    for name in ("CoworkerFullName", "CoworkerCompanyName", "CoworkerBillingName", "UpdatedBy"):
        assert record[name].startswith("«NAME:"), name
    text = repr(out)
    assert "Ferreira" not in text and "Tomás" not in text


# ------------------------------------------------------------------ 2: unknown fields
async def test_unknown_fields_are_kept_in_the_put_and_out_of_sight() -> None:
    sandbox = live()
    before = sandbox.state.record(87654301)
    assert {*UNKNOWN_TEXT, *UNKNOWN_SCALARS} <= set(before)
    read, dry, done = await calls(
        sandbox,
        (GET, {"Id": 87654301}),
        (UPDATE, {**required_from(before | {"IdentityCheckProvider": "Manual"}), "Description": "x", "DryRun": True}),
        (UPDATE, {**required_from(before | {"IdentityCheckProvider": "Manual"}), "Description": "Rechecked."}),
    )
    record = read["Record"]
    for name in UNKNOWN_TEXT:
        assert name not in record, f"{name} (text or object) was shown"
    for name in UNKNOWN_SCALARS:
        assert name in record and record[name] == before[name], f"{name} (plain scalar) was hidden"
    assert (
        not set(UNKNOWN_TEXT) & set(dry["Body"])
        and "Also sent unchanged, not shown (fields this server does not know)" in dry["Message"]
    )
    assert before["CoworkerEmail"] not in repr([read, dry, done])
    after = sandbox.state.record(87654301)
    for name in (*UNKNOWN_TEXT, *UNKNOWN_SCALARS):
        assert after[name] == before[name], f"{name} was lost by the PUT"
    [put] = [r for r in sandbox.state.requests if r.route == "update"]
    sent = set(put.fields or [])
    assert {*UNKNOWN_TEXT, *UNKNOWN_SCALARS} <= sent
    assert not sent & READ_ONLY_NAMES, "read-only and joined fields are not sent"
    assert after["Description"] == "Rechecked."


async def test_a_put_that_drops_an_unknown_field_clears_it_in_the_live_profile() -> None:
    """The hazard the PUT body guards against: the live profile clears what a PUT leaves out."""
    sandbox = live()
    record = sandbox.state.record(87654302)
    body_ = {k: v for k, v in record.items() if k not in READ_ONLY_NAMES and k != "CoworkerEmail"}
    async with httpx2.AsyncClient(transport=sandbox.transport(), base_url="http://127.0.0.1") as http:
        response = await http.put(PATH, json=body_, headers=AUTH)
    assert response.status_code == 200
    assert sandbox.state.records[87654302]["CoworkerEmail"] is None


async def test_an_api_error_echoing_unknown_fields_does_not_show_them() -> None:
    sandbox = live()
    record = sandbox.state.record(87654305)
    sandbox.state.inject(Fault("envelope_errors", route="update"))
    async with Client(server_for(sandbox), mode="legacy") as client:
        args = {**required_from(record | {"IdentityCheckProvider": "StripeIdentity"}), "Description": "y"}
        is_error, out = await Session(client)(UPDATE, args)
    assert is_error and out["ErrorKind"] == "validation"
    shown = {e["PropertyName"]: e["AttemptedValue"] for e in out["Errors"]}
    assert shown["ReviewAttempts"] == record["ReviewAttempts"]
    assert record["CoworkerEmail"] not in repr(out) and record["ToStringText"] not in repr(out)


# ------------------------------------------------------------------ 3: self-verifying search
async def test_documented_profile_honours_filters_in_one_request() -> None:
    sandbox = Sandbox()
    [out] = await calls(sandbox, (FIND, {"CoworkerId": 2008, "VerificationStatus": "Pending"}))
    assert [r["Id"] for r in out["Checks"]] == [87654311] and "FilteredHere" not in out
    assert searches(sandbox) == 1


async def test_an_ignored_filter_is_caught_filtered_here_and_remembered(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="nexudus_identity_mcp.search")
    sandbox = live()
    args = {"CoworkerId": 2008, "VerificationStatus": "Pending"}
    first, second = await calls(sandbox, (FIND, args), (FIND, args))
    for out in (first, second):
        assert [r["Id"] for r in out["Checks"]] == [87654311], "only true matches are listed"
        assert out["TotalItems"] == 1 and out["FilteredHere"] == ["VerificationStatus"] and out["Complete"]
        assert "ignored the VerificationStatus filter" in out["Message"]
    assert searches(sandbox) == 3, "the first search tries, then scans; the second scans at once"
    warnings = [r for r in caplog.records if "ignored the filter" in r.getMessage()]
    assert len(warnings) == 1 and "CoworkerIdentityCheck_VerificationStatus" in warnings[0].getMessage()


async def test_only_the_ignored_filters_are_applied_here_and_paging_is_ours() -> None:
    sandbox = live()
    pages = await calls(
        sandbox,
        *((FIND, {"BusinessId": 1002, "VerificationType": "IdDocument", "PageSize": 1, "Page": n}) for n in (1, 2, 3)),
    )
    ids = [p["Checks"][0]["Id"] for p in pages if p["Checks"]]
    assert ids == [87654304, 87654305, 87654306] and pages[0]["TotalItems"] == 3
    assert pages[0]["HasNextPage"] and not pages[2]["HasNextPage"] and pages[2]["TotalPages"] == 3
    # The first page's one row matched by chance; the proof (the search without the filter finds as
    # many) could not show the filter honoured, so it was checked over a scan and caught.
    assert all(p["FilteredHere"] == ["VerificationType"] for p in pages)
    [sent] = {r.route for r in sandbox.state.requests}
    assert sent == "search"


async def test_a_filter_is_proven_once_per_process() -> None:
    sandbox = Sandbox()
    args = {"Name": "check", "PageSize": 2}
    first, second = await calls(sandbox, (FIND, args), (FIND, args))
    assert first == second and first["TotalItems"] == 8 and "FilteredHere" not in first
    assert searches(sandbox) == 3, "search + proof (without the filter more match), then the search alone"


async def test_the_scan_is_bounded_and_says_so() -> None:
    sandbox = live()
    template = sandbox.state.record(87654308)
    for n in range(700):
        sandbox.state.records[90000000 + n] = {**template, "Id": 90000000 + n, "Name": "Bulk check"}
    [out] = await calls(sandbox, (FIND, {"Name": "Passport"}))
    assert out["Complete"] is False and out["FilteredHere"] == ["Name"]
    assert f"at most {MAX_SCAN_PAGES} pages / {MAX_SCAN_ROWS} rows" in out["Message"]
    assert searches(sandbox) <= 1 + MAX_SCAN_PAGES
    assert all("Passport" in r["Name"] for r in out["Checks"])


# ------------------------------------------------------------------ 4: member-name search
@pytest.mark.parametrize("profile", ["documented", "live"])
async def test_find_by_member_name(profile: str) -> None:
    sandbox = Sandbox(SandboxState(profile=profile))
    [priya] = await calls(sandbox, (FIND, {"CoworkerFullName": "priya"}))
    assert sorted(r["Id"] for r in priya["Checks"]) == [87654304, 87654312]
    [tomas] = await calls(sandbox, (FIND, {"CoworkerFullName": "Tomás Ferreira"}))
    assert [r["Id"] for r in tomas["Checks"]] == [87654303]
    assert ("FilteredHere" in priya) == (profile == "live")
    [request] = [r for r in sandbox.state.requests if r.route == "search"][:1]
    assert request.status == 200


async def test_member_name_search_is_accent_insensitive_when_filtered_here() -> None:
    [out] = await calls(live(), (FIND, {"CoworkerFullName": "TOMAS FERREIRA"}))
    assert [r["Id"] for r in out["Checks"]] == [87654303]


async def test_a_name_the_api_misses_for_its_accents_is_matched_here() -> None:
    sandbox = Sandbox()  # documented: the API matches the name itself, by case only
    found, missing = await calls(
        sandbox, (FIND, {"CoworkerFullName": "tomas ferreira"}), (FIND, {"CoworkerFullName": "Nobody Here"})
    )
    assert [r["Id"] for r in found["Checks"]] == [87654303] and found["FilteredHere"] == ["CoworkerFullName"]
    assert "matched CoworkerFullName itself (any case, accents ignored)" in found["Message"]
    assert "The API ignored" not in found["Message"]
    assert missing["TotalItems"] == 0 and missing["Complete"] is True
    assert searches(sandbox) == 4, "each: the API's search, then one scan page of the 12 checks"


async def test_member_name_search_is_sent_as_the_inferred_filter() -> None:
    seen: list[str] = []
    sandbox = Sandbox()
    inner = sandbox.app

    async def spy(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            seen.append(scope.get("query_string", b"").decode())
        await inner(scope, receive, send)

    sandbox.app = spy  # type: ignore[assignment]  # a pass-through that records the query strings
    await calls(sandbox, (FIND, {"CoworkerFullName": "Grace"}))
    assert any("CoworkerIdentityCheck_Coworker_FullName=Grace" in q for q in seen)


async def test_a_person_name_in_name_points_to_coworker_full_name() -> None:
    person, check = await calls(Sandbox(), (FIND, {"Name": "Grace Okafor"}), (FIND, {"Name": "Tax Return Check"}))
    assert person["TotalItems"] == 0
    assert "Name matches the check's name; to search by member use CoworkerFullName" in person["Message"]
    assert check["TotalItems"] == 0 and "CoworkerFullName" not in check["Message"]


# ------------------------------------------------------------------ 5: the sandbox's profiles
@pytest.mark.parametrize("profile", ["documented", "live"])
async def test_sandbox_profiles_filter_as_they_say(profile: str) -> None:
    sandbox = Sandbox(SandboxState(profile=profile))
    async with httpx2.AsyncClient(transport=sandbox.transport(), base_url="http://127.0.0.1") as http:
        for f in SEARCH_FILTERS:
            value = {
                "CoworkerId": 2003,
                "BusinessId": 1003,
                "Name": "address",
                "CoworkerFullName": "Okafor",
                "ExpiresBefore": date(2030, 1, 1),
                "ExpiresOnOrAfter": date(2031, 1, 1),
            }.get(f.argument, 4)
            page = (await http.get(PATH, params={f.param: f.api_value(value), "size": 100}, headers=AUTH)).json()
            honoured = all(f.matches(r, value) for r in page["Records"])
            assert honoured == (profile == "documented" or f.param in LIVE_HONOURED_FILTERS), f.param
            get = (await http.get(f"{PATH}/87654301", headers=AUTH)).json()
            assert ("ToStringText" in get) == (profile == "live")


def test_unknown_profile_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown sandbox profile"):
        SandboxState(profile="staging")  # type: ignore[arg-type]


async def test_rows_without_the_filtered_field_do_not_condemn_the_filter() -> None:
    """If search rows left a field out, the filter on it could not be checked: it is trusted, not
    declared ignored (which would filter every row away here)."""
    sandbox = Sandbox()
    original = sandbox.app

    async def without_full_names(scope: Any, receive: Any, send: Any) -> None:
        async def strip(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.body" and message.get("body", b"").startswith(b'{"Records"'):
                page = json.loads(message["body"])
                for row in page["Records"]:
                    row.pop("CoworkerFullName", None)
                message = {**message, "body": json.dumps(page).encode()}
            elif message["type"] == "http.response.start":
                message = {**message, "headers": [(k, v) for k, v in message["headers"] if k != b"content-length"]}
            await send(message)

        await original(scope, receive, strip)

    sandbox.app = without_full_names  # type: ignore[assignment]
    [out] = await calls(sandbox, (FIND, {"CoworkerFullName": "Priya"}))
    assert sorted(r["Id"] for r in out["Checks"]) == [87654304, 87654312] and "FilteredHere" not in out


async def test_a_name_token_given_back_as_a_filter_is_refused_with_a_way_out() -> None:
    sandbox = Sandbox()
    async with Client(server_for(sandbox, mcp_redact="id_document,name"), mode="legacy") as client:
        session = Session(client)
        _, found = await session(FIND, {"CoworkerId": 2005})
        token = found["Checks"][0]["CoworkerFullName"]
        assert token.startswith("«NAME:")
        is_error, out = await session(FIND, {"CoworkerFullName": token})
    assert is_error and out["ErrorKind"] == "validation" and out["Errors"][0]["PropertyName"] == "CoworkerFullName"
    assert "CoworkerId" in out["Errors"][0]["Message"] and searches(sandbox) == 1
