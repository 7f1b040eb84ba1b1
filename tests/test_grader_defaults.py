"""grader.default_arguments: a reference-convention function called as its signature allows (no sandbox:
an in-process runner). The value checks always pass every argument, so only this check sees a default."""

from __future__ import annotations

import importlib.util
import types
from pathlib import Path

import numpy as np
import pytest

from convcheck.assignments.grader import conventions, grader_checks
from convcheck.assignments.grader.spec import load_spec

ROOT = Path(__file__).resolve().parent.parent


class InProcess:
    """Calls a module's functions directly, keywords included (a test double of the sandbox)."""

    def __init__(self, module):
        self.module = module

    def call(self, name, *args, keep=None, **kwargs):
        return getattr(self.module, name)(*args, **kwargs)


def _solution(edit=None):
    text = (ROOT / "solutions/arithmetic_solution.py").read_text(encoding="utf-8")
    if edit:
        old, new = edit
        assert old in text
        text = text.replace(old, new)
    module = types.ModuleType("arithmetic")
    exec(compile(text, "arithmetic.py", "exec"), module.__dict__)
    return module


def _run(module, name):
    spec = load_spec("arithmetic")
    return grader_checks.default_arguments(spec, spec.function(name), InProcess(module), conventions.Breaker(),
                                           max_examples=40, seed=0)


@pytest.mark.parametrize("name", ["conv_output_size", "pool_output_size", "conv_params", "dense_params"])
def test_the_solution_passes(name):
    result = _run(_solution(), name)
    assert result.status == "passed", result.message
    assert result.examples > 0


@pytest.mark.parametrize("name, edit, said", [
    ("conv_output_size", ("stride=1, padding=0, dilation=1):", "stride=2, padding=0, dilation=1):"), "but should be"),
    ("conv_output_size", ("stride=1, padding=0, dilation=1):", "stride=1, padding=0, dilation=2):"), "but should be"),
    ("pool_output_size", ("    if stride is None:\n        stride = kernel\n", ""), "TypeError"),
    ("conv_params", ("bias=True, groups=1, ndim=1):", "bias=True, groups=1, ndim=2):"), "but should be"),
    ("conv_params", ("return kernel_size ** ndim", "return kernel_size * ndim"), "kernel_size="),
    ("conv_params", ("(in_channels // groups)", "(in_channels / groups)"), "returned"),   # a float count
    ("dense_params", ("def dense_params(in_features, out_features, bias=True)",
                      "def dense_params(in_features, out_features, bias=False)"), "but should be"),
])
def test_a_wrong_default_or_shorthand_fails_with_the_call(name, edit, said):
    result = _run(_solution(edit), name)
    assert result.status == "failed"
    assert f"{name}(" in result.message and said in result.message, result.message


def test_the_spec_names_it():
    spec = load_spec("arithmetic")
    for f in spec.functions:
        assert "grader.default_arguments" in [c.check for c in f.checks], f.name


# --- grader.large_logits (the model spec's softmax_cross_entropy) -----------------------------------------

def _model(edit=None):
    text = (ROOT / "solutions/model_solution.py").read_text(encoding="utf-8")
    if edit:
        assert edit[0] in text
        text = text.replace(*edit)
    module = types.ModuleType("model")
    exec(compile(text, "model.py", "exec"), module.__dict__)
    return module


@pytest.mark.parametrize("edit", [
    None,
    ("logits - logits.max(axis=1, keepdims=True)", "logits"),                                 # no shift
    ("logits - logits.max(axis=1, keepdims=True)", "logits + logits.max(axis=1, keepdims=True)"),
    ("logits - logits.max(axis=1, keepdims=True)", "logits - logits.max()"),                # one max for all rows
])
def test_large_logits_needs_each_rows_max_subtracted(edit):
    spec = load_spec("model")
    with np.errstate(all="ignore"):
        result = grader_checks.large_logits(spec, spec.function("softmax_cross_entropy"), InProcess(_model(edit)),
                                            conventions.Breaker(), max_examples=20, seed=0)
    if edit is None:
        assert result.status == "passed", result.message
    else:
        assert result.status == "failed" and "subtract each row's maximum" in result.message, result.message
