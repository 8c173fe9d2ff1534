"""The MCP tools' behaviour: read a check, and update one without ever losing data.

The API's PUT replaces the whole record. So an update here is always: validate the arguments
(nothing invalid leaves this process), read the current record, lay the given fields over it, keep
every field the call left out (blank only those in ClearFields), and PUT the full record; a call
that changes nothing writes nothing, and a dry run stops before the PUT and shows the exact body.

Every outcome is a `ToolResult`: a PascalCase body (`WasSuccessful`, `Message`, `Changes`, or
`ErrorKind`, `Errors`, `Retryable`, `Source`, …) that `app.py` sends as structuredContent and as text.
Identity-document numbers pass through `Redactor` on every path out: records, changes, dry-run
bodies and the API's errors.
"""

from __future__ import annotations

import json
import logging
import weakref
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import anyio

from .fields import BY_NAME, ENUM_FIELDS, PUT_FIELDS, SENT_FIELDS
from .nexudus import NexudusClient, NexudusError
from .redaction import Redactor
from .timefmt import parse_datetime
from .schemas import FIND_ROW_FIELDS
from .validation import ArgumentErrors, UpdateRequest, parse_find, parse_get, parse_update, problem

audit_log = logging.getLogger("nexudus_identity_mcp.audit")
MAX_SUMMARY_ERRORS = 3

# Who is calling: "stdio", or the client name an HTTP bearer token maps to. Set per tool call by app.py.
CALLER: ContextVar[str] = ContextVar("nexudus_mcp_caller", default="local")


def audit(check_id: int, fields: list[str], outcome: str) -> None:
    """One line per update attempt: who, which check, which fields, what happened. Never values."""
    audit_log.info("update client=%s check=%s fields=%s outcome=%s", CALLER.get(), check_id,
                   ",".join(fields) or "-", outcome)


@dataclass
class ToolResult:
    body: dict[str, Any]
    is_error: bool
    summary: str

    def text(self) -> str:
        """The text content: a line a person can read, then the same JSON as structuredContent."""
        return f"{self.summary}\n{json.dumps(self.body, ensure_ascii=False)}"


def failure(kind: str, message: str, *, source: str, errors: list[dict[str, Any]] | None = None,
            retryable: bool = False, **extra: Any) -> ToolResult:
    body: dict[str, Any] = {"WasSuccessful": False, "ErrorKind": kind, "Message": message,
                            "Errors": errors or [], "Retryable": retryable, "Source": source}
    body.update({k: v for k, v in extra.items() if v is not None})
    summary = f"Failed ({kind}): {message.splitlines()[0] if message else kind}"
    listed = [f"{e.get('PropertyName') or '(body)'}: {e.get('Message')}" for e in body["Errors"]]
    if listed and kind == "validation":
        more = len(listed) - MAX_SUMMARY_ERRORS
        summary = (f"Failed (validation, {source}): {len(listed)} problem(s): "
                   + "; ".join(listed[:MAX_SUMMARY_ERRORS]) + (f"; and {more} more" if more > 0 else ""))
    return ToolResult(body, True, summary)


class IdentityCheckTools:
    def __init__(self, client: NexudusClient, redactor: Redactor) -> None:
        self.client = client
        self.redactor = redactor
        # One read-merge-write at a time per check in this process, so concurrent calls never lose each
        # other's fields and ExpectedUpdatedOn is checked against what the write will replace. (The API
        # has no conditional PUT, so writers in other processes can still interleave.)
        self._locks: weakref.WeakValueDictionary[int, anyio.Lock] = weakref.WeakValueDictionary()

    def _lock_for(self, check_id: int) -> anyio.Lock:
        lock = self._locks.get(check_id)
        if lock is None:
            lock = anyio.Lock()
            self._locks[check_id] = lock
        return lock

    # ------------------------------------------------------------------ get
    async def get(self, arguments: dict[str, Any] | None) -> ToolResult:
        try:
            check_id = parse_get(arguments)
        except ArgumentErrors as invalid:
            return failure("validation", "The arguments are not valid; nothing was read.", source="local",
                           errors=invalid.errors)
        try:
            record = await self.client.get_check(check_id)
        except NexudusError as error:
            return self._api_failure(error, check_id=check_id)
        return ToolResult({"WasSuccessful": True, "Message": f"Coworker identity check {check_id}.",
                           "Record": self.present(record)}, False,
                          f"Read check {check_id}: {record.get('Name')!r} of {self._who(record)}.")

    # ------------------------------------------------------------------ find
    async def find(self, arguments: dict[str, Any] | None) -> ToolResult:
        try:
            request = parse_find(arguments)
        except ArgumentErrors as invalid:
            return failure("validation", "The arguments are not valid; nothing was searched.", source="local",
                           errors=invalid.errors)
        f = request.filters
        try:
            page = await self.client.search_checks(
                page=request.page, size=request.page_size, coworker_id=f.get("CoworkerId"),
                business_id=f.get("BusinessId"), name=f.get("Name"),
                verification_status=f.get("VerificationStatus"), verification_type=f.get("VerificationType"))
        except NexudusError as error:
            return self._api_failure(error)
        rows = [{k: shown.get(k) for k in FIND_ROW_FIELDS} for shown in map(self.present, page.records)]
        more = " Call again with Page + 1 for more." if page.has_next_page else ""
        return ToolResult({
            "WasSuccessful": True,
            "Message": f"{page.total_items} check(s) match; this is page {page.current_page} of {page.total_pages}.{more}",
            "Checks": rows, "Page": page.current_page, "PageSize": page.page_size, "TotalItems": page.total_items,
            "TotalPages": page.total_pages, "HasNextPage": page.has_next_page,
        }, False, f"Found {page.total_items} check(s); page {page.current_page} of {page.total_pages} "
                  f"shows {len(rows)}.{more}")

    # ------------------------------------------------------------------ update
    async def update(self, arguments: dict[str, Any] | None) -> ToolResult:
        try:
            request = parse_update(arguments)
        except ArgumentErrors as invalid:
            return failure("validation", "The arguments are not valid; nothing was sent to Nexudus. Fix "
                           "each property in Errors and call again.", source="local",
                           errors=self._redact_problems(invalid.errors, None))
        async with self._lock_for(request.check_id):
            return await self._read_merge_write(request)

    async def _read_merge_write(self, request: UpdateRequest) -> ToolResult:
        try:
            current = await self.client.get_check(request.check_id)
        except NexudusError as error:
            return self._api_failure(error, check_id=request.check_id)

        values = dict(request.values)
        token_errors = self._resolve_tokens(values, current)
        if token_errors:
            return failure("validation", "The arguments are not valid; nothing was sent to Nexudus.",
                           source="local", errors=token_errors)

        if request.expected_updated_on is not None:
            now = parse_datetime(str(current.get("UpdatedOn") or ""))
            if now != request.expected_updated_on:
                audit(request.check_id, sorted(request.values), "conflict")
                return failure("conflict", f"Check {request.check_id} changed since it was read (UpdatedOn is now "
                               f"{current.get('UpdatedOn')}). Nothing was written. Read it again, re-apply the "
                               "user's change to the new values, and call again with the new UpdatedOn.",
                               source="local", CurrentUpdatedOn=current.get("UpdatedOn"))

        body = {f.name: current.get(f.name) for f in SENT_FIELDS}
        body.update(values)
        for name in request.clear:
            body[name] = False if BY_NAME[name].type == "boolean" else None
        changes = self._changes(current, body)
        changed_names = [c["Field"] for c in changes]
        shown_changes = [self._show_change(c) for c in changes]

        if not changes:
            audit(request.check_id, [], "no_change")
            return ToolResult({"WasSuccessful": True, "Message": f"Nothing to change: check {request.check_id} "
                               "already has every given value. Nothing was written.",
                               "Value": {"Id": request.check_id}, "Changes": [], "DryRun": request.dry_run},
                              False, f"No change to check {request.check_id}; nothing was written.")
        if request.dry_run:
            audit(request.check_id, changed_names, "dry_run")
            return ToolResult({"WasSuccessful": True, "Message": f"Dry run: {len(changes)} field(s) of check "
                               f"{request.check_id} would change. Nothing was written; call again without "
                               "DryRun to apply.", "Value": {"Id": request.check_id}, "Changes": shown_changes,
                               "DryRun": True, "Body": self.redactor.record(body)},
                              False, f"Dry run for check {request.check_id}: would change "
                              f"{', '.join(changed_names)}. Nothing was written.")
        try:
            envelope = await self.client.update_check(body)
        except NexudusError as error:
            audit(request.check_id, changed_names, error.kind)
            return self._api_failure(error, check_id=request.check_id, records=(current, body))
        audit(request.check_id, changed_names, "updated")
        return ToolResult({
            "WasSuccessful": True,
            "Message": str(envelope.get("Message") or "CoworkerIdentityCheck was successfully updated."),
            "Value": envelope.get("Value") if isinstance(envelope.get("Value"), dict) else {"Id": request.check_id},
            "UpdatedOn": envelope.get("UpdatedOn"),
            "UpdatedBy": self.redactor.value("UpdatedBy", envelope.get("UpdatedBy")),
            "Changes": shown_changes,
            "DryRun": False,
        }, False, f"Updated check {request.check_id}: changed {', '.join(changed_names)}.")

    # ------------------------------------------------------------------ helpers
    def present(self, record: dict[str, Any]) -> dict[str, Any]:
        """A record as the model sees it: enums as names, sensitive values as tokens."""
        shown = {k: (ENUM_FIELDS[k].name_of(v) if k in ENUM_FIELDS and isinstance(v, int) else v)
                 for k, v in record.items()}
        return self.redactor.record(shown)

    def _who(self, record: dict[str, Any]) -> str:
        name = self.redactor.value("CoworkerFullName", record.get("CoworkerFullName"))
        return f"{name or 'coworker ' + str(record.get('CoworkerId'))} at {record.get('BusinessName') or 'business ' + str(record.get('BusinessId'))}"

    def _resolve_tokens(self, values: dict[str, Any], current: dict[str, Any]) -> list[dict[str, Any]]:
        """A redaction token given back means "unchanged" when it is the current value's token."""
        errors = []
        for name in list(values):
            if name in self.redactor.fields and self.redactor.is_token(values[name]):
                if values[name].strip() == self.redactor.value(name, current.get(name)):
                    values[name] = current.get(name)
                else:
                    errors.append(problem(name, "is a redaction token that does not match the current value. "
                                          "Leave the field out to keep the current value, or give the real "
                                          "new value to change it.", values[name]))
        return errors

    def _changes(self, current: dict[str, Any], body: dict[str, Any]) -> list[dict[str, Any]]:
        return [{"Field": f.name, "From": current.get(f.name), "To": body.get(f.name)}
                for f in PUT_FIELDS if not _same(f.type, current.get(f.name), body.get(f.name))]

    def _show_change(self, change: dict[str, Any]) -> dict[str, Any]:
        name = change["Field"]
        enum = ENUM_FIELDS.get(name)
        shown = {"Field": name}
        for side in ("From", "To"):
            value = change[side]
            if enum is not None and isinstance(value, int):
                value = enum.name_of(value)
            shown[side] = self.redactor.value(name, value)
        return shown

    def _redact_problems(self, errors: list[dict[str, Any]], records: tuple[dict[str, Any], ...] | None
                         ) -> list[dict[str, Any]]:
        sensitive = self.redactor.sensitive_values(*(records or ()))
        out = []
        for error in errors:
            error = dict(error)
            prop = error.get("PropertyName") or ""
            if prop in self.redactor.fields:
                error["AttemptedValue"] = self.redactor.value(prop, error.get("AttemptedValue"))
            elif isinstance(error.get("AttemptedValue"), str):
                error["AttemptedValue"] = self.redactor.text(error["AttemptedValue"], sensitive)
            error["Message"] = self.redactor.text(str(error.get("Message") or ""), sensitive)
            enum = ENUM_FIELDS.get(prop)
            if enum is not None and "AllowedValues" not in error:
                error["AllowedValues"] = enum.names
            out.append(error)
        return out

    def _api_failure(self, error: NexudusError, *, check_id: int | None = None,
                     records: tuple[dict[str, Any], ...] = ()) -> ToolResult:
        sensitive = self.redactor.sensitive_values(*records)
        message = self.redactor.text(error.message, sensitive)
        if error.kind == "not_found" and check_id is not None:
            message = (f"No coworker identity check with Id {check_id} was found. Use an Id from "
                       "get_coworker_identity_check or a search; nothing was written.")
        elif error.kind == "validation":
            message = f"Nexudus rejected the update; nothing was changed. {message}"
        if error.excerpt:
            message += f" The answer began: {self.redactor.text(error.excerpt, sensitive)}"
        retry_after = error.retry_after if error.kind == "rate_limited" else None
        if error.kind == "rate_limited" and retry_after is None:
            retry_after = 1.0
        return failure(error.kind, message, source="local" if error.kind == "not_configured" else "nexudus",
                       errors=self._redact_problems(error.errors, records), retryable=error.retryable,
                       RetryAfterSeconds=retry_after, Status=error.status)


def _same(type_: str, old: Any, new: Any) -> bool:
    if type_ == "boolean":
        return bool(old) == bool(new)
    if old in (None, "") and new in (None, ""):
        return True
    if type_ == "datetime" and isinstance(old, str) and isinstance(new, str):
        return parse_datetime(old) == parse_datetime(new)
    return bool(old == new)
