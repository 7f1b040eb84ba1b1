"""Loading the implementation a user names: ``pkg.module``, ``module:attr`` or a file ``path/ops.py``.

Modules are looked up in the current folder too, as ``python -m pytest`` does and the ``pytest`` and
``convcheck`` entry points (whose ``sys.path`` starts at their own script) do not.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from pathlib import Path


def load_impl(name: str):
    """The object ``name`` stands for; raises ImportError (or AttributeError) with the reason."""
    target, attr = _split(name)
    path = Path(target)
    if target.endswith(".py") or (os.sep in target or "/" in target):
        if not path.is_file():
            raise ImportError(f"no such file: {target}")
        obj = _import_file(path.resolve())
    else:
        cwd = os.getcwd()
        if cwd not in sys.path and "" not in sys.path:
            sys.path.insert(0, cwd)
        obj = importlib.import_module(target)
    for part in filter(None, attr.split(".")):
        obj = getattr(obj, part)
    return obj


def _split(name: str) -> tuple[str, str]:
    """``module:attr`` → (module, attr); a Windows drive letter (``C:\\x.py``) is not an attribute."""
    head, sep, tail = name.rpartition(":")
    if not sep or (len(head) == 1 and head.isalpha()) or "/" in tail or "\\" in tail:
        return name, ""
    return head, tail


def _import_file(path: Path):
    """Import ``path`` as a module named after its stem, its folder on ``sys.path`` (for its siblings)."""
    folder = str(path.parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    existing = sys.modules.get(path.stem)
    if existing is not None and Path(getattr(existing, "__file__", "") or "").resolve() == path:
        return existing
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(path.stem, None)
        raise
    return module
