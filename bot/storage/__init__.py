"""Anonymous session storage behind a small interface."""

from bot.storage.base import Store
from bot.storage.keys import SessionKeyer
from bot.storage.sqlite import SqliteStore

__all__ = ["SessionKeyer", "Store", "SqliteStore"]
