"""Shared state for several server processes: locks, a write budget, expiring keys, and the journal
of writes (journal.py). `open_store` picks the backend from the settings: Redis
(NEXUDUS_MCP_REDIS_URL), SQLite (NEXUDUS_MCP_STATE_DIR), or in-process memory (the default: one process)."""

from __future__ import annotations

from ..settings import Settings
from .base import (
    AttemptsExhausted,
    BudgetExhausted,
    Lease,
    LockNotGranted,
    Rate,
    StateError,
    StateStore,
    StateUnavailable,
)
from .journal import Journal, JournalEntry, Query, open_journal
from .memory import MemoryStore


def open_store(settings: Settings) -> StateStore:
    if settings.mcp_redis_url is not None:
        from .redis_store import RedisStore

        return RedisStore(settings.mcp_redis_url.get_secret_value())
    if settings.mcp_state_dir:
        from .sqlite_store import SqliteStore

        return SqliteStore(settings.mcp_state_dir)
    return MemoryStore()


__all__ = [
    "AttemptsExhausted",
    "BudgetExhausted",
    "Journal",
    "JournalEntry",
    "Lease",
    "LockNotGranted",
    "MemoryStore",
    "Query",
    "Rate",
    "StateError",
    "StateStore",
    "StateUnavailable",
    "open_journal",
    "open_store",
]
