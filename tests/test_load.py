"""Load: many chats, updates as fast as the fake Bot API hands them out; every reply exactly once, in order.

The small variant runs in `make test`; the full size (200 chats, 2,000 updates) is marked
`slow` and runs in `make bench`.
"""

from __future__ import annotations

import dataclasses
import time

import pytest

from bot.config import Settings
from bot.content.bundle import Bundle
from tests.conftest import eventually, running_bot
from tests.scenarios import replies_by_chat, script
from tests.fake_bot_api import FakeBotApi

async def run_load(api: FakeBotApi, settings: Settings, bundle: Bundle, chats: int, updates: int) -> tuple[dict, dict, float]:
    settings = dataclasses.replace(settings, rate_limit=False)  # the bot's own capacity, not Telegram's flood limit
    expected = await script(api, bundle, chats, updates)
    start = time.perf_counter()
    async with running_bot(api, settings):
        await eventually(lambda: sum(map(len, replies_by_chat(api).values())) >= updates, timeout=300)
    return expected, replies_by_chat(api), time.perf_counter() - start


@pytest.mark.parametrize(("chats", "updates"), [
    pytest.param(40, 400, id="40-chats-400-updates"),
    pytest.param(200, 2000, id="200-chats-2000-updates", marks=pytest.mark.slow),
])
async def test_every_update_gets_exactly_its_reply_in_order(
    fake_api: FakeBotApi, settings: Settings, bundle: Bundle, chats: int, updates: int
) -> None:
    expected, got, seconds = await run_load(fake_api, settings, bundle, chats, updates)
    assert got == expected, "a reply was lost, doubled or out of order"
    print(f"\n{updates} updates over {chats} chats in {seconds:.1f} s ({updates / seconds:.0f} updates/s)")


@pytest.mark.parametrize(("chats", "updates"), [
    pytest.param(20, 200, id="20-chats-200-updates"),
    pytest.param(200, 2000, id="200-chats-2000-updates", marks=pytest.mark.slow),
])
async def test_under_faults_all_other_replies_arrive(
    fake_api: FakeBotApi, settings: Settings, bundle: Bundle, chats: int, updates: int
) -> None:
    for status, description, parameters in ((429, "Too Many Requests: retry after 1", {"retry_after": 1}),
                                            (500, "Internal Server Error", None), (502, "Bad Gateway", None)):
        fake_api.fail_next("sendMessage", status, description, parameters=parameters)
        fake_api.fail_next("getUpdates", status, description, parameters=parameters)
    blocked = 900_000  # this person blocked the bot: Telegram refuses every message to them
    fake_api.blocked_chats.add(blocked)
    expected = await script(fake_api, bundle, chats, updates)
    others = sum(len(questions) for chat, questions in expected.items() if chat != blocked)
    async with running_bot(fake_api, dataclasses.replace(settings, rate_limit=False)) as adapter:
        await eventually(lambda: sum(map(len, replies_by_chat(fake_api).values())) >= others, timeout=300)
        await eventually(lambda: len([c for c in fake_api.calls_to("sendMessage")
                                      if int(c.params["chat_id"]) == blocked]) >= len(expected[blocked]))
        stored = await adapter.service.store.load(adapter.service.keyer.key("tg", blocked))
    got = replies_by_chat(fake_api)
    assert blocked not in got and stored is None
    assert {chat: q for chat, q in got.items()} == {chat: q for chat, q in expected.items() if chat != blocked}
    refused = [c for c in fake_api.calls_to("sendMessage") if int(c.params["chat_id"]) == blocked]
    assert len(refused) == len(expected[blocked]), "a refused send is not retried"
