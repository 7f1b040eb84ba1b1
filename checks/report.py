"""The result of a verification: one :class:`CheckResult` per check, rendered as text or JSON."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass, field

import numpy as np

STATUSES = ("passed", "failed", "error", "difference gone", "known difference", "declined", "not provided",
            "skipped", "excluded")
#: statuses that fail a run: a failed property, an error, a known difference that is gone (a stale entry)
FAILING = ("failed", "error", "difference gone")
_MARK = {"passed": "PASS", "failed": "FAIL", "error": "ERROR", "not provided": "MISSING", "skipped": "SKIP",
         "known difference": "XFAIL", "difference gone": "XPASS", "declined": "DECLINED", "excluded": "EXCL"}
_MARK_WIDTH = max(len(m) for m in _MARK.values())   # one column for every mark (DECLINED is the widest)


@dataclass
class CheckResult:
    """One check's outcome. ``counterexample`` (a failure's shrunk case, from ``Case.to_dict()`` plus
    ``input_names`` and ``call``) and ``hint`` are None when there is nothing to show.

    examples      every call of the check (generated cases + shrink steps), kept for old readers;
    cases         generated cases run (up to and including the first failing one);
    shrink_steps  calls Hypothesis made after the first failure to shrink it;
    declined      reason → cases the implementation declined (``Unsupported``), not counted in ``cases``
                  as checked;
    replayed_from the check whose shrunk counterexample failed here too (replayed, not shrunk again);
    environment   ``"Type: text"`` of an exception raised identically for every case;
    note          e.g. a loosened tolerance and its reason.
    """

    name: str
    op: str
    property: str
    status: str
    examples: int = 0
    seconds: float = 0.0
    message: str = ""
    counterexample: dict | None = None
    hint: str | None = None
    cases: int = 0
    shrink_steps: int = 0
    declined: dict = field(default_factory=dict)
    replayed_from: str | None = None
    environment: str | None = None
    note: str = ""

    @property
    def ok(self) -> bool:
        return self.status not in FAILING

    def counts_text(self) -> str:
        """What was run, in words: ``50 cases``, ``failed at case 7, 12 shrink steps``, ``... 3 declined``."""
        if self.replayed_from:
            text = f"replayed {self.replayed_from}'s counterexample (not shrunk again)"
        elif self.status in ("failed", "known difference") or (self.status == "error" and self.shrink_steps):
            text = f"failed at case {self.cases}, {self.shrink_steps} shrink steps"
        else:
            text = f"{self.cases} case{'s' if self.cases != 1 else ''}"
        n = sum(self.declined.values())
        if n:
            reasons = ", ".join(f"{reason}" for reason in sorted(self.declined, key=lambda r: -self.declined[r]))
            text += f", {n} declined: {reasons}"
        return text

    def to_dict(self) -> dict:
        return asdict(self)

    def counterexample_text(self, max_values: int = 200) -> str:
        """The shrunk call and its arrays, ready to paste into a Python session."""
        ce = self.counterexample
        if not ce:
            return ""
        lines = [ce.get("call") or ce["op"]]
        names = ce.get("input_names") or [f"arg{i}" for i in range(len(ce["inputs"]))]
        for name, arg in zip(names, ce["inputs"]):
            if "values" in arg:
                values = np.array(arg["values"])
                if values.size <= max_values:
                    body = np.array2string(values, separator=", ", threshold=max_values, max_line_width=100,
                                           prefix=f"{name} = np.array(")
                    lines.append(f"{name} = np.array({body}, dtype={arg['dtype']!r})")
                else:
                    lines.append(f"{name} = <array of shape {tuple(arg['shape'])}, {values.size} values: see JSON>")
            else:
                lines.append(f"{name} = {arg['value']!r}")
        if ce.get("notes"):
            lines.append(f"# inputs: {ce['notes']}")
        if ce.get("layout") == "NHWC":
            lines.append("# arrays above are NCHW; your implementation received activations channels-last")
        return "\n".join(lines)


class VerificationError(AssertionError):
    """Raised by :meth:`Report.raise_if_failed`; its text is the failures' part of the report."""


@dataclass
class Report:
    """All results of one ``verify`` run and how it was run."""

    results: list[CheckResult] = field(default_factory=list)
    impl: str = ""
    device: str = "cpu"
    dtype: str = "float64"
    max_examples: int = 0
    seed: int | None = 0
    layout: str = "NCHW"

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.results)

    def counts(self) -> dict:
        counts = {s: 0 for s in STATUSES}
        for r in self.results:
            counts[r.status] += 1
        return counts

    def failures(self) -> list[CheckResult]:
        return [r for r in self.results if not r.ok]

    def __getitem__(self, name: str) -> CheckResult:
        for r in self.results:
            if r.name == name:
                return r
        raise KeyError(name)

    def raise_if_failed(self) -> "Report":
        __tracebackhide__ = True  # pytest: show the report, not this frame
        if not self.ok:
            raise VerificationError(self.to_text(verbose=False))
        return self

    def declined(self) -> dict:
        """check name → {reason: count} of the checks where the implementation declined cases."""
        return {r.name: r.declined for r in self.results if r.declined}

    def summary(self) -> str:
        c = self.counts()
        text = ", ".join(f"{n} {s}" for s, n in c.items() if n) or "no checks"
        declined = sum(sum(r.declined.values()) for r in self.results)
        if declined:
            reasons = Counter()
            for r in self.results:
                reasons.update(r.declined)
            text += f"; {declined} cases declined: " + ", ".join(f"{reason} ({n})"
                                                                 for reason, n in reasons.most_common())
        return text

    def to_text(self, verbose: bool = True) -> str:
        head = (f"convcheck verify {self.impl} — device {self.device}, {self.dtype}, layout {self.layout}, "
                f"up to {self.max_examples} generated cases per check, seed {self.seed}")
        lines = [head]
        if verbose:
            width = max((len(r.name) for r in self.results), default=10)
            missing_ops, env_seen = [], set()
            for r in self.results:
                if r.status == "not provided":
                    missing_ops += [] if r.op in missing_ops else [r.op]
                    continue
                ran = r.status in ("passed", "failed", "known difference", "difference gone")
                extra = f"{r.seconds:6.2f} s  {r.counts_text()}" if ran else ""
                if r.environment:
                    extra = f"environment error{' (the same)' if r.environment in env_seen else ''}: {r.environment}"
                    env_seen.add(r.environment)
                extra = extra or r.message
                if r.note:
                    extra += f"  [{r.note}]"
                lines.append(f"  {_MARK[r.status]:<{_MARK_WIDTH}} {r.name:<{width}}  {extra}".rstrip())
            if missing_ops:
                n = self.counts()["not provided"]
                lines.append(f"  {_MARK['not provided']:<{_MARK_WIDTH}} {n} checks of ops not provided: {', '.join(missing_ops)}")
        shown_env: dict = {}
        for r in self.failures():
            if r.environment and r.environment in shown_env:
                shown_env[r.environment].append(r.name)
                continue
            if r.environment:
                shown_env[r.environment] = []
            lines += ["", f"{_MARK[r.status]} {r.name}", f"  {r.message}"]
            if r.hint:
                lines.append(f"  hint: {r.hint}")
            if r.counterexample:
                lines.append(f"  shrunk counterexample ({r.counts_text()}):")
                lines += ["    " + line for line in r.counterexample_text().splitlines()]
        for env, names in shown_env.items():
            if names:
                lines += ["", f"ERROR   the same environment error ({env}) in {len(names)} more checks: "
                              + ", ".join(names)]
        lines += ["", self.summary()]
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {"impl": self.impl, "device": self.device, "dtype": self.dtype, "layout": self.layout,
                "max_examples": self.max_examples, "seed": self.seed, "ok": self.ok, "counts": self.counts(),
                "results": [r.to_dict() for r in self.results]}

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, default=_json_default)


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)
