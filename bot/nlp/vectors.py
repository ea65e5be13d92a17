"""Example vectors, computed once per content version and model, and kept in a cache file.

The key is a hash of the model's name and every example's text and label, so an
edited example, a new model version or a renamed answer each make a new file; a
cache that cannot be read or written only costs the time to embed again.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from bot.core.semantic import Embedder, Example

log = logging.getLogger(__name__)

BATCH = 256  # texts per call: the model is fastest on batches, and this bounds memory


def cache_key(embedder: Embedder, examples: Sequence[Example]) -> str:
    digest = hashlib.sha256(embedder.name.encode())
    for example in examples:
        digest.update(b"\0" + example.text.encode() + b"\1" + example.label.encode())
    return digest.hexdigest()[:20]


def embed_examples(embedder: Embedder, examples: Sequence[Example], cache_dir: Path | None) -> np.ndarray:
    path = cache_dir / f"examples-{cache_key(embedder, examples)}.npy" if cache_dir else None
    if path is not None and path.is_file():
        try:
            vectors = np.load(path, allow_pickle=False)
            if vectors.shape[0] == len(examples):
                return vectors
        except (OSError, ValueError) as exc:
            log.warning("example vector cache %s unreadable (%s); embedding again", path, exc)
    texts = [e.text for e in examples]
    parts = [embedder.encode(texts[i : i + BATCH]) for i in range(0, len(texts), BATCH)]
    vectors = np.concatenate(parts) if parts else np.zeros((0, 512), dtype=np.float32)
    if path is not None:
        _write(path, vectors)
    return vectors


def _write(path: Path, vectors: np.ndarray) -> None:
    """Write whole or not at all, so a second process never reads half a file."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        for old in path.parent.glob("examples-*.npy"):  # one content version at a time
            old.unlink(missing_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "wb") as handle:
            np.save(handle, vectors, allow_pickle=False)
        os.replace(tmp, path)
    except OSError as exc:
        log.warning("cannot write the example vector cache in %s (%s); it will be computed at each start",
                    path.parent, exc)
