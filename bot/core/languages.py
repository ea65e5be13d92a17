"""Which language a message is written in, learnt from the example files. Pure.

A naive Bayes model over character n-grams (one to three letters, at word edges too),
trained on the editors' example messages of each language: a new language file
teaches it a new language. Letters keep their accents here ("está", "não"), because
accents tell Spanish from Portuguese. Short messages ("hi", "menu", an emoji) carry
too little to tell: those get None, and the caller decides.
"""

from __future__ import annotations

import math
import unicodedata
from collections import Counter
from collections.abc import Iterable

MIN_LETTERS = 8  # fewer letters than this, and no language is named
MIN_LEAD = 2.0  # how much more likely (natural log) the best language must be than the next
SMOOTHING = 0.5
MAX_CHARS = 600


def _grams(text: str) -> Iterable[str]:
    text = unicodedata.normalize("NFC", text[:MAX_CHARS]).casefold()
    for word in "".join(c if c.isalpha() else " " for c in text).split():
        padded = f" {word} "
        for size in (1, 2, 3):
            for start in range(len(padded) - size + 1):
                gram = padded[start : start + size]
                if gram.strip():
                    yield gram


class LanguageModel:
    def __init__(self, texts_by_language: dict[str, list[str]]) -> None:
        self._log_p: dict[str, dict[str, float]] = {}
        self._unseen: dict[str, float] = {}
        vocabulary = set()
        counts = {}
        for language, texts in texts_by_language.items():
            counts[language] = Counter(g for text in texts for g in _grams(text))
            vocabulary |= counts[language].keys()
        for language, counted in counts.items():
            total = sum(counted.values()) + SMOOTHING * (len(vocabulary) + 1)
            self._log_p[language] = {g: math.log((n + SMOOTHING) / total) for g, n in counted.items()}
            self._unseen[language] = math.log(SMOOTHING / total)

    @property
    def languages(self) -> list[str]:
        return sorted(self._log_p)

    def scores(self, text: str) -> dict[str, float]:
        grams = list(_grams(text))
        return {language: sum(table.get(g, self._unseen[language]) for g in grams)
                for language, table in self._log_p.items()}

    def __call__(self, text: str) -> str | None:
        if sum(c.isalpha() for c in text) < MIN_LETTERS or len(self._log_p) < 2:
            return None
        ranked = sorted(self.scores(text).items(), key=lambda item: item[1], reverse=True)
        (best, top), (_second, runner_up) = ranked[0], ranked[1]
        return best if top - runner_up >= MIN_LEAD else None
