"""Tool arguments -> a clean update request, or every problem at once in the API's error shape.

Each problem is `{PropertyName, Message, AttemptedValue}` as the API reports them, plus
`AllowedValues` for enum fields and `Hint` (the closest enum name for a typo, the closest writable
property for a near-miss spelling, the record's current value for a required field), so that a
model can correct its next call from the error alone. A field the record has but the update cannot
write is said to be exactly that, never "did you mean" another field.

Strict clients (OpenAI strict mode, smolagents) send every property: `null` for an optional field
means "not given, keep", and `""` for a text or date field means the same as naming it in
ClearFields. Floods of unknown properties cost O(n) and list only the first few.

Lenient where the meaning is certain: enum names in any case or as their integer codes, numeric
strings for integers, "true"/"false" for booleans, ISO 8601 dates or datetimes for a date field (its calendar date as
written, whatever time or offset follows: midnight `YYYY-MM-DDT00:00:00Z`, which the update writes in
the record's own form, `fields.in_record_form`). Nothing invalid gets past this module to the API.
"""

from __future__ import annotations

import difflib
import re
import reprlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypedDict

from .enums import EnumParseError
from .fields import BY_NAME, OPTIONAL_PUT, Field
from .timefmt import calendar_date, midnight

MAX_STRING = 1000
INT32 = (-(2**31), 2**31 - 1)
MAX_ECHO = 100  # characters of a name or value echoed back in an error
MAX_UNKNOWN_LISTED = 5  # unknown properties listed one by one; the rest are counted

# Options of the update tool that are not record fields.
CLEAR_FIELDS = "ClearFields"
DRY_RUN = "DryRun"
EXPECTED_UPDATED_ON = "ExpectedUpdatedOn"
REASSIGN = "Reassign"
# Required fields that say whose check it is and where: a differing copy is refused without Reassign.
OWNER_FIELDS = ("BusinessId", "CoworkerId")
REQUIRED_MESSAGE = "is a required field"


class _Said(TypedDict):
    PropertyName: str
    Message: str
    AttemptedValue: Any


class Problem(_Said, total=False):
    """One problem, in the API's error shape (the results' `Errors` items, tools/schemas.py ERROR_ITEM):
    which property, what is wrong, the value given (always said); the valid names of an enum and a
    Hint (the closest valid name or property, or a required field's current value), when there are.
    (Two classes, not NotRequired: under postponed annotations Python 3.11 cannot see NotRequired.)"""

    AllowedValues: list[str]
    Hint: str


def problem(
    prop: str, message: str, attempted: Any, *, allowed: list[str] | None = None, hint: str | None = None
) -> Problem:
    out: Problem = {"PropertyName": prop, "Message": message, "AttemptedValue": attempted}
    if allowed is not None:
        out["AllowedValues"] = allowed
    if hint:
        out["Hint"] = hint
    return out


@dataclass
class UpdateRequest:
    check_id: int
    values: dict[str, Any]  # API field name -> API value (enum codes, normalised dates)
    clear: list[str] = field(default_factory=list)
    dry_run: bool = False
    expected_updated_on: datetime | None = None
    reassign: bool = False
    # Required fields sent as null (Agno turns any "None" into null): the record's current value is kept.
    kept: list[str] = field(default_factory=list)


class ArgumentErrors(Exception):
    """Every problem of one call; `check_id` is the valid Id the call named, if any (so the update can
    read the record and give each missing required field's current value as its Hint)."""

    def __init__(self, errors: list[Problem], check_id: int | None = None, missing: tuple[str, ...] = ()) -> None:
        self.errors = errors
        self.check_id = check_id
        # The required arguments left out or sent blank, by name: the problems a current value can fix.
        self.missing = missing
        super().__init__(f"{len(errors)} invalid argument(s)")

    def with_current_values(self, shown_record: dict[str, Any]) -> list[Problem]:
        """The problems, each missing required field's with the record's current value (as a read shows
        it) as its Hint, where the record has one."""
        return [required_hint(e, shown_record) if e.get("PropertyName") in self.missing else e for e in self.errors]


def closest_property(name: str, candidates: tuple[str, ...]) -> str | None:
    """The candidate a near-miss spelling meant (case, a typo, or two shared words), else None."""
    name = name[:MAX_ECHO]
    lowered = {c.lower(): c for c in candidates}
    if name.lower() in lowered:
        return lowered[name.lower()]
    match = difflib.get_close_matches(name, candidates, n=1, cutoff=0.6)
    if match:
        return match[0]
    # Shared words (Expiry ~ Expiration) count when spelling alone does not get close.
    words = set(_words(name))
    best = max(candidates, key=lambda c: len(words & set(_words(c))), default=None)
    return best if best and len(words & set(_words(best))) >= 2 else None


def _words(name: str) -> list[str]:
    return [w.lower()[:5] for w in re.findall(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+", name)]


def unknown_properties(
    args: dict[str, Any],
    known: tuple[str, ...],
    read_only: tuple[str, ...] = (),
    read_only_notes: Mapping[str, str] | None = None,
) -> list[Problem]:
    """A problem for each of the first few arguments the tool does not take, then one that counts the
    rest. A `read_only` field (one the record has but this tool cannot write), or a near-miss of one,
    says so, with no Hint (and its note from `read_only_notes`, e.g. which tool changes it); any other
    name gets the closest property the tool takes as Hint, and that property's AllowedValues when it
    is an enum. Linear in the number of arguments: difflib runs for
    the listed few only."""
    known_set = set(known)
    unknown = [name for name in args if name not in known_set]
    errors = []
    listed = len(unknown) if len(unknown) <= MAX_UNKNOWN_LISTED + 1 else MAX_UNKNOWN_LISTED
    for name in unknown[:listed]:
        shown = cap(name)
        meant = name if name in read_only else closest_property(name, known + read_only)
        if meant is not None and meant in read_only:
            if meant == name:
                message = "is read-only: the record has it but this tool cannot change it; leave it out"
            else:
                message = f"is not a property of this tool, and the record's {meant} is read-only here; leave it out"
            message += (read_only_notes or {}).get(meant, "")
            errors.append(problem(shown, message, cap(args[name])))
            continue
        hint = meant
        target = BY_NAME.get(hint) if hint else None
        allowed = target.enum.names if target is not None and target.enum is not None else None
        errors.append(
            problem(
                shown,
                "is not a property of this tool" + (f"; did you mean {hint}?" if hint else "; leave it out"),
                cap(args[name]),
                allowed=allowed,
                hint=hint,
            )
        )
    more = len(unknown) - listed
    if more > 0:
        errors.append(
            problem(
                "(more)",
                f"and {more:,} more properties this tool does not take, not listed; send only its properties",
                None,
            )
        )
    return errors


def check_against_record(request: UpdateRequest, current: dict[str, Any]) -> list[Problem]:
    """What only the current record can tell: a BusinessId or CoworkerId that differs from the record's
    is a wrong copy unless the call says Reassign (it would move the check to another location or
    member). Also drops an enum "None" given for a slot the record has empty (null): no change."""
    errors = []
    for name in OWNER_FIELDS:
        given, now = request.values.get(name), current.get(name)
        if given is not None and now is not None and given != now and not request.reassign:
            what = "location" if name == "BusinessId" else "member"
            errors.append(
                problem(
                    name,
                    f"is {given} but the check's {name} is {now}: that would move the check to another {what}. "
                    f"Send the record's value (Hint), or also {REASSIGN}: true if the user asked to move it",
                    given,
                    hint=str(now),
                )
            )
    for name, value in list(request.values.items()):
        if value == 0 and BY_NAME[name].enum is not None and current.get(name) is None:
            request.values[name] = None
    return errors


@dataclass(frozen=True)
class ChangeWarning:
    """A change the user may need to know about, said as a fact: `planned` for a dry run (nothing was
    written), `done` after the write (past tense; it already happened)."""

    planned: str
    done: str

    def said(self, written: bool) -> str:
        return self.done if written else self.planned


def change_warnings(changes: list[dict[str, Any]]) -> list[ChangeWarning]:
    """The changes a user may need to know about (changes hold API codes): an enum that becomes None and
    a required enum that changes (easy to make by a wrong copy), a value blanked, Billed turned either
    way (money), a new identity-document number. Never a value of the number itself."""
    out = []
    for change in changes:
        f = BY_NAME[change["Field"]]
        old, new = change["From"], change["To"]
        if f.enum is not None:
            if (new == 0 and old not in (None, 0)) or (f.required and old is not None):
                moved = f"from {f.enum.name_of(old) or 'empty'} to {f.enum.name_of(new) or 'empty'}"
                out.append(ChangeWarning(f"{f.name} would change {moved}", f"{f.name} changed {moved}"))
        elif f.type == "boolean":
            if f.name == "Billed":
                moved = f"from {bool(old)} to {bool(new)}".lower()
                out.append(ChangeWarning(f"Billed would change {moved}", f"Billed changed {moved}"))
        elif f.pii == "id_document":
            what = "set" if old in (None, "") else ("blanked" if new in (None, "") else "replaced")
            out.append(ChangeWarning(f"{f.name} would be {what}", f"{f.name} was {what}"))
        elif old not in (None, "") and new in (None, ""):
            out.append(ChangeWarning(f"{f.name} would be blanked", f"{f.name} was blanked"))
    return out


def required_hint(error: Problem, shown_record: dict[str, Any]) -> Problem:
    """A missing or blank required field's error (ArgumentErrors.missing says which are), with the
    record's current value (as a read shows it) as its Hint; as it is when the record has none."""
    message = str(error.get("Message") or "")
    value = shown_record.get(error.get("PropertyName") or "")
    if value is None or value == "" or isinstance(value, bool):
        return error
    return {
        **error,
        "Message": f"{message}; copy the record's current value from Hint, or send null to keep it",
        "Hint": str(value),
    }


def clear_list(raw: list[Any], values: dict[str, Any], errors: list[Problem]) -> list[str]:
    """The fields a ClearFields list names, each checked: an optional field of the record, not also
    given a value; a problem for each that is not."""
    clear: list[str] = []
    for item in raw:
        if not isinstance(item, str) or item not in BY_NAME or BY_NAME[item].role != "put":
            hint = closest_property(str(item), OPTIONAL_PUT)
            errors.append(
                problem(
                    CLEAR_FIELDS,
                    f"{item!r} is not an optional field of the record",
                    cap(item),
                    allowed=list(OPTIONAL_PUT),
                    hint=hint,
                )
            )
        elif BY_NAME[item].required:
            errors.append(
                problem(CLEAR_FIELDS, f"{item} is required and cannot be cleared; give it a value instead", item)
            )
        elif item in values:
            errors.append(problem(CLEAR_FIELDS, f"{item} is both given a value and named to clear; do one", item))
        elif item not in clear:
            clear.append(item)
    return clear


class FieldError(ValueError):
    """Why one value cannot be taken; `missing`: a required field sent blank (as good as left out)."""

    def __init__(
        self, message: str, *, allowed: list[str] | None = None, hint: str | None = None, missing: bool = False
    ) -> None:
        super().__init__(message)
        self.message = message
        self.allowed = allowed
        self.hint = hint
        self.missing = missing

    def as_problem(self, prop: str, attempted: Any) -> Problem:
        """The problem in the API's shape, under `prop`, with the attempted value capped."""
        return problem(prop, self.message, cap(attempted), allowed=self.allowed, hint=self.hint)


def coerce(f: Field, raw: Any) -> Any:
    """One field's value as the API wants it, or FieldError saying why not."""
    if f.enum is not None:
        try:
            return f.enum.parse(raw)
        except EnumParseError as exc:
            message = f"is not one of the {f.enum.name} values"
            if exc.hint:
                message += f"; did you mean {exc.hint}?"
            raise FieldError(message, allowed=f.enum.names, hint=exc.hint) from None
    if f.type == "integer":
        value = integer(raw)
        if f.name in ("Id", *OWNER_FIELDS) and value <= 0:
            raise FieldError("must be a positive record Id")
        return value
    if f.type == "boolean":
        return boolean(raw)
    if f.type == "date":
        day = calendar_date(raw)
        if day is None:
            raise FieldError(
                "is not an ISO 8601 date (or date-time, of which the date counts) between the years 1900 "
                "and 2200, for example 2031-03-14"
            )
        return midnight(day)
    if not isinstance(raw, str):
        raise FieldError("must be a string")
    if f.required and not raw.strip():
        raise FieldError(f"{REQUIRED_MESSAGE} and cannot be empty", missing=True)
    if len(raw) > MAX_STRING:
        raise FieldError(f"must be at most {MAX_STRING} characters (got {len(raw)})")
    return raw


def integer(raw: Any) -> int:
    if isinstance(raw, bool):
        raise FieldError("must be an integer")
    if isinstance(raw, float) and raw.is_integer():
        raw = int(raw)
    if isinstance(raw, str) and re.fullmatch(r"\s*[+-]?\d{1,12}\s*", raw):
        raw = int(raw)
    if not isinstance(raw, int):
        raise FieldError("must be an integer")
    if not INT32[0] <= raw <= INT32[1]:
        raise FieldError("is out of range for an integer Id")
    return raw


def boolean(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.strip().lower() in ("true", "false"):
        return raw.strip().lower() == "true"
    raise FieldError("must be true or false")


def cap(value: Any) -> Any:
    """Names and values are echoed back to the model: keep them short and JSON-plain."""
    if isinstance(value, str):
        return value if len(value) <= MAX_ECHO else value[: MAX_ECHO - 1] + "…"
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**18:
        return "(a number too long to show)"
    if isinstance(value, (int, float, bool)) or value is None:
        return value
    text = reprlib.repr(value)
    return text if len(text) <= MAX_ECHO else text[: MAX_ECHO - 1] + "…"


# ------------------------------------------------------------------ the find tool
DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, MAX_PAGE = 10, 50, 100_000


@dataclass
class FindRequest:
    filters: dict[str, Any]  # field name -> API value
    page: int = 1
    page_size: int = DEFAULT_PAGE_SIZE
