"""Worked example: an adapter for a library with its own signatures and the NHWC layout.

The "library" below (``conv2d_nhwc``, ``max_pool2d_nhwc``) stands for any third-party code: channels-
last activations ``(N, H, W, C)``, TensorFlow-style ``HWIO`` kernels ``(kh, kw, C, F)``, a
``strides=(sh, sw)`` pair and explicit per-side padding. It is written with
``numpy.lib.stride_tricks.sliding_window_view``.

The adapter part maps the reference names and signatures onto it:
- ``CAPABILITIES`` declares what the library supports (2-D only, NHWC, no groups, no mode strings),
  so the checks generate nothing else and hand it activations channels-last;
- weights are NOT covered by the layout (they arrive ``(F, C, kh, kw)`` as in the reference), so
  the adapter transposes them to HWIO itself;
- ops the library lacks (every backward here) are simply not defined: they are "not provided".

    convcheck verify convcheck.checks.adapters.example_nhwc
    pytest --convcheck-impl=convcheck.checks.adapters.example_nhwc
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from convcheck.checks.capabilities import Capabilities

# --- the "library": NHWC, HWIO kernels, its own argument names --------------------------------------------


def conv2d_nhwc(x, kernel, bias=None, strides=(1, 1), pads=((0, 0), (0, 0)), dilations=(1, 1)):
    """x (N, H, W, C), kernel (kh, kw, C, F) → (N, OH, OW, F); cross-correlation."""
    (pt, pb), (pl, pr) = pads
    xp = np.pad(x, ((0, 0), (pt, pb), (pl, pr), (0, 0)))
    kh, kw = kernel.shape[:2]
    dh, dw = dilations
    win = sliding_window_view(xp, ((kh - 1) * dh + 1, (kw - 1) * dw + 1), axis=(1, 2))  # N, OH', OW', C, eh, ew
    win = win[:, ::strides[0], ::strides[1], :, ::dh, ::dw]                          # N, OH, OW, C, kh, kw
    out = np.einsum("nhwcij,ijcf->nhwf", win, kernel)
    return out if bias is None else out + bias


def max_pool2d_nhwc(x, window, strides, pads=(0, 0), dilations=(1, 1)):
    """x (N, H, W, C) → (N, OH, OW, C), padding with -inf (floor mode)."""
    (ph, pw), (dh, dw) = pads, dilations
    xp = np.pad(x, ((0, 0), (ph, ph), (pw, pw), (0, 0)), constant_values=-np.inf)
    span = ((window[0] - 1) * dh + 1, (window[1] - 1) * dw + 1)
    win = sliding_window_view(xp, span, axis=(1, 2))[:, ::strides[0], ::strides[1], :, ::dh, ::dw]
    return win.max(axis=(-2, -1))


# --- the adapter: reference names and signatures → the library ----------------------------------------------

CAPABILITIES = Capabilities(layout="NHWC", ndims=(2,), groups=False, padding_modes=False, ceil_mode=False)


def _pair(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


def conv_forward(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
    """Reference signature; x arrives NHWC (CAPABILITIES.layout), w as (F, C, kh, kw)."""
    if groups != 1:
        raise ValueError("groups are not supported")
    pads = tuple(_pair(p) for p in _pair(padding))  # int, per-dim ints or per-dim (before, after) pairs
    return conv2d_nhwc(x, np.transpose(w, (2, 3, 1, 0)), b, strides=_pair(stride), pads=pads,
                       dilations=_pair(dilation))


def max_pool_forward(x, kernel, stride=None, padding=0, dilation=1, ceil_mode=False):
    if ceil_mode:
        raise ValueError("ceil_mode is not supported")  # never asked: CAPABILITIES.ceil_mode is False
    return max_pool2d_nhwc(x, _pair(kernel), _pair(kernel if stride is None else stride), _pair(padding),
                           _pair(dilation))
