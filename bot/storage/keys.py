"""Session keys: a keyed hash of the chat id, so the database never holds the id.

HMAC-SHA256 with a secret kept outside the database: without the secret, a key
cannot be linked back to a chat id, not even by hashing every possible id.
"""

from __future__ import annotations

import hashlib
import hmac


class SessionKeyer:
    def __init__(self, secret: bytes) -> None:
        if len(secret) < 16:
            raise ValueError("the session secret must be at least 16 bytes")
        self._secret = secret

    def __repr__(self) -> str:
        return "SessionKeyer(secret=<redacted>)"

    def key(self, channel: str, chat_id: int | str) -> str:
        message = f"{channel}:{chat_id}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()
