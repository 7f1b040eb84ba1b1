"""Output-size arithmetic: the course's worked examples, and equality with PyTorch's shapes."""

import pytest
from hypothesis import given, strategies as st

from convcheck.checks import arithmetic
from convcheck.reference import shapes
from convcheck.reference.shapes import (
    conv_output_is_exact, conv_output_size, conv_padding, conv_transpose_output_size,
    effective_kernel_size, pool_output_size, receptive_field,
)


# --- worked examples from the course notes ------------------------------------------------------------

@pytest.mark.parametrize("call, expected", [
    (lambda: conv_output_size((6, 6), 3), (4, 4)),               # 6×6 image, 3×3 filter
    (lambda: conv_output_size(28, 3), 26),                        # 28×28 with 3×3
    (lambda: conv_output_size((5, 5), 3, padding=1), (5, 5)),     # 5×5, 3×3, pad 1
    (lambda: conv_output_size(5, 3, stride=2, padding=1), 3),     # 1-D: 5, filter 3, pad 1, stride 2
    (lambda: conv_output_size((6, 7), 3, stride=2), (2, 3)),      # 6 rows × 7 columns, stride 2: floor
    (lambda: effective_kernel_size(7, 3), 19),                    # length-7 filter at dilation 3
    (lambda: conv_output_size(28, 3, padding="same"), 28),        # Keras 'same' keeps 28
    (lambda: conv_output_size(7, 3, padding="full"), 9),          # 'full': n + k − 1
])
def test_course_examples(call, expected):
    assert call() == expected


def test_three_strided_same_convs_halve_28_to_4():
    sizes, n = [], 28
    for _ in range(3):
        n = conv_output_size(n, 3, stride=2, padding="same")
        sizes.append(n)
    assert sizes == [14, 7, 4]


def test_three_valid_convs_shrink_by_two_each():
    sizes, n = [], (28, 28)
    for _ in range(3):
        n = conv_output_size(n, (3, 3))
        sizes.append(n)
    assert sizes == [(26, 26), (24, 24), (22, 22)]


def test_same_padding_puts_the_extra_unit_at_the_end():
    assert conv_padding(28, 3, stride=2) == (0, 1)
    assert conv_padding(5, 4) == (1, 2)
    assert conv_padding((5, 6), (3, 4), mode="full") == ((2, 2), (3, 3))
    assert conv_padding(9, 3, mode="valid") == (0, 0)


def test_receptive_field_of_stacked_3x3_convs():
    assert receptive_field([(3, 1)] * 3) == (7, 1)
    assert receptive_field([(3, 2), (3, 1)]) == (7, 2)
    assert receptive_field([(3, 1, 2), (3, 1, 4)]) == (13, 1)


def test_numpy_integers_are_ints_but_bools_are_not():
    import numpy as np

    assert conv_output_size(np.int64(28), np.int32(3), stride=np.int64(2)) == 13
    assert type(conv_output_size(np.int64(28), 3)) is int
    with pytest.raises(ValueError, match="kernel must be an int"):
        conv_output_size(5, True)


def test_exactness_rule():
    assert conv_output_is_exact(7, 3, 2, 0) is True     # (7 − 3)/2 = 2
    assert conv_output_is_exact(6, 3, 2, 0) is False    # (6 − 3)/2 = 1.5: the last column is skipped
    assert conv_output_is_exact((7, 6), 3, 2, 0) == (True, False)


def test_pool_ceil_mode_drops_a_window_that_starts_in_the_right_padding():
    # n=6, k=3, s=2, p=1: ceil((6+2−3)/2)+1 = 4, and window 3 starts at 6 = n + p − 1 < n + p: kept
    assert pool_output_size(6, 3, stride=2, padding=1, ceil_mode=True) == 4
    # n=5, k=2, s=2, p=1: ceil((5+2−2)/2)+1 = 4, but window 3 starts at 6 ≥ n + p = 6: dropped
    assert pool_output_size(5, 2, stride=2, padding=1, ceil_mode=True) == 3
    assert pool_output_size(32, 2) == 16  # stride defaults to the kernel


def test_transposed_conv_inverts_conv():
    assert conv_transpose_output_size(14, 3, stride=2, padding=1, output_padding=1) == 28
    assert conv_output_size(28, 3, stride=2, padding=1) == 14


@pytest.mark.parametrize("call, fragment", [
    (lambda: conv_output_size(3, 5), "kernel is larger than the padded input"),
    (lambda: conv_output_size(0, 3), "n must be positive, got n=0"),
    (lambda: conv_output_size(5, 3, stride=0), "stride must be positive, got stride=0"),
    (lambda: conv_output_size(5, 3, padding=-1), "padding must be >= 0, got padding=-1"),
    (lambda: conv_output_size(5, 3, padding="half"), "padding mode must be one of"),
    (lambda: conv_output_size((5, 5), (3, 3, 3)), "disagree on the number of dimensions"),
    (lambda: pool_output_size(8, 3, padding=2), "padding must be at most half the kernel size"),
    (lambda: pool_output_size(2, 3, dilation=2), "pooling output is empty"),
    (lambda: conv_transpose_output_size(4, 3, stride=2, output_padding=2), "output_padding must be smaller"),
    (lambda: conv_transpose_output_size(1, 1, padding=1), "output is empty"),
    (lambda: conv_output_size(5.0, 3), "n must be an int"),
    (lambda: receptive_field([(3,)]), "layer 0 must be"),
])
def test_invalid_input_raises_value_error_naming_the_argument(call, fragment):
    with pytest.raises(ValueError, match=fragment):
        call()


# --- equality with PyTorch, over generated configurations ------------------------------------------

@pytest.mark.parametrize("op", ["conv_output_size", "pool_output_size", "conv_transpose_output_size"])
@given(data=st.data())
def test_output_size_equals_torch(op, data):
    case = data.draw(arithmetic.valid_cases(op), label="case")
    expected = arithmetic.torch_answer(case)
    got = getattr(shapes, op)(**case.options)
    assert got == expected, f"{op}={got}, but torch gives {expected} [{case.call_signature()}]"


@given(case=arithmetic.pool_size_cases(kind="avg"))
def test_avg_pool_output_size_equals_torch(case):
    assert pool_output_size(**case.options) == arithmetic.torch_answer(case)


@pytest.mark.parametrize("op", ["conv_output_size", "pool_output_size", "conv_transpose_output_size"])
@given(data=st.data())
def test_configurations_torch_rejects_raise_value_error(op, data):
    case = data.draw(arithmetic.invalid_cases(op), label="case")
    assert arithmetic.torch_rejects(case), f"torch accepted {case.call_signature()} ({case.notes})"
    with pytest.raises(ValueError):
        getattr(shapes, op)(**case.options)


@given(n=st.integers(1, 30), k=st.integers(1, 6), s=st.integers(1, 4), p=st.integers(0, 3), d=st.integers(1, 3))
def test_exactness_agrees_with_transposed_conv_round_trip(n, k, s, p, d):
    """Exact iff torch's transposed conv with the same (k, s, p, d) and no output_padding gives n back."""
    case = arithmetic.Case("conv_output_size", (), dict(n=n, kernel=k, stride=s, padding=p, dilation=d))
    if arithmetic.torch_rejects(case):
        return  # no conv at all: covered by the invalid-configuration test
    out = arithmetic.torch_answer(case)
    back = arithmetic.Case("conv_transpose_output_size", (), dict(
        n=out, kernel=k, stride=s, padding=p, output_padding=0, dilation=d))
    round_trip = not arithmetic.torch_rejects(back) and arithmetic.torch_answer(back) == n
    assert conv_output_is_exact(n, k, s, p, d) == round_trip


@given(st.integers(1, 64), st.integers(1, 7), st.integers(1, 5), st.integers(1, 3))
def test_same_padding_gives_ceil_n_over_stride(n, k, s, d):
    """Keras 'same' at any stride: out = ceil(n / s) (TensorFlow's rule; torch allows stride 1 only)."""
    assert conv_output_size(n, k, stride=s, padding="same", dilation=d) == -(-n // s)


@given(case=arithmetic.receptive_field_cases())
def test_receptive_field_equals_torch_gradient_extent(case):
    assert tuple(receptive_field(**case.options)) == arithmetic.torch_answer(case)


@given(st.integers(1, 9), st.integers(1, 4))
def test_effective_kernel_is_the_smallest_input_with_one_output(k, d):
    k_eff = effective_kernel_size(k, d)
    assert conv_output_size(k_eff, k, dilation=d) == 1
    assert arithmetic.torch_answer(arithmetic.Case("conv_output_size", (), dict(
        n=k_eff, kernel=k, stride=1, padding=0, dilation=d))) == 1
    if k_eff > 1:
        assert arithmetic.torch_rejects(arithmetic.Case("conv_output_size", (), dict(
            n=k_eff - 1, kernel=k, stride=1, padding=0, dilation=d)))


@given(data=st.data())
def test_arithmetic_cases_stay_inside_declared_capabilities(data):
    """A student told "plain ints, no modes, no dilation" is never handed anything else."""
    from convcheck.checks.capabilities import CS231N

    for op in ("conv_output_size", "pool_output_size", "conv_transpose_output_size"):
        case = data.draw(arithmetic.valid_cases(op, CS231N), label=op)
        for name, value in case.options.items():
            assert value is None or type(value) in (int, bool), f"{name}={value!r} [{case.call_signature()}]"
        assert case.options.get("dilation", 1) == 1
        assert case.options.get("ceil_mode", False) is False
        if op == "pool_output_size":
            assert case.options["padding"] == 0
