"""``verify(impl)``: run every applicable check on an implementation under Hypothesis; return a Report.

A failing check keeps the counterexample Hypothesis shrank it to: the last failing call of the test
is the minimal example, replayed once more before Hypothesis re-raises, so it is recorded there.
A :class:`Session` carries what one run learnt across checks: a shrunk counterexample is replayed
first by the related checks of the same op (one failure, one shrink), and an exception raised
identically for every case is an environment error, reported in full once.
"""

from __future__ import annotations

import importlib
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from fnmatch import fnmatchcase

from hypothesis import HealthCheck, Phase, given, reject, settings
from hypothesis import seed as hypothesis_seed
from hypothesis.errors import Flaky, HypothesisException, Unsatisfiable

from .arithmetic import ARITHMETIC_OPS
from .capabilities import Capabilities
from .harness import CheckFailure, Context, Unsupported, check_forward_shape
from .ops import OPS
from .properties import BY_NAME, SPECS, CheckSpec, applicable
from .report import CheckResult, Report
from .tolerances import override_for, overridden

#: exceptions that say "the environment", not "this case", when raised for every case alike
_ENVIRONMENT_TYPES = ("ImportError", "ModuleNotFoundError", "OSError", "FileNotFoundError")
_ENVIRONMENT_WORDS = re.compile(r"backend|compiler|shared object|no module|not (built|installed|available|found)|"
                                r"cannot (open|find|load)|dlopen|driver|toolchain", re.IGNORECASE)


@dataclass
class Session:
    """What one verification run shares between its checks (the plugin keeps one per pytest session).

    failures       op → (shrunk case, check name): replayed first by the op's related checks.
    environment    (exception type, text) → the check that first saw it raised for every case.
    """

    failures: dict = field(default_factory=dict)
    environment: dict = field(default_factory=dict)


class _AllDeclined(BaseException):
    """Stops a check whose cases the adapter keeps declining (BaseException: Hypothesis does not shrink it)."""

KNOWN_OPS = tuple(OPS) + tuple(ARITHMETIC_OPS)


def list_checks(ops=None) -> list[CheckSpec]:
    """Every check, or those of the ops named in ``ops`` (a name or a list of names)."""
    if ops is None:
        return list(SPECS)
    ops = [ops] if isinstance(ops, str) else list(ops)
    unknown = [op for op in ops if op not in KNOWN_OPS]
    if unknown:
        raise ValueError(f"unknown op(s) {unknown}; known: {', '.join(KNOWN_OPS)}")
    return [spec for spec in SPECS if spec.op in ops]


def resolve_impl(impl) -> tuple[dict, str]:
    """(name -> callable for the known op names that ``impl`` provides, a label for reports).

    ``impl``: a dict, a module or any object with the ops as attributes, or a module path string.
    """
    label = getattr(impl, "__name__", None) or type(impl).__name__
    if isinstance(impl, str):
        label = impl
        impl = importlib.import_module(impl)
    if isinstance(impl, dict):
        label = "dict(" + ", ".join(sorted(impl)) + ")" if len(impl) <= 3 else f"dict of {len(impl)} ops"
        found = {name: fn for name, fn in impl.items() if name in KNOWN_OPS and callable(fn)}
    else:
        found = {name: getattr(impl, name) for name in KNOWN_OPS if callable(getattr(impl, name, None))}
    return found, label


def _counterexample(spec: CheckSpec, case, caps: Capabilities) -> dict:
    d = case.to_dict()
    names = spec.input_names or (OPS[case.op].inputs if case.op in OPS else None)
    d["input_names"] = list(names) if names else [f"arg{i}" for i in range(len(case.inputs))]
    args = ", ".join(d["input_names"][: len(case.inputs)])
    opts = ", ".join(f"{k}={v!r}" for k, v in case.options.items())
    if spec.input_names and case.notes:  # a relation between calls: the notes spell out every call
        d["call"], d["notes"] = f"{spec.name}: {case.notes}", ""
    else:
        what = f"{spec.name}: " if spec.input_names else ""
        d["call"] = f"{what}{case.op}({', '.join(p for p in (args, opts) if p)})"
    d["layout"] = caps.layout
    return d


def _case_dtype(case):
    for a in case.inputs:
        if getattr(a, "dtype", None) is not None and a.dtype.kind == "f":
            return str(a.dtype)
    return None


def _expected_dtype(spec: CheckSpec, ctx: Context) -> str:
    from .properties import _numeric_dtype

    return _numeric_dtype(ctx) if spec.kind == "gradient" else ctx.dtype


def _run_once(spec: CheckSpec, ctx: Context, case) -> None:
    """``spec.run`` on one case; a failing backward whose own forward disagrees with dout's shape is
    reported as that (the backward's error would only be a symptom)."""
    try:
        spec.run(ctx, case)
    except CheckFailure:
        if case.op != spec.op:
            raise
        try:
            check_forward_shape(ctx, case)
        except CheckFailure as shape_failure:
            if shape_failure.raised is None:  # a shape, not the forward's own exception
                raise shape_failure from None
        except Unsupported:
            pass
        raise


def run_check(spec: CheckSpec, ctx: Context, *, max_examples: int = 50, seed: int | None = 0,
              database=None, session: Session | None = None, tolerance_override: dict | None = None) -> CheckResult:
    """Run one check under Hypothesis; never raises for the implementation's failures."""
    session = session if session is not None else Session()
    result = CheckResult(spec.name, spec.op, spec.property, "passed")
    start = time.perf_counter()
    if tolerance_override:
        result.note = (f"tolerance of {tolerance_override['op']} loosened to rtol={tolerance_override['rtol']:g}, "
                       f"atol={tolerance_override['atol']:g}: {tolerance_override['reason']}")
    with overridden(tolerance_override):
        if _replay_related_failure(spec, ctx, session, result):
            result.seconds = time.perf_counter() - start
            return result
        _run_hypothesis(spec, ctx, session, result, max_examples=max_examples, seed=seed, database=database)
    result.seconds = time.perf_counter() - start
    return result


def _replay_related_failure(spec, ctx, session, result) -> bool:
    """Try the shrunk counterexample of a related check of the same op; True when it fails here too."""
    prior = session.failures.get(spec.op) if spec.shares_cases else None
    if prior is None:
        return False
    case, origin = prior
    if _case_dtype(case) != _expected_dtype(spec, ctx):
        return False
    try:
        _run_once(spec, ctx, case)
    except CheckFailure as failure:
        if failure.raised in session.environment:
            return False  # Hypothesis will find it again and report it as that environment error
        result.status, result.message, result.hint = "failed", failure.message, failure.hint
        result.counterexample = _counterexample(spec, case, ctx.capabilities)
        result.cases = result.examples = 1
        result.replayed_from = origin
        return True
    except (Unsupported, HypothesisException):
        return False
    except Exception:  # noqa: BLE001 - the check itself failed on it: let Hypothesis run and report that
        return False
    return False


def _run_hypothesis(spec, ctx, session, result, *, max_examples, seed, database):
    calls = {"cases": 0, "shrink": 0, "passed": 0, "known_env": 0}
    declined: Counter = Counter()
    raised: set = set()
    last_failure: list = []
    known_env = set(session.environment)

    def body(case):
        calls["shrink" if last_failure else "cases"] += 1
        try:
            _run_once(spec, ctx, case)
        except Unsupported as exc:
            if not last_failure:
                calls["cases"] -= 1  # not a checked case
                declined[exc.reason] += 1
                if not calls["passed"] and sum(declined.values()) >= max(10, 2 * max_examples):
                    raise _AllDeclined() from None
            reject()
        except CheckFailure as failure:
            if failure.raised in known_env and not last_failure:
                calls["known_env"] += 1
                raised.add(failure.raised)
                return  # already reported once, by the check that found it
            raised.add(failure.raised)
            last_failure[:] = [case, failure]
            raise
        calls["passed"] += 1
        raised.add(None)

    test = given(spec.strategy(ctx))(body)
    test._hypothesis_internal_add_digest = spec.name.encode()  # one database key per check
    test = settings(
        max_examples=max_examples, database=database, deadline=None, derandomize=False,
        suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
        report_multiple_bugs=False, print_blob=False,
    )(test)
    if seed is not None and database is None:  # Hypothesis ignores the database of a seeded test
        test = hypothesis_seed(seed)(test)
    try:
        test()
    except CheckFailure as failure:
        case, shrunk = last_failure if last_failure else (None, failure)
        result.status, result.message, result.hint = "failed", shrunk.message, shrunk.hint
        result.counterexample = _counterexample(spec, case, ctx.capabilities) if case is not None else None
    except Flaky:  # it failed, then passed on the same input: the failure is real, the impl unstable
        case, failure = last_failure if last_failure else (None, None)
        result.status = "failed"
        result.message = ((failure.message + " — " if failure else "")
                          + "and the same call passed when repeated: the implementation is not deterministic "
                            "(random state, or state kept between calls)")
        result.hint = failure.hint if failure else None
        result.counterexample = _counterexample(spec, case, ctx.capabilities) if case is not None else None
    except _AllDeclined:
        pass  # reported below, as declined
    except HypothesisException as exc:
        if not (isinstance(exc, Unsatisfiable) and declined and not calls["passed"]):
            result.status = "error"
            result.message = f"Hypothesis could not run this check: {type(exc).__name__}: {exc}"
    except Exception as exc:  # an oracle or strategy problem, not the implementation's
        result.status = "error"
        result.message = f"the check itself failed ({type(exc).__name__}: {exc}); please report it to convcheck"
        if last_failure:
            result.counterexample = _counterexample(spec, last_failure[0], ctx.capabilities)
    result.examples = calls["cases"] + calls["shrink"]
    result.cases, result.shrink_steps = calls["cases"], calls["shrink"]
    result.declined = dict(declined)
    if declined and not calls["passed"] and result.status == "passed" and not last_failure \
            and not calls["known_env"]:
        result.status = "declined"
        result.message = f"every case was declined ({_declined_text(declined)}): nothing was checked"
    _environment(spec, result, raised, calls, session)
    if result.status == "failed" and last_failure and spec.shares_cases:
        session.failures.setdefault(spec.op, (last_failure[0], spec.name))


def _declined_text(declined: dict) -> str:
    return ", ".join(f"{n} × {reason}" for reason, n in sorted(declined.items(), key=lambda kv: -kv[1]))


def _environment(spec, result, raised: set, calls: dict, session: Session) -> None:
    """Every call raised the same exception, one that names the environment (an ImportError, a missing
    backend or compiler): an environment error, not a bug of one case. A case-independent ValueError
    stays a failure (it may be the library's own bug)."""
    if len(raised) != 1 or None in raised:
        return
    (sig,) = raised
    total = calls["cases"] + calls["shrink"]
    if calls["known_env"] and calls["known_env"] == calls["cases"]:
        origin = session.environment[sig]
        result.status = "error"
        result.environment = f"{sig[0]}: {sig[1]}"
        result.message = (f"environment error, the same as in {origin} ({result.environment}): "
                          f"every case raised it, nothing was checked")
        result.hint, result.counterexample = None, None
        return
    if result.status == "failed" and calls["cases"] == 1 and (
            sig[0] in _ENVIRONMENT_TYPES or _ENVIRONMENT_WORDS.search(sig[1])):
        result.status = "error"
        result.environment = f"{sig[0]}: {sig[1]}"
        result.message = (f"environment error: every call ({total}) raised {result.environment} — nothing was "
                          f"checked; a missing module, backend or compiler? [{spec.op}]")
        result.hint = ("the same exception for every configuration is not a bug of one case: fix the "
                       "environment (or the adapter's import) and run again")
        session.environment.setdefault(sig, spec.name)


def _declared(impl, name: str):
    return impl.get(name) if isinstance(impl, dict) else getattr(impl, name, None)


def known_difference(known: dict, spec: CheckSpec) -> str | None:
    """The reason ``KNOWN_DIFFERENCES`` gives for ``spec`` (by check name, op or family), or None."""
    if not known:
        return None
    family = spec.op.rsplit("_", 1)[0] if spec.op.endswith(("_forward", "_backward")) else spec.op
    for key in (spec.name, spec.op, family):
        if key in known:
            return known[key]
    return None


def check_known_differences(known: dict) -> dict:
    """Validate ``KNOWN_DIFFERENCES``: keys are check names, op names or families; values the reasons."""
    if not known:
        return {}
    if not isinstance(known, dict):
        raise ValueError(f"KNOWN_DIFFERENCES must be a dict {{check name: reason}}, got {type(known).__name__}")
    families = {op.rsplit("_", 1)[0] for op in OPS if op.endswith(("_forward", "_backward"))}
    for key, reason in known.items():
        if key not in BY_NAME and key not in KNOWN_OPS and key not in families:
            raise ValueError(f"KNOWN_DIFFERENCES[{key!r}]: no such check, op or family "
                             f"(see convcheck verify X --list)")
        if not isinstance(reason, str) or not reason.strip():
            raise ValueError(f"KNOWN_DIFFERENCES[{key!r}] must state the reason as a non-empty string")
    return dict(known)


def excluded(spec: CheckSpec, patterns) -> str | None:
    """The first pattern (fnmatch, on the check's name or its op) that excludes ``spec``, or None."""
    for pattern in patterns or ():
        if fnmatchcase(spec.name, pattern) or fnmatchcase(spec.op, pattern):
            return pattern
    return None


def verify(impl, ops=None, *, checks=None, max_examples: int = 50, seed: int | None = 0, device: str = "cpu",
           dtype: str = "float64", capabilities: Capabilities | None = None, database=None,
           on_result=None, exclude=None, known_differences: dict | None = None, tolerances: dict | None = None,
           session: Session | None = None) -> Report:
    """Verify ``impl`` (a module, object or dict of reference-named ops) against the reference and torch.

    ops          only the checks of these ops (default: every op; missing ones are "not provided").
    checks       only the checks with these names (``"conv_forward.matches_torch"``, ...).
    max_examples / seed   Hypothesis budget and seed per check (fixed seed: reproducible runs).
    device       torch device of the torch oracle ('cpu', 'cuda').
    capabilities what the implementation supports: the cases stay inside it (layout NHWC transposes);
                 default: the impl's own ``CAPABILITIES`` attribute (or key), else everything.
    database     a Hypothesis example database, or None (grading: no replay across submissions).
                 With a database the seed is not applied: the saved failures are replayed first, then
                 examples are random (Hypothesis does not use the database of a seeded test).
    on_result    optional callback called with each CheckResult as it is produced.
    exclude      fnmatch patterns of check names or ops not to run (reported "excluded").
    known_differences  {check, op or family: reason}; default: the impl's ``KNOWN_DIFFERENCES``. A failure
                 there is reported "known difference" (not a failure); a pass "difference gone" (a failure:
                 the entry is stale).
    tolerances   {op or family: {"rtol", "atol", "reason"}}; default: the impl's ``TOLERANCES``.
    session      a :class:`Session` to share across calls (the pytest plugin's); default: one per call.
    """
    found, label = resolve_impl(impl)
    caps = capabilities or _declared(impl, "CAPABILITIES") or Capabilities()
    known = check_known_differences(_declared(impl, "KNOWN_DIFFERENCES") if known_differences is None
                                    else known_differences)
    overrides = _declared(impl, "TOLERANCES") if tolerances is None else tolerances
    override_for(overrides, ())  # validates every entry now: a missing reason is a usage error
    session = session if session is not None else Session()
    specs = list_checks(ops)
    if checks is not None:
        unknown = [name for name in checks if name not in BY_NAME]
        if unknown:
            raise ValueError(f"unknown check(s) {unknown}; see convcheck.checks.list_checks()")
        wanted = set(checks)
        specs = [spec for spec in specs if spec.name in wanted]
    ctx = Context(impl=found, capabilities=caps, dtype=dtype, device=device)
    if device != "cpu":
        try:
            ctx.torch  # noqa: B018 - builds the torch oracle now: an unusable device is a usage error
        except RuntimeError as exc:
            raise ValueError(f"device={device!r} cannot be used: {exc}") from None
    report = Report(impl=label, device=device, dtype=dtype, max_examples=max_examples, seed=seed,
                    layout=caps.layout)
    for spec in specs:
        missing = [op for op in spec.requires if op not in found]
        try:
            check_caps = caps.for_ops(*spec.requires)
        except ValueError as exc:
            check_caps, why = None, str(exc)
        pattern = excluded(spec, exclude)
        if missing:
            result = CheckResult(spec.name, spec.op, spec.property, "not provided",
                                 message=f"not provided: {', '.join(missing)}")
        elif pattern is not None:
            result = CheckResult(spec.name, spec.op, spec.property, "excluded", message=f"excluded by {pattern!r}")
        elif check_caps is None:
            result = CheckResult(spec.name, spec.op, spec.property, "skipped", message=why)
        elif dtype not in check_caps.dtypes:
            result = CheckResult(spec.name, spec.op, spec.property, "skipped",
                                 message=f"dtype {dtype} is not among the declared dtypes {check_caps.dtypes}"
                                         + (f" of {', '.join(spec.requires)}" if caps.ops else ""))
        elif not applicable(spec, check_caps):
            result = CheckResult(spec.name, spec.op, spec.property, "skipped",
                                 message="outside the declared capabilities")
        else:
            ctx.capabilities = check_caps  # the check draws inside what every op it calls supports
            result = run_check(spec, ctx, max_examples=max_examples, seed=seed, database=database, session=session,
                               tolerance_override=override_for(overrides, spec.requires))
            _apply_known_difference(result, known_difference(known, spec))
        report.results.append(result)
        if on_result is not None:
            on_result(result)
    return report


def _apply_known_difference(result: CheckResult, reason: str | None) -> None:
    if reason is None:
        return
    if result.status == "failed":
        result.status = "known difference"
        result.message = f"known difference ({reason}): {result.message}"
        result.note = "; ".join(filter(None, [result.note, f"known difference: {reason}"]))
    elif result.status == "passed":
        result.status = "difference gone"
        result.message = (f"KNOWN_DIFFERENCES says {reason!r}, but the check passed: the difference is gone "
                          f"(remove the entry from KNOWN_DIFFERENCES)")
