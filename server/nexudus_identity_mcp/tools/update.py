"""The MCP tools' behaviour: read a check, and update one without ever losing data.

The API's PUT replaces the whole record. So an update here is always: validate the arguments
(nothing invalid leaves this process), read the current record, lay the given fields over it, keep
every field the call left out (blank only those in ClearFields), and PUT the full record; a call
that changes nothing writes nothing, and a dry run stops before the PUT and shows the exact body.
After the PUT the record is read back: a field that no longer holds what was sent (another writer at
the same moment) makes the answer `conflict`, never "updated". One deadline (NEXUDUS_MAX_CALL_SECONDS)
covers the whole call: the lock wait, the read, the write and the read-back.

The check's lock is the one commands take too (`commands.py`), so a command never runs between an
update's read and its PUT. When the user must confirm (a reassignment, or NEXUDUS_MCP_CONFIRM_UPDATES),
the lock is released while the person answers, and the deadline starts again after the answer: the
lock is taken again, the record read again, and the write goes ahead only if the record and the
changes are exactly those shown. A PUT whose outcome is unknown (sent, no answer in time) may still
land: the lock is then kept until it expires (`hold`), so no later write of this server is undone,
or until the next writer's read shows it landed (`ToolBase.check_lock`).

Every outcome is a `ToolResult`: a PascalCase body (`WasSuccessful`, `Message`, `Changes`, or
`ErrorKind`, `Errors`, `Retryable`, `Source`, …) that `app.py` sends as structuredContent and as text.
Identity-document numbers pass through `Redactor` on every path out: records, changes, dry-run
bodies and the API's errors.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from ..nexudus import ErrorKind, NexudusError
from ..record.fields import (
    BY_NAME,
    ENUM_FIELDS,
    PUT_FIELDS,
    SENT_FIELDS,
    as_shown,
    dates_as_days,
    in_record_form,
    is_plain_scalar,
    put_body,
    shown,
    unknown_names,
)
from ..record.timefmt import calendar_date, parse_datetime
from ..record.validation import (
    ArgumentErrors,
    ChangeWarning,
    Problem,
    UpdateRequest,
    cap,
    change_warnings,
    check_against_record,
    problem,
)
from ..state import Lease, LockNotGranted, StateUnavailable
from ..telemetry.metrics import METRICS
from .base import LOCK_MARGIN_SECONDS, WriteOutcomePending
from .base import seconds_left as _left
from .catalog import GET_TOOL, UPDATE, UPDATE_TOOL
from .confirm import confirm, shown_value, will_ask
from .context import CallContext
from .elicitation import binding_of
from .history import Attempt, journaled, record
from .reassign import ReassignNames, change_text, moves_text
from .results import ToolResult, addressed_to_assistant, audit, failure, one_line
from .shape import as_declared, given_back_cut

# What a field read back with another value than sent may mean: nothing public says which one Nexudus does.
READ_BACK_CAUSES = (
    "another writer changed it at the same moment, or Nexudus normalised or ignored the value sent (trimmed "
    "text, another date form, a field it does not store)"
)
# Changing these moves the check to another member or location: asked through the client first.
REASSIGNING_FIELDS = ("BusinessId", "CoworkerId")
# An undo's plan: given the request and the record read under the lock, set the request's values
# (the fields to restore), or answer instead (nothing is written).
WritePlan = Callable[[UpdateRequest, dict[str, Any]], ToolResult | None]


@dataclass(frozen=True)
class _Ask:
    """The write needs the user's yes first: asked with the lock released."""

    question: str
    binding: str
    updated_on: Any
    changes: list[dict[str, Any]]


class UpdateTool(ReassignNames):
    """One read-merge-write at a time per check, across every process sharing the state store
    (in-process by default), so concurrent calls never lose each other's fields and ExpectedUpdatedOn
    is checked against what the write will replace. (The API has no conditional PUT: an edit made in
    Nexudus's own admin panel at the same moment is not covered by any lock here.)"""

    async def invalid_update(self, invalid: ArgumentErrors, ctx: CallContext) -> list[Problem]:
        """The problems of an update's arguments, as the model is shown them."""
        return self._redact_problems(await self._with_current_values(invalid, ctx), None)

    async def update(self, request: UpdateRequest, ctx: CallContext) -> ToolResult:
        return await self.write(request, ctx, Attempt(UPDATE_TOOL))

    async def write(
        self, request: UpdateRequest, ctx: CallContext, attempt: Attempt, plan: WritePlan | None = None
    ) -> ToolResult:
        """The write path every change of a record takes (an update, an undo): the check's lock, the
        read-merge-write, and then the one journal entry of what happened (`attempt`, filled in on the
        way). `plan` (an undo) decides the values from the record read under the lock."""
        budget = self.client.settings.max_call_seconds
        # One deadline for the whole call: the lock wait, the read, the write and the read-back.
        deadline = time.monotonic() + budget
        approved: _Ask | None = None
        try:
            while True:
                async with self.check_lock(
                    request.check_id,
                    ttl=budget + LOCK_MARGIN_SECONDS,
                    deadline=deadline,
                    read=partial(self.client.get_check, request.check_id, deadline=deadline, caller=ctx.caller),
                ) as lease:
                    outcome = await self._read_merge_write(request, lease, deadline, ctx, approved, attempt, plan)
                if not isinstance(outcome, _Ask):
                    result = outcome
                    break
                # Asked with the lock released; the person's wait spends none of the upstream deadline.
                refusal, how = await confirm(
                    ctx.confirmer, outcome.question, mode="auto", what="update", binding=outcome.binding
                )
                if refusal is not None:
                    if how != "pending":
                        attempt.outcome = "declined"
                        audit(ctx.caller.label, request.check_id, [c["Field"] for c in outcome.changes], how)
                    result = refusal
                    break
                approved = outcome
                deadline = time.monotonic() + budget
            # The one journal entry of this write, its outcome known.
            return journaled(result, await record(self.journal, attempt, ctx.caller.label))
        except WriteOutcomePending as pending:
            audit(ctx.caller.label, request.check_id, sorted(request.values), "busy_outcome_unknown")
            return failure(
                ErrorKind.BUSY,
                f"An earlier write to check {request.check_id} was sent but its outcome is not known yet (Nexudus "
                "may still apply it), so this server holds further writes to the check until it cannot land "
                f"(about {pending.retry_after:.0f} s). Nothing was written. Read the check with {GET_TOOL} to see "
                "whether the earlier change landed, and call again after RetryAfterSeconds if still needed.",
                source="local",
                retryable=True,
                RetryAfterSeconds=round(pending.retry_after, 1),
            )
        except LockNotGranted:
            audit(ctx.caller.label, request.check_id, sorted(request.values), "busy")
            return failure(
                ErrorKind.BUSY,
                f"Check {request.check_id} is being updated by another call, which did not finish within this "
                f"call's time limit ({budget:g} s). Nothing was written; call again shortly.",
                source="local",
                retryable=True,
                RetryAfterSeconds=1.0,
            )
        except StateUnavailable:
            audit(ctx.caller.label, request.check_id, sorted(request.values), "state_unavailable")
            return failure(
                ErrorKind.UPSTREAM_UNAVAILABLE,
                f"The shared state store ({self.state.backend}) cannot be reached, so this server refuses writes "
                "(without it, workers could overwrite each other's changes). Nothing was written; reads still "
                "work. Retry when the store is back.",
                source="local",
                retryable=True,
            )

    async def _with_current_values(self, invalid: ArgumentErrors, ctx: CallContext) -> list[Problem]:
        """Each missing required field gets the record's current value as its Hint, when the call named
        a check that can be read (so one retry fixes it); otherwise the errors as they are."""
        if invalid.check_id is None or not invalid.missing:
            return invalid.errors
        try:
            shown = self.present(await self.client.get_check(invalid.check_id, caller=ctx.caller), ctx)
        except NexudusError:
            return invalid.errors
        return invalid.with_current_values(shown)

    async def _read_merge_write(
        self,
        request: UpdateRequest,
        lease: Lease,
        deadline: float,
        ctx: CallContext,
        approved: _Ask | None,
        attempt: Attempt,
        plan: WritePlan | None,
    ) -> ToolResult | _Ask:
        try:
            current = await self.client.get_check(request.check_id, deadline=deadline, caller=ctx.caller)
        except NexudusError as error:
            if _left(deadline) <= 0:
                return self._out_of_time(request, [], ctx, put_sent=False)
            return self._api_failure(error, check_id=request.check_id)
        self.redactor.note_record(current, ctx.redaction)
        if plan is not None:
            refusal = plan(request, current)
            if refusal is not None:
                return refusal

        record_errors = check_against_record(request, current)
        values = dict(request.values)
        in_record_form(values, current)  # a date as the record writes its dates: midnight, its Z or none
        token_errors = self._resolve_tokens(values, current) + self._resolve_cuts(values, current) + record_errors
        if token_errors:
            return UPDATE.refuse(self._redact_problems(token_errors, (current,)))

        if request.expected_updated_on is not None:
            now = parse_datetime(str(current.get("UpdatedOn") or ""))
            if now != request.expected_updated_on:
                audit(ctx.caller.label, request.check_id, sorted(request.values), "conflict")
                return failure(
                    ErrorKind.CONFLICT,
                    f"Check {request.check_id} changed since it was read (UpdatedOn is now "
                    f"{current.get('UpdatedOn')}). Nothing was written. Read it again, re-apply the "
                    "user's change to the new values, and call again with the new UpdatedOn.",
                    source="local",
                    summary=f"Failed (conflict): check {request.check_id} changed since it was read; "
                    "nothing was written. Read it again.",
                    **_updated_on_now(current),
                )

        # Every field the GET returned, known or not, minus the read-only and joined ones: a field
        # this server does not know goes back unchanged, so the full replace cannot clear it.
        body = put_body(current)
        body.update(values)
        self.redactor.note_record(body, ctx.redaction)
        for name in request.clear:
            body[name] = False if BY_NAME[name].type == "boolean" else None
        unsendable = _not_json(body)
        if unsendable:
            # The record as Nexudus sent it holds a number JSON cannot carry (NaN, ±inf): a full replace
            # would have to invent a value for it, so nothing is sent.
            audit(ctx.caller.label, request.check_id, unsendable, "unsendable_record")
            return failure(
                ErrorKind.UPSTREAM_ERROR,
                f"Check {request.check_id} as Nexudus returned it holds a value that cannot be sent back "
                f"({', '.join(unsendable)}: not a number JSON can carry), and an update sends the whole record. "
                "Nothing was sent. Tell the user the record needs fixing in Nexudus itself.",
                source="local",
                errors=[
                    problem(name, "holds a number JSON cannot carry (NaN or infinity)", None) for name in unsendable
                ],
            )
        changes = self._changes(current, body)
        attempt.about(current)
        attempt.changes = changes
        changed_names = [c["Field"] for c in changes]
        shown_changes = [self._show_change(c) for c in changes]
        flagged = addressed_to_assistant([shown(current)])
        warnings = (
            ([ChangeWarning(flagged, flagged)] if flagged else [])
            + self._kept_warnings(request, current)
            + change_warnings(changes)
            + await self.name_members(shown_changes, current, body, deadline, ctx)
        )
        planned = [w.planned for w in warnings]
        warned = {"Warnings": planned} if planned else {}
        moves = moves_text(shown_changes)

        if not changes:
            audit(ctx.caller.label, request.check_id, [], "no_change")
            return ToolResult(
                {
                    "WasSuccessful": True,
                    "Message": f"Nothing to change: check {request.check_id} "
                    "already has every given value. Nothing was written.",
                    "Value": {"Id": request.check_id},
                    "Changes": [],
                    **warned,
                    "DryRun": request.dry_run,
                },
                False,
                f"No change to check {request.check_id}; nothing was written.",
            )
        if request.dry_run:
            audit(ctx.caller.label, request.check_id, changed_names, "dry_run")
            return ToolResult(
                {
                    "WasSuccessful": True,
                    "Message": f"Dry run: {len(changes)} field(s) of check "
                    f"{request.check_id} would change.{moves} Nothing was written; call again without "
                    f"DryRun to apply.{_body_said(body)}",
                    "Value": {"Id": request.check_id},
                    "Changes": shown_changes,
                    **warned,
                    "DryRun": True,
                    "Body": self.redactor.record(dates_as_days(_enum_names(shown(body)))),
                },
                False,
                f"Dry run for check {request.check_id}: would change {', '.join(changed_names)}. Nothing was "
                f"written.{_warned(planned)}",
            )
        if approved is None:
            ask = self._question(request.check_id, current, changes, shown_changes, ctx)
            if ask is not None:
                return ask
        elif current.get("UpdatedOn") != approved.updated_on or changes != approved.changes:
            audit(ctx.caller.label, request.check_id, changed_names, "changed_while_asking")
            return failure(
                ErrorKind.CONFLICT,
                f"Check {request.check_id} changed while the user was answering the confirmation (UpdatedOn is "
                f"now {current.get('UpdatedOn')}), so what they confirmed is no longer what would be written. "
                "Nothing was written. Read it again and ask again.",
                source="local",
                **_updated_on_now(current),
            )
        if not await self.state.still_held(lease):  # fencing: a lease lost to expiry never writes
            audit(ctx.caller.label, request.check_id, changed_names, "lock_lost")
            return failure(
                ErrorKind.BUSY,
                f"The lock on check {request.check_id} expired before the write. Nothing was written; call again.",
                source="local",
                retryable=True,
                RetryAfterSeconds=1.0,
            )
        try:
            envelope = await self.client.update_check(body, deadline=deadline, caller=ctx.caller)
        except NexudusError as error:
            held = ""
            if not error.unsent and error.kind == ErrorKind.UPSTREAM_UNAVAILABLE and error.status is None:
                # Sent, and no answer at all (out of time, or the connection dropped): it may still land.
                # Keep the lock until it cannot matter (its expiry), so no later write is undone when it does.
                sent = {c["Field"]: body.get(c["Field"]) for c in changes}
                hold = await self.keep_for_unknown_outcome([lease], sent, current.get("UpdatedOn"))
                if hold is not None:
                    held = (
                        f" Until it is known, this server holds further writes to check {request.check_id} for "
                        f"{hold:g} s, so a late arrival cannot undo a later change."
                    )
            if _left(deadline) <= 0:
                attempt.outcome = "outcome_unknown" if not error.unsent else None
                return self._out_of_time(request, changed_names, ctx, put_sent=not error.unsent, held=held)
            if not error.unsent and error.kind == ErrorKind.UPSTREAM_UNAVAILABLE:
                attempt.outcome = "outcome_unknown"  # sent, and no answer came back: it may have landed
            audit(ctx.caller.label, request.check_id, changed_names, error.kind.value)
            return self._api_failure(error, check_id=request.check_id, records=(current, body), tail=held)
        return await self._confirm(request, body, envelope, changes, shown_changes, deadline, warnings, ctx, attempt)

    async def _confirm(
        self,
        request: UpdateRequest,
        body: dict[str, Any],
        envelope: dict[str, Any],
        changes: list[dict[str, Any]],
        shown_changes: list[dict[str, Any]],
        deadline: float,
        warnings: list[ChangeWarning],
        ctx: CallContext,
        attempt: Attempt,
    ) -> ToolResult:
        """After the PUT: read the record back (one GET, within the call's deadline) and compare every
        field sent with what Nexudus now holds. The API has no conditional PUT, so a writer elsewhere
        (the admin panel, another integration) can overwrite this change at the same moment; then the
        answer is `conflict` naming the fields, never "updated"."""
        check_id = request.check_id
        changed_names = [c["Field"] for c in changes]
        after: dict[str, Any] | None = None
        unverified = ""
        try:
            after = await self.client.get_check(check_id, deadline=deadline, caller=ctx.caller)
        except NexudusError as error:
            unverified = (
                "out of time" if _left(deadline) <= 0 else f"{error.kind.value}, HTTP {error.status or 'no answer'}"
            )
        if after is not None:
            self.redactor.note_record(after, ctx.redaction)  # another writer's values are redacted too
            written = set(changed_names) | set(request.values) | set(request.clear)
            moved = [
                name
                for name, sent in body.items()
                if name in after and not _same(BY_NAME[name].type if name in BY_NAME else "", sent, after[name])
            ]
            attempt.outcome, attempt.read_back = ("conflict", "changed") if moved else ("written", "verified")
            if moved:
                METRICS.conflict()
                audit(ctx.caller.label, check_id, changed_names, "overwritten")
                ours = [n for n in moved if n in written]
                theirs = [n for n in moved if n not in written]
                parts = []
                if ours:
                    parts.append(f"{', '.join(ours)} (written by this call) no longer hold the values sent")
                if theirs:
                    parts.append(f"{', '.join(theirs)} (kept from the record) changed as well")
                return failure(
                    ErrorKind.CONFLICT,
                    f"Nexudus accepted the write to check {check_id}, but reading it back shows "
                    f"{'; '.join(parts)}. Either {READ_BACK_CAUSES}; Errors names each field with the value sent "
                    "and the value read (`probe --write-check` tells whether this account normalises). Read the "
                    "check again, tell the user what changed, and re-apply their change only if it is still wanted.",
                    source="local",
                    errors=[self._moved(name, body.get(name), after.get(name), name in written) for name in moved],
                    summary=f"Failed (conflict): check {check_id} was written, but {len(moved)} field(s) read back "
                    "differ (another writer, or Nexudus normalised the value); read it again.",
                    Changes=shown_changes,
                    **_updated_on_now(after),
                )
        attempt.outcome = "written"
        audit(ctx.caller.label, check_id, changed_names, "updated")
        changed = ", ".join(changed_names)
        if after is not None:
            read_back = "verified"
            confirmed = (
                " Read back from Nexudus after the write: every field holds the value sent. Changes holds the new "
                "values and UpdatedOn the record's new one: there is no need to read the check again."
            )
            summary = f"Updated check {check_id}: changed {changed}; read back from Nexudus, every value as sent."
        else:
            read_back = "not_read"
            confirmed = (
                f" Reading it back to confirm no one else changed it at the same moment failed ({unverified}): "
                "read it again before relying on it."
            )
            summary = (
                f"Updated check {check_id}: changed {changed}; not read back (read it again before relying on it)."
            )
        # The record's UpdatedOn as read back (what a next ExpectedUpdatedOn must hold); else the PUT's answer.
        updated_on = (after or {}).get("UpdatedOn") or envelope.get("UpdatedOn")
        updated_by = (after or {}).get("UpdatedBy") or envelope.get("UpdatedBy")
        result: dict[str, Any] = {
            "WasSuccessful": True,
            "Message": f"Updated check {check_id}: changed {changed}.{moves_text(shown_changes)}{confirmed}",
            "Value": {"Id": check_id},
            "Changes": shown_changes,
            "DryRun": False,
            "ReadBack": read_back,
        }
        if warnings:
            result["Warnings"] = [w.done for w in warnings]
        # Left out when Nexudus does not say, rather than null where the outputSchema says string.
        result.update(as_declared({"UpdatedOn": updated_on, "UpdatedBy": updated_by}, UPDATE.output))
        if "UpdatedBy" in result:
            result["UpdatedBy"] = self.redactor.value("UpdatedBy", result["UpdatedBy"])
        return ToolResult(result, False, summary + _warned(warnings))

    def _moved(self, name: str, sent: Any, read: Any, ours: bool) -> Problem:
        """A field the read-back found changed: the value sent (AttemptedValue) and the value read, as
        a model may see them (redacted; a text or object of a field this server does not know, never)."""

        def seen(value: Any) -> Any:
            if name not in BY_NAME and not is_plain_scalar(value):
                return "(not shown: a field this server does not know)"
            return self.redactor.value(name, as_shown(name, value))

        what = "was written by this call" if ours else "was kept from the record"
        read_text = "empty" if read in (None, "") else repr(cap(seen(read)))
        return problem(
            name,
            f"{what} as {cap(seen(sent))!r}, but Nexudus now holds {read_text}: {READ_BACK_CAUSES}.",
            cap(seen(sent)),
        )

    def _out_of_time(
        self, request: UpdateRequest, changed_names: list[str], ctx: CallContext, *, put_sent: bool, held: str = ""
    ) -> ToolResult:
        """The call's deadline passed: before the write (nothing was written), or after the PUT was
        sent and before Nexudus confirmed it (the outcome is unknown)."""
        budget = self.client.settings.max_call_seconds
        check_id = request.check_id
        audit(ctx.caller.label, check_id, changed_names, "timeout_unknown" if put_sent else "timeout")
        if put_sent:
            return failure(
                ErrorKind.UPSTREAM_UNAVAILABLE,
                f"The write to check {check_id} was sent, but Nexudus did not confirm it within this call's time "
                f"limit ({budget:g} s): the outcome is unknown. Read the check again with "
                f"{GET_TOOL} to see whether the change was applied, then call again only if it "
                f"was not.{held}",
                source="local",
                retryable=True,
                summary=f"Failed (upstream_unavailable): out of time after the write to check {check_id} was sent; "
                "the outcome is unknown. Read it again.",
            )
        return failure(
            ErrorKind.UPSTREAM_UNAVAILABLE,
            f"Nexudus did not answer the read of check {check_id} within this call's time limit ({budget:g} s). "
            "Nothing was written; call again.",
            source="local",
            retryable=True,
        )

    def _question(
        self,
        check_id: int,
        current: dict[str, Any],
        changes: list[dict[str, Any]],
        shown_changes: list[dict[str, Any]],
        ctx: CallContext,
    ) -> _Ask | None:
        """What to ask the user (through the client, when it can) before a reassignment, or before any
        update with NEXUDUS_MCP_CONFIRM_UPDATES=true; None to write without asking.
        NEXUDUS_MCP_CONFIRM=never turns it off; `always` is for commands: an update from a client that
        cannot ask goes ahead as before."""
        settings = self.client.settings
        reassigns = [c["Field"] for c in shown_changes if c["Field"] in REASSIGNING_FIELDS]
        if settings.mcp_confirm == "never" or not (reassigns or settings.mcp_confirm_updates):
            return None
        if not will_ask(ctx.confirmer, "auto"):
            return None
        listed = "; ".join(change_text(c) for c in shown_changes)
        moves = " This moves the check to another member or location." if reassigns else ""
        name = self.redactor.value("Name", current.get("Name")) or "unnamed"
        question = f"Update check {check_id} ({self._who(current)}, {shown_value(name)}): {listed}?{moves}"
        updated_on = current.get("UpdatedOn")
        binding = binding_of("update", ctx.caller.label, check_id, changes, updated_on)
        return _Ask(question, binding, updated_on, changes)

    def _who(self, record: dict[str, Any]) -> str:
        """The member and location of a check, quoted, for a question put to the user (not to the model)."""
        member = self.redactor.value("CoworkerFullName", record.get("CoworkerFullName"))
        place = self.redactor.value("BusinessName", record.get("BusinessName"))
        member = member or f"coworker {record.get('CoworkerId')}"
        place = place or f"business {record.get('BusinessId')}"
        return f"{shown_value(member)} at {shown_value(place)}"

    def _kept_warnings(self, request: UpdateRequest, current: dict[str, Any]) -> list[ChangeWarning]:
        """A required field sent as null kept the record's value (said, with the value when it is an enum
        name or an Id, never record text)."""
        out = []
        for name in request.kept:
            value = current.get(name)
            enum = BY_NAME[name].enum
            shown = enum.name_of(value) if enum is not None and isinstance(value, int) else None
            if BY_NAME[name].type == "integer" and enum is None and isinstance(value, int):
                shown = str(value)
            held = f" ({shown})" if shown else ""
            out.append(
                ChangeWarning(
                    f"{name} was sent as null: it keeps the record's current value{held}",
                    f"{name} was sent as null: the record's current value{held} was kept",
                )
            )
        return out

    def _resolve_tokens(self, values: dict[str, Any], current: dict[str, Any]) -> list[Problem]:
        """A token-like value for a redacted field is the current value's token ("unchanged") or an
        error; never data (see `Redactor.resolve_given`)."""
        errors = []
        for name in list(values):
            value, why = self.redactor.resolve_given(name, values[name], current.get(name))
            if why is None:
                values[name] = value
            else:
                errors.append(problem(name, why, values[name]))
        return errors

    def _resolve_cuts(self, values: dict[str, Any], current: dict[str, Any]) -> list[Problem]:
        """A value shown cut short (`…[cut: N characters in all]`) and given back means "unchanged"
        when it is the current value's cut form; any other is refused: a shortened copy is never written."""
        errors = []
        for name, given in list(values.items()):
            if not isinstance(given, str):
                continue
            verdict = given_back_cut(given, current.get(name))
            if verdict:
                values[name] = current.get(name)
            elif verdict is False:
                errors.append(
                    problem(
                        name,
                        "ends with the marker of a value shown cut short (…[cut: N characters in all]) but is not "
                        "the current value's shortened form. Leave the field out to keep the current value, or give "
                        "the whole new value.",
                        given,
                    )
                )
        return errors

    def _changes(self, current: dict[str, Any], body: dict[str, Any]) -> list[dict[str, Any]]:
        return [
            {"Field": f.name, "From": current.get(f.name), "To": body.get(f.name)}
            for f in PUT_FIELDS
            if not _same(f.type, current.get(f.name), body.get(f.name))
        ]


def _updated_on_now(record: dict[str, Any]) -> dict[str, Any]:
    """A conflict's CurrentUpdatedOn: the record's UpdatedOn as the outputSchema declares it (left out
    when Nexudus sends none, or one that cannot be text)."""
    return as_declared({"CurrentUpdatedOn": record.get("UpdatedOn")}, UPDATE.output)


def _not_json(body: dict[str, Any]) -> list[str]:
    """The fields of a PUT body that JSON cannot carry (a NaN or infinite number, at any depth)."""

    def finite(value: Any) -> bool:
        if isinstance(value, float):
            return math.isfinite(value)
        if isinstance(value, dict):
            return all(finite(v) for v in value.values())
        if isinstance(value, list):
            return all(finite(v) for v in value)
        return True

    return sorted(name for name, value in body.items() if not finite(value))


def _enum_names(record: dict[str, Any]) -> dict[str, Any]:
    """A body with its enum codes as names, as every other result shows them."""
    return {k: ENUM_FIELDS[k].name_of(v) if k in ENUM_FIELDS and isinstance(v, int) else v for k, v in record.items()}


def _body_said(body: dict[str, Any]) -> str:
    """What a dry run's Body is, exactly: which fields go back unchanged from the record (by name), which
    are sent but not shown, and how enums and a document number appear in it."""
    carried = [f.name for f in SENT_FIELDS if f.role == "carried" and f.name in body]
    hidden = [one_line(k, 40) for k in unknown_names(body) if k not in shown(body)]
    said = (
        " Body is the whole record as it would be sent (a full replace): enums shown as names, sent as codes; "
        "a «ID_DOC:…» token stands for the document number, which is sent as stored (or as given, when "
        f"it changes). Carried back unchanged from the record: {', '.join(carried) or 'none'}."
    )
    if hidden:
        more = f" and {len(hidden) - 10} more" if len(hidden) > 10 else ""
        said += f" Also sent unchanged, not shown (fields this server does not know): {', '.join(hidden[:10])}{more}."
    return said


def _warned(warnings: list[Any]) -> str:
    """The summary's pointer to Warnings (said there once, not repeated here)."""
    return f" {len(warnings)} warning(s) in Warnings." if warnings else ""


def _same(type_: str, old: Any, new: Any) -> bool:
    if type_ == "boolean":
        return bool(old) == bool(new)
    if old in (None, "") and new in (None, ""):
        return True
    if type_ == "date" and isinstance(old, str) and isinstance(new, str):
        return calendar_date(old) == calendar_date(new)  # the day counts, whatever form Nexudus writes it in
    if type_ == "datetime" and isinstance(old, str) and isinstance(new, str):
        return parse_datetime(old) == parse_datetime(new)
    return bool(old == new)
