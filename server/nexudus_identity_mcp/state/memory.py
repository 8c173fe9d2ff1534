"""The in-process backend: what one process (stdio, or one HTTP worker) needs, with no I/O."""

from __future__ import annotations

import time
import uuid
import weakref
from collections.abc import Sequence

import anyio

from .base import AttemptsExhausted, BudgetExhausted, Lease, LockNotGranted, Rate, StateStore


class MemoryStore(StateStore):
    backend = "memory"

    def __init__(self) -> None:
        # Semaphores rather than Locks: a lease may be released by another task than its holder.
        self._locks: weakref.WeakValueDictionary[str, anyio.Semaphore] = weakref.WeakValueDictionary()
        self._held: dict[str, tuple[anyio.Semaphore, Lease]] = {}
        self._fences: dict[str, int] = {}
        self._buckets: dict[str, tuple[float, float]] = {}  # name -> (tokens, at)
        self._kv: dict[str, tuple[bytes, float]] = {}
        self._attempts: dict[str, tuple[int, float]] = {}  # key -> (count, window ends)

    async def acquire(self, name: str, ttl: float, wait: float) -> Lease:
        lock = self._locks.get(name)
        if lock is None:
            lock = anyio.Semaphore(1)
            self._locks[name] = lock
        try:
            lock.acquire_nowait()
        except anyio.WouldBlock:
            with anyio.move_on_after(max(wait, 0.0)) as scope:
                await lock.acquire()
            if scope.cancelled_caught:
                raise LockNotGranted(name) from None
        fence = self._fences.get(name, 0) + 1
        self._fences[name] = fence
        lease = Lease(name, uuid.uuid4().hex, fence)
        self._held[name] = (lock, lease)
        return lease

    async def release(self, lease: Lease) -> None:
        held = self._held.get(lease.name)
        if held is not None and held[1] == lease:
            del self._held[lease.name]
            held[0].release()

    async def still_held(self, lease: Lease) -> bool:
        held = self._held.get(lease.name)
        return held is not None and held[1] == lease

    async def take(self, bucket: str, rate: Rate) -> None:
        now = time.monotonic()
        tokens, at = self._buckets.get(bucket, (float(rate.capacity), now))
        tokens = min(float(rate.capacity), tokens + (now - at) * rate.refill_per_second)
        if tokens < 1.0:
            self._buckets[bucket] = (tokens, now)
            raise BudgetExhausted(bucket, (1.0 - tokens) / rate.refill_per_second)
        self._buckets[bucket] = (tokens - 1.0, now)

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

    async def get(self, key: str) -> bytes | None:
        entry = self._kv.get(key)
        if entry is None or entry[1] <= time.monotonic():
            self._kv.pop(key, None)
            return None
        return entry[0]

    async def delete(self, key: str) -> None:
        self._kv.pop(key, None)
