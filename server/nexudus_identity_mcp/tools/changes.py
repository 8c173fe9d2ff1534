"""The journal's tools: list the changes this server made (by check, member, time or who; newest first,
a page at a time, compact), and undo one journaled update.

An undo is a write like any other: it goes through the update's own write path (`UpdateTool.write`:
the check's lock, the confirmation policy, dry run, the PUT of the full record, the read-back, and a
journal entry of its own, so an undo can be undone). What it writes is decided under the lock from
the record as read then (`_undo_plan`): each field the entry changed is restored to its value before
the change only where the record still holds the value the change wrote. A field changed since (by
anyone) is left alone and named, and then nothing at all is written unless the caller says
RevertRest. A command is journaled too, but the API has no inverse of a command: the history says so
and names the command on the account's list that would move the status back, when there is one.
"""

from __future__ import annotations

from typing import Any

from ..nexudus import ErrorKind
from ..record.fields import BY_NAME, REQUIRED, as_shown
from ..record.validation import Problem, UpdateRequest, problem
from ..state import JournalEntry, Query, StateUnavailable
from .catalog import LIST_CHANGES_TOOL, RUN_COMMAND_TOOL, UNDO_TOOL, UPDATE_TOOL
from .commands import STATUS, CommandTools
from .context import CallContext
from .history import Attempt, entry_view, note_entry
from .requests import ChangesRequest, UndoRequest
from .results import ToolResult, failure
from .schemas import ENTRY_ITEM
from .shape import as_declared
from .update import REASSIGNING_FIELDS, UpdateTool, _same

UNDOABLE = (UPDATE_TOOL, UNDO_TOOL)


class ChangeTools(UpdateTool, CommandTools):
    async def list_changes(self, request: ChangesRequest, ctx: CallContext) -> ToolResult:
        query = Query(request.check_id, request.coworker_id, request.who, request.since, request.before)
        try:
            entries, cursor = await self.journal.page(query, request.page_size)
        except StateUnavailable:
            return self._store_down("read")
        views = [await self._view(entry, ctx) for entry in entries]
        more = f" More: call again with Before: {cursor}." if cursor is not None else ""
        kept = "" if self.journal.keeps_values else self._values_not_kept()
        body: dict[str, Any] = {
            "WasSuccessful": True,
            "Message": f"{len(views)} change(s), newest first.{more}{kept}",
            "Entries": views,
            "HasMore": cursor is not None,
        }
        if cursor is not None:
            body["NextBefore"] = cursor
        listed = "; ".join(
            f"#{v['EntryId']} {v['At']} {v['Who']} check {v['CheckId']} "
            f"{v.get('Command') or ', '.join(c['Field'] for c in v['Changes'])} ({v['Outcome']})"
            for v in views[:5]
        )
        return ToolResult(body, False, f"{len(views)} change(s), newest first{': ' + listed if listed else ''}.")

    async def _view(self, entry: JournalEntry, ctx: CallContext) -> dict[str, Any]:
        """An entry as the model sees it: the compact view, values as tokens, and whether it can be undone;
        fitted to `ENTRY_ITEM` (its values came from Nexudus's records when the write was made)."""
        note_entry(self.redactor, entry, ctx.redaction)
        view = entry_view(entry, self.redactor)
        if entry.tool in UNDOABLE:
            view["Undo"] = f"{UNDO_TOOL} with EntryId {entry.seq}" if entry.outcome != "declined" else "nothing written"
        elif entry.command is not None:
            view["Undo"] = await self._no_inverse(entry, ctx)
        return as_declared(view, ENTRY_ITEM)

    async def _no_inverse(self, entry: JournalEntry, ctx: CallContext) -> str:
        before = next((c.get("From") for c in entry.changes if c.get("Field") == STATUS.name), None)
        text = "not possible: the API has no inverse of a command"
        back = await self.command_to(before, ctx) if entry.outcome != "declined" else None
        if back is not None:
            text += (
                f"; to move VerificationStatus back to {as_shown(STATUS.name, before)}, run '{back.name}' "
                f"(Key {back.key}) with {RUN_COMMAND_TOOL}, if the user wants that"
            )
        return text

    # ------------------------------------------------------------------ undo
    async def undo(self, request: UndoRequest, ctx: CallContext) -> ToolResult:
        try:
            entry = await self.journal.get(request.entry_id)
        except StateUnavailable:
            return self._store_down("undo")
        refusal = await self._undoable(entry, request.entry_id, ctx)
        if refusal is not None or entry is None:
            return refusal or failure(ErrorKind.NOT_FOUND, "No such entry.", source="local")
        note_entry(self.redactor, entry, ctx.redaction)
        left_alone: list[str] = []
        attempt = Attempt(UNDO_TOOL, undo_of=entry.seq)
        update = UpdateRequest(check_id=entry.check_id, values={}, dry_run=request.dry_run)

        def plan(req: UpdateRequest, current: dict[str, Any]) -> ToolResult | None:
            return self._undo_plan(entry, request, req, current, left_alone)

        result = await self.write(update, ctx, attempt, plan)
        return self._said_as_undo(result, entry, left_alone)

    async def _undoable(self, entry: JournalEntry | None, entry_id: int, ctx: CallContext) -> ToolResult | None:
        if entry is None:
            return failure(
                ErrorKind.NOT_FOUND,
                f"No journal entry {entry_id}: it never existed, or it is older than the journal keeps "
                f"(NEXUDUS_MCP_JOURNAL_DAYS) or past its size bound. Nothing was written; list the changes with "
                f"{LIST_CHANGES_TOOL} for their EntryId.",
                source="local",
                errors=[problem("EntryId", "is not an entry the journal holds", entry_id)],
            )
        if entry.command is not None:
            how = await self._no_inverse(entry, ctx)
            return failure(
                ErrorKind.VALIDATION,
                f"Entry {entry.seq} ran the command {entry.command} on check {entry.check_id}; undo is {how}. "
                "Nothing was written.",
                source="local",
                errors=[problem("EntryId", "is a command run, which cannot be undone", entry.seq)],
            )
        if entry.outcome == "declined":
            return failure(
                ErrorKind.VALIDATION,
                f"Entry {entry.seq} was declined by the user: nothing was written then, so there is nothing to undo.",
                source="local",
                errors=[problem("EntryId", "is a declined change (nothing was written)", entry.seq)],
            )
        if not entry.values_kept:
            return failure(
                ErrorKind.NOT_CONFIGURED,
                f"Entry {entry.seq} names the fields it changed but not their values: the journal keeps values "
                "only under the server's key (set NEXUDUS_MCP_SECRET, the same on every host). Nothing was written.",
                source="local",
            )
        return None

    def _undo_plan(
        self,
        entry: JournalEntry,
        undo: UndoRequest,
        request: UpdateRequest,
        current: dict[str, Any],
        left_alone: list[str],
    ) -> ToolResult | None:
        """Under the check's lock, with the record as read now: restore each field that still holds what
        the entry wrote; name each that does not (changed since); write nothing if any changed, unless
        RevertRest. The request is filled in place (values to restore, fields to blank)."""
        changed_since: list[Problem] = []
        request.values, request.clear = {}, []  # decided afresh from each read (it runs again after a question)
        left_alone.clear()
        for change in entry.changes:
            name = str(change.get("Field"))
            spec = BY_NAME.get(name)
            if spec is None or not spec.sent:
                continue
            if _same(spec.type, current.get(name), change.get("To")):
                before = change.get("From")
                if before in (None, "") and name not in REQUIRED:
                    request.clear.append(name)
                else:
                    request.values[name] = before
            elif not _same(spec.type, current.get(name), change.get("From")):
                left_alone.append(name)
                changed_since.append(
                    problem(
                        name,
                        f"was changed since entry {entry.seq} (it now holds "
                        f"{self.redactor.value(name, as_shown(name, current.get(name)))!r}, not "
                        f"{self.redactor.value(name, as_shown(name, change.get('To')))!r}): left alone",
                        self.redactor.value(name, as_shown(name, current.get(name))),
                    )
                )
        request.reassign = any(name in request.values for name in REASSIGNING_FIELDS)
        if changed_since and not undo.revert_rest:
            rest = [n for n in request.values if n not in left_alone] + request.clear
            more = (
                f" Call again with RevertRest: true to restore only {', '.join(rest)}."
                if rest
                else " No other field of the entry can be restored."
            )
            return failure(
                ErrorKind.CONFLICT,
                f"Check {entry.check_id} changed since entry {entry.seq}: {', '.join(left_alone)} no longer "
                f"hold what that change wrote, and are left alone. Nothing was written. Tell the user.{more}",
                source="local",
                errors=changed_since,
                summary=f"Failed (conflict): {len(left_alone)} field(s) of check {entry.check_id} changed since "
                f"entry {entry.seq}; nothing was written.",
            )
        return None

    @staticmethod
    def _said_as_undo(result: ToolResult, entry: JournalEntry, left_alone: list[str]) -> ToolResult:
        """The write path's answer, said as an undo of `entry`."""
        said = result.adding(UndoOf=entry.seq)
        if result.is_error:
            return said
        kept = f" Left alone (changed since): {', '.join(left_alone)}." if left_alone else ""
        return said.framed(lead=f"Undo of entry {entry.seq}: ", tail=kept).adding(LeftAlone=left_alone or None)

    def _store_down(self, what: str) -> ToolResult:
        return failure(
            ErrorKind.UPSTREAM_UNAVAILABLE,
            f"The shared state store ({self.state.backend}) that holds the journal cannot be reached; nothing was "
            f"{'written' if what == 'undo' else 'read'}. Retry when it is back.",
            source="local",
            retryable=True,
        )

    @staticmethod
    def _values_not_kept() -> str:
        return (
            " The journal names fields but keeps no values: set NEXUDUS_MCP_SECRET (the same on every host) "
            "to keep them, encrypted."
        )
