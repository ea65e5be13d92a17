"""Button callback data: short, versioned, and treated as untrusted input.

Format: `<content version>|<op>|<argument>`, ASCII only, at most 64 bytes as
Telegram requires. The op letter is upper case on buttons that sit on a menu
message, so the adapter knows it may edit that message in place instead of
sending a new one (answers are never overwritten: they stay readable). The version ties a button to the content it was made from, so
a press after a content change (or a forged press) is recognised as stale.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_CALLBACK_BYTES = 64
SEP = "|"

GOTO = "g"  # open a node (menu or answer)
BACK = "b"
MAIN = "m"
SOURCES = "s"  # show the sources of an answer
FEEDBACK = "f"  # rate an answer: argument "<answer id>.u" or "<answer id>.d"
OPS = frozenset({GOTO, BACK, MAIN, SOURCES, FEEDBACK})


@dataclass(frozen=True)
class Callback:
    version: str
    op: str
    arg: str = ""
    from_menu: bool = False


def encode(version: str, op: str, arg: str = "", from_menu: bool = False) -> str:
    data = SEP.join((version, op.upper() if from_menu else op, arg))
    if len(data.encode("utf-8")) > MAX_CALLBACK_BYTES:
        raise ValueError(f"callback data over {MAX_CALLBACK_BYTES} bytes: {data!r}")
    return data


def decode(data: str) -> Callback | None:
    """Parse callback data; None for anything malformed or oversized."""
    if not data or len(data.encode("utf-8", "replace")) > MAX_CALLBACK_BYTES:
        return None
    parts = data.split(SEP)
    if len(parts) != 3 or parts[1].lower() not in OPS:
        return None
    version, op, arg = parts
    return Callback(version, op.lower(), arg, from_menu=op.isupper())
