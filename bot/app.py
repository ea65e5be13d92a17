"""Wiring shared by the command line and the tests: content -> engine -> service."""

from __future__ import annotations

import logging

from bot.config import ConfigError, Settings
from bot.content import ContentError, load_bundle
from bot.core.engine import Engine
from bot.service import ChatService
from bot.storage import SessionKeyer, SqliteSessionStore

log = logging.getLogger("bot")


def load_engine(settings: Settings) -> Engine:
    """Load and validate content once; invalid content stops start-up with its problems logged."""
    try:
        bundle, warnings = load_bundle(settings.content_dir, settings.flows_dir)
    except ContentError as exc:
        for problem in exc.problems:
            log.error("content: %s", problem)
        raise ConfigError("content or flows are invalid; run `python -m bot validate` to see why") from None
    for problem in warnings:
        log.warning("content: %s", problem)
    return Engine(bundle)


async def open_service(settings: Settings, engine: Engine) -> ChatService:
    keyer = SessionKeyer(settings.session_secret())
    store = await SqliteSessionStore.open(settings.db_path)
    return ChatService(engine, store, keyer)
