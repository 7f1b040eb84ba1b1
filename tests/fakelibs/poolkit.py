"""poolkit: a NumPy pooling library with its own API, and its convcheck adapter (module level).

The library pools (N, C, *spatial) arrays with windows from ``sliding_window_view``; like several real
libraries it has gaps: no gradient of a dilated max-pool (JAX raises "window dilation"), no ceil mode,
``count_include_pad=False`` or ``divisor_override`` for average pooling. The adapter declares them per op
(``CAPABILITIES``) and passes everything else. The variants below (dicts of ops) carry one real-world
mistake or quirk each:

- ``zero_padded``        pads max-pool windows with 0 instead of −∞ (numpy-ml's bug);
- ``tie_splitting``      splits the max-pool gradient among tied maxima (tinygrad's convention), declared
                         in KNOWN_DIFFERENCES; ``tie_splitting_undeclared`` the same, undeclared;
- ``stale_difference``   declares a known difference it does not have;
- ``floor_only``         its forward ignores ceil_mode, so its backward cannot take torch's dout;
- ``missing_backend``    every call raises the same ImportError (a native part not built);
- ``upcasting``          returns float64 whatever the input dtype;
- ``declining``          raises ``Unsupported`` for ceil mode instead of declaring it;
- ``declining_all``      declines every case;
- ``float32_sums``       averages in float32, with TOLERANCES saying so; ``float32_sums_strict`` without.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from convcheck.checks import Capabilities, Unsupported

# --- the library ---------------------------------------------------------------------------------------------


def _geometry(shape, window, strides, pads, dilations, ceil):
    """(output sizes, extra right padding for ceil mode) per spatial dim."""
    out, extra = [], []
    for n, k, s, p, d in zip(shape, window, strides, pads, dilations):
        span = d * (k - 1) + 1
        o = (n + 2 * p - span) // s + 1
        if ceil:
            o = -(-(n + 2 * p - span) // s) + 1
            if (o - 1) * s >= n + p:  # a last window starting in the right padding is dropped
                o -= 1
        out.append(o)
        extra.append(max(0, (o - 1) * s + span - (n + 2 * p)))
    return tuple(out), tuple(extra)


def _windows(x, window, strides, pads, dilations, ceil, fill):
    """(N, C, *out, *window) view of the padded input, and the padded input itself."""
    nd = len(window)
    out, extra = _geometry(x.shape[2:], window, strides, pads, dilations, ceil)
    xp = np.pad(x, [(0, 0), (0, 0)] + [(p, p + e) for p, e in zip(pads, extra)], constant_values=fill)
    spans = tuple(d * (k - 1) + 1 for k, d in zip(window, dilations))
    view = sliding_window_view(xp, spans, axis=tuple(range(2, 2 + nd)))
    index = ((slice(None), slice(None)) + tuple(slice(0, s * (o - 1) + 1, s) for s, o in zip(strides, out))
             + tuple(slice(None, None, d) for d in dilations))
    return view[index], xp


def _scatter(weights, xp_shape, strides, dilations, pads, n_spatial):
    """Add weights (N, C, *out, *window) into the padded input's cells, then crop the padding."""
    nd = len(strides)
    out, win = weights.shape[2:2 + nd], weights.shape[2 + nd:]
    grids = np.meshgrid(*[np.arange(o) for o in out], *[np.arange(k) for k in win], indexing="ij")
    cells = tuple(grids[i] * strides[i] + grids[nd + i] * dilations[i] for i in range(nd))
    dxp = np.zeros(xp_shape, dtype=weights.dtype)
    for n in range(weights.shape[0]):
        for c in range(weights.shape[1]):
            np.add.at(dxp[n, c], cells, weights[n, c])
    return dxp[(slice(None), slice(None)) + tuple(slice(p, p + m) for p, m in zip(pads, n_spatial))]


def max_pool(x, window, strides, pads, dilations, ceil=False, pad_value=-np.inf):
    view, _ = _windows(x, window, strides, pads, dilations, ceil, pad_value)
    return view.max(axis=tuple(range(-len(window), 0)))


def max_pool_grad(x, g, window, strides, pads, dilations, ceil=False, pad_value=-np.inf, split_ties=False):
    if any(d > 1 for d in dilations):
        raise NotImplementedError("differentiation of max-pool with window dilation")
    view, xp = _windows(x, window, strides, pads, dilations, ceil, pad_value)
    nd = len(window)
    flat = view.reshape(view.shape[:2 + nd] + (-1,))
    if split_ties:
        hits = flat == flat.max(axis=-1, keepdims=True)
        weights = hits * (g[..., None] / hits.sum(axis=-1, keepdims=True))
    else:
        weights = (np.arange(flat.shape[-1]) == flat.argmax(axis=-1)[..., None]) * g[..., None]
    return _scatter(weights.reshape(view.shape), xp.shape, strides, dilations, pads, x.shape[2:])


def avg_pool(x, window, strides, pads):
    view, _ = _windows(x, window, strides, pads, (1,) * len(window), False, 0.0)
    return view.mean(axis=tuple(range(-len(window), 0)))


def avg_pool_grad(x, g, window, strides, pads):
    view, xp = _windows(x, window, strides, pads, (1,) * len(window), False, 0.0)
    nd = len(window)
    weights = np.broadcast_to((g / np.prod(window))[(...,) + (None,) * nd], view.shape)
    return _scatter(np.array(weights), xp.shape, strides, (1,) * nd, pads, x.shape[2:])


# --- the adapter: reference names and signatures → poolkit ------------------------------------------------------

CAPABILITIES = Capabilities(ops={
    "max_pool_backward": {"dilation": False},  # poolkit has no gradient of a dilated max-pool
    "avg_pool": {"ceil_mode": False, "count_include_pad": False, "divisor_override": False},
})


def _dims(v, nd):
    return tuple(v) if isinstance(v, (tuple, list)) else (v,) * nd


def _args(x, kernel, stride, padding, dilation=1):
    nd = np.ndim(x) - 2
    return (_dims(kernel, nd), _dims(kernel if stride is None else stride, nd), _dims(padding, nd),
            _dims(dilation, nd))


def max_pool_forward(x, kernel, stride=None, padding=0, dilation=1, ceil_mode=False):
    k, s, p, d = _args(x, kernel, stride, padding, dilation)
    return max_pool(x, k, s, p, d, ceil=ceil_mode)


def max_pool_backward(dout, x, kernel, stride=None, padding=0, dilation=1, ceil_mode=False):
    k, s, p, d = _args(x, kernel, stride, padding, dilation)
    return max_pool_grad(x, dout, k, s, p, d, ceil=ceil_mode)


def avg_pool_forward(x, kernel, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                     divisor_override=None):
    k, s, p, _ = _args(x, kernel, stride, padding)
    return avg_pool(x, k, s, p)


def avg_pool_backward(dout, x, kernel, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                      divisor_override=None):
    k, s, p, _ = _args(x, kernel, stride, padding)
    return avg_pool_grad(x, dout, k, s, p)


OPS = {"CAPABILITIES": CAPABILITIES, "max_pool_forward": max_pool_forward, "max_pool_backward": max_pool_backward,
       "avg_pool_forward": avg_pool_forward, "avg_pool_backward": avg_pool_backward}


def _variant(**changes) -> dict:
    return {**OPS, **changes}


# --- the variants --------------------------------------------------------------------------------------------------

def _zero_forward(x, kernel, stride=None, padding=0, dilation=1, ceil_mode=False):
    k, s, p, d = _args(x, kernel, stride, padding, dilation)
    return max_pool(x, k, s, p, d, ceil=ceil_mode, pad_value=0.0)


def _zero_backward(dout, x, kernel, stride=None, padding=0, dilation=1, ceil_mode=False):
    k, s, p, d = _args(x, kernel, stride, padding, dilation)
    return max_pool_grad(x, dout, k, s, p, d, ceil=ceil_mode, pad_value=0.0)


def _split_backward(dout, x, kernel, stride=None, padding=0, dilation=1, ceil_mode=False):
    k, s, p, d = _args(x, kernel, stride, padding, dilation)
    return max_pool_grad(x, dout, k, s, p, d, ceil=ceil_mode, split_ties=True)


def _floor_forward(x, kernel, stride=None, padding=0, dilation=1, ceil_mode=False):
    return max_pool_forward(x, kernel, stride, padding, dilation, ceil_mode=False)


def _floor_backward(dout, x, kernel, stride=None, padding=0, dilation=1, ceil_mode=False):
    k, s, p, d = _args(x, kernel, stride, padding, dilation)
    view, xp = _windows(x, k, s, p, d, False, -np.inf)
    flat = view.reshape(view.shape[:2 + len(k)] + (-1,))
    mask = np.arange(flat.shape[-1]) == flat.argmax(axis=-1)[..., None]
    weights = mask * dout[(Ellipsis, None)]  # a ceil-mode dout has one more window: broadcasting fails
    return _scatter(weights.reshape(view.shape), xp.shape, s, d, p, x.shape[2:])


def _no_backend(*args, **kwargs):
    raise ImportError("poolkit._native: libpoolkit.so: cannot open shared object file")


def _upcast_forward(x, kernel, stride=None, padding=0, dilation=1, ceil_mode=False):
    return max_pool_forward(np.asarray(x, dtype=np.float64), kernel, stride, padding, dilation, ceil_mode)


def _declining_forward(x, kernel, stride=None, padding=0, dilation=1, ceil_mode=False):
    if ceil_mode:
        raise Unsupported("ceil_mode")
    return max_pool_forward(x, kernel, stride, padding, dilation)


def _declining_all(x, kernel, stride=None, padding=0, dilation=1, ceil_mode=False):
    raise Unsupported("poolkit runs only on its GPU build")


def _float32_avg(x, kernel, stride=None, padding=0, ceil_mode=False, count_include_pad=True, divisor_override=None):
    k, s, p, _ = _args(x, kernel, stride, padding)
    view, _ = _windows(np.asarray(x, dtype=np.float32), k, s, p, (1,) * len(k), False, 0.0)
    summed = view.sum(axis=tuple(range(-len(k), 0)), dtype=np.float32) * np.float32(1.0 / np.prod(k))
    return summed.astype(np.asarray(x).dtype)


zero_padded = _variant(max_pool_forward=_zero_forward, max_pool_backward=_zero_backward)
tie_splitting = _variant(max_pool_backward=_split_backward,
                         KNOWN_DIFFERENCES={"max_pool_backward.ties_match_torch":
                                            "splits the gradient among tied maxima"})
tie_splitting_undeclared = _variant(max_pool_backward=_split_backward)
stale_difference = _variant(KNOWN_DIFFERENCES={"max_pool_backward.ties_match_torch": "splits ties (no longer)"})
floor_only = _variant(max_pool_forward=_floor_forward, max_pool_backward=_floor_backward)
missing_backend = {"CAPABILITIES": CAPABILITIES, **{name: _no_backend for name in OPS if name != "CAPABILITIES"}}
upcasting = _variant(max_pool_forward=_upcast_forward)
declining = _variant(max_pool_forward=_declining_forward)
declining_all = _variant(max_pool_forward=_declining_all)
float32_sums = _variant(avg_pool_forward=_float32_avg,
                        TOLERANCES={"avg_pool": {"rtol": 1e-6, "atol": 1e-6, "reason": "poolkit sums in float32"}})
float32_sums_strict = _variant(avg_pool_forward=_float32_avg)
