"""Typed models of the content and flow files.

The same models check the files (`python -m bot validate`), feed the engine, and
generate the editors' JSON Schemas. Field limits here are the per-field rules;
cross-file rules (references, reachability, Telegram limits) live in `checks.py`.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, field_validator, model_validator

# Ids appear in callback data and deep links (t.me/<bot>?start=<id>), which allow only these.
ID_PATTERN = r"^[a-z0-9][a-z0-9-]{0,39}$"
SEED_PATTERN = r"^\d{3}_[0-9a-f]{16}\.txt$"

# "About 1,000 characters": an answer must fit on a phone screen or two.
MAX_ANSWER_CHARS = 1000
MAX_LABEL_CHARS = 40

Id = Annotated[str, StringConstraints(pattern=ID_PATTERN)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
Label = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_LABEL_CHARS)]
Url = Annotated[str, StringConstraints(pattern=r"^https?://[^\s]+$")]

REQUIRED_TEXTS = (
    "disclaimer",
    "welcome",
    "main_menu",
    "help",
    "privacy",
    "non_text",
    "menu_changed",
    "unknown_command",
    "forget_done",
    "group_chat",
    "clarify",
    "clarify_topic",
    "not_understood",
    "error",
    "about",
    "urgent_care",
    "urgent_pregnancy",
    "urgent_crisis",
    "caution_line",
    "unreadable",
    "thanks",
    "goodbye",
    "greeting",
    "privacy_no_typing",
    "privacy_unmatched",
    "feedback_thanks",
    "out_of_scope",
    "out_of_scope_personal",
    "out_of_scope_hfe",
)


class Strict(BaseModel):
    # Unknown keys are typos ("sorces:"), so they are errors, not ignored.
    model_config = ConfigDict(extra="forbid", frozen=True)


class Source(Strict):
    title: Text
    url: Url | None = None
    seed: Annotated[str, StringConstraints(pattern=SEED_PATTERN)] | None = None

    @model_validator(mode="after")
    def _one_location(self) -> Source:
        if (self.url is None) == (self.seed is None):
            raise ValueError("a source needs exactly one of `url` (public source) or `seed` (seed file name)")
        return self


class SourceRef(Strict):
    ref: Text
    section: Text | None = None


def _cited(value: object) -> object:
    """A cited source is a key from sources.yaml, or {ref: key, section: ...}."""
    if isinstance(value, str):
        return {"ref": value}
    if isinstance(value, dict):
        return value
    raise ValueError("a source is a key from content/sources.yaml, or {ref: key, section: \"...\"}")


# json_schema_input_type: the editor schema (`python -m bot schema`) accepts the short form too.
CitedSource = Annotated[SourceRef, BeforeValidator(_cited, json_schema_input_type=str | SourceRef)]


def _not_in_future(value: dt.date) -> dt.date:
    if value > dt.date.today():
        raise ValueError(f"last_reviewed {value.isoformat()} is in the future")
    return value


class Answer(Strict):
    id: Id
    question: Text
    label: Label | None = None
    text: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_ANSWER_CHARS)]
    related: list[Id] = Field(default_factory=list, max_length=6)
    sources: list[CitedSource] = Field(min_length=1)
    last_reviewed: dt.date
    phrasings: list[Text] = Field(default_factory=list)
    topic: str = ""  # set from the file's `topic:` by the loader

    _check_date = field_validator("last_reviewed")(_not_in_future)

    @property
    def button_label(self) -> str:
        return self.label or self.question

    @field_validator("sources", mode="before")
    @classmethod
    def _sources_present(cls, value: object) -> object:
        if value is None or value == []:
            raise ValueError("every answer needs at least one source")
        return value


class Organisation(Strict):
    id: Id
    name: Text
    country: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]
    focus: Text
    nh_relevant: bool
    address: Text | None = None
    phone: Text | None = None
    toll_free: Text | None = None
    links: list[Url] = Field(default_factory=list)
    note: Text | None = None
    sources: list[CitedSource] = Field(min_length=1)
    last_reviewed: dt.date

    _check_date = field_validator("last_reviewed")(_not_in_future)

    @model_validator(mode="after")
    def _reachable(self) -> Organisation:
        # A fax-only entry helps nobody: a family needs a phone number or a website.
        if not (self.phone or self.toll_free or self.links):
            raise ValueError(f"organisation {self.id!r} needs a phone, toll_free number or link")
        return self


class TopicFile(Strict):
    topic: Id
    answers: list[Answer] = Field(min_length=1)
    countries: dict[Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")], Label] = Field(default_factory=dict)
    organisations: list[Organisation] = Field(default_factory=list)


class Topic(Strict):
    id: Id
    label: Label


class TopicsFile(Strict):
    review_after_months: int = Field(default=12, ge=1, le=60)
    topics: list[Topic] = Field(min_length=1)


class TextsFile(Strict):
    texts: dict[str, Text]

    @field_validator("texts")
    @classmethod
    def _required(cls, texts: dict[str, str]) -> dict[str, str]:
        missing = [key for key in REQUIRED_TEXTS if key not in texts]
        if missing:
            raise ValueError(f"missing shared text(s): {', '.join(missing)}")
        return texts


class SourcesFile(Strict):
    sources: dict[Annotated[str, StringConstraints(pattern=ID_PATTERN)], Source]


def _compiles(pattern: str) -> str:
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"pattern {pattern!r} is not a valid regular expression: {exc}") from None
    return pattern


Pattern = Annotated[str, StringConstraints(min_length=1), AfterValidator(_compiles)]
Word = Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True, min_length=1)]


class HfeRule(Strict):
    patterns: list[Pattern] = Field(min_length=1)
    compare: list[Pattern] = Field(default_factory=list)
    answer: Id


class ScopeFile(Strict):
    anchors: list[Pattern] = Field(min_length=1)
    name_only: Id
    personal: list[Pattern] = Field(default_factory=list)
    hfe: HfeRule
    unless_nh: list[Pattern] = Field(default_factory=list)
    examples: list[Text] = Field(default_factory=list)


class LanguageFile(Strict):
    spelling: dict[Word, Word] = Field(default_factory=dict)
    synonyms: dict[Word, list[Word]] = Field(default_factory=dict)
    weights: dict[Word, Annotated[float, Field(gt=0, le=3)]] = Field(default_factory=dict)
    stopwords: list[Word] = Field(default_factory=list)
    greetings: list[Word] = Field(default_factory=list)


Messages = list[Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=600)]]


class OutOfScopeExamples(Strict):
    personal: Messages = Field(default_factory=list)  # "does my baby have it?", a dose, lab results
    hfe: Messages = Field(default_factory=list)  # adult hereditary hemochromatosis on its own
    other: Messages = Field(default_factory=list)  # other illnesses, everyday baby care, anything else


class GreetingExamples(Strict):
    hello: Messages = Field(default_factory=list)
    thanks: Messages = Field(default_factory=list)
    bye: Messages = Field(default_factory=list)


class NavigationExamples(Strict):
    menu: Messages = Field(default_factory=list)
    back: Messages = Field(default_factory=list)


class EmergencyExamples(Strict):
    medical: Messages = Field(default_factory=list)  # a baby or child in danger now
    pregnancy: Messages = Field(default_factory=list)  # a pregnant mother or her unborn baby in danger now
    crisis: Messages = Field(default_factory=list)  # thoughts of suicide or self-harm, an overdose, a plan


class ExamplesFile(Strict):
    """content/examples/<language>.yaml: what people type, in one language, by what it means."""

    language: Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}$")]
    answers: dict[Id, Messages] = Field(default_factory=dict)
    out_of_scope: OutOfScopeExamples = Field(default_factory=OutOfScopeExamples)
    greeting: GreetingExamples = Field(default_factory=GreetingExamples)
    navigation: NavigationExamples = Field(default_factory=NavigationExamples)
    emergency: EmergencyExamples = Field(default_factory=EmergencyExamples)
    not_emergency: Messages = Field(default_factory=list)  # danger words, but not an emergency now
    caution: Messages = Field(default_factory=list)  # a general question about a danger sign


class SafetyChecks(Strict):
    """Messages `validate` runs through the whole understanding: each must come out as listed.
    Write them yourself, unlike the example files, so they test what the bot learnt."""

    emergency: EmergencyExamples = Field(default_factory=lambda: EmergencyExamples())
    caution: Messages = Field(default_factory=list)  # not an emergency, but a safety-net line first
    not_emergency: Messages = Field(default_factory=list)


class DangerWords(Strict):
    """One language's danger words, by the help they call for. A word of one kind also decides
    which urgent text a message gets (a word for a fit: the medical one, even when the sentence
    model finds it closest to a crisis example)."""

    medical: list[Word] = Field(default_factory=list)  # a baby, child or adult in physical danger now
    pregnancy: list[Word] = Field(default_factory=list)  # signs only a pregnancy has (waters, kicks)
    crisis: list[Word] = Field(default_factory=list)  # suicide, self-harm, a plan
    any: list[Word] = Field(default_factory=list)  # danger of any kind ("ambulance", "overdose")

    def by_kind(self) -> dict[str, list[str]]:
        return {"medical": self.medical, "pregnancy": self.pregnancy, "crisis": self.crisis, "any": self.any}


class SafetyFile(Strict):
    crisis: list[Pattern] = Field(min_length=1)
    urgent: list[Pattern] = Field(min_length=1)
    general_question: list[Pattern] = Field(default_factory=list)
    pregnancy: list[Pattern] = Field(default_factory=list)
    born: list[Pattern] = Field(default_factory=list)
    # language code -> words or word beginnings that may mean danger now, matched on folded text:
    # by kind, or a plain list (kind `any`)
    danger_words: dict[Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}$")], DangerWords | list[Word]] = \
        Field(default_factory=dict)
    checks: SafetyChecks = Field(default_factory=SafetyChecks)

    def danger_words_by_kind(self) -> dict[str, list[str]]:
        """Every language's danger words, by kind (`medical`, `pregnancy`, `crisis`, `any`)."""
        kinds: dict[str, list[str]] = {"medical": [], "pregnancy": [], "crisis": [], "any": []}
        for words in self.danger_words.values():
            listed = words.by_kind() if isinstance(words, DangerWords) else {"any": words}
            for kind, found in listed.items():
                kinds[kind] += found
        return kinds


class ButtonSpec(Strict):
    to: Id
    label: Label | None = None


class FlowNode(Strict):
    id: Id
    type: Literal["menu", "organisations"]
    label: Label | None = None
    topic: Id | None = None
    text: Text | None = None
    text_ref: Text | None = None
    buttons: list[ButtonSpec] = Field(default_factory=list)
    country: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")] | None = None

    @model_validator(mode="after")
    def _shape(self) -> FlowNode:
        if self.type == "menu":
            if not self.buttons:
                raise ValueError(f"menu {self.id!r} has no buttons: a dead end")
            if (self.text is None) == (self.text_ref is None):
                raise ValueError(f"menu {self.id!r} needs exactly one of `text` or `text_ref`")
        if self.type == "organisations" and not self.country:
            raise ValueError(f"organisations node {self.id!r} needs a `country`")
        return self


class FlowFile(Strict):
    start: Id | None = None
    nodes: list[FlowNode] = Field(min_length=1)


ALL_MODELS: tuple[type[BaseModel], ...] = (
    Source, SourceRef, Answer, Organisation, TopicFile, Topic, TopicsFile, TextsFile, SourcesFile,
    SafetyFile, HfeRule, ScopeFile, LanguageFile, ButtonSpec, FlowNode, FlowFile,
    OutOfScopeExamples, GreetingExamples, NavigationExamples, EmergencyExamples, ExamplesFile, SafetyChecks,
)
