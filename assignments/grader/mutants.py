"""How strong a spec is: the student mistakes its checks would miss.

``mutation_report(spec, solution)`` makes single-point mutants of the spec's own reference solution with
the mistakes students make (``convcheck.mutation``: operator swaps, off-by-one constants, ``pad:-pad``
slice bounds, swapped indices and loop variables, ``=`` for ``+=``, a reduction over the wrong axis, a
dropped term, ...), grades each one with the spec exactly as a student is graded (the batch grader: one
confined worker per mutant, in parallel, resumable, each report on disk), and reports per function how
many were killed (the mutant scored less than the solution), the survivors as small diffs, and the
mutants the spec marks as equivalent — they compute the same thing, so no check can kill them::

    [mutants]
    equivalent = { "conv_forward_naive:const-off-by-one:1a2b3c4d" = "np.pad(x, 0) is x: pad 0 and -0 agree" }

A mutant that the solution's own grading does not reach (a function no check calls) is a survivor
like any other: the report says which function it lives in. Deterministic for a seed (which mutants,
and the grading seed); a grading interrupted half-way resumes from the reports already written.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from .spec import Assignment, load_spec


@dataclass
class FunctionStrength:
    name: str
    mutants: int = 0
    killed: int = 0
    equivalent: int = 0
    survivors: list = field(default_factory=list)   # Mutant objects

    @property
    def scored(self) -> int:
        return self.mutants - self.equivalent

    @property
    def kill_rate(self) -> float:
        return self.killed / self.scored if self.scored else 1.0


@dataclass
class MutationReport:
    spec: str
    seed: int
    functions: list[FunctionStrength]
    errors: dict = field(default_factory=dict)       # mutant id -> what went wrong grading it
    stale_equivalents: list = field(default_factory=list)

    @property
    def killed(self) -> int:
        return sum(f.killed for f in self.functions)

    @property
    def scored(self) -> int:
        return sum(f.scored for f in self.functions)

    @property
    def kill_rate(self) -> float:
        return self.killed / self.scored if self.scored else 1.0

    def to_text(self, diffs: bool = True) -> str:
        lines = [f"{self.spec}: {self.killed} of {self.scored} non-equivalent mutants killed "
                 f"({100 * self.kill_rate:.1f} %), seed {self.seed}", ""]
        width = max([len(f.name) for f in self.functions] + [8])
        for f in self.functions:
            eq = f", {f.equivalent} equivalent" if f.equivalent else ""
            lines.append(f"  {f.name:<{width}}  {f.killed:>3} / {f.scored:<3} killed "
                         f"({100 * f.kill_rate:5.1f} %){eq}")
        survivors = [m for f in self.functions for m in f.survivors]
        if survivors:
            lines += ["", f"{len(survivors)} surviving mutant(s): mistakes these checks would not catch "
                          "(add a check, or mark the mutant equivalent with a reason in [mutants] equivalent):"]
            for m in survivors:
                lines += ["", f"- {m.id} ({m.function}, line {m.lineno}): {m.description}"]
                if diffs:
                    lines += ["    " + d for d in m.diff.rstrip().splitlines()]
        for mid, error in self.errors.items():
            lines.append(f"! {mid}: could not be graded ({error})")
        for mid in self.stale_equivalents:
            lines.append(f"! [mutants] equivalent names {mid}, which the solution no longer has")
        return "\n".join(lines) + "\n"

    def to_dict(self) -> dict:
        return {"spec": self.spec, "seed": self.seed, "killed": self.killed, "scored": self.scored,
                "kill_rate": self.kill_rate, "errors": self.errors, "stale_equivalents": self.stale_equivalents,
                "functions": [{"name": f.name, "mutants": f.mutants, "killed": f.killed, "equivalent": f.equivalent,
                               "survivors": [{"id": m.id, "line": m.lineno, "operator": m.operator,
                                              "description": m.description, "diff": m.diff} for m in f.survivors]}
                              for f in self.functions]}


#: The solution itself, graded beside its mutants (its score is what a mutant must fall below).
BASELINE = "0-reference-solution"


def _student_id(mutant_id: str) -> str:
    """A folder name for the mutant (the batch grader skips names starting with "_" or ".")."""
    return "m-" + re.sub(r"[^A-Za-z0-9_.-]", "_", mutant_id)


def mutation_report(spec: str | Assignment, solution: str | Path, *, work: str | Path, per_function: int | None = None,
                    seed: int = 0, jobs: int = 2, max_examples: int | None = None, progress: bool = False,
                    regrade: bool = False) -> MutationReport:
    """Grade every mutant of ``solution`` (see the module docstring) under ``work`` (kept: resumable)."""
    from convcheck.mutation import generate, stale_equivalents

    from .batch import grade_folder

    spec_obj = spec if isinstance(spec, Assignment) else load_spec(spec)
    spec_path = spec_obj.source
    text = Path(solution).read_text(encoding="utf-8")
    equivalents = dict((spec_obj.extra.get("mutants") or {}).get("equivalent") or {})
    everything = generate(text, seed=seed, equivalents=equivalents, filename=Path(solution).name)
    mutants = generate(text, seed=seed, per_function=per_function, equivalents=equivalents,
                       filename=Path(solution).name) if per_function else everything
    work = Path(work)
    folder, reports = work / "mutants", work / "reports"
    folder.mkdir(parents=True, exist_ok=True)
    reports.mkdir(parents=True, exist_ok=True)
    baseline_dir = folder / BASELINE
    baseline_dir.mkdir(exist_ok=True)
    (baseline_dir / f"{spec_obj.name}.py").write_text(text, encoding="utf-8")
    wanted = {_student_id(m.id): m for m in mutants if not m.equivalent}
    for sid, m in wanted.items():
        target = folder / sid
        target.mkdir(exist_ok=True)
        (target / f"{spec_obj.name}.py").write_text(m.source, encoding="utf-8")
    for stale in folder.iterdir():  # folders of an earlier, larger run are not graded again
        if stale.is_dir() and stale.name != BASELINE and stale.name not in wanted:
            shutil.rmtree(stale)
    result = grade_folder(folder, spec_path, jobs=jobs, reports=reports, regrade=regrade, seed=seed,
                          max_examples=max_examples, progress=progress)

    def score(sid):
        path = reports / f"{sid}.json"
        if not path.exists():
            return None
        return json.loads(path.read_text(encoding="utf-8"))["score"]

    base = score(BASELINE)
    if base is None or abs(base - spec_obj.max_score) > 1e-9:
        raise ValueError(f"the solution {Path(solution).name} scores {base} of {spec_obj.max_score} under "
                         f"{spec_obj.name}: a spec must give its own solution full marks before mutants mean "
                         f"anything ({result.errors.get(BASELINE, 'see ' + str(reports / (BASELINE + '.json')))})")
    by_function: dict[str, FunctionStrength] = {}
    errors = {}
    for m in mutants:
        f = by_function.setdefault(m.function, FunctionStrength(m.function))
        f.mutants += 1
        if m.equivalent:
            f.equivalent += 1
            continue
        sid = _student_id(m.id)
        got = score(sid)
        if sid in result.errors or got is None:
            errors[m.id] = result.errors.get(sid, "no report")
            f.survivors.append(m)
        elif got < base - 1e-9:
            f.killed += 1
        else:
            f.survivors.append(m)
    order = {f.name: i for i, f in enumerate(spec_obj.functions)}
    functions = sorted(by_function.values(), key=lambda f: (order.get(f.name, len(order)), f.name))
    return MutationReport(spec_obj.name, seed, functions, errors, stale_equivalents(everything, equivalents))
