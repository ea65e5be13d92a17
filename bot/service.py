"""The chat service: load a session, step the engine, store the result, count it.

Both adapters (Telegram and the terminal) call `ChatService.handle`; this is the
one place where the pure engine meets storage. The anonymous figures are derived
here from the engine's result, so the engine stays free of I/O.
"""

from __future__ import annotations

import asyncio
import logging
import weakref

from bot.core.engine import Engine
from bot.core.model import Event, SessionState, StepResult, Text
from bot.core.scrub import scrub
from bot.storage.base import Store
from bot.storage.keys import SessionKeyer

log = logging.getLogger(__name__)

UNMATCHED_OUTCOMES = frozenset({"clarify", "out_of_scope"})


class ChatService:
    def __init__(self, engine: Engine, store: Store, keyer: SessionKeyer, log_unmatched: bool = False) -> None:
        self.engine = engine
        self.store = store
        self.keyer = keyer
        self.log_unmatched = log_unmatched
        # One lock per session, so two updates from one chat never interleave load -> save.
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    async def handle(self, channel: str, chat_id: int | str, event: Event) -> StepResult:
        key = self.keyer.key(channel, chat_id)
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = asyncio.Lock()
        async with lock:
            state = await self.store.load(key)
            result = self.engine.step(state, event)
            if result.forget:
                await self.store.delete(key)
            elif result.state is not None:
                await self.store.save(key, result.state)
            if result.feedback is not None:
                await self.store.record_feedback(key, *result.feedback)
        await self.store.count(self._figures(state, result))
        if self.log_unmatched and isinstance(event, Text) and result.verdict is not None \
                and result.verdict.outcome in UNMATCHED_OUTCOMES:
            await self.store.log_unmatched(scrub(event.text), result.verdict.outcome)
        log.info("handled %s -> %s", type(event).__name__, result.outcome)
        return result

    async def forget(self, channel: str, chat_id: int | str) -> None:
        """Delete what is kept for a chat that is gone (the person blocked the bot)."""
        await self.store.delete(self.keyer.key(channel, chat_id))

    def _figures(self, before: SessionState | None, result: StepResult) -> list[tuple[str, str]]:
        """The anonymous counts one step adds: nothing here names the session."""
        figures = []
        if before is None and result.state is not None:
            figures.append(("session_started", ""))
        figures += [("answer_shown", r.answer_id) for r in result.replies if r.answer_id]
        node = result.state.node if result.state is not None else None
        if result.outcome in {"navigate", "start"} and node in self.engine.bundle.nodes:
            figures.append(("menu_path", node))
        if result.verdict is not None:
            figures.append(("outcome", result.verdict.outcome))
        return figures
