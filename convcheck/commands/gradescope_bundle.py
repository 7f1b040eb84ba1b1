"""``convcheck gradescope-bundle``: write the Gradescope autograder zip of an assignment."""

from __future__ import annotations

import sys


def register(sub) -> None:
    p = sub.add_parser(
        "gradescope-bundle",
        help="write a Gradescope autograder zip (setup.sh + run_autograder) for an assignment",
        description="Write a zip that Gradescope runs: setup.sh installs convcheck, run_autograder grades "
                    "/autograder/submission into /autograder/results/results.json.",
    )
    p.add_argument("--assignment", "-a", default="layers", help="bundled spec name or a .toml path")
    p.add_argument("-o", "--output", default="autograder.zip", help="the zip to write (default: autograder.zip)")
    p.add_argument("--pip-spec", help="what setup.sh pip-installs instead of the bundled source "
                                      "(e.g. 'convcheck==0.1.0' or a git URL)")
    p.set_defaults(func=run)


def run(args) -> int:
    from convcheck.assignments.grader.gradescope import build_bundle
    from convcheck.assignments.grader.spec import SpecError

    try:
        path = build_bundle(args.assignment, args.output, pip_spec=args.pip_spec)
    except SpecError as exc:
        print(f"convcheck gradescope-bundle: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {path} (upload it as the autograder of a Gradescope programming assignment)")
    return 0
