"""Folding typed text to a comparable form, in any script. Pure.

Latin letters lose their accents ("está" -> "esta"), because people type with and
without them. Every other script is kept as it is written: Arabic, Cyrillic,
Devanagari, Hebrew and CJK must never fold to an empty string. Letters that do not
decompose (ß, œ, æ, ø, ł, ...) become their usual ASCII spelling, so they are not lost.
"""

from __future__ import annotations

import re
import unicodedata

# Read at most this much of a message: long rambles add little, and it bounds the work.
MAX_FOLD_CHARS = 2400

# Letters with no combining accent to drop, spelt as people type them without the key.
_LATIN_SPECIALS = str.maketrans({"œ": "oe", "æ": "ae", "ø": "o", "ł": "l", "đ": "d", "ð": "d", "þ": "th",
                                 "ı": "i", "ħ": "h", "ŀ": "l", "ſ": "s", "ё": "е"})
_APOSTROPHES = re.compile(r"['’ʼ`´]")
# Emoji glue: variation selectors, zero-width joiner, keycap. Marks, but part of no word.
_EMOJI_GLUE = re.compile("[\ufe00-\ufe0f\u200d\u20e3\U000e0020-\U000e007f]")


def _is_latin(char: str) -> bool:
    return char < "\u0250" or "\u1e00" <= char <= "\u1eff"


def _word_char(char: str) -> bool:
    # Letters, digits and the marks that are part of letters in Devanagari, Thai, ... stay.
    return unicodedata.category(char)[0] in "LNM"


def fold(text: str) -> str:
    """Lower case; accents off Latin letters; apostrophes dropped; punctuation and emoji to spaces."""
    text = unicodedata.normalize("NFKC", text[:MAX_FOLD_CHARS]).casefold().translate(_LATIN_SPECIALS)
    text = _EMOJI_GLUE.sub(" ", _APOSTROPHES.sub("", text))
    out: list[str] = []
    for char in text:
        if char.isascii():
            out.append(char if char.isalnum() else " ")
        elif _is_latin(char):
            base = unicodedata.normalize("NFD", char)
            out.append("".join(c for c in base if not unicodedata.combining(c)) if char.isalpha() else " ")
        elif _word_char(char):
            # Arabic and Hebrew vowel marks are optional in writing: drop them, like accents.
            if not (unicodedata.combining(char) and script_of(char) in {"arabic", "hebrew"}):
                out.append(char)
        else:
            out.append(" ")
    return " ".join("".join(out).split())


# Scripts by the first code point of their block; enough to tell what a message is written in.
_SCRIPTS = (
    ("\u0370", "greek"), ("\u0400", "cyrillic"), ("\u0530", "armenian"), ("\u0590", "hebrew"),
    ("\u0600", "arabic"), ("\u0700", "syriac"), ("\u0780", "thaana"), ("\u0900", "devanagari"),
    ("\u0980", "bengali"), ("\u0a00", "gurmukhi"), ("\u0a80", "gujarati"), ("\u0b00", "oriya"),
    ("\u0b80", "tamil"), ("\u0c00", "telugu"), ("\u0c80", "kannada"), ("\u0d00", "malayalam"),
    ("\u0d80", "sinhala"), ("\u0e00", "thai"), ("\u0e80", "lao"), ("\u0f00", "tibetan"),
    ("\u1000", "myanmar"), ("\u10a0", "georgian"), ("\u1100", "hangul"), ("\u1200", "ethiopic"),
    ("\u13a0", "other"), ("\u1780", "khmer"), ("\u1800", "other"), ("\u1e00", "latin"), ("\u1f00", "greek"),
    ("\u2000", "other"), ("\u3040", "kana"), ("\u3100", "other"), ("\u3400", "han"), ("\ua000", "other"),
    ("\uac00", "hangul"), ("\ud7b0", "other"), ("\uf900", "han"), ("\ufb00", "other"), ("\ufb50", "arabic"),
    ("\ufe00", "other"), ("\ufe70", "arabic"), ("\uff00", "other"),
)


def script_of(char: str) -> str:
    if char < "\u0250":
        return "latin"
    found = "other"
    for start, name in _SCRIPTS:
        if char < start:
            break
        found = name
    return found


def scripts(text: str) -> dict[str, int]:
    """How many letters of each script a text has (digits, marks and punctuation not counted)."""
    counts: dict[str, int] = {}
    for char in text[:MAX_FOLD_CHARS]:
        if char.isalpha():
            name = script_of(char)
            counts[name] = counts.get(name, 0) + 1
    return counts


def word_count(text: str) -> int:
    """Words in a text; in Chinese, Japanese and Thai, written without spaces, about two letters a word."""
    count = 0
    for word in text.split():
        unspaced = sum(1 for c in word if script_of(c) in {"han", "kana", "thai"})
        count += max(1, (unspaced + 1) // 2) if unspaced else 1
    return count


_WORD = re.compile(r"\w")
# Where a word can begin: not after a letter or digit (a word's start, or after a space or a mark).
_STARTS = re.compile(r"(?<!\w)(?=\S)")
UNSPACED_SCRIPTS = frozenset({"han", "kana", "thai"})


class WordList:
    """Folded words and word beginnings, each with a tag, found in folded text.

    A word matches at the start of a word (whole words only when it is `short` letters or fewer: a
    short stem like "blu" would start other languages' words), or anywhere in scripts written
    without spaces (Chinese, Japanese, Thai). One regular expression with thousands of alternatives
    took about 45 µs a message; looking words up by the two letters they start with takes about 10."""

    def __init__(self, tagged: list[tuple[str, str]], short: int) -> None:
        self._by_head: dict[str, list[tuple[str, bool, str]]] = {}
        self._unspaced: list[tuple[str, str]] = []
        for word, tag in tagged:
            if not word:
                continue
            if scripts(word).keys() & UNSPACED_SCRIPTS:
                self._unspaced.append((word, tag))
            else:
                self._by_head.setdefault(word[:2], []).append((word, len(word) <= short, tag))
        self._single_heads = any(len(head) == 1 for head in self._by_head)
        for candidates in self._by_head.values():
            candidates.sort(key=lambda c: -len(c[0]))  # the longest word at a place is the one named
        self._unspaced.sort(key=lambda c: -len(c[0]))
        self._unspaced_chars = frozenset(c for word, _ in self._unspaced for c in word)

    def find(self, text: str) -> list[tuple[str, str]]:
        """Every (word, tag) found, in the order of where they start."""
        found: list[tuple[int, str, str]] = []
        by_head = self._by_head
        for start in _STARTS.finditer(text):
            i = start.start()
            candidates = by_head.get(text[i:i + 2], [])
            if self._single_heads:
                candidates = candidates + by_head.get(text[i], [])
            for word, whole, tag in candidates:
                end = i + len(word)
                if text.startswith(word, i) and not (whole and end < len(text) and _WORD.match(text, end)):
                    found.append((i, word, tag))
        if self._unspaced and not self._unspaced_chars.isdisjoint(text):
            for word, tag in self._unspaced:
                at = text.find(word)
                if at >= 0:
                    found.append((at, word, tag))
        found.sort(key=lambda f: (f[0], -len(f[1])))
        return [(word, tag) for _, word, tag in found]
