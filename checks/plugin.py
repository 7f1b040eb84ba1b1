"""pytest plugin of convcheck (entry point ``pytest11: convcheck``).

``pytest --convcheck-impl=mylib.ops`` (or ``CONVCHECK_IMPL=mylib.ops``) adds one test item per
(op, property) of the conformance suite, ``convcheck[conv_backward.dx_matches_torch]``, so ``-k``,
``--junitxml`` and ``-n 2`` work as for any test. ``KNOWN_DIFFERENCES`` of the implementation become
strict xfails with their reason, ``--convcheck-exclude`` deselects checks, and the cases the implementation
declined are summed up per reason after the run (under xdist too). The fixture ``convcheck`` verifies an
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
                    help=f"module (or module:attribute, or a file path/to/ops.py) of ops to verify; also ${ENV_IMPL}")
    group.addoption("--convcheck-device", default="cpu", help="torch device of the torch oracle (cpu, cuda)")
    group.addoption("--convcheck-examples", type=int, default=None, metavar="N",
                    help=f"Hypothesis examples per check (default {DEFAULT_EXAMPLES})")
    group.addoption("--convcheck-layout", default=None, choices=("NCHW", "NHWC"),
                    help="layout of the implementation's activations (default: its CAPABILITIES, else NCHW)")
    group.addoption("--convcheck-dtype", default="float64", help="dtype of the generated arrays")
    group.addoption("--convcheck-seed", type=int, default=0, help="Hypothesis seed (fixed: reproducible runs)")
    group.addoption("--convcheck-only", action="store_true", help="run only the conformance items")
    group.addoption("--convcheck-exclude", action="append", default=[], metavar="PATTERN",
                    help="deselect checks whose name or op matches PATTERN (fnmatch, comma-separated, repeatable), "
                         "e.g. 'max_pool_backward.ties_*,conv_transpose*'")


def _impl_name(config) -> str | None:
    return config.getoption("convcheck_impl") or os.environ.get(ENV_IMPL) or None


def _load(name: str):
    from convcheck.checks.loading import load_impl

    try:
        return load_impl(name)
    except (ImportError, AttributeError) as exc:
        raise pytest.UsageError(f"--convcheck-impl={name}: cannot load it ({type(exc).__name__}: {exc})") from None


def _patterns(config) -> list[str]:
    return [p.strip() for value in config.getoption("convcheck_exclude") or [] for p in value.split(",") if p.strip()]


class _Settings:
    """The plugin options, resolved once per session."""

    def __init__(self, config):
        self.config = config
        self.device = config.getoption("convcheck_device")
        self.examples = config.getoption("convcheck_examples") or DEFAULT_EXAMPLES
        self.layout = config.getoption("convcheck_layout")
        self.dtype = config.getoption("convcheck_dtype")
        self.seed = config.getoption("convcheck_seed")
        self.session = None  # a convcheck.checks.Session: one shrink per failure across the items

    def _session(self):
        if self.session is None:
            from convcheck.checks.runner import Session

            self.session = Session()
        return self.session

    def __repr__(self):
        return f"<convcheck fixture: device={self.device}, examples={self.examples}, layout={self.layout or 'impl'}>"

    def capabilities(self, impl, capabilities=None):
        from convcheck.checks.capabilities import Capabilities

        declared = impl.get("CAPABILITIES") if isinstance(impl, dict) else getattr(impl, "CAPABILITIES", None)
        caps = capabilities or declared or Capabilities()
        return caps.narrowed(layout=self.layout) if self.layout else caps

    def verify(self, impl, ops=None, **kw):
        from convcheck.checks.runner import verify

        kw.setdefault("max_examples", self.examples)
        kw.setdefault("device", self.device)
        kw.setdefault("dtype", self.dtype)
        kw.setdefault("seed", self.seed)
        kw.setdefault("session", self._session())
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
        # known differences are this item's strict xfail marker: run the check as it is
        report = self.config._convcheck.verify(self.impl, checks=[self.check], known_differences={})
        result = report.results[0]
        self.convcheck_outcome = (result.status, dict(result.declined))  # for the summary of declined cases
        self.user_properties.append(("cases", result.cases))
        self.user_properties.append(("shrink_steps", result.shrink_steps))
        if result.declined:
            self.user_properties.append(("declined", sum(result.declined.values())))
        if result.status in ("not provided", "skipped", "declined", "excluded"):
            pytest.skip(result.message or result.status)
        if not result.ok:
            raise ConvcheckFailed(result)

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, ConvcheckFailed):
            r = excinfo.value.result
            lines = [r.message]
            if r.hint:
                lines.append(f"hint: {r.hint}")
            if r.note:
                lines.append(f"note: {r.note}")
            if r.counterexample:
                lines.append(f"shrunk counterexample ({r.counts_text()}):")
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
    from convcheck.checks.runner import check_known_differences, excluded, known_difference, list_checks, resolve_impl

    impl = _load(name)
    declared = impl.get("KNOWN_DIFFERENCES") if isinstance(impl, dict) else getattr(impl, "KNOWN_DIFFERENCES", None)
    try:
        known = check_known_differences(declared)
    except ValueError as exc:
        raise pytest.UsageError(f"--convcheck-impl={name}: {exc}") from None
    patterns = _patterns(config)
    config._convcheck = _Settings(config)
    if config._convcheck.device != "cpu":
        from convcheck.checks.adapters import torch as torch_adapter

        try:
            torch_adapter.make(config._convcheck.device)
        except RuntimeError as exc:
            raise pytest.UsageError(f"--convcheck-device={config._convcheck.device}: {exc}") from None
    provided, _ = resolve_impl(impl)
    ours, dropped = [], []
    for spec in list_checks():
        item = ConvcheckItem.from_parent(session, name=f"convcheck[{spec.name}]", nodeid=f"convcheck[{spec.name}]",
                                         check=spec.name, impl=impl)
        missing = [op for op in spec.requires if op not in provided]
        if missing:
            item.add_marker(pytest.mark.skip(reason=f"not provided: {', '.join(missing)}"))
        reason = known_difference(known, spec)
        if reason is not None and not missing:
            item.add_marker(pytest.mark.xfail(reason=f"known difference: {reason} (XPASS: it is gone, drop the entry)",
                                              strict=True,
                                              raises=ConvcheckFailed))
        item.add_marker("convcheck")
        (dropped if excluded(spec, patterns) else ours).append(item)
    # tell the reporters about the new items as if a collector had produced them ("collected N items")
    config.hook.pytest_collectreport(report=pytest.CollectReport("convcheck", "passed", None, ours + dropped))
    if dropped:
        config.hook.pytest_deselected(items=dropped)
    if config.getoption("convcheck_only"):
        if items:
            config.hook.pytest_deselected(items=list(items))
        items[:] = ours
    else:
        items[:0] = ours


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    outcome = getattr(item, "convcheck_outcome", None)
    if outcome is not None and call.when == "call":
        # an attribute of the report, not of the item: pytest-xdist sends reports to the controller
        report.convcheck_status, report.convcheck_declined = outcome
    return report


class _DeclinedSummary:
    """The cases the implementation declined (``Unsupported``), summed up after the run: a passed item
    shows as a dot whatever it declined, a wholly declined one as one skip among the missing ops'."""

    def __init__(self):
        self.cases: dict = {}  # reason -> {check: cases declined}
        self.entirely: list = []  # checks whose every case was declined

    def pytest_runtest_logreport(self, report):
        declined = getattr(report, "convcheck_declined", None)
        if report.when != "call" or not declined:
            return
        check = report.nodeid.removeprefix("convcheck[").removesuffix("]")
        for reason, n in declined.items():
            self.cases.setdefault(reason, {})[check] = n
        if report.convcheck_status == "declined":
            self.entirely.append(check)

    def pytest_terminal_summary(self, terminalreporter):
        if not self.cases:
            return
        terminalreporter.write_sep("=", "convcheck: declined cases")
        for reason, checks in sorted(self.cases.items(), key=lambda kv: -sum(kv[1].values())):
            per_op: dict = {}
            for check in checks:
                op = check.split(".", 1)[0]
                per_op[op] = per_op.get(op, 0) + 1
            where = ", ".join(f"{op} ({n} check{'s' if n != 1 else ''})" for op, n in sorted(per_op.items()))
            terminalreporter.write_line(f"{sum(checks.values())} cases declined: {reason} — {where}")
        if self.entirely:
            terminalreporter.write_line("every case declined (skipped, nothing checked): "
                                        + ", ".join(sorted(self.entirely)))


def pytest_configure(config):
    config.addinivalue_line("markers", "convcheck: an item of the convcheck conformance suite")
    if not hasattr(config, "_convcheck"):
        config._convcheck = _Settings(config)
    if not config.pluginmanager.has_plugin("convcheck-declined"):
        config.pluginmanager.register(_DeclinedSummary(), "convcheck-declined")


@pytest.fixture
def convcheck(request):
    """``convcheck.verify(impl, ops=None, **kw) -> Report``, with this run's --convcheck-* options as
    defaults (``convcheck.verify({"conv_forward": my_conv}).raise_if_failed()``)."""
    return request.config._convcheck
