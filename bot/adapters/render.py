"""Reply -> Telegram HTML messages. Pure functions, no network.

Content is plain text; everything is HTML-escaped here, in one place. Long
texts are split on paragraph (then line) boundaries *before* escaping, so no
chunk cuts through a tag or an entity, and each chunk stays under Telegram's
4,096-character limit (which counts the text after entity parsing).
"""

from __future__ import annotations

import functools
import html

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.core.model import Button, Reply

TELEGRAM_MAX_MESSAGE = 4096
CHUNK_BUDGET = 4000  # a little headroom under the limit


def split_text(text: str, budget: int = CHUNK_BUDGET) -> list[str]:
    """Split plain text into chunks of at most `budget` characters, at the gentlest boundary."""
    if len(text) <= budget:
        return [text]
    for separator in ("\n\n", "\n", " "):
        pieces = text.split(separator)
        if len(pieces) == 1:
            continue
        chunks: list[str] = []
        current = ""
        for piece in pieces:
            candidate = f"{current}{separator}{piece}" if current else piece
            if len(candidate) <= budget:
                current = candidate
                continue
            if current:
                chunks.append(current)
            current = piece
        if current:
            chunks.append(current)
        return [part for chunk in chunks for part in split_text(chunk, budget)]
    return [text[i : i + budget] for i in range(0, len(text), budget)]


def html_chunks(reply: Reply) -> list[str]:
    """The reply as one or more HTML messages: bold title first, then escaped text."""
    full = f"{reply.title}\n\n{reply.text}" if reply.title else reply.text
    chunks = split_text(full)
    rendered = [html.escape(chunk, quote=False) for chunk in chunks]
    if reply.title and chunks[0].startswith(reply.title):
        rest = chunks[0][len(reply.title) :]
        rendered[0] = f"<b>{html.escape(reply.title, quote=False)}</b>{html.escape(rest, quote=False)}"
    return rendered


def keyboard(reply: Reply, bot_username: str | None = None) -> InlineKeyboardMarkup | None:
    if reply.kind == "group" and bot_username:
        return _private_chat_button(bot_username)
    if not reply.buttons:
        return None
    return _keyboard(reply.buttons)


# The same few dozen keyboards are shown to everyone, so each is built and serialised once:
# building and serialising python-telegram-bot's button objects was a third of the CPU time
# of handling an update (`make bench`). A new content version brings new callback data, and
# the least recently used keyboards make room.
KEYBOARD_CACHE_SIZE = 1024


class BuiltKeyboard(InlineKeyboardMarkup):
    """An inline keyboard that serialises itself once; python-telegram-bot's objects are immutable."""

    __slots__ = ("_serialised",)

    def __init__(self, rows: list[list[InlineKeyboardButton]]) -> None:
        super().__init__(rows)
        with self._unfrozen():
            self._serialised = super().to_dict()

    def to_dict(self, recursive: bool = True) -> dict:
        return dict(self._serialised) if recursive else super().to_dict(recursive)


@functools.lru_cache(maxsize=KEYBOARD_CACHE_SIZE)
def _keyboard(buttons: tuple[tuple[Button, ...], ...]) -> BuiltKeyboard:
    return BuiltKeyboard([[InlineKeyboardButton(b.label, callback_data=b.data) for b in row] for row in buttons])


@functools.lru_cache(maxsize=4)
def _private_chat_button(bot_username: str) -> BuiltKeyboard:
    return BuiltKeyboard([[InlineKeyboardButton("💬 Talk to me privately", url=f"https://t.me/{bot_username}")]])
