"""Members (coworkers): the sandbox's `/api/spaces/coworkers` in both profiles, and the API client's
coworker search and read, with the role each needs named when it is missing."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest
from mcp import Client

from nexudus_identity_mcp.nexudus import ErrorKind, NexudusError
from nexudus_identity_mcp.record.members import MEMBER_FILTERS, member_locations
from nexudus_identity_mcp.sandbox import (
    CHECKS_ONLY_PASSWORD,
    CHECKS_ONLY_USER,
    SANDBOX_TOKEN,
    Sandbox,
    SandboxState,
)
from nexudus_identity_mcp.sandbox.data import MEMBERS
from nexudus_identity_mcp.sandbox.state import LIVE_HONOURED_FILTERS
from nexudus_identity_mcp.tools.base import api_summary
from nexudus_identity_mcp.tools.catalog import FIND_MEMBERS_TOOL

from .helpers import ERAS, body, server_for

pytestmark = pytest.mark.anyio
PATH = "/api/spaces/coworkers"
AUTH = {"Authorization": f"Bearer {SANDBOX_TOKEN}"}


async def search(sandbox: Sandbox, **params: Any) -> dict[str, Any]:
    async with httpx2.AsyncClient(transport=sandbox.transport(), base_url="http://127.0.0.1") as http:
        response = await http.get(PATH, params={"size": 100, **params}, headers=AUTH)
        assert response.status_code == 200
        page: dict[str, Any] = response.json()
        return page


# ------------------------------------------------------------------ the sandbox's coworkers
def test_the_seed_has_members_easy_to_confuse() -> None:
    names = [m.full_name for m in MEMBERS.values()]
    assert names.count("Grace Okafor") == 2 and {"Ana Ribeiro", "Ana Ribeira"} <= set(names)
    assert {"Tomás Ferreira", "Tomas Ferreira"} <= set(names) and any(not n.isascii() for n in names)
    assert {m.business_id for m in MEMBERS.values()} == {1001, 1002, 1003}
    assert {m.active for m in MEMBERS.values()} == {True, False}


async def test_documented_profile_honours_every_coworker_filter() -> None:
    sandbox = Sandbox()
    everyone = await search(sandbox)
    assert everyone["TotalItems"] == len(MEMBERS)
    by_name = await search(sandbox, Coworker_FullName="okafor")
    assert sorted(r["Id"] for r in by_name["Records"]) == [2005, 2011]
    accented = await search(sandbox, Coworker_FullName="Tomás")
    assert [r["Id"] for r in accented["Records"]] == [2002]  # any case, but accents as written
    email = await search(sandbox, Coworker_Email="Grace.Okafor@members.sandbox.example")
    assert [r["Id"] for r in email["Records"]] == [2005]
    assert (await search(sandbox, Coworker_Email="grace.okafor"))["TotalItems"] == 0  # the whole address
    located = await search(sandbox, Coworker_InvoicingBusiness=1003)
    assert {r["InvoicingBusinessId"] for r in located["Records"]} == {1003} and located["TotalItems"] == 5
    row = by_name["Records"][0]
    assert {"Id", "FullName", "Email", "CompanyName", "InvoicingBusinessId", "InvoicingBusinessName", "Active"} <= set(
        row
    )


@pytest.mark.parametrize("profile", ["documented", "live"])
async def test_profiles_honour_the_coworker_filters_they_say(profile: str) -> None:
    sandbox = Sandbox(SandboxState(profile=profile))
    values = {"FullName": "Okafor", "Email": "lars@hoekstra-analytics.example", "InvoicingBusinessId": 1001}
    for f in MEMBER_FILTERS:
        page = await search(sandbox, **{f.param: f.api_value(values[f.argument])})
        honoured = all(f.matches(r, values[f.argument]) for r in page["Records"])
        assert honoured == (profile == "documented" or f.param in LIVE_HONOURED_FILTERS), f.param
        assert page["TotalItems"] < len(MEMBERS) or not honoured


async def test_coworker_search_pages_and_orders() -> None:
    sandbox = Sandbox()
    first = await search(sandbox, size=5, page=1, orderBy="FullName")
    second = await search(sandbox, size=5, page=2, orderBy="FullName")
    names = [r["FullName"] for r in first["Records"] + second["Records"]]
    assert names == sorted(names, key=str.casefold) and first["HasNextPage"] and first["TotalPages"] == 3


def test_member_locations_are_the_home_and_the_others() -> None:
    assert member_locations({"InvoicingBusinessId": 1002, "Businesses": [1002, 1003]}) == {1002, 1003}
    assert member_locations({"InvoicingBusinessId": None}) == set()


# ------------------------------------------------------------------ the API client
async def test_client_searches_and_reads_coworkers(client_for) -> None:  # type: ignore[no-untyped-def]
    client = client_for()
    page = await client.search_coworkers(filters={"Coworker_FullName": "Ribeir"}, size=10)
    assert sorted(r["FullName"] for r in page.records) == ["Ana Ribeira", "Ana Ribeiro"]
    assert page.total_items == 2 and not page.has_next_page
    member = await client.get_coworker(2005)
    assert member["FullName"] == "Grace Okafor" and member_locations(member) == {1002, 1003}


async def test_missing_coworker_roles_are_named(client_for) -> None:  # type: ignore[no-untyped-def]
    client = client_for(token=None, username=CHECKS_ONLY_USER, password=CHECKS_ONLY_PASSWORD)
    await client.get_check(87654301)  # the identity-check roles work
    with pytest.raises(NexudusError) as listed:
        await client.search_coworkers(filters={"Coworker_FullName": "Grace"})
    assert listed.value.kind == ErrorKind.UNAUTHORIZED and "Coworker-List role" in listed.value.message
    assert "coworker search" in listed.value.message
    with pytest.raises(NexudusError) as read:
        await client.get_coworker(2005)
    assert read.value.kind == ErrorKind.UNAUTHORIZED and "Coworker-Read role" in read.value.message


async def test_an_unknown_coworker_is_not_found(client_for) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(NexudusError) as missing:
        await client_for().get_coworker(999999)
    assert missing.value.kind == ErrorKind.NOT_FOUND and "no such coworker (HTTP 404)" in missing.value.message


# ------------------------------------------------------------------ the find-members tool
@pytest.fixture(params=ERAS)
def era(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def find(sandbox: Sandbox, era: str = "legacy", **overrides: Any) -> Any:
    async def call(arguments: dict[str, Any]) -> tuple[bool, dict[str, Any]]:
        async with Client(server_for(sandbox, **overrides), mode=era) as client:
            result = await client.call_tool(FIND_MEMBERS_TOOL, arguments)
        return bool(result.is_error), body(result, FIND_MEMBERS_TOOL)

    return call


def ids(out: dict[str, Any]) -> list[int]:
    return [r["Id"] for r in out["Members"]]


async def test_find_by_part_of_a_name_in_any_case(sandbox: Sandbox, era: str) -> None:
    failed, out = await (await find(sandbox, era))({"FullName": "okafor"})
    assert not failed and sorted(ids(out)) == [2005, 2011] and out["TotalItems"] == 2
    rows = {r["Id"]: r for r in out["Members"]}
    assert set(rows[2005]) == {
        "Id",
        "FullName",
        "Email",
        "InvoicingBusinessId",
        "InvoicingBusinessName",
        "CompanyName",
        "Active",
    }
    assert rows[2005]["InvoicingBusinessName"] == "Northside Hub Manchester" and rows[2005]["Active"] is True
    assert rows[2011]["Active"] is False and "Active false" in out["Message"]


@pytest.mark.parametrize(
    ("typed", "found"),
    [("Tomas Ferreira", [2002, 2010]), ("Tomás Ferreira", [2002, 2010]), ("zoe", [2013]), ("SOREN AGARD", [2014])],
)
async def test_accents_are_optional_both_ways(sandbox: Sandbox, typed: str, found: list[int]) -> None:
    failed, out = await (await find(sandbox))({"FullName": typed})
    assert not failed and sorted(ids(out)) == found
    assert "ignored" not in out["Message"]  # matching names here is by design, not a fault of the API


@pytest.mark.parametrize("profile", ["documented", "live"])
async def test_email_is_the_whole_address_in_any_case(profile: str) -> None:
    sandbox = Sandbox(SandboxState(profile=profile))
    failed, out = await (await find(sandbox))({"Email": "LARS@Hoekstra-Analytics.example"})
    assert not failed and ids(out) == [2007] and "FilteredHere" not in out
    _, part = await (await find(sandbox))({"Email": "hoekstra-analytics.example"})
    assert part["TotalItems"] == 0


async def test_a_location_filter_the_api_ignores_is_applied_here() -> None:
    sandbox = Sandbox(SandboxState(profile="live"))
    failed, out = await (await find(sandbox))({"FullName": "Grace Okafor", "InvoicingBusinessId": 1002})
    assert not failed and ids(out) == [2005]
    assert "InvoicingBusinessId" in out["FilteredHere"] and "ignored the InvoicingBusinessId" in out["Message"]
    _, located = await (await find(sandbox))({"InvoicingBusinessId": 1003})
    assert sorted(ids(located)) == [2006, 2007, 2008, 2010, 2014] and located["Complete"] is True


async def test_members_come_a_page_at_a_time(sandbox: Sandbox) -> None:
    call = await find(sandbox)
    _, first = await call({"PageSize": 5})
    _, last = await call({"PageSize": 5, "Page": 3})
    assert first["TotalItems"] == 14 and first["HasNextPage"] and len(first["Members"]) == 5
    assert not last["HasNextPage"] and len(last["Members"]) == 4 and not set(ids(first)) & set(ids(last))


async def test_bad_arguments_are_named(sandbox: Sandbox) -> None:
    failed, out = await (await find(sandbox))({"FullName": "Ana", "PageSize": 500, "Location": 1002})
    assert failed and out["ErrorKind"] == "validation"
    assert {e["PropertyName"] for e in out["Errors"]} == {"PageSize", "Location"}
    assert sandbox.state.count("coworker_search") == 0


async def test_without_the_coworker_list_role_the_error_names_it(sandbox: Sandbox) -> None:
    call = await find(sandbox, token=None, username=CHECKS_ONLY_USER, password=CHECKS_ONLY_PASSWORD)
    failed, out = await call({"FullName": "Grace"})
    assert failed and out["ErrorKind"] == "unauthorized" and "Coworker-List role" in out["Message"]


async def test_names_and_emails_follow_the_redaction_setting(sandbox: Sandbox) -> None:
    async with Client(server_for(sandbox, mcp_redact="name"), mode="legacy") as client:
        result = await client.call_tool(FIND_MEMBERS_TOOL, {"FullName": "Okafor"})
    out = body(result, FIND_MEMBERS_TOOL)
    text = result.content[0].text  # type: ignore[union-attr]
    assert all(r["FullName"].startswith("«NAME:") and r["Email"].startswith("«NAME:") for r in out["Members"])
    assert "Okafor" not in text and "okafor@" not in text and "2005" in text
    _, plain = await (await find(sandbox))({"FullName": "Okafor"})
    assert {r["FullName"] for r in plain["Members"]} == {"Grace Okafor"}  # the default shows names


async def test_a_name_token_is_not_searched_for(sandbox: Sandbox) -> None:
    failed, out = await (await find(sandbox, mcp_redact="name"))({"FullName": "«NAME:0b339dae»"})
    assert failed and out["ErrorKind"] == "validation" and sandbox.state.count("coworker_search") == 0


async def test_a_member_read_that_finds_nothing_names_a_member_not_a_check(client_for) -> None:  # type: ignore[no-untyped-def]
    """The 404's noun and the summary's both come from the operation's entry (record/operations.py):
    the member read said "coworker identity check" in its summary whatever was read."""
    with pytest.raises(NexudusError) as raised:
        await client_for().get_coworker(999_999)
    error = raised.value
    assert error.kind == ErrorKind.NOT_FOUND and error.operation == "coworker_get"
    assert error.message == "Nexudus found no such coworker (HTTP 404)."
    summary = api_summary(error, 999_999, None)
    assert summary == "Failed (not_found): no coworker with Id 999999. See Message."
    with pytest.raises(NexudusError) as check:
        await client_for().get_check(999_999)
    assert "no coworker identity check with Id 999999" in api_summary(check.value, 999_999, None)
