"""The properties the suite checks, one :class:`CheckSpec` per (op, property).

Kinds of property:
- differential: the implementation equals the reference (``matches_reference``) and torch
  (``matches_torch``, on the device asked for), per output (``dx_matches_torch``, ...);
- gradient: a backward equals the central difference of the implementation's own forward along a
  direction (``matches_central_differences``; exact for piecewise-linear ops, whose inputs stay off
  the kinks, see checks/strategies.py);
- metamorphic: relations that need no oracle (linearity, translation equivariance, adjointness,
  delta kernel, db = Σ dout, average pooling = a uniform conv) — they use only the implementation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from math import prod
from typing import Callable

import numpy as np
from hypothesis import strategies as st

from . import arithmetic, strategies
from .cases import Case
from .harness import CheckFailure, Context, call_impl, call_oracle, compare, call_repr
from .hints import diagnose, generic_hint
from .ops import OPS
from .tolerances import tolerance


@dataclass(frozen=True)
class CheckSpec:
    """One check: ``name`` = ``"<op>.<property>"``; runs when every op in ``requires`` is provided."""

    name: str
    op: str
    property: str
    requires: tuple[str, ...]
    description: str
    kind: str = "differential"
    input_names: tuple[str, ...] | None = None  # names of the case's arrays, when not the op's own
    shares_cases: bool = False  # its cases are plain cases of ``op``: a related check's failure may be replayed
    run: Callable = field(default=None, repr=False, compare=False)       # run(ctx, case) -> None or raise
    strategy: Callable = field(default=None, repr=False, compare=False)  # strategy(ctx) -> SearchStrategy

    def to_dict(self) -> dict:
        return {"name": self.name, "op": self.op, "property": self.property, "requires": list(self.requires),
                "description": self.description, "kind": self.kind}


def _default_strategy(op):
    return lambda ctx: strategies.cases(op, ctx.capabilities, ctx.dtype)


def _biased_strategy(op):
    """Cases of ``op`` that all carry a bias: db is compared only when b is given, so a db check drawing
    b=None would compare nothing and pass. An adapter declining every bias gets the check declined."""
    return lambda ctx: strategies.cases(op, ctx.capabilities.narrowed(bias_optional=False), ctx.dtype)


# --- differential --------------------------------------------------------------------------------------

def _against(oracle_name: str, outputs: tuple[str, ...]):
    what = "torch gives" if oracle_name == "torch" else "reference gives"

    def run(ctx: Context, case: Case):
        got = call_impl(ctx, case)
        oracle = ctx.torch if oracle_name == "torch" else None
        fn = getattr(oracle, case.op) if oracle is not None else ctx.reference[case.op]
        expected = call_oracle(fn, case)
        for name in outputs:
            try:
                compare(name, got[name], expected[name], case, ctx.dtype, what=what)
            except CheckFailure as failure:
                failure.hint = diagnose(ctx, case, name, got[name]) or generic_hint(case.op, name)
                raise
    return run


def _differential_specs(spec) -> list[CheckSpec]:
    out = []
    per_output = len(spec.outputs) > 1 and spec.is_backward
    groups = [(f"{g}_", (g,)) for g in spec.outputs] if per_output else [("", spec.outputs)]
    for prefix, outputs in groups:
        for oracle in ("reference", "torch"):
            prop = f"{prefix}matches_{oracle}"
            what = ", ".join(outputs)
            desc = f"{what} of {spec.name} equals {'torch' if oracle == 'torch' else 'the reference'}" + \
                   (" autograd" if oracle == "torch" and spec.is_backward else "") + \
                   (" (every case has a bias)" if outputs == ("db",) else "")
            strategy = _biased_strategy(spec.name) if outputs == ("db",) else _default_strategy(spec.name)
            out.append(CheckSpec(f"{spec.name}.{prop}", spec.name, prop, (spec.name,), desc, "differential", None,
                                 True, _against(oracle, outputs), strategy))
    return out


# --- gradient: central differences of the implementation's own forward ----------------------------------

_PIECEWISE_LINEAR = {"conv", "conv_transpose", "max_pool", "avg_pool", "global_max_pool", "global_avg_pool",
                     "dense", "relu", "leaky_relu", "flatten", "dropout"}


def _direction(a: np.ndarray) -> np.ndarray:
    """A fixed direction of distinct integers for ``a`` (deterministic: the shrunk case says it all)."""
    rng = np.random.default_rng(a.size)
    return (rng.permutation(a.size) - a.size // 2).reshape(a.shape).astype(np.float64)


def _central_differences(ctx: Context, case: Case):
    spec = OPS[case.op]
    forward = spec.forward
    base = forward.rsplit("_", 1)[0]
    dout, inputs = case.inputs[0], list(case.inputs[1:])
    grads = call_impl(ctx, case)
    names = spec.inputs[1:]
    for i, name in enumerate(names):
        gname = "d" + name
        if gname not in grads or inputs[i] is None or grads[gname] is None:
            continue
        v = _direction(inputs[i])
        single = inputs[i].dtype == np.float32
        if base in _PIECEWISE_LINEAR:
            # small enough to keep every max unique and every ReLU input on its side of 0
            # (inputs are distinct integers / odd integers), a power of two so the steps are exact
            h = 2.0 ** -int(np.ceil(np.log2(4 * (np.abs(v).max() + 1))))
        else:
            h = 1e-3 if single else 1e-6  # balances truncation (h²) against rounding (eps/h)
        def f(sign):
            moved = list(inputs)
            moved[i] = inputs[i] + sign * h * v
            out = call_impl(ctx, Case(forward, tuple(moved), case.options, case.notes))["out"]
            if np.shape(out) != np.shape(dout):
                raise CheckFailure(f"out.shape={np.shape(out)}, but should be {np.shape(dout)} "
                                   f"[{forward}{call_repr(case)[len(case.op):]}]",
                                   hint=f"the implementation's own {forward} gives the wrong output shape "
                                        f"(see {forward}.matches_reference)")
            return float(np.sum(np.asarray(out, dtype=np.float64) * dout))
        numeric = (f(+1) - f(-1)) / (2 * h)
        grad = np.asarray(grads[gname], dtype=np.float64)
        if grad.shape != inputs[i].shape:
            raise CheckFailure(f"{gname}.shape={grad.shape}, but should be {inputs[i].shape} [{call_repr(case)}]")
        analytic = float(np.sum(grad * v))
        reduction = max(1, inputs[i].size) * max(1, dout.size)
        # exact steps on piecewise-linear ops: the dtype's own tolerance; smooth ops: a difference
        # quotient is good to about sqrt(eps), the tolerance of the next-coarser dtype
        coarser = {"float64": "float32", "float32": "float16"}
        dtype = str(inputs[i].dtype)
        tol = tolerance(dtype if base in _PIECEWISE_LINEAR else coarser.get(dtype, "float16"), reduction)
        if not abs(analytic - numeric) <= tol.atol + tol.rtol * abs(numeric):
            raise CheckFailure(
                f"⟨{gname}, v⟩ = {analytic:.10g}, but the central difference of {forward} along v gives "
                f"{numeric:.10g} (h={h:g}, |Δ|={abs(analytic - numeric):.2g}) [{call_repr(case)}]",
                hint=f"{case.op} is not the gradient of this implementation's own {forward}: "
                     f"{generic_hint(case.op, gname)}")


def _loss_central_differences(ctx: Context, case: Case):
    logits, target = case.inputs
    loss, dlogits = (call_impl(ctx, case)[k] for k in ("loss", "dlogits"))
    v = _direction(logits)
    h = 1e-6
    def f(sign):
        return float(call_impl(ctx, Case(case.op, (logits + sign * h * v, target), case.options))["loss"])
    numeric = (f(+1) - f(-1)) / (2 * h)
    analytic = float(np.sum(np.asarray(dlogits, dtype=np.float64) * v))
    tol = tolerance("float32", logits.size)
    if not abs(analytic - numeric) <= tol.atol + tol.rtol * abs(numeric):
        raise CheckFailure(f"⟨dlogits, v⟩ = {analytic:.10g}, but the central difference of the loss along v gives "
                           f"{numeric:.10g} [{call_repr(case)}]", hint=generic_hint(case.op, "dlogits"))


def _gradient_specs(spec) -> list[CheckSpec]:
    if not spec.is_backward:
        return []
    return [CheckSpec(
        f"{spec.name}.matches_central_differences", spec.name, "matches_central_differences",
        (spec.name, spec.forward),
        f"⟨d·, v⟩ from {spec.name} equals the central difference of the implementation's {spec.forward} "
        f"along a direction v (float64)", "gradient", None, True, _central_differences,
        lambda ctx, op=spec.name: strategies.cases(op, ctx.capabilities, _numeric_dtype(ctx)))]


def _numeric_dtype(ctx) -> str:
    """float64 for central differences, unless the implementation declares it cannot take it."""
    return "float64" if "float64" in ctx.capabilities.dtypes else ctx.dtype


# --- metamorphic ----------------------------------------------------------------------------------------

def _impl(ctx, op, inputs, options, notes=""):
    return call_impl(ctx, Case(op, tuple(inputs), dict(options), notes))


def _linearity(which: str):
    def run(ctx: Context, case: Case):
        x, w, _ = case.inputs
        opts = case.options
        # a bias would make the map affine, not linear
        zero_b = None if ctx.capabilities.bias_optional else np.zeros(w.shape[0], dtype=x.dtype)
        a = 3.0
        if which == "x":
            x2 = np.flip(x).copy()
            lhs = _impl(ctx, "conv_forward", (a * x + x2, w, zero_b), opts)["out"]
            rhs = a * _impl(ctx, "conv_forward", (x, w, zero_b), opts)["out"] + \
                _impl(ctx, "conv_forward", (x2, w, zero_b), opts)["out"]
        else:
            w2 = np.flip(w).copy()
            lhs = _impl(ctx, "conv_forward", (x, a * w + w2, zero_b), opts)["out"]
            rhs = a * _impl(ctx, "conv_forward", (x, w, zero_b), opts)["out"] + \
                _impl(ctx, "conv_forward", (x, w2, zero_b), opts)["out"]
        other = "x2" if which == "x" else "w2"
        compare("out", lhs, rhs, case, ctx.dtype,
                what=f"3·conv({which}) + conv({other}) gives (conv(3·{which} + {other}) should equal it)")
    return run


@st.composite
def _translation_cases(draw, ctx):
    return draw(strategies.cases("conv_forward", ctx.capabilities, ctx.dtype, padding="zero", min_extra=1))


def _translation(ctx: Context, case: Case):
    """Crop s·t input cells at the start of one spatial axis ⇒ the output loses its first t cells."""
    x, w, b = case.inputs
    nd = x.ndim - 2
    stride = case.options.get("stride", 1)
    ss = tuple(stride) if isinstance(stride, (tuple, list)) else (stride,) * nd
    out = _impl(ctx, "conv_forward", (x, w, b), case.options)["out"]
    for axis in range(nd):
        s = ss[axis]
        shifted = np.ascontiguousarray(np.take(x, range(s, x.shape[2 + axis]), axis=2 + axis))
        got = _impl(ctx, "conv_forward", (shifted, w, b), case.options)["out"]
        expected = np.take(np.asarray(out), range(1, np.shape(out)[2 + axis]), axis=2 + axis)
        compare("out", got, expected, Case(case.op, (shifted, w, b), case.options, case.notes), ctx.dtype,
                what=f"the unshifted output shifted by 1 along spatial axis {axis} gives")


@st.composite
def _delta_cases(draw, ctx):
    """x, and a delta kernel: w[c, c, centre] = 1 with an odd kernel and padding d·(k//2), any stride.

    With that padding the stride always divides ``n + 2p − k_eff = n − 1`` when ``n = 1 + s·m``
    (exact division, cs231n's contract); otherwise a remainder is added.
    """
    caps = ctx.capabilities
    nd = draw(st.sampled_from(sorted(caps.ndims)))
    per_dim = caps.per_dim_args and nd > 1 and draw(st.booleans())
    c, n_batch = draw(st.integers(1, 3)), draw(st.integers(1, 2))
    dims = []
    for _ in range(nd):
        if dims and not per_dim:
            dims.append(dims[0])
            continue
        k = draw(st.sampled_from([1, 3]))
        d = draw(st.integers(1, 2)) if caps.dilation else 1
        s = draw(st.integers(1, 3))
        n = 1 + s * draw(st.integers(0, 3)) + (0 if caps.exact_division else draw(st.integers(0, s - 1)))
        dims.append((k, d, s, n))
    ks, ds, ss, ns = (tuple(col) for col in zip(*dims))
    w = np.zeros((c, c, *ks), dtype=ctx.dtype)
    for ch in range(c):
        w[(ch, ch) + tuple(k // 2 for k in ks)] = 1
    x = draw(strategies.arrays((n_batch, c, *ns), ctx.dtype))
    pads = tuple(d * (k // 2) for k, d in zip(ks, ds))
    pack = (lambda v: v) if per_dim else (lambda v: v[0])  # noqa: E731
    opts = {"stride": pack(ss), "padding": pack(pads)}
    if any(d > 1 for d in ds):
        opts["dilation"] = pack(ds)
    b = None if caps.bias_optional else np.zeros(c, dtype=ctx.dtype)
    return Case("conv_forward", (x, w, b), opts, notes=f"delta kernel ({nd}-D identity)")


def _delta(ctx: Context, case: Case):
    x = case.inputs[0]
    stride = case.options["stride"]
    nd = x.ndim - 2
    ss = stride if isinstance(stride, tuple) else (stride,) * nd
    expected = x[(slice(None), slice(None)) + tuple(slice(None, None, s) for s in ss)]
    got = call_impl(ctx, case)["out"]
    try:
        compare("out", got, expected, case, ctx.dtype, what="x itself (a delta kernel is the identity) gives")
    except CheckFailure as failure:
        failure.hint = ("a kernel with a single 1 at its centre must copy x (subsampled by the stride): "
                        "check the window offsets, the padding and the channel indexing")
        raise


@st.composite
def _adjoint_cases(draw, ctx):
    """A conv config with int padding, y drawn in the conv's output shape, and the transposed call's
    options: the output_padding that restores the input cells the conv's floor dropped.

    Drawn inside the capabilities of both ops (``ctx.capabilities`` is their intersection): without
    ``output_padding`` only configurations where the stride divides ``n + 2p − k_eff``; without
    per-dim arguments every dim has the same length, so the output_padding is one int too.
    """
    caps = ctx.capabilities
    exact = caps.exact_division or caps.output_padding is False
    cfg = draw(strategies.conv_configs(caps.narrowed(exact_division=exact), padding="int", same_n=True))
    x = draw(strategies.arrays(cfg["x"], ctx.dtype))
    w = draw(strategies.arrays(cfg["w"], ctx.dtype))
    y = draw(strategies.arrays(cfg["out"], ctx.dtype))
    opts = dict(cfg["options"])
    op = tuple((n + 2 * pb - d * (k - 1) - 1) % s
               for n, (pb, _), d, k, s in zip(cfg["n"], cfg["pads"], cfg["dilation"], cfg["kernel"], cfg["stride"]))
    if any(op):
        opts["output_padding"] = op if isinstance(opts["stride"], tuple) else op[0]
    return Case("conv_transpose_forward", (x, w, y), opts, notes=_adjoint_calls(caps, opts))


def _adjoint_calls(caps, t_opts: dict) -> str:
    """The two calls the adjoint check makes, every argument spelled out (for messages and counterexamples)."""
    b = "None" if caps.bias_optional else "zeros"
    opts = {k: v for k, v in t_opts.items() if k != "output_padding"}
    return f"conv_forward(x, w, b={b}{_kw(opts)}) and conv_transpose_forward(y, w, b={b}{_kw(t_opts)})"


def _adjoint(ctx: Context, case: Case):
    x, w, y = case.inputs
    t_opts = dict(case.options)
    opts = {k: v for k, v in t_opts.items() if k != "output_padding"}
    b = None if ctx.capabilities.bias_optional else np.zeros(w.shape[0], dtype=x.dtype)
    bt = None if ctx.capabilities.bias_optional else np.zeros(w.shape[1] * opts.get("groups", 1), dtype=x.dtype)
    ccase = Case("conv_forward", (x, w, b), opts)
    tcase = Case("conv_transpose_forward", (y, w, bt), t_opts, case.notes)
    calls = _adjoint_calls(ctx.capabilities, t_opts)
    conv = call_impl(ctx, ccase)["out"]
    if np.shape(conv) != y.shape:
        raise CheckFailure(f"conv_forward gives out.shape={np.shape(conv)}, but should be {y.shape} [{calls}]",
                           hint="see conv_forward.matches_reference")
    back = call_impl(ctx, tcase)["out"]
    if np.shape(back) != x.shape:
        raise CheckFailure(f"conv_transpose_forward(y) gives out.shape={np.shape(back)}, but should be x.shape="
                           f"{x.shape} [{calls}]", hint="see conv_transpose_forward.matches_reference")
    lhs = float(np.sum(np.asarray(conv, dtype=np.float64) * y))
    rhs = float(np.sum(np.asarray(back, dtype=np.float64) * x))
    tol = tolerance(ctx.dtype, x.size * y.size)
    if not abs(lhs - rhs) <= tol.atol + tol.rtol * abs(lhs):
        raise CheckFailure(f"⟨conv(x), y⟩ = {lhs:.10g}, but ⟨x, conv_transpose(y)⟩ = {rhs:.10g} [{calls}]",
                           hint="conv_transpose must be the adjoint (the gradient) of conv with the same "
                                "stride/padding/dilation/groups and weight (C_in, C_out/g, *k); "
                                "a flipped kernel or a swapped channel axis breaks it")


def _kw(options: dict) -> str:
    return "".join(f", {k}={v!r}" for k, v in options.items())


def _db_sum(ctx: Context, case: Case):
    dout = case.inputs[0]
    if case.inputs[3] is None:  # only a replayed counterexample of a related check: drawn cases have a bias
        return
    got = call_impl(ctx, case)["db"]
    expected = dout.sum(axis=(0, *range(2, dout.ndim)))
    try:
        compare("db", got, expected, case, ctx.dtype, what="Σ dout over (N, *spatial) gives")
    except CheckFailure as failure:
        failure.hint = "db[f] = Σ_{n, positions} dout[n, f, ...]: sum over the batch and every output position"
        raise


@st.composite
def _uniform_cases(draw, ctx):
    """avg-pool configs without padding or ceil mode (where the average is a plain window mean)."""
    caps = ctx.capabilities.narrowed(pool_padding=False, ceil_mode=False)
    cfg = draw(strategies.pool_configs(caps, kind="avg"))
    x = draw(strategies.arrays(cfg["x"], ctx.dtype))
    opts = {k: v for k, v in cfg["options"].items() if k in ("kernel", "stride", "padding")}
    return Case("avg_pool_forward", (x,), opts)


def _uniform_conv(ctx: Context, case: Case):
    (x,) = case.inputs
    nd, c = x.ndim - 2, x.shape[1]
    k = case.options["kernel"]
    ks = tuple(k) if isinstance(k, tuple) else (k,) * nd
    stride = case.options["stride"] if case.options["stride"] is not None else k
    w = np.full((c, 1, *ks), 1.0 / prod(ks), dtype=ctx.dtype)
    b = None if ctx.capabilities.bias_optional else np.zeros(c, dtype=ctx.dtype)
    conv_opts = {"stride": stride, "padding": 0}
    if c > 1:
        conv_opts["groups"] = c
    conv = _impl(ctx, "conv_forward", (x, w, b), conv_opts)["out"]
    got = call_impl(ctx, case)["out"]
    compare("out", got, conv, case, ctx.dtype, what="a depthwise conv with the uniform kernel 1/∏k gives",
            reduction=prod(ks))


@st.composite
def _shift_cases(draw, ctx):
    """A max-pool case (padded in half of them) and a constant c below every input value."""
    cfg = draw(strategies.pool_configs(ctx.capabilities, kind="max", padded=draw(st.booleans())))
    x = draw(strategies.arrays(cfg["x"], ctx.dtype))
    c = -float(2 * np.abs(x).max() + 4)
    return Case("max_pool_forward", (x,), {**cfg["options"]}, notes=f"c = {c:g}: x + c is all negative")


def _shift(ctx: Context, case: Case):
    (x,) = case.inputs
    c = -float(2 * np.abs(x).max() + 4)
    base = np.asarray(call_impl(ctx, case)["out"], dtype=np.float64)
    moved = Case(case.op, ((x + c).astype(x.dtype),), case.options, case.notes)
    got = call_impl(ctx, moved)["out"]
    try:
        compare("out", got, base + c, moved, ctx.dtype, what=f"max_pool(x) + ({c:g}) gives")
    except CheckFailure as failure:
        failure.hint = diagnose(ctx, moved, "out", got) or (
            "max_pool(x + c) must equal max_pool(x) + c: only input cells can be a window's maximum, "
            "never the padding (pad with −∞, or skip the padded cells)")
        raise


def _ties(ctx: Context, case: Case):
    got = call_impl(ctx, case)
    expected = call_oracle(getattr(ctx.torch, case.op), case)
    try:
        compare("dx", got["dx"], expected["dx"], case, ctx.dtype, what="torch gives")
    except CheckFailure as failure:
        failure.hint = diagnose(ctx, case, "dx", got["dx"]) or (
            "with several maxima in a window, torch (and the reference) route dout to the FIRST "
            "maximum in row-major window order — not the last one, not all of them")
        raise


def _metamorphic_specs() -> list[CheckSpec]:
    groups_note = " (needs groups)"
    specs = [
        CheckSpec("conv_forward.linear_in_x", "conv_forward", "linear_in_x", ("conv_forward",),
                  "conv(3·x + x2, w) = 3·conv(x, w) + conv(x2, w) (no bias)", "metamorphic", None, False,
                  _linearity("x"),
                  _default_strategy("conv_forward")),
        CheckSpec("conv_forward.linear_in_w", "conv_forward", "linear_in_w", ("conv_forward",),
                  "conv(x, 3·w + w2) = 3·conv(x, w) + conv(x, w2) (no bias)", "metamorphic", None, False,
                  _linearity("w"),
                  _default_strategy("conv_forward")),
        CheckSpec("conv_forward.translation_equivariant", "conv_forward", "translation_equivariant",
                  ("conv_forward",), "cropping s input cells along an axis crops one output cell (no padding)",
                  "metamorphic", None, False, _translation, _translation_cases),
        CheckSpec("conv_forward.delta_kernel_is_identity", "conv_forward", "delta_kernel_is_identity",
                  ("conv_forward",), "a centred delta kernel (same padding) returns x, subsampled by the stride",
                  "metamorphic", None, False, _delta, _delta_cases),
        CheckSpec("conv_transpose_forward.adjoint_of_conv", "conv_transpose_forward", "adjoint_of_conv",
                  ("conv_forward", "conv_transpose_forward"), "⟨conv(x), y⟩ = ⟨x, conv_transpose(y)⟩",
                  "metamorphic", ("x", "w", "y"), False, _adjoint, _adjoint_cases),
        CheckSpec("conv_backward.db_is_sum_of_dout", "conv_backward", "db_is_sum_of_dout", ("conv_backward",),
                  "db = Σ dout over the batch and the output positions (every case has a bias)", "metamorphic", None, True, _db_sum,
                  _biased_strategy("conv_backward")),
        CheckSpec("avg_pool_forward.equals_uniform_conv", "avg_pool_forward", "equals_uniform_conv",
                  ("avg_pool_forward", "conv_forward"), "average pooling = depthwise conv with the kernel 1/∏k"
                  + groups_note, "metamorphic", None, False, _uniform_conv, _uniform_cases),
        CheckSpec("max_pool_forward.shift_commutes", "max_pool_forward", "shift_commutes", ("max_pool_forward",),
                  "max_pool(x + c) = max_pool(x) + c for a constant c below every input (the padding never wins)",
                  "metamorphic", None, False, _shift, _shift_cases),
        CheckSpec("max_pool_backward.ties_match_torch", "max_pool_backward", "ties_match_torch",
                  ("max_pool_backward",), "with ties (inputs in {0, 1, 2}) dx goes to the first maximum, as in torch",
                  "differential", None, False, _ties,
                  lambda ctx: strategies.max_pool_tie_cases("max_pool_backward", ctx.capabilities, ctx.dtype)),
    ]
    return specs


def _metamorphic_applies(spec: CheckSpec, caps) -> bool:
    if spec.name == "avg_pool_forward.equals_uniform_conv":
        return caps.groups  # a depthwise conv needs groups = C
    return True


# --- arithmetic (strategies and torch oracles from checks/arithmetic.py) -----------------------------------

_TORCH_ARITHMETIC = ("conv_output_size", "pool_output_size", "conv_transpose_output_size", "conv_params",
                     "conv_transpose_params", "dense_params", "receptive_field", "conv_macs")


def _arith_value(ctx, case):
    try:
        return ctx.impl[case.op](**case.options)
    except Exception as exc:
        raise CheckFailure(f"{case.op} raised {type(exc).__name__}: {exc} [{_arith_call(case)}]") from None


def _arith_call(case):
    return f"{case.op}({', '.join(f'{k}={v!r}' for k, v in case.options.items())})"


def _arith_equal(a, b) -> bool:
    norm = lambda v: tuple(norm(i) for i in v) if isinstance(v, (tuple, list)) else v  # noqa: E731
    return norm(a) == norm(b)


def _arith_against(oracle: str):
    def run(ctx, case):
        got = _arith_value(ctx, case)
        expected = arithmetic.torch_answer(case, ctx.device) if oracle == "torch" else \
            ctx.reference[case.op](**case.options)
        if not _arith_equal(got, expected):
            raise CheckFailure(f"{_arith_call(case)} = {got!r}, but should be {expected!r}"
                               + (" (what torch produces)" if oracle == "torch" else ""),
                               hint=generic_hint(case.op, "result"))
    return run


def _arith_rejects(ctx, case):
    try:
        got = ctx.impl[case.op](**case.options)
    except ValueError:
        return
    except Exception as exc:
        raise CheckFailure(f"{_arith_call(case)} raised {type(exc).__name__}: {exc}, but should raise ValueError "
                           f"({case.notes})") from None
    raise CheckFailure(f"{_arith_call(case)} returned {got!r}, but should raise ValueError ({case.notes}: "
                       f"torch rejects this configuration)")


def _arithmetic_specs() -> list[CheckSpec]:
    specs = []
    for op in arithmetic.ARITHMETIC_OPS:
        try:
            arithmetic.valid_cases(op)
        except ValueError:
            continue  # no strategy for this op yet
        strat = lambda ctx, op=op: arithmetic.valid_cases(op, ctx.capabilities)  # noqa: E731
        specs.append(CheckSpec(f"{op}.matches_reference", op, "matches_reference", (op,),
                               f"{op} equals the reference", "differential", None, False, _arith_against("reference"),
                               strat))
        if op in _TORCH_ARITHMETIC:
            specs.append(CheckSpec(f"{op}.matches_torch", op, "matches_torch", (op,),
                                   f"{op} equals the shape/count torch produces", "differential", None, False,
                                   _arith_against("torch"), strat))
        try:
            arithmetic.invalid_cases(op)
        except ValueError:
            continue
        specs.append(CheckSpec(f"{op}.rejects_invalid", op, "rejects_invalid", (op,),
                               f"{op} raises ValueError on configurations torch rejects", "differential", None,
                               False, _arith_rejects, lambda ctx, op=op: arithmetic.invalid_cases(op)))
    return specs


# --- the registry ------------------------------------------------------------------------------------------

def _all_specs() -> list[CheckSpec]:
    specs = []
    meta = {}
    for spec in _metamorphic_specs():
        meta.setdefault(spec.op, []).append(spec)
    for op_spec in OPS.values():
        specs += _differential_specs(op_spec)
        specs += _gradient_specs(op_spec)
        specs += meta.pop(op_spec.name, [])
    for op in ("softmax_cross_entropy", "binary_cross_entropy"):
        specs.append(CheckSpec(f"{op}.matches_central_differences", op, "matches_central_differences", (op,),
                               "⟨dlogits, v⟩ equals the central difference of the loss along v", "gradient", None,
                               False, _loss_central_differences,
                               lambda ctx, op=op: strategies.cases(op, ctx.capabilities, "float64")))
    specs += _arithmetic_specs()
    return specs


SPECS: list[CheckSpec] = _all_specs()
BY_NAME: dict[str, CheckSpec] = {spec.name: spec for spec in SPECS}


def applicable(spec: CheckSpec, caps) -> bool:
    """Whether ``spec`` can be exercised inside ``caps`` (e.g. avg-pool = depthwise conv needs groups)."""
    return _metamorphic_applies(spec, caps)
