"""Parameter counts, multiply-accumulates and activation memory of single layers.

Pure Python integers. A conv weight is ``(F, C/groups, *kernel)`` as in PyTorch, a dense weight is
``(in_features, out_features)``; each layer has one bias per output channel/unit when ``bias``.
"""

from __future__ import annotations

from math import prod
from typing import NamedTuple

from .shapes import conv_output_size, _check_int, _is_seq

_ITEMSIZE = {"float16": 2, "bfloat16": 2, "float32": 4, "float64": 8, "int8": 1, "uint8": 1,
             "int16": 2, "int32": 4, "int64": 8, "bool": 1}


class ParamCount(NamedTuple):
    """Trainable parameters and non-trainable state (e.g. batch-norm running statistics)."""

    trainable: int
    non_trainable: int

    @property
    def total(self) -> int:
        return self.trainable + self.non_trainable


def _kernel_volume(kernel_size, ndim=1) -> int:
    if _is_seq(kernel_size):
        if not kernel_size:
            raise ValueError("kernel_size must have at least one dimension")
        return prod(_check_int(f"kernel_size[{i}]", k, 1) for i, k in enumerate(kernel_size))
    return _check_int("kernel_size", kernel_size, 1) ** _check_int("ndim", ndim, 1)


def _check_groups(in_channels: int, out_channels: int, groups: int) -> None:
    _check_int("in_channels", in_channels, 1)
    _check_int("out_channels", out_channels, 1)
    _check_int("groups", groups, 1)
    for name, c in (("in_channels", in_channels), ("out_channels", out_channels)):
        if c % groups:
            raise ValueError(f"groups must divide {name}: {name}={c}, groups={groups}")


def conv_params(in_channels, out_channels, kernel_size, bias=True, groups=1, ndim=1) -> int:
    """Learnable parameters of a convolution: ``F·(C/g)·∏k + F`` (the ``+ F`` only with a bias).

    ``kernel_size`` is a tuple with one length per spatial dimension (``(3, 3)`` for a 2-D conv), or
    an int that stands for a cube of ``ndim`` dimensions: ``conv_params(3, 20, 3, ndim=2) == 560``.

    Each of the F filters spans all C/g input channels of its group; the weights are shared across
    positions, so the count does not depend on the input size (course notes 001: 20 filters of
    3×3×3 → 20·27 + 20 = 560; notes 002: 50 such filters → 1400). [torch] ``Conv2d`` Variables.
    """
    _check_groups(in_channels, out_channels, groups)
    return out_channels * (in_channels // groups) * _kernel_volume(kernel_size, ndim) + (out_channels if bias else 0)


def conv_transpose_params(in_channels, out_channels, kernel_size, bias=True, groups=1, ndim=1) -> int:
    """Learnable parameters of a transposed convolution: weight ``(C, F/g, *k)`` plus ``F`` biases.

    The same count as the conv that it transposes, ``C·(F/g)·∏k + F``. [torch] ``ConvTranspose2d``.
    """
    _check_groups(in_channels, out_channels, groups)
    return in_channels * (out_channels // groups) * _kernel_volume(kernel_size, ndim) + (out_channels if bias else 0)


def dense_params(in_features, out_features, bias=True) -> int:
    """Learnable parameters of a fully connected layer: ``in·out + out``. [torch] ``Linear``."""
    _check_int("in_features", in_features, 1)
    _check_int("out_features", out_features, 1)
    return in_features * out_features + (out_features if bias else 0)


def batchnorm_params(num_features) -> ParamCount:
    """Batch norm: ``γ`` and ``β`` per channel are trainable (2C); the running mean and variance are
    state, not learned (2C non-trainable, as Keras reports them; PyTorch keeps them as buffers).
    (Ioffe and Szegedy 2015, Algorithm 1.)"""
    c = _check_int("num_features", num_features, 1)
    return ParamCount(trainable=2 * c, non_trainable=2 * c)


def pool_params(*_args, **_kwargs) -> int:
    """Pooling has no parameters: only its size, stride and type (course notes 002)."""
    return 0


def activation_params(*_args, **_kwargs) -> int:
    """Element-wise activations have no parameters."""
    return 0


def flatten_params(*_args, **_kwargs) -> int:
    """Flatten only reshapes: no parameters."""
    return 0


def conv_macs(in_channels, out_channels, kernel_size, input_size, stride=1, padding=0, dilation=1, groups=1):
    """Multiply-accumulates of one conv layer on one input (batch 1), bias adds not counted.

    Each output value is a dot product of length ``(C/g)·∏k``, and there are ``F·∏out`` of them:
    ``MACs = F·∏out·(C/g)·∏k``, with ``out`` from :func:`conv_output_size`.
    """
    _check_groups(in_channels, out_channels, groups)
    out = conv_output_size(input_size, kernel_size, stride, padding, dilation)
    out_volume = prod(out) if _is_seq(out) else out
    ndim = len(out) if _is_seq(out) else 1
    return out_channels * out_volume * (in_channels // groups) * _kernel_volume(kernel_size, ndim)


def activation_bytes(shape, dtype="float32") -> int:
    """Memory of one activation tensor: ``∏shape · itemsize`` bytes.

    Course question: a 226×226×100 map of float32 takes 226·226·100·4 = 20,430,400 bytes.
    ``dtype`` is a name such as ``'float32'`` or anything with an ``itemsize`` (a NumPy dtype).
    """
    dims = tuple(shape) if _is_seq(shape) else (shape,)
    for i, d in enumerate(dims):
        _check_int(f"shape[{i}]", d, 1)
    itemsize = getattr(dtype, "itemsize", None) or _ITEMSIZE.get(str(dtype))
    if itemsize is None:
        raise ValueError(f"unknown dtype {dtype!r}; use one of {sorted(_ITEMSIZE)} or a NumPy dtype")
    return prod(dims) * itemsize
