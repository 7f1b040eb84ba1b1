"""Issue 14, item 2: the whole cs231n layers file graded (13 more functions) through the spec-declared
convention. The correct file gets full marks; every mutant of tests/submissions/layers/full_mutants/
loses points on exactly the functions its docstring names (``loses: …``) and on no other."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from convcheck.assignments import grade, load_spec

HERE = Path(__file__).parent / "submissions" / "layers"
CORRECT = HERE / "full" / "correct.py"
MUTANTS = sorted((HERE / "full_mutants").glob("*.py"))
BUDGET = 6
NEW = ["svm_loss", "softmax_loss", "batchnorm_forward", "batchnorm_backward", "batchnorm_backward_alt",
       "dropout_forward", "dropout_backward", "spatial_batchnorm_forward", "spatial_batchnorm_backward",
       "layernorm_forward", "layernorm_backward", "spatial_groupnorm_forward", "spatial_groupnorm_backward"]


def losing(report) -> list[str]:
    return sorted({t.function for t in report.tests if t.status != "passed"})


@pytest.mark.parametrize("spec", ["layers", "layers-cs231n"])
def test_both_specs_grade_all_21_functions(spec):
    names = [f.name for f in load_spec(spec).functions]
    assert len(names) == 21 and set(NEW) <= set(names)


def test_the_correct_full_file_gets_full_marks():
    report = grade(CORRECT, "layers", seed="practice", max_examples=BUDGET)
    assert losing(report) == [], [t.output for t in report.tests if t.status != "passed"]
    assert report.score == report.max_score


@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda p: p.stem)
def test_each_mutant_loses_points_on_its_functions_only(mutant):
    said = re.search(r"^loses: (.*)$", mutant.read_text(), re.M).group(1)
    expected = sorted(v.strip() for v in said.split(","))
    report = grade(mutant, "layers-cs231n", seed="practice", max_examples=BUDGET)
    assert losing(report) == expected, [t.output for t in report.tests if t.status != "passed"]


def test_dropout_written_for_the_other_meaning_of_p_is_told_so():
    report = grade(HERE / "full_mutants" / "dropout_p_drops.py", "layers", seed="practice", max_examples=BUDGET)
    failed = [t.output for t in report.tests if t.function == "dropout_forward" and t.status != "passed"
              and t.check != "grader.no_input_mutation"]   # that one is not counted while the values fail
    assert failed and all("probability of DROPPING" in text for text in failed)


def test_running_statistics_are_read_back_from_bn_param_with_a_diagnosis():
    report = grade(HERE / "full_mutants" / "batchnorm_forward_running_var_unbiased.py", "layers",
                   seed="practice", max_examples=BUDGET)
    [test] = [t for t in report.tests if t.function == "batchnorm_forward" and t.status != "passed"
              and t.check != "grader.no_input_mutation"]   # not counted while a value check fails
    assert "bn_param['running_var']" in test.output and "unbiased variance" in test.output


def test_the_sandbox_returns_a_param_dict_as_the_call_left_it_only_when_asked(tmp_path):
    import numpy as np

    from convcheck.assignments.grader.loader import from_text
    from convcheck.assignments.grader.sandbox import Sandbox

    source = from_text("import numpy as np\n\ndef f(x, param):\n    param['running_mean'] = x.mean(axis=0)\n"
                       "    param['n'] = param.get('n', 0) + 1\n    return x\n", "f.py")
    with Sandbox(source, allow_weaker=True) as sb:
        x = np.arange(6.0).reshape(3, 2)
        sent = {"n": 4}
        asked = sb.call("f", x, sent, return_args=[1])
        assert asked.args_after[0]["n"] == 5
        np.testing.assert_array_equal(asked.args_after[0]["running_mean"], [2.0, 3.0])
        assert sent == {"n": 4}                       # the grader's own dict is never the worker's
        assert sb.call("f", x, {"n": 1}).args_after is None


def _drop_meaning_spec(tmp_path):
    """The layers spec as cs231n's pre-2017 assignment declares dropout: dropout_param's p is the
    probability of DROPPING a unit (``p = "1-p"``: the function receives one minus the keep probability)."""
    text = (Path(__file__).resolve().parents[1] / "assignments" / "specs" / "layers.toml").read_text(encoding="utf-8")
    old = 'dicts = { dropout_param = { p = "p", mode = "mode", seed = "seed?" } }'
    assert text.count(old) == 1
    path = tmp_path / "layers.toml"
    path.write_text(text.replace(old, old.replace('p = "p"', 'p = "1-p"')), encoding="utf-8")
    return path


def test_a_spec_can_declare_p_the_probability_of_dropping(tmp_path):
    spec = _drop_meaning_spec(tmp_path)
    old_style = grade(HERE / "full_mutants" / "dropout_p_drops.py", spec, seed="practice", max_examples=BUDGET)
    assert losing(old_style) == [], [t.output for t in old_style.tests if t.status != "passed"]
    new_style = grade(CORRECT, spec, seed="practice", max_examples=BUDGET)
    assert losing(new_style) == ["dropout_forward"]
    failed = [t.output for t in new_style.tests if t.function == "dropout_forward" and t.status != "passed"
              and t.check != "grader.no_input_mutation"]
    assert failed and all("probability of KEEPING a unit (cs231n since 2017)" in text for text in failed[:1]), failed
    assert "received dropout_param['p'] = 1 − p" in failed[0]
