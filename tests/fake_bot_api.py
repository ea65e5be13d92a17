"""A small fake Telegram Bot API server on 127.0.0.1, for end-to-end tests.

It speaks the real HTTP shape (`/bot<token>/<method>`, form or JSON parameters,
`{"ok": ..., "result": ...}` answers), holds a queue of updates for long polling
and records every call the bot makes, so tests can drive the real
python-telegram-bot Application (in process or as a `python -m bot run`
subprocess) and assert on what a person would see.
"""

from __future__ import annotations

import asyncio
import html
import itertools
import json
import re
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.loopback import LoopbackBotApi

BOT_USER = {"id": 777000111, "is_bot": True, "first_name": "NH guide", "username": "nh_guide_test_bot",
            "can_join_groups": True, "can_read_all_group_messages": False, "supports_inline_queries": False}
_TAG = re.compile(r"<[^>]+>")


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    result: Any = None

    @property
    def text(self) -> str:
        return _plain(str(self.params.get("text", "")))

    @property
    def buttons(self) -> list[tuple[str, str]]:
        markup = self.params.get("reply_markup") or {}
        return [(b["text"], b.get("callback_data") or b.get("url", "")) for row in markup.get("inline_keyboard", []) for b in row]

    @property
    def message_id(self) -> int | None:
        if isinstance(self.result, dict) and "message_id" in self.result:
            return int(self.result["message_id"])
        return int(self.params["message_id"]) if "message_id" in self.params else None


@dataclass
class FakeBotApi(LoopbackBotApi):
    token: str
    calls: list[Call] = field(default_factory=list)
    messages: dict[int, dict[str, Any]] = field(default_factory=dict)  # bot messages by id
    _updates: list[dict[str, Any]] = field(default_factory=list)
    _update_ids: itertools.count = field(default_factory=lambda: itertools.count(1))
    _message_ids: itertools.count = field(default_factory=lambda: itertools.count(1000))
    _changed: asyncio.Condition | None = None
    _runner: web.AppRunner | None = None
    port: int = 0
    confirmed_offset: int = 0
    presses: int = 0
    polls: int = 0  # getUpdates calls (not kept in `calls`, which would fill with them)
    _faults: dict[str, list[tuple[int, str, dict | None, float]]] = field(default_factory=dict)
    blocked_chats: set[int] = field(default_factory=set)  # chats whose person blocked the bot
    slow_chats: dict[int, float] = field(default_factory=dict)  # seconds Telegram takes to accept a message to them
    _last_update_id: int = 0
    _raw_answers: dict[str, list[tuple[int, bytes]]] = field(default_factory=dict)

    # --- lifecycle ---------------------------------------------------------------

    async def start(self) -> FakeBotApi:
        self._changed = asyncio.Condition()
        return await super().start()

    # --- what a person does --------------------------------------------------------

    def _user(self, chat_id: int, name: str = "Alice", username: str = "alice_w") -> dict[str, Any]:
        return {"id": chat_id, "is_bot": False, "first_name": name, "username": username, "language_code": "en"}

    async def push(self, update_body: dict[str, Any]) -> int:
        update_id = self._last_update_id = next(self._update_ids)
        self._updates.append({"update_id": update_id, **update_body})
        await self._notify()
        return update_id

    def restart_update_ids(self, first: int) -> None:
        """What Telegram does after a week without updates: the next update id is chosen anew (here: `first`)."""
        assert not self._updates, "Telegram starts a new sequence only when nothing is waiting"
        self._update_ids = itertools.count(first)
        self._last_update_id = first - 1

    def answer_next_raw(self, method: str, body: bytes, status: int = 200) -> None:
        """The next call to `method` gets this body as it is (say, a proxy's HTML page with 200)."""
        self._raw_answers.setdefault(method, []).append((status, body))

    async def send_text(self, chat_id: int, text: str, chat_type: str = "private", name: str = "Alice",
                        username: str = "alice_w", **extra: Any) -> int:
        message: dict[str, Any] = {
            "message_id": next(self._message_ids), "date": int(time.time()),
            "chat": self._chat(chat_id, chat_type, name, username), "from": self._user(chat_id if chat_type == "private" else chat_id + 1, name, username),
            "text": text, **extra,
        }
        if text.startswith("/"):
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
        return await self.push({"message": message})

    async def membership(self, chat_id: int, status: str) -> int:
        """The person changed the bot's membership of their private chat ("kicked" = blocked it)."""
        user = self._user(chat_id)
        change = {"chat": self._chat(chat_id, "private"), "from": user, "date": int(time.time()),
                  "old_chat_member": {"status": "member", "user": BOT_USER},
                  "new_chat_member": {"status": status, "user": BOT_USER, "until_date": 0}}
        return await self.push({"my_chat_member": change})

    async def send_other(self, chat_id: int, content: dict[str, Any], chat_type: str = "private") -> int:
        """A non-text message: pass e.g. {"sticker": {...}} or {"location": {...}}."""
        message = {"message_id": next(self._message_ids), "date": int(time.time()),
                   "chat": self._chat(chat_id, chat_type), "from": self._user(chat_id), **content}
        return await self.push({"message": message})

    def bot_message(self, chat_id: int, text: str = "menu") -> int:
        """A message the bot "sent" earlier, so a test can press buttons on it without a round trip."""
        message = {"message_id": next(self._message_ids), "date": int(time.time()), "from": BOT_USER,
                   "chat": {"id": chat_id, "type": "private", "first_name": "Alice"}, "text": text}
        self.messages[message["message_id"]] = message
        return message["message_id"]

    async def press(self, chat_id: int, message_id: int, data: str) -> int:
        message = self.messages[message_id]
        self.presses += 1
        query = {"id": f"cq{next(self._update_ids)}", "from": self._user(chat_id), "chat_instance": "ci",
                 "data": data, "message": message}
        return await self.push({"callback_query": query})

    @staticmethod
    def _chat(chat_id: int, chat_type: str, name: str = "Alice", username: str = "alice_w") -> dict[str, Any]:
        if chat_type == "private":
            return {"id": chat_id, "type": "private", "first_name": name, "username": username}
        return {"id": chat_id, "type": chat_type, "title": "Family group"}

    # --- what tests look at ----------------------------------------------------------

    def outgoing(self, chat_id: int | None = None) -> list[Call]:
        """sendMessage and editMessageText calls, optionally for one chat."""
        return [c for c in self.calls if c.method in {"sendMessage", "editMessageText"}
                and (chat_id is None or int(c.params.get("chat_id", 0)) == chat_id)]

    def fail_next(self, method: str, status: int, description: str, times: int = 1,
                  parameters: dict | None = None, delay: float = 0.0) -> None:
        """Make the next `times` calls to `method` fail as Telegram would (after `delay` seconds)."""
        self._faults.setdefault(method, []).extend([(status, description, parameters, delay)] * times)

    def calls_to(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    async def wait_until(self, predicate, timeout: float = 10.0) -> None:  # noqa: ANN001
        assert self._changed is not None
        deadline = asyncio.get_running_loop().time() + timeout
        async with self._changed:
            while not predicate():
                remaining = deadline - asyncio.get_running_loop().time()
                if remaining <= 0:
                    raise AssertionError(f"timed out after {timeout}s waiting; calls so far: {[c.method for c in self.calls]}")
                try:
                    await asyncio.wait_for(self._changed.wait(), remaining)
                except TimeoutError:
                    pass

    async def _notify(self) -> None:
        assert self._changed is not None
        async with self._changed:
            self._changed.notify_all()

    # --- the Bot API -------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.json_response({"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401)
        method = request.match_info["method"]
        params = await self._params(request)
        handler = getattr(self, f"_api_{method}", None)
        if handler is None:
            return web.json_response({"ok": False, "error_code": 404, "description": "Not Found: method not found"}, status=404)
        call = Call(method, params)
        raw = self._raw_answers.get(method)
        if raw:
            status, body = raw.pop(0)
            return web.Response(status=status, body=body, content_type="text/html")
        if "chat_id" in params and int(params["chat_id"]) in self.blocked_chats and method != "getUpdates":
            self.calls.append(call)
            await self._notify()
            return web.json_response({"ok": False, "error_code": 403,
                                      "description": "Forbidden: bot was blocked by the user"}, status=403)
        faults = self._faults.get(method)
        if faults:
            status, description, parameters, delay = faults.pop(0)
            if delay:
                await asyncio.sleep(delay)
            self.calls.append(call)
            await self._notify()
            body = {"ok": False, "error_code": status, "description": description}
            if parameters:
                body["parameters"] = parameters
            return web.json_response(body, status=status)
        result = await handler(params)
        if method != "getUpdates":
            call.result = result if not isinstance(result, web.Response) else None
            self.calls.append(call)
        if isinstance(result, web.Response):
            await self._notify()
            return result
        await self._notify()
        return web.json_response({"ok": True, "result": result})

    @staticmethod
    async def _params(request: web.Request) -> dict[str, Any]:
        if request.content_type == "application/json":
            raw = await request.json()
        else:
            raw = dict(await request.post())
        params: dict[str, Any] = {}
        for key, value in raw.items():
            if isinstance(value, str) and value[:1] in "{[":
                try:
                    value = json.loads(value)
                except ValueError:
                    pass
            params[key] = value
        return params

    @staticmethod
    def _bad_request(description: str) -> web.Response:
        return web.json_response({"ok": False, "error_code": 400, "description": f"Bad Request: {description}"}, status=400)

    async def _api_getMe(self, params: dict[str, Any]) -> dict[str, Any]:
        return BOT_USER

    async def _api_deleteWebhook(self, params: dict[str, Any]) -> bool:
        return True

    async def _api_setWebhook(self, params: dict[str, Any]) -> bool:
        return True

    async def _api_setMyCommands(self, params: dict[str, Any]) -> bool:
        return True

    async def _api_answerCallbackQuery(self, params: dict[str, Any]) -> bool:
        return True

    async def _api_getUpdates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        self.polls += 1
        offset = int(params.get("offset") or 0)
        if offset > self._last_update_id + 1 + 10:
            # Telegram's rule: an offset more than 10 past the next update id (the one the next
            # update will get) is "in the future"; it confirms nothing and answers from the head.
            offset = 0
        if offset:
            # Telegram forgets updates below the offset: that is the confirmation.
            self.confirmed_offset = max(self.confirmed_offset, offset)
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        timeout = float(params.get("timeout") or 0)
        limit = int(params.get("limit") or 100)
        assert self._changed is not None
        deadline = asyncio.get_running_loop().time() + min(timeout, 5.0)
        async with self._changed:
            while not self._updates and asyncio.get_running_loop().time() < deadline:
                try:
                    await asyncio.wait_for(self._changed.wait(), deadline - asyncio.get_running_loop().time())
                except TimeoutError:
                    break
        return self._updates[:limit]

    async def _api_sendMessage(self, params: dict[str, Any]) -> dict[str, Any] | web.Response:
        delay = self.slow_chats.get(int(params["chat_id"]))
        if delay:
            await asyncio.sleep(delay)
        text = str(params.get("text", ""))
        if not text or len(_plain(text)) > 4096:
            return self._bad_request("message is too long" if text else "message text is empty")
        if params.get("parse_mode") == "HTML" and not _balanced_html(text):
            return self._bad_request("can't parse entities")
        if not _keyboard_ok(params.get("reply_markup")):
            return self._bad_request("BUTTON_DATA_INVALID")
        chat_id = int(params["chat_id"])
        message = {"message_id": next(self._message_ids), "date": int(time.time()), "from": BOT_USER,
                   "chat": {"id": chat_id, "type": "private", "first_name": "Alice"}, "text": _plain(text)}
        if params.get("reply_markup"):
            message["reply_markup"] = params["reply_markup"]
        self.messages[message["message_id"]] = message
        return message

    async def _api_editMessageText(self, params: dict[str, Any]) -> dict[str, Any] | web.Response:
        message_id = int(params["message_id"])
        message = self.messages.get(message_id)
        if message is None:
            return self._bad_request("message to edit not found")
        text, markup = _plain(str(params.get("text", ""))), params.get("reply_markup")
        if message["text"] == text and message.get("reply_markup") == markup:
            return self._bad_request("message is not modified: specified new message content and reply markup "
                                     "are exactly the same as a current content and reply markup of the message")
        if not _keyboard_ok(markup):
            return self._bad_request("BUTTON_DATA_INVALID")
        message["text"] = text
        if markup:
            message["reply_markup"] = markup
        else:
            message.pop("reply_markup", None)
        return message


def _plain(text: str) -> str:
    return html.unescape(_TAG.sub("", text))


def _balanced_html(text: str) -> bool:
    """Telegram rejects stray '<' and unknown tags; we allow only <b>...</b> as the bot sends."""
    stripped = re.sub(r"</?b>", "", text)
    return "<" not in stripped and ">" not in stripped


def _keyboard_ok(markup: Any) -> bool:
    """Telegram's rule: callback data of 1 to 64 bytes, labels not empty."""
    for row in (markup or {}).get("inline_keyboard", []):
        for button in row:
            data = button.get("callback_data")
            if not button.get("text") or (data is not None and not 1 <= len(data.encode()) <= 64):
                return False
    return True
