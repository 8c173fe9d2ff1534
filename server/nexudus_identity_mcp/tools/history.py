"""The journal as people and models see it: one compact view per entry (PascalCase keys, enums by
name, times in UTC), with every value through the same redaction as every tool result: each field's
value by its category, and then the final pass over the whole view with the entry's values
registered, so a document number that sits in a check's Name or a command's parameter is caught too.
Used by the history tool and resource and by the `history` export."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ..record.fields import ENUM_FIELDS
from ..record.redaction import Redactor
from ..record.timefmt import format_utc
from ..state import JournalEntry
from .catalog import UPDATE_TOOL

UNDOABLE_TOOLS = frozenset({UPDATE_TOOL, "undo_coworker_identity_check_update"})  # the undo tool: not declared yet


def shown_value(field_name: str, value: Any) -> Any:
    enum = ENUM_FIELDS.get(field_name)
    return enum.name_of(value) if enum is not None and isinstance(value, int) else value


def entry_view(entry: JournalEntry, redactor: Redactor | None) -> dict[str, Any]:
    """One entry for a reader; `redactor` None: as stored (the admin export's --unredacted)."""
    changes = []
    for change in entry.changes:
        name = str(change.get("Field"))
        shown: dict[str, Any] = {"Field": name}
        for side in ("From", "To"):
            if side in change:
                value = shown_value(name, change[side])
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


def note_entry(redactor: Redactor, entry: JournalEntry) -> None:
    """Register the entry's values (before and after) in the call's redaction scope."""
    for side in ("From", "To"):
        record: dict[str, Any] = {"Id": entry.check_id}
        record.update({str(c.get("Field")): c[side] for c in entry.changes if side in c})
        redactor.note_record(record)
    redactor.note_record({"Id": entry.check_id, **entry.labels})


def redacted_views(redactor: Redactor, entries: list[JournalEntry]) -> list[dict[str, Any]]:
    """The views of `entries` after the final redaction pass (outside a tool call: its own scope)."""
    with redactor.scope():
        for entry in entries:
            note_entry(redactor, entry)
        views: list[dict[str, Any]] = redactor.scrub([entry_view(e, redactor) for e in entries])
    return views


def parse_since(text: str, now: float) -> float:
    """`7d`, `12h`, `30m`, `90s`, or an ISO date/datetime -> seconds since the epoch."""
    from ..record.timefmt import parse_datetime

    raw = text.strip().lower()
    units = {"d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0, "w": 7 * 86400.0}
    if raw[-1:] in units and raw[:-1].replace(".", "", 1).isdigit():
        return now - float(raw[:-1]) * units[raw[-1]]
    moment = parse_datetime(text)
    if moment is None:
        raise ValueError(f"{text!r} is not a time: use 7d, 12h, 30m, or a date such as 2026-12-01")
    return moment.timestamp()
