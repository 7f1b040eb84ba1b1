"""``convcheck grade``: grade one submission, or a folder of them in parallel with a gradebook."""

from __future__ import annotations

import json
import sys
from pathlib import Path


def register(sub) -> None:
    p = sub.add_parser(
        "grade",
        help="grade a submission (or a folder of submissions) against an assignment spec",
        description="Grade SUBMISSION (.py, .ipynb, a folder or a .zip) in an isolated worker. With --jobs, "
                    "--gradebook or --reports, SUBMISSION is a folder with one file or subfolder per student.",
    )
    p.add_argument("submission", nargs="?",
                   help="a .py, .ipynb, folder or .zip; or a folder of students' submissions")
    p.add_argument("--assignment", "-a", default="layers", help="bundled spec name or a .toml path (default: layers)")
    p.add_argument("--format", choices=("text", "json", "gradescope"), default="text")
    p.add_argument("--out", "-o", help="write the report to this file instead of stdout")
    p.add_argument("--seed", type=int, help="override the spec's Hypothesis seed")
    p.add_argument("--examples", type=int, help="override the spec's examples per check")
    p.add_argument("--color", choices=("auto", "always", "never"), default="auto")
    p.add_argument("--check-sandbox", action="store_true",
                   help="print what this machine enforces on the worker (reads, writes, network, ...) and exit")
    p.add_argument("--allow-weaker-sandbox", action="store_true",
                   help="grade even where this machine cannot confine the worker's reads, writes or network "
                        "(the report says which); refused by default")
    batch = p.add_argument_group("batch (a folder of students)")
    batch.add_argument("--jobs", "-j", type=int, help="grade this many students in parallel")
    batch.add_argument("--gradebook", help="write a CSV gradebook here at the end")
    batch.add_argument("--reports", help="folder for one JSON report per student (default: DIR/_reports)")
    batch.add_argument("--regrade", action="store_true", help="grade students who already have a report")
    batch.add_argument("--shard", help="I/K: grade only every K-th student starting at I (split over machines)")
    p.set_defaults(func=run)


def _is_batch(args) -> bool:
    return bool(args.jobs or args.gradebook or args.reports or args.regrade or args.shard)


def _terminate_cleanly():
    """SIGTERM/SIGINT end the grader through SystemExit, so every worker is killed and its folder removed."""
    import signal

    def stop(signum, frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, stop)


def run(args) -> int:
    from convcheck.assignments.grader.spec import SpecError, load_spec

    _terminate_cleanly()
    if args.check_sandbox:
        from convcheck.assignments.grader.sandbox import check_sandbox

        return check_sandbox()
    if not args.submission:
        print("convcheck grade: give a SUBMISSION (or --check-sandbox)", file=sys.stderr)
        return 2
    try:
        load_spec(args.assignment)
    except SpecError as exc:
        print(f"convcheck grade: {exc}", file=sys.stderr)
        return 2
    if _is_batch(args):
        return _run_batch(args)
    from convcheck.assignments.grader import grade

    if not Path(args.submission).exists():
        print(f"convcheck grade: {args.submission}: no such file or folder", file=sys.stderr)
        return 2
    from convcheck.assignments.grader import GraderError

    try:
        report = grade(args.submission, args.assignment, seed=args.seed, max_examples=args.examples,
                       allow_weaker_sandbox=args.allow_weaker_sandbox)
    except GraderError as exc:
        print(f"convcheck grade: {exc}", file=sys.stderr)
        return 2
    if args.format == "json":
        text = report.to_json()
    elif args.format == "gradescope":
        text = json.dumps(report.to_gradescope(), indent=2, ensure_ascii=False) + "\n"
    else:
        color = {"always": True, "never": False}.get(args.color, None if not args.out else False)
        text = report.to_text(color=color)
    if args.out:
        from convcheck.assignments.grader.batch import write_atomic

        write_atomic(Path(args.out), text)
    else:
        sys.stdout.write(text)
    return 0


def _run_batch(args) -> int:
    from convcheck.assignments.grader.batch import grade_folder

    folder = Path(args.submission)
    if not folder.is_dir():
        print(f"convcheck grade: batch mode needs a folder of submissions, got {folder}", file=sys.stderr)
        return 2
    shard = None
    if args.shard:
        i, _, k = args.shard.partition("/")
        shard = (int(i), int(k))
    result = grade_folder(folder, args.assignment, jobs=args.jobs or 1, reports=args.reports,
                          gradebook=args.gradebook, regrade=args.regrade, seed=args.seed,
                          max_examples=args.examples, shard=shard, progress=sys.stderr.isatty())
    print(f"graded {len(result.graded)}, skipped {len(result.skipped)} (already graded), "
          f"errors {len(result.errors)}" + (f"; gradebook: {result.gradebook}" if result.gradebook else ""))
    for student, error in result.errors.items():
        print(f"  {student}: {error}", file=sys.stderr)
    return 0
