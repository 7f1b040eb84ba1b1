"""Issue 14, items 4 and 6: the channels-last course "Convolutional Model: Step by Step", declared in
assignments/specs/conv-step-by-step.toml alone. Its solution gets full marks; each mutant of
tests/submissions/conv-step-by-step/mutants/ loses points on exactly the functions it names; a notebook
with the course's own test cells (which import modules the grader does not have) is graded end to end;
a failure on a contract edge the course's hint or tests miss says so."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from convcheck.assignments import grade, load_spec

ROOT = Path(__file__).resolve().parent.parent
HERE = Path(__file__).parent / "submissions" / "conv-step-by-step"
SOLUTION = ROOT / "solutions" / "conv-step-by-step_solution.py"
MUTANTS = sorted((HERE / "mutants").glob("*.py"))
NOTEBOOK = HERE / "notebook" / "Convolution_model_Step_by_Step_v1.ipynb"
BUDGET = 8


def losing(report) -> list[str]:
    return sorted({t.function for t in report.tests if t.status != "passed"})


def test_the_spec_declares_the_course_and_its_numpy():
    spec = load_spec("conv-step-by-step")
    assert [f.name for f in spec.functions] == ["zero_pad", "conv_single_step", "conv_forward", "conv_backward",
                                                "create_mask_from_window", "distribute_value", "pool_forward",
                                                "pool_backward"]
    assert spec.function("conv_forward").layouts == {"x": "NHWC", "w": "HWCF", "b": "111F"}
    assert "numpy" in Path(spec.source).read_text()


def test_the_solution_gets_full_marks():
    report = grade(SOLUTION, "conv-step-by-step", seed="practice", max_examples=BUDGET)
    assert losing(report) == [], [t.output for t in report.tests if t.status != "passed"]


@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda p: p.stem)
def test_each_mutant_loses_points_on_its_functions_only(mutant):
    said = re.search(r"^loses: (.*)$", mutant.read_text(), re.M).group(1)
    report = grade(mutant, "conv-step-by-step", seed="practice", max_examples=BUDGET)
    assert losing(report) == sorted(v.strip() for v in said.split(",")), \
        [t.output for t in report.tests if t.status != "passed"]


@pytest.mark.parametrize("mutant, words", [
    ("crop_pad_minus_pad", "pad = 0 is in this assignment's contract, but the course's hint"),
    ("pool_backward_ignores_stride", "the course's pool tests use stride 1"),
])
def test_a_failure_on_a_contract_edge_says_the_course_does_not_cover_it(mutant, words):
    report = grade(HERE / "mutants" / f"{mutant}.py", "conv-step-by-step", seed="practice", max_examples=BUDGET)
    failed = [t.output for t in report.tests if t.status != "passed"]
    assert failed and any(words in text for text in failed)


def test_the_edge_note_is_given_only_when_the_failing_case_is_at_the_edge():
    # the max mask from x > max fails pool_backward at stride 1 too: no stride note there
    report = grade(HERE / "mutants" / "mask_greater_than_max.py", "conv-step-by-step", seed="practice",
                   max_examples=BUDGET)
    failed = [t.output for t in report.tests if t.function == "pool_backward" and t.status != "passed"]
    assert failed and not any("stride" in text and "Note:" in text and "(stride=1," in text for text in failed)


def test_channels_last_feedback_shows_the_students_layouts():
    report = grade(HERE / "mutants" / "bias_first_channel.py", "conv-step-by-step", seed="practice",
                   max_examples=BUDGET)
    [text] = [t.output for t in report.tests if t.function == "conv_forward" and t.status != "passed"
              and "Not counted" not in t.output]
    assert "conv_forward(x, w, b, {'stride': " in text and "'pad': " in text
    b_line = next(line for line in text.splitlines() if line.strip().startswith("b = "))
    assert re.search(r"# shape \(1, 1, 1, \d+\)", b_line), b_line


def test_a_notebook_with_the_courses_test_cells_is_graded_end_to_end():
    report = grade(NOTEBOOK, "conv-step-by-step", seed="practice", max_examples=BUDGET)
    assert report.score == report.max_score, [t.output for t in report.tests if t.status != "passed"]
    notes = [m for m in report.messages if "course's own test cells were skipped" in m]
    assert len(notes) == 1 and "public_tests" in notes[0]
    assert not any("public_tests" in m for m in report.messages if m not in notes)
