"""The full cs231n layers fixtures (tests/submissions/layers/full/, full_mutants/) against the reference.

The correct file, called with the course's signatures (param dicts, (out, cache), (dout, cache)),
equals the reference ops on random inputs — its running statistics too, compared in bn_param after
the call — and its dropout has every property of ``checks.dropout``. Every mutant differs from the
reference on exactly the functions its docstring names (``loses: …``) and matches it on the others:
the fixtures mean what they say before a grader uses them. The fixture files are ours, imported
directly (no sandbox).
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, strategies as st

from convcheck import reference as ref
from convcheck.checks import dropout as props
from convcheck.checks import norm_cases
from convcheck.checks.harness import CheckFailure
from convcheck.checks.tolerances import normalization_tolerance, tolerance

HERE = Path(__file__).parent / "submissions" / "layers"
CORRECT = HERE / "full" / "correct.py"
MUTANTS = sorted((HERE / "full_mutants").glob("*.py"))
FUNCTIONS = ["softmax_loss", "svm_loss", "batchnorm_forward", "batchnorm_backward", "batchnorm_backward_alt",
             "dropout_forward", "dropout_backward", "spatial_batchnorm_forward", "spatial_batchnorm_backward",
             "layernorm_forward", "layernorm_backward", "spatial_groupnorm_forward", "spatial_groupnorm_backward"]


def load(path: Path):
    spec = importlib.util.spec_from_file_location(f"fixture_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def expected_losses(path: Path) -> list[str]:
    found = re.search(r"^loses: (.*)$", path.read_text(), re.M)
    assert found, f"{path.name} must say which functions it loses points on"
    value = found.group(1).strip()
    return [] if value == "nothing" else sorted(v.strip() for v in value.split(","))


def close(got, expected, name, where, m=1, norm=True):
    got, expected = np.asarray(got, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    assert got.shape == expected.shape, f"{name}.shape={got.shape}, but should be {expected.shape} [{where}]"
    tol = normalization_tolerance("float64", m) if norm else tolerance("float64", m)
    np.testing.assert_allclose(got, expected, rtol=tol.rtol, atol=tol.atol, err_msg=f"{name} [{where}]")


# --- one comparison per function: the course's call, the reference's answer ---------------------------

def _bn_param(mode, momentum, eps, rm, rv):
    return {"mode": mode, "momentum": momentum, "eps": eps, "running_mean": rm.copy(), "running_var": rv.copy()}


def _bn_forward(mod, x, g, b, rm, rv, momentum, eps, spatial=False):
    name = "spatial_batchnorm_forward" if spatial else "batchnorm_forward"
    fwd = getattr(mod, name)
    m = x.size // x.shape[1]
    param = _bn_param("train", momentum, eps, rm, rv)
    out, _ = fwd(x, g, b, param)
    expected = (ref.spatial_batchnorm_forward if spatial else ref.batchnorm_forward)(x, g, b, eps=eps)
    close(out, expected, "out", f"{name} train", m)
    new_m, new_v = ref.batchnorm_running_update(x, rm, rv, momentum=momentum)
    close(param["running_mean"], new_m, "bn_param['running_mean']", f"{name} train", m)
    close(param["running_var"], new_v, "bn_param['running_var']", f"{name} train", m)
    param = _bn_param("test", momentum, eps, rm, rv)
    out, _ = fwd(x, g, b, param)
    close(out, ref.batchnorm_test_forward(x, g, b, rm, rv, eps=eps), "out", f"{name} test", m)


def _bn_backward(mod, name, x, g, b, dout, eps, spatial=False):
    fwd = mod.spatial_batchnorm_forward if spatial else mod.batchnorm_forward
    _, cache = fwd(x, g, b, _bn_param("train", 0.9, eps, np.zeros_like(g), np.ones_like(g)))
    got = getattr(mod, name)(dout, cache)
    expected = (ref.spatial_batchnorm_backward if spatial else ref.batchnorm_backward)(dout, x, g, b, eps=eps)
    for gname, a, e in zip(("dx", "dgamma", "dbeta"), got, expected):
        close(a, e, gname, name, x.size // x.shape[1])


def check(mod, function, rng, p=0.75):
    """Raise AssertionError/CheckFailure unless ``mod.function`` agrees with the reference on inputs from rng."""
    n, c, h, w = 4, 6, 3, 2
    eps, momentum = 1e-5, 0.9
    x2, x4 = rng.standard_normal((n, 5)) * 2 + 1, rng.standard_normal((n, c, h, w)) * 2 - 1
    if function in ("svm_loss", "softmax_loss"):
        y = rng.integers(0, 5, n)
        # and the same scores with each row moved to ±1000: the losses do not change (an unshifted exp overflows)
        for scores in (x2, x2 + np.array([1000.0, -1000.0, 700.0, -700.0])[:, None]):
            with np.errstate(all="ignore"):      # a mutant's overflow is its failure, not a warning here
                loss, dx = getattr(mod, function)(scores, y)
            e_loss, e_dx = ref.OPS[function](scores, y)
            close(loss, e_loss, "loss", function, x2.size, norm=False)
            close(dx, e_dx, "dx", function, x2.size, norm=False)
    elif function == "batchnorm_forward":
        _bn_forward(mod, x2, rng.standard_normal(5), rng.standard_normal(5), rng.standard_normal(5),
                    rng.random(5) + 0.5, momentum, eps)
    elif function in ("batchnorm_backward", "batchnorm_backward_alt"):
        _bn_backward(mod, function, x2, rng.standard_normal(5), rng.standard_normal(5), rng.standard_normal(x2.shape), eps)
    elif function == "spatial_batchnorm_forward":
        _bn_forward(mod, x4, rng.standard_normal(c), rng.standard_normal(c), rng.standard_normal(c),
                    rng.random(c) + 0.5, momentum, eps, spatial=True)
    elif function == "spatial_batchnorm_backward":
        _bn_backward(mod, function, x4, rng.standard_normal(c), rng.standard_normal(c), rng.standard_normal(x4.shape),
                     eps, spatial=True)
    elif function.startswith("layernorm"):
        g, b = rng.standard_normal(5), rng.standard_normal(5)
        out, cache = mod.layernorm_forward(x2, g, b, {"eps": eps})
        if function == "layernorm_forward":
            close(out, ref.layernorm_forward(x2, g, b, eps=eps), "out", function, 5)
        else:
            dout = rng.standard_normal(x2.shape)
            for gname, a, e in zip(("dx", "dgamma", "dbeta"), mod.layernorm_backward(dout, cache),
                                   ref.layernorm_backward(dout, x2, g, b, eps=eps)):
                close(a, e, gname, function, 5)
    elif function.startswith("spatial_groupnorm"):
        groups = 3
        g, b = rng.standard_normal((1, c, 1, 1)), rng.standard_normal((1, c, 1, 1))
        out, cache = mod.spatial_groupnorm_forward(x4, g, b, groups, {"eps": eps})
        m = x4[0].size // groups
        if function == "spatial_groupnorm_forward":
            close(out, ref.groupnorm_forward(x4, g.ravel(), b.ravel(), groups, eps=eps), "out", function, m)
        else:
            dout = rng.standard_normal(x4.shape)
            expected = ref.groupnorm_backward(dout, x4, g.ravel(), b.ravel(), groups, eps=eps)
            got = mod.spatial_groupnorm_backward(dout, cache)
            close(got[0], expected[0], "dx", function, m)
            close(got[1], expected[1].reshape(1, c, 1, 1), "dgamma (1, C, 1, 1)", function, m)
            close(got[2], expected[2].reshape(1, c, 1, 1), "dbeta (1, C, 1, 1)", function, m)
    elif function.startswith("dropout"):
        forward, backward = course_dropout(mod)
        seed = int(rng.integers(0, 2**31))
        x = rng.standard_normal((8, 16)) + 10  # no zeros
        if function == "dropout_forward":
            props.identity_in_test_mode(forward, x, p, seed)
            props.train_values_are_zero_or_scaled(forward, x, p, seed)
            props.same_seed_same_mask(forward, x, p, seed)
            props.kept_fraction_near_p(forward, p, seed)
        else:
            for mode in ("train", "test"):
                props.backward_reuses_mask(forward, backward, x, rng.standard_normal(x.shape), p, seed, mode)
    else:  # pragma: no cover
        raise KeyError(function)


def course_dropout(mod):
    """The course's dropout behind the reference signature (what checks.dropout calls)."""
    def forward(x, p=0.5, seed=None, mode="train"):
        return mod.dropout_forward(x, {"p": p, "mode": mode, "seed": seed})[0]

    def backward(dout, x, p=0.5, seed=None, mode="train"):
        _, cache = mod.dropout_forward(x, {"p": p, "mode": mode, "seed": seed})
        return mod.dropout_backward(dout, cache)
    return forward, backward


def failing(mod, seeds=range(3)) -> list[str]:
    lost = []
    for function in FUNCTIONS:
        try:
            for seed in seeds:
                check(mod, function, np.random.default_rng(seed), p=(0.75, 0.25, 0.9)[seed % 3])
        except (AssertionError, CheckFailure, ValueError, TypeError, IndexError):
            lost.append(function)
    return sorted(lost)


# --- the tests -------------------------------------------------------------------------------------------

def test_correct_file_defines_every_function_with_the_course_signatures():
    import inspect

    mod = load(CORRECT)
    sigs = {name: str(inspect.signature(getattr(mod, name))) for name in FUNCTIONS}
    assert sigs["batchnorm_forward"] == "(x, gamma, beta, bn_param)"
    assert sigs["spatial_groupnorm_forward"] == "(x, gamma, beta, G, gn_param)"
    assert sigs["dropout_forward"] == "(x, dropout_param)"
    assert sigs["svm_loss"] == sigs["softmax_loss"] == "(x, y)"
    assert all(sigs[f] == "(dout, cache)" for f in FUNCTIONS if "backward" in f)


def test_correct_file_matches_the_reference_on_fixed_seeds():
    assert failing(load(CORRECT), seeds=range(6)) == []


@given(st.sampled_from(FUNCTIONS), st.integers(0, 2**32 - 1))
def test_correct_file_matches_the_reference_on_random_inputs(function, seed):
    check(load_correct(), function, np.random.default_rng(seed), p=(0.75, 0.25, 0.9, 0.5)[seed % 4])


@given(norm_cases.cases("groupnorm_backward", spatial_ndims=(2,)))
def test_correct_groupnorm_matches_the_reference_on_drawn_cases(case):
    """On checks.norm_cases' inputs too (integer-spaced values, shifted means, groups 1..3)."""
    dout, x, g, b = case.inputs
    groups, eps = case.options["groups"], case.options.get("eps", 1e-5)
    mod = load_correct()
    c = x.shape[1]
    out, cache = mod.spatial_groupnorm_forward(x, g.reshape(1, c, 1, 1), b.reshape(1, c, 1, 1), groups, {"eps": eps})
    m = x[0].size // groups
    close(out, ref.groupnorm_forward(x, g, b, groups, eps=eps), "out", case.call_signature(), m)
    for name, got, e in zip(("dx", "dgamma", "dbeta"), mod.spatial_groupnorm_backward(dout, cache),
                            ref.groupnorm_backward(dout, x, g, b, groups, eps=eps)):
        close(np.reshape(got, np.shape(e)) if name != "dx" else got, e, name, case.call_signature(), m)


_CORRECT = []


def load_correct():
    if not _CORRECT:
        _CORRECT.append(load(CORRECT))
    return _CORRECT[0]


def test_mutants_cover_the_issue_list():
    names = {m.stem for m in MUTANTS}
    assert len(names) >= 9
    for want in ("running_var_unbiased", "not_updated", "momentum_inverted", "dgamma", "scales_at_test",
                 "new_mask", "true_class_margin", "summed", "p_drops"):
        assert any(want in n for n in names), f"no mutant for {want!r}"


@pytest.mark.parametrize("path", MUTANTS, ids=lambda p: p.stem)
def test_mutant_differs_from_the_reference_on_its_functions_only(path):
    want = expected_losses(path)
    assert want and set(want) <= set(FUNCTIONS), f"{path.name}: loses: {want}"
    assert failing(load(path)) == want
