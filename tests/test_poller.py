"""The poller: chats handled concurrently, each in order, and nothing confirmed to Telegram before it is handled."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bot.adapters.poller import Progress
from bot.config import Settings
from bot.storage.sqlite import SqliteStore
from tests.conftest import Person, eventually, running_bot
from tests.fake_bot_api import FakeBotApi


async def test_a_slow_chat_holds_up_no_other_chat_and_is_not_confirmed_early(
    fake_api: FakeBotApi, settings: Settings
) -> None:
    slow, quick = Person(fake_api, 4101), Person(fake_api, 4102)
    fake_api.slow_chats[slow.chat_id] = 1.5  # Telegram is slow to take this chat's messages
    async with running_bot(fake_api, settings):
        first = await fake_api.send_text(slow.chat_id, "/start cause")
        second = await fake_api.send_text(slow.chat_id, "/start recurrence-risk")
        other = await fake_api.send_text(quick.chat_id, "/start cause")
        await fake_api.wait_until(lambda: len(fake_api.outgoing(quick.chat_id)) == 1)
        assert fake_api.outgoing(slow.chat_id) == [], "the quick chat was answered while the slow one waits"
        assert fake_api.confirmed_offset <= first, "an update still being handled was confirmed to Telegram"
        await fake_api.wait_until(lambda: len(fake_api.outgoing(slow.chat_id)) == 2, timeout=10)
        await eventually(lambda: fake_api.confirmed_offset > other)
    titles = [call.text.split("\n", 1)[0] for call in fake_api.outgoing(slow.chat_id)]
    assert titles == ["What causes NH?", "What happens in the next pregnancy?"], "one chat stays in order"
    assert second < other


async def test_stopping_finishes_the_updates_in_hand_and_confirms_them(fake_api: FakeBotApi, settings: Settings) -> None:
    person = Person(fake_api, 4103)
    fake_api.slow_chats[person.chat_id] = 0.8
    async with running_bot(fake_api, settings):
        update_id = await fake_api.send_text(person.chat_id, "/start cause")
        await eventually(lambda: fake_api.polls >= 2)  # fetched: its handling has begun
        await asyncio.sleep(0.2)
    # Leaving the block stopped the bot (as SIGTERM does) while the reply was still on its way.
    assert len(fake_api.outgoing(person.chat_id)) == 1, "the update in hand was finished, not dropped"
    assert fake_api.confirmed_offset == update_id + 1, "and confirmed, so a restart does not answer it again"


def test_progress_confirms_only_below_the_oldest_update_in_hand() -> None:
    progress = Progress(last=4)
    for update_id in (5, 7, 8):  # 6 does not exist: update ids can have gaps
        progress.start(update_id)
    progress.finish(7)
    assert progress.offset == 5 and progress.snapshot() == (4, frozenset({7}))
    progress.finish(5)
    assert progress.offset == 8 and progress.snapshot() == (7, frozenset())
    progress.finish(8)
    assert progress.offset == 9 and progress.in_flight == 0


def test_after_a_restart_updates_handled_beyond_the_offset_are_skipped() -> None:
    progress = Progress(last=10, done_above={12})
    assert [u for u in (9, 10, 11, 12, 13) if progress.is_new(u)] == [11, 13]
    progress.start(11)
    assert not progress.is_new(11), "an update in hand is not taken twice"
    progress.finish(11)
    assert progress.snapshot() == (12, frozenset()), "11 and 12 both handled: confirmed through 12"


async def test_progress_is_stored_and_read_back(tmp_path: Path) -> None:
    store = await SqliteStore.open(tmp_path / "bot.sqlite3")
    try:
        assert await store.progress() == (None, frozenset())
        await store.set_progress(41, {43, 45})
        await store.set_progress(42, {43, 45})
    finally:
        await store.close()
    reopened = await SqliteStore.open(tmp_path / "bot.sqlite3")
    try:
        assert await reopened.progress() == (42, frozenset({43, 45}))
    finally:
        await reopened.close()


def test_updates_answered_before_a_crash_are_confirmed_not_fetched_forever() -> None:
    # Everything to 10 handled, and 11 and 12 too, with nothing in hand. The poller itself moves the offset
    # past such ids, but if a stored state ever says this, fetching must not spin on the same two updates.
    progress = Progress(last=10, done_above={11, 12})
    for update_id in (11, 12):  # what Telegram hands out again after the restart
        assert not progress.is_new(update_id)
        progress.skip(update_id)
    assert progress.offset == 13, "the next getUpdates confirms them instead of asking for them again"
