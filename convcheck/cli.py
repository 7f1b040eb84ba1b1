"""The ``convcheck`` command line: one subcommand per use, each defined in ``convcheck.commands``."""

from __future__ import annotations

import argparse
import importlib
import sys

from . import __version__

# name -> module under convcheck.commands; each module defines
#   register(sub: argparse._SubParsersAction) -> None   (adds its parser, sets func=run)
#   run(args: argparse.Namespace) -> int
COMMANDS = {
    "demo": "demo",
    "summary": "summary",
    "verify": "verify",
    "grade": "grade",
    "gradescope-bundle": "gradescope_bundle",
    "assignment": "assignment",
    "quiz": "quiz",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="convcheck",
        description="Verify and grade the building blocks of convolutional neural networks.",
    )
    parser.add_argument("--version", action="version", version=f"convcheck {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in dict.fromkeys(COMMANDS.values()):
        try:
            module = importlib.import_module(f"convcheck.commands.{module_name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"convcheck.commands.{module_name}":
                raise
            continue  # a command not built yet
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
