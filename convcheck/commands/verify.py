"""``convcheck verify MODULE``: run the conformance suite on an implementation and print the report."""

from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "verify", help="verify an implementation (a module of reference-named ops) against the reference and torch",
        description="Run every applicable check (differential vs the reference and torch, gradient, metamorphic) "
                    "on MODULE, whose functions have the names and signatures of convcheck.reference "
                    "(conv_forward, conv_backward, max_pool_forward, ...). Missing ops are reported 'not provided'.")
    p.add_argument("module", metavar="MODULE", nargs="?",
                   help="importable module (or module:attribute), also from the current folder, or a file "
                        "path/to/ops.py, e.g. convcheck.checks.adapters.torch "
                        "(not needed with --list or --signatures)")
    p.add_argument("--ops", nargs="+", metavar="OP", help="only these ops (default: all)")
    p.add_argument("--checks", nargs="+", metavar="CHECK", help="only these checks, e.g. conv_forward.matches_torch")
    p.add_argument("--device", default="cpu", help="torch device of the torch oracle (cpu, cuda)")
    p.add_argument("--examples", type=int, default=50, metavar="N", help="Hypothesis examples per check (50)")
    p.add_argument("--seed", type=int, default=0, help="Hypothesis seed (0)")
    p.add_argument("--dtype", default="float64", help="dtype of the generated arrays (float64)")
    p.add_argument("--layout", choices=("NCHW", "NHWC"), default=None, help="layout of the implementation")
    p.add_argument("--exclude", nargs="+", metavar="PATTERN", default=[],
                   help="do not run checks whose name or op matches PATTERN (fnmatch), e.g. 'max_pool_backward.ties_*'")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--list", action="store_true", help="list the checks (of --ops) and exit")
    p.add_argument("--signatures", action="store_true",
                   help="print every op's exact signature and return convention (what an adapter exposes) and exit")
    p.set_defaults(func=run)


def _load(name: str):
    from convcheck.checks.loading import load_impl

    return load_impl(name)


def run(args: argparse.Namespace) -> int:
    from convcheck.checks import Capabilities, list_checks, verify

    if args.signatures:
        from convcheck.checks.signatures import signatures

        ops = set(args.ops or ())
        for line in signatures():
            if not ops or line.split("(", 1)[0] in ops:
                print(line)
        return 0
    if args.list:
        for spec in list_checks(args.ops):
            print(f"{spec.name:<50} {spec.kind:<12} {spec.description}")
        return 0
    if not args.module:
        print("convcheck verify: name the implementation (MODULE), or use --list / --signatures", file=sys.stderr)
        return 2
    try:
        impl = _load(args.module)
    except (ImportError, AttributeError) as exc:
        print(f"convcheck verify: cannot load {args.module!r}: {exc}", file=sys.stderr)
        return 2
    declared = impl.get("CAPABILITIES") if isinstance(impl, dict) else getattr(impl, "CAPABILITIES", None)
    caps = declared or Capabilities()
    if args.layout:
        caps = caps.narrowed(layout=args.layout)

    # progress on one line, rewritten, and only on a terminal: the report repeats every result
    terminal = not args.json and sys.stderr.isatty()
    done = []

    def progress(result):
        done.append(result)
        if result.status != "not provided":  # the report sums those up in one line
            sys.stderr.write(f"\r\x1b[K  [{len(done)}] {result.status:<12} {result.name}")
            sys.stderr.flush()

    try:
        report = verify(impl, args.ops, checks=args.checks, max_examples=args.examples, seed=args.seed,
                        device=args.device, dtype=args.dtype, capabilities=caps,
                        on_result=progress if terminal else None, exclude=args.exclude)
    except ValueError as exc:
        print(f"convcheck verify: {exc}", file=sys.stderr)
        return 2
    finally:
        if terminal:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()
    print(report.to_json() if args.json else report.to_text())
    return 0 if report.ok else 1
