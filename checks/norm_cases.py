"""Hypothesis strategies of :class:`Case` for the ops of :data:`checks.ops.COURSE_OPS`: batch norm's
running statistics and test mode, spatial batch / layer / group norm, cs231n's two losses, dropout.

Inputs are drawn away from the degenerate points of each op, by construction rather than by filtering:

* normalisations: x holds distinct values (a permutation of integers, times 1/2, plus a drawn shift),
  and every statistic is taken over at least 2 of them, so every variance is > 0 — at zero variance
  x̂ = 0/√ε and the gradient is dominated by ε, a property of ε, not of the implementation;
* running variances are ≥ 1/4 (a variance is never negative; test mode divides by √(var + ε));
* SVM scores are distinct multiples of 0.3, so no margin s_j − s_y + 1 is 0 (off the hinge's kink);
* dropout: x has no zeros (a kept 0 is indistinguishable from a dropped unit), seeds are explicit.

``cases(op)`` is the entry point, like :func:`checks.strategies.cases`.
"""

from __future__ import annotations

from math import prod

import numpy as np
from hypothesis import strategies as st

from .cases import Case
from .ops import COURSE_OPS
from .strategies import arrays

NOTE_NORM = "distinct values: every statistic is over ≥ 2 different values (variance > 0)"


@st.composite
def _shifted(draw, shape, dtype):
    shift = draw(st.sampled_from([0.0, 0.75, -8.5, 100.25]))
    return (draw(arrays(shape, "float64", scale=0.5)) + shift).astype(dtype)


@st.composite
def _eps(draw):
    return draw(st.sampled_from([{}, {"eps": 1e-3}]))


@st.composite
def _bn_shape(draw, spatial_ndims, min_n=1):
    """(N, C, *spatial) with N·∏spatial ≥ 2 (more than one value per channel)."""
    nd = draw(st.sampled_from(spatial_ndims))
    spatial = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    n = draw(st.integers(max(min_n, 1 if prod(spatial) >= 2 else 2), 4))
    return (n, draw(st.integers(1, 3)), *spatial)


@st.composite
def _running(draw, c, dtype):
    mean = draw(arrays((c,), dtype, scale=0.25))
    var = np.abs(draw(arrays((c,), dtype, scale=0.25))) + 0.25
    return mean, var.astype(dtype)


def _with_dout(draw, op, inputs, out_shape, options, notes, dtype):
    if op.endswith("_backward") or op == "batchnorm_backward_alt":
        dout = draw(arrays(out_shape, dtype, scale=0.5))
        return Case(op, (dout, *inputs), options, notes=notes)
    return Case(op, tuple(inputs), options, notes=notes)


@st.composite
def _batchnorm_cases(draw, op, dtype, spatial_ndims=(0, 1, 2)):
    test_mode = op.startswith("batchnorm_test")
    shape = draw(_bn_shape((2,) if op.startswith("spatial") else spatial_ndims, min_n=1))
    if not test_mode and shape[0] * prod(shape[2:]) < 2:  # pragma: no cover - _bn_shape guarantees it
        shape = (2,) + shape[1:]
    c = shape[1]
    x = draw(_shifted(shape, dtype))
    gamma, beta = draw(arrays((c,), dtype, scale=0.5)), draw(arrays((c,), dtype, scale=0.5))
    if op == "batchnorm_running_update":
        mean, var = draw(_running(c, dtype))
        momentum = draw(st.sampled_from([0.9, 0.99, 0.5, 0.0]))
        return Case(op, (x, mean, var), {"momentum": momentum}, notes=NOTE_NORM)
    inputs = [x, gamma, beta]
    notes = NOTE_NORM + ("; test mode: running statistics, running_var ≥ 1/4" if test_mode else "; training mode")
    if test_mode:
        inputs += list(draw(_running(c, dtype)))
    return _with_dout(draw, op, inputs, shape, draw(_eps()), notes, dtype)


@st.composite
def _layernorm_cases(draw, op, dtype):
    n = draw(st.integers(1, 4))
    features = tuple(draw(st.integers(1, 4)) for _ in range(draw(st.integers(1, 2))))
    if prod(features) < 2:
        features = (features[0] + 1,) + features[1:]
    x = draw(_shifted((n, *features), dtype))
    gamma, beta = draw(arrays(features, dtype, scale=0.5)), draw(arrays(features, dtype, scale=0.5))
    return _with_dout(draw, op, [x, gamma, beta], x.shape, draw(_eps()), NOTE_NORM, dtype)


@st.composite
def _groupnorm_cases(draw, op, dtype, spatial_ndims=(0, 1, 2)):
    groups, per_group = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    nd = draw(st.sampled_from(spatial_ndims))
    spatial = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    if per_group * prod(spatial) < 2:  # build the group large enough rather than filter
        if nd:
            spatial = (spatial[0] + 1,) + spatial[1:]
        else:
            per_group += 1
    shape = (draw(st.integers(1, 3)), groups * per_group, *spatial)
    x = draw(_shifted(shape, dtype))
    gamma, beta = draw(arrays((shape[1],), dtype, scale=0.5)), draw(arrays((shape[1],), dtype, scale=0.5))
    options = {"groups": groups, **draw(_eps())}
    return _with_dout(draw, op, [x, gamma, beta], shape, options, NOTE_NORM, dtype)


@st.composite
def _loss_cases(draw, op, dtype):
    n, c = draw(st.integers(1, 5)), draw(st.integers(2, 5))
    if op == "svm_loss":
        x = draw(arrays((n, c), "float64")) * 0.3
        note = "distinct multiples of 0.3: no margin is 0 (off the hinge's kink)"
    else:
        x = draw(arrays((n, c), "float64", scale=0.25))
        note = ""
    y = np.array(draw(st.lists(st.integers(0, c - 1), min_size=n, max_size=n)), dtype=np.int64)
    return Case(op, (x.astype(dtype), y), {}, notes=note)


@st.composite
def _dropout_cases(draw, op, dtype):
    rank = draw(st.integers(2, 4))
    shape = (draw(st.integers(1, 3)),) + tuple(draw(st.integers(1, 4)) for _ in range(rank - 1))
    x = draw(arrays(shape, dtype, odd=True))
    options = {"p": draw(st.sampled_from([0.5, 0.25, 0.75, 0.9, 1.0])), "seed": draw(st.integers(0, 2**32 - 1)),
               "mode": draw(st.sampled_from(["train", "test"]))}
    return _with_dout(draw, op, [x], shape, options, "odd integers: no zeros in x; explicit seed", dtype)


def cases(op: str, dtype: str = "float64", *, spatial_ndims=(0, 1, 2)):
    """A strategy of :class:`Case` for an op of :data:`COURSE_OPS` (backward ops: ``dout`` first).

    ``spatial_ndims``: spatial ranks of batch norm's and group norm's x (cs231n: ``(0,)`` for
    batch norm on ``(N, D)``, ``(2,)`` for group norm on ``(N, C, H, W)``).
    """
    if op not in COURSE_OPS:
        raise ValueError(f"no case strategy for op={op!r}; known: {sorted(COURSE_OPS)}")
    if op.startswith(("batchnorm", "spatial_batchnorm")):
        return _batchnorm_cases(op, dtype, spatial_ndims)
    if op.startswith("layernorm"):
        return _layernorm_cases(op, dtype)
    if op.startswith("groupnorm"):
        return _groupnorm_cases(op, dtype, spatial_ndims)
    if op in ("svm_loss", "softmax_loss"):
        return _loss_cases(op, dtype)
    return _dropout_cases(op, dtype)
