"""Anonymous usage figures for editors: a readable table, JSON, or an HTML report.

Built only from `daily_counts`, which holds counts per day and nothing that links
them to a person or a session.
"""

from __future__ import annotations

import html
from collections import Counter
from dataclasses import dataclass, field

from bot.content.bundle import Bundle

OUTCOMES = ("answer", "clarify", "out_of_scope", "emergency", "greeting")


@dataclass
class Figures:
    days: int
    first_day: str | None = None
    last_day: str | None = None
    sessions_started: int = 0
    answers: Counter[str] = field(default_factory=Counter)
    menus: Counter[str] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)
    feedback: dict[str, Counter[str]] = field(default_factory=dict)
    never_reached: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return {
            "days": self.days,
            "first_day": self.first_day,
            "last_day": self.last_day,
            "sessions_started": self.sessions_started,
            "answers_shown": dict(self.answers.most_common()),
            "menu_paths": dict(self.menus.most_common()),
            "free_text_outcomes": {o: self.outcomes.get(o, 0) for o in OUTCOMES},
            "feedback": {a: {"up": c.get("up", 0), "down": c.get("down", 0)} for a, c in sorted(self.feedback.items())},
            "never_reached": self.never_reached,
        }


def summarise(rows: list[tuple[str, str, str, int]], bundle: Bundle, days: int) -> Figures:
    figures = Figures(days=days)
    for day, metric, item, count in rows:
        figures.first_day = min(figures.first_day or day, day)
        figures.last_day = max(figures.last_day or day, day)
        if metric == "session_started":
            figures.sessions_started += count
        elif metric == "answer_shown":
            figures.answers[item] += count
        elif metric == "menu_path":
            figures.menus[item] += count
        elif metric == "outcome":
            figures.outcomes[item] += count
        elif metric == "feedback":
            answer_id, _, vote = item.rpartition(":")
            figures.feedback.setdefault(answer_id, Counter())[vote] += count
    figures.never_reached = [a for a in bundle.answers if figures.answers[a] == 0]
    return figures


def _share(part: int, whole: int) -> str:
    return f"{part / whole:.0%}" if whole else "-"


def render_text(figures: Figures, bundle: Bundle) -> str:
    period = f"{figures.first_day} to {figures.last_day}" if figures.first_day else "no activity"
    lines = [f"Usage in the last {figures.days} day(s): {period}", f"Chats started: {figures.sessions_started}", ""]
    lines.append("Top answers shown:")
    for answer_id, count in figures.answers.most_common(10):
        question = bundle.answers[answer_id].question if answer_id in bundle.answers else answer_id
        lines.append(f"  {count:>6}  {question}")
    if not figures.answers:
        lines.append("  (none)")
    total = sum(figures.outcomes.values())
    lines += ["", f"Typed questions: {total}"]
    for outcome in OUTCOMES:
        count = figures.outcomes.get(outcome, 0)
        lines.append(f"  {outcome:<13} {count:>6}  {_share(count, total):>4}")
    lines += ["", "Feedback (helpful / not helpful):"]
    for answer_id, votes in sorted(figures.feedback.items(), key=lambda kv: -sum(kv[1].values())):
        question = bundle.answers[answer_id].question if answer_id in bundle.answers else answer_id
        lines.append(f"  {votes.get('up', 0):>4} / {votes.get('down', 0):<4} {question}")
    if not figures.feedback:
        lines.append("  (none)")
    lines += ["", f"Answers never shown ({len(figures.never_reached)}):"]
    lines += [f"  {bundle.answers[a].question}" for a in figures.never_reached] or ["  (none)"]
    return "\n".join(lines)


def _bars(title: str, items: list[tuple[str, int]], colour: str) -> str:
    """A horizontal bar chart as inline SVG: no scripts, no external files."""
    if not items:
        return f"<h2>{html.escape(title)}</h2><p>No data.</p>"
    top = max(count for _, count in items) or 1
    row, label_width, bar_width = 26, 330, 360
    parts = [f'<svg role="img" aria-label="{html.escape(title)}" width="{label_width + bar_width + 70}" '
             f'height="{row * len(items) + 10}">']
    for index, (label, count) in enumerate(items):
        y = index * row + 5
        width = max(2, round(bar_width * count / top))
        parts.append(f'<text x="{label_width - 8}" y="{y + 17}" text-anchor="end" font-size="13">{html.escape(label[:48])}</text>')
        parts.append(f'<rect x="{label_width}" y="{y + 4}" width="{width}" height="18" fill="{colour}" rx="3"/>')
        parts.append(f'<text x="{label_width + width + 6}" y="{y + 17}" font-size="13">{count}</text>')
    parts.append("</svg>")
    return f"<h2>{html.escape(title)}</h2>" + "".join(parts)


def render_html(figures: Figures, bundle: Bundle) -> str:
    def question(answer_id: str) -> str:
        return bundle.answers[answer_id].question if answer_id in bundle.answers else answer_id

    period = f"{figures.first_day} to {figures.last_day}" if figures.first_day else "no activity"
    sections = [
        _bars("Answers shown", [(question(a), c) for a, c in figures.answers.most_common(15)], "#3b7dd8"),
        _bars("Typed questions by outcome", [(o, figures.outcomes.get(o, 0)) for o in OUTCOMES], "#6a9f3a"),
        _bars("Helpful (👍)", [(question(a), v.get("up", 0)) for a, v in sorted(figures.feedback.items())], "#2e9e6b"),
        _bars("Not helpful (👎)", [(question(a), v.get("down", 0)) for a, v in sorted(figures.feedback.items())], "#d8643b"),
        _bars("Menus opened", [(bundle.label(m) if bundle.exists(m) else m, c) for m, c in figures.menus.most_common(15)], "#8a6bd8"),
    ]
    never = "".join(f"<li>{html.escape(question(a))}</li>" for a in figures.never_reached) or "<li>None</li>"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>NH guide: usage</title>
<style>body{{font-family:system-ui,sans-serif;max-width:900px;margin:2em auto;color:#222}}
h2{{margin-top:1.6em;font-size:1.1em}}</style></head><body>
<h1>NH guide: usage in the last {figures.days} day(s)</h1>
<p>{html.escape(period)}. Chats started: <strong>{figures.sessions_started}</strong>.
These are counts only: nothing here links to a person.</p>
{"".join(sections)}
<h2>Answers never shown</h2><ul>{never}</ul>
</body></html>
"""
