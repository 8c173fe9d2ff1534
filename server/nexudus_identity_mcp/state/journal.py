"""The journal: one entry per write this server makes (an update, a command on one check, an undo),
kept in the state store beside the locks, so every worker and host sharing the store writes to and
reads from the same journal, and it survives a restart with SQLite and Redis.

An entry says when, who (the client's name, or the signed-in staff member), which check and member,
which tool, each changed field's value before and after, the outcome (`written`, `conflict`,
`outcome_unknown`, `declined`) and the read-back verdict (`verified`, `changed`, `not_read`). Only
what a filter needs is kept in clear (time, who, check and member Ids, tool, outcome, field names,
a command's Key); every value (each field's before and after, the check's and member's names, a
command's parameters) is sealed with a key derived from the server's key (state/keys.py), so a copy
of the store without the key holds no identity-document number. With no key (Redis and no
NEXUDUS_MCP_SECRET) the values are not kept at all: the entry names the fields only.

Each backend does each step in one atomic operation: an append is one SQLite `BEGIN IMMEDIATE`
transaction or one Redis Lua script that also drops the entries past the retention time and past
the size bound (oldest first); the retention purge alone is the same, without the append. Entry Ids
(`Seq`) come from the store (AUTOINCREMENT, Redis INCR), so they are unique across processes and
never reused after a trim. Reading is newest first, a page at a time, with a cursor (`before`).
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from cryptography.fernet import Fernet, InvalidToken

from ..settings import Settings
from .base import StateStore
from .keys import fernet_for, server_secret

if TYPE_CHECKING:  # imported where used: the redis package is an extra
    from .redis_store import RedisStore
    from .sqlite_store import SqliteStore

OUTCOMES = ("written", "conflict", "outcome_unknown", "declined")
READ_BACKS = ("verified", "changed", "not_read")
DAY = 86400.0
# Redis: entries looked at per round trip while filtering a page (the size bound bounds the total).
SCAN_BATCH = 200
# Hosts' clocks may differ: a scan by Seq stops this far past the oldest time it was asked for.
CLOCK_SKEW = 3600.0


@dataclass(frozen=True)
class JournalEntry:
    who: str
    tool: str
    check_id: int
    outcome: str
    read_back: str
    # [{"Field", "From", "To"}], values as the API holds them (enum codes, full texts): sealed at rest.
    changes: list[dict[str, Any]] = field(default_factory=list)
    coworker_id: int | None = None
    # The check's Name and the member's name, a command's parameters: sealed at rest.
    labels: dict[str, Any] = field(default_factory=dict)
    command: str | None = None  # a command's Key (the tool ran a command)
    undo_of: int | None = None  # the Seq of the entry this one reverted
    at: float = 0.0  # seconds since the epoch; 0: now, when appended
    seq: int = 0  # given by the store on append
    values_kept: bool = True  # False: written without a key, or sealed under another key

    @property
    def fields(self) -> list[str]:
        return [str(c.get("Field")) for c in self.changes]


@dataclass(frozen=True)
class Query:
    check_id: int | None = None
    coworker_id: int | None = None
    who: str | None = None
    since: float | None = None  # seconds since the epoch
    before: int | None = None  # a Seq: entries older than it (the next page)

    def matches(self, meta: dict[str, Any]) -> bool:
        return (
            (self.check_id is None or meta.get("check") == self.check_id)
            and (self.coworker_id is None or meta.get("member") == self.coworker_id)
            and (self.who is None or str(meta.get("who", "")).lower() == self.who.lower())
            and (self.since is None or float(meta.get("at", 0)) >= self.since)
        )


class Journal:
    """Appends and reads entries in one store, sealing their values under the server's key."""

    def __init__(self, store: StateStore, secret: str | None, *, keep_days: float = 30.0, max_entries: int = 100_000):
        self.store = store
        self.keep_seconds = keep_days * DAY
        self.max_entries = max_entries
        self._fernet: Fernet | None = fernet_for(secret, "journal") if secret else None
        self._rows = _rows_for(store)

    @property
    def enabled(self) -> bool:
        return self.keep_seconds > 0

    @property
    def keeps_values(self) -> bool:
        return self._fernet is not None

    def _cutoff(self) -> float:
        return time.time() - self.keep_seconds

    async def append(self, entry: JournalEntry) -> JournalEntry:
        """Store the entry (and drop what retention and the size bound leave out, in the same step)."""
        if not self.enabled:
            return entry
        at = entry.at or time.time()
        seq = await self._rows.append(self._encode(entry, at), at, self._cutoff(), self.max_entries)
        return replace(entry, at=at, seq=seq, values_kept=self.keeps_values)

    async def page(self, query: Query, limit: int) -> tuple[list[JournalEntry], int | None]:
        """Up to `limit` entries, newest first, and the cursor of the next page (None: no more)."""
        if not self.enabled:
            return [], None
        rows = await self._rows.select(query, self._cutoff(), limit + 1)
        entries = [self._decode(seq, raw) for seq, raw in rows[:limit]]
        return entries, (entries[-1].seq if len(rows) > limit and entries else None)

    async def get(self, seq: int) -> JournalEntry | None:
        if not self.enabled:
            return None
        raw = await self._rows.get(seq, self._cutoff())
        return self._decode(seq, raw) if raw is not None else None

    async def purge(self) -> int:
        """Drop every entry older than the retention time; how many went."""
        return await self._rows.purge(self._cutoff()) if self.enabled else 0

    # ------------------------------------------------------------------ the stored form
    def _encode(self, entry: JournalEntry, at: float) -> bytes:
        sealed = None
        if self._fernet is not None:
            values = {"changes": entry.changes, "labels": entry.labels}
            sealed = self._fernet.encrypt(json.dumps(values, default=str).encode()).decode()
        meta = {
            "v": 1,
            "at": at,
            "who": entry.who,
            "tool": entry.tool,
            "check": entry.check_id,
            "member": entry.coworker_id,
            "outcome": entry.outcome,
            "read_back": entry.read_back,
            "fields": entry.fields,
            "command": entry.command,
            "undo_of": entry.undo_of,
            "sealed": sealed,
        }
        return json.dumps(meta).encode()

    def _decode(self, seq: int, raw: bytes) -> JournalEntry:
        meta = json.loads(raw)
        values: dict[str, Any] | None = None
        if meta.get("sealed") and self._fernet is not None:
            try:
                values = json.loads(self._fernet.decrypt(meta["sealed"].encode()))
            except (InvalidToken, ValueError):
                values = None  # sealed under another key: the field names are all that is left
        changes = values["changes"] if values else [{"Field": name} for name in meta.get("fields", [])]
        return JournalEntry(
            who=str(meta.get("who", "")),
            tool=str(meta.get("tool", "")),
            check_id=int(meta.get("check", 0)),
            outcome=str(meta.get("outcome", "")),
            read_back=str(meta.get("read_back", "")),
            changes=changes,
            coworker_id=meta.get("member"),
            labels=values["labels"] if values else {},
            command=meta.get("command"),
            undo_of=meta.get("undo_of"),
            at=float(meta.get("at", 0.0)),
            seq=seq,
            values_kept=values is not None,
        )


def open_journal(store: StateStore, settings: Settings) -> Journal:
    """The journal in `store`, sealed under the server's key (in memory: a key of this process's own,
    which dies with it as the entries do)."""
    secret = server_secret(settings)
    if secret is None and store.backend == "memory":
        secret = secrets.token_hex(32)
    return Journal(store, secret, keep_days=settings.mcp_journal_days, max_entries=settings.mcp_journal_max_entries)


# ---------------------------------------------------------------------- the three backends
class _Rows(ABC):
    @abstractmethod
    async def append(self, row: bytes, at: float, cutoff: float, max_entries: int) -> int: ...

    @abstractmethod
    async def select(self, query: Query, cutoff: float, limit: int) -> list[tuple[int, bytes]]: ...

    @abstractmethod
    async def get(self, seq: int, cutoff: float) -> bytes | None: ...

    @abstractmethod
    async def purge(self, cutoff: float) -> int: ...


def _rows_for(store: StateStore) -> _Rows:
    from .memory import MemoryStore

    if isinstance(store, MemoryStore):  # kept on the store: every journal over it sees the same rows
        rows: _MemoryRows = vars(store).setdefault("journal_rows", _MemoryRows())
        return rows
    from .sqlite_store import SqliteStore

    if isinstance(store, SqliteStore):
        return _SqliteRows(store)
    from .redis_store import RedisStore

    if isinstance(store, RedisStore):
        return _RedisRows(store)
    raise TypeError(f"no journal for a {type(store).__name__}")


class _MemoryRows(_Rows):
    """One process: a list in Seq order (each step runs without an await, so it is atomic)."""

    def __init__(self) -> None:
        self._rows: list[tuple[int, float, bytes]] = []
        self._seq = 0

    async def append(self, row: bytes, at: float, cutoff: float, max_entries: int) -> int:
        self._seq += 1
        kept = [r for r in self._rows if r[1] >= cutoff]
        kept.append((self._seq, at, row))
        self._rows = kept[-max_entries:]
        return self._seq

    async def select(self, query: Query, cutoff: float, limit: int) -> list[tuple[int, bytes]]:
        out: list[tuple[int, bytes]] = []
        for seq, at, row in reversed(self._rows):
            if (query.before is None or seq < query.before) and at >= cutoff and query.matches(json.loads(row)):
                out.append((seq, row))
                if len(out) >= limit:
                    break
        return out

    async def get(self, seq: int, cutoff: float) -> bytes | None:
        return next((row for s, at, row in self._rows if s == seq and at >= cutoff), None)

    async def purge(self, cutoff: float) -> int:
        before = len(self._rows)
        self._rows = [r for r in self._rows if r[1] >= cutoff]
        return before - len(self._rows)


_SQLITE_SCHEMA = """
CREATE TABLE IF NOT EXISTS journal (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, at REAL NOT NULL, check_id INTEGER NOT NULL,
    coworker_id INTEGER, who TEXT NOT NULL, row BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS journal_at ON journal (at);
CREATE INDEX IF NOT EXISTS journal_check ON journal (check_id, seq);
CREATE INDEX IF NOT EXISTS journal_member ON journal (coworker_id, seq);
"""


class _SqliteRows(_Rows):
    """A table in the state file; each step is one of the store's `BEGIN IMMEDIATE` transactions."""

    def __init__(self, store: SqliteStore) -> None:
        self._store = store
        db = store.connect()
        try:
            db.executescript(_SQLITE_SCHEMA)
        finally:
            db.close()

    async def append(self, row: bytes, at: float, cutoff: float, max_entries: int) -> int:
        meta = json.loads(row)

        def add(db: sqlite3.Connection) -> int:
            db.execute("DELETE FROM journal WHERE at < ?", (cutoff,))
            seq = db.execute(
                "INSERT INTO journal (at, check_id, coworker_id, who, row) VALUES (?, ?, ?, ?, ?)",
                (at, meta["check"], meta["member"], meta["who"], row),
            ).lastrowid
            db.execute(
                "DELETE FROM journal WHERE seq <= (SELECT seq FROM journal ORDER BY seq DESC LIMIT 1 OFFSET ?)",
                (max_entries,),
            )
            return int(seq or 0)

        return int(await self._store.run(add))

    async def select(self, query: Query, cutoff: float, limit: int) -> list[tuple[int, bytes]]:
        where: list[str] = ["at >= ?"]
        args: list[Any] = [max(cutoff, query.since or cutoff)]
        for clause, value in (
            ("check_id = ?", query.check_id),
            ("coworker_id = ?", query.coworker_id),
            ("lower(who) = lower(?)", query.who),
            ("seq < ?", query.before),
        ):
            if value is not None:
                where.append(clause)
                args.append(value)
        sql = f"SELECT seq, row FROM journal WHERE {' AND '.join(where)} ORDER BY seq DESC LIMIT ?"
        rows = await self._store.run(lambda db: db.execute(sql, (*args, limit)).fetchall())
        return [(int(seq), bytes(row)) for seq, row in rows]

    async def get(self, seq: int, cutoff: float) -> bytes | None:
        found = await self._store.run(
            lambda db: db.execute("SELECT row FROM journal WHERE seq = ? AND at >= ?", (seq, cutoff)).fetchone()
        )
        return bytes(found[0]) if found else None

    async def purge(self, cutoff: float) -> int:
        purged = await self._store.run(lambda db: db.execute("DELETE FROM journal WHERE at < ?", (cutoff,)).rowcount)
        return int(purged)


# KEYS: seq counter, rows (hash Seq -> row), by_seq (zset), by_at (zset). Drops in chunks (Lua's unpack
# has a limit on arguments).
_REDIS_DROP = """
local function drop(ids)
  for i = 1, #ids, 500 do
    local chunk = {unpack(ids, i, math.min(i + 499, #ids))}
    redis.call('HDEL', KEYS[2], unpack(chunk))
    redis.call('ZREM', KEYS[3], unpack(chunk))
    redis.call('ZREM', KEYS[4], unpack(chunk))
  end
  return #ids
end
"""
# ARGV: row, at, retention cutoff, size bound.
_REDIS_APPEND = (
    _REDIS_DROP
    + """
drop(redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', '(' .. ARGV[3]))
local seq = redis.call('INCR', KEYS[1])
redis.call('HSET', KEYS[2], seq, ARGV[1])
redis.call('ZADD', KEYS[3], seq, seq)
redis.call('ZADD', KEYS[4], ARGV[2], seq)
local over = redis.call('ZCARD', KEYS[3]) - tonumber(ARGV[4])
if over > 0 then drop(redis.call('ZRANGE', KEYS[3], 0, over - 1)) end
return seq
"""
)
_REDIS_PURGE = _REDIS_DROP + "return drop(redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', '(' .. ARGV[1]))"


class _RedisRows(_Rows):
    """A hash of rows and two sorted sets (by Seq, by time); each change is one Lua script."""

    def __init__(self, store: RedisStore) -> None:
        self._store = store
        prefix = f"{store.prefix}journal:"
        self._keys = [f"{prefix}seq", f"{prefix}rows", f"{prefix}by_seq", f"{prefix}by_at"]
        self._append = store.redis.register_script(_REDIS_APPEND)
        self._purge = store.redis.register_script(_REDIS_PURGE)

    async def append(self, row: bytes, at: float, cutoff: float, max_entries: int) -> int:
        args = [row, repr(at), repr(cutoff), max_entries]
        return int(await self._store.do(self._append(keys=self._keys, args=args)))

    async def select(self, query: Query, cutoff: float, limit: int) -> list[tuple[int, bytes]]:
        redis = self._store.redis
        out: list[tuple[int, bytes]] = []
        top = f"({query.before}" if query.before is not None else "+inf"
        floor = max(cutoff, query.since or cutoff)
        while len(out) < limit:
            seqs = await self._store.do(redis.zrevrangebyscore(self._keys[2], top, "-inf", start=0, num=SCAN_BATCH))
            if not seqs:
                break
            rows = await self._store.do(redis.hmget(self._keys[1], seqs))
            for seq, row in zip(seqs, rows, strict=True):
                if row is None:
                    continue  # trimmed between the two reads
                meta = json.loads(row)
                at = float(meta.get("at", 0))
                if at < floor - CLOCK_SKEW:  # Seq order is time order, give or take the hosts' clocks
                    return out
                if at >= floor and query.matches(meta):
                    out.append((int(seq), bytes(row)))
                    if len(out) >= limit:
                        break
            top = f"({int(seqs[-1])}"
        return out

    async def get(self, seq: int, cutoff: float) -> bytes | None:
        row = await self._store.do(self._store.redis.hget(self._keys[1], seq))
        if row is None or float(json.loads(row).get("at", 0)) < cutoff:
            return None
        return bytes(row)

    async def purge(self, cutoff: float) -> int:
        return int(await self._store.do(self._purge(keys=self._keys, args=[repr(cutoff)])))
