"""The one table of the coworker identity-check record's fields.

Everything that names a field reads it from here: the update tool's input schema, the validator,
the body sent to the API, the sandbox's rules and the reference's field table (docs/reference.md). A field has one of
three roles:

- `put`: documented on the reference page of PUT /api/spaces/coworkeridentitychecks. The tool
  accepts it; `required` is the page's own required list. Descriptions are hand-written for a model
  (the page's are generated from the names: "Whether billed is enabled"), short, because every one
  of them is in the tool list a client sends with each request.
- `carried`: returned by GET but not documented for PUT (VerificationType, VerificationStatus, the
  links to proposals and contracts). The API's update is a full replace, so the server sends these
  back exactly as it read them: a PUT must never clear what the caller did not mention.
- `read_only`: derived or audit fields GET returns (names joined from other records, timestamps).
  Shown to the model, never sent.

The field list of a real record is not closed: the API may send fields this table does not know.
`put_body` keeps them (a PUT is a full replace, so leaving one out could clear it) and `shown`
decides what of them a model may see (plain non-string scalars only). `SEARCH_FILTERS` maps the
find tool's filters (the expiry window included) to the API's query parameters and says how a
returned row is checked against each, so a filter the API ignores is caught rather than trusted.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Literal

from .enums import (
    ADDRESS_DOCUMENT_TYPE,
    IDENTITY_CHECK_PROVIDER,
    IDENTITY_DOCUMENT_TYPE,
    VERIFICATION_STATUS,
    VERIFICATION_TYPE,
    EnumType,
)
from .timefmt import calendar_date, has_z, midnight

# `date`: a calendar date (the day counts, never a time or offset: record/timefmt.py); `datetime`: a moment.
FieldType = Literal["integer", "string", "boolean", "date", "datetime", "guid"]
Role = Literal["put", "carried", "read_only"]
PiiCategory = Literal["id_document", "name"]


@dataclass(frozen=True)
class Field:
    name: str
    type: FieldType
    role: Role
    description: str
    required: bool = False
    enum: EnumType | None = None
    pii: PiiCategory | None = None

    @property
    def sent(self) -> bool:
        """Whether the field is part of the body the server PUTs."""
        return self.role in ("put", "carried")


def _put(
    name: str,
    type_: FieldType,
    description: str,
    *,
    required: bool = False,
    enum: EnumType | None = None,
    pii: PiiCategory | None = None,
) -> Field:
    return Field(name, type_, "put", description, required=required, enum=enum, pii=pii)


FIELDS: tuple[Field, ...] = (
    # --- Required on PUT (reference page, "Required Fields") ---
    _put("Id", "integer", "The check's Id.", required=True),
    _put("BusinessId", "integer", "The check's location (business) Id.", required=True),
    _put("CoworkerId", "integer", "The member (coworker) Id the check belongs to.", required=True),
    _put("Name", "string", "The check's own name, e.g. 'Passport check' (not the member's).", required=True),
    _put(
        "IdentityCheckProvider",
        "integer",
        "Who verifies: Manual (staff) or StripeIdentity.",
        required=True,
        enum=IDENTITY_CHECK_PROVIDER,
    ),
    _put(
        "IdentityDocumentType",
        "integer",
        "The identity document, for an IdDocument check.",
        required=True,
        enum=IDENTITY_DOCUMENT_TYPE,
    ),
    _put(
        "AddressDocumentType",
        "integer",
        "The proof of address, for an Address check.",
        required=True,
        enum=ADDRESS_DOCUMENT_TYPE,
    ),
    # --- Optional on PUT (reference page, "Optional Fields") ---
    _put("IdentityDocumentNumber", "string", "The identity document's number.", pii="id_document"),
    _put("IdentityDocumentIssuedBy", "string", "Who issued the identity document."),
    _put("IdentityDocumentExpirationDate", "date", "The day the identity document expires."),
    _put("Description", "string", "Staff notes on the check."),
    _put("Billed", "boolean", "Whether the member has been charged for this check."),
    _put("StripeVerificationSessionId", "string", "Stripe Identity session id (vs_…), for StripeIdentity checks."),
    _put(
        "IdentityCheckProvider1",
        "integer",
        "Extra verification slot 1 (beside the main one): who verifies.",
        enum=IDENTITY_CHECK_PROVIDER,
    ),
    _put(
        "VerificationType1",
        "integer",
        "Slot 1: what it verifies.",
        enum=VERIFICATION_TYPE,
    ),
    _put("Description1", "string", "Slot 1: notes."),
    _put(
        "IdentityCheckProvider2",
        "integer",
        "Extra verification slot 2: who verifies.",
        enum=IDENTITY_CHECK_PROVIDER,
    ),
    _put(
        "VerificationType2",
        "integer",
        "Slot 2: what it verifies.",
        enum=VERIFICATION_TYPE,
    ),
    _put("Description2", "string", "Slot 2: notes."),
    # --- Returned by GET, not documented for PUT: sent back unchanged so a full replace keeps them ---
    Field(
        "VerificationType",
        "integer",
        "carried",
        "What the check verifies (IdDocument or Address); set when the check is created in Nexudus, not by update.",
        enum=VERIFICATION_TYPE,
    ),
    Field(
        "VerificationStatus",
        "integer",
        "carried",
        "Where the check stands; not writable by the update.",
        enum=VERIFICATION_STATUS,
    ),
    Field("LastError", "string", "carried", "The last error the verification provider reported."),
    Field("UniqueId", "guid", "carried", "Globally unique id of the record."),
    Field("ProposalGuid", "guid", "carried", "Proposal this check belongs to, if any."),
    Field("CoworkerContractGuid", "guid", "carried", "Contract this check belongs to, if any."),
    Field("ContractContactGuid", "guid", "carried", "Contract contact this check belongs to, if any."),
    Field("IdentityCheckGroupGuid", "guid", "carried", "Group of checks this one belongs to, if any."),
    # --- Returned by GET, derived or audit: never sent ---
    Field("BusinessName", "string", "read_only", "Name of the business (location) of BusinessId."),
    Field("CoworkerFullName", "string", "read_only", "Full name of the coworker of CoworkerId.", pii="name"),
    Field("CoworkerCoworkerType", "string", "read_only", "Kind of coworker record (e.g. Member, TeamMember)."),
    Field("CoworkerCompanyName", "string", "read_only", "Company of the coworker, if any.", pii="name"),
    Field("CoworkerBillingName", "string", "read_only", "Billing name of the coworker.", pii="name"),
    Field("CreatedOn", "datetime", "read_only", "When the record was created (UTC)."),
    Field("UpdatedOn", "datetime", "read_only", "When the record was last updated (UTC)."),
    Field("UpdatedBy", "string", "read_only", "Who last updated the record.", pii="name"),
    Field("IsNew", "boolean", "read_only", "Whether the record has not been saved yet."),
    Field("SystemId", "string", "read_only", "Id of the record in an external system, if any."),
)

BY_NAME: dict[str, Field] = {f.name: f for f in FIELDS}
PUT_FIELDS: tuple[Field, ...] = tuple(f for f in FIELDS if f.role == "put")
SENT_FIELDS: tuple[Field, ...] = tuple(f for f in FIELDS if f.sent)
REQUIRED: tuple[str, ...] = tuple(f.name for f in PUT_FIELDS if f.required)
OPTIONAL_PUT: tuple[str, ...] = tuple(f.name for f in PUT_FIELDS if not f.required)
ENUM_FIELDS: dict[str, EnumType] = {f.name: f.enum for f in FIELDS if f.enum is not None}
RECORD_FIELD_NAMES: tuple[str, ...] = tuple(f.name for f in FIELDS)
READ_ONLY_NAMES: frozenset[str] = frozenset(f.name for f in FIELDS if f.role == "read_only")
DATE_FIELDS: tuple[str, ...] = tuple(f.name for f in FIELDS if f.type == "date")


def writes_z(record: Mapping[str, Any], name: str) -> bool:
    """Whether a date written to `name` of this record carries the literal `Z`: as its own value does
    when it holds one, else as the record's other dates and date-times do; with it when the record
    has none (the form of every documented example)."""
    others = (f.name for f in FIELDS if f.type in ("date", "datetime") and f.name != name)
    for value in (record.get(name), *(record.get(n) for n in others)):
        if calendar_date(value) is not None:
            return has_z(value)
    return True


def in_record_form(values: dict[str, Any], record: Mapping[str, Any]) -> None:
    """The date values of a write as the record writes its dates: midnight of the calendar date, with
    the `Z` or without (`writes_z`), never converted through UTC."""
    for name in DATE_FIELDS:
        day = calendar_date(values.get(name))
        if day is not None:
            values[name] = midnight(day, z=writes_z(record, name))


def dates_as_days(record: Mapping[str, Any]) -> dict[str, Any]:
    """The record with each date field's value as its calendar date (YYYY-MM-DD); the rest as it is."""
    return {k: as_shown(k, v) if k in DATE_FIELDS else v for k, v in record.items()}


def as_shown(name: str, value: Any) -> Any:
    """A field's value as a model sees it: an enum's name for its code, a date field's calendar date
    (YYYY-MM-DD, never a time a date does not have); anything else as it is."""
    f = BY_NAME.get(name)
    if f is None:
        return value
    if f.enum is not None and isinstance(value, int) and not isinstance(value, bool):
        return f.enum.name_of(value)
    if f.type == "date" and (day := calendar_date(value)) is not None:
        return day.isoformat()
    return value


def put_body(record: Mapping[str, Any]) -> dict[str, Any]:
    """The base of a PUT: every field the GET returned, known or not, minus the known read-only and
    joined ones. A field this table does not know goes back exactly as it came."""
    return {k: v for k, v in record.items() if k not in READ_ONLY_NAMES}


def is_plain_scalar(value: Any) -> bool:
    """What a model may see of a field the table does not know: a number, a boolean or null."""
    return value is None or isinstance(value, (bool, int, float))


def shown(record: Mapping[str, Any]) -> dict[str, Any]:
    """The fields a model may see: every known field, and unknown ones only when plain scalars."""
    return {k: v for k, v in record.items() if k in BY_NAME or is_plain_scalar(v)}


def unknown_names(record: Mapping[str, Any]) -> list[str]:
    """The names of the fields this table does not know (never their values)."""
    return sorted(k for k in record if k not in BY_NAME)


# ------------------------------------------------------------------ search filters
# Letters with a stroke or ligatures, which NFKD does not take apart: written without them on a keyboard.
_PLAIN_LETTERS = str.maketrans(
    {
        "ø": "o",
        "Ø": "O",
        "đ": "d",
        "Đ": "D",
        "ł": "l",
        "Ł": "L",
        "æ": "ae",
        "Æ": "AE",
        "œ": "oe",
        "Œ": "OE",
        "ı": "i",
        "ħ": "h",
        "Ħ": "H",
    }
)


def fold(text: str) -> str:
    """Text for a contains-match: any case, accents dropped (NFKD, combining marks removed; ø, ł, æ and
    other letters NFKD keeps whole written plainly)."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_PLAIN_LETTERS))
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def calendar_day(value: Any) -> date | None:
    """The calendar date a date field holds, as written (`2031-03-14T00:00:00Z` -> 2031-03-14): the API
    writes a date as the space's wall clock, so the date part is the day, whatever suffix follows."""
    if not isinstance(value, str) or len(value) < 10:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


@dataclass(frozen=True)
class SearchFilter:
    """One filter of a find tool: the API's query parameter for it, and how a row is checked.

    `match`: `equals` (an Id or enum code), `contains` (text, any case, accents ignored), `same_text`
    (the whole text, any case: an email), `before` / `on_or_after` (a date window on a date field,
    sent as the API's `to_…` / `from_…` range parameters, which are inclusive and take minutes)."""

    argument: str  # the find tool's property
    param: str  # the API's query parameter (inferred from the API's naming pattern, not published)
    match: Literal["equals", "contains", "same_text", "before", "on_or_after"]
    description: str  # what the tool's input schema says of its argument
    field: str = ""  # the row's field it is checked on; the argument's own name when empty
    # The check field whose value rule the argument follows (an Id, an enum, a name); empty: a window
    # takes a day, any other filter plain text.
    value_rule: str = ""

    @property
    def row_field(self) -> str:
        return self.field or self.argument

    @property
    def window(self) -> bool:
        """A bound of a date window (a day, not a record field's value)."""
        return self.match in ("before", "on_or_after")

    def matches(self, row: Mapping[str, Any], wanted: Any) -> bool:
        value = row.get(self.row_field)
        if self.match == "contains":
            return isinstance(value, str) and fold(str(wanted)) in fold(value)
        if self.match == "same_text":
            return isinstance(value, str) and value.strip().casefold() == str(wanted).strip().casefold()
        if self.window:
            day = calendar_day(value)
            if day is None:
                return False
            return bool(day < wanted) if self.match == "before" else bool(day >= wanted)
        return bool(value == wanted) and not isinstance(value, bool)

    def api_value(self, wanted: Any) -> Any:
        """The query parameter's value: a window's day as the inclusive minute bound the API takes."""
        if self.match == "before":
            return f"{wanted - timedelta(days=1):%Y-%m-%d}T23:59"
        if self.match == "on_or_after":
            return f"{wanted:%Y-%m-%d}T00:00"
        return wanted


EXPIRY = "IdentityDocumentExpirationDate"
# The check filters (the one list: the find tool's arguments, in this order, the search and the
# sandbox read it here).
SEARCH_FILTERS: tuple[SearchFilter, ...] = (
    SearchFilter(
        "CoworkerFullName",
        "CoworkerIdentityCheck_Coworker_FullName",
        "contains",
        "Member's name or part of it (any case, accents optional).",
        value_rule="CoworkerFullName",
    ),
    SearchFilter(
        "CoworkerId",
        "CoworkerIdentityCheck_Coworker",
        "equals",
        "Only the checks of this coworker (member) Id.",
        value_rule="CoworkerId",
    ),
    SearchFilter(
        "BusinessId",
        "CoworkerIdentityCheck_Business",
        "equals",
        "Only the checks at this business (location) Id.",
        value_rule="BusinessId",
    ),
    SearchFilter(
        "Name",
        "CoworkerIdentityCheck_Name",
        "contains",
        "The check's own title (e.g. 'Passport check'), or part of it. Not the member's name.",
        value_rule="Name",
    ),
    SearchFilter(
        "VerificationStatus",
        "CoworkerIdentityCheck_VerificationStatus",
        "equals",
        "Only checks in this status.",
        value_rule="VerificationStatus",
    ),
    SearchFilter(
        "VerificationType",
        "CoworkerIdentityCheck_VerificationType",
        "equals",
        "Only checks of this type.",
        value_rule="VerificationType",
    ),
    # The expiry window: the range filters the official CLI lists for this entity (docs/development.md).
    SearchFilter(
        "ExpiresBefore",
        f"to_CoworkerIdentityCheck_{EXPIRY}",
        "before",
        "Only documents expiring before this date (e.g. 2030-03-01); rows soonest first.",
        EXPIRY,
    ),
    SearchFilter(
        "ExpiresOnOrAfter",
        f"from_CoworkerIdentityCheck_{EXPIRY}",
        "on_or_after",
        "Only documents expiring on or after this date.",
        EXPIRY,
    ),
)
FILTER_BY_ARGUMENT: dict[str, SearchFilter] = {f.argument: f for f in SEARCH_FILTERS}
WINDOW: tuple[SearchFilter, ...] = tuple(f for f in SEARCH_FILTERS if f.window)  # the expiry window's bounds

# Fields of the record the update cannot write (carried back unchanged, or derived).
NOT_WRITABLE: tuple[str, ...] = tuple(f.name for f in FIELDS if f.role != "put")
# Changed only by the API's commands (the command tool), never by the update.
STATUS_FIELDS: tuple[str, ...] = ("VerificationStatus", "VerificationType")
# Internal linkage and bookkeeping: shown in a read only when set (they are almost always empty).
LINKAGE_FIELDS: frozenset[str] = frozenset(
    (
        "UniqueId",
        "ProposalGuid",
        "CoworkerContractGuid",
        "ContractContactGuid",
        "IdentityCheckGroupGuid",
        "IsNew",
        "SystemId",
    )
)

RESOURCE_PATH = "/api/spaces/coworkeridentitychecks"
# The commands list takes an optional parameter that keeps only the commands available for one record;
# its name is not published (probably `id`). The server sends every candidate (the API ignores a
# parameter it does not know, so only the right one acts) and `probe` says which one the account answers.
COMMANDS_RECORD_PARAMS = ("id", "entityId", "recordId")
COWORKERS_PATH = "/api/spaces/coworkers"
