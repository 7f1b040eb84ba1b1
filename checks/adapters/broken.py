"""Deliberately broken implementations ("mutants"), for demos and for testing the suite itself.

Each is the reference with ONE classic mistake, so a run against it must fail exactly the checks
that the mistake breaks, with that mistake's shrunk counterexample:

    pytest --convcheck-impl=convcheck.checks.adapters.broken:ignores_dilation -k conv_forward

Never use these as implementations.
"""

from __future__ import annotations

from itertools import product

import numpy as np

from convcheck.reference.conv import conv_pads

from .reference import OPS as _REF


def _with(**changes) -> dict:
    ops = dict(_REF)
    ops.update(changes)
    return ops


# --- conv forward mistakes ------------------------------------------------------------------------------

def _conv_ignoring_dilation(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
    return _REF["conv_forward"](x, w, b, stride=stride, padding=padding, groups=groups)


def _flip(w):
    return np.ascontiguousarray(w[(slice(None), slice(None)) + (slice(None, None, -1),) * (w.ndim - 2)])


def _conv_flipped(x, w, b=None, **options):
    return _REF["conv_forward"](x, _flip(np.asarray(w)), b, **options)


def _conv_transposed_kernel(x, w, b=None, **options):
    w = np.asarray(w)
    w = np.ascontiguousarray(np.swapaxes(w, -1, -2)) if w.ndim >= 4 and w.shape[-1] == w.shape[-2] else w
    return _REF["conv_forward"](x, w, b, **options)


def _conv_groups_unsupported(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
    if groups != 1:
        raise NotImplementedError("groups > 1")
    return _REF["conv_forward"](x, w, b, stride=stride, padding=padding, dilation=dilation)


# --- backward mistakes ------------------------------------------------------------------------------------

def _max_pool_spread(dout, x, kernel, stride=None, padding=0, dilation=1, ceil_mode=False):
    """Spreads dout evenly over each window, as average pooling does."""
    return _REF["avg_pool_backward"](dout, x, kernel, stride=stride, padding=padding, ceil_mode=ceil_mode,
                                     count_include_pad=True)


def _conv_backward_overwrites(dout, x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
    """dx written with ``=`` instead of ``+=``: where windows overlap, the last one wins."""
    _, dw, db = _REF["conv_backward"](dout, x, w, b, stride=stride, padding=padding, dilation=dilation, groups=groups)
    x, w, dout = np.asarray(x), np.asarray(w), np.asarray(dout)
    nd, ks = x.ndim - 2, w.shape[2:]
    ss = stride if isinstance(stride, tuple) else (stride,) * nd
    ds = dilation if isinstance(dilation, tuple) else (dilation,) * nd
    pads = conv_pads(padding, x.shape[2:], ks, ss, ds)
    dxp = np.zeros(x.shape[:2] + tuple(n + pb + pa for n, (pb, pa) in zip(x.shape[2:], pads)))
    f_g, c_g = w.shape[0] // groups, x.shape[1] // groups
    for o in product(*(range(n) for n in dout.shape[2:])):
        window = tuple(slice(oi * s, oi * s + d * (k - 1) + 1, d) for oi, s, d, k in zip(o, ss, ds, ks))
        for g in range(groups):
            fs, cs = slice(g * f_g, (g + 1) * f_g), slice(g * c_g, (g + 1) * c_g)
            contribution = np.tensordot(dout[(slice(None), fs) + o], w[fs], axes=([1], [0]))  # (N, C/g, *k)
            dxp[(slice(None), cs) + window] = contribution  # the mistake: = instead of +=
    crop = tuple(slice(pb, pb + n) for (pb, _), n in zip(pads, x.shape[2:]))
    return dxp[(slice(None), slice(None)) + crop], dw, db


def _relu_in_place(x):
    """Modifies its input (callers' arrays change under them)."""
    x[x < 0] = 0
    return x


#: The reference with one mistake each (dicts of op name -> callable).
ignores_dilation = _with(conv_forward=_conv_ignoring_dilation)
flipped_kernel = _with(conv_forward=_conv_flipped)
transposed_kernel = _with(conv_forward=_conv_transposed_kernel)
no_groups = _with(conv_forward=_conv_groups_unsupported)
max_pool_spreads_gradient = _with(max_pool_backward=_max_pool_spread)
dx_not_accumulated = _with(conv_backward=_conv_backward_overwrites)
relu_in_place = _with(relu_forward=_relu_in_place)
#: Only conv forward and backward: every other check must be "not provided".
partial = {"conv_forward": _REF["conv_forward"], "conv_backward": _REF["conv_backward"]}

MUTANTS = ("ignores_dilation", "flipped_kernel", "transposed_kernel", "no_groups", "max_pool_spreads_gradient",
           "dx_not_accumulated", "relu_in_place", "partial")
