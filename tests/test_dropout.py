"""Inverted dropout (p = keep probability, cs231n): graded by properties, since a random op has no
single right value. The reference and torch's own ``F.dropout`` (p = 1 − keep) both satisfy every
property of ``checks.dropout``; each property fails on the mistake it is for, with that hint.

Inputs have no zeros (odd integers): a kept 0 would look dropped.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, strategies as st

from convcheck import reference as ref
from convcheck.checks import dropout as props
from convcheck.checks import norm_cases
from convcheck.checks.adapters import torch as torch_adapter
from convcheck.checks.harness import CheckFailure

DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.cuda)]
KEEP = st.sampled_from([0.5, 0.25, 0.75, 0.9])
SEED = st.integers(0, 2**32 - 1)


def _device(device):
    if device == "cuda" and not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    return device


def torch_dropout(device):
    """torch's F.dropout behind the reference signature: p keeps, torch's p drops (1 − p)."""
    def forward(x, p=0.5, seed=None, mode="train"):
        with torch.random.fork_rng(devices=[torch.device(device)] if device != "cpu" else []):
            torch.manual_seed(seed)
            return F.dropout(torch.tensor(x, device=device), 1 - p, training=mode == "train").cpu().numpy()
    return forward


def torch_dropout_backward(device):
    def backward(dout, x, p=0.5, seed=None, mode="train"):
        with torch.random.fork_rng(devices=[torch.device(device)] if device != "cpu" else []):
            torch.manual_seed(seed)
            t = torch.tensor(x, device=device, requires_grad=True)
            F.dropout(t, 1 - p, training=mode == "train").backward(torch.tensor(dout, device=device))
        return t.grad.cpu().numpy()
    return backward


IMPLS = {
    "reference": lambda device: (ref.inverted_dropout_forward, ref.inverted_dropout_backward),
    "torch F.dropout": lambda device: (torch_dropout(device), torch_dropout_backward(device)),
    "torch adapter": lambda device: (torch_adapter.make(device).inverted_dropout_forward,
                                     torch_adapter.make(device).inverted_dropout_backward),
}


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("impl", sorted(IMPLS))
def test_correct_dropouts_have_every_property(impl, device):
    forward, backward = IMPLS[impl](_device(device))

    @given(norm_cases.cases("inverted_dropout_backward"))
    def check(case):
        dout, x = case.inputs
        p, seed, mode = (case.options[k] for k in ("p", "seed", "mode"))
        props.identity_in_test_mode(forward, x, p, seed)
        props.train_values_are_zero_or_scaled(forward, x, p, seed)
        props.same_seed_same_mask(forward, x, p, seed)
        props.backward_reuses_mask(forward, backward, x, dout, p, seed, mode)
    check()

    @given(KEEP, SEED)
    def fraction(p, seed):
        props.kept_fraction_near_p(forward, p, seed)
    fraction()


@given(norm_cases.cases("inverted_dropout_forward"))
def test_reference_mask_is_the_course_templates(case):
    """cs231n's template draws ``np.random.seed(seed); mask = np.random.rand(*x.shape) < p``."""
    (x,), p, seed = case.inputs, case.options["p"], case.options["seed"]
    state = np.random.get_state()
    try:
        np.random.seed(seed)
        mask = np.random.rand(*x.shape) < p
    finally:
        np.random.set_state(state)
    np.testing.assert_array_equal(ref.inverted_dropout_mask(x.shape, p, seed), mask)
    expected = x * mask / p if case.options["mode"] == "train" else x
    np.testing.assert_array_equal(ref.inverted_dropout_forward(x, **case.options), expected)


def test_keep_p_is_torchs_drop_one_minus_p_with_the_same_mask():
    """The two meanings of p: inverted_dropout_forward(x, p) == layers.dropout_forward(x, mask, 1 − p)."""
    x = np.arange(1.0, 13.0).reshape(3, 4)
    mask = ref.inverted_dropout_mask(x.shape, 0.75, seed=5)
    np.testing.assert_allclose(ref.inverted_dropout_forward(x, 0.75, seed=5), ref.dropout_forward(x, mask, 0.25),
                               rtol=1e-15)


# --- each property fails on its mistake, with the hint for it ------------------------------------------

def _drop_meaning(x, p=0.5, seed=None, mode="train"):
    if mode == "test":
        return x
    mask = np.random.RandomState(seed).rand(*x.shape) < (1 - p)   # old course years: p drops
    return x * mask / (1 - p)


def _scales_at_test(x, p=0.5, seed=None, mode="train"):
    return ref.inverted_dropout_forward(x, p, seed, "train") if mode == "train" else x * p


def _unscaled(x, p=0.5, seed=None, mode="train"):
    return x * ref.inverted_dropout_mask(x.shape, p, seed) if mode == "train" else x


def _unseeded(x, p=0.5, seed=None, mode="train"):
    return ref.inverted_dropout_forward(x, p, None, mode)


def _fresh_mask_backward(dout, x, p=0.5, seed=None, mode="train"):
    return dout * (np.random.rand(*x.shape) < p) / p if mode == "train" else dout


X = np.arange(1.0, 201.0).reshape(10, 20)


@pytest.mark.parametrize("check, impl, hint", [
    (lambda f: props.identity_in_test_mode(f, X, 0.75), _scales_at_test, "train time only"),
    (lambda f: props.train_values_are_zero_or_scaled(f, X, 0.75, 1), _drop_meaning, "DROPPING"),
    (lambda f: props.train_values_are_zero_or_scaled(f, X, 0.75, 1), _unscaled, "not scaled"),
    (lambda f: props.kept_fraction_near_p(f, 0.75, 1), _drop_meaning, "DROPPING"),
    (lambda f: props.same_seed_same_mask(f, X, 0.5, 1), _unseeded, "np.random.seed"),
    (lambda f: props.backward_reuses_mask(ref.inverted_dropout_forward, f, X, X + 0.5, 0.5, 1), _fresh_mask_backward,
     "another mask"),
])
def test_each_property_catches_its_mistake(check, impl, hint):
    with pytest.raises(CheckFailure) as info:
        check(impl)
    assert hint in (info.value.hint or ""), f"hint={info.value.hint!r}, message={info.value.message!r}"


@pytest.mark.parametrize("call, match", [
    (lambda: ref.inverted_dropout_forward(X, p=0.0, seed=1), "keep probability"),
    (lambda: ref.inverted_dropout_forward(X, p=1.5, seed=1), "keep probability"),
    (lambda: ref.inverted_dropout_forward(X, p=0.5, seed=1, mode="eval"), "mode"),
    (lambda: ref.inverted_dropout_forward(X, p=0.5, seed=-1), "seed"),
    (lambda: ref.inverted_dropout_backward(X, X, p=0.5, seed=None), "seed=None"),
    (lambda: ref.inverted_dropout_backward(X[:2], X, p=0.5, seed=1), "dout"),
])
def test_dropout_rejects_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()
