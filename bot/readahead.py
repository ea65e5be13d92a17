"""Typed messages that arrive together are read together, on a worker thread.

Reading a message with the sentence model is the costliest step of an update (about
2 ms, most of it matrix products). Done one message at a time on the event loop, it
halved the bot's throughput in a burst. Here each typed message waits for a reading
taken in a batch with every other message that arrived meanwhile, on one worker
thread: numpy releases the GIL for its matrix products, so the event loop goes on
sending replies while the second core reads, and a batch costs about half as much
per message. A lone message waits for no one: its batch starts at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from concurrent.futures import ThreadPoolExecutor

from bot.core.understanding import Understanding

log = logging.getLogger(__name__)

MOST_PER_BATCH = 64  # a larger batch costs no less per message, and keeps the first ones waiting


class ReadAhead:
    def __init__(self) -> None:
        self._waiting: list[tuple[Understanding, str, asyncio.Future[None]]] = []
        self._reading = False
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="read-ahead")

    async def read(self, understanding: Understanding, text: str) -> None:
        """Return once `understanding` has read `text` ahead (its `classify` then takes that reading).
        If the batch fails, the message is read when it is classified, as without this."""
        if understanding.senses is None:
            return
        done = asyncio.get_running_loop().create_future()
        self._waiting.append((understanding, text, done))
        if not self._reading:
            self._start_batch()
        with contextlib.suppress(Exception):
            await asyncio.shield(done)

    def _start_batch(self) -> None:
        batch, self._waiting = self._waiting[:MOST_PER_BATCH], self._waiting[MOST_PER_BATCH:]
        if not batch:
            self._reading = False
            return
        self._reading = True
        understanding = batch[0][0]  # content reloads are rare: a batch holds one content version's messages
        same = [item for item in batch if item[0] is understanding]
        self._waiting = [item for item in batch if item[0] is not understanding] + self._waiting
        try:
            job = asyncio.get_running_loop().run_in_executor(self._worker, understanding.read_ahead,
                                                             [text for _, text, _ in same])
        except RuntimeError as exc:  # the worker is gone (the process is stopping): never leave a message waiting
            self._finish(None, same, exc)
            return
        job.add_done_callback(lambda finished: self._finish(finished, same))

    def _finish(self, job: asyncio.Future[None] | None, batch: list[tuple[Understanding, str, asyncio.Future[None]]],
                error: BaseException | None = None) -> None:
        if job is not None and not job.cancelled():
            error = job.exception()
        if error is not None:  # the type only: an error's text could quote a message
            log.error("reading %d messages ahead failed (%s); they are read one by one", len(batch), type(error).__name__)
        for _, _, done in batch:
            if not done.done():
                done.set_result(None)
        self._start_batch()  # what arrived while this batch was read
