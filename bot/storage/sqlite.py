"""SQLite session storage with aiosqlite: WAL mode, versioned schema, one row per session."""

from __future__ import annotations

import json
import time
from pathlib import Path

import aiosqlite

from bot.core.model import MAX_BACK_STACK, SessionState

# Each entry upgrades the schema by one version; PRAGMA user_version holds the current one.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE sessions (
        key         TEXT PRIMARY KEY,   -- HMAC-SHA256 of the chat id, never the id
        node        TEXT NOT NULL,
        back_stack  TEXT NOT NULL,      -- JSON list of node ids, at most a few
        language    TEXT NOT NULL,
        created_at  INTEGER NOT NULL,   -- unix seconds
        updated_at  INTEGER NOT NULL
    ) WITHOUT ROWID;
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)

# The columns the privacy notice describes; a test keeps the two in step.
SESSION_COLUMNS = ("key", "node", "back_stack", "language", "created_at", "updated_at")


class SqliteSessionStore:
    def __init__(self, db: aiosqlite.Connection, path: Path) -> None:
        self._db = db
        self.path = path

    @classmethod
    async def open(cls, path: Path | str) -> SqliteSessionStore:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        db = await aiosqlite.connect(path)
        try:
            await db.execute("PRAGMA journal_mode=WAL")
            await db.execute("PRAGMA busy_timeout=5000")
            await db.execute("PRAGMA synchronous=NORMAL")
            # Deleted rows are overwritten, so /forget leaves no readable trace in the file.
            await db.execute("PRAGMA secure_delete=ON")
            await _migrate(db)
        except BaseException:
            await db.close()  # its worker thread would otherwise keep the process alive
            raise
        return cls(db, path)

    async def load(self, key: str) -> SessionState | None:
        async with self._db.execute(
            "SELECT node, back_stack, language FROM sessions WHERE key = ?", (key,)
        ) as cursor:
            row = await cursor.fetchone()
        if row is None:
            return None
        node, back_json, language = row
        try:
            back = tuple(str(x) for x in json.loads(back_json))[-MAX_BACK_STACK:]
        except (ValueError, TypeError):
            back = ()
        return SessionState(node=node, back=back, language=language)

    async def save(self, key: str, state: SessionState) -> None:
        now = int(time.time())
        await self._db.execute(
            """
            INSERT INTO sessions (key, node, back_stack, language, created_at, updated_at)
            VALUES (?, ?, ?, ?, ?, ?)
            ON CONFLICT(key) DO UPDATE SET
                node = excluded.node, back_stack = excluded.back_stack,
                language = excluded.language, updated_at = excluded.updated_at
            """,
            (key, state.node, json.dumps(list(state.back)), state.language, now, now),
        )
        await self._db.commit()

    async def delete(self, key: str) -> int:
        cursor = await self._db.execute("DELETE FROM sessions WHERE key = ?", (key,))
        await self._db.commit()
        return cursor.rowcount

    async def close(self) -> None:
        await self._db.close()


async def _migrate(db: aiosqlite.Connection) -> None:
    async with db.execute("PRAGMA user_version") as cursor:
        (version,) = await cursor.fetchone()
    if version > SCHEMA_VERSION:
        raise RuntimeError(f"database schema version {version} is newer than this bot supports ({SCHEMA_VERSION})")
    for number in range(version, SCHEMA_VERSION):
        await db.executescript(f"BEGIN; {MIGRATIONS[number]} PRAGMA user_version = {number + 1}; COMMIT;")
