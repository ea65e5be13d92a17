"""The parts: SQLite session read and write per update, content load at start-up, database size.

Routing per message is in bench/routing.py.
"""

from __future__ import annotations

import asyncio
import hashlib
import statistics
import tempfile
import time
from pathlib import Path

from bench.routing import percentile
from bench.e2e import VECTOR_CACHE
from bot.app import load_engine, sentence_model
from bot.content.bundle import Bundle
from bot.nlp.vectors import learn
from bot.config import Settings
from bot.core.model import SessionState
from bot.storage.sqlite import SqliteStore

REPO = Path(__file__).resolve().parent.parent


def _key(number: int) -> str:
    return hashlib.sha256(f"bench-{number}".encode()).hexdigest()  # the same length as a real session key


async def _session_round_trips(chats: int, updates: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="nh-bench-") as tmp:
        store = await SqliteStore.open(Path(tmp) / "bot.sqlite3")
        try:
            samples = []
            for number in range(updates):
                key = _key(number % chats)
                start = time.perf_counter()
                state = await store.load(key)
                await store.save(key, SessionState(node="cause", back=("main", "cause-menu")) if state is None
                                 else SessionState(node=state.node, back=(*state.back[-3:], "main")))
                samples.append((time.perf_counter() - start) * 1e6)
        finally:
            await store.close()
    return {"p50_us": round(statistics.median(samples), 1), "p99_us": round(percentile(samples, 0.99), 1)}


def session_round_trip(chats: int = 200, updates: int = 4000) -> dict[str, float]:
    """One update's session work as the service does it: load, then save (committed before the reply goes out)."""
    return asyncio.run(_session_round_trips(chats, updates))


async def _database_size(sessions: int) -> float:
    with tempfile.TemporaryDirectory(prefix="nh-bench-") as tmp:
        path = Path(tmp) / "bot.sqlite3"
        store = await SqliteStore.open(path)
        empty = path.stat().st_size  # the schema alone
        try:
            for number in range(sessions):
                await store.save(_key(number), SessionState(node="recurrence-risk", back=("main", "recurrence")))
        finally:
            await store.close()  # closing checkpoints the write-ahead log into the file
        return (path.stat().st_size - empty) / sessions * 1000 / 1024


def database_kib_per_1000_sessions(sessions: int = 10_000) -> float:
    return round(asyncio.run(_database_size(sessions)), 1)


def content_load_seconds() -> float:
    """Reading, validating and indexing content/ and flows/, as the bot does at start-up."""
    start = time.perf_counter()
    load_engine(Settings(content_dir=REPO / "content", flows_dir=REPO / "flows"))
    return time.perf_counter() - start


def examples_learn_seconds(bundle: Bundle) -> float:
    """A first start after a content change: embed every example and train both classifiers (no cache).
    Then the shared cache the benchmark's bots start with is filled."""
    embedder = sentence_model()
    with tempfile.TemporaryDirectory(prefix="nh-bench-") as tmp:
        start = time.perf_counter()
        learn(embedder, bundle.examples, Path(tmp))
        seconds = time.perf_counter() - start
    learn(embedder, bundle.examples, VECTOR_CACHE)
    return round(seconds, 2)
