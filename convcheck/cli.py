"""The ``convcheck`` command line: one subcommand per use, each defined in ``convcheck.commands``."""

from __future__ import annotations

import argparse
import importlib
import os
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
    try:
        status = int(args.func(args) or 0)
        sys.stdout.flush()  # inside the try: a reader that left (`| head`) is noticed here, not at exit
        return status
    except BrokenPipeError:
        return _reader_left()


def _reader_left() -> int:
    """The reader of our output closed the pipe (``convcheck summary vgg16 --json | head``): stop
    quietly as a Unix filter does, with 141 (128 + SIGPIPE) as the shell reports it, and point
    stdout at /dev/null so that the interpreter's final flush cannot raise again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout is not a real file (captured in a test)
        pass
    return 141


if __name__ == "__main__":
    sys.exit(main())
