"""Webhook mode: a small aiohttp server in front of the same Application.

Telegram POSTs each update to BOT_WEBHOOK_URL with the secret token we registered;
requests without it are refused (403), so nobody can forge updates. GET /healthz
answers 200 with the content version while the database answers and content is
loaded, 503 otherwise; the Dockerfile's HEALTHCHECK calls it through `python -m bot health`.

Each update is handled before its request is answered: Telegram counts an update as
delivered only on our 200, so one in hand when the process dies is sent again. Telegram
posts several updates at once (up to `max_connections`); lanes keep each chat's in order.
"""

from __future__ import annotations

import asyncio
import collections
import hmac
import json
import logging
import signal
import time
from urllib.parse import urlparse

from aiohttp import web
from telegram import Update
from telegram.ext import Application

from bot.adapters.lanes import Lanes
from bot.adapters.telegram import ALLOWED_UPDATES, TelegramAdapter

log = logging.getLogger(__name__)
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_UPDATE_BYTES = 1_000_000
# Telegram sends an update again when our 200 did not reach it (a dropped connection, a restart
# of its side): handled ids are remembered this long, so a redelivery is confirmed, not answered again.
REMEMBER_HANDLED_SECONDS = 3600
REMEMBER_HANDLED_MOST = 100_000


def web_app(app: Application, adapter: TelegramAdapter, path: str, secret: str) -> web.Application:
    in_hand: dict[int, asyncio.Future[None]] = {}
    handled: collections.OrderedDict[int, float] = collections.OrderedDict()  # update id -> when it finished

    def finished(update_id: int) -> None:
        handled[update_id] = time.monotonic()
        handled.move_to_end(update_id)
        oldest = time.monotonic() - REMEMBER_HANDLED_SECONDS
        while handled and (len(handled) > REMEMBER_HANDLED_MOST or next(iter(handled.values())) < oldest):
            handled.popitem(last=False)
        done = in_hand.pop(update_id, None)
        if done is not None and not done.done():
            done.set_result(None)

    lanes = Lanes(app.process_update, finished)

    expected = secret.encode()

    async def receive(request: web.Request) -> web.Response:
        # Compared as bytes: compare_digest refuses a str with non-ASCII characters (a 500 before).
        given = request.headers.get(SECRET_HEADER, "").encode("utf-8", "surrogateescape")
        if not hmac.compare_digest(given, expected):
            return web.Response(status=403, text="forbidden")
        try:
            data = json.loads(await request.read())
            if not isinstance(data, dict) or type(data.get("update_id")) is not int:
                raise ValueError("not an update")  # null, a list, a number: Update.de_json does not refuse them all
            update = Update.de_json(data, app.bot)
        except (ValueError, RecursionError):  # RecursionError: JSON nested deeper than Python recurses
            return web.Response(status=400, text="not an update")
        except Exception:  # noqa: BLE001 - whatever the library cannot read is a bad request, not our error
            log.warning("a webhook update could not be read; answered 400")
            return web.Response(status=400, text="not an update")
        if update.update_id in handled:
            return web.Response(text="ok")  # a redelivery of one already answered
        done = in_hand.get(update.update_id)
        if done is None:  # not a repeat of one still in hand (Telegram retries a slow delivery)
            done = in_hand[update.update_id] = asyncio.get_running_loop().create_future()
            lanes.submit(update)
        await asyncio.shield(done)  # a dropped connection does not stop the handling
        return web.Response(text="ok")

    async def health(_request: web.Request) -> web.Response:
        service = adapter.service
        if service is None or not await service.store.healthy():
            return web.Response(status=503, text="unhealthy")
        return web.json_response({"status": "ok", "content_version": service.engine.bundle.version})

    server = web.Application(client_max_size=MAX_UPDATE_BYTES)
    server.router.add_post(path, receive)
    server.router.add_get("/healthz", health)
    return server


async def serve(app: Application, adapter: TelegramAdapter, url: str, listen: str, port: int, secret: str) -> None:
    """Register the webhook, serve until SIGTERM or SIGINT, then finish the updates in hand and stop."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for name in ("SIGTERM", "SIGINT"):
        loop.add_signal_handler(getattr(signal, name), stop.set)
    async with app:  # initialize / shutdown
        await adapter.post_init(app)
        await app.bot.set_webhook(url=url, secret_token=secret, allowed_updates=ALLOWED_UPDATES)
        await app.start()
        runner = web.AppRunner(web_app(app, adapter, urlparse(url).path or "/", secret), access_log=None)
        await runner.setup()
        await web.TCPSite(runner, listen, port).start()
        log.info("webhook mode: listening on %s:%d", listen, port)
        await stop.wait()
        log.info("stopping: finishing the updates in hand")
        await runner.cleanup()  # no new updates, and the ones in hand finish; Telegram keeps the rest
        await app.stop()
        await adapter.post_shutdown(app)
