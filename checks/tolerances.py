"""Float tolerances for comparing an implementation with the reference or with torch — one place.

A value that is a sum of ``L`` products (a conv output sums ``L = (C/g)·∏k`` of them, a conv
weight gradient ``N·∏out`` of them) carries a rounding error that grows with ``L``. The tolerance
is ``atol + rtol·|expected|`` with both terms scaled by ``sqrt(L)`` (random-walk growth of rounding
errors), from a base per dtype:

| dtype    | eps      | base rtol | base atol |
|----------|----------|-----------|-----------|
| float64  | 2.2e-16  | 1e-12     | 1e-12     |
| float32  | 1.2e-7   | 1e-5      | 1e-6      |
| float16  | 9.8e-4   | 1e-2      | 1e-3      |

Inputs that convcheck generates are small integers, so in float64 most comparisons are exact
anyway; the tolerance covers implementations that sum in another order (im2col vs loops vs FFT).
"""

from __future__ import annotations

import math
from typing import NamedTuple

_BASE = {
    "float64": (1e-12, 1e-12),
    "float32": (1e-5, 1e-6),
    "float16": (1e-2, 1e-3),
}


class Tolerance(NamedTuple):
    rtol: float
    atol: float


def tolerance(dtype="float64", reduction_length: int = 1) -> Tolerance:
    """Tolerance for values of ``dtype`` that each sum ``reduction_length`` products."""
    name = getattr(dtype, "name", None) or str(dtype).replace("torch.", "")
    if name not in _BASE:
        raise ValueError(f"no tolerance for dtype {dtype!r}; known: {sorted(_BASE)}")
    rtol, atol = _BASE[name]
    scale = math.sqrt(max(1, int(reduction_length)))
    return Tolerance(rtol * scale, atol * scale)


def normalization_tolerance(dtype="float64", m: int = 1) -> Tolerance:
    """Tolerance for a normalisation over ``m`` values (batch/layer/group norm, forward or backward).

    Each output passes through three reductions of length m (μ, σ², and in the backward the two
    means of dx̂ and dx̂·x̂), then a division by σ: with inputs drawn away from zero variance
    (distinct values, so σ is at least a fraction of their spacing) the error stays that of a
    sum of 3·m products.
    """
    return tolerance(dtype, 3 * max(1, int(m)))
