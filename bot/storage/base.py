"""The storage interface the chat service needs, and nothing more."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from bot.core.model import SessionState


class Store(Protocol):
    async def load(self, key: str) -> SessionState | None:
        """The live state stored under `key`, or None."""

    async def save(self, key: str, state: SessionState) -> None:
        """Store `state` under `key`, keeping the session's creation time."""

    async def delete(self, key: str) -> int:
        """Delete everything stored under `key`; returns the number of rows removed."""

    async def count(self, items: Iterable[tuple[str, str]]) -> None:
        """Add one to each anonymous (metric, item) count for today."""

    def add_counts(self, items: Iterable[tuple[str, str]]) -> None:
        """As `count`, in memory only: written by a later `count` (while the database is away)."""

    async def record_feedback(self, key: str, answer_id: str, vote: str) -> bool:
        """Remember a rating; True when it changed the counts."""

    async def log_unmatched(self, text: str, outcome: str) -> None:
        """Keep a scrubbed, unlinked question text (only when an operator turned that on)."""

    async def progress(self) -> tuple[int | None, frozenset[int]]:
        """The bot's own progress, not a person's: the Telegram update id up to which every
        update was handled, and the ids beyond it handled already (updates run concurrently)."""

    async def set_progress(self, last: int, handled_above: Iterable[int] = ()) -> None: ...

    async def healthy(self) -> bool:
        """True while the storage answers."""

    async def close(self) -> None: ...
