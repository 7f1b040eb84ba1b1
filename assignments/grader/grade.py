"""Grade one submission: static import scan, load in the sandbox, the spec's checks per function, points.

The submission runs only in the sandbox's worker process; this process holds the spec, the
reference, the generated inputs and the expected values. Every check runs under Hypothesis with the
spec's seed and no example database, so a regrade gives the same report (see scoring.py for what is
excluded from the deterministic part).
"""

from __future__ import annotations

import ast
import math
import time
from pathlib import Path

from . import conventions, course_checks, feedback, grader_checks
from .scoring import FunctionTotal, GradeReport, TestResult
from .spec import Assignment, CheckItem, FunctionSpec, load_spec


class GraderError(RuntimeError):
    """A problem of the grader or the spec (never of the submission)."""


# --- static import scan ---------------------------------------------------------------------------

def _referenced_names(node: ast.AST) -> set[str]:
    names = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name):
            names.add(sub.id)
    return names


def import_rules(assignment: Assignment, source) -> dict:
    """The import rules for this submission (worker/imports.py): the spec's lists and its own modules."""
    from .policy import local_modules

    local = local_modules(getattr(source, "files", {}))
    return {"allowed": list(assignment.allowed_imports), "forbidden": list(assignment.forbidden_imports),
            "local": local}


def forbidden_uses(source, assignment: Assignment) -> tuple[dict[str, str], list[str]]:
    """Functions the static scan finds using a forbidden module: ``{function: reason}``, plus messages.

    A function is affected when the forbidden import is inside it, when it uses a name bound by a
    module-level forbidden import, or when it calls (or, for a cs231n backward, takes its cache from)
    an affected function. An import no graded function uses is reported but costs nothing.
    """
    from .policy import scan_imports

    forbidden = import_rules(assignment, source)
    functions: dict[str, ast.AST] = {}
    poisoned_names: dict[str, str] = {}   # module-level name -> "torch (line 3)"
    direct: dict[str, str] = {}
    messages: list[str] = []
    for cell in source.cells:
        if cell.error:
            continue
        uses = scan_imports(cell.source, forbidden, cell.filename)
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:
            continue
        tops = [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
        for n in tops:
            functions[n.name] = n
        for use in uses:
            where = f"{use.module} ({cell.filename}, line {use.lineno})"
            messages.append(f"import of {use.module!r} is not allowed in this assignment ({cell.filename}, "
                            f"line {use.lineno}); it allows {', '.join(assignment.allowed_imports)}")
            owner = next((n for n in tops if n.lineno <= use.lineno <= (n.end_lineno or n.lineno)), None)
            if owner is not None:
                direct.setdefault(owner.name, where)
                continue
            for stmt in tree.body:
                if not (stmt.lineno <= use.lineno <= (stmt.end_lineno or stmt.lineno)):
                    continue
                if isinstance(stmt, (ast.Import, ast.ImportFrom)):
                    for alias in stmt.names:
                        poisoned_names[(alias.asname or alias.name).split(".")[0]] = where
                else:
                    for target in ast.walk(stmt):
                        if isinstance(target, ast.Name) and isinstance(target.ctx, ast.Store):
                            poisoned_names[target.id] = where
    affected = dict(direct)
    for name, node in functions.items():
        hit = _referenced_names(node) & set(poisoned_names)
        if hit and name not in affected:
            affected[name] = poisoned_names[sorted(hit)[0]]
    changed = True
    while changed:  # functions calling affected functions are affected too
        changed = False
        for name, node in functions.items():
            if name in affected:
                continue
            hit = _referenced_names(node) & set(affected)
            if hit:
                callee = sorted(hit)[0]
                affected[name] = f"{affected[callee]} through {callee}"
                changed = True
    graded = {f.name for f in assignment.functions}
    result = {name: f"uses the module {why}, which this assignment does not allow" for name, why in affected.items()
              if name in graded}
    for f in assignment.functions:
        if f.forward and f.forward in result and f.name not in result:
            result[f.name] = f"needs the cache of {f.forward}, which {result[f.forward]}"
    return result, list(dict.fromkeys(messages))


# --- one function --------------------------------------------------------------------------------

def _run_verify(assignment: Assignment, fspec: FunctionSpec, impl: dict, names: list[str],
                max_examples: int, seed: int) -> dict:
    if not names:
        return {}
    from convcheck.checks import verify

    # No known differences or tolerance overrides: those are a library author's declarations, never a
    # student's (a submission must not be able to excuse its own failures).
    report = verify(impl, checks=names, max_examples=max_examples, seed=seed,
                    capabilities=assignment.capabilities, database=None, known_differences={}, tolerances={})
    return {r.name: r for r in report.results}


def _in_student_terms(message: str, assignment: Assignment, fspec: FunctionSpec) -> str:
    """Name the student's function where a check's message names the reference op it stands for."""
    if assignment.convention == "reference" or fspec.op == fspec.name:
        return message
    import re

    op = re.escape(fspec.op)
    message = re.sub(rf"\b{op} raised\b", f"{fspec.name} raised", message)
    # the sandbox's StudentException already says "<function> raised <error>": say it once
    message = message.replace(f"{fspec.name} raised StudentException: {fspec.name} raised", f"{fspec.name} raised")
    if message.startswith(f"StudentException: {fspec.name} raised"):
        message = message[len("StudentException: "):]
    return re.sub(rf"\b{op} (modified|returned)\b", rf"{fspec.name} \1", message)


def _failure_text(assignment, fspec, item: CheckItem, message: str, counterexample, impl, hint=None) -> str:
    lines = [f"Failed: {item.title}.", _in_student_terms(message, assignment, fspec).strip()]
    if not item.is_grader_check and any(v in ("NHWC", "HWCF", "111F") for v in fspec.layouts.values()):
        lines.append("(The line above gives shapes and indices in the reference's layout: x (N, C, H, W), w "
                     "(F, C, kh, kw), b (F,). The case and the arrays below are in this assignment's layouts.)")
    case = None
    received = expected = None
    if counterexample:
        try:
            case = feedback.case_from_dict(counterexample)
        except Exception:
            case = None
    if case is not None:
        lines.append("Smallest failing case (shrunk by Hypothesis):")
        lines.append(feedback.render_call(assignment, fspec, case))
        if not item.is_grader_check or item.check in ("grader.rectangular_windows", "grader.large_logits"):
            received, expected = _expected_received(assignment, fspec, item, case, impl)
            name = feedback.output_name(item.check, fspec.op)
            if assignment.convention != "reference":   # shown in the layouts the student's arrays have
                layout = fspec.layouts.get(conventions._source_of(name, fspec) or "")
                expected = conventions.to_layout(expected, layout)
                if not isinstance(received, BaseException):
                    received = conventions.to_layout(received, layout)
            if expected is not None:
                lines.append(f"Expected {name}:\n    " + feedback.format_array(expected).replace("\n", "\n    "))
            if isinstance(received, BaseException):
                said = grader_checks.describe_error(received)
                lines.append("Received: " + (said[len("StudentException: "):] if said.startswith("StudentException: ")
                                             else said))
                received = None
            elif received is not None:
                lines.append(f"Received {name}:\n    " + feedback.format_array(received).replace("\n", "\n    "))
    # A diagnosis by convcheck.checks ("looks like the kernel is flipped") comes first and replaces the
    # grader's own re-enactments; its generic formula is kept only when nothing more specific applies.
    diagnosis = hint if hint and hint.startswith("looks like") else None
    found = feedback.hints(fspec, item.check, case, message, received, expected, reenact=diagnosis is None)
    chosen = ([diagnosis.replace("looks like", "It looks like", 1)] if diagnosis else []) + found
    chosen += [item.hint] if item.hint else []
    if not chosen and hint:
        chosen = [hint]
    for h in chosen:
        lines.append(f"Hint: {h}")
    return "\n".join(dict.fromkeys(line for line in lines if line))


#: The most characters of feedback one test keeps (a shrunk case, expected vs received, a hint fit easily).
TEST_OUTPUT_LIMIT = 4000


def _cut_output(text: str) -> str:
    if len(text) <= TEST_OUTPUT_LIMIT:
        return text
    return text[:TEST_OUTPUT_LIMIT] + f"\n... [{len(text) - TEST_OUTPUT_LIMIT} more characters of feedback not shown]"


def _safe_failure_text(assignment, fspec, item, message, counterexample, impl, hint) -> str:
    """The feedback, or at least the check's message: a feedback problem must never stop the grading."""
    try:
        return _failure_text(assignment, fspec, item, message, counterexample, impl, hint)
    except Exception as exc:
        return (f"Failed: {item.title}.\n{message.strip()}\n(the grader could not render more feedback: "
                f"{type(exc).__name__})")


def _expected_received(assignment, fspec, item, case, impl):
    """The reference's value and the submission's value of the checked output on the shrunk case."""
    import numpy as np

    from convcheck.checks.adapters import reference as ref

    name = feedback.output_name(item.check, fspec.op)
    try:
        expected = feedback.pick(ref.OPS[fspec.op](*case.inputs, **case.options), fspec.op, name)
    except Exception:
        expected = None
    try:
        received = feedback.pick(impl[fspec.op](*case.inputs, **case.options), fspec.op, name)
    except Exception as exc:
        received = exc
    if not isinstance(expected, np.ndarray) and assignment.convention != "reference":
        expected = None
    return received, expected


#: Checks of how a function behaves besides its values: they count only when its value checks pass, so a
#: function that computes nothing (zeros) earns nothing from them, and a "not modified" verdict that the
#: worker computes (and a student could forge) can cost points but never earn them on its own.
AUXILIARY_CHECKS = ("grader.no_input_mutation", "grader.fresh_cache")
#: The grader's checks of course functions (course_checks.py), run on the spec's whole example budget.
COURSE_CHECKS = ("values", "dict_after", "dropout_test_identity", "dropout_train_values", "dropout_kept_fraction",
                 "dropout_same_seed", "dropout_backward_mask")
#: A function fails when fewer than this share of its examples (max_examples per check) reached it because
#: the others were discarded: it was not really graded.
MIN_GRADED_SHARE = 0.25


def _is_stop(message: str) -> bool:
    """A failure that stops a function rather than describing its values (reported once, not per test)."""
    return any(word in message for word in ("did not finish within", "time budget of", "worker died",
                                            "ran out of memory", "was stopped", "closed the grader's pipe"))


def grade_function(assignment, fspec, impl, runner, breaker, *, max_examples, seed, number,
                   functions_left: int = 1) -> list[TestResult]:
    begin = getattr(breaker, "begin", None)
    if begin is not None:
        begin(fspec.name, functions_left)
    verify_names = [c.check for c in fspec.checks if not c.is_grader_check]
    graded_before = breaker.graded.get(fspec.name, 0)
    discarded_before = breaker.discarded.get(fspec.name, 0)
    results = _run_verify(assignment, fspec, impl, verify_names, max_examples, seed)
    graded = breaker.graded.get(fspec.name, 0) - graded_before
    discarded = breaker.discarded.get(fspec.name, 0) - discarded_before
    # Discards are cases the convention cannot express (a spec matter; a forward's refusal fails instead),
    # so many are normal under per-dimension options; too few graded examples are not.
    enough = max(1, int(MIN_GRADED_SHARE * max_examples * len(verify_names)))
    mostly_discarded = discarded > 0 and graded < enough
    tests = []
    grader_budget = max(5, max_examples // 3)
    stops: dict[str, str] = {}   # a stopping failure's message -> the test that reported it first
    for i, item in enumerate(fspec.checks, 1):
        t0 = time.perf_counter()
        hint = None
        if item.is_grader_check:
            short = item.check.split(".", 1)[1]
            course = getattr(course_checks, short, None) if short in COURSE_CHECKS else None
            if short == "no_input_mutation" and course_checks.supports_mutation_check(fspec.op):
                r = course_checks.no_input_mutation(assignment, fspec, runner, breaker, max_examples=grader_budget,
                                                    seed=seed, item=item)
            elif course is not None:   # a course function's values: the spec's full budget
                r = course(assignment, fspec, runner, breaker, max_examples=max_examples, seed=seed, item=item)
            else:
                run = getattr(grader_checks, short)
                r = run(assignment, fspec, runner, breaker, max_examples=grader_budget, seed=seed)
            status, message, counterexample, examples = r.status, r.message, r.counterexample, r.examples
        else:
            r = results.get(item.check)
            if r is None:
                status, message, counterexample, examples = "failed", f"grader error: check {item.check!r} did not run", None, 0
            else:
                status, message, counterexample, examples = r.status, r.message, r.counterexample, r.examples
                hint = getattr(r, "hint", None)
                if status == "passed" and mostly_discarded:
                    status, message = "failed", (
                        f"could not be checked: {discarded} of {graded + discarded} examples were discarded "
                        f"(options {fspec.name} cannot take), so too few examples reached it")
        passed = status == "passed"
        name = f"{fspec.name}: {item.title}"
        if passed:
            output = ""
        elif fspec.name in getattr(breaker, "spent", {}) and ("time budget of" in (message or "")
                                                              or "could not be checked" in (message or "")):
            if "time budget of" in stops:
                output = (f"Failed: {item.title}.\nNot run: the time budget was spent (see "
                          f"\"{stops['time budget of']}\").")
            else:
                output = (f"Failed: {item.title}.\nNot run: time budget of {breaker.spent[fspec.name]:.3g} s spent. "
                          f"The calls to {fspec.name} (and the functions it needs) took that long in all, so its "
                          "remaining examples failed without running. Make it faster (vectorize the inner loops).")
                stops["time budget of"] = name
            counterexample = None
        elif _is_stop(message or "") and _stop_key(message) in stops:
            output = (f"Failed: {item.title}.\nNot run: the same stop as in \"{stops[_stop_key(message)]}\" "
                      "(reported there once).")
            counterexample = None
        else:
            shown = conventions.variant_for(fspec, item.check)
            output = _cut_output(_safe_failure_text(assignment, shown, item, message, counterexample, impl, hint))
            if item.edge and _at_edge(item, counterexample):   # an edge the course's hint/tests miss
                output = _cut_output(output + "\nNote: " + item.edge)
            if _is_stop(message or ""):
                stops[_stop_key(message)] = name
        seconds = time.perf_counter() - t0 + (getattr(r, "seconds", 0.0) if not item.is_grader_check and r else 0.0)
        tests.append(TestResult(
            name=name, function=fspec.name, check=item.check, number=f"{number}.{i}",
            score=item.points if passed else 0.0, max_score=item.points,
            status="passed" if passed else "failed", output=output, counterexample=counterexample,
            examples=examples, seconds=seconds,
        ))
    failed_values = [t for t in tests if t.check not in AUXILIARY_CHECKS and t.status != "passed"]
    if failed_values:
        for t in tests:
            if t.check in AUXILIARY_CHECKS and t.status == "passed":
                t.score, t.status = 0.0, "failed"
                t.output = (f"Failed: {t.name.split(': ', 1)[1]}.\nNot counted: this check earns its points only "
                            f"when {fspec.name}'s values are right, and "
                            f"{', '.join(repr(v.name.split(': ', 1)[1]) for v in failed_values)} failed.")
    return tests


def _at_edge(item: CheckItem, counterexample) -> bool:
    """Whether the shrunk failing case is on the check's contract edge (``[[edges]] when``)."""
    from .spec import edge_applies

    if not item.edge_when:
        return True
    try:
        case = feedback.case_from_dict(counterexample) if counterexample else None
    except Exception:
        case = None
    return case is not None and edge_applies(item.edge_when, case.options)


def _stop_key(message: str) -> str:
    import re

    # the same stop, whatever call or time it names: "did not finish within 10 s", "time budget of 3 s"
    for key in ("did not finish within", "time budget of", "worker died", "ran out of memory", "was stopped",
                "closed the grader's pipe"):
        if key in message:
            return key
    return re.sub(r"\[.*?\]", "", message)


def _zero(fspec: FunctionSpec, number: int, reason: str) -> list[TestResult]:
    return [TestResult(name=f"{fspec.name}: {item.title}", function=fspec.name, check=item.check,
                       number=f"{number}.{i}", score=0.0, max_score=item.points, status="failed", output=reason)
            for i, item in enumerate(fspec.checks, 1)]


def private_hypothesis_home() -> None:
    """Point Hypothesis's storage (its charmap cache; the grader uses no example database) at a private
    temporary folder removed at exit, so that grading never writes ``.hypothesis/`` into the current
    folder (a student's or a TA's)."""
    import atexit
    import shutil
    import tempfile

    from hypothesis.configuration import set_hypothesis_home_dir

    home = tempfile.mkdtemp(prefix="convcheck-hypothesis-")
    set_hypothesis_home_dir(home)
    atexit.register(shutil.rmtree, home, ignore_errors=True)


# --- a submission --------------------------------------------------------------------------------

def _open_sandbox(source, assignment: Assignment, allow_weaker: bool = False):
    from .environment import EnvironmentBuildError
    from .sandbox import Sandbox

    try:
        return _sandbox(Sandbox, source, assignment, allow_weaker)
    except EnvironmentBuildError as exc:  # the grader's problem (a NumPy it cannot install): refuse, say why
        raise GraderError(str(exc)) from None


def _sandbox(Sandbox, source, assignment, allow_weaker):
    return Sandbox(source, forbidden_imports=assignment.forbidden_imports,
                   allowed_imports=assignment.allowed_imports, call_timeout=assignment.call_timeout,
                   memory_mb=assignment.memory_mb, cpu_seconds=int(assignment.cpu_seconds or 600),
                   disk_mb=assignment.disk_mb, max_files=assignment.max_files, prefer=(assignment.name,),
                   load_timeout=getattr(assignment, "load_timeout", 30.0),
                   allow_weaker=allow_weaker or assignment.allow_weaker_sandbox, numpy=assignment.numpy)


def course_test_cells(spec: Assignment, messages: list[str]) -> list[str]:
    """One note in place of the load messages of the course's own test cells (``[limits] test_modules``):
    the imports of those modules, and the cells that stopped on a name they would have defined
    (``NameError: name 'zero_pad_test' is not defined``). Never fatal: the grader runs its own checks."""
    import re

    if not spec.test_modules:
        return messages
    mods = "|".join(re.escape(m) for m in spec.test_modules)
    imports = re.compile(rf"import of '({mods})(\.[\w.]+)?' is not allowed")
    missing = re.compile(r"NameError: name '(\w*test\w*)' is not defined")
    kept, skipped = [], []
    for m in messages:
        if imports.search(m):
            continue
        found = missing.search(m)
        if found:
            cell = re.search(r"\[cell (\d+)", m)
            skipped.append(f"cell {cell.group(1)}" if cell else found.group(1))
            continue
        kept.append(m)
    if len(kept) == len(messages):
        return messages
    note = (f"The course's own test cells were skipped: they need {', '.join(spec.test_modules)}, which the "
            "grader does not have (not a mistake of yours; the grader runs its own checks)")
    if skipped:
        note += f" — {len(skipped)} cell(s): " + "; ".join(skipped[:8])
    return kept + [note]


def _hung_at_load(loaded) -> bool:
    return bool(loaded.fatal and loaded.errors and "did not finish within" in loaded.errors[-1])


def _skip_cell(source, index: int, why: str):
    import dataclasses

    cells = list(source.cells)
    cells[index] = dataclasses.replace(cells[index], source="", error=why)
    return dataclasses.replace(source, cells=cells)


def _find_hanging_cell(source, spec, allow_weaker: bool = False) -> int | None:
    """The first cell whose run does not finish at load (binary search over prefixes of the cells)."""
    runnable = [i for i, c in enumerate(source.cells) if not c.error]
    if len(runnable) < 2:
        return None

    def hangs(k: int) -> bool:  # do the first k runnable cells hang?
        probe = source
        for i in runnable[k:]:
            probe = _skip_cell(probe, i, "not run (probe)")
        sandbox = _open_sandbox(probe, spec, allow_weaker)
        try:
            return _hung_at_load(sandbox.load)
        finally:
            sandbox.close()

    lo, hi = 1, len(runnable)   # the full set hangs; find the smallest prefix that does
    while lo < hi:
        mid = (lo + hi) // 2
        if hangs(mid):
            hi = mid
        else:
            lo = mid + 1
    return runnable[lo - 1]


def _load_skipping_hanging_cells(sandbox, spec, messages: list[str], max_cells: int = 2, allow_weaker: bool = False):
    """Load the submission; a notebook whose load hangs is loaded again without the cell that hangs (named
    in the report), so that the cell costs only the functions that need it."""
    loaded = sandbox.load
    source = sandbox.source
    for _ in range(max_cells):
        if not (_hung_at_load(loaded) and source.kind == "ipynb"):
            break
        index = _find_hanging_cell(source, spec, allow_weaker)
        if index is None:
            break
        label = source.cells[index].filename
        why = (f"{label} did not finish within {spec.load_timeout:g} s when the notebook was loaded (an "
               "infinite loop, or scratch work that takes too long?): the grader skipped it, so only what "
               "needs it fails")
        messages.append(why)
        source = _skip_cell(source, index, why)
        sandbox.close()
        sandbox = _open_sandbox(source, spec, allow_weaker)
        loaded = sandbox.load
    return sandbox, loaded


#: ``grade(..., seed=PRACTICE)`` grades with the spec's public seed (self-checks and practice runs).
PRACTICE = "practice"


def resolve_seed(spec: Assignment, seed, files: dict | None, label: str) -> int:
    """The seed of one grading: ``seed`` when given, the spec's for ``PRACTICE``, else a secret one."""
    if seed is None:
        from .secret import grading_seed

        return grading_seed(spec.name, files, label)
    if seed == PRACTICE:
        return spec.seed
    return int(seed)


def _read_source(path, spec: Assignment):
    """The SubmissionSource, or a SubmissionFormatError whatever went wrong reading it."""
    from .loader import SubmissionFormatError, SubmissionSource, load_submission_source

    if isinstance(path, SubmissionSource):
        return path
    try:
        return load_submission_source(path, prefer=(spec.name,))
    except SubmissionFormatError:
        raise
    except (OSError, ValueError, RecursionError, MemoryError, UnicodeError) as exc:
        raise SubmissionFormatError(f"{Path(path).name}: cannot be read ({type(exc).__name__}: "
                                    f"{str(exc)[:200]})") from None


def did_you_mean(spec: Assignment, defined: set[str]) -> str | None:
    """When none of ``spec``'s functions is defined but another bundled spec's are: which one."""
    from .spec import available_specs

    if not defined or defined & {f.name for f in spec.functions}:
        return None
    best = None
    for other in available_specs():
        if other == spec.name:
            continue
        try:
            names = {f.name for f in load_spec(other).functions}
        except Exception:
            continue
        hit = len(names & defined)
        if hit and (best is None or hit > best[1]):
            best = (other, hit, sorted(names & defined))
    if best is None:
        return None
    return (f"none of {spec.name}'s functions is defined, but {', '.join(best[2][:4])} "
            f"{'is' if len(best[2]) == 1 else 'are'} graded by {best[0]!r}: did you mean --assignment {best[0]}?")


def grade(submission_path, assignment: str | Assignment = "layers", *, seed: int | str | None = None,
          max_examples: int | None = None, name: str | None = None,
          allow_weaker_sandbox: bool = False) -> GradeReport:
    """Grade the submission at ``submission_path`` (.py, .ipynb, folder or .zip) against ``assignment``.

    ``seed``: None (default) draws a secret seed (secret.py) and records it in the report; an int
    replays a recorded one; ``PRACTICE`` uses the spec's public seed. ``max_examples`` overrides the
    spec's budget (tests use a small one). ``name`` is how the report calls the submission (default:
    the file or folder name, never an absolute path).

    Never raises for a submission: one that cannot be read gets a report with 0 points and the reason;
    an error of the grader itself gets a report that says so (``report.internal_error``), 0 points.
    """
    from .loader import SubmissionFormatError, SubmissionSource

    spec = assignment if isinstance(assignment, Assignment) else load_spec(assignment)
    max_examples = spec.max_examples if max_examples is None else int(max_examples)
    if isinstance(submission_path, SubmissionSource):
        path, label = submission_path, name or submission_path.name
    else:
        path = Path(submission_path)
        label = name or path.name
    start = time.perf_counter()
    try:
        source = _read_source(path, spec)
    except SubmissionFormatError as exc:
        reason = f"The submission could not be read: {exc}"
        seed = resolve_seed(spec, seed, None, label)
        tests = [t for n, f in enumerate(spec.functions, 1) for t in _zero(f, n, reason)]
        return _report(spec, label, seed, max_examples, tests, {}, [reason], start)
    seed = resolve_seed(spec, seed, source.files, label)
    try:
        return _grade_source(spec, source, label, seed, max_examples, start, allow_weaker_sandbox)
    except GraderError:
        raise  # the grader refuses (a sandbox weaker than promised): not a report for the student
    except Exception as exc:  # an error of the grader: a report that says so, never a traceback for the student
        import traceback

        detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()[:500]
        reason = ("The grader failed on this submission (an internal error, not a mistake of yours; your "
                  "instructor has been told). 0 points for now; it will be regraded.")
        tests = [t for n, f in enumerate(spec.functions, 1) for t in _zero(f, n, reason)]
        report = _report(spec, label, seed, max_examples, tests, {}, [reason], start)
        report.internal_error = detail
        return report


def _grade_source(spec, source, label, seed, max_examples, start, allow_weaker: bool) -> GradeReport:
    from .loader import SubmissionFormatError

    try:
        sandbox = _open_sandbox(source, spec, allow_weaker)
    except (SubmissionFormatError, OSError) as exc:
        reason = f"The submission could not be read: {exc}"
        tests = [t for n, f in enumerate(spec.functions, 1) for t in _zero(f, n, reason)]
        return _report(spec, label, seed, max_examples, tests, {}, [reason], start)
    messages: list[str] = []
    notes: dict[str, str] = {}
    tests: list[TestResult] = []
    from .sandbox import SandboxTooWeak, missing_protections

    try:
        excluded, _scan_messages = forbidden_uses(sandbox.source, spec)
        try:
            sandbox, loaded = _load_skipping_hanging_cells(sandbox, spec, messages, allow_weaker=allow_weaker)
        except SandboxTooWeak as exc:
            raise GraderError(str(exc)) from None
        missing = missing_protections(sandbox.confinement)
        if missing:
            messages.append(f"graded in a weaker sandbox: the worker's {', '.join(missing)} could not be confined "
                            "on this machine (allowed by --allow-weaker-sandbox, the spec, or a self-check)")
        messages += [str(e) for e in loaded.errors if str(e) not in messages] + [str(n) for n in loaded.notes]
        messages = course_test_cells(spec, messages)
        defined = set(loaded.defined)
        if not loaded.fatal:
            hint = did_you_mean(spec, defined)
            if hint:
                messages.append(hint)
        breaker = conventions.Breaker(spec.function_budget, spec.submission_budget)
        impl = conventions.adapt(spec, sandbox, breaker)
        for number, fspec in enumerate(spec.functions, 1):
            if fspec.name in excluded:
                notes[fspec.name] = excluded[fspec.name]
                tests += _zero(fspec, number, f"0 points: {fspec.name} {excluded[fspec.name]}.")
                continue
            if loaded.fatal:
                notes[fspec.name] = "submission not loaded"
                tests += _zero(fspec, number, "The submission could not be loaded: " + "; ".join(loaded.errors))
                continue
            if fspec.name not in defined:
                notes[fspec.name] = "not defined"
                tests += _zero(fspec, number, f"The submission does not define {fspec.name}.")
                continue
            if fspec.forward and fspec.forward not in defined:
                notes[fspec.name] = f"needs {fspec.forward}"
                tests += _zero(fspec, number, f"{fspec.name} takes the cache of {fspec.forward}, which the "
                                              "submission does not define.")
                continue
            tests += grade_function(spec, fspec, impl, sandbox, breaker, max_examples=max_examples, seed=seed,
                                    number=number, functions_left=len(spec.functions) - number + 1)
        for fname, exc in sorted(breaker.tripped.items()):
            messages.append(f"{fname} was stopped after {grader_checks.describe_error(exc)}; its later calls "
                            "were not made and count as failed")
        for fname, allowance in breaker.spent.items():
            notes.setdefault(fname, f"time budget of {allowance:.3g} s spent")
    except SandboxTooWeak as exc:  # a restarted worker found weaker than the first: stop, never blame the student
        raise GraderError(str(exc)) from None
    finally:
        sandbox.close()
    report = _report(spec, label, seed, max_examples, tests, notes, messages, start)
    report.sandbox = f"NumPy {sandbox.env.numpy_version}; {sandbox.isolation}"
    if spec.numpy:
        report.numpy = sandbox.env.numpy_version
    return report


def _report(spec, label, seed, max_examples, tests, notes, messages, start) -> GradeReport:
    totals = []
    for f in spec.functions:
        mine = [t for t in tests if t.function == f.name]
        totals.append(FunctionTotal(f.name, sum(t.score for t in mine), f.max_score,
                                    defined=notes.get(f.name) != "not defined", note=notes.get(f.name, "")))
    report = GradeReport(assignment=spec.name, submission=label, seed=seed, max_examples=max_examples,
                         tests=tests, functions=totals, messages=list(dict.fromkeys(messages)))
    report.execution_time = time.perf_counter() - start
    assert math.isclose(report.max_score, spec.max_score), "every check of the spec is in the report"
    return report
