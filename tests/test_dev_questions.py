"""The shared dev questions (../shared/eval): emergencies always caught, no confident wrong topic.

Out-of-scope detection (other diseases, personal diagnoses, doses) is issue 3's
work; until then those rows are only checked for emergencies.
"""

from __future__ import annotations

import json

import pytest

from bot.content.bundle import Bundle
from bot.core.engine import Engine
from bot.core.model import Start, Text
from tests.conftest import REPO

DEV = REPO.parent / "shared" / "eval" / "dev-questions.jsonl"
ROWS = [json.loads(line) for line in DEV.read_text().splitlines() if line.strip()] if DEV.exists() else []

pytestmark = pytest.mark.skipif(not ROWS, reason="../shared/eval/dev-questions.jsonl is not beside this checkout")


def topic_of(bundle: Bundle, node: str) -> str | None:
    if node in bundle.answers:
        return bundle.answers[node].topic
    flow_node = bundle.nodes[node]
    return "support" if flow_node.type == "organisations" else flow_node.topic


@pytest.mark.parametrize("row", ROWS, ids=[r["id"] for r in ROWS])
def test_dev_question(engine: Engine, bundle: Bundle, row: dict) -> None:
    text, expected = row["text"], row["topic"]
    event = Start() if text == "/start" else Text(text)
    result = engine.step(None, event)
    if expected == "emergency":
        assert result.outcome == "emergency"
        assert result.replies[0].kind == "urgent"
        return
    assert result.outcome != "emergency", "an ordinary question must not get the urgent-care reply"
    if expected == "greeting":
        assert result.outcome in {"greeting", "start"}
    elif expected != "out_of_scope" and result.outcome == "answer":
        assert topic_of(bundle, result.state.node) == expected, f"confident answer from the wrong topic: {result.state.node}"
