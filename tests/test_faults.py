"""Telegram's errors and limits: replies survive 429s, 5xx, timeouts; blocked chats are forgotten."""

from __future__ import annotations

import asyncio
import dataclasses

from bot.config import Settings
from bot.content.bundle import Bundle
from tests.conftest import Person, eventually, running_bot
from tests.fake_bot_api import FakeBotApi

CHAT = 737373001


def successful_sends(api: FakeBotApi, chat_id: int) -> list:
    return [c for c in api.calls_to("sendMessage") if int(c.params["chat_id"]) == chat_id and c.result is not None]


async def test_retry_after_is_honoured_and_the_reply_arrives(fake_api: FakeBotApi, settings: Settings, bundle: Bundle) -> None:
    for limiter in (True, False):
        fake_api.fail_next("sendMessage", 429, "Too Many Requests: retry after 1", parameters={"retry_after": 1})
        async with running_bot(fake_api, dataclasses.replace(settings, rate_limit=limiter)):
            await fake_api.send_text(CHAT, "/start")
            await eventually(lambda: len(successful_sends(fake_api, CHAT)) == 1, timeout=10)
        attempts = [c for c in fake_api.calls_to("sendMessage") if int(c.params["chat_id"]) == CHAT]
        assert len(attempts) == 2, f"one refused, one sent (limiter {'on' if limiter else 'off'})"
        assert successful_sends(fake_api, CHAT)[0].text == bundle.texts["welcome"]
        fake_api.calls.clear()


async def test_server_errors_on_sending_are_retried(fake_api: FakeBotApi, settings: Settings) -> None:
    fake_api.fail_next("sendMessage", 500, "Internal Server Error")
    fake_api.fail_next("sendMessage", 502, "Bad Gateway")
    async with running_bot(fake_api, settings):
        await fake_api.send_text(CHAT, "/start cause")
        await eventually(lambda: len(successful_sends(fake_api, CHAT)) == 1, timeout=10)
    attempts = [c for c in fake_api.calls_to("sendMessage") if int(c.params["chat_id"]) == CHAT]
    assert len(attempts) == 3 and successful_sends(fake_api, CHAT)[0].text.startswith("What causes NH?")


async def test_a_read_timeout_is_not_sent_again(fake_api: FakeBotApi, settings: Settings) -> None:
    """The trade of issue 12 item 9: Telegram had the request, so a second try could double the reply;
    one that truly failed after it was written is not resent. The bot goes on."""
    fake_api.fail_next("sendMessage", 500, "too slow", delay=2.0)  # longer than the bot's read timeout
    async with running_bot(fake_api, settings, read_timeout=0.5):
        await fake_api.send_text(CHAT, "/start")
        await asyncio.sleep(2.5)  # the failure arrives after 2 s; the old code had tried again at 1 s
        (reply,) = await Person(fake_api, CHAT).say("/start cause")
    assert reply.text.startswith("What causes NH?")
    attempts = [c for c in fake_api.calls_to("sendMessage") if int(c.params["chat_id"]) == CHAT]
    assert len(attempts) == 2 and [c.text[:14] for c in successful_sends(fake_api, CHAT)] == ["What causes NH"], \
        "the timed-out one once, not resent; then the next reply"


async def test_polling_survives_server_errors(fake_api: FakeBotApi, settings: Settings) -> None:
    async with running_bot(fake_api, settings):
        fake_api.fail_next("getUpdates", 502, "Bad Gateway", times=2)
        fake_api.fail_next("getUpdates", 500, "Internal Server Error")
        person = Person(fake_api, CHAT)
        (reply,) = await person.say("/start")
    assert reply.text.startswith("Hello.")


async def test_a_blocked_chat_is_forgotten_and_others_still_answered(fake_api: FakeBotApi, settings: Settings) -> None:
    async with running_bot(fake_api, settings) as adapter:
        blocked, other = Person(fake_api, CHAT), Person(fake_api, CHAT + 1)
        await blocked.say("/start")
        key = adapter.service.keyer.key("tg", CHAT)
        assert await adapter.service.store.load(key) is not None
        fake_api.fail_next("sendMessage", 403, "Forbidden: bot was blocked by the user")
        await fake_api.send_text(CHAT, "/start cause")
        (answer,) = await other.say("/start cause")
        await eventually(_gone(adapter, key))
        attempts = [c for c in fake_api.calls_to("sendMessage") if int(c.params["chat_id"]) == CHAT]
    assert len(attempts) == 2, "one reply before blocking; the refused one is not retried"
    assert answer.text.startswith("What causes NH?")


async def test_blocking_the_bot_deletes_the_session_at_once(fake_api: FakeBotApi, settings: Settings) -> None:
    async with running_bot(fake_api, settings) as adapter:
        await Person(fake_api, CHAT).say("/start")
        key = adapter.service.keyer.key("tg", CHAT)
        await fake_api.membership(CHAT, "kicked")
        await eventually(_gone(adapter, key))


def _gone(adapter, key: str):  # noqa: ANN001, ANN202
    async def check() -> bool:
        return await adapter.service.store.load(key) is None
    return check
