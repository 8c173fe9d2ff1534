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

A run takes the same per-check locks as an update (`update.py`; across processes through the state
store), in Id order, so it never lands between an update's read and its PUT (which would carry the
old VerificationStatus back). The user's answer is awaited with no lock held: the checks are read,
the user asked, and only then are the locks taken, the checks read again and compared with what the
user was shown (UpdatedOn, VerificationStatus), and the command sent. A run whose outcome is unknown
keeps the locks until they expire.
"""

from __future__ import annotations

import difflib
import hashlib
import logging
import time
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any

from ..nexudus import ErrorKind, NexudusClient, NexudusError
from ..record.fields import ENUM_FIELDS
from ..record.redaction import Redactor
from ..record.validation import Problem, problem
from ..state import Journal, Lease, LockNotGranted, StateStore, StateUnavailable
from .base import LOCK_MARGIN_SECONDS, ToolBase, WriteOutcomePending
from .catalog import FIND_TOOL, GET_TOOL, RUN_COMMAND, RUN_COMMAND_TOOL
from .confirm import NOT_ASKED_CLIENT_CANNOT, confirm, shown_value, will_ask
from .context import CallContext
from .elicitation import binding_of
from .history import Attempt, record
from .requests import ListRequest, RunRequest
from .results import ToolResult, addressed_to_assistant, audit_log, failure
from .schemas import CHECK_STATUS_ITEM
from .shape import as_declared

log = logging.getLogger(__name__)

COMMANDS_TTL = 300.0
# A dry run of a command, remembered for a while: a run from a client that cannot ask then says whether
# the user can have seen it first.
DRY_RUN_KEY = "command-dry-run:"
DRY_RUN_TTL = 1800.0
STATUS = ENUM_FIELDS["VerificationStatus"]
# The status each command was seen to set (for the history's "the command that moves it back").
EFFECT_KEY = "command-effect:"
EFFECT_TTL = 400 * 86400.0
# A command whose name says it sets a status (used when no run of it has been seen yet).
STATUS_WORDS = {
    "Successful": ("verif", "approv", "accept"),
    "Failed": ("reject", "fail", "declin"),
    "Cancelled": ("cancel",),
    "Pending": ("pending", "reopen", "reset", "new document", "request"),
}


@dataclass(frozen=True)
class Command:
    """A command as the API lists it (docs/development.md, "What is known of the Nexudus API"): its
    one/many rules (`AppliesOnlyToOneEntity`, `AppliesOnlyToMultipleEntities`), its place (`Order`),
    how Nexudus shows it (`DisplayInDropdown`, `Icon`) and its parameters with their `Type`."""

    key: str
    name: str
    needs_ids: bool
    one_only: bool
    parameters: tuple[tuple[str, bool, str | None], ...]  # (name, required, type)
    many_only: bool = False
    order: int | None = None
    in_dropdown: bool | None = None
    icon: str | None = None

    def shown(self) -> dict[str, Any]:
        return {
            "Key": self.key,
            "Name": self.name,
            "NeedsIds": self.needs_ids,
            "OneIdOnly": self.one_only,
            "ManyIdsOnly": self.many_only,
            "Order": self.order,
            "DisplayInDropdown": self.in_dropdown,
            "Icon": self.icon,
            "Parameters": [{"Name": n, "Required": r, "Type": t} for n, r, t in self.parameters],
        }


def _text(value: Any, limit: int) -> str | None:
    return value[:limit] if isinstance(value, str) and value else None


def listed_command(raw: dict[str, Any]) -> Command:
    params: list[tuple[str, bool, str | None]] = []
    listed = raw.get("RequiresParameters")
    for item in listed if isinstance(listed, list) else []:
        if isinstance(item, str) and item:
            params.append((item[:100], True, None))
        elif isinstance(item, dict) and (item.get("Name") or item.get("Key")):
            name = str(item.get("Name") or item.get("Key"))[:100]
            params.append((name, item.get("Required") is not False, _text(item.get("Type"), 50)))
    order = raw.get("Order")
    dropdown = raw.get("DisplayInDropdown")
    return Command(
        key=str(raw["Key"])[:200],
        name=str(raw.get("Name") or raw["Key"])[:200],
        needs_ids=raw.get("NeedsEntitiesToRun") is not False,
        one_only=raw.get("AppliesOnlyToOneEntity") is True,
        parameters=tuple(params),
        many_only=raw.get("AppliesOnlyToMultipleEntities") is True,
        order=order if isinstance(order, int) and not isinstance(order, bool) else None,
        in_dropdown=dropdown if isinstance(dropdown, bool) else None,
        icon=_text(raw.get("Icon"), 100),
    )


def in_order(commands: list[Command]) -> list[Command]:
    """The commands in the API's own `Order` (stable: ties and those without one keep the list's order,
    those without one last)."""
    return sorted(commands, key=lambda c: (c.order is None, c.order or 0))


def audit_command(caller: str, key: str, ids: list[int], outcome: str) -> None:
    """One line per command attempt: who, which command, which checks, what happened. Never parameters."""
    audit_log.info(
        "command client=%s key=%s checks=%s outcome=%s",
        caller,
        key,
        ",".join(map(str, ids)) or "-",
        outcome,
        extra={"event_fields": {"action": "command", "client": caller, "key": key, "checks": ids, "outcome": outcome}},
    )


@dataclass
class CommandRun:
    """One command run as `run_command` learns about it, for the journal: one entry per check, with its
    VerificationStatus before and (as read again after the run) after."""

    command: Command | None = None
    request: RunRequest | None = None
    before: dict[int, dict[str, Any]] = field(default_factory=dict)
    after: dict[int, dict[str, Any]] = field(default_factory=dict)
    outcome: str | None = None

    def attempt(self, check_id: int) -> Attempt:
        assert self.command is not None
        attempt = Attempt(RUN_COMMAND_TOOL, command=self.command.key, outcome=self.outcome)
        attempt.about(self.before[check_id])
        change: dict[str, Any] = {"Field": STATUS.name, "From": self.before[check_id].get(STATUS.name)}
        if check_id in self.after:
            change["To"] = self.after[check_id].get(STATUS.name)
            attempt.read_back = "verified"
        attempt.changes = [change]
        attempt.labels["CommandName"] = self.command.name
        if self.request is not None and self.request.parameters:
            attempt.labels["Parameters"] = dict(self.request.parameters)
        return attempt


class CommandTools(ToolBase):
    def __init__(
        self,
        client: NexudusClient,
        redactor: Redactor,
        state: StateStore | None = None,
        journal: Journal | None = None,
    ) -> None:
        super().__init__(client, redactor, state, journal)
        self._commands: list[Command] = []
        self._commands_at = float("-inf")

    async def _command_list(self, ctx: CallContext, *, refresh: bool = False) -> tuple[list[Command], bool]:
        """(commands, fetched now). From the cache unless stale or `refresh`."""
        if not refresh and time.monotonic() - self._commands_at < COMMANDS_TTL:
            return self._commands, False
        listed = await self.client.list_commands(caller=ctx.caller)
        self._commands = in_order([listed_command(c) for c in listed])
        self._commands_at = time.monotonic()
        return self._commands, True

    async def list_commands(self, request: ListRequest, ctx: CallContext) -> ToolResult:
        try:
            commands, _ = await self._command_list(ctx, refresh=request.refresh)
            if request.check_id is not None:
                return await self._commands_for(request.check_id, commands, ctx)
        except NexudusError as error:
            return self._api_failure(error, check_id=request.check_id)
        shown = [{**c.shown(), "Effect": await self._effect(c)} for c in commands]
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

    async def _commands_for(self, check_id: int, every: list[Command], ctx: CallContext) -> ToolResult:
        """The commands Nexudus lists for one check. The parameter's name is not published, so every
        candidate is sent; a list shorter than the full one shows Nexudus honoured it, the same list
        may mean every command applies or that it ignored the Id: both are said."""
        await self.client.get_check(check_id, caller=ctx.caller)  # an unknown Id is not_found, not a full list
        listed = in_order(
            [listed_command(c) for c in await self.client.list_commands(caller=ctx.caller, check_id=check_id)]
        )
        filtered = {c.key for c in listed} != {c.key for c in every}
        names = ", ".join(f"{c.name} ({c.key})" for c in listed) or "none"
        said = (
            "Nexudus answered a shorter list than for all checks: these are the ones it offers for this check."
            if filtered
            else "Nexudus answered the same list as for all checks: every command may apply to it, or Nexudus "
            "ignored the Id (probe says which); a command may still be refused for this check."
        )
        return ToolResult(
            {
                "WasSuccessful": True,
                "Message": f"{len(listed)} command(s) for check {check_id}. {said} Run one with {RUN_COMMAND_TOOL} "
                "and its exact Key.",
                "Commands": [{**c.shown(), "Effect": await self._effect(c)} for c in listed],
                "ForCheck": check_id,
                "FilteredByNexudus": filtered,
            },
            False,
            f"{len(listed)} command(s) for check {check_id}: {names}.",
        )

    async def run_command(self, request: RunRequest, ctx: CallContext) -> ToolResult:
        """Run a command; then the one journal entry per check of what happened (`run`, filled in on the way)."""
        run = CommandRun()
        result = await self._run_command(request, ctx, run)
        if run.outcome is not None and run.command is not None:
            entries = [await record(self.journal, run.attempt(check_id), ctx.caller.label) for check_id in run.before]
            await self._learn_effect(run)
            if any(entries):
                return result.adding(EntryIds=[e.seq for e in entries if e is not None])
        return result

    async def _learn_effect(self, run: CommandRun) -> None:
        """Remember the status a command was seen to set (every check read back at the same status), in
        the shared store: the history then names the command that moves a status back."""
        statuses = {r.get(STATUS.name) for r in run.after.values()}
        if run.outcome != "written" or run.command is None or len(statuses) != 1 or len(run.after) != len(run.before):
            return
        status = statuses.pop()
        if isinstance(status, int):
            try:
                await self.state.put(f"{EFFECT_KEY}{run.command.key}", str(status).encode(), EFFECT_TTL)
            except StateUnavailable:
                pass  # a hint lost, nothing else

    async def _seen_status(self, command: Command) -> int | None:
        """The VerificationStatus a run of `command` was seen to set on this account, if one was."""
        try:
            seen = await self.state.get(f"{EFFECT_KEY}{command.key}")
        except StateUnavailable:
            return None
        return int(seen.decode()) if seen is not None and seen.decode().lstrip("-").isdigit() else None

    async def _effect(self, command: Command) -> str:
        """What a command does to a check, each part marked: seen on this account (a run read back), or
        assumed (from its name; the sandbox's command of that kind does so; Nexudus documents none)."""
        seen = await self._seen_status(command)
        text = f"{command.name} {command.key}".lower()
        named = next((status for status, words in STATUS_WORDS.items() if any(w in text for w in words)), None)
        if seen is not None:
            parts = [f"sets VerificationStatus to {STATUS.name_of(seen)} (seen on this account)"]
        elif named is not None:
            parts = [f"sets VerificationStatus to {named} (assumed from its name)"]
        else:
            parts = ["unknown: Nexudus does not document it and no run of it has been seen here"]
        status = STATUS.name_of(seen) if seen is not None else named
        notes = [n for n, _, _ in command.parameters if any(w in n.lower() for w in ("note", "reason", "comment"))]
        if notes:
            parts.append(f"its {notes[0]} become the check's LastError (assumed: the sandbox's does so)")
        if status == "Successful":
            parts.append(
                "runs on a check in any status, Cancelled or Failed too (assumed: no precondition is documented)"
            )
        if status in ("Successful", "Pending"):
            parts.append("clears LastError (assumed: the sandbox's does so)")
        return "; ".join(parts) + "."

    async def command_to(self, status: Any, ctx: CallContext) -> Command | None:
        """A command on the account's list that sets `status`: one seen doing so (remembered), else one
        whose name says so ("Mark as verified" for Successful). None when the list has none."""
        if not isinstance(status, int):
            return None
        try:
            commands, _ = await self._command_list(ctx)
        except NexudusError:
            return None
        for command in commands:
            if await self._seen_status(command) == status:
                return command
        words = STATUS_WORDS.get(STATUS.name_of(status) or "", ())
        return next((c for c in commands if any(w in f"{c.name} {c.key}".lower() for w in words)), None)

    async def _run_command(self, request: RunRequest, ctx: CallContext, run: CommandRun) -> ToolResult:
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
        base = {
            "Key": command.key,
            "CommandName": command.name,
            "Ids": request.ids,
        }
        settings = self.client.settings
        shown: dict[int, dict[str, Any]] | None = None
        if request.dry_run or will_ask(ctx.confirmer, settings.mcp_confirm):
            # Read (no lock) for the dry run or the question; the person's answer is awaited with no
            # lock held and none of the upstream deadline spent.
            read = await self._read_checks(request.ids, None, ctx)
            if isinstance(read, ToolResult):
                return read
            shown = read
        if request.dry_run and shown is not None:
            summary = self._summary(command, request, shown)
            audit_command(ctx.caller.label, command.key, request.ids, "dry_run")
            try:
                await self.state.put(self._dry_run_key(command, request, ctx), b"1", DRY_RUN_TTL)
            except StateUnavailable:
                pass  # only the "not asked" note of a later run depends on it
            return ToolResult(
                {
                    "WasSuccessful": True,
                    "Message": f"Dry run: would {summary} Nothing was sent. Show this to the user, and call "
                    "again without DryRun once they agree.",
                    **base,
                    "DryRun": True,
                    "Checks": [self._row(r, None) for r in shown.values()],
                },
                False,
                f"Dry run: would {summary}",
            )
        question = binding = ""
        if shown is not None:
            summary = self._summary(command, request, shown)
            question = f"{summary[0].upper()}{summary[1:-1]}? This cannot be undone, and Nexudus may email the member."
            binding = binding_of(
                "command",
                ctx.caller.label,
                command.key,
                request.ids,
                request.parameters,
                [(i, r.get("UpdatedOn"), r.get("VerificationStatus")) for i, r in shown.items()],
            )
        refusal, how = await confirm(
            ctx.confirmer, question, mode=settings.mcp_confirm, what="command", binding=binding
        )
        if refusal is not None:
            if how != "pending":
                run.command, run.request, run.before = command, request, shown or {}
                run.outcome = "declined"
                audit_command(ctx.caller.label, command.key, request.ids, how)
            return refusal
        budget = settings.max_call_seconds
        deadline = time.monotonic() + budget
        try:
            async with AsyncExitStack() as stack:
                # The same per-check locks as updates (in the state store: across processes), in Id order.
                leases = [
                    await stack.enter_async_context(
                        self.check_lock(i, ttl=budget + LOCK_MARGIN_SECONDS, deadline=deadline)
                    )
                    for i in sorted(request.ids)
                ]
                unasked = how == NOT_ASKED_CLIENT_CANNOT and not await self._dry_run_seen(command, request, ctx)
                return await self._run_locked(
                    command, request, base, shown, how, leases, deadline, ctx, run, unasked=unasked
                )
        except WriteOutcomePending as pending:
            audit_command(ctx.caller.label, command.key, request.ids, "busy_outcome_unknown")
            return failure(
                ErrorKind.BUSY,
                f"An earlier write to check {pending.args[0].partition(':')[2]} was sent but its outcome is not "
                "known yet (Nexudus may still apply it), so this server holds further writes to it until it "
                f"cannot land (about {pending.retry_after:.0f} s). '{command.name}' was not sent. Read the check "
                f"with {GET_TOOL} to see whether the earlier change landed, and call again after "
                "RetryAfterSeconds if still needed.",
                source="local",
                retryable=True,
                RetryAfterSeconds=round(pending.retry_after, 1),
            )
        except LockNotGranted:
            audit_command(ctx.caller.label, command.key, request.ids, "busy")
            return failure(
                ErrorKind.BUSY,
                f"A check of {', '.join(map(str, request.ids))} is being changed by another call, which did not "
                f"finish within this call's time limit ({budget:g} s). '{command.name}' was not sent; call again "
                "shortly.",
                source="local",
                retryable=True,
                RetryAfterSeconds=1.0,
            )
        except StateUnavailable:
            audit_command(ctx.caller.label, command.key, request.ids, "state_unavailable")
            return failure(
                ErrorKind.UPSTREAM_UNAVAILABLE,
                f"The shared state store ({self.state.backend}) cannot be reached, so this server refuses writes "
                "(without it, a command could run in the middle of another worker's update). Nothing was sent; "
                "reads still work. Retry when the store is back.",
                source="local",
                retryable=True,
            )

    async def _run_locked(
        self,
        command: Command,
        request: RunRequest,
        base: dict[str, Any],
        shown: dict[int, dict[str, Any]] | None,
        how: str,
        leases: list[Lease],
        deadline: float,
        ctx: CallContext,
        run: CommandRun,
        *,
        unasked: bool = False,
    ) -> ToolResult:
        """Under the checks' locks: read them (again), make sure they are what the user was shown, run
        the command once, and read them back. `unasked`: the client cannot ask and no dry run of this
        run came first, so the result says the user was not asked."""
        read = await self._read_checks(request.ids, deadline, ctx)
        if isinstance(read, ToolResult):
            return read
        before = read
        run.command, run.request, run.before = command, request, before
        if shown is not None:
            moved = [
                i
                for i in request.ids
                if (shown[i].get("UpdatedOn"), shown[i].get("VerificationStatus"))
                != (before[i].get("UpdatedOn"), before[i].get("VerificationStatus"))
            ]
            if moved:
                audit_command(ctx.caller.label, command.key, request.ids, "changed_while_asking")
                return failure(
                    ErrorKind.CONFLICT,
                    f"Check {', '.join(map(str, moved))} changed while the user was answering the confirmation, "
                    f"so what they confirmed is no longer what would run. '{command.name}' was not sent. Read the "
                    "check again and ask again.",
                    source="local",
                    Checks=[self._row(before[i], None) for i in request.ids],
                    **base,
                )
        for lease in leases:
            if not await self.state.still_held(lease):
                audit_command(ctx.caller.label, command.key, request.ids, "lock_lost")
                return failure(
                    ErrorKind.BUSY,
                    f"The lock on check {lease.name.partition(':')[2]} expired before '{command.name}' was sent. "
                    "Nothing was sent; call again.",
                    source="local",
                    retryable=True,
                    RetryAfterSeconds=1.0,
                )
        parameters = [{"Name": n, "Value": v} for n, v in request.parameters.items()]
        try:
            envelope = await self.client.run_command(
                command.key, request.ids, parameters, caller=ctx.caller, deadline=deadline
            )
        except NexudusError as error:
            return await self._run_failed(error, command, request, before, base, ctx, leases, run)
        audit_command(ctx.caller.label, command.key, request.ids, "ran")
        after = await self._reread(request.ids, ctx)
        run.outcome, run.after = "written", after
        rows = [self._row(before[i], after.get(i)) for i in request.ids]
        changes = "; ".join(
            f"check {r.get('Id')}: {r.get('VerificationStatusBefore')} -> {r.get('VerificationStatus')}" for r in rows
        )
        unread = [i for i in request.ids if i not in after]
        if unread:
            read_back = "not_read"
            said = (
                f" Check {', '.join(map(str, unread))} could not be read back after the run: its row shows it as "
                "before; read it again before relying on it."
            )
        else:
            read_back = "verified"
            said = (
                " Read back from Nexudus after the run: Checks shows each check as it is now (VerificationStatus, "
                "LastError, UpdatedOn): there is no need to read them again."
            )
        flagged = addressed_to_assistant(rows)
        not_asked = (
            " The user was not asked to confirm: this client cannot ask, and no dry run of this command on these "
            "checks came first. Tell the user what ran."
            if unasked
            else ""
        )
        return ToolResult(
            {
                "WasSuccessful": True,
                "Message": str(envelope.get("Message") or f"{command.name} was run.")[:500]
                + f" VerificationStatus: {changes}.{said}{not_asked}",
                **base,
                "DryRun": False,
                "Confirmation": how,
                **as_declared({"UpdatedOn": envelope.get("UpdatedOn")}, RUN_COMMAND.output),
                "Checks": rows,
                "ReadBack": read_back,
                **({"Warnings": [flagged]} if flagged else {}),
            },
            False,
            f"Ran '{command.name}' on {len(rows)} check(s): {changes}; "
            + ("read back from Nexudus." if not unread else "not every check could be read back.")
            + (" The user was not asked to confirm." if unasked else ""),
        )

    def _dry_run_key(self, command: Command, request: RunRequest, ctx: CallContext) -> str:
        binding = binding_of("command-dry-run", ctx.caller.label, command.key, sorted(request.ids), request.parameters)
        return DRY_RUN_KEY + hashlib.sha256(binding.encode()).hexdigest()

    async def _dry_run_seen(self, command: Command, request: RunRequest, ctx: CallContext) -> bool:
        """Whether this caller dry-ran this command on these checks (same parameters) lately."""
        try:
            return await self.state.get(self._dry_run_key(command, request, ctx)) is not None
        except StateUnavailable:
            return False

    async def _read_checks(
        self, ids: list[int], deadline: float | None, ctx: CallContext
    ) -> dict[int, dict[str, Any]] | ToolResult:
        """Each check, read now; an unknown Id (or any failure) is the answer instead."""
        read: dict[int, dict[str, Any]] = {}
        for check_id in ids:
            try:
                read[check_id] = await self.client.get_check(check_id, deadline=deadline, caller=ctx.caller)
            except NexudusError as error:
                missing = (
                    f"No coworker identity check with Id {check_id} was found; the command was not run on any "
                    f"check. Use Ids from {FIND_TOOL} or {GET_TOOL}.",
                    [problem("Ids", f"{check_id} is not an existing check", check_id)],
                )
                return self._api_failure(error, check_id=check_id, not_found=missing)
            self.redactor.note_record(read[check_id], ctx.redaction)
        return read

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

    def _check_against(self, command: Command, request: RunRequest) -> list[Problem]:
        errors: list[Problem] = []
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
        if command.many_only and len(request.ids) == 1:
            errors.append(
                problem(
                    "Ids",
                    f"'{command.name}' runs only on several checks at once (Nexudus lists it as applying to "
                    "multiple records): give two or more Ids, or use a command for one check",
                    request.ids,
                )
            )
        known = tuple(n for n, _, _ in command.parameters)
        for name in request.parameters:
            if name not in known:
                hint = next(iter(difflib.get_close_matches(name, known, 1, 0.3)), None) or (
                    next((k for k in known if k.lower() == name.lower()), None)
                )
                what = f"takes {', '.join(known)}" if known else "takes no parameters"
                errors.append(problem(name, f"is not a parameter of '{command.name}' (it {what})", name, hint=hint))
        for name, required, _ in command.parameters:
            if required and not (request.parameters.get(name) or "").strip():
                errors.append(problem(name, f"is a required parameter of '{command.name}'", None))
        return errors

    def _summary(self, command: Command, request: RunRequest, before: dict[int, dict[str, Any]]) -> str:
        """What the command would do, for the dry run and the question: every value quoted (control
        characters removed), every parameter in full or cut with an explicit marker, sensitive values
        as tokens (redacted before any cut, so no number is shown cut mid-way)."""
        sensitive = self.redactor.sensitive_values(*before.values())

        def value(text: Any) -> str:
            return shown_value(self.redactor.text(str(text), sensitive))

        checks = "; ".join(
            f"check {i} ({value(self._who_short(r))}, {value(r.get('Name') or 'unnamed')}, "
            f"now {STATUS.name_of(r.get('VerificationStatus'))})"
            for i, r in before.items()
        )
        extra = "".join(f" with {value(n)} {value(v)}" for n, v in request.parameters.items())
        return f"run {value(command.name)} on {checks or 'no particular check'}{extra}."

    def _who_short(self, record: dict[str, Any]) -> str:
        name = self.redactor.value("CoworkerFullName", record.get("CoworkerFullName"))
        return str(name or f"coworker {record.get('CoworkerId')}")

    def _row(self, before: dict[str, Any], after: dict[str, Any] | None) -> dict[str, Any]:
        """A check a command ran (or would run) on, as results show it, fitted to `CHECK_STATUS_ITEM`."""
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
        return as_declared(row, CHECK_STATUS_ITEM)

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
        leases: list[Lease],
        run: CommandRun,
    ) -> ToolResult:
        if error.kind in (ErrorKind.VALIDATION, ErrorKind.UPSTREAM_ERROR):
            self._commands_at = float("-inf")  # the API may know the commands better than the cache
        sent = not error.unsent and error.operation in (None, "run_command")  # not a token request's failure
        unknown = sent and (
            error.kind == ErrorKind.UPSTREAM_UNAVAILABLE
            or (error.kind == ErrorKind.UPSTREAM_ERROR and (error.status is None or error.excerpt is not None))
        )
        records = tuple(before.values())
        if not unknown:
            audit_command(ctx.caller.label, command.key, request.ids, error.kind.value)
            lead = f"Nexudus did not run '{command.name}'. " if error.kind == ErrorKind.UPSTREAM_ERROR else ""
            return self._api_failure(error, records=records, lead=lead, **base)
        audit_command(ctx.caller.label, command.key, request.ids, "outcome_unknown")
        # No answer at all (out of time, or the connection dropped): it may still run. Keep the checks'
        # locks until it cannot matter (their expiry), so no later update carries back an old status.
        hold = await self.keep_for_unknown_outcome(leases) if error.status is None else None
        held = f" Until it is known, this server holds further writes to these checks for {hold:g} s." if hold else ""
        after = await self._reread(request.ids, ctx)
        run.outcome, run.after = "outcome_unknown", after
        cause = self.redactor.text(error.message, self.redactor.sensitive_values(*records))
        return failure(
            error.kind,
            f"The request to run '{command.name}' was sent but no clear answer came back ({cause}), so "
            "whether it ran is unknown. It was NOT sent again: running a command twice may email the member "
            "twice. Checks shows each check as read again just now; compare VerificationStatus with "
            f"VerificationStatusBefore, and tell the user what you see before trying again.{held}",
            source="nexudus",
            errors=self._redact_problems(error.errors, records),
            retryable=False,
            summary=f"Failed (outcome unknown): '{command.name}' may or may not have run; checks re-read.",
            Status=error.status,
            **base,
            OutcomeUnknown=True,
            Checks=[self._row(before[i], after.get(i)) for i in request.ids],
        )


def _match(commands: list[Command], key: str) -> Command | None:
    exact = next((c for c in commands if c.key == key), None)
    return exact or next((c for c in commands if c.key.lower() == key.lower()), None)
