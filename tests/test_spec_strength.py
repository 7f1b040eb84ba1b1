"""The shipped specs catch the mistakes students make: each kills its target share of a fixed sample of
single-point mutants of its own solution (``convcheck assignment check SPEC --mutants``), and a spec with
a check taken out does not (so the measurement can fail).

A small sample (two mutants a function, seed 0, few examples) keeps this inside CI; the full figures are
measured with ``--per-function 20`` and the spec's budget (issue 16) and kept in the closing note.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from convcheck.assignments.grader.mutants import mutation_report
from convcheck.assignments.grader.spec import load_spec

ROOT = Path(__file__).resolve().parents[1]
SPECS = ROOT / "assignments" / "specs"
SOLUTIONS = ROOT / "solutions"
TARGET = 0.95

pytestmark = pytest.mark.slow

#: spec -> its solution (layers-cs231n grades the same solution under cs231n's exact-division contract)
#: and the examples per check: the arithmetic spec's own budget (its calls are cheap, and an int kernel
#: with ndim ≥ 2 needs a few examples to come up), a few for the array specs
#: and the mutants sampled per function (one for layers' 21 functions, to keep the suite short).
#: layers-cs231n is not sampled here: it grades the same solution with layers' checks under cs231n's
#: division contract (test_grader_spec.test_layers_specs_differ_only_in_the_division_contract), and its
#: own figure (202 / 202 at --per-function 12) is measured with the command.
SHIPPED = {
    "arithmetic": ("arithmetic_solution.py", None, 2),
    "model": ("model_solution.py", 6, 2),
    "layers": ("layers_solution.py", 6, 1),
    "conv-step-by-step": ("conv-step-by-step_solution.py", 6, 2),
}


def _report(spec, solution, tmp_path, examples=None, per_function=2):
    return mutation_report(spec, SOLUTIONS / solution, work=tmp_path / "work", per_function=per_function, seed=0,
                           jobs=2, max_examples=examples)


@pytest.mark.parametrize("name", list(SHIPPED))
def test_shipped_spec_kills_its_target_on_a_fixed_sample(name, tmp_path):
    solution, examples, per_function = SHIPPED[name]
    report = _report(load_spec(SPECS / f"{name}.toml"), solution, tmp_path, examples, per_function)
    assert not report.errors, report.to_text()
    assert not report.stale_equivalents, report.to_text()
    assert report.scored >= 8, report.to_text()          # the sample really spans the functions
    assert report.kill_rate >= TARGET, report.to_text()


def test_a_spec_without_its_default_argument_checks_lets_mutants_survive(tmp_path):
    """The arithmetic spec less its grader.default_arguments checks: the sample's wrong default
    (conv_params' ``ndim=1`` → 2) and ``k ** ndim`` → ``k * ndim`` (an int kernel) survive it; the whole
    spec kills both."""
    text = (SPECS / "arithmetic.toml").read_text(encoding="utf-8")
    weak_text, removed = re.subn(r'\n  \[\[functions\.checks\]\]\n  check = "grader\.default_arguments"\n(?:  .*\n)*',
                                 "\n", text)
    assert removed == 4
    weak = tmp_path / "arithmetic.toml"
    weak.write_text(weak_text, encoding="utf-8")
    report = _report(load_spec(weak), "arithmetic_solution.py", tmp_path)
    survivors = {m.id for f in report.functions for m in f.survivors}
    assert {"conv_params:default-arg:63e34fc2-2", "_volume:binop-swap:2e67dce0"} <= survivors, report.to_text()
    assert report.kill_rate < TARGET
    # and the whole spec kills them
    strong = _report(load_spec(SPECS / "arithmetic.toml"), "arithmetic_solution.py", tmp_path / "strong")
    assert not {m.id for f in strong.functions for m in f.survivors} & survivors, strong.to_text()
