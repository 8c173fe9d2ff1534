"""validation.py on its own: arguments in, a clean request or every problem out (issue #13, #19.6-7)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from nexudus_identity_mcp.record import validation
from nexudus_identity_mcp.record.fields import BY_NAME, FIELDS, LINKAGE_FIELDS, REQUIRED
from nexudus_identity_mcp.record.validation import (
    MAX_ECHO,
    MAX_UNKNOWN_LISTED,
    ArgumentErrors,
    UpdateRequest,
    change_warnings,
    check_against_record,
    required_hint,
)
from nexudus_identity_mcp.tools.catalog import FIND, GET, RUN_COMMAND_TOOL, UPDATE

parse_update, parse_get, parse_find = UPDATE.input.parse, GET.input.parse, FIND.input.parse

RECORD: dict[str, Any] = {
    "Id": 87654301,
    "BusinessId": 1001,
    "CoworkerId": 2001,
    "Name": "Passport check",
    "IdentityCheckProvider": 1,
    "IdentityDocumentType": 1,
    "AddressDocumentType": 0,
    "IdentityCheckProvider1": None,
}
REQUIRED_ARGS: dict[str, Any] = {
    "Id": 87654301,
    "BusinessId": 1001,
    "CoworkerId": 2001,
    "Name": "Passport check",
    "IdentityCheckProvider": "Manual",
    "IdentityDocumentType": "Passport",
    "AddressDocumentType": "None",
}


def errors_of(arguments: dict[str, Any]) -> dict[str, dict[str, Any]]:
    with pytest.raises(ArgumentErrors) as caught:
        parse_update(arguments)
    return {e["PropertyName"]: e for e in caught.value.errors}


# ------------------------------------------------------------------ item 1: read-only vs near-miss
@pytest.mark.parametrize("name", ["VerificationStatus", "VerificationType"])
def test_a_read_only_field_says_so_and_names_the_command_tool(name: str) -> None:
    error = errors_of({**REQUIRED_ARGS, name: "Successful"})[name]
    assert error["Message"].startswith("is read-only: the record has it but this tool cannot change it")
    assert RUN_COMMAND_TOOL in error["Message"]
    assert "did you mean" not in error["Message"] and "Hint" not in error and "AllowedValues" not in error


def test_other_record_fields_are_read_only_without_the_command_tool() -> None:
    errors = errors_of({**REQUIRED_ARGS, "UpdatedOn": "2026-01-01", "CoworkerFullName": "Ana"})
    for name in ("UpdatedOn", "CoworkerFullName"):
        assert "read-only" in errors[name]["Message"] and RUN_COMMAND_TOOL not in errors[name]["Message"]
        assert "Hint" not in errors[name]


def test_a_near_miss_of_a_read_only_field_is_not_sent_to_a_writable_one() -> None:
    errors = errors_of({**REQUIRED_ARGS, "verificationstatus": "Successful", "VerificationStatuss": "3"})
    for name in ("verificationstatus", "VerificationStatuss"):
        message = errors[name]["Message"]
        assert "the record's VerificationStatus is read-only here" in message and RUN_COMMAND_TOOL in message
        assert "Hint" not in errors[name] and "AllowedValues" not in errors[name]


def test_read_only_wording_is_the_updates_alone() -> None:
    with pytest.raises(ArgumentErrors) as caught:
        parse_get({"Id": 1, "UpdatedOn": "x"})
    assert caught.value.errors[0]["Message"].startswith("is not a property of this tool")
    with pytest.raises(ArgumentErrors) as caught:
        parse_find({"UpdatedOn": "x"})
    assert "read-only" not in caught.value.errors[0]["Message"]


def test_did_you_mean_only_for_a_near_miss_with_that_propertys_allowed_values() -> None:
    errors = errors_of(
        {**REQUIRED_ARGS, "IdentityDocumentExpiryDate": "2031-01-01", "identitydocumenttype2": "Passport", "Colour": 1}
    )
    assert errors["IdentityDocumentExpiryDate"]["Hint"] == "IdentityDocumentExpirationDate"
    assert "AllowedValues" not in errors["IdentityDocumentExpiryDate"]
    typo = errors["identitydocumenttype2"]
    assert (
        typo["Hint"] == "IdentityDocumentType" and typo["AllowedValues"] == BY_NAME["IdentityDocumentType"].enum.names
    )  # type: ignore[union-attr]
    assert "Hint" not in errors["Colour"] and "did you mean" not in errors["Colour"]["Message"]


# ------------------------------------------------------------------ item 4: required fields
def test_required_hint_is_the_records_value_as_a_read_shows_it() -> None:
    shown = {"BusinessId": 1001, "IdentityDocumentType": "Passport", "Name": "", "Billed": False}
    errors = errors_of({"Id": 87654301, "Name": " ", "Colour": 1})
    assert required_hint(errors["BusinessId"], shown) == {
        "PropertyName": "BusinessId",
        "Message": "is a required field; copy the record's current value from Hint, or send null to keep it",
        "AttemptedValue": None,
        "Hint": "1001",
    }
    assert required_hint(errors["IdentityDocumentType"], shown)["Hint"] == "Passport"
    blank = required_hint(errors["Name"], {"Name": "Passport check"})
    assert blank["Hint"] == "Passport check" and blank["Message"].startswith("is a required field and cannot be empty")
    assert required_hint(errors["Name"], shown) == errors["Name"]  # the record's is blank too: no Hint


def test_the_missing_fields_are_named_by_the_parser_not_read_from_the_wording() -> None:
    """Which problems a current value can fix is what the parser says (left out, or a required field sent
    blank), whatever a message says: an unknown property whose message happens to start like a
    missing field's gets no Hint."""
    with pytest.raises(ArgumentErrors) as caught:
        parse_update({"Id": 87654301, "Name": " ", "Colour": 1})
    invalid = caught.value
    assert "Name" in invalid.missing and "BusinessId" in invalid.missing and "Colour" not in invalid.missing
    shown = {"Name": "Passport check", "BusinessId": 1001, "Colour": "x"}
    lookalike = {"PropertyName": "Colour", "Message": "is a required field (not really)", "AttemptedValue": 1}
    invalid.errors.append(lookalike)
    hinted = {e["PropertyName"]: e for e in invalid.with_current_values(shown)}
    assert hinted["Name"]["Hint"] == "Passport check" and hinted["BusinessId"]["Hint"] == "1001"
    assert "Hint" not in hinted["Colour"]


def test_the_failed_call_keeps_its_valid_id_for_the_hints() -> None:
    with pytest.raises(ArgumentErrors) as caught:
        parse_update({"Id": 87654301, "Description": "x"})
    assert caught.value.check_id == 87654301
    assert {e["PropertyName"] for e in caught.value.errors} == set(REQUIRED) - {"Id"}
    with pytest.raises(ArgumentErrors) as caught:
        parse_update({"Id": "abc"})
    assert caught.value.check_id is None


@pytest.mark.parametrize("name", ["BusinessId", "CoworkerId"])
def test_an_owner_field_that_differs_is_refused_unless_reassign(name: str) -> None:
    request = parse_update({**REQUIRED_ARGS, name: 4242})
    [error] = check_against_record(request, RECORD)
    assert error["PropertyName"] == name and error["Hint"] == str(RECORD[name]) and error["AttemptedValue"] == 4242
    assert "Reassign: true" in error["Message"]
    assert check_against_record(parse_update({**REQUIRED_ARGS, name: 4242, "Reassign": True}), RECORD) == []
    assert check_against_record(parse_update(REQUIRED_ARGS), RECORD) == []


@pytest.mark.parametrize("bad", [0, -1, "0"])
def test_owner_ids_of_zero_or_below_are_refused(bad: Any) -> None:
    errors = errors_of({**REQUIRED_ARGS, "BusinessId": bad, "CoworkerId": bad})
    assert errors["BusinessId"]["Message"] == errors["CoworkerId"]["Message"] == "must be a positive record Id"


def test_warnings_for_an_enum_becoming_none_or_a_required_enum_changing() -> None:
    changes = [
        {"Field": "IdentityDocumentType", "From": 1, "To": 0},
        {"Field": "IdentityCheckProvider", "From": 1, "To": 2},
        {"Field": "VerificationType2", "From": 2, "To": 0},
        {"Field": "VerificationType1", "From": None, "To": 1},
        {"Field": "Description", "From": "a", "To": None},
    ]
    assert [w.done for w in change_warnings(changes)] == [
        "IdentityDocumentType changed from Passport to None",
        "IdentityCheckProvider changed from Manual to StripeIdentity",
        "VerificationType2 changed from Address to None",
        "Description was blanked",
    ]
    assert change_warnings(changes)[0].planned == "IdentityDocumentType would change from Passport to None"


# ------------------------------------------------------------------ item 9: null, "" and "None"
def test_null_for_an_optional_field_means_keep() -> None:
    nulls = {f.name: None for f in FIELDS if f.role == "put" and not f.required}
    request = parse_update({**REQUIRED_ARGS, **nulls, "ClearFields": None, "DryRun": None, "Reassign": None})
    assert set(request.values) == set(REQUIRED) and request.clear == [] and not request.dry_run
    # #27 item 10: a required field sent as null keeps the record's value (Agno sends "None" so); left
    # out, or the Id null, it is still missing.
    kept = parse_update({**REQUIRED_ARGS, "Name": None, "AddressDocumentType": None})
    assert kept.kept == ["Name", "AddressDocumentType"] and "Name" not in kept.values
    without = {k: v for k, v in REQUIRED_ARGS.items() if k != "Name"}
    assert errors_of(without)["Name"]["Message"] == "is a required field"
    assert errors_of({**REQUIRED_ARGS, "Id": None})["Id"]["Message"] == "is a required field"


def test_empty_text_or_date_clears_like_clear_fields_and_is_refused_elsewhere() -> None:
    request = parse_update(
        {**REQUIRED_ARGS, "Description": "", "IdentityDocumentExpirationDate": "", "ClearFields": ["Description"]}
    )
    assert request.clear == ["Description", "IdentityDocumentExpirationDate"]
    assert "Description" not in request.values
    errors = errors_of({**REQUIRED_ARGS, "Billed": "", "VerificationType1": "", "Name": ""})
    assert set(errors) == {"Billed", "VerificationType1", "Name"}
    assert parse_update({**REQUIRED_ARGS, "ClearFields": ""}).clear == []


def test_enum_none_for_an_empty_slot_is_no_change() -> None:
    request = parse_update({**REQUIRED_ARGS, "IdentityCheckProvider1": "None", "AddressDocumentType": "None"})
    assert check_against_record(request, RECORD) == []
    assert request.values["IdentityCheckProvider1"] is None and request.values["AddressDocumentType"] == 0


def test_find_treats_empty_filters_as_no_filter() -> None:
    request = parse_find({"Name": "", "CoworkerId": 2003, "BusinessId": None, "VerificationStatus": "", "Page": None})
    assert request.filters == {"CoworkerId": 2003} and request.page == 1


# ------------------------------------------------------------------ #19.6-7: floods and long numbers
def test_a_flood_of_unknown_properties_lists_a_few_and_counts_the_rest(monkeypatch: pytest.MonkeyPatch) -> None:
    looked_up: list[str] = []
    real = validation.closest_property
    monkeypatch.setattr(validation, "closest_property", lambda n, c: looked_up.append(n) or real(n, c))
    flood = {f"x{i}": i for i in range(20_071)}
    flood["Y" * 100_000] = "Z" * 100_000
    with pytest.raises(ArgumentErrors) as caught:
        parse_update({**REQUIRED_ARGS, **flood})
    errors = caught.value.errors
    assert len(errors) == MAX_UNKNOWN_LISTED + 1 and len(looked_up) == MAX_UNKNOWN_LISTED
    assert errors[-1]["PropertyName"] == "(more)" and "and 20,067 more" in errors[-1]["Message"]
    assert len(json.dumps(errors)) < 3000
    with pytest.raises(ArgumentErrors) as caught:
        parse_update({**REQUIRED_ARGS, "Y" * 100_000: "Z" * 100_000})
    [error] = caught.value.errors
    assert len(error["PropertyName"]) == len(error["AttemptedValue"]) == MAX_ECHO


@pytest.mark.parametrize("raw", ["9" * 5000, 10**5000, " -" + "1" * 4400], ids=["digits", "int", "signed"])
def test_an_enum_given_as_a_very_long_number_is_a_validation_error(raw: Any) -> None:
    error = errors_of({**REQUIRED_ARGS, "IdentityDocumentType": raw})["IdentityDocumentType"]
    assert error["Message"] == "is not one of the IdentityDocumentType values"
    assert len(json.dumps(error)) < 1000  # the echo is capped, and JSON can encode it


def test_get_takes_one_positive_id() -> None:
    assert parse_get({"Id": "87654301"}) == 87654301
    with pytest.raises(ArgumentErrors) as caught:
        parse_get({"Id": 0, "VerificationStatus": 1})
    assert [e["PropertyName"] for e in caught.value.errors] == ["Id", "VerificationStatus"]


def test_linkage_fields_are_record_fields() -> None:
    assert set(BY_NAME) >= LINKAGE_FIELDS
    assert isinstance(parse_update(REQUIRED_ARGS), UpdateRequest)
