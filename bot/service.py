"""The chat service: load a session, step the engine, store the result.

Both adapters (Telegram and the terminal) call `ChatService.handle`; this is the
one place where the pure engine meets storage.
"""

from __future__ import annotations

import asyncio
import logging
import weakref

from bot.core.engine import Engine
from bot.core.model import Event, StepResult
from bot.storage.base import SessionStore
from bot.storage.keys import SessionKeyer

log = logging.getLogger(__name__)


class ChatService:
    def __init__(self, engine: Engine, store: SessionStore, keyer: SessionKeyer) -> None:
        self.engine = engine
        self.store = store
        self.keyer = keyer
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
        log.info("handled %s -> %s", type(event).__name__, result.outcome)
        return result
