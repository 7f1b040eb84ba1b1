"""``convcheck assignment``: student notebooks, ``.py`` stubs and instructor files from a spec.

    convcheck assignment list
    convcheck assignment export layers -o DIR     DIR/student/layers.ipynb, DIR/student/layers.py,
                                                  DIR/instructor/layers.toml, README-layers.md (+ solution)
    convcheck assignment self-check layers.py --assignment layers
    convcheck assignment check SPEC.toml [--solution PATH] [--max-examples N]
                                                  validate a spec, then grade its reference solution:
                                                  it must get full marks (exit 1 otherwise)
"""

from __future__ import annotations

import argparse
import sys


def register(sub) -> None:
    p = sub.add_parser("assignment", help="generate student notebooks and stubs from an assignment spec",
                       description=__doc__.split("\n\n", 1)[1], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.set_defaults(func=run, action=None)
    actions = p.add_subparsers(dest="action", metavar="ACTION")
    actions.add_parser("list", help="the bundled assignments")
    e = actions.add_parser("export", help="write the student notebook, the .py stub and the instructor's files")
    e.add_argument("name", help="assignment spec name (see `convcheck assignment list`)")
    e.add_argument("-o", "--out", required=True, help="output folder")
    c = actions.add_parser("self-check", help="self-check a student's .py or .ipynb on the small budget")
    c.add_argument("path")
    c.add_argument("--assignment", required=True)
    k = actions.add_parser("check", help="validate a spec and grade its reference solution (full marks or exit 1)")
    k.add_argument("spec", help="a spec .toml path or a bundled spec name")
    k.add_argument("--solution", help="the reference solution (default: solutions/<name>_solution.py)")
    k.add_argument("--max-examples", type=int, default=None, help="examples per check (default: the spec's)")


def run(args) -> int:
    from convcheck.assignments import notebooks
    from convcheck.assignments.grader.spec import SpecError, available_specs, load_spec

    try:
        if args.action == "export":
            written = notebooks.export_assignment(args.name, args.out)
            for path in written:
                print(f"wrote {path} ({path.stat().st_size:,} bytes)")
            return 0
        if args.action == "self-check":
            return notebooks.self_check_file(args.path, args.assignment)
        if args.action == "check":
            return check_spec(args)
        for name in available_specs():
            spec = load_spec(name)
            print(f"{name:<16} {spec.max_score:>5g} points  {len(spec.functions)} functions  {spec.title}")
        return 0
    except (SpecError, ValueError, FileNotFoundError) as exc:
        print(f"convcheck assignment: {exc}", file=sys.stderr)
        return 2


def check_spec(args) -> int:
    """``assignment check``: each step prints one line and returns False when the spec fails it. The steps
    run in order and stop at the first failure (a later step, such as grading mutants, needs the earlier
    ones to hold)."""
    from convcheck.assignments.grader.spec import load_spec

    spec = load_spec(args.spec)   # SpecError: the field named, exit 2
    print(f"spec {spec.name}: {len(spec.functions)} functions, {spec.max_score:g} points ({spec.source})")
    for step in (_known_names, _solution_full_marks):
        if not step(spec, args):
            return 1
    return 0


def _known_names(spec, args) -> bool:
    """Every check names a check convcheck has, and every grader check a function it can grade."""
    from convcheck.assignments.grader import course_checks
    from convcheck.assignments.grader.spec import unknown_checks

    unknown = unknown_checks(spec)
    if unknown:
        print(f"FAIL unknown checks: {', '.join(unknown)} (see `convcheck list`)")
        return False
    bad = []
    for f in spec.functions:
        for item in f.checks:
            if item.check in ("grader.values", "grader.dict_after"):
                if not course_checks.supports(f.op):
                    bad.append(f"{f.name} ({f.op})")
    if bad:
        print(f"FAIL grader.values has no cases or reference for: {', '.join(sorted(set(bad)))}")
        return False
    print("ok   every check is known")
    return True


def _solution_full_marks(spec, args) -> bool:
    """The spec's reference solution gets full marks: the spec is consistent with its own answer."""
    from pathlib import Path

    from convcheck.assignments import grade, notebooks

    path = Path(args.solution) if args.solution else notebooks.solution_path(spec.name)
    if path is None or not path.exists():
        print(f"FAIL no reference solution: give --solution (looked for solutions/{spec.name}_solution.py)")
        return False
    report = grade(path, spec, seed="practice", max_examples=args.max_examples)
    lost = [t for t in report.tests if t.status != "passed"]
    for t in lost:
        print(f"FAIL {t.name}\n     " + t.output.replace("\n", "\n     "))
    for m in report.messages:
        print(f"     note: {m}")
    verdict = "ok  " if not lost else "FAIL"
    print(f"{verdict} {path.name}: {report.score:g}/{report.max_score:g} in {report.execution_time:.1f} s")
    return not lost
