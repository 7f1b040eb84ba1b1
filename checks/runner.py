"""``verify(impl)``: run every applicable check on an implementation under Hypothesis; return a Report.

A failing check keeps the counterexample Hypothesis shrank it to: the last failing call of the test
is the minimal example, replayed once more before Hypothesis re-raises, so it is recorded there.
"""

from __future__ import annotations

import importlib
import time

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis.errors import Flaky, HypothesisException

from .arithmetic import ARITHMETIC_OPS
from .capabilities import Capabilities
from .harness import CheckFailure, Context
from .ops import OPS
from .properties import BY_NAME, SPECS, CheckSpec, applicable
from .report import CheckResult, Report

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
    what = f"{spec.name}: " if spec.input_names else ""  # a relation between calls, not one call
    d["call"] = f"{what}{case.op}({', '.join(p for p in (args, opts) if p)})"
    d["layout"] = caps.layout
    return d


def run_check(spec: CheckSpec, ctx: Context, *, max_examples: int = 50, seed: int | None = 0,
              database=None) -> CheckResult:
    """Run one check under Hypothesis; never raises for the implementation's failures."""
    calls = 0
    last_failure: list = []

    def body(case):
        nonlocal calls
        calls += 1
        try:
            spec.run(ctx, case)
        except CheckFailure as failure:
            last_failure[:] = [case, failure]
            raise

    test = given(spec.strategy(ctx))(body)
    test._hypothesis_internal_add_digest = spec.name.encode()  # one database key per check
    test = settings(
        max_examples=max_examples, database=database, deadline=None, derandomize=False,
        suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
        report_multiple_bugs=False, print_blob=False,
    )(test)
    if seed is not None and database is None:  # Hypothesis ignores the database of a seeded test
        test = hypothesis_seed(seed)(test)
    result = CheckResult(spec.name, spec.op, spec.property, "passed")
    start = time.perf_counter()
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
    except HypothesisException as exc:
        result.status, result.message = "error", f"Hypothesis could not run this check: {type(exc).__name__}: {exc}"
    except Exception as exc:  # an oracle or strategy problem, not the implementation's
        result.status = "error"
        result.message = f"the check itself failed ({type(exc).__name__}: {exc}); please report it to convcheck"
        if last_failure:
            result.counterexample = _counterexample(spec, last_failure[0], ctx.capabilities)
    result.seconds = time.perf_counter() - start
    result.examples = calls
    return result


def verify(impl, ops=None, *, checks=None, max_examples: int = 50, seed: int | None = 0, device: str = "cpu",
           dtype: str = "float64", capabilities: Capabilities | None = None, database=None,
           on_result=None) -> Report:
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
    """
    found, label = resolve_impl(impl)
    declared = impl.get("CAPABILITIES") if isinstance(impl, dict) else getattr(impl, "CAPABILITIES", None)
    caps = capabilities or declared or Capabilities()
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
        if missing:
            result = CheckResult(spec.name, spec.op, spec.property, "not provided",
                                 message=f"not provided: {', '.join(missing)}")
        elif dtype not in caps.dtypes:
            result = CheckResult(spec.name, spec.op, spec.property, "skipped",
                                 message=f"dtype {dtype} is not among the declared dtypes {caps.dtypes}")
        elif not applicable(spec, caps):
            result = CheckResult(spec.name, spec.op, spec.property, "skipped",
                                 message="outside the declared capabilities")
        else:
            result = run_check(spec, ctx, max_examples=max_examples, seed=seed, database=database)
        report.results.append(result)
        if on_result is not None:
            on_result(result)
    return report
