"""cs231n's multiclass SVM (hinge, margin 1) and softmax losses, mean over N: the reference against
torch (``F.multi_margin_loss`` × C, ``F.cross_entropy``), loss and dx by autograd, float64.

SVM scores are distinct multiples of 0.3 (``checks.norm_cases``): no margin s_j − s_y + 1 is 0, so
the inputs stay off the hinge's kink where the derivative is a convention.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given

from convcheck import reference as ref
from convcheck.checks import norm_cases
from convcheck.checks.adapters import torch as torch_adapter
from convcheck.checks.tolerances import tolerance
from _layer_helpers import assert_close

DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.cuda)]


@functools.cache
def _torch_on(device):
    return torch_adapter.make(device)


def oracle(device):
    if device == "cuda" and not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    return _torch_on(device)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("op", ["svm_loss", "softmax_loss"])
def test_reference_matches_torch(op, device):
    oracle(device)

    @given(norm_cases.cases(op))
    def check(case):
        x, y = case.inputs
        loss, dx = ref.OPS[op](x, y)
        t_loss, t_dx = getattr(oracle(device), op)(x, y)
        tol = tolerance("float64", x.size)
        where = f"{op} on x.shape={x.shape}, {device}"
        assert_close(loss, t_loss, "loss", where, tol.rtol, tol.atol)
        assert_close(dx, t_dx, "dx", where, tol.rtol, tol.atol)
    check()


def test_svm_worked_example():
    """Scores [3, 1, 3.5], y = 0: margins 1 − 2 = −1 → 0 and 1.5 + 1 → 1.5; the true class adds nothing."""
    x, y = np.array([[3.0, 1.0, 3.5], [0.0, 0.0, 0.0]]), np.array([0, 2])
    loss, dx = ref.svm_loss(x, y)
    # sample 2: all scores equal, two margins of 1
    assert loss == pytest.approx((1.5 + 2.0) / 2, rel=1e-15)
    np.testing.assert_array_equal(dx, np.array([[-1, 0, 1], [1, 1, -2]]) / 2)


def test_torch_multi_margin_divides_by_the_number_of_classes():
    """The mapping the oracle uses: cs231n's hinge loss = F.multi_margin_loss(margin=1) · C."""
    x, y = np.array([[3.0, 1.0, 3.5, -2.0]]), np.array([0])
    t = F.multi_margin_loss(torch.tensor(x), torch.tensor(y), margin=1.0).item()
    assert ref.svm_loss(x, y)[0] == pytest.approx(t * 4, rel=1e-15)


def test_softmax_loss_is_softmax_cross_entropy_and_uniform_scores_give_log_c():
    x, y = np.zeros((3, 5)), np.array([0, 4, 2])
    loss, dx = ref.softmax_loss(x, y)
    assert loss == pytest.approx(np.log(5), rel=1e-15)
    np.testing.assert_allclose(dx, (np.full((3, 5), 0.2) - np.eye(5)[y]) / 3, rtol=1e-15)
    z = np.random.default_rng(2).standard_normal((4, 3)) * 100  # large scores stay finite
    for a, b in zip(ref.softmax_loss(z, np.array([0, 1, 2, 0])), ref.softmax_cross_entropy(z, np.array([0, 1, 2, 0]))):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("call, match", [
    (lambda: ref.svm_loss(np.ones((3, 4, 1)), np.zeros(3, int)), "x"),
    (lambda: ref.svm_loss(np.ones((3, 4)), np.zeros(2, int)), "y.shape"),
    (lambda: ref.svm_loss(np.ones((3, 4)), np.array([0, 1, 4])), "y must"),
    (lambda: ref.softmax_loss(np.ones((3, 4)), np.array([0.0, 1.0, 2.0])), "y must"),
    (lambda: ref.softmax_loss(np.ones((0, 4)), np.zeros(0, int)), "x"),
])
def test_losses_reject_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()
