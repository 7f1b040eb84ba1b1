"""Hints for failed checks: what a common mistake looks like, and a diagnosis by known mutants.

:func:`diagnose` recomputes the failing case with the reference under classic mistakes (flipped or
transposed kernel, dilation or stride ignored, bias ignored, max-pool gradient spread over the
window, ...); when the implementation's result equals one of them, that mistake is the hint.
:func:`generic_hint` is the fallback, per op and output.
"""

from __future__ import annotations

from itertools import product

import numpy as np

from .cases import Case

GENERIC = {
    ("conv_forward", "out"): "out[n, f, o] = b[f] + Σ_{c, κ} w[f, c, κ] · x_pad[n, g·C/g + c, o·s + κ·d]: "
                             "cross-correlation (no kernel flip), windows start at o·stride, taps dilation apart",
    ("conv_backward", "dx"): "dx = pad(dout) ⋆ rot180(w): every input cell accumulates (+=) from EVERY window "
                             "that covers it; overlapping windows (stride < kernel) add up",
    ("conv_backward", "dw"): "dw = x ⋆ dout: sum over the batch and every output position (accumulate with +=)",
    ("conv_backward", "db"): "db = Σ dout over the batch and every output position",
    ("conv_transpose_forward", "out"): "conv_transpose is the gradient of conv w.r.t. its input: scatter-add "
                                       "x[n, c, i]·w[c, f, κ] to out[i·s − p + κ·d]",
    ("max_pool_backward", "dx"): "max-pool routes all of dout to the argmax of its window (the first maximum "
                                 "in row-major order) and gives 0 elsewhere; overlapping windows add up",
    ("avg_pool_forward", "out"): "torch's divisor: ∏k inside the input; with padding and "
                                 "count_include_pad=False only the cells inside the input count",
    ("avg_pool_backward", "dx"): "each cell of window o receives dout[o] / divisor(o); overlapping windows add up",
    ("relu_backward", "dx"): "dx = dout · (x > 0)",
    ("dense_backward", "dx"): "dx = dout @ wᵀ reshaped like x; dw = x_flat ᵀ @ dout; db = Σ_n dout",
    ("batchnorm_backward", "dx"): "dx = γ/σ · (dout − mean(dout) − x̂·mean(dout·x̂)), means over (N, *spatial)",
    ("softmax_backward", "dx"): "dx = s · (dout − Σ_j dout_j s_j) along the softmax axis",
}


def generic_hint(op: str, output: str) -> str | None:
    return GENERIC.get((op, output)) or GENERIC.get((op, "out"))


# --- mutants: the reference under a classic mistake ----------------------------------------------------

def _flip(w):
    return np.ascontiguousarray(w[(slice(None), slice(None)) + (slice(None, None, -1),) * (w.ndim - 2)])


def _conv_mutants(case: Case):
    x, w, b = case.inputs[-3:]
    opts = case.options
    yield "the kernel is flipped (a true convolution); CNN layers compute cross-correlation, w is used as is", \
        case.inputs[:-3] + (x, _flip(w), b), opts
    if w.ndim == 4 and w.shape[2] == w.shape[3] and w.shape[2] > 1:
        yield "the kernel's spatial axes are swapped (w[..., j, i] used for w[..., i, j])", \
            case.inputs[:-3] + (x, np.ascontiguousarray(np.swapaxes(w, -1, -2)), b), opts
    if opts.get("dilation", 1) not in (1, None):
        yield "dilation is ignored (taps must be `dilation` cells apart)", case.inputs, \
            {k: v for k, v in opts.items() if k != "dilation"}
    if b is not None:
        yield "the bias is ignored (out must add b[f] to every position of channel f)", \
            case.inputs[:-3] + (x, w, None), opts
    if opts.get("stride", 1) not in (1, None):
        yield "the stride is ignored", case.inputs, {**opts, "stride": 1}


def _spread(case: Case):
    """max-pool gradient spread evenly over the window (an average-pool backward)."""
    opts = {k: v for k, v in case.options.items() if k in ("kernel", "stride", "padding", "ceil_mode")}
    if case.options.get("dilation", 1) not in (1, None):
        return
    yield "the gradient is spread evenly over the window (that is avg-pool's); max-pool sends all of dout " \
          "to the window's maximum", case.inputs, {**opts, "count_include_pad": True}, "avg_pool_backward"


def _dims(v, nd):
    return tuple(v) if isinstance(v, (tuple, list)) else (v,) * nd


def _pool_windows(x_shape, options):
    """(padding per dim, [(output index, window index tuple into the padded input)]) of a max-pool."""
    from convcheck.reference import shapes

    nd = len(x_shape) - 2
    ks = _dims(options["kernel"], nd)
    ss = _dims(options.get("stride") if options.get("stride") is not None else options["kernel"], nd)
    ps = _dims(options.get("padding", 0), nd)
    ds = _dims(options.get("dilation", 1), nd)
    out = shapes.pool_output_size(tuple(x_shape[2:]), ks, ss, ps, ds, bool(options.get("ceil_mode", False)))
    padded = tuple(n + 2 * p for n, p in zip(x_shape[2:], ps))
    windows = []
    for o in product(*(range(m) for m in out)):
        axes = [np.array([oi * s + j * d for j in range(k) if oi * s + j * d < n_p])
                for oi, s, d, k, n_p in zip(o, ss, ds, ks, padded)]
        windows.append((o, np.ix_(*axes)))
    return ps, out, windows


def _max_pool_variant(x, options, *, pad_value, dout=None, split=False):
    """Max-pool forward (``dout`` None) or backward by windows, padding with ``pad_value``; the backward
    splits dout among tied maxima when ``split``, else routes it to the first maximum."""
    x = np.asarray(x, dtype=np.float64)
    ps, out_shape, windows = _pool_windows(x.shape, options)
    pad = [(0, 0), (0, 0)] + [(p, p) for p in ps]
    xp = np.pad(x, pad, constant_values=pad_value)
    n, c = x.shape[:2]
    out = np.zeros((n, c, *out_shape))
    dxp = np.zeros_like(xp)
    for o, idx in windows:
        for i in range(n):
            for ch in range(c):
                win = xp[i, ch][idx]
                m = win.max()
                out[(i, ch) + o] = m
                if dout is not None:
                    hit = win == m
                    share = np.zeros_like(win)
                    if split:
                        share[hit] = dout[(i, ch) + o] / hit.sum()
                    else:
                        share.flat[int(np.argmax(hit))] = dout[(i, ch) + o]
                    dxp[i, ch][idx] += share
    if dout is None:
        return out
    return dxp[(slice(None), slice(None)) + tuple(slice(p, p + m) for p, m in zip(ps, x.shape[2:]))]


_ZERO_PAD = ("the window is padded with 0 instead of −∞: where every input cell of a padded window is "
             "negative, the padding wins; pad with −inf or take the max over the input cells only")
_SPLIT = ("the gradient is split among tied maxima (a known convention, e.g. tinygrad's); torch and the "
          "reference route all of dout to the FIRST maximum in row-major window order — declare it in "
          "KNOWN_DIFFERENCES if it is your library's choice")


def _max_pool_mutants(case: Case):
    """Computed results (not reference calls) of max-pool mistakes: (text, output name, value)."""
    if case.op == "max_pool_forward":
        x = case.inputs[0]
        if any(_dims(case.options.get("padding", 0), x.ndim - 2)):
            yield _ZERO_PAD, "out", lambda: _max_pool_variant(x, case.options, pad_value=0.0)
    elif case.op == "max_pool_backward":
        dout, x = case.inputs[:2]
        yield _SPLIT, "dx", lambda: _max_pool_variant(x, case.options, pad_value=-np.inf, dout=dout, split=True)
        if any(_dims(case.options.get("padding", 0), x.ndim - 2)):
            yield _ZERO_PAD, "dx", lambda: _max_pool_variant(x, case.options, pad_value=0.0, dout=dout)


def _mutants(case: Case):
    if case.op in ("conv_forward", "conv_backward"):
        for text, inputs, opts in _conv_mutants(case):
            yield text, inputs, opts, case.op
    elif case.op == "max_pool_backward":
        yield from _spread(case)


def diagnose(ctx, case: Case, output: str, got) -> str | None:
    """The classic mistake whose result equals ``got``, if any (None when none matches or on error)."""
    from .harness import call_oracle

    if got is None:
        return None
    got = np.asarray(got)
    # computed max-pool mistakes first: a split among tied maxima equals avg-pool's spread where a
    # whole window is tied, and is the better diagnosis there
    if case.op.startswith("max_pool"):
        for text, name, compute in _max_pool_mutants(case):
            if name != output:
                continue
            try:
                expected = compute()
            except Exception:
                continue
            if np.shape(expected) == got.shape and np.allclose(got, expected, rtol=1e-6, atol=1e-9):
                return f"looks like {text}"
    for text, inputs, opts, op in _mutants(case):
        try:
            fn = ctx.reference[op]
            variant = call_oracle(fn, Case(op, tuple(inputs), dict(opts)))
            if op != case.op:  # a different op standing for the mistake: a single result
                variant = {output: variant[next(iter(variant))]}
            expected = variant.get(output)
        except Exception:  # the mutant may not be a valid call: then it is not the diagnosis
            continue
        if expected is not None and np.shape(expected) == got.shape and np.allclose(got, expected, rtol=1e-6,
                                                                                    atol=1e-9):
            return f"looks like {text}"
        if expected is not None and np.shape(expected) == got.shape == ():
            continue
    return None
