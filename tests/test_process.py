"""The command line as an operator runs it: `python -m bot run|chat|validate` in a real process."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from bot.content.bundle import Bundle
from tests.conftest import TOKEN, VECTOR_CACHE, Person
from tests.fake_bot_api import FakeBotApi


def clean_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "BOT_"))}
    env.update(BOT_DB_PATH=str(tmp_path / "data" / "bot.sqlite3"), BOT_CACHE_DIR=str(VECTOR_CACHE), **extra)
    return env


def run_cli(tmp_path: Path, *args: str, stdin: str | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args], input=stdin, capture_output=True, text=True,
        env=clean_env(tmp_path, **env), cwd=tmp_path, timeout=60,
    )


@pytest.mark.parametrize("token", [None, "", "12345", "not a token at all"])
def test_run_without_a_valid_token_exits_2_with_one_line(tmp_path: Path, token: str | None) -> None:
    env = {} if token is None else {"TELEGRAM_BOT_TOKEN": token}
    result = run_cli(tmp_path, "run", **env)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("configuration error: TELEGRAM_BOT_TOKEN")
    assert "Traceback" not in result.stderr
    if token:
        assert token not in result.stderr


@pytest.mark.parametrize("command", [[], ["run"], ["chat"], ["validate"]])
def test_help_for_every_command(tmp_path: Path, command: list[str]) -> None:
    result = run_cli(tmp_path, *command, "--help")
    assert result.returncode == 0
    assert "usage: python -m bot" in result.stdout


def test_terminal_chat_with_piped_input(tmp_path: Path, bundle: Bundle) -> None:
    script = "\n".join([
        "1",  # What is NH?
        "1",  # What is NH? (the answer)
        "is it genetic??",
        "my baby is not breathing",
        "7",  # from the menu after the emergency: Support
        "2",  # Groups in the United Kingdom
        "/privacy",
        "/forget",
    ]) + "\n"
    result = run_cli(tmp_path, "chat", stdin=script)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith("\nHello. I answer common questions")
    assert "What is neonatal hemochromatosis (NH)?" in out
    assert "Is NH genetic or inherited?" in out
    assert out.index("🚨 If your baby or child is very unwell right now") < out.index("Groups in the United Kingdom")
    assert "Children's Liver Disease Foundation" in out
    assert out.count("ℹ️ This is general information") == 3  # two answers and the organisation list
    assert "Done. I have deleted everything" in out
    assert out.rstrip().endswith("Goodbye. Take care.")
    assert result.stderr == ""


def test_terminal_chat_a_number_that_is_not_on_screen_is_not_a_question(tmp_path: Path) -> None:
    result = run_cli(tmp_path, "chat", stdin="42\n3\n")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "There is no button 42. Type a number from 1 to 8, or a question." in out
    assert "About genes and families" in out, "the next valid number still presses its button"
    assert "I can only answer questions about" not in out, "42 was not read as a question"


def test_terminal_chat_ends_cleanly_on_empty_input(tmp_path: Path) -> None:
    result = run_cli(tmp_path, "chat", stdin="")
    assert result.returncode == 0
    assert "Goodbye" in result.stdout


def test_terminal_chat_keeps_state_in_the_same_database(tmp_path: Path) -> None:
    run_cli(tmp_path, "chat", stdin="1\n")
    import sqlite3  # noqa: PLC0415

    with sqlite3.connect(tmp_path / "data" / "bot.sqlite3") as db:
        (node,) = db.execute("SELECT node FROM sessions").fetchone()
    assert node == "topic-overview"


def test_make_run_without_token_starts_the_terminal_chat(tmp_path: Path) -> None:
    result = run_cli(tmp_path, stdin="/quit\n")
    assert result.returncode == 0
    assert "Choose a topic below" in result.stdout


@pytest.mark.parametrize(("level", "stop"), [("DEBUG", signal.SIGINT), ("INFO", signal.SIGTERM)])
async def test_run_against_a_fake_bot_api_and_stop_cleanly(
    tmp_path: Path, fake_api: FakeBotApi, bundle: Bundle, level: str, stop: signal.Signals
) -> None:
    chat_id = 731904286
    env = clean_env(tmp_path, TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_API_BASE_URL=fake_api.base_url, BOT_LOG_LEVEL=level)
    log_path = tmp_path / "bot.log"
    with log_path.open("wb") as log_file:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "run", env=env, cwd=tmp_path, stdout=log_file, stderr=subprocess.STDOUT
        )
        try:
            await fake_api.wait_until(lambda: bool(fake_api.calls_to("setMyCommands")), timeout=30)
            person = Person(fake_api, chat_id, name="Bartholomew", username="bart_holo")
            (welcome,) = await person.say("/start")
            (topic,) = await person.tap("What causes it?", on=welcome)
            (answer,) = await person.tap("Was it something I did?", on=topic)
            await person.say("i ate spinach while pregnant, was that bad")
            assert answer.text.endswith(bundle.texts["disclaimer"])
        finally:
            process.send_signal(stop)
            code = await asyncio.wait_for(process.wait(), timeout=15)
    assert code == 0
    logs = log_path.read_text()
    assert "starting long polling" in logs and "stopped" in logs
    assert TOKEN not in logs and TOKEN.split(":")[1] not in logs
    if level == "INFO":
        for needle in (str(chat_id), "Bartholomew", "bart_holo", "spinach"):
            assert needle not in logs, needle


@pytest.mark.parametrize("watch", [False, True], ids=["sighup", "file-watch"])
async def test_reload_puts_valid_content_live_and_keeps_the_old_on_errors(
    tmp_path: Path, fake_api: FakeBotApi, bundle: Bundle, watch: bool
) -> None:
    import shutil  # noqa: PLC0415

    from tests.conftest import CONTENT, FLOWS  # noqa: PLC0415

    content, flows = tmp_path / "content", tmp_path / "flows"
    shutil.copytree(CONTENT, content)
    shutil.copytree(FLOWS, flows)
    env = clean_env(tmp_path, TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_API_BASE_URL=fake_api.base_url,
                    BOT_CONTENT_DIR=str(content), BOT_FLOWS_DIR=str(flows), BOT_LOG_FORMAT="json",
                    BOT_RELOAD_WATCH="1" if watch else "0")
    log_path = tmp_path / "bot.log"
    texts = content / "texts.yaml"
    with log_path.open("wb") as log_file:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "run", env=env, cwd=tmp_path, stdout=log_file, stderr=subprocess.STDOUT)
        try:
            await fake_api.wait_until(lambda: bool(fake_api.calls_to("setMyCommands")), timeout=30)
            person = Person(fake_api, 4242)
            (before,) = await person.say("/start")
            texts.write_text(texts.read_text().replace("Hello. I answer", "Welcome. I answer"))
            if not watch:
                process.send_signal(signal.SIGHUP)
            for _ in range(100):
                if "content reloaded" in log_path.read_text():
                    break
                await asyncio.sleep(0.1)
            (after,) = await person.say("/start")
            (stale,) = await person.tap("What causes it?", on=before)
            texts.write_text("texts: [this is: not valid")
            if not watch:
                process.send_signal(signal.SIGHUP)
            for _ in range(100):
                if "content reload failed" in log_path.read_text():
                    break
                await asyncio.sleep(0.1)
            (still,) = await person.say("/start")
        finally:
            process.send_signal(signal.SIGTERM)
            code = await asyncio.wait_for(process.wait(), timeout=15)
    assert code == 0
    assert before.text.startswith("Hello. I answer") and after.text.startswith("Welcome. I answer")
    assert stale.text == bundle.texts["menu_changed"], "buttons from the old content lead to the main menu"
    assert still.text.startswith("Welcome. I answer"), "invalid content does not replace the live content"
    lines = [json.loads(line) for line in log_path.read_text().splitlines() if line.startswith("{")]
    assert any("texts.yaml:1: YAML syntax error" in e["message"] for e in lines)
    assert any(e["message"].startswith("content reload failed") for e in lines)


async def test_webhook_mode_with_secret_token_and_health(tmp_path: Path, fake_api: FakeBotApi, bundle: Bundle) -> None:
    import socket  # noqa: PLC0415

    from aiohttp import ClientSession  # noqa: PLC0415

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/telegram-hook"
    env = clean_env(tmp_path, TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_API_BASE_URL=fake_api.base_url, BOT_WEBHOOK_URL=url,
                    BOT_LISTEN="127.0.0.1", BOT_PORT=str(port), BOT_WEBHOOK_SECRET="s3cret-token_value")
    update = {"update_id": 1, "message": {"message_id": 5, "date": 0, "text": "/start cause",
                                          "chat": {"id": 5151, "type": "private", "first_name": "A"},
                                          "from": {"id": 5151, "is_bot": False, "first_name": "A"},
                                          "entities": [{"type": "bot_command", "offset": 0, "length": 6}]}}
    with (tmp_path / "bot.log").open("wb") as log_file:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "run", env=env, cwd=tmp_path, stdout=log_file, stderr=subprocess.STDOUT)
        try:
            await fake_api.wait_until(lambda: bool(fake_api.calls_to("setWebhook")), timeout=30)
            (registered,) = fake_api.calls_to("setWebhook")
            assert registered.params["url"] == url and registered.params["secret_token"] == "s3cret-token_value"
            async with ClientSession() as http:
                for _ in range(50):
                    try:
                        async with http.get(f"http://127.0.0.1:{port}/healthz") as response:
                            health = (response.status, await response.json())
                        break
                    except OSError:
                        await asyncio.sleep(0.1)
                for headers in ({}, {"X-Telegram-Bot-Api-Secret-Token": "wrong"}):
                    async with http.post(url, json=update, headers=headers) as response:
                        assert response.status == 403
                async with http.post(url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "s3cret-token_value"}) as response:
                    assert response.status == 200
                    # Telegram counts the update delivered on this 200, so the reply must already be out.
                    assert len(fake_api.outgoing(5151)) == 1, "handled before the webhook request was answered"
            checked = await asyncio.create_subprocess_exec(sys.executable, "-m", "bot", "health", env=env, cwd=tmp_path,
                                                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            health_output, _ = await checked.communicate()
        finally:
            process.send_signal(signal.SIGTERM)
            code = await asyncio.wait_for(process.wait(), timeout=15)
    assert code == 0
    assert health == (200, {"status": "ok", "content_version": bundle.version})
    assert checked.returncode == 0 and bundle.version in health_output.decode()
    assert fake_api.outgoing(5151)[0].text.startswith("What causes NH?")
    assert len(fake_api.outgoing(5151)) == 1, "the refused posts were not handled"
    assert fake_api.polls == 0, "webhook mode never polls"
    assert "webhook mode: listening" in (tmp_path / "bot.log").read_text()


async def test_kill_9_mid_load_loses_no_update_and_keeps_sessions(tmp_path: Path, fake_api: FakeBotApi, bundle: Bundle) -> None:
    from tests.scenarios import replies_by_chat, script  # noqa: PLC0415

    chats, updates = 30, 600
    expected = await script(fake_api, bundle, chats, updates)
    env = clean_env(tmp_path, TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_API_BASE_URL=fake_api.base_url, BOT_RATE_LIMIT="off")

    def answered() -> int:
        return sum(map(len, replies_by_chat(fake_api).values()))

    def replayed(got: list[str], want: list[str]) -> int | None:
        """How many replies were repeated, if `got` is `want` with one stretch repeated at the crash; else None."""
        for repeat in range(len(got) - len(want) + 1):
            for cut in range(repeat, len(want) + 1):
                if got == want[:cut] + want[cut - repeat:]:
                    return repeat
        return None

    def complete() -> bool:
        """Every chat has every expected reply, in order, with at most a repeat where the crash hit."""
        got = replies_by_chat(fake_api)
        return all(replayed(got.get(chat, []), questions) is not None for chat, questions in expected.items())

    async def start() -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(sys.executable, "-m", "bot", "run", env=env, cwd=tmp_path,
                                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    first = await start()
    await fake_api.wait_until(lambda: answered() >= updates // 3, timeout=60)
    first.kill()  # SIGKILL: no chance to finish or confirm anything
    await first.wait()
    at_crash = answered()
    second = await start()
    try:
        await fake_api.wait_until(complete, timeout=120)
    finally:
        second.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(second.wait(), timeout=15) == 0
    assert at_crash < updates, "the crash really happened mid-load"
    assert complete(), "an update was lost or reordered"
    # Chats run concurrently, one update at a time each: what a chat can see twice is the update it had
    # in flight at the crash, or one finished just before its progress was written.
    got = replies_by_chat(fake_api)
    repeats = {chat: replayed(got[chat], questions) for chat, questions in expected.items()}
    assert max(repeats.values()) <= 2, repeats
    assert answered() - updates == sum(repeats.values()) <= 2 * chats
    import sqlite3  # noqa: PLC0415

    with sqlite3.connect(tmp_path / "data" / "bot.sqlite3") as db:
        assert db.execute("SELECT COUNT(*) FROM sessions").fetchone() == (chats,), "sessions intact"
