"""Hypothesis strategies of test cases for every op of the reference, in its calling convention.

Every configuration is built from the constraints outward (rank, groups and channels, then per
dimension the kernel, dilation, stride and padding, then an input at least as large as the padded
dilated kernel), never by filtering random draws. What is generated stays inside a
:class:`~convcheck.checks.capabilities.Capabilities`; examples are kept small, shrinking does the rest.

Arrays hold distinct small integers (exact in float64, never constant, so a flipped or transposed
kernel cannot hide behind symmetric data). Max-pool inputs are therefore tie-free (ties are drawn
only by :func:`max_pool_tie_cases`); ReLU/leaky-ReLU inputs are odd integers, off the kink at 0.
A third of the max-pool cases are padded windows over all-negative inputs: there the padding must
lose to every input cell, so a library padding with 0 instead of −∞ is caught at once.
"""

from __future__ import annotations

from math import prod

import numpy as np
from hypothesis import strategies as st

from convcheck.reference import shapes

from . import arithmetic
from .capabilities import Capabilities
from .cases import Case
from .ops import OPS

# --- arrays ------------------------------------------------------------------------------------------


@st.composite
def arrays(draw, shape, dtype="float64", *, scale: float = 1.0, odd: bool = False):
    """An array of ``shape`` holding distinct integer values (times ``scale``), centred on 0.

    The values are a permutation of ``size`` consecutive integers (shrinking towards ascending
    order), so no two entries are equal and no array of two or more entries is constant. ``odd``
    maps each value ``v`` to ``2v + 1``: never 0 (off the ReLU kink). ``scale`` should be a power
    of two so that the values stay exact; use it to keep inputs of sigmoid/tanh/softmax small.
    """
    shape = tuple(int(s) for s in shape)
    size = prod(shape)
    values = np.array(draw(st.permutations(range(size))), dtype=np.int64) - size // 2
    if odd:
        values = 2 * values + 1
    return (values * scale).astype(dtype).reshape(shape)


@st.composite
def tie_arrays(draw, shape, dtype="float64"):
    """An array of ``shape`` with values in {0, 1, 2}: many equal entries, for tie-breaking checks."""
    shape = tuple(int(s) for s in shape)
    values = draw(st.lists(st.integers(0, 2), min_size=prod(shape), max_size=prod(shape)))
    return np.array(values, dtype=dtype).reshape(shape)


# --- shared pieces -------------------------------------------------------------------------------------

def _pack(values, per_dim: bool):
    """One int for every dim (when all equal and not per-dim) or a per-dim tuple."""
    values = tuple(values)
    return values if per_dim else values[0]


@st.composite
def _ndim(draw, caps: Capabilities, max_ndim: int = 3):
    choices = [d for d in sorted(caps.ndims) if d <= max_ndim] or [min(caps.ndims)]
    return draw(st.sampled_from(choices))


@st.composite
def _per_dim_flag(draw, caps: Capabilities, ndim: int):
    """Whether the per-dim values may differ (and are passed as tuples)."""
    return caps.per_dim_args and ndim > 1 and draw(st.booleans())


def _spatial_size(draw, lo_span: int, stride: int, caps: Capabilities, extra_max: int = 3) -> int:
    """An input length ``n ≥ 1`` with ``n − lo_span ≥ 0`` (lo_span = k_eff − pads).

    ``n = lo_span`` makes the kernel exactly the padded input size. With ``exact_division`` the
    stride divides ``n − lo_span`` (cs231n's contract); otherwise any extra length is allowed,
    including ones the stride does not divide (the floor in torch's rule).
    """
    if caps.exact_division:
        m0 = max(0, -(-(1 - lo_span) // stride))  # least m with lo_span + m·s ≥ 1
        return lo_span + stride * (m0 + draw(st.integers(0, 2)))
    lo = max(1, lo_span)
    return lo + draw(st.integers(0, stride + extra_max - 1))


# --- convolution ---------------------------------------------------------------------------------------

@st.composite
def conv_configs(draw, caps: Capabilities = Capabilities(), *, transpose: bool = False, padding: str | None = None,
                 stride_one: bool = False, min_extra: int = 0, max_ndim: int = 3, same_n: bool = False):
    """The geometry of one (transposed) convolution: a dict with N, C, F, groups, x/w/b shapes, options.

    ``padding`` forces a padding kind ('zero' for none, 'int', 'pairs', 'same', 'valid', 'full');
    ``min_extra`` makes each input at least that many strides longer than the padded kernel needs
    (room for a translation); ``stride_one`` forces stride 1. 'same' always comes with stride 1, as
    torch requires. ``same_n`` gives every spatial dim the same length when the other arguments are
    one int for all dims (then anything derived per dim, like an adjoint's output_padding, is too).
    ``output_padding`` follows ``caps.output_padding``.
    """
    ndim = draw(_ndim(caps, max_ndim))
    if caps.groups and draw(st.booleans()):
        g = draw(st.integers(2, 3))
        c_per_g = 1 if draw(st.booleans()) else draw(st.integers(1, 2))  # depthwise: one channel per group
        f_per_g = draw(st.integers(1, 2))
    else:
        g, c_per_g, f_per_g = 1, draw(st.integers(1, 3)), draw(st.integers(1, 3))
    n_batch = draw(st.integers(1, 2))
    c, f = g * c_per_g, g * f_per_g

    kinds = ["int"]
    if not transpose and caps.asymmetric_padding:
        kinds.append("pairs")
    if not transpose and caps.padding_modes:
        kinds += ["same", "valid", "full"]
    kind = padding or draw(st.sampled_from(kinds))
    if kind == "zero":
        kind, zero = "int", True
    else:
        zero = False

    per_dim = draw(_per_dim_flag(caps, ndim))
    dims = []
    first = None
    for i in range(ndim):
        if first is not None and not per_dim:
            k, d, s, pb, pa, op = first
        else:
            k = draw(st.integers(1, 3 if ndim < 3 else 2))
            d = draw(st.integers(1, 2)) if caps.dilation else 1
            s = 1 if (stride_one or kind == "same") else draw(st.integers(1, 3))
            k_eff = d * (k - 1) + 1
            if kind == "int":
                pb = pa = 0 if zero else draw(st.integers(0, 2))
            elif kind == "pairs":
                pb, pa = draw(st.integers(0, 2)), draw(st.integers(0, 2))
            elif kind == "full":
                pb = pa = k_eff - 1
            elif kind == "same":
                pb, pa = (k_eff - 1) // 2, k_eff - 1 - (k_eff - 1) // 2
            else:
                pb = pa = 0
            op_max = {True: max(s, d), "below_stride": s, False: 1}[caps.output_padding] - 1
            op = draw(st.integers(0, op_max)) if transpose and op_max > 0 else 0
            first = (k, d, s, pb, pa, op)
        dims.append((k, d, s, pb, pa, op))

    ns = []
    for i, (k, d, s, pb, pa, op) in enumerate(dims):
        k_eff = d * (k - 1) + 1
        if transpose:  # x is the transposed op's input; its output (n−1)s − pb − pa + k_eff + op must be ≥ 1
            lo = max(1, 1 - (-(1 + pb + pa - k_eff - op) // s))
            n = lo + draw(st.integers(0, 2))
        else:
            n = _spatial_size(draw, k_eff - pb - pa + min_extra * s, s, caps)
        if not per_dim and ns and not transpose and (same_n or (not caps.exact_division and draw(st.booleans()))):
            n = ns[0]  # square inputs are common; keep them likely
        ns.append(n)

    ks = tuple(dim[0] for dim in dims)
    ds = tuple(dim[1] for dim in dims)
    ss = tuple(dim[2] for dim in dims)
    pads = tuple((dim[3], dim[4]) for dim in dims)
    ops_ = tuple(dim[5] for dim in dims)
    if kind in ("same", "valid", "full"):
        padding_opt = kind
    elif kind == "pairs":
        padding_opt = pads
    else:
        padding_opt = _pack([pb for pb, _ in pads], per_dim)
    options = {"stride": _pack(ss, per_dim), "padding": padding_opt}
    if transpose and any(ops_):
        options["output_padding"] = _pack(ops_, per_dim)
    if any(d != 1 for d in ds):
        options["dilation"] = _pack(ds, per_dim)
    if g != 1:
        options["groups"] = g

    if transpose:
        out = shapes.conv_transpose_output_size(tuple(ns), ks, ss, tuple(pb for pb, _ in pads), ops_, ds)
        w_shape = (c, f // g, *ks)
    else:
        out = shapes.conv_output_size(tuple(ns), ks, ss, pads, ds)
        w_shape = (f, c // g, *ks)
    with_bias = not caps.bias_optional or draw(st.booleans())
    return dict(ndim=ndim, N=n_batch, C=c, F=f, groups=g, x=(n_batch, c, *ns), w=w_shape,
                b=(f,) if with_bias else None, out=(n_batch, f, *out), options=options,
                kernel=ks, stride=ss, dilation=ds, pads=pads, n=tuple(ns))


@st.composite
def _conv_cases(draw, op: str, caps: Capabilities, dtype: str, **config_kw):
    transpose = op.startswith("conv_transpose")
    cfg = draw(conv_configs(caps, transpose=transpose, **config_kw))
    x = draw(arrays(cfg["x"], dtype))
    w = draw(arrays(cfg["w"], dtype))
    b = draw(arrays(cfg["b"], dtype)) if cfg["b"] is not None else None
    if op.endswith("_backward"):
        dout = draw(arrays(cfg["out"], dtype))
        return Case(op, (dout, x, w, b), dict(cfg["options"]))
    return Case(op, (x, w, b), dict(cfg["options"]))


# --- pooling ---------------------------------------------------------------------------------------------

@st.composite
def pool_configs(draw, caps: Capabilities = Capabilities(), *, kind: str = "max", max_ndim: int = 3,
                 padded: bool = False):
    """The geometry of one max/avg pooling: kernel, stride (None = kernel, or > kernel), padding ≤ k//2
    (when allowed), dilation (max only), ceil_mode; then an input at least the padded window.
    ``padded``: kernels of 2 or more and padding ≥ 1 in every dim (when ``caps.pool_padding``)."""
    padded = padded and caps.pool_padding
    ndim = draw(_ndim(caps, max_ndim))
    n_batch, c = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    per_dim = draw(_per_dim_flag(caps, ndim))
    stride_default = draw(st.booleans())
    dims, first = [], None
    for _ in range(ndim):
        if first is None or per_dim:
            k = draw(st.integers(2 if padded else 1, 3))
            d = draw(st.integers(1, 2)) if (kind == "max" and caps.dilation) else 1
            s = k if stride_default else draw(st.integers(1, 3))
            p = draw(st.integers(1 if padded else 0, k // 2)) if caps.pool_padding else 0
            first = (k, d, s, p)
        dims.append(first)
    ceil_mode = caps.ceil_mode and draw(st.booleans())
    ns = []
    for k, d, s, p in dims:
        k_eff = d * (k - 1) + 1
        lo_span = k_eff - 2 * p
        if kind == "avg" and ndim == 3:
            lo_span = max(lo_span, k)  # torch's avg_pool3d wants the unpadded input to hold the kernel
        ns.append(_spatial_size(draw, lo_span, s, caps))
    # a dilated window can step over the whole input and see only padding; torch's max-pool then
    # returns -inf and writes its gradient out of bounds (a crash), so such dims get no dilation
    for i, ((k, d, s, p), n) in enumerate(zip(dims, ns)):
        if d > 1 and not _every_window_sees_input(n, k, s, p, d, ceil_mode):
            if per_dim:
                dims[i] = (k, 1, s, p)
            else:  # one value for every dim: undilate them all
                dims = [(k_, 1, s_, p_) for k_, _, s_, p_ in dims]
    ks, ds, ss, ps = (tuple(col) for col in zip(*dims))
    options = {"kernel": _pack(ks, per_dim), "stride": None if stride_default else _pack(ss, per_dim),
               "padding": _pack(ps, per_dim)}
    if any(d != 1 for d in ds):
        options["dilation"] = _pack(ds, per_dim)
    if ceil_mode:
        options["ceil_mode"] = True
    if kind == "avg":
        if any(ps) and caps.count_include_pad and draw(st.booleans()):
            options["count_include_pad"] = False
        if caps.divisor_override and draw(st.integers(0, 3)) == 0:
            options["divisor_override"] = draw(st.integers(1, 4))
    out = shapes.pool_output_size(tuple(ns), ks, ss, ps, ds, ceil_mode)
    return dict(ndim=ndim, x=(n_batch, c, *ns), out=(n_batch, c, *out), options=options)


def _every_window_sees_input(n, k, s, p, d, ceil_mode) -> bool:
    out = shapes.pool_output_size(n, k, s, p, d, ceil_mode)
    return all(any(0 <= o * s - p + j * d < n for j in range(k)) for o in range(out))


@st.composite
def _pool_cases(draw, op: str, caps: Capabilities, dtype: str, ties: bool = False):
    kind = "max" if op.startswith("max") else "avg"
    # max-pool: a third of the cases pad all-negative inputs (the padding must never win)
    negative = kind == "max" and not ties and caps.pool_padding and draw(st.integers(0, 2)) == 0
    cfg = draw(pool_configs(caps, kind=kind, padded=negative))
    x = draw(tie_arrays(cfg["x"], dtype) if ties else arrays(cfg["x"], dtype))
    note = "ties in every window" if ties else ("tie-free" if kind == "max" else "")
    if negative:
        x = (x - x.max() - 1).astype(dtype)
        note = "tie-free, all negative, padded: the padding (−∞) must lose to every input cell"
    if op.endswith("_backward"):
        return Case(op, (draw(arrays(cfg["out"], dtype)), x), cfg["options"], notes=note)
    return Case(op, (x,), cfg["options"], notes=note)


@st.composite
def max_pool_tie_cases(draw, op: str = "max_pool_backward", capabilities: Capabilities = Capabilities(),
                       dtype: str = "float64"):
    """Max-pool cases whose inputs take only the values 0, 1, 2: windows with several maxima, where
    torch routes the gradient to the first maximum in row-major window order."""
    return draw(_pool_cases(op, capabilities, dtype, ties=True))


@st.composite
def _global_pool_cases(draw, op: str, caps: Capabilities, dtype: str):
    ndim = draw(_ndim(caps))
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 3)), *(draw(st.integers(1, 4)) for _ in range(ndim)))
    x = draw(arrays(shape, dtype))
    if op.endswith("_backward"):
        return Case(op, (draw(arrays(shape[:2] + (1,) * ndim, dtype)), x), {}, notes="tie-free" if "max" in op else "")
    return Case(op, (x,), {}, notes="tie-free" if "max" in op else "")


# --- dense, activations, losses ---------------------------------------------------------------------------

@st.composite
def _batch_shape(draw, min_rank: int = 2, max_rank: int = 4, min_n: int = 1):
    rank = draw(st.integers(min_rank, max_rank))
    return (draw(st.integers(min_n, 3)),) + tuple(draw(st.integers(1, 3)) for _ in range(rank - 1))


@st.composite
def _dense_cases(draw, op: str, caps: Capabilities, dtype: str):
    x_shape = draw(_batch_shape(2, 4))
    d, m = prod(x_shape[1:]), draw(st.integers(1, 4))
    x, w = draw(arrays(x_shape, dtype)), draw(arrays((d, m), dtype))
    b = draw(arrays((m,), dtype)) if not caps.bias_optional or draw(st.booleans()) else None
    if op.endswith("_backward"):
        return Case(op, (draw(arrays((x_shape[0], m), dtype)), x, w, b), {})
    return Case(op, (x, w, b), {})


#: how each elementwise/normalising op draws its input: (arrays kwargs, notes, options strategy)
_UNARY = {
    "relu": (dict(odd=True), "odd integers: off the ReLU kink at 0"),
    "leaky_relu": (dict(odd=True), "odd integers: off the kink at 0"),
    "tanh": (dict(scale=0.25), "multiples of 1/4: off saturation"),
    "sigmoid": (dict(scale=0.25), "multiples of 1/4: off saturation"),
    "softmax": (dict(scale=0.25), "multiples of 1/4"),
    "flatten": ({}, ""),
}


@st.composite
def _unary_cases(draw, op: str, caps: Capabilities, dtype: str):
    base = op.rsplit("_", 1)[0]
    kw, note = _UNARY[base]
    shape = draw(_batch_shape(2, 2 if base == "softmax" else 4))
    x = draw(arrays(shape, dtype, **kw))
    options = {}
    if base == "leaky_relu" and draw(st.booleans()):
        options["negative_slope"] = draw(st.sampled_from([0.25, 0.5, 0.125]))
    out_shape = (shape[0], prod(shape[1:])) if base == "flatten" else shape
    if op.endswith("_backward"):
        return Case(op, (draw(arrays(out_shape, dtype)), x), options, notes=note)
    return Case(op, (x,), options, notes=note)


@st.composite
def _batchnorm_cases(draw, op: str, caps: Capabilities, dtype: str):
    n, d = draw(st.integers(2, 4)), draw(st.integers(1, 3))
    spatial = tuple(draw(st.integers(1, 3)) for _ in range(draw(st.integers(0, 2))))
    x = draw(arrays((n, d, *spatial), dtype, scale=0.5))
    gamma, beta = draw(arrays((d,), dtype, scale=0.5)), draw(arrays((d,), dtype, scale=0.5))
    if op.endswith("_backward"):
        return Case(op, (draw(arrays(x.shape, dtype, scale=0.5)), x, gamma, beta), {}, notes="training mode")
    return Case(op, (x, gamma, beta), {}, notes="training mode")


@st.composite
def _dropout_cases(draw, op: str, caps: Capabilities, dtype: str):
    shape = draw(_batch_shape(2, 4))
    p = draw(st.sampled_from([0.5, 0.25, 0.75]))
    x = draw(arrays(shape, dtype))
    mask = np.array(draw(st.lists(st.booleans(), min_size=prod(shape), max_size=prod(shape))), dtype=dtype)
    mask = mask.reshape(shape)
    if op.endswith("_backward"):
        return Case(op, (draw(arrays(shape, dtype)), x, mask), {"p": p}, notes="explicit keep mask")
    return Case(op, (x, mask), {"p": p}, notes="explicit keep mask")


@st.composite
def _loss_cases(draw, op: str, caps: Capabilities, dtype: str):
    n, c = draw(st.integers(1, 4)), draw(st.integers(2, 4))
    if op == "softmax_cross_entropy":
        logits = draw(arrays((n, c), dtype, scale=0.25))
        labels = np.array(draw(st.lists(st.integers(0, c - 1), min_size=n, max_size=n)), dtype=np.int64)
        return Case(op, (logits, labels), {})
    logits = draw(arrays((n, c), dtype, scale=0.25))
    values = [0.0, 1.0, 0.25, 0.75] if caps.soft_targets else [0.0, 1.0]
    targets = np.array(draw(st.lists(st.sampled_from(values), min_size=n * c, max_size=n * c)),
                       dtype=dtype).reshape(n, c)
    return Case(op, (logits, targets), {})


# --- the entry point -----------------------------------------------------------------------------------------

_BUILDERS = {
    "conv": _conv_cases, "conv_transpose": _conv_cases,
    "max_pool": _pool_cases, "avg_pool": _pool_cases,
    "global_max_pool": _global_pool_cases, "global_avg_pool": _global_pool_cases,
    "dense": _dense_cases, "batchnorm": _batchnorm_cases, "dropout": _dropout_cases,
    **{base: _unary_cases for base in _UNARY},
}


def cases(op: str, capabilities: Capabilities = Capabilities(), dtype: str = "float64", **config_kw):
    """A strategy of :class:`Case` for ``op`` (any op of ``convcheck.reference``, forward or backward;
    for a backward op the inputs start with ``dout``), inside ``capabilities``, arrays of ``dtype``.

    Arithmetic ops (``conv_output_size``, ``conv_params``, ...) delegate to
    :func:`convcheck.checks.arithmetic.valid_cases`. ``config_kw`` go to :func:`conv_configs`
    for conv ops (e.g. ``padding='zero'``).
    """
    if op in arithmetic.ARITHMETIC_OPS:
        return arithmetic.valid_cases(op, capabilities)
    if op in ("softmax_cross_entropy", "binary_cross_entropy"):
        return _loss_cases(op, capabilities, dtype)
    if op not in OPS:
        raise ValueError(f"no case strategy for op={op!r}; known: {sorted(OPS) + list(arithmetic.ARITHMETIC_OPS)}")
    base = op.rsplit("_", 1)[0]
    return _BUILDERS[base](op, capabilities, dtype, **config_kw)
