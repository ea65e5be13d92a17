"""The loaded, validated content: what the engine reads. Immutable once built."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from bot.core.semantic import Example
from bot.content.models import Answer, FlowNode, LanguageFile, Organisation, SafetyFile, ScopeFile, Source, SourceRef, Topic


@dataclass(frozen=True)
class Bundle:
    version: str  # short hash of every content and flow file: changes when any of them does
    start: str
    topics: tuple[Topic, ...]
    answers: Mapping[str, Answer]
    nodes: Mapping[str, FlowNode]  # menus and organisation lists, from flows/
    texts: Mapping[str, str]
    sources: Mapping[str, Source]
    countries: Mapping[str, str]
    organisations: Mapping[str, tuple[Organisation, ...]]  # by country code
    safety: SafetyFile
    scope: ScopeFile
    language: LanguageFile
    review_after_months: int = 12
    examples: tuple[Example, ...] = ()  # what people type, by what it means, in any language

    def exists(self, node_id: str) -> bool:
        return node_id in self.answers or node_id in self.nodes

    def label(self, node_id: str) -> str:
        """The button label for a node: its own label, its topic's, or its question."""
        if node_id in self.answers:
            return self.answers[node_id].button_label
        node = self.nodes[node_id]
        if node.label:
            return node.label
        if node.topic:
            return next(t.label for t in self.topics if t.id == node.topic)
        return node_id

    def topic_node(self, topic_id: str) -> str | None:
        return next((n.id for n in self.nodes.values() if n.topic == topic_id), None)

    def cited(self, cited: SourceRef) -> tuple[Source, str | None]:
        """Resolve one cited source to the source and the section cited, if any."""
        return self.sources[cited.ref], cited.section
