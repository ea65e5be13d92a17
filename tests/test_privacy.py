"""Privacy by design: expiry, /forget, anonymous figures, feedback, unmatched questions, /stats."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import json
import logging
import re
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bot.config import Settings
from bot.content.bundle import Bundle
from bot.core.engine import HELPFUL_LABEL, NOT_HELPFUL_LABEL, Engine
from bot.core.model import SessionState
from bot.core.scrub import scrub
from bot.logs import setup_logging
from bot.storage import SqliteStore
from bot.storage.sqlite import DAY, PRIVACY_PHRASES
from tests.conftest import Person, eventually, running_bot
from tests.fake_bot_api import FakeBotApi

CHAT = 515151515
ADMIN = 626262626


def rows(path: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(path) as db:
        return db.execute(sql).fetchall()


# --- expiry ------------------------------------------------------------------------------


async def test_sessions_expire_after_the_ttl_and_purge_removes_them(tmp_path: Path) -> None:
    store = await SqliteStore.open(tmp_path / "db.sqlite3", ttl_days=30)
    now = time.time()
    await store.save("old", SessionState("cause"), now=now - 31 * DAY)
    await store.save("recent", SessionState("cause"), now=now - 29 * DAY)
    await store.record_feedback("old", "cause", "up")
    assert await store.load("old") is None, "an expired session is not used, even before the purge"
    assert await store.load("recent") == SessionState("cause")
    removed = await store.purge(now=now)
    assert removed["sessions"] == 1 and removed["feedback"] == 1
    await store.close()
    assert rows(tmp_path / "db.sqlite3", "SELECT key FROM sessions") == [("recent",)]
    assert rows(tmp_path / "db.sqlite3", "SELECT * FROM feedback") == []


def test_purge_command(tmp_path: Path) -> None:
    db = tmp_path / "data" / "bot.sqlite3"

    async def prepare() -> None:
        store = await SqliteStore.open(db)
        await store.save("expired", SessionState("main"), now=time.time() - 40 * DAY)
        await store.save("live", SessionState("main"))
        await store.log_unmatched("old question", "clarify", now=time.time() - 20 * DAY)
        await store.log_unmatched("new question", "clarify")
        await store.close()

    asyncio.run(prepare())
    env = {"BOT_DB_PATH": str(db), "PATH": "/usr/bin:/bin"}
    result = subprocess.run([sys.executable, "-m", "bot", "purge"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert rows(db, "SELECT key FROM sessions") == [("live",)]
    assert rows(db, "SELECT text FROM unmatched") == [("new question",)]


async def test_the_bot_purges_while_running(fake_api: FakeBotApi, settings: Settings) -> None:
    from bot.adapters.telegram import TelegramAdapter  # noqa: PLC0415
    from bot.app import load_engine, open_service  # noqa: PLC0415

    engine = load_engine(settings)
    purges = []

    async def purge() -> None:
        purges.append(await adapter.service.store.purge())

    adapter = TelegramAdapter(lambda: open_service(settings, engine), purge=purge, purge_every=0.05)
    app = adapter.build(settings.token, fake_api.base_url)
    await app.initialize()
    await adapter.post_init(app)
    await adapter.service.store.save("expired", SessionState("main"), now=time.time() - 31 * DAY)
    for _ in range(100):
        if purges and any(p["sessions"] for p in purges):
            break
        await asyncio.sleep(0.05)
    await adapter.post_shutdown(app)
    await app.shutdown()
    assert any(p["sessions"] == 1 for p in purges)
    assert rows(settings.db_path, "SELECT COUNT(*) FROM sessions") == [(0,)]


# --- /forget and /privacy ---------------------------------------------------------------------


async def test_forget_removes_every_row_linked_to_the_chat(fake_api: FakeBotApi, settings: Settings) -> None:
    async with running_bot(fake_api, settings) as adapter:
        person = Person(fake_api, CHAT)
        (answer,) = await person.say("/start cause")
        await person.press(answer.message_id, next(d for t, d in answer.buttons if t == HELPFUL_LABEL), replies=0)
        key = adapter.service.keyer.key("tg", CHAT)
        await eventually(lambda: rows(settings.db_path, f"SELECT COUNT(*) FROM feedback WHERE key = '{key}'") == [(1,)])
        other = Person(fake_api, CHAT + 1)
        await other.say("/start cause")
        await person.say("/forget")
        (fresh,) = await person.say("/start")
    assert rows(settings.db_path, f"SELECT node FROM sessions WHERE key = '{key}'") == [("main",)], "a fresh session"
    assert rows(settings.db_path, f"SELECT COUNT(*) FROM feedback WHERE key = '{key}'") == [(0,)]
    assert rows(settings.db_path, "SELECT COUNT(*) FROM sessions") == [(2,)], "the other chat is untouched"
    assert fresh.text.startswith("Hello.")


async def test_privacy_describes_every_stored_column(tmp_path: Path, bundle: Bundle) -> None:
    store = await SqliteStore.open(tmp_path / "db.sqlite3")
    await store.close()
    columns = set()
    for (table,) in rows(tmp_path / "db.sqlite3", "SELECT name FROM sqlite_master WHERE type = 'table'"):
        columns |= {f"{table}.{c[1]}" for c in rows(tmp_path / "db.sqlite3", f"PRAGMA table_info({table})")}
    assert columns == set(PRIVACY_PHRASES), "every stored column must be described in /privacy"
    with_unmatched = Engine(bundle, ttl_days=30, unmatched_days=14).privacy_text
    for column, phrase in PRIVACY_PHRASES.items():
        assert phrase in with_unmatched, f"/privacy does not mention {column} ({phrase!r})"
    without = Engine(bundle, ttl_days=45).privacy_text
    assert "after 45 days without use" in without and "I do not keep anything you type." in without
    assert "questions I could not answer" not in without
    assert "after 14 days" in with_unmatched and "anything you type" not in with_unmatched


# --- nothing identifying, in the file or the logs ------------------------------------------------


@pytest.mark.parametrize("unmatched", [False, True])
async def test_no_identifying_data_in_the_database_or_logs(fake_api: FakeBotApi, settings: Settings, unmatched: bool) -> None:
    settings = dataclasses.replace(settings, log_unmatched=unmatched)
    chat_id, name, username = 918273645, "Wilhelmina", "wilhelmina_q"
    secret_text = "my question about zebrafish and cassowaries"
    captured = io.StringIO()
    setup_logging("INFO", settings.token, stream=captured)  # as `python -m bot run` configures it
    async with running_bot(fake_api, settings):
        person = Person(fake_api, chat_id, name=name, username=username)
        (answer,) = await person.say("/start cause")
        await person.press(answer.message_id, next(d for t, d in answer.buttons if t == HELPFUL_LABEL), replies=0)
        await person.say(secret_text)
        await person.say("call me on +44 7700 900123 or mail wil@example.org, I'm @wilhelmina_q, ref 5550193847")
        await person.say("is it genetic?")
    logging.getLogger().handlers.clear()
    raw = b"".join(p.read_bytes() for p in settings.db_path.parent.iterdir() if p.name.startswith(settings.db_path.name))
    logs = captured.getvalue()
    assert "handled Text -> " in logs, "the capture really holds the bot's log lines"
    assert settings.token not in logs
    for needle in (str(chat_id), name, username, "7700 900123", "wil@example.org", "5550193847"):
        assert needle.encode() not in raw, needle
        assert needle not in logs, needle
    assert ("zebrafish".encode() in raw) is unmatched, "typed text is kept only when the operator turned it on"
    assert "zebrafish" not in logs


# --- anonymous figures ----------------------------------------------------------------------------


async def test_figures_are_counted_for_a_scripted_session(fake_api: FakeBotApi, settings: Settings) -> None:
    async with running_bot(fake_api, settings) as adapter:
        person = Person(fake_api, CHAT)
        (menu,) = await person.say("/start")
        (topic,) = await person.tap("What causes it?", on=menu)
        (answer,) = await person.tap("What causes NH?", on=topic)
        await person.press(answer.message_id, next(d for t, d in answer.buttons if t == HELPFUL_LABEL), replies=0)
        await eventually(lambda: rows(settings.db_path, "SELECT COUNT(*) FROM feedback") == [(1,)])
        await person.say("is it genetic??")
        await person.say("what's the weather tomorrow")
        await person.say("ivig")
        await person.say("hello")
        await person.say("my baby is not breathing", replies=2)
        counts = await adapter.service.store.counts(1)
    found = {(metric, item): count for _day, metric, item, count in counts}
    assert found == {
        ("session_started", ""): 1,
        ("menu_path", "main"): 1,
        ("menu_path", "topic-cause"): 1,
        ("answer_shown", "cause"): 1,
        ("answer_shown", "is-it-genetic"): 1,
        ("feedback", "cause:up"): 1,
        ("outcome", "answer"): 1,
        ("outcome", "out_of_scope"): 1,
        ("outcome", "clarify"): 1,
        ("outcome", "greeting"): 1,
        ("outcome", "emergency"): 1,
    }
    assert "key" not in {c[1] for c in rows(settings.db_path, "PRAGMA table_info(daily_counts)")}


async def test_feedback_is_idempotent_and_acknowledged_without_a_message(fake_api: FakeBotApi, settings: Settings, bundle: Bundle) -> None:
    async with running_bot(fake_api, settings) as adapter:
        person = Person(fake_api, CHAT)
        (answer,) = await person.say("/start recurrence-risk")
        up = next(d for t, d in answer.buttons if t == HELPFUL_LABEL)
        down = next(d for t, d in answer.buttons if t == NOT_HELPFUL_LABEL)
        sent_before = len(fake_api.outgoing(CHAT))
        store = adapter.service.store

        async def feedback_counts() -> dict[str, int]:
            return {c[2]: c[3] for c in await store.counts(1) if c[1] == "feedback"}

        for data in (up, up, up):
            await person.press(answer.message_id, data, replies=0)
        await eventually(lambda: len(fake_api.calls_to("answerCallbackQuery")) >= 3)
        await person.say("/help")  # updates are handled in order: once this is answered, the presses were too
        counts_after_ups = await feedback_counts()
        await person.press(answer.message_id, down, replies=0)
        await person.say("/help")
        counts_after_down = await feedback_counts()
        await person.say("/menu")  # the bot still answers afterwards; nothing was queued by the ratings
    assert len(fake_api.outgoing(CHAT)) == sent_before + 3, "ratings send no message (only the three /help and /menu do)"
    toasts = [c.params.get("text") for c in fake_api.calls_to("answerCallbackQuery")]
    assert toasts[-4:] == [bundle.texts["feedback_thanks"]] * 4
    assert counts_after_ups == {"recurrence-risk:up": 1}, "pressing three times counts once"
    assert counts_after_down == {"recurrence-risk:up": 0, "recurrence-risk:down": 1}, "a changed mind moves the count"


def test_stats_command_table_json_and_html(tmp_path: Path) -> None:
    db = tmp_path / "data" / "bot.sqlite3"

    async def prepare() -> None:
        store = await SqliteStore.open(db)
        await store.count([("session_started", ""), ("answer_shown", "cause"), ("answer_shown", "cause"),
                           ("outcome", "answer"), ("outcome", "clarify"), ("feedback", "cause:up")])
        await store.count([("answer_shown", "cause")], now=time.time() - 10 * DAY)
        await store.close()

    asyncio.run(prepare())
    env = {"BOT_DB_PATH": str(db), "PATH": "/usr/bin:/bin"}

    def stats(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "bot", "stats", *args], env=env, cwd=tmp_path,
                              capture_output=True, text=True, timeout=60)

    data = json.loads(stats("--days", "7", "--json").stdout)
    assert data["sessions_started"] == 1
    assert data["answers_shown"] == {"cause": 2}, "only the last 7 days"
    assert data["free_text_outcomes"] == {"answer": 1, "clarify": 1, "out_of_scope": 0, "emergency": 0, "greeting": 0}
    assert data["feedback"] == {"cause": {"up": 1, "down": 0}}
    assert "cause" not in data["never_reached"] and "what-is-nh" in data["never_reached"]
    assert json.loads(stats("--days", "30", "--json").stdout)["answers_shown"] == {"cause": 3}
    text = stats("--days", "7").stdout
    assert "Chats started: 1" in text and "What causes NH?" in text
    assert re.search(r"^\s+answer\s+1\s+50%$", text, re.MULTILINE) and re.search(r"^\s+clarify\s+1\s+50%$", text, re.MULTILINE)
    report = tmp_path / "report.html"
    assert stats("--html", str(report)).returncode == 0
    page = report.read_text()
    assert page.startswith("<!doctype html>") and "<svg" in page and "What causes NH?" in page
    assert "<script" not in page and "http" not in page.split("<body>")[1], "self-contained: no scripts or links"


# --- unmatched questions ---------------------------------------------------------------------------


def test_scrub_removes_obvious_personal_data() -> None:
    text = "Call 07700 900123 or +44 (0) 20 7946 0958, mail anna.b@example.co.uk, @anna_b, ref 12345678, see https://x.y/z"
    clean = scrub(text)
    for needle in ("07700", "7946", "example.co.uk", "@anna_b", "12345678", "https://"):
        assert needle not in clean, needle
    assert clean.startswith("Call <number> or <number>, mail <email>, <username>, ref <number>, see <link>")
    assert scrub("is it genetic at 14 weeks?") == "is it genetic at 14 weeks?"
    assert len(scrub("word " * 500)) <= 300


async def test_unmatched_questions_are_off_by_default(fake_api: FakeBotApi, settings: Settings) -> None:
    assert settings.log_unmatched is False
    async with running_bot(fake_api, settings):
        person = Person(fake_api, CHAT)
        await person.say("what's the weather tomorrow")
        await person.say("ivig")
    assert rows(settings.db_path, "SELECT COUNT(*) FROM unmatched") == [(0,)]


async def test_unmatched_questions_when_on_are_scrubbed_unlinked_and_expire(fake_api: FakeBotApi, settings: Settings) -> None:
    settings = dataclasses.replace(settings, log_unmatched=True)
    async with running_bot(fake_api, settings) as adapter:
        person = Person(fake_api, CHAT)
        await person.say("what's the weather tomorrow")
        await person.say("what's the weather tomorrow")
        await person.say("ivig")
        await person.say("my number is 07700 900123, what's the weather")
        await person.say("is it genetic?")  # answered: not kept
        store = adapter.service.store
        listed = await store.unmatched()
        assert [(t, o, n) for t, o, n, _ in listed][:1] == [("what's the weather tomorrow", "out_of_scope", 2)]
        assert {t for t, *_ in listed} == {"what's the weather tomorrow", "ivig", "my number is <number>, what's the weather"}
        assert rows(settings.db_path, "PRAGMA table_info(unmatched)") and "key" not in {
            c[1] for c in rows(settings.db_path, "PRAGMA table_info(unmatched)")}
        await store.purge(now=time.time() + 15 * DAY, unmatched_days=14)
        assert await store.unmatched() == []


def test_unmatched_command_lists_most_frequent_first(tmp_path: Path) -> None:
    db = tmp_path / "bot.sqlite3"

    async def prepare() -> None:
        store = await SqliteStore.open(db)
        for text, times in (("rare question", 1), ("common question", 3)):
            for _ in range(times):
                await store.log_unmatched(text, "clarify")
        await store.close()

    asyncio.run(prepare())
    env = {"BOT_DB_PATH": str(db), "BOT_LOG_UNMATCHED": "1", "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-m", "bot", "unmatched"], env=env, cwd=tmp_path,
                         capture_output=True, text=True, timeout=60).stdout.splitlines()
    assert "common question" in out[0] and out[0].split()[0] == "3"
    assert "rare question" in out[1]


# --- operator access ---------------------------------------------------------------------------------


async def test_stats_only_for_admins_in_private_chats(fake_api: FakeBotApi, settings: Settings, bundle: Bundle) -> None:
    async with running_bot(fake_api, settings, adapter_options={"admin_ids": frozenset({ADMIN})}):
        (refused,) = await Person(fake_api, CHAT).say("/stats")
        (figures,) = await Person(fake_api, ADMIN).say("/stats")
        await fake_api.send_text(-1001, "/stats", chat_type="supergroup")  # even an admin: not in a group
        await fake_api.wait_until(lambda: len(fake_api.outgoing(-1001)) >= 1)
    assert refused.text == bundle.texts["unknown_command"]
    assert figures.text.startswith("Usage in the last 7 day(s)") and "Chats started:" in figures.text
    assert fake_api.outgoing(-1001)[0].text == bundle.texts["group_chat"]
    assert str(ADMIN) not in b"".join(p.read_bytes() for p in settings.db_path.parent.iterdir()).decode("latin-1")


async def test_a_stale_rating_is_not_counted_or_thanked(fake_api: FakeBotApi, settings: Settings, bundle: Bundle) -> None:
    async with running_bot(fake_api, settings) as adapter:
        person = Person(fake_api, CHAT)
        (menu,) = await person.say("/start")
        (stale,) = await person.press(menu.message_id, "00000000|f|cause.u")
        counts = await adapter.service.store.counts(1)
    assert stale.text == bundle.texts["menu_changed"]
    assert fake_api.calls_to("answerCallbackQuery")[-1].params.get("text") is None
    assert not [c for c in counts if c[1] == "feedback"]
