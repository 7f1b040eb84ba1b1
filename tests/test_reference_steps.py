"""reference/steps.py — the channels-last helpers of the conv-step-by-step course — against torch, in
float64: zero_pad is ``F.pad`` of the spatial dims, conv_single_step one output of ``F.conv2d``,
create_mask_from_window and distribute_value the gradients of ``max_pool2d`` and ``avg_pool2d`` over one
whole window (autograd). Windows are drawn with distinct values (``arrays``), so a max window has one
maximum: the tie rule is max_pool_backward's business, not this helper's.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from convcheck import reference as ref
from convcheck.checks.strategies import arrays
from convcheck.checks.tolerances import tolerance

DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.cuda)]


def _device(device):
    if device == "cuda" and not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    return device


def _t(a, device, grad=False):
    return torch.tensor(np.asarray(a), dtype=torch.float64, device=device, requires_grad=grad)


shapes = st.tuples(st.integers(1, 2), st.integers(1, 4), st.integers(1, 4), st.integers(1, 3))


@pytest.mark.parametrize("device", DEVICES)
@given(data=st.data())
def test_zero_pad_is_torch_pad_of_the_spatial_dims(device, data):
    _device(device)
    X = data.draw(shapes.flatmap(lambda s: arrays(s, "float64")))
    pad = data.draw(st.integers(0, 3))
    want = F.pad(_t(X, device).permute(0, 3, 1, 2), (pad, pad, pad, pad)).permute(0, 2, 3, 1).cpu().numpy()
    got = ref.steps.zero_pad(X, pad)
    assert got.shape == want.shape == (X.shape[0], X.shape[1] + 2 * pad, X.shape[2] + 2 * pad, X.shape[3])
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(got[:, pad:pad + X.shape[1], pad:pad + X.shape[2], :], X)


@pytest.mark.parametrize("device", DEVICES)
@given(data=st.data())
def test_conv_single_step_is_one_output_of_conv2d(device, data):
    _device(device)
    f, c = data.draw(st.integers(1, 4)), data.draw(st.integers(1, 3))
    a, W = data.draw(arrays((f, f, c), "float64")), data.draw(arrays((f, f, c), "float64"))
    b = data.draw(arrays((1, 1, 1), "float64", odd=True))
    out = F.conv2d(_t(a, device).permute(2, 0, 1)[None], _t(W, device).permute(2, 0, 1)[None],
                   _t(b, device).reshape(1))
    tol = tolerance("float64", a.size)
    assert out.shape == (1, 1, 1, 1)
    assert ref.steps.conv_single_step(a, W, b) == pytest.approx(out.item(), rel=tol.rtol, abs=tol.atol)


@pytest.mark.parametrize("device", DEVICES)
@given(window=st.tuples(st.integers(1, 4), st.integers(1, 4)).flatmap(lambda s: arrays(s, "float64")))
def test_create_mask_from_window_is_the_gradient_of_max_over_the_window(device, window):
    _device(device)
    x = _t(window, device, grad=True)
    F.max_pool2d(x[None, None], window.shape).sum().backward()
    mask = ref.steps.create_mask_from_window(window)
    assert mask.dtype == bool and mask.sum() == 1
    np.testing.assert_array_equal(mask, x.grad.cpu().numpy() == 1.0)


@pytest.mark.parametrize("device", DEVICES)
@given(shape=st.tuples(st.integers(1, 4), st.integers(1, 4)), dz=st.floats(-8, 8, allow_nan=False))
def test_distribute_value_is_the_gradient_of_average_over_the_window(device, shape, dz):
    _device(device)
    x = _t(np.zeros(shape), device, grad=True)
    (F.avg_pool2d(x[None, None], shape).sum() * dz).backward()
    got = ref.steps.distribute_value(dz, shape)
    assert got.shape == shape
    tol = tolerance("float64", got.size)
    np.testing.assert_allclose(got, x.grad.cpu().numpy(), rtol=tol.rtol, atol=tol.atol)
    assert got.sum() == pytest.approx(dz, rel=1e-12, abs=1e-12)


def test_the_courses_worked_numbers():
    """A 2×2 average window spreads dz = 2 as 0.5 each; a max window [[1, 3], [2, -1]] sends it to the 3."""
    np.testing.assert_array_equal(ref.steps.distribute_value(2, (2, 2)), np.full((2, 2), 0.5))
    np.testing.assert_array_equal(ref.steps.create_mask_from_window([[1.0, 3.0], [2.0, -1.0]]),
                                  [[False, True], [False, False]])
    assert ref.steps.conv_single_step(np.ones((2, 2, 1)), np.full((2, 2, 1), 0.5), [[[-1.0]]]) == 1.0


@pytest.mark.parametrize("call, words", [
    (lambda: ref.steps.zero_pad(np.zeros((2, 3, 3)), 1), "(m, n_H, n_W, n_C)"),
    (lambda: ref.steps.zero_pad(np.zeros((1, 3, 3, 1)), -1), "pad must be an int >= 0"),
    (lambda: ref.steps.zero_pad(np.zeros((1, 3, 3, 1)), 1.5), "pad must be an int >= 0"),
    (lambda: ref.steps.conv_single_step(np.zeros((2, 2, 1)), np.zeros((2, 2, 2)), 0.0), "must have one shape"),
    (lambda: ref.steps.conv_single_step(np.zeros((2, 2, 1)), np.zeros((2, 2, 1)), np.zeros(2)), "one value"),
    (lambda: ref.steps.distribute_value(1.0, (0, 2)), "sizes >= 1"),
])
def test_bad_input_is_refused_naming_the_argument(call, words):
    with pytest.raises(ValueError) as info:
        call()
    assert words in str(info.value)
