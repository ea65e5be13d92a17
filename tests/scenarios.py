"""A scripted crowd of chats for load and restart tests: each update has one known reply."""

from __future__ import annotations

import random

from bot.content.bundle import Bundle
from bot.core import callback
from tests.fake_bot_api import FakeBotApi

TYPED = {"is it genetic??": "is-it-genetic", "wil it hapen again next baby": "recurrence-risk",
         "what does GALD stand for": "nh-and-gald", "is it my fault": "not-your-fault"}


async def script(api: FakeBotApi, bundle: Bundle, chats: int, updates: int, seed: int = 7) -> dict[int, list[str]]:
    """Queue `updates` updates over `chats` chats; return the question each reply must start with, per chat."""
    rng = random.Random(seed)
    answers = list(bundle.answers)
    expected: dict[int, list[str]] = {}
    menus = {}
    chat_ids = [900_000 + n for n in range(chats)]
    for number in range(updates):
        chat = chat_ids[number % chats]
        kind = rng.randrange(3)
        if kind == 0:
            answer = rng.choice(answers)
            await api.send_text(chat, f"/start {answer}")
        elif kind == 1:
            answer = rng.choice(answers)
            message = menus.setdefault(chat, api.bot_message(chat))
            await api.press(chat, message, callback.encode(bundle.version, callback.GOTO, answer))
        else:
            text, answer = rng.choice(list(TYPED.items()))
            await api.send_text(chat, text)
        expected.setdefault(chat, []).append(bundle.answers[answer].question)
    return expected


def replies_by_chat(api: FakeBotApi) -> dict[int, list[str]]:
    got: dict[int, list[str]] = {}
    for call in api.calls_to("sendMessage"):
        if call.result is not None:
            got.setdefault(int(call.params["chat_id"]), []).append(call.text.split("\n", 1)[0])
    return got
