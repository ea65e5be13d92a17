"""Long polling that confirms an update to Telegram only after it has been handled.

python-telegram-bot's Updater asks for the next batch (which confirms the last one)
as soon as it has fetched updates, before they are handled, so a crash loses the
batch in hand. Here each update is handled first; then its id is stored, and only
the next getUpdates call (with offset = that id + 1) confirms it. After a crash
Telegram hands out again whatever was not confirmed, and the stored id skips the
ones already answered, so at most the single update in flight is handled twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable

from telegram.error import Conflict, InvalidToken, NetworkError, RetryAfter, TelegramError, TimedOut
from telegram.ext import Application

log = logging.getLogger(__name__)

POLL_TIMEOUT_SECONDS = 10
MAX_BACKOFF_SECONDS = 30


async def poll(
    app: Application,
    stop: asyncio.Event,
    allowed_updates: list[str],
    last_handled: Callable[[], Awaitable[int | None]],
    handled: Callable[[int], Awaitable[None]],
    timeout: float = POLL_TIMEOUT_SECONDS,
) -> None:
    """Fetch, handle, remember, repeat, until `stop` is set; then confirm what was handled."""
    last = await last_handled()
    offset = last + 1 if last is not None else None
    backoff = 1.0
    while not stop.is_set():
        fetch = asyncio.ensure_future(app.bot.get_updates(offset=offset, timeout=timeout, allowed_updates=allowed_updates))
        stopping = asyncio.ensure_future(stop.wait())
        await asyncio.wait({fetch, stopping}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if not fetch.done():  # stop while waiting: nothing fetched was confirmed, so nothing is lost
            fetch.cancel()
            with contextlib.suppress(asyncio.CancelledError, TelegramError):
                await fetch
            break
        try:
            updates = fetch.result()
            backoff = 1.0
        except RetryAfter as exc:
            wait = exc.retry_after
            await _sleep_or_stop(stop, wait.total_seconds() if hasattr(wait, "total_seconds") else float(wait))
            continue
        except (InvalidToken, Conflict):
            raise  # a wrong token, or a second bot polling with the same token: an operator must act
        except (TimedOut, NetworkError) as exc:
            log.warning("getUpdates failed (%s); trying again in %.0f s", type(exc).__name__, backoff)
            await _sleep_or_stop(stop, backoff)
            backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)
            continue
        for update in updates:
            if last is not None and update.update_id <= last:
                continue  # answered before a crash; Telegram had not yet been told
            await app.process_update(update)  # errors go to the error handler, never out of here
            last = update.update_id
            await handled(last)
            offset = last + 1
            if stop.is_set():
                break
    if offset is not None:
        try:  # tell Telegram what was handled, so a restart does not see it again
            await app.bot.get_updates(offset=offset, timeout=0, allowed_updates=allowed_updates)
        except (TimedOut, NetworkError):
            log.warning("could not confirm the last updates; they are skipped on the next start")


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        pass


async def run(app: Application, adapter, stop: asyncio.Event, timeout: float = POLL_TIMEOUT_SECONDS) -> None:  # noqa: ANN001
    """The polling bot's whole life: start, poll until `stop`, finish, shut down."""
    from bot.adapters.telegram import ALLOWED_UPDATES  # noqa: PLC0415
    from bot.service import STORAGE_ERRORS  # noqa: PLC0415

    async def last_handled() -> int | None:
        try:
            return await adapter.service.store.last_update_id()
        except STORAGE_ERRORS:
            return None  # without the database: Telegram's own confirmation is all we have

    async def handled(update_id: int) -> None:
        with contextlib.suppress(*STORAGE_ERRORS):
            await adapter.service.store.set_last_update_id(update_id)

    async with app:
        await adapter.post_init(app)
        await app.bot.delete_webhook()  # polling and a webhook cannot both be set
        await app.start()
        try:
            await poll(app, stop, ALLOWED_UPDATES, last_handled, handled, timeout)
        finally:
            await app.stop()
            await adapter.post_shutdown(app)


async def run_until_signalled(app: Application, adapter) -> None:  # noqa: ANN001
    """`run`, stopped by SIGTERM or SIGINT (finishing the update in hand)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for name in ("SIGTERM", "SIGINT"):
        loop.add_signal_handler(getattr(signal, name), stop.set)
    await run(app, adapter, stop)
