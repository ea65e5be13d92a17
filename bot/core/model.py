"""The data the engine takes and returns. Plain, frozen, JSON-friendly."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

MAX_BACK_STACK = 10


@dataclass(frozen=True)
class SessionState:
    """Where one anonymous conversation is. Nothing here identifies a person."""

    node: str
    back: tuple[str, ...] = ()
    language: str = "en"


# --- What a person did -------------------------------------------------------


@dataclass(frozen=True)
class Start:
    """/start, optionally with a deep-link payload naming a topic, answer or menu."""

    payload: str | None = None


@dataclass(frozen=True)
class Command:
    """Any other slash command, name without the slash (may be unknown)."""

    name: str


@dataclass(frozen=True)
class Press:
    """A button press, carrying the raw (untrusted) callback data."""

    data: str


@dataclass(frozen=True)
class Text:
    text: str


@dataclass(frozen=True)
class NonText:
    """A sticker, photo, voice note, location...: something we cannot read."""

    kind: str


@dataclass(frozen=True)
class GroupMention:
    """Someone addressed the bot in a group chat, where answers would be public.

    `text` is what they wrote: an emergency there still gets urgent help in the group."""

    text: str = ""


Event = Start | Command | Press | Text | NonText | GroupMention


# --- What the bot shows ------------------------------------------------------


@dataclass(frozen=True)
class Button:
    label: str
    data: str


ReplyKind = Literal["answer", "menu", "note", "urgent", "group"]


@dataclass(frozen=True)
class Reply:
    """One message. `text` is plain text; adapters escape and format it."""

    text: str
    kind: ReplyKind
    title: str | None = None
    buttons: tuple[tuple[Button, ...], ...] = ()
    answer_id: str | None = None


Outcome = Literal[
    "start", "navigate", "answer", "clarify", "out_of_scope", "emergency", "greeting",
    "stale", "command", "unknown_command", "non_text", "forget", "group", "not_understood", "feedback",
]


@dataclass(frozen=True)
class StepResult:
    """The engine's answer to one event.

    `state` is None when nothing should be stored (a forgotten or group session).
    `forget` asks the caller to delete everything stored for this session.
    """

    state: SessionState | None
    replies: tuple[Reply, ...]
    outcome: Outcome
    forget: bool = False
    verdict: object | None = None  # the Understanding's Verdict, for typed messages
    feedback: tuple[str, str] | None = None  # (answer id, "up" | "down") to record
    toast: str | None = None  # a short acknowledgement shown without a new message
