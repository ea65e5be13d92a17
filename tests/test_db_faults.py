"""Database faults: the bot keeps answering from the content, logs rarely, and recovers."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import pytest

from bot.app import open_store
from bot.config import Settings
from bot.core.engine import Engine
from bot.core.model import Command, Start, Text
from bot.service import ChatService
from bot.storage import SessionKeyer, SqliteStore

KEYER = SessionKeyer(b"fault-test-secret-0123456789")


async def service_on(path: Path, engine: Engine) -> ChatService:
    store = await SqliteStore.open(path, busy_timeout_ms=50)
    return ChatService(engine, store, KEYER)


async def test_a_locked_database_degrades_to_the_menu_and_recovers(
    tmp_path: Path, engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "bot.sqlite3"
    service = await service_on(path, engine)
    await service.handle("tg", 1, Start("cause"))
    blocker = sqlite3.connect(path, timeout=0.05)
    blocker.execute("BEGIN EXCLUSIVE")  # another process holds the database
    caplog.set_level(logging.ERROR)
    try:
        results = [await service.handle("tg", 1, Text("is it genetic?")) for _ in range(5)]
        results.append(await service.handle("tg", 2, Command("menu")))
    finally:
        blocker.rollback()
        blocker.close()
    assert all(r.replies for r in results), "every message still gets its answer"
    assert results[0].replies[0].answer_id == "is-it-genetic"
    errors = [r for r in caplog.records if "database unavailable" in r.getMessage()]
    assert len(errors) == 1, "one clear error, not one per message"
    assert service.db_errors >= 6
    # The database is back: state is stored and used again.
    await service.handle("tg", 1, Start("cause"))
    assert await service.store.load(KEYER.key("tg", 1)) is not None
    await service.store.close()


async def test_a_full_disk_still_answers_new_chats(tmp_path: Path, engine: Engine) -> None:
    path = tmp_path / "bot.sqlite3"
    service = await service_on(path, engine)
    await service.handle("tg", 1, Start())
    db = service.store._db  # noqa: SLF001 - SQLite's own page cap is how we make the disk "full"
    async with db.execute("PRAGMA page_count") as cursor:
        (pages,) = await cursor.fetchone()
    await db.execute(f"PRAGMA max_page_count = {pages}")
    results = [await service.handle("tg", 1000 + n, Start("treatment")) for n in range(200)]
    assert all(r.replies and r.replies[0].answer_id == "treatment" for r in results)
    assert service.db_errors > 0, "the cap really made writes fail"
    await service.store.close()


async def test_a_corrupt_file_is_moved_aside_at_start_up(tmp_path: Path, settings: Settings, caplog: pytest.LogCaptureFixture) -> None:
    settings.db_path.parent.mkdir(parents=True)
    settings.db_path.write_bytes(b"this is not a database, just garbage " * 100)
    caplog.set_level(logging.ERROR)
    store = await open_store(settings)
    await store.close()
    moved = list(settings.db_path.parent.glob("bot.sqlite3.corrupt-*"))
    assert len(moved) == 1 and moved[0].read_bytes().startswith(b"this is not a database")
    assert any("was corrupt" in r.getMessage() and "moved it aside" in r.getMessage() for r in caplog.records)
    with sqlite3.connect(settings.db_path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)


async def test_health_is_503_when_the_database_does_not_answer(tmp_path: Path, engine: Engine, settings: Settings) -> None:
    from aiohttp.test_utils import TestClient, TestServer  # noqa: PLC0415

    from bot.adapters.telegram import TelegramAdapter  # noqa: PLC0415
    from bot.adapters.webhook import web_app  # noqa: PLC0415

    service = await service_on(tmp_path / "bot.sqlite3", engine)
    adapter = TelegramAdapter(lambda: None)
    adapter.service = service
    app = adapter.build(settings.token, "http://127.0.0.1:9/bot", updater=None)
    async with TestClient(TestServer(web_app(app, adapter, "/hook", "secret"))) as client:
        healthy = await client.get("/healthz")
        assert healthy.status == 200 and (await healthy.json())["content_version"] == engine.bundle.version
        await service.store.close()  # the database goes away
        broken = await client.get("/healthz")
        assert broken.status == 503
        forged = await client.post("/hook", json={"update_id": 1})
        assert forged.status == 403


async def test_a_read_only_database_still_answers(tmp_path: Path, engine: Engine, caplog: pytest.LogCaptureFixture) -> None:
    # Tests run as root, for whom file permissions do not stop writes; SQLite's read-only mode
    # raises the same "attempt to write a readonly database" error a read-only file does.
    service = await service_on(tmp_path / "bot.sqlite3", engine)
    await service.handle("tg", 1, Start())
    await service.store._db.execute("PRAGMA query_only = ON")  # noqa: SLF001
    caplog.set_level(logging.ERROR)
    results = [await service.handle("tg", n, Start("cause")) for n in range(1, 6)]
    assert all(r.replies[0].answer_id == "cause" for r in results)
    messages = [r.getMessage() for r in caplog.records if "database unavailable" in r.getMessage()]
    assert len(messages) == 1 and "readonly" in messages[0]
    await service.store.close()
