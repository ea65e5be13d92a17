"""The validator: passes on the shipped content, and names file and line for each kind of mistake."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bot.content import ContentError, Problem, load_bundle
from tests.conftest import CONTENT, FLOWS, REPO, VECTOR_CACHE


def test_shipped_content_is_valid_without_warnings() -> None:
    bundle, warnings = load_bundle(CONTENT, FLOWS)
    assert warnings == []
    assert {t.id for t in bundle.topics} == {"overview", "cause", "inheritance", "recurrence", "treatment", "prevention", "support"}
    for topic in bundle.topics:
        assert [a for a in bundle.answers.values() if a.topic == topic.id], topic.id


def test_every_answer_has_sources_date_and_phrasings(bundle) -> None:  # noqa: ANN001
    for answer in bundle.answers.values():
        assert answer.sources and answer.last_reviewed and answer.phrasings, answer.id
        assert len(answer.text) <= 1000


def test_content_version_changes_with_any_file(tmp_path: Path) -> None:
    content, flows = tmp_path / "content", tmp_path / "flows"
    shutil.copytree(CONTENT, content)
    shutil.copytree(FLOWS, flows)
    before = load_bundle(content, flows)[0].version
    texts = content / "texts.yaml"
    texts.write_text(texts.read_text().replace("Hello.", "Hello!"))
    assert load_bundle(content, flows)[0].version != before


class Workspace:
    """A copy of the shipped content and flows to break on purpose."""

    def __init__(self, root: Path) -> None:
        self.content = root / "content"
        self.flows = root / "flows"
        shutil.copytree(CONTENT, self.content)
        shutil.copytree(FLOWS, self.flows)

    def path(self, name: str) -> Path:
        return self.flows / name if name == "main.yaml" else self.content / name

    def edit(self, name: str, old: str, new: str) -> Path:
        path = self.path(name)
        text = path.read_text(encoding="utf-8")
        assert old in text, f"{old!r} not in {name}"
        path.write_text(text.replace(old, new, 1), encoding="utf-8")
        return path

    def line_of(self, name: str, needle: str, after: str | None = None) -> int:
        lines = self.path(name).read_text(encoding="utf-8").splitlines()
        first = self.line_of(name, after) if after else 0
        for number, line in enumerate(lines[first:], start=first + 1):
            if needle in line:
                return number
        raise AssertionError(f"{needle!r} not in {name}")

    def problems(self) -> list[Problem]:
        with pytest.raises(ContentError) as info:
            load_bundle(self.content, self.flows)
        return info.value.problems

    def assert_problem(self, name: str, needle: str, message: str, after: str | None = None) -> None:
        line = self.line_of(name, needle, after)
        problems = self.problems()
        found = [p for p in problems if p.path.endswith(name) and p.line == line and message in p.message]
        assert found, f"expected {name}:{line}: ...{message}...; got:\n" + "\n".join(map(str, problems))


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    return Workspace(tmp_path)


def test_unknown_reference_suggests_the_closest_id(ws: Workspace) -> None:
    ws.edit("main.yaml", "      - to: cause\n", "      - to: cuase\n")
    ws.assert_problem("main.yaml", "to: cuase", "unknown answer or node 'cuase'; did you mean 'cause'?")


def test_unknown_related_answer(ws: Workspace) -> None:
    ws.edit("cause.yaml", "related: [not-your-fault, other-causes, is-it-genetic]", "related: [not-your-fault, other-causes, is-it-genetik]")
    ws.assert_problem("cause.yaml", "is-it-genetik", "unknown answer or node 'is-it-genetik'")


def test_unreachable_answer(ws: Workspace) -> None:
    ws.edit("main.yaml", "      - to: ivig-safety\n", "")
    ws.edit("prevention.yaml", "related: [plan-next-pregnancy, ivig-safety, recurrence-risk]", "related: [plan-next-pregnancy, recurrence-risk]")
    ws.assert_problem("prevention.yaml", "id: ivig-safety", "'ivig-safety' cannot be reached from the main menu")


def test_unreachable_menu(ws: Workspace) -> None:
    ws.edit("main.yaml", "      - to: topic-support\n", "")
    ws.assert_problem("main.yaml", "id: topic-support", "'topic-support' cannot be reached")


def test_dead_end_menu(ws: Workspace) -> None:
    ws.edit("main.yaml", """    buttons:
      - to: after-a-loss""", """    buttons: []
    old_buttons:
      - to: after-a-loss""")
    problems = ws.problems()
    assert any("has no buttons: a dead end" in p.message or "old_buttons" in p.message for p in problems)
    ws.edit("main.yaml", "    old_buttons:\n", "    #\n")


def test_dead_end_menu_alone(ws: Workspace) -> None:
    text = ws.path("main.yaml").read_text()
    start = text.index("  - id: topic-support")
    end = text.index("  - id: support-gb")
    ws.path("main.yaml").write_text(text[:start] + "  - id: topic-support\n    type: menu\n    topic: support\n    text: Support\n    buttons: []\n\n" + text[end:])
    ws.assert_problem("main.yaml", "  - id: topic-support", "menu 'topic-support' has no buttons: a dead end")


def test_duplicate_answer_id_across_files(ws: Workspace) -> None:
    ws.edit("support.yaml", "  - id: support-other-countries", "  - id: cause")
    ws.assert_problem("support.yaml", "  - id: cause", "duplicate id 'cause': already used by a answer")


def test_answer_id_clashing_with_a_menu(ws: Workspace) -> None:
    ws.edit("support.yaml", "  - id: support-other-countries", "  - id: topic-cause")
    problems = ws.problems()
    assert any("duplicate id 'topic-cause'" in p.message for p in problems)


def test_missing_sources(ws: Workspace) -> None:
    ws.edit("recurrence.yaml", "    sources: [verloes-1996, nhic-2009]\n", "    sources: []\n")
    ws.assert_problem("recurrence.yaml", "    sources: []", "every answer needs at least one source")


def test_sources_key_absent(ws: Workspace) -> None:
    ws.edit("recurrence.yaml", "    sources: [verloes-1996, nhic-2009]\n", "")
    ws.assert_problem("recurrence.yaml", "  - id: new-partner", "answers.2.sources: Field required")


def test_unknown_source_key(ws: Workspace) -> None:
    ws.edit("recurrence.yaml", "    sources: [verloes-1996, nhic-2009]", "    sources: [verloes-1969, nhic-2009]")
    ws.assert_problem("recurrence.yaml", "verloes-1969", "unknown source 'verloes-1969'; did you mean 'verloes-1996'?")


def test_bad_last_reviewed(ws: Workspace) -> None:
    ws.edit("cause.yaml", "    last_reviewed: 2026-11-22\n    phrasings:\n      - is it my fault",
            "    last_reviewed: 22/11/2026\n    phrasings:\n      - is it my fault")
    ws.assert_problem("cause.yaml", "22/11/2026", "last_reviewed")


def test_future_last_reviewed(ws: Workspace) -> None:
    ws.edit("cause.yaml", "    last_reviewed: 2026-11-22\n    phrasings:\n      - is it my fault",
            "    last_reviewed: 2999-01-01\n    phrasings:\n      - is it my fault")
    ws.assert_problem("cause.yaml", "2999-01-01", "is in the future")


def test_missing_last_reviewed(ws: Workspace) -> None:
    ws.edit("cause.yaml", "    last_reviewed: 2026-11-22\n    phrasings:\n      - is it my fault", "    phrasings:\n      - is it my fault")
    ws.assert_problem("cause.yaml", "  - id: not-your-fault", "last_reviewed: Field required")


def test_unknown_topic(ws: Workspace) -> None:
    ws.edit("cause.yaml", "topic: cause", "topic: causes")
    ws.assert_problem("cause.yaml", "topic: causes", "unknown topic 'causes'")


def test_answer_text_over_the_limit(ws: Workspace) -> None:
    ws.edit("cause.yaml", "      No. Nothing a mother does", "      " + "Word. " * 200 + "No. Nothing a mother does")
    ws.assert_problem("cause.yaml", "    text: |-", "text: String should have at most 1000 characters", after="id: not-your-fault")


def test_shared_text_over_telegram_limit(ws: Workspace) -> None:
    ws.edit("texts.yaml", "  non_text: |-\n    I can only read", "  non_text: |-\n    " + "x" * 4100 + " I can only read")
    ws.assert_problem("texts.yaml", "  non_text:", "shared text 'non_text' is 4")


def test_button_label_over_40_characters(ws: Workspace) -> None:
    ws.edit("main.yaml", "      - to: nh-and-gald\n", "      - to: nh-and-gald\n        label: A label that is far too long to read on a button\n")
    ws.assert_problem("main.yaml", "label: A label that is far too long", "at most 40 characters")


def test_question_too_long_for_a_button_without_a_label(ws: Workspace) -> None:
    ws.edit("cause.yaml", '    question: "Was it something I did?"', '    question: "Was it something I did, or something I ate while pregnant?"')
    ws.assert_problem("cause.yaml", "something I ate while pregnant", "too long for a button")


def test_id_too_long_for_callback_data(ws: Workspace) -> None:
    long_id = "a-very-long-answer-id-that-would-overflow-callback-data"
    ws.edit("support.yaml", "  - id: support-other-countries", f"  - id: {long_id}")
    ws.assert_problem("support.yaml", long_id, "String should match pattern")


def test_yaml_syntax_error(ws: Workspace) -> None:
    ws.edit("cause.yaml", '    question: "What causes NH?"', '    question: "What causes NH?\n    oops: [unclosed')
    problems = ws.problems()
    assert any(p.path.endswith("cause.yaml") and "YAML syntax error" in p.message and p.line > 1 for p in problems), problems


def test_duplicate_yaml_key(ws: Workspace) -> None:
    ws.edit("cause.yaml", '    question: "What causes NH?"\n', '    question: "What causes NH?"\n    question: "Why?"\n')
    ws.assert_problem("cause.yaml", 'question: "Why?"', "duplicate key 'question'")


def test_misspelt_field(ws: Workspace) -> None:
    ws.edit("cause.yaml", "    related: [cause, support-groups, recurrence-risk]", "    relatd: [cause, support-groups, recurrence-risk]")
    ws.assert_problem("cause.yaml", "relatd:", "unknown field 'relatd'; did you mean 'related'?")


def test_malformed_source_entry(ws: Workspace) -> None:
    ws.edit("recurrence.yaml", "    sources: [verloes-1996, nhic-2009]", '    sources: [verloes-1996, {ref: nhic-2009, sectoin: "x"}, 42]')
    problems = [str(p) for p in ws.problems()]
    line = ws.line_of("recurrence.yaml", "sectoin")
    assert any(p.endswith(f"recurrence.yaml:{line}: answers.2.sources.1.sectoin: unknown field 'sectoin'; did you mean 'section'?") for p in problems), problems
    assert any(p.endswith(f"recurrence.yaml:{line}: answers.2.sources.2: a source is a key from content/sources.yaml, or {{ref: key, section: \"...\"}}") for p in problems), problems
    assert len(problems) == 2


def test_fax_only_organisation(ws: Workspace) -> None:
    ws.edit("support.yaml", '    phone: "(604) 279-7135"\n    toll_free: "1-877-223-4766"\n    links: ["https://www.toomuchiron.ca"]\n', "")
    ws.assert_problem("support.yaml", "  - id: canadian-hs", "needs a phone, toll_free number or link")


def test_empty_organisation_field(ws: Workspace) -> None:
    ws.edit("support.yaml", '    phone: "03030 401101"', '    phone: ""')
    ws.assert_problem("support.yaml", 'phone: ""', "at least 1 character")


def test_unknown_shared_text(ws: Workspace) -> None:
    ws.edit("main.yaml", "text_ref: main_menu", "text_ref: mainmenu")
    ws.assert_problem("main.yaml", "text_ref: mainmenu", "unknown shared text 'mainmenu'; did you mean 'main_menu'?")


def test_missing_shared_text(ws: Workspace) -> None:
    ws.edit("texts.yaml", "  non_text: |-\n    I can only read text messages. Please type your question, or choose a topic below.\n", "")
    ws.assert_problem("texts.yaml", "texts:", "missing shared text(s): non_text")


def test_answer_repeating_the_disclaimer(ws: Workspace) -> None:
    ws.edit("recurrence.yaml", "      So a new partner or donor sperm does not take the risk away.",
            "      So a new partner or donor sperm does not take the risk away. This is general information, not medical advice.")
    ws.assert_problem("recurrence.yaml", "    text: |-", "repeats the disclaimer", after="id: new-partner")


def test_bad_emergency_pattern(ws: Workspace) -> None:
    ws.edit("safety.yaml", '  - "\\\\boverdos"', '  - "(unclosed"')
    ws.assert_problem("safety.yaml", '  - "(unclosed"', "not a valid regular expression")


def test_synonym_under_two_concepts(ws: Workspace) -> None:
    ws.edit("language.yaml", "  liver: [livers,", "  liver: [livers, dna,")
    ws.assert_problem("language.yaml", "  liver: [livers, dna,", "'dna' is listed under both 'genetic' and 'liver'")


def test_unknown_answer_in_scope_rules(ws: Workspace) -> None:
    ws.edit("scope.yaml", "name_only: what-is-nh", "name_only: what-is-hn")
    ws.assert_problem("scope.yaml", "name_only: what-is-hn", "unknown answer 'what-is-hn'; did you mean 'what-is-nh'?")


def test_shared_phrasing_is_a_warning(ws: Workspace) -> None:
    ws.edit("cause.yaml", "      - is it my fault\n", "      - is it my fault\n      - is nh genetic\n")
    _bundle, warnings = load_bundle(ws.content, ws.flows)
    first = ws.line_of("cause.yaml", "      - is nh genetic")
    second = ws.line_of("inheritance.yaml", "      - is nh genetic")
    (warning,) = warnings
    assert warning.warning and warning.path.endswith("inheritance.yaml") and warning.line == second
    assert f"also an example for answer 'not-your-fault' ({ws.content / 'cause.yaml'}:{first})" in warning.message.replace(str(ws.content.resolve()), str(ws.content))


def test_every_problem_is_reported_at_once(ws: Workspace) -> None:
    ws.edit("main.yaml", "      - to: cause\n", "      - to: cuase\n")
    ws.edit("main.yaml", "text_ref: main_menu", "text_ref: mainmenu")
    assert len([p for p in ws.problems() if not p.warning]) >= 2


def _validate(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "BOT_CACHE_DIR": str(VECTOR_CACHE)}
    return subprocess.run([sys.executable, "-m", "bot", "validate", *args], capture_output=True, text=True, env=env,
                          cwd=REPO, timeout=120)


def test_validate_command_succeeds_on_shipped_content() -> None:
    result = _validate()
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("ok: 24 answers in 7 topics")
    assert len(result.stdout.strip().splitlines()) == 1


def test_validate_command_prints_path_line_message_and_exits_1(ws: Workspace) -> None:
    ws.edit("main.yaml", "      - to: cause\n", "      - to: cuase\n")
    result = _validate("--content", str(ws.content), "--flows", str(ws.flows))
    assert result.returncode == 1
    line = ws.line_of("main.yaml", "to: cuase")
    assert f"main.yaml:{line}: unknown answer or node 'cuase'; did you mean 'cause'?" in result.stdout


# --- example messages, safety checks and word lists ------------------------------------------------


def test_an_example_under_an_unknown_answer_is_named_with_its_line(ws: Workspace) -> None:
    ws.edit("examples/es.yaml", "  what-is-nh:\n", "  what-is-nhh:\n")
    ws.assert_problem("examples/es.yaml", "  what-is-nhh:", "unknown answer or node 'what-is-nhh'; did you mean 'what-is-nh'?")


def test_a_stopword_that_is_also_a_concept_word_is_an_error(ws: Workspace) -> None:
    ws.edit("language.yaml", "stopwords: [mi, mis,", "stopwords: [mi, ivig, mis,")
    ws.assert_problem("language.yaml", "stopwords: [mi, ivig", "stopword 'ivig' is also a word for the concept 'ivig'")


def test_a_pattern_that_fires_on_a_not_emergency_check_is_an_error(ws: Workspace) -> None:
    ws.edit("safety.yaml", '    - "how is IVIG given in pregnancy?"', '    - "my baby has gone limp and grey"')
    ws.assert_problem("safety.yaml", '"\\\\b(floppy|limp)\\\\b"', "fires on 'my baby has gone limp and grey'")


def test_a_danger_word_under_two_kinds_is_an_error(ws: Workspace) -> None:
    ws.edit("safety.yaml", '    any:\n', '    any:\n      - "jerking"\n')
    ws.assert_problem("safety.yaml", '      - "jerking"', "danger word 'jerking' is listed under both 'medical' and 'any'",
                      after="    any:")


def test_a_pattern_with_no_check_message_is_a_warning(ws: Workspace) -> None:
    ws.edit("safety.yaml", '      - "I took an overdose"\n', "")
    _bundle, warnings = load_bundle(ws.content, ws.flows)
    line = ws.line_of("safety.yaml", '"\\\\boverdos"')
    assert any(p.line == line and "triggers none of checks.emergency" in p.message for p in warnings), warnings


def test_validate_runs_the_safety_checks_through_the_understanding(ws: Workspace) -> None:
    ws.edit("safety.yaml", '    - "will my next baby need an exchange transfusion?"',
            '    - "will my next baby need an exchange transfusion?"\n    - "mi bebé está morado y no reacciona"')
    done = _validate("--content", str(ws.content), "--flows", str(ws.flows))
    line = ws.line_of("safety.yaml", "mi bebé está morado y no reacciona")
    assert done.returncode == 1, done.stdout
    assert f"safety.yaml:{line}: checks: 'mi bebé está morado y no reacciona' should be not emergency, " \
           "but the bot reads it as emergency:medical" in done.stdout


def test_validate_flags_an_example_that_reads_like_another_answer(ws: Workspace) -> None:
    ws.edit("examples/en.yaml", "  cure:\n", '  cure:\n    - "what are the chances it happens again in our next pregnancy"\n')
    done = _validate("--content", str(ws.content), "--flows", str(ws.flows))
    line = ws.line_of("examples/en.yaml", "what are the chances it happens again in our next pregnancy")
    assert done.returncode == 0, done.stdout
    assert f"examples/en.yaml:{line}: warning: example 'what are the chances it happens again in our next pregnancy' " \
           "(under cure) reads much more like the examples of recurrence-risk" in done.stdout
