"""The two classification losses of cs231n's layers file: multiclass SVM (hinge) and softmax, as
``(loss, dx)`` with the loss averaged over the batch.

Names: ``x`` the scores ``(N, C)`` (N samples, C classes), ``y`` the labels ``(N,)``, integers in
``[0, C)``; ``s_j = x[n, j]``, ``s_y = x[n, y_n]``; ``dx = ∂loss/∂x``. The softmax cross-entropy of
any rank lives in ``layers.softmax_cross_entropy``; :func:`softmax_loss` is its cs231n form.

Sources: [cs231n] CS231n assignment 1 (linear_svm, softmax) and assignment 2 ``layers.py``
(``svm_loss``, ``softmax_loss``, both mean over N); [WW99] Weston and Watkins (1999), the
multiclass hinge loss; [torch] ``F.multi_margin_loss`` (which also divides by C) and ``F.cross_entropy``.
"""

from __future__ import annotations

import numpy as np

from .conv import as_float_array
from .layers import softmax_cross_entropy

__all__ = ["svm_loss", "softmax_loss"]


def _scores_labels(x, y):
    x = as_float_array(x, "x")
    if x.ndim != 2 or 0 in x.shape:
        raise ValueError(f"x must have shape (N, C) with N, C ≥ 1, got x.shape={x.shape}")
    y = np.asarray(y)
    if y.shape != (x.shape[0],):
        raise ValueError(f"y.shape={y.shape}, but should be ({x.shape[0]},) for x.shape={x.shape}")
    if y.dtype.kind not in "iu" or y.min() < 0 or y.max() >= x.shape[1]:
        raise ValueError(f"y must hold integers in [0, {x.shape[1]}), got dtype {y.dtype}, "
                         f"range [{y.min()}, {y.max()}]")
    return x, y


def svm_loss(x, y):
    """Multiclass SVM (hinge) loss with margin 1, averaged over the N samples: ``(loss, dx)``.

        loss = (1/N) Σ_n Σ_{j ≠ y_n} max(0, s_j − s_y + 1)
        dx[n, j]   = [s_j − s_y + 1 > 0] / N                       (j ≠ y_n)
        dx[n, y_n] = −(number of j ≠ y_n with s_j − s_y + 1 > 0) / N

    The true class contributes no margin (its term would be a constant 1). At a margin of exactly
    0 the loss has a kink; the derivative is taken as 0 there, as torch does. Shape: x ``(N, C)``,
    y ``(N,)``. ([cs231n] svm_loss; torch's ``F.multi_margin_loss(x, y, margin=1)`` is this loss / C.)
    """
    x, y = _scores_labels(x, y)
    n = x.shape[0]
    rows = np.arange(n)
    margins = np.maximum(0, x - x[rows, y][:, None] + 1)
    margins[rows, y] = 0
    positive = (margins > 0).astype(x.dtype)
    dx = positive
    dx[rows, y] = -positive.sum(axis=1)
    return x.dtype.type(margins.sum() / n), dx / n


def softmax_loss(x, y):
    """Softmax (cross-entropy) loss averaged over the N samples: ``(loss, dx)``.

        p = softmax(x) row by row (computed as e^{x − max}),
        loss = −(1/N) Σ_n log p[n, y_n],   dx = (p − onehot(y)) / N

    Shape: x ``(N, C)``, y ``(N,)``. ([cs231n] softmax_loss; [torch] ``F.cross_entropy``, mean
    reduction; ``layers.softmax_cross_entropy`` for classes on axis 1 of any rank.)
    """
    x, y = _scores_labels(x, y)
    return softmax_cross_entropy(x, y)
