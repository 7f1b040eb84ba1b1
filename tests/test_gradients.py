"""Every backward of the reference equals the central-difference gradient of its forward (float64).

Independent of torch. For ``L = Σ forward(inputs) · dout`` with a random ``dout``, each gradient
returned by the backward must match ``(L(a + h) − L(a − h)) / 2h`` element by element. Max-pool
inputs are tie-free (distinct integers, 1 apart, so the step h never changes a window's argmax);
ReLU and leaky-ReLU inputs stay at least 0.5 away from the kink at 0.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from convcheck import reference as ref
from _layer_helpers import assert_close, call, numerical_gradient
from _layer_strategies import conv_configs, distinct, ints, pool_configs, seeds


def check_backward(op, forward, backward, inputs, options, rng, names, constants=()):
    """Compare each gradient of ``backward(dout, *inputs, **options)`` with central differences.

    ``constants`` are trailing positional arguments that receive no gradient (e.g. a dropout mask).
    """
    inputs = list(inputs)
    out = forward(*inputs, *constants, **options)
    dout = rng.standard_normal(np.shape(out))
    grads = backward(dout, *inputs, *constants, **options)
    grads = grads if isinstance(grads, tuple) else (grads,)
    assert len(grads) == len(inputs), f"{op} returned {len(grads)} gradients, but should return {len(inputs)}"
    for i, (name, a, g) in enumerate(zip(names, inputs, grads)):
        if a is None:
            assert g is None, f"{name} should be None when the input is None [{call(op, options)}]"
            continue
        numeric = numerical_gradient(lambda *xs: forward(*xs, *constants, **options), inputs, i, dout)
        assert_close(g, numeric, name, call(op, options))


@given(conv_configs())
def test_conv_backward_matches_finite_differences(cfg):
    check_backward("conv_backward", ref.conv_forward, ref.conv_backward, (cfg.x, cfg.w, cfg.b), cfg.options,
                   np.random.default_rng(0), ("dx", "dw", "db"))


@given(conv_configs(ndims=(2,)))
def test_conv_backward_naive_matches_finite_differences(cfg):
    options = {k: v for k, v in cfg.options.items() if k != "groups"}
    x, w = cfg.x, cfg.w
    if cfg.options["groups"] != 1:  # the naive conv is groups=1: use the first group only
        x, w = x[:, : w.shape[1]], w[: w.shape[0] // cfg.options["groups"]]
    b = None if cfg.b is None else cfg.b[: w.shape[0]]
    check_backward("conv_backward_naive", ref.conv_forward_naive, ref.conv_backward_naive, (x, w, b), options,
                   np.random.default_rng(1), ("dx", "dw", "db"))


@given(conv_configs(transposed=True))
def test_conv_transpose_backward_matches_finite_differences(cfg):
    check_backward("conv_transpose_backward", ref.conv_transpose_forward, ref.conv_transpose_backward,
                   (cfg.x, cfg.w, cfg.b), cfg.options, np.random.default_rng(2), ("dx", "dw", "db"))


@given(pool_configs())
def test_max_pool_backward_matches_finite_differences(case):
    x, options = case  # tie-free: distinct integers
    options = dict(options)
    kernel = options.pop("kernel")
    check_backward("max_pool_backward", lambda x, **o: ref.max_pool_forward(x, kernel, **o),
                   lambda d, x, **o: ref.max_pool_backward(d, x, kernel, **o), (x,), options,
                   np.random.default_rng(3), ("dx",))


@given(pool_configs(dilation=False), st.booleans(), st.sampled_from([None, 3]))
def test_avg_pool_backward_matches_finite_differences(case, count_include_pad, divisor_override):
    x, options = case
    options = dict(options, count_include_pad=count_include_pad, divisor_override=divisor_override)
    kernel = options.pop("kernel")
    check_backward("avg_pool_backward", lambda x, **o: ref.avg_pool_forward(x, kernel, **o),
                   lambda d, x, **o: ref.avg_pool_backward(d, x, kernel, **o), (x,), options,
                   np.random.default_rng(4), ("dx",))


@given(seeds(), st.integers(1, 3), st.sampled_from(["max", "avg"]))
def test_global_pool_backward_matches_finite_differences(rng, ndim, kind):
    x = distinct(rng, (2, 2) + (3,) * ndim)
    fwd, bwd = getattr(ref, f"global_{kind}_pool_forward"), getattr(ref, f"global_{kind}_pool_backward")
    check_backward(f"global_{kind}_pool_backward", fwd, bwd, (x,), {}, rng, ("dx",))


@given(seeds(), st.lists(st.integers(1, 3), min_size=1, max_size=3), st.integers(1, 4), st.booleans())
def test_dense_backward_matches_finite_differences(rng, feature_shape, m, with_bias):
    x = ints(rng, (2, *feature_shape))
    w = ints(rng, (int(np.prod(feature_shape)), m))
    b = ints(rng, (m,)) if with_bias else None
    check_backward("dense_backward", ref.dense_forward, ref.dense_backward, (x, w, b), {}, rng, ("dx", "dw", "db"))


def _off_kink(rng, shape):
    """Values at least 0.5 away from 0, so that ±h never crosses the ReLU kink."""
    return rng.integers(-3, 3, size=shape) + 0.5


ELEMENTWISE = ["relu", "leaky_relu", "tanh", "sigmoid", "softmax", "flatten"]


@given(seeds(), st.sampled_from(ELEMENTWISE), st.lists(st.integers(1, 3), min_size=2, max_size=4))
def test_activation_backward_matches_finite_differences(rng, name, shape):
    x = _off_kink(rng, shape) if "relu" in name else rng.standard_normal(shape) * 2
    fwd, bwd = getattr(ref, f"{name}_forward"), getattr(ref, f"{name}_backward")
    check_backward(f"{name}_backward", fwd, bwd, (x,), {}, rng, ("dx",))


@given(seeds(), st.integers(0, 2), st.floats(0.05, 0.5))
def test_leaky_relu_slope_and_softmax_axis(rng, axis, slope):
    x = _off_kink(rng, (2, 3, 2))
    check_backward("leaky_relu_backward", ref.leaky_relu_forward, ref.leaky_relu_backward, (x,),
                   {"negative_slope": slope}, rng, ("dx",))
    check_backward("softmax_backward", ref.softmax_forward, ref.softmax_backward, (rng.standard_normal((2, 3, 2)),),
                   {"axis": axis}, rng, ("dx",))


@given(seeds(), st.sampled_from([(4, 3), (2, 3, 2), (2, 2, 2, 3)]))
def test_batchnorm_backward_matches_finite_differences(rng, shape):
    x = rng.standard_normal(shape) * 3
    gamma, beta = rng.standard_normal(shape[1]), rng.standard_normal(shape[1])
    check_backward("batchnorm_backward", ref.batchnorm_forward, ref.batchnorm_backward, (x, gamma, beta), {}, rng,
                   ("dx", "dgamma", "dbeta"))


@given(seeds(), st.sampled_from([0.0, 0.25, 0.5, 0.9]))
def test_dropout_backward_matches_finite_differences(rng, p):
    x = rng.standard_normal((3, 4))
    mask = rng.random(x.shape) >= p
    check_backward("dropout_backward", ref.dropout_forward, ref.dropout_backward, (x,), {"p": p}, rng, ("dx",),
                   constants=(mask,))


@given(seeds(), st.integers(1, 4), st.integers(2, 5), st.booleans())
def test_loss_gradients_match_finite_differences(rng, n, k, spatial):
    shape = (n, k, 3) if spatial else (n, k)
    logits = rng.standard_normal(shape) * 3
    labels = rng.integers(0, k, size=(n, 3) if spatial else (n,))
    loss, dlogits = ref.softmax_cross_entropy(logits, labels)
    numeric = numerical_gradient(lambda z: ref.softmax_cross_entropy(z, labels)[0], [logits], 0, 1.0)
    assert_close(dlogits, numeric, "dlogits", "softmax_cross_entropy")
    targets = rng.random(shape)
    loss, dlogits = ref.binary_cross_entropy(logits, targets)
    numeric = numerical_gradient(lambda z: ref.binary_cross_entropy(z, targets)[0], [logits], 0, 1.0)
    assert_close(dlogits, numeric, "dlogits", "binary_cross_entropy")
