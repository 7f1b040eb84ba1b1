"""``convcheck assignment``: student notebooks, ``.py`` stubs and instructor files from a spec.

    convcheck assignment list
    convcheck assignment export layers -o DIR     DIR/student/layers.ipynb, DIR/student/layers.py,
                                                  DIR/instructor/layers.toml, README-layers.md (+ solution)
    convcheck assignment self-check layers.py --assignment layers
    convcheck assignment check SPEC [--solution FILE] [--mutants [--per-function N] [--jobs N]]
                                                  validate a spec, grade its own solution (full marks
                                                  expected), and report the student mistakes it misses
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
    k = actions.add_parser("check", help="validate a spec, grade its solution, and (--mutants) measure its checks")
    k.add_argument("spec", help="a bundled spec name or a .toml path")
    k.add_argument("--solution", help="the spec's reference solution (default: solutions/NAME_solution.py)")
    k.add_argument("--mutants", action="store_true",
                   help="grade single-point mutants of the solution and report which mistakes survive")
    k.add_argument("--per-function", type=int, help="at most N mutants per function (sampled with --seed)")
    k.add_argument("--jobs", "-j", type=int, default=2, help="mutants graded in parallel (default 2)")
    k.add_argument("--seed", type=int, default=0, help="which mutants, and the grading seed (default 0)")
    k.add_argument("--examples", type=int, help="examples per check (default: the spec's budget)")
    k.add_argument("--work", help="folder for the mutants and their reports (kept: a rerun resumes; "
                                  "default build/mutants-NAME)")
    k.add_argument("--json", action="store_true", help="the mutation report as JSON")


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
            return _check(args)
        for name in available_specs():
            spec = load_spec(name)
            print(f"{name:<16} {spec.max_score:>5g} points  {len(spec.functions)} functions  {spec.title}")
        return 0
    except (SpecError, ValueError, FileNotFoundError) as exc:
        print(f"convcheck assignment: {exc}", file=sys.stderr)
        return 2


def _check(args) -> int:
    """``convcheck assignment check``: the spec parses and names known checks; its solution gets full
    marks; with ``--mutants``, how many single-point mutants of the solution its checks kill."""
    import json
    from pathlib import Path

    from convcheck.assignments import notebooks
    from convcheck.assignments.grader import grade
    from convcheck.assignments.grader.spec import load_spec, unknown_checks

    spec = load_spec(args.spec)
    unknown = unknown_checks(spec)
    if unknown:
        print(f"convcheck assignment check: {spec.name}: unknown checks {', '.join(unknown)}", file=sys.stderr)
        return 2
    from convcheck.assignments.grader import course_checks

    ungradable = sorted({f"{f.name} ({f.op})" for f in spec.functions for item in f.checks
                         if item.check in ("grader.values", "grader.dict_after") and not course_checks.supports(f.op)})
    if ungradable:
        print(f"convcheck assignment check: {spec.name}: grader.values has no cases or reference for "
              f"{', '.join(ungradable)} (course_checks.FAMILIES)", file=sys.stderr)
        return 2
    solution = Path(args.solution) if args.solution else notebooks.solution_path(spec.name)
    if solution is None or not solution.exists():
        print(f"convcheck assignment check: no solution for {spec.name!r}: pass --solution FILE", file=sys.stderr)
        return 2
    print(f"{spec.name}: {len(spec.functions)} functions, {sum(len(f.checks) for f in spec.functions)} checks, "
          f"{spec.max_score:g} points", file=sys.stderr)
    report = grade(solution, spec, seed=args.seed, max_examples=args.examples)
    print(f"{solution.name}: {report.score:g} / {report.max_score:g} with seed {args.seed}", file=sys.stderr)
    if not report.full_marks:
        sys.stdout.write(report.to_text(color=False))
        print("the spec does not give its own solution full marks: fix the spec (or the solution) first",
              file=sys.stderr)
        return 1
    if not args.mutants:
        return 0
    from convcheck.assignments.grader.mutants import mutation_report

    work = Path(args.work or Path("build") / f"mutants-{spec.name}")
    result = mutation_report(spec, solution, work=work, per_function=args.per_function, seed=args.seed,
                             jobs=args.jobs, max_examples=args.examples, progress=sys.stderr.isatty())
    sys.stdout.write(json.dumps(result.to_dict(), indent=2) + "\n" if args.json else result.to_text())
    return 0
