"""The parts under the understanding: the sentence model's cache, the classifiers, languages, the example space."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from bot.app import sentence_model
from bot.core import classifier
from bot.core.languages import LanguageModel
from bot.core.semantic import EMERGENCY, Example, ExampleSpace
from bot.nlp.vectors import learn

EXAMPLES = [
    Example("what causes neonatal hemochromatosis", "cause"), Example("why did this happen to our baby", "cause"),
    Example("¿por qué pasa esto?", "cause", "es"), Example("will it happen again next time", "recurrence-risk"),
    Example("what are the chances for our next baby", "recurrence-risk"),
    Example("¿le pasará a mi próximo bebé?", "recurrence-risk", "es"),
    Example("my baby is not breathing", "!emergency:medical"), Example("she has gone blue and limp", "!emergency:medical"),
    Example("how does IVIG work", "!safe"),
]


class CountingModel:
    """The real sentence model, counting the texts it is asked to embed."""

    def __init__(self) -> None:
        self.model = sentence_model()
        self.name = self.model.name
        self.embedded = 0

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self.embedded += len(texts)
        return self.model.encode(texts)


def test_examples_are_embedded_once_per_content_version(tmp_path: Path) -> None:
    model = CountingModel()
    first = learn(model, EXAMPLES, tmp_path)
    assert model.embedded == len(EXAMPLES) and len(list(tmp_path.glob("examples-*.npz"))) == 1
    again = learn(model, EXAMPLES, tmp_path)
    assert model.embedded == len(EXAMPLES), "the second start reads the cache"
    assert np.array_equal(first.vectors, again.vectors) and again.topics.labels == first.topics.labels
    edited = [*EXAMPLES[:-1], Example("is IVIG a blood product", "!safe")]
    learn(model, edited, tmp_path)
    assert model.embedded == 2 * len(EXAMPLES), "an edited example makes a new content version"
    assert len(list(tmp_path.glob("examples-*.npz"))) == 1, "the old version's file is removed"


def test_a_damaged_cache_is_computed_again(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    model = CountingModel()
    learn(model, EXAMPLES, tmp_path)
    (cached,) = tmp_path.glob("examples-*.npz")
    cached.write_bytes(b"not a numpy file")
    with caplog.at_level(logging.WARNING):
        learnt = learn(model, EXAMPLES, tmp_path)
    assert model.embedded == 2 * len(EXAMPLES) and learnt.vectors.shape == (len(EXAMPLES), 512)
    assert "unreadable" in caplog.text


def test_an_unwritable_cache_folder_costs_only_time(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    blocked = tmp_path / "file-not-folder"
    blocked.write_text("")
    with caplog.at_level(logging.WARNING):
        learnt = learn(CountingModel(), EXAMPLES, blocked / "cache")
    assert learnt.vectors.shape[0] == len(EXAMPLES) and "cannot write the example cache" in caplog.text


def test_the_classifiers_learn_the_examples_and_are_deterministic() -> None:
    learnt = learn(sentence_model(), EXAMPLES, None)
    model = sentence_model()
    probabilities = learnt.topics.probabilities(model.encode(["is it going to happen again to our next child?"])[0])
    assert max(probabilities, key=probabilities.get) == "recurrence-risk"
    assert not any(label.startswith("!emergency") for label in learnt.topics.labels), "safety trains apart"
    odds = learnt.safety.probabilities(model.encode(["our son has stopped breathing"])[0])[EMERGENCY]
    assert odds > 0.5
    twice = classifier.train(learnt.vectors, [e.label for e in EXAMPLES])
    again = classifier.train(learnt.vectors, [e.label for e in EXAMPLES])
    assert np.array_equal(twice.weights, again.weights)


def test_example_space_scores_each_label_by_its_closest_examples() -> None:
    vectors = np.array([[1, 0], [0, 1], [0.8, 0.6], [0, -1]], dtype=np.float32)
    space = ExampleSpace([Example("a", "x"), Example("b", "y"), Example("c", "x"), Example("d", "y")], vectors)
    similarities = space.similarities(np.array([1, 0], dtype=np.float32))
    assert space.best(similarities) == pytest.approx({"x": 1.0, "y": 0.0})
    assert space.best(similarities, top=2) == pytest.approx({"x": 0.9, "y": 0.0})
    assert [e.text for _score, e in space.nearest(similarities, 2)] == ["a", "c"]


def test_languages_are_learnt_from_the_example_files() -> None:
    model = LanguageModel({
        "en": ["what causes it", "will it happen again", "is it genetic", "how is it treated in a newborn"],
        "es": ["qué lo causa", "volverá a pasar", "es genético", "cómo se trata en un recién nacido"],
        "pt": ["o que causa isso", "vai acontecer de novo", "é genético", "como é tratado no recém-nascido"],
    })
    assert model("¿por qué le pasa esto a mi bebé recién nacido?") == "es"
    assert model("isso vai acontecer de novo com o próximo bebê?") == "pt"
    assert model("why does this happen to newborn babies?") == "en"
    assert model("hi") is None, "too short to tell"
