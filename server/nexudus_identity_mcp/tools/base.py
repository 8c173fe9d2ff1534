"""What the tools share: the API client, the redactor, and how a record, a change and an API failure
are shown to the model (enums as names, sensitive values as tokens, errors as structured results)."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any

from ..nexudus import ErrorKind, NexudusClient, NexudusError
from ..nexudus.envelopes import MAX_SHOWN_WAIT
from ..record.fields import BY_NAME, ENUM_FIELDS, LINKAGE_FIELDS, PUT_FIELDS, as_shown, shown
from ..record.operations import CHECK, OPERATIONS
from ..record.redaction import Redactor
from ..record.timefmt import calendar_date, parse_datetime
from ..record.validation import Problem
from ..settings import Settings
from ..state import Journal, Lease, LockNotGranted, MemoryStore, StateStore, StateUnavailable, open_journal
from ..telemetry.metrics import METRICS
from .catalog import FIND_TOOL
from .context import CallContext
from .results import MAX_SUMMARY_ERRORS, ToolResult, failure, quoted
from .schemas import CHANGE_ITEM, RECORD_ITEM
from .search import FilterMemory
from .shape import as_declared

_WRITABLE = frozenset(f.name for f in PUT_FIELDS)

# A check's lock outlives its holder's call by this much (a holder that dies releases it by expiry).
LOCK_MARGIN_SECONDS = 5.0


def seconds_left(deadline: float) -> float:
    """Seconds until the deadline (time.monotonic()), never below 0."""
    return max(deadline - time.monotonic(), 0.0)


def unknown_outcome_hold(settings: Settings) -> float:
    """How long a write whose outcome is unknown keeps its checks' locks: past the longest an answer
    to one request is waited for (NEXUDUS_READ_TIMEOUT), plus the margin."""
    return settings.read_timeout + LOCK_MARGIN_SECONDS


# The key of the digest a held write leaves for the next writer (NEXUDUS_MCP_SECRET when set, so every
# worker can compare; otherwise this process's own, and other processes wait for the expiry).
_PROCESS_KEY = secrets.token_bytes(32)


def _sent_digest(key: bytes, values: Mapping[str, Any]) -> str:
    """A keyed digest of the values a write sent (never the values themselves: they may hold a number),
    each in one form whatever way the API writes it back (dates parsed, blanks as null)."""

    def canon(name: str, value: Any) -> Any:
        kind = BY_NAME[name].type if name in BY_NAME else ""
        if value in (None, ""):
            return None
        if kind == "boolean":
            return bool(value)
        if kind == "date" and isinstance(value, str):
            return str(calendar_date(value))
        if kind == "datetime" and isinstance(value, str):
            return str(parse_datetime(value))
        return value

    canonical = {name: canon(name, value) for name, value in values.items()}
    return hmac.new(key, json.dumps(canonical, sort_keys=True, default=str).encode(), hashlib.sha256).hexdigest()


class WriteOutcomePending(LockNotGranted):
    """The check's lock is kept for an earlier write whose outcome is unknown (it may still land)."""

    def __init__(self, name: str, retry_after: float) -> None:
        super().__init__(name)
        self.retry_after = retry_after


class ToolBase:
    def __init__(
        self,
        client: NexudusClient,
        redactor: Redactor,
        state: StateStore | None = None,
        journal: Journal | None = None,
    ) -> None:
        self.client = client
        self.redactor = redactor
        # What several processes must agree on (per-check locks, the request budget): in-process by
        # default, SQLite or Redis when configured (state/).
        self.state: StateStore = state if state is not None else MemoryStore()
        # The journal of writes, in the same store (state/journal.py); `app.py` opens it with the server's key.
        self.journal: Journal = journal if journal is not None else open_journal(self.state, client.settings)
        # What the finds have learnt of the API's search filters (honoured or ignored): this server's own.
        self.search_memory = FilterMemory()

    @property
    def _held_key(self) -> bytes:
        secret = self.client.settings.mcp_secret
        return secret.get_secret_value().encode() if secret else _PROCESS_KEY

    @asynccontextmanager
    async def check_lock(
        self,
        check_id: int,
        *,
        ttl: float,
        deadline: float,
        read: Callable[[], Awaitable[dict[str, Any]]] | None = None,
    ) -> AsyncIterator[Lease]:
        """The per-check lock updates and commands share (in the state store: across processes). When
        it is kept for an earlier write of unknown outcome: if `read` shows that write landed (the
        record holds every value it sent), the hold ends and this call goes on; otherwise
        `WriteOutcomePending` at once rather than a wait to the deadline. Else `LockNotGranted` after
        waiting until `deadline`."""
        name = f"check:{check_id}"
        started = time.monotonic()
        try:
            try:
                lease = await self.state.acquire(name, ttl, 0)
            except LockNotGranted:
                raw = await self.state.get(f"pending:{name}")
                if raw is not None:
                    await self._landed_or_pending(name, raw, read)
                lease = await self.state.acquire(name, ttl, seconds_left(deadline))
        except LockNotGranted:
            METRICS.lock_wait("busy", time.monotonic() - started)
            raise
        METRICS.lock_wait("acquired", time.monotonic() - started)
        try:
            yield lease
        finally:
            if not lease.kept:
                try:
                    await self.state.release(lease)
                except StateUnavailable:
                    pass  # the lease expires by itself after ttl

    async def _landed_or_pending(
        self, name: str, raw: bytes, read: Callable[[], Awaitable[dict[str, Any]]] | None
    ) -> None:
        """Return when the held write is seen to have landed (its hold released); else raise
        WriteOutcomePending with the seconds left of the hold."""
        try:
            pending = json.loads(raw)
            until, owner = float(pending["until"]), str(pending["owner"])
            fields, digest, read_on = list(pending.get("fields") or []), pending.get("digest"), pending.get("read_on")
        except (ValueError, KeyError, TypeError):
            raise WriteOutcomePending(name, 1.0) from None
        if read is not None and fields and isinstance(digest, str):
            try:
                record = await read()
            except NexudusError:
                record = None
            if record is not None and record.get("UpdatedOn") != read_on and all(f in record for f in fields):
                seen = _sent_digest(self._held_key, {f: record[f] for f in fields})
                if hmac.compare_digest(seen, digest):  # it landed: nothing more can arrive late
                    await self.state.release(Lease(name, owner))
                    await self.state.delete(f"pending:{name}")
                    return
        raise WriteOutcomePending(name, max(until - time.time(), 1.0))

    async def keep_for_unknown_outcome(
        self, leases: list[Lease], sent: Mapping[str, Any] | None = None, read_on: Any = None
    ) -> float | None:
        """A write was sent and its outcome is unknown: keep its checks' locks until it can no longer
        land (`unknown_outcome_hold`), and say so to the next writer; with `sent` (the fields a PUT
        changed) and `read_on` (the UpdatedOn it replaced), a later read showing the record written
        since and holding them all ends the hold early. The seconds held, or None when the store could
        not be reached (the leases still expire by themselves)."""
        hold = unknown_outcome_hold(self.client.settings)
        try:
            for lease in leases:
                if await self.state.hold(lease, hold):
                    note: dict[str, Any] = {"until": time.time() + hold, "owner": lease.owner}
                    if sent:
                        note.update(fields=sorted(sent), digest=_sent_digest(self._held_key, sent), read_on=read_on)
                    await self.state.put(f"pending:{lease.name}", json.dumps(note).encode(), hold)
        except StateUnavailable:
            return None
        return hold

    def present(self, record: dict[str, Any], ctx: CallContext) -> dict[str, Any]:
        """A record as the model sees it: the fields the table knows (enums as names, sensitive values
        as tokens, dates as days) and, of the fields it does not know, only plain non-string scalars: an unknown text
        or object could carry anything, so it stays out of the model's context (and goes back
        unchanged in a PUT). Internal linkage fields (GUIDs, SystemId, IsNew) only when set. Each value
        fitted to its declared type (`RECORD_ITEM`): where the API's values enter results."""
        self.redactor.note_record(record, ctx.redaction)  # its values are looked for everywhere in the result
        visible = {
            k: as_shown(k, v) for k, v in shown(record).items() if k not in LINKAGE_FIELDS or v not in (None, "", False)
        }
        return as_declared(self.redactor.record(visible), RECORD_ITEM)

    def _show_change(self, change: dict[str, Any]) -> dict[str, Any]:
        """A change as results show it: enums as names, sensitive values as tokens, each value fitted
        to `CHANGE_ITEM` (a side that cannot be shown as a scalar is left out)."""
        name = change["Field"]
        shown = {"Field": name}
        for side in ("From", "To"):
            shown[side] = self.redactor.value(name, as_shown(name, change[side]))
        return as_declared(shown, CHANGE_ITEM)

    def _redact_problems(self, errors: list[Problem], records: tuple[dict[str, Any], ...] | None) -> list[Problem]:
        """The problems (the API's, or this server's) as results show them: sensitive values as tokens,
        an unknown field's echoed value not shown, enums' AllowedValues. They are typed already (a
        `Problem`; the API's error list is read into one by the client's `errors_of`), so they match
        `ERROR_ITEM` as they are."""
        sensitive = self.redactor.sensitive_values(*(records or ()))
        out = []
        for error in errors:
            error = error.copy()
            prop = error.get("PropertyName") or ""
            if prop in self.redactor.fields:
                if not self.redactor.looks_like_token(error.get("AttemptedValue")):
                    error["AttemptedValue"] = self.redactor.value(prop, error.get("AttemptedValue"))
            elif (
                records and prop and prop not in BY_NAME and isinstance(error.get("AttemptedValue"), (str, dict, list))
            ):
                # A field the table does not know, echoed by the API: its value is not shown.
                error["AttemptedValue"] = "(not shown: a field this server does not know)"
            elif isinstance(error.get("AttemptedValue"), str):
                error["AttemptedValue"] = self.redactor.text(error["AttemptedValue"], sensitive)
            error["Message"] = self.redactor.text(str(error.get("Message") or ""), sensitive)
            enum = ENUM_FIELDS.get(prop) if prop in _WRITABLE else None  # never for a read-only field
            if enum is not None and "AllowedValues" not in error:
                error["AllowedValues"] = enum.names
            out.append(error)
        return out

    def _api_failure(
        self,
        error: NexudusError,
        *,
        check_id: int | None = None,
        records: tuple[dict[str, Any], ...] = (),
        lead: str = "",
        tail: str = "",
        not_found: tuple[str, list[Problem]] | None = None,
        **extra: Any,
    ) -> ToolResult:
        """The API's failure as a result, built once: `lead` and `tail` (server text) open and close the
        message, `not_found` is the message and problems said when the check does not exist (the
        tool's own words), `extra` are more fields of the body (the tool's own, such as a command's Key)."""
        sensitive = self.redactor.sensitive_values(*records)
        message = self.redactor.text(error.message, sensitive)
        problems = self._redact_problems(error.errors, records)
        if error.kind == ErrorKind.NOT_FOUND and check_id is not None:
            message, problems = not_found or (
                f"No coworker identity check with Id {check_id} was found; nothing was written. Use an Id "
                f"that {FIND_TOOL} lists.",
                problems,
            )
        elif error.kind == ErrorKind.VALIDATION:
            message = f"Nexudus rejected {_action(error)}; nothing was changed. {message}"
        if error.excerpt:
            message += f" The answer began: {self.redactor.text(error.excerpt, sensitive)}"
        retry_after = error.retry_after if error.kind == ErrorKind.RATE_LIMITED else None
        if error.kind == ErrorKind.RATE_LIMITED and retry_after is None and error.retryable:
            retry_after = 1.0
        if retry_after is not None:
            retry_after = min(max(retry_after, 0.0), MAX_SHOWN_WAIT)
        return failure(
            error.kind,
            lead + message + tail,
            source="local" if error.kind == ErrorKind.NOT_CONFIGURED else "nexudus",
            errors=problems,
            retryable=error.retryable,
            summary=api_summary(error, check_id, retry_after),
            RetryAfterSeconds=retry_after,
            Status=error.status,
            **extra,
        )


def api_summary(error: NexudusError, record_id: int | None, retry_after: float | None) -> str:
    """The summary line of an API failure: the server's words only (the API's message, its
    errors and any excerpt stay in the JSON), property names quoted; a record not found is named
    by its operation's resource (a check, a member)."""
    action = _action(error)
    status = f" (HTTP {error.status})" if error.status else ""
    kind = error.kind
    if kind == ErrorKind.VALIDATION:
        names = [quoted(e.get("PropertyName") or "(body)", 40) for e in error.errors]
        more = f" and {len(names) - MAX_SUMMARY_ERRORS} more" if len(names) > MAX_SUMMARY_ERRORS else ""
        listed = f": {len(names)} problem(s) with {', '.join(names[:MAX_SUMMARY_ERRORS])}{more}" if names else ""
        return f"Failed (validation, nexudus): Nexudus rejected {action}{status}{listed}; nothing was changed."
    what = {
        ErrorKind.NOT_FOUND: f"no {_resource(error)} with Id {record_id}"
        if record_id is not None
        else f"Nexudus found nothing for {action}{status}",
        ErrorKind.UNAUTHORIZED: f"Nexudus refused the credentials for {action}{status}",
        ErrorKind.RATE_LIMITED: f"Nexudus is throttling {action}{status}; retry after {retry_after or 1.0:g} s",
        ErrorKind.UPSTREAM_UNAVAILABLE: f"Nexudus did not complete {action}{status}",
        ErrorKind.UPSTREAM_ERROR: f"Nexudus answered {action} with something unexpected{status}",
        ErrorKind.NOT_CONFIGURED: "no Nexudus credentials are configured",
    }.get(kind, f"{action} failed{status}")
    if error.daily_cap:
        what = f"the account's daily limit at Nexudus is used up{status}; do not retry until it resets"
    return f"Failed ({kind.value}): {what}. See Message."


def _resource(error: NexudusError) -> str:
    """What was not found, in the words of a message ("coworker identity check", "coworker")."""
    return OPERATIONS[error.operation].resource if error.operation else CHECK


def _action(error: NexudusError) -> str:
    """What failed, in the words of a message ("the read")."""
    return OPERATIONS[error.operation].action if error.operation else "the request"
