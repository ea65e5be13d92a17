"""SQLite storage with aiosqlite: WAL mode, a versioned schema that upgrades itself.

What is kept, and nothing more (PRIVACY_DESCRIPTIONS says it in words, and a test
keeps that list, the schema and the /privacy text in step):
- sessions: one row per chat, under a keyed hash of the chat id; expires after a TTL.
- feedback: which answer a session rated, only so that a second press does not count
  twice; it goes when the session goes (/forget, expiry).
- daily_counts: anonymous figures per day. Never linked to a session.
- unmatched: scrubbed texts of questions the bot could not answer, only when an
  operator turned that on; never linked to a session; deleted after a retention period.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import sqlite3
import time
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import aiosqlite

from bot.core.model import MAX_BACK_STACK, SessionState

DAY = 86_400
log = logging.getLogger(__name__)
# At DEBUG, aiosqlite logs every statement with its parameters, session keys among them.
logging.getLogger("aiosqlite").setLevel(logging.INFO)

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
    """
    CREATE INDEX sessions_updated ON sessions (updated_at);
    CREATE TABLE feedback (
        key         TEXT NOT NULL,      -- the session's key: deleted with the session
        answer_id   TEXT NOT NULL,
        vote        TEXT NOT NULL,      -- 'up' or 'down'
        PRIMARY KEY (key, answer_id)
    ) WITHOUT ROWID;
    CREATE TABLE daily_counts (
        day         TEXT NOT NULL,      -- YYYY-MM-DD (UTC)
        metric      TEXT NOT NULL,      -- e.g. 'answer_shown'
        item        TEXT NOT NULL,      -- e.g. an answer id; '' when none
        count       INTEGER NOT NULL,
        PRIMARY KEY (day, metric, item)
    ) WITHOUT ROWID;
    CREATE TABLE unmatched (
        day         TEXT NOT NULL,
        text        TEXT NOT NULL,      -- scrubbed of phone numbers, e-mails, digit runs, @names
        outcome     TEXT NOT NULL,      -- 'clarify' or 'out_of_scope'
        count       INTEGER NOT NULL,
        PRIMARY KEY (day, text, outcome)
    ) WITHOUT ROWID;
    """,
    """
    CREATE TABLE bot_state (
        name        TEXT PRIMARY KEY,   -- e.g. 'last_update_id'
        value       TEXT NOT NULL
    ) WITHOUT ROWID;
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)

# Every stored column, and the words of the /privacy notice that tell people about it.
# A test checks that this covers the schema and that the notice contains each phrase.
PRIVACY_PHRASES: dict[str, str] = {
    "sessions.key": "a code made from your chat number",
    "sessions.node": "which menu or answer you are on",
    "sessions.back_stack": "your last few steps",
    "sessions.language": "your language setting",
    "sessions.created_at": "when the chat started",
    "sessions.updated_at": "when it was last used",
    "feedback.key": "which answers you rated",
    "feedback.answer_id": "which answers you rated",
    "feedback.vote": "as helpful or not",
    "daily_counts.day": "I also count, per day",
    "daily_counts.metric": "how often chats start, answers are shown, menus are opened and answers are rated",
    "daily_counts.item": "answers are shown",
    "daily_counts.count": "These counts have no link to you",
    "unmatched.day": "I delete them after",
    "unmatched.text": "the wording of questions I could not answer",
    "unmatched.outcome": "questions I could not answer",
    "unmatched.count": "questions I could not answer",
    "bot_state.name": "the numbers of the last messages the bot handled",
    "bot_state.value": "the numbers of the last messages the bot handled",
}
# Anonymous counts are added up in memory and written at most this often (and at close),
# instead of one write per update: a crash loses at most this many seconds of counts.
COUNT_FLUSH_SECONDS = 1.0
COUNT_ROWS_PER_STATEMENT = 200  # 800 parameters: within SQLite's limit even on old builds (999)
SESSION_COLUMNS = ("key", "node", "back_stack", "language", "created_at", "updated_at")
# How long one statement waits for another process's lock. Short: a reply is not held up by a
# locked database (it is answered from the content), and our own statements never overlap.
BUSY_TIMEOUT_MS = 500


def today(now: float | None = None) -> str:
    return dt.datetime.fromtimestamp(now if now is not None else time.time(), dt.UTC).strftime("%Y-%m-%d")


class SqliteStore:
    def __init__(self, db: aiosqlite.Connection, path: Path, ttl_days: int = 30) -> None:
        self._db = db
        self.path = path
        self.ttl_days = ttl_days
        self._pending_counts: Counter[tuple[str, str, str]] = Counter()
        self._counts_flushed_at = time.monotonic()
        self._inode = os.stat(path).st_ino

    @classmethod
    async def open(cls, path: Path | str, ttl_days: int = 30, busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> SqliteStore:
        """Open (creating if needed). A corrupt file is moved aside, with a log line, and a new one made."""
        path = Path(path)
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)  # a folder made here is ours alone
        # The file readable by the bot's user only (SQLite gives -wal and -shm the same mode).
        os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
        if path.stat().st_mode & 0o077:
            path.chmod(0o600)
        try:
            return await cls._open(path, ttl_days, busy_timeout_ms)
        except sqlite3.DatabaseError as exc:
            if not _is_corrupt(exc):
                raise
            aside = path.with_name(f"{path.name}.corrupt-{time.strftime('%Y%m%dT%H%M%S')}")
            for suffix in ("", "-wal", "-shm"):
                part = Path(f"{path}{suffix}")
                if part.exists():
                    part.rename(Path(f"{aside}{suffix}"))
            log.error("the database %s was corrupt (%s): moved it aside to %s and started a new one", path, exc, aside)
            return await cls._open(path, ttl_days, busy_timeout_ms)

    @classmethod
    async def _open(cls, path: Path, ttl_days: int, busy_timeout_ms: int) -> SqliteStore:
        # Autocommit, and every write is one statement: its own transaction, one trip to aiosqlite's
        # thread. Chats are handled at the same time over this one connection, so a transaction
        # spanning several awaits would take in other chats' statements (or meet a second BEGIN).
        # The busy timeout from the first statement on (sqlite3's own default is 5 s).
        db = await aiosqlite.connect(path, isolation_level=None, timeout=busy_timeout_ms / 1000)
        try:
            await db.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
            await db.execute("PRAGMA journal_mode=WAL")
            await db.execute("PRAGMA synchronous=NORMAL")
            # Deleted rows are overwritten, so /forget leaves no readable trace in the file.
            await db.execute("PRAGMA secure_delete=ON")
            await _migrate(db)
        except BaseException:
            await db.close()  # its worker thread would otherwise keep the process alive
            raise
        return cls(db, path, ttl_days)

    # --- sessions ---------------------------------------------------------------------

    async def load(self, key: str, now: float | None = None) -> SessionState | None:
        """The live session under `key`; one idle for longer than the TTL is as good as gone."""
        oldest = int(now if now is not None else time.time()) - self.ttl_days * DAY
        rows = await self._db.execute_fetchall(
            "SELECT node, back_stack, language FROM sessions WHERE key = ? AND updated_at >= ?", (key, oldest))
        if not rows:
            return None
        node, back_json, language = next(iter(rows))
        try:
            back = tuple(str(x) for x in json.loads(back_json))[-MAX_BACK_STACK:]
        except (ValueError, TypeError):
            back = ()
        return SessionState(node=node, back=back, language=language)

    async def save(self, key: str, state: SessionState, now: float | None = None) -> None:
        stamp = int(now if now is not None else time.time())
        await self._db.execute(
            """
            INSERT INTO sessions (key, node, back_stack, language, created_at, updated_at)
            VALUES (?, ?, ?, ?, ?, ?)
            ON CONFLICT(key) DO UPDATE SET
                node = excluded.node, back_stack = excluded.back_stack,
                language = excluded.language, updated_at = excluded.updated_at
            """,
            (key, state.node, json.dumps(list(state.back)), state.language, stamp, stamp),
        )

    async def delete(self, key: str) -> int:
        """Delete everything tied to `key`: the session and its feedback rows.

        Two statements, sessions first: if the second fails, the feedback rows are orphans, which
        `purge` deletes (at start-up and hourly)."""
        cursor = await self._db.execute("DELETE FROM sessions WHERE key = ?", (key,))
        removed = cursor.rowcount
        cursor = await self._db.execute("DELETE FROM feedback WHERE key = ?", (key,))
        removed += cursor.rowcount
        # secure_delete overwrites the row, but in WAL mode the overwriting page goes to the WAL,
        # and the row stays readable in the main file and in older WAL frames until a checkpoint.
        # Checkpoint now and truncate the WAL, so the bytes are gone when /forget answers.
        rows = await self._db.execute_fetchall("PRAGMA wal_checkpoint(TRUNCATE)")
        if rows and next(iter(rows))[0]:
            log.warning("a deleted session stays in the write-ahead log until the next checkpoint "
                        "(another connection is reading)")
        return removed

    # --- forgetting on schedule ---------------------------------------------------------

    async def purge(self, now: float | None = None, unmatched_days: int = 14) -> dict[str, int]:
        """Delete expired sessions (and their feedback) and unmatched texts past retention."""
        stamp = int(now if now is not None else time.time())
        oldest = stamp - self.ttl_days * DAY
        removed = {}  # each statement stands alone; run again, each finishes what the last left
        cursor = await self._db.execute("DELETE FROM sessions WHERE updated_at < ?", (oldest,))
        removed["sessions"] = cursor.rowcount
        cursor = await self._db.execute("DELETE FROM feedback WHERE key NOT IN (SELECT key FROM sessions)")
        removed["feedback"] = cursor.rowcount
        cursor = await self._db.execute("DELETE FROM unmatched WHERE day <= ?", (today(stamp - unmatched_days * DAY),))
        removed["unmatched"] = cursor.rowcount
        return removed

    # --- anonymous figures ----------------------------------------------------------------

    async def count(self, items: Iterable[tuple[str, str]], now: float | None = None) -> None:
        """Add one to each (metric, item) for today. Nothing here says who.

        Added up in memory and written when COUNT_FLUSH_SECONDS have passed, so a busy bot
        writes its counts about once a second rather than once per update."""
        self.add_counts(items, now)
        if time.monotonic() - self._counts_flushed_at >= COUNT_FLUSH_SECONDS:
            await self.flush_counts()

    def add_counts(self, items: Iterable[tuple[str, str]], now: float | None = None) -> None:
        day = today(now)
        for metric, item in items:
            self._pending_counts[(day, metric, item)] += 1

    async def _uncount(self, metric: str, item: str, now: float | None = None) -> None:
        """Take one back from today's count (a changed rating), whether or not it was written yet."""
        key = (today(now), metric, item)
        if self._pending_counts[key] > 0:
            self._pending_counts[key] -= 1
            return
        await self._db.execute(
            "UPDATE daily_counts SET count = MAX(count - 1, 0) WHERE day = ? AND metric = ? AND item = ?", key)

    async def flush_counts(self) -> None:
        """Write the counts added up in memory; on a database fault they are kept for the next try."""
        self._counts_flushed_at = time.monotonic()
        pending, self._pending_counts = self._pending_counts, Counter()
        rows = [(day, metric, item, n) for (day, metric, item), n in pending.items() if n > 0]
        try:
            for start in range(0, len(rows), COUNT_ROWS_PER_STATEMENT):
                batch = rows[start:start + COUNT_ROWS_PER_STATEMENT]
                # One statement per batch: all its rows are written, or none (then they are kept).
                await self._db.execute(
                    "INSERT INTO daily_counts (day, metric, item, count) "
                    f"SELECT * FROM (VALUES {', '.join(['(?, ?, ?, ?)'] * len(batch))}) WHERE true "
                    "ON CONFLICT(day, metric, item) DO UPDATE SET count = count + excluded.count",
                    [value for row in batch for value in row],
                )
                for day, metric, item, _n in batch:
                    del pending[(day, metric, item)]  # written: not to be kept if a later batch fails
        except BaseException:
            pending.update(self._pending_counts)
            self._pending_counts = +pending
            raise

    async def record_feedback(self, key: str, answer_id: str, vote: str, now: float | None = None) -> bool:
        """Remember a rating; True when it changed what is counted (a repeat press does not)."""
        rows = list(await self._db.execute_fetchall(
            "SELECT vote FROM feedback WHERE key = ? AND answer_id = ?", (key, answer_id)))
        row = rows[0] if rows else None
        if row is not None and row[0] == vote:
            return False
        if row is not None:  # a changed mind: move the count rather than add one
            await self._uncount("feedback", f"{answer_id}:{row[0]}", now)
        await self._db.execute(
            "INSERT INTO feedback (key, answer_id, vote) VALUES (?, ?, ?) "
            "ON CONFLICT(key, answer_id) DO UPDATE SET vote = excluded.vote",
            (key, answer_id, vote),
        )
        await self.count([("feedback", f"{answer_id}:{vote}")], now)
        return True

    async def counts(self, days: int, now: float | None = None) -> list[tuple[str, str, str, int]]:
        """(day, metric, item, count) for the last `days` days, today included."""
        since = today((now if now is not None else time.time()) - (days - 1) * DAY)
        await self.flush_counts()
        async with self._db.execute(
            "SELECT day, metric, item, count FROM daily_counts WHERE day >= ? ORDER BY day, metric, item", (since,)
        ) as cursor:
            return [tuple(row) for row in await cursor.fetchall()]

    # --- unmatched questions (only when an operator turned it on) ------------------------------

    async def log_unmatched(self, text: str, outcome: str, now: float | None = None) -> None:
        await self._db.execute(
            """
            INSERT INTO unmatched (day, text, outcome, count) VALUES (?, ?, ?, 1)
            ON CONFLICT(day, text, outcome) DO UPDATE SET count = count + 1
            """,
            (today(now), text, outcome),
        )

    async def unmatched(self) -> list[tuple[str, str, int, str]]:
        """(text, outcome, times asked, last day), most frequent first."""
        async with self._db.execute(
            "SELECT text, outcome, SUM(count) AS n, MAX(day) FROM unmatched GROUP BY text, outcome ORDER BY n DESC, text"
        ) as cursor:
            return [tuple(row) for row in await cursor.fetchall()]

    # --- the bot's own progress (not about any person) ----------------------------------------

    async def progress(self) -> tuple[int | None, frozenset[int]]:
        """The last update id up to which every update was handled, and the ids handled beyond it."""
        values = dict(await self._db.execute_fetchall(
            "SELECT name, value FROM bot_state WHERE name IN ('last_update_id', 'handled_above')"))
        last = int(values["last_update_id"]) if "last_update_id" in values else None
        try:
            above = frozenset(int(x) for x in json.loads(values.get("handled_above", "[]")))
        except (ValueError, TypeError):
            above = frozenset()
        return last, above

    async def set_progress(self, last: int, handled_above: Iterable[int] = ()) -> None:
        # One statement, so the two values change together.
        await self._db.execute(
            "INSERT INTO bot_state (name, value) VALUES ('last_update_id', ?), ('handled_above', ?) "
            "ON CONFLICT(name) DO UPDATE SET value = excluded.value",
            (str(last), json.dumps(sorted(handled_above))),
        )

    async def healthy(self) -> bool:
        """True while the file is still ours and takes a write and a read: `SELECT 1` touches no file,
        so it answered while the disk was full, the database locked or its file deleted."""
        try:
            if os.stat(self.path).st_ino != self._inode:
                return False  # deleted or replaced: what we write goes to a file nobody will see again
            stamp = str(time.time_ns())
            await self._db.execute(
                "INSERT INTO bot_state (name, value) VALUES ('health_probe', ?) "
                "ON CONFLICT(name) DO UPDATE SET value = excluded.value", (stamp,))
            rows = await self._db.execute_fetchall("SELECT value FROM bot_state WHERE name = 'health_probe'")
            return list(rows) == [(stamp,)]
        except (sqlite3.Error, ValueError, OSError):
            return False

    async def close(self) -> None:
        try:
            await self.flush_counts()
        except (sqlite3.Error, ValueError) as exc:
            log.error("could not write the last counts before closing (%s)", type(exc).__name__)
        await self._db.close()


def _is_corrupt(exc: sqlite3.DatabaseError) -> bool:
    text = str(exc).lower()
    return "not a database" in text or "malformed" in text or "corrupt" in text


async def _migrate(db: aiosqlite.Connection) -> None:
    async with db.execute("PRAGMA user_version") as cursor:
        (version,) = await cursor.fetchone()
    if version > SCHEMA_VERSION:
        raise RuntimeError(f"database schema version {version} is newer than this bot supports ({SCHEMA_VERSION})")
    for number in range(version, SCHEMA_VERSION):
        await db.executescript(f"BEGIN; {MIGRATIONS[number]} PRAGMA user_version = {number + 1}; COMMIT;")
