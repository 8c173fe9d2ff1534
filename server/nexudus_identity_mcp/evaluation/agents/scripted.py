"""The scripted agent: replays a scenario's steps, for CI, through the same ToolSession a model uses.

The scripted agent proves that the server's errors carry what a model needs to recover: a `repair`
step rebuilds the failed call from the error result alone (a Hint or AllowedValues for a bad enum or
a misspelt property, the Hint holding the record's value for a missing or wrongly copied required
field, dropping a read-only field, the current UpdatedOn after a conflict, RetryAfterSeconds after
throttling), never from the scenario's expected answer or the record it read.

`copy_required` copies the required fields from the latest of the last read and the selected find
row (a find row carries every required field, issue #27 item 9).

A `call` step with `agno = true` sends every string argument "None" (any case) as null, as Agno does.

A `call` step with `strict = true` sends the argument shape of a strict client (OpenAI strict mode):
every property of the tool's input schema present, null where the step gives no value.
"""

from __future__ import annotations

import difflib
import re
from typing import Any

import anyio

from ...record.fields import BY_NAME, REQUIRED
from ...tools.catalog import GET_TOOL, LIST_COMMANDS_TOOL, RUN_COMMAND_TOOL
from ..grading import rows_of
from ..scenarios import Scenario
from ..session import Call, ScriptError, ToolSession

PLACEHOLDER = re.compile(r"\{\{\s*(read|selected|command)\.([A-Za-z0-9]+)\s*\}\}")


class ScriptedAgent:
    """Replays `[[steps]]`: `call` (with `arguments`, `copy_required`, `strict`, `expect_error`,
    `expect_message`: a text the result's Message must contain, `expect_warning`: one of its Warnings),
    `select` (a row of the last find),
    `repair` (rebuild the last failed call from its error)."""

    name = "scripted"

    async def run(self, session: ToolSession, scenario: Scenario) -> None:
        await session.list_tools()
        await self.replay(session, scenario.steps)

    async def replay(self, session: ToolSession, steps: list[dict[str, Any]]) -> None:
        """Carry out `steps` in order (a scenario's steps, or its `earlier` calls)."""
        if not session.tools:
            await session.list_tools()
        read: dict[str, Any] = {}
        selected: dict[str, Any] = {}
        latest: dict[str, Any] = {}  # the last read or selected row: what copy_required copies from
        commands: dict[str, Any] = {}  # the last command list: name without spaces, lower case -> Key
        last: Call | None = None
        for n, step in enumerate(steps, start=1):
            if "select" in step:
                rows = rows_of(last.body) if last else []
                selected = next(
                    (
                        r
                        for r in rows
                        if all(str(v).lower() in str(r.get(k, "")).lower() for k, v in step["select"].items())
                    ),
                    {},
                )
                if not selected:
                    raise ScriptError(f"step {n}: no row of the last find matches {step['select']}")
                latest = selected
                continue
            if step.get("repair"):
                if last is None or not last.is_error:
                    raise ScriptError(f"step {n}: nothing to repair, the last call did not fail")
                tool, arguments = await self._repair(session, last)
            else:
                tool = step["call"]
                arguments = _fill(step.get("arguments", {}), read, selected, commands)
                if step.get("copy_required"):
                    # From the latest of the last read and the selected find row (a row carries them all).
                    source = latest or read
                    if not source:
                        raise ScriptError(f"step {n}: copy_required before any read or selected row")
                    arguments = {**{k: source[k] for k in REQUIRED if k in source}, **arguments}
                if step.get("agno"):
                    # Agno turns any string argument "None" (any case) into null before calling.
                    arguments = {
                        k: None if isinstance(v, str) and v.lower() == "none" else v for k, v in arguments.items()
                    }
                if step.get("strict"):
                    schema: dict[str, Any] = next((t.input_schema for t in session.tools if t.name == tool), {})
                    arguments = {**dict.fromkeys(schema.get("properties", {})), **arguments}
            last = await session.call(tool, arguments)
            if tool == GET_TOOL and not last.is_error:
                read = latest = last.body.get("Record", {})
            if tool == LIST_COMMANDS_TOOL and not last.is_error:
                commands = {_squash(c.get("Name", "")): c.get("Key") for c in last.body.get("Commands", [])}
            if step.get("expect_message") and step["expect_message"] not in str(last.body.get("Message")):
                raise ScriptError(f"step {n}: the result's Message does not say {step['expect_message']!r}")
            warned = " | ".join(map(str, last.body.get("Warnings") or []))
            if step.get("expect_warning") and step["expect_warning"] not in warned:
                raise ScriptError(f"step {n}: no Warning of the result says {step['expect_warning']!r}")
            expected = step.get("expect_error")
            if expected and last.body.get("ErrorKind") != expected:
                raise ScriptError(
                    f"step {n}: expected a {expected} error, got {last.body.get('ErrorKind') or 'success'}"
                )
            if not expected and last.is_error and not _next_is_repair(steps, n):
                raise ScriptError(
                    f"step {n}: unexpected {last.body.get('ErrorKind')} error: {last.body.get('Message')}"
                )

    async def _repair(self, session: ToolSession, failed: Call) -> tuple[str, dict[str, Any]]:
        body = failed.body
        arguments = dict(failed.arguments)
        kind = body.get("ErrorKind")
        if kind == "rate_limited":
            await anyio.sleep(float(body.get("RetryAfterSeconds") or 1))
            return failed.tool, arguments
        if kind == "conflict":
            fresh = await session.call(GET_TOOL, {"Id": arguments["Id"]})
            record = fresh.body.get("Record", {})
            required = {k: record[k] for k in REQUIRED if k in record}
            return failed.tool, {**arguments, **required, "ExpectedUpdatedOn": record.get("UpdatedOn")}
        if kind != "validation":
            raise ScriptError(f"cannot repair a {kind} error")
        if failed.tool == RUN_COMMAND_TOOL:
            return failed.tool, _repair_command(body, arguments)
        for error in body.get("Errors", []):
            prop, hint, message = error.get("PropertyName", ""), error.get("Hint"), error.get("Message", "")
            if prop not in BY_NAME and prop in arguments:  # an unknown property: rename it as hinted
                value = arguments.pop(prop)
                if hint:
                    arguments[hint] = value
            elif "read-only" in message:  # a field this tool cannot change: leave it out
                arguments.pop(prop, None)
            elif hint:  # the closest valid name
                arguments[prop] = hint
            elif error.get("AllowedValues"):  # the allowed value nearest to the attempt
                match = difflib.get_close_matches(str(error.get("AttemptedValue")), error["AllowedValues"], 1, 0)
                arguments[prop] = match[0]
            elif "ISO 8601" in message and isinstance(arguments.get(prop), str):
                arguments[prop] = _to_iso(arguments[prop])
            else:
                raise ScriptError(f"the error for {prop} gives nothing to repair it with: {message}")
        return failed.tool, arguments


def _next_is_repair(steps: list[dict[str, Any]], n: int) -> bool:
    return n < len(steps) and bool(steps[n].get("repair"))


def _repair_command(body: dict[str, Any], arguments: dict[str, Any]) -> dict[str, Any]:
    """A command run's error: the Key's Hint (the closest listed key), a parameter's Hint (its right name)."""
    parameters = [dict(p) for p in arguments.get("Parameters") or []]
    for error in body.get("Errors", []):
        prop, hint, message = error.get("PropertyName", ""), error.get("Hint"), error.get("Message", "")
        named = [p for p in parameters if p.get("Name") == prop]
        if prop == "Key" and hint:
            arguments["Key"] = hint
        elif named and hint:
            named[0]["Name"] = hint
        elif "required parameter" in message and any(p.get("Name") == prop for p in parameters):
            continue  # the misspelt one, renamed by its own error, is the missing one
        else:
            raise ScriptError(f"the error for {prop} gives nothing to repair it with: {message}")
    if parameters:
        arguments["Parameters"] = parameters
    return arguments


def _squash(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _fill(value: Any, read: dict[str, Any], selected: dict[str, Any], commands: dict[str, Any] | None = None) -> Any:
    """Resolve {{read.Field}}, {{selected.Field}} and {{command.MarkAsVerified}} (the Key of the listed
    command of that name); a string that is only a placeholder keeps its type."""
    if isinstance(value, dict):
        return {k: _fill(v, read, selected, commands) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, read, selected, commands) for v in value]
    if not isinstance(value, str):
        return value
    sources = {"read": read, "selected": selected, "command": commands or {}}

    def lookup(source: str, name: str) -> Any:
        return sources[source].get(_squash(name) if source == "command" else name)

    whole = PLACEHOLDER.fullmatch(value.strip())
    if whole:
        return lookup(whole.group(1), whole.group(2))
    return PLACEHOLDER.sub(lambda m: str(lookup(m.group(1), m.group(2))), value)


def _to_iso(text: str) -> str:
    """DD/MM/YYYY or DD.MM.YYYY (the forms the error message rules out) as YYYY-MM-DD."""
    match = re.fullmatch(r"\s*(\d{1,2})[/.](\d{1,2})[/.](\d{4})\s*", text)
    if not match:
        raise ScriptError(f"cannot read {text!r} as a date")
    day, month, year = match.groups()
    return f"{year}-{int(month):02d}-{int(day):02d}"
