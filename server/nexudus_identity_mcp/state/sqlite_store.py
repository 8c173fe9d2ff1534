"""The SQLite backend: several workers on one host share a database file (NEXUDUS_MCP_STATE_DIR).

Every operation is one short `BEGIN IMMEDIATE` transaction in a worker thread, so processes
serialise on SQLite's own file lock (WAL mode; busy timeout 5 s). Locks are rows with an owner and
an expiry on the wall clock (all workers share the host's clock); an expired row is taken over. A
holder that dies releases by expiry. The file must be on a local disk: SQLite's locking is not
reliable on network file systems (use Redis across hosts).
"""

from __future__ import annotations

import sqlite3
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import anyio

from .base import AttemptsExhausted, BudgetExhausted, Lease, Rate, StateStore, StateUnavailable, poll_for_lock

_SCHEMA = """
CREATE TABLE IF NOT EXISTS locks (name TEXT PRIMARY KEY, owner TEXT NOT NULL, expires REAL NOT NULL);
CREATE TABLE IF NOT EXISTS fences (name TEXT PRIMARY KEY, fence INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS buckets (name TEXT PRIMARY KEY, tokens REAL NOT NULL, at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value BLOB NOT NULL, expires REAL NOT NULL);
CREATE TABLE IF NOT EXISTS attempts (key TEXT PRIMARY KEY, count INTEGER NOT NULL, ends REAL NOT NULL);
"""


class SqliteStore(StateStore):
    backend = "sqlite"

    def __init__(self, directory: str | Path) -> None:
        folder = Path(directory)
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / "state.sqlite3"
        with self._connect() as db:
            db.executescript(_SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=5.0, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable across process crashes, not power loss
        return db

    def _transaction(self, work: Any) -> Any:
        try:
            db = self._connect()
            try:
                db.execute("BEGIN IMMEDIATE")
                result = work(db)
                db.execute("COMMIT")
                return result
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise
            finally:
                db.close()
        except sqlite3.Error as exc:
            raise StateUnavailable(f"SQLite state file {self.path}: {exc}") from None

    async def _run(self, work: Any) -> Any:
        return await anyio.to_thread.run_sync(self._transaction, work)

    async def acquire(self, name: str, ttl: float, wait: float) -> Lease:
        owner = uuid.uuid4().hex

        def grab(db: sqlite3.Connection) -> int | None:
            now = time.time()
            db.execute("DELETE FROM locks WHERE name = ? AND expires <= ?", (name, now))
            if db.execute("INSERT OR IGNORE INTO locks VALUES (?, ?, ?)", (name, owner, now + ttl)).rowcount != 1:
                return None
            db.execute("INSERT INTO fences VALUES (?, 1) ON CONFLICT(name) DO UPDATE SET fence = fence + 1", (name,))
            return int(db.execute("SELECT fence FROM fences WHERE name = ?", (name,)).fetchone()[0])

        return Lease(name, owner, await poll_for_lock(name, wait, lambda: self._run(grab)))

    async def release(self, lease: Lease) -> None:
        await self._run(
            lambda db: db.execute("DELETE FROM locks WHERE name = ? AND owner = ?", (lease.name, lease.owner))
        )

    async def still_held(self, lease: Lease) -> bool:
        def check(db: sqlite3.Connection) -> bool:
            row = db.execute("SELECT owner, expires FROM locks WHERE name = ?", (lease.name,)).fetchone()
            return row is not None and row[0] == lease.owner and row[1] > time.time()

        return bool(await self._run(check))

    async def take(self, bucket: str, rate: Rate) -> None:
        def draw(db: sqlite3.Connection) -> float:
            now = time.time()
            row = db.execute("SELECT tokens, at FROM buckets WHERE name = ?", (bucket,)).fetchone()
            tokens, at = (float(rate.capacity), now) if row is None else (float(row[0]), float(row[1]))
            tokens = min(float(rate.capacity), tokens + max(now - at, 0.0) * rate.refill_per_second)
            wait = 0.0
            if tokens < 1.0:
                wait = (1.0 - tokens) / rate.refill_per_second
            else:
                tokens -= 1.0
            db.execute("INSERT OR REPLACE INTO buckets VALUES (?, ?, ?)", (bucket, tokens, now))
            return wait

        wait = float(await self._run(draw))
        if wait > 0:
            raise BudgetExhausted(bucket, wait)

    async def count_attempt(self, limits: Sequence[tuple[str, int]], window: float) -> None:
        def count(db: sqlite3.Connection) -> tuple[str, float] | None:
            # One BEGIN IMMEDIATE transaction: no other process can count between the check and the increment.
            now = time.time()
            db.execute("DELETE FROM attempts WHERE ends <= ?", (now,))
            for key, limit in limits:
                row = db.execute("SELECT count, ends FROM attempts WHERE key = ?", (key,)).fetchone()
                if row is not None and int(row[0]) >= limit:
                    return key, float(row[1]) - now
            for key, _ in limits:
                db.execute(
                    "INSERT INTO attempts VALUES (?, 1, ?) ON CONFLICT(key) DO UPDATE SET count = count + 1",
                    (key, now + window),
                )
            return None

        refused = await self._run(count)
        if refused is not None:
            raise AttemptsExhausted(refused[0], refused[1])

    async def put(self, key: str, value: bytes, ttl: float) -> None:
        await self._run(
            lambda db: db.execute("INSERT OR REPLACE INTO kv VALUES (?, ?, ?)", (key, value, time.time() + ttl))
        )

    async def get(self, key: str) -> bytes | None:
        def read(db: sqlite3.Connection) -> bytes | None:
            row = db.execute("SELECT value, expires FROM kv WHERE key = ?", (key,)).fetchone()
            return bytes(row[0]) if row is not None and row[1] > time.time() else None

        value: bytes | None = await self._run(read)
        return value

    async def delete(self, key: str) -> None:
        await self._run(lambda db: db.execute("DELETE FROM kv WHERE key = ?", (key,)))
