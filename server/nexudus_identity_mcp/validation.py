"""Tool arguments -> a clean update request, or every problem at once in the API's error shape.

Each problem is `{PropertyName, Message, AttemptedValue}` as the API reports them, plus
`AllowedValues` for enum fields and `Hint` (the closest enum name for a typo, the closest property
for an unknown one), so that a model can correct its next call from the error alone.

Lenient where the meaning is certain: enum names in any case or as their integer codes, numeric
strings for integers, "true"/"false" for booleans, ISO 8601 dates or datetimes (normalised to
`YYYY-MM-DDTHH:MM:SSZ`). Nothing invalid gets past this module to the API.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .enums import EnumParseError
from .fields import BY_NAME, OPTIONAL_PUT, PUT_FIELDS, Field
from .timefmt import format_utc, parse_datetime

MAX_STRING = 1000
INT32 = (-(2**31), 2**31 - 1)

# Options of the update tool that are not record fields.
CLEAR_FIELDS = "ClearFields"
DRY_RUN = "DryRun"
EXPECTED_UPDATED_ON = "ExpectedUpdatedOn"
UPDATE_OPTIONS = (CLEAR_FIELDS, DRY_RUN, EXPECTED_UPDATED_ON)
UPDATE_PROPERTIES = tuple(f.name for f in PUT_FIELDS) + UPDATE_OPTIONS


def problem(
    prop: str, message: str, attempted: Any, *, allowed: list[str] | None = None, hint: str | None = None
) -> dict[str, Any]:
    out: dict[str, Any] = {"PropertyName": prop, "Message": message, "AttemptedValue": attempted}
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


class ArgumentErrors(Exception):
    def __init__(self, errors: list[dict[str, Any]]) -> None:
        self.errors = errors
        super().__init__(f"{len(errors)} invalid argument(s)")


def closest_property(name: str, candidates: tuple[str, ...]) -> str | None:
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


def unknown_properties(args: dict[str, Any], known: tuple[str, ...]) -> list[dict[str, Any]]:
    """A problem for each argument the tool does not take, with the closest property as Hint."""
    errors = []
    for name in args:
        if name not in known:
            hint = closest_property(name, known)
            errors.append(
                problem(
                    name,
                    "is not a property of this tool" + (f"; did you mean {hint}?" if hint else ""),
                    _cap(args[name]),
                    hint=hint,
                )
            )
    return errors


def parse_get(arguments: dict[str, Any] | None) -> int:
    """The read tool's one argument, the check's Id; ArgumentErrors otherwise."""
    args = dict(arguments or {})
    errors = unknown_properties(args, ("Id",))
    check_id = 0
    if args.get("Id") is None:
        errors.insert(0, problem("Id", "is a required field: the check's integer Id", None))
    else:
        try:
            check_id = coerce(BY_NAME["Id"], args["Id"])
        except FieldError as exc:
            errors.insert(0, exc.as_problem(BY_NAME["Id"], args["Id"]))
    if errors:
        raise ArgumentErrors(errors)
    return check_id


def parse_update(arguments: dict[str, Any] | None) -> UpdateRequest:
    """Validate the update tool's arguments; raise ArgumentErrors listing every problem."""
    args = dict(arguments or {})
    errors = unknown_properties(args, UPDATE_PROPERTIES)
    values: dict[str, Any] = {}

    for f in PUT_FIELDS:
        if f.name not in args or args[f.name] is None:
            if f.required:
                errors.append(problem(f.name, "is a required field", args.get(f.name)))
            elif f.name in args:
                errors.append(
                    problem(
                        f.name,
                        "cannot be null: leave it out to keep the current value, or "
                        f"name it in {CLEAR_FIELDS} to blank it",
                        None,
                    )
                )
            continue
        try:
            values[f.name] = coerce(f, args[f.name])
        except FieldError as exc:
            errors.append(exc.as_problem(f, args[f.name]))

    clear = _parse_clear(args.get(CLEAR_FIELDS), values, errors)
    dry_run = False
    if args.get(DRY_RUN) is not None:
        try:
            dry_run = _boolean(args[DRY_RUN])
        except FieldError as exc:
            errors.append(problem(DRY_RUN, exc.message, _cap(args[DRY_RUN])))
    expected: datetime | None = None
    if args.get(EXPECTED_UPDATED_ON) is not None:
        raw = args[EXPECTED_UPDATED_ON]
        expected = parse_datetime(raw) if isinstance(raw, str) else None
        if expected is None:
            errors.append(
                problem(
                    EXPECTED_UPDATED_ON,
                    "is not an ISO 8601 date-time; copy UpdatedOn from get_coworker_identity_check",
                    _cap(raw),
                )
            )

    if errors:
        raise ArgumentErrors(errors)
    return UpdateRequest(
        check_id=values["Id"], values=values, clear=clear, dry_run=dry_run, expected_updated_on=expected
    )


def _parse_clear(raw: Any, values: dict[str, Any], errors: list[dict[str, Any]]) -> list[str]:
    if raw is None:
        return []
    if isinstance(raw, str):
        raw = [part.strip() for part in raw.split(",") if part.strip()]
    if not isinstance(raw, list):
        errors.append(
            problem(CLEAR_FIELDS, "must be a list of optional field names", _cap(raw), allowed=list(OPTIONAL_PUT))
        )
        return []
    clear: list[str] = []
    for item in raw:
        if not isinstance(item, str) or item not in BY_NAME or BY_NAME[item].role != "put":
            hint = closest_property(str(item), OPTIONAL_PUT)
            errors.append(
                problem(
                    CLEAR_FIELDS,
                    f"{item!r} is not an optional field of the record",
                    _cap(item),
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
    def __init__(self, message: str, *, allowed: list[str] | None = None, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.allowed = allowed
        self.hint = hint

    def as_problem(self, f: Field, attempted: Any) -> dict[str, Any]:
        return problem(f.name, self.message, _cap(attempted), allowed=self.allowed, hint=self.hint)


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
        value = _integer(raw)
        if f.name == "Id" and value <= 0:
            raise FieldError("must be a positive record Id")
        return value
    if f.type == "boolean":
        return _boolean(raw)
    if f.type == "datetime":
        parsed = parse_datetime(raw) if isinstance(raw, str) else None
        if parsed is None:
            raise FieldError(
                "is not an ISO 8601 date or date-time between the years 1900 and 2200 (for "
                "example 2031-03-14 or 2031-03-14T00:00:00Z)"
            )
        return format_utc(parsed)
    if not isinstance(raw, str):
        raise FieldError("must be a string")
    if f.required and not raw.strip():
        raise FieldError("is a required field and cannot be empty")
    if len(raw) > MAX_STRING:
        raise FieldError(f"must be at most {MAX_STRING} characters (got {len(raw)})")
    return raw


def _integer(raw: Any) -> int:
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


def _boolean(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.strip().lower() in ("true", "false"):
        return raw.strip().lower() == "true"
    raise FieldError("must be true or false")


def _cap(value: Any) -> Any:
    """Attempted values are echoed back to the model: keep them short and JSON-plain."""
    if isinstance(value, str):
        return value if len(value) <= 200 else value[:199] + "…"
    if isinstance(value, (int, float, bool)) or value is None:
        return value
    text = repr(value)
    return text if len(text) <= 200 else text[:199] + "…"


# ------------------------------------------------------------------ the find tool
FIND_FILTERS = ("CoworkerFullName", "CoworkerId", "BusinessId", "Name", "VerificationStatus", "VerificationType")
PAGE, PAGE_SIZE = "Page", "PageSize"
FIND_PROPERTIES = (*FIND_FILTERS, PAGE, PAGE_SIZE)
DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE = 10, 50


@dataclass
class FindRequest:
    filters: dict[str, Any]  # field name -> API value
    page: int = 1
    page_size: int = DEFAULT_PAGE_SIZE


def parse_find(arguments: dict[str, Any] | None) -> FindRequest:
    """Validate the find tool's arguments with the same field rules as the update."""
    args = dict(arguments or {})
    errors = unknown_properties(args, FIND_PROPERTIES)
    filters: dict[str, Any] = {}
    for name in FIND_FILTERS:
        if args.get(name) is None:
            continue
        try:
            filters[name] = coerce(BY_NAME[name], args[name])
        except FieldError as exc:
            errors.append(exc.as_problem(BY_NAME[name], args[name]))
    paging = {PAGE: 1, PAGE_SIZE: DEFAULT_PAGE_SIZE}
    for name, upper in ((PAGE, 100_000), (PAGE_SIZE, MAX_PAGE_SIZE)):
        if args.get(name) is None:
            continue
        try:
            value = _integer(args[name])
            if not 1 <= value <= upper:
                raise FieldError(f"must be between 1 and {upper}")
            paging[name] = value
        except FieldError as exc:
            errors.append(problem(name, exc.message, _cap(args[name])))
    if errors:
        raise ArgumentErrors(errors)
    return FindRequest(filters, paging[PAGE], paging[PAGE_SIZE])
