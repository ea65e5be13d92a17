"""Conversation tests written in YAML (tests/conversations): the shipped ones pass, cover the content,
and a wrong expectation or a broken content edit fails with the file, the line and what was shown."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bot.content import ContentError, load_bundle
from bot.content.bundle import Bundle
from bot.content.problems import display_path
from bot.conversations import Report, run_paths
from bot.core.engine import Engine

REPO = Path(__file__).resolve().parent.parent
CONVERSATIONS = REPO / "tests" / "conversations"


@pytest.fixture(scope="module")
def shipped(engine: Engine) -> Report:
    return run_paths(engine, [CONVERSATIONS])


def test_the_shipped_conversations_pass(shipped: Report) -> None:
    assert shipped.passed, "\n".join(map(str, shipped.failures))
    assert shipped.conversations >= 10 and shipped.steps >= 50


def test_they_show_every_answer_menu_and_support_country(shipped: Report, bundle: Bundle) -> None:
    missing = (set(bundle.answers) | set(bundle.nodes)) - shipped.visited
    assert not missing, f"no conversation test shows {sorted(missing)}: add one to tests/conversations"


def test_a_wrong_expectation_fails_with_the_line_and_what_was_shown(tmp_path: Path, engine: Engine) -> None:
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text(
        "conversations:\n"
        "  - name: a deliberately wrong test\n"
        "    steps:\n"
        "      - send: is it genetic\n"
        "        expect:\n"
        "          answer: cause\n"
        "          contains: [not caused by a gene, something it never says]\n"
        "      - press: No such button\n"
        "      - send: never reached\n",
        encoding="utf-8",
    )
    report = run_paths(engine, [wrong])
    assert not report.passed and report.steps == 2, "the steps after a missing button are not run"
    step, missing_button = map(str, report.failures)
    assert step.startswith(f"{wrong}:5: 'a deliberately wrong test', step 1 (send 'is it genetic'):\n")
    assert "\n  expected the reply to contain 'something it never says'\n" in step
    assert "\n  expected the answer 'cause', got ['is-it-genetic']\n" in step
    assert "not caused by a gene" not in step.split("shown:")[0], "the expectation that held is not reported"
    assert "  shown: 'Is NH genetic or inherited?" in step and "outcome: answer" in step
    assert missing_button.startswith(f"{wrong}:8: ") and "there is no button 'No such button'" in missing_button
    assert "buttons shown: [" in missing_button


def test_mistakes_in_the_test_file_itself_are_named(tmp_path: Path, engine: Engine) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        "conversations:\n"
        "  - name: typo in a field\n"
        "    steps:\n"
        "      - send: hello\n"
        "        expect: {outcom: greeting}\n"
        "      - press: x\n"
        "        send: y\n"
        "  - name: unknown outcome\n"
        "    steps:\n"
        "      - send: hello\n"
        "        expect: {outcome: greting}\n",
        encoding="utf-8",
    )
    problems = [str(p) for p in run_paths(engine, [broken]).failures]
    assert any(p.startswith(f"{broken}:5: ") and "unknown field 'outcom'; did you mean 'outcome'?" in p for p in problems)
    assert any(p.startswith(f"{broken}:6: ") and "exactly one of `send`, `press` or `command`" in p for p in problems)
    assert any(p.startswith(f"{broken}:11: ") and "unknown outcome 'greting'; did you mean 'greeting'?" in p
               for p in problems)


def _copy_content(tmp_path: Path) -> tuple[Path, Path]:
    content, flows = tmp_path / "content", tmp_path / "flows"
    shutil.copytree(REPO / "content", content)
    shutil.copytree(REPO / "flows", flows)
    return content, flows


def test_a_renamed_answer_id_fails_validation_at_each_reference(tmp_path: Path) -> None:
    content, flows = _copy_content(tmp_path)
    path = content / "cause.yaml"
    path.write_text(path.read_text().replace("  - id: cause\n", "  - id: causes\n", 1))
    with pytest.raises(ContentError) as caught:
        load_bundle(content, flows)
    problems = [str(p) for p in caught.value.problems]
    main = next(p for p in problems if "main.yaml" in p)
    line = next(n for n, text in enumerate((flows / "main.yaml").read_text().splitlines(), 1) if text.strip() == "- to: cause")
    assert f"main.yaml:{line}: " in main and "'cause'" in main and "did you mean 'causes'?" in main


def test_a_removed_follow_up_fails_the_conversation_that_used_it(tmp_path: Path) -> None:
    content, flows = _copy_content(tmp_path)
    path = content / "cause.yaml"
    text = path.read_text()
    assert "related: [not-your-fault, other-causes, is-it-genetic]" in text
    path.write_text(text.replace("related: [not-your-fault, other-causes, is-it-genetic]", "related: [not-your-fault, is-it-genetic]"))
    bundle, _ = load_bundle(content, flows)  # still valid content: the answer is reachable from its menu
    report = run_paths(Engine(bundle), [CONVERSATIONS / "topics.yaml"])
    expected_button, pressed = [str(f) for f in report.failures]
    for failure in (expected_button, pressed):
        assert failure.startswith(f"{display_path(CONVERSATIONS / 'topics.yaml')}:")
    assert "expected a button 'Other causes I read about?'" in expected_button
    assert "there is no button 'Other causes I read about?'" in pressed


def test_the_command_reports_and_exits_non_zero(tmp_path: Path) -> None:
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text("conversations:\n  - name: x\n    steps:\n      - send: hello\n        expect: {outcome: answer}\n")
    done = subprocess.run([sys.executable, "-m", "bot", "test-conversations", str(wrong)], cwd=REPO,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "expected the outcome 'answer', got 'greeting'" in done.stdout and "1 failed" in done.stdout
    passing = subprocess.run([sys.executable, "-m", "bot", "test-conversations"], cwd=REPO,
                             capture_output=True, text=True, timeout=60)
    assert passing.returncode == 0 and "all passed" in passing.stdout
