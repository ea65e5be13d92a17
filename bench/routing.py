"""Routing speed: how long understanding one typed message takes (issue 3's targets).

Measured on the labelled messages in tests/data, with the shipped content and with a
synthetic content set of 1,000 answers built from it (the same phrasings under new ids,
with every word given a per-answer suffix so the index really grows).
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

from bot.content import load_bundle
from bot.content.bundle import Bundle
from bot.core.understanding import Understanding
from bot.evaluate import read_labelled

REPO = Path(__file__).resolve().parent.parent


def synthetic_bundle(bundle: Bundle, size: int) -> Bundle:
    answers = dict(bundle.answers)
    originals = list(bundle.answers.values())
    index = 0
    while len(answers) < size:
        source = originals[index % len(originals)]
        tag = f"x{index}"
        phrasings = [" ".join(f"{w}{tag}" if i % 2 else w for i, w in enumerate(p.split())) for p in source.phrasings]
        answers[f"{source.id}-{tag}"] = source.model_copy(update={"id": f"{source.id}-{tag}", "phrasings": phrasings})
        index += 1
    return Bundle(**{**bundle.__dict__, "answers": answers})


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
    for label, subject in (("shipped content", bundle), ("1,000 answers", synthetic_bundle(bundle, 1000))):
        start = time.perf_counter()
        understanding = Understanding(subject)
        build = (time.perf_counter() - start) * 1000
        samples = time_routing(understanding, texts, rounds)
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
