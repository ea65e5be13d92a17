"""Settings: environment and .env, token checks, the generated secret, redaction in logs."""

from __future__ import annotations

import io
import logging
import stat
from pathlib import Path

import pytest

from bot.config import DEFAULT_API_BASE_URL, ConfigError, Settings
from bot.logs import RedactTokens, setup_logging
from tests.conftest import TOKEN


def test_defaults() -> None:
    settings = Settings.from_env({}, env_file=None)
    assert settings.token is None
    assert settings.api_base_url == DEFAULT_API_BASE_URL
    assert settings.db_path == Path("data/bot.sqlite3")
    assert settings.content_dir.name == "content" and settings.content_dir.is_dir()


def test_env_file_is_read_and_environment_wins(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text(f'TELEGRAM_BOT_TOKEN="{TOKEN}"\nBOT_DB_PATH=/from/file.sqlite3\nBOT_LOG_LEVEL=debug\n')
    settings = Settings.from_env({"BOT_DB_PATH": "/from/env.sqlite3"}, env_file=env_file)
    assert settings.token == TOKEN
    assert settings.db_path == Path("/from/env.sqlite3")
    assert settings.log_level == "DEBUG"


def test_token_never_appears_in_repr() -> None:
    settings = Settings(token=TOKEN, secret="s" * 40)
    assert TOKEN not in repr(settings) and "s" * 40 not in repr(settings)


@pytest.mark.parametrize("token", [None, "", "not-a-token", "123:short", "abc:" + "x" * 35, f"{TOKEN} extra"])
def test_missing_or_malformed_token_is_a_config_error(token: str | None) -> None:
    with pytest.raises(ConfigError) as info:
        Settings(token=token).require_token()
    if token:
        assert token not in str(info.value)


def test_base_url_must_not_contain_the_token() -> None:
    with pytest.raises(ConfigError):
        Settings(token=TOKEN, api_base_url=f"https://api.telegram.org/bot{TOKEN}").require_token()
    assert Settings(token=TOKEN, api_base_url="http://127.0.0.1:8081/bot").require_token() == TOKEN


def test_secret_is_generated_once_with_mode_0600(tmp_path: Path) -> None:
    settings = Settings(db_path=tmp_path / "data" / "bot.sqlite3")
    first = settings.session_secret()
    second = settings.session_secret()
    path = tmp_path / "data" / "bot.secret"
    assert first == second and len(first) >= 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_explicit_secret_wins_and_must_be_long_enough(tmp_path: Path) -> None:
    assert Settings(secret="x" * 20, db_path=tmp_path / "db").session_secret() == b"x" * 20
    assert not (tmp_path / "bot.secret").exists()
    with pytest.raises(ConfigError):
        Settings(secret="short", db_path=tmp_path / "db").session_secret()


def test_redaction_filter_hides_tokens_everywhere() -> None:
    stream = io.StringIO()
    setup_logging("DEBUG", TOKEN, stream=stream)
    log = logging.getLogger("httpx")
    log.warning("HTTP Request: POST https://api.telegram.org/bot%s/getUpdates", TOKEN)
    logging.getLogger("telegram.Bot").debug("Set Bot API URL: %s", f"http://x/bot{TOKEN}")
    other = "987654321:ZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZ"
    logging.getLogger("bot").info("another token-shaped string %s", other)
    try:
        raise RuntimeError(f"failed calling /bot{TOKEN}/sendMessage")
    except RuntimeError:
        logging.getLogger("bot").exception("boom")
    output = stream.getvalue()
    assert TOKEN not in output and other not in output
    assert output.count("<redacted>") >= 4
    logging.getLogger().handlers.clear()


def test_httpx_request_lines_are_silenced_at_info() -> None:
    stream = io.StringIO()
    setup_logging("DEBUG", stream=stream)
    assert logging.getLogger("httpx").level == logging.WARNING
    logging.getLogger("httpx").info("HTTP Request: POST https://api.telegram.org/bot123/getMe")
    assert "HTTP Request" not in stream.getvalue()
    logging.getLogger().handlers.clear()


def test_redact_keeps_ordinary_text() -> None:
    assert RedactTokens(TOKEN).redact("hello 12:30 world") == "hello 12:30 world"


def test_json_log_lines_are_valid_and_redacted() -> None:
    import json  # noqa: PLC0415

    stream = io.StringIO()
    setup_logging("INFO", TOKEN, stream=stream, fmt="json")
    logging.getLogger("bot").info("started with %s", f"https://api.telegram.org/bot{TOKEN}/getMe")
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("bot").exception("failed")
    logging.getLogger().handlers.clear()
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [entry["message"] for entry in lines] == ["started with https://api.telegram.org/bot<redacted>/getMe", "failed"]
    assert lines[1]["level"] == "ERROR" and "ValueError: boom" in lines[1]["exception"]
    assert TOKEN not in stream.getvalue()


def test_log_format_must_be_known() -> None:
    assert Settings.from_env({"BOT_LOG_FORMAT": "JSON"}, env_file=None).log_format == "json"
    with pytest.raises(ConfigError):
        Settings.from_env({"BOT_LOG_FORMAT": "xml"}, env_file=None)


def test_http_client_is_aiohttp_unless_httpx_is_asked_for() -> None:
    assert Settings.from_env({}, env_file=None).http_client == "aiohttp"
    assert Settings.from_env({"BOT_HTTP": "HTTPX"}, env_file=None).http_client == "httpx"
    with pytest.raises(ConfigError, match="BOT_HTTP"):
        Settings.from_env({"BOT_HTTP": "requests"}, env_file=None)


def test_webhook_limits_default_to_200_connections_and_10_seconds_and_can_be_set() -> None:
    assert (Settings.from_env({}, env_file=None).webhook_max_connections, Settings().webhook_timeout) == (200, 10)
    settings = Settings.from_env({"BOT_WEBHOOK_MAX_CONNECTIONS": "50", "BOT_WEBHOOK_TIMEOUT": "3"}, env_file=None)
    assert (settings.webhook_max_connections, settings.webhook_timeout) == (50, 3)
    with pytest.raises(ConfigError, match="BOT_WEBHOOK_TIMEOUT"):
        Settings.from_env({"BOT_WEBHOOK_TIMEOUT": "0"}, env_file=None)
