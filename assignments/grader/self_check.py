"""Self-check from a notebook: grade the student's functions in the isolated worker, with a small budget.

``self_check(layers_module_or_path_or_functions, "layers")`` returns a GradeReport; in a notebook
its ``to_text()`` is what the self-check cell prints. Functions given as objects are sent as their
source code (``inspect.getsource``) together with the notebook functions they call, so the
submission still runs in its own process, exactly as the grader will run it.
"""

from __future__ import annotations

import inspect
import types
from pathlib import Path

#: examples per check for each budget ("full" is the spec's own budget).
BUDGETS = {"small": 8, "medium": 20, "full": None}


def _function_sources(functions) -> str:
    """Source text of ``functions`` plus the module-level functions they call, after ``import numpy as np``."""
    todo = list(functions)
    seen: dict[str, str] = {}
    while todo:
        fn = todo.pop(0)
        if not isinstance(fn, types.FunctionType) or fn.__name__ in seen:
            continue
        try:
            seen[fn.__name__] = inspect.getsource(fn)
        except (OSError, TypeError) as exc:
            raise ValueError(f"cannot read the source of {fn.__name__}: {exc}") from None
        for name in fn.__code__.co_names:
            other = fn.__globals__.get(name)
            if isinstance(other, types.FunctionType) and other.__name__ not in seen:
                todo.append(other)
    header = "import numpy as np\n\n"
    return header + "\n\n".join(seen.values())


def self_check(functions_or_module_path, assignment: str = "layers", budget: str = "small", *, seed=None):
    """Grade a path, a module, a dict of functions or a list of functions in the isolated worker (with
    whatever confinement this machine offers: a self-check grades nothing for marks)."""
    from .grade import PRACTICE, grade
    from .loader import from_text

    seed = PRACTICE if seed is None else seed  # a self-check is practice: the spec's public seed, no secret file
    if budget not in BUDGETS:
        raise ValueError(f"budget={budget!r}, but should be one of {sorted(BUDGETS)}")
    target = functions_or_module_path
    if isinstance(target, (str, Path)):
        submission = target
    else:
        if isinstance(target, types.ModuleType):
            path = getattr(target, "__file__", None)
            if path:
                return grade(path, assignment, seed=seed, max_examples=BUDGETS[budget], allow_weaker_sandbox=True)
            target = vars(target)
        if isinstance(target, dict):
            target = [v for v in target.values() if isinstance(v, types.FunctionType)]
        submission = from_text(_function_sources(target), "self_check.py")
    # A self-check runs on the student's own machine (a laptop, macOS without Landlock) with what it offers:
    # it grades nothing for marks, so a weaker sandbox is allowed and the report says so.
    return grade(submission, assignment, seed=seed, max_examples=BUDGETS[budget], name="self-check",
                 allow_weaker_sandbox=True)
