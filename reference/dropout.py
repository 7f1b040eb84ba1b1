"""Inverted dropout as cs231n defines it: ``p`` is the probability of *keeping* a unit, the mask is
drawn from a ``seed``, and the kept units are scaled by ``1/p`` at train time so that test time is
the identity.

Names: ``x`` the input (any shape), ``p`` the keep probability in (0, 1], ``seed`` an int (None: a
fresh random mask), ``mode`` ``"train"`` or ``"test"``, ``mask`` the boolean keep-mask of x's
shape, ``dout = ∂L/∂out``. The mask of a seed is the one cs231n's own template draws,
``np.random.seed(seed); np.random.rand(*x.shape) < p``, drawn here without touching NumPy's global
state. The backward recomputes it from the seed: the forward's mask, never a new one.

Two meanings of p (see the course's history): since 2017 cs231n's ``p`` keeps; earlier versions,
torch's ``F.dropout`` and ``layers.dropout_forward`` take the probability of *dropping*. With the
same mask, ``inverted_dropout_forward(x, p, seed) == layers.dropout_forward(x, mask, 1 − p)``.

Sources: [SHK14] Srivastava, Hinton, Krizhevsky, Sutskever and Salakhutdinov, "Dropout" (JMLR 2014),
§2 (retain probability p, weights scaled by p at test time; inverted dropout scales by 1/p at train
time instead); [cs231n] CS231n assignment 2, ``dropout_forward``/``dropout_backward``; [torch]
``F.dropout`` (drop probability, kept units scaled by 1/(1 − p)).
"""

from __future__ import annotations

import numpy as np

from .conv import as_float_array
from .layers import _check_dout

__all__ = ["inverted_dropout_mask", "inverted_dropout_forward", "inverted_dropout_backward"]


def _args(p, mode, seed):
    if not isinstance(p, (int, float)) or isinstance(p, bool) or not 0 < p <= 1:
        raise ValueError(f"p (the keep probability) must be in (0, 1], got p={p!r}")
    if mode not in ("train", "test"):
        raise ValueError(f"mode must be 'train' or 'test', got mode={mode!r}")
    if seed is not None and (not isinstance(seed, (int, np.integer)) or isinstance(seed, bool)
                             or not 0 <= seed < 2**32):
        raise ValueError(f"seed must be None or an int in [0, 2**32), got seed={seed!r}")


def inverted_dropout_mask(shape, p=0.5, seed=None):
    """The keep-mask of a call: ``mask = U[0, 1)^shape < p`` drawn as cs231n's template does
    (``np.random.seed(seed); np.random.rand(*shape)``, the legacy Mersenne-Twister stream), a
    boolean array; each unit kept with probability p, independently."""
    _args(p, "train", seed)
    return np.random.RandomState(seed).random_sample(tuple(shape)) < p


def inverted_dropout_forward(x, p=0.5, seed=None, mode="train"):
    """Inverted dropout ([SHK14] §2, [cs231n]):

        train:  out = x · mask / p,   mask = inverted_dropout_mask(x.shape, p, seed)
        test:   out = x

    so each element of out is 0 or x/p at train time, ``E[out] = x``, and the fraction of kept
    units is p in expectation. Shape: any; out like x, x's dtype.
    """
    x = as_float_array(x, "x")
    _args(p, mode, seed)
    if mode == "test":
        return x.copy()
    return (x * inverted_dropout_mask(x.shape, p, seed) / p).astype(x.dtype, copy=False)


def inverted_dropout_backward(dout, x, p=0.5, seed=None, mode="train"):
    """``dx = dout · mask / p`` at train time with the forward's mask (same seed), ``dx = dout`` at
    test time. Needs the forward's seed in train mode: a seed of None has no reproducible mask."""
    x = as_float_array(x, "x")
    _args(p, mode, seed)
    dout = _check_dout(dout, x.shape, "inverted_dropout_forward")
    if mode == "test":
        return dout.copy()
    if seed is None:
        raise ValueError("seed=None: the backward of train-mode dropout needs the forward's seed (its mask)")
    return (dout * inverted_dropout_mask(x.shape, p, seed) / p).astype(dout.dtype, copy=False)
