"""The import policy of an assignment: a static scan of the source (here) and the worker's hook (worker/imports.py).

Rules (``worker/imports.py``) allow a list of modules with their submodules and forbid others; a plain
list of modules means "these are forbidden, the rest allowed". A forbidden module is matched with its
submodules: forbidding ``scipy.signal`` forbids ``scipy.signal.windows`` but not ``scipy``.

At run time a forbidden import does not fail where it is written. It binds a *poisoned* module whose
every use raises ``ForbiddenImportError`` naming the module, so only the functions that use it fail
(and score 0), while the rest of the submission still loads and is graded. The hook is an
academic-integrity rule, not a security boundary: code in the worker can remove it, so the worker
also reports forbidden modules that appear in ``sys.modules`` anyway (see ``bypassed``).

"""

from __future__ import annotations

import ast
from typing import NamedTuple

from .worker.imports import ForbiddenImportError, denied, forbidden_match  # noqa: F401 (re-exported)


def local_modules(files) -> list[str]:
    """The top-level module names a submission's own files provide (always importable by it)."""
    from pathlib import PurePosixPath

    return sorted({PurePosixPath(rel).parts[0].removesuffix(".py") for rel in files})


class ImportUse(NamedTuple):
    """A forbidden module found by the static scan, and the line that uses it."""

    module: str
    lineno: int


def scan_imports(source: str, forbidden, filename: str = "<submission>") -> list[ImportUse]:
    """Every use of a forbidden module in ``source``, in line order, found without running it.

    Catches ``import m``, ``from m import x`` (and ``from pkg import m``), ``__import__('m')``,
    ``importlib.import_module('m')`` with a literal name, and attribute chains reaching a forbidden
    submodule through an allowed import (``import scipy`` … ``scipy.signal.convolve2d``).
    A source that does not parse gives ``[]`` — the loader reports the syntax error itself.
    """
    if not isinstance(forbidden, dict):
        forbidden = tuple(forbidden)
    if not forbidden:
        return []
    try:
        tree = ast.parse(source, filename)
    except (SyntaxError, ValueError):
        return []
    found: dict[tuple[str, int], None] = {}
    aliases: dict[str, str] = {}  # local name -> module it names, for attribute chains

    def report(module, node):
        if denied(module, forbidden):
            found[(module, node.lineno)] = None

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                report(a.name, node)
                if a.asname:
                    aliases[a.asname] = a.name
                else:
                    top = a.name.split(".")[0]
                    aliases[top] = top
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            report(node.module, node)
            for a in node.names:
                if a.name != "*":
                    if not denied(node.module, forbidden):  # else already reported once
                        report(f"{node.module}.{a.name}", node)
                    aliases[a.asname or a.name] = f"{node.module}.{a.name}"
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant) \
                and isinstance(node.args[0].value, str):
            f = node.func
            name = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""
            if name in ("__import__", "import_module"):
                report(node.args[0].value, node)
    # Second pass, once every alias is known: scipy.signal.x through `import scipy`.
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            parts = []
            n = node
            while isinstance(n, ast.Attribute):
                parts.append(n.attr)
                n = n.value
            if isinstance(n, ast.Name) and n.id in aliases:
                dotted = ".".join([aliases[n.id], *reversed(parts)])
                match = denied(dotted, forbidden)
                if match and not denied(aliases[n.id], forbidden):
                    report(match, node)
    # Dict keys keep the first line per (module, line); sorted by line for the report.
    return sorted((ImportUse(m, line) for m, line in found), key=lambda u: (u.lineno, u.module))


