"""The Redis backend (NEXUDUS_MCP_REDIS_URL; Valkey works the same), for several hosts.

Only Redis's own primitives, each with its failure mode:
- Lock: `SET lock:<name> <owner> NX PX <ttl>`; the fence is `INCR fence:<name>` after a grant; release
  and "still held" compare the owner (a Lua compare-and-delete, so a late release never frees a
  lock another holder got after expiry). If the holder dies, the key expires after ttl. If Redis
  loses the key (failover without persistence), two holders can overlap: the server re-reads the
  record after each PUT and reports a conflict if another writer's change is lost.
- Budget: a token bucket in one Lua script using Redis's own clock (`TIME`), so every process draws
  from the same bucket whatever its own clock says.
- Attempt counters: one Lua script checks every counter and increments them all, or none (the first
  increment of a window sets its expiry), so no other process counts in between.
- Expiring keys: `SET … PX`.
A connection or command failure raises StateUnavailable within the socket timeout (1 s by default),
and the next command reconnects by itself when Redis is back.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from .base import AttemptsExhausted, BudgetExhausted, Lease, Rate, StateStore, StateUnavailable, poll_for_lock

_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end"
_BUCKET = """
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local data = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(data[1]) or capacity
local at = tonumber(data[2]) or now
tokens = math.min(capacity, tokens + math.max(now - at, 0) * rate)
local wait = 0
if tokens < 1 then wait = (1 - tokens) / rate else tokens = tokens - 1 end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(capacity / rate * 1000) + 1000)
return tostring(wait)
"""

_ATTEMPT = """
for i, key in ipairs(KEYS) do
  local count = tonumber(redis.call('GET', key)) or 0
  if count >= tonumber(ARGV[i + 1]) then
    return {i, redis.call('PTTL', key)}
  end
end
for _, key in ipairs(KEYS) do
  if redis.call('INCR', key) == 1 then redis.call('PEXPIRE', key, ARGV[1]) end
end
return {0, 0}
"""


class RedisStore(StateStore):
    backend = "redis"

    def __init__(self, url: str, *, prefix: str = "nexudus-mcp:", socket_timeout: float = 1.0) -> None:
        from redis import asyncio as aioredis
        from redis.asyncio.retry import Retry
        from redis.backoff import ExponentialBackoff
        from redis.exceptions import ConnectionError as RedisConnectionError

        # One quick retry on a broken connection: after Redis restarts, the pool's old connections
        # fail once each; the retry reconnects, so the first call after a recovery succeeds.
        self._redis: Any = aioredis.Redis.from_url(
            url,
            socket_timeout=socket_timeout,
            socket_connect_timeout=socket_timeout,
            retry=Retry(ExponentialBackoff(cap=0.1, base=0.01), 1),
            retry_on_error=[RedisConnectionError],
        )
        self._prefix = prefix
        self._release = self._redis.register_script(_RELEASE)
        self._bucket = self._redis.register_script(_BUCKET)
        self._attempt = self._redis.register_script(_ATTEMPT)

    async def _do(self, call: Any) -> Any:
        from redis.exceptions import RedisError

        try:
            return await call
        except (RedisError, OSError) as exc:
            raise StateUnavailable(f"Redis: {type(exc).__name__}") from None

    async def acquire(self, name: str, ttl: float, wait: float) -> Lease:
        owner = uuid.uuid4().hex
        key = f"{self._prefix}lock:{name}"

        async def grab() -> int | None:
            if not await self._do(self._redis.set(key, owner, nx=True, px=max(int(ttl * 1000), 1))):
                return None
            return int(await self._do(self._redis.incr(f"{self._prefix}fence:{name}")))

        return Lease(name, owner, await poll_for_lock(name, wait, grab))

    async def release(self, lease: Lease) -> None:
        await self._do(self._release(keys=[f"{self._prefix}lock:{lease.name}"], args=[lease.owner]))

    async def still_held(self, lease: Lease) -> bool:
        value = await self._do(self._redis.get(f"{self._prefix}lock:{lease.name}"))
        return value is not None and value.decode() == lease.owner

    async def take(self, bucket: str, rate: Rate) -> None:
        wait = float(
            await self._do(
                self._bucket(keys=[f"{self._prefix}bucket:{bucket}"], args=[rate.capacity, rate.refill_per_second])
            )
        )
        if wait > 0:
            raise BudgetExhausted(bucket, wait)

    async def count_attempt(self, limits: Sequence[tuple[str, int]], window: float) -> None:
        keys = [f"{self._prefix}attempts:{key}" for key, _ in limits]
        args = [max(int(window * 1000), 1), *(limit for _, limit in limits)]
        refused, ttl_ms = await self._do(self._attempt(keys=keys, args=args))
        if int(refused):
            raise AttemptsExhausted(limits[int(refused) - 1][0], max(int(ttl_ms), 1) / 1000)

    async def put(self, key: str, value: bytes, ttl: float) -> None:
        await self._do(self._redis.set(f"{self._prefix}kv:{key}", value, px=max(int(ttl * 1000), 1)))

    async def get(self, key: str) -> bytes | None:
        value = await self._do(self._redis.get(f"{self._prefix}kv:{key}"))
        return bytes(value) if value is not None else None

    async def delete(self, key: str) -> None:
        await self._do(self._redis.delete(f"{self._prefix}kv:{key}"))

    async def aclose(self) -> None:
        try:
            await self._redis.aclose()
        except Exception:
            pass
