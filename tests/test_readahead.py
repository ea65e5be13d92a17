"""Typed messages that arrive together are read in one batch, off the event loop, with the same verdicts."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest

from bot.core import understanding as understanding_module
from bot.core.engine import Engine
from bot.core.model import GroupMention, StepResult, Text
from bot.readahead import ReadAhead
from bot.service import ChatService
from bot.storage import SessionKeyer, SqliteStore

KEYER = SessionKeyer(b"read-ahead-test-secret-0123456789")
MESSAGES = [
    "is nh genetic?",
    "will our next baby have it too",
    "my baby is not breathing",
    "¿Qué es la hemocromatosis neonatal?",
    "ich habe angst vor der nächsten schwangerschaft",
    "新生儿血色病是什么",
    "what does IVIG do in pregnancy",
    "thank you so much",
    "can NH make a baby bleed?",
    "how do i reset my password",
]


@pytest.fixture
async def service(tmp_path: Path, engine: Engine) -> AsyncIterator[ChatService]:
    store = await SqliteStore.open(tmp_path / "bot.sqlite3")
    yield ChatService(engine, store, KEYER, read_ahead=ReadAhead())
    await store.close()


async def _all_at_once(service: ChatService, texts: Sequence[str]) -> list[StepResult]:
    return list(await asyncio.gather(*(service.handle("tg", 5000 + n, Text(t)) for n, t in enumerate(texts))))


async def test_messages_arriving_together_are_read_in_one_batch_on_a_worker_thread(
    service: ChatService, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    understanding = engine.understanding
    alone = [understanding.classify(text) for text in MESSAGES]
    batches: list[tuple[int, str]] = []
    read_ahead = understanding.read_ahead

    def watched(texts: Sequence[str]) -> None:
        batches.append((len(texts), threading.current_thread().name))
        read_ahead(texts)

    monkeypatch.setattr(understanding, "read_ahead", watched)
    results = await _all_at_once(service, MESSAGES)

    assert [r.verdict for r in results] == alone
    # The first message does not wait for the others; all that came meanwhile share the next batch.
    assert [size for size, _ in batches] == [1, len(MESSAGES) - 1]
    assert all(thread.startswith("read-ahead") for _, thread in batches)
    assert not understanding._ahead  # every reading was taken by its message


async def test_a_group_mention_is_read_ahead_too(
    service: ChatService, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    read: list[str] = []
    read_ahead = engine.understanding.read_ahead
    monkeypatch.setattr(engine.understanding, "read_ahead", lambda texts: (read.extend(texts), read_ahead(texts)))
    result = await service.handle("tg", -100, GroupMention("my baby is not breathing"))
    assert read == ["my baby is not breathing"]
    assert result.outcome == "emergency"


async def test_when_a_batch_fails_each_message_is_read_alone_and_still_answered(
    service: ChatService, engine: Engine, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    understanding = engine.understanding
    alone = [understanding.classify(text) for text in MESSAGES]

    def failing(texts: Sequence[str]) -> None:
        raise MemoryError("no room for a batch")

    monkeypatch.setattr(understanding, "read_ahead", failing)
    caplog.set_level(logging.ERROR)
    results = await _all_at_once(service, MESSAGES)

    assert [r.verdict for r in results] == alone
    assert [r.outcome for r in results][2] == "emergency"
    failures = [r.getMessage() for r in caplog.records if "read one by one" in r.getMessage()]
    assert failures and "MemoryError" in failures[0]


def test_readings_never_asked_for_are_dropped_oldest_first(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    understanding = engine.understanding
    monkeypatch.setattr(understanding_module, "READ_AHEAD_KEPT", 3)
    understanding.read_ahead(MESSAGES[:5])
    try:
        assert list(understanding._ahead) == MESSAGES[2:5]
        from_batch = understanding.classify(MESSAGES[4])  # takes its reading...
        assert list(understanding._ahead) == MESSAGES[2:4]
        assert understanding.classify(MESSAGES[4]) == from_batch  # ...which is what reading it alone gives
    finally:
        understanding._ahead.clear()


async def test_with_the_worker_gone_messages_are_still_answered(
    service: ChatService, engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    assert service.read_ahead is not None
    service.read_ahead._worker.shutdown()  # as when the process is stopping
    caplog.set_level(logging.ERROR)
    results = await asyncio.wait_for(_all_at_once(service, MESSAGES[:3]), timeout=10)
    assert [r.outcome for r in results][2] == "emergency" and all(r.replies for r in results)
    assert any("RuntimeError" in r.getMessage() for r in caplog.records)
