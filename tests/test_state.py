"""The shared-state backends (memory, SQLite, a real Redis): locks with expiry and fencing, the token
bucket, expiring keys; and the request budget's behaviour when the store is down."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import anyio
import pytest

from nexudus_identity_mcp.nexudus import ErrorKind, NexudusError
from nexudus_identity_mcp.nexudus.budget import RequestBudget
from nexudus_identity_mcp.settings import parse_budget
from nexudus_identity_mcp.state import LockNotGranted, MemoryStore, Rate, StateStore, StateUnavailable
from nexudus_identity_mcp.state.base import AttemptsExhausted, BudgetExhausted
from nexudus_identity_mcp.state.redis_store import RedisStore
from nexudus_identity_mcp.state.sqlite_store import SqliteStore

from .conftest import settings_for
from .redis_server import RedisServer, running_redis

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    with running_redis(tmp_path_factory.mktemp("redis")) as server:
        yield server


@pytest.fixture(params=["memory", "sqlite", "redis"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[StateStore]:
    made: StateStore
    if request.param == "memory":
        made = MemoryStore()
    elif request.param == "sqlite":
        made = SqliteStore(tmp_path)
    else:
        server: RedisServer = request.getfixturevalue("redis_server")
        made = RedisStore(server.url, prefix=f"test-{tmp_path.name}:")
    yield made
    await made.aclose()


async def test_lock_excludes(store: StateStore) -> None:
    first = await store.acquire("check:1", ttl=5, wait=0)
    with pytest.raises(LockNotGranted):
        await store.acquire("check:1", ttl=5, wait=0.05)
    other = await store.acquire("check:2", ttl=5, wait=0)  # another name is independent
    assert await store.still_held(first)
    await store.release(first)
    second = await store.acquire("check:1", ttl=5, wait=0)
    assert second.owner != first.owner and await store.still_held(second)
    assert not await store.still_held(first)
    await store.release(second)
    await store.release(other)


async def test_a_waiter_gets_the_lock_when_it_is_released(store: StateStore) -> None:
    order: list[str] = []

    async def holder() -> None:
        async with store.lock("check:7", ttl=5, wait=1):
            order.append("first in")
            await anyio.sleep(0.1)
            order.append("first out")

    async def waiter() -> None:
        await anyio.sleep(0.02)
        async with store.lock("check:7", ttl=5, wait=5):
            order.append("second in")

    async with anyio.create_task_group() as tg:
        tg.start_soon(holder)
        tg.start_soon(waiter)
    assert order == ["first in", "first out", "second in"]


async def test_a_dead_holders_lock_expires(store: StateStore) -> None:
    dead = await store.acquire("check:9", ttl=0.2, wait=0)  # never released: its holder "died"
    taken = await store.acquire("check:9", ttl=5, wait=3)
    assert not await store.still_held(dead)
    await store.release(dead)  # a late release does not free the new holder's lock
    assert await store.still_held(taken)
    await store.release(taken)


async def test_bucket_allows_its_capacity_then_says_how_long_to_wait(store: StateStore) -> None:
    rate = Rate(12, 60.0)  # capacity 2, then 10 per minute
    await store.take("writes:a", rate)
    await store.take("writes:a", rate)
    with pytest.raises(BudgetExhausted) as empty:
        await store.take("writes:a", rate)
    assert 0 < empty.value.retry_after <= 60 / 10 + 0.5
    await store.take("writes:b", rate)  # another bucket is independent


async def test_attempts_count_against_every_limit_or_none(store: StateStore) -> None:
    limits = [("caller:ana", 3), ("check:1", 2)]
    await store.count_attempt(limits, window=600)
    await store.count_attempt(limits, window=600)
    with pytest.raises(AttemptsExhausted) as full:
        await store.count_attempt(limits, window=600)
    assert full.value.key == "check:1" and 590 < full.value.retry_after <= 600
    # The refused attempt counted against nothing: the caller has one left, for another check.
    await store.count_attempt([("caller:ana", 3), ("check:2", 2)], window=600)
    with pytest.raises(AttemptsExhausted) as caller_full:
        await store.count_attempt([("caller:ana", 3), ("check:3", 2)], window=600)
    assert caller_full.value.key == "caller:ana"
    await store.count_attempt([("caller:ben", 3), ("check:2", 2)], window=600)  # check 2's second try
    with pytest.raises(AttemptsExhausted):
        await store.count_attempt([("caller:ben", 3), ("check:2", 2)], window=600)


async def test_a_dozen_attempts_at_once_get_exactly_the_limit(store: StateStore, tmp_path: Path) -> None:
    """Twelve parallel attempts against a limit of five: five are counted, seven refused, whatever the
    interleaving. SQLite is hit through two stores on one file, as two worker processes do."""
    stores = [store, SqliteStore(tmp_path)] if store.backend == "sqlite" else [store]
    outcomes: list[bool] = []

    async def attempt(n: int) -> None:
        try:
            await stores[n % len(stores)].count_attempt([("check:12", 5), (f"caller:{n % 3}", 12)], window=600)
            outcomes.append(True)
        except AttemptsExhausted:
            outcomes.append(False)

    with anyio.fail_after(30):
        async with anyio.create_task_group() as tg:
            for n in range(12):
                tg.start_soon(attempt, n)
    assert sorted(outcomes) == [False] * 7 + [True] * 5


@pytest.mark.slow  # waits on real time (a fraction of a second)
async def test_an_attempt_window_ends(store: StateStore) -> None:
    await store.count_attempt([("check:5", 1)], window=0.2)
    with pytest.raises(AttemptsExhausted):
        await store.count_attempt([("check:5", 1)], window=0.2)
    await anyio.sleep(0.3)
    await store.count_attempt([("check:5", 1)], window=0.2)


@pytest.mark.slow  # waits on real time or a loopback server (seconds)
async def test_expiring_keys(store: StateStore) -> None:
    await store.put("grant:x", b"value", ttl=0.2)
    assert await store.get("grant:x") == b"value"
    await anyio.sleep(0.3)
    assert await store.get("grant:x") is None
    await store.put("grant:y", b"v", ttl=10)
    await store.delete("grant:y")
    assert await store.get("grant:y") is None


def test_rate_never_exceeds_its_window() -> None:
    for count, seconds in ((60, 60.0), (2500, 86400.0), (6, 6.0), (1, 1.0)):
        rate = Rate(count, seconds)
        assert rate.capacity + rate.refill_per_second * seconds <= count + 1e-9 or count == 1
    assert Rate.parse("60/min") == Rate(60, 60.0)
    assert Rate.parse("off") is None
    with pytest.raises(ValueError, match="not a rate"):
        Rate.parse("sixty")


async def test_redis_down_refuses_writes_and_lets_reads_through(tmp_path: Path) -> None:
    dead = RedisStore("redis://127.0.0.1:1/0", socket_timeout=0.2)  # nothing listens on port 1
    with pytest.raises(StateUnavailable):
        await dead.acquire("check:1", ttl=1, wait=0)
    budget = RequestBudget(dead, settings_for(mcp_redis_url="redis://127.0.0.1:1/0"))
    await budget.before("get", deadline=anyio.current_time() + 5)  # a read goes ahead
    with pytest.raises(NexudusError) as refused:
        await budget.before("update", deadline=anyio.current_time() + 5)
    assert refused.value.kind == ErrorKind.UPSTREAM_UNAVAILABLE and "redis" in refused.value.message
    await dead.aclose()


async def test_budget_answers_rate_limited_when_the_wait_passes_the_deadline() -> None:
    budget = RequestBudget(MemoryStore(), settings_for(mcp_write_budget="1/60"))
    await budget.before("update", deadline=anyio.current_time() + 5)
    with pytest.raises(NexudusError) as limited:
        await budget.before("update", deadline=anyio.current_time() + 5)
    assert limited.value.kind == ErrorKind.RATE_LIMITED and limited.value.retry_after
    assert "nothing was sent" in limited.value.message


# ------------------------------------------------------------------ issue 22: held leases, single use, fair share
async def test_a_held_lease_outlives_its_holder_and_ends_by_expiry(store: StateStore) -> None:
    """A write whose outcome is unknown keeps the check's lock: leaving the `lock` block does not
    release a held lease; the next writer gets it only when the hold expires."""
    async with store.lock("check:11", ttl=5, wait=0) as lease:
        assert await store.hold(lease, 0.3)
    assert await store.still_held(lease)
    with pytest.raises(LockNotGranted):
        await store.acquire("check:11", ttl=5, wait=0.05)
    after = await store.acquire("check:11", ttl=5, wait=3)  # granted once the hold has expired
    assert not await store.still_held(lease)
    assert not await store.hold(lease, 5), "a lease lost to expiry cannot be held again"
    await store.release(after)


async def test_pop_is_single_use_under_concurrency(store: StateStore) -> None:
    await store.put("confirm:x", b"state", ttl=30)
    got: list[bytes | None] = []

    async def one() -> None:
        got.append(await store.pop("confirm:x"))

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            for _ in range(12):
                tg.start_soon(one)
    assert sorted(got, key=lambda v: v is None) == [b"state"] + [None] * 11
    assert await store.get("confirm:x") is None


async def test_a_busy_caller_gets_only_its_share_of_a_shared_bucket(store: StateStore) -> None:
    """Two callers share one account's bucket (capacity 10): the busy one is refused after its half,
    while the other still gets tokens. Without shares, the busy one drains the bucket for both."""
    rate = Rate(60, 60.0)  # capacity 10
    await store.take("reads:acct", rate, share="quiet")
    granted = 0
    for _ in range(10):
        try:
            await store.take("reads:acct", rate, share="busy")
            granted += 1
        except BudgetExhausted:
            break
    assert granted == 5
    await store.take("reads:acct", rate, share="quiet")  # not starved
    # The same without shares: one caller takes what is left of the whole bucket.
    drained = 0
    for _ in range(12):
        try:
            await store.take("reads:other", rate)
            drained += 1
        except BudgetExhausted:
            break
    assert drained == 10


# ------------------------------------------------------------------ issue 22 item 8: a poisoned store
def _poison_redis(url: str, prefix: str) -> None:
    """Values under our keys that this server never writes in this form, put there by hand."""
    import redis

    raw = redis.Redis.from_url(url)
    raw.set(f"{prefix}lock:check:1", "held-forever")  # no TTL, not an owner
    raw.hset(f"{prefix}lock:check:2", "a", "b")  # another type
    raw.set(f"{prefix}lock:check:3", "0" * 32)  # looks like an owner, but no TTL
    raw.hset(f"{prefix}bucket:reads:a", mapping={"tokens": "-1e308", "at": "1"})
    raw.hset(f"{prefix}bucket:reads:b", mapping={"tokens": "-inf", "at": "1"})
    raw.hset(f"{prefix}bucket:reads:c", mapping={"tokens": "nan", "at": "nan"})
    raw.hset(f"{prefix}bucket:reads:d", mapping={"tokens": "5", "at": "99999999999"})  # far in the future
    raw.set(f"{prefix}bucket:reads:e", "a string")
    raw.hset(f"{prefix}kv:grant:x", "a", "b")
    raw.close()


def _poison_sqlite(store: SqliteStore) -> None:
    import sqlite3

    db = sqlite3.connect(store.path, isolation_level=None)
    db.execute("INSERT INTO locks VALUES ('check:1', 'held-forever', 1e308)")
    db.execute("INSERT INTO locks VALUES ('check:2', ?, 'never')", ("0" * 32,))
    db.execute("INSERT INTO locks VALUES ('check:3', ?, 9e15)", ("0" * 32,))
    db.execute("INSERT INTO buckets VALUES ('reads:a', -1e308, 1)")
    db.execute("INSERT INTO buckets VALUES ('reads:b', '-inf', 1)")
    db.execute("INSERT INTO buckets VALUES ('reads:c', 'nan', 'nan')")
    db.execute("INSERT INTO buckets VALUES ('reads:d', 5, 99999999999)")
    db.execute("INSERT INTO buckets VALUES ('reads:e', 'a string', 'x')")
    db.close()


@pytest.mark.parametrize("backend", ["sqlite", "redis"])
async def test_values_the_store_did_not_write_are_treated_as_absent_and_logged_once(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Before: each of these meant a permanent outage (`busy` for ever, "Retry after 1199… s", or
    "the store cannot be reached"). Now each is replaced on first use, and said once in the log."""
    caplog.set_level("WARNING", logger="nexudus_identity_mcp.state")
    store: StateStore
    if backend == "sqlite":
        store = SqliteStore(tmp_path)
        _poison_sqlite(store)
    else:
        server: RedisServer = request.getfixturevalue("redis_server")
        prefix = f"poison-{tmp_path.name}:"
        _poison_redis(server.url, prefix)
        store = RedisStore(server.url, prefix=prefix)
    try:
        with anyio.fail_after(10):
            leases = [await store.acquire(f"check:{n}", ttl=5, wait=0) for n in (1, 2, 3)]
            assert [await store.still_held(lease) for lease in leases] == [True] * 3
            rate = Rate(120, 60.0)
            for bucket in "abcde":
                await store.take(f"reads:{bucket}", rate)  # a full bucket, not an endless wait
            if backend == "redis":
                assert await store.get("grant:x") is None
                assert await store.pop("grant:x") is None
    finally:
        await store.aclose()
    said = [r.getMessage() for r in caplog.records if r.name == "nexudus_identity_mcp.state"]
    kinds = ["lock", "bucket"] + (["key"] if backend == "redis" else [])
    for kind in kinds:
        assert sum(f"a {kind} value" in line for line in said) == 1, said
    assert not any("held-forever" in line or "1e308" in line for line in said)


@pytest.mark.parametrize("backend", ["sqlite", "redis"])
async def test_a_store_an_earlier_version_wrote_fences_in_still_works(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """Earlier versions kept a fence count per lock (SQLite's `fences` table, Redis `fence:<name>`
    keys) that nothing read. A store holding them works as before, and they are left as they are
    (an older worker sharing the store still uses them)."""
    import sqlite3

    store: StateStore
    if backend == "sqlite":
        db = sqlite3.connect(tmp_path / "state.sqlite3", isolation_level=None)
        db.execute("CREATE TABLE fences (name TEXT PRIMARY KEY, fence INTEGER NOT NULL)")
        db.execute("INSERT INTO fences VALUES ('check:4', 7)")
        db.execute("CREATE TABLE locks (name TEXT PRIMARY KEY, owner TEXT NOT NULL, expires REAL NOT NULL)")
        db.close()
        store = SqliteStore(tmp_path)
    else:
        import redis

        server: RedisServer = request.getfixturevalue("redis_server")
        prefix = f"old-{tmp_path.name}:"
        raw = redis.Redis.from_url(server.url)
        raw.set(f"{prefix}fence:check:4", "7")
        raw.close()
        store = RedisStore(server.url, prefix=prefix)
    try:
        with anyio.fail_after(10):
            lease = await store.acquire("check:4", ttl=5, wait=0)
            with pytest.raises(LockNotGranted):
                await store.acquire("check:4", ttl=5, wait=0.05)
            await store.release(lease)
            await store.release(await store.acquire("check:4", ttl=5, wait=0))
    finally:
        await store.aclose()
    if backend == "sqlite":
        db = sqlite3.connect(tmp_path / "state.sqlite3", isolation_level=None)
        assert db.execute("SELECT name, fence FROM fences").fetchall() == [("check:4", 7)]
        db.close()
    else:
        raw = redis.Redis.from_url(server.url)
        assert raw.get(f"{prefix}fence:check:4") == b"7"
        raw.close()


# ------------------------------------------------------------ atomic steps (#23): one winner under concurrency
async def test_incr_reserves_exactly_under_concurrency(store: StateStore) -> None:
    seen: list[int] = []

    async def reserve() -> None:
        seen.append(await store.incr("attempts:ben", 1, 60))

    with anyio.fail_after(30):
        async with anyio.create_task_group() as group:
            for _ in range(40):
                group.start_soon(reserve)
    assert sorted(seen) == list(range(1, 41))  # every caller got its own number: no two passed as the 5th
    assert await store.incr("attempts:ben", -1, 60) == 39
    await store.put("attempts:short", b"3", 0.05)
    await anyio.sleep(0.1)
    assert await store.incr("attempts:short", 1, 60) == 1  # an expired window starts again


async def test_replace_never_brings_back_a_deleted_key(store: StateStore) -> None:
    assert not await store.replace("grant:g", b"new", 60)
    assert await store.get("grant:g") is None
    await store.put("grant:g", b"old", 60)
    assert await store.replace("grant:g", b"new", 60)
    assert await store.get("grant:g") == b"new"
    await store.delete("grant:g")
    assert not await store.replace("grant:g", b"newer", 60)
    assert await store.get("grant:g") is None


async def test_purge_deletes_only_what_has_expired(store: StateStore) -> None:
    await store.put("gone", b"x", 0.01)
    await store.put("kept", b"y", 60)
    await anyio.sleep(0.05)
    await store.purge()
    assert await store.get("kept") == b"y" and await store.get("gone") is None


# ------------------------------------------------------------------ issue 24 item 4: the newer limits table
def test_the_default_budgets_follow_the_newer_limits_table(tmp_path: Path) -> None:
    writes, requests = settings_for(mcp_state_dir=str(tmp_path)).request_budgets()
    assert writes == (Rate(60, 60.0), Rate(5000, 86400.0))  # 60 writes a minute, 5,000 a day
    assert requests == (Rate(1, 0.1), Rate(120, 60.0), Rate(5000, 3600.0))  # 1 per 100 ms, 120/min, 5,000/h
    assert settings_for().request_budgets() == ((), ())  # one process: none (the API's 409 is waited on)
    assert parse_budget("60/min, 5000/day") == (Rate(60, 60.0), Rate(5000, 86400.0))
    assert parse_budget("1/100ms") == (Rate(1, 0.1),) and parse_budget("off") == ()
    assert Rate.parse("10/2h") == Rate(10, 7200.0) and Rate.parse("60") == Rate(60, 60.0)
    for bad in ("60/fortnight", "60/2x", "x/min", "60/.", "5/2day"):
        with pytest.raises(ValueError, match="not a rate"):
            parse_budget(bad)


async def test_a_write_draws_on_both_budgets_and_a_spent_day_refuses_it() -> None:
    store = MemoryStore()
    budget = RequestBudget(store, settings_for(mcp_write_budget="60/min,12/day", mcp_read_budget="100/min"))
    for _ in range(2):
        await budget.before("update", deadline=anyio.current_time() + 5)
    with pytest.raises(NexudusError) as spent:
        await budget.before("update", deadline=anyio.current_time() + 5)
    assert spent.value.kind == ErrorKind.RATE_LIMITED and "12 writes per 86400 s" in spent.value.message
    await budget.before("get", deadline=anyio.current_time() + 5)  # reads have their own budget left
    # Every request counted against the request budget: two writes and a read, none of the refused one.
    levels = store.levels()
    assert levels[next(k for k in levels if k.startswith("requests:100/60:"))] == pytest.approx(
        Rate(100, 60.0).capacity - 3, abs=0.1
    )


async def test_a_dozen_acquires_at_once_grant_the_lock_once(store: StateStore, tmp_path: Path) -> None:
    """Twelve parallel acquires of one check's lock (no waiting): exactly one lease, whatever the
    interleaving; SQLite through two stores on one file, as two workers. The lease is its name and
    owner since the fence tokens went (#31)."""
    stores = [store, SqliteStore(tmp_path)] if store.backend == "sqlite" else [store]
    granted: list[object] = []

    async def attempt(n: int) -> None:
        try:
            granted.append(await stores[n % len(stores)].acquire("check:99", ttl=30, wait=0))
        except LockNotGranted:
            pass

    with anyio.fail_after(30):
        async with anyio.create_task_group() as tg:
            for n in range(12):
                tg.start_soon(attempt, n)
    assert len(granted) == 1


async def test_a_dozen_draws_at_once_take_exactly_the_burst(store: StateStore, tmp_path: Path) -> None:
    """Twelve parallel draws on a bucket of five (30 an hour: the refill is negligible here): five
    tokens, seven refusals, and the tokens left that the draws report are each a different count."""
    stores = [store, SqliteStore(tmp_path)] if store.backend == "sqlite" else [store]
    left: list[float] = []
    refused = 0

    async def draw(n: int) -> None:
        nonlocal refused
        try:
            left.append(await stores[n % len(stores)].take("budget:dozen", Rate(30, 3600)))
        except BudgetExhausted:
            refused += 1

    with anyio.fail_after(30):
        async with anyio.create_task_group() as tg:
            for n in range(12):
                tg.start_soon(draw, n)
    assert len(left) == 5 and refused == 7
    assert sorted(round(x) for x in left) == [0, 1, 2, 3, 4]
