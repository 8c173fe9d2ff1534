"""`nexudus-identity-mcp history`: the journal of writes exported for an administrator, as JSON lines
or CSV, newest first, redacted as tool results are unless `--unredacted` is given. It reads the
configured state store (NEXUDUS_MCP_STATE_DIR or NEXUDUS_MCP_REDIS_URL), and the retention purge
runs first, so what is older than NEXUDUS_MCP_JOURNAL_DAYS is gone from the store, not only hidden."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from ..record.redaction import Redactor, parse_categories
from ..settings import Settings
from ..state import JournalEntry, Query, open_journal, open_store
from ..tools.history import entry_view, redacted_views

PAGE = 500
CSV_COLUMNS = (
    "EntryId",
    "At",
    "Who",
    "Tool",
    "CheckId",
    "CoworkerId",
    "CheckName",
    "CoworkerFullName",
    "Command",
    "Outcome",
    "ReadBack",
    "UndoOf",
    "Field",
    "From",
    "To",
)


async def export(settings: Settings, query: Query, fmt: str, unredacted: bool) -> Iterator[str]:
    """The lines of the export (each ends with a newline)."""
    store = open_store(settings)
    try:
        journal = open_journal(store, settings)
        await journal.purge()
        entries: list[JournalEntry] = []
        cursor: int | None = None
        while True:
            page, cursor = await journal.page(replace(query, before=cursor), PAGE)
            entries += page
            if cursor is None:
                break
    finally:
        await store.aclose()
    if unredacted:
        views = [entry_view(e, None) for e in entries]
    else:
        secret = settings.mcp_secret.get_secret_value() if settings.mcp_secret else None
        views = redacted_views(Redactor(parse_categories(settings.mcp_redact), secret), entries)
    return iter(_jsonl(views) if fmt == "jsonl" else _csv(views))


def _jsonl(views: list[dict[str, Any]]) -> list[str]:
    return [json.dumps(v, ensure_ascii=False) + "\n" for v in views]


def _csv(views: list[dict[str, Any]]) -> list[str]:
    """One row per changed field (an entry with no field values: one row)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, CSV_COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for view in views:
        for change in view["Changes"] or [{}]:
            writer.writerow({**view, **{k: _cell(v) for k, v in change.items()}})
    return [out.getvalue()]


def _cell(value: Any) -> Any:
    return json.dumps(value, ensure_ascii=False) if isinstance(value, (dict, list)) else value
