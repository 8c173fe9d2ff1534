"""Values from Nexudus made to fit the types a tool's outputSchema declares, where they enter a
result; and the last step of every result on its way to the model: bounded in size.

- **Fitted where they enter** (`as_declared`): the values Nexudus sends are made to match the schema
  of the result data they become, once, where they become it: a record (`ToolBase.present`), a find
  row, a member row, a change, a command's check row, an envelope's UpdatedOn or UpdatedBy, a
  conflict's CurrentUpdatedOn, a journal entry's view. (The API's error list is typed where the client
  reads it: `errors_of` makes each item a `Problem`.) A key whose value cannot have the
  advertised type is left out (never null where the schema says string), and a value that can is
  coerced (`"87654301"` to 87654301 where the schema says integer, a number to text where it says
  string). For `anyOf` typed branches (a value or null, tools/schemas.py) the value's own type wins,
  so null stays null, else the first branch it can be coerced to. The keys the server builds itself
  are right by construction, so nothing is fitted on the way out: tests/test_results_by_construction.py
  checks every result against its outputSchema as it leaves. A client that validates
  structuredContent against the outputSchema (the Python SDK does, and raises) then accepts every
  result, so a write that succeeded is never reported to the model as a failed call.
- **Bounded** (`finish`): a long text is cut, with a visible marker and its full length
  (`…[cut: 48,213 characters in all]`); if the result is still larger than `MAX_RESULT_BYTES`, texts
  are cut shorter, and as a last resort the lists and objects are left out with a message saying so.
  A value shown cut and given back to the update tool means "unchanged" (`given_back_cut`), so a
  model that copies it cannot write the shortened text over the real one. Numbers JSON cannot carry
  (NaN, ±inf) become null.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from typing import Any

from ..record.validation import MAX_STRING
from .results import ToolResult

MAX_RESULT_BYTES = 64 * 1024
# Each text is cut to the first cap; while the result is still too large, to the next. The first
# leaves room for the marker within the validator's length limit, so a cut value given back to the
# update tool reaches `given_back_cut` (and means "unchanged") instead of failing as too long.
TEXT_CAPS = (MAX_STRING - 40, 250, 60)
MAX_KEY = 200
CUT_MARK = re.compile(r"…\[cut: ([0-9,]{1,15}) characters in all\]\Z")
_DIGITS = re.compile(r"-?[0-9]{1,18}")


def cut(text: str, cap: int) -> str:
    """`text`, or its first `cap` characters and the marker with its full length."""
    if len(text) <= cap:
        return text
    return f"{text[:cap]}…[cut: {len(text):,} characters in all]"


def given_back_cut(given: str, current: Any) -> bool | None:
    """None: `given` is not a cut value. True: it is the cut form of `current` (so it means
    "unchanged"). False: it carries the marker but does not match the current value."""
    mark = CUT_MARK.search(given)
    if mark is None:
        return None
    prefix = given[: mark.start()]
    total = int(mark.group(1).replace(",", ""))
    return isinstance(current, str) and len(current) == total and current.startswith(prefix)


def finish(result: ToolResult) -> ToolResult:
    """The result as it leaves the server: every text bounded, at most MAX_RESULT_BYTES in all (the
    text content; structuredContent is the same JSON). Its values were fitted where they entered
    (`as_declared`); nothing is fitted here."""
    for cap in TEXT_CAPS:
        shown = ToolResult(_bounded(result.body, cap), result.is_error, result.summary)
        if len(shown.text().encode()) <= MAX_RESULT_BYTES:
            return shown
    return _without_detail(shown)


def _without_detail(result: ToolResult) -> ToolResult:
    """Last resort for a record or page too large even with every text cut short: its lists and
    objects (Record, Checks, Changes, Errors, Body) are left out, and the message says so; whether the
    call succeeded, and anything it wrote, is still stated."""
    size = len(result.text().encode())
    body = {k: v for k, v in result.body.items() if not isinstance(v, (dict, list)) or k == "Value"}
    body = {k: cut(v, 1000) if isinstance(v, str) else v for k, v in body.items()}
    if isinstance(body.get("Value"), dict):
        body["Value"] = {k: v for k, v in body["Value"].items() if k == "Id"}
    left_out = ", ".join(k for k, v in result.body.items() if isinstance(v, (dict, list)) and k != "Value")
    body["Message"] = (
        f"{body.get('Message', '')} The rest of this result ({left_out}) was left out: it came to {size:,} bytes "
        f"even with every text cut short, over this server's limit of {MAX_RESULT_BYTES:,}. Nexudus answered with "
        "an unusually large record or page."
    ).strip()
    if "Errors" in result.body:
        body["Errors"] = []
    return ToolResult(body, result.is_error, result.summary)


def _bounded(value: Any, cap: int) -> Any:
    """Every text cut to `cap` (keys to MAX_KEY); numbers JSON cannot carry (NaN, ±inf) become null."""
    if isinstance(value, str):
        return cut(value, cap)
    if isinstance(value, dict):
        return {(cut(k, MAX_KEY) if isinstance(k, str) else k): _bounded(v, cap) for k, v in value.items()}
    if isinstance(value, list):
        return [_bounded(v, cap) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


_EXACT: dict[str, Callable[[Any], bool]] = {
    "null": lambda v: v is None,
    "boolean": lambda v: isinstance(v, bool),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "string": lambda v: isinstance(v, str),
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
}


def as_declared(values: Mapping[str, Any], schema: Mapping[str, Any]) -> dict[str, Any]:
    """Values from Nexudus as they enter a result: each key of `values` made to match its declared type
    in `schema` (an object's schema: a record, a row, an error item, a tool's result), or left out where
    it cannot be (`fit`). A key the schema does not name is kept as it is (anything is valid there)."""
    _, fitted = fit(dict(values), schema)
    return fitted if isinstance(fitted, dict) else {}


def fit(value: Any, schema: Mapping[str, Any]) -> tuple[bool, Any]:
    """(keep, value): `value` made to match `schema`, or keep=False when it cannot be."""
    branches = schema.get("anyOf")
    if isinstance(branches, list):  # typed branches (schemas.nullable, any_value): the exact type first
        typed = [b for b in branches if isinstance(b, dict)]
        for branch in typed:
            if _EXACT.get(str(branch.get("type")), lambda v: False)(value):
                return fit(value, branch)
        for branch in typed:
            if branch.get("type") != "null":
                keep, fitted = fit(value, branch)
                if keep:
                    return True, fitted
        return False, None
    kind = schema.get("type")
    if kind == "object":
        if not isinstance(value, dict):
            return False, None
        properties = schema.get("properties", {})
        out: dict[str, Any] = {}
        for key, item in value.items():
            sub = properties.get(key)
            if sub is None:
                out[key] = item  # no schema of its own: anything is valid there
                continue
            keep, fitted = fit(item, sub)
            if keep:
                out[key] = fitted
        return True, out
    if kind == "array":
        if not isinstance(value, list):
            return False, None
        items = schema.get("items")
        if not isinstance(items, dict):
            return True, value
        return True, [fitted for keep, fitted in (fit(item, items) for item in value) if keep]
    keep, fitted = _scalar(kind, value)
    if keep and "enum" in schema and fitted not in schema["enum"]:
        return False, None
    return keep, fitted


def _scalar(kind: Any, value: Any) -> tuple[bool, Any]:
    if kind is None:
        return True, value
    if isinstance(value, bool):
        return (True, value) if kind == "boolean" else (False, None)
    if kind == "string":
        if isinstance(value, str):
            return True, value
        if isinstance(value, int) or (isinstance(value, float) and math.isfinite(value)):
            return True, str(value)
        return False, None
    if kind == "integer":
        if isinstance(value, int):
            return True, value
        if isinstance(value, float) and math.isfinite(value) and value.is_integer():
            return True, int(value)
        if isinstance(value, str) and _DIGITS.fullmatch(value.strip()):
            return True, int(value.strip())
        return False, None
    if kind == "null":
        return (True, None) if value is None else (False, None)
    if kind == "number":
        if isinstance(value, int) or (isinstance(value, float) and math.isfinite(value)):
            return True, value
        if isinstance(value, str) and len(value) <= 40:
            try:
                number = float(value)
            except ValueError:
                return False, None
            return (True, number) if math.isfinite(number) else (False, None)
        return False, None
    return False, None  # "boolean" given a non-boolean, or a type this module does not know
