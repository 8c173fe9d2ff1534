"""The command tools: list the API's commands for identity checks, and run one (mark as verified,
mark as rejected, …) after the user confirms it.

The keys are not published: they come from the live API (`GET …/commands`), cached per process for
`COMMANDS_TTL` seconds and fetched again when a call names a key the cache does not have (discovery
is known to miss commands now and then). A run is checked here first (key, Ids, parameters: every
problem at once, with the closest key or parameter as Hint), then each check is read (so an unknown
Id fails before anything is sent, and the result can show VerificationStatus before -> after), then
the user is asked through the client when it can (see `confirm.py`), then it is sent once. A run is
not idempotent (Nexudus may email the member): it is never re-sent after it may have reached the
API, and when the outcome is unknown the checks are read again and shown as they are now.
"""

from __future__ import annotations

import difflib
import logging
import time
from dataclasses import dataclass
from typing import Any

from ..nexudus import ErrorKind, NexudusClient, NexudusError
from ..record.fields import ENUM_FIELDS
from ..record.redaction import Redactor
from ..record.validation import problem
from ..state import StateStore
from .base import ToolBase
from .catalog import FIND_TOOL, GET_TOOL, RUN_COMMAND_TOOL
from .confirm import confirm
from .context import CallContext
from .requests import ListRequest, RunRequest
from .results import ToolResult, audit_log, failure

log = logging.getLogger(__name__)

COMMANDS_TTL = 300.0
STATUS = ENUM_FIELDS["VerificationStatus"]


@dataclass(frozen=True)
class Command:
    key: str
    name: str
    needs_ids: bool
    one_only: bool
    parameters: tuple[tuple[str, bool], ...]  # (name, required)

    def shown(self) -> dict[str, Any]:
        return {
            "Key": self.key,
            "Name": self.name,
            "NeedsIds": self.needs_ids,
            "OneIdOnly": self.one_only,
            "Parameters": [{"Name": n, "Required": r} for n, r in self.parameters],
        }


def _command(raw: dict[str, Any]) -> Command:
    params: list[tuple[str, bool]] = []
    listed = raw.get("RequiresParameters")
    for item in listed if isinstance(listed, list) else []:
        if isinstance(item, str) and item:
            params.append((item[:100], True))
        elif isinstance(item, dict) and (item.get("Name") or item.get("Key")):
            name = str(item.get("Name") or item.get("Key"))[:100]
            params.append((name, item.get("Required") is not False))
    return Command(
        key=str(raw["Key"])[:200],
        name=str(raw.get("Name") or raw["Key"])[:200],
        needs_ids=raw.get("NeedsEntitiesToRun") is not False,
        one_only=raw.get("AppliesOnlyToOneEntity") is True,
        parameters=tuple(params),
    )


def audit_command(caller: str, key: str, ids: list[int], outcome: str) -> None:
    """One line per command attempt: who, which command, which checks, what happened. Never parameters."""
    audit_log.info(
        "command client=%s key=%s checks=%s outcome=%s", caller, key, ",".join(map(str, ids)) or "-", outcome
    )


class CommandTools(ToolBase):
    def __init__(self, client: NexudusClient, redactor: Redactor, state: StateStore | None = None) -> None:
        super().__init__(client, redactor, state)
        self._commands: list[Command] = []
        self._commands_at = float("-inf")

    async def _command_list(self, ctx: CallContext, *, refresh: bool = False) -> tuple[list[Command], bool]:
        """(commands, fetched now). From the cache unless stale or `refresh`."""
        if not refresh and time.monotonic() - self._commands_at < COMMANDS_TTL:
            return self._commands, False
        listed = await self.client.list_commands(caller=ctx.caller)
        self._commands = [_command(c) for c in listed]
        self._commands_at = time.monotonic()
        return self._commands, True

    async def list_commands(self, request: ListRequest, ctx: CallContext) -> ToolResult:
        try:
            commands, _ = await self._command_list(ctx, refresh=request.refresh)
        except NexudusError as error:
            return self._api_failure(error)
        shown = [c.shown() for c in commands]
        names = ", ".join(f"{c.name} ({c.key})" for c in commands) or "none"
        return ToolResult(
            {
                "WasSuccessful": True,
                "Message": f"{len(commands)} command(s) this account can run on identity checks, as Nexudus "
                "lists them now. Run one with "
                f"{RUN_COMMAND_TOOL} and its exact Key.",
                "Commands": shown,
            },
            False,
            f"{len(commands)} command(s): {names}.",
        )

    async def run_command(self, request: RunRequest, ctx: CallContext) -> ToolResult:
        try:
            command = await self._find_command(request.key, ctx)
        except NexudusError as error:
            return self._api_failure(error)
        if isinstance(command, ToolResult):
            return command
        errors = self._check_against(command, request)
        if errors:
            return failure(
                ErrorKind.VALIDATION,
                f"'{command.name}' cannot run with these arguments; nothing was sent to Nexudus. "
                "Fix each property in Errors and call again.",
                source="local",
                errors=errors,
            )
        before: dict[int, dict[str, Any]] = {}
        for check_id in request.ids:
            try:
                before[check_id] = await self.client.get_check(check_id, caller=ctx.caller)
            except NexudusError as error:
                result = self._api_failure(error, check_id=check_id)
                if error.kind == ErrorKind.NOT_FOUND:
                    result.body["Message"] = (
                        f"No coworker identity check with Id {check_id} was found; the command was not run on "
                        f"any check. Use Ids from {FIND_TOOL} or {GET_TOOL}."
                    )
                    result.body["Errors"] = [problem("Ids", f"{check_id} is not an existing check", check_id)]
                return result
        summary = self._summary(command, request, before)
        base = {
            "Key": command.key,
            "CommandName": command.name,
            "Ids": request.ids,
        }
        if request.dry_run:
            audit_command(ctx.caller.label, command.key, request.ids, "dry_run")
            return ToolResult(
                {
                    "WasSuccessful": True,
                    "Message": f"Dry run: would {summary} Nothing was sent. Show this to the user, and call "
                    "again without DryRun once they agree.",
                    **base,
                    "DryRun": True,
                    "Checks": [self._row(r, None) for r in before.values()],
                },
                False,
                f"Dry run: would {summary}",
            )
        question = f"{summary[0].upper()}{summary[1:-1]}? This cannot be undone, and Nexudus may email the member."
        refusal, how = await confirm(ctx.confirmer, question, mode=self.client.settings.mcp_confirm, what="command")
        if refusal is not None:
            if how != "pending":
                audit_command(ctx.caller.label, command.key, request.ids, how)
            return refusal
        parameters = [{"Name": n, "Value": v} for n, v in request.parameters.items()]
        try:
            envelope = await self.client.run_command(command.key, request.ids, parameters, caller=ctx.caller)
        except NexudusError as error:
            return await self._run_failed(error, command, request, before, base, ctx)
        audit_command(ctx.caller.label, command.key, request.ids, "ran")
        after = await self._reread(request.ids, ctx)
        rows = [self._row(before[i], after.get(i)) for i in request.ids]
        changes = "; ".join(
            f"check {r['Id']}: {r['VerificationStatusBefore']} -> {r['VerificationStatus']}" for r in rows
        )
        return ToolResult(
            {
                "WasSuccessful": True,
                "Message": str(envelope.get("Message") or f"{command.name} was run.")[:500]
                + f" VerificationStatus: {changes}.",
                **base,
                "DryRun": False,
                "Confirmation": how,
                "UpdatedOn": envelope.get("UpdatedOn"),
                "Checks": rows,
            },
            False,
            f"Ran '{command.name}' on {len(rows)} check(s): {changes}.",
        )

    async def _find_command(self, key: str, ctx: CallContext) -> Command | ToolResult:
        commands, fresh = await self._command_list(ctx)
        found = _match(commands, key)
        if found is None and not fresh:
            commands, _ = await self._command_list(ctx, refresh=True)
            found = _match(commands, key)
        if found is not None:
            return found
        keys = [c.key for c in commands]
        by_name = {c.name.lower(): c.key for c in commands}
        hint = by_name.get(key.lower()) or next(
            iter(difflib.get_close_matches(key.upper(), [k.upper() for k in keys], 1, 0.3)), None
        )
        if hint is not None:
            hint = next((k for k in keys if k.upper() == hint.upper()), hint)
        listed = "; ".join(f"{c.key} ({c.name})" for c in commands) or "none"
        return failure(
            ErrorKind.VALIDATION,
            f"Nexudus has no command with Key '{key}' for identity checks; nothing was sent. Keys: {listed}.",
            source="local",
            errors=[problem("Key", "is not a command Key Nexudus lists", key, allowed=keys, hint=hint)],
        )

    def _check_against(self, command: Command, request: RunRequest) -> list[dict[str, Any]]:
        errors = []
        if command.needs_ids and not request.ids:
            errors.append(problem("Ids", f"'{command.name}' needs the Ids of the checks to run on", []))
        if command.one_only and len(request.ids) > 1:
            errors.append(
                problem(
                    "Ids",
                    f"'{command.name}' runs on one check at a time: call once per Id",
                    request.ids,
                )
            )
        known = tuple(n for n, _ in command.parameters)
        for name in request.parameters:
            if name not in known:
                hint = next(iter(difflib.get_close_matches(name, known, 1, 0.3)), None) or (
                    next((k for k in known if k.lower() == name.lower()), None)
                )
                what = f"takes {', '.join(known)}" if known else "takes no parameters"
                errors.append(problem(name, f"is not a parameter of '{command.name}' (it {what})", name, hint=hint))
        for name, required in command.parameters:
            if required and not (request.parameters.get(name) or "").strip():
                errors.append(problem(name, f"is a required parameter of '{command.name}'", None))
        return errors

    def _summary(self, command: Command, request: RunRequest, before: dict[int, dict[str, Any]]) -> str:
        checks = "; ".join(
            f"check {i} ({self._who_short(r)}, {r.get('Name') or 'unnamed'}, "
            f"now {STATUS.name_of(r.get('VerificationStatus'))})"
            for i, r in before.items()
        )
        sensitive = self.redactor.sensitive_values(*before.values())
        extra = "".join(f' with {n} "{self.redactor.text(v[:200], sensitive)}"' for n, v in request.parameters.items())
        return f"run '{command.name}' on {checks or 'no particular check'}{extra}."

    def _who_short(self, record: dict[str, Any]) -> str:
        name = self.redactor.value("CoworkerFullName", record.get("CoworkerFullName"))
        return str(name or f"coworker {record.get('CoworkerId')}")

    def _row(self, before: dict[str, Any], after: dict[str, Any] | None) -> dict[str, Any]:
        now = after if after is not None else before
        last_error = now.get("LastError")
        if isinstance(last_error, str):  # a rejection's notes: free text that may quote a document number
            last_error = self.redactor.text(last_error[:1000], self.redactor.sensitive_values(before, after))
        row = {
            "Id": before.get("Id"),
            "Name": before.get("Name"),
            "CoworkerFullName": self.redactor.value("CoworkerFullName", before.get("CoworkerFullName")),
            "VerificationStatusBefore": STATUS.name_of(before.get("VerificationStatus")),
            "VerificationStatus": STATUS.name_of(now.get("VerificationStatus")),
            "LastError": last_error,
            "UpdatedOn": now.get("UpdatedOn"),
        }
        if after is None and now is before:
            row["VerificationStatus"] = row["VerificationStatusBefore"]
        return row

    async def _reread(self, ids: list[int], ctx: CallContext) -> dict[int, dict[str, Any]]:
        out = {}
        for check_id in ids:
            try:
                out[check_id] = await self.client.get_check(check_id, caller=ctx.caller)
            except NexudusError as error:
                log.warning("re-reading check %s after a command failed: %s", check_id, error.kind)
        return out

    async def _run_failed(
        self,
        error: NexudusError,
        command: Command,
        request: RunRequest,
        before: dict[int, dict[str, Any]],
        base: dict[str, Any],
        ctx: CallContext,
    ) -> ToolResult:
        if error.kind in (ErrorKind.VALIDATION, ErrorKind.UPSTREAM_ERROR):
            self._commands_at = float("-inf")  # the API may know the commands better than the cache
        sent = not error.unsent and error.operation in (None, "run_command")  # not a token request's failure
        unknown = sent and (
            error.kind == ErrorKind.UPSTREAM_UNAVAILABLE
            or (error.kind == ErrorKind.UPSTREAM_ERROR and (error.status is None or error.excerpt is not None))
        )
        if not unknown:
            audit_command(ctx.caller.label, command.key, request.ids, error.kind.value)
            result = self._api_failure(error, records=tuple(before.values()))
            if error.kind == ErrorKind.UPSTREAM_ERROR:
                result.body["Message"] = f"Nexudus did not run '{command.name}'. " + result.body["Message"]
            result.body.update(base)
            return result
        audit_command(ctx.caller.label, command.key, request.ids, "outcome_unknown")
        after = await self._reread(request.ids, ctx)
        rows = [self._row(before[i], after.get(i)) for i in request.ids]
        result = self._api_failure(error, records=tuple(before.values()))
        result.body.update(base)
        result.body["Retryable"] = False
        result.body.pop("RetryAfterSeconds", None)
        result.body["OutcomeUnknown"] = True
        result.body["Checks"] = rows
        result.body["Message"] = (
            f"The request to run '{command.name}' was sent but no clear answer came back ({error.message}), so "
            "whether it ran is unknown. It was NOT sent again: running a command twice may email the member "
            "twice. Checks shows each check as read again just now; compare VerificationStatus with "
            "VerificationStatusBefore, and tell the user what you see before trying again."
        )
        result.summary = f"Failed (outcome unknown): '{command.name}' may or may not have run; checks re-read."
        return result


def _match(commands: list[Command], key: str) -> Command | None:
    exact = next((c for c in commands if c.key == key), None)
    return exact or next((c for c in commands if c.key.lower() == key.lower()), None)
