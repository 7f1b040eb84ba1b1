"""``convcheck assignment``: student notebooks, ``.py`` stubs and instructor files from a spec.

    convcheck assignment list
    convcheck assignment export layers -o DIR     DIR/student/layers.ipynb, DIR/student/layers.py,
                                                  DIR/instructor/layers.toml, README-layers.md (+ solution)
    convcheck assignment self-check layers.py --assignment layers
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
        for name in available_specs():
            spec = load_spec(name)
            print(f"{name:<16} {spec.max_score:>5g} points  {len(spec.functions)} functions  {spec.title}")
        return 0
    except (SpecError, ValueError, FileNotFoundError) as exc:
        print(f"convcheck assignment: {exc}", file=sys.stderr)
        return 2
