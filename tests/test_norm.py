"""Batch norm (train, running statistics, test mode, the simplified backward), spatial batch norm,
layer norm and group norm: the reference against torch, forward and backward (autograd), float64.

Inputs come from ``checks.norm_cases``: distinct values, every statistic over ≥ 2 of them, so no
variance is 0 (at zero variance x̂ = 0/√ε and the gradient measures ε, not the implementation);
running variances ≥ 1/4. CUDA cases run where a device is present (TF32 off in the adapter).
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, strategies as st

from convcheck import reference as ref
from convcheck.checks import norm_cases
from convcheck.checks.adapters import torch as torch_adapter
from convcheck.checks.ops import COURSE_OPS, OPS
from convcheck.checks.tolerances import normalization_tolerance
from _layer_helpers import assert_close

DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.cuda)]


@functools.cache
def _torch_on(device):
    return torch_adapter.make(device)


def oracle(device):
    if device == "cuda" and not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    return _torch_on(device)


def _m(op, case):
    """How many values each statistic of ``case`` is taken over (for the tolerance)."""
    x = case.inputs[1] if OPS.get(op, COURSE_OPS.get(op)).is_backward else case.inputs[0]
    if op.startswith("layernorm"):
        return x.size // x.shape[0]
    if op.startswith("groupnorm"):
        return x.size // (x.shape[0] * case.options["groups"])
    return x.size // x.shape[1]


def assert_matches_torch(case, device):
    """Every output of the reference on ``case`` equals torch's, within normalization_tolerance."""
    spec = OPS.get(case.op) or COURSE_OPS[case.op]
    got = ref.OPS[case.op](*case.inputs, **case.options)
    expected = getattr(oracle(device), case.op)(*case.inputs, **case.options)
    if len(spec.outputs) == 1:
        got, expected = (got,), (expected,)
    tol = normalization_tolerance("float64", _m(case.op, case))
    for name, g, e in zip(spec.outputs, got, expected):
        assert_close(g, e, name, f"{case.call_signature()} on x.shape={case.inputs[1 if spec.is_backward else 0].shape}"
                     f", {device}", rtol=tol.rtol, atol=tol.atol)


TORCH_OPS = ["batchnorm_forward", "batchnorm_backward", "batchnorm_backward_alt", "batchnorm_test_forward",
             "batchnorm_test_backward", "spatial_batchnorm_forward", "spatial_batchnorm_backward",
             "layernorm_forward", "layernorm_backward", "groupnorm_forward", "groupnorm_backward",
             "batchnorm_running_update"]


def _cases(op):
    if op in ("batchnorm_forward", "batchnorm_backward"):  # layers.py's ops, drawn like the new ones
        inputs = slice(0, None) if op == "batchnorm_backward" else slice(1, None)  # with dout or without
        return norm_cases.cases("batchnorm_backward_alt").map(
            lambda c: type(c)(op, c.inputs[inputs], c.options, c.notes))
    return norm_cases.cases(op)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("op", TORCH_OPS)
def test_reference_matches_torch(op, device):
    oracle(device)  # skip before drawing examples

    @given(_cases(op))
    def check(case):
        assert_matches_torch(case, device)
    check()


# --- running statistics: the exact formula, and torch's convention ------------------------------------

def test_running_update_worked_example():
    """x = [1, 3] in one channel: μ = 2, σ² = 1 (biased), 2 (unbiased); momentum 0.9 keeps 90%."""
    x = np.array([[1.0], [3.0]])
    rm, rv = ref.batchnorm_running_update(x, np.array([0.0]), np.array([1.0]), momentum=0.9)
    np.testing.assert_allclose([rm[0], rv[0]], [0.9 * 0 + 0.1 * 2, 0.9 * 1 + 0.1 * 1], rtol=1e-15)
    rm, rv = ref.batchnorm_running_update(x, np.array([0.0]), np.array([1.0]), momentum=0.9, unbiased=True)
    np.testing.assert_allclose([rm[0], rv[0]], [0.2, 0.9 + 0.1 * 2], rtol=1e-15)


@given(norm_cases.cases("batchnorm_running_update"))
def test_running_update_is_cs231n_formula(case):
    """running = momentum·running + (1 − momentum)·batch, the batch variance biased (cs231n's)."""
    x, rm, rv = case.inputs
    momentum = case.options["momentum"]
    rows = np.moveaxis(x, 1, -1).reshape(-1, x.shape[1])   # one column per channel
    mu = np.array([sum(col) / len(col) for col in rows.T])
    var = np.array([sum((v - m) ** 2 for v in col) / len(col) for col, m in zip(rows.T, mu)])
    got_m, got_v = ref.batchnorm_running_update(x, rm, rv, momentum=momentum)
    tol = normalization_tolerance("float64", rows.shape[0])
    assert_close(got_m, momentum * rm + (1 - momentum) * mu, "running_mean", case.call_signature(), tol.rtol, tol.atol)
    assert_close(got_v, momentum * rv + (1 - momentum) * var, "running_var", case.call_signature(), tol.rtol, tol.atol)


@pytest.mark.parametrize("device", DEVICES)
@given(case=norm_cases.cases("batchnorm_running_update"))
def test_running_update_unbiased_is_torchs_with_momentum_one_minus(case, device):
    """torch's own buffers after ``F.batch_norm(training=True, momentum=1 − m)`` equal
    ``batchnorm_running_update(..., momentum=m, unbiased=True)``: the documented mapping."""
    oracle(device)
    x, rm, rv = case.inputs
    m = case.options["momentum"]
    trm, trv = (torch.tensor(a, device=device) for a in (rm, rv))
    F.batch_norm(torch.tensor(x, device=device), trm, trv, None, None, training=True, momentum=1 - m)
    got_m, got_v = ref.batchnorm_running_update(x, rm, rv, momentum=m, unbiased=True)
    tol = normalization_tolerance("float64", x.size // x.shape[1])
    where = f"{case.call_signature()}, unbiased=True vs torch momentum={1 - m}, {device}"
    assert_close(got_m, trm.cpu().numpy(), "running_mean", where, tol.rtol, tol.atol)
    assert_close(got_v, trv.cpu().numpy(), "running_var", where, tol.rtol, tol.atol)


def test_running_update_does_not_modify_its_inputs():
    x, rm, rv = np.arange(6.0).reshape(3, 2), np.zeros(2), np.ones(2)
    new_m, new_v = ref.batchnorm_running_update(x, rm, rv)
    assert rm.tolist() == [0, 0] and rv.tolist() == [1, 1] and new_m is not rm and new_v is not rv


# --- relations between the ops -----------------------------------------------------------------------

@given(norm_cases.cases("batchnorm_backward_alt"))
def test_backward_alt_equals_backward(case):
    tol = normalization_tolerance("float64", _m("batchnorm_backward_alt", case))
    for name, a, b in zip(("dx", "dgamma", "dbeta"), ref.batchnorm_backward_alt(*case.inputs, **case.options),
                          ref.batchnorm_backward(*case.inputs, **case.options)):
        assert_close(a, b, name, case.call_signature(), tol.rtol, tol.atol)


@given(norm_cases.cases("groupnorm_forward", spatial_ndims=(2,)))
def test_groupnorm_with_one_group_per_channel_is_instance_norm_and_one_group_is_layernorm(case):
    x, g, b = case.inputs
    eps = case.options.get("eps", 1e-5)
    tol = normalization_tolerance("float64", x[0].size)
    ones = np.ones(x.shape[1:])
    ln = ref.layernorm_forward(x, ones, 0 * ones, eps=eps) * g[:, None, None] + b[:, None, None]
    assert_close(ref.groupnorm_forward(x, g, b, 1, eps=eps), ln, "out", "groups=1 vs layernorm", tol.rtol, tol.atol)
    if x.shape[2] * x.shape[3] >= 2:
        per = [ref.layernorm_forward(x[:, c:c + 1], np.ones((1, *x.shape[2:])), np.zeros((1, *x.shape[2:])), eps=eps)
               for c in range(x.shape[1])]
        inst = np.concatenate(per, axis=1) * g[:, None, None] + b[:, None, None]
        assert_close(ref.groupnorm_forward(x, g, b, x.shape[1], eps=eps), inst, "out", "groups=C vs instance norm",
                     tol.rtol, tol.atol)


def test_test_mode_with_the_batch_statistics_is_train_mode():
    x = np.random.default_rng(3).standard_normal((5, 3, 2))
    g, b = np.array([1.0, 2.0, -1.0]), np.array([0.0, 0.5, 1.0])
    mu, var = x.mean(axis=(0, 2)), x.var(axis=(0, 2))
    np.testing.assert_allclose(ref.batchnorm_test_forward(x, g, b, mu, var), ref.batchnorm_forward(x, g, b),
                               rtol=1e-13, atol=1e-13)


def test_test_mode_takes_a_single_sample():
    out = ref.batchnorm_test_forward(np.array([[2.0, 3.0]]), np.ones(2), np.zeros(2), np.array([1.0, 1.0]),
                                     np.array([4.0, 1.0]), eps=0.0)
    np.testing.assert_allclose(out, [[0.5, 2.0]])


# --- bad input ---------------------------------------------------------------------------------------

X = np.random.default_rng(0).standard_normal((4, 6, 2, 2))


@pytest.mark.parametrize("call, match", [
    (lambda: ref.batchnorm_running_update(X, np.zeros(5), np.ones(6)), "running_mean"),
    (lambda: ref.batchnorm_running_update(X, np.zeros(6), np.ones(6), momentum=1.5), "momentum"),
    (lambda: ref.batchnorm_running_update(np.ones((1, 6)), np.zeros(6), np.ones(6)), "more than one"),
    (lambda: ref.batchnorm_test_forward(X, np.ones(6), np.ones(6), np.zeros(6), -np.ones(6)), "running_var"),
    (lambda: ref.batchnorm_test_forward(X, np.ones(5), np.ones(6), np.zeros(6), np.ones(6)), "gamma"),
    (lambda: ref.batchnorm_backward_alt(np.ones((4, 5)), X[:, :, 0, 0], np.ones(6), np.ones(6)), "dout"),
    (lambda: ref.spatial_batchnorm_forward(X[:, :, 0], np.ones(6), np.ones(6)), "x"),
    (lambda: ref.layernorm_forward(X[:, :, 0, 0], np.ones(5), np.ones(6)), "gamma"),
    (lambda: ref.layernorm_forward(np.ones((3, 1)), np.ones(1), np.ones(1)), "more than one feature"),
    (lambda: ref.groupnorm_forward(X, np.ones(6), np.ones(6), 4), "groups"),
    (lambda: ref.groupnorm_forward(X, np.ones(6), np.ones(6), 0), "groups"),
    (lambda: ref.groupnorm_forward(X[:, :, :1, :1], np.ones(6), np.ones(6), 6), "more than one value"),
    (lambda: ref.groupnorm_forward(X, np.ones((1, 6, 1, 1)), np.ones(6), 3), "gamma"),
    (lambda: ref.layernorm_forward(X[:, :, 0, 0], np.ones(6), np.ones(6), eps=-1), "eps"),
])
def test_norm_ops_reject_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_float32_stays_float32():
    x, g = X.astype(np.float32), np.ones(6, np.float32)
    outs = [ref.spatial_batchnorm_forward(x, g, g), ref.groupnorm_forward(x, g, g, 3),
            *ref.groupnorm_backward(x, x, g, g, 3), ref.layernorm_forward(x, np.ones(x.shape[1:], np.float32),
                                                                            np.ones(x.shape[1:], np.float32)),
            ref.batchnorm_test_forward(x, g, g, g, g), *ref.batchnorm_running_update(x, g, g)]
    assert all(o.dtype == np.float32 for o in outs), [o.dtype for o in outs]


def test_new_modules_are_in_ops_and_the_torch_adapter_has_each_op():
    """The grader looks ops up by name: every public function of norm/losses/dropout is in
    reference.OPS, and every op of COURSE_OPS has a reference and a torch oracle of that name."""
    import inspect

    from convcheck.reference import dropout, losses, norm

    public = {name for module in (norm, losses, dropout) for name, obj in vars(module).items()
              if inspect.isfunction(obj) and obj.__module__ == module.__name__ and not name.startswith("_")}
    assert public - set(ref.OPS) == set()
    assert set(COURSE_OPS) - set(ref.OPS) == set()
    assert set(COURSE_OPS) - set(torch_adapter.OP_NAMES) == set()
    for name, spec in COURSE_OPS.items():
        params = list(inspect.signature(ref.OPS[name]).parameters)
        assert tuple(params[:len(spec.inputs)]) == spec.inputs, f"{name}{tuple(params)} vs OpSpec {spec.inputs}"
