"""The read tools: get one check by Id, and find checks by filters a page at a time."""

from __future__ import annotations

from typing import Any

from ..nexudus import ErrorKind, NexudusError
from ..schemas import FIND_ROW_FIELDS
from ..validation import ArgumentErrors, parse_find, parse_get
from .base import ToolBase
from .results import ToolResult, failure


class ReadTools(ToolBase):
    async def get(self, arguments: dict[str, Any] | None) -> ToolResult:
        try:
            check_id = parse_get(arguments)
        except ArgumentErrors as invalid:
            return failure(
                ErrorKind.VALIDATION,
                "The arguments are not valid; nothing was read.",
                source="local",
                errors=invalid.errors,
            )
        try:
            record = await self.client.get_check(check_id)
        except NexudusError as error:
            return self._api_failure(error, check_id=check_id)
        return ToolResult(
            {"WasSuccessful": True, "Message": f"Coworker identity check {check_id}.", "Record": self.present(record)},
            False,
            f"Read check {check_id}: {record.get('Name')!r} of {self._who(record)}.",
        )

    async def find(self, arguments: dict[str, Any] | None) -> ToolResult:
        try:
            request = parse_find(arguments)
        except ArgumentErrors as invalid:
            return failure(
                ErrorKind.VALIDATION,
                "The arguments are not valid; nothing was searched.",
                source="local",
                errors=invalid.errors,
            )
        f = request.filters
        try:
            page = await self.client.search_checks(
                page=request.page,
                size=request.page_size,
                coworker_id=f.get("CoworkerId"),
                business_id=f.get("BusinessId"),
                name=f.get("Name"),
                verification_status=f.get("VerificationStatus"),
                verification_type=f.get("VerificationType"),
            )
        except NexudusError as error:
            return self._api_failure(error)
        rows = [{k: shown.get(k) for k in FIND_ROW_FIELDS} for shown in map(self.present, page.records)]
        more = " Call again with Page + 1 for more." if page.has_next_page else ""
        return ToolResult(
            {
                "WasSuccessful": True,
                "Message": f"{page.total_items} check(s) match; this is page {page.current_page} of "
                f"{page.total_pages}.{more}",
                "Checks": rows,
                "Page": page.current_page,
                "PageSize": page.page_size,
                "TotalItems": page.total_items,
                "TotalPages": page.total_pages,
                "HasNextPage": page.has_next_page,
            },
            False,
            f"Found {page.total_items} check(s); page {page.current_page} of {page.total_pages} "
            f"shows {len(rows)}.{more}",
        )
