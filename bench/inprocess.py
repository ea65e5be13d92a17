"""In process: `Application.process_update` on prepared updates, with the network replaced by a no-op.

What is left is the cost of handling itself: python-telegram-bot's dispatch, our
handlers, the engine and a real SQLite store (for our bot); the echo bot's two lines
(for the floor). Updates are handled one after another, so this is CPU per update.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from telegram import Update
from telegram.ext import Application, ApplicationBuilder, CallbackQueryHandler, MessageHandler, filters
from telegram.request import BaseRequest, RequestData

from bench import echo_ptb
from bench.fake_server import BOT_USER
from bot.adapters.telegram import TelegramAdapter
from bot.app import load_engine, open_service
from bot.config import Settings

TOKEN = "123456789:AAF-bench_TOKEN-0123456789abcdefghijKLM"
_TRUE = json.dumps({"ok": True, "result": True}).encode()
_ME = json.dumps({"ok": True, "result": BOT_USER}).encode()


class NoNetwork(BaseRequest):
    """Answers every Bot API call at once, as Telegram would answer it, without a socket."""

    @property
    def read_timeout(self) -> float | None:
        return None

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    async def do_request(self, url: str, method: str, request_data: RequestData | None = None,
                         *args: Any, **kwargs: Any) -> tuple[int, bytes]:
        endpoint = url.rsplit("/", 1)[-1]
        if endpoint == "getMe":
            return 200, _ME
        if endpoint in {"sendMessage", "editMessageText"}:
            params = request_data.parameters if request_data else {}
            message = {"message_id": int(params.get("message_id", 1)), "date": int(time.time()), "from": BOT_USER,
                       "chat": {"id": int(params["chat_id"]), "type": "private", "first_name": "A"}, "text": "ok"}
            return 200, json.dumps({"ok": True, "result": message}).encode()
        return 200, _TRUE


def _echo_app() -> Application:
    app = ApplicationBuilder().token(TOKEN).request(NoNetwork()).get_updates_request(NoNetwork()).updater(None).build()
    app.add_handler(MessageHandler(filters.TEXT, echo_ptb.echo))
    app.add_handler(CallbackQueryHandler(echo_ptb.press))
    return app


async def _time(app: Application, bodies: list[dict[str, Any]]) -> float:
    updates = [Update.de_json({"update_id": n + 1, **body}, app.bot) for n, body in enumerate(bodies)]
    start = time.perf_counter()
    for update in updates:
        await app.process_update(update)
    return time.perf_counter() - start


async def updates_per_second(bodies: list[dict[str, Any]]) -> dict[str, float]:
    """Our handlers with a real SQLite file, and the echo bot, on the same updates."""
    figures = {}
    with tempfile.TemporaryDirectory(prefix="nh-bench-") as tmp:
        settings = Settings(token=TOKEN, db_path=Path(tmp) / "bot.sqlite3", secret="bench-" + "x" * 32, rate_limit=False)
        engine = load_engine(settings)
        adapter = TelegramAdapter(lambda: open_service(settings, engine))
        ours = adapter.build(TOKEN, settings.api_base_url, rate_limit=False, http="none",
                             request=NoNetwork(), get_updates_request=NoNetwork(), updater=None)
        async with ours:
            await adapter.post_init(ours)
            try:
                figures["ours"] = len(bodies) / await _time(ours, bodies)
            finally:
                await adapter.post_shutdown(ours)
    echo = _echo_app()
    async with echo:
        figures["ptb-echo"] = len(bodies) / await _time(echo, bodies)
    return figures


def run(bodies: list[dict[str, Any]]) -> dict[str, float]:
    return asyncio.run(updates_per_second(bodies))
