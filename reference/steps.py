"""The small steps a "conv net step by step" course builds its layers from, channels-last.

Such a course (the ``conv-step-by-step`` spec) writes activations ``(m, n_H, n_W, n_C)`` and grades, besides
the layers themselves, four helpers. This module is their ground truth; the grader computes the expected
values of those helpers here (``assignments/grader/course_checks.py``), never in the worker.

Names: ``X`` a batch ``(m, n_H, n_W, n_C)``; ``pad`` an int ≥ 0; ``a_slice``, ``W`` one window of the
input and one filter, both ``(f, f, n_C)``; ``b`` the filter's bias (any shape holding one value, the
course's ``(1, 1, 1)``); ``window`` one 2-D pooling window; ``dz`` one upstream gradient value.

Sources: [course] notes 000 ("Padding", "Forward pass": ``y_ij = Σ_k Σ_l w_kl x_{s·i+k, s·j+l} + b``;
pooling and its backward: the gradient goes to the argmax of a max window, and is shared evenly over an
average window); the output-size rule ``⌊(n + 2p − f)/s⌋ + 1`` is in :mod:`.shapes`.
"""

from __future__ import annotations

import numpy as np

from .conv import as_float_array

__all__ = ["zero_pad", "conv_single_step", "create_mask_from_window", "distribute_value"]


def zero_pad(X, pad):
    """Zero padding of the two spatial dims of a channels-last batch ([course] notes 000, "Padding"):

        X_pad[i, h + pad, w + pad, c] = X[i, h, w, c],   0 elsewhere;   shape (m, n_H + 2·pad, n_W + 2·pad, n_C)

    The batch and channel dims are not padded."""
    X = as_float_array(X, "X")
    if X.ndim != 4:
        raise ValueError(f"X must be (m, n_H, n_W, n_C), got shape {X.shape}")
    if not isinstance(pad, (int, np.integer)) or isinstance(pad, bool) or pad < 0:
        raise ValueError(f"pad must be an int >= 0, got pad={pad!r}")
    return np.pad(X, ((0, 0), (pad, pad), (pad, pad), (0, 0)))


def conv_single_step(a_slice, W, b):
    """One output value of a convolution: the filter applied at one position ([course] notes 000,
    "Forward pass", for one (i, j)):

        Z = Σ_{h, w, c} a_slice[h, w, c] · W[h, w, c] + b

    a float (``b`` holds one value, whatever its shape)."""
    a_slice, W = as_float_array(a_slice, "a_slice"), as_float_array(W, "W")
    if a_slice.shape != W.shape:
        raise ValueError(f"a_slice {a_slice.shape} and W {W.shape} must have one shape")
    b = np.asarray(b, dtype=np.float64)
    if b.size != 1:
        raise ValueError(f"b must hold one value, got shape {b.shape}")
    return float(np.sum(a_slice * W) + b.item())


def create_mask_from_window(window):
    """Where a max-pooling window's gradient goes ([course] notes 000, max pooling backward: only the
    maximum passed its value on, so only it receives the gradient):

        mask[h, w] = (window[h, w] == max(window))

    a boolean array of the window's shape. With ties every maximum is True (the checks draw windows
    without ties: which tied element gets the gradient is a convention, see ``max_pool_backward``)."""
    window = as_float_array(window, "window")
    return window == np.max(window)


def distribute_value(dz, shape):
    """An average-pooling window's gradient ([course] notes 000, average pooling backward: every element
    contributed 1/(n_H·n_W) of the output, so each receives that share of dz):

        a[h, w] = dz / (n_H · n_W)   for every (h, w) of shape = (n_H, n_W)"""
    n_H, n_W = (int(v) for v in shape)
    if n_H < 1 or n_W < 1:
        raise ValueError(f"shape must be two sizes >= 1, got {shape!r}")
    return np.full((n_H, n_W), float(dz) / (n_H * n_W))
