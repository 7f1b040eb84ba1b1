"""Metamorphic properties of the reference, independent of torch.

Relations between calls rather than values: the naive loops equal the fast path; conv is linear in
x and in w; it commutes with translations (away from the borders); the transposed conv is its
adjoint; a delta kernel is the identity; average pooling is a conv with a uniform kernel; db sums
dout. Inputs are integer-valued, so most of these hold exactly in float64; the comparisons still
use ``checks.tolerances`` for sums of many products.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from convcheck import reference as ref
from convcheck.checks.tolerances import tolerance
from convcheck.reference.conv import conv_pads
from _layer_helpers import assert_close, call
from _layer_strategies import conv_configs, distinct, ints, pool_configs, seeds


def close(got, expected, name, where, length=1):
    rtol, atol = tolerance("float64", length)
    assert_close(got, expected, name, where, rtol=rtol, atol=atol)


def _first_group(cfg):
    """The naive conv has groups=1: keep the first group's channels and filters."""
    g = cfg.options["groups"]
    x, w = cfg.x[:, : cfg.w.shape[1]], cfg.w[: cfg.w.shape[0] // g]
    b = None if cfg.b is None else cfg.b[: w.shape[0]]
    return x, w, b, {k: v for k, v in cfg.options.items() if k != "groups"}


@given(conv_configs(ndims=(2,)))
def test_naive_conv_equals_fast_conv(cfg):
    x, w, b, options = _first_group(cfg)
    where = call("conv_forward", options)
    out = ref.conv_forward(x, w, b, **options)
    close(ref.conv_forward_naive(x, w, b, **options), out, "out", where, w[0].size)
    dout = ints(np.random.default_rng(0), out.shape)
    fast = ref.conv_backward(dout, x, w, b, **options)
    naive = ref.conv_backward_naive(dout, x, w, b, **options)
    for name, got, expected in zip(("dx", "dw", "db"), naive, fast):
        if expected is None:
            assert got is None, f"{name} should be None without a bias [{where}]"
        else:
            close(got, expected, name, where, dout.size)


@given(conv_configs(bias=False), seeds(), st.integers(-3, 3), st.integers(-3, 3))
def test_conv_is_linear_in_x_and_in_w(cfg, rng, alpha, beta):
    where = call("conv_forward", cfg.options)
    x2, w2 = ints(rng, cfg.x.shape), ints(rng, cfg.w.shape)
    conv = lambda x, w: ref.conv_forward(x, w, None, **cfg.options)  # noqa: E731
    length = cfg.w[0].size
    close(conv(alpha * cfg.x + beta * x2, cfg.w), alpha * conv(cfg.x, cfg.w) + beta * conv(x2, cfg.w),
          "conv(αx₁ + βx₂)", where, length)
    close(conv(cfg.x, alpha * cfg.w + beta * w2), alpha * conv(cfg.x, cfg.w) + beta * conv(cfg.x, w2),
          "conv(αw₁ + βw₂)", where, length)


@given(seeds(), st.integers(1, 3), st.integers(1, 3), st.integers(1, 2), st.integers(1, 2))
def test_conv_commutes_with_translation_away_from_borders(rng, ndim, k, stride, shift):
    """Shifting x by ``shift·stride`` cells shifts a valid conv's output by ``shift`` cells."""
    x = ints(rng, (1, 2) + (k + 2 * stride * shift + 2,) * ndim)
    w = ints(rng, (2, 2) + (k,) * ndim)
    options = dict(stride=stride)
    out = ref.conv_forward(x, w, **options)
    axes = tuple(range(2, 2 + ndim))
    shifted = ref.conv_forward(np.roll(x, stride * shift, axis=axes), w, **options)
    inner = (slice(None), slice(None)) + (slice(shift, None),) * ndim
    outer = (slice(None), slice(None)) + (slice(None, -shift),) * ndim
    close(shifted[inner], out[outer], "conv(shift(x))", call("conv_forward", dict(options, shift=shift)))


@given(conv_configs(bias=False), seeds())
def test_conv_transpose_is_the_adjoint_of_conv(cfg, rng):
    """⟨conv(x), y⟩ = ⟨x, conv_transpose(y)⟩ for every x and y ([DV16] section 4)."""
    o = cfg.options
    ks, ss = cfg.w.shape[2:], o["stride"]
    pads = conv_pads(o["padding"], cfg.x.shape[2:], ks, ss, o["dilation"])
    out = ref.conv_forward(cfg.x, cfg.w, **o)
    y = ints(rng, out.shape)
    output_padding = tuple(n + pb + pa - ((m - 1) * s + d * (k - 1) + 1) for n, (pb, pa), m, s, d, k
                           in zip(cfg.x.shape[2:], pads, out.shape[2:], ss, o["dilation"], ks))
    back = ref.conv_transpose_forward(y, cfg.w, None, ss, pads, output_padding, o["dilation"], o["groups"])
    assert back.shape == cfg.x.shape, f"conv_transpose(y).shape={back.shape}, but should be {cfg.x.shape}"
    close(np.vdot(cfg.x, back), np.vdot(out, y), "⟨x, conv_transpose(y)⟩", call("conv_forward", o), out.size)
    # and conv_backward's dx is literally that transposed conv
    close(ref.conv_backward(y, cfg.x, cfg.w, None, **o)[0], back, "dx", call("conv_backward", o))


@given(seeds(), st.integers(1, 3), st.sampled_from([1, 3, 5]), st.integers(1, 3), st.booleans())
def test_delta_kernel_is_the_identity(rng, ndim, k, dilation, depthwise):
    c = 3
    x = ints(rng, (2, c) + (4,) * ndim)
    centre = (k // 2,) * ndim
    if depthwise:
        w = np.zeros((c, 1) + (k,) * ndim)
        w[(slice(None), 0) + centre] = 1
    else:
        w = np.zeros((c, c) + (k,) * ndim)
        for i in range(c):
            w[(i, i) + centre] = 1
    options = dict(padding="same", dilation=dilation, groups=c if depthwise else 1)
    close(ref.conv_forward(x, w, **options), x, "conv(x, δ)", call("conv_forward", options))


@given(pool_configs(dilation=False))
def test_avg_pool_is_a_conv_with_a_uniform_kernel(case):
    x, options = case
    kernel, stride, padding = options["kernel"], options["stride"], options["padding"]
    # without ceil mode every window lies inside the padded input, so the divisor is always ∏k
    c = x.shape[1]
    w = np.full((c, 1, *kernel), 1 / np.prod(kernel))
    conv_opts = dict(stride=stride, padding=padding, groups=c)
    where = call("avg_pool_forward", dict(options, ceil_mode=False))
    pooled = ref.avg_pool_forward(x, kernel, stride, padding)
    close(pooled, ref.conv_forward(x, w, **conv_opts), "avg_pool(x)", where, w[0].size)
    dout = distinct(np.random.default_rng(0), pooled.shape)
    close(ref.avg_pool_backward(dout, x, kernel, stride, padding), ref.conv_backward(dout, x, w, **conv_opts)[0],
          "dx", where, dout.size)


@given(conv_configs(bias=True), seeds())
def test_db_is_the_sum_of_dout(cfg, rng):
    out = ref.conv_forward(cfg.x, cfg.w, cfg.b, **cfg.options)
    dout = ints(rng, out.shape)
    expected = dout.sum(axis=(0, *range(2, dout.ndim)))
    close(ref.conv_backward(dout, cfg.x, cfg.w, cfg.b, **cfg.options)[2], expected, "db",
          call("conv_backward", cfg.options), dout.size)


@given(pool_configs(), st.integers(-5, 5))
def test_max_pool_commutes_with_adding_a_constant(case, shift):
    x, options = case
    options = dict(options)
    kernel = options.pop("kernel")
    out = ref.max_pool_forward(x, kernel, **options)
    close(ref.max_pool_forward(x + shift, kernel, **options), out + shift, "max_pool(x + c)",
          call("max_pool_forward", options))
    # and the gradient only moves: Σ dx = Σ dout over windows that hold an input cell
    dout = np.ones_like(out)
    dx = ref.max_pool_backward(dout, x, kernel, **options)
    assert dx.sum() == np.isfinite(out).sum(), f"Σdx={dx.sum()}, but should be {np.isfinite(out).sum()}"


@given(seeds(), st.integers(1, 3))
def test_global_avg_pool_is_avg_pool_over_the_whole_map(rng, ndim):
    x = ints(rng, (2, 3) + tuple(rng.integers(1, 4, size=ndim)))
    close(ref.global_avg_pool_forward(x), ref.avg_pool_forward(x, x.shape[2:]), "global_avg_pool(x)",
          "global_avg_pool_forward()")
    close(ref.global_max_pool_forward(x), ref.max_pool_forward(x, x.shape[2:]), "global_max_pool(x)",
          "global_max_pool_forward()")
