"""convkit: a 2-D convolution library with its own API (on torch's kernels), and its convcheck adapter.

Like many libraries, its transposed convolution takes one int per argument and has no
``output_padding``; its adapter says so for that op only (``ops={"conv_transpose": ...}``), and the
suite must never pass it what it declined — including the adjoint check, which relates conv and
conv_transpose. Variant: ``flipped_transpose`` (the transposed conv flips its kernel: not an adjoint).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from convcheck.checks import Capabilities

# --- the library ----------------------------------------------------------------------------------------


def conv2d(image, filters, bias=None, *, step=(1, 1), pad=(0, 0), spacing=(1, 1), groups=1):
    t = torch.from_numpy
    out = F.conv2d(t(image), t(filters), None if bias is None else t(bias), stride=step, padding=pad,
                   dilation=spacing, groups=groups)
    return out.numpy()


def deconv2d(image, filters, bias=None, *, step: int = 1, pad: int = 0, spacing: int = 1, groups: int = 1,
             flip: bool = False):
    for name, v in (("step", step), ("pad", pad), ("spacing", spacing)):
        if not isinstance(v, int):
            raise TypeError(f"deconv2d: {name} must be an int, got {v!r}")
    filters = filters[:, :, ::-1, ::-1].copy() if flip else filters
    t = torch.from_numpy
    out = F.conv_transpose2d(t(image), t(filters), None if bias is None else t(bias), stride=step, padding=pad,
                             dilation=spacing, groups=groups)
    return out.numpy()


# --- the adapter --------------------------------------------------------------------------------------------

CAPABILITIES = Capabilities(ndims=(2,), padding_modes=False, asymmetric_padding=False,
                            ops={"conv_transpose": {"output_padding": False, "per_dim_args": False}})


def _pair(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


def conv_forward(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
    return conv2d(x, w, b, step=_pair(stride), pad=_pair(padding), spacing=_pair(dilation), groups=groups)


def conv_transpose_forward(x, w, b=None, stride=1, padding=0, output_padding=0, dilation=1, groups=1):
    if output_padding != 0:
        raise ValueError(f"convkit.deconv2d has no output_padding (got {output_padding!r})")
    return deconv2d(x, w, b, step=stride, pad=padding, spacing=dilation, groups=groups)


def _flipped_transpose(x, w, b=None, stride=1, padding=0, output_padding=0, dilation=1, groups=1):
    if output_padding != 0:
        raise ValueError(f"convkit.deconv2d has no output_padding (got {output_padding!r})")
    return deconv2d(x, w, b, step=stride, pad=padding, spacing=dilation, groups=groups, flip=True)


OPS = {"CAPABILITIES": CAPABILITIES, "conv_forward": conv_forward, "conv_transpose_forward": conv_transpose_forward}
flipped_transpose = {**OPS, "conv_transpose_forward": _flipped_transpose}
