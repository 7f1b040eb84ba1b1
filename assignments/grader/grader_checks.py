"""The grader's own checks of the calling convention: fresh caches and untouched inputs.

They test what ``convcheck.checks`` cannot see through a reference signature, because the adapter
always pairs a backward with a fresh forward: whether a backward really uses the cache it is given
(``grader.fresh_cache``: forward(x1), forward(x2), backward(dout1, cache1) must be the gradient at
x1), and whether a function leaves its inputs alone (``grader.no_input_mutation``). Both run under
Hypothesis with the assignment's seed, on the checks' own case strategies, and report the shrunk case.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass

import numpy as np
from hypothesis import HealthCheck, given, reject, seed as hyp_seed, settings
from hypothesis import strategies as st

from convcheck.checks.tolerances import tolerance

from . import conventions
from .conventions import OptionNotExpressible as OptionNotExpressibleError
from .spec import Assignment, FunctionSpec


@dataclass
class GraderCheckResult:
    status: str                       # "passed" | "failed"
    message: str = ""
    counterexample: dict | None = None
    examples: int = 0


class _Failed(Exception):
    pass


def describe_error(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    first = text[0] if text else ""
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


def compare(name: str, got, expected, call: str) -> str | None:
    """None when ``got`` equals ``expected`` within tolerance, else a message in the checks' style."""
    if expected is None:
        return None
    got_arr = np.asarray(got) if got is not None else None
    if got_arr is None or got_arr.dtype == object:
        return f"{name} is {type(got).__name__}, but should be an array of shape {tuple(np.shape(expected))} [{call}]"
    expected = np.asarray(expected)
    if got_arr.shape != expected.shape:
        return f"{name}.shape={got_arr.shape}, but should be {expected.shape} [{call}]"
    tol = tolerance("float64", max(1, expected.size))
    bad = ~np.isclose(got_arr, expected, rtol=tol.rtol, atol=tol.atol, equal_nan=False)
    if not bad.any():
        return None
    idx = tuple(int(i) for i in np.argwhere(bad)[0])
    g, e = float(got_arr[idx]), float(expected[idx])
    return f"{name} differs at {list(idx)}: got {g!r}, expected {e!r} [{call}]"


def _strategy(op: str, assignment: Assignment):
    """The checks' own cases of ``op``, inside the assignment's contract for that op."""
    return _strategy_for(op, assignment.capabilities.for_op(op))


def run_property(strategy, prop, *, max_examples: int, seed: int) -> GraderCheckResult:
    """Run ``prop(case) -> message | None`` under Hypothesis; the shrunk failure is reported."""
    failures: list = []
    count = [0]

    @hyp_seed(seed)
    @settings(max_examples=max_examples, database=None, deadline=None, derandomize=False,
              suppress_health_check=list(HealthCheck), print_blob=False, report_multiple_bugs=False)
    @given(strategy)
    def test(case):
        count[0] += 1
        try:
            message = prop(case)
        except OptionNotExpressibleError:
            reject()
        if message:
            failures.append((case, message))
            raise _Failed(message)

    try:
        test()
    except _Failed:
        pass
    except Exception as exc:  # Hypothesis itself (Flaky, health checks) — a failure of the check, not a crash
        if not failures:
            return GraderCheckResult("failed", f"the check could not run: {describe_error(exc)}", None, count[0])
    if not failures:
        return GraderCheckResult("passed", "", None, count[0])
    case, message = failures[-1]  # Hypothesis replays the minimal failing example last
    return GraderCheckResult("failed", message, case.to_dict(), count[0])


def _other_input(x: np.ndarray) -> np.ndarray:
    """An input of x's shape with other values (negated, reversed): still distinct, tie-free and off 0."""
    return (-x.reshape(-1)[::-1]).reshape(x.shape).copy()


def fresh_cache(assignment: Assignment, fspec: FunctionSpec, runner, breaker, *, max_examples: int, seed: int):
    """backward(dout, cache1) must give the same gradients whether or not forward(x2) ran in between.

    The check compares the submission with itself (not with the reference), so it isolates the stale
    cache from any other mistake: a backward that is wrong but uses its cache passes it. Examples on
    which the submission raises prove nothing either way; if every example raises, the check fails.
    """
    fwd = assignment.function(fspec.forward)
    usable = [0]

    def prop(case):
        dout, *fwd_args = case.inputs
        x2_args = [_other_input(fwd_args[0])] + list(fwd_args[1:])
        call = case.call_signature()
        try:
            _, cache = conventions.declared_forward(runner, breaker, fwd, fwd.op, tuple(fwd_args), case.options, True)
            fresh = conventions.backward_with_cache(runner, breaker, fspec, dout, cache)
        except Exception:
            return None
        try:
            _, cache1 = conventions.declared_forward(runner, breaker, fwd, fwd.op, tuple(fwd_args), case.options, True)
            _, _cache2 = conventions.declared_forward(runner, breaker, fwd, fwd.op, tuple(x2_args), case.options, True)
            stale = conventions.backward_with_cache(runner, breaker, fspec, dout, cache1)
        except Exception as exc:
            return (f"{describe_error(exc)} [{call}: forward(x1), forward(x2), backward(dout, cache1)] — the same "
                    "backward worked when it ran right after forward(x1)")
        usable[0] += 1
        fresh = fresh if isinstance(fresh, tuple) else (fresh,)
        stale = stale if isinstance(stale, tuple) else (stale,)
        names = [f"d{name}" for name in _forward_inputs(fspec.op)]
        for name, s_, f_ in zip(names, stale, fresh):
            msg = compare(name, s_, f_, f"{call}: forward(x1), forward(x2), backward(dout, cache1)")
            if msg:
                return (msg.replace("expected", "but right after forward(x1) it was", 1)
                        + " — another forward call changed what this cache's backward computes: the backward "
                        "reads state left by the LAST forward (a global or an attribute) instead of its cache")
        return None

    result = run_property(_strategy(fspec.op, assignment), prop, max_examples=max_examples, seed=seed)
    return _needs_usable(result, usable[0], fspec.name)


def _needs_usable(result: GraderCheckResult, usable: int, name: str) -> GraderCheckResult:
    if result.status == "passed" and usable == 0:
        return GraderCheckResult("failed", f"could not be checked: {name} raised an error on every example "
                                           "(see its other tests)", None, result.examples)
    return result


def _forward_inputs(op: str) -> tuple[str, ...]:
    from convcheck.checks.ops import OPS

    spec = OPS[op]
    return spec.inputs[1:] if spec.is_backward else spec.inputs


def no_input_mutation(assignment: Assignment, fspec: FunctionSpec, runner, breaker, *, max_examples: int, seed: int):
    """The worker snapshots every array argument; after a call that returns, none may have changed."""
    usable = [0]

    def prop(case):
        call = case.call_signature()
        _inputs, options = conventions.bind(fspec.op, case.inputs, case.options)
        conventions.param_dict(fspec, options, fspec.op)
        args = conventions.student_args(fspec, conventions.case_values(fspec.op, case.inputs, case.options))
        try:
            mutated = conventions.mutated_arguments(runner, breaker, fspec.name, args)
        except Exception:
            return None  # a call that raises is another test's failure
        usable[0] += 1
        if mutated:
            return (f"{fspec.name} modified its input {', '.join(mutated)} in place [{call}] — the caller's "
                    "arrays must be left as they were")
        return None

    result = run_property(_strategy(fspec.op, assignment), prop, max_examples=max_examples, seed=seed)
    return _needs_usable(result, usable[0], fspec.name)


# --- rectangular, overlapping pool windows ---------------------------------------------------------------

@st.composite
def window_cases(draw, op: str, exact_division: bool = False):
    """Max-pool cases the generic strategies rarely reach under cs231n's single stride: a window that is
    not square, a stride smaller than the window (windows overlap), and — so that overlapping really
    matters — each channel's maximum moved to where the first two windows of a column overlap.

    Inputs are distinct integers (tie-free); dout holds odd integers (never 0), so a gradient that is
    overwritten instead of accumulated always shows.
    """
    from convcheck.checks.cases import Case
    from convcheck.checks.strategies import arrays

    kh = draw(st.integers(2, 3))
    kw = draw(st.sampled_from([k for k in (1, 2, 3) if k != kh]))
    stride = draw(st.integers(1, kh - 1))                  # < kh: vertically adjacent windows overlap
    h_out, w_out = draw(st.integers(2, 3)), draw(st.integers(1, 3))
    extra_h = 0 if exact_division else draw(st.integers(0, stride - 1))
    extra_w = 0 if exact_division else draw(st.integers(0, stride - 1))
    H = (h_out - 1) * stride + kh + extra_h
    W = (w_out - 1) * stride + kw + extra_w
    N, C = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    x = draw(arrays((N, C, H, W))).copy()
    flat = x.reshape(N * C, H * W)
    for row in flat:                                     # the max goes to (stride, 0): in windows (0,0) and (1,0)
        top = int(np.argmax(row))
        row[[top, stride * W]] = row[[stride * W, top]]
    options = {"kernel": (kh, kw), "stride": stride}
    if op.endswith("_backward"):
        dout = draw(arrays((N, C, h_out, w_out), odd=True))
        return Case(op, (dout, x), options, notes="tie-free; rectangular, overlapping windows")
    return Case(op, (x,), options, notes="tie-free; rectangular windows")


def rectangular_windows(assignment: Assignment, fspec: FunctionSpec, runner, breaker, *, max_examples: int,
                        seed: int):
    """The pool op on rectangular, overlapping windows equals the reference (through the convention)."""
    from convcheck.checks.adapters import reference as ref

    impl = conventions.adapt(assignment, runner, breaker)
    op = fspec.op
    out_name = "dx" if op.endswith("_backward") else "out"

    def prop(case):
        call = case.call_signature()
        try:
            got = impl[op](*case.inputs, **case.options)
        except Exception as exc:
            return f"{describe_error(exc)} [{call}]"
        expected = ref.OPS[op](*case.inputs, **case.options)
        return compare(out_name, got, expected, call)

    return run_property(window_cases(op, assignment.capabilities.for_op(op).exact_division), prop,
                        max_examples=max_examples, seed=seed)


# --- large logits: a softmax that is not shifted by its row's maximum overflows ---------------------------

#: each row of logits (scores) is moved by one of these (here and by course_checks' ``large_logits = true``)
LARGE_OFFSETS = (1000.0, -1000.0, 700.0, -700.0)

@st.composite
def large_logit_cases(draw, op: str, caps):
    """The checks' own loss cases with each row of logits moved by a large constant (±1000, ±700):
    softmax and its cross-entropy do not change, but exp() of an unshifted row overflows (or underflows
    to a log of 0)."""
    from convcheck.checks.cases import Case

    case = draw(_strategy_for(op, caps))
    logits, labels = case.inputs
    offsets = np.array(draw(st.lists(st.sampled_from(LARGE_OFFSETS),
                                     min_size=logits.shape[0], max_size=logits.shape[0])))
    return Case(op, (logits + offsets[:, None], labels), dict(case.options),
                notes="each row of logits moved by a large constant")


def large_logits(assignment: Assignment, fspec: FunctionSpec, runner, breaker, *, max_examples: int, seed: int):
    """loss and dlogits equal the reference (finite) when every row of logits sits near ±1000: the
    softmax must subtract each row's maximum before ``np.exp`` (the value checks use logits below 2,
    where an unshifted softmax is right too)."""
    from convcheck.checks.adapters import reference as ref

    impl = conventions.adapt(assignment, runner, breaker)
    op = fspec.op

    def prop(case):
        call = case.call_signature()
        try:
            got = impl[op](*case.inputs, **case.options)
        except Exception as exc:
            return f"{describe_error(exc)} [{call}]"
        expected = ref.OPS[op](*case.inputs, **case.options)
        got = got if isinstance(got, tuple) else (got,)
        if len(got) != len(expected):
            return f"returned {len(got)} values, but should be {len(expected)} (loss, dlogits) [{call}]"
        for name, g, e in zip(("loss", "dlogits"), got, expected):
            msg = compare(name, g, e, call)
            if msg:
                return msg + " — with logits this large, subtract each row's maximum before np.exp"
        return None

    return run_property(large_logit_cases(op, assignment.capabilities.for_op(op)), prop, max_examples=max_examples,
                        seed=seed)


# --- the signature's defaults (reference convention) ------------------------------------------------------

@st.composite
def default_calls(draw, op: str, caps):
    """A valid call of ``op`` (the checks' own case strategy) as a student's caller may write it: each
    optional argument left out or not, the kept ones positional up to a point and by keyword after it,
    and a per-dimension ``kernel_size`` given as one int standing for a cube of ``ndim`` dimensions.
    Returns a :class:`DefaultCall`."""
    from .conventions import _reference_signature

    case = draw(_strategy_for(op, caps))
    sig = _reference_signature(op)
    options = dict(case.options)
    if isinstance(options.get("kernel_size"), (tuple, list)) and "ndim" in sig.parameters and draw(st.booleans()):
        options["kernel_size"], options["ndim"] = options["kernel_size"][0], draw(st.integers(1, 3))
    kept = []
    for name, p in sig.parameters.items():
        if name not in options:
            continue
        if p.default is inspect.Parameter.empty or not draw(st.booleans()):
            kept.append(name)
    n_positional = draw(st.integers(0, len(kept)))
    order = list(sig.parameters)
    args, kwargs = [], {}
    for i, name in enumerate(kept):
        # positional only while no earlier parameter was left out (else the value would land in its slot)
        if i < n_positional and order.index(name) == i:
            args.append(options[name])
        else:
            kwargs[name] = options[name]
    return DefaultCall(tuple(args), kwargs)


@dataclass
class DefaultCall:
    """One call of :func:`default_calls`; the failure message spells it out, so no case is rendered."""
    args: tuple
    kwargs: dict

    def to_dict(self):
        return None


def _strategy_for(op: str, caps):
    from convcheck.checks.strategies import cases

    return cases(op, caps)


def _render_call(name: str, args, kwargs) -> str:
    return f"{name}({', '.join([repr(a) for a in args] + [f'{k}={v!r}' for k, v in kwargs.items()])})"


def default_arguments(assignment: Assignment, fspec: FunctionSpec, runner, breaker, *, max_examples: int,
                      seed: int):
    """The function called as its signature allows — optional arguments left out, positional or by keyword —
    equals the reference called the same way. The value checks always pass every argument, so a wrong
    default (``stride=2``, ``ndim=2``) or a shorthand the contract allows (an int kernel) goes unseen there.
    Calls the reference refuses (a default that makes the configuration invalid) are skipped."""
    from convcheck.checks.adapters import reference as ref

    usable = [0]

    def prop(call):
        args, kwargs = call.args, call.kwargs
        try:
            expected = ref.OPS[fspec.op](*args, **kwargs)
        except Exception:
            reject()
        text = _render_call(fspec.name, args, kwargs)
        try:
            got = breaker.call(runner, fspec.name, *args, **kwargs)
        except Exception as exc:
            return f"{describe_error(exc)} [{text}]"
        usable[0] += 1
        if isinstance(expected, (int, np.integer)) and not isinstance(expected, bool):
            if isinstance(got, bool) or not isinstance(got, (int, np.integer)) or got != expected:
                return f"{text} returned {got!r}, but should be {expected!r} (the defaults of the signature apply)"
            return None
        msg = compare("the result", got, expected, text)
        return msg and msg + " (the defaults of the signature apply)"

    result = run_property(default_calls(fspec.op, assignment.capabilities.for_op(fspec.op)), prop, max_examples=max_examples,
                          seed=seed)
    return _needs_usable(result, usable[0], fspec.name)


# --- the model assignment (model_checks.py): a spec text, stated shapes and counts, a small ConvNet -----------
# Imported last: model_checks reaches back into this module for run_property and compare at call time.
from .model_checks import (  # noqa: E402
    model_params_conv, model_params_dense, model_shapes_conv, model_shapes_dense, model_spec_matches,
    model_spec_parses, small_convnet_db1, small_convnet_db2, small_convnet_dw1, small_convnet_dw2,
    small_convnet_loss,
)
