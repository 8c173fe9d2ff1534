"""Documents about to expire: the expiry window's range filters in the sandbox and the API client,
and how a row is checked against the window."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from mcp import Client

from nexudus_identity_mcp.nexudus import NexudusClient
from nexudus_identity_mcp.record.fields import FILTER_BY_ARGUMENT, calendar_day
from nexudus_identity_mcp.sandbox import Sandbox, SandboxState
from nexudus_identity_mcp.tools.catalog import FIND_TOOL

from .conftest import settings_for
from .helpers import ERAS, body, server_for

pytestmark = pytest.mark.anyio
BEFORE, ON_OR_AFTER = FILTER_BY_ARGUMENT["ExpiresBefore"], FILTER_BY_ARGUMENT["ExpiresOnOrAfter"]
EXPIRY = "IdentityDocumentExpirationDate"


def test_the_window_is_sent_as_the_apis_inclusive_minute_bounds() -> None:
    assert BEFORE.param == "to_CoworkerIdentityCheck_IdentityDocumentExpirationDate"
    assert ON_OR_AFTER.param == "from_CoworkerIdentityCheck_IdentityDocumentExpirationDate"
    assert BEFORE.api_value(date(2030, 3, 1)) == "2030-02-28T23:59"  # before March: not on March 1st
    assert ON_OR_AFTER.api_value(date(2030, 3, 1)) == "2030-03-01T00:00"


def test_rows_are_checked_by_the_day_the_date_field_holds() -> None:
    row = {EXPIRY: "2030-05-20T00:00:00Z"}
    assert BEFORE.matches(row, date(2030, 5, 21)) and not BEFORE.matches(row, date(2030, 5, 20))
    assert ON_OR_AFTER.matches(row, date(2030, 5, 20)) and not ON_OR_AFTER.matches(row, date(2030, 5, 21))
    assert not BEFORE.matches({EXPIRY: None}, date(2099, 1, 1))  # no expiry date is in no window
    assert calendar_day("2030-05-20T23:30:00+05:00") == date(2030, 5, 20)  # the day as written
    assert calendar_day("not a date") is None


@pytest.mark.parametrize("profile", ["documented", "live"])
async def test_the_client_sends_the_window_and_the_profile_decides(profile: str) -> None:
    sandbox = Sandbox(SandboxState(profile=profile))
    window = {
        BEFORE.param: BEFORE.api_value(date(2030, 1, 1)),
        ON_OR_AFTER.param: ON_OR_AFTER.api_value(date(2027, 1, 1)),
    }
    async with NexudusClient(settings_for(), transport=sandbox.transport()) as client:
        page = await client.search_checks(filters=window, size=100, order_by=EXPIRY, descending=False)
    days = [r[EXPIRY][:10] for r in page.records if r.get(EXPIRY)]
    if profile == "documented":
        assert days == ["2027-11-30", "2029-08-01"] and page.total_items == 2  # in the window, by expiry
    else:
        assert page.total_items == 12  # the live profile ignores the window, as the API ignores a guess


# ------------------------------------------------------------------ the find tool's window
async def find(sandbox: Sandbox, arguments: dict[str, Any], era: str = "legacy") -> tuple[bool, dict[str, Any]]:
    async with Client(server_for(sandbox), mode=era) as client:
        result = await client.call_tool(FIND_TOOL, arguments)
    return bool(result.is_error), body(result, FIND_TOOL)


@pytest.mark.parametrize("era", ERAS)
async def test_expiring_before_a_date_soonest_first_with_type_and_date(era: str) -> None:
    failed, out = await find(Sandbox(), {"ExpiresBefore": "2030-01-01"}, era)
    assert not failed and [r["Id"] for r in out["Checks"]] == [87654306, 87654303]
    first = out["Checks"][0]
    assert first["IdentityDocumentType"] == "ResidentCard" and first[EXPIRY] == "2027-11-30"  # a date shown as a date
    assert "FilteredHere" not in out


async def test_a_window_the_api_ignores_is_applied_and_sorted_here() -> None:
    sandbox = Sandbox(SandboxState(profile="live"))
    failed, out = await find(sandbox, {"ExpiresOnOrAfter": "2030-01-01", "ExpiresBefore": "2032-01-01"})
    assert not failed and [r["Id"] for r in out["Checks"]] == [87654304, 87654301]
    assert set(out["FilteredHere"]) == {"ExpiresOnOrAfter", "ExpiresBefore"} and out["Complete"] is True
    assert "ignored the" in out["Message"]


async def test_the_window_with_a_location_and_paging() -> None:
    sandbox = Sandbox()
    _, at = await find(sandbox, {"BusinessId": 1003, "ExpiresOnOrAfter": "2030-01-01"})
    assert [r["Id"] for r in at["Checks"]] == [87654309]
    _, first = await find(sandbox, {"ExpiresOnOrAfter": "2020-01-01", "PageSize": 2})
    _, second = await find(sandbox, {"ExpiresOnOrAfter": "2020-01-01", "PageSize": 2, "Page": 2})
    days = [r[EXPIRY] for r in first["Checks"] + second["Checks"]]
    assert days == sorted(days) and first["TotalItems"] == 5 and first["HasNextPage"]


async def test_an_api_that_does_not_sort_is_sorted_here() -> None:
    sandbox = Sandbox()
    original = sandbox.app

    async def unsorted(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":  # the API ignores orderBy
            query = "&".join(
                p for p in scope["query_string"].decode().split("&") if not p.startswith(("orderBy", "dir"))
            )
            scope = {**scope, "query_string": (query + "&orderBy=Id&dir=-1").encode()}
        await original(scope, receive, send)

    sandbox.app = unsorted  # type: ignore[assignment]
    failed, out = await find(sandbox, {"ExpiresOnOrAfter": "2020-01-01"})
    days = [r[EXPIRY] for r in out["Checks"]]
    assert not failed and days == sorted(days) and len(days) == 5


@pytest.mark.parametrize(
    ("arguments", "bad"),
    [
        ({"ExpiresBefore": "next spring"}, {"ExpiresBefore"}),
        ({"ExpiresBefore": "2030-01-01", "ExpiresOnOrAfter": "2031-01-01"}, {"ExpiresOnOrAfter"}),
    ],
)
async def test_bad_windows_are_named_and_nothing_is_searched(arguments: dict[str, Any], bad: set[str]) -> None:
    sandbox = Sandbox()
    failed, out = await find(sandbox, arguments)
    assert failed and {e["PropertyName"] for e in out["Errors"]} == bad and sandbox.state.count("search") == 0


async def test_the_prompt_asks_for_a_window_from_today_at_a_location() -> None:
    async with Client(server_for(Sandbox()), mode="legacy") as client:
        got = await client.get_prompt("expiring_documents", {"location": "1003", "days": "30"})
    text = got.messages[0].content.text  # type: ignore[union-attr]
    today = datetime.now(UTC).date().isoformat()
    assert f"Today is {today}" in text and "ExpiresOnOrAfter" in text and "ExpiresBefore" in text and "1003" in text
