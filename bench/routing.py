"""Routing speed: how long understanding one typed message takes, as the bot runs it (with the
sentence model, the classifier and the lexical index; issue 11's target is p99 under 25 ms).

Measured on the labelled messages in tests/data, with the shipped content and with a
synthetic content set of 1,000 answers built from it (the same phrasings under new ids,
with every word given a per-answer suffix so the index really grows). For the synthetic set
the classifier's weights are random: its cost depends on the number of answers, not on the
weights, and training 1,000 classes would take minutes. Its answers are meaningless; only the
time counts.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import numpy as np

from bot.app import sentence_model, understanding_for
from bot.content import load_bundle
from bot.content.bundle import Bundle
from bot.core.classifier import LinearClassifier
from bot.core.semantic import EMERGENCY, ORDINARY, Example, ExampleSpace, is_topic_label
from bot.core.understanding import Senses, Understanding
from bot.evaluate import read_labelled
from bot.nlp.vectors import embed

REPO = Path(__file__).resolve().parent.parent
CACHE = REPO / ".cache" / "vectors"


def synthetic_bundle(bundle: Bundle, size: int) -> Bundle:
    answers = dict(bundle.answers)
    examples = list(bundle.examples)
    originals = list(bundle.answers.values())
    index = 0
    while len(answers) < size:
        source = originals[index % len(originals)]
        tag = f"x{index}"
        phrasings = [" ".join(f"{w}{tag}" if i % 2 else w for i, w in enumerate(p.split())) for p in source.phrasings]
        answers[f"{source.id}-{tag}"] = source.model_copy(update={"id": f"{source.id}-{tag}", "phrasings": phrasings})
        examples += [Example(text, f"{source.id}-{tag}") for text in phrasings]
        index += 1
    return Bundle(**{**bundle.__dict__, "answers": answers, "examples": tuple(examples)})


def understanding(bundle: Bundle, trained: bool) -> Understanding:
    """The shipped content as the bot loads it; a synthetic one with untrained (random) weights."""
    if trained:
        return understanding_for(bundle, CACHE)
    embedder = sentence_model()
    vectors = embed(embedder, [e.text for e in bundle.examples])
    labels = tuple(sorted({e.label for e in bundle.examples if is_topic_label(e.label)}))
    rng = np.random.default_rng(11)
    topics = LinearClassifier(labels, rng.normal(size=(vectors.shape[1], len(labels))), np.zeros(len(labels)))
    safety = LinearClassifier((EMERGENCY, ORDINARY), rng.normal(size=(vectors.shape[1], 2)), np.zeros(2))
    return Understanding(bundle, Senses(embedder, ExampleSpace(bundle.examples, vectors), topics, safety))


def time_routing(understanding: Understanding, texts: list[str], rounds: int) -> list[float]:
    for text in texts:  # warm the typo cache, as a running bot would be
        understanding.classify(text)
    samples = []
    for _ in range(rounds):
        for text in texts:
            start = time.perf_counter()
            understanding.classify(text)
            samples.append((time.perf_counter() - start) * 1000)
    return samples


def percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def run(rounds: int = 5) -> dict[str, dict[str, float]]:
    bundle, _ = load_bundle(REPO / "content", REPO / "flows")
    texts = [row["text"] for row in read_labelled(sorted((REPO / "tests" / "data").glob("*.jsonl")))]
    results = {}
    for label, subject, trained in (("shipped content", bundle, True),
                                    ("1,000 answers", synthetic_bundle(bundle, 1000), False)):
        start = time.perf_counter()
        reader = understanding(subject, trained)
        build = (time.perf_counter() - start) * 1000
        samples = time_routing(reader, texts, rounds)
        results[label] = {
            "answers": len(subject.answers),
            "messages": len(samples),
            "build_ms": round(build, 1),
            "p50_ms": round(statistics.median(samples), 3),
            "p99_ms": round(percentile(samples, 0.99), 3),
            "max_ms": round(max(samples), 3),
        }
    return results


if __name__ == "__main__":
    for label, figures in run().items():
        print(f"{label:<16} " + "  ".join(f"{k} {v}" for k, v in figures.items()))
