"""The import rules of an assignment and the worker's import hook: what the submission may import.

Rules are a dict ``{"allowed": [...] | None, "forbidden": [...], "local": [...]}``: a module is allowed when
it falls under an ``allowed`` entry (itself or a submodule; None allows anything) or is one of the
submission's own files (``local``), and is not under a ``forbidden`` entry. The parent's static scan and
this hook apply the same :func:`denied`.

At run time a denied import by submission code does not fail where it is written: it binds a stand-in whose
every use raises ``ForbiddenImportError`` naming the module, so only the functions that use it fail.
The hook is an academic-integrity rule that gives the student a precise message, not the security
boundary: what the worker can import at all is what its environment holds (NumPy and the standard
library; see ``environment.py`` and ``confine.py``), so removing the hook gains nothing.

Loaded by the worker by file path before the submission runs; standard library only.
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


def denied(module: str, rules) -> str | None:
    """The name to report when ``module`` may not be imported under ``rules`` (a dict as above, or a plain
    list of forbidden modules), else None."""
    if not isinstance(rules, dict):
        return forbidden_match(module, rules)
    hit = forbidden_match(module, rules.get("forbidden", ()))
    if hit:
        return hit
    allowed = rules.get("allowed")
    top = module.split(".")[0]
    if allowed is None or top in rules.get("local", ()) or forbidden_match(module, allowed):
        return None
    return module if any(a.startswith(top + ".") for a in allowed) else top


def forbidden_list(rules) -> tuple[str, ...]:
    return tuple(rules.get("forbidden", ())) if isinstance(rules, dict) else tuple(rules)


class ForbiddenImportError(ImportError):
    """Raised when submission code uses a module the assignment does not allow."""

    def __init__(self, module: str):
        super().__init__(f"import of {module!r} is not allowed in this assignment", name=module)
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


def _from_submission(filenames) -> bool:
    """Whether the import being resolved was written in the submission (not made by NumPy or the stdlib)."""
    frame = sys._getframe(2)
    while frame is not None:
        name = frame.f_code.co_filename
        if not (name.startswith("<frozen importlib") or "/importlib/" in name):
            return name in filenames
        frame = frame.f_back
    return False


class ForbiddenImportFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """``sys.meta_path`` hook: a denied module imported by submission code resolves to a ``ForbiddenModule``."""

    def __init__(self, rules, filenames=()):
        self.rules = rules
        self.filenames = frozenset(filenames)

    def find_spec(self, fullname, path=None, target=None):
        if denied(fullname, self.rules) and (not self.filenames or _from_submission(self.filenames)):
            # A package (empty __path__), so `import torch.nn` also reaches this hook instead of failing.
            return importlib.machinery.ModuleSpec(fullname, self, is_package=True)
        return None

    def create_module(self, spec):
        return ForbiddenModule(spec.name)

    def exec_module(self, module):
        module.__path__ = []


def install(rules, filenames=()) -> ForbiddenImportFinder | None:
    """Put the hook first on ``sys.meta_path`` and drop already-imported explicitly forbidden modules."""
    if not rules:
        return None
    forbidden = forbidden_list(rules)
    for name in [m for m in sys.modules if forbidden_match(m, forbidden)]:
        del sys.modules[name]
    finder = ForbiddenImportFinder(rules, filenames)
    sys.meta_path.insert(0, finder)
    return finder


def bypassed(rules) -> list[str]:
    """Explicitly forbidden modules present in ``sys.modules`` as real modules (the hook was dodged)."""
    forbidden = forbidden_list(rules)
    return sorted(name for name, m in list(sys.modules.items())
                  if forbidden_match(name, forbidden) and m is not None and not isinstance(m, ForbiddenModule))
