"""Example vectors and the classifiers trained on them, computed once per content version and model.

They are kept in one cache file. The key is a hash of the model's name and every
example's text and label, so an edited example, a new model version or a renamed
answer each make a new file; a cache that cannot be read or written only costs the
time to compute again (about four seconds).
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bot.core import classifier
from bot.core.classifier import LinearClassifier
from bot.core.semantic import (
    EMERGENCY,
    EMERGENCY_PREFIX,
    ORDINARY,
    Embedder,
    Example,
    is_topic_label,
)

log = logging.getLogger(__name__)

BATCH = 256  # texts per call: the model is fastest on batches, and this bounds memory
FORMAT = "3"  # bump when what is cached changes
# The safety classifier: emergency or not. A smaller logit scale than the topic classifier's, so
# its log-odds spread over a range thresholds can be set in (docs/understanding.md).
SAFETY_SCALE = 5.0
SAFETY_EPOCHS = 400


def cache_key(embedder: Embedder, examples: Sequence[Example]) -> str:
    digest = hashlib.sha256(f"{FORMAT}\0{embedder.name}".encode())
    for example in examples:
        digest.update(b"\0" + example.text.encode() + b"\1" + example.label.encode())
    return digest.hexdigest()[:20]


def embed(embedder: Embedder, texts: Sequence[str]) -> np.ndarray:
    parts = [embedder.encode(texts[i : i + BATCH]) for i in range(0, len(texts), BATCH)]
    return np.concatenate(parts) if parts else np.zeros((0, 512), dtype=np.float32)


@dataclass(frozen=True)
class Learnt:
    vectors: np.ndarray  # one row per example, in order
    topics: LinearClassifier  # answers, off-topic kinds, greetings
    safety: LinearClassifier  # EMERGENCY or ORDINARY


def learn(embedder: Embedder, examples: Sequence[Example], cache_dir: Path | None) -> Learnt:
    """The examples' vectors and the two classifiers trained on them: from the cache, or computed."""
    path = cache_dir / f"examples-{cache_key(embedder, examples)}.npz" if cache_dir else None
    if path is not None and path.is_file():
        try:
            with np.load(path, allow_pickle=False) as saved:
                if saved["vectors"].shape[0] == len(examples):
                    return Learnt(saved["vectors"], _model(saved, "topics"), _model(saved, "safety"))
        except (OSError, ValueError, KeyError) as exc:
            log.warning("example cache %s unreadable (%s); computing again", path, exc)
    vectors = embed(embedder, [e.text for e in examples])
    chosen = [i for i, e in enumerate(examples) if is_topic_label(e.label)]
    topics = classifier.train(vectors[chosen], [examples[i].label for i in chosen])
    safety = classifier.train(vectors, [EMERGENCY if e.label.startswith(EMERGENCY_PREFIX) else ORDINARY for e in examples],
                              scale=SAFETY_SCALE, epochs=SAFETY_EPOCHS)
    if path is not None:
        _write(path, vectors=vectors, **_arrays(topics, "topics"), **_arrays(safety, "safety"))
    return Learnt(vectors, topics, safety)


def _arrays(model: LinearClassifier, name: str) -> dict[str, np.ndarray]:
    return {f"{name}_labels": np.array(model.labels), f"{name}_weights": model.weights,
            f"{name}_bias": model.bias, f"{name}_scale": np.array(model.scale)}


def _model(saved: np.lib.npyio.NpzFile, name: str) -> LinearClassifier:
    return LinearClassifier(tuple(saved[f"{name}_labels"].tolist()), saved[f"{name}_weights"],
                            saved[f"{name}_bias"], float(saved[f"{name}_scale"]))


def _write(path: Path, **arrays: np.ndarray) -> None:
    """Write whole or not at all, so a second process never reads half a file."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        for old in path.parent.glob("examples-*.np[yz]"):  # one content version at a time
            old.unlink(missing_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "wb") as handle:
            np.savez(handle, **arrays)
        os.replace(tmp, path)
    except OSError as exc:
        log.warning("cannot write the example cache in %s (%s); it will be computed at each start", path.parent, exc)
