"""Logging that never shows the bot token.

httpx logs every request URL at INFO, and the Bot API puts the token in the URL
path; python-telegram-bot logs the base URL (with the token) at DEBUG. We silence
httpx below WARNING and, as a second line of defence, redact any token-shaped
string from every record before it is written.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import sys

_TOKEN_SHAPE = re.compile(r"\d{3,20}:[A-Za-z0-9_-]{30,60}")


class RedactTokens(logging.Filter):
    def __init__(self, *secrets: str | None) -> None:
        super().__init__()
        self._secrets = [s for s in secrets if s]

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "<redacted>")
        return _TOKEN_SHAPE.sub("<redacted>", text)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = self.redact(message)
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if clean != message or record.args:
            record.msg, record.args = clean, None
        return True


class JsonLines(logging.Formatter):
    """One JSON object per line, for log collectors (BOT_LOG_FORMAT=json)."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False)


def setup_logging(level: str = "INFO", *secrets: str | None, stream=sys.stderr, fmt: str = "text") -> None:  # noqa: ANN001
    handler = logging.StreamHandler(stream)
    if fmt == "json":
        handler.setFormatter(JsonLines())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactTokens(*secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(getattr(logging, level.upper(), logging.INFO))
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
