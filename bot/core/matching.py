"""Reading typed text, and finding the phrasings closest to it. Pure and fast.

`Lexicon` turns text into the words the matcher compares, using the editors'
data in content/language.yaml: spelling variants, synonyms (which also map
Spanish and German words to English concepts), stopwords. `Index` scores a
message against every target's example phrasings with TF-IDF weights:

- rare words weigh more than common ones; the disease's own names weigh little,
  because nearly every question contains them;
- a misspelt word is matched to the closest known word (rapidfuzz);
- words the index has never seen still count against a match, so a message mostly
  about something else cannot ride on one shared word.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
import gzip
import json
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources

from rapidfuzz import fuzz, process

from bot.core.text import fold

# Match on at most this much of a message: long rambles add little signal, and it bounds the work.
MAX_MATCH_CHARS = 600
FUZZY_CUTOFF = 85
# How much the best single phrasing counts against all of a target's phrasings together.
PHRASING_SHARE = 0.6
# Words outside the sentence that asks the question (background, feelings) count this much.
BACKGROUND_SHARE = 0.5
# How many of the best targets get the exact score with low-weight words ("NH", "baby") added.
TRAILING_CANDIDATES = 12
# An unseen word weighs this share of a typical word.
UNKNOWN_SHARE = 0.5
# Sentences, and clauses joined by "so"/"but" ("I know the risk is high, so what can be done?").
_SENTENCE_END = re.compile(r"(?<=[.?!\n;])\s*|,\s*(?=(?:so|but|and so|because|though)\b)", re.IGNORECASE)

ENGLISH_STOPWORDS = frozenset(
    """a an the is are was were be been being am i im ive id me my mine we our ours us you your yours he she
    him her hers it its they them their this that these those of to in on at for from by with about as and or
    but if so do does did done doing can could would should will shall may might must have has had having not
    no yes what which who whom how when where there here just really very any some more most also too than
    then get got gets one thing things want need like go going going went come came make made let lets
    there's theres what's whats it's thats that's he's she's we're were they're i'm i've i'd you're dont
    don't didn't didnt doesn't doesnt isn't isnt wasn't wasnt cant can't wont won't im ill i'll all
    same other another into over under up down out off again""".split()
) - {"again"}

DISEASE_NAMES = frozenset({"nh", "gald"})
# A word seen this often in pyspellchecker's English frequency list is a real word, not a typo.
REAL_WORD_COUNT = 100


@cache
def english_words() -> frozenset[str]:
    """Common English words, from the word list pyspellchecker ships (read once per process, offline)."""
    data = resources.files("spellchecker").joinpath("resources", "en.json.gz").read_bytes()
    counts = json.loads(gzip.decompress(data))
    return frozenset(word for word, count in counts.items() if count >= REAL_WORD_COUNT)


def stem(word: str) -> str:
    """A light plural stemmer: enough to meet "causes"/"cause", "babies"/"baby", "tests"/"test"."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is", "ous")):
        return word[:-1]
    return word


class Lexicon:
    """The editors' language data, compiled once."""

    def __init__(self, spelling: dict[str, str], synonyms: dict[str, list[str]], stopwords: Iterable[str],
                 greetings: Iterable[str], weights: dict[str, float] | None = None) -> None:
        self._spelling = sorted(spelling.items(), key=lambda kv: len(kv[0]), reverse=True)
        self.concepts = frozenset(synonyms)
        variants: dict[str, str] = {}
        for concept, words in synonyms.items():
            for variant in words:
                variants[self.spell(fold(variant))] = concept
        phrases = sorted((v for v in variants if " " in v), key=len, reverse=True)
        self._phrase_re = re.compile(r"\b(?:" + "|".join(map(re.escape, phrases)) + r")\b") if phrases else None
        self._phrases = {v: c for v, c in variants.items() if " " in v}
        self.single = {v: c for v, c in variants.items() if " " not in v}
        self.stopwords = (ENGLISH_STOPWORDS | {fold(w) for w in stopwords}) - self.concepts - set(self.single)
        self.greetings = frozenset(fold(w) for w in greetings)
        self.weights = {self.single.get(fold(w), fold(w)): v for w, v in (weights or {}).items()}

    def spell(self, text: str) -> str:
        words = []
        for word in text.split():
            for prefix, replacement in self._spelling:
                if word.startswith(prefix):
                    word = replacement + word[len(prefix) :]
                    break
            words.append(word)
        return " ".join(words)

    def clean(self, text: str) -> str:
        """Folded and spelling-unified: what the safety and scope patterns read."""
        return self.spell(fold(text))

    def words(self, text: str) -> list[str]:
        """Concept and content words of a text, in order; unknown words kept as they are."""
        cleaned = self._phrased(self.clean(text)[:MAX_MATCH_CHARS])
        # A disease name inside a phrase ("another NH baby", "lower the GALD risk") must not hide it.
        without_names = " ".join(w for w in cleaned.split() if w not in DISEASE_NAMES)
        if without_names != cleaned:
            cleaned += " " + self._phrased(without_names)
        out = []
        for word in cleaned.split():
            if word in self.stopwords or len(word) < 2:
                continue
            out.append(self.single.get(word) or self.single.get(stem(word)) or stem(word))
        return list(dict.fromkeys(out))

    def _phrased(self, text: str) -> str:
        if self._phrase_re is None:
            return text
        return self._phrase_re.sub(lambda m: self._phrases[m.group(0)], text)

    def weighted_words(self, text: str) -> dict[str, float]:
        """Words with how much they count: full in the sentence that asks, less in the background."""
        sentences = [s for s in _SENTENCE_END.split(text[: MAX_MATCH_CHARS * 2]) if s.strip()]
        asking = [s for s in sentences if "?" in s] or sentences[-1:]
        weights: dict[str, float] = {}
        for sentence in sentences:
            share = 1.0 if sentence in asking or len(sentences) == 1 else BACKGROUND_SHARE
            for word in self.words(sentence):
                weights[word] = max(weights.get(word, 0.0), share)
        return weights

    def is_greeting(self, text: str) -> bool:
        words = fold(text).split()
        return bool(words) and all(w in self.greetings for w in words)


@dataclass(frozen=True)
class Scored:
    target: str
    score: float
    matched: tuple[str, ...]


class Index:
    """Targets (answers, organisation lists, "out of scope") and their example phrasings.

    An inverted index (word -> phrasings) keeps a query's work proportional to the
    phrasings that share a meaningful word with it, not to the size of the content.
    """

    def __init__(self, lexicon: Lexicon, examples: Iterable[tuple[str, str]]) -> None:
        self.lexicon = lexicon
        phrasings: dict[str, list[frozenset[str]]] = {}
        for target, text in examples:
            words = frozenset(lexicon.words(text))
            if words:
                phrasings.setdefault(target, []).append(words)
        self.targets = list(phrasings)
        self._bags = [frozenset().union(*phrasings[t]) for t in self.targets]
        count = len(self.targets) or 1
        df: dict[str, int] = {}
        for bag in self._bags:
            for word in bag:
                df[word] = df.get(word, 0) + 1
        self._idf = {w: math.log(1 + count / n) * lexicon.weights.get(w, 1.0) for w, n in df.items()}
        self.full_weight = {w for w in self._idf if lexicon.weights.get(w, 1.0) >= 1.0}
        # Each phrasing: (target number, its words, the square root of its total weight).
        self._phrasings = [
            (number, words, math.sqrt(sum(self._idf[w] for w in words)))
            for number, target in enumerate(self.targets)
            for words in phrasings[target]
        ]
        self._owner = [number for number, _words, _norm in self._phrasings]
        self._positions_of: list[list[int]] = [[] for _ in self.targets]
        for position, number in enumerate(self._owner):
            self._positions_of[number].append(position)
        self._inverse_norm = [1.0 / norm for _number, _words, norm in self._phrasings]
        self._postings: dict[str, list[int]] = {}
        for position, (_number, words, _norm) in enumerate(self._phrasings):
            for word in words:
                self._postings.setdefault(word, []).append(position)
        ordered = sorted(self._idf.values())
        # An unseen word still counts: it is evidence the message is about something else.
        self._unknown_weight = UNKNOWN_SHARE * ordered[len(ordered) // 2] if ordered else 1.0
        self._known = sorted(set(self._idf) | set(lexicon.single))
        self._real_words = english_words()  # shared: a copy per index would cost about 10 MiB
        self._known_set = frozenset(self._known)
        self._correct = lru_cache(maxsize=4096)(self._closest)

    def _closest(self, word: str) -> str | None:
        # A real word we do not know ("taking") is not a typo of one we know ("talking").
        if len(word) < 4 or word.isdigit() or (word in self._real_words and word not in self._known_set):
            return None
        found = process.extractOne(word, self._known, scorer=fuzz.ratio, score_cutoff=FUZZY_CUTOFF)
        if found is None:
            return None
        return self.lexicon.single.get(found[0], found[0])

    def query(self, text: str) -> tuple[dict[str, float], dict[str, float]]:
        """(known words, unknown words) of a message with their shares, typos corrected."""
        known: dict[str, float] = {}
        unknown: dict[str, float] = {}
        for word, share in self.lexicon.weighted_words(text).items():
            corrected = word if word in self._idf else self._correct(word)
            if corrected in self._idf:
                known[corrected] = max(known.get(corrected, 0.0), share)
            else:
                unknown[word] = share
        return known, unknown

    def weight(self, word: str) -> float:
        return self._idf.get(word, self._unknown_weight)

    def rank(self, text: str) -> tuple[list[Scored], list[str], list[str]]:
        known, unknown = self.query(text)
        if not known:
            return [], list(known), list(unknown)
        q = {w: self._idf[w] * share for w, share in known.items()}
        q_norm = math.sqrt(sum(q.values()) + sum(unknown.values()) * self._unknown_weight)
        # Candidates come from meaningful words; "NH" or "baby" alone would touch nearly everything.
        leading = [w for w in q if w in self.full_weight] or list(q)
        trailing = [w for w in q if w not in leading]
        shared: dict[int, float] = {}
        get = shared.get
        for word in leading:
            weight = q[word]
            for position in self._postings[word]:
                shared[position] = get(position, 0.0) + weight
        # Best phrasing per target on the meaningful words (the hot loop: keep it lean).
        owner, inverse_norm = self._owner, self._inverse_norm
        best: dict[int, tuple[float, int]] = {}
        best_get = best.get
        for position, value in shared.items():
            number = owner[position]
            ratio = value * inverse_norm[position]
            if ratio > best_get(number, (0.0, 0))[0]:
                best[number] = (ratio, position)
        # Then, for the leading candidates only, add the low-weight words exactly.
        if trailing:
            trailing_set = frozenset(trailing)
            for number in sorted(best, key=lambda n: best[n][0], reverse=True)[:TRAILING_CANDIDATES]:
                for position in self._positions_of[number]:
                    extra = self._phrasings[position][1] & trailing_set
                    if extra:
                        ratio = (get(position, 0.0) + sum(q[w] for w in extra)) * inverse_norm[position]
                        if ratio > best[number][0]:
                            best[number] = (ratio, position)
        q_words = frozenset(q)
        q_total = q_norm * q_norm
        ranked = []
        for number, (ratio, _position) in best.items():
            matched = self._bags[number] & q_words
            coverage = sum(q[w] for w in matched) / q_total
            score = PHRASING_SHARE * ratio / q_norm + (1 - PHRASING_SHARE) * coverage
            ranked.append(Scored(self.targets[number], score, tuple(w for w in q if w in matched)))
        ranked.sort(key=lambda s: s.score, reverse=True)
        return ranked, list(known), list(unknown)
