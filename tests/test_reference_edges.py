"""Defaults, edges and validation of the reference that no other test pins down.

Each test here was written against mutants of ``reference/`` that the rest of the suite let
survive (``make mutation``, and the gaps listed in issue 16): a changed default, an off-by-one in a
bound check, an axis dropped. Torch-free and fast, so the mutation run tries them first.
"""

from __future__ import annotations

import numpy as np
import pytest

from convcheck import reference as ref
from convcheck.reference import layers, params, shapes

RNG = np.random.default_rng(0)


# --- shapes ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("call", [
    lambda: shapes.conv_output_size((), 3),
    lambda: shapes.conv_output_size(5, ()),
    lambda: shapes.effective_kernel_size(()),
    lambda: shapes.pool_output_size((), 2),
    lambda: shapes.conv_transpose_output_size((), 3),
    lambda: shapes.conv_padding((), 3),
], ids=["conv", "conv-kernel", "effective", "pool", "transpose", "padding"])
def test_zero_dimensional_tuples_raise(call):
    with pytest.raises(ValueError, match="at least one dimension"):
        call()


def test_pool_output_size_defaults_to_floor_mode_and_stride_kernel():
    assert shapes.pool_output_size(5, 2) == 2                 # ceil mode would give 3
    assert shapes.pool_output_size(5, 2, ceil_mode=True) == 3
    assert shapes.pool_output_size((5, 6), 2) == (2, 3)


def test_effective_kernel_size_defaults_to_dilation_one():
    assert shapes.effective_kernel_size(3) == 3
    assert shapes.effective_kernel_size((3, 5)) == (3, 5)
    assert shapes.effective_kernel_size(3, 2) == 5


@pytest.mark.parametrize("padding", [((1, -1), (0, 0)), ((0, 0), (-1, 1)), ((-1, 1), (0, 0))])
def test_negative_pad_in_a_per_dim_pair_raises(padding):
    with pytest.raises(ValueError, match=r"padding\[\d\]\[\d\] must be >= 0"):
        shapes.conv_output_size((5, 5), 3, 1, padding)


def test_negative_pad_in_a_one_dim_pair_raises():
    for pair in ((1, -1), (-1, 1)):
        with pytest.raises(ValueError, match=r"padding\[\d\] must be >= 0"):
            shapes.conv_output_size(5, 3, 1, pair)


def test_exactness_with_asymmetric_padding():
    # 5 + 0 + 1 − 3 = 3 is not a multiple of 2; with the pad on both sides (5 + 1 + 1 − 3 = 4) it would be
    assert shapes.conv_output_is_exact(5, 3, 2, (0, 1)) is False
    assert shapes.conv_output_is_exact(5, 3, 2, (1, 1)) is True
    assert shapes.conv_output_is_exact((5, 5), 3, 2, ((1, 0), (1, 1))) == (False, True)


def test_zero_padding_in_pairs_is_allowed():
    assert shapes.conv_output_size((5, 5), 3, 1, ((0, 0), (0, 0))) == (3, 3)
    assert shapes.conv_output_size(5, 3, 1, (0, 0)) == 3


def test_disagreeing_dimensions_are_named_in_the_message():
    with pytest.raises(ValueError, match="kernel has 3, n has 2"):
        shapes.conv_output_size((5, 5), (3, 3, 3))


def test_a_one_dim_padding_must_be_a_pair():
    with pytest.raises(ValueError, match=r"a \(before, after\) pair"):
        shapes.conv_output_size(5, 3, 1, (1, 2, 3))


@pytest.mark.parametrize("name", ["n", "kernel", "stride", "dilation"])
def test_zero_sizes_raise(name):
    args = {"n": 5, "kernel": 3, "stride": 1, "dilation": 1, name: 0}
    with pytest.raises(ValueError, match=f"{name} must be positive"):
        shapes.conv_output_size(args["n"], args["kernel"], args["stride"], 0, args["dilation"])


def test_conv_padding_defaults_to_same_at_stride_and_dilation_one():
    assert shapes.conv_padding(6, 3) == (1, 1)          # stride 2 would give (0, 1), dilation 2 (2, 2)
    assert shapes.conv_padding(6, 3, 2) == (0, 1)
    assert shapes.conv_padding(6, 3, 1, 2) == (2, 2)


@pytest.mark.parametrize("layer, name", [((0, 1), "kernel"), ((3, 0), "stride"), ((3, 1, 0), "dilation")])
def test_receptive_field_rejects_zero_sizes(layer, name):
    with pytest.raises(ValueError, match=rf"layers\[1\].{name} must be positive"):
        shapes.receptive_field([(3, 1), layer])
    assert shapes.receptive_field([(1, 1), (1, 1, 1)]) == (1, 1)


# --- params ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype, itemsize", [
    ("float16", 2), ("bfloat16", 2), ("float32", 4), ("float64", 8), ("int8", 1), ("uint8", 1),
    ("int16", 2), ("int32", 4), ("int64", 8), ("bool", 1),
])
def test_activation_bytes_of_every_named_dtype(dtype, itemsize):
    assert params.activation_bytes((2, 3, 5), dtype) == 30 * itemsize


def test_activation_bytes_defaults_and_size_one_dims():
    assert params.activation_bytes((1, 3, 4)) == 48                 # float32 by default
    assert params.activation_bytes((1, 1, 1, 1)) == 4
    assert params.activation_bytes(7) == 28
    assert params.activation_bytes((2, 3), np.dtype("float64")) == 48
    with pytest.raises(ValueError, match=r"shape\[1\] must be positive"):
        params.activation_bytes((1, 0, 4))


def test_int_kernels_default_to_one_spatial_dim():
    assert params.conv_params(3, 4, 3) == 4 * 3 * 3 + 4
    assert params.conv_params(3, 4, 3, bias=False) == 36
    assert params.conv_transpose_params(3, 4, 3) == 3 * 4 * 3 + 4
    assert params.conv_params(3, 4, 1, ndim=3) == 12 + 4
    assert params.conv_params(2, 2, (1,)) == 6


def test_int_kernels_need_a_positive_ndim():
    for op in (params.conv_params, params.conv_transpose_params):
        with pytest.raises(ValueError, match="ndim must be positive"):
            op(3, 4, 3, ndim=0)


def test_dense_params_need_positive_features():
    assert params.dense_params(1, 1) == 2 and params.dense_params(3, 2, bias=False) == 6
    for args, name in (((0, 3), "in_features"), ((3, 0), "out_features")):
        with pytest.raises(ValueError, match=f"{name} must be positive"):
            params.dense_params(*args)


def test_zero_kernel_sizes_and_features_raise():
    with pytest.raises(ValueError, match=r"kernel_size\[1\] must be positive"):
        params.conv_params(3, 4, (3, 0))
    with pytest.raises(ValueError, match="kernel_size must be positive"):
        params.conv_params(3, 4, 0)
    with pytest.raises(ValueError, match="num_features must be positive"):
        params.batchnorm_params(0)
    assert params.batchnorm_params(1) == (2, 2)


def test_transposed_conv_params_without_and_with_groups():
    assert params.conv_transpose_params(4, 6, (3, 3)) == 4 * 6 * 9 + 6
    assert params.conv_transpose_params(4, 6, (3, 3), bias=False) == 4 * 6 * 9
    assert params.conv_transpose_params(4, 6, (3, 3), groups=2) == 4 * 3 * 9 + 6


def test_counts_are_ints_not_floats():
    for value in (params.conv_params(4, 6, (3, 3), groups=2), params.conv_transpose_params(4, 6, (3, 3), groups=2),
                  params.conv_macs(4, 6, (3, 3), (5, 5), groups=2), params.conv_macs(2, 4, 3, 7)):
        assert type(value) is int, f"{value!r} should be an int"


def test_conv_macs_with_int_sizes_and_defaults():
    # out = 7 − 3 + 1 = 5 positions, each a dot product of length 2·3, for 4 filters
    assert params.conv_macs(2, 4, 3, 7) == 4 * 5 * 2 * 3
    assert params.conv_macs(2, 4, 3, 7, stride=2) == 4 * 3 * 2 * 3
    assert params.conv_macs(2, 4, 3, 7, padding=1) == 4 * 7 * 2 * 3
    assert params.conv_macs(2, 4, 3, 7, dilation=2) == 4 * 3 * 2 * 3
    assert params.conv_macs(2, 4, (3, 3), (7, 7)) == 4 * 25 * 2 * 9


@pytest.mark.parametrize("name, args", [("in_channels", (0, 4, 3)), ("out_channels", (4, 0, 3))])
def test_zero_channels_raise(name, args):
    for op in (params.conv_params, params.conv_transpose_params):
        with pytest.raises(ValueError, match=f"{name} must be positive"):
            op(*args)
    with pytest.raises(ValueError, match="groups must be positive"):
        params.conv_params(4, 4, 3, groups=0)


def test_groups_must_divide_both_channel_counts():
    with pytest.raises(ValueError, match="groups must divide in_channels"):
        params.conv_params(3, 6, 3, groups=2)
    with pytest.raises(ValueError, match="groups must divide out_channels"):
        params.conv_params(4, 3, 3, groups=2)


# --- conv ------------------------------------------------------------------------------------------

def test_naive_conv_defaults_to_stride_and_dilation_one():
    x, w, b = RNG.standard_normal((1, 2, 6, 6)), RNG.standard_normal((3, 2, 3, 3)), RNG.standard_normal(3)
    expected = ref.conv_forward(x, w, b, stride=1, padding=0, dilation=1)
    np.testing.assert_allclose(ref.conv_forward_naive(x, w, b), expected, rtol=1e-12, atol=1e-12)
    dout = RNG.standard_normal(expected.shape)
    for got, want in zip(ref.conv_backward_naive(dout, x, w, b), ref.conv_backward(dout, x, w, b)):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10)


def test_conv_defaults():
    x, w = RNG.standard_normal((2, 2, 5, 5)), RNG.standard_normal((2, 2, 3, 3))
    np.testing.assert_allclose(ref.conv_forward(x, w), ref.conv_forward(x, w, None, 1, 0, 1, 1))
    xt = RNG.standard_normal((2, 2, 3, 3))
    np.testing.assert_allclose(ref.conv_transpose_forward(xt, w), ref.conv_transpose_forward(xt, w, None, 1, 0, 0, 1, 1))


# --- pool ----------------------------------------------------------------------------------------

def test_a_ceil_mode_window_larger_than_the_input():
    # n=1, k=3, ceil mode: one window hanging past the input (values checked against torch 2.13)
    x = np.array([[[5.0]]])
    np.testing.assert_array_equal(ref.max_pool_forward(x, 3, ceil_mode=True), x)
    np.testing.assert_array_equal(ref.avg_pool_forward(x, 3, ceil_mode=True), x)
    np.testing.assert_array_equal(ref.max_pool_backward(np.ones((1, 1, 1)), x, 3, ceil_mode=True), [[[1.0]]])
    x2 = np.arange(6.0).reshape(1, 1, 2, 3)
    np.testing.assert_array_equal(ref.max_pool_forward(x2, 3, stride=2, ceil_mode=True), [[[[5.0]]]])


# --- layers ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("op", [
    lambda x: layers.flatten_forward(x),
    lambda x: layers.softmax_forward(x),
    lambda x: layers.binary_cross_entropy(x, np.zeros_like(x)),
    lambda x: layers.dense_forward(x, np.ones((3, 2))),
], ids=["flatten", "softmax", "bce", "dense"])
def test_empty_batches_raise(op):
    with pytest.raises(ValueError, match="non-empty"):
        op(np.zeros((0, 3)))


def test_binary_cross_entropy_takes_one_dimensional_logits():
    z, t = np.array([0.5, -1.0, 2.0]), np.array([1.0, 0.0, 1.0])
    loss, dz = layers.binary_cross_entropy(z, t)
    s = 1 / (1 + np.exp(-z))
    np.testing.assert_allclose(loss, -np.mean(t * np.log(s) + (1 - t) * np.log(1 - s)), rtol=1e-12)
    np.testing.assert_allclose(dz, (s - t) / 3, rtol=1e-12)


@pytest.mark.parametrize("axis", [2, -3, 5])
def test_softmax_axis_out_of_range_raises(axis):
    with pytest.raises(ValueError, match=r"axis must be an int in \[-2, 2\)"):
        layers.softmax_forward(np.zeros((2, 3)), axis=axis)
    with pytest.raises(ValueError, match=r"axis must be an int in \[-2, 2\)"):
        layers.softmax_backward(np.zeros((2, 3)), np.zeros((2, 3)), axis=axis)


def test_softmax_takes_negative_axes():
    x = RNG.standard_normal((2, 3))
    np.testing.assert_allclose(layers.softmax_forward(x, axis=-2), layers.softmax_forward(x, axis=0))
    np.testing.assert_allclose(layers.softmax_forward(x, axis=-1), layers.softmax_forward(x, axis=1))


def test_softmax_shifts_each_slice_by_its_own_maximum():
    # shifting by the global maximum would underflow the second row to 0/0
    x = np.array([[0.0, 1.0], [-1000.0, -999.0]])
    expected = np.exp([0.0, 1.0]) / np.exp([0.0, 1.0]).sum()
    np.testing.assert_allclose(layers.softmax_forward(x), [expected, expected], rtol=1e-12)
    np.testing.assert_allclose(layers.softmax_forward(x.T, axis=0), np.transpose([expected, expected]), rtol=1e-12)


def test_bools_are_not_an_axis_or_a_probability():
    x = RNG.standard_normal((2, 3))
    with pytest.raises(ValueError, match="axis must be an int"):
        layers.softmax_forward(x, axis=True)
    with pytest.raises(ValueError, match="p .the drop probability. must be in"):
        layers.dropout_forward(x, np.ones_like(x), p=False)
    with pytest.raises(ValueError, match="p .the drop probability. must be in"):
        layers.dropout_forward(x, np.ones_like(x), p=1.0)
    np.testing.assert_allclose(layers.dropout_forward(x, np.ones_like(x), p=0), x)
