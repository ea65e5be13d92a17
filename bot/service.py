"""The chat service: load a session, step the engine, store the result, count it.

Both adapters (Telegram and the terminal) call `ChatService.handle`; this is the
one place where the pure engine meets storage. The anonymous figures are derived
here from the engine's result, so the engine stays free of I/O.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
import weakref

from bot.core.engine import Engine
from bot.core.model import Event, GroupMention, StepResult, Text
from bot.core.scrub import scrub
from bot.readahead import ReadAhead
from bot.storage.base import Store
from bot.storage.keys import SessionKeyer

log = logging.getLogger(__name__)

UNMATCHED_OUTCOMES = frozenset({"clarify", "out_of_scope"})
# Database trouble (locked, read-only, full, gone) is logged at most this often, not per message.
DB_ERROR_LOG_SECONDS = 60
STORAGE_ERRORS = (sqlite3.Error, OSError, ValueError)  # ValueError: aiosqlite's "no active connection"
FAILED = object()  # what _safely returns when the database did not answer


class ChatService:
    def __init__(self, engine: Engine, store: Store, keyer: SessionKeyer, log_unmatched: bool = False,
                 read_ahead: ReadAhead | None = None) -> None:
        self.engine = engine
        self.read_ahead = read_ahead
        self.store = store
        self.keyer = keyer
        self.log_unmatched = log_unmatched
        self._db_error_logged_at = -DB_ERROR_LOG_SECONDS
        self.db_errors = 0
        # One lock per session, so two updates from one chat never interleave load -> save.
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    async def handle(self, channel: str, chat_id: int | str, event: Event) -> StepResult:
        if self.read_ahead is not None and isinstance(event, Text | GroupMention) and event.text.strip():
            await self.read_ahead.read(self.engine.understanding, event.text)
        key = self.keyer.key(channel, chat_id)
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = asyncio.Lock()
        async with lock:
            # Storage failing must not silence the bot: without it, the person gets the
            # content from the main menu on, and the answer still goes out.
            loaded = await self._safely(self.store.load(key))
            degraded = loaded is FAILED
            state = None if degraded else loaded
            result = self.engine.step(state, event)
            if result.forget:
                await self._safely(self.store.delete(key))
            elif result.state is not None:
                await self._safely(self.store.save(key, result.state))
            if result.feedback is not None:
                await self._safely(self.store.record_feedback(key, *result.feedback))
        await self._safely(self.store.count(self._figures(result, new_session=state is None and not degraded)))
        if self.log_unmatched and isinstance(event, Text) and result.verdict is not None \
                and result.verdict.outcome in UNMATCHED_OUTCOMES:
            await self._safely(self.store.log_unmatched(scrub(event.text), result.verdict.outcome))
        log.info("handled %s -> %s", type(event).__name__, result.outcome)
        return result

    async def forget(self, channel: str, chat_id: int | str) -> None:
        """Delete what is kept for a chat that is gone (the person blocked the bot)."""
        await self._safely(self.store.delete(self.keyer.key(channel, chat_id)))

    async def _safely(self, operation):  # noqa: ANN001, ANN202 - an awaitable from the store
        """Run one storage operation; on a database fault, log (rarely) and go on without it."""
        try:
            return await operation
        except STORAGE_ERRORS as exc:
            self.db_errors += 1
            now = time.monotonic()
            if now - self._db_error_logged_at >= DB_ERROR_LOG_SECONDS:
                self._db_error_logged_at = now
                log.error("database unavailable (%s: %s); answering without stored state until it recovers "
                          "(%d failed operations so far)", type(exc).__name__, exc, self.db_errors)
            return FAILED

    def _figures(self, result: StepResult, new_session: bool) -> list[tuple[str, str]]:
        """The anonymous counts one step adds: nothing here names the session."""
        figures = []
        if new_session and result.state is not None:
            figures.append(("session_started", ""))
        figures += [("answer_shown", r.answer_id) for r in result.replies if r.answer_id]
        node = result.state.node if result.state is not None else None
        if result.outcome in {"navigate", "start"} and node in self.engine.bundle.nodes:
            figures.append(("menu_path", node))
        if result.verdict is not None:
            figures.append(("outcome", result.verdict.outcome))
        return figures
