"""Benchmark: the cost per update of the shared state (per-check lock + write-budget token) by
backend, side by side in one run: in-process memory, SQLite (one host), Redis on loopback.

    python bench/state_bench.py [--calls 2000]

Needs redis-server on PATH for the Redis column (Debian's package); prints medians and p99 in ms and
the ratio to the in-process lock. Target: Redis under 1 ms per update on loopback.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.redis_server import RedisServer

from nexudus_identity_mcp.state import MemoryStore, Rate, StateStore
from nexudus_identity_mcp.state.redis_store import RedisStore
from nexudus_identity_mcp.state.sqlite_store import SqliteStore

RATE = Rate(10**9, 1.0)  # never empty: measure the round trips, not waits


async def per_update(store: StateStore, calls: int) -> list[float]:
    times: list[float] = []
    for n in range(calls):
        started = time.perf_counter()
        async with store.lock(f"check:{n % 12}", ttl=30, wait=5) as lease:
            await store.take("writes:bench", RATE)
            await store.still_held(lease)
        times.append((time.perf_counter() - started) * 1000)
    await store.aclose()
    return times


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=2000)
    args = parser.parse_args()
    rows: list[tuple[str, float, float]] = []
    with tempfile.TemporaryDirectory() as folder:
        stores: list[tuple[str, StateStore]] = [("memory", MemoryStore()), ("sqlite", SqliteStore(folder))]
        redis = RedisServer(Path(folder))
        redis.start()
        try:
            stores.append(("redis", RedisStore(redis.url)))
            for name, store in stores:
                times = sorted(anyio.run(per_update, store, args.calls))
                rows.append((name, statistics.median(times), times[int(len(times) * 0.99) - 1]))
        finally:
            redis.stop()
    base = rows[0][1]
    print("per update: lock + budget token + still-held check")
    print(f"{'backend':8}  {'median ms':>10}  {'p99 ms':>8}  {'vs memory':>9}")
    for name, median, p99 in rows:
        print(f"{name:8}  {median:10.3f}  {p99:8.3f}  {median / base:8.1f}x")
    redis_median = rows[-1][1]
    print(f"\nRedis per update: {redis_median:.3f} ms (target < 1 ms) on {args.calls} calls")
    return 0 if redis_median < 1.0 else 1


if __name__ == "__main__":
    sys.exit(main())
