"""The journal as people and models see it: one compact view per entry (PascalCase keys, enums by
name, times in UTC), with every value through the same redaction as every tool result: each field's
value by its category, and then the final pass over the whole view with the entry's values
registered, so a document number that sits in a check's Name or a command's parameter is caught too.
Used by the history tool and resource and by the `history` export."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ..record.fields import as_shown
from ..record.redaction import RedactionScope, Redactor
from ..record.timefmt import format_utc
from ..state import Journal, JournalEntry, StateUnavailable
from .results import ToolResult

log = logging.getLogger(__name__)


def entry_view(entry: JournalEntry, redactor: Redactor | None) -> dict[str, Any]:
    """One entry for a reader; `redactor` None: as stored (the admin export's --unredacted)."""
    changes = []
    for change in entry.changes:
        name = str(change.get("Field"))
        shown: dict[str, Any] = {"Field": name}
        for side in ("From", "To"):
            if side in change:
                value = as_shown(name, change[side])
                shown[side] = redactor.value(name, value) if redactor is not None else value
        changes.append(shown)
    view: dict[str, Any] = {
        "EntryId": entry.seq,
        "At": format_utc(datetime.fromtimestamp(entry.at, UTC)),
        "Who": entry.who,
        "Tool": entry.tool,
        "CheckId": entry.check_id,
        "CoworkerId": entry.coworker_id,
        "Outcome": entry.outcome,
        "ReadBack": entry.read_back,
        "Changes": changes,
    }
    for label in ("Name", "CoworkerFullName"):
        if entry.labels.get(label) is not None:
            value = entry.labels[label]
            view["CheckName" if label == "Name" else label] = redactor.value(label, value) if redactor else value
    if entry.command:
        view["Command"] = entry.command
        if entry.labels.get("CommandName"):
            view["CommandName"] = entry.labels["CommandName"]
        parameters = entry.labels.get("Parameters")
        if isinstance(parameters, dict) and parameters:
            # Free text (rejection notes) may quote anything: redacted views name the parameters only.
            view["Parameters"] = parameters if redactor is None else sorted(parameters)
    if entry.undo_of is not None:
        view["UndoOf"] = entry.undo_of
    if not entry.values_kept:
        view["ValuesKept"] = False
    return view


def note_entry(redactor: Redactor, entry: JournalEntry, scope: RedactionScope | None = None) -> None:
    """Register the entry's values (before and after) in the call's redaction scope."""
    for side in ("From", "To"):
        values: dict[str, Any] = {"Id": entry.check_id}
        values.update({str(c.get("Field")): c[side] for c in entry.changes if side in c})
        redactor.note_record(values, scope)
    redactor.note_record({"Id": entry.check_id, **entry.labels}, scope)


def redacted_views(redactor: Redactor, entries: list[JournalEntry]) -> list[dict[str, Any]]:
    """The views of `entries` after the final redaction pass (outside a tool call: its own scope)."""
    with redactor.scope() as scope:
        for entry in entries:
            note_entry(redactor, entry, scope)
        views: list[dict[str, Any]] = redactor.scrub([entry_view(e, redactor) for e in entries], scope)
    return views


# ---------------------------------------------------------------------- the write path's hook
@dataclass
class Attempt:
    """One write as the write path learns about it: the update or undo path (or a command run, one per
    check) fills it in, setting `outcome` where the outcome becomes known; `record` then journals it,
    once, from one place. `outcome` None: nothing was attempted that the journal keeps (invalid
    arguments, a dry run, no change, an API refusal before anything was written)."""

    tool: str
    check_id: int = 0
    coworker_id: int | None = None
    changes: list[dict[str, Any]] = field(default_factory=list)  # {"Field", "From", "To"}, API values
    labels: dict[str, Any] = field(default_factory=dict)
    outcome: str | None = None
    read_back: str = "not_read"
    command: str | None = None
    undo_of: int | None = None

    def about(self, record: dict[str, Any]) -> None:
        """Who the check belongs to and what it is called, from the record read before the write."""
        self.check_id = int(record.get("Id") or self.check_id)
        member = record.get("CoworkerId")
        self.coworker_id = member if isinstance(member, int) and not isinstance(member, bool) else None
        for label in ("Name", "CoworkerFullName"):
            if record.get(label) is not None:
                self.labels[label] = record[label]


async def record(journal: Journal, attempt: Attempt, who: str) -> JournalEntry | None:
    """Journal the attempt if it has an outcome. A store that cannot be reached loses the entry, never
    the answer: the write has happened (or not) whatever the journal says; the failure is logged."""
    if attempt.outcome is None or not journal.enabled:
        return None
    entry = JournalEntry(
        who=who,
        tool=attempt.tool,
        check_id=attempt.check_id,
        outcome=attempt.outcome,
        read_back=attempt.read_back,
        changes=attempt.changes,
        coworker_id=attempt.coworker_id,
        labels=attempt.labels,
        command=attempt.command,
        undo_of=attempt.undo_of,
    )
    try:
        return await journal.append(entry)
    except StateUnavailable:
        log.warning(
            "journal: the %s store could not be reached; check %s's entry is lost",
            journal.store.backend,
            attempt.check_id,
        )
        return None


def journaled(result: ToolResult, entry: JournalEntry | None) -> ToolResult:
    """The result with the entry's Id (EntryId), so the caller can list or undo it."""
    return result if entry is None else result.adding(EntryId=entry.seq)
