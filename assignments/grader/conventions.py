"""Calling-convention adapters: a student's functions, running in the sandbox, seen as reference ops.

The checks of ``convcheck.checks`` call implementations with the reference signatures
(``conv_backward(dout, x, w, b, stride=1, padding=0)``). A cs231n submission has other ones
(``conv_forward_naive(x, w, b, conv_param) -> (out, cache)``, ``conv_backward_naive(dout, cache)``),
so :func:`adapt` builds, from the assignment spec, one reference-signature callable per function:

* a forward op calls the student's forward with the param dict the spec describes and returns ``out``;
  the cache stays in the worker (a Handle), it is never decoded by the grader;
* a backward op calls the student's forward on the same inputs, keeps *that* cache in the worker and
  passes it to the student's backward: a backward always gets the cache its own forward returned.

The ``reference`` convention (arithmetic assignments) passes the call through unchanged.

Examples a function cannot be graded on are discarded with ``hypothesis.reject()``: a case whose
options the convention cannot express (a per-dimension stride for cs231n's single ``stride``). For a
backward, a case on which the student's forward raised is not discarded but FAILS (``ForwardFailed``):
no cache exists, and discarding it would let a forward that refuses some inputs hide its backward's
bugs on them. A function whose examples were mostly discarded fails (grade.py).

A function that timed out, crashed its worker or exhausted memory once is not called again: later
calls raise the same error at once (:class:`Breaker`), so a hanging submission costs one time limit
per function rather than one per Hypothesis example, and only that function's checks lose points.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable, Protocol

import numpy as np

from .spec import Assignment, FunctionSpec


class Runner(Protocol):
    """What the adapters need from the sandbox (``sandbox.Sandbox``): call a submission function by
    name with positional arguments (and keywords, for ``grader.default_arguments``); ``keep`` lists
    indices of a returned tuple to leave in the worker as Handles; the result has ``.value`` and
    ``.mutated`` (names of arrays modified in place)."""

    def call(self, name: str, *args, keep=None, **kwargs) -> Any: ...


class ConventionError(Exception):
    """The submission's function does not follow the calling convention (wrong return arity, …)."""


class OptionNotExpressible(ConventionError):
    """A generated case uses an option the convention has no way to pass (a grader/spec mismatch)."""


def _op_inputs(op: str) -> tuple[str, ...]:
    from convcheck.checks.ops import OPS

    return OPS[op].inputs if op in OPS else ()


def _reference_signature(op: str) -> inspect.Signature | None:
    try:
        from convcheck import reference
    except ImportError:  # pragma: no cover - the reference is part of the package
        return None
    fn = getattr(reference, "OPS", {}).get(op) or getattr(reference, op, None)
    if fn is None:
        for module in ("conv", "pool", "layers", "shapes", "params"):
            try:
                mod = __import__(f"convcheck.reference.{module}", fromlist=[op])
            except ImportError:
                continue
            fn = getattr(mod, op, None)
            if fn is not None:
                break
    return inspect.signature(fn) if fn is not None else None


def bind(op: str, args: tuple, kwargs: dict) -> tuple[list, dict]:
    """Split a reference call into (array inputs in order, all options with defaults applied)."""
    names = _op_inputs(op)
    sig = _reference_signature(op)
    if sig is None:
        inputs = list(args[:len(names)])
        return inputs, dict(kwargs)
    bound = sig.bind(*args, **kwargs)
    bound.apply_defaults()
    values = dict(bound.arguments)
    inputs = [values.pop(name) for name in names if name in values]
    return inputs, values


def _defaults(op: str) -> dict:
    sig = _reference_signature(op)
    if sig is None:
        return {}
    return {n: p.default for n, p in sig.parameters.items() if p.default is not inspect.Parameter.empty}


def _scalar(value, what: str):
    """One int standing for every dimension; a per-dim tuple must repeat one value."""
    if isinstance(value, (tuple, list)):
        flat = []
        for v in value:
            flat.extend(v if isinstance(v, (tuple, list)) else [v])
        if len(set(flat)) != 1:
            raise OptionNotExpressible(f"{what}={value!r} differs per dimension; this convention takes one int")
        value = flat[0]
    return int(value) if isinstance(value, (int, np.integer)) else value


def complement(expr: str) -> tuple[bool, str]:
    """Whether a param expression is ``"1-..."`` (one minus the option), and the expression after it."""
    body = expr.strip()
    return (True, body[2:].strip()) if body.startswith("1-") else (False, body)


def _option_name(alternative: str) -> str:
    """The option one alternative of a param expression reads: ``"kernel.1"`` → kernel, ``"1-p"`` → p."""
    return complement(alternative.strip().rstrip("?"))[1].partition(".")[0]


def param_value(expr: str, options: dict):
    """Evaluate a spec param expression: ``"stride"``, ``"kernel.1"``, ``"stride|kernel.0"``, or
    ``"1-p"`` (one minus the option: dropout written with p the probability of dropping a unit)."""
    minus, body = complement(expr)
    for alternative in body.split("|"):
        name, _, index = alternative.strip().partition(".")
        if name not in options:
            raise OptionNotExpressible(f"param {expr!r} names option {name!r}, which this op does not have")
        value = options[name]
        if value is None:
            continue
        if index:
            value = value[int(index)] if isinstance(value, (tuple, list)) else value
        value = _scalar(value, name)
        return 1 - value if minus else value
    raise OptionNotExpressible(f"param {expr!r}: every alternative is None")


def param_dict(fspec: FunctionSpec, options: dict, op: str) -> dict | None:
    """The cs231n param dict of one call, after checking no unmapped option differs from its default."""
    exprs = list((fspec.params or {}).values()) + [a.split("=", 1)[1] for a in fspec.args
                                                   if "=" in a and a.split("=", 1)[1].strip()[:1] not in "'\""]
    params = {key: param_value(expr, options) for key, expr in (fspec.params or {}).items()
              if not expr.endswith("?") and _option_name(expr.split("|")[0]) in options} or None
    used = {_option_name(alt) for expr in exprs for alt in expr.split("|")}
    defaults = _defaults(op)
    for name, value in options.items():
        if name in used:
            continue
        if name in defaults and not _same(value, defaults[name]):
            raise OptionNotExpressible(
                f"{op} was called with {name}={value!r}, which {fspec.name} has no parameter for "
                f"(the assignment's contract should exclude it)")
    return params


def _same(value, default) -> bool:
    if value is None or default is None:
        return value is default
    try:
        return _scalar(value, "") == _scalar(default, "")
    except OptionNotExpressible:
        return False


class BudgetSpent(Exception):
    """The graded function's wall-clock budget (or the submission's) is spent: its remaining calls fail
    at once, without reaching the worker."""


class ForwardFailed(Exception):
    """A backward example whose forward raised: there is no cache, so the backward fails that example."""


class Breaker:
    """Per-submission call state: the functions whose calls hung, crashed or ran out of memory (never
    called again), per function how many examples were graded and how many discarded, and the time
    budgets (``[limits] function_budget`` / ``submission_budget``).

    Budgets count the wall time spent in calls to the submission (what the submission controls; the
    grader's own work, such as importing torch or computing the reference, does not count).
    :meth:`begin` starts grading one function with an allowance of
    ``min(function_budget, unspent submission budget / functions left)``, so time a fast function does
    not use goes to the later ones and a slow function cannot starve those after it. Every call checks
    the allowance first (``BudgetSpent``: "time budget of N s spent") and runs with a call limit no
    longer than what is left of it (the runner's ``call_timeout`` is lowered for that call), so a
    submission slow on every call ends within its budget.
    """

    def __init__(self, function_budget: float | None = None, submission_budget: float | None = None,
                 clock=None):
        import time

        self.tripped: dict[str, BaseException] = {}
        self.graded: dict[str, int] = {}      # calls that reached the function and returned
        self.discarded: dict[str, int] = {}   # examples discarded (see _discard)
        self.function_budget = function_budget
        self.submission_budget = submission_budget
        self.clock = clock or time.monotonic
        self.used_total = 0.0                 # seconds spent in calls, whole submission
        self.used = 0.0                       # seconds spent in calls while grading the current function
        self.current: str | None = None
        self.allowance: float | None = None   # seconds for the function being graded
        self.spent: dict[str, float] = {}     # functions whose budget ran out -> the allowance they had

    def begin(self, fname: str, functions_left: int = 1) -> None:
        """Start grading ``fname`` (``functions_left`` counts it and the ones after it)."""
        allowance = self.function_budget
        if self.submission_budget is not None:
            share = max(0.0, self.submission_budget - self.used_total) / max(1, functions_left)
            allowance = share if allowance is None else min(allowance, share)
        self.current, self.allowance, self.used = fname, allowance, 0.0

    def _budget_error(self) -> BudgetSpent:
        n = self.allowance or 0.0
        self.spent.setdefault(self.current or "?", n)
        return BudgetSpent(f"time budget of {n:.3g} s spent: {self.current}'s remaining examples were not run")

    def call(self, runner: Runner, name: str, *args, keep=(), **kwargs):
        if name in self.tripped:
            raise self.tripped[name]
        return self.call_result(runner, name, *args, keep=keep, **kwargs).value

    def call_result(self, runner: Runner, name: str, *args, keep=(), return_args=(), **kwargs):
        """The sandbox's whole CallResult (value, mutated, output, seconds)."""
        if name in self.tripped:
            raise self.tripped[name]
        if self.current in self.spent:
            raise self._budget_error()
        limit = saved = None
        if self.allowance is not None:
            left = self.allowance - self.used
            if left <= 0:
                raise self._budget_error()
            saved = getattr(runner, "call_timeout", None)
            if saved is not None and left < saved:
                limit = max(0.05, left)
                runner.call_timeout = limit
        t0 = self.clock()
        try:
            extra = {"keep": list(keep)} if keep else {}
            if return_args:
                extra["return_args"] = list(return_args)
            result = runner.call(name, *args, **extra, **kwargs)
        except Exception as exc:
            if limit is not None and type(exc).__name__ == "CallTimeout":
                raise self._budget_error() from None   # cut by the budget, not by the call limit
            if _is_fatal(exc):
                self.tripped[name] = exc
            raise
        finally:
            took = self.clock() - t0
            self.used += took
            self.used_total += took
            if limit is not None:
                runner.call_timeout = saved
        return result if hasattr(result, "value") else _Plain(result)


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    first = text[0] if text else ""
    name = type(exc).__name__
    if name == "StudentException" and " raised " in first:
        first = first.split(" raised ", 1)[1]
        return first
    return f"{name}: {first}" if first else name


def _is_fatal(exc: BaseException) -> bool:
    """Timeouts, crashes and memory exhaustion: errors that cost a time limit or a worker restart."""
    names = {cls.__name__ for cls in type(exc).__mro__}
    return bool(names & {"CallTimeout", "WorkerCrashed", "MemoryLimit"})


LAYOUT_TO = {  # reference layout -> the declared one
    "NHWC": lambda a: a.transpose(0, *range(2, a.ndim), 1),
    "HWCF": lambda a: a.transpose(*range(2, a.ndim), 1, 0),
    "111F": lambda a: a.reshape((1,) * 3 + (-1,)),
    "1C11": lambda a: a.reshape(1, -1, 1, 1),
}
LAYOUT_FROM = {  # the declared layout -> the reference's; applied to received values only when they fit
    "NHWC": lambda a: a.transpose(0, a.ndim - 1, *range(1, a.ndim - 1)),
    "HWCF": lambda a: a.transpose(a.ndim - 1, a.ndim - 2, *range(0, a.ndim - 2)),
    "111F": lambda a: a.reshape(-1) if a.ndim == 4 and a.shape[:3] == (1, 1, 1) else a,
    "1C11": lambda a: a.reshape(-1) if a.ndim == 4 and a.shape[0] == a.shape[2] == a.shape[3] == 1 else a,
}


def to_layout(value, layout: str | None):
    """An array of the reference's layout in the declared one (``layouts`` of the spec)."""
    if layout not in LAYOUT_TO or not isinstance(value, np.ndarray):
        return value
    return np.ascontiguousarray(LAYOUT_TO[layout](value))


def from_layout(value, layout: str | None):
    """A received array back in the reference's layout (hostile data: an array of another rank is left
    as it is, and the comparison then reports its shape)."""
    if layout not in LAYOUT_FROM or not isinstance(value, np.ndarray) or value.dtype == object:
        return value
    if layout in ("NHWC", "HWCF") and value.ndim < 3:
        return value
    return LAYOUT_FROM[layout](value)


def _source_of(output: str, fspec: FunctionSpec) -> str | None:
    """The input whose layout an output has: ``dw`` → ``w``, ``out`` → ``x``."""
    if output.startswith("d") and output[1:] in fspec.layouts:
        return output[1:]
    return "x" if output in ("out", "dx") else None


_MISSING = object()


def _dict_value(expr: str, values: dict):
    """A param dict entry: ``"expr?"`` is left out of the dict when its option is absent or None."""
    optional = expr.endswith("?")
    expr = expr.rstrip("?")
    name = _option_name(expr.split("|")[0])
    if optional and values.get(name) is None:
        return _MISSING
    value = param_value(expr, values)
    return value.copy() if isinstance(value, np.ndarray) else value


def _literal(expr: str):
    """A quoted constant of an ``args`` entry: ``mode='max'`` passes the string ``'max'``."""
    import ast

    return ast.literal_eval(expr)


def student_args(fspec: FunctionSpec, values: dict) -> list:
    """The student's positional arguments for one call, built from ``values`` (inputs, options, cache)."""
    args = []
    for entry in fspec.args:
        if entry in fspec.dicts:
            d = {}
            for key, expr in fspec.dicts[entry].items():
                v = _dict_value(expr, values)
                if v is not _MISSING:
                    d[key] = to_layout(v, fspec.layouts.get(expr.rstrip("?")))
            args.append(d)
        elif "=" in entry:
            expr = entry.split("=", 1)[1].strip()
            args.append(_literal(expr) if expr[:1] in "'\"" else param_value(expr, values))
        elif entry in values:
            args.append(to_layout(values[entry], fspec.layouts.get(entry)))
        else:
            raise OptionNotExpressible(f"{fspec.name}'s argument {entry!r} has no value in this case")
    return args


def named_returns(result, fspec: FunctionSpec) -> dict:
    """``{name: value}`` of what the function returned, by the spec's ``returns`` (layouts undone)."""
    names = fspec.returns
    if len(names) == 1:
        result = (result,)
    elif not isinstance(result, (tuple, list)) or len(result) != len(names):
        kind = type(result).__name__
        raise ConventionError(f"{fspec.name} must return ({', '.join(names)}), but returned {kind}"
                              + (f" of length {len(result)}" if isinstance(result, (tuple, list)) else ""))
    return {n: (v if n == "cache" else from_layout(v, fspec.layouts.get(_source_of(n, fspec) or "")))
            for n, v in zip(names, result)}


def call_declared(runner: Runner, breaker: "Breaker", fspec: FunctionSpec, values: dict, *,
                  keep_cache: bool = True, dicts_after: bool = False):
    """Call the student's function with the declared arguments; ``(named returns, dicts after the call)``.

    The cache (``returns`` entry ``"cache"``) stays in the worker as a Handle. ``dicts_after``: the
    param dicts' values after the call (the worker sends them back; they are the submission's data)."""
    args = student_args(fspec, values)
    keep = (fspec.returns.index("cache"),) if keep_cache and "cache" in fspec.returns else ()
    dict_idx = [i for i, a in enumerate(fspec.args) if a in fspec.dicts] if dicts_after else []
    if dict_idx:
        result = breaker.call_result(runner, fspec.name, *args, keep=keep, return_args=dict_idx)
        after = getattr(result, "args_after", None) or [None] * len(dict_idx)
        named = named_returns(result.value, fspec)
        return named, {fspec.args[i]: a for i, a in zip(dict_idx, after)}
    return named_returns(breaker.call(runner, fspec.name, *args, keep=keep), fspec), {}


def case_values(op: str, args, kwargs) -> dict:
    """Inputs by name and options (defaults applied) of one reference call."""
    inputs, options = bind(op, args, kwargs)
    return {**dict(zip(_op_inputs(op), inputs)), **options}


def declared_forward(runner: Runner, breaker: Breaker, fspec: FunctionSpec, op: str, args, kwargs, keep_cache: bool):
    """Call the student's forward for one reference call; returns (out, cache_or_handle)."""
    _inputs, options = bind(op, args, kwargs)
    param_dict(fspec, options, op)
    named, _ = call_declared(runner, breaker, fspec, case_values(op, args, kwargs), keep_cache=keep_cache)
    outputs = [n for n in fspec.returns if n != "cache"]
    out = named[outputs[0]] if len(outputs) == 1 else tuple(named[n] for n in outputs)
    return out, named.get("cache")





def adapt(assignment: Assignment, runner: Runner, breaker: Breaker | None = None) -> dict[str, Callable]:
    """Reference op name -> callable with the reference signature, for every function of the spec."""
    breaker = breaker or Breaker()
    if assignment.convention == "reference":
        return {f.op: _passthrough(runner, breaker, f) for f in assignment.functions}
    by_name = {f.name: f for f in assignment.functions}
    impl = {}
    for f in assignment.functions:
        for v in (f, *variants(f)):
            if v.forward:
                fwd = by_name[v.forward]
                partner = v.op.replace("_backward", "_forward")
                fwd = next((w for w in variants(fwd) if w.op == partner), fwd)
                impl[v.op] = _declared_backward(runner, breaker, v, fwd)
            else:
                impl[v.op] = _declared_forward_op(runner, breaker, v)
    return impl


def variants(fspec: FunctionSpec) -> tuple[FunctionSpec, ...]:
    """The other reference ops one student function implements (``variants``: the course's
    ``pool_forward(A_prev, hparameters, mode)`` is max pooling with ``mode='max'`` and average pooling
    with ``mode='average'``), each as a FunctionSpec of that op and its own ``args``."""
    import dataclasses

    return tuple(dataclasses.replace(fspec, op=v["op"], args=tuple(v.get("args", fspec.args)), variants=())
                 for v in fspec.variants)


def variant_for(fspec: FunctionSpec, check: str) -> FunctionSpec:
    """The variant of ``fspec`` a check of ``convcheck.checks`` (``avg_pool_forward.matches_torch``) grades."""
    op = check.split(".", 1)[0]
    return next((v for v in variants(fspec) if v.op == op), fspec)


def _passthrough(runner, breaker, fspec):
    def call(*args, **kwargs):
        sig = _reference_signature(fspec.op)
        if sig is not None:
            bound = sig.bind(*args, **kwargs)
            bound.apply_defaults()
            args = tuple(bound.arguments.values())
        return breaker.call(runner, fspec.name, *args)
    call.__name__ = fspec.name
    return call


def _discard(state: "Breaker", fname: str, op: str, args, kwargs):
    """Discard the current example: it is outside what ``fname`` can be graded on.

    Inside a Hypothesis test the example is rejected (``hypothesis.reject()``, which the checks'
    harness lets through). Outside a test (re-running a shrunk case for the feedback) the
    reference's own result is returned. Discards are counted, so that a function with no gradable
    example at all fails.
    """
    state.discarded[fname] = state.discarded.get(fname, 0) + 1
    from hypothesis.control import currently_in_test_context

    if currently_in_test_context():
        from hypothesis import reject

        reject()
    from convcheck.checks.adapters import reference as ref

    return ref.OPS[op](*args, **kwargs)


def _declared_forward_op(runner, breaker, fspec):
    def forward(*args, **kwargs):
        try:
            inputs, options = bind(fspec.op, args, kwargs)
            param_dict(fspec, options, fspec.op)
        except OptionNotExpressible:
            return _discard(breaker, fspec.name, fspec.op, args, kwargs)
        out, _cache = declared_forward(runner, breaker, fspec, fspec.op, args, kwargs, keep_cache=True)
        breaker.graded[fspec.name] = breaker.graded.get(fspec.name, 0) + 1
        return out
    forward.__name__ = fspec.name
    return forward


def _declared_backward(runner, breaker, fspec, fwd):
    def backward(*args, **kwargs):
        dout, *fwd_args = args
        try:
            _out, cache = declared_forward(runner, breaker, fwd, fwd.op, tuple(fwd_args), kwargs, keep_cache=True)
        except OptionNotExpressible:
            return _discard(breaker, fspec.name, fspec.op, args, kwargs)
        except (BudgetSpent, ForwardFailed):
            raise
        except Exception as exc:
            if _is_fatal(exc):
                raise
            # No cache, no backward: the example fails (discarding it would let a forward that refuses
            # the inputs its backward gets wrong hide that backward's bug).
            raise ForwardFailed(f"{fwd.name} raised {_describe(exc)} when called to make the cache for "
                                f"{fspec.name}, so {fspec.name} could not be graded on this example") from None
        grads = backward_with_cache(runner, breaker, fspec, dout, cache)
        breaker.graded[fspec.name] = breaker.graded.get(fspec.name, 0) + 1
        return grads
    backward.__name__ = fspec.name
    return backward


def backward_with_cache(runner, breaker, fspec: FunctionSpec, dout, cache):
    """The student's backward on a given cache (a Handle), its gradients in the spec's ``returns`` order
    (``dout`` in the layout of the forward's ``out``)."""
    dout = to_layout(dout, fspec.layouts.get("dout", fspec.layouts.get("x")))
    named, _ = call_declared(runner, breaker, fspec, {"dout": dout, "cache": cache}, keep_cache=False)
    grads = tuple(named[n] for n in fspec.returns if n != "cache")
    return grads[0] if len(grads) == 1 else grads



class _Plain:
    """A runner that returns bare values (a test double) seen as a CallResult."""

    def __init__(self, value):
        self.value, self.mutated, self.output, self.seconds = value, [], "", 0.0


def mutated_arguments(runner, breaker: Breaker, name: str, args: list, keep=()) -> list[str]:
    """Call ``name(*args)`` in the worker; the names of the array arguments it modified in place (a dict's
    arrays as ``bn_param['running_mean']``). ``keep``: indexes of returned values left in the worker."""
    return list(breaker.call_result(runner, name, *args, keep=keep).mutated)
