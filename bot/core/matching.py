"""Free-text matching to vetted answers (a first, cautious version).

Scores each answer by how much of the message's vocabulary its example phrasings
share, weighting rare words more (IDF) and forgiving typos with rapidfuzz. Words
the bot has never seen still count against a match: a message mostly about
something else ("my dad's ferritin is 900...") must not ride on one shared word.
The disease's own names say little about *which* answer is meant, so they weigh
less. It answers only when one answer is clearly ahead; otherwise it offers the
best candidates as buttons, because a clarifying question costs far less than a
confident wrong medical answer.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass

from rapidfuzz import fuzz, process

# Match on at most this much of a message: long rambles rarely add signal, and it bounds the work.
MAX_MATCH_CHARS = 600
ANSWER_SCORE = 0.55
ANSWER_MARGIN = 0.12
CLARIFY_SCORE = 0.25
FUZZY_TOKEN_CUTOFF = 84

STOPWORDS = frozenset(
    """a an the is are was were be been being am i im me my we our us you your he she it its they them
    their his her this that these those of to in on at for from by with about as and or but if so do does
    did done can could would should will shall may might must have has had not no yes what whats which who
    how why when where there here pls please just really very any some more most also too than then
    get got gets one thing things tell know want need like go going ok okay hi hello thanks""".split()
)

# Names of the disease itself: present in most questions, so weak evidence for any one answer.
DISEASE_NAMES = frozenset({"nh", "gald", "neonatal", "hemochromatosis", "haemochromatosis", "hemochromatosi",
                           "haemochromatosi", "gestational", "alloimmune"})
DISEASE_WEIGHT = 0.25

_NON_WORD = re.compile(r"[^a-z0-9' ]+")


def normalise(text: str) -> str:
    """Lower case, accents and emoji removed, punctuation to spaces, single-spaced."""
    text = unicodedata.normalize("NFKD", text[:MAX_MATCH_CHARS * 4])
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    text = text.replace("’", "'")
    return " ".join(_NON_WORD.sub(" ", text).split())


def _stem(token: str) -> str:
    for suffix in ("ies", "es", "s"):
        if token.endswith(suffix) and len(token) - len(suffix) >= 3:
            return token[: -len(suffix)] + ("y" if suffix == "ies" else "")
    return token


def tokens(text: str) -> list[str]:
    words = normalise(text)[:MAX_MATCH_CHARS].replace("'", "").split()
    return [_stem(w) for w in words if w not in STOPWORDS and len(w) > 1]


@dataclass(frozen=True)
class Match:
    answer_id: str | None  # set only when confident
    candidates: tuple[str, ...] = ()  # best guesses, for a clarifying question
    score: float = 0.0


class Matcher:
    def __init__(self, bundle) -> None:  # noqa: ANN001 - Bundle; avoids an import cycle in type checkers
        self._phrasings: list[tuple[str, Counter[str]]] = []
        examples = [(a.id, text) for a in bundle.answers.values() for text in (a.question, *a.phrasings)]
        # A support organisation's name leads to the list for its country.
        for node in bundle.nodes.values():
            if node.type == "organisations":
                examples += [(node.id, org.name) for org in bundle.organisations.get(node.country, ())]
        for target, text in examples:
            toks = Counter(tokens(text))
            if toks:
                self._phrasings.append((target, toks))
        docs = len(self._phrasings) or 1
        df: Counter[str] = Counter()
        for _, toks in self._phrasings:
            df.update(toks.keys())
        self._idf = {t: math.log(1 + docs / n) * (DISEASE_WEIGHT if t in DISEASE_NAMES else 1.0) for t, n in df.items()}
        self._vocabulary = list(self._idf)
        # An unseen word weighs like a typical word: it is evidence the message is about something else.
        ordered = sorted(self._idf.values())
        self._unknown_weight = ordered[len(ordered) // 2] if ordered else 1.0

    def _known(self, token: str) -> str | None:
        if token in self._idf:
            return token
        if len(token) < 4:
            return None
        found = process.extractOne(token, self._vocabulary, scorer=fuzz.ratio, score_cutoff=FUZZY_TOKEN_CUTOFF)
        return found[0] if found else None

    def scores(self, text: str) -> dict[str, float]:
        words = set(tokens(text))
        query = {k for k in (self._known(t) for t in words) if k}
        if not query:
            return {}
        unknown = len(words) - len(query)
        q_weight = sum(self._idf[t] for t in query) + unknown * self._unknown_weight
        best: dict[str, float] = {}
        for answer_id, toks in self._phrasings:
            shared = sum(self._idf[t] for t in query if t in toks)
            if not shared:
                continue
            p_weight = sum(self._idf[t] for t in toks)
            score = shared / math.sqrt(q_weight * p_weight)
            if score > best.get(answer_id, 0.0):
                best[answer_id] = score
        return best

    def match(self, text: str) -> Match:
        ranked = sorted(self.scores(text).items(), key=lambda kv: kv[1], reverse=True)
        if not ranked:
            return Match(None)
        top_id, top = ranked[0]
        second = ranked[1][1] if len(ranked) > 1 else 0.0
        if top >= ANSWER_SCORE and top - second >= ANSWER_MARGIN:
            return Match(top_id, score=top)
        candidates = tuple(a for a, s in ranked[:3] if s >= CLARIFY_SCORE)
        return Match(None, candidates, top)
