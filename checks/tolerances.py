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

An adapter may loosen the base for some ops, with a stated reason (a Winograd or FFT conv, a
library that accumulates in float32)::

    TOLERANCES = {"conv": {"rtol": 1e-4, "atol": 1e-5, "reason": "Winograd transform for 3x3 kernels"}}

Keys are op names or families (``conv`` covers forward and backward); the values loosen the base
rtol/atol of every dtype to at least theirs (still scaled by ``sqrt(L)``) while that op's checks run
(:func:`overridden`).
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from contextvars import ContextVar
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
    loosened = _OVERRIDE.get()
    if loosened is not None:  # an adapter's override only loosens: max of the two
        rtol, atol = max(rtol, loosened[0]), max(atol, loosened[1])
    scale = math.sqrt(max(1, int(reduction_length)))
    return Tolerance(rtol * scale, atol * scale)


_OVERRIDE: ContextVar[tuple[float, float] | None] = ContextVar("convcheck_tolerance_override", default=None)


def override_for(overrides: dict | None, ops) -> dict | None:
    """The override of ``TOLERANCES`` that applies to a check calling ``ops`` (the loosest of them), or None.

    Each value must say ``rtol``, ``atol`` and a non-empty ``reason``; a missing reason is an error.
    """
    if not overrides:
        return None
    chosen = None
    for key, value in overrides.items():
        if not isinstance(value, dict) or not str(value.get("reason", "")).strip():
            raise ValueError(f"TOLERANCES[{key!r}] must be a dict with rtol, atol and a non-empty 'reason', "
                             f"got {value!r}")
        for field in ("rtol", "atol"):
            if not isinstance(value.get(field), (int, float)) or value[field] < 0:
                raise ValueError(f"TOLERANCES[{key!r}][{field!r}] must be a number >= 0, got {value.get(field)!r}")
    for op in ops:
        family = op.rsplit("_", 1)[0] if op.endswith(("_forward", "_backward")) else op
        for key in (op, family):
            value = overrides.get(key)
            looser = chosen is None or value is not None and \
                value["rtol"] + value["atol"] > chosen["rtol"] + chosen["atol"]
            if value is not None and looser:
                chosen = {**value, "op": key}
    return chosen


@contextmanager
def overridden(override: dict | None):
    """Within the block, :func:`tolerance` uses ``override``'s rtol/atol as the base of every dtype."""
    token = _OVERRIDE.set((float(override["rtol"]), float(override["atol"])) if override else None)
    try:
        yield
    finally:
        _OVERRIDE.reset(token)


def normalization_tolerance(dtype="float64", m: int = 1) -> Tolerance:
    """Tolerance for a normalisation over ``m`` values (batch/layer/group norm, forward or backward).

    Each output passes through three reductions of length m (μ, σ², and in the backward the two
    means of dx̂ and dx̂·x̂), then a division by σ: with inputs drawn away from zero variance
    (distinct values, so σ is at least a fraction of their spacing) the error stays that of a
    sum of 3·m products.
    """
    return tolerance(dtype, 3 * max(1, int(m)))
