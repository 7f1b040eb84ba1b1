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


def param_value(expr: str, options: dict):
    """Evaluate a spec param expression: ``"stride"``, ``"kernel.1"``, ``"stride|kernel.0"``."""
    for alternative in expr.split("|"):
        name, _, index = alternative.strip().partition(".")
        if name not in options:
            raise OptionNotExpressible(f"param {expr!r} names option {name!r}, which this op does not have")
        value = options[name]
        if value is None:
            continue
        if index:
            value = value[int(index)] if isinstance(value, (tuple, list)) else value
        return _scalar(value, name)
    raise OptionNotExpressible(f"param {expr!r}: every alternative is None")


def param_dict(fspec: FunctionSpec, options: dict, op: str) -> dict | None:
    """The cs231n param dict of one call, after checking no unmapped option differs from its default."""
    if not fspec.params:
        used = set()
        params = None
    else:
        params = {key: param_value(expr, options) for key, expr in fspec.params.items()}
        used = {alt.strip().partition(".")[0] for expr in fspec.params.values() for alt in expr.split("|")}
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

    def call_result(self, runner: Runner, name: str, *args, keep=(), **kwargs):
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
            result = runner.call(name, *args, keep=list(keep), **kwargs) if keep else runner.call(name, *args, **kwargs)
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


def _pair(result, fname: str):
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        kind = type(result).__name__
        raise ConventionError(f"{fname} must return (out, cache), but returned {kind}"
                              + (f" of length {len(result)}" if isinstance(result, (tuple, list)) else ""))
    return result


def cs231n_forward(runner: Runner, breaker: Breaker, fspec: FunctionSpec, op: str, args, kwargs, keep_cache: bool):
    """Call the student's forward for one reference call; returns (out, cache_or_handle)."""
    inputs, options = bind(op, args, kwargs)
    params = param_dict(fspec, options, op)
    call_args = list(inputs) + ([params] if params is not None else [])
    result = breaker.call(runner, fspec.name, *call_args, keep=(1,) if keep_cache else ())
    return _pair(result, fspec.name)


def adapt(assignment: Assignment, runner: Runner, breaker: Breaker | None = None) -> dict[str, Callable]:
    """Reference op name -> callable with the reference signature, for every function of the spec."""
    breaker = breaker or Breaker()
    if assignment.convention == "reference":
        return {f.op: _passthrough(runner, breaker, f) for f in assignment.functions}
    by_name = {f.name: f for f in assignment.functions}
    impl = {}
    for f in assignment.functions:
        if f.forward:
            impl[f.op] = _cs231n_backward(runner, breaker, f, by_name[f.forward])
        else:
            impl[f.op] = _cs231n_forward_op(runner, breaker, f)
    return impl


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


def _cs231n_forward_op(runner, breaker, fspec):
    def forward(*args, **kwargs):
        try:
            inputs, options = bind(fspec.op, args, kwargs)
            param_dict(fspec, options, fspec.op)
        except OptionNotExpressible:
            return _discard(breaker, fspec.name, fspec.op, args, kwargs)
        out, _cache = cs231n_forward(runner, breaker, fspec, fspec.op, args, kwargs, keep_cache=True)
        breaker.graded[fspec.name] = breaker.graded.get(fspec.name, 0) + 1
        return out
    forward.__name__ = fspec.name
    return forward


def _cs231n_backward(runner, breaker, fspec, fwd):
    def backward(*args, **kwargs):
        dout, *fwd_args = args
        try:
            _out, cache = cs231n_forward(runner, breaker, fwd, fwd.op, tuple(fwd_args), kwargs, keep_cache=True)
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
        grads = breaker.call(runner, fspec.name, dout, cache)
        breaker.graded[fspec.name] = breaker.graded.get(fspec.name, 0) + 1
        return tuple(grads) if isinstance(grads, list) else grads
    backward.__name__ = fspec.name
    return backward


def backward_with_cache(runner, breaker, fspec: FunctionSpec, dout, cache):
    """The student's backward on a given cache (a Handle), for the stale-cache check."""
    grads = breaker.call(runner, fspec.name, dout, cache)
    return tuple(grads) if isinstance(grads, list) else grads



class _Plain:
    """A runner that returns bare values (a test double) seen as a CallResult."""

    def __init__(self, value):
        self.value, self.mutated, self.output, self.seconds = value, [], "", 0.0


def mutated_arguments(runner, breaker: Breaker, name: str, args: list) -> list[str]:
    """Call ``name(*args)`` in the worker; the names of the array arguments it modified in place."""
    return list(breaker.call_result(runner, name, *args).mutated)
