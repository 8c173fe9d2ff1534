"""Documents about to expire: the expiry window's range filters in the sandbox and the API client,
and how a row is checked against the window."""

from __future__ import annotations

from datetime import date

import pytest

from nexudus_identity_mcp.nexudus import NexudusClient
from nexudus_identity_mcp.record.fields import FILTER_BY_ARGUMENT, calendar_day
from nexudus_identity_mcp.sandbox import Sandbox, SandboxState

from .conftest import settings_for

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
