"""Small local Hypothesis strategies for the reference's own gradient and metamorphic tests.

Configurations are built from the constraints outward (kernel and dilation first, then padding,
then an input at least as large as the dilated kernel minus the padding), so no draw is filtered.
Arrays come from a drawn seed: integer-valued floats, which are exact in float64 sums. The shared
strategies of the conformance suite live in ``convcheck.checks.strategies``; these stay small and
fast because the numerical gradients call the forward twice per input element.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from hypothesis import strategies as st


@dataclass
class ConvConfig:
    x: np.ndarray
    w: np.ndarray
    b: np.ndarray | None
    options: dict = field(default_factory=dict)

    def __repr__(self):
        return f"ConvConfig(x.shape={self.x.shape}, w.shape={self.w.shape}, b={self.b is not None}, {self.options})"


def ints(rng, shape, low=-4, high=4):
    """Integer-valued float64 array with entries in [low, high]."""
    return rng.integers(low, high + 1, size=shape).astype(np.float64)


def distinct(rng, shape, spacing=1.0):
    """Float64 array of distinct integer multiples of ``spacing``, centred on 0 (tie-free)."""
    size = int(np.prod(shape))
    return (rng.permutation(size) - size // 2).astype(np.float64).reshape(shape) * spacing


@st.composite
def seeds(draw):
    return np.random.default_rng(draw(st.integers(0, 2**32 - 1)))


@st.composite
def conv_configs(draw, ndims=(1, 2, 3), transposed=False, max_n=2, bias=None, max_extra=3):
    """A valid conv (or transposed conv) call: x, w, b and the options stride/padding/dilation/groups."""
    nd = draw(st.sampled_from(ndims))
    g = draw(st.integers(1, 2))
    cg, fg = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    c, f = g * cg, g * fg
    n = draw(st.integers(1, max_n))
    small = nd == 3                                   # keep 3-D volumes tiny
    ks = tuple(draw(st.integers(1, 2 if small else 3)) for _ in range(nd))
    ds = tuple(draw(st.integers(1, 2)) for _ in range(nd))
    # stride 1 everywhere half of the time: the fast path has a separate branch for it
    ss = (1,) * nd if draw(st.booleans()) else tuple(draw(st.integers(1, 3)) for _ in range(nd))
    keff = tuple(d * (k - 1) + 1 for k, d in zip(ks, ds))
    if transposed:
        pads = tuple(draw(st.integers(0, (ke - 1) // 2)) for ke in keff)
        sizes = tuple(draw(st.integers(1, 2 if small else 3)) for _ in range(nd))
        ops = tuple(draw(st.integers(0, max(s, d) - 1)) for s, d in zip(ss, ds))
        # the output size (n−1)s − 2p + k_eff + op must be positive: 2p < k_eff guarantees it
        options = dict(stride=ss, padding=pads, output_padding=ops, dilation=ds, groups=g)
        rng = draw(seeds())
        x = ints(rng, (n, c, *sizes))
        w = ints(rng, (c, fg, *ks))
    else:
        mode = draw(st.sampled_from(["pairs", "same", "valid", "full"]))
        if mode == "pairs":
            pads = tuple((draw(st.integers(0, 2)), draw(st.integers(0, 2))) for _ in range(nd))
        else:
            pads = mode
        low = [ke - (pb + pa) if mode == "pairs" else (ke if mode == "valid" else 1)
               for ke, (pb, pa) in zip(keff, pads if mode == "pairs" else [(0, 0)] * nd)]
        extra = 1 if small else max_extra
        sizes = tuple(draw(st.integers(max(1, lo), max(1, lo) + extra)) for lo in low)
        options = dict(stride=ss, padding=pads, dilation=ds, groups=g)
        rng = draw(seeds())
        x = ints(rng, (n, c, *sizes))
        w = ints(rng, (f, cg, *ks))
    with_bias = draw(st.booleans()) if bias is None else bias
    b = ints(rng, (f,)) if with_bias else None
    return ConvConfig(x, w, b, options)


@st.composite
def pool_configs(draw, ndims=(1, 2, 3), dilation=True):
    """A valid pooling call: x (tie-free) and kernel/stride/padding/dilation/ceil_mode."""
    nd = draw(st.sampled_from(ndims))
    small = nd == 3
    ks = tuple(draw(st.integers(1, 2 if small else 3)) for _ in range(nd))
    ss = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    ds = tuple(draw(st.integers(1, 2)) for _ in range(nd)) if dilation else (1,) * nd
    ps = tuple(draw(st.integers(0, k // 2)) for k in ks)
    keff = tuple(d * (k - 1) + 1 for k, d in zip(ks, ds))
    sizes = tuple(draw(st.integers(max(1, ke - 2 * p), max(1, ke - 2 * p) + (1 if small else 3)))
                  for ke, p in zip(keff, ps))
    rng = draw(seeds())
    x = distinct(rng, (draw(st.integers(1, 2)), draw(st.integers(1, 2)), *sizes))
    options = dict(kernel=ks, stride=ss, padding=ps, ceil_mode=draw(st.booleans()))
    if dilation:
        options["dilation"] = ds
    return x, options
