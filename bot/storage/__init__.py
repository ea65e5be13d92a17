"""Anonymous session storage behind a small interface."""

from bot.storage.base import SessionStore
from bot.storage.keys import SessionKeyer
from bot.storage.sqlite import SqliteSessionStore

__all__ = ["SessionKeyer", "SessionStore", "SqliteSessionStore"]
