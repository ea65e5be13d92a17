"""Free-text understanding: reading text, emergencies, scope, and the labelled regression set."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bot.core.engine import Engine
from bot.core.matching import fold, stem
from bot.core.text import WordList
from bot.core.understanding import Understanding
from bot.evaluate import TARGETS, evaluate, meets, read_labelled
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
    known, _unknown = understanding.index.query("taking vitamins while grieving")
    assert "talking" not in known and "giving" not in known, "a real word is never 'corrected' to another"


@pytest.mark.parametrize(("text", "folded"), [
    ("¿Qué ES la HEMOCROMATOSIS?? 🤰", "que es la hemocromatosis"), ("baby’s liver!!!", "babys liver"),
    ("Мой ребёнок не дышит", "мой ребенок не дышит"), ("طفلي لا يتنفس", "طفلي لا يتنفس"),
    ("मेरा बच्चा", "मेरा बच्चा"), ("宝宝不呼吸了", "宝宝不呼吸了"), ("שלום", "שלום"),
    ("Straße, œuvre, søster, Łódź", "strasse oeuvre soster lodz"), ("ℹ️ info 👍🏽", "i info"),
])
def test_folding_keeps_every_script(text: str, folded: str) -> None:
    assert fold(text) == folded


# --- emergencies -------------------------------------------------------------------

EMERGENCIES = [
    "my baby is not breathing", "HELP baby not breathing properly!!", "baby's lips are turning blue",
    "our 2 day old feels cold to the touch and hasn't fed since this morning",
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
    # Bereaved parents speak of death in ordinary ways: support, not the crisis text.
    "our daughter died of NH in the spring and we buried her last week. who can we talk to?",
    "it would have been his first birthday today and I can't stop crying. is there a group for parents like us?",
    "we said goodbye to him in the NICU on sunday",
    "we lost our little boy at 35 weeks, he was stillborn two years ago",
    "my wife is really not coping since the baby died",
]


# In the languages of the example files; written for these tests, not copied from the example files.
EMERGENCIES_BY_LANGUAGE = {
    "es": "mi hija de dos días no respira bien y está morada", "pt": "o meu bebé está a convulsionar agora",
    "fr": "mon fils a du sang dans ses selles et il est tout mou", "de": "unser Baby ist ganz schlapp und wird nicht wach",
    "it": "il mio bambino non respira, aiuto", "nl": "mijn baby ademt niet meer en is blauw",
    "pl": "moje dziecko nie oddycha", "ru": "ребёнок посинел и не дышит", "tr": "bebeğim nefes almıyor ve morardı",
    "ar": "طفلي لا يتنفس ولونه أزرق", "zh": "我的宝宝抽搐了，叫不醒", "ja": "赤ちゃんの唇が紫色で、呼吸していないみたい",
}
CRISES_BY_LANGUAGE = {
    "en": "I have the pills lined up and I'm going to take them tonight",
    "es": "ya no quiero seguir viviendo sin mi bebé", "pt": "não aguento mais, quero morrer",
    "fr": "je pense à me suicider depuis sa mort", "de": "ich will mich umbringen", "ru": "я не хочу больше жить",
}


@pytest.mark.parametrize("text", EMERGENCIES)
def test_emergencies_are_detected(understanding: Understanding, text: str) -> None:
    verdict = understanding.classify(text)
    assert verdict.outcome == "emergency", verdict
    assert verdict.why and verdict.urgent_kind in {"medical", "pregnancy", "crisis"}


@pytest.mark.parametrize("language", sorted(EMERGENCIES_BY_LANGUAGE))
def test_medical_emergencies_in_each_language(understanding: Understanding, language: str) -> None:
    verdict = understanding.classify(EMERGENCIES_BY_LANGUAGE[language])
    assert (verdict.outcome, verdict.urgent_kind) == ("emergency", "medical"), verdict


@pytest.mark.parametrize("language", sorted(CRISES_BY_LANGUAGE))
def test_a_person_in_crisis_is_told_apart_from_a_medical_emergency(understanding: Understanding, language: str) -> None:
    verdict = understanding.classify(CRISES_BY_LANGUAGE[language])
    assert (verdict.outcome, verdict.urgent_kind) == ("emergency", "crisis"), verdict


def test_reduced_movements_in_pregnancy_are_a_pregnancy_emergency(understanding: Understanding) -> None:
    verdict = understanding.classify("I'm 35 weeks and the baby has hardly moved all day")
    assert (verdict.outcome, verdict.urgent_kind) == ("emergency", "pregnancy"), verdict


@pytest.mark.parametrize(("text", "kind"), [
    ("our newborn keeps jerking on one side for a minute at a time, three times now", "medical"),
    ("i have been cutting myself every night since the funeral", "crisis"),
    ("my waters have broken and I am only 30 weeks", "pregnancy"),
    ("she did not wake up for her feed and she feels very cold", "medical"),
])
def test_a_danger_word_of_one_kind_chooses_the_urgent_text(understanding: Understanding, text: str, kind: str) -> None:
    verdict = understanding.classify(text)
    assert (verdict.outcome, verdict.urgent_kind) == ("emergency", kind), verdict


def test_a_danger_word_in_a_general_question_gets_caution_not_an_alarm(understanding: Understanding) -> None:
    for text in ("can NH make a baby bleed?", "what signs after the transplant mean we should call an ambulance?"):
        verdict = understanding.classify(text)
        assert verdict.outcome != "emergency" and verdict.caution, (text, verdict)
    assert not understanding.classify("what causes NH?").caution


# Written for these tests; a danger word ("sangra", "convulsi") alone made each an emergency.
GENERAL_QUESTIONS_BY_LANGUAGE = {
    "es": "¿es normal que los bebés con HN sangren por el ombligo?", "pt": "por que bebês com GALD sangram tanto?",
    "fr": "pourquoi les bébés atteints d'HN saignent-ils ?", "de": "warum bluten Babys mit NH so leicht?",
    "it": "la EN può causare convulsioni nei neonati?", "pl": "jakie są objawy krwawienia przy NH?",
}


@pytest.mark.parametrize("language", sorted(GENERAL_QUESTIONS_BY_LANGUAGE))
def test_a_general_question_about_a_danger_sign_is_no_alarm_in_any_language(
    understanding: Understanding, language: str
) -> None:
    assert understanding.classify(GENERAL_QUESTIONS_BY_LANGUAGE[language]).outcome != "emergency"


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

# Floors per set, a little under what `make eval` measures now (docs/understanding.md has the figures
# and the targets, which dev-questions-v2 does not all meet yet). Safety floors have no slack.
FLOORS = {
    "dev-questions-v2.jsonl": {"emergency_urgent_first": 1.0, "emergency_recall": 0.92, "emergency_false_alarms": 0.01,
                               "caution_on_others": 0.05, "answer_right_topic": 0.75, "right_topic_one_tap": 0.92,
                               "answer_wrong_topic": 0.05, "out_of_scope_answered": 0.04, "greetings_recognised": 0.96},
    "dev-questions.jsonl": {"emergency_urgent_first": 1.0, "emergency_recall": 1.0, "emergency_false_alarms": 0.02,
                            "caution_on_others": 0.05, "answer_right_topic": 0.88, "right_topic_one_tap": 0.92,
                            "answer_wrong_topic": 0.05, "out_of_scope_answered": 0.0, "greetings_recognised": 1.0},
}
DEFAULT_FLOORS = {"emergency_urgent_first": 1.0, "emergency_recall": 1.0, "emergency_false_alarms": 0.01,
                  "caution_on_others": 0.05, "answer_right_topic": 0.78, "right_topic_one_tap": 0.93,
                  "answer_wrong_topic": 0.03, "out_of_scope_answered": 0.0, "greetings_recognised": 1.0}


@pytest.mark.parametrize("path", LABELLED, ids=[p.name for p in LABELLED])
def test_regression_set_meets_thresholds(understanding: Understanding, path: Path) -> None:
    report = evaluate(understanding, read_labelled([path]))
    figures = report.figures()
    for name, bound in FLOORS.get(path.name, DEFAULT_FLOORS).items():
        op = TARGETS[name][0]
        value = figures[name]
        assert meets(value, (op, bound)), f"{path.name}: {name} = {value:.1%} (needs {op} {bound:.0%})\n" + "\n".join(report.failures)


def test_regression_sets_are_labelled_with_known_topics(engine: Engine) -> None:
    topics = {t.id for t in engine.bundle.topics} | {"out_of_scope", "emergency", "greeting"}
    rows = read_labelled(LABELLED)
    assert len(rows) >= 550
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
    assert set(data) == {"text", "outcome", "urgent_kind", "caution", "topic", "answer_id", "suggestions",
                         "suggestion_topics", "confidence", "language", "why"}
    assert (data["outcome"], data["topic"], data["answer_id"]) == ("answer", "inheritance", "is-it-genetic")
    assert 0 < data["confidence"] <= 1 and data["why"]
    assert (data["urgent_kind"], data["caution"]) == (None, False)


def test_ask_jsonl_reports_kinds_languages_and_suggestion_topics_with_context() -> None:
    lines = ["quiero quitarme la vida esta noche", "je suis enceinte de 30 semaines et je saigne beaucoup",
             "ivig", "how often?"]
    result = _ask("--jsonl", "--context", "prevention-ivig", stdin="\n".join(lines) + "\n")
    assert result.returncode == 0, result.stderr
    crisis, pregnancy, vague, follow_up = (json.loads(line) for line in result.stdout.splitlines())
    assert (crisis["outcome"], crisis["urgent_kind"], crisis["language"]) == ("emergency", "crisis", "es")
    assert (pregnancy["outcome"], pregnancy["urgent_kind"], pregnancy["language"]) == ("emergency", "pregnancy", "fr")
    assert vague["outcome"] == "clarify" and len(vague["suggestion_topics"]) == len(vague["suggestions"]) >= 2
    assert follow_up["outcome"] == "clarify" and "prevention-ivig" not in follow_up["suggestions"]


def test_ask_rejects_an_unknown_context() -> None:
    result = _ask("--json", "--context", "no-such-node", "is it safe")
    assert result.returncode == 2 and "no-such-node" in result.stderr


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


def test_a_blank_line_or_a_bare_number_is_no_greeting(understanding: Understanding) -> None:
    for text in ("", "   ", "123", "42!"):
        assert understanding.classify(text).outcome != "greeting", text
    assert understanding.classify("🙂").outcome == "greeting"


@pytest.mark.parametrize(("text", "kind"), [
    ("thanks so much for explaining all of this, I feel a little calmer tonight", "thanks"),
    ("muchas gracias, me ha ayudado mucho a entender lo que nos dijeron", "thanks"),
])
def test_a_longer_thanks_or_goodbye_is_still_a_greeting(understanding: Understanding, text: str, kind: str) -> None:
    verdict = understanding.classify(text)
    assert (verdict.outcome, verdict.reason) == ("greeting", kind), verdict


def test_thanks_with_a_question_gets_the_answer(understanding: Understanding) -> None:
    verdict = understanding.classify("thank you for that, and is it something we could pass on to our children?")
    assert verdict.outcome != "greeting", verdict


def test_word_list_finds_word_beginnings_whole_short_words_and_unspaced_scripts() -> None:
    words = WordList([("convuls", "medical"), ("blu", "medical"), ("not breathing", "medical"),
                      ("not breath", "any"), ("suicid", "crisis"), ("抽搐", "medical")], short=4)
    assert words.find("he is convulsing and not breathing") == [  # every word found, the longest first at a place
        ("convuls", "medical"), ("not breathing", "medical"), ("not breath", "any")]
    assert words.find("reconvulsed") == []  # not at a word's start
    assert words.find("blue book") == [] and words.find("e diventato blu") == [("blu", "medical")]
    assert words.find("宝宝抽搐了") == [("抽搐", "medical")]
    assert words.find("i feel suicidal") == [("suicid", "crisis")]
    assert WordList([], short=4).find("anything") == []
