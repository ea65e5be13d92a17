"""The storage interface the chat service needs, and nothing more."""

from __future__ import annotations

from typing import Protocol

from bot.core.model import SessionState


class SessionStore(Protocol):
    async def load(self, key: str) -> SessionState | None:
        """The state stored under `key`, or None."""

    async def save(self, key: str, state: SessionState) -> None:
        """Store `state` under `key`, keeping the session's creation time."""

    async def delete(self, key: str) -> int:
        """Delete everything stored under `key`; returns the number of rows removed."""

    async def close(self) -> None: ...
