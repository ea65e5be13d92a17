"""SQLite sessions on a real file: restart survival, /forget, no chat id in clear, schema upgrades."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import aiosqlite
import pytest

from bot.core.model import SessionState
from bot.storage import SessionKeyer, SqliteStore
from bot.storage.sqlite import SCHEMA_VERSION, SESSION_COLUMNS

CHAT_ID = 5550001234


@pytest.fixture
def keyer() -> SessionKeyer:
    return SessionKeyer(b"test-secret-0123456789abcdef")


async def test_state_survives_closing_and_reopening(tmp_path: Path, keyer: SessionKeyer) -> None:
    path = tmp_path / "bot.sqlite3"
    key = keyer.key("tg", CHAT_ID)
    store = await SqliteStore.open(path)
    await store.save(key, SessionState("cause", ("main", "topic-cause"), "en"))
    await store.close()

    reopened = await SqliteStore.open(path)
    assert await reopened.load(key) == SessionState("cause", ("main", "topic-cause"), "en")
    assert await reopened.load(keyer.key("tg", CHAT_ID + 1)) is None
    await reopened.close()


async def test_save_keeps_created_at_and_moves_updated_at(tmp_path: Path, keyer: SessionKeyer) -> None:
    store = await SqliteStore.open(tmp_path / "bot.sqlite3")
    key = keyer.key("tg", CHAT_ID)
    await store.save(key, SessionState("main"))
    await store._db.execute("UPDATE sessions SET created_at = 1, updated_at = 1")  # noqa: SLF001
    await store.save(key, SessionState("cause", ("main",)))
    async with store._db.execute("SELECT created_at, updated_at FROM sessions") as cur:  # noqa: SLF001
        created, updated = await cur.fetchone()
    assert created == 1 and updated > 1
    await store.close()


async def test_delete_removes_the_row(tmp_path: Path, keyer: SessionKeyer) -> None:
    store = await SqliteStore.open(tmp_path / "bot.sqlite3")
    key, other = keyer.key("tg", CHAT_ID), keyer.key("tg", 42)
    await store.save(key, SessionState("cause"))
    await store.save(other, SessionState("main"))
    assert await store.delete(key) == 1
    assert await store.load(key) is None
    assert await store.load(other) == SessionState("main")
    assert await store.delete(key) == 0
    await store.close()


async def test_file_holds_no_chat_id_in_clear(tmp_path: Path, keyer: SessionKeyer) -> None:
    path = tmp_path / "bot.sqlite3"
    store = await SqliteStore.open(path)
    await store.save(keyer.key("tg", CHAT_ID), SessionState("cause", ("main",)))
    await store.close()
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("bot.sqlite3"))
    assert str(CHAT_ID).encode() not in raw
    assert keyer.key("tg", CHAT_ID).encode() in raw  # the keyed hash is what is stored


def test_keys_depend_on_the_secret_and_the_channel() -> None:
    one, two = SessionKeyer(b"a" * 32), SessionKeyer(b"b" * 32)
    assert one.key("tg", 1) != two.key("tg", 1)
    assert one.key("tg", 1) != one.key("term", 1)
    assert one.key("tg", 1) == one.key("tg", 1)
    assert len(one.key("tg", 1)) == 64
    assert "a" * 32 not in repr(one)
    with pytest.raises(ValueError):
        SessionKeyer(b"short")


async def test_schema_is_versioned_and_wal(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    store = await SqliteStore.open(path)
    await store.close()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        columns = [row[1] for row in db.execute("PRAGMA table_info(sessions)")]
    assert tuple(columns) == SESSION_COLUMNS


async def test_opening_twice_does_not_rerun_migrations(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    for _ in range(2):
        store = await SqliteStore.open(path)
        await store.close()


async def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    async with aiosqlite.connect(path) as db:
        await db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
        await db.commit()
    with pytest.raises(RuntimeError, match="newer than this bot supports"):
        await SqliteStore.open(path)


async def test_creates_the_database_directory(tmp_path: Path) -> None:
    store = await SqliteStore.open(tmp_path / "deep" / "er" / "bot.sqlite3")
    await store.close()
    assert (tmp_path / "deep" / "er" / "bot.sqlite3").exists()


async def test_a_corrupt_back_stack_degrades_to_empty(tmp_path: Path, keyer: SessionKeyer) -> None:
    store = await SqliteStore.open(tmp_path / "bot.sqlite3")
    key = keyer.key("tg", 1)
    await store.save(key, SessionState("cause", ("main",)))
    await store._db.execute("UPDATE sessions SET back_stack = 'not json'")  # noqa: SLF001
    assert await store.load(key) == SessionState("cause", ())
    await store.close()


async def test_counts_are_written_in_batches_and_at_close(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "bot.sqlite3"
    store = await SqliteStore.open(path)

    def in_file() -> dict[str, int]:
        with sqlite3.connect(path) as db:
            return {item: count for item, count in db.execute("SELECT item, count FROM daily_counts")}

    try:
        for _ in range(3):
            await store.count([("answer_shown", "cause")])
        assert in_file() == {}, "within a second, counts wait in memory rather than costing a write each"
        assert {row[2]: row[3] for row in await store.counts(1)} == {"cause": 3}, "reading them writes them first"
        monkeypatch.setattr("bot.storage.sqlite.COUNT_FLUSH_SECONDS", 0.0)
        await store.count([("answer_shown", "inheritance")])
        assert in_file() == {"cause": 3, "inheritance": 1}, "once the interval has passed, the next count writes"
        monkeypatch.setattr("bot.storage.sqlite.COUNT_FLUSH_SECONDS", 3600.0)
        await store.count([("answer_shown", "cause")])
    finally:
        await store.close()
    assert in_file() == {"cause": 4, "inheritance": 1}, "closing writes what was waiting"


async def test_counts_survive_a_failed_write(tmp_path: Path) -> None:
    store = await SqliteStore.open(tmp_path / "bot.sqlite3")
    blocker = await aiosqlite.connect(tmp_path / "bot.sqlite3")
    try:
        await store.count([("answer_shown", "cause")])
        await store._db.execute("PRAGMA busy_timeout=50")  # noqa: SLF001 - fail fast for the test
        await blocker.execute("BEGIN IMMEDIATE")  # another writer holds the database
        with pytest.raises(sqlite3.OperationalError):
            await store.flush_counts()
        await blocker.rollback()
        await store.count([("answer_shown", "cause")])
        assert {row[2]: row[3] for row in await store.counts(1)} == {"cause": 2}, "nothing was lost"
    finally:
        await blocker.close()
        await store.close()


async def test_concurrent_writes_from_different_chats_do_not_collide(tmp_path: Path, keyer: SessionKeyer,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Chats are handled at the same time over one connection: a /forget, a batch of counts and
    session writes overlapping must each succeed, and none may end up inside another's transaction."""
    import asyncio  # noqa: PLC0415

    store = await SqliteStore.open(tmp_path / "bot.sqlite3")
    keys = [keyer.key("tg", n) for n in range(6)]
    try:
        for key in keys:
            await store.save(key, SessionState(node="cause"))
        monkeypatch.setattr("bot.storage.sqlite.COUNT_FLUSH_SECONDS", 0.0)
        await asyncio.gather(
            store.delete(keys[0]), store.count([("answer_shown", "cause")]), store.delete(keys[1]),
            store.save(keys[2], SessionState(node="recurrence-risk")), store.purge(), store.delete(keys[3]),
            store.count([("answer_shown", "treatment")]), store.set_progress(7, {9}),
        )
        assert [await store.load(k) is None for k in keys] == [True, True, False, True, False, False]
        assert (await store.load(keys[2])).node == "recurrence-risk"
        assert {row[2]: row[3] for row in await store.counts(1)} == {"cause": 1, "treatment": 1}
    finally:
        await store.close()


async def test_many_distinct_counts_are_written_in_several_statements(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("bot.storage.sqlite.COUNT_ROWS_PER_STATEMENT", 2)
    store = await SqliteStore.open(tmp_path / "bot.sqlite3")
    try:
        await store.count([("answer_shown", f"a{n}") for n in range(5)] + [("answer_shown", "a0")])
        assert {row[2]: row[3] for row in await store.counts(1)} == {"a0": 2, "a1": 1, "a2": 1, "a3": 1, "a4": 1}
    finally:
        await store.close()
