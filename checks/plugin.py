"""pytest plugin of convcheck (entry point ``pytest11: convcheck``).

``pytest --convcheck-impl=mylib.ops`` (or ``CONVCHECK_IMPL=mylib.ops``) adds one test item per
(op, property) of the conformance suite, ``convcheck[conv_backward.dx_matches_torch]``, so ``-k``,
``--junitxml`` and ``-n 2`` work as for any test. The fixture ``convcheck`` verifies an
implementation inside a project's own tests. Without an implementation the plugin does nothing, and
importing it imports neither torch nor the checks.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ENV_IMPL = "CONVCHECK_IMPL"
DEFAULT_EXAMPLES = 50


def pytest_addoption(parser):
    group = parser.getgroup("convcheck", "convcheck conformance suite")
    group.addoption("--convcheck-impl", default=None, metavar="MODULE",
                    help=f"module (or module:attribute) of ops to verify; also ${ENV_IMPL}")
    group.addoption("--convcheck-device", default="cpu", help="torch device of the torch oracle (cpu, cuda)")
    group.addoption("--convcheck-examples", type=int, default=None, metavar="N",
                    help=f"Hypothesis examples per check (default {DEFAULT_EXAMPLES})")
    group.addoption("--convcheck-layout", default=None, choices=("NCHW", "NHWC"),
                    help="layout of the implementation's activations (default: its CAPABILITIES, else NCHW)")
    group.addoption("--convcheck-dtype", default="float64", help="dtype of the generated arrays")
    group.addoption("--convcheck-seed", type=int, default=0, help="Hypothesis seed (fixed: reproducible runs)")
    group.addoption("--convcheck-only", action="store_true", help="run only the conformance items")


def _impl_name(config) -> str | None:
    return config.getoption("convcheck_impl") or os.environ.get(ENV_IMPL) or None


def _load(name: str):
    import importlib

    module_name, _, attr = name.partition(":")
    try:
        obj = importlib.import_module(module_name)
    except ImportError as exc:
        raise pytest.UsageError(f"--convcheck-impl={name}: cannot import {module_name!r} ({exc})") from None
    for part in filter(None, attr.split(".")):
        obj = getattr(obj, part)
    return obj


class _Settings:
    """The plugin options, resolved once per session."""

    def __init__(self, config):
        self.config = config
        self.device = config.getoption("convcheck_device")
        self.examples = config.getoption("convcheck_examples") or DEFAULT_EXAMPLES
        self.layout = config.getoption("convcheck_layout")
        self.dtype = config.getoption("convcheck_dtype")
        self.seed = config.getoption("convcheck_seed")

    def __repr__(self):
        return f"<convcheck fixture: device={self.device}, examples={self.examples}, layout={self.layout or 'impl'}>"

    def capabilities(self, impl, capabilities=None):
        from convcheck.checks.capabilities import Capabilities

        caps = capabilities or getattr(impl, "CAPABILITIES", None) or Capabilities()
        return caps.narrowed(layout=self.layout) if self.layout else caps

    def verify(self, impl, ops=None, **kw):
        from convcheck.checks.runner import verify

        kw.setdefault("max_examples", self.examples)
        kw.setdefault("device", self.device)
        kw.setdefault("dtype", self.dtype)
        kw.setdefault("seed", self.seed)
        kw["capabilities"] = self.capabilities(impl, kw.get("capabilities"))
        return verify(impl, ops, **kw)


class ConvcheckFailed(Exception):
    """A conformance check failed; carries its CheckResult."""

    def __init__(self, result):
        super().__init__(result.message)
        self.result = result


class ConvcheckItem(pytest.Item):
    """One (op, property) check of the implementation named by --convcheck-impl."""

    def __init__(self, *, check: str, impl, **kw):
        super().__init__(**kw)
        self.check = check
        self.impl = impl

    def runtest(self):
        report = self.config._convcheck.verify(self.impl, checks=[self.check])
        result = report.results[0]
        self.user_properties.append(("examples", result.examples))
        if result.status in ("not provided", "skipped"):
            pytest.skip(result.message or result.status)
        if not result.ok:
            raise ConvcheckFailed(result)

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, ConvcheckFailed):
            r = excinfo.value.result
            lines = [r.message]
            if r.hint:
                lines.append(f"hint: {r.hint}")
            if r.counterexample:
                lines.append(f"shrunk counterexample (after {r.examples} examples):")
                lines += ["    " + line for line in r.counterexample_text().splitlines()]
            return "\n".join(lines)
        return super().repr_failure(excinfo, style)

    def reportinfo(self):
        return Path(__file__), 0, self.name


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(session, config, items):
    name = _impl_name(config)
    if not name:
        return
    from convcheck.checks.runner import list_checks, resolve_impl

    impl = _load(name)
    config._convcheck = _Settings(config)
    if config._convcheck.device != "cpu":
        from convcheck.checks.adapters import torch as torch_adapter

        try:
            torch_adapter.make(config._convcheck.device)
        except RuntimeError as exc:
            raise pytest.UsageError(f"--convcheck-device={config._convcheck.device}: {exc}") from None
    provided, _ = resolve_impl(impl)
    ours = []
    for spec in list_checks():
        item = ConvcheckItem.from_parent(session, name=f"convcheck[{spec.name}]", nodeid=f"convcheck[{spec.name}]",
                                         check=spec.name, impl=impl)
        missing = [op for op in spec.requires if op not in provided]
        if missing:
            item.add_marker(pytest.mark.skip(reason=f"not provided: {', '.join(missing)}"))
        item.add_marker("convcheck")
        ours.append(item)
    # tell the reporters about the new items as if a collector had produced them ("collected N items")
    config.hook.pytest_collectreport(report=pytest.CollectReport("convcheck", "passed", None, ours))
    if config.getoption("convcheck_only"):
        if items:
            config.hook.pytest_deselected(items=list(items))
        items[:] = ours
    else:
        items[:0] = ours


def pytest_configure(config):
    config.addinivalue_line("markers", "convcheck: an item of the convcheck conformance suite")
    if not hasattr(config, "_convcheck"):
        config._convcheck = _Settings(config)


@pytest.fixture
def convcheck(request):
    """``convcheck.verify(impl, ops=None, **kw) -> Report``, with this run's --convcheck-* options as
    defaults (``convcheck.verify({"conv_forward": my_conv}).raise_if_failed()``)."""
    return request.config._convcheck
