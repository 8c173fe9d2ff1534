"""The SQLite backend: several workers on one host share a database file (NEXUDUS_MCP_STATE_DIR).

Every operation is one short `BEGIN IMMEDIATE` transaction in a worker thread, so processes
serialise on SQLite's own file lock (WAL mode; busy timeout 5 s). Locks are rows with an owner and
an expiry on the wall clock (all workers share the host's clock); an expired row is taken over. A
holder that dies releases by expiry. The file must be on a local disk: SQLite's locking is not
reliable on network file systems (use Redis across hosts).

A row this code did not write in its own form (a lock whose expiry is not a finite time within a day,
or whose owner is not one of ours; a bucket whose tokens are negative, infinite or not numbers) is
treated as absent and replaced, logged once per store (`StateStore.odd_value`). A file made by an
earlier version may hold a `fences` table (a count per lock that nothing ever read): it is neither
read, written nor dropped, so an older worker sharing the file keeps using it.
"""

from __future__ import annotations

import os
import sqlite3
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import anyio

from .base import (
    MAX_LEASE_SECONDS,
    SHARE_WINDOW_SECONDS,
    AttemptsExhausted,
    BudgetExhausted,
    Lease,
    Rate,
    StateStore,
    StateUnavailable,
    is_owner,
    poll_for_lock,
    sane_tokens,
    share_of,
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS locks (name TEXT PRIMARY KEY, owner TEXT NOT NULL, expires REAL NOT NULL);
CREATE TABLE IF NOT EXISTS buckets (name TEXT PRIMARY KEY, tokens REAL NOT NULL, at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value BLOB NOT NULL, expires REAL NOT NULL);
CREATE TABLE IF NOT EXISTS attempts (key TEXT PRIMARY KEY, count INTEGER NOT NULL, ends REAL NOT NULL);
CREATE TABLE IF NOT EXISTS shares (bucket TEXT NOT NULL, caller TEXT NOT NULL, seen REAL NOT NULL,
    PRIMARY KEY (bucket, caller));
"""


PURGE_SECONDS = 60.0  # how often a writer deletes what has expired (at most; on its next write)


def private_folder(folder: Path) -> Path:
    """The folder, created readable by its owner only (0700), or tightened to that when it is ours."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = folder.stat()
    if info.st_mode & 0o077 and info.st_uid == os.getuid():
        folder.chmod(0o700)
    return folder


def private_file(path: Path) -> None:
    """Create the file readable and writable by its owner only (0600), or tighten it to that."""
    os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
    if path.stat().st_mode & 0o077:
        path.chmod(0o600)


class SqliteStore(StateStore):
    backend = "sqlite"

    def __init__(self, directory: str | Path, *, purge_every: float = PURGE_SECONDS) -> None:
        super().__init__()
        folder = private_folder(Path(directory))
        self.path = folder / "state.sqlite3"
        private_file(self.path)  # SQLite gives its -wal and -shm files the database file's mode
        self.purge_every = purge_every
        self._purged_at = time.monotonic()
        with self.connect() as db:
            db.executescript(_SCHEMA)

    def connect(self) -> sqlite3.Connection:
        """A connection to the state file (WAL), for a caller that closes it; changes go through `run`."""
        db = sqlite3.connect(self.path, timeout=5.0, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable across process crashes, not power loss
        return db

    def _transaction(self, work: Any) -> Any:
        try:
            db = self.connect()
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

    async def run(self, work: Any) -> Any:
        """`work(db)` as one BEGIN IMMEDIATE transaction, in a worker thread: every read-then-write on
        the file is one of these (the journal's tables too). A SQLite failure is StateUnavailable."""
        return await anyio.to_thread.run_sync(self._transaction, work)

    async def acquire(self, name: str, ttl: float, wait: float) -> Lease:
        owner = uuid.uuid4().hex

        def grab(db: sqlite3.Connection) -> bool:
            now = time.time()
            db.execute("DELETE FROM locks WHERE name = ? AND expires <= ?", (name, now))
            row = db.execute("SELECT owner, expires, typeof(expires) FROM locks WHERE name = ?", (name,)).fetchone()
            if row is not None and not (
                is_owner(row[0]) and row[2] in ("real", "integer") and row[1] <= now + MAX_LEASE_SECONDS
            ):
                self.odd_value("lock")
                db.execute("DELETE FROM locks WHERE name = ?", (name,))
            granted = db.execute("INSERT OR IGNORE INTO locks VALUES (?, ?, ?)", (name, owner, now + ttl)).rowcount
            return bool(granted == 1)

        await poll_for_lock(name, wait, lambda: self.run(grab))
        return Lease(name, owner)

    async def release(self, lease: Lease) -> None:
        await self.run(
            lambda db: db.execute("DELETE FROM locks WHERE name = ? AND owner = ?", (lease.name, lease.owner))
        )

    async def still_held(self, lease: Lease) -> bool:
        def check(db: sqlite3.Connection) -> bool:
            row = db.execute("SELECT owner, expires FROM locks WHERE name = ?", (lease.name,)).fetchone()
            return row is not None and row[0] == lease.owner and row[1] > time.time()

        return bool(await self.run(check))

    async def hold(self, lease: Lease, seconds: float) -> bool:
        lease.kept = True

        def extend(db: sqlite3.Connection) -> bool:
            now = time.time()
            changed = db.execute(
                "UPDATE locks SET expires = ? WHERE name = ? AND owner = ? AND expires > ?",
                (now + seconds, lease.name, lease.owner, now),
            ).rowcount
            return bool(changed == 1)

        return bool(await self.run(extend))

    async def take(self, bucket: str, rate: Rate, *, share: str | None = None) -> float:
        def level(db: sqlite3.Connection, name: str, capacity: float, refill: float, now: float) -> float:
            row = db.execute("SELECT tokens, at FROM buckets WHERE name = ?", (name,)).fetchone()
            found = sane_tokens(row[0], row[1], now) if row is not None else None
            if row is not None and found is None:
                self.odd_value("bucket")
            tokens, at = found or (capacity, now)
            return min(capacity, tokens + max(now - at, 0.0) * refill)

        def draw(db: sqlite3.Connection) -> tuple[float, float]:
            now = time.time()
            levels = {bucket: (level(db, bucket, float(rate.capacity), rate.refill_per_second, now), rate)}
            waits = []
            tokens = levels[bucket][0]
            if tokens < 1.0:
                waits.append((1.0 - tokens) / rate.refill_per_second)
            if share is not None:
                db.execute("INSERT OR REPLACE INTO shares VALUES (?, ?, ?)", (bucket, share, now))
                db.execute("DELETE FROM shares WHERE bucket = ? AND seen < ?", (bucket, now - SHARE_WINDOW_SECONDS))
                active = int(db.execute("SELECT count(*) FROM shares WHERE bucket = ?", (bucket,)).fetchone()[0])
                capacity, refill = share_of(rate.capacity, rate.refill_per_second, active)
                mine = level(db, f"{bucket}|{share}", capacity, refill, now)
                if mine < 1.0:
                    waits.append((1.0 - mine) / refill)
                levels[f"{bucket}|{share}"] = (mine, rate)
            taken = 0.0 if waits else 1.0
            for name, (value, _) in levels.items():
                db.execute("INSERT OR REPLACE INTO buckets VALUES (?, ?, ?)", (name, value - taken, now))
            return max(waits, default=0.0), levels[bucket][0] - taken

        wait, left = await self.run(draw)
        if wait > 0:
            raise BudgetExhausted(bucket, float(wait))
        return float(left)

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

        refused = await self.run(count)
        if refused is not None:
            raise AttemptsExhausted(refused[0], refused[1])

    async def put(self, key: str, value: bytes, ttl: float) -> None:
        purge = time.monotonic() - self._purged_at >= self.purge_every
        if purge:
            self._purged_at = time.monotonic()

        def write(db: sqlite3.Connection) -> None:
            db.execute("INSERT OR REPLACE INTO kv VALUES (?, ?, ?)", (key, value, time.time() + ttl))
            if purge:
                _purge(db)

        await self.run(write)

    async def purge(self) -> int:
        self._purged_at = time.monotonic()
        return int(await self.run(_purge))

    async def incr(self, key: str, amount: int, ttl: float) -> int:
        def add(db: sqlite3.Connection) -> int:
            now = time.time()
            row = db.execute("SELECT value, expires FROM kv WHERE key = ?", (key,)).fetchone()
            current, expires = (int(row[0]), float(row[1])) if row is not None and row[1] > now else (0, now + ttl)
            db.execute("INSERT OR REPLACE INTO kv VALUES (?, ?, ?)", (key, str(current + amount).encode(), expires))
            return current + amount

        return int(await self.run(add))

    async def replace(self, key: str, value: bytes, ttl: float) -> bool:
        def update(db: sqlite3.Connection) -> bool:
            now = time.time()
            changed = db.execute(
                "UPDATE kv SET value = ?, expires = ? WHERE key = ? AND expires > ?", (value, now + ttl, key, now)
            )
            return changed.rowcount == 1

        return bool(await self.run(update))

    async def get(self, key: str) -> bytes | None:
        def read(db: sqlite3.Connection) -> bytes | None:
            row = db.execute("SELECT value, expires FROM kv WHERE key = ?", (key,)).fetchone()
            return bytes(row[0]) if row is not None and row[1] > time.time() else None

        value: bytes | None = await self.run(read)
        return value

    async def delete(self, key: str) -> None:
        await self.run(lambda db: db.execute("DELETE FROM kv WHERE key = ?", (key,)))

    async def pop(self, key: str) -> bytes | None:
        def take(db: sqlite3.Connection) -> bytes | None:
            row = db.execute("DELETE FROM kv WHERE key = ? RETURNING value, expires", (key,)).fetchone()
            return bytes(row[0]) if row is not None and row[1] > time.time() else None

        value: bytes | None = await self.run(take)
        return value


def _purge(db: sqlite3.Connection) -> int:
    """Delete expired keys and locks, and buckets untouched for a day (a full one is the same as none)."""
    now = time.time()
    deleted = db.execute("DELETE FROM kv WHERE expires <= ?", (now,)).rowcount
    deleted += db.execute("DELETE FROM locks WHERE expires <= ?", (now,)).rowcount
    deleted += db.execute("DELETE FROM buckets WHERE at <= ?", (now - 86400,)).rowcount
    deleted += db.execute("DELETE FROM attempts WHERE ends <= ?", (now,)).rowcount
    return int(deleted)
