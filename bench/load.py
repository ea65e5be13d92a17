"""The benchmark's load: updates over many chats, a mix of /start, button presses and typed questions.

Every update is chosen so that our bot answers it with exactly one message (checked
with the engine itself), and the echo bots echo it with one message: so "every reply
has arrived" is a count, the same for all three bots.
"""

from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Any

from bot.adapters.render import html_chunks
from bot.content.bundle import Bundle
from bot.core import callback
from bot.core.engine import Engine
from bot.core.model import Text
from bot.evaluate import read_labelled

REPO = Path(__file__).resolve().parent.parent
FIRST_CHAT = 900_000


def typed_questions(engine: Engine) -> list[str]:
    """The labelled messages people typed (tests/data) that get one reply of one message."""
    texts = []
    for row in read_labelled(sorted((REPO / "tests" / "data").glob("*.jsonl"))):
        text = row["text"]
        if text.startswith("/"):
            continue
        replies = engine.step(None, Text(text)).replies
        if len(replies) == 1 and len(html_chunks(replies[0])) == 1:
            texts.append(text)
    return texts


def updates(bundle: Bundle, engine: Engine, chats: int, count: int, seed: int = 7) -> list[dict[str, Any]]:
    """`count` update bodies (without update_id) spread over `chats` chats, a third of each kind."""
    rng = random.Random(seed)
    answers = sorted(bundle.answers)
    typed = typed_questions(engine)
    bodies = []
    for number in range(count):
        chat = FIRST_CHAT + number % chats
        kind = rng.randrange(3)
        if kind == 0:
            bodies.append({"message": _message(chat, f"/start {rng.choice(answers)}", number, command=True)})
        elif kind == 1:
            data = callback.encode(bundle.version, callback.GOTO, rng.choice(answers))
            bodies.append({"callback_query": {"id": f"q{number}", "from": _user(chat), "chat_instance": "c", "data": data,
                                              "message": {"message_id": 1, "date": int(time.time()), "text": "menu",
                                                          "chat": _chat(chat), "from": {"id": 777000111, "is_bot": True,
                                                                                        "first_name": "NH guide"}}}})
        else:
            bodies.append({"message": _message(chat, rng.choice(typed), number)})
    return bodies


def _user(chat: int) -> dict[str, Any]:
    return {"id": chat, "is_bot": False, "first_name": "Parent", "language_code": "en"}


def _chat(chat: int) -> dict[str, Any]:
    return {"id": chat, "type": "private", "first_name": "Parent"}


def _message(chat: int, text: str, number: int, command: bool = False) -> dict[str, Any]:
    message = {"message_id": 10_000 + number, "date": int(time.time()), "chat": _chat(chat), "from": _user(chat), "text": text}
    if command:
        message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
    return message
