"""Per-op capabilities: ``Capabilities(ops=...)``, the documented fields that replaced ``extra``, and every
check (metamorphic ones included) drawing inside the capabilities of every op it calls — exercised on
library-like fakes (tests/fakelibs) that have per-op gaps."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from convcheck.checks import Capabilities, verify
from convcheck.checks.properties import BY_NAME
from convcheck.checks.harness import Context
from convcheck.checks.strategies import cases, conv_configs
from fakelibs import convkit, poolkit

pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same'")


def test_for_op_applies_the_family_then_the_exact_op():
    caps = Capabilities(ops={"max_pool": {"dilation": False, "ndims": [2]}, "max_pool_backward": {"ceil_mode": False}})
    fwd, bwd, conv = caps.for_op("max_pool_forward"), caps.for_op("max_pool_backward"), caps.for_op("conv_forward")
    assert (fwd.dilation, fwd.ndims, fwd.ceil_mode) == (False, (2,), True)
    assert (bwd.dilation, bwd.ndims, bwd.ceil_mode) == (False, (2,), False)
    assert conv == Capabilities() and conv.ops == {}


def test_for_ops_is_what_every_op_supports():
    caps = Capabilities(ndims=(1, 2, 3), ops={"conv_transpose": {"output_padding": False, "ndims": (2, 3)},
                                              "conv_forward": {"ndims": (1, 2), "exact_division": True}})
    both = caps.for_ops("conv_forward", "conv_transpose_forward")
    assert both.ndims == (2,) and both.output_padding is False and both.exact_division is True
    with pytest.raises(ValueError, match="no spatial rank in common"):
        Capabilities(ops={"conv_forward": {"ndims": (1,)}, "conv_transpose": {"ndims": (2,)}}).for_ops(
            "conv_forward", "conv_transpose_forward")


@pytest.mark.parametrize("ops, message", [
    ({"maxpool": {"dilation": False}}, "unknown op or family 'maxpool'"),
    ({"max_pool": {"dilatoin": False}}, r"unknown field\(s\) \['dilatoin'\]"),
    ({"max_pool": False}, "must be a dict of fields"),
])
def test_a_typo_in_ops_is_an_error_not_a_silently_untested_feature(ops, message):
    with pytest.raises(ValueError, match=message):
        Capabilities(ops=ops)


def test_extra_keeps_working_as_an_alias_of_the_documented_fields():
    old = Capabilities(extra={"divisor_override": False, "output_padding": False})
    assert old.divisor_override is False and old.output_padding is False
    with pytest.raises(ValueError, match="output_padding must be"):
        Capabilities(output_padding="sometimes")


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_avg_pool_fields_are_honoured(data):
    caps = Capabilities(count_include_pad=False, divisor_override=False, ceil_mode=False)
    case = data.draw(cases("avg_pool_forward", caps))
    assert not {"count_include_pad", "divisor_override", "ceil_mode"} & set(case.options), case.options


@settings(max_examples=60, deadline=None)
@given(st.data(), st.sampled_from([True, "below_stride", False]))
def test_output_padding_field_is_honoured(data, rule):
    cfg = data.draw(conv_configs(Capabilities(output_padding=rule), transpose=True))
    op = cfg["options"].get("output_padding", 0)
    ops = op if isinstance(op, tuple) else (op,) * cfg["ndim"]
    for o, s, d in zip(ops, cfg["stride"], cfg["dilation"]):
        assert o < {True: max(s, d), "below_stride": s, False: 1}[rule]


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_hard_targets_only_when_soft_targets_are_declined(data):
    case = data.draw(cases("binary_cross_entropy", Capabilities(soft_targets=False)))
    assert set(np.unique(case.inputs[1])) <= {0.0, 1.0}


@pytest.mark.parametrize("check", ["conv_transpose_forward.adjoint_of_conv",
                                   "max_pool_backward.matches_central_differences",
                                   "avg_pool_forward.equals_uniform_conv"])
def test_every_check_draws_inside_the_capabilities_of_every_op_it_calls(check):
    """The capabilities the runner gives a check are the intersection over ``requires``; its strategy
    then draws nothing outside them (here: no output_padding and no per-dim tuples for conv_transpose,
    no dilation for max-pool's backward, no ceil mode / count_include_pad=False for avg-pool)."""
    spec = BY_NAME[check]
    caps = Capabilities(ops={"conv_transpose": {"output_padding": False, "per_dim_args": False},
                             "max_pool_backward": {"dilation": False},
                             "avg_pool": {"ceil_mode": False, "count_include_pad": False}})
    ctx = Context(impl={}, capabilities=caps.for_ops(*spec.requires))

    @settings(max_examples=80, deadline=None, database=None)
    @given(spec.strategy(ctx))
    def draws(case):
        opts = case.options
        if check.startswith("conv_transpose"):
            assert "output_padding" not in opts
            assert not any(isinstance(v, tuple) for v in opts.values()), opts
        elif check.startswith("max_pool"):
            assert opts.get("dilation", 1) == 1
        else:
            assert "ceil_mode" not in opts and "count_include_pad" not in opts
    draws()


def test_a_library_without_dilated_max_pool_gradients_ceil_mode_avg_pool_and_count_include_pad_false_passes():
    """poolkit declares its three gaps in one module (CAPABILITIES.ops) and passes everything else."""
    report = verify(poolkit, max_examples=50)
    ran = [r for r in report.results if r.status != "not provided"]
    assert len(ran) == 12 and all(r.status == "passed" for r in ran), report.to_text()


def test_the_same_library_under_one_global_flag_fails_where_it_has_no_gradient():
    report = verify(poolkit, ["max_pool_backward"], capabilities=Capabilities(), max_examples=50)
    r = report["max_pool_backward.matches_reference"]
    assert r.status == "failed" and "window dilation" in r.message and "dilation=" in r.message


def test_the_adjoint_check_passes_only_what_conv_transpose_declared():
    """convkit's transposed conv takes one int per argument and no output_padding (ops=); the adjoint
    check used to pass it output_padding=(0, 1). Every case now stays inside, and passes."""
    report = verify(convkit, checks=["conv_transpose_forward.adjoint_of_conv", "conv_transpose_forward.matches_torch"],
                    max_examples=50)
    assert [r.status for r in report.results] == ["passed", "passed"], report.to_text()


def test_the_adjoint_failure_prints_every_argument_of_both_calls():
    r = verify(convkit.flipped_transpose, checks=["conv_transpose_forward.adjoint_of_conv"],
               max_examples=50).results[0]
    assert r.status == "failed"
    assert "conv_forward(x, w, b=None, stride=" in r.message
    assert "conv_transpose_forward(y, w, b=None, stride=" in r.message
    call = r.counterexample["call"]
    assert call.startswith("conv_transpose_forward.adjoint_of_conv: conv_forward(x, w, b=None")
    assert "conv_transpose_forward(y, w, b=None" in call


def test_the_worked_vjp_adapter_passes_what_it_declares():
    """checks/adapters/example_vjp.py (the README's second worked adapter): backward = vjp of the forward."""
    from convcheck.checks.adapters import example_vjp

    report = verify(example_vjp, max_examples=5)
    ran = [r for r in report.results if r.status != "not provided"]
    assert len(ran) == 41 and all(r.status == "passed" for r in ran), report.to_text()
    assert example_vjp.CAPABILITIES.for_op("avg_pool_backward").divisor_override is False
