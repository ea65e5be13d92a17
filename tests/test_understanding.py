"""Free-text understanding: reading text, emergencies, scope, and the labelled regression set."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bot.core.engine import Engine
from bot.core.matching import fold, stem
from bot.core.understanding import Understanding
from bot.evaluate import evaluate, meets, read_labelled
from tests.conftest import REPO

DATA = REPO / "tests" / "data"
LABELLED = sorted(DATA.glob("*.jsonl"))


@pytest.fixture(scope="module")
def understanding(engine: Engine) -> Understanding:
    return engine.understanding


@pytest.fixture(scope="module")
def engine():  # noqa: ANN201 - module-scoped twin of the session fixture, for speed
    from tests.conftest import CONTENT, FLOWS  # noqa: PLC0415
    from bot.content import load_bundle  # noqa: PLC0415

    from bot.app import understanding_for  # noqa: PLC0415
    from tests.conftest import VECTOR_CACHE  # noqa: PLC0415

    bundle = load_bundle(CONTENT, FLOWS)[0]
    return Engine(bundle, understanding=understanding_for(bundle, VECTOR_CACHE))


# --- reading text ----------------------------------------------------------------


def test_fold_removes_case_accents_emoji_and_punctuation() -> None:
    assert fold("¿Qué ES la HEMOCROMATOSIS?? 🤰") == "que es la hemocromatosis"
    assert fold("baby’s liver!!!") == "babys liver"


def test_stem_meets_plurals_without_mangling() -> None:
    assert [stem(w) for w in ("causes", "babies", "tests", "virus", "pass", "analysis")] == [
        "cause", "baby", "test", "virus", "pass", "analysis"]


def test_british_and_american_spelling_read_the_same(understanding: Understanding) -> None:
    words = understanding.lexicon.words
    assert words("neonatal haemochromatosis") == words("neonatal hemochromatosis") == ["nh"]
    assert words("paediatric") == words("pediatric")


@pytest.mark.parametrize(("text", "concept"), [
    ("does it run in families", "genetic"), ("is it in the dna", "genetic"), ("¿es hereditaria?", "genetic"),
    ("ist das erblich", "genetic"), ("the antibody injection", "ivig"), ("blood exchange", "exchange"),
    ("what are the odds", "chance"), ("Ursache", "cause"), ("otra vez", "again"),
])
def test_synonyms_map_lay_and_foreign_words_to_concepts(understanding: Understanding, text: str, concept: str) -> None:
    assert concept in understanding.lexicon.words(text)


def test_a_disease_name_inside_a_phrase_does_not_hide_it(understanding: Understanding) -> None:
    assert "later" in understanding.lexicon.words("odds of another NH baby")
    assert "again" in understanding.lexicon.words("will GALD come back")
    assert "prevent" in understanding.lexicon.words("does that lower the GALD risk")


def test_typos_are_corrected_but_real_words_are_not(understanding: Understanding) -> None:
    known, _unknown = understanding.index.query("is it inheritted or genetik")
    assert "genetic" in known
    known, unknown = understanding.index.query("taking vitamins while grieving")
    assert "taking" in unknown or "taking" not in known
    assert not {"talking", "giving"} & set(known)


# --- emergencies -------------------------------------------------------------------

EMERGENCIES = [
    "my baby is not breathing", "HELP baby not breathing properly!!", "baby's lips are turning blue",
    "she's limp and won't respond", "he is having a seizure", "my newborn is shaking and jerking and won't stop",
    "there is a lot of blood in her nappy", "I'm 32 weeks pregnant and bleeding heavily",
    "severe stomach pain and I'm pregnant", "I want to kill myself", "I don't want to live anymore",
    "I took all my pills", "my wife says she wants to be with our baby", "mi bebé no respira",
    "Mein Baby atmet nicht", "mon bébé ne respire pas", "our son won't wake up and is very pale",
]
ORDINARY = [
    "can NH cause bleeding?", "does gald cause seizures", "is jaundice a sign of nh", "what are the signs of NH",
    "why do babies with nh bleed easily", "what is an exchange transfusion", "what happens if the baby is very ill",
    "is it dangerous", "is NH a medical emergency?", "blue book for nh parents",
    "will my baby be ok long term", "how serious is gald",
]


@pytest.mark.parametrize("text", EMERGENCIES)
def test_emergencies_are_detected(understanding: Understanding, text: str) -> None:
    verdict = understanding.classify(text)
    assert verdict.outcome == "emergency", verdict
    assert verdict.why


@pytest.mark.parametrize("text", ORDINARY)
def test_ordinary_questions_are_not_emergencies(understanding: Understanding, text: str) -> None:
    assert understanding.classify(text).outcome != "emergency"


def test_crisis_words_win_even_in_a_general_question(understanding: Understanding) -> None:
    assert understanding.classify("does gald cause this? i want to die").outcome == "emergency"


# --- scope ---------------------------------------------------------------------------


@pytest.mark.parametrize("text", [
    "how much IVIG should I take, I weigh 70kg", "what dose of ivig for a newborn", "can you tell me if my baby has NH",
    "his ferritin is 4000, is that bad", "can I stop taking my thyroid tablets",
])
def test_personal_requests_are_out_of_scope(understanding: Understanding, text: str) -> None:
    verdict = understanding.classify(text)
    assert (verdict.outcome, verdict.reason) == ("out_of_scope", "personal"), verdict


def test_hfe_alone_is_out_of_scope_with_a_pointer_to_the_difference(understanding: Understanding) -> None:
    verdict = understanding.classify("how often do I need phlebotomy for my hemochromatosis")
    assert (verdict.outcome, verdict.reason) == ("out_of_scope", "hfe")
    assert verdict.suggestions == ("nh-vs-hfe",)


def test_comparing_hfe_with_nh_gets_the_difference(understanding: Understanding) -> None:
    verdict = understanding.classify("is NH the same as hereditary hemochromatosis")
    assert (verdict.outcome, verdict.answer_id) == ("answer", "nh-vs-hfe")


def test_everyday_newborn_topics_are_out_of_scope_unless_about_nh(understanding: Understanding) -> None:
    assert understanding.classify("how long does newborn jaundice last").outcome == "out_of_scope"
    assert understanding.classify("is jaundice a sign of NH in a newborn").outcome in {"answer", "clarify"}


@pytest.mark.parametrize("text", ["what's the weather tomorrow", "recipe for banana bread", "is thalassaemia the same as anaemia"])
def test_off_topic_is_out_of_scope(understanding: Understanding, text: str) -> None:
    assert understanding.classify(text).outcome == "out_of_scope"


def test_only_the_disease_name_gets_the_overview(understanding: Understanding) -> None:
    for text in ("NH???", "neonatal haemochromatosis", "GALD"):
        verdict = understanding.classify(text)
        assert (verdict.outcome, verdict.answer_id) == ("answer", "what-is-nh"), text


def test_long_rambling_message_finds_its_question(understanding: Understanding) -> None:
    text = ("we lost our first son to GALD two years ago and it has been so hard, my husband and I keep going back "
            "and forth about trying again and our families keep asking. what are the odds it happens again? "
            "sorry, I just need to know.")
    verdict = understanding.classify(text)
    assert (verdict.outcome, understanding.topic(verdict.answer_id)) == ("answer", "recurrence")


def test_clarify_offers_candidates_that_exist(understanding: Understanding, engine: Engine) -> None:
    verdict = understanding.classify("ivig")  # newborn treatment, or prevention in pregnancy?
    assert verdict.outcome == "clarify"
    assert verdict.confidence < 0.5
    assert 2 <= len(verdict.suggestions) <= 3
    assert all(engine.bundle.exists(s) for s in verdict.suggestions)


# --- the labelled regression set ---------------------------------------------------------

# A little below the targets (92% right, 1% wrong, 100% emergencies, 1% false alarms,
# 2% out-of-scope answered), so that an honest improvement elsewhere does not fail the build.
THRESHOLDS = {
    "answer_right_topic": (">=", 0.90),
    "answer_wrong_topic": ("<=", 0.015),
    "emergency_recall": (">=", 1.0),
    "emergency_false_alarms": ("<=", 0.01),
    "out_of_scope_answered": ("<=", 0.02),
    "greetings_recognised": (">=", 1.0),
}


@pytest.mark.parametrize("path", LABELLED, ids=[p.name for p in LABELLED])
def test_regression_set_meets_thresholds(understanding: Understanding, path: Path) -> None:
    report = evaluate(understanding, read_labelled([path]))
    figures = report.figures()
    for name, (op, bound) in THRESHOLDS.items():
        value = figures[name]
        assert meets(value, (op, bound)), f"{path.name}: {name} = {value:.1%} (needs {op} {bound:.0%})\n" + "\n".join(report.failures)


def test_regression_sets_are_labelled_with_known_topics(engine: Engine) -> None:
    topics = {t.id for t in engine.bundle.topics} | {"out_of_scope", "emergency", "greeting"}
    rows = read_labelled(LABELLED)
    assert len(rows) >= 250
    assert {r["topic"] for r in rows} <= topics
    assert len({r["id"] for r in rows}) == len(rows)


def test_a_wrong_label_makes_the_evaluation_fail(understanding: Understanding) -> None:
    report = evaluate(understanding, [{"id": "t", "text": "is nh genetic", "topic": "treatment"}])
    assert report.answered_wrong == 1 and report.failures


# --- the ask command -----------------------------------------------------------------------


def _ask(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bot", "ask", *args], input=stdin, capture_output=True,
                          text=True, cwd=REPO, timeout=60)


def test_ask_json_has_every_field() -> None:
    result = _ask("--json", "is it genetic??")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert set(data) == {"text", "outcome", "topic", "answer_id", "confidence", "suggestions", "why"}
    assert (data["outcome"], data["topic"], data["answer_id"]) == ("answer", "inheritance", "is-it-genetic")
    assert 0 < data["confidence"] <= 1 and "genetic" in data["why"]


def test_ask_in_words() -> None:
    result = _ask("my baby is not breathing")
    assert result.returncode == 0
    assert result.stdout.startswith("emergency")


def test_ask_jsonl_keeps_order() -> None:
    lines = ["hello", "what causes gald", "what's the weather", "ivig", "baby not breathing"]
    result = _ask("--jsonl", stdin="\n".join(lines) + "\n")
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["text"] for r in rows] == lines
    assert [r["outcome"] for r in rows] == ["greeting", "answer", "out_of_scope", "clarify", "emergency"]
    assert rows[3]["topic"] is not None and rows[3]["suggestions"]
