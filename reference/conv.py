"""Convolution and transposed convolution, forward and backward, for any number of spatial dims.

Layout and names (as in the course notes 000 and PyTorch):
  x     input, ``(N, C, *spatial)``: N examples, C channels, then 1, 2 or 3 spatial dims (H, W, ...)
  w     conv filters, ``(F, C/groups, *kernel)``: F filters; a transposed conv's ``w`` is
        ``(C, F/groups, *kernel)``, the weight of the conv it transposes
  b     biases, ``(F,)``, or None
  out   ``(N, F, *out)``; ``dout`` is ∂L/∂out, the same shape; ``dx, dw, db`` the gradients
  stride s, padding p (zeros), dilation d, groups g: per-dim ints or an int for every dim.

"Convolution" here is the cross-correlation of deep learning, ``⋆``:

    out[n, f, o] = b[f] + Σ_c Σ_κ  w[f, c, κ] · x_pad[n, g(f)·C/g + c, o·s + κ·d]          (1)

(course notes 000, "Forward pass": ``y_ij = Σ_k Σ_l w_kl x_{s·i+k, s·j+l} + b``, generalised to
channels, groups and dilation as in [torch] ``Conv2d``). Its three gradients (course notes 000,
"Summary of backprop eqns"):

    db = Σ_{n, o} dY                 dW = X ⋆ dY                 dX = pad(dY) ⋆ rot180(W)

The fast path computes (1) with matrix products and no Python loop over output positions. At
stride > 1 it is im2col + one batched matrix product: the windows of ``x_pad`` are a strided view
(``sliding_window_view``), copied once into columns ``(N, g, C/g·∏k, ∏out)`` and multiplied by
``w`` seen as ``(g, F/g, C/g·∏k)``; loops run only over kernel offsets κ when columns are scattered
back (col2im). At stride 1 the windows of each offset κ are a contiguous slice of the flattened
``x_pad``, so (1), ``dW`` and the transposed conv are sums over κ of one matrix product each, with
no im2col copy (see "stride 1" below); loops run over κ (and over blocks of examples).

``dX = pad(dY) ⋆ rot180(W)`` is the transposed convolution of ``dY`` with the same ``w``
(Dumoulin & Visin [DV16], section 4, transposed convolution arithmetic: the transposed conv is
the operation that a conv's backward pass applies), so :func:`conv_backward` calls :func:`conv_transpose_forward` for ``dx``, and
:func:`conv_transpose_backward` calls :func:`conv_forward` for its ``dx``.

Sources: [course] notes 000; [DV16] V. Dumoulin, F. Visin, "A guide to convolution arithmetic for
deep learning" (2016); [torch] the PyTorch docs of ``Conv*d`` / ``ConvTranspose*d``.
"""

from __future__ import annotations

from math import prod

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .shapes import (
    _check_int, _is_seq, _pads, _per_dim, conv_output_size, conv_padding, conv_transpose_output_size,
)

__all__ = [
    "conv_forward", "conv_backward", "conv_forward_naive", "conv_backward_naive",
    "conv_transpose_forward", "conv_transpose_backward",
]


# --- arguments -----------------------------------------------------------------------------------

def as_float_array(a, name: str) -> np.ndarray:
    """``a`` as a floating ndarray (integers and bools become float64); never a copy of a float input."""
    a = np.asarray(a)
    if a.dtype.kind == "f":
        return a
    if a.dtype.kind in "biu":
        return a.astype(np.float64)
    raise ValueError(f"{name} must be a real (float or integer) array, got dtype {a.dtype}")


def check_batch(x: np.ndarray, name: str = "x", what: str = "(N, C, *spatial)") -> int:
    """Number of spatial dims of an ``(N, C, *spatial)`` array; ValueError if rank or a size is wrong."""
    if x.ndim < 3:
        raise ValueError(f"{name} must have shape {what} with at least one spatial dim, got {name}.shape={x.shape}")
    if 0 in x.shape:
        raise ValueError(f"{name} has an empty dimension: {name}.shape={x.shape}")
    return x.ndim - 2


def per_dim(name: str, value, ndim: int, minimum: int) -> tuple[int, ...]:
    """An int or a tuple of ``ndim`` ints, as a tuple of ``ndim`` ints."""
    if _is_seq(value) and len(value) != ndim:
        raise ValueError(f"{name} has {len(value)} entries for {ndim} spatial dims: {name}={tuple(value)!r}")
    return _per_dim(name, value, ndim, minimum)


def conv_pads(padding, ns, ks, ss, ds) -> tuple[tuple[int, int], ...]:
    """``padding`` as one ``(before, after)`` pair per spatial dim.

    Accepts an int, one int or pair per dim, a single ``(before, after)`` pair for a 1-D input, or a
    mode of :func:`shapes.conv_padding` (``'valid'``, ``'same'``, ``'full'``), resolved for the
    actual sizes ``ns``.
    """
    ndim = len(ns)
    if ndim == 1 and _is_seq(padding) and len(padding) == 2 and not any(_is_seq(p) for p in padding):
        return _pads(padding, 1, scalar=True)
    pads = _pads(padding, ndim, scalar=False)
    if isinstance(pads, str):
        return conv_padding(tuple(ns), tuple(ks), tuple(ss), tuple(ds), pads)
    return pads


def _geometry(x, w, b, stride, padding, dilation, groups, *, transposed=False):
    """Validate a (transposed) conv call; return (x, w, b, ss, ds, g, ks) with one common float dtype."""
    x, w = as_float_array(x, "x"), as_float_array(w, "w")
    ndim = check_batch(x)
    if w.ndim != x.ndim:
        layout = "(C, F/groups, *kernel)" if transposed else "(F, C/groups, *kernel)"
        raise ValueError(
            f"w must have shape {layout} with as many dims as x: w.shape={w.shape}, x.shape={x.shape}")
    if 0 in w.shape:
        raise ValueError(f"w has an empty dimension: w.shape={w.shape}")
    g = _check_int("groups", groups, 1)
    c = x.shape[1]
    if c % g:
        raise ValueError(f"groups must divide the input channels: x.shape[1]={c}, groups={g}")
    if transposed:
        if w.shape[0] != c:
            raise ValueError(f"w.shape[0]={w.shape[0]} must equal the input channels x.shape[1]={c}")
        f = w.shape[1] * g
    else:
        f = w.shape[0]
        if f % g:
            raise ValueError(f"groups must divide the filters: w.shape[0]={f}, groups={g}")
        if w.shape[1] * g != c:
            raise ValueError(
                f"channels mismatch: w.shape[1]={w.shape[1]} times groups={g} must equal x.shape[1]={c}")
    if b is not None:
        b = as_float_array(b, "b")
        if b.shape != (f,):
            raise ValueError(f"b must have shape ({f},) (one bias per output channel), got b.shape={b.shape}")
    # one dtype for all operands: float32 stays float32, any float64 operand makes float64
    dtype = np.result_type(x, w, *(() if b is None else (b,)))
    x, w = x.astype(dtype, copy=False), w.astype(dtype, copy=False)
    b = None if b is None else b.astype(dtype, copy=False)
    ks = w.shape[2:]
    ss = per_dim("stride", stride, ndim, 1)
    ds = per_dim("dilation", dilation, ndim, 1)
    return x, w, b, ss, ds, g, ks


def _pad(x: np.ndarray, pads, value=0.0) -> np.ndarray:
    """Pad the spatial dims of ``(N, C, *spatial)`` by ``(before, after)`` pairs (a copy only if needed)."""
    if not any(pb or pa for pb, pa in pads):
        return x
    xp = np.full(x.shape[:2] + tuple(n + pb + pa for n, (pb, pa) in zip(x.shape[2:], pads)), value, dtype=x.dtype)
    xp[(slice(None), slice(None)) + tuple(slice(pb, pb + n) for n, (pb, _) in zip(x.shape[2:], pads))] = x
    return xp


# --- im2col / col2im -----------------------------------------------------------------------------

def windows(xp: np.ndarray, ks, ss, ds, out) -> np.ndarray:
    """The strided view ``win[n, c, o, κ] = xp[n, c, o·s + κ·d]``, shape ``(N, C, *out, *k)``, no copy."""
    ndim = len(ks)
    keff = tuple(d * (k - 1) + 1 for k, d in zip(ks, ds))
    view = sliding_window_view(xp, keff, axis=tuple(range(2, 2 + ndim)))
    return view[(slice(None), slice(None))
                + tuple(slice(0, (o - 1) * s + 1, s) for o, s in zip(out, ss))
                + tuple(slice(None, None, d) for d in ds)]


def im2col(xp: np.ndarray, ks, ss, ds, out, groups: int) -> np.ndarray:
    """Columns ``(N, g, C/g·∏k, ∏out)`` of the windows of ``xp``: one contiguous copy."""
    n, c = xp.shape[:2]
    ndim = len(ks)
    win = windows(xp, ks, ss, ds, out)
    # (N, C, *out, *k) -> (N, C, *k, *out): kernel offsets next to channels, output positions last
    order = (0, 1, *range(2 + ndim, 2 + 2 * ndim), *range(2, 2 + ndim))
    cols = np.ascontiguousarray(win.transpose(order))
    return cols.reshape(n, groups, (c // groups) * prod(ks), prod(out))


def col2im(cols: np.ndarray, padded, ks, ss, ds) -> np.ndarray:
    """Adjoint of :func:`im2col`: add columns ``(N, C, *k, *out)`` back into a zero ``(N, C, *padded)``.

    Every window position ``o`` receives ``cols[..., κ, o]`` at ``o·s + κ·d``; loops run over the
    kernel offsets κ only.
    """
    n, c = cols.shape[:2]
    ndim = len(ks)
    out = cols.shape[2 + ndim:]
    xp = np.zeros((n, c, *padded), dtype=cols.dtype)
    for kappa in np.ndindex(*ks):
        target = tuple(slice(kk * d, kk * d + (o - 1) * s + 1, s) for kk, d, o, s in zip(kappa, ds, out, ss))
        xp[(slice(None), slice(None)) + target] += cols[(slice(None), slice(None)) + kappa]
    return xp


def _crop(xp: np.ndarray, pads, ns) -> np.ndarray:
    return xp[(slice(None), slice(None)) + tuple(slice(pb, pb + n) for (pb, _), n in zip(pads, ns))]


def _bias_shape(b: np.ndarray, ndim: int) -> np.ndarray:
    return b.reshape((1, -1) + (1,) * ndim)


def _weight_grad(x, dy, ks, ss, pads, ds, groups) -> np.ndarray:
    """``dW = X ⋆ dY``: ``dw[f, c, κ] = Σ_{n, o} dy[n, f, o] · x_pad[n, c, o·s + κ·d]``, ``(F, C/g, *k)``.

    [course] notes 000: ``dW_mn = Σ_ij dy_ij · x_{i+m−1, j+n−1}``, i.e. the input correlated with dY.
    """
    if all(s == 1 for s in ss):
        return _weight_grad_stride1(x, dy, ks, pads, ds, groups)
    n, f = dy.shape[:2]
    out = dy.shape[2:]
    cols = im2col(_pad(x, pads), ks, ss, ds, out, groups)            # (N, g, C/g·∏k, ∏out)
    dy_g = dy.reshape(n, groups, f // groups, prod(out))              # (N, g, F/g, ∏out)
    dw = np.matmul(dy_g, cols.swapaxes(-1, -2)).sum(axis=0)           # (g, F/g, C/g·∏k)
    return dw.reshape(f, x.shape[1] // groups, *ks)


# --- stride 1: one matrix product per kernel offset, no im2col -----------------------------------
#
# At stride 1, window position o reads x_pad at o + κ·d. Flatten the padded grid row-major and lay
# the window positions out in rows as wide as a padded row: then the cells that kernel offset κ
# reads (or, in col2im, writes) for ALL positions form ONE contiguous slice of the flat grid,
# ``flat[shift_κ : shift_κ + L]``, a view rather than a copy. Equation (1) and its gradients become
# ∏k matrix products over those slices, with no ∏k-fold im2col copy of the input:
#
#     out[n, :, o]          = Σ_κ w[:, :, κ] @ x_pad[n, :, o + κ·d]           (1)
#     dw[:, :, κ]           = Σ_{n, o} dy[n, :, o] ⊗ x_pad[n, :, o + κ·d]      (dW = X ⋆ dY)
#     out_pad[n, :, i + κ·d] += w[:, :, κ]ᵀ @ x[n, :, i]                       (transposed conv)
#
# The extra positions at the end of each wide row are cut off (forward) or hold zeros (dY, the
# transposed conv's input) and so add nothing. On the VGG-like case (float32, one thread) this took
# forward from 75 to ~47 ms, dx from 66 to ~48 ms and dw from 67 to ~52 ms against im2col + one
# product: the ∏k-fold im2col copy (115 MB there) cost nearly as much time as the products did.

def _flat_layout(grid, ks, ds):
    """Row-major strides of ``grid``, the flat shift of each kernel offset κ (row-major order), and
    the slack by which the last shifted slice runs past the grid's end."""
    strides = [prod(grid[i + 1:]) for i in range(len(grid))]
    shifts = [sum(kk * d * st for kk, d, st in zip(kappa, ds, strides)) for kappa in np.ndindex(*ks)]
    slack = sum(d * (k - 1) * st for k, d, st in zip(ks[1:], ds[1:], strides[1:]))
    return strides, shifts, slack


def _flat_zeros(n, c, grid, slack, dtype):
    """Zeros ``(N, C, ∏grid + slack)``, and a view of their first ∏grid cells as ``(N, C, *grid)``."""
    flat = np.zeros((n, c, prod(grid) + slack), dtype=dtype)
    return flat, flat[:, :, : prod(grid)].reshape(n, c, *grid)


def _flat_padded(x, pads, ks, ds):
    """``x_pad`` flattened, with the slack that the last shifted slice needs; its grid and layout."""
    grid = tuple(m + pb + pa for m, (pb, pa) in zip(x.shape[2:], pads))
    strides, shifts, slack = _flat_layout(grid, ks, ds)
    flat, padded = _flat_zeros(*x.shape[:2], grid, slack, x.dtype)
    padded[(slice(None), slice(None)) + tuple(slice(pb, pb + m) for m, (pb, _) in zip(x.shape[2:], pads))] = x
    return flat, grid, strides, shifts


def _wide(a, grid):
    """``a`` ``(N, C, *m)`` flattened with rows as wide as ``grid``'s rows (the extra cells are 0)."""
    flat, wide = _flat_zeros(*a.shape[:2], (a.shape[2], *grid[1:]), 0, a.dtype)
    wide[(slice(None),) * 3 + tuple(slice(0, m) for m in a.shape[3:])] = a
    return flat


def _per_offset(w, g):
    """``w`` ``(A, B, *k)`` as one contiguous matrix per kernel offset κ and group: ``(∏k, g, A/g, B)``."""
    a, b = w.shape[:2]
    return np.ascontiguousarray(np.moveaxis(w.reshape(g, a // g, b, -1), -1, 0))


def _blocks(a, cache_bytes=1 << 20):
    """Slices of ``a``'s first axis (examples) of about ``cache_bytes`` each, at least one example.

    The stride-1 loops run ∏k products over the same examples and add them up; done for a block of
    examples at a time, the block's inputs and each product are still in cache when they are used
    again instead of making a round trip to memory (measured 5–8% faster on the VGG-like case,
    20–25% on the depthwise one).
    """
    step = max(1, cache_bytes // max(1, a[0].nbytes))
    return [slice(i, i + step) for i in range(0, len(a), step)]


def _group_product(w_g, x_g):
    """``w_g @ x_g`` per group; with one channel per group (depthwise) the product is an outer
    product, and broadcasting beats N·g matrix products with an inner dimension of 1."""
    return w_g * x_g if x_g.shape[-2] == 1 else np.matmul(w_g, x_g)


def _conv_stride1(x, w, pads, ds, g):
    """Equation (1) at stride 1: ``out = Σ_κ w[:, :, κ] @ (x_pad shifted by κ·d)``, see above."""
    n, c = x.shape[:2]
    f, ks = w.shape[0], w.shape[2:]
    flat, grid, strides, shifts = _flat_padded(x, pads, ks, ds)
    out = tuple(m - d * (k - 1) for m, k, d in zip(grid, ks, ds))
    length = out[0] * strides[0]                                      # rows as wide as the grid's
    w_k = _per_offset(w, g)                                           # (∏k, g, F/g, C/g)
    y = np.zeros((n, g, f // g, length), dtype=x.dtype)
    for block in _blocks(y):
        for w_kappa, shift in zip(w_k, shifts):
            x_g = flat[block, :, shift: shift + length].reshape(-1, g, c // g, length)
            y[block] += _group_product(w_kappa, x_g)
    y = y.reshape(n, f, out[0], *grid[1:])
    return y[(slice(None),) * 3 + tuple(slice(0, o) for o in out[1:])]


def _weight_grad_stride1(x, dy, ks, pads, ds, g):
    """``dw[:, :, κ] = Σ_{n, o} dy[n, :, o] ⊗ x_pad[n, :, o + κ·d]``: one product per κ, see above."""
    n, c = x.shape[:2]
    f = dy.shape[1]
    flat, grid, _, shifts = _flat_padded(x, pads, ks, ds)
    dy_g = _wide(dy, grid).reshape(n, g, f // g, -1)                  # (N, g, F/g, L)
    length = dy_g.shape[-1]
    dw = np.zeros((prod(ks), g, f // g, c // g), dtype=np.result_type(x, dy))
    for block in _blocks(dy_g):
        for dw_kappa, shift in zip(dw, shifts):
            x_g = flat[block, :, shift: shift + length].reshape(-1, g, c // g, length)
            dw_kappa += np.matmul(dy_g[block], x_g.swapaxes(-1, -2)).sum(axis=0)
    return np.ascontiguousarray(np.moveaxis(dw, 0, -1)).reshape(f, c // g, *ks)


def _transpose_stride1(x, w, g, ks, ds, grid):
    """The transposed conv's scatter at stride 1 onto the padded output ``grid``: for each offset κ,
    ``w[:, :, κ]ᵀ @ x`` adds onto the flattened grid as one contiguous slice (see above).
    Returns the padded output ``(N, F, *grid)``, as :func:`col2im` does."""
    n, c = x.shape[:2]
    f = w.shape[1] * g
    _, shifts, slack = _flat_layout(grid, ks, ds)
    x_g = _wide(x, grid).reshape(n, g, c // g, -1)                    # (N, g, C/g, L)
    length = x_g.shape[-1]
    w_t = _per_offset(w, g).swapaxes(-1, -2)                          # (∏k, g, F/g, C/g)
    flat, padded = _flat_zeros(n, f, grid, slack, x.dtype)
    for block in _blocks(flat):
        for w_kappa, shift in zip(w_t, shifts):
            product = _group_product(w_kappa, x_g[block])                 # (block, g, F/g, L)
            flat[block, :, shift: shift + length] += product.reshape(-1, f, length)
    return padded


# --- convolution ---------------------------------------------------------------------------------

def conv_forward(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
    """Convolution (cross-correlation) of ``x`` with the filters ``w``, equation (1).

    Shape:
        x: ``(N, C, *n)``, w: ``(F, C/g, *k)``, b: ``(F,)`` or None → out: ``(N, F, *out)`` with
        ``out_i = ⌊(n_i + p_before + p_after − d_i·(k_i − 1) − 1) / s_i⌋ + 1``
        ([course] ``(W − F + 2P)/S + 1`` with floor; [DV16] sections 2 and 5.1; [torch] Conv2d).

    ``padding``: int, per-dim ints, per-dim ``(before, after)`` pairs, or ``'valid'``/``'same'``/
    ``'full'`` (see :func:`shapes.conv_padding`). The result has the dtype of ``x, w, b`` combined.
    """
    x, w, b, ss, ds, g, ks = _geometry(x, w, b, stride, padding, dilation, groups)
    ns = x.shape[2:]
    pads = conv_pads(padding, ns, ks, ss, ds)
    out = conv_output_size(tuple(ns), tuple(ks), ss, pads, ds)
    n, f = x.shape[0], w.shape[0]
    if all(s == 1 for s in ss):
        y = _conv_stride1(x, w, pads, ds, g)                          # ∏k GEMMs, no im2col copy
    else:
        cols = im2col(_pad(x, pads), ks, ss, ds, out, g)             # (N, g, C/g·∏k, ∏out)
        w_g = w.reshape(g, f // g, -1)                                # (g, F/g, C/g·∏k)
        y = _group_product(w_g, cols).reshape(n, f, *out)             # one GEMM per (n, group)
    if b is not None:
        return y + _bias_shape(b, len(ks))
    return np.ascontiguousarray(y)


def conv_backward(dout, x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
    """Gradients ``(dx, dw, db)`` of :func:`conv_forward` given ``dout = ∂L/∂out``.

    [course] notes 000, "Summary of backprop eqns", generalised to batches, channels and groups:

        db[f] = Σ_{n, o} dout[n, f, o]                                  (db = Σ dY)
        dw    = X ⋆ dY:  dw[f, c, κ] = Σ_{n, o} dout[n, f, o] · x_pad[n, c, o·s + κ·d]
        dx    = pad(dY) ⋆ rot180(W) = conv_transpose_forward(dout, w, stride, padding, dilation, groups)

    The last line is the identity of [DV16] section 4: the transposed convolution with the same
    weights is the adjoint of the convolution, ``⟨conv(x), y⟩ = ⟨x, conv_transpose(y)⟩``; at stride 1
    it is exactly the course's full correlation of the zero-padded dY with the 180°-rotated W. The
    ``output_padding`` passed to it restores the input rows that the floor in the output size
    dropped (their gradient is 0).

    Shape: dout ``(N, F, *out)`` → dx like x, dw like w, db ``(F,)`` (None when ``b`` is None).
    """
    x, w, b, ss, ds, g, ks = _geometry(x, w, b, stride, padding, dilation, groups)
    ns = x.shape[2:]
    pads = conv_pads(padding, ns, ks, ss, ds)
    out = conv_output_size(tuple(ns), tuple(ks), ss, pads, ds)
    dout = as_float_array(dout, "dout")
    expected = (x.shape[0], w.shape[0], *out)
    if dout.shape != expected:
        raise ValueError(f"dout.shape={dout.shape}, but should be {expected} (the shape of conv_forward's out)")
    # the input rows after the last window: n + p_before + p_after − ((out − 1)·s + k_eff)
    output_padding = tuple(n + pb + pa - ((o - 1) * s + d * (k - 1) + 1)
                           for n, (pb, pa), o, s, d, k in zip(ns, pads, out, ss, ds, ks))
    dx = conv_transpose_forward(dout, w, None, ss, pads, output_padding, ds, g)
    dw = _weight_grad(x, dout, ks, ss, pads, ds, g)
    db = None if b is None else dout.sum(axis=(0, *range(2, dout.ndim)))
    return dx, dw, db


# --- the readable loop versions (2-D, groups=1) ---------------------------------------------------

def conv_forward_naive(x, w, b=None, stride=1, padding=0, dilation=1):
    """Equation (1) with explicit loops, for 2-D inputs and groups=1: the second, readable oracle.

    ``out[n, f, i, j] = b[f] + Σ_{c, k, l} w[f, c, k, l] · x_pad[n, c, i·s + k·d, j·s + l·d]``
    ([course] notes 000, "Forward pass"). Shape as :func:`conv_forward`.
    """
    x, w, b, (sh, sw), (dh, dw_), _, (kh, kw) = _naive_geometry(x, w, b, stride, dilation)
    pads = conv_pads(padding, x.shape[2:], (kh, kw), (sh, sw), (dh, dw_))
    oh, ow = conv_output_size(x.shape[2:], (kh, kw), (sh, sw), pads, (dh, dw_))
    xp = _pad(x, pads)
    n_, f_ = x.shape[0], w.shape[0]
    out = np.zeros((n_, f_, oh, ow), dtype=np.result_type(x, w))
    for n in range(n_):
        for f in range(f_):
            for i in range(oh):
                for j in range(ow):
                    patch = xp[n, :, i * sh: i * sh + dh * (kh - 1) + 1: dh, j * sw: j * sw + dw_ * (kw - 1) + 1: dw_]
                    out[n, f, i, j] = np.sum(w[f] * patch) + (b[f] if b is not None else 0)
    return out


def conv_backward_naive(dout, x, w, b=None, stride=1, padding=0, dilation=1):
    """Gradients of :func:`conv_forward_naive` by routing each ``dout[n, f, i, j]`` back to its window.

    Output ``(i, j)`` read the window ``x_pad[n, :, i·s + k·d, j·s + l·d]`` with weights ``w[f]``,
    so by the chain rule ([course] notes 000, ``∂y_ij/∂w_mn = x_{i+m−1, j+n−1}`` and
    ``∂y_ij/∂x_mn = w_{m−i+1, n−j+1}``):

        db[f] += dout[n, f, i, j]
        dw[f] += dout[n, f, i, j] · window          (summed: dW = X ⋆ dY)
        dx_pad[window] += dout[n, f, i, j] · w[f]   (summed: dX = pad(dY) ⋆ rot180(W))

    and ``dx`` is ``dx_pad`` with the padding cut off.
    """
    x, w, b, (sh, sw), (dh, dw_), _, (kh, kw) = _naive_geometry(x, w, b, stride, dilation)
    pads = conv_pads(padding, x.shape[2:], (kh, kw), (sh, sw), (dh, dw_))
    oh, ow = conv_output_size(x.shape[2:], (kh, kw), (sh, sw), pads, (dh, dw_))
    dout = as_float_array(dout, "dout")
    if dout.shape != (x.shape[0], w.shape[0], oh, ow):
        raise ValueError(f"dout.shape={dout.shape}, but should be {(x.shape[0], w.shape[0], oh, ow)}")
    xp = _pad(x, pads)
    dxp = np.zeros(xp.shape, dtype=np.result_type(dout, x, w))
    dw = np.zeros(w.shape, dtype=dxp.dtype)
    db = np.zeros(w.shape[0], dtype=dxp.dtype)
    for n in range(x.shape[0]):
        for f in range(w.shape[0]):
            for i in range(oh):
                for j in range(ow):
                    window = (n, slice(None), slice(i * sh, i * sh + dh * (kh - 1) + 1, dh),
                              slice(j * sw, j * sw + dw_ * (kw - 1) + 1, dw_))
                    db[f] += dout[n, f, i, j]
                    dw[f] += dout[n, f, i, j] * xp[window]
                    dxp[window] += dout[n, f, i, j] * w[f]
    return _crop(dxp, pads, x.shape[2:]), dw, (db if b is not None else None)


def _naive_geometry(x, w, b, stride, dilation):
    x, w, b, ss, ds, g, ks = _geometry(x, w, b, stride, 0, dilation, 1)
    if x.ndim != 4:
        raise ValueError(f"the naive conv is 2-D: x must have shape (N, C, H, W), got x.shape={x.shape}")
    return x, w, b, ss, ds, g, ks


# --- transposed convolution ----------------------------------------------------------------------

def _transpose_geometry(x, w, b, stride, padding, output_padding, dilation, groups):
    """:func:`_geometry` for a transposed conv, plus its input sizes, padding pairs and output sizes."""
    x, w, b, ss, ds, g, ks = _geometry(x, w, b, stride, padding, dilation, groups, transposed=True)
    ns = x.shape[2:]
    if isinstance(padding, str):
        raise ValueError(f"conv_transpose takes integer padding, not a mode string: padding={padding!r}")
    pads = conv_pads(padding, ns, ks, ss, ds)
    ops = per_dim("output_padding", output_padding, len(ns), 0)
    out = conv_transpose_output_size(tuple(ns), tuple(ks), ss, pads, ops, ds)
    return x, w, b, ss, ds, g, ks, ns, pads, out


def conv_transpose_forward(x, w, b=None, stride=1, padding=0, output_padding=0, dilation=1, groups=1):
    """Transposed convolution: the adjoint of :func:`conv_forward` with the same ``w``, plus a bias.

    Each input value scatters a weighted copy of its filter into the output (col2im):

        out_pad[n, g·F/g + f, i·s + κ·d] += Σ_c x[n, g·C/g + c, i] · w[g·C/g + c, f, κ]

    then ``out = out_pad`` with ``padding`` cut from each side (+ b). Equivalently ([DV16]
    section 4) a stride-1 conv of ``x`` dilated by ``s − 1`` zeros and padded by
    ``k_eff − 1 − p`` with the kernel rotated by 180° and its channel axes swapped — the course's
    ``dX = pad(dY) ⋆ rot180(W)``. This is why ``conv_backward``'s ``dx`` is this function.

    Shape:
        x: ``(N, C, *n)``, w: ``(C, F/g, *k)``, b: ``(F,)`` or None → out: ``(N, F, *out)`` with
        ``out_i = (n_i − 1)·s_i − p_before − p_after + d_i·(k_i − 1) + output_padding_i + 1``
        ([DV16] section 4; [torch] ConvTranspose2d). ``output_padding < max(s, d)`` as in torch.

    ``padding``: int, per-dim ints or per-dim ``(before, after)`` pairs (no mode strings).
    """
    x, w, b, ss, ds, g, ks, ns, pads, out = _transpose_geometry(
        x, w, b, stride, padding, output_padding, dilation, groups)
    n, c = x.shape[:2]
    f = w.shape[1] * g
    padded = tuple(o + pb + pa for o, (pb, pa) in zip(out, pads))
    if all(s == 1 for s in ss):
        y_pad = _transpose_stride1(x, w, g, ks, ds, padded)
    else:
        # cols[n, g, (f, κ), i] = Σ_c w[g, c, (f, κ)] · x[n, g, c, i]: one GEMM per (n, group)
        w_g = w.reshape(g, c // g, -1).swapaxes(-1, -2)              # (g, F/g·∏k, C/g)
        cols = _group_product(w_g, x.reshape(n, g, c // g, prod(ns)))  # (N, g, F/g·∏k, ∏n)
        y_pad = col2im(cols.reshape(n, f, *ks, *ns), padded, ks, ss, ds)
    y = _crop(y_pad, pads, out)
    if b is not None:
        y = y + _bias_shape(b, len(ks))
    return np.ascontiguousarray(y)


def conv_transpose_backward(dout, x, w, b=None, stride=1, padding=0, output_padding=0, dilation=1, groups=1):
    """Gradients ``(dx, dw, db)`` of :func:`conv_transpose_forward`.

        db = Σ_{n, o} dout                          (as for conv)
        dx = conv_forward(dout, w, stride, padding, dilation, groups)   (the adjoint of the adjoint)
        dw[c, f, κ] = Σ_{n, i} x[n, c, i] · dout_pad[n, f, i·s + κ·d]   (dW = dY ⋆ X, roles swapped)

    ``dx`` is cut to x's size: with ``output_padding ≥ stride`` (allowed when dilation > stride) the
    conv of ``dout`` yields extra trailing positions that correspond to no input.
    """
    x, w, b, ss, ds, g, ks, ns, pads, out = _transpose_geometry(
        x, w, b, stride, padding, output_padding, dilation, groups)
    dout = as_float_array(dout, "dout")
    expected = (x.shape[0], w.shape[1] * g, *out)
    if dout.shape != expected:
        raise ValueError(
            f"dout.shape={dout.shape}, but should be {expected} (the shape of conv_transpose_forward's out)")
    dx = conv_forward(dout, w, None, ss, pads, ds, g)
    dx = np.ascontiguousarray(dx[(slice(None), slice(None)) + tuple(slice(0, n) for n in ns)])
    dw = _weight_grad(dout, x, ks, ss, pads, ds, g)
    db = None if b is None else dout.sum(axis=(0, *range(2, dout.ndim)))
    return dx, dw, db
