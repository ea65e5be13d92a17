"""The skeleton both fake Bot APIs share: an aiohttp server on 127.0.0.1, on a free port,
answering `/bot<token>/<method>` (tests/fake_bot_api.py for the tests, bench/fake_server.py
for `make bench`)."""

from __future__ import annotations

from typing import Self

from aiohttp import web


class LoopbackBotApi:
    port: int = 0
    _runner: web.AppRunner | None = None

    async def _handle(self, request: web.Request) -> web.Response:
        raise NotImplementedError

    async def start(self) -> Self:
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # noqa: SLF001 - aiohttp exposes no public accessor
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def base_url(self) -> str:
        """python-telegram-bot's form; aiogram's TelegramAPIServer.from_base takes it without '/bot'."""
        return f"http://127.0.0.1:{self.port}/bot"
