"""The case strategies: valid for the reference, inside the declared capabilities, and covering the
configurations issue 3 names (strides > kernel, dilation, asymmetric and 'same' padding, groups,
depthwise, 1-D/2-D/3-D, batch 1, channel 1, kernel = padded input size)."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import NoSuchExample
from hypothesis import find

from convcheck.checks.adapters import reference as ref
from convcheck.checks.capabilities import CS231N, Capabilities
from convcheck.checks.ops import OPS
from convcheck.checks.strategies import arrays, cases, max_pool_tie_cases
from convcheck.reference import shapes

ARRAY_OPS = sorted(OPS)


@pytest.mark.parametrize("op", ARRAY_OPS)
@settings(max_examples=10)
@given(data=st.data())
def test_cases_are_valid_calls_of_the_reference(op, data):
    case = data.draw(cases(op))
    result = ref.OPS[op](*case.inputs, **case.options)  # raises if the configuration is invalid
    assert result is not None, f"{case.call_signature()} returned None"


@given(shape=st.tuples(st.integers(1, 3), st.integers(1, 4), st.integers(1, 5)), data=st.data())
def test_arrays_are_distinct_integers(shape, data):
    a = data.draw(arrays(shape))
    assert a.shape == shape and a.dtype == np.float64
    assert np.array_equal(a, np.round(a)), f"not integer-valued: {a}"
    assert len(np.unique(a)) == a.size, f"repeated values in {a}"


@given(data=st.data())
def test_relu_inputs_are_off_the_kink(data):
    case = data.draw(cases("relu_backward"))
    assert np.all(case.inputs[1] != 0), f"relu input has a 0: {case.inputs[1]}"


@given(data=st.data())
def test_max_pool_inputs_are_tie_free_and_tie_cases_have_ties(data):
    case = data.draw(cases("max_pool_forward"))
    x = case.inputs[0]
    assert len(np.unique(x)) == x.size
    tie = data.draw(max_pool_tie_cases())
    assert set(np.unique(tie.inputs[1])) <= {0.0, 1.0, 2.0}


@pytest.mark.parametrize("op", ["conv_forward", "conv_backward", "max_pool_backward"])
@given(data=st.data())
def test_cs231n_capabilities_are_honoured(op, data):
    """CS231N narrowed to exact division: the course's "(W − F + 2P)/S + 1 must be an integer"."""
    case = data.draw(cases(op, CS231N.narrowed(exact_division=True)))
    x = case.inputs[1] if op.endswith("backward") else case.inputs[0]
    o = case.options
    assert x.ndim == 4, f"CS231N is 2-D, got x.shape={x.shape}"
    for key in ("stride", "padding", "kernel"):
        assert key not in o or o[key] is None or isinstance(o[key], int), f"{key}={o[key]!r} is not one int"
    assert o.get("dilation", 1) == 1 and o.get("groups", 1) == 1 and not o.get("ceil_mode", False)
    if op.startswith("conv"):
        w, b = case.inputs[-2:]
        assert b is not None, "CS231N always passes a bias"
        assert shapes.conv_output_is_exact(x.shape[2:], w.shape[2:], o["stride"], o["padding"]) == (True, True)
    else:
        k = o["kernel"]
        s = o["stride"] or k
        assert all((n + 2 * o["padding"] - k) % s == 0 for n in x.shape[2:])


@given(data=st.data())
def test_narrowed_capabilities_are_honoured(data):
    caps = Capabilities(ndims=(1,), dilation=False, groups=False, padding_modes=False, asymmetric_padding=False,
                        bias_optional=False)
    case = data.draw(cases("conv_forward", caps))
    x, w, b = case.inputs
    assert x.ndim == 3 and b is not None
    assert "dilation" not in case.options and "groups" not in case.options
    assert isinstance(case.options["padding"], int)


def _conv_geometry(case):
    x, w = case.inputs[0], case.inputs[1]
    o = case.options
    nd = x.ndim - 2
    per = lambda v: tuple(v) if isinstance(v, tuple) else (v,) * nd  # noqa: E731
    return x, w, per(o["stride"]), per(o.get("dilation", 1)), o["padding"]


COVERAGE = {
    "stride > kernel": lambda c: any(s > k for s, k in zip(_conv_geometry(c)[2], c.inputs[1].shape[2:])),
    "dilation": lambda c: any(d > 1 for d in _conv_geometry(c)[3]),
    "asymmetric padding": lambda c: isinstance(c.options["padding"], tuple)
    and any(isinstance(p, tuple) and p[0] != p[1] for p in c.options["padding"]),
    "'same' padding": lambda c: c.options["padding"] == "same",
    "groups": lambda c: c.options.get("groups", 1) > 1 and c.inputs[1].shape[1] > 1,
    "depthwise": lambda c: c.options.get("groups", 1) > 1 and c.inputs[1].shape[1] == 1,
    "1-D": lambda c: c.inputs[0].ndim == 3,
    "2-D": lambda c: c.inputs[0].ndim == 4,
    "3-D": lambda c: c.inputs[0].ndim == 5,
    "batch 1": lambda c: c.inputs[0].shape[0] == 1,
    "channel 1": lambda c: c.inputs[0].shape[1] == 1,
    "kernel = padded input size": lambda c: _kernel_fills_padded_input(c),
}


def _kernel_fills_padded_input(case):
    x, w, ss, ds, padding = _conv_geometry(case)
    if isinstance(padding, str) or max(w.shape[2:]) == 1:
        return False
    nd = x.ndim - 2
    pads = padding if isinstance(padding, tuple) else (padding,) * nd
    pairs = [p if isinstance(p, tuple) else (p, p) for p in pads]
    return all(d * (k - 1) + 1 == n + pb + pa
               for n, k, d, (pb, pa) in zip(x.shape[2:], w.shape[2:], ds, pairs))


@pytest.mark.parametrize("what", sorted(COVERAGE))
def test_conv_cases_cover(what):
    try:
        found = find(cases("conv_forward"), COVERAGE[what],
                     settings=settings(max_examples=2000, database=None, suppress_health_check=list(HealthCheck)))
    except NoSuchExample:
        pytest.fail(f"conv_forward cases never produce {what}")
    ref.OPS["conv_forward"](*found.inputs, **found.options)


def test_same_padding_comes_with_stride_one():
    @settings(max_examples=200, database=None)
    @given(cases("conv_forward"))
    def check(case):
        if case.options["padding"] == "same":
            assert case.options["stride"] in (1, (1,) * (case.inputs[0].ndim - 2)), case.call_signature()
    check()


def test_unknown_op_is_a_value_error():
    with pytest.raises(ValueError, match="no case strategy for op='conv_fwd'"):
        cases("conv_fwd")


def test_arithmetic_ops_delegate_to_the_lead_strategies():
    case = find(cases("conv_output_size"), lambda c: True, settings=settings(database=None))
    assert case.op == "conv_output_size" and case.inputs == ()
