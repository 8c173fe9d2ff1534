"""Grading by final state, as tau-bench does: the expected fields hold the expected values and nothing
else changed anywhere; not by matching the calls an agent made."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..record.fields import BY_NAME, ENUM_FIELDS
from ..record.timefmt import calendar_date, parse_datetime
from .scenarios import Scenario
from .session import Call

AUDIT_FIELDS = {"UpdatedOn", "UpdatedBy"}


@dataclass
class Outcome:
    """One trial of one scenario (the report's `scenarios[].trials[]`, schema in evals/README.md)."""

    name: str
    passed: bool
    failures: list[str]
    tool_calls: int
    error_results: int
    recovered: bool | None  # None: no error result to recover from
    api_requests: int
    writes: int
    seconds: float
    error_kinds: list[str] = field(default_factory=list)
    trial: int = 1
    # What a model agent spent (pydantic-ai's usage object); 0 for the scripted agent.
    input_tokens: int = 0
    output_tokens: int = 0
    model_requests: int = 0
    cost_usd: float | None = 0.0  # None: no price known for the model
    transcript: str | None = None  # the JSONL transcript, relative to the report's --out directory
    budget_hit: str | None = None  # the budget stopped this trial's agent (it was cut short)


def same_value(field_name: str, want: Any, got: Any) -> bool:
    if want == "" and got in (None, ""):  # TOML has no null: "" stands for a blank field
        return True
    enum = ENUM_FIELDS.get(field_name)
    if enum is not None and isinstance(want, str) and not want.isdigit():
        want = enum.code_of(want)
    f = BY_NAME.get(field_name)
    if f is not None and f.type == "date" and isinstance(want, str) and isinstance(got, str):
        return calendar_date(want) == calendar_date(got)  # a date's day, whatever form the store writes
    if f is not None and f.type == "datetime" and isinstance(want, str) and isinstance(got, str):
        return parse_datetime(want) == parse_datetime(got)
    return bool(want == got)


def grade(
    scenario: Scenario,
    before: dict[int, dict[str, Any]],
    after: dict[int, dict[str, Any]],
    calls: list[Call],
    writes: int,
) -> list[str]:
    failures = []
    for check_id, expected in scenario.expect_records.items():
        record = after.get(check_id)
        if record is None:
            failures.append(f"check {check_id} does not exist")
            continue
        for name, want in expected.items():
            if not same_value(name, want, record.get(name)):
                failures.append(f"check {check_id}: {name} is {record.get(name)!r}, expected {want!r}")
    for check_id, record in after.items():
        allowed = set(scenario.expect_records.get(check_id, {})) | AUDIT_FIELDS
        changed = sorted(k for k in record if record[k] != before.get(check_id, {}).get(k) and k not in allowed)
        if changed:
            failures.append(f"check {check_id}: fields changed that should not have: {', '.join(changed)}")
    if scenario.expect_writes is not None and writes != scenario.expect_writes:
        failures.append(f"{writes} write(s) reached the API, expected {scenario.expect_writes}")
    for expected in scenario.expect_results:
        failures += _result_failures(expected, calls)
    seen = {c.body.get("ErrorKind") for c in calls if c.is_error}
    for kind in scenario.expect_errors:
        if kind not in seen:
            failures.append(f"expected to meet a {kind} error result; met {sorted(k for k in seen if k) or 'none'}")
    return failures


# The rows a listing tool answers with, by the key each uses, and the field that names each row's
# check or member (a journal entry names the check it changed).
ROW_KEYS = {"Checks": "Id", "Members": "Id", "Entries": "CheckId"}


def rows_of(body: dict[str, Any]) -> list[dict[str, Any]]:
    for key in ROW_KEYS:
        rows = body.get(key)
        if isinstance(rows, list):
            return [r for r in rows if isinstance(r, dict)]
    return []


def row_ids(body: dict[str, Any]) -> list[Any]:
    """The Ids a listing answered with, in order: checks, members, or the checks journal entries changed."""
    for key, id_field in ROW_KEYS.items():
        rows = body.get(key)
        if isinstance(rows, list):
            return [r.get(id_field) for r in rows if isinstance(r, dict)]
    return []


def _result_failures(expected: dict[str, Any], calls: list[Call]) -> list[str]:
    """What the last successful call of the expected tool answered, against the scenario's expectation."""
    tool = expected["tool"]
    last = next((c for c in reversed(calls) if c.tool == tool and not c.is_error), None)
    if last is None:
        return [f"no successful {tool} call"]
    if "ids" in expected:
        ids = row_ids(last.body)
        return [] if ids == list(expected["ids"]) else [f"the last {tool} listed {ids}, expected {expected['ids']}"]
    got = last.body.get(expected["field"])
    if got != expected["value"]:
        return [f"the last {tool} answered {expected['field']} {got!r}, expected {expected['value']!r}"]
    return []


def recovered(calls: list[Call], passed: bool, scenario: Scenario) -> bool | None:
    """After an error result, did the agent reach the goal (a later successful call, and a passing state)?
    None when there was no error, or when the error was the scenario's expected end (a refusal)."""
    first_error = next((i for i, c in enumerate(calls) if c.is_error), None)
    if first_error is None or scenario.expect_writes == 0:
        return None
    return passed and any(not c.is_error for c in calls[first_error + 1 :])
