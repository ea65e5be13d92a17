"""A softmax (multinomial logistic) regression over sentence vectors. Pure numpy, deterministic.

Trained on the editors' example messages, it weighs every example of a label
together, so it generalises to new wording better than the single closest example
does (measured on the dev sets: see docs/understanding.md). Training takes about two
seconds for 6,000 examples, so callers cache the weights per content version.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

# Set on the dev sets (issue 11); see docs/understanding.md.
L2 = 1e-3
SCALE = 10.0  # cosine-scale inputs need a larger logit range
EPOCHS = 300
LEARNING_RATE = 0.05


@dataclass(frozen=True)
class LinearClassifier:
    labels: tuple[str, ...]
    weights: np.ndarray  # (dimensions, labels)
    bias: np.ndarray  # (labels,)
    scale: float = SCALE

    def probabilities(self, vector: np.ndarray) -> dict[str, float]:
        return self.probabilities_of_rows(vector.reshape(1, -1))[0]

    def probabilities_of_rows(self, vectors: np.ndarray) -> list[dict[str, float]]:
        """One message per row: one matrix product for a batch of messages."""
        logits = (vectors.astype(np.float64) @ self.weights) * self.scale + self.bias
        logits -= logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        shares = exp / exp.sum(axis=1, keepdims=True)
        return [dict(zip(self.labels, row, strict=True)) for row in shares.tolist()]


def train(vectors: np.ndarray, labels: Sequence[str], scale: float = SCALE, l2: float = L2,
          epochs: int = EPOCHS) -> LinearClassifier:
    """Full-batch Adam from zero weights: the same examples always give the same model."""
    classes = tuple(sorted(set(labels)))
    index = {label: i for i, label in enumerate(classes)}
    y = np.array([index[label] for label in labels])
    x = vectors.astype(np.float64)
    n, dims = x.shape
    k = len(classes)
    counts = np.bincount(y, minlength=k)
    sample_weight = (n / (k * counts))[y] / n  # every label counts the same, however many examples
    targets = np.eye(k)[y]
    weights, bias = np.zeros((dims, k)), np.zeros(k)
    moments = [np.zeros_like(weights), np.zeros_like(bias)]
    squares = [np.zeros_like(weights), np.zeros_like(bias)]
    for step in range(1, epochs + 1):
        logits = x @ weights * scale + bias
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        p /= p.sum(axis=1, keepdims=True)
        error = (p - targets) * sample_weight[:, None]
        gradients = (x.T @ error * scale + l2 * weights, error.sum(axis=0))
        for param, grad, m, v in zip((weights, bias), gradients, moments, squares, strict=True):
            m *= 0.9
            m += 0.1 * grad
            v *= 0.999
            v += 0.001 * grad * grad
            param -= LEARNING_RATE * (m / (1 - 0.9**step)) / (np.sqrt(v / (1 - 0.999**step)) + 1e-8)
    return LinearClassifier(classes, weights, bias, scale)
