"""#24 item 1: an expiry date is a calendar date. The day the user gave is kept whatever time or
offset follows it, sent as midnight in the form the record uses (its `Z` or none, never converted
through UTC), shown to the model as YYYY-MM-DD, and compared as a day on read-back."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from mcp import Client

from nexudus_identity_mcp.record.fields import BY_NAME, DATE_FIELDS, as_shown, in_record_form, writes_z
from nexudus_identity_mcp.record.timefmt import calendar_date, has_z, midnight
from nexudus_identity_mcp.record.validation import FieldError, coerce
from nexudus_identity_mcp.sandbox import Fault, Sandbox, SandboxState

from .helpers import CHECK, body, required_from, server_for

pytestmark = pytest.mark.anyio
GET, UPDATE, FIND = "get_coworker_identity_check", "update_coworker_identity_check", "find_coworker_identity_checks"
EXPIRY = "IdentityDocumentExpirationDate"


# ------------------------------------------------------------------ units: timefmt and validation
@pytest.mark.parametrize(
    ("given", "day"),
    [
        ("2032-03-14", date(2032, 3, 14)),
        ("2032-03-14T00:00:00+02:00", date(2032, 3, 14)),  # UTC would say 13 March 22:00
        ("2032-03-14T23:30:00-05:00", date(2032, 3, 14)),  # UTC would say 15 March
        ("2032-03-14T00:00:00Z", date(2032, 3, 14)),
        ("2032-03-14T00:00:00", date(2032, 3, 14)),
        ("2032-03-14T00:00:00.0000000", date(2032, 3, 14)),
        (" 2032-03-14T10:30 ", date(2032, 3, 14)),
    ],
)
def test_the_calendar_date_is_the_date_as_written(given: str, day: date) -> None:
    assert calendar_date(given) == day
    assert coerce(BY_NAME[EXPIRY], given) == f"{day}T00:00:00Z"


@pytest.mark.parametrize(
    "given", ["", "14/03/2032", "2032-13-01", "1899-12-31", "2201-01-01T00:00:00Z", None, 20320314]
)
def test_what_is_not_a_date_is_refused(given: Any) -> None:
    assert calendar_date(given) is None
    with pytest.raises(FieldError):
        coerce(BY_NAME[EXPIRY], given)


def test_midnight_in_the_records_form() -> None:
    assert DATE_FIELDS == (EXPIRY,)  # the one calendar date of the record; CreatedOn/UpdatedOn are moments
    assert midnight(date(2032, 3, 14)) == "2032-03-14T00:00:00Z"
    assert midnight(date(2032, 3, 14), z=False) == "2032-03-14T00:00:00"
    assert has_z("2031-03-14T00:00:00Z") and not has_z("2031-03-14T00:00:00") and not has_z(None)
    # The field's own value decides; a blank one defers to the record's other dates; none at all: Z.
    assert writes_z({EXPIRY: "2031-03-14T00:00:00", "UpdatedOn": "2026-01-01T00:00:00Z"}, EXPIRY) is False
    assert writes_z({EXPIRY: None, "UpdatedOn": "2026-01-01T10:00:00.123"}, EXPIRY) is False
    assert writes_z({EXPIRY: None, "UpdatedOn": None}, EXPIRY) is True
    values = {EXPIRY: "2032-03-14T00:00:00Z", "Name": "x"}
    in_record_form(values, {EXPIRY: "2030-01-01T00:00:00"})
    assert values == {EXPIRY: "2032-03-14T00:00:00", "Name": "x"}
    assert as_shown(EXPIRY, "2032-03-14T00:00:00") == "2032-03-14" and as_shown(EXPIRY, None) is None
    assert as_shown("UpdatedOn", "2026-01-01T10:00:00Z") == "2026-01-01T10:00:00Z"  # a moment keeps its time


# ------------------------------------------------------------------ through the tools, over the sandbox
async def call(sandbox: Sandbox, tool: str, arguments: dict[str, Any]) -> tuple[bool, dict[str, Any]]:
    async with Client(server_for(sandbox), mode="legacy") as client:
        result = await client.call_tool(tool, arguments)
    return bool(result.is_error), body(result, tool)


def sent_dates(sandbox: Sandbox) -> list[Any]:
    return [b.get(EXPIRY) for route, b in sandbox.state.carried if route == "update"]


async def test_the_issues_dry_run_keeps_the_day_and_the_write_sends_its_midnight() -> None:
    sandbox = Sandbox()
    _, got = await call(sandbox, GET, {"Id": CHECK})
    args = {**required_from(got["Record"]), EXPIRY: "2032-03-14T00:00:00+02:00"}
    failed, dry = await call(sandbox, UPDATE, {**args, "DryRun": True})
    assert not failed, dry
    assert dry["Changes"] == [{"Field": EXPIRY, "From": "2031-03-14", "To": "2032-03-14"}]
    assert dry["Body"][EXPIRY] == "2032-03-14" and "2032-03-13" not in str(dry)
    assert sandbox.state.count("update") == 0
    failed, done = await call(sandbox, UPDATE, args)
    assert not failed and done["WasSuccessful"], done
    assert sent_dates(sandbox) == ["2032-03-14T00:00:00Z"]  # midnight of the day given, not 13 March 22:00
    assert sandbox.state.record(CHECK)[EXPIRY] == "2032-03-14T00:00:00Z"
    assert "every field holds the value sent" in done["Message"]


@pytest.mark.parametrize("with_z", [True, False], ids=["Z", "no-Z"])
async def test_a_date_is_written_in_the_records_own_form_end_to_end(with_z: bool) -> None:
    sandbox = Sandbox(SandboxState(profile="live", dates_with_z=with_z))
    suffix = "Z" if with_z else ""
    assert sandbox.state.record(CHECK)[EXPIRY] == f"2031-03-14T00:00:00{suffix}"  # the seed, in the store's form
    _, got = await call(sandbox, GET, {"Id": CHECK})
    assert got["Record"][EXPIRY] == "2031-03-14"  # shown as a date
    failed, done = await call(sandbox, UPDATE, {**required_from(got["Record"]), EXPIRY: "2032-03-14T23:30:00-05:00"})
    assert not failed and done["Changes"] == [{"Field": EXPIRY, "From": "2031-03-14", "To": "2032-03-14"}], done
    assert sent_dates(sandbox) == [f"2032-03-14T00:00:00{suffix}"]
    assert sandbox.state.record(CHECK)[EXPIRY] == f"2032-03-14T00:00:00{suffix}"
    # The same day again in any form is no change, and nothing is written.
    for same in ("2032-03-14", "2032-03-14T00:00:00Z", "2032-03-14T00:00:00+02:00", "2032-03-14T00:00:00"):
        failed, again = await call(sandbox, UPDATE, {**required_from(got["Record"]), EXPIRY: same})
        assert not failed and again["Changes"] == [], again
    assert sandbox.state.count("update") == 1
    _, found = await call(sandbox, FIND, {"CoworkerId": got["Record"]["CoworkerId"]})
    assert {r[EXPIRY] for r in found["Checks"] if r["Id"] == CHECK} == {"2032-03-14"}


async def test_the_read_back_compares_days_not_forms() -> None:
    """The update's GET sees no `Z` (the `no_z` fault), so it sends none; the store writes its `Z`: the
    same day, so the write is verified, not a conflict."""
    sandbox = Sandbox()
    _, got = await call(sandbox, GET, {"Id": CHECK})
    sandbox.state.inject(Fault("no_z", route="get"))
    failed, done = await call(sandbox, UPDATE, {**required_from(got["Record"]), EXPIRY: "2033-01-02"})
    assert not failed and done["WasSuccessful"], done
    assert sent_dates(sandbox) == ["2033-01-02T00:00:00"]
    assert sandbox.state.record(CHECK)[EXPIRY] == "2033-01-02T00:00:00Z"
    assert "every field holds the value sent" in done["Message"]


async def test_a_value_with_an_offset_is_converted_by_the_store_as_nexudus_does() -> None:
    """Why the server never sends an offset: the store (as a live client saw) converts it silently."""
    state = SandboxState(dates_with_z=False)
    assert state.written_time("2032-03-14T00:00:00+02:00") == "2032-03-13T22:00:00"
    assert state.written_time("2032-03-14T00:00:00Z") == "2032-03-14T00:00:00"
    assert state.written_time("2032-03-14T00:00:00") == "2032-03-14T00:00:00"
