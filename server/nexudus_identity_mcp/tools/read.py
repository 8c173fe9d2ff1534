"""The read tools: get one check by Id, and find checks by filters a page at a time."""

from __future__ import annotations

import re
from typing import Any

from ..nexudus import ErrorKind, NexudusError
from ..record.fields import EXPIRY, WINDOW
from ..record.validation import FindRequest, problem
from .base import ToolBase
from .context import CallContext
from .results import ToolResult, addressed_to_assistant, failure, quoted
from .schemas import FIND_ROW_FIELDS, FIND_ROW_ITEM
from .search import VerifiedPage, find_with_notes
from .shape import as_declared


class ReadTools(ToolBase):
    async def get(self, check_id: int, ctx: CallContext) -> ToolResult:
        try:
            record = await self.client.get_check(check_id, caller=ctx.caller)
        except NexudusError as error:
            return self._api_failure(error, check_id=check_id)
        shown = self.present(record, ctx)
        flagged = addressed_to_assistant([shown])
        return ToolResult(
            {
                "WasSuccessful": True,
                "Message": f"Coworker identity check {check_id}.",
                "Record": shown,
                **({"Warnings": [flagged]} if flagged else {}),
            },
            False,
            f"Read check {check_id}: {quoted(record.get('Name') or '')}{_ids(record)}. The record is in the JSON.",
        )

    def token_refusal(self, filters: dict[str, Any], instead: str) -> ToolResult | None:
        """A filter given a redaction token is refused: the API knows names, not tokens."""
        tokens = [k for k, v in filters.items() if self.redactor.is_token(v)]
        if not tokens:
            return None
        return failure(
            ErrorKind.VALIDATION,
            "A redaction token cannot be searched for; nothing was searched.",
            source="local",
            errors=[
                problem(
                    k,
                    f"is a redaction token, not text the API knows: give the name as the user wrote it, or {instead}",
                    filters[k],
                )
                for k in tokens
            ],
        )

    async def find(self, request: FindRequest, ctx: CallContext) -> ToolResult:
        filters = {k: v for k, v in request.filters.items() if v != ""}
        refusal = self.token_refusal(filters, "filter by the CoworkerId shown in the row")
        if refusal is not None:
            return refusal
        # With an expiry window the rows come soonest first (asked of the API, verified, sorted here if not).
        window = any(f.argument in filters for f in WINDOW)
        try:
            found, notes = await find_with_notes(
                self.client,
                filters,
                memory=self.search_memory,
                page=request.page,
                size=request.page_size,
                order=EXPIRY if window else None,
                caller=ctx.caller,
            )
        except NexudusError as error:
            return self._api_failure(error)
        rows = [
            as_declared({k: shown.get(k) for k in FIND_ROW_FIELDS}, FIND_ROW_ITEM)
            for shown in (self.present(r, ctx) for r in found.rows)
        ]
        if window:
            notes += " Sorted by IdentityDocumentExpirationDate, soonest first."
        if not rows and looks_like_person(filters.get("Name")):
            notes += " Name matches the check's name; to search by member use CoworkerFullName."
        flagged = addressed_to_assistant(rows)
        return page_result(
            found, rows, key="Checks", noun="check(s)", notes=notes, warnings=[flagged] if flagged else []
        )


def page_result(
    found: VerifiedPage,
    rows: list[dict[str, Any]],
    *,
    key: str,
    noun: str,
    notes: str,
    message_extra: str = "",
    warnings: list[str] | None = None,
) -> ToolResult:
    """A find's answer: one page of rows under `key`, the paging facts, and what the search noted (a
    filter applied here, an accent retry, what to try when nothing matched), said once, in Message;
    the same shape for checks and members."""
    more = " Call again with Page + 1 for more." if found.has_next_page else ""
    body: dict[str, Any] = {
        "WasSuccessful": True,
        "Message": f"{found.total_items} {noun} match; this is page {found.page} of "
        f"{found.total_pages}.{more}{notes}{message_extra}",
        key: rows,
        "Page": found.page,
        "PageSize": found.page_size,
        "TotalItems": found.total_items,
        "TotalPages": found.total_pages,
        "HasNextPage": found.has_next_page,
    }
    if found.filtered_here:
        body.update(FilteredHere=found.filtered_here, Complete=found.complete)
    if warnings:
        body["Warnings"] = warnings
    return ToolResult(
        body,
        False,
        f"Found {found.total_items} {noun}; page {found.page} of {found.total_pages} shows {len(rows)}.{more}",
    )


CHECK_WORDS = frozenset(
    {
        *("check", "checks", "verification", "verify", "identity", "id", "passport", "address", "proof"),
        *("licence", "license", "driver", "drivers", "card", "document", "documents", "bill", "utility"),
        *("permit", "residence", "lease", "statement", "kyc"),
    }
)


def looks_like_person(text: Any) -> bool:
    """Two or more capitalised words and none that names a kind of check: "Grace Okafor", not
    "Passport check" or "Proof of Address"."""
    if not isinstance(text, str):
        return False
    words = re.findall(r"[^\W\d_][^\W\d_'’.-]*(?:['’.-][^\W\d_]+)*", text)
    if len(words) < 2 or any(w.casefold().strip("'’") in CHECK_WORDS for w in words):
        return False
    return sum(1 for w in words if w[0].isupper()) >= 2


def _ids(record: dict[str, Any]) -> str:
    """The member and location of a check, by Id: names are record text, so they stay in the JSON."""
    coworker, business = record.get("CoworkerId"), record.get("BusinessId")
    parts = [
        f"{label} {value}"
        for label, value in (("coworker", coworker), ("business", business))
        if isinstance(value, int) and not isinstance(value, bool)
    ]
    return f" ({', '.join(parts)})" if parts else ""
