"""python-telegram-bot on aiohttp (bot/adapters/http.py): the default network layer, and the switch back to httpx."""

from __future__ import annotations

import dataclasses

import pytest

from bot.adapters import http
from bot.adapters.telegram import TelegramAdapter
from bot.config import Settings
from tests.conftest import Person, running_bot
from tests.fake_bot_api import FakeBotApi


@pytest.mark.parametrize("client", ["aiohttp", "httpx"])
async def test_both_network_layers_carry_a_conversation(fake_api: FakeBotApi, settings: Settings, client: str) -> None:
    built = TelegramAdapter(lambda: None).build(settings.token, fake_api.base_url, http=client)  # type: ignore[arg-type, return-value]
    assert type(built.bot.request).__name__ == ("AiohttpRequest" if client == "aiohttp" else "HTTPXRequest")
    person = Person(fake_api, 5301)
    async with running_bot(fake_api, dataclasses.replace(settings, http_client=client)):
        replies = await person.say("/start cause")
        menu = await person.tap("⬅️ Back")
    assert replies[0].text.startswith("What causes NH?") and replies[0].buttons
    assert menu[0].buttons, "a button press went through as well"


def test_proxy_settings_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    http._proxy.cache_clear()
    try:
        assert http._proxy(("https", "api.telegram.org")) == "http://proxy.internal:3128"
        assert http._proxy(("http", "127.0.0.1:8081")) is None, "NO_PROXY is honoured"
    finally:
        http._proxy.cache_clear()
