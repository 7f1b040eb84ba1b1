"""Training a reference ``Sequential`` in NumPy: a synthetic image set of simple patterns, SGD with
momentum, and a loop that reports loss and accuracy per epoch. No downloads, fully seeded.

The patterns are the course's first examples of what a conv layer detects: a vertical edge, a
horizontal edge, a diagonal edge, and a bright spot, each at a random place, polarity and contrast,
with Gaussian noise. A small CNN separates them within a few epochs, and its first-layer filters
come to look like the edge detectors of ``filters.py``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from .model import Sequential, parse_spec

CLASSES = ("vertical edge", "horizontal edge", "diagonal edge", "spot")

DEMO_SPEC = """\
# The demo's CNN: 16×16 grey images, four pattern classes.
input 16x16x1
conv 8 3x3 relu
maxpool 2
conv 16 3x3 relu
maxpool 2
flatten
dense 4 softmax
"""


def make_patterns(n: int, size: int = 16, noise: float = 0.25, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` images ``(n, size, size, 1)`` (channels last, values around [−1, 1]) and labels ``(n,)``
    in ``range(len(CLASSES))``, balanced and shuffled."""
    if size < 6:
        raise ValueError(f"size must be at least 6, got size={size}")
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.arange(n) % len(CLASSES))
    rows, cols = np.mgrid[0:size, 0:size]
    images = np.empty((n, size, size), dtype=np.float64)
    for i, label in enumerate(labels):
        at = rng.integers(size // 4, size - size // 4)
        if label == 0:
            img = (cols < at).astype(float)
        elif label == 1:
            img = (rows < at).astype(float)
        elif label == 2:
            img = ((rows - cols) < at - size // 2).astype(float)
            if rng.random() < 0.5:
                img = img[:, ::-1]  # the other diagonal
        else:
            r, c = rng.integers(2, size - 5, size=2)
            img = np.zeros((size, size))
            img[r:r + 3, c:c + 3] = 1.0
        sign = 1.0 if label == 3 else rng.choice([-1.0, 1.0])
        contrast = rng.uniform(0.6, 1.0)
        images[i] = sign * contrast * (2 * img - 1) + noise * rng.standard_normal((size, size))
    return images[..., None], labels


@dataclass
class SGDMomentum:
    """``v ← μ·v − η·∇θ``, ``θ ← θ + v`` (Polyak momentum), updating the model's arrays in place."""

    lr: float = 0.05
    momentum: float = 0.9
    velocity: dict = field(default_factory=dict)

    def step(self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray]) -> None:
        for key, p in params.items():
            v = self.velocity.get(key)
            v = -self.lr * grads[key] if v is None else self.momentum * v - self.lr * grads[key]
            self.velocity[key] = v
            p += v


@dataclass
class EpochLog:
    epoch: int
    loss: float
    train_accuracy: float
    test_accuracy: float
    seconds: float


def accuracy(model: Sequential, x: np.ndarray, y: np.ndarray, batch: int = 256) -> float:
    hits = 0
    for i in range(0, len(x), batch):
        hits += int((model.predict(x[i:i + batch]).argmax(axis=1) == y[i:i + batch]).sum())
    return hits / len(x)


def train(model: Sequential, x, y, x_test, y_test, epochs=4, batch_size=32, lr=0.05, momentum=0.9, seed=0,
          report=None) -> list[EpochLog]:
    """Mini-batch SGD with momentum on the mean softmax cross-entropy; calls ``report(EpochLog)``
    after each epoch and returns the logs."""
    rng = np.random.default_rng(seed)
    opt = SGDMomentum(lr, momentum)
    logs = []
    for epoch in range(1, epochs + 1):
        start = time.perf_counter()
        order = rng.permutation(len(x))
        losses = []
        for i in range(0, len(x), batch_size):
            idx = order[i:i + batch_size]
            loss, grads = model.loss_and_grads(x[idx], y[idx], training=True)
            opt.step(model.params, grads)
            losses.append(loss)
        log = EpochLog(epoch, float(np.mean(losses)), accuracy(model, x, y), accuracy(model, x_test, y_test),
                       time.perf_counter() - start)
        logs.append(log)
        if report:
            report(log)
    return logs


def demo_model(seed: int = 0) -> Sequential:
    return parse_spec(DEMO_SPEC, name="demo-cnn").init(seed)
