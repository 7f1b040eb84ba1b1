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
    seeds = p.add_mutually_exclusive_group()
    seeds.add_argument("--seed", type=int, help="replay a grading: the seed recorded in its JSON report "
                                                "(default: a secret seed, see assignments/grader/secret.py)")
    seeds.add_argument("--practice", action="store_true",
                       help="grade with the spec's public seed (practice runs; never for marks)")
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
    batch.add_argument("--shard", help="I/K with 0 <= I < K: grade students I, I+K, I+2K, ... of the sorted "
                                       "list (machine I of K; I counts from 0)")
    p.set_defaults(func=run)


def _is_batch(args) -> bool:
    return bool(args.jobs or args.gradebook or args.reports or args.regrade or args.shard)


def _terminate_cleanly():
    """SIGTERM/SIGINT end the grader through SystemExit, so every worker is killed and its folder removed."""
    import signal

    def stop(signum, frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, stop)
def _seed(args):
    from convcheck.assignments.grader.grade import PRACTICE

    return PRACTICE if args.practice else args.seed


def class_folder(folder: Path, spec) -> int:
    """How many students ``folder`` seems to hold (0: it looks like one student's submission).

    One student's folder has one submission file (or one named after the assignment); a class folder
    has several submission files or subfolders and none of them is the assignment's file."""
    from convcheck.assignments.grader.batch import SUBMISSION_SUFFIXES
    from convcheck.assignments.grader.loader import SubmissionFormatError, load_submission_source

    if not folder.is_dir():
        return 0
    try:
        load_submission_source(folder, prefer=(spec.name,))
        return 0
    except SubmissionFormatError as exc:
        if "several candidate files" not in str(exc):
            return 0
    entries = [e for e in folder.iterdir() if not e.name.startswith((".", "_"))
               and (e.is_dir() or e.suffix.lower() in SUBMISSION_SUFFIXES)]
    return len(entries) if len(entries) >= 2 else 0


def run(args) -> int:
    from convcheck.assignments.grader.grade import private_hypothesis_home
    from convcheck.assignments.grader.spec import SpecError, load_spec

    _terminate_cleanly()
    if args.check_sandbox:
        from convcheck.assignments.grader.environment import EnvironmentBuildError
        from convcheck.assignments.grader.sandbox import check_sandbox

        try:
            return check_sandbox(numpy=load_spec(args.assignment).numpy)
        except (SpecError, EnvironmentBuildError) as exc:
            print(f"convcheck grade: {exc}", file=sys.stderr)
            return 2
    if not args.submission:
        print("convcheck grade: give a SUBMISSION (or --check-sandbox)", file=sys.stderr)
        return 2
    try:
        spec = load_spec(args.assignment)
    except SpecError as exc:
        print(f"convcheck grade: {exc}", file=sys.stderr)
        return 2
    private_hypothesis_home()
    if not _is_batch(args):
        if not Path(args.submission).exists():
            print(f"convcheck grade: {args.submission}: no such file or folder", file=sys.stderr)
            return 2
        count = class_folder(Path(args.submission), spec)
        if count:
            print(f"convcheck grade: {args.submission} looks like a class folder ({count} submissions, none "
                  f"named {spec.name}.py/.ipynb): grading it as a batch, one report per student in "
                  f"{Path(args.submission) / '_reports'} (use --jobs N to grade N at once)", file=sys.stderr)
            return _run_batch(args)
        return _run_one(args)
    return _run_batch(args)


def _run_one(args) -> int:
    from convcheck.assignments.grader import grade

    if not Path(args.submission).exists():
        print(f"convcheck grade: {args.submission}: no such file or folder", file=sys.stderr)
        return 2
    from convcheck.assignments.grader import GraderError

    try:
        report = grade(args.submission, args.assignment, seed=_seed(args), max_examples=args.examples,
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
    if report.internal_error:
        print(f"convcheck grade: internal error of the grader (the report says so): {report.internal_error}",
              file=sys.stderr)
        return 3
    return 0


def _run_batch(args) -> int:
    from convcheck.assignments.grader.batch import BatchError, grade_folder, parse_shard
    from convcheck.assignments.grader.scoring import clean

    folder = Path(args.submission)
    if not folder.is_dir():
        print(f"convcheck grade: batch mode needs a folder of submissions, got {folder}", file=sys.stderr)
        return 2
    try:
        shard = parse_shard(args.shard)
        result = grade_folder(folder, args.assignment, jobs=args.jobs or 1, reports=args.reports,
                              gradebook=args.gradebook, regrade=args.regrade, seed=_seed(args),
                              max_examples=args.examples, shard=shard, progress=sys.stderr.isatty(),
                              allow_weaker_sandbox=args.allow_weaker_sandbox)
    except BatchError as exc:
        print(f"convcheck grade: {clean(exc)}", file=sys.stderr)
        return 2
    print(f"graded {len(result.graded)}, skipped {len(result.skipped)} (already graded), "
          f"errors {len(result.errors)}" + (f"; gradebook: {result.gradebook}" if result.gradebook else ""))
    for student, error in result.errors.items():
        print(f"  {clean(student)}: {clean(error)}", file=sys.stderr)
    return 3 if result.errors else 0
