"""Max and average pooling, local and global, forward and backward, for any number of spatial dims.

Layout ``(N, C, *spatial)``; pooling acts on each channel separately, so ``out`` is
``(N, C, *out)``. Names: ``kernel`` k (the window), ``stride`` s (default: the kernel, so windows
tile the input), ``padding`` p (symmetric, at most k/2, as in PyTorch), ``dilation`` d (max-pool
only), ``ceil_mode`` (round the output size up instead of down, PyTorch's rule). The window of
output ``o`` covers the input positions ``o·s − p + κ·d`` for the kernel offsets κ.

Gradients (course notes 002, backprop through max-pool): max-pool routes each ``dout`` to the
position of its window's maximum and gives 0 elsewhere; average pooling spreads ``dout / divisor``
evenly over the window. Global pooling is the window of the whole feature map (course notes 000,
"Global pooling layers"); its output keeps the spatial dims as size 1, ``(N, C, 1, …, 1)``, as
PyTorch's ``adaptive_*_pool(x, 1)`` does.

Every local op loops over the ∏k kernel offsets κ, each a strided slice of the padded input that
holds cell κ of every window at once, never over windows or output positions.

Sources: [course] notes 000–002; [torch] ``MaxPool2d``/``AvgPool2d`` docs and their CPU kernels'
divisor rule; [DV16] Dumoulin & Visin section 3 (pooling arithmetic) for the floor-mode size.
"""

from __future__ import annotations

import numpy as np

from .conv import as_float_array, check_batch, conv_pads, per_dim
from .shapes import _check_int, pool_output_size

__all__ = [
    "max_pool_forward", "max_pool_backward", "avg_pool_forward", "avg_pool_backward",
    "global_max_pool_forward", "global_max_pool_backward", "global_avg_pool_forward", "global_avg_pool_backward",
]


def _pool_geometry(x, kernel, stride, padding, dilation, ceil_mode):
    """Validate a pooling call; return (x, ks, ss, ps, ds, out, padded) where ``padded`` is the
    spatial size of the padded buffer that every window (ceil-mode ones included) fits in."""
    x = as_float_array(x, "x")
    ndim = check_batch(x)
    ks = per_dim("kernel", kernel, ndim, 1)
    ss = per_dim("stride", ks if stride is None else stride, ndim, 1)
    ds = per_dim("dilation", dilation, ndim, 1)
    if isinstance(padding, str):
        raise ValueError(f"pooling takes integer padding, not a mode string: padding={padding!r}")
    pads = conv_pads(padding, x.shape[2:], ks, ss, ds)
    out = pool_output_size(tuple(x.shape[2:]), ks, ss, pads, ds, bool(ceil_mode))
    ps = tuple(pb for pb, _ in pads)
    # a ceil-mode window may hang past the padded input: make the buffer long enough for it
    padded = tuple(max(n + 2 * p, (o - 1) * s + d * (k - 1) + 1)
                   for n, p, o, s, d, k in zip(x.shape[2:], ps, out, ss, ds, ks))
    return x, ks, ss, ps, ds, out, padded


def _padded(x, ps, padded, value) -> np.ndarray:
    """``x`` inside a buffer of spatial size ``padded``, ``p`` cells of ``value`` before each dim."""
    xp = np.full(x.shape[:2] + padded, value, dtype=x.dtype)
    xp[(slice(None), slice(None)) + tuple(slice(p, p + n) for p, n in zip(ps, x.shape[2:]))] = x
    return xp


def _crop(xp, ps, ns):
    return np.ascontiguousarray(xp[(slice(None), slice(None)) + tuple(slice(p, p + n) for p, n in zip(ps, ns))])


def _targets(ks, ss, ds, out):
    """For each kernel offset κ (row-major), the slices of the padded buffer its window cells hit."""
    for kappa in np.ndindex(*ks):
        yield kappa, (slice(None), slice(None)) + tuple(
            slice(kk * d, kk * d + (o - 1) * s + 1, s) for kk, d, o, s in zip(kappa, ds, out, ss))


def _check_dout(dout, expected, op):
    dout = as_float_array(dout, "dout")
    if dout.shape != tuple(expected):
        raise ValueError(f"dout.shape={dout.shape}, but should be {tuple(expected)} (the shape of {op}'s out)")
    return dout


# --- max pooling ---------------------------------------------------------------------------------

def _max_padded(x, kernel, stride, padding, dilation, ceil_mode):
    x, ks, ss, ps, ds, out, padded = _pool_geometry(x, kernel, stride, padding, dilation, ceil_mode)
    # padding acts as −∞: it is never the maximum of a window that holds an input cell
    xp = x if padded == x.shape[2:] else _padded(x, ps, padded, -np.inf)
    return x, xp, ks, ss, ps, ds, out, padded


def max_pool_forward(x, kernel, stride=None, padding=0, dilation=1, ceil_mode=False):
    """Max pooling: ``out[n, c, o] = max_κ x_pad[n, c, o·s + κ·d]``, with −∞ padding.

    Shape:
        x: ``(N, C, *n)`` → out: ``(N, C, *out)``,
        ``out_i = ⌊(n_i + 2p_i − d_i·(k_i − 1) − 1 + (s_i − 1 if ceil_mode)) / s_i⌋ + 1``, minus 1 in
        ceil mode when the last window would start past ``n_i + p_i`` ([torch] MaxPool2d;
        :func:`shapes.pool_output_size`).

    Computed as a running maximum over the kernel offsets κ: each step compares every window's
    cell κ at once (a strided slice of the padded input), so no loop runs over windows.
    """
    x, xp, ks, ss, ps, ds, out, padded = _max_padded(x, kernel, stride, padding, dilation, ceil_mode)
    result = None
    for _, cells in _targets(ks, ss, ds, out):
        result = xp[cells].copy() if result is None else np.maximum(result, xp[cells], out=result)
    return result


def max_pool_backward(dout, x, kernel, stride=None, padding=0, dilation=1, ceil_mode=False):
    """Gradient ``dx`` of :func:`max_pool_forward`: ``dout`` goes to each window's argmax.

        dx[n, c, o·s + κ*·d − p] += dout[n, c, o],   κ* = the first maximal offset of window o

    ``∂ max / ∂ x_j`` is 1 for the maximal cell and 0 elsewhere ([course] notes 002). On ties the
    first maximum in row-major window order gets it all, as PyTorch does: offsets are visited in
    that order and the first cell equal to the maximum claims the window. Overlapping windows
    (stride < kernel) add up. Inputs are assumed free of NaN. Shape: dx like x.
    """
    x, xp, ks, ss, ps, ds, out, padded = _max_padded(x, kernel, stride, padding, dilation, ceil_mode)
    dout = _check_dout(dout, x.shape[:2] + tuple(out), "max_pool_forward")
    m = max_pool_forward(x, kernel, stride, padding, dilation, ceil_mode)
    dxp = np.zeros(x.shape[:2] + padded, dtype=np.result_type(dout, x))
    free = np.ones(m.shape, dtype=bool)        # windows whose maximum has not been found yet
    first = np.empty(m.shape, dtype=bool)
    share = np.empty(m.shape, dtype=dxp.dtype)
    for _, cells in _targets(ks, ss, ds, out):
        np.equal(xp[cells], m, out=first)
        first &= free                          # only the first maximal cell of a window
        np.multiply(dout, first, out=share)
        dxp[cells] += share
        free ^= first
    return dxp if padded == x.shape[2:] else _crop(dxp, ps, x.shape[2:])


# --- average pooling -----------------------------------------------------------------------------

def _divisor(ns, ks, ss, ps, out, count_include_pad, divisor_override):
    """The number each window sum is divided by, shape ``out`` (broadcastable to (N, C, *out)).

    PyTorch's rule (its ``avg_pool*d`` CPU kernels): the window ``[o·s − p, o·s − p + k)`` is first
    clipped to the padded input ``[−p, n + p)`` — a ceil-mode window hanging past it counts only
    its part inside — and that count is the divisor with ``count_include_pad``; otherwise the window
    is clipped to the input ``[0, n)``. ``divisor_override`` replaces both. Per dim, then multiplied.
    """
    if divisor_override is not None:
        return _check_int("divisor_override", divisor_override, 1)
    total = np.ones(out)
    for i, (n, k, s, p, o) in enumerate(zip(ns, ks, ss, ps, out)):
        start = np.arange(o) * s - p
        end = np.minimum(start + k, n + p)
        count = end - start if count_include_pad else np.minimum(end, n) - np.maximum(start, 0)
        shape = [1] * len(out)
        shape[i] = o
        total = total * count.reshape(shape)
    return total


def avg_pool_forward(x, kernel, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                     divisor_override=None):
    """Average pooling: ``out[n, c, o] = Σ_κ x_pad[n, c, o·s + κ] / divisor(o)`` with zero padding.

    The divisor is PyTorch's (see :func:`_divisor`): ``∏k`` for a window inside the input, fewer for
    windows clipped by ``ceil_mode`` or, without ``count_include_pad``, by the padding.
    Shape: as :func:`max_pool_forward` with dilation 1 ([torch] AvgPool2d).
    """
    x, ks, ss, ps, ds, out, padded = _pool_geometry(x, kernel, stride, padding, 1, ceil_mode)
    xp = x if padded == x.shape[2:] else _padded(x, ps, padded, 0.0)
    total = np.zeros(x.shape[:2] + tuple(out), dtype=x.dtype)
    for _, cells in _targets(ks, ss, ds, out):
        total += xp[cells]
    div = _divisor(x.shape[2:], ks, ss, ps, out, count_include_pad, divisor_override)
    return (total / div).astype(x.dtype, copy=False)


def avg_pool_backward(dout, x, kernel, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                      divisor_override=None):
    """Gradient ``dx`` of :func:`avg_pool_forward`: each cell of window o receives ``dout[o] / divisor(o)``.

        dx[n, c, o·s + κ − p] += dout[n, c, o] / divisor(o)    for every offset κ

    (the mean's derivative is ``1/divisor`` for each term; course notes 000, average pooling).
    Cells in the padding receive a share too, which is then discarded. Shape: dx like x.
    """
    x, ks, ss, ps, ds, out, padded = _pool_geometry(x, kernel, stride, padding, 1, ceil_mode)
    dout = _check_dout(dout, x.shape[:2] + tuple(out), "avg_pool_forward")
    share = (dout / _divisor(x.shape[2:], ks, ss, ps, out, count_include_pad, divisor_override))
    share = share.astype(np.result_type(dout, x), copy=False)
    dxp = np.zeros(x.shape[:2] + padded, dtype=share.dtype)
    for _, target in _targets(ks, ss, ds, out):
        dxp[target] += share
    return dxp if padded == x.shape[2:] else _crop(dxp, ps, x.shape[2:])


# --- global pooling ------------------------------------------------------------------------------

def _global(x):
    x = as_float_array(x, "x")
    ndim = check_batch(x)
    return x, ndim, x.reshape(x.shape[0], x.shape[1], -1)


def global_max_pool_forward(x):
    """Global max pooling: the maximum of each feature map, ``out[n, c] = max_j x[n, c, j]``.

    Shape: x ``(N, C, *n)`` → out ``(N, C, 1, …, 1)`` ([torch] ``adaptive_max_pool*d(x, 1)``).
    """
    x, ndim, flat = _global(x)
    return flat.max(axis=-1).reshape(x.shape[:2] + (1,) * ndim)


def global_max_pool_backward(dout, x):
    """Gradient of :func:`global_max_pool_forward`: ``dout[n, c]`` to the first maximum of x[n, c]."""
    x, ndim, flat = _global(x)
    dout = _check_dout(dout, x.shape[:2] + (1,) * ndim, "global_max_pool_forward")
    dx = np.zeros(flat.shape, dtype=np.result_type(dout, x))
    np.put_along_axis(dx, np.argmax(flat, axis=-1)[..., None], dout.reshape(flat.shape[:2] + (1,)), axis=-1)
    return dx.reshape(x.shape)


def global_avg_pool_forward(x):
    """Global average pooling: ``out[n, c] = (1/∏n) Σ_j x[n, c, j]``.

    Shape: x ``(N, C, *n)`` → out ``(N, C, 1, …, 1)`` ([torch] ``adaptive_avg_pool*d(x, 1)``).
    """
    x, ndim, flat = _global(x)
    return flat.mean(axis=-1).reshape(x.shape[:2] + (1,) * ndim)


def global_avg_pool_backward(dout, x):
    """Gradient of :func:`global_avg_pool_forward`: every cell gets ``dout[n, c] / ∏n``."""
    x, ndim, flat = _global(x)
    dout = _check_dout(dout, x.shape[:2] + (1,) * ndim, "global_avg_pool_forward")
    share = dout / flat.shape[-1]
    return np.broadcast_to(share, x.shape).astype(np.result_type(dout, x), copy=True)
