"""Calling an implementation under test and comparing what it returns, with messages a user can act on.

The harness is where the implementation's own failures become :class:`CheckFailure` (an exception
it raised, an input it modified, a result of the wrong arity, shape or value); everything else
(the oracles, the strategies) raises ordinary exceptions, which verify reports as errors.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from hypothesis.errors import HypothesisException

from .capabilities import Capabilities
from .cases import Case
from .ops import OPS, reduction_length
from .tolerances import tolerance


class CheckFailure(AssertionError):
    """The implementation under test did not meet a property; ``message`` says how, ``hint`` maybe why.

    ``raised`` is ``(exception type, its text)`` when the implementation raised, for telling an
    environment error (the same exception for every case) from a bug.
    """

    def __init__(self, message: str, hint: str | None = None, raised: tuple[str, str] | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.raised = raised


class Unsupported(Exception):
    """Raised by an adapter for a case its library cannot express: ``raise Unsupported("output_padding tuple")``.

    The case is discarded (not failed, not passed), counted, and the reason shown in the report.
    Prefer declaring :class:`Capabilities` (nothing outside them is generated); this is for what no
    field says.
    """

    def __init__(self, reason: str = "unsupported case"):
        super().__init__(reason)
        self.reason = str(reason)


@dataclass
class Context:
    """What a property needs: the implementation's ops, the oracles, the capabilities and dtype."""

    impl: dict
    capabilities: Capabilities = field(default_factory=Capabilities)
    dtype: str = "float64"
    device: str = "cpu"
    _torch: object = None
    _reference: dict | None = None

    @property
    def reference(self) -> dict:
        if self._reference is None:
            from .adapters.reference import OPS as ref_ops
            self._reference = ref_ops
        return self._reference

    @property
    def torch(self):
        if self._torch is None:
            from .adapters import torch as torch_adapter
            self._torch = torch_adapter.make(self.device)
        return self._torch


def call_repr(case: Case) -> str:
    return case.call_signature()


# --- calling -------------------------------------------------------------------------------------------

def _to_impl_layout(op: str, name: str, a, caps: Capabilities):
    spec = OPS.get(op)
    if caps.layout == "NHWC" and spec and name in spec.activations and isinstance(a, np.ndarray) and a.ndim >= 3:
        return np.ascontiguousarray(np.moveaxis(a, 1, -1))
    return a


def _from_impl_layout(op: str, name: str, a, caps: Capabilities):
    spec = OPS.get(op)
    if caps.layout == "NHWC" and spec and name in spec.activations and isinstance(a, np.ndarray) and a.ndim >= 3:
        return np.moveaxis(a, -1, 1)
    return a


def call_impl(ctx: Context, case: Case) -> dict:
    """Run the implementation on ``case``; return its results by output name (reference layout).

    Raises CheckFailure if it raises, modifies an input in place, or returns the wrong number of results.
    """
    op = case.op
    fn = ctx.impl[op]
    spec = OPS.get(op)
    names = spec.inputs if spec else tuple(f"arg{i}" for i in range(len(case.inputs)))
    # the implementation gets copies: an in-place write must not corrupt the case (the counterexample)
    args = [_to_impl_layout(op, n, a, ctx.capabilities) for n, a in zip(names, case.inputs)]
    args = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    before = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    try:
        result = fn(*args, **case.options)
    except (HypothesisException, Unsupported):  # an adapter declining a case it cannot express
        raise
    except Exception as exc:  # the implementation's failure, whatever it is, is a failed check
        raise CheckFailure(f"{op} raised {type(exc).__name__}: {exc} [{call_repr(case)}]",
                           hint="the configuration is valid for the reference and for torch; "
                                "see the counterexample for the exact call",
                           raised=(type(exc).__name__, str(exc))) from None
    for name, a, b in zip(names, args, before):
        if isinstance(a, np.ndarray) and not np.array_equal(a, b, equal_nan=True):
            raise CheckFailure(f"{op} modified its input {name} in place [{call_repr(case)}]",
                               hint="copy before writing (e.g. x = x.copy()); callers reuse their arrays")
    if spec is None:
        return {"result": result}
    outputs = spec.outputs
    if len(outputs) == 1:
        if isinstance(result, (tuple, list)) and len(result) == 1:
            result = result[0]
        results = (result,)
    else:
        if not isinstance(result, (tuple, list)) or len(result) != len(outputs):
            got = f"a {type(result).__name__} of {len(result)}" if isinstance(result, (tuple, list)) \
                else f"one {type(result).__name__}"
            raise CheckFailure(f"{op} returned {got}, but should return {len(outputs)} results "
                               f"({', '.join(outputs)}) [{call_repr(case)}]")
        results = tuple(result)
    out = {name: _from_impl_layout(op, name, r if r is None or np.isscalar(r) else np.asarray(r),
                                   ctx.capabilities)
           for name, r in zip(outputs, results)}
    _check_dtypes(case, out)
    return out


def _check_dtypes(case: Case, results: dict) -> None:
    """A float32 (or float16) case must come back in that dtype: a silent float64 result hides the
    precision the user asked for (float64 cases are judged by value only)."""
    floats = {a.dtype for a in case.inputs if isinstance(a, np.ndarray) and a.dtype.kind == "f"}
    if len(floats) != 1:
        return
    (want,) = floats
    if want == np.float64:
        return
    for name, r in results.items():
        if isinstance(r, np.ndarray) and r.dtype.kind == "f" and r.dtype != want:
            raise CheckFailure(f"{name} has dtype {r.dtype}, but should be {want} like the inputs [{call_repr(case)}]",
                               hint=f"compute in (or cast the result back to) the inputs' dtype {want}")


def check_forward_shape(ctx: Context, case: Case) -> None:
    """Before judging a backward: does the implementation's own forward give ``dout``'s shape?

    ``dout`` has the shape of the reference's (and torch's) forward output; a library whose forward
    disagrees cannot take that ``dout``, and its backward's error would only be a symptom.
    """
    spec = OPS.get(case.op)
    if spec is None or not spec.is_backward or spec.forward not in ctx.impl:
        return
    fcase = Case(spec.forward, tuple(case.inputs[1:]), case.options, case.notes)
    out = call_impl(ctx, fcase)["out"]
    if np.shape(out) != np.shape(case.inputs[0]):
        raise CheckFailure(
            f"{spec.forward} gives out.shape={np.shape(out)}, but dout has shape {np.shape(case.inputs[0])} "
            f"(the reference's and torch's output shape) [{call_repr(fcase)}]; {case.op} was not called",
            hint=f"fix the output shape of {spec.forward} first (see {spec.forward}.matches_reference): "
                 f"the backward receives a dout of the forward's output shape")


def call_oracle(oracle, case: Case) -> dict:
    """Run a reference-convention oracle (the reference or torch) on ``case``: results by output name."""
    result = oracle(*case.inputs, **case.options)
    spec = OPS.get(case.op)
    if spec is None:
        return {"result": result}
    results = result if len(spec.outputs) > 1 else (result,)
    return dict(zip(spec.outputs, results))


# --- comparing -----------------------------------------------------------------------------------------

def _fmt(v) -> str:
    v = float(v)
    return repr(int(v) * 1.0) if v.is_integer() and abs(v) < 1e15 else f"{v:.10g}"


def compare(name: str, got, expected, case: Case, dtype: str, *, what: str = "expected",
            reduction: int | None = None) -> None:
    """Raise CheckFailure unless ``got`` equals ``expected`` in shape and, within tolerance, in value.

    The tolerance is :func:`checks.tolerances.tolerance` for ``dtype`` scaled by the reduction
    length of ``name`` (how many products each value sums).
    """
    call = call_repr(case)
    if expected is None:
        return  # e.g. db when b is None: whatever the implementation returns is not checked
    if got is None:
        raise CheckFailure(f"{name} is None, but should be an array of shape {np.shape(expected)} [{call}]")
    got_a, exp_a = np.asarray(got), np.asarray(expected)
    if got_a.shape != exp_a.shape:
        raise CheckFailure(f"{name}.shape={got_a.shape}, but should be {exp_a.shape} [{call}]")
    if got_a.dtype.kind not in "fiub" or exp_a.dtype.kind not in "fiub":
        raise CheckFailure(f"{name} has dtype {got_a.dtype}, expected numbers like {exp_a.dtype} [{call}]")
    tol = tolerance(dtype, reduction if reduction is not None else reduction_length(case, name))
    g, e = got_a.astype(np.float64), exp_a.astype(np.float64)
    bound = tol.atol + tol.rtol * np.abs(e)
    bad = ~(np.abs(g - e) <= bound)  # NaN anywhere counts as a difference
    bad |= np.isnan(g) != np.isnan(e)
    bad &= ~(np.isinf(e) & (g == e))
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        where = f" at [{', '.join(map(str, idx))}]" if idx else ""
        delta = abs(g[idx] - e[idx])
        count = f"; {int(bad.sum())} of {bad.size} values differ" if bad.size > 1 else ""
        raise CheckFailure(
            f"{name} differs{where}: got {_fmt(g[idx])}, {what} {_fmt(e[idx])} "
            f"(|Δ|={delta:.2g} > atol+rtol·|e|={bound[idx]:.2g}{count}) [{call}]")
