"""What several server processes must agree on, behind one small interface.

- `lock(name, ttl, wait)`: a mutual-exclusion lease. Held for a whole
  read-merge-write of one check (an update or a command); a holder that dies releases it when `ttl`
  expires; a caller that is not granted it within `wait` gets `LockNotGranted` (a retryable `busy`
  result for the model). `hold(lease, seconds)` keeps it past its holder's call (a write whose outcome
  is unknown may still land): it is then released only by expiry.
- `take(bucket, rate, share=…)`: one token from a token bucket shared by every process using the
  store; when the bucket is empty the caller learns how long to wait (`BudgetExhausted.retry_after`).
  With `share` (who is asking), each of the callers active in the last minute may use at most an
  equal part of the bucket's rate, so one busy caller cannot starve the others.
- `count_attempt(limits, window)`: one attempt counted against several fixed-window counters at once,
  or against none when any is full (`AttemptsExhausted.retry_after`): the check-and-increment behind
  the document-number check's per-caller and per-check limits.
- `put`/`get`/`delete`/`pop`: a key-value store with expiry (sign-in state, confirmation states);
  `pop` is an atomic take-and-delete (single use).

A value under one of our keys that this code did not write in its own form (a lock without an
expiry or of another type, a token count that is negative, infinite or not a number) is treated as
absent and replaced, and logged once per store and kind (`StateStore.odd_value`): a poisoned store
never stops the service for good. What earlier versions wrote and nothing reads any more (a fence count
per lock: the SQLite `fences` table, Redis `fence:<name>` keys) is left as it is and ignored, so a
store shared with an older worker keeps working for both.

Three backends: `memory` (one process: stdio, or one HTTP worker), `sqlite` (several workers on one
host, a file in NEXUDUS_MCP_STATE_DIR) and `redis` (several hosts, NEXUDUS_MCP_REDIS_URL). Every
backend raises `StateUnavailable` when the store cannot be reached; callers then refuse writes and
keep serving reads.
"""

from __future__ import annotations

import logging
import math
import random
import re
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import anyio

from ..settings import Rate as Rate  # a setting (NEXUDUS_MCP_*_BUDGET); the stores take it here

log = logging.getLogger("nexudus_identity_mcp.state")

# No lease this server takes is longer: a lock said to last longer was not written by it.
MAX_LEASE_SECONDS = 86400.0
# Callers seen within this many seconds share a bucket's rate equally (`take(…, share=…)`).
SHARE_WINDOW_SECONDS = 60.0
_OWNER = re.compile(r"[0-9a-f]{32}")


def is_owner(value: object) -> bool:
    """Whether `value` is a lock owner as this code writes it (32 lowercase hex digits)."""
    if isinstance(value, bytes):
        try:
            value = value.decode()
        except UnicodeDecodeError:
            return False
    return isinstance(value, str) and _OWNER.fullmatch(value) is not None


def sane_tokens(tokens: object, at: object, now: float) -> tuple[float, float] | None:
    """A bucket's (tokens, at) as this code writes them (tokens >= 0 and finite; at a finite time not
    in the future), or None for anything else: then the bucket is treated as absent (full)."""
    try:
        t, a = float(tokens), float(at)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    if not (math.isfinite(t) and math.isfinite(a)) or t < 0 or a > now + 5.0:
        return None
    return t, a


class StateError(Exception):
    """Base of the state store's errors."""


class StateUnavailable(StateError):
    """The shared store (SQLite file, Redis) cannot be reached or answered with an error."""


class LockNotGranted(StateError):
    """Another holder kept the lock for longer than the caller could wait."""


class BudgetExhausted(StateError):
    def __init__(self, bucket: str, retry_after: float) -> None:
        super().__init__(f"the {bucket} budget is empty for {retry_after:.2f}s")
        self.bucket = bucket
        self.retry_after = retry_after


class AttemptsExhausted(StateError):
    def __init__(self, key: str, retry_after: float) -> None:
        super().__init__(f"the attempts of {key} are used up for {retry_after:.2f}s")
        self.key = key
        self.retry_after = retry_after


@dataclass
class Lease:
    name: str
    owner: str
    # Set by `hold`: the lease outlives its holder's call and is released only by expiry.
    kept: bool = field(default=False, compare=False)


def share_of(capacity: int, refill: float, active: int) -> tuple[float, float]:
    """One caller's part of a bucket shared by `active` callers: (capacity, refill per second)."""
    n = max(active, 1)
    return max(capacity / n, 1.0), refill / n


async def poll_for_lock(name: str, wait: float, try_once: Callable[[], Awaitable[bool]]) -> None:
    """Call `try_once` (True when granted, False when held by another) until it grants the lock or
    `wait` seconds pass (LockNotGranted); the pause between tries grows from 5 to 100 ms, jittered."""
    deadline = time.monotonic() + max(wait, 0.0)
    delay = 0.005
    while True:
        if await try_once():
            return
        if time.monotonic() >= deadline:
            raise LockNotGranted(name)
        await anyio.sleep(min(random.uniform(delay / 2, delay), max(deadline - time.monotonic(), 0.0)))
        delay = min(delay * 2, 0.1)


class StateStore(ABC):
    backend: str = "?"

    def __init__(self) -> None:
        self._odd_logged: set[str] = set()  # the kinds of odd value this store has logged

    def odd_value(self, kind: str) -> None:
        """Log, once per store and kind, that the store held a value under one of our keys that this
        code did not write (it was treated as absent and replaced). Never the value itself."""
        if kind not in self._odd_logged:
            self._odd_logged.add(kind)
            log.warning(
                "state store (%s): a %s value not in this server's own form was found; it was treated as absent "
                "and replaced (logged once)",
                self.backend,
                kind,
            )

    @abstractmethod
    async def acquire(self, name: str, ttl: float, wait: float) -> Lease: ...

    @abstractmethod
    async def release(self, lease: Lease) -> None: ...

    @abstractmethod
    async def still_held(self, lease: Lease) -> bool: ...

    @abstractmethod
    async def hold(self, lease: Lease, seconds: float) -> bool:
        """Keep a held lease for `seconds` from now, past its holder's call (released only by expiry
        from then on). False when it was no longer held."""

    @abstractmethod
    async def take(self, bucket: str, rate: Rate, *, share: str | None = None) -> float:
        """Take one token or raise BudgetExhausted with the wait until the next one. With `share`
        (a caller's name), also from that caller's equal part of the bucket (see the module doc).
        Returns the tokens left in `bucket` after the draw (the metrics' budget left)."""

    @abstractmethod
    async def count_attempt(self, limits: Sequence[tuple[str, int]], window: float) -> None:
        """Count one attempt against every `(key, limit)`, in one atomic step: when any key already has
        `limit` attempts in its window, count none and raise AttemptsExhausted with the seconds until
        that key's window ends. A key's window starts at its first attempt and lasts `window` seconds."""

    @abstractmethod
    async def put(self, key: str, value: bytes, ttl: float) -> None: ...

    @abstractmethod
    async def get(self, key: str) -> bytes | None: ...

    @abstractmethod
    async def delete(self, key: str) -> None: ...

    @abstractmethod
    async def pop(self, key: str) -> bytes | None:
        """Get and delete in one atomic step: of two callers, at most one gets the value."""

    @abstractmethod
    async def incr(self, key: str, amount: int, ttl: float) -> int:
        """Add `amount` to the integer at `key` (0 when absent or expired) and return the new value,
        in one atomic step; a new key expires after `ttl`, an existing one keeps its expiry (a
        fixed window from the first increment). Reserve-then-act limits that can give an attempt
        back (the sign-in page's) use it."""

    @abstractmethod
    async def replace(self, key: str, value: bytes, ttl: float) -> bool:
        """Set `key` only if it exists (and has not expired); False when it does not. A write-back
        after a slow step (a token refresh) never brings back a key deleted meanwhile (a revocation)."""

    async def purge(self) -> int:
        """Delete what has expired; the number of rows deleted (backends that expire by themselves: 0)."""
        return 0

    async def aclose(self) -> None:
        return None

    @asynccontextmanager
    async def lock(self, name: str, *, ttl: float, wait: float) -> AsyncIterator[Lease]:
        lease = await self.acquire(name, ttl, wait)
        try:
            yield lease
        finally:
            if not lease.kept:
                try:
                    await self.release(lease)
                except StateUnavailable:
                    pass  # the lease expires by itself after ttl
