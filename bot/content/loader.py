"""Read content/ and flows/ into a Bundle, collecting every problem with its line.

File roles in content/: `topics.yaml`, `texts.yaml`, `sources.yaml`, `safety.yaml`
are special; every other `*.yaml` there is a topic file of answers. Every
`*.yaml` in flows/ is a flow file.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from bot.content import yamlsrc
from bot.content.bundle import Bundle
from bot.content.models import (
    ALL_MODELS,
    ExamplesFile,
    FlowFile,
    LanguageFile,
    SafetyFile,
    ScopeFile,
    SourcesFile,
    TextsFile,
    TopicFile,
    TopicsFile,
)
from bot.content.problems import Problem, did_you_mean, display_path
from bot.core import semantic
from bot.core.semantic import Example

EXAMPLES_DIR = "examples"  # content/examples/<language>.yaml
FIELD_NAMES = sorted({name for model in ALL_MODELS for name in model.model_fields})
SPECIAL_FILES = {
    "topics.yaml": TopicsFile,
    "texts.yaml": TextsFile,
    "sources.yaml": SourcesFile,
    "safety.yaml": SafetyFile,
    "scope.yaml": ScopeFile,
    "language.yaml": LanguageFile,
}


class ContentError(Exception):
    """Content or flows failed validation; `problems` lists every error found."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        errors = [p for p in problems if not p.warning]
        super().__init__(f"{len(errors)} problem(s) in content or flows; first: {errors[0] if errors else '-'}")


@dataclass
class Located:
    """A model with the file and raw YAML it came from, to point at lines later."""

    model: Any
    path: str
    raw: Any

    def line(self, *loc: Any) -> int:
        return yamlsrc.line_of(self.raw, loc)


@dataclass
class Loaded:
    """Everything read from disk, before cross-file checks."""

    topics: Located | None = None
    texts: Located | None = None
    sources: Located | None = None
    safety: Located | None = None
    scope: Located | None = None
    language: Located | None = None
    topic_files: list[Located] = field(default_factory=list)
    flow_files: list[Located] = field(default_factory=list)
    example_files: list[Located] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    digest: str = ""


def _format_loc(loc: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in loc)


def read_model(path: Path, model: type[BaseModel], field_names: Iterable[str] = ()) -> tuple[Any, Any, list[Problem]]:
    """Parse and check one YAML file against `model`: (parsed or None, the raw YAML, problems with lines).

    Also used for the conversation tests, so every YAML mistake reads the same way."""
    shown = display_path(path)
    try:
        raw = yamlsrc.parse(path.read_text(encoding="utf-8"))
    except yamlsrc.YamlSyntaxError as exc:
        return None, None, [Problem(shown, exc.line, str(exc))]
    except (OSError, UnicodeDecodeError) as exc:
        return None, None, [Problem(shown, 1, f"cannot read file: {exc}")]
    if not isinstance(raw, dict):
        return None, raw, [Problem(shown, 1, "expected a mapping at the top of the file")]
    try:
        return model.model_validate(raw), raw, []
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = tuple(err["loc"])
            message = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden" and loc:
                message = f"unknown field {loc[-1]!r}{did_you_mean(str(loc[-1]), field_names or FIELD_NAMES)}"
            problems.append(Problem(shown, yamlsrc.line_of(raw, loc), f"{_format_loc(loc) or '(top)'}: {message}"))
        return None, raw, problems


def _read(path: Path, model: type[BaseModel], loaded: Loaded) -> Located | None:
    parsed, raw, problems = read_model(path, model)
    loaded.problems += problems
    return Located(parsed, display_path(path), raw) if parsed is not None else None


def read_all(content_dir: Path, flows_dir: Path) -> Loaded:
    loaded = Loaded()
    digest = hashlib.sha256()
    for directory in (content_dir, flows_dir):
        if not directory.is_dir():
            loaded.problems.append(Problem(display_path(directory), 1, "directory not found"))
    content_files = sorted(content_dir.glob("*.yaml")) if content_dir.is_dir() else []
    flow_files = sorted(flows_dir.glob("*.yaml")) if flows_dir.is_dir() else []
    example_files = sorted((content_dir / EXAMPLES_DIR).glob("*.yaml")) if content_dir.is_dir() else []
    for path in (*content_files, *flow_files, *example_files):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    loaded.digest = digest.hexdigest()[:8]

    names = {p.name for p in content_files}
    for name in SPECIAL_FILES:
        if content_dir.is_dir() and name not in names:
            loaded.problems.append(Problem(display_path(content_dir / name), 1, "required file is missing"))
    for path in content_files:
        model = SPECIAL_FILES.get(path.name, TopicFile)
        located = _read(path, model, loaded)
        if located is None:
            continue
        if path.name in SPECIAL_FILES:
            setattr(loaded, path.name.removesuffix(".yaml"), located)
        else:
            loaded.topic_files.append(located)
    for path in flow_files:
        located = _read(path, FlowFile, loaded)
        if located is not None:
            loaded.flow_files.append(located)
    for path in example_files:
        located = _read(path, ExamplesFile, loaded)
        if located is not None:
            loaded.example_files.append(located)
    if flows_dir.is_dir() and not flow_files:
        loaded.problems.append(Problem(display_path(flows_dir), 1, "no flow files (*.yaml) found"))
    return loaded


def build(loaded: Loaded) -> Bundle:
    """Assemble the Bundle; only called once every check has passed."""
    answers = {}
    countries: dict[str, str] = {}
    organisations: dict[str, list] = {}
    order = [t.id for t in loaded.topics.model.topics]
    for tf in sorted(loaded.topic_files, key=lambda f: order.index(f.model.topic)):
        for answer in tf.model.answers:
            answers[answer.id] = answer.model_copy(update={"topic": tf.model.topic})
        countries.update(tf.model.countries)
        for org in tf.model.organisations:
            organisations.setdefault(org.country, []).append(org)
    nodes = {n.id: n for ff in loaded.flow_files for n in ff.model.nodes}
    start = next(ff.model.start for ff in loaded.flow_files if ff.model.start)
    return Bundle(
        version=loaded.digest,
        start=start,
        topics=tuple(loaded.topics.model.topics),
        answers=answers,
        nodes=nodes,
        texts=dict(loaded.texts.model.texts),
        sources=dict(loaded.sources.model.sources),
        countries=countries,
        organisations={k: tuple(v) for k, v in organisations.items()},
        safety=loaded.safety.model,
        scope=loaded.scope.model,
        language=loaded.language.model,
        review_after_months=loaded.topics.model.review_after_months,
        examples=tuple(examples_of(loaded, answers, nodes, organisations)),
    )


def examples_of(loaded: Loaded, answers: dict, nodes: dict, organisations: dict) -> list[Example]:
    """Every example message with what it stands for: the answers' own questions and phrasings,
    the off-topic examples of scope.yaml, organisations' names, and content/examples/*.yaml."""
    out = []
    answer_files = {a.id: tf.path for tf in loaded.topic_files for a in tf.model.answers}
    for answer in answers.values():
        out += [Example(text, answer.id, "en", answer_files[answer.id], phrasing=True)
                for text in (answer.question, *answer.phrasings)]
    for node in nodes.values():  # an organisation's name leads to its country's list
        if node.type == "organisations":
            out += [Example(org.name, node.id, "en", phrasing=True) for org in organisations.get(node.country or "", ())]
    out += [Example(text, semantic.OUT_OF_SCOPE_PREFIX + "other", "en", loaded.scope.path)
            for text in loaded.scope.model.examples]
    for located in loaded.example_files:
        model: ExamplesFile = located.model
        lang, where = model.language, located.path
        for answer_id, texts in model.answers.items():
            out += [Example(text, answer_id, lang, where) for text in texts]
        groups = (
            (semantic.OUT_OF_SCOPE_PREFIX, model.out_of_scope), (semantic.GREETING_PREFIX, model.greeting),
            (semantic.NAVIGATION_PREFIX, model.navigation), (semantic.EMERGENCY_PREFIX, model.emergency),
        )
        for prefix, group in groups:
            for kind, texts in group:
                out += [Example(text, prefix + kind, lang, where) for text in texts]
        out += [Example(text, semantic.NOT_EMERGENCY, lang, where) for text in model.not_emergency]
        out += [Example(text, semantic.CAUTION, lang, where) for text in model.caution]
    return out


def load_bundle(content_dir: Path, flows_dir: Path) -> tuple[Bundle, list[Problem]]:
    """Load and validate. Returns the bundle and any warnings; raises ContentError on errors."""
    from bot.content.checks import check  # noqa: PLC0415 - checks needs the engine, which needs Bundle

    loaded = read_all(content_dir, flows_dir)
    problems = list(loaded.problems)
    if not any(not p.warning for p in problems):
        problems += check(loaded)
    problems.sort(key=lambda p: (p.path, p.line, p.message))
    if any(not p.warning for p in problems):
        raise ContentError(problems)
    return build(loaded), problems
