"""``convcheck summary FILE_OR_NAME [--json]``: a model spec's layer table (Keras-style)."""

from __future__ import annotations

import argparse
import sys

from convcheck.reference.model import SPEC_HELP, bundled_names, load_spec, parse_spec


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "summary", help="print a model's layers, output shapes and parameter counts",
        description="Print the summary table of a model spec file or of a bundled model "
                    f"({', '.join(bundled_names())}).",
        epilog="Spec format:\n" + SPEC_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", metavar="FILE_OR_NAME", help="a spec file ('-' reads standard input), or the name of a "
                                                         "bundled model")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        if args.model == "-":
            model = parse_spec(sys.stdin.read(), name="stdin", source="<stdin>")
        else:
            model = load_spec(args.model)
    except ValueError as exc:  # SpecError, ModelError, or neither a file nor a bundled name
        print(f"convcheck summary: {exc}", file=sys.stderr)
        return 2
    summary = model.summary()
    print(summary.to_json() if args.json else summary)
    return 0
