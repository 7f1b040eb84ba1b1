"""Student notebooks and ``.py`` stubs generated from an assignment spec, and the self-check they run.

``build_notebook("layers")`` writes, from ``specs/layers.toml`` and ``templates/functions.toml``:
instructions with the formulas, one stub per function (raising ``NotImplementedError``) and, after
each group of functions, a self-check cell. ``self_check_cell`` grades the functions it is given
with the grader's own checks on a small budget, in the grader's isolated worker process: a stub
reports "not implemented", an infinite loop a timeout, a wrong answer the shrunk counterexample.
"""

from __future__ import annotations

import ast
import dataclasses
import re
import sys
import textwrap
import tomllib
from pathlib import Path

from .grader.spec import SPECS_DIR, Assignment, FunctionSpec, load_spec
from .grader.self_check import BUDGETS

TEMPLATES = Path(__file__).parent / "templates"
#: Seconds per call in a self-check: shorter than the grader's, so a student's infinite loop costs
#: little; a correct naive loop on the checks' small arrays takes milliseconds.
SELF_CHECK_TIMEOUT = 5.0
#: Hypothesis examples per check in a notebook self-check (the grader uses the spec's budget).
SELF_CHECK_EXAMPLES = BUDGETS["small"]


def function_docs() -> dict:
    """The per-function texts of ``templates/functions.toml``."""
    with open(TEMPLATES / "functions.toml", "rb") as fh:
        return tomllib.load(fh)


def _doc(fspec: FunctionSpec, docs: dict, spec: Assignment) -> dict:
    """The texts of one function, with a generic fallback for a function the templates don't know."""
    if fspec.name in docs:
        return docs[fspec.name]
    if spec.convention == "declared":   # the signature the spec declares
        signature = f"{fspec.name}({', '.join(a.split('=')[0] for a in fspec.args)})"
        returns = fspec.returns[0] if len(fspec.returns) == 1 else f"({', '.join(fspec.returns)})"
    else:
        import inspect

        from convcheck import reference

        fn = reference.OPS.get(fspec.op) if hasattr(reference, "OPS") else None
        signature = f"{fspec.name}{inspect.signature(fn)}" if fn else f"{fspec.name}(*args)"
        returns = "what the reference op returns"
    return {"signature": signature, "returns": returns, "title": fspec.name.replace("_", " "),
            "task": f"Implement `{fspec.name}` (the reference op `{fspec.op}`).", "formula": "", "todo": "implement"}


def groups(spec: Assignment) -> list[list[FunctionSpec]]:
    """Functions grouped for the notebook's sections: a forward with the backward(s) that use it."""
    out: list[list[FunctionSpec]] = []
    for f in spec.functions:
        partner = f.forward or (f.name[: -len("_backward")] + "_forward" if f.name.endswith("_backward") else None)
        home = next((g for g in out if partner and any(h.name == partner for h in g)), None)
        if home is not None:
            home.append(f)
        else:
            out.append([f])
    return out


def stub_source(fspec: FunctionSpec, doc: dict) -> str:
    """``def name(...):`` with a docstring and a TODO, raising NotImplementedError."""
    body = textwrap.fill(doc["task"], 96, initial_indent="    ", subsequent_indent="    ").strip()
    return (f"def {doc['signature']}:\n"
            f'    """{body}\n\n    Returns {doc["returns"]}.\n    """\n'
            f"    # TODO: {doc['todo']}\n"
            f"    raise NotImplementedError(\"{fspec.name} is not implemented yet\")\n")


def _points(value: float) -> str:
    return str(int(value)) if value == int(value) else f"{value:g}"


# --- the notebook -------------------------------------------------------------------------------

def build_notebook(name: str):
    """The student notebook of the assignment ``name`` (an ``nbformat`` v4 notebook)."""
    import nbformat.v4 as nbf

    spec = load_spec(name)
    docs = function_docs()
    cells = [nbf.new_markdown_cell(_intro(spec)),
             _code(nbf, "import numpy as np\n\nfrom convcheck.assignments.notebooks import self_check_cell",
                   ["setup"])]
    all_names = []
    for i, group in enumerate(groups(spec), 1):
        names = [f.name for f in group]
        all_names += names
        points = sum(f.max_score for f in group)
        heading = docs.get(group[0].name, {}).get("title", group[0].name).split(":")[0]
        cells.append(nbf.new_markdown_cell(f"## {i}. {heading} ({_points(points)} points)"))
        for f in group:
            doc = _doc(f, docs, spec)
            checks = "\n".join(f"- {c.title} ({_points(c.points)} point{'s' if c.points != 1 else ''})"
                               for c in f.checks)
            cells.append(nbf.new_markdown_cell(
                f"### `{doc['signature']}` → {doc['returns']}\n\n{doc['task']}\n\n{doc['formula'].strip()}\n\n"
                f"**Graded by:**\n{checks}"))
            cells.append(_code(nbf, stub_source(f, doc), ["stub", f"function:{f.name}"]))
        cells.append(nbf.new_markdown_cell(
            f"Run the self-check of {', '.join(f'`{n}`' for n in names)} (it grades them as the grader "
            f"will, on a small budget):"))
        cells.append(_code(nbf, f"self_check_cell({spec.name!r}, [{', '.join(names)}])", ["self-check"]))
    cells.append(nbf.new_markdown_cell(
        "## Everything together\n\nThe self-check of all the graded functions; full marks here means the "
        f"grader's checks pass on {SELF_CHECK_EXAMPLES} examples each. The grader itself runs "
        f"{spec.max_examples} examples per check, on inputs of its own (a seed you do not know)."))
    cells.append(_code(nbf, f"self_check_cell({spec.name!r}, [{', '.join(all_names)}], final=True)",
                       ["self-check", "final"]))
    nb = nbf.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    nb.metadata["convcheck"] = {"assignment": spec.name, "functions": all_names}
    return nb


def _code(nbf, source: str, tags: list[str]):
    cell = nbf.new_code_cell(source)
    cell.metadata["tags"] = tags
    return cell


def _intro(spec: Assignment) -> str:
    table = "\n".join(f"| `{f.name}` | {_points(f.max_score)} |" for f in spec.functions)
    return f"""# {spec.title}

{spec.contract}

**How this notebook works.** Each function below is a stub that raises `NotImplementedError`. Replace
the body (keep the name and the arguments), then run the self-check cell that follows it. A
self-check grades your functions with the grader's own checks: Hypothesis generates inputs, compares
your results with PyTorch and, when something is wrong, shrinks the failure to the smallest input
that shows it and prints it. Your code runs in a separate process with a time limit of
{SELF_CHECK_TIMEOUT:g} s per call, so an infinite loop gives a timeout message rather than a hung
notebook. Self-checks use {SELF_CHECK_EXAMPLES} examples per check; the grader uses {spec.max_examples}.

Imports the grader does not allow: {', '.join(f'`{m}`' for m in spec.forbidden_imports) or 'none'}.

**What the grader runs.** Every code cell of this notebook, in order, as "Run All" would — except the
template's own lines (the set-up's `from convcheck... import self_check_cell` and the `self_check_cell(...)`
calls), which it skips. Cells you add run too, with the same limits: a cell that raises costs only the
functions defined after its error in that cell, and a cell that does not finish within
{spec.load_timeout:g} s (an infinite loop, a long experiment) is skipped and named in your report, so
only what needs it fails. Keep long experiments out of the notebook you submit.

| function | points |
| --- | --- |
{table}
| **total** | **{_points(spec.max_score)}** |"""


# --- the .py variant ---------------------------------------------------------------------------------

def build_stub_module(name: str) -> str:
    """The ``.py`` stub variant: the same stubs, formulas in the docstrings, a self-check ``__main__``."""
    spec = load_spec(name)
    docs = function_docs()
    contract = textwrap.fill(spec.contract, 96) if spec.contract else ""
    parts = [f'"""{spec.title}\n\n{contract}\n\nFill in each function, then self-check them in an isolated '
             f"process ({SELF_CHECK_EXAMPLES} examples per check;\nthe grader uses {spec.max_examples}):\n\n"
             f"    convcheck assignment self-check {spec.name}.py --assignment {spec.name}\n\n"
             f'Submit this file.\n"""\n\nimport numpy as np\n']
    for f in spec.functions:
        doc = _doc(f, docs, spec)
        src = stub_source(f, doc)
        formula = re.sub(r"\n{3,}", "\n\n", doc["formula"].strip())
        if formula:
            note = textwrap.indent(formula.replace('"""', "'''"), "    ")
            src = src.replace('    """\n', f'\n{note}\n    """\n', 1).replace('    """', '    r"""', 1)
        parts.append(src)
    return "\n\n".join(parts)


# --- the self-check ---------------------------------------------------------------------------------

@dataclasses.dataclass
class SelfCheckSummary:
    """What a self-check found, per function: ``status`` is passed, failed or not implemented."""

    score: float
    max_score: float
    functions: dict            # name -> (status, score, max_score)
    text: str

    @property
    def full_marks(self) -> bool:
        return abs(self.score - self.max_score) < 1e-9


def _restricted(spec: Assignment, names: list[str]) -> Assignment:
    """The spec cut down to ``names`` (and the forwards their backward needs), with the notebook's
    shorter time limit: grading only the functions of one section keeps a self-check fast."""
    wanted = set(names)
    for f in spec.functions:
        if f.name in wanted and f.forward:
            wanted.add(f.forward)
    functions = tuple(f for f in spec.functions if f.name in wanted)
    if not functions:
        raise ValueError(f"none of {names} is graded by the assignment {spec.name!r}; it grades "
                         f"{', '.join(f.name for f in spec.functions)}")
    return dataclasses.replace(spec, functions=functions,
                               call_timeout=min(spec.call_timeout, SELF_CHECK_TIMEOUT))


def summarize(report, names: list[str] | None = None, final: bool = False, grader_examples=None,
              forwards: dict | None = None) -> SelfCheckSummary:
    """Turn a GradeReport into the lines a self-check prints. ``forwards`` maps a backward to the
    forward whose cache it takes: a backward is not judged while its forward is not implemented."""
    lines, functions = [], {}
    forwards = forwards or {}
    shown = [f for f in report.functions if names is None or f.name in names]
    width = max((len(f.name) for f in shown), default=10)
    for f in shown:
        tests = [t for t in report.tests if t.function == f.name]
        failed = [t for t in tests if t.status != "passed"]
        forward = forwards.get(f.name)
        if not failed:
            status = "passed"
            lines.append(f"  ✓ {f.name:<{width}}  {_points(f.max_score)}/{_points(f.max_score)}")
        elif f.score == 0 and any("NotImplementedError" in t.output for t in failed):
            status = "not implemented"
            lines.append(f"  … {f.name:<{width}}  not implemented yet (it raises NotImplementedError)")
        elif f.score == 0 and forward and functions.get(forward, ("",))[0] == "not implemented":
            status = "not implemented"
            lines.append(f"  … {f.name:<{width}}  not checked yet: it needs {forward}, which is not implemented")
        else:
            status = "failed"
            lines.append(f"  ✗ {f.name:<{width}}  {_points(f.score)}/{_points(f.max_score)}")
            for t in failed:
                lines.append(f"      ✗ {t.name.split(': ', 1)[-1]}")
                lines.append(textwrap.indent(t.output.strip() or "(no message)", " " * 10))
        functions[f.name] = (status, f.score, f.max_score)
    score = sum(v[1] for v in functions.values())
    max_score = sum(v[2] for v in functions.values())
    for message in report.messages:
        lines.append(f"  note: {message}")
    total = f"Total: {_points(score)}/{_points(max_score)}"
    if final and abs(score - max_score) < 1e-9:
        total += " — full marks on the self-check"
        if grader_examples:
            total += f" (the grader runs {grader_examples} examples per check)"
    lines.append(total)
    return SelfCheckSummary(score, max_score, functions, "\n".join(lines))


def self_check_summary(assignment: str, functions, *, final: bool = False) -> SelfCheckSummary:
    """Grade ``functions`` (function objects from a notebook, or a file path) in the isolated worker
    with the worker's "small" budget (``SELF_CHECK_EXAMPLES`` examples per check)."""
    from .grader.self_check import self_check

    spec = load_spec(assignment)
    if isinstance(functions, (str, Path)):
        names, sub, target = None, dataclasses.replace(
            spec, call_timeout=min(spec.call_timeout, SELF_CHECK_TIMEOUT)), str(functions)
    else:
        target = list(functions)
        names = [fn.__name__ for fn in target]
        sub = _restricted(spec, names)
    report = self_check(target, sub, budget="small")
    forwards = {f.name: f.forward for f in spec.functions if f.forward}
    summary = summarize(report, names, final=final, grader_examples=spec.max_examples, forwards=forwards)
    if "NOT CONFINED" in report.sandbox:
        summary.text += ("\n(This machine could not confine the self-check's worker as the grader does — "
                         "fine for checking your own code; the self-check grades nothing for marks.)")
    return summary


def self_check_cell(assignment: str, functions, *, final: bool = False, file=None) -> None:
    """What a notebook's self-check cell runs: grade, then print one line per function (and the
    shrunk counterexample of each failure). Never raises: a problem of the self-check itself is
    printed as such, so the notebook keeps running."""
    out = file or sys.stdout
    names = [getattr(fn, "__name__", str(fn)) for fn in functions]
    print(f"Self-check of {', '.join(names)}: {SELF_CHECK_EXAMPLES} examples per check, in a separate "
          f"process (time limit {SELF_CHECK_TIMEOUT:g} s per call)", file=out, flush=True)
    try:
        summary = self_check_summary(assignment, functions, final=final)
    except Exception as exc:  # the grader's problem, not the student's: say so and keep the kernel alive
        print(f"The self-check could not run ({type(exc).__name__}: {exc}). This is not a mark on your code.",
              file=out)
        return None
    print(summary.text, file=out, flush=True)
    return None


def self_check_file(path, assignment: str) -> int:
    """``python layers.py``: self-check a student's ``.py`` file; exit status 0 on full marks."""
    print(f"Self-check of {Path(path).name} ({assignment}): {SELF_CHECK_EXAMPLES} examples per check, in a "
          "separate process")
    try:
        summary = self_check_summary(assignment, str(path))
    except Exception as exc:
        print(f"The self-check could not run ({type(exc).__name__}: {exc}).")
        return 2
    print(summary.text)
    return 0 if summary.full_marks else 1


# --- solutions and export ---------------------------------------------------------------------------

#: Reference solutions live in the source checkout's ``solutions/`` folder, never in the installed package:
#: a worker that could read an installed solution could copy it (see the grader's threat model).
SOLUTIONS = Path(__file__).resolve().parent.parent / "solutions"


def solution_path(name: str) -> Path | None:
    """The reference solution of an assignment in the source checkout (instructors only), or None
    when convcheck runs from an installed wheel, which carries no solutions."""
    candidate = SOLUTIONS / f"{name}_solution.py"
    return candidate if candidate.exists() else None


def solution_functions(name: str) -> dict[str, str]:
    """Top-level function sources of the solution, by name (tests fill the stubs with them)."""
    path = solution_path(name)
    if path is None:
        raise FileNotFoundError(f"no bundled solution for {name!r}")
    text = path.read_text(encoding="utf-8")
    tree = ast.parse(text)
    return {n.name: ast.get_source_segment(text, n) for n in tree.body if isinstance(n, ast.FunctionDef)}


def instructor_readme(spec: Assignment, spec_file: str) -> str:
    rows = "\n".join(f"| `{f.name}` | `{f.op}` | " + "; ".join(f"{c.title} ({_points(c.points)})" for c in f.checks)
                     + " |" for f in spec.functions)
    return f"""# {spec.title} — instructor's files

- `{spec_file}`: the assignment spec (functions, checks, points, budget, limits). Edit it to change
  points or the budget; `convcheck grade --assignment path/to/{spec_file}` uses the edited copy.
- `../student/{spec.name}.ipynb` and `../student/{spec.name}.py`: what students get.

Budget: {spec.max_examples} Hypothesis examples per check; {spec.call_timeout:g} s per call,
{_points(spec.function_budget or 0)} s per function and {_points(spec.submission_budget or 0)} s per submission (time spent in the
submission's calls; 0 = none), {spec.memory_mb} MB memory cap. Forbidden imports:
{', '.join(spec.forbidden_imports) or 'none'}.

Seeds: each grading draws a secret seed from the course secret (`$CONVCHECK_SECRET_FILE`, default
`~/.config/convcheck/grader-secret`, created on first use; share it between your grading machines) and
records it in the JSON report and in Gradescope's `extra_data`; `convcheck grade ... --seed N` replays a
grading byte for byte. The spec's seed ({spec.seed}) is public: `--practice` uses it, never for marks.

## Grading

    convcheck grade submission.ipynb --assignment {spec.name}
    convcheck grade submissions/ --assignment {spec.name} --jobs 2 --gradebook grades.csv

## Gradescope

    convcheck gradescope-bundle --assignment {spec.name} -o autograder.zip

Upload `autograder.zip` as the assignment's autograder; Gradescope runs `setup.sh` once and
`run_autograder` for each submission, writing `results.json`.

## What is graded ({_points(spec.max_score)} points)

| function | reference op | checks (points) |
| --- | --- | --- |
{rows}
"""


def export_assignment(name: str, out_dir) -> list[Path]:
    """Write the student notebook, the ``.py`` stub variant and the instructor's files under ``out_dir``."""
    import nbformat

    spec = load_spec(name)
    out = Path(out_dir)
    student, instructor = out / "student", out / "instructor"
    student.mkdir(parents=True, exist_ok=True)
    instructor.mkdir(parents=True, exist_ok=True)
    written = []
    nb_path = student / f"{spec.name}.ipynb"
    nb = build_notebook(name)
    nbformat.validate(nb)
    nbformat.write(nb, nb_path)
    written.append(nb_path)
    py_path = student / f"{spec.name}.py"
    py_path.write_text(build_stub_module(name), encoding="utf-8")
    written.append(py_path)
    source = Path(spec.source) if spec.source and Path(spec.source).exists() else SPECS_DIR / f"{spec.name}.toml"
    spec_path = instructor / f"{spec.name}.toml"
    spec_path.write_text(source.read_text(encoding="utf-8"), encoding="utf-8")
    written.append(spec_path)
    readme = instructor / f"README-{spec.name}.md"
    readme.write_text(instructor_readme(spec, spec_path.name), encoding="utf-8")
    written.append(readme)
    solution = solution_path(spec.name)
    if solution is not None:
        target = instructor / f"{spec.name}_solution.py"
        target.write_text(solution.read_text(encoding="utf-8"), encoding="utf-8")
        written.append(target)
    return written
