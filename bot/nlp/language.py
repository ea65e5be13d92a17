"""Which language a message is in: py3langid's model (shipped in its package), limited to likely ones.

Short messages ("hi", "menu", an emoji) carry too little to tell; those return None
and the caller decides (the session's language, or English).
"""

from __future__ import annotations

import threading
from functools import cached_property

# Languages our families write in, and others the model should consider so that a
# Romanian or Swahili message is not forced into the nearest of ours.
CANDIDATES = ("en", "es", "pt", "fr", "de", "it", "nl", "pl", "ro", "ru", "uk", "tr", "ar", "fa", "ur", "he",
              "hi", "bn", "zh", "ja", "ko", "th", "vi", "id", "ms", "tl", "sw", "el", "sv", "da", "no",
              "fi", "cs", "sk", "hu", "hr", "sr", "bg", "ta", "am")
MIN_PROBABILITY = 0.5
MIN_LETTERS = 12


class LanguageGuesser:
    def __init__(self) -> None:
        self._loading = threading.Lock()  # the first caller loads; a second one waits for it

    @cached_property
    def _identifier(self):  # noqa: ANN202 - py3langid has no type hints
        from py3langid.langid import MODEL_FILE, LanguageIdentifier  # noqa: PLC0415

        identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
        identifier.set_languages(list(CANDIDATES))
        return identifier

    def load(self) -> LanguageGuesser:
        with self._loading:
            _ = self._identifier
        return self

    def __call__(self, text: str) -> str | None:
        if sum(c.isalpha() for c in text) < MIN_LETTERS:
            return None
        language, probability = self.load()._identifier.classify(text)
        return str(language) if probability >= MIN_PROBABILITY else None
