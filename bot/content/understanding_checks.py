"""Checks that need the sentence model: what `python -m bot validate` adds after the content loads.

- Every message in safety.yaml's `checks:` comes out as listed (emergency of its kind, caution,
  or not an emergency): an error otherwise, because these are the safety promises.
- An example message of an answer that sits much closer to another answer's examples than to its
  own is flagged (a warning): it is probably under the wrong answer, or says two things.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from bot.content.problems import Problem, display_path
from bot.core.understanding import Understanding

# How much closer (cosine to the centroid of each label's examples) another label must be to warn.
MISPLACED_MARGIN = 0.25


def check_understanding(understanding: Understanding, content_dir: Path) -> list[Problem]:
    return _check_safety_messages(understanding, content_dir) + _misplaced_examples(understanding)


def _check_safety_messages(understanding: Understanding, content_dir: Path) -> list[Problem]:
    path = content_dir / "safety.yaml"
    checks = understanding.bundle.safety.checks
    expected: list[tuple[str, str]] = [(text, f"emergency:{kind}") for kind, texts in checks.emergency for text in texts]
    expected += [(text, "caution") for text in checks.caution] + [(text, "not emergency") for text in checks.not_emergency]
    problems = []
    for text, want in expected:
        verdict = understanding.classify(text)
        got = f"emergency:{verdict.urgent_kind}" if verdict.outcome == "emergency" else \
            "caution" if verdict.caution else "not emergency"
        if got != want:
            problems.append(Problem(display_path(path), _line_of(path, text),
                                    f"checks: {text!r} should be {want}, but the bot reads it as {got}"))
    return problems


def _misplaced_examples(understanding: Understanding) -> list[Problem]:
    space = understanding.space
    if space is None:
        return []
    # Answers and menus only: off-topic examples are near the answers on purpose (hard negatives).
    labels = [label for label in space.labels if not label.startswith("!")]
    rows = {label: [i for i, e in enumerate(space.examples) if e.label == label] for label in labels}
    centroids = np.stack([space.vectors[rows[label]].mean(axis=0) for label in labels])
    centroids /= np.linalg.norm(centroids, axis=1, keepdims=True)
    problems = []
    for own, label in enumerate(labels):
        closeness = space.vectors[rows[label]] @ centroids.T
        for row, scores in zip(rows[label], closeness, strict=True):
            other = int(scores.argmax())
            if other != own and scores[other] - scores[own] >= MISPLACED_MARGIN:
                example = space.examples[row]
                path = Path(example.source)
                problems.append(Problem(
                    example.source, _line_of(path, example.text) if path.is_file() else 1,
                    f"example {example.text!r} (under {label}) reads much more like the examples of {labels[other]}",
                    warning=True))
    return problems


def _line_of(path: Path, text: str) -> int:
    """The line where a message is written, quoted or not; 1 if it cannot be found."""
    quoted = json.dumps(text, ensure_ascii=False)
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if quoted in line or line.strip().removeprefix("- ") == text:
            return number
    return 1
