"""The journal of writes in the state store (memory, SQLite, a real Redis): newest first, paged,
filtered; shared by two processes at once; kept across a restart; trimmed to its retention time and
its size bound in the same atomic step as an append; its values sealed at rest, so the raw store
holds no identity-document number."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from nexudus_identity_mcp.state import Journal, JournalEntry, MemoryStore, Query, StateStore, open_journal
from nexudus_identity_mcp.state.journal import DAY
from nexudus_identity_mcp.state.redis_store import RedisStore
from nexudus_identity_mcp.state.sqlite_store import SqliteStore

from .conftest import settings_for
from .redis_server import RedisServer, running_redis

pytestmark = pytest.mark.anyio

NUMBER = "K7Q9205531"
SECRET = "journal-test-secret-0123456789"


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    with running_redis(tmp_path_factory.mktemp("redis")) as server:
        yield server


def make_store(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> StateStore:
    if kind == "memory":
        return MemoryStore()
    if kind == "sqlite":
        return SqliteStore(tmp_path)
    server: RedisServer = request.getfixturevalue("redis_server")
    return RedisStore(server.url, prefix=f"test-{tmp_path.name}:")


@pytest.fixture(params=["memory", "sqlite", "redis"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[StateStore]:
    made = make_store(request.param, tmp_path, request)
    yield made
    await made.aclose()


def entry(check_id: int, *, who: str = "claude", member: int = 7, at: float = 0.0, number: str = "A1") -> JournalEntry:
    return JournalEntry(
        who=who,
        tool="update_coworker_identity_check",
        check_id=check_id,
        outcome="written",
        read_back="verified",
        changes=[{"Field": "IdentityDocumentNumber", "From": number, "To": number + "X"}],
        coworker_id=member,
        labels={"Name": "Passport check", "CoworkerFullName": "Ana Souza"},
        at=at,
    )


async def test_entries_come_back_newest_first_a_page_at_a_time_and_filtered(store: StateStore) -> None:
    journal = Journal(store, SECRET)
    for i in range(7):
        await journal.append(entry(100 + i % 2, who="claude" if i % 3 else "Carla", member=i % 2))
    page, cursor = await journal.page(Query(), 3)
    assert [e.check_id for e in page] == [100, 101, 100] and cursor == page[-1].seq
    assert page[0].seq > page[1].seq > page[2].seq
    rest, end = await journal.page(Query(before=cursor), 10)
    assert len(rest) == 4 and end is None and rest[0].seq < cursor
    assert {e.check_id for e in (await journal.page(Query(check_id=101), 10))[0]} == {101}
    assert {e.coworker_id for e in (await journal.page(Query(coworker_id=0), 10))[0]} == {0}
    by_carla = (await journal.page(Query(who="carla"), 10))[0]  # who: any casing
    assert len(by_carla) == 3 and {e.who for e in by_carla} == {"Carla"}
    latest = page[0]
    assert latest.changes == [{"Field": "IdentityDocumentNumber", "From": "A1", "To": "A1X"}]
    assert latest.labels["CoworkerFullName"] == "Ana Souza" and latest.values_kept
    assert await journal.get(latest.seq) == latest
    assert (await journal.page(Query(since=time.time() + 60), 10))[0] == []


async def test_retention_drops_old_entries_on_append_and_on_purge(store: StateStore) -> None:
    journal = Journal(store, SECRET, keep_days=30)
    old = await journal.append(entry(1, at=time.time() - 31 * DAY))
    kept = await journal.append(entry(2, at=time.time() - 29 * DAY))
    assert await journal.get(old.seq) is None  # past retention: never shown, and gone from the store
    assert [e.check_id for e in (await journal.page(Query(), 10))[0]] == [2]
    assert await journal.get(kept.seq) is not None
    shorter = Journal(store, SECRET, keep_days=10)
    assert await shorter.purge() == 1
    assert (await journal.page(Query(), 10))[0] == []


async def test_the_size_bound_keeps_the_newest(store: StateStore) -> None:
    journal = Journal(store, SECRET, max_entries=10)
    seqs = [(await journal.append(entry(i))).seq for i in range(25)]
    page, _ = await journal.page(Query(), 100)
    assert [e.seq for e in page] == sorted(seqs, reverse=True)[:10]
    assert await journal.get(seqs[14]) is None


async def test_no_journal_when_retention_is_zero(store: StateStore) -> None:
    journal = Journal(store, SECRET, keep_days=0)
    assert not journal.enabled
    await journal.append(entry(1))
    assert (await journal.page(Query(), 10))[0] == []


# ---------------------------------------------------------------------- encryption at rest
def raw_bytes_sqlite(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(folder.glob("state.sqlite3*")))


async def raw_bytes_redis(url: str, prefix: str) -> bytes:
    """Every value under `prefix` as Redis holds it, read with a client of the test's own."""
    from redis import asyncio as aioredis

    redis = aioredis.Redis.from_url(url)
    out = b""
    async for key in redis.scan_iter(match=f"{prefix}*"):
        kind = (await redis.type(key)).decode()
        if kind == "hash":
            out += b"".join(k + v for k, v in (await redis.hgetall(key)).items())
        elif kind == "zset":
            out += b"".join(m for m, _ in await redis.zrange(key, 0, -1, withscores=True))
        else:
            out += bytes(await redis.get(key) or b"")
    await redis.aclose()
    return out


@pytest.mark.parametrize("kind", ["sqlite", "redis"])
async def test_the_raw_store_holds_no_document_number(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    store = make_store(kind, tmp_path, request)
    journal = Journal(store, SECRET)
    labels_number = "P99887766X"
    written = await journal.append(
        JournalEntry(
            who="claude",
            tool="update_coworker_identity_check",
            check_id=5,
            outcome="written",
            read_back="verified",
            changes=[{"Field": "IdentityDocumentNumber", "From": NUMBER, "To": "Z0000011"}],
            labels={"Name": f"Passport {labels_number}"},
        )
    )
    if kind == "sqlite":
        raw = raw_bytes_sqlite(tmp_path)
    else:  # the prefix make_store gave it
        raw = await raw_bytes_redis(request.getfixturevalue("redis_server").url, f"test-{tmp_path.name}:")
    assert b"IdentityDocumentNumber" in raw  # the field names are there: the store was read
    for secret_text in (NUMBER, "Z0000011", labels_number, "Passport"):
        assert secret_text.encode() not in raw
        assert secret_text.encode("utf-16-le") not in raw
    # With the key the values come back; under another key they do not (the names only).
    assert (await journal.get(written.seq)).changes[0]["From"] == NUMBER  # type: ignore[union-attr]
    other = await Journal(store, "another-key-0123456789").get(written.seq)
    assert other is not None and not other.values_kept
    assert other.changes == [{"Field": "IdentityDocumentNumber"}] and other.labels == {}
    await store.aclose()


async def test_without_a_key_no_value_is_kept(redis_server: RedisServer, tmp_path: Path) -> None:
    """Redis and no NEXUDUS_MCP_SECRET: hosts could not share a key, so the journal names fields only."""
    settings = settings_for(mcp_redis_url=redis_server.url)
    store = RedisStore(redis_server.url, prefix=f"nokey-{tmp_path.name}:")
    journal = open_journal(store, settings)
    assert not journal.keeps_values
    written = await journal.append(entry(3, number=NUMBER))
    assert not written.values_kept
    assert NUMBER.encode() not in await raw_bytes_redis(redis_server.url, f"nokey-{tmp_path.name}:")
    back = await journal.get(written.seq)
    assert back is not None and back.changes == [{"Field": "IdentityDocumentNumber"}]
    await store.aclose()


async def test_sqlite_journal_uses_the_key_file_beside_the_state(tmp_path: Path) -> None:
    settings = settings_for(mcp_state_dir=str(tmp_path))
    store = SqliteStore(tmp_path)
    written = await open_journal(store, settings).append(entry(4, number=NUMBER))
    assert (tmp_path / "signin.key").stat().st_mode & 0o077 == 0
    assert NUMBER.encode() not in raw_bytes_sqlite(tmp_path)
    # A restart: a new store and journal on the same folder read the values back.
    again = await open_journal(SqliteStore(tmp_path), settings).get(written.seq)
    assert again is not None and again.changes[0]["From"] == NUMBER


# ---------------------------------------------------------------------- two processes, a restart
WRITER = """
import sys, anyio
from nexudus_identity_mcp.state import Journal, JournalEntry
from nexudus_identity_mcp.state.redis_store import RedisStore
from nexudus_identity_mcp.state.sqlite_store import SqliteStore

kind, where, prefix, who, count, bound = sys.argv[1:7]

async def main() -> None:
    store = SqliteStore(where) if kind == "sqlite" else RedisStore(where, prefix=prefix)
    journal = Journal(store, "journal-test-secret-0123456789", max_entries=int(bound))
    for i in range(int(count)):
        await journal.append(JournalEntry(who=who, tool="run_coworker_identity_check_command", check_id=i,
                                          outcome="written", read_back="verified",
                                          changes=[{"Field": "VerificationStatus", "From": 1, "To": 2}]))
    await store.aclose()

anyio.run(main)
"""


def run_writers(kind: str, where: str, prefix: str, count: int, bound: int) -> None:
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, kind, where, prefix, who, str(count), str(bound)])
        for who in ("worker-a", "worker-b")
    ]
    for writer in writers:
        assert writer.wait(timeout=60) == 0


@pytest.mark.slow  # two Python processes
@pytest.mark.parametrize("kind", ["sqlite", "redis"])
async def test_two_processes_share_one_journal_and_it_survives_a_restart(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    prefix = f"two-{tmp_path.name}:"
    where = str(tmp_path) if kind == "sqlite" else request.getfixturevalue("redis_server").url
    run_writers(kind, where, prefix, 40, 1000)
    # A new process's store (the writers have exited): everything they wrote, each Seq once.
    store = SqliteStore(where) if kind == "sqlite" else RedisStore(where, prefix=prefix)
    journal = Journal(store, SECRET, max_entries=1000)
    page, _ = await journal.page(Query(), 500)
    assert len(page) == 80 and len({e.seq for e in page}) == 80
    assert {e.who for e in page} == {"worker-a", "worker-b"}
    assert len((await journal.page(Query(who="worker-b"), 500))[0]) == 40
    assert page[0].changes == [{"Field": "VerificationStatus", "From": 1, "To": 2}]
    await store.aclose()


@pytest.mark.slow  # two Python processes
@pytest.mark.parametrize("kind", ["sqlite", "redis"])
async def test_two_processes_keep_the_size_bound_together(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    prefix = f"bound-{tmp_path.name}:"
    where = str(tmp_path) if kind == "sqlite" else request.getfixturevalue("redis_server").url
    run_writers(kind, where, prefix, 30, 25)
    store = SqliteStore(where) if kind == "sqlite" else RedisStore(where, prefix=prefix)
    page, _ = await Journal(store, SECRET, max_entries=25).page(Query(), 500)
    assert len(page) == 25
    assert [e.seq for e in page] == list(range(60, 35, -1))  # the newest 25 of 60, none lost in between
    await store.aclose()


# ---------------------------------------------------------------------- the admin export
async def seed_for_export(tmp_path: Path) -> None:
    settings = settings_for(mcp_state_dir=str(tmp_path))
    store = SqliteStore(tmp_path)
    journal = open_journal(store, settings)
    await journal.append(entry(1, at=time.time() - 9 * DAY, number="OLD1234567"))
    await journal.append(entry(2, who="carla@example.com", number=NUMBER))
    await journal.append(
        JournalEntry(
            who="claude",
            tool="run_coworker_identity_check_command",
            check_id=2,
            outcome="written",
            read_back="verified",
            changes=[{"Field": "VerificationStatus", "From": 1, "To": 3}],
            command="IDENTITYCHECK_MARK_AS_VERIFIED",
            labels={"Name": f"Passport {NUMBER}", "Parameters": {"Notes": f"seen {NUMBER}"}},
        )
    )


def run_history(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path, *args: str) -> str:
    from nexudus_identity_mcp.cli.main import main

    monkeypatch.setenv("NEXUDUS_MCP_STATE_DIR", str(tmp_path))
    main(["history", *args])
    return capsys.readouterr().out


def test_history_exports_jsonl_and_csv_redacted_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import csv
    import io
    import json

    import anyio

    anyio.run(seed_for_export, tmp_path)
    lines = [json.loads(x) for x in run_history(monkeypatch, capsys, tmp_path, "--since", "7d").splitlines()]
    assert [v["Tool"] for v in lines] == ["run_coworker_identity_check_command", "update_coworker_identity_check"]
    assert lines[0]["Changes"] == [{"Field": "VerificationStatus", "From": "Pending", "To": "Successful"}]
    assert lines[0]["Parameters"] == ["Notes"]  # free text: named, not shown
    assert lines[1]["Who"] == "carla@example.com" and lines[1]["Changes"][0]["From"].startswith("«ID_DOC:")
    text = run_history(monkeypatch, capsys, tmp_path, "--since", "7d", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["Field"] for r in rows] == ["VerificationStatus", "IdentityDocumentNumber"]
    everything = run_history(monkeypatch, capsys, tmp_path) + text
    assert NUMBER not in everything and "OLD1234567" not in everything
    assert len(run_history(monkeypatch, capsys, tmp_path).splitlines()) == 3  # no --since: all that is kept
    plain = run_history(monkeypatch, capsys, tmp_path, "--since", "1d", "--unredacted")
    assert NUMBER in plain and "seen " + NUMBER in plain
    only = run_history(monkeypatch, capsys, tmp_path, "--who", "carla@example.com")
    assert len(only.splitlines()) == 1


def test_history_needs_a_shared_store(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from nexudus_identity_mcp.cli.main import main

    with pytest.raises(SystemExit) as stopped:
        main(["history"])
    assert stopped.value.code == 2 and "NEXUDUS_MCP_STATE_DIR" in capsys.readouterr().err
    monkeypatch.setenv("NEXUDUS_MCP_STATE_DIR", "/tmp")
    with pytest.raises(SystemExit):
        main(["history", "--since", "last tuesday"])
    assert "--since" in capsys.readouterr().err
