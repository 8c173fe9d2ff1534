"""The in-process backend: what one process (stdio, or one HTTP worker) needs, with no I/O.

Locks expire like the shared backends' (a lease kept by `hold` past its holder's call is released
only by its expiry): a waiter is woken by a release, or tries again when the holder's lease ends."""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence

import anyio

from .base import (
    SHARE_WINDOW_SECONDS,
    AttemptsExhausted,
    BudgetExhausted,
    Lease,
    LockNotGranted,
    Rate,
    StateStore,
    share_of,
)


class MemoryStore(StateStore):
    backend = "memory"

    def __init__(self) -> None:
        super().__init__()
        self._held: dict[str, tuple[Lease, float]] = {}  # name -> (lease, expires)
        self._released: dict[str, anyio.Event] = {}
        self._buckets: dict[str, tuple[float, float]] = {}  # name -> (tokens, at)
        self._seen: dict[str, dict[str, float]] = {}  # bucket -> caller -> last take
        self._kv: dict[str, tuple[bytes, float]] = {}
        self._attempts: dict[str, tuple[int, float]] = {}  # key -> (count, window ends)

    def levels(self) -> dict[str, float]:
        """Each bucket's tokens as its last take left them, by bucket name (a copy; tests read it)."""
        return {name: tokens for name, (tokens, _) in self._buckets.items()}

    def _current(self, name: str) -> Lease | None:
        held = self._held.get(name)
        if held is not None and held[1] <= time.monotonic():
            self._free(name)
            return None
        return held[0] if held is not None else None

    def _free(self, name: str) -> None:
        self._held.pop(name, None)
        event = self._released.pop(name, None)
        if event is not None:
            event.set()

    async def acquire(self, name: str, ttl: float, wait: float) -> Lease:
        deadline = time.monotonic() + max(wait, 0.0)
        while True:
            holder = self._current(name)
            if holder is None:
                lease = Lease(name, uuid.uuid4().hex)
                self._held[name] = (lease, time.monotonic() + ttl)
                return lease
            now = time.monotonic()
            if now >= deadline:
                raise LockNotGranted(name)
            event = self._released.setdefault(name, anyio.Event())
            # Woken by a release, or when the holder's lease expires, or at this caller's deadline.
            with anyio.move_on_after(max(min(deadline, self._held[name][1]) - now, 0.0) + 0.001):
                await event.wait()

    async def release(self, lease: Lease) -> None:
        current = self._current(lease.name)
        if current is not None and current.owner == lease.owner:  # by owner, as the shared backends do
            self._free(lease.name)

    async def still_held(self, lease: Lease) -> bool:
        return self._current(lease.name) == lease

    async def hold(self, lease: Lease, seconds: float) -> bool:
        lease.kept = True
        if self._current(lease.name) != lease:
            return False
        self._held[lease.name] = (lease, time.monotonic() + seconds)
        return True

    async def take(self, bucket: str, rate: Rate, *, share: str | None = None) -> float:
        now = time.monotonic()
        tokens = self._level(bucket, float(rate.capacity), rate.refill_per_second, now)
        waits = [(1.0 - tokens) / rate.refill_per_second] if tokens < 1.0 else []
        mine_key = ""
        if share is not None:
            seen = self._seen.setdefault(bucket, {})
            seen[share] = now
            for caller in [c for c, at in seen.items() if now - at > SHARE_WINDOW_SECONDS]:
                del seen[caller]
            capacity, refill = share_of(rate.capacity, rate.refill_per_second, len(seen))
            mine_key = f"{bucket}|{share}"
            mine = self._level(mine_key, capacity, refill, now)
            if mine < 1.0:
                waits.append((1.0 - mine) / refill)
        if waits:
            raise BudgetExhausted(bucket, max(waits))
        self._buckets[bucket] = (self._buckets[bucket][0] - 1.0, now)
        if mine_key:
            self._buckets[mine_key] = (self._buckets[mine_key][0] - 1.0, now)
        return self._buckets[bucket][0]

    def _level(self, name: str, capacity: float, refill: float, now: float) -> float:
        tokens, at = self._buckets.get(name, (capacity, now))
        tokens = min(capacity, tokens + max(now - at, 0.0) * refill)
        self._buckets[name] = (tokens, now)
        return tokens

    async def count_attempt(self, limits: Sequence[tuple[str, int]], window: float) -> None:
        # No await between the check and the increment: one step for every task of this process.
        now = time.monotonic()
        for key, limit in limits:
            count, ends = self._attempts.get(key, (0, now + window))
            if ends <= now:
                self._attempts.pop(key, None)
            elif count >= limit:
                raise AttemptsExhausted(key, ends - now)
        for key, _ in limits:
            count, ends = self._attempts.get(key, (0, now + window))
            self._attempts[key] = (count + 1, ends)
        if len(self._attempts) > 10_000:  # expired windows go, so the table stays small
            self._attempts = {k: v for k, v in self._attempts.items() if v[1] > now}

    async def put(self, key: str, value: bytes, ttl: float) -> None:
        self._kv[key] = (value, time.monotonic() + ttl)
        if len(self._kv) % 1024 == 0:  # now and then: what expired and was never read again
            await self.purge()

    async def get(self, key: str) -> bytes | None:
        entry = self._kv.get(key)
        if entry is None or entry[1] <= time.monotonic():
            self._kv.pop(key, None)
            return None
        return entry[0]

    async def delete(self, key: str) -> None:
        self._kv.pop(key, None)

    async def pop(self, key: str) -> bytes | None:
        entry = self._kv.pop(key, None)
        return entry[0] if entry is not None and entry[1] > time.monotonic() else None

    # One event loop and no await inside: each of these is one atomic step.
    async def incr(self, key: str, amount: int, ttl: float) -> int:
        now = time.monotonic()
        entry = self._kv.get(key)
        current, expires = (int(entry[0]), entry[1]) if entry is not None and entry[1] > now else (0, now + ttl)
        self._kv[key] = (str(current + amount).encode(), expires)
        return current + amount

    async def replace(self, key: str, value: bytes, ttl: float) -> bool:
        entry = self._kv.get(key)
        if entry is None or entry[1] <= time.monotonic():
            return False
        self._kv[key] = (value, time.monotonic() + ttl)
        return True

    async def purge(self) -> int:
        now = time.monotonic()
        expired = [key for key, (_, expires) in self._kv.items() if expires <= now]
        for key in expired:
            del self._kv[key]
        return len(expired)
