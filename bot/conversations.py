"""Conversation tests written in YAML by content editors, run against the real engine.

A file holds `conversations:`, each a name and steps. A step is one thing a person does
(`send:` a typed message, `press:` a button by its label, `command:` such as `/start cause`)
and what the bot must then show (`expect:`). See content/README.md for a worked example.

The runner drives the same engine the bot runs (no Telegram, no database), and reports
each broken expectation as `path:line: conversation, step: what was expected / what was
shown`, so an editor can go straight to the line.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, get_args

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from bot.content import yamlsrc
from bot.content.loader import read_model
from bot.content.problems import Problem, did_you_mean, display_path
from bot.core.engine import Engine
from bot.core.model import Command, Event, Outcome, Press, Reply, SessionState, Start, StepResult, Text

OUTCOMES = frozenset(get_args(Outcome))
SHOWN_CHARACTERS = 300  # how much of what the bot said a failure report quotes


def _as_list(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


Phrases = Annotated[list[str], BeforeValidator(_as_list, json_schema_input_type=str | list[str])]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Expect(_Strict):
    contains: Phrases = Field(default_factory=list, description="Text every one of these must appear in.")
    not_contains: Phrases = Field(default_factory=list, description="Text none of these may appear in.")
    first_contains: str | None = Field(None, description="Text the first message must contain (emergency wording first).")
    buttons: Phrases = Field(default_factory=list, description="Button labels that must be shown.")
    not_buttons: Phrases = Field(default_factory=list, description="Button labels that must not be shown.")
    outcome: str | None = Field(None, description="What the bot made of the step: answer, clarify, out_of_scope, ...")
    answer: str | None = Field(None, description="The id of the answer that must be shown.")
    disclaimer: bool | None = Field(None, description="true: the disclaimer must be shown; false: it must not.")
    replies: int | None = Field(None, ge=0, description="How many messages the bot sends.")

    @model_validator(mode="after")
    def _known_outcome(self) -> Expect:
        if self.outcome is not None and self.outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {self.outcome!r}{did_you_mean(self.outcome, OUTCOMES)}")
        return self


class Step(_Strict):
    send: str | None = Field(None, description="A message the person types.")
    press: str | None = Field(None, description="The label of a button on the bot's last message.")
    command: str | None = Field(None, pattern=r"^/", description="A command, e.g. /start or /start cause.")
    expect: Expect = Field(default_factory=Expect)

    @model_validator(mode="after")
    def _one_action(self) -> Step:
        if sum(x is not None for x in (self.send, self.press, self.command)) != 1:
            raise ValueError("a step needs exactly one of `send`, `press` or `command`")
        return self

    def describe(self) -> str:
        if self.send is not None:
            return f"send {self.send!r}"
        if self.press is not None:
            return f"press {self.press!r}"
        return f"command {self.command}"


class Conversation(_Strict):
    name: str = Field(min_length=1)
    steps: list[Step] = Field(min_length=1)


class ConversationFile(_Strict):
    conversations: list[Conversation] = Field(min_length=1)


@dataclass
class Report:
    conversations: int = 0
    steps: int = 0
    failures: list[Problem] = field(default_factory=list)
    visited: set[str] = field(default_factory=set)  # answers and menus shown: what the tests cover

    @property
    def passed(self) -> bool:
        return not self.failures

    def summary(self) -> str:
        if self.passed:
            return f"{self.conversations} conversations, {self.steps} steps: all passed"
        return (f"{len(self.failures)} failed; {self.conversations} conversations, {self.steps} steps run")


def conversation_files(paths: list[Path]) -> list[Path]:
    found: list[Path] = []
    for path in paths:
        found += sorted(path.glob("*.yaml")) if path.is_dir() else [path]
    return found


def run_paths(engine: Engine, paths: list[Path]) -> Report:
    report = Report()
    for path in conversation_files(paths):
        run_file(engine, path, report)
    return report


def run_file(engine: Engine, path: Path, report: Report) -> None:
    parsed, raw, problems = read_model(path, ConversationFile, _FIELDS)
    report.failures += problems
    if parsed is None:
        return
    for index, conversation in enumerate(parsed.conversations):
        report.conversations += 1
        run_conversation(engine, conversation, report, display_path(path),
                         lambda *loc, i=index: yamlsrc.line_of(raw, ("conversations", i, *loc)))


def run_conversation(engine: Engine, conversation: Conversation, report: Report, path: str,
                     line_of: Callable[..., int]) -> None:
    """Play one conversation; `line_of(*where)` gives the line of a part of it, for the report."""
    state: SessionState | None = None
    shown: tuple[Reply, ...] = ()
    for number, step in enumerate(conversation.steps, start=1):
        report.steps += 1
        heading = f"{conversation.name!r}, step {number} ({step.describe()})"
        event, problem = _event(step, shown)
        if event is None:
            report.failures.append(Problem(path, line_of("steps", number - 1), f"{heading}: {problem}"))
            return  # later steps depend on this one
        result = engine.step(state, event)
        report.visited.update(r.answer_id for r in result.replies if r.answer_id)
        if result.state is not None and result.replies:
            report.visited.add(result.state.node)
        state = None if result.forget else result.state
        shown = result.replies or shown  # a rating sends no message: the buttons stay as they were
        broken = _check(engine, step.expect, result)
        if broken:  # one report per step: every broken expectation, then what was shown
            expected = "\n".join(f"  {message}" for message in broken)
            report.failures.append(Problem(path, line_of("steps", number - 1, "expect"),
                                           f"{heading}:\n{expected}\n{_show(result)}"))


def _event(step: Step, shown: tuple[Reply, ...]) -> tuple[Event | None, str]:
    if step.send is not None:
        return Text(step.send), ""
    if step.command is not None:
        head, _, rest = step.command.partition(" ")
        name = head[1:].lower()
        return (Start(rest.strip() or None) if name == "start" else Command(name)), ""
    labels = [b.label for reply in shown for row in reply.buttons for b in row]
    for reply in reversed(shown):
        for row in reply.buttons:
            for button in row:
                if button.label == step.press:
                    return Press(button.data), ""
    if not labels:
        return None, f"there is no button {step.press!r}: the last message had no buttons"
    return None, f"there is no button {step.press!r}{did_you_mean(step.press or '', labels)}\n  buttons shown: {labels}"


def _check(engine: Engine, expect: Expect, result: StepResult) -> list[str]:
    text = _text(result.replies)
    labels = {b.label for reply in result.replies for row in reply.buttons for b in row}
    answers = [r.answer_id for r in result.replies if r.answer_id]
    problems = []
    problems += [f"expected the reply to contain {p!r}" for p in expect.contains if p.lower() not in text.lower()]
    problems += [f"expected the reply not to contain {p!r}" for p in expect.not_contains if p.lower() in text.lower()]
    if expect.first_contains is not None:
        first = _text(result.replies[:1])
        if expect.first_contains.lower() not in first.lower():
            problems.append(f"expected the first message to contain {expect.first_contains!r}")
    problems += [f"expected a button {b!r}{did_you_mean(b, labels)}" for b in expect.buttons if b not in labels]
    problems += [f"expected no button {b!r}" for b in expect.not_buttons if b in labels]
    if expect.outcome is not None and result.outcome != expect.outcome:
        problems.append(f"expected the outcome {expect.outcome!r}, got {result.outcome!r}")
    if expect.answer is not None and expect.answer not in answers:
        known = "" if expect.answer in engine.bundle.answers else \
            f" (no answer has that id{did_you_mean(expect.answer, engine.bundle.answers)})"
        problems.append(f"expected the answer {expect.answer!r}{known}, got {answers or 'no answer'}")
    if expect.disclaimer is not None:
        present = engine.bundle.texts["disclaimer"] in text
        if present != expect.disclaimer:
            problems.append("expected the disclaimer" if expect.disclaimer else "expected no disclaimer")
    if expect.replies is not None and len(result.replies) != expect.replies:
        problems.append(f"expected {expect.replies} messages, got {len(result.replies)}")
    return problems


def _text(replies: tuple[Reply, ...]) -> str:
    return "\n\n".join(f"{r.title}\n\n{r.text}" if r.title else r.text for r in replies)


def _show(result: StepResult) -> str:
    text = " ".join(_text(result.replies).split())
    if len(text) > SHOWN_CHARACTERS:
        text = text[:SHOWN_CHARACTERS] + "…"
    labels = [b.label for reply in result.replies for row in reply.buttons for b in row]
    answers = [r.answer_id for r in result.replies if r.answer_id]
    return f"  shown: {text!r}\n  buttons: {labels}\n  outcome: {result.outcome}; answer: {answers or 'none'}"


_FIELDS = tuple({*Expect.model_fields, *Step.model_fields, *Conversation.model_fields, "conversations"})
