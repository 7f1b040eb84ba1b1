"""conv_forward/backward and the transposed conv: course examples, torch on fixed configurations,
bad input, dtypes, and inputs left unchanged. (The Hypothesis conformance suite against torch is
tests/test_reference_conformance.py; gradients and metamorphic relations have their own files.)"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from convcheck import reference as ref
from convcheck.checks.tolerances import tolerance
from convcheck.reference.conv import conv_pads
from _layer_helpers import assert_close, call

torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False


# --- the course's worked numbers -----------------------------------------------------------------

def test_course_padding_example_gives_179():
    """Notes 000: the 4×4 image padded by 1 with the filter [1 0 1] (three rows); top-left = 179."""
    image = np.array([[50, 60, 10, 50], [180, 119, 237, 180], [180, 119, 233, 200], [50, 60, 10, 50]], float)
    w = np.array([[1, 0, 1]] * 3, float)
    out = ref.conv_forward(image[None, None], w[None, None], padding=1)
    assert out.shape == (1, 1, 4, 4), f"out.shape={out.shape}, but should be (1, 1, 4, 4) [conv_forward(padding=1)]"
    assert out[0, 0, 0, 0] == 179, f"out[0, 0, 0, 0]={out[0, 0, 0, 0]}, but should be 179 [conv_forward(padding=1)]"


def test_course_1d_backward_equations():
    """Notes 000, 1-D case: y_i = w1·x_i + w2·x_{i+1} + b; db = Σdy, dw = x ⋆ dy, dx = pad(dy) ⋆ rot180(w)."""
    x = np.array([1.0, 2.0, 3.0, 4.0])
    w = np.array([5.0, 7.0])
    dy = np.array([1.0, -2.0, 3.0])
    dx, dw, db = ref.conv_backward(dy[None, None], x[None, None], w[None, None], np.zeros(1))
    np.testing.assert_array_equal(db, [dy.sum()])
    np.testing.assert_array_equal(dw[0, 0], [x[:3] @ dy, x[1:] @ dy])
    expected_dx = [w[0] * dy[0], w[1] * dy[0] + w[0] * dy[1], w[1] * dy[1] + w[0] * dy[2], w[1] * dy[2]]
    np.testing.assert_array_equal(dx[0, 0], expected_dx)
    # the same dx as the full correlation of the zero-padded dy with the flipped filter
    np.testing.assert_array_equal(dx[0, 0], np.correlate(np.pad(dy, 1), w[::-1], mode="valid"))


@pytest.mark.parametrize("n, k, s, p, expected", [(6, 3, 1, 0, 4), (5, 3, 1, 1, 5), (5, 3, 2, 1, 3), (7, 3, 2, 0, 3)])
def test_output_sizes_follow_the_course_rule(n, k, s, p, expected):
    out = ref.conv_forward(np.ones((1, 1, n, n)), np.ones((1, 1, k, k)), stride=s, padding=p)
    assert out.shape[2:] == (expected, expected), (
        f"out.shape={out.shape}, but should be (1, 1, {expected}, {expected}) [conv_forward(stride={s}, pad={p})]")


# --- against torch on fixed configurations --------------------------------------------------------

def _torch_pad(t, pads):
    flat = []
    for pb, pa in reversed(pads):
        flat += [pb, pa]
    return F.pad(t, flat)


CONV_CASES = [
    # x shape, w shape, options
    ((2, 3, 9), (4, 3, 3), dict()),
    ((2, 4, 11), (6, 2, 2), dict(stride=3, padding=(1, 2), dilation=2, groups=2)),   # 1-D, stride > kernel
    ((2, 3, 7, 8), (4, 3, 3, 2), dict(stride=(2, 1), padding=((1, 2), (0, 1)), dilation=(1, 2))),
    ((1, 4, 5, 6), (4, 1, 3, 3), dict(padding="same", groups=4)),                      # depthwise
    ((2, 2, 5, 5), (3, 2, 2, 2), dict(stride=3, padding="full")),
    ((2, 2, 6, 7), (3, 2, 3, 3), dict(stride=2, padding="same")),
    ((2, 3, 4, 4), (2, 3, 4, 4), dict()),                                              # kernel = input
    ((1, 1, 3, 3), (1, 1, 5, 5), dict(padding=1)),                                      # kernel = padded input
    ((1, 2, 4, 5, 6), (4, 1, 2, 3, 2), dict(stride=(1, 2, 1), padding=1, dilation=(2, 1, 1), groups=2)),  # 3-D
    ((2, 6, 6, 6), (6, 2, 3, 3), dict(stride=1, padding=2, dilation=2, groups=3)),
]


@pytest.mark.parametrize("xs, ws, options", CONV_CASES, ids=[call("conv", o) for _, _, o in CONV_CASES])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_conv_matches_torch(xs, ws, options, dtype):
    rng = np.random.default_rng(0)
    x, w, b = (rng.standard_normal(s).astype(dtype) for s in (xs, ws, (ws[0],)))
    nd = len(xs) - 2
    opts = dict(stride=1, padding=0, dilation=1, groups=1) | options
    out = ref.conv_forward(x, w, b, **opts)
    assert out.dtype == dtype, f"out.dtype={out.dtype}, but should be {dtype} [{call('conv_forward', opts)}]"
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    per_dim = lambda v: (v,) * nd if isinstance(v, int) else v  # noqa: E731
    pads = conv_pads(opts["padding"], xs[2:], ws[2:], per_dim(opts["stride"]), per_dim(opts["dilation"]))
    conv = (F.conv1d, F.conv2d, F.conv3d)[nd - 1]
    ty = conv(_torch_pad(tx, pads), tw, tb, opts["stride"], 0, opts["dilation"], opts["groups"])
    dout = rng.standard_normal(out.shape).astype(dtype)
    ty.backward(torch.tensor(dout))
    grads = ref.conv_backward(dout, x, w, b, **opts)
    where = call("conv_forward", opts)
    for name, got, t, length in [("out", out, ty, w[0].size), ("dx", grads[0], tx.grad, out.size),
                                 ("dw", grads[1], tw.grad, out.size), ("db", grads[2], tb.grad, out.size)]:
        rtol, atol = tolerance(dtype, length)
        assert_close(got, t.detach().numpy(), name, where, rtol=rtol, atol=atol)


TRANSPOSE_CASES = [
    ((2, 4, 5), (4, 3, 3), dict()),
    ((2, 4, 5), (4, 3, 3), dict(stride=2, padding=1, output_padding=1, groups=2)),
    ((2, 4, 3, 4), (4, 2, 3, 2), dict(stride=(2, 3), padding=(1, 0), output_padding=(1, 2), groups=2)),
    ((2, 2, 3, 4), (2, 3, 3, 3), dict(padding=1, output_padding=1, dilation=2)),       # output_padding ≥ stride
    ((2, 2, 3, 4), (2, 3, 3, 3), dict(stride=2, padding=2, output_padding=(1, 0), dilation=3)),
    ((1, 2, 3, 2, 3), (2, 2, 2, 2, 3), dict(stride=2, output_padding=1)),               # 3-D
]


@pytest.mark.parametrize("xs, ws, options", TRANSPOSE_CASES, ids=[call("ct", o) for _, _, o in TRANSPOSE_CASES])
def test_conv_transpose_matches_torch(xs, ws, options):
    rng = np.random.default_rng(1)
    groups = options.get("groups", 1)
    x, w, b = (rng.standard_normal(s) for s in (xs, ws, (ws[1] * groups,)))
    nd = len(xs) - 2
    out = ref.conv_transpose_forward(x, w, b, **options)
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    opts = dict(stride=1, padding=0, output_padding=0, groups=1, dilation=1) | options
    ty = (F.conv_transpose1d, F.conv_transpose2d, F.conv_transpose3d)[nd - 1](tx, tw, tb, **opts)
    dout = rng.standard_normal(out.shape)
    ty.backward(torch.tensor(dout))
    where = call("conv_transpose_forward", options)
    for name, got, t in zip(("out", "dx", "dw", "db"), (out, *ref.conv_transpose_backward(dout, x, w, b, **options)),
                            (ty, tx.grad, tw.grad, tb.grad)):
        rtol, atol = tolerance("float64", out.size)
        assert_close(got, t.detach().numpy(), name, where, rtol=rtol, atol=atol)


# --- bad input -----------------------------------------------------------------------------------

X, W = np.ones((1, 4, 5, 5)), np.ones((2, 4, 3, 3))


@pytest.mark.parametrize("args, kwargs, names", [
    ((X, np.ones((2, 3, 3, 3))), {}, "channels"),                      # C mismatch
    ((X, np.ones((3, 2, 3, 3))), dict(groups=2), "groups"),            # groups does not divide F
    ((np.ones((1, 3, 5, 5)), np.ones((3, 1, 3, 3))), dict(groups=2), "groups"),  # nor C
    ((np.ones((4, 5, 5)), W), {}, "x"),                                # wrong rank of x
    ((X, np.ones((2, 4, 3))), {}, "w"),                                # wrong rank of w
    ((np.ones((1, 4, 2, 2)), W), {}, "kernel"),                        # empty output
    ((X, W, np.ones(3)), {}, "b"),                                     # bias length
    ((X, W), dict(stride=0), "stride"),
    ((X, W), dict(stride=(1, 1, 1)), "stride"),
    ((X, W), dict(dilation=(1, 0)), "dilation"),
    ((X, W), dict(padding=-1), "padding"),
    ((X, W), dict(padding="half"), "padding"),
    ((X, W), dict(groups=0), "groups"),
    ((np.ones((0, 4, 5, 5)), W), {}, "x"),                             # empty batch
    ((X.astype(complex), W), {}, "x"),
])
def test_conv_forward_rejects_bad_input(args, kwargs, names):
    with pytest.raises(ValueError, match=names):
        ref.conv_forward(*args, **kwargs)


def test_backward_rejects_a_dout_of_the_wrong_shape():
    with pytest.raises(ValueError, match="dout.shape"):
        ref.conv_backward(np.ones((1, 2, 2, 2)), X, W)
    with pytest.raises(ValueError, match="dout.shape"):
        ref.conv_transpose_backward(np.ones((1, 2, 2, 2)), X, np.ones((4, 2, 3, 3)))


def test_conv_transpose_rejects_bad_options():
    w = np.ones((4, 2, 3, 3))
    with pytest.raises(ValueError, match="output_padding"):
        ref.conv_transpose_forward(X, w, stride=2, output_padding=2)
    with pytest.raises(ValueError, match="mode string"):
        ref.conv_transpose_forward(X, w, padding="same")
    with pytest.raises(ValueError, match="w.shape"):
        ref.conv_transpose_forward(X, np.ones((3, 2, 3, 3)))


def test_naive_conv_is_2d_only():
    with pytest.raises(ValueError, match="2-D"):
        ref.conv_forward_naive(np.ones((1, 1, 5)), np.ones((1, 1, 3)))


# --- dtypes and purity ---------------------------------------------------------------------------

def test_inputs_are_never_modified():
    rng = np.random.default_rng(2)
    x, w, b = rng.standard_normal((2, 2, 5, 5)), rng.standard_normal((2, 2, 3, 3)), rng.standard_normal(2)
    dout = rng.standard_normal((2, 2, 3, 3))
    for a in (x, w, b, dout):
        a.setflags(write=False)  # any in-place write raises
    ref.conv_forward(x, w, b, stride=2, padding=1)
    ref.conv_backward(dout, x, w, b, stride=2, padding=1)
    ref.conv_forward_naive(x, w, b, stride=2, padding=1)
    ref.conv_backward_naive(dout, x, w, b, stride=2, padding=1)
    t = ref.conv_transpose_forward(dout, w, b, stride=2, padding=1)
    ref.conv_transpose_backward(t, dout, w, b, stride=2, padding=1)


def test_float32_stays_float32_and_agrees_with_float64():
    rng = np.random.default_rng(3)
    x, w, b = rng.standard_normal((2, 3, 8, 8)), rng.standard_normal((4, 3, 3, 3)), rng.standard_normal(4)
    out64 = ref.conv_forward(x, w, b, padding=1)
    dout = rng.standard_normal(out64.shape)
    x32, w32, b32, d32 = (a.astype(np.float32) for a in (x, w, b, dout))
    out32 = ref.conv_forward(x32, w32, b32, padding=1)
    grads32 = ref.conv_backward(d32, x32, w32, b32, padding=1)
    grads64 = ref.conv_backward(dout, x, w, b, padding=1)
    for name, got, expected, length in [("out", out32, out64, w[0].size), *zip(("dx", "dw", "db"), grads32, grads64,
                                                                             (dout.size,) * 3)]:
        assert got.dtype == np.float32, f"{name}.dtype={got.dtype}, but should be float32"
        rtol, atol = tolerance("float32", length)
        assert_close(got, expected, name, "conv(float32)", rtol=rtol, atol=atol)


def test_integer_inputs_compute_in_float64():
    out = ref.conv_forward(np.arange(16).reshape(1, 1, 4, 4), np.ones((1, 1, 2, 2), dtype=int))
    assert out.dtype == np.float64, f"out.dtype={out.dtype}, but should be float64"
    assert out[0, 0, 0, 0] == 0 + 1 + 4 + 5
