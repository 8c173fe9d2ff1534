"""Unit-level edges of the lenient value rules that the fuzz found or that are easy to get wrong."""

from __future__ import annotations

import pytest

from nexudus_identity_mcp.record.enums import IDENTITY_DOCUMENT_TYPE, EnumParseError
from nexudus_identity_mcp.record.timefmt import format_utc, parse_datetime
from nexudus_identity_mcp.record.validation import closest_property
from nexudus_identity_mcp.tools.catalog import UPDATE

UPDATE_PROPERTIES = UPDATE.input.names


@pytest.mark.parametrize(
    "raw",
    [
        "0999-01-01",
        "0001-01-01T00:00:00+01:00",
        "9999-12-31T23:59:59-05:00",
        "2031-02-30",
        "31/05/2034",
        "",
        "2031-03-14T25:00",
    ],
)
def test_implausible_or_invalid_dates_are_refused(raw: str) -> None:
    assert parse_datetime(raw) is None


def test_dates_are_sent_in_one_zero_padded_form() -> None:
    assert format_utc(parse_datetime("1999-01-02T03:04:05+01:00")) == "1999-01-02T02:04:05Z"  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("Passport", 1),
        ("passport", 1),
        ("DRIVERS_LICENSE", 2),
        ("drivers license", 2),
        ("nexus card", 10),
        (99, 99),
        ("99", 99),
        (" 3 ", 3),
        (3.0, 3),
    ],
)
def test_enum_parsing_is_lenient_where_certain(raw: object, code: int) -> None:
    assert IDENTITY_DOCUMENT_TYPE.parse(raw) == code


@pytest.mark.parametrize(
    ("raw", "hint"),
    [("Pasport", "Passport"), ("DriverLicense", "DriversLicense"), (11, None), (True, None), ("Ship", None)],
)
def test_enum_errors_carry_the_closest_name(raw: object, hint: str | None) -> None:
    with pytest.raises(EnumParseError) as caught:
        IDENTITY_DOCUMENT_TYPE.parse(raw)
    assert caught.value.hint == hint


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("IdentityDocumentExpiryDate", "IdentityDocumentExpirationDate"),
        ("identitydocumenttype", "IdentityDocumentType"),
        ("Descripton", "Description"),
        ("dry_run", "DryRun"),
        ("zzz", None),
    ],
)
def test_closest_property(given: str, expected: str | None) -> None:
    assert closest_property(given, UPDATE_PROPERTIES) == expected
