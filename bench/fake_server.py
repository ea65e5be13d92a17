"""A lean fake Bot API on 127.0.0.1 that times each update from "available" to "answered".

The tests have a fuller fake (tests/fake_bot_api.py) that checks what the bot sends;
this one does only what a benchmark needs, cheaply, so the server is never the
bottleneck: it hands out updates by long polling as Telegram does (unconfirmed ones
again until the offset passes them) and notes when each reply arrives.

A reply is matched to its update per chat, first in first out: exact for a bot that
keeps each chat's updates in order; for one that does not, two replies of one chat
may swap, which moves single latencies but barely the percentiles.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import time
from typing import Any

from aiohttp import web

from tests.loopback import LoopbackBotApi

BOT_USER = {"id": 777000111, "is_bot": True, "first_name": "NH guide", "username": "nh_guide_bench_bot",
            "can_join_groups": True, "can_read_all_group_messages": False, "supports_inline_queries": False}
REPLY_METHODS = frozenset({"sendMessage", "editMessageText"})


class BenchServer(LoopbackBotApi):
    def __init__(self, token: str) -> None:
        self.token = token
        self._pending: collections.deque[dict[str, Any]] = collections.deque()  # not yet confirmed, by id
        self._arrived = asyncio.Event()
        self._ids = itertools.count(1)
        self._message_ids = itertools.count(1)
        self._waiting: dict[int, collections.deque[float]] = collections.defaultdict(collections.deque)
        self.latencies: list[float] = []
        self.replies = 0
        self.reply_times: list[float] = []
        self.calls: collections.Counter[str] = collections.Counter()
        self.first_poll_at: float | None = None
        self._all_answered = asyncio.Event()
        self._expected = 0

    # --- the load side ----------------------------------------------------------

    def expect(self, replies: int) -> None:
        self._expected = replies
        if self.replies >= replies:
            self._all_answered.set()
        else:
            self._all_answered.clear()

    async def answered(self, timeout: float) -> None:
        await asyncio.wait_for(self._all_answered.wait(), timeout)

    def push(self, update: dict[str, Any]) -> None:
        """Make one update available now (the clock for its latency starts here)."""
        update = {"update_id": next(self._ids), **update}
        self._pending.append(update)
        self._waiting[_chat_of(update)].append(time.perf_counter())
        self._arrived.set()

    # --- the Bot API ------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.json_response({"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401)
        method = request.match_info["method"]
        self.calls[method] += 1
        params = await _params(request)
        if method == "getUpdates":
            result: Any = await self._get_updates(params)
        elif method == "getMe":
            result = BOT_USER
        elif method in REPLY_METHODS:
            result = self._reply(params)
        else:  # deleteWebhook, setMyCommands, answerCallbackQuery, close...
            result = True
        return web.json_response({"ok": True, "result": result})

    async def _get_updates(self, params: dict[str, str]) -> list[dict[str, Any]]:
        if self.first_poll_at is None:
            self.first_poll_at = time.perf_counter()
        offset = int(params.get("offset") or 0)
        while self._pending and self._pending[0]["update_id"] < offset:
            self._pending.popleft()  # below the offset: confirmed, Telegram forgets it
        if not self._pending:
            self._arrived.clear()
            try:
                # At most a second: a bot being stopped waits for its long poll, and runs start one after another.
                await asyncio.wait_for(self._arrived.wait(), min(float(params.get("timeout") or 0), 1.0))
            except TimeoutError:
                return []
        limit = int(params.get("limit") or 100)
        return list(itertools.islice(self._pending, limit))

    def _reply(self, params: dict[str, str]) -> dict[str, Any]:
        now = time.perf_counter()
        chat_id = int(params["chat_id"])
        waiting = self._waiting.get(chat_id)
        if waiting:
            self.latencies.append(now - waiting.popleft())
        self.replies += 1
        self.reply_times.append(now)
        if self._expected and self.replies >= self._expected:
            self._all_answered.set()
        return {"message_id": int(params.get("message_id") or next(self._message_ids)), "date": int(time.time()),
                "from": BOT_USER, "chat": {"id": chat_id, "type": "private", "first_name": "A"}, "text": "ok"}


async def _params(request: web.Request) -> dict[str, str]:
    if request.content_type == "application/json":
        return {k: str(v) for k, v in (await request.json()).items()}
    return {k: str(v) for k, v in (await request.post()).items()}


def _chat_of(update: dict[str, Any]) -> int:
    if "message" in update:
        return int(update["message"]["chat"]["id"])
    return int(update["callback_query"]["message"]["chat"]["id"])
