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
FAILED = object()  # what safely() returns when the database did not answer
# The longest a reply waits for storage, all its operations together. They share aiosqlite's one
# thread, so without a bound, a locked database made every chat wait for every other chat's busy timeout.
STORAGE_WAIT_SECONDS = 1.0
# After a fault, replies go without the database this long; then one operation tries it again.
STORAGE_RETRY_SECONDS = 2.0


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
        self._down = False  # the last storage operation failed
        self._retry_at = 0.0  # while down: when the database is tried again
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
            by = time.monotonic() + STORAGE_WAIT_SECONDS  # from here: waiting for the chat's lock is not storage
            loaded = await self.safely(self.store.load, key, by=by)
            degraded = loaded is FAILED
            state = None if degraded else loaded
            result = self.engine.step(state, event)
            if result.forget:
                await self.safely(self.store.delete, key, by=by)
            elif result.state is not None:
                await self.safely(self.store.save, key, result.state, by=by)
            if result.feedback is not None:
                await self.safely(self.store.record_feedback, key, *result.feedback, by=by)
        figures = self._figures(result, new_session=state is None and not degraded)
        if self._skipping():
            self.store.add_counts(figures)  # kept in memory, written once the database answers
        else:
            await self.safely(self.store.count, figures, by=by)
        if self.log_unmatched and isinstance(event, Text) and result.verdict is not None \
                and result.verdict.outcome in UNMATCHED_OUTCOMES:
            await self.safely(self.store.log_unmatched, scrub(event.text), result.verdict.outcome, by=by)
        log.info("handled %s -> %s", type(event).__name__, result.outcome)
        return result

    async def forget(self, channel: str, chat_id: int | str) -> None:
        """Delete what is kept for a chat that is gone (the person blocked the bot)."""
        await self.safely(self.store.delete, self.keyer.key(channel, chat_id))

    def _skipping(self) -> bool:
        return self._down and time.monotonic() < self._retry_at

    async def safely(self, operation, *args, by: float | None = None):  # noqa: ANN001, ANN002, ANN202
        """Run one storage operation (a store method and its arguments); on a database fault, log
        (rarely) and go on without it.

        It waits until `by` (time.monotonic()), or STORAGE_WAIT_SECONDS. After a fault, operations
        are skipped (FAILED at once) for STORAGE_RETRY_SECONDS, and then one of them tries the
        database again: a locked database costs a reply at most STORAGE_WAIT_SECONDS, not a busy
        timeout for every operation queued before its own."""
        wait = STORAGE_WAIT_SECONDS if by is None else by - time.monotonic()
        if wait <= 0:
            self.db_errors += 1
            return FAILED
        if self._down:
            if self._skipping():
                self.db_errors += 1
                return FAILED
            self._retry_at = time.monotonic() + STORAGE_RETRY_SECONDS  # this one tries; the others skip
        try:
            # asyncio.timeout, not wait_for: in Python 3.11 wait_for can swallow a cancellation that
            # meets a finishing operation, and the poller's progress writer is cancelled at shutdown.
            async with asyncio.timeout(wait):
                result = await operation(*args)
        except (*STORAGE_ERRORS, TimeoutError) as exc:
            self.db_errors += 1
            self._down, self._retry_at = True, time.monotonic() + STORAGE_RETRY_SECONDS
            now = time.monotonic()
            if now - self._db_error_logged_at >= DB_ERROR_LOG_SECONDS:
                self._db_error_logged_at = now
                reason = f"{type(exc).__name__}: {exc}" if str(exc) else f"no answer within {wait:.1f} s"
                log.error("database unavailable (%s); answering without stored state until it recovers "
                          "(%d failed operations so far)", reason, self.db_errors)
            return FAILED
        if self._down:
            self._down = False
            log.info("the database answers again (%d operations failed or were skipped meanwhile)", self.db_errors)
        return result

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
