"""The Telegram adapter: python-telegram-bot's Application around the chat service.

This is the only module that talks to Telegram. It turns updates into engine
events, and replies into messages, and it owns Telegram's quirks: callback
queries answered first, "message is not modified", group chats, long messages.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import signal
from collections.abc import Awaitable, Callable

from telegram import BotCommand, ChatMember, LinkPreviewOptions, Message, Update
from telegram.constants import ChatType, ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError, TimedOut
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ChatMemberHandler,
    ContextTypes,
    Defaults,
    MessageHandler,
    filters,
)

from bot.adapters.http import AiohttpRequest, surely_not_sent
from bot.adapters.render import html_chunks, keyboard
from bot.core import callback
from bot.core.engine import COMMANDS
from bot.core.model import Command, Event, GroupMention, NonText, Press, Reply, Start, Text
from bot.service import ChatService

log = logging.getLogger(__name__)

# python-telegram-bot 22 reports time periods (RetryAfter.retry_after) as timedelta when this is set,
# and warns that the old int form is deprecated otherwise: opt in to the lasting behaviour.
os.environ.setdefault("PTB_TIMEDELTA", "true")

CHANNEL = "tg"
STATS_DAYS = 7
ALLOWED_UPDATES = ["message", "callback_query", "my_chat_member"]
# Sending: a few tries with growing pauses for timeouts and server errors, so no reply is dropped
# on a passing fault; Telegram's "retry after" is honoured as it says.
SEND_ATTEMPTS = 5
FIRST_BACKOFF_SECONDS = 0.5
MAX_RETRY_AFTER_SECONDS = 60


TIMEOUT_OPTIONS = ("read_timeout", "connect_timeout", "pool_timeout")


class ChatGone(Exception):
    """The person blocked the bot or the chat no longer exists: stop sending to it."""

# The order matters only for naming: the first attribute present names the kind.
NON_TEXT_KINDS = (
    "sticker", "photo", "video", "video_note", "voice", "audio", "animation", "document",
    "location", "venue", "contact", "poll", "dice", "game", "story",
)


def event_from_message(message: Message, bot_username: str | None) -> Event | None:
    """Translate a message to an engine event, or None when the bot should stay silent."""
    private = message.chat.type == ChatType.PRIVATE
    text = message.text
    if not private:
        return _group_event(message, text, bot_username)
    if text is None:
        kind = next((k for k in NON_TEXT_KINDS if getattr(message, k, None)), None)
        return NonText(kind) if kind else None  # service messages (pins, etc.) need no reply
    if text.startswith("/"):
        # In a private chat everything is for us, whatever "@name" a command carries: never stay silent.
        head, _, rest = text.partition(" ")
        name = head[1:].partition("@")[0].lower()
        if name == "start":
            return Start(rest.strip() or None)
        return Command(name)
    return Text(text)


def _group_event(message: Message, text: str | None, bot_username: str | None) -> Event | None:
    """In groups, answer only commands for us and mentions, and invite a private chat."""
    if text is None:
        return None
    mention = f"@{bot_username}".lower() if bot_username else None
    lowered = text.lower()
    if text.startswith("/"):
        head = lowered.split(maxsplit=1)[0]
        addressee = head.partition("@")[2]
        return GroupMention() if not addressee or (mention and addressee == mention[1:]) else None
    if mention and mention in lowered:
        return GroupMention(re.sub(re.escape(mention), " ", text, flags=re.IGNORECASE))
    replied = message.reply_to_message
    if replied is not None and replied.from_user is not None and replied.from_user.is_bot and bot_username \
            and (replied.from_user.username or "").lower() == bot_username.lower():
        return GroupMention(text)
    return None


PURGE_EVERY_SECONDS = 3600
WATCH_EVERY_SECONDS = 2.0


class TelegramAdapter:
    def __init__(self, open_service: Callable[[], Awaitable[ChatService]], admin_ids: frozenset[int] = frozenset(),
                 purge: Callable[[], Awaitable[object]] | None = None, purge_every: float = PURGE_EVERY_SECONDS,
                 reload: Callable[[], None] | None = None, watch: Callable[[], object] | None = None,
                 watch_every: float = WATCH_EVERY_SECONDS) -> None:
        self._open_service = open_service
        self.service: ChatService | None = None
        self._admin_ids = admin_ids  # configuration only: never stored
        self._purge = purge
        self._purge_every = purge_every
        self._purger: asyncio.Task[None] | None = None
        self._reload = reload
        self._watch = watch  # returns something that changes when the content files change
        self._watch_every = watch_every
        self._watcher: asyncio.Task[None] | None = None

    def build(self, token: str, base_url: str, rate_limit: bool = True, http: str = "aiohttp",
              **builder_options: object) -> Application:
        defaults = Defaults(parse_mode=ParseMode.HTML, link_preview_options=LinkPreviewOptions(is_disabled=True))
        builder = (
            ApplicationBuilder()
            .token(token)
            .base_url(base_url)
            .defaults(defaults)
            .post_init(self.post_init)
            .post_shutdown(self.post_shutdown)
        )
        if http == "aiohttp":  # the same requests for less CPU than httpx: see bot/adapters/http.py
            timeouts = {name: builder_options.pop(name) for name in TIMEOUT_OPTIONS if name in builder_options}
            builder = builder.request(AiohttpRequest(256, **timeouts)).get_updates_request(AiohttpRequest(1, **timeouts))
        if rate_limit:  # Telegram's flood limits; off for a self-hosted Bot API server or a capacity benchmark
            builder = builder.rate_limiter(AIORateLimiter(max_retries=3))
        for name, value in builder_options.items():
            builder = getattr(builder, name)(value)
        app = builder.build()
        app.add_handler(ChatMemberHandler(self.on_membership, ChatMemberHandler.MY_CHAT_MEMBER))
        app.add_handler(CallbackQueryHandler(self.on_press))
        app.add_handler(MessageHandler(filters.UpdateType.MESSAGE, self.on_message))
        app.add_error_handler(self.on_error)
        return app

    # --- lifecycle --------------------------------------------------------------

    async def post_init(self, app: Application) -> None:
        self.service = await self._open_service()
        if self._purge is not None:
            self._purger = asyncio.create_task(self._purge_periodically())
        if self._reload is not None and hasattr(signal, "SIGHUP"):
            asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, self._reload)
        if self._reload is not None and self._watch is not None:
            self._watcher = asyncio.create_task(self._watch_content())
        try:
            await app.bot.set_my_commands([BotCommand(name, text) for name, text in COMMANDS])
        except TelegramError as exc:  # the "/" menu is a convenience: never block start-up on it
            log.warning("could not register the command list: %s", type(exc).__name__)
        log.info("bot started as @%s with content version %s", app.bot.username, self.service.engine.bundle.version)

    async def post_shutdown(self, app: Application) -> None:
        for task in (self._purger, self._watcher):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._purger = self._watcher = None
        if self.service is not None:
            await self.service.store.close()
            self.service = None

    async def _purge_periodically(self) -> None:
        """Forget expired sessions and unmatched questions while running, not only at start-up."""
        assert self._purge is not None
        while True:
            await asyncio.sleep(self._purge_every)
            try:
                await self._purge()
            except Exception:  # noqa: BLE001 - a failed purge is retried next time; the bot goes on
                log.exception("periodic purge failed")

    async def _watch_content(self) -> None:
        """BOT_RELOAD_WATCH: reload when content files change, as SIGHUP would."""
        assert self._watch is not None and self._reload is not None
        seen = self._watch()
        while True:
            await asyncio.sleep(self._watch_every)
            now = self._watch()
            if now != seen:
                seen = now
                self._reload()

    # --- updates ----------------------------------------------------------------

    async def on_message(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.message
        if message is None or self.service is None:
            return
        event = event_from_message(message, context.bot.username)
        if event is None:
            return
        if event == Command("stats") and message.from_user is not None and message.from_user.id in self._admin_ids:
            await self._send_stats(context, message.chat_id)
            return
        result = await self.service.handle(CHANNEL, message.chat_id, event)
        await self._deliver_or_forget(context, message.chat_id, result.replies)

    async def on_press(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        if query is None:
            return
        # Answer first, before any storage work: the button shows a spinner until we do.
        decoded = callback.decode(query.data or "")
        thanks = None
        if self.service is not None and decoded is not None and decoded.op == callback.FEEDBACK \
                and decoded.version == self.service.engine.bundle.version:
            thanks = self.service.engine.bundle.texts["feedback_thanks"]  # acknowledged without a new message
        try:  # tried again on passing faults like every send; if it still fails, the press is answered anyway
            await self._send(lambda: query.answer(thanks), repeatable=True)
        except BadRequest as exc:
            if "query is too old" not in str(exc).lower() and "query id is invalid" not in str(exc).lower():
                raise
            log.warning("callback query answered too late")
        except (TelegramError, ChatGone) as exc:
            log.warning("could not acknowledge a button press (%s); answering it all the same", type(exc).__name__)
        message = query.message if isinstance(query.message, Message) else None
        chat = message.chat if message is not None else None
        if chat is None or chat.type != ChatType.PRIVATE or self.service is None:
            return
        result = await self.service.handle(CHANNEL, chat.id, Press(query.data or ""))
        editable = message if decoded is not None and decoded.from_menu else None
        await self._deliver_or_forget(context, chat.id, result.replies, editable)

    async def on_membership(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A person who blocks the bot is forgotten at once, not only when a send fails."""
        change = update.my_chat_member
        if change is None or self.service is None or change.chat.type != ChatType.PRIVATE:
            return
        if change.new_chat_member.status in {ChatMember.BANNED, ChatMember.LEFT}:
            await self.service.forget(CHANNEL, change.chat.id)
            log.info("a person blocked the bot; their session was deleted")

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        # Log the error's type and traceback only: never the update, which holds what people wrote.
        log.error("error while handling an update: %s", type(context.error).__name__, exc_info=context.error)
        if not isinstance(update, Update) or update.effective_chat is None or self.service is None:
            return
        if update.effective_chat.type != ChatType.PRIVATE or isinstance(context.error, (Forbidden, ChatGone)):
            return
        engine = self.service.engine
        reply = Reply(engine.bundle.texts["error"], "menu", buttons=engine.step(None, Command("menu")).replies[0].buttons)
        try:
            await self._deliver(context, update.effective_chat.id, (reply,))
        except TelegramError:
            log.warning("could not send the apology either")

    async def _send_stats(self, context: ContextTypes.DEFAULT_TYPE, chat_id: int) -> None:
        from bot.stats import render_text, summarise  # noqa: PLC0415

        assert self.service is not None
        bundle = self.service.engine.bundle
        figures = summarise(await self.service.store.counts(STATS_DAYS), bundle, STATS_DAYS)
        await self._deliver(context, chat_id, (Reply(render_text(figures, bundle), "note"),))

    # --- sending ------------------------------------------------------------------

    async def _deliver_or_forget(
        self, context: ContextTypes.DEFAULT_TYPE, chat_id: int, replies: tuple[Reply, ...], editable: Message | None = None
    ) -> None:
        try:
            await self._deliver(context, chat_id, replies, editable)
        except ChatGone:
            if self.service is not None:
                await self.service.forget(CHANNEL, chat_id)
            log.info("a chat is gone (blocked or deleted): stopped sending and deleted its session")

    @staticmethod
    async def _send(make: Callable[[], Awaitable[object]], repeatable: bool = False) -> object:
        """One Bot API call, tried again on passing faults; ChatGone when the person blocked the bot.

        A call that is not `repeatable` (a new message) is not sent again after a read timeout: Telegram
        had the request and may have carried it out, and a second try would send it twice. It is taken
        as sent (None). Acknowledging a press and editing a message do no harm done twice."""
        backoff = FIRST_BACKOFF_SECONDS
        for attempt in range(1, SEND_ATTEMPTS + 1):
            try:
                return await make()
            except Forbidden as exc:
                raise ChatGone(str(exc)) from exc
            except BadRequest:
                raise  # our request is wrong: trying again will not help
            except RetryAfter as exc:
                wait = exc.retry_after
                seconds = wait.total_seconds() if hasattr(wait, "total_seconds") else float(wait)
                if attempt == SEND_ATTEMPTS or seconds > MAX_RETRY_AFTER_SECONDS:
                    raise
                log.warning("Telegram asked to wait %.1f s before sending again", seconds)
                await asyncio.sleep(seconds + 0.1)
            except (TimedOut, NetworkError) as exc:
                if isinstance(exc, TimedOut) and not repeatable and not surely_not_sent(exc):
                    log.warning("sending timed out after the request was written; not sending it again, "
                                "as Telegram may have it already")
                    return None
                if attempt == SEND_ATTEMPTS:
                    raise
                log.warning("sending failed (%s); trying again in %.1f s", type(exc).__name__, backoff)
                await asyncio.sleep(backoff)
                backoff *= 2
        raise AssertionError("unreachable")

    async def _deliver(
        self, context: ContextTypes.DEFAULT_TYPE, chat_id: int, replies: tuple[Reply, ...], editable: Message | None = None
    ) -> None:
        for index, reply in enumerate(replies):
            chunks = html_chunks(reply)
            markup = keyboard(reply, context.bot.username)
            if index == 0 and editable is not None and reply.kind == "menu" and len(chunks) == 1:
                if await self._edit(editable, chunks[0], markup):
                    continue
            for number, chunk in enumerate(chunks):
                last = number == len(chunks) - 1
                await self._send(lambda c=chunk, m=markup if last else None: context.bot.send_message(chat_id, c, reply_markup=m))

    async def _edit(self, message: Message, text: str, markup: object) -> bool:
        """Edit a menu in place; False when Telegram cannot, so the caller sends instead."""
        try:
            await self._send(lambda: message.edit_text(text, reply_markup=markup), repeatable=True)
        except BadRequest as exc:
            reason = str(exc).lower()
            if "message is not modified" in reason:
                return True  # a double tap: what the person sees is already right
            if "can't be edited" in reason or "not found" in reason:
                return False
            raise
        return True
