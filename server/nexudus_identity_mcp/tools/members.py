"""Find a member (coworker): the Id a reassignment needs, by name, email or location, a page at a
time; and the same compact row wherever a member is shown (a find, a reassignment's Changes).

The search is the checks' own self-verifying search (`search.verified_search` over `MEMBERS`): every
row is checked against every filter sent, and a filter the API ignores is applied here. Names,
emails and company names are personal: with NEXUDUS_MCP_REDACT=name they are tokens, as a check's
member names are.
"""

from __future__ import annotations

from typing import Any

from ..nexudus import NexudusError
from ..record.members import MEMBER_ROW_FIELDS
from .context import CallContext
from .read import ReadTools, page_result
from .requests import MemberFindRequest
from .results import ToolResult
from .schemas import MEMBER_ITEM
from .search import MEMBERS, find_with_notes
from .shape import as_declared


class MemberTools(ReadTools):
    def member_row(self, member: dict[str, Any], ctx: CallContext) -> dict[str, Any]:
        """A member as the model sees it: the row fields only, personal ones redacted as configured,
        each fitted to `MEMBER_ITEM`."""
        self.redactor.note_record(member, ctx.redaction)
        return as_declared(self.redactor.record({k: member.get(k) for k in MEMBER_ROW_FIELDS}), MEMBER_ITEM)

    async def find_members(self, request: MemberFindRequest, ctx: CallContext) -> ToolResult:
        refusal = self.token_refusal(request.filters, "filter by InvoicingBusinessId, or give the email")
        if refusal is not None:
            return refusal
        try:
            found, notes = await find_with_notes(
                self.client,
                request.filters,
                memory=self.search_memory,
                page=request.page,
                size=request.page_size,
                entity=MEMBERS,
                caller=ctx.caller,
            )
        except NexudusError as error:
            return self._api_failure(error)
        rows = [self.member_row(member, ctx) for member in found.rows]
        inactive = " Active false: a former or suspended member." if any(r.get("Active") is False for r in rows) else ""
        return page_result(found, rows, key="Members", noun="member(s)", notes=notes, message_extra=inactive)
