"""Removing obvious personal data from a question's text before it is kept.

Used only when an operator has turned on the keeping of unanswered questions
(BOT_LOG_UNMATCHED). It removes what can be recognised by shape: e-mail
addresses, phone numbers, long runs of digits, @usernames and links. It cannot
recognise a name typed in plain words; the retention limit bounds that risk.
"""

from __future__ import annotations

import re

MAX_KEPT_CHARS = 300

_PATTERNS = (
    (re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+"), "<email>"),
    (re.compile(r"https?://\S+|www\.\S+"), "<link>"),
    (re.compile(r"(?<![\w@])@\w{3,}"), "<username>"),
    (re.compile(r"\+?\d[\d\s().-]{6,}\d"), "<number>"),
    (re.compile(r"\d{5,}"), "<number>"),
)


def scrub(text: str) -> str:
    text = " ".join(text.split())[: MAX_KEPT_CHARS * 2]
    for pattern, placeholder in _PATTERNS:
        text = pattern.sub(placeholder, text)
    return text[:MAX_KEPT_CHARS]
