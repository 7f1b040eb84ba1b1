"""A graded submission: per-test points, totals per function and overall, and its three renderings.

Determinism: everything in :meth:`GradeReport.to_dict` (and so ``to_json`` and ``to_text``) depends
only on the submission, the spec and the seed — no timestamps, no durations, no absolute paths. The
one timing a report carries, ``execution_time``, appears only in ``to_gradescope()`` (Gradescope's
schema has the field; it is rounded to whole seconds) and in ``to_json(timing=True)``. A regrade
with the same seed therefore gives byte-identical ``to_json()`` and ``to_text()``.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field


def _points(value: float) -> float:
    """Points rounded to 1e-6 so that sums of fractional points print the same on every run."""
    value = round(float(value), 6)
    return int(value) if value == int(value) else value


@dataclass
class TestResult:
    """One graded test: a check of one function."""

    name: str                  # "<function>: <what>", e.g. "conv_backward_naive: dx matches torch autograd"
    function: str
    check: str
    number: str
    score: float
    max_score: float
    status: str                # "passed" | "failed"
    output: str = ""           # the feedback a student reads (empty when passed)
    counterexample: dict | None = None
    examples: int = 0
    seconds: float = field(default=0.0, compare=False)  # not part of the deterministic report

    def to_dict(self) -> dict:
        d = asdict(self)
        d.pop("seconds")
        d["score"], d["max_score"] = _points(self.score), _points(self.max_score)
        return d


@dataclass
class FunctionTotal:
    name: str
    score: float
    max_score: float
    defined: bool = True
    note: str = ""


@dataclass
class GradeReport:
    assignment: str
    submission: str
    seed: int
    max_examples: int
    tests: list[TestResult]
    functions: list[FunctionTotal]
    messages: list[str] = field(default_factory=list)   # load errors, forbidden imports, worker notes
    execution_time: float = field(default=0.0, compare=False)
    sandbox: str = ""   # what confined the worker (sandbox.describe_confinement), for the instructor
    numpy: str = ""     # the NumPy that graded, when the spec names one (shown in the header)
    internal_error: str = ""   # set when the grader itself failed (the report then says so; exit status 3)

    @property
    def score(self) -> float:
        return _points(sum(t.score for t in self.tests))

    @property
    def max_score(self) -> float:
        return _points(sum(t.max_score for t in self.tests))

    @property
    def full_marks(self) -> bool:
        return math.isclose(self.score, self.max_score)

    def function_scores(self) -> dict[str, tuple[float, float]]:
        return {f.name: (_points(f.score), _points(f.max_score)) for f in self.functions}

    # --- renderings ------------------------------------------------------------------------------
    def to_dict(self, *, timing: bool = False) -> dict:
        d = {
            "assignment": self.assignment,
            "submission": self.submission,
            "seed": self.seed,
            "max_examples": self.max_examples,
            "score": self.score,
            "max_score": self.max_score,
            "functions": [
                {"name": f.name, "score": _points(f.score), "max_score": _points(f.max_score),
                 "defined": f.defined, "note": f.note}
                for f in self.functions
            ],
            "messages": list(self.messages),
            "sandbox": self.sandbox,
            **({"numpy": self.numpy} if self.numpy else {}),
            "tests": [t.to_dict() for t in self.tests],
        }
        if self.internal_error:
            d["internal_error"] = self.internal_error
        if timing:
            d["execution_time"] = round(self.execution_time, 3)
            for t, src in zip(d["tests"], self.tests):
                t["seconds"] = round(src.seconds, 3)
        return d

    def to_json(self, *, timing: bool = False, indent: int = 2) -> str:
        return json.dumps(self.to_dict(timing=timing), indent=indent, ensure_ascii=False) + "\n"

    def to_gradescope(self) -> dict:
        """Gradescope's ``results.json``: score, execution_time, output, tests[] (name, number, score,
        max_score, status, output, visibility)."""
        lines = [f"{self.assignment}: {_fmt(self.score)} / {_fmt(self.max_score)}"]
        lines += [f"  {f.name}: {_fmt(f.score)} / {_fmt(f.max_score)}" + (f" — {f.note}" if f.note else "")
                  for f in self.functions]
        lines += self.messages
        return {
            "score": self.score,
            "execution_time": int(round(self.execution_time)),
            "output": "\n".join(lines),
            # stored by Gradescope, not shown to the student: what replays this grading (--seed)
            "extra_data": {"seed": self.seed, "assignment": self.assignment, "max_examples": self.max_examples,
                           **({"internal_error": self.internal_error} if self.internal_error else {})},
            "tests": [
                {
                    "name": t.name,
                    "number": t.number,
                    "score": _points(t.score),
                    "max_score": _points(t.max_score),
                    "status": t.status,
                    "output": t.output,
                    "visibility": "visible",
                }
                for t in self.tests
            ],
        }

    def to_text(self, *, color: bool | None = None, width: int = 100) -> str:
        """A readable report; ``color=None`` colours only when stdout is a terminal."""
        import io
        import sys

        from rich.console import Console
        from rich.text import Text

        if color is None:
            color = sys.stdout.isatty()
        buf = io.StringIO()
        console = Console(file=buf, force_terminal=color, no_color=not color, width=width,
                          highlight=False, emoji=False, soft_wrap=True)
        total = Text(f"{clean(self.assignment)} — {clean(self.submission)}: ", style="bold")
        total.append(f"{_fmt(self.score)} / {_fmt(self.max_score)}",
                     style="bold green" if self.full_marks else "bold yellow")
        console.print(total)
        if self.numpy:
            console.print(Text(f"graded with NumPy {self.numpy}, as the assignment specifies", style="dim"))
        for m in self.messages:
            console.print(Text("! " + clean(m), style="yellow"))
        console.print()
        for f in self.functions:
            ok = math.isclose(f.score, f.max_score)
            line = Text(f"{f.name:<28} ", style="bold")
            line.append(f"{_fmt(f.score):>5} / {_fmt(f.max_score):<5}", style="green" if ok else "red")
            if f.note:
                line.append("  " + clean(f.note), style="dim")
            console.print(line)
        failed = [t for t in self.tests if t.status != "passed"]
        if failed:
            console.print()
            console.print(Text(f"{len(failed)} failed test(s):", style="bold red"))
        for t in failed:
            console.print()
            console.print(Text(f"✗ {clean(t.name)}  ({_fmt(t.score)} / {_fmt(t.max_score)})", style="bold red"))
            console.print(Text(clean(t.output)))
        passed = [t for t in self.tests if t.status == "passed"]
        if passed:
            console.print()
            console.print(Text(f"{len(passed)} passed: " + "; ".join(t.name for t in passed), style="green"))
        return buf.getvalue()


_CONTROL = None


def clean(text: str) -> str:
    """``text`` without control characters (newlines and tabs kept): a student's name or output must not
    clear a TA's terminal, set its clipboard (OSC 52) or forge a line with a carriage return."""
    global _CONTROL
    import re

    if _CONTROL is None:
        # C0 but \t \n, DEL, C1, and the bidi overrides/isolates that reorder what a line seems to say
        _CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
    return _CONTROL.sub("", str(text))


def _fmt(points: float) -> str:
    p = _points(points)
    return str(p) if isinstance(p, int) else f"{p:g}"
