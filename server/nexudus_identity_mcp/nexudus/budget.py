"""The shared request budget per Nexudus account: every process draws from one token bucket (in the
state store) before each API call, so N workers together stay within the API's limits instead of
each being throttled. By default with a shared store, the API's newer limits table: writes 60 a
minute and 5,000 a day; every request (writes too) 1 per 100 ms, 120 a minute, 5,000 an hour.

Whose account: in the sign-in mode each staff member calls with their own Nexudus account, so each
has their own bucket (the API's limits are per account). Otherwise every caller uses the server's
one configured account, a budget that is truly shared: each caller (a client token's name, a staff
member named by the identity provider) active in the last minute may then use an equal part of it
(`StateStore.take(share=…)`), so one assistant looping over reads cannot starve the others.

An empty bucket waits within the call's deadline, or answers `rate_limited` with
RetryAfterSeconds before the API has to. When the store cannot be reached, writes are refused
(`upstream_unavailable`, naming the store: without the shared budget and locks a write could lose
another worker's change or overrun the API's limit) and reads go ahead.
"""

from __future__ import annotations

import hashlib
import logging
import time

import anyio

from ..record.operations import OPERATIONS
from ..settings import Rate, Settings
from ..state import BudgetExhausted, StateStore, StateUnavailable
from ..telemetry.metrics import METRICS
from .caller import Caller
from .errors import ErrorKind, NexudusError, Operation

log = logging.getLogger("nexudus_identity_mcp.nexudus")


def account_key(settings: Settings, person: str | None = None) -> str:
    """A stable, non-secret name for a Nexudus account: the configured credentials' one, or with
    `person` (the signed-in staff member's Nexudus user) theirs."""
    who = (
        person
        or settings.username
        or (hashlib.sha256(settings.token.get_secret_value().encode()).hexdigest() if settings.token else "-")
    )
    return hashlib.sha256(f"{settings.base_url}\0{who}".encode()).hexdigest()[:16]


class RequestBudget:
    def __init__(self, store: StateStore, settings: Settings) -> None:
        self.store = store
        self.settings = settings
        self.account = account_key(settings)
        self.writes, self.reads = settings.request_budgets()
        self._warned = False

    def _bucket_of(self, kind: str, caller: Caller | None) -> tuple[str, str | None]:
        """(bucket, share): the person's own bucket when they call with their own token (sign-in
        mode); otherwise the configured account's bucket, shared fairly between callers."""
        if caller is not None and caller.nexudus_bearer is not None:
            return f"{kind}:{account_key(self.settings, caller.label)}", None
        label = caller.label if caller is not None else ""
        share = hashlib.sha256(label.encode()).hexdigest()[:16] if label else None
        return f"{kind}:{self.account}", share

    async def before(self, op: Operation, deadline: float, caller: Caller | None = None) -> None:
        """Called by the client before each API call, with the caller the request is for: a token from
        each of the request budget's buckets, and a write one from each of the write budget's too
        (the longest window first, so a spent day leaves the minute's tokens alone)."""
        if op == "token":
            return
        write = OPERATIONS[op].writes
        limits = [("writes", rate) for rate in self.writes] if write else []
        limits += [("requests", rate) for rate in self.reads]
        for kind, rate in sorted(limits, key=lambda limit: -limit[1].seconds):
            bucket, share = self._bucket_of(f"{kind}:{rate.count}/{rate.seconds:g}", caller)
            if not await self._take(op, bucket, rate, share, kind, deadline, write):
                return

    async def _take(
        self, op: Operation, bucket: str, rate: Rate, share: str | None, kind: str, deadline: float, write: bool
    ) -> bool:
        """One token of one bucket, waiting within the deadline; False when the store is down for a
        read (it goes ahead without the shared budget). Metrics count by the operation (writes, reads)."""
        label = "writes" if write else "reads"
        waited = 0.0
        while True:
            try:
                left = await self.store.take(bucket, rate, share=share)
                METRICS.budget_left(kind, f"{rate.count}/{rate.seconds:g}s", left)
                if waited:
                    METRICS.budget_wait(label, waited)
                return True
            except BudgetExhausted as empty:
                if time.monotonic() + empty.retry_after > deadline:
                    METRICS.budget_refused(label)
                    raise NexudusError(
                        ErrorKind.RATE_LIMITED,
                        f"This server's budget for this Nexudus account ({rate.count} {kind} per "
                        f"{rate.seconds:g} s, the API's limit"
                        f"{', shared fairly between its callers' if share else ''}) is used up for now; "
                        f"nothing was sent. Retry after {empty.retry_after:.1f} s.",
                        retry_after=empty.retry_after,
                        operation=op,
                        unsent=True,
                    ) from None
                await anyio.sleep(empty.retry_after)
                waited += empty.retry_after
            except StateUnavailable as down:
                if write:
                    raise NexudusError(
                        ErrorKind.UPSTREAM_UNAVAILABLE,
                        f"The shared state store ({self.store.backend}) cannot be reached, so this server refuses "
                        "writes (it could not keep workers from overwriting each other or overrunning the API's "
                        "limits); nothing was sent. Reads still work; retry when the store is back.",
                        operation=op,
                        unsent=True,
                    ) from None
                if not self._warned:
                    self._warned = True
                    log.warning("state store unavailable (%s): reads go ahead without the shared budget", down)
                return False
