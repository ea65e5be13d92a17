"""Wiring shared by the command line and the tests: content -> engine -> service."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import gc
import logging
import time
from functools import cache
from pathlib import Path

from bot.config import ConfigError, Settings
from bot.content import ContentError, load_bundle
from bot.content.bundle import Bundle
from bot.core.engine import Engine
from bot.core.semantic import ExampleSpace
from bot.core.understanding import Senses, Understanding
from bot.nlp.embedder import UseEmbedder
from bot.nlp.vectors import learn
from bot.readahead import ReadAhead
from bot.service import ChatService
from bot.storage import SessionKeyer, SqliteStore

log = logging.getLogger("bot")


@cache
def sentence_model() -> UseEmbedder:
    """The sentence model: loaded once per process (about 100 MiB), shared by content reloads."""
    return UseEmbedder()


def understanding_for(bundle: Bundle, cache_dir: Path | None) -> Understanding:
    """Understanding with the sentence model, its example vectors computed once per content version."""
    embedder = sentence_model()
    learnt = learn(embedder, bundle.examples, cache_dir)
    space = ExampleSpace(bundle.examples, learnt.vectors)  # sorted by label: the unsorted rows are let go
    understanding = Understanding(bundle, Senses(embedder, space, learnt.topics, learnt.safety))
    understanding.classify("warm up")  # the first message of a content version pays no set-up cost
    return understanding


def load_content(settings: Settings) -> Bundle:
    """Load and validate content; invalid content stops the command with its problems logged."""
    try:
        bundle, warnings = load_bundle(settings.content_dir, settings.flows_dir)
    except ContentError as exc:
        for problem in exc.problems:
            log.error("content: %s", problem)
        raise ConfigError("content or flows are invalid; run `python -m bot validate` to see why") from None
    for problem in warnings:
        log.warning("content: %s", problem)
    return bundle


def load_engine(settings: Settings) -> Engine:
    """Load and validate content once, with the sentence model and the content's example vectors."""
    bundle = load_content(settings)
    unmatched_days = settings.unmatched_retention_days if settings.log_unmatched else None
    understanding = understanding_for(bundle, settings.vector_cache_dir)
    engine = Engine(bundle, ttl_days=settings.session_ttl_days, unmatched_days=unmatched_days,
                    understanding=understanding)
    release_freed_memory()
    return engine


def release_freed_memory() -> None:
    """Give the heap that loading freed (YAML trees, the model's compressed weights) back to the system.
    glibc keeps freed heap for reuse, and the bot would stay about 20 MiB larger than it needs."""
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):  # not glibc (musl, macOS): nothing to do
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def reload_engine(settings: Settings, current: Engine) -> Engine | None:
    """Load content again for a running bot: the new engine, or None (and errors logged) to keep the old."""
    try:
        engine = load_engine(settings)
    except ConfigError:
        log.error("content reload failed: the old content (version %s) stays live", current.bundle.version)
        return None
    log.info("content reloaded: version %s is live (was %s)", engine.bundle.version, current.bundle.version)
    return engine


async def open_store(settings: Settings) -> SqliteStore:
    """Open the database and forget what has expired, before anything else is served.

    A database that cannot be opened (locked by another process, say) is waited for, with one
    log line, up to BOT_DB_START_WAIT_SECONDS; then the error goes up and the process exits
    non-zero, so a restart policy acts. A purge that fails (locked, read-only, full) does not
    stop start-up: the bot answers without it, and the hourly purge tries again."""
    from bot.service import STORAGE_ERRORS  # noqa: PLC0415

    deadline = time.monotonic() + settings.db_start_wait_seconds
    waiting = False
    while True:
        try:
            store = await SqliteStore.open(settings.db_path, ttl_days=settings.session_ttl_days,
                                           busy_timeout_ms=settings.db_busy_timeout_ms)
            break
        except STORAGE_ERRORS as exc:
            if time.monotonic() >= deadline:
                log.error("could not open the database %s (%s); giving up after %d s",
                          settings.db_path, exc, settings.db_start_wait_seconds)
                raise
            if not waiting:
                log.error("could not open the database %s (%s); waiting up to %d s for it",
                          settings.db_path, exc, settings.db_start_wait_seconds)
                waiting = True
            await asyncio.sleep(min(1.0, max(0.0, deadline - time.monotonic())))
    if waiting:
        log.info("the database %s opened", settings.db_path)
    try:
        removed = await store.purge(unmatched_days=settings.unmatched_retention_days)
    except STORAGE_ERRORS as exc:
        log.error("could not purge expired data at start-up (%s: %s); going on, the hourly purge tries again",
                  type(exc).__name__, exc)
    else:
        log.info("purged expired data: %s", ", ".join(f"{n} {what}" for what, n in removed.items()))
    return store


async def open_service(settings: Settings, engine: Engine) -> ChatService:
    keyer = SessionKeyer(settings.session_secret())
    return ChatService(engine, await open_store(settings), keyer, log_unmatched=settings.log_unmatched,
                       read_ahead=ReadAhead())
