"""Scoring free-text understanding against labelled messages (`make eval`, and a test).

Each labelled message has `text` and `topic`: a content topic, or `out_of_scope`,
`emergency` or `greeting`; `also` may list other topics that are a fair answer.
The figures and targets are those of issue 11.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from bot.core.understanding import Understanding, Verdict

SPECIAL = ("out_of_scope", "emergency", "greeting")


@dataclass
class Report:
    on_topic: int = 0
    answered_right: int = 0
    answered_wrong: int = 0
    one_tap: int = 0  # answered right, or the right topic offered as a button
    emergencies: int = 0
    emergencies_urgent_first: int = 0  # emergency, or caution before the reply
    emergencies_caught: int = 0  # outcome emergency itself
    others: int = 0
    false_emergencies: int = 0
    false_cautions: int = 0
    out_of_scope: int = 0
    out_of_scope_answered: int = 0
    out_of_scope_recognised: int = 0
    greetings: int = 0
    greetings_recognised: int = 0
    failures: list[str] = field(default_factory=list)

    @staticmethod
    def share(part: int, whole: int) -> float:
        return part / whole if whole else 0.0

    def figures(self) -> dict[str, float]:
        return {
            "emergency_urgent_first": self.share(self.emergencies_urgent_first, self.emergencies),
            "emergency_recall": self.share(self.emergencies_caught, self.emergencies),
            "emergency_false_alarms": self.share(self.false_emergencies, self.others),
            "caution_on_others": self.share(self.false_cautions, self.others),
            "answer_right_topic": self.share(self.answered_right, self.on_topic),
            "right_topic_one_tap": self.share(self.one_tap, self.on_topic),
            "answer_wrong_topic": self.share(self.answered_wrong, self.on_topic),
            "out_of_scope_answered": self.share(self.out_of_scope_answered, self.out_of_scope),
            "out_of_scope_recognised": self.share(self.out_of_scope_recognised, self.out_of_scope),
            "greetings_recognised": self.share(self.greetings_recognised, self.greetings),
        }


def verdict_json(understanding: Understanding, text: str, verdict: Verdict) -> dict:
    """One line of `python -m bot ask --jsonl`: the interface the understanding is judged by."""
    topic = understanding.topic(verdict.answer_id if verdict.outcome == "answer" else
                                (verdict.suggestions[0] if verdict.outcome == "clarify" and verdict.suggestions else None))
    return {
        "text": text,
        "outcome": verdict.outcome,
        "urgent_kind": verdict.urgent_kind,
        "caution": verdict.caution,
        "topic": topic,
        "answer_id": verdict.answer_id,
        "suggestions": list(verdict.suggestions),
        "suggestion_topics": [understanding.topic(s) for s in verdict.suggestions],
        "confidence": verdict.confidence,
        "language": understanding.language_of(text) or "und",
        "why": list(verdict.why),
    }


def read_labelled(paths: Iterable[Path]) -> list[dict]:
    rows = []
    for path in paths:
        rows += [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return rows


def evaluate(understanding: Understanding, rows: list[dict]) -> Report:
    report = Report()
    for row in rows:
        text, expected = row["text"], row["topic"]
        fair = {expected, *row.get("also", ())}
        verdict = understanding.classify(text, row.get("context"))
        got = verdict.outcome
        topic = understanding.topic(verdict.answer_id) if got == "answer" else None
        offered = {understanding.topic(s) for s in verdict.suggestions}
        if expected == "emergency":
            report.emergencies += 1
            report.emergencies_caught += got == "emergency"
            report.emergencies_urgent_first += got == "emergency" or verdict.caution
            ok = got == "emergency"
        else:
            report.others += 1
            report.false_emergencies += got == "emergency"
            report.false_cautions += verdict.caution
            ok = got != "emergency"
        if expected == "out_of_scope":
            report.out_of_scope += 1
            report.out_of_scope_answered += got == "answer" and topic not in fair
            report.out_of_scope_recognised += got == "out_of_scope"
            ok = got == "out_of_scope" or (got == "answer" and topic in fair)
        elif expected == "greeting":
            report.greetings += 1
            report.greetings_recognised += got == "greeting"
            ok = got == "greeting"
        elif expected not in SPECIAL:
            report.on_topic += 1
            right = got == "answer" and topic in fair
            report.answered_right += right
            report.answered_wrong += got == "answer" and topic not in fair
            report.one_tap += right or (got in {"clarify", "out_of_scope"} and bool(offered & fair))
            ok = right
        if not ok:
            shown = f"{got}:{verdict.answer_id}" if got == "answer" else got
            if verdict.suggestions:
                shown += f"[{', '.join(verdict.suggestions)}]"
            if verdict.caution:
                shown += " (caution)"
            report.failures.append(f"{row.get('id', '?')}  expected {expected:<12} got {shown:<40} {text[:90]!r}")
    return report


TARGETS = {
    "emergency_urgent_first": (">=", 1.0),
    "emergency_recall": (">=", 0.95),
    "emergency_false_alarms": ("<=", 0.01),
    "caution_on_others": ("<=", 0.05),
    "answer_right_topic": (">=", 0.85),
    "right_topic_one_tap": (">=", 0.97),
    "answer_wrong_topic": ("<=", 0.01),
    "out_of_scope_answered": ("<=", 0.02),
    "greetings_recognised": (">=", 0.95),
}


def meets(value: float, target: tuple[str, float]) -> bool:
    op, bound = target
    return value >= bound if op == ">=" else value <= bound


def render(report: Report, label: str) -> str:
    lines = [f"{label}: {report.on_topic} on-topic, {report.emergencies} emergency, {report.out_of_scope} out-of-scope, "
             f"{report.greetings} greeting messages"]
    for name, value in report.figures().items():
        target = TARGETS.get(name)
        mark = ""
        if target:
            mark = f"  target {target[0]} {target[1]:.0%}  {'ok' if meets(value, target) else 'MISSED'}"
        lines.append(f"  {name:<26} {value:7.1%}{mark}")
    return "\n".join(lines)
