"""The import hook of the worker: forbidden modules resolve to stand-ins that raise when used.

Loaded by the worker by file path before the submission runs; standard library only. The hook is an
academic-integrity rule that names the module in the student's feedback, not a security boundary: what
the worker can import at all is what its environment contains (see ``confine.py``).
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
import types


def forbidden_match(module: str, forbidden) -> str | None:
    """The entry of ``forbidden`` that ``module`` falls under (itself or a parent package), else None."""
    for f in forbidden:
        if module == f or module.startswith(f + "."):
            return f
    return None


class ForbiddenImportError(ImportError):
    """Raised when submission code uses a module the assignment forbids."""

    def __init__(self, module: str):
        super().__init__(f"import of {module!r} is forbidden in this assignment", name=module)
        self.module = module


def _raise(self, *args, **kwargs):
    raise ForbiddenImportError(object.__getattribute__(self, "_forbidden_name"))


class Forbidden:
    """Stands for a name taken from a forbidden module: every use of it raises ``ForbiddenImportError``."""

    def __init__(self, name: str):
        object.__setattr__(self, "_forbidden_name", name)

    def __repr__(self):
        return f"<forbidden {object.__getattribute__(self, '_forbidden_name')}>"

    __getattr__ = __call__ = __getitem__ = __setattr__ = __iter__ = __bool__ = __len__ = _raise
    __mro_entries__ = __enter__ = __exit__ = __array__ = __index__ = __int__ = __float__ = _raise


for _op in ("add", "sub", "mul", "matmul", "truediv", "floordiv", "mod", "pow", "and", "or", "xor",
            "lshift", "rshift", "lt", "le", "gt", "ge"):
    setattr(Forbidden, f"__{_op}__", _raise)
    if _op not in ("lt", "le", "gt", "ge"):
        setattr(Forbidden, f"__r{_op}__", _raise)


class ForbiddenModule(types.ModuleType):
    """The module bound by a forbidden import: its attributes are ``Forbidden`` stand-ins."""

    def __getattr__(self, name):
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return Forbidden(self.__name__)


class ForbiddenImportFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """``sys.meta_path`` hook: forbidden modules resolve to a ``ForbiddenModule`` instead of the real one."""

    def __init__(self, forbidden):
        self.forbidden = tuple(forbidden)

    def find_spec(self, fullname, path=None, target=None):
        if forbidden_match(fullname, self.forbidden):
            # A package (empty __path__), so `import torch.nn` also reaches this hook instead of failing.
            return importlib.machinery.ModuleSpec(fullname, self, is_package=True)
        return None

    def create_module(self, spec):
        return ForbiddenModule(spec.name)

    def exec_module(self, module):
        module.__path__ = []


def install(forbidden) -> ForbiddenImportFinder | None:
    """Put the hook first on ``sys.meta_path`` and drop already-imported forbidden modules."""
    forbidden = tuple(forbidden)
    if not forbidden:
        return None
    for name in [m for m in sys.modules if forbidden_match(m, forbidden)]:
        del sys.modules[name]
    finder = ForbiddenImportFinder(forbidden)
    sys.meta_path.insert(0, finder)
    return finder


def bypassed(forbidden) -> list[str]:
    """Forbidden modules present in ``sys.modules`` as real modules (the hook was removed or dodged)."""
    return sorted(name for name, m in list(sys.modules.items())
                  if forbidden_match(name, forbidden) and m is not None and not isinstance(m, ForbiddenModule))
