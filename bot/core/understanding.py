"""What a typed message means: one of five outcomes, decided by an ordered list of rules.

1. emergency    a person in crisis, or medical danger now (a baby, after a transplant, a pregnancy);
                `caution` marks a danger word in what may be a general question
2. greeting     hello, thanks, bye; typed navigation ("menu", "back") is a greeting with a `reason`
3. out_of_scope a request the bot must not handle (diagnosis, dose, results); hereditary (HFE)
                hemochromatosis on its own; anything else that is not about NH; a script it cannot read
4. answer       one answer is clearly ahead of every answer in another topic
5. clarify      otherwise: "which of these do you mean?" with the best candidates

Meaning decides first: a sentence-embedding model reads the message, which is compared
with the editors' example messages in many languages (content/examples/), and two small
classifiers trained on them weigh topics and emergencies. Words are the second signal
(the lexical index over the English phrasings, with typo correction), and the editors'
regular expressions and danger words (safety.yaml, scope.yaml) a second net for safety
and scope. Everything it knows comes from the content; it holds no I/O.
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Literal

from bot.content.bundle import Bundle
from bot.core import semantic
from bot.core.classifier import LinearClassifier
from bot.core.languages import LanguageModel
from bot.core.matching import DISEASE_NAMES, Index, Lexicon
from bot.core.semantic import Embedder, ExampleSpace
from bot.core.text import WordList, fold, scripts, word_count

OUT_OF_SCOPE = "(out of scope)"
GREETING = "(greeting)"
OFF_TOPIC_MATCH = "close to off-topic examples"

# --- Thresholds, set with `make eval` on the dev sets (docs/understanding.md). Similarities are the
# sentence model's cosines: about 0.1 for unrelated messages, 0.9 for the same question reworded.

# Emergency, by the closest examples: an emergency example this far ahead of the closest ordinary
# one, and this close at all; with a danger word in the message, a lower lead will do.
EMERGENCY_MARGIN = 0.0
EMERGENCY_FLOOR = 0.5
EMERGENCY_EXAMPLES = 2  # an emergency kind's closeness: the mean of its this many closest examples
DANGER_MARGIN = -0.06
# Emergency, by the safety classifier: its log-odds, alone and with a danger word.
EMERGENCY_ODDS = 2.5
DANGER_ODDS = -1.5
EMERGENCY_MIN_WORDS = 4  # fewer words, and the model alone is not enough: a danger word or pattern is
SURE_OF_ANSWER = 0.6  # the topic classifier this sure of one answer is a second opinion against...
SURE_EMERGENCY_MARGIN = 0.05  # ...so an emergency example then needs this much more lead
PREGNANCY_MARGIN = 0.05  # a pregnancy emergency with no pregnancy word must be this much closer
KIND_OVERRULES_WORD = 0.1  # how much closer another kind's examples must be to overrule a danger word's kind

# Caution (a safety-net line before the reply): near an emergency example without a clear answer,
# a danger word with an emergency example nearby, a caution example closest, or the safety classifier.
CAUTION_MARGIN = -0.06
CAUTION_FLOOR = 0.5
DANGER_CAUTION_FLOOR = 0.4
CAUTION_EXAMPLE_MARGIN = 0.0  # how far the closest caution example may trail the closest ordinary one
CAUTION_ODDS = 0.0

# Greetings and typed navigation: short messages only, close to an example and ahead of the rest.
GREETING_MAX_WORDS = 6
GREETING_FLOOR = 0.55
GREETING_MARGIN = 0.05
PARTING_MAX_WORDS = 16  # thanks and goodbyes may be longer, with a clearer lead and no question mark
PARTING_MARGIN = 0.15

# Topics: the topic classifier's probability for a topic plus a share of its best lexical score.
LEXICAL_SHARE = 0.5
ANSWER_SCORE = 0.5
ANSWER_MARGIN = 0.4  # over the next topic (or off-topic, or greeting)
FAMILIAR = 0.45  # the closest example of the chosen topic must be at least this similar to answer
CLARIFY_SCORE = 0.15
OUT_OF_SCOPE_MARGIN = 0.1  # off-topic must lead by this much, or the person is asked instead
MAX_SUGGESTIONS = 3
MAX_EMBED_CHARS = 600  # long rambles add little meaning, and this bounds the model's work
# Readings taken ahead in a batch and not yet asked for (a message the engine read as a number, say)
# are dropped beyond this many.
READ_AHEAD_KEPT = 512

# Context: a short message is read with the answer the person is on ("is it safe?").
FOLLOW_UP_MAX_WORDS = 8
CLEARLY_OFF_TOPIC = 0.6  # off-topic by this margin is not a follow-up ("what's the weather tomorrow")

# Words only (no sentence model, in tests of other parts): thresholds on the lexical index's score.
LEXICAL_ANSWER_SCORE = 0.42
LEXICAL_ANSWER_MARGIN = 0.08
LEXICAL_CLARIFY_SCORE = 0.2

MIN_EXAMPLES_PER_SCRIPT = 20  # a script with fewer examples is one the bot cannot read
SHORT_DANGER_WORD = 4  # danger words this short match as whole words, not as word beginnings

Kind = Literal["answer", "clarify", "out_of_scope", "emergency", "greeting"]
UrgentKind = Literal["medical", "pregnancy", "crisis"]


@dataclass(frozen=True)
class Verdict:
    outcome: Kind
    answer_id: str | None = None  # the node to open, for `answer`
    confidence: float = 0.0
    suggestions: tuple[str, ...] = ()  # nodes offered as buttons
    why: tuple[str, ...] = ()
    # out_of_scope: "personal", "hfe", "other" or "unreadable"; greeting: "hello", "thanks", "bye",
    # or typed navigation "menu" or "back"
    reason: str | None = None
    urgent_kind: UrgentKind | None = None  # for `emergency`
    caution: bool = False  # a safety-net line goes before the reply


@dataclass(frozen=True)
class Probe:
    """The semantic reading of one message."""

    best: dict[str, float]  # per label, the closest example's similarity: for safety and greetings
    probabilities: dict[str, float]  # per topic label, the classifier's probability
    emergency_odds: float  # the safety classifier's log-odds that this is an emergency

    def top(self, labels: list[str]) -> tuple[str | None, float]:
        found = max(labels, key=lambda label: self.best.get(label, -1.0), default=None)
        return found, self.best.get(found, -1.0) if found else -1.0


@dataclass(frozen=True)
class Signs:
    """What the editors' safety patterns and danger words find in one message: looked for once."""

    crisis: str | None
    urgent: str | None
    general: bool  # reads as a general question ("can NH cause bleeding?")
    danger: str | None
    anchored: bool  # names NH or GALD
    danger_kinds: frozenset[str] = frozenset()  # the kinds of the danger words found (`any` left out)


@dataclass(frozen=True)
class Senses:
    """What reads meaning: the sentence model, the examples' vectors and the classifiers trained on them."""

    embedder: Embedder
    space: ExampleSpace  # the example messages' vectors, by label
    classifier: LinearClassifier  # topics: answers, off-topic kinds, greetings
    safety: LinearClassifier  # emergency or not


def _compile(patterns: list[str]) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(p) for p in patterns)


_QUESTION_MARK = re.compile(r"[?？؟¿]")
_REPEATS = re.compile(r"\b(\w+)(?:\W+\1\b)+", re.IGNORECASE)


def _unshouted(text: str) -> str:
    """The model reads SHOUTED words as other words."""
    letters = [c for c in text if c.isalpha()]
    return text.lower() if letters and sum(c.isupper() for c in letters) > 0.6 * len(letters) else text


def _log_odds(share: float) -> float:
    share = min(max(share, 1e-9), 1 - 1e-9)
    return math.log(share / (1 - share))


def _for_embedding(text: str) -> str:
    """The model averages over the words: a word said 800 times would drown the question."""
    return _REPEATS.sub(r"\1", text[: MAX_EMBED_CHARS * 4])[:MAX_EMBED_CHARS]


def _says_something(text: str) -> bool:
    """Letters, or emoji alone ("🙂", "👍"): a blank line or a bare number greets nobody."""
    return any(c.isalpha() for c in text) or (bool(text.strip()) and not any(c.isalnum() for c in text))


def _first(patterns: tuple[re.Pattern[str], ...], text: str) -> str | None:
    for pattern in patterns:
        found = pattern.search(text)
        if found:
            return found.group(0)
    return None


class Understanding:
    def __init__(self, bundle: Bundle, senses: Senses | None = None) -> None:
        """Without `senses` it reads words only, with the regular expressions and the lexical index."""
        self.bundle = bundle
        language = bundle.language
        self.lexicon = Lexicon(language.spelling, language.synonyms, language.stopwords, language.greetings, language.weights)
        self._crisis = _compile(bundle.safety.crisis)
        self._urgent = _compile(bundle.safety.urgent)
        self._general = _compile(bundle.safety.general_question)
        self._pregnancy = _compile(bundle.safety.pregnancy)
        self._born = _compile(bundle.safety.born)
        self._danger = WordList([(fold(word), kind) for kind, words in bundle.safety.danger_words_by_kind().items()
                                 for word in words], SHORT_DANGER_WORD)
        self._anchors = _compile(bundle.scope.anchors)
        self._personal = _compile(bundle.scope.personal)
        self._hfe = _compile(bundle.scope.hfe.patterns)
        self._compare = _compile(bundle.scope.hfe.compare)
        self._unless_nh = _compile(bundle.scope.unless_nh)
        # Words: the answers' own phrasings, and every English off-topic example. (The example files'
        # answer messages are the sentence model's to read: in the index they blurred the topics.)
        english = [e for e in bundle.examples if e.language == "en"]
        lexical = [(e.label, e.text) for e in english if e.phrasing]
        lexical += [(OUT_OF_SCOPE, e.text) for e in english if e.label.startswith(semantic.OUT_OF_SCOPE_PREFIX)]
        self.index = Index(self.lexicon, lexical)
        self._context_concepts = {"baby", "pregnancy", "nh", "gald"}
        self.senses = senses
        self._ahead: dict[str, Probe] = {}  # read ahead in a batch, waiting for `probe`
        self._ahead_lock = threading.Lock()
        self.space = senses.space if senses is not None else None
        labels = self.space.labels if self.space else []
        self._targets = [label for label in labels if not label.startswith("!")]
        self._emergency_labels = [label for label in labels if label.startswith(semantic.EMERGENCY_PREFIX)]
        self._ordinary_labels = [label for label in labels if not label.startswith(semantic.EMERGENCY_PREFIX)]
        self._greeting_labels = [label for label in labels
                                 if label.startswith((semantic.GREETING_PREFIX, semantic.NAVIGATION_PREFIX))]
        self._out_labels = [label for label in labels if label.startswith(semantic.OUT_OF_SCOPE_PREFIX)]
        self._non_greeting_labels = [label for label in labels if label not in self._greeting_labels]
        self._ordinary_not_caution = [label for label in self._ordinary_labels if label != semantic.CAUTION]
        letters: dict[str, int] = {}
        for example in bundle.examples:
            found = scripts(example.text)
            if found:
                main = max(found, key=found.__getitem__)
                letters[main] = letters.get(main, 0) + 1
        self.readable_scripts = frozenset({"latin"} | {s for s, n in letters.items() if n >= MIN_EXAMPLES_PER_SCRIPT})

    # --- helpers ------------------------------------------------------------------

    def topic(self, node_id: str | None) -> str | None:
        if node_id is None or node_id == OUT_OF_SCOPE:
            return None
        if node_id in self.bundle.answers:
            return self.bundle.answers[node_id].topic
        node = self.bundle.nodes.get(node_id)
        return "support" if node is not None and node.type == "organisations" else (node.topic if node else None)

    def probe(self, text: str) -> Probe | None:
        if self.space is None or self.senses is None:
            return None
        with self._ahead_lock:
            ready = self._ahead.pop(text, None)
        return ready if ready is not None else self._probes([text])[0]

    def read_ahead(self, texts: Sequence[str]) -> None:
        """Read messages about to be classified, in one batch: one matrix product for many messages
        costs about half as much per message as one each. `probe` takes each reading once. The
        adapters call this from one worker thread, so that the event loop goes on meanwhile."""
        if self.space is None or not texts:
            return
        probes = self._probes(texts)
        with self._ahead_lock:
            self._ahead.update(zip(texts, probes, strict=True))
            while len(self._ahead) > READ_AHEAD_KEPT:  # read ahead but never classified: drop the oldest
                del self._ahead[next(iter(self._ahead))]

    def _probes(self, texts: Sequence[str]) -> list[Probe]:
        assert self.space is not None and self.senses is not None
        vectors = self.senses.embedder.encode([_for_embedding(_unshouted(text)) for text in texts])
        similarities = self.space.similarities(vectors)
        best = self.space.best_of_rows(similarities)
        # An emergency kind is as close as its two closest examples: one short stray example ("ich will
        # zu meinem baby") was as close to "is my next baby going to have gald" as any question.
        for row, emergency in zip(best, self.space.top_mean_of_rows(similarities, self._emergency_labels,
                                                                    EMERGENCY_EXAMPLES), strict=True):
            row.update(emergency)
        topics = self.senses.classifier.probabilities_of_rows(vectors)
        safety = self.senses.safety.probabilities_of_rows(vectors)
        return [Probe(near, shares, _log_odds(danger[semantic.EMERGENCY]))
                for near, shares, danger in zip(best, topics, safety, strict=True)]

    @cached_property
    def languages(self) -> LanguageModel:
        """Learnt from the example files on first use (a quarter of a second)."""
        by_language: dict[str, list[str]] = {}
        for example in self.bundle.examples:
            by_language.setdefault(example.language, []).append(example.text)
        return LanguageModel(by_language)

    def language_of(self, text: str) -> str | None:
        return self.languages(text)

    # --- the rules, in order -----------------------------------------------------------

    def classify(self, text: str, context: str | None = None) -> Verdict:
        """What `text` means; `context` is the node the person is on, for short follow-ups."""
        cleaned = self.lexicon.clean(text)  # what every pattern below reads
        probe = self.probe(text)
        signs = self._signs(cleaned)
        verdict = (self._emergency(cleaned, probe, signs) or self._greeting(text, cleaned, probe, signs)
                   or self._unreadable(text, signs) or self._topic(text, cleaned, probe, signs))
        clearly_off_topic = verdict.outcome == "out_of_scope" and (
            verdict.reason in {"personal", "hfe", "unreadable"}
            or (verdict.why[:1] == (OFF_TOPIC_MATCH,) and verdict.confidence >= CLEARLY_OFF_TOPIC
                and word_count(cleaned) > 2))  # "how often?" is too short to be clearly anything
        if context and verdict.outcome in {"clarify", "out_of_scope"} and not clearly_off_topic:
            verdict = self._follow_up(text, context, verdict)
        if verdict.outcome not in {"emergency", "greeting"} and verdict.reason != "unreadable":
            verdict = replace(verdict, caution=self._caution(cleaned, probe, signs))
        return verdict

    def _signs(self, cleaned: str) -> Signs:
        danger = self._danger.find(cleaned)
        return Signs(_first(self._crisis, cleaned), _first(self._urgent, cleaned),
                     _first(self._general, cleaned) is not None, danger[0][0] if danger else None,
                     _first(self._anchors, cleaned) is not None,
                     frozenset(kind for _word, kind in danger if kind != "any"))

    def _emergency(self, cleaned: str, probe: Probe | None, signs: Signs) -> Verdict | None:
        """Crisis and urgent patterns first; then the sentence model, trusted further when a danger
        word ("convulsión", "не дышит", "抽搐") is in the message."""
        if signs.crisis:
            return Verdict("emergency", confidence=1.0, why=(signs.crisis,), urgent_kind="crisis")
        if signs.urgent and not signs.general:
            return Verdict("emergency", confidence=1.0, why=(signs.urgent,),
                           urgent_kind=self._urgent_kind(cleaned, probe, signs))
        if probe is None or not self._emergency_labels:
            return None
        label, score, margin = self._emergency_margin(probe)
        danger = signs.danger
        needed = DANGER_MARGIN if danger else EMERGENCY_MARGIN
        if not danger and self._sure_of_answer(probe):  # the topic classifier's second opinion
            needed += SURE_EMERGENCY_MARGIN
        # Three words ("does it hurt") are too few for the model alone to call an emergency.
        enough = danger is not None or word_count(cleaned) >= EMERGENCY_MIN_WORDS
        by_example = label is not None and score >= EMERGENCY_FLOOR and margin >= needed
        # The safety classifier weighs every example at once: a second, independent reading.
        by_classifier = probe.emergency_odds >= (DANGER_ODDS if danger else EMERGENCY_ODDS)
        if label and (by_example or by_classifier) and enough:
            kind = self._urgent_kind(cleaned, probe, signs)
            why = (f"close to {label.removeprefix(semantic.EMERGENCY_PREFIX)} emergencies", f"margin {margin:+.2f}",
                   f"odds {probe.emergency_odds:+.1f}")
            return Verdict("emergency", confidence=round(score, 3),
                           why=(*why, f"danger word {danger!r}") if danger else why, urgent_kind=kind)
        return None

    def _emergency_margin(self, probe: Probe) -> tuple[str | None, float, float]:
        """The closest emergency example's label and similarity, and how far it is ahead of the
        closest ordinary example (questions, grief, past events, general questions about danger)."""
        label, score = probe.top(self._emergency_labels)
        _ordinary, ordinary = probe.top(self._ordinary_labels)
        return label, score, score - ordinary

    def _sure_of_answer(self, probe: Probe) -> bool:
        return max((probe.probabilities.get(t, 0.0) for t in self._targets), default=0.0) >= SURE_OF_ANSWER

    def _urgent_kind(self, cleaned: str, probe: Probe | None, signs: Signs) -> UrgentKind:
        if signs.crisis:
            return "crisis"
        said_pregnant = _first(self._pregnancy, cleaned) is not None
        kind = self._closest_kind(cleaned, probe, said_pregnant, ("medical", "pregnancy", "crisis"))
        # A danger word of one kind ("jerking", "suicidal") says which help is needed, unless the closest
        # examples of another kind are clearly closer.
        words = signs.danger_kinds
        if words == {"crisis"} and kind != "crisis" and not self._kind_leads(probe, kind, "crisis"):
            return "crisis"
        if words and "crisis" not in words:
            if "pregnancy" in words and not _first(self._born, cleaned):
                return "pregnancy"  # waters, contractions, kicks: only a pregnancy has them
            if kind == "crisis" and not self._kind_leads(probe, "crisis", "medical"):
                return self._closest_kind(cleaned, probe, said_pregnant, ("medical", "pregnancy"))
        return kind

    def _closest_kind(self, cleaned: str, probe: Probe | None, said_pregnant: bool,
                      kinds: tuple[str, ...]) -> UrgentKind:
        if _first(self._born, cleaned) and not said_pregnant:
            return "medical"
        labels = [semantic.EMERGENCY_PREFIX + kind for kind in kinds]
        if probe is None or not set(labels) & set(self._emergency_labels):
            return "pregnancy" if said_pregnant else "medical"
        label, _score = probe.top(labels)
        kind = label.removeprefix(semantic.EMERGENCY_PREFIX) if label else "medical"
        if kind == "pregnancy" and not said_pregnant:
            # "barely moving" is about a baby in a cot as often as in the womb: the model must be sure.
            pregnancy = probe.best.get(semantic.EMERGENCY_PREFIX + "pregnancy", 0.0)
            medical = probe.best.get(semantic.EMERGENCY_PREFIX + "medical", 0.0)
            kind = "pregnancy" if pregnancy - medical >= PREGNANCY_MARGIN else "medical"
        return kind  # type: ignore[return-value]

    @staticmethod
    def _kind_leads(probe: Probe | None, kind: str, other: str) -> bool:
        """Are `kind`'s closest emergency examples clearly closer than `other`'s?"""
        if probe is None:
            return False
        best = probe.best
        return best.get(semantic.EMERGENCY_PREFIX + kind, 0.0) - best.get(semantic.EMERGENCY_PREFIX + other, 0.0) \
            >= KIND_OVERRULES_WORD

    def _caution(self, cleaned: str, probe: Probe | None, signs: Signs) -> bool:
        """A danger word or sign in what reads as a general question: answer, with a safety-net line."""
        if signs.urgent or signs.crisis:
            return True
        if probe is None or not self._emergency_labels:
            return False
        label, score, margin = self._emergency_margin(probe)
        danger = signs.danger
        caution_label, caution = probe.top([semantic.CAUTION])
        _ordinary, ordinary = probe.top(self._ordinary_not_caution)
        # Short questions share words with emergencies ("will it happen again next baby" and "the baby
        # is fitting again"): without a danger word, nearness counts only when no answer is clearly meant.
        near = label is not None and (
            (danger is not None and score >= DANGER_CAUTION_FLOOR)
            or (score >= CAUTION_FLOOR and margin >= CAUTION_MARGIN and not self._sure_of_answer(probe)))
        like_a_caution_example = caution_label is not None and caution >= CAUTION_FLOOR \
            and caution - ordinary >= CAUTION_EXAMPLE_MARGIN
        likely = probe.emergency_odds >= CAUTION_ODDS and word_count(cleaned) >= EMERGENCY_MIN_WORDS
        return near or like_a_caution_example or likely

    def _greeting(self, text: str, cleaned: str, probe: Probe | None, signs: Signs) -> Verdict | None:
        words = cleaned.split()
        if signs.anchored:  # "NH???" is about NH, however short
            return None
        if text.strip().startswith("/") and len(words) == 1:  # a command typed where a question goes
            return Verdict("greeting", confidence=1.0, why=(text.strip(),), reason="menu")
        if probe is not None and self._greeting_labels and _says_something(text):
            label, score = probe.top(self._greeting_labels)
            _rest, rest = probe.top(self._non_greeting_labels)
            kind = label.split(":", 1)[1] if label else ""
            short = len(words) <= GREETING_MAX_WORDS and score - rest >= GREETING_MARGIN
            # Thanks and goodbyes run longer ("thank you so much, that helped more than the leaflet"):
            # a clear lead and no question will do.
            parting = kind in {"thanks", "bye"} and len(words) <= PARTING_MAX_WORDS \
                and score - rest >= PARTING_MARGIN and not _QUESTION_MARK.search(text)
            if label and score >= GREETING_FLOOR and (short or parting):
                return Verdict("greeting", confidence=round(score, 3), why=(label,), reason=kind)
        if self.lexicon.is_greeting(text):
            kind = "menu" if {"menu", "start"} & set(words) else "hello"
            if probe is not None and self._greeting_labels:
                label, _score = probe.top(self._greeting_labels)
                kind = label.split(":", 1)[1] if label else kind
            return Verdict("greeting", confidence=1.0, why=("greeting",), reason=kind)
        return None

    def _unreadable(self, text: str, signs: Signs) -> Verdict | None:
        found = scripts(text)
        if not found or signs.anchored:
            return None
        main = max(found, key=found.__getitem__)
        if main in self.readable_scripts:
            return None
        return Verdict("out_of_scope", why=(f"{main} script",), reason="unreadable")

    def _topic(self, text: str, cleaned: str, probe: Probe | None, signs: Signs) -> Verdict:
        anchored = signs.anchored
        ranked, known, unknown = self.index.rank(text)
        lexical = {s.target: s.score for s in ranked}

        personal = _first(self._personal, cleaned)
        if personal:
            return self._personal_verdict(anchored, lexical, probe, (personal,))
        hfe = _first(self._hfe, cleaned)
        if hfe:
            comparing = _first(self._compare, cleaned)
            if comparing:
                return Verdict("answer", self.bundle.scope.hfe.answer, 1.0, why=(hfe, comparing))
            in_context = anchored or bool(self._context_concepts & set(known))
            if not in_context:
                return Verdict("out_of_scope", confidence=1.0, suggestions=(self.bundle.scope.hfe.answer,),
                               why=(hfe,), reason="hfe")
        everyday = _first(self._unless_nh, cleaned)
        if everyday and not anchored:
            return Verdict("out_of_scope", confidence=1.0, why=(everyday,), reason="other")
        if anchored and not unknown and known and set(known) <= DISEASE_NAMES:
            # Only the disease's name ("NH???"): the overview is what such a person wants.
            return Verdict("answer", self.bundle.scope.name_only, 0.5, why=tuple(known))
        if probe is None:
            return self._lexical_topic(ranked, anchored, known)

        scores = self._answer_scores(probe, lexical)
        topics = self._topic_scores(scores, probe, lexical)
        ranked_topics = sorted(topics, key=topics.__getitem__, reverse=True)
        first = ranked_topics[0]
        top = topics[first]
        second = topics[ranked_topics[1]] if len(ranked_topics) > 1 else 0.0
        confidence = round(max(0.0, min(1.0, top - second)), 3)
        if first == OUT_OF_SCOPE:
            out_label = max(self._out_labels, key=lambda label: probe.probabilities.get(label, 0.0))
            reason = out_label.removeprefix(semantic.OUT_OF_SCOPE_PREFIX)
            if reason == "personal":
                return self._personal_verdict(anchored, lexical, probe, (out_label, f"{top:.2f}"))
            if not anchored and top - second >= OUT_OF_SCOPE_MARGIN:
                offered = (self.bundle.scope.hfe.answer,) if reason == "hfe" else ()
                return Verdict("out_of_scope", confidence=confidence, suggestions=offered,
                               why=(OFF_TOPIC_MATCH, out_label, f"{top:.2f} vs {second:.2f}"), reason=reason)
        names_something = any(w in self.index.full_weight for w in known)
        just_a_topic_word = names_something and word_count(cleaned) <= 2  # "ivig" is no greeting
        if first == GREETING and len(cleaned.split()) <= GREETING_MAX_WORDS * 2 and not anchored \
                and not just_a_topic_word and _says_something(text):
            label = max(self._greeting_labels, key=lambda lb: probe.probabilities.get(lb, 0.0))
            return Verdict("greeting", confidence=confidence, why=(label, f"{top:.2f}"), reason=label.split(":", 1)[1])
        real = [t for t in ranked_topics if t not in (OUT_OF_SCOPE, GREETING)]
        best = max((t for t in scores if self.topic(t) == real[0]), key=scores.__getitem__)
        why = (f"{real[0]} {topics[real[0]]:.2f}", f"next {second if first == real[0] else top:.2f}")
        # The classifier always picks something; a message like no example at all is about something else.
        familiar = max(probe.best.get(t, 0.0) for t in scores if self.topic(t) == real[0])
        # "how long?" names nothing: two words answer only with a word that says what about.
        says_what = word_count(cleaned) > 2 or names_something
        if first == real[0] and top >= ANSWER_SCORE and top - second >= ANSWER_MARGIN and familiar >= FAMILIAR \
                and says_what:
            return Verdict("answer", best, confidence, why=(best, *why))
        ordered = sorted(scores, key=scores.__getitem__, reverse=True)
        if (topics[real[0]] >= CLARIFY_SCORE and familiar >= FAMILIAR - 0.1) or anchored:
            return Verdict("clarify", confidence=confidence, suggestions=self._suggest(ordered, scores), why=why)
        return Verdict("out_of_scope", confidence=round(1 - top, 3), why=why, reason="other")

    def _answer_scores(self, probe: Probe, lexical: dict[str, float]) -> dict[str, float]:
        return {t: probe.probabilities.get(t, 0.0) + LEXICAL_SHARE * lexical.get(t, 0.0) for t in self._targets}

    def _topic_scores(self, scores: dict[str, float], probe: Probe, lexical: dict[str, float]) -> dict[str, float]:
        """Per topic: the classifier's probability for all its answers, plus the best lexical score;
        the off-topic and greeting kinds compete as two more "topics"."""
        probability: dict[str, float] = {}
        lexical_best: dict[str, float] = {}
        for target in self._targets:
            topic = self.topic(target) or target
            probability[topic] = probability.get(topic, 0.0) + probe.probabilities.get(target, 0.0)
            lexical_best[topic] = max(lexical_best.get(topic, 0.0), lexical.get(target, 0.0))
        out = {t: probability[t] + LEXICAL_SHARE * lexical_best[t] for t in probability}
        out[OUT_OF_SCOPE] = sum(probe.probabilities.get(label, 0.0) for label in self._out_labels) \
            + LEXICAL_SHARE * lexical.get(OUT_OF_SCOPE, 0.0)
        out[GREETING] = sum(probe.probabilities.get(label, 0.0) for label in self._greeting_labels)
        return out

    def _suggest(self, ordered: list[str], scores: dict[str, float]) -> tuple[str, ...]:
        """The best candidates, one per topic first, so the right topic is most likely one tap away."""
        picked: list[str] = []
        topics: set[str | None] = set()
        for target in ordered:
            if self.topic(target) not in topics and scores[target] >= CLARIFY_SCORE / 2:
                picked.append(target)
                topics.add(self.topic(target))
            if len(picked) == MAX_SUGGESTIONS:
                break
        return tuple(picked) or tuple(ordered[:1])

    def _personal_verdict(self, anchored: bool, lexical: dict[str, float], probe: Probe | None,
                          why: tuple[str, ...]) -> Verdict:
        """A request about one's own case: never answered, but the general answers are offered."""
        if probe is not None:
            scores = self._answer_scores(probe, lexical)
            ordered = sorted(scores, key=scores.__getitem__, reverse=True)
            # The reply says "here is the general information I can give": the closest general answers,
            # when the message is like their examples at all.
            familiar = probe.best.get(ordered[0], 0.0) >= FAMILIAR
            offered = self._suggest(ordered, scores)[:2] if anchored or familiar else ()
        else:
            offered = tuple(t for t, s in sorted(lexical.items(), key=lambda kv: -kv[1])
                            if t != OUT_OF_SCOPE and s >= LEXICAL_CLARIFY_SCORE)[:2] if anchored else ()
        return Verdict("out_of_scope", confidence=1.0, suggestions=offered, why=why, reason="personal")

    def _follow_up(self, text: str, context: str, alone: Verdict) -> Verdict:
        """Read a short, unclear message together with the answer the person is on: answer it when
        that makes it clear, or else offer that answer's follow-ups rather than a dead end."""
        if len(text.split()) > FOLLOW_UP_MAX_WORDS or context not in self.bundle.answers:
            return alone
        answer = self.bundle.answers[context]
        joined_text = f"{answer.question} {text}"
        joined_clean = self.lexicon.clean(joined_text)
        joined = self._topic(joined_text, joined_clean, self.probe(joined_text), self._signs(joined_clean))
        if joined.outcome == "answer" and joined.answer_id != context:  # the same answer again helps nobody
            return replace(joined, why=(*joined.why, f"read with {context}"))
        offered = [s for s in (*joined.suggestions, *alone.suggestions, *answer.related) if s != context]
        return Verdict("clarify", confidence=alone.confidence, suggestions=tuple(dict.fromkeys(offered))[:MAX_SUGGESTIONS],
                       why=(*alone.why, f"follow-ups of {context}"))

    def _lexical_topic(self, ranked: list, anchored: bool, known: list[str]) -> Verdict:
        if ranked and ranked[0].target == OUT_OF_SCOPE and not anchored:
            return Verdict("out_of_scope", confidence=round(ranked[0].score, 3), why=ranked[0].matched, reason="other")
        answers = [s for s in ranked if s.target != OUT_OF_SCOPE]
        if not answers:
            return Verdict("clarify", why=tuple(known)) if anchored else \
                Verdict("out_of_scope", why=tuple(known), reason="other")
        best = answers[0]
        rival = next((s.score for s in answers[1:] if self.topic(s.target) != self.topic(best.target)), 0.0)
        intent = any(w in self.index.full_weight for w in best.matched)  # not just "baby" or "NH"
        confidence = round(min(1.0, best.score) * min(1.0, (best.score - rival) / LEXICAL_ANSWER_MARGIN), 3)
        if best.score >= LEXICAL_ANSWER_SCORE and best.score - rival >= LEXICAL_ANSWER_MARGIN and intent:
            return Verdict("answer", best.target, confidence, why=best.matched)
        if best.score >= LEXICAL_CLARIFY_SCORE or anchored:
            offered = tuple(s.target for s in answers[:MAX_SUGGESTIONS] if s.score >= LEXICAL_CLARIFY_SCORE / 2)
            return Verdict("clarify", confidence=confidence, suggestions=offered or (best.target,), why=best.matched)
        return Verdict("clarify", why=tuple(known)) if anchored else \
            Verdict("out_of_scope", why=tuple(known), reason="other")
