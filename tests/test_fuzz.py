"""Bad input, generated: whatever arrives, no error escapes, people get a reply, Telegram's limits hold."""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings as hyp_settings, strategies as st
from telegram import Update

from bot.adapters.telegram import TelegramAdapter
from bot.app import load_engine, open_service
from bot.config import Settings
from tests.conftest import CONTENT, FLOWS, TOKEN, VECTOR_CACHE
from tests.fake_bot_api import FakeBotApi

TRICKY = st.sampled_from([
    "\u202eevil rtl", "zero\u200bwidth\u200d", "👨‍👩‍👧‍👦🏳️‍🌈", "<b>bold</b> & <script>", "&amp; &lt;",
    "/start ../../etc", "/start " + "x" * 80, "/", "//", "@nh_guide_test_bot", "\x00\x01", "NH" * 3000,
])
TEXT = st.one_of(
    st.text(max_size=300),
    TRICKY,
    st.builds(lambda piece, times: (piece * times)[:10_000], st.text(min_size=1, max_size=8), st.integers(1_000, 10_000)),
    st.builds(lambda name, rest: f"/{name} {rest}", st.text(alphabet="abcdefghijklmnopqrstuvwxyz_@", max_size=40), st.text(max_size=40)),
)
CALLBACK = st.one_of(st.text(max_size=70), st.builds("|".join, st.lists(st.text(max_size=30), min_size=1, max_size=4)))


class Harness:
    """One running bot, in its own event loop, fed one update at a time as the poller would."""

    def __init__(self, root: Path) -> None:
        self.loop = asyncio.new_event_loop()
        self.api = self.loop.run_until_complete(FakeBotApi(TOKEN).start())
        settings = Settings(token=TOKEN, db_path=root / "bot.sqlite3", content_dir=CONTENT, flows_dir=FLOWS, rate_limit=False,
                            cache_dir=VECTOR_CACHE)  # the shared example vectors: not 12 s of embedding per run
        engine = load_engine(settings)
        self.adapter = TelegramAdapter(lambda: open_service(settings, engine))
        self.app = self.adapter.build(TOKEN, self.api.base_url, rate_limit=False, updater=None)
        self.loop.run_until_complete(self.app.initialize())
        self.loop.run_until_complete(self.adapter.post_init(self.app))
        self.ids = itertools.count(1)
        self.errors: list[logging.LogRecord] = []
        handler = logging.Handler(logging.ERROR)
        handler.emit = self.errors.append  # type: ignore[method-assign]
        logging.getLogger("bot").addHandler(handler)
        self._handler = handler

    def close(self) -> None:
        logging.getLogger("bot").removeHandler(self._handler)
        self.loop.run_until_complete(self.adapter.post_shutdown(self.app))
        self.loop.run_until_complete(self.app.shutdown())
        self.loop.run_until_complete(self.api.stop())
        self.loop.close()

    def feed(self, body: dict) -> list:
        """Process one update; return the Bot API calls it caused."""
        before = len(self.api.calls)
        update = Update.de_json({"update_id": next(self.ids), **body}, self.app.bot)
        self.loop.run_until_complete(self.app.process_update(update))
        return self.api.calls[before:]


@pytest.fixture(scope="module")
def harness(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    h = Harness(tmp_path_factory.mktemp("fuzz"))
    yield h
    h.close()


def user(chat_id: int) -> dict:
    return {"id": chat_id, "is_bot": False, "first_name": "F"}


def message(chat_id: int, chat_type: str = "private", **content: object) -> dict:
    chat = {"id": chat_id, "type": chat_type, "first_name": "F"} if chat_type == "private" else {"id": chat_id, "type": chat_type, "title": "G"}
    return {"message_id": 1, "date": int(time.time()), "chat": chat, "from": user(abs(chat_id)), **content}


def check_limits(calls: list) -> None:
    for call in calls:
        assert call.result is not None, f"Telegram refused {call.method}: the bot broke a limit ({call.params!r:.200})"


@hyp_settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=TEXT, chat=st.integers(1, 10**12))
def test_any_private_text_gets_a_reply_within_limits(harness: Harness, text: str, chat: int) -> None:
    calls = harness.feed({"message": message(chat, text=text)})
    check_limits(calls)
    assert [c for c in calls if c.method == "sendMessage"], "a person who wrote gets an answer"
    assert not harness.errors, harness.errors[0].getMessage()


@hyp_settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=CALLBACK, chat=st.integers(1, 10**12))
def test_any_button_press_is_answered_within_limits(harness: Harness, data: str, chat: int) -> None:
    message_id = harness.api.bot_message(chat)
    query = {"id": str(next(harness.ids)), "from": user(chat), "chat_instance": "ci", "data": data,
             "message": harness.api.messages[message_id]}
    calls = harness.feed({"callback_query": query})
    check_limits(calls)
    assert [c for c in calls if c.method == "answerCallbackQuery"], "every press is answered"
    assert not harness.errors, harness.errors[0].getMessage()


@hyp_settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=TEXT, kind=st.sampled_from(["edited_message", "channel_post", "edited_channel_post", "inline_query",
                                        "group", "sticker", "service"]))
def test_other_update_kinds_never_break_the_bot(harness: Harness, text: str, kind: str) -> None:
    chat = 4242
    if kind == "inline_query":
        body = {"inline_query": {"id": "q", "from": user(chat), "query": text[:256], "offset": ""}}
    elif kind in {"channel_post", "edited_channel_post"}:
        body = {kind: {"message_id": 1, "date": 0, "chat": {"id": -100777, "type": "channel", "title": "C"}, "text": text}}
    elif kind == "group":
        body = {"message": message(-100555, "supergroup", text=text)}
    elif kind == "sticker":
        body = {"message": message(chat, sticker={"file_id": "s", "file_unique_id": "u", "type": "regular",
                                                  "width": 1, "height": 1, "is_animated": False, "is_video": False})}
    elif kind == "service":
        body = {"message": message(chat, new_chat_title=text[:100] or "t")}
    else:
        body = {kind: message(chat, text=text, edit_date=1)}
    calls = harness.feed(body)
    check_limits(calls)
    if kind == "sticker":
        assert [c for c in calls if c.method == "sendMessage"]
    if kind in {"edited_message", "channel_post", "edited_channel_post", "inline_query", "service"}:
        assert not [c for c in calls if c.method == "sendMessage"], f"{kind} needs no reply"
    assert not harness.errors, harness.errors[0].getMessage()

