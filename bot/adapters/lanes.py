"""Lanes: each chat's updates handled one after another, in order; different chats at the same time.

Used by the poller and by the webhook server. python-telegram-bot's own concurrency
(`concurrent_updates`) does not keep a chat's updates in order, which a guided flow needs:
a second button press must see the state the first one left.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Awaitable, Callable

from telegram import Update

log = logging.getLogger(__name__)


class Lanes:
    """One lane per chat: a chat's updates in order, different chats at the same time."""

    def __init__(self, handle: Callable[[Update], Awaitable[object]], finished: Callable[[int], None]) -> None:
        self._handle = handle
        self._finished = finished
        self._lanes: dict[object, collections.deque[Update]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def submit(self, update: Update) -> None:
        key = _lane_key(update)
        lane = self._lanes.get(key)
        if lane is not None:
            lane.append(update)
            return
        lane = self._lanes[key] = collections.deque([update])
        task = asyncio.create_task(self._run(key, lane))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, key: object, lane: collections.deque[Update]) -> None:
        try:
            while lane:
                update = lane[0]
                try:
                    await self._handle(update)  # errors go to the error handler; this is a last guard
                except Exception:  # noqa: BLE001 - one bad update must not stop its chat's lane
                    log.exception("an update could not be handled")
                finally:
                    lane.popleft()
                    self._finished(update.update_id)
        finally:
            del self._lanes[key]

    async def drain(self, seconds: float) -> bool:
        """Wait for every lane to finish; False if some were still running after `seconds`."""
        if not self._tasks:
            return True
        _done, pending = await asyncio.wait(set(self._tasks), timeout=seconds)
        return not pending


def _lane_key(update: Update) -> object:
    chat = update.effective_chat
    if chat is not None:
        return chat.id
    user = update.effective_user
    return ("user", user.id) if user is not None else "other"
