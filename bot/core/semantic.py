"""Meaning by example: how close a message is to each kind of example message. Pure.

Editors write example messages in any language (content/examples/); an `Embedder`
turns each into a vector once per content version, and a message is compared with
all of them by cosine similarity. A label is what an example stands for: an answer
or node id, or one of the special labels below.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

# Special labels; everything else is an answer or node id.
EMERGENCY_PREFIX = "!emergency:"  # !emergency:medical, !emergency:pregnancy, !emergency:crisis
CAUTION = "!caution"  # a general question about a danger sign
NOT_EMERGENCY = "!safe"  # danger words that are not an emergency now (past events, grief, questions)
OUT_OF_SCOPE_PREFIX = "!out:"  # !out:personal, !out:hfe, !out:other
# The safety classifier's two classes.
EMERGENCY = "!emergency"
ORDINARY = "!ordinary"
GREETING_PREFIX = "!greet:"  # !greet:hello, !greet:thanks, !greet:bye
NAVIGATION_PREFIX = "!nav:"  # !nav:menu, !nav:back


def is_topic_label(label: str) -> bool:
    """Labels the topic classifier learns: answers, organisation lists, off-topic kinds, greetings.
    Emergency, caution and not-emergency examples train the safety check only."""
    return not label.startswith((EMERGENCY_PREFIX, CAUTION, NOT_EMERGENCY))


class Embedder(Protocol):
    """A sentence-embedding model: texts in, one L2-normalised row per text out."""

    @property
    def name(self) -> str:
        """The model and its version: part of the cache key for example vectors."""
        ...

    def encode(self, texts: Sequence[str]) -> np.ndarray: ...


@dataclass(frozen=True)
class Example:
    text: str
    label: str
    language: str = "en"
    source: str = ""  # the file it is written in, to point editors at it
    phrasing: bool = False  # an answer's own question or phrasing (topic files), not content/examples/


class ExampleSpace:
    """Example vectors grouped by label, for one content version."""

    def __init__(self, examples: Sequence[Example], vectors: np.ndarray) -> None:
        if len(examples) != len(vectors):
            raise ValueError(f"{len(examples)} examples but {len(vectors)} vectors")
        order = sorted(range(len(examples)), key=lambda i: examples[i].label)
        self.examples = [examples[i] for i in order]
        self.vectors = np.ascontiguousarray(vectors[order], dtype=np.float32)
        labels = [e.label for e in self.examples]
        self.labels = list(dict.fromkeys(labels))
        self._starts = np.array([labels.index(label) for label in self.labels], dtype=np.intp)

    def __len__(self) -> int:
        return len(self.examples)

    def similarities(self, query: np.ndarray) -> np.ndarray:
        """Of one query vector to every example; of a (queries, dimensions) matrix, one row per query."""
        return query @ self.vectors.T

    def best(self, similarities: np.ndarray, top: int = 1) -> dict[str, float]:
        """Per label, the mean similarity of its `top` closest examples (one stray example weighs less)."""
        if not len(self.examples):
            return {}
        if top == 1:
            return self.best_of_rows(similarities.reshape(1, -1))[0]
        ends = [*self._starts[1:].tolist(), len(similarities)]
        out = {}
        for label, start, end in zip(self.labels, self._starts.tolist(), ends, strict=True):
            part = similarities[start:end]
            k = min(top, len(part))
            out[label] = float(np.partition(part, len(part) - k)[len(part) - k:].mean())
        return out

    def best_of_rows(self, similarities: np.ndarray) -> list[dict[str, float]]:
        """`best` with `top` 1 for each row of a (queries, examples) matrix."""
        if not len(self.examples):
            return [{} for _ in similarities]
        peaks = np.maximum.reduceat(similarities, self._starts, axis=1)
        return [dict(zip(self.labels, row, strict=True)) for row in peaks.tolist()]

    def top_mean_of_rows(self, similarities: np.ndarray, labels: Sequence[str], top: int) -> list[dict[str, float]]:
        """For each row of a (queries, examples) matrix, per label in `labels`, the mean similarity of
        its `top` closest examples."""
        out: list[dict[str, float]] = [{} for _ in similarities]
        ends = [*self._starts[1:].tolist(), similarities.shape[1]]
        for label, start, end in zip(self.labels, self._starts.tolist(), ends, strict=True):
            if label not in labels:
                continue
            part = similarities[:, start:end]
            k = min(top, part.shape[1])
            means = np.partition(part, part.shape[1] - k, axis=1)[:, part.shape[1] - k:].mean(axis=1)
            for row, value in zip(out, means.tolist(), strict=True):
                row[label] = value
        return out

    def nearest(self, similarities: np.ndarray, count: int = 5) -> list[tuple[float, Example]]:
        if not len(self.examples):
            return []
        top = np.argsort(-similarities)[:count]
        return [(float(similarities[i]), self.examples[i]) for i in top]
