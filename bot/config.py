"""Settings from environment variables (and an optional `.env` file)."""

from __future__ import annotations

import os
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from dotenv import dotenv_values

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_API_BASE_URL = "https://api.telegram.org/bot"
# A bot token is "<digits>:<35 characters>"; we accept a little variation in length.
TOKEN_PATTERN = re.compile(r"^\d{3,20}:[A-Za-z0-9_-]{30,60}$")
SECRET_FILE_NAME = "bot.secret"


class ConfigError(Exception):
    """A setting is missing or malformed; the message is safe to print (no secrets)."""


@dataclass(frozen=True)
class Settings:
    token: str | None = field(default=None, repr=False)
    api_base_url: str = DEFAULT_API_BASE_URL
    db_path: Path = Path("data/bot.sqlite3")
    secret: str | None = field(default=None, repr=False)
    content_dir: Path = REPO_ROOT / "content"
    flows_dir: Path = REPO_ROOT / "flows"
    log_level: str = "INFO"
    session_ttl_days: int = 30
    log_unmatched: bool = False
    unmatched_retention_days: int = 14
    admin_ids: frozenset[int] = field(default=frozenset(), repr=False)
    rate_limit: bool = True
    log_format: str = "text"
    webhook_url: str | None = None
    listen: str = "0.0.0.0"  # noqa: S104 - a container listens on all interfaces; set BOT_LISTEN to narrow it
    port: int = 8080
    webhook_secret: str | None = field(default=None, repr=False)
    webhook_max_connections: int = 200  # open connections to the webhook server at once
    webhook_timeout: float = 10.0  # seconds a client has to send a whole request (also the keep-alive)
    reload_watch: bool = False
    http_client: str = "aiohttp"
    cache_dir: Path | None = None  # example vectors per content version; None: beside the database
    secret_file: Path | None = None  # where a generated BOT_SECRET is kept; None: bot.secret beside the database
    db_busy_timeout_ms: int = 500  # how long one statement waits for another process's lock
    db_start_wait_seconds: int = 60  # how long start-up waits for a database it cannot open, then exits 1

    @property
    def vector_cache_dir(self) -> Path:
        return self.cache_dir or self.db_path.parent / "cache"

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, env_file: Path | None = Path(".env")) -> Settings:
        values: dict[str, str] = {}
        if env_file is not None and env_file.is_file():
            values.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
        values.update(os.environ if environ is None else environ)  # real environment wins

        def get(name: str) -> str | None:
            value = values.get(name, "").strip()
            return value or None

        return cls(
            token=get("TELEGRAM_BOT_TOKEN"),
            api_base_url=(get("TELEGRAM_API_BASE_URL") or DEFAULT_API_BASE_URL).rstrip("/"),
            db_path=Path(get("BOT_DB_PATH") or "data/bot.sqlite3"),
            secret=get("BOT_SECRET"),
            content_dir=Path(get("BOT_CONTENT_DIR") or REPO_ROOT / "content"),
            flows_dir=Path(get("BOT_FLOWS_DIR") or REPO_ROOT / "flows"),
            log_level=(get("BOT_LOG_LEVEL") or "INFO").upper(),
            session_ttl_days=_positive_int("BOT_SESSION_TTL_DAYS", get("BOT_SESSION_TTL_DAYS"), 30),
            log_unmatched=(get("BOT_LOG_UNMATCHED") or "0").lower() in {"1", "true", "yes", "on"},
            unmatched_retention_days=_positive_int("BOT_UNMATCHED_RETENTION_DAYS", get("BOT_UNMATCHED_RETENTION_DAYS"), 14),
            admin_ids=_ids("BOT_ADMIN_IDS", get("BOT_ADMIN_IDS")),
            rate_limit=(get("BOT_RATE_LIMIT") or "on").lower() not in {"off", "0", "false", "no"},
            log_format=_choice("BOT_LOG_FORMAT", get("BOT_LOG_FORMAT"), ("text", "json")),
            webhook_url=get("BOT_WEBHOOK_URL"),
            listen=get("BOT_LISTEN") or "0.0.0.0",  # noqa: S104
            port=_positive_int("BOT_PORT", get("BOT_PORT"), 8080),
            webhook_secret=get("BOT_WEBHOOK_SECRET"),
            webhook_max_connections=_positive_int("BOT_WEBHOOK_MAX_CONNECTIONS", get("BOT_WEBHOOK_MAX_CONNECTIONS"), 200,
                                                  "connections"),
            webhook_timeout=_positive_int("BOT_WEBHOOK_TIMEOUT", get("BOT_WEBHOOK_TIMEOUT"), 10, "seconds"),
            reload_watch=(get("BOT_RELOAD_WATCH") or "0").lower() in {"1", "true", "yes", "on"},
            http_client=_choice("BOT_HTTP", get("BOT_HTTP"), ("aiohttp", "httpx")),
            cache_dir=Path(cache) if (cache := get("BOT_CACHE_DIR")) else None,
            secret_file=Path(secret_file) if (secret_file := get("BOT_SECRET_FILE")) else None,
            db_busy_timeout_ms=_positive_int("BOT_DB_BUSY_TIMEOUT_MS", get("BOT_DB_BUSY_TIMEOUT_MS"), 500, "milliseconds"),
            db_start_wait_seconds=_positive_int("BOT_DB_START_WAIT_SECONDS", get("BOT_DB_START_WAIT_SECONDS"), 60,
                                                "seconds"),
        )

    def require_token(self) -> str:
        if not self.token:
            raise ConfigError("TELEGRAM_BOT_TOKEN is not set: get a token from @BotFather and set it in the environment or .env")
        if not TOKEN_PATTERN.match(self.token):
            raise ConfigError("TELEGRAM_BOT_TOKEN is malformed: expected '<digits>:<letters, digits, _ or ->' as @BotFather gives it")
        if not re.match(r"^https?://[^\s]+$", self.api_base_url) or self.token in self.api_base_url:
            raise ConfigError("TELEGRAM_API_BASE_URL must be an http(s) URL ending before the token, e.g. https://api.telegram.org/bot")
        return self.token

    def webhook_secret_token(self) -> str:
        """BOT_WEBHOOK_SECRET, or a fresh one: Telegram allows 1-256 of A-Z a-z 0-9 _ -."""
        if self.webhook_secret:
            if not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", self.webhook_secret):
                raise ConfigError("BOT_WEBHOOK_SECRET may only hold A-Z, a-z, 0-9, _ and - (1 to 256 characters)")
            return self.webhook_secret
        return secrets.token_urlsafe(32)

    def session_secret(self) -> bytes:
        """BOT_SECRET, or a secret generated once and kept in BOT_SECRET_FILE, by default beside the
        database (mode 0600). The environment is better: a copy of the volume then does not hold both."""
        if self.secret:
            if len(self.secret) < 16:
                raise ConfigError("BOT_SECRET must be at least 16 characters")
            return self.secret.encode()
        path = self.secret_file or self.db_path.parent / SECRET_FILE_NAME
        if path.exists():
            value = path.read_text(encoding="utf-8").strip()
            if len(value) >= 16:
                return value.encode()
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        value = secrets.token_hex(32)
        # Create with 0600 from the start, so the secret is never readable by others.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(value + "\n")
        os.chmod(path, 0o600)
        return value.encode()


def _positive_int(name: str, value: str | None, default: int, unit: str = "days") -> int:
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number of {unit}, not {value!r}") from None
    if number < 1:
        raise ConfigError(f"{name} must be at least 1")
    return number


def _ids(name: str, value: str | None) -> frozenset[int]:
    """Telegram user ids, comma-separated. Kept in memory only, never stored."""
    if not value:
        return frozenset()
    try:
        return frozenset(int(part) for part in value.replace(" ", "").split(",") if part)
    except ValueError:
        raise ConfigError(f"{name} must be comma-separated numeric Telegram user ids") from None


def _choice(name: str, value: str | None, choices: tuple[str, ...]) -> str:
    if value is None:
        return choices[0]
    if value.lower() not in choices:
        raise ConfigError(f"{name} must be one of: {', '.join(choices)}")
    return value.lower()
