"""``convcheck summary FILE_OR_NAME [--json]``: a model's layer table (Keras-style), from a spec
file (Sequential or graph form), a bundled spec, or a zoo name (torchvision's architectures)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from convcheck.reference import zoo
from convcheck.reference.graph import GRAPH_SPEC_HELP, parse_any_spec
from convcheck.reference.model import SPEC_HELP, bundled_names, load_bundled


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "summary", help="print a model's layers, output shapes and parameter counts",
        description="Print the summary table of a model spec file, of a bundled model "
                    f"({', '.join(bundled_names())}), or of a zoo model built as torchvision builds it "
                    f"({', '.join(n for n in zoo.names() if n not in bundled_names())}).",
        epilog="Spec format:\n" + SPEC_HELP + "\n" + GRAPH_SPEC_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", metavar="FILE_OR_NAME", help="a spec file ('-' reads standard input), or the name of a "
                                                         "bundled or zoo model")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=run)


def load(file_or_name: str):
    """A spec file's model (Sequential or graph), else a bundled spec, else a zoo model."""
    if file_or_name == "-":
        return parse_any_spec(sys.stdin.read(), name="stdin", source="<stdin>")
    path = Path(file_or_name)
    if path.is_file():
        return parse_any_spec(path.read_text(encoding="utf-8"), name=path.stem, source=str(path))
    if file_or_name in bundled_names():
        return load_bundled(file_or_name)
    if file_or_name in zoo.names():
        return zoo.build(file_or_name)
    raise ValueError(f"{file_or_name!r} is neither a spec file nor a bundled model (bundled: "
                     f"{', '.join(bundled_names())}; zoo: {', '.join(zoo.names())})")


def run(args: argparse.Namespace) -> int:
    try:
        model = load(args.model)
    except ValueError as exc:  # SpecError, ModelError, or neither a file nor a known name
        print(f"convcheck summary: {exc}", file=sys.stderr)
        return 2
    summary = model.summary()
    print(summary.to_json() if args.json else summary)
    return 0
