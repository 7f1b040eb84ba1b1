"""convcheck.checks: verify any conv/pool/dense implementation against the reference and torch.

    from convcheck.checks import verify
    verify(mylib.ops).raise_if_failed()

An adapter declares ``CAPABILITIES`` (per op with ``ops=``), ``KNOWN_DIFFERENCES``, ``TOLERANCES``, and
may raise ``Unsupported("reason")`` for a case its library cannot express.

Public names are imported lazily, so that importing the pytest plugin (loaded in every pytest run)
costs neither numpy-heavy modules nor torch.
"""

from importlib import import_module

_EXPORTS = {
    "verify": "runner", "list_checks": "runner", "resolve_impl": "runner", "Session": "runner",
    "Unsupported": "harness", "load_impl": "loading", "signatures": "signatures",
    "Report": "report", "CheckResult": "report", "VerificationError": "report",
    "CheckSpec": "properties",
    "Capabilities": "capabilities", "CS231N": "capabilities",
    "Case": "cases",
    "arrays": "strategies", "max_pool_tie_cases": "strategies",
    "tolerance": "tolerances",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        value = getattr(import_module(f"{__name__}.{_EXPORTS[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
