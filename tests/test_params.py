"""Parameter counts, MACs and activation memory: the course's numbers, and equality with PyTorch."""

import pytest
import torch
from hypothesis import given

from convcheck.checks import arithmetic
from convcheck.reference import params
from convcheck.reference.params import (
    activation_bytes, batchnorm_params, conv_macs, conv_params, conv_transpose_params, dense_params,
)


@pytest.mark.parametrize("call, expected", [
    (lambda: conv_params(3, 20, (3, 3)), 560),        # 20 filters of 3×3×3
    (lambda: conv_params(3, 20, 3, ndim=2), 560),     # the same with an int kernel of a 2-D conv
    (lambda: conv_params(3, 50, (3, 3)), 1400),       # 50 such filters
    (lambda: conv_params(1, 32, (3, 3)), 320),        # Conv2D(32, 3×3) on 28×28×1
    (lambda: conv_params(32, 32, (3, 3)), 9248),      # a second one
    (lambda: conv_params(3, 6, (5, 5)), 456),         # course LeNet: CONV1
    (lambda: conv_params(6, 16, (5, 5)), 2416),       # CONV2
    (lambda: dense_params(400, 120), 48120),          # FC3
    (lambda: dense_params(120, 84), 10164),           # FC4
    (lambda: dense_params(84, 10), 850),              # softmax
    (lambda: conv_params(32, 32, (3, 3), groups=32), 320),   # depthwise: 32·1·9 + 32
    (lambda: conv_params(3, 8, (3, 3), bias=False), 216),
    (lambda: activation_bytes((226, 226, 100)), 20_430_400),  # float32
    (lambda: activation_bytes((226, 226, 100), "float64"), 40_860_800),
    (lambda: conv_macs(3, 6, (5, 5), (32, 32)), 6 * 28 * 28 * 75),
])
def test_course_numbers(call, expected):
    assert call() == expected


def test_course_lenet_total():
    rows = [conv_params(3, 6, (5, 5)), conv_params(6, 16, (5, 5)), dense_params(400, 120),
            dense_params(120, 84), dense_params(84, 10)]
    assert sum(rows) == 62_006


def test_parameter_free_layers():
    assert params.pool_params(2) == params.activation_params() == params.flatten_params() == 0


@pytest.mark.parametrize("channels", [1, 6, 64])
def test_batchnorm_counts_equal_torch_parameters_and_running_statistics(channels):
    bn = torch.nn.BatchNorm2d(channels)
    count = batchnorm_params(channels)
    assert count.trainable == sum(p.numel() for p in bn.parameters())
    assert count.non_trainable == bn.running_mean.numel() + bn.running_var.numel()
    assert count.total == 4 * channels


@pytest.mark.parametrize("op", ["conv_params", "conv_transpose_params", "dense_params", "conv_macs"])
@given(data=__import__("hypothesis").strategies.data())
def test_counts_equal_torch(op, data):
    case = data.draw(arithmetic.valid_cases(op), label="case")
    expected = arithmetic.torch_answer(case)
    got = getattr(params, op)(**case.options)
    assert got == expected, f"{op}={got}, but torch gives {expected} [{case.call_signature()}]"


@given(case=arithmetic.invalid_cases("conv_params"))
def test_configurations_torch_rejects_raise_value_error(case):
    assert arithmetic.torch_rejects(case), f"torch accepted {case.call_signature()} ({case.notes})"
    with pytest.raises(ValueError):
        conv_params(**case.options)


@pytest.mark.parametrize("dtype", [torch.float16, torch.float32, torch.float64, torch.int64])
def test_activation_bytes_equals_torch_nbytes(dtype):
    shape = (7, 5, 3)
    assert activation_bytes(shape, str(dtype).replace("torch.", "")) == torch.empty(shape, dtype=dtype).nbytes


@pytest.mark.parametrize("call, fragment", [
    (lambda: conv_params(4, 6, (3, 3), groups=4), "groups must divide out_channels"),
    (lambda: conv_params(0, 6, 3), "in_channels must be positive"),
    (lambda: conv_transpose_params(6, 4, (3, 3), groups=4), "groups must divide in_channels"),
    (lambda: dense_params(10, 0), "out_features must be positive"),
    (lambda: activation_bytes((2, 2), "complex256"), "unknown dtype"),
    (lambda: conv_params(3, 6, ()), "kernel_size must have at least one dimension"),
])
def test_invalid_input_raises_value_error_naming_the_argument(call, fragment):
    with pytest.raises(ValueError, match=fragment):
        call()
