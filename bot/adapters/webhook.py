"""Webhook mode: a small aiohttp server in front of the same Application.

Telegram POSTs each update to BOT_WEBHOOK_URL with the secret token we registered;
requests without it are refused (403), so nobody can forge updates. GET /healthz
answers 200 with the content version while the database answers and content is
loaded, 503 otherwise; the Dockerfile's HEALTHCHECK calls it through `python -m bot health`.

Each update is handled before its request is answered: Telegram counts an update as
delivered only on our 200, so one in hand when the process dies is sent again. Telegram
posts several updates at once (up to `max_connections`); lanes keep each chat's in order.

The server is open to anyone who finds the port, so a client cannot hold it: connections are
bounded (BOT_WEBHOOK_MAX_CONNECTIONS; at the bound the longest-waiting idle one is closed for the
new one), and a client has BOT_WEBHOOK_TIMEOUT seconds to send a whole request, on a new or a
kept-alive connection. Each such cause is logged once a minute at most.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import hmac
import json
import logging
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable
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
MAX_CONNECTIONS = 200
REQUEST_TIMEOUT_SECONDS = 10.0
LOG_CAUSE_EVERY_SECONDS = 60.0
BACKLOG = 128  # connections the kernel queues before accept; they hold no file descriptor of ours


class _OncePerCause:
    """Log a cause at most once per period, with how many were left out since: never a flood."""

    def __init__(self, every: float = LOG_CAUSE_EVERY_SECONDS) -> None:
        self._every = every
        self._last: dict[str, float] = {}
        self._left_out: collections.Counter[str] = collections.Counter()

    def __call__(self, cause: str, message: str, *args: object, exc_info: BaseException | None = None) -> None:
        now = time.monotonic()
        if cause in self._last and now - self._last[cause] < self._every:
            self._left_out[cause] += 1
            return
        self._last[cause] = now
        if left_out := self._left_out.pop(cause, 0):
            message += f" ({left_out} more since the last such line)"
        log.warning(message, *args, exc_info=exc_info)


class ConnectionGuard:
    """Bounded connections and a deadline for each request, under aiohttp's own protocol.

    aiohttp has no connection limit, and (before 3.14) no timeout for a connection that never sends a
    request; its keep-alive timeout covers the wait between requests only. So each connection's
    protocol is wrapped here; the middleware tells the guard when a request is in the handler.
    """

    def __init__(self, max_connections: int = MAX_CONNECTIONS, timeout: float = REQUEST_TIMEOUT_SECONDS) -> None:
        self.max_connections = max_connections
        self.timeout = timeout
        self.log = _OncePerCause()
        self.open: dict[asyncio.BaseTransport, _Guarded] = {}  # the longest idle first

    def factory(self, server: web.Server) -> Callable[[], asyncio.Protocol]:
        return lambda: _Guarded(self, server())

    @web.middleware
    async def middleware(self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                         ) -> web.StreamResponse:
        guarded = self.open.get(request.transport) if request.transport is not None else None
        if guarded is not None:
            guarded.busy(True)
        try:
            return await handler(request)
        finally:
            if guarded is not None:
                guarded.busy(False)

    def admit(self, guarded: _Guarded) -> bool:
        """Room for a new connection: at the bound, close the longest-waiting one that is not in a request."""
        if len(self.open) < self.max_connections:
            return True
        idle = next((g for g in self.open.values() if not g.in_request), None)
        if idle is None:  # every connection is handling an update: the new one waits for its client to retry
            self.log("full", "webhook: %d connections are all handling updates; refused a new one", self.max_connections)
            return False
        self.log("evicted", "webhook: %d connections open (BOT_WEBHOOK_MAX_CONNECTIONS); closed the longest idle one "
                 "for a new one", self.max_connections)
        idle.close()
        return True

    def loop_exception(self, loop: asyncio.AbstractEventLoop, context: dict) -> None:
        """asyncio's own errors (say, accept() out of file descriptors, every second): once a minute each."""
        exc = context.get("exception")
        message = str(context.get("message", "unexpected error"))
        self.log(f"loop:{message}:{type(exc).__name__}", "asyncio: %s (%s)", message, type(exc).__name__,
                 exc_info=exc if isinstance(exc, BaseException) else None)


class _Guarded(asyncio.Protocol):
    """aiohttp's protocol for one connection, with the guard's bound and deadline around it."""

    def __init__(self, guard: ConnectionGuard, inner: asyncio.Protocol) -> None:
        self._guard = guard
        self._inner = inner
        self._transport: asyncio.Transport | None = None
        self._deadline: asyncio.TimerHandle | None = None
        self._admitted = False
        self.in_request = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]
        if not self._guard.admit(self):
            transport.abort()  # before aiohttp sees it: no task, no buffers
            return
        self._admitted = True
        self._guard.open[transport] = self
        self._inner.connection_made(transport)
        self._arm()

    def busy(self, in_request: bool) -> None:
        self.in_request = in_request
        if in_request:
            self._disarm()
        elif self._transport in self._guard.open:
            self._guard.open[self._transport] = self._guard.open.pop(self._transport)  # idle the shortest: last
            self._arm()  # kept alive: the next request has the same time to arrive

    def _arm(self) -> None:
        self._disarm()
        self._deadline = asyncio.get_running_loop().call_later(self._guard.timeout, self._too_slow)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _too_slow(self) -> None:
        self._deadline = None
        if not self.in_request:
            self._guard.log("slow", "webhook: a client sent no whole request within %g s (BOT_WEBHOOK_TIMEOUT); "
                            "closed its connection", self._guard.timeout)
            self.close()

    def close(self) -> None:
        self._disarm()
        if self._transport is not None:
            self._guard.open.pop(self._transport, None)
            self._transport.abort()  # a reset: nothing to flush, and no FIN_WAIT for a client that stopped reading

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        if self._transport is not None:
            self._guard.open.pop(self._transport, None)
        if self._admitted:
            self._inner.connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received()

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()


def web_app(app: Application, adapter: TelegramAdapter, path: str, secret: str,
            guard: ConnectionGuard | None = None) -> web.Application:
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
            body = await asyncio.wait_for(request.read(), guard.timeout if guard else None)
        except TimeoutError:
            if guard is not None:
                guard.log("slow body", "webhook: a client sent its body too slowly (over %g s); answered 408",
                          guard.timeout)
            return web.Response(status=408, text="too slow", headers={"Connection": "close"})
        try:
            data = json.loads(body)
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

    server = web.Application(client_max_size=MAX_UPDATE_BYTES, middlewares=[guard.middleware] if guard else [])
    server.router.add_post(path, receive)
    server.router.add_get("/healthz", health)
    return server


@contextlib.asynccontextmanager
async def listening(app: Application, adapter: TelegramAdapter, path: str, secret: str, listen: str, port: int,
                    max_connections: int = MAX_CONNECTIONS, timeout: float = REQUEST_TIMEOUT_SECONDS
                    ) -> AsyncIterator[tuple[str, int]]:
    """The webhook server on listen:port (0: any free port) behind the guard; yields the address it got."""
    guard = ConnectionGuard(max_connections, timeout)
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(guard.loop_exception)
    # keepalive_timeout as the guard's, so aiohttp itself never keeps an idle connection longer
    # (its default is 3,630 s).
    runner = web.AppRunner(web_app(app, adapter, path, secret, guard), access_log=None, handle_signals=False,
                           keepalive_timeout=timeout)
    await runner.setup()
    assert runner.server is not None
    # Not web.TCPSite: its create_server takes aiohttp's protocol as it is, and the guard must wrap it.
    listener = await loop.create_server(guard.factory(runner.server), listen, port, backlog=BACKLOG,
                                        reuse_address=True)
    try:
        yield listener.sockets[0].getsockname()[:2]
    finally:
        listener.close()  # no new connections
        await runner.cleanup()  # the ones in hand finish; Telegram keeps the rest
        loop.set_exception_handler(None)


async def serve(app: Application, adapter: TelegramAdapter, url: str, listen: str, port: int, secret: str,
                max_connections: int = MAX_CONNECTIONS, timeout: float = REQUEST_TIMEOUT_SECONDS) -> None:
    """Register the webhook, serve until SIGTERM or SIGINT, then finish the updates in hand and stop."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for name in ("SIGTERM", "SIGINT"):
        loop.add_signal_handler(getattr(signal, name), stop.set)
    async with app:  # initialize / shutdown
        await adapter.post_init(app)
        await app.bot.set_webhook(url=url, secret_token=secret, allowed_updates=ALLOWED_UPDATES)
        await app.start()
        async with listening(app, adapter, urlparse(url).path or "/", secret, listen, port, max_connections, timeout):
            log.info("webhook mode: listening on %s:%d (at most %d connections, %g s for a request)",
                     listen, port, max_connections, timeout)
            await stop.wait()
            log.info("stopping: finishing the updates in hand")
        await app.stop()
        await adapter.post_shutdown(app)
