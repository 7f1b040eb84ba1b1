"""The reference ops themselves (``convcheck.reference.OPS``) as an implementation under test.

Verifying it against torch is what proves the reference (issue 3's differential properties).
"""

from __future__ import annotations

import importlib

from convcheck.checks.arithmetic import ARITHMETIC_OPS
from convcheck.checks.ops import OPS as _ARRAY_OPS


def _collect() -> dict:
    ref = importlib.import_module("convcheck.reference")
    ops = dict(getattr(ref, "OPS", {}) or {})
    wanted = set(_ARRAY_OPS) | set(ARITHMETIC_OPS)
    for module in ("conv", "pool", "layers", "shapes", "params"):  # before reference.OPS exists, or beside it
        try:
            mod = importlib.import_module(f"convcheck.reference.{module}")
        except ModuleNotFoundError as exc:
            if exc.name != f"convcheck.reference.{module}":
                raise
            continue
        for name in wanted - set(ops):
            if callable(getattr(mod, name, None)):
                ops[name] = getattr(mod, name)
    return {name: fn for name, fn in ops.items() if name in wanted or not name.startswith("_")}


OPS = _collect()
globals().update(OPS)
__all__ = sorted(OPS)
