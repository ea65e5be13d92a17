"""Never go deaf (issue 12): what Telegram, the disk or a hostile client can do that must not silence the bot.

Each test drives the real python-telegram-bot Application over HTTP against the fake Bot API on
127.0.0.1, with a real SQLite file, and measures what a family would see: replies lost or doubled,
and how long until answers come again.
"""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from bot.config import Settings
from bot.storage.sqlite import SqliteStore
from tests.conftest import Person, eventually, running_bot
from tests.fake_bot_api import FakeBotApi


def replies_to(api: FakeBotApi, chat_id: int) -> list[str]:
    return [c.text.split("\n", 1)[0] for c in api.outgoing(chat_id) if c.result is not None]


async def polls_in(api: FakeBotApi, seconds: float) -> int:
    before = api.polls
    await asyncio.sleep(seconds)
    return api.polls - before


# --- 1. update ids that start again ---------------------------------------------------------------


async def test_update_ids_restarted_far_below_the_stored_progress_are_all_answered(
    fake_api: FakeBotApi, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    store = await SqliteStore.open(settings.db_path)
    await store.set_progress(1_000_000, {1_000_003})  # a week ago, before Telegram chose new ids
    await store.close()
    caplog.set_level(logging.WARNING)
    people = [Person(fake_api, 8100 + n) for n in range(3)]
    async with running_bot(fake_api, settings):
        started = time.monotonic()
        for person in people:
            await fake_api.send_text(person.chat_id, "/start cause")
        await fake_api.wait_until(lambda: all(len(fake_api.outgoing(p.chat_id)) == 1 for p in people), timeout=5)
        recovered = time.monotonic() - started
        idle_polls = await polls_in(fake_api, 1.5)
        later = await people[0].say("/start recurrence-risk")
    assert all(replies_to(fake_api, p.chat_id)[0] == "What causes NH?" for p in people), "every new update answered"
    assert later[0].text.startswith("What happens in the next pregnancy?")
    assert idle_polls <= 5, f"{idle_polls} getUpdates calls in 1.5 s: a hot loop"
    assert recovered < 3
    restarts = [r for r in caplog.records if "update ids restarted" in r.getMessage()]
    assert len(restarts) == 1, "logged once"
    assert fake_api.confirmed_offset == fake_api._last_update_id + 1, "and confirmed with the new ids"  # noqa: SLF001
    store = await SqliteStore.open(settings.db_path)
    try:
        assert (await store.progress())[0] < 1000, "the stored progress follows the new ids"
    finally:
        await store.close()


async def test_update_ids_restarting_while_running_do_not_silence_the_bot(fake_api: FakeBotApi, settings: Settings) -> None:
    fake_api.restart_update_ids(50_000)
    person = Person(fake_api, 8200)
    async with running_bot(fake_api, settings):
        await person.say("/start cause")
        await eventually(lambda: fake_api.confirmed_offset > 50_000)
        fake_api.restart_update_ids(17)  # a quiet week later
        (reply,) = await person.say("/start recurrence-risk")
        idle_polls = await polls_in(fake_api, 1.5)
        (again,) = await person.say("/start")
    assert reply.text.startswith("What happens in the next pregnancy?") and again.text.startswith("Hello.")
    assert idle_polls <= 5, f"{idle_polls} getUpdates calls in 1.5 s: a hot loop"
    assert replies_to(fake_api, person.chat_id).count("What happens in the next pregnancy?") == 1, "not doubled"


# --- 2. an update the library cannot read ---------------------------------------------------------


async def test_an_unreadable_update_is_logged_once_confirmed_and_skipped(
    fake_api: FakeBotApi, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    before, after = Person(fake_api, 8301), Person(fake_api, 8302)
    async with running_bot(fake_api, settings):
        await fake_api.send_text(before.chat_id, "/start cause")
        # A poll as an older self-hosted Bot API server sends it: python-telegram-bot cannot build it.
        bad = await fake_api.push({"poll": {"id": "42", "question": "private words"}})
        await fake_api.send_text(after.chat_id, "/start cause")
        await fake_api.wait_until(lambda: fake_api.outgoing(before.chat_id) and fake_api.outgoing(after.chat_id))
        await eventually(lambda: fake_api.confirmed_offset > bad)
        await asyncio.sleep(0.5)  # a few more fetches: the bad update is not read again
        (still,) = await before.say("/start")
    assert still.text.startswith("Hello.")
    errors = [r.getMessage() for r in caplog.records if "could not be read" in r.getMessage()]
    assert errors == [f"update {bad} could not be read (TypeError); confirmed and skipped it"]
    assert "private words" not in caplog.text


async def test_an_answer_that_is_not_json_does_not_stop_polling(
    fake_api: FakeBotApi, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    person = Person(fake_api, 8303)
    async with running_bot(fake_api, settings):
        await person.say("/start")
        fake_api.answer_next_raw("getUpdates", b"<html>secret page 8303</html>")
        started = time.monotonic()
        (reply,) = await person.say("/start cause")
        recovered = time.monotonic() - started
    assert reply.text.startswith("What causes NH?")
    assert recovered < 3
    assert "secret page" not in caplog.text, "the body is not logged"
