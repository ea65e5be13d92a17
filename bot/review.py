"""Review reminders: answers by when they were last reviewed, oldest first, with their sources.

`validate` warns about answers older than `review_after_months` (content/topics.yaml);
`python -m bot review` lists them all so a reviewer can work through the oldest first.
"""

from __future__ import annotations

import datetime as dt

from bot.content.bundle import Bundle
from bot.content.checks import months_ago


def review_list(bundle: Bundle, older_than_months: int | None = None, today: dt.date | None = None) -> str:
    today = today or dt.date.today()
    limit = months_ago(today, older_than_months) if older_than_months is not None else None
    due_after = months_ago(today, bundle.review_after_months)
    answers = sorted(bundle.answers.values(), key=lambda a: (a.last_reviewed, a.id))
    if limit is not None:
        answers = [a for a in answers if a.last_reviewed < limit]
    if not answers:
        return f"No answers were last reviewed more than {older_than_months} months ago."
    lines = []
    for answer in answers:
        due = "  (review due)" if answer.last_reviewed < due_after else ""
        lines.append(f"{answer.last_reviewed.isoformat()}  {answer.id}  {answer.question}{due}")
        for cited in answer.sources:
            source, section = bundle.cited(cited)
            where = source.url or f"seed document {source.seed}"
            lines.append(f"    - {source.title}" + (f" (section: {section})" if section else "") + f": {where}")
    lines.append(f"\n{len(answers)} answers; reviews are due after {bundle.review_after_months} months "
                 "(review_after_months in content/topics.yaml).")
    return "\n".join(lines)
