"""Pooling: hand-computed examples, torch on fixed configurations (ceil mode, padding, dilation,
1-D/3-D, the divisor rules), torch's first-maximum rule on ties, bad input, dtypes, purity."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from convcheck import reference as ref
from _layer_helpers import assert_close, call


def test_max_and_avg_pool_of_a_4x4_map():
    """2×2 windows at stride 2 halve each side (course notes 000/002)."""
    x = np.array([[1, 1, 2, 4], [5, 6, 7, 8], [3, 2, 1, 0], [1, 2, 3, 4]], float)[None, None]
    np.testing.assert_array_equal(ref.max_pool_forward(x, 2)[0, 0], [[6, 8], [3, 4]])
    np.testing.assert_array_equal(ref.avg_pool_forward(x, 2)[0, 0], [[13 / 4, 21 / 4], [2, 2]])
    dx = ref.max_pool_backward(np.array([[[[1.0, 2.0], [3.0, 4.0]]]]), x, 2)
    expected = np.zeros((4, 4))
    expected[1, 1], expected[1, 3], expected[2, 0], expected[3, 3] = 1, 2, 3, 4
    np.testing.assert_array_equal(dx[0, 0], expected)


def _distinct(shape, seed=0):
    rng = np.random.default_rng(seed)
    size = int(np.prod(shape))
    return (rng.permutation(size) - size // 2).astype(np.float64).reshape(shape)


MAX_CASES = [
    ((2, 3, 7), dict(kernel=2)),
    ((2, 3, 7), dict(kernel=3, stride=2, padding=1, ceil_mode=True)),
    ((2, 3, 8, 9), dict(kernel=(3, 2), stride=(2, 1), padding=(1, 1), dilation=(1, 2), ceil_mode=True)),
    ((2, 3, 5, 5), dict(kernel=2, stride=2, padding=1, ceil_mode=True)),
    ((1, 2, 6, 7), dict(kernel=3, stride=3, padding=1, ceil_mode=True)),
    ((2, 2, 6, 6), dict(kernel=3, stride=2, padding=1, dilation=2, ceil_mode=True)),
    ((1, 2, 5, 6, 7), dict(kernel=2, stride=(1, 2, 3), padding=(1, 0, 1), ceil_mode=True)),
    ((1, 2, 5, 6, 7), dict(kernel=(3, 2, 2), stride=2, dilation=(1, 2, 1))),
    ((1, 1, 4, 4), dict(kernel=4)),                                           # global
]


@pytest.mark.parametrize("shape, options", MAX_CASES, ids=[call("pool", o) for _, o in MAX_CASES])
def test_max_pool_matches_torch(shape, options):
    x = _distinct(shape)
    opts = dict(options)
    kernel = opts.pop("kernel")
    out = ref.max_pool_forward(x, kernel, **opts)
    tx = torch.tensor(x, requires_grad=True)
    ty = (F.max_pool1d, F.max_pool2d, F.max_pool3d)[x.ndim - 3](tx, kernel, **opts)
    dout = np.random.default_rng(1).standard_normal(out.shape)
    ty.backward(torch.tensor(dout))
    where = call("max_pool_forward", options)
    assert_close(out, ty.detach().numpy(), "out", where, rtol=0, atol=0)
    assert_close(ref.max_pool_backward(dout, x, kernel, **opts), tx.grad.numpy(), "dx", where, rtol=1e-12, atol=1e-12)


AVG_CASES = [
    ((2, 3, 7), dict(kernel=2)),
    ((2, 3, 7), dict(kernel=3, stride=2, padding=1, ceil_mode=True)),
    ((2, 3, 8, 9), dict(kernel=(3, 2), stride=(2, 1), padding=(1, 1), ceil_mode=True)),
    ((2, 3, 5, 5), dict(kernel=2, stride=2, padding=1, ceil_mode=True)),     # windows hang over the padding
    ((1, 2, 6, 7), dict(kernel=3, stride=3, padding=1, ceil_mode=True)),
    ((1, 2, 5, 6, 7), dict(kernel=2, stride=(1, 2, 3), padding=(1, 0, 1), ceil_mode=True)),
    ((1, 2, 4, 5), dict(kernel=3, stride=1, padding=1)),
]


# torch's avg_pool1d has no divisor_override: 1-D cases run without it
AVG_PARAMS = [(shape, options, divisor) for shape, options in AVG_CASES for divisor in (None, 5)
              if divisor is None or len(shape) > 3]


@pytest.mark.parametrize("shape, options, divisor_override", AVG_PARAMS,
                         ids=[call("pool", dict(o, divisor_override=d)) for _, o, d in AVG_PARAMS])
@pytest.mark.parametrize("count_include_pad", [True, False])
def test_avg_pool_matches_torch(shape, options, divisor_override, count_include_pad):
    x = _distinct(shape)
    opts = dict(options, count_include_pad=count_include_pad)
    kernel = opts.pop("kernel")
    out = ref.avg_pool_forward(x, kernel, **opts, divisor_override=divisor_override)
    tx = torch.tensor(x, requires_grad=True)
    extra = {} if len(shape) == 3 else dict(divisor_override=divisor_override)
    ty = (F.avg_pool1d, F.avg_pool2d, F.avg_pool3d)[x.ndim - 3](tx, kernel, **opts, **extra)
    dout = np.random.default_rng(1).standard_normal(out.shape)
    ty.backward(torch.tensor(dout))
    where = call("avg_pool_forward", dict(opts, divisor_override=divisor_override))
    assert_close(out, ty.detach().numpy(), "out", where, rtol=1e-12, atol=1e-12)
    assert_close(ref.avg_pool_backward(dout, x, kernel, **opts, divisor_override=divisor_override),
                 tx.grad.numpy(), "dx", where, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("x, kernel, stride", [
    (np.ones((1, 1, 3, 3)), 2, 1),                                           # all equal, overlapping windows
    (np.array([[[[0, 5, 1, 1], [5, 5, 1, 1], [2, 2, 3, 3], [2, 2, 3, 3]]]], float), 2, 2),
    (np.array([[[1, 3, 3, 2, 3]]], float), 3, 1),
])
def test_max_pool_ties_go_to_the_first_maximum_like_torch(x, kernel, stride):
    """Ties: torch sends each window's gradient to its first maximum in row-major order."""
    out = ref.max_pool_forward(x, kernel, stride)
    tx = torch.tensor(x, requires_grad=True)
    ty = (F.max_pool1d, F.max_pool2d)[x.ndim - 3](tx, kernel, stride)
    dout = np.arange(1.0, out.size + 1).reshape(out.shape)
    ty.backward(torch.tensor(dout))
    np.testing.assert_array_equal(ref.max_pool_backward(dout, x, kernel, stride), tx.grad.numpy())


@pytest.mark.parametrize("ndim", [1, 2, 3])
def test_global_pools_match_torch(ndim):
    x = _distinct((2, 3) + (4,) * ndim)
    dout = np.random.default_rng(2).standard_normal((2, 3) + (1,) * ndim)
    for kind, fn in (("max", [F.adaptive_max_pool1d, F.adaptive_max_pool2d, F.adaptive_max_pool3d]),
                     ("avg", [F.adaptive_avg_pool1d, F.adaptive_avg_pool2d, F.adaptive_avg_pool3d])):
        tx = torch.tensor(x, requires_grad=True)
        ty = fn[ndim - 1](tx, 1)
        ty.backward(torch.tensor(dout))
        out = getattr(ref, f"global_{kind}_pool_forward")(x)
        dx = getattr(ref, f"global_{kind}_pool_backward")(dout, x)
        assert_close(out, ty.detach().numpy(), "out", f"global_{kind}_pool_forward()", rtol=1e-12, atol=1e-12)
        assert_close(dx, tx.grad.numpy(), "dx", f"global_{kind}_pool_backward()", rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("op, args, kwargs, match", [
    (ref.max_pool_forward, (np.ones((1, 1, 4, 4)), 2), dict(padding=2), "padding"),      # > kernel/2
    (ref.max_pool_forward, (np.ones((1, 1, 4, 4)), 5), {}, "empty"),
    (ref.max_pool_forward, (np.ones((4, 4)), 2), {}, "x"),
    (ref.max_pool_forward, (np.ones((1, 1, 4, 4)), (2, 2, 2)), {}, "kernel"),
    (ref.max_pool_forward, (np.ones((1, 1, 4, 4)), 2), dict(padding=((0, 1), (0, 1))), "symmetric"),
    (ref.max_pool_forward, (np.ones((1, 1, 4, 4)), 2), dict(padding="same"), "padding"),
    (ref.max_pool_forward, (np.ones((1, 1, 4, 4)), 0), {}, "kernel"),
    (ref.avg_pool_forward, (np.ones((1, 1, 4, 4)), 2), dict(stride=0), "stride"),
    (ref.avg_pool_forward, (np.ones((1, 1, 4, 4)), 2), dict(divisor_override=0), "divisor_override"),
    (ref.global_avg_pool_forward, (np.ones((2, 3)),), {}, "x"),
    (ref.max_pool_backward, (np.ones((1, 1, 3, 3)), np.ones((1, 1, 4, 4)), 2), {}, "dout.shape"),
    (ref.avg_pool_backward, (np.ones((1, 1, 3, 3)), np.ones((1, 1, 4, 4)), 2), {}, "dout.shape"),
    (ref.global_max_pool_backward, (np.ones((1, 1)), np.ones((1, 1, 4, 4))), {}, "dout.shape"),
])
def test_pooling_rejects_bad_input(op, args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        op(*args, **kwargs)


def test_inputs_never_modified_and_float32_stays_float32():
    x = _distinct((2, 2, 5, 5)).astype(np.float32)
    x.setflags(write=False)
    for name in ("max", "avg"):
        fwd, bwd = getattr(ref, f"{name}_pool_forward"), getattr(ref, f"{name}_pool_backward")
        out = fwd(x, 3, 2, 1, ceil_mode=True)
        dout = np.ones_like(out)
        dout.setflags(write=False)
        dx = bwd(dout, x, 3, 2, 1, ceil_mode=True)
        assert out.dtype == dx.dtype == np.float32, f"{name}: out.dtype={out.dtype}, dx.dtype={dx.dtype}; want float32"
        g_out = getattr(ref, f"global_{name}_pool_forward")(x)
        g_dx = getattr(ref, f"global_{name}_pool_backward")(np.ones_like(g_out), x)
        assert g_out.dtype == g_dx.dtype == np.float32
