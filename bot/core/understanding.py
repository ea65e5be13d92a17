"""What a typed message means: one of five outcomes, decided in a fixed order.

1. emergency    crisis words always; urgent signs unless it is a general question
2. greeting     hello, thanks, bye, menu, help
3. out_of_scope a request the bot must not handle (diagnosis, dose, results); hereditary
                (HFE) hemochromatosis on its own; an everyday baby topic (jaundice, feeding)
                with no mention of NH; or closest to the off-topic examples
4. answer       one answer is clearly ahead of every answer in another topic
5. clarify      otherwise: "which of these do you mean?" with the best candidates

Everything it knows comes from the content files; it holds no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from bot.content.bundle import Bundle
from bot.core.matching import DISEASE_NAMES, Index, Lexicon

OUT_OF_SCOPE = "(out of scope)"

# Decision thresholds, on the Index score (0 to 1). Measured with `make eval`; see the README.
ANSWER_SCORE = 0.42
ANSWER_MARGIN = 0.08  # over the best candidate from another topic
CLARIFY_SCORE = 0.2
MAX_SUGGESTIONS = 3

Kind = Literal["answer", "clarify", "out_of_scope", "emergency", "greeting"]


@dataclass(frozen=True)
class Verdict:
    outcome: Kind
    answer_id: str | None = None  # the node to open, for `answer`
    confidence: float = 0.0
    suggestions: tuple[str, ...] = ()  # nodes offered as buttons
    why: tuple[str, ...] = ()
    reason: str | None = None  # for out_of_scope: "personal", "hfe" or "other"


def _compile(patterns: list[str]) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(p) for p in patterns)


def _first(patterns: tuple[re.Pattern[str], ...], text: str) -> str | None:
    for pattern in patterns:
        found = pattern.search(text)
        if found:
            return found.group(0)
    return None


class Understanding:
    def __init__(self, bundle: Bundle) -> None:
        self.bundle = bundle
        language = bundle.language
        self.lexicon = Lexicon(language.spelling, language.synonyms, language.stopwords, language.greetings, language.weights)
        self._crisis = _compile(bundle.safety.crisis)
        self._urgent = _compile(bundle.safety.urgent)
        self._general = _compile(bundle.safety.general_question)
        self._anchors = _compile(bundle.scope.anchors)
        self._personal = _compile(bundle.scope.personal)
        self._hfe = _compile(bundle.scope.hfe.patterns)
        self._compare = _compile(bundle.scope.hfe.compare)
        self._unless_nh = _compile(bundle.scope.unless_nh)
        examples: list[tuple[str, str]] = []
        for answer in bundle.answers.values():
            examples += [(answer.id, text) for text in (answer.question, *answer.phrasings)]
        for node in bundle.nodes.values():  # an organisation's name leads to its country's list
            if node.type == "organisations":
                examples += [(node.id, org.name) for org in bundle.organisations.get(node.country or "", ())]
        examples += [(OUT_OF_SCOPE, text) for text in bundle.scope.examples]
        self.index = Index(self.lexicon, examples)
        self._context_concepts = {"baby", "pregnancy", "nh", "gald"}

    def topic(self, node_id: str | None) -> str | None:
        if node_id is None or node_id == OUT_OF_SCOPE:
            return None
        if node_id in self.bundle.answers:
            return self.bundle.answers[node_id].topic
        node = self.bundle.nodes.get(node_id)
        return "support" if node is not None and node.type == "organisations" else (node.topic if node else None)

    def _urgency(self, cleaned: str) -> str | None:
        """The words that make a cleaned message urgent, or None."""
        crisis = _first(self._crisis, cleaned)
        if crisis:
            return crisis
        urgent = _first(self._urgent, cleaned)
        if urgent and not _first(self._general, cleaned):
            return urgent
        return None

    def classify(self, text: str) -> Verdict:
        cleaned = self.lexicon.clean(text)  # what every pattern below reads
        urgent = self._urgency(cleaned)
        if urgent:
            return Verdict("emergency", confidence=1.0, why=(urgent,))
        if self.lexicon.is_greeting(text):
            return Verdict("greeting", confidence=1.0, why=("greeting",))

        anchored = _first(self._anchors, cleaned) is not None
        ranked, known, unknown = self.index.rank(text)
        answers = [s for s in ranked if s.target != OUT_OF_SCOPE]

        personal = _first(self._personal, cleaned)
        if personal:
            offered = tuple(s.target for s in answers[:2] if s.score >= CLARIFY_SCORE) if anchored else ()
            return Verdict("out_of_scope", confidence=1.0, suggestions=offered, why=(personal,), reason="personal")

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
        if ranked and ranked[0].target == OUT_OF_SCOPE and not anchored:
            return Verdict("out_of_scope", confidence=round(ranked[0].score, 3), why=ranked[0].matched, reason="other")
        if not answers:
            return self._nothing_matched(anchored, known)

        if anchored and not unknown and set(known) <= DISEASE_NAMES:
            # Only the disease's name ("NH???"): the overview is what such a person wants.
            return Verdict("answer", self.bundle.scope.name_only, 0.5, why=tuple(known))
        best = answers[0]
        rival = next((s.score for s in answers[1:] if self.topic(s.target) != self.topic(best.target)), 0.0)
        intent = any(w in self.index.full_weight for w in best.matched)  # not just "baby" or "NH"
        # Confidence is the score, discounted when another topic is close behind.
        confidence = round(min(1.0, best.score) * min(1.0, (best.score - rival) / ANSWER_MARGIN), 3)
        if best.score >= ANSWER_SCORE and best.score - rival >= ANSWER_MARGIN and intent:
            return Verdict("answer", best.target, confidence, why=best.matched)
        if best.score >= CLARIFY_SCORE or anchored:
            offered = tuple(s.target for s in answers[:MAX_SUGGESTIONS] if s.score >= CLARIFY_SCORE / 2)
            return Verdict("clarify", confidence=confidence, suggestions=offered or (best.target,), why=best.matched)
        return self._nothing_matched(anchored, known)

    def _nothing_matched(self, anchored: bool, known: list[str]) -> Verdict:
        if anchored:  # about NH, but we cannot tell what: ask, with the topics
            return Verdict("clarify", why=tuple(known))
        return Verdict("out_of_scope", why=tuple(known), reason="other")
