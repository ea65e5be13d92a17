"""Shared fixtures: the shipped content, a real SQLite file, the fake Bot API, a running bot."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.adapters import poller
from bot.adapters.telegram import TelegramAdapter
from bot.app import load_engine, open_service, understanding_for
from bot.config import Settings
from bot.content import load_bundle
from bot.content.bundle import Bundle
from bot.core.engine import Engine
from tests.fake_bot_api import Call, FakeBotApi

REPO = Path(__file__).resolve().parent.parent
CONTENT = REPO / "content"
FLOWS = REPO / "flows"
# Example vectors are computed once per content version; kept between runs to save the time.
VECTOR_CACHE = REPO / ".cache" / "vectors"
TOKEN = "123456789:AAF-test_TOKEN-0123456789abcdefghijKLM"


@pytest.fixture(scope="session")
def bundle() -> Bundle:
    loaded, _warnings = load_bundle(CONTENT, FLOWS)
    return loaded


@pytest.fixture(scope="session")
def engine(bundle: Bundle) -> Engine:
    """The engine as the bot runs it: with the sentence model and the shipped examples."""
    return Engine(bundle, understanding=understanding_for(bundle, VECTOR_CACHE))


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(token=TOKEN, db_path=tmp_path / "data" / "bot.sqlite3", content_dir=CONTENT, flows_dir=FLOWS,
                    cache_dir=VECTOR_CACHE)


@pytest.fixture
async def fake_api() -> AsyncIterator[FakeBotApi]:
    api = await FakeBotApi(TOKEN).start()
    try:
        yield api
    finally:
        await api.stop()


@contextlib.asynccontextmanager
async def running_bot(api: FakeBotApi, settings: Settings, adapter_options: dict | None = None,
                      **builder_options: object) -> AsyncIterator[TelegramAdapter]:
    """The real Application and the bot's own poller, against the fake server, as `python -m bot run` runs them."""
    engine = load_engine(settings)
    adapter = TelegramAdapter(lambda: open_service(settings, engine), **(adapter_options or {}))
    app = adapter.build(settings.token, api.base_url, rate_limit=settings.rate_limit, http=settings.http_client,
                        updater=None, **builder_options)
    stop = asyncio.Event()
    task = asyncio.create_task(poller.run(app, adapter, stop, timeout=1))
    try:
        await eventually(lambda: app.running or task.done())
        if task.done():
            task.result()  # start-up failed: show why
        yield adapter
    finally:
        stop.set()
        await task


async def eventually(check, timeout: float = 5.0) -> None:  # noqa: ANN001
    """Wait until `check()` (sync or async) is true: for effects that send no message."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(0.02)


class Person:
    """One person in one private chat, seen through the fake Bot API."""

    def __init__(self, api: FakeBotApi, chat_id: int, name: str = "Alice", username: str = "alice_w") -> None:
        self.api = api
        self.chat_id = chat_id
        self.name = name
        self.username = username

    def _seen(self) -> int:
        return len(self.api.outgoing(self.chat_id))

    async def _wait_replies(self, before: int, replies: int) -> list[Call]:
        await self.api.wait_until(lambda: self._seen() >= before + replies)
        return self.api.outgoing(self.chat_id)[before:]

    async def say(self, text: str, replies: int = 1) -> list[Call]:
        before = self._seen()
        await self.api.send_text(self.chat_id, text, name=self.name, username=self.username)
        return await self._wait_replies(before, replies)

    async def send(self, content: dict, replies: int = 1) -> list[Call]:
        before = self._seen()
        await self.api.send_other(self.chat_id, content)
        return await self._wait_replies(before, replies)

    def last_keyboard(self) -> Call:
        return next(c for c in reversed(self.api.outgoing(self.chat_id)) if c.buttons)

    async def tap(self, label: str, replies: int = 1, on: Call | None = None) -> list[Call]:
        call = on or self.last_keyboard()
        data = next((d for text, d in call.buttons if text == label), None)
        assert data is not None, f"no button {label!r} in {[t for t, _ in call.buttons]}"
        return await self.press(call.message_id, data, replies)

    async def press(self, message_id: int, data: str, replies: int = 1) -> list[Call]:
        before = self._seen()
        answered = len(self.api.calls_to("answerCallbackQuery"))
        await self.api.press(self.chat_id, message_id, data)
        await self.api.wait_until(lambda: len(self.api.calls_to("answerCallbackQuery")) > answered)
        return await self._wait_replies(before, replies)


def main_menu_labels(bundle: Bundle) -> list[str]:
    """The main menu's buttons as flows/main.yaml lists them."""
    return [button.label or bundle.label(button.to) for button in bundle.nodes[bundle.start].buttons]
