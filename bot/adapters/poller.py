"""Long polling that handles chats concurrently and confirms an update only after it was handled.

python-telegram-bot's Updater asks for the next batch (which confirms the last one)
as soon as it has fetched updates, before they are handled, so a crash loses the
batch in hand; aiogram does the same, and handles the batch concurrently. Here:

- Each chat has a lane: its updates are handled one after another, in order, while
  different chats' lanes run at the same time.
- Telegram forgets updates below the `offset` of the next getUpdates call. The offset
  we send is just past the oldest update still being handled, so nothing in hand is
  ever confirmed; Telegram hands the unconfirmed ones out again, and we skip them.
- Progress (that offset, and the ids already handled beyond it) is written to the
  store as it changes. After a crash, Telegram repeats what was not confirmed and the
  stored ids skip what was already answered: only updates that were in flight, or
  finished in the last moment before the crash, can be answered twice.

getUpdates returns at most 100 updates from the offset, so at most 100 unconfirmed
updates are in hand: that bounds the concurrency, and one very slow update holds the
window until it finishes.

Two things Telegram can hand out that must not silence the bot:
- After a week without updates, the next update id is chosen at random, often below the
  last one. Telegram takes an offset more than 10 past its next id as "in the future" and
  answers from the head of its queue, so a fetch brings ids below the offset we sent:
  that can only be a restart of the sequence, and progress starts again from those ids.
- An update the library cannot read (an older self-hosted Bot API server's poll, say).
  Updates are fetched raw and read one by one: a bad one is logged, confirmed and skipped,
  and the ones behind it are answered.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from telegram import Bot, Update
from telegram.error import Conflict, InvalidToken, RetryAfter, TelegramError
from telegram.ext import Application

from bot.adapters.http import READ_TIMEOUT
from bot.adapters.lanes import Lanes

log = logging.getLogger(__name__)

POLL_TIMEOUT_SECONDS = 10
MAX_BACKOFF_SECONDS = 30
WINDOW = 100  # Telegram's most updates per getUpdates call
# Fetch again once the updates in hand fall to this many: each fetch returns the ones
# still in hand as well, so refilling in halves keeps that re-reading small.
REFILL_AT = WINDOW // 2
# On SIGTERM, updates in hand get this long to finish (Docker waits 10 s before killing).
DRAIN_SECONDS = 8.0
# A fetch that brought nothing to do and moved nothing: wait this long before the next, so
# no answer Telegram gives can make the loop spin.
IDLE_FETCH_SECONDS = 1.0

LoadProgress = Callable[[], Awaitable[tuple[int | None, frozenset[int]]]]
SaveProgress = Callable[[int, frozenset[int]], Awaitable[None]]


class Progress:
    """Which updates are in hand, which are done, and the offset that confirms only done ones."""

    def __init__(self, last: int | None, done_above: Iterable[int] = ()) -> None:
        self._last = last  # every update up to here is handled (or never existed)
        self._done = set(done_above)  # handled, beyond `_last`
        self._in_flight: set[int] = set()
        self._seen_max = max([*self._done, last or 0]) if (self._done or last is not None) else None
        self.room = asyncio.Event()  # set when an update finishes: the fetch loop waits on it
        self.moved = asyncio.Event()  # the same, for the writer of progress

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    def is_new(self, update_id: int) -> bool:
        return (self._last is None or update_id > self._last) and update_id not in self._done \
            and update_id not in self._in_flight

    def start(self, update_id: int) -> None:
        self._in_flight.add(update_id)
        self._see(update_id)

    def skip(self, update_id: int) -> None:
        """An update handled before (Telegram handed it out again): let the confirmed edge pass it."""
        self._see(update_id)
        self._advance()

    def _see(self, update_id: int) -> None:
        self._seen_max = update_id if self._seen_max is None else max(self._seen_max, update_id)

    def finish(self, update_id: int) -> None:
        self._in_flight.discard(update_id)
        self._done.add(update_id)
        self._advance()
        self.room.set()
        self.moved.set()

    def _advance(self) -> None:
        # Telegram hands out updates in id order, so every id below the oldest one in hand that
        # we have not seen does not exist (ids can have gaps): the confirmed edge moves up to it.
        edge = min(self._in_flight) - 1 if self._in_flight else self._seen_max
        if edge is not None and (self._last is None or edge > self._last):
            self._last = edge
            self._done = {i for i in self._done if i > edge}

    @property
    def offset(self) -> int | None:
        return self._last + 1 if self._last is not None else None

    def snapshot(self) -> tuple[int | None, frozenset[int]]:
        return self._last, frozenset(self._done)

    def restart(self, first_id: int) -> None:
        """Telegram began a new sequence of update ids at `first_id`: what we knew of the old one is void."""
        self._last = self._seen_max = first_id - 1
        self._done = set()
        self.moved.set()


async def poll(
    app: Application,
    stop: asyncio.Event,
    allowed_updates: list[str],
    load_progress: LoadProgress,
    save_progress: SaveProgress,
    timeout: float = POLL_TIMEOUT_SECONDS,
) -> None:
    """Fetch, hand to lanes, remember, repeat, until `stop` is set; then finish and confirm what was handled."""
    progress = Progress(*await load_progress())
    lanes = Lanes(app.process_update, progress.finish)
    saver = asyncio.create_task(_save_as_it_changes(progress, save_progress))
    backoff = 1.0
    fresh = True  # did the last fetch bring anything not already in hand?
    try:
        while not stop.is_set():
            if progress.in_flight > REFILL_AT or (progress.in_flight and not fresh):
                await _wait_for_room(progress, stop)
                fresh = True
                continue
            progress.room.clear()  # from here on, a finished update means fetching again may bring more
            sent = progress.offset
            fetch = asyncio.ensure_future(_fetch(app.bot, sent, timeout, allowed_updates))
            stopping = asyncio.ensure_future(stop.wait())
            await asyncio.wait({fetch, stopping}, return_when=asyncio.FIRST_COMPLETED)
            stopping.cancel()
            if not fetch.done():  # stop while waiting: nothing fetched was confirmed, so nothing is lost
                fetch.cancel()
                with contextlib.suppress(asyncio.CancelledError, TelegramError):
                    await fetch
                break
            try:
                raw = fetch.result()
                backoff = 1.0
            except RetryAfter as exc:
                wait = exc.retry_after
                await _sleep_or_stop(stop, wait.total_seconds() if hasattr(wait, "total_seconds") else float(wait))
                continue
            except (InvalidToken, Conflict):
                raise  # a wrong token, or a second bot polling with the same token: an operator must act
            except TelegramError as exc:  # timeouts, network errors, and an answer that is not JSON
                log.warning("getUpdates failed (%s); trying again in %.0f s", type(exc).__name__, backoff)
                await _sleep_or_stop(stop, backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)
                continue
            updates = _entries(raw)
            ids = list(updates)
            if sent is not None and ids and min(ids) < sent and progress.in_flight == 0:
                # Telegram never hands out ids below the offset: the sequence started again.
                log.warning("update ids restarted below the last one handled (%d -> %d); following the new ones",
                            sent - 1, min(ids))
                progress.restart(min(ids))
            fresh = False
            for update_id, entry in sorted(updates.items()):  # in id order: the confirmed edge follows it
                if not progress.is_new(update_id):
                    if progress.in_flight == 0:
                        progress.skip(update_id)  # answered before a crash: confirm it with the next fetch
                    continue
                update = _read(entry, app.bot)  # only new ones: each fetch also returns those still in hand
                progress.start(update_id)
                fresh = True
                if isinstance(update, Update):  # not answered before a crash, not in hand now
                    lanes.submit(update)
                else:  # logged once: counted as handled, it is confirmed and never fetched again
                    log.error("update %d could not be read (%s); confirmed and skipped it", update_id, update)
                    progress.finish(update_id)
            if ids and progress.in_flight == 0 and progress.offset == sent:
                await _sleep_or_stop(stop, IDLE_FETCH_SECONDS)  # nothing to do, nothing moved: do not spin
    finally:
        if not await lanes.drain(DRAIN_SECONDS):
            log.warning("stopping with updates still being handled; Telegram will hand them out again")
        saver.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await saver
    await _save(progress, save_progress)
    if progress.offset is not None:
        try:  # tell Telegram what was handled, so a restart does not see it again
            await _fetch(app.bot, progress.offset, 0, allowed_updates)
        except TelegramError:
            log.warning("could not confirm the last updates; they are skipped on the next start")


async def _fetch(bot: Bot, offset: int | None, timeout: float, allowed_updates: list[str]) -> Any:  # noqa: ANN401
    """getUpdates, unread: Bot.get_updates reads the whole batch at once, so one bad update fails them all
    (and the library logs the batch, with what people wrote, at CRITICAL)."""
    return await bot._post("getUpdates", {"offset": offset, "timeout": timeout,  # noqa: SLF001
                                          "allowed_updates": allowed_updates},
                           read_timeout=READ_TIMEOUT + timeout)


def _entries(raw: Any) -> dict[int, dict[str, Any]]:  # noqa: ANN401
    """The fetched updates by id, still unread."""
    entries: dict[int, dict[str, Any]] = {}
    for item in raw if isinstance(raw, list) else ():
        update_id = item.get("update_id") if isinstance(item, dict) else None
        if not isinstance(update_id, int) or isinstance(update_id, bool):
            log.error("getUpdates brought an entry without an update id; ignored it")
            continue
        entries[update_id] = item
    return entries


def _read(entry: dict[str, Any], bot: Bot) -> Update | str:
    """The update, or why the library could not read it (never its content). Reading is a third of
    the event loop's work in a burst, so it is done once per update, not once per fetch."""
    try:
        return Update.de_json(entry, bot)
    except Exception as exc:  # noqa: BLE001 - whatever the library raises, one update must not stop the rest
        return type(exc).__name__  # its message could quote what someone wrote


async def _wait_for_room(progress: Progress, stop: asyncio.Event) -> None:
    """Until an update in hand finishes (or stop)."""
    room = asyncio.ensure_future(progress.room.wait())
    stopping = asyncio.ensure_future(stop.wait())
    await asyncio.wait({room, stopping}, return_when=asyncio.FIRST_COMPLETED)
    for waiter in (room, stopping):
        waiter.cancel()
    progress.room.clear()


async def _save_as_it_changes(progress: Progress, save_progress: SaveProgress) -> None:
    """Write progress whenever it moved; writes are not queued up: each covers all that finished meanwhile."""
    saved = progress.snapshot()
    while True:
        await progress.moved.wait()
        progress.moved.clear()
        now = progress.snapshot()
        if now != saved and now[0] is not None:
            await _save(progress, save_progress)
            saved = now


async def _save(progress: Progress, save_progress: SaveProgress) -> None:
    last, done = progress.snapshot()
    if last is not None:
        await save_progress(last, done)


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        pass


async def run(app: Application, adapter, stop: asyncio.Event, timeout: float = POLL_TIMEOUT_SECONDS) -> None:  # noqa: ANN001
    """The polling bot's whole life: start, poll until `stop`, finish, shut down."""
    from bot.adapters.telegram import ALLOWED_UPDATES  # noqa: PLC0415
    from bot.service import STORAGE_ERRORS  # noqa: PLC0415

    async def load_progress() -> tuple[int | None, frozenset[int]]:
        try:
            return await adapter.service.store.progress()
        except STORAGE_ERRORS:
            return None, frozenset()  # without the database: Telegram's own confirmation is all we have

    async def save_progress(last: int, done: frozenset[int]) -> None:
        # Through the service's guard: while the database is locked, progress waits with the replies'
        # writes instead of taking aiosqlite's one thread for a busy timeout at every step.
        await adapter.service.safely(adapter.service.store.set_progress, last, done)

    async with app:
        await adapter.post_init(app)
        await app.bot.delete_webhook()  # polling and a webhook cannot both be set
        await app.start()
        try:
            await poll(app, stop, ALLOWED_UPDATES, load_progress, save_progress, timeout)
        finally:
            await app.stop()
            await adapter.post_shutdown(app)


async def run_until_signalled(app: Application, adapter) -> None:  # noqa: ANN001
    """`run`, stopped by SIGTERM or SIGINT (finishing the updates in hand)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for name in ("SIGTERM", "SIGINT"):
        loop.add_signal_handler(getattr(signal, name), stop.set)
    await run(app, adapter, stop)
