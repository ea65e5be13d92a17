"""Plain language: every answer at Flesch-Kincaid grade 8 or below, as health-literacy guidance asks."""

from __future__ import annotations

import pytest
import textstat

from bot.content.bundle import Bundle
from tests.conftest import CONTENT, FLOWS
from bot.content import load_bundle

MAX_GRADE = 8.0
_BUNDLE = load_bundle(CONTENT, FLOWS)[0]


@pytest.mark.parametrize("answer_id", list(_BUNDLE.answers))
def test_answer_reads_at_grade_8_or_below(answer_id: str) -> None:
    grade = textstat.flesch_kincaid_grade(_BUNDLE.answers[answer_id].text)
    assert grade <= MAX_GRADE, f"{answer_id} reads at grade {grade:.1f}; use shorter sentences and words"


@pytest.mark.parametrize("key", ["disclaimer", "welcome", "privacy", "urgent_care", "urgent_pregnancy", "urgent_crisis",
                                 "caution_line", "thanks", "goodbye", "help", "non_text", "group_chat"])
def test_shared_texts_read_at_grade_8_or_below(key: str) -> None:
    grade = textstat.flesch_kincaid_grade(_BUNDLE.texts[key])
    assert grade <= MAX_GRADE, f"{key} reads at grade {grade:.1f}"


def test_the_readability_check_can_fail() -> None:
    dense = ("Gestational alloimmune hepatopathy precipitates complement-mediated hepatocellular necrosis, "
             "consequently dysregulating transplacental iron homeostasis and extrahepatic siderosis.")
    assert textstat.flesch_kincaid_grade(dense) > MAX_GRADE


def test_answers_never_say_what_the_fact_check_forbids(bundle: Bundle) -> None:
    """Spot checks of section 4 of content-facts.md: wording that must never appear."""
    forbidden = ["autosomal recessive", "60%", "remove iron from", "removing excess iron", "in most cases, a liver transplant",
                 "autoimmune disease", "multifactorial", "chelation", "your next baby has", "80% chance", "mg/kg", "g/kg"]
    texts = [a.text.lower() for a in bundle.answers.values()] + [t.lower() for t in bundle.texts.values()]
    for phrase in forbidden:
        assert not any(phrase.lower() in text for text in texts), phrase
