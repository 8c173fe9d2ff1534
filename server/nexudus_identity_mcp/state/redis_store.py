"""The Redis backend (NEXUDUS_MCP_REDIS_URL; Valkey works the same), for several hosts.

Only Redis's own primitives, each check-and-change one Lua script, each with its failure mode:
- Lock: a script that sets `lock:<name>` to a fresh owner with an expiry (PX) when it is free;
  release, "still held" and `hold` compare the owner in one script, so a late release never frees
  a lock another holder got after expiry. If the holder dies, the key
  expires after ttl. If Redis loses the key (failover without persistence), two holders can overlap:
  the server re-reads the record after each PUT and reports a conflict if another writer's change is lost.
- Budget: a token bucket in one Lua script using Redis's own clock (`TIME`), so every process draws
  from the same bucket whatever its own clock says; with a share, the callers active in the last
  minute (a sorted set) each get an equal part of it, taken in the same script.
- Attempt counters: one Lua script checks every counter and increments them all, or none (the first
  increment of a window sets its expiry), so no other process counts in between.
- Expiring keys: `SET … PX`; single use: `GETDEL`.
A value under our keys that this code did not write in its own form (a lock key without an expiry, of
another type or with a foreign owner; a bucket of another type or with a negative, infinite or
non-numeric count) is treated as absent by the scripts themselves and replaced; the script says so
and the store logs it once. `fence:<name>` keys left by an earlier version (a count per lock that
nothing ever read) are neither read, written nor deleted, so an older worker sharing the Redis keeps
using them. A connection or command failure raises
StateUnavailable within the socket timeout (1 s by default), and the next command reconnects by
itself when Redis is back.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from .base import (
    MAX_LEASE_SECONDS,
    SHARE_WINDOW_SECONDS,
    AttemptsExhausted,
    BudgetExhausted,
    Lease,
    Rate,
    StateStore,
    StateUnavailable,
    poll_for_lock,
)

# A lock key is ours when it is a string of 32 hex digits with an expiry of at most MAX_LEASE_SECONDS.
_OURS = """
local function ours(key, maxttl)
  local kind = redis.call('TYPE', key)['ok']
  if kind == 'none' then return 'none' end
  if kind == 'string' then
    local pttl = redis.call('PTTL', key)
    local value = redis.call('GET', key)
    if pttl > 0 and pttl <= maxttl and string.len(value) == 32 and string.match(value, '^[0-9a-f]+$') then
      return value
    end
  end
  redis.call('DEL', key)
  return 'odd'
end
"""
_ACQUIRE = (
    _OURS
    + """
local odd = ''
local holder = ours(KEYS[1], tonumber(ARGV[3]))
if holder == 'odd' then odd = 'lock' elseif holder ~= 'none' then return {0, ''} end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return {1, odd}
"""
)
_RELEASE = (
    _OURS
    + """
if ours(KEYS[1], tonumber(ARGV[2])) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
)
_HELD = (
    _OURS
    + """
if ours(KEYS[1], tonumber(ARGV[2])) == ARGV[1] then return 1 end
return 0
"""
)
_HOLD = (
    _OURS
    + """
if ours(KEYS[1], tonumber(ARGV[2])) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
return 0
"""
)
# KEYS: the bucket, the caller's part, the set of active callers. ARGV: capacity, refill per second,
# the caller ('' for none), the share window. Returns {wait, odd}.
_BUCKET = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local odd = ''
local function level(key, capacity, rate)
  local kind = redis.call('TYPE', key)['ok']
  local tokens, at = nil, nil
  if kind == 'hash' then
    local data = redis.call('HMGET', key, 'tokens', 'at')
    tokens, at = tonumber(data[1]), tonumber(data[2])
    if (data[1] or data[2]) and (tokens == nil or at == nil or tokens ~= tokens or at ~= at
        or tokens < 0 or tokens == math.huge or at > now + 5 or at < 0) then
      tokens, at, odd = nil, nil, 'bucket'
    end
  elseif kind ~= 'none' then
    redis.call('DEL', key)
    odd = 'bucket'
  end
  tokens = tokens or capacity
  at = at or now
  return math.min(capacity, tokens + math.max(now - at, 0) * rate)
end
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local keys = {KEYS[1]}
local levels = {level(KEYS[1], capacity, rate)}
local wait = 0
if levels[1] < 1 then wait = (1 - levels[1]) / rate end
local lifetime = math.ceil(capacity / rate * 1000) + 1000
if ARGV[3] ~= '' then
  if redis.call('TYPE', KEYS[3])['ok'] ~= 'zset' then redis.call('DEL', KEYS[3]) end
  redis.call('ZADD', KEYS[3], now, ARGV[3])
  redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now - tonumber(ARGV[4]))
  redis.call('PEXPIRE', KEYS[3], math.ceil(tonumber(ARGV[4]) * 1000) + 1000)
  local active = redis.call('ZCARD', KEYS[3])
  local mine_capacity = math.max(capacity / active, 1)
  local mine_rate = rate / active
  keys[2] = KEYS[2]
  levels[2] = level(KEYS[2], mine_capacity, mine_rate)
  if levels[2] < 1 then wait = math.max(wait, (1 - levels[2]) / mine_rate) end
end
local left = 0
for i, key in ipairs(keys) do
  local tokens = levels[i]
  if wait == 0 then tokens = tokens - 1 end
  if redis.call('TYPE', key)['ok'] ~= 'hash' then redis.call('DEL', key) end
  redis.call('HSET', key, 'tokens', tostring(tokens), 'at', tostring(now))
  redis.call('PEXPIRE', key, lifetime)
  if i == 1 then left = tokens end
end
return {tostring(wait), odd, tostring(left)}
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


_INCR = """
local value = redis.call('INCRBY', KEYS[1], ARGV[1])
if redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return value
"""


class RedisStore(StateStore):
    backend = "redis"

    def __init__(self, url: str, *, prefix: str = "nexudus-mcp:", socket_timeout: float = 1.0) -> None:
        super().__init__()
        from redis import asyncio as aioredis
        from redis.asyncio.retry import Retry
        from redis.backoff import ExponentialBackoff
        from redis.exceptions import ConnectionError as RedisConnectionError

        # One quick retry on a broken connection: after Redis restarts, the pool's old connections
        # fail once each; the retry reconnects, so the first call after a recovery succeeds.
        self.redis: Any = aioredis.Redis.from_url(
            url,
            socket_timeout=socket_timeout,
            socket_connect_timeout=socket_timeout,
            retry=Retry(ExponentialBackoff(cap=0.1, base=0.01), 1),
            retry_on_error=[RedisConnectionError],
        )
        self.prefix = prefix
        self._acquire = self.redis.register_script(_ACQUIRE)
        self._release = self.redis.register_script(_RELEASE)
        self._held = self.redis.register_script(_HELD)
        self._hold = self.redis.register_script(_HOLD)
        self._bucket = self.redis.register_script(_BUCKET)
        self._incr = self.redis.register_script(_INCR)
        self._attempt = self.redis.register_script(_ATTEMPT)
        self._max_ttl = int(MAX_LEASE_SECONDS * 1000)

    async def do(self, call: Any) -> Any:
        """Await one Redis call or script (`self.redis`, keys under `self.prefix`); a Redis failure is
        StateUnavailable. The journal's scripts go through it too."""
        from redis.exceptions import RedisError

        try:
            return await call
        except (RedisError, OSError) as exc:
            raise StateUnavailable(f"Redis: {type(exc).__name__}") from None

    def _odd(self, said: Any) -> None:
        text = said.decode() if isinstance(said, bytes) else str(said or "")
        for kind in text.split():
            self.odd_value(kind)

    def _lock_key(self, name: str) -> str:
        return f"{self.prefix}lock:{name}"

    async def acquire(self, name: str, ttl: float, wait: float) -> Lease:
        owner = uuid.uuid4().hex
        keys = [self._lock_key(name)]

        async def grab() -> bool:
            granted, odd = await self.do(self._acquire(keys=keys, args=[owner, max(int(ttl * 1000), 1), self._max_ttl]))
            self._odd(odd)
            return int(granted) == 1

        await poll_for_lock(name, wait, grab)
        return Lease(name, owner)

    async def release(self, lease: Lease) -> None:
        await self.do(self._release(keys=[self._lock_key(lease.name)], args=[lease.owner, self._max_ttl]))

    async def still_held(self, lease: Lease) -> bool:
        return bool(await self.do(self._held(keys=[self._lock_key(lease.name)], args=[lease.owner, self._max_ttl])))

    async def hold(self, lease: Lease, seconds: float) -> bool:
        lease.kept = True
        kept = await self.do(
            self._hold(
                keys=[self._lock_key(lease.name)], args=[lease.owner, self._max_ttl, max(int(seconds * 1000), 1)]
            )
        )
        return bool(kept)

    async def take(self, bucket: str, rate: Rate, *, share: str | None = None) -> float:
        base = f"{self.prefix}bucket:{bucket}"
        wait, odd, left = await self.do(
            self._bucket(
                keys=[base, f"{base}|{share or ''}", f"{base}|active"],
                args=[rate.capacity, rate.refill_per_second, share or "", SHARE_WINDOW_SECONDS],
            )
        )
        self._odd(odd)
        if float(wait) > 0:
            raise BudgetExhausted(bucket, float(wait))
        return float(left)

    async def count_attempt(self, limits: Sequence[tuple[str, int]], window: float) -> None:
        keys = [f"{self.prefix}attempts:{key}" for key, _ in limits]
        args = [max(int(window * 1000), 1), *(limit for _, limit in limits)]
        refused, ttl_ms = await self.do(self._attempt(keys=keys, args=args))
        if int(refused):
            raise AttemptsExhausted(limits[int(refused) - 1][0], max(int(ttl_ms), 1) / 1000)

    async def put(self, key: str, value: bytes, ttl: float) -> None:
        await self.do(self.redis.set(f"{self.prefix}kv:{key}", value, px=max(int(ttl * 1000), 1)))

    async def get(self, key: str) -> bytes | None:
        return await self._read(key, self.redis.get)

    async def delete(self, key: str) -> None:
        await self.do(self.redis.delete(f"{self.prefix}kv:{key}"))

    async def pop(self, key: str) -> bytes | None:
        return await self._read(key, self.redis.getdel)

    async def incr(self, key: str, amount: int, ttl: float) -> int:
        return int(await self.do(self._incr(keys=[f"{self.prefix}kv:{key}"], args=[amount, max(int(ttl * 1000), 1)])))

    async def replace(self, key: str, value: bytes, ttl: float) -> bool:
        done = await self.do(self.redis.set(f"{self.prefix}kv:{key}", value, px=max(int(ttl * 1000), 1), xx=True))
        return bool(done)

    async def _read(self, key: str, command: Any) -> bytes | None:
        """GET or GETDEL of a kv key; a key of another type (not written here) is absent, and removed."""
        from redis.exceptions import RedisError, ResponseError

        full = f"{self.prefix}kv:{key}"
        try:
            value = await command(full)
        except (RedisError, OSError) as exc:
            if not (isinstance(exc, ResponseError) and "WRONGTYPE" in str(exc)):
                raise StateUnavailable(f"Redis: {type(exc).__name__}") from None
            self.odd_value("key")
            await self.do(self.redis.delete(full))
            return None
        return bytes(value) if value is not None else None

    async def aclose(self) -> None:
        try:
            await self.redis.aclose()
        except Exception:
            pass
