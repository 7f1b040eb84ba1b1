"""The ``model`` assignment graded by the real grader: the LeNet as a spec text, its shapes and counts
stated by hand, and a small ConvNet's loss and gradients.

The solution gets full marks; the stubs as shipped report "not implemented"; every mutant of
``tests/submissions/model/`` loses points on the function its docstring names (``loses: …``) and
only there. The small ConvNet's reference (a composition of reference ops) is checked against torch
autograd on the grader's own strategy, which is what lets the spec call those checks "matches torch
autograd".
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given

from convcheck.assignments import notebooks
from convcheck.assignments.grader.batch import grade_folder
from convcheck.assignments.grader.model_checks import small_convnet_cases, summary_rows, tie_free
from convcheck.assignments.grader.spec import GRADER_CHECKS, load_spec
from convcheck.checks.profiles import examples
from convcheck.checks.tolerances import tolerance
from convcheck.reference.small_convnet import pre_activations, small_convnet_loss

CORPUS = Path(__file__).parent / "submissions" / "model"
#: Examples per check: the small ConvNet checks get a third of it (at least 5, as the grader does).
BUDGET = max(15, examples(15))


def expected_losses(path: Path) -> list[str]:
    found = re.search(r"^loses: (.*)$", path.read_text(), re.M)
    assert found, f"{path.name} must say which functions it loses points on"
    value = found.group(1).strip()
    return [] if value == "nothing" else sorted(x.strip() for x in value.split(","))


def entries(kind: str) -> list[Path]:
    return sorted((CORPUS / kind).glob("*.py"))


# --- the reference composition against torch autograd ---------------------------------------------------

def _torch_small_convnet(x, y, w1, b1, w2, b2):
    t = {k: torch.tensor(v, dtype=torch.float64, requires_grad=k != "x") for k, v in
         {"x": x, "w1": w1, "b1": b1, "w2": w2, "b2": b2}.items()}
    z1 = torch.nn.functional.conv2d(t["x"], t["w1"], t["b1"], stride=1, padding=1)
    p1 = torch.nn.functional.max_pool2d(torch.relu(z1), 2)
    z2 = p1.flatten(1) @ t["w2"] + t["b2"]
    loss = torch.nn.functional.cross_entropy(z2, torch.tensor(y, dtype=torch.long))
    loss.backward()
    return (loss.item(), *(t[k].grad.numpy() for k in ("w1", "b1", "w2", "b2")))


@given(small_convnet_cases())
def test_reference_small_convnet_matches_torch_autograd(case):
    got = small_convnet_loss(*case.inputs)
    want = _torch_small_convnet(*case.inputs)
    for name, g, w in zip(("loss", "dw1", "db1", "dw2", "db2"), got, want):
        tol = tolerance("float64", case.inputs[0].size * 9)
        assert np.allclose(g, w, rtol=tol.rtol, atol=tol.atol), (
            f"{name}={g!r}, but torch autograd gives {w!r} [small_convnet_loss(x.shape={case.inputs[0].shape})]")


@given(small_convnet_cases())
def test_strategy_is_tie_free_and_off_the_relu_kink(case):
    x, y, w1, b1, w2, b2 = case.inputs
    z1 = pre_activations(x, w1, b1)
    assert np.abs(z1).min() >= 0.5, f"min |z1|={np.abs(z1).min()}, but should be >= 0.5 (off the ReLU kink)"
    assert tie_free(z1)
    assert w2.shape == (w1.shape[0] * (x.shape[2] // 2) * (x.shape[3] // 2), b2.shape[0])
    assert y.min() >= 0 and y.max() < b2.shape[0]


def test_tie_free_sees_a_positive_tie_and_ignores_zeros():
    z1 = np.array([[[[1.5, 1.5], [-0.5, 0.5]]]])
    assert not tie_free(z1)
    assert tie_free(np.array([[[[-0.5, -0.5], [-1.5, 2.5]]]]))


# --- the spec ----------------------------------------------------------------------------------------------

def test_model_spec_grades_every_part_with_known_grader_checks():
    spec = load_spec("model")
    assert [f.name for f in spec.functions] == ["softmax_cross_entropy", "flatten_forward", "flatten_backward",
                                                "lenet_spec", "lenet_shapes", "lenet_params", "small_convnet_loss"]
    assert spec.extra["model"]["reference"] == "lenet-course"
    assert all(c.check in GRADER_CHECKS for f in spec.functions[3:] for c in f.checks)
    assert spec.max_score == 110
    from convcheck.reference.model import load_bundled

    rows = summary_rows(load_bundled("lenet-course").summary().to_dict())
    assert [r["type"] for r in rows] == ["Conv2D", "MaxPool2D", "Conv2D", "MaxPool2D", "Flatten", "Dense", "Dense",
                                         "Dense"]


# --- grading: the solution, the stubs, the mutants ---------------------------------------------------------

@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """The solution, the stubs as shipped, every mutant and correct variant, graded as one batch of 2."""
    folder = tmp_path_factory.mktemp("model-corpus")
    shutil.copy(notebooks.solution_path("model"), folder / "solution.py")
    (folder / "stubs.py").write_text(notebooks.build_stub_module("model"))
    for kind in ("mutants", "correct"):
        for entry in entries(kind):
            shutil.copy(entry, folder / f"{kind}__{entry.name}")
    result = grade_folder(folder, "model", jobs=2, gradebook=folder / "grades.csv", max_examples=BUDGET,
                          progress=False)
    assert result.errors == {}
    return {p.stem: json.loads(p.read_text()) for p in (folder / "_reports").glob("*.json")}


def _lost(report) -> list[str]:
    return sorted(f["name"] for f in report["functions"] if f["score"] != f["max_score"])


def _test(report, name):
    return next(t for t in report["tests"] if t["name"].startswith(name))


def test_solution_gets_full_marks(graded):
    report = graded["solution"]
    failed = [(t["name"], t["output"][:300]) for t in report["tests"] if t["status"] != "passed"]
    assert report["score"] == report["max_score"] == 110, failed


def test_stubs_report_not_implemented_not_a_crash(graded):
    report = graded["stubs"]
    assert report["score"] == 0 and report["messages"] == []
    for t in report["tests"]:
        assert "NotImplementedError" in t["output"], (t["name"], t["output"][:300])
    summary = notebooks.summarize(_as_report(report))  # what the notebook's self-check prints
    assert all(status == "not implemented" for status, _s, _m in summary.functions.values()), summary.text


def _as_report(d):
    from convcheck.assignments.grader.scoring import FunctionTotal, GradeReport, TestResult

    tests = [TestResult(**{k: v for k, v in t.items() if k in TestResult.__dataclass_fields__}) for t in d["tests"]]
    functions = [FunctionTotal(f["name"], f["score"], f["max_score"]) for f in d["functions"]]
    return GradeReport(d["assignment"], d["submission"], d["seed"], d["max_examples"], tests, functions, d["messages"])


def test_corpus_has_the_realistic_mutants():
    names = {p.stem for p in entries("mutants")}
    assert {"lenet_conv2_8_filters", "lenet_shapes_same_padding", "convnet_loss_not_averaged",
            "convnet_pool_grad_to_whole_window"} <= names and entries("correct")


def test_every_mutant_loses_points_on_the_right_function_only(graded):
    wrong = {}
    for kind in ("mutants", "correct"):
        for entry in entries(kind):
            report = graded[f"{kind}__{entry.stem}"]
            want = expected_losses(entry)
            assert want or kind == "correct", f"{entry.name}: a mutant must name the function it breaks"
            if _lost(report) != want:
                wrong[entry.name] = {"lost": _lost(report), "expected": want,
                                     "failed": [t["output"][:200] for t in report["tests"] if t["status"] != "passed"]}
    assert wrong == {}, f"graded on the wrong functions: {wrong}"


def test_lenet_feedback_names_the_first_differing_row_and_the_parsers_line(graded):
    test = _test(graded["mutants__lenet_conv2_8_filters"], "lenet_spec: its summary")
    assert "row 3 (conv2d_1): output shape (10, 10, 8), but should be (10, 10, 16)" in test["output"], test["output"]
    assert _test(graded["mutants__lenet_conv2_8_filters"], "lenet_spec: the spec text parses")["status"] == "passed"
    typo = _test(graded["mutants__lenet_spec_typo"], "lenet_spec: the spec text parses")["output"]
    assert "lenet_spec(), line 3: 'maxpol 2': unknown layer 'maxpol'; expected one of: conv" in typo, typo
    shapes = graded["mutants__lenet_shapes_same_padding"]
    out = _test(shapes, "lenet_shapes: output shapes of the conv")["output"]
    assert "row 3 (conv2d_1, Conv2D): shape (14, 14, 16), but should be (10, 10, 16)" in out, out
    params = graded["mutants__lenet_params_no_bias"]
    assert _test(params, "lenet_params: parameter counts of the conv")["status"] == "passed"
    assert "row 6 (dense, Dense): params 48,000, but should be 48,120" in _test(
        params, "lenet_params: parameter counts of flatten")["output"]


def test_small_convnet_feedback_shows_the_shrunk_case_and_diagnoses_the_sum(graded):
    summed = graded["mutants__convnet_loss_not_averaged"]
    test = _test(summed, "small_convnet_loss: loss matches")
    out = test["output"]
    for words in ("loss differs at []", "Smallest failing case (shrunk by Hypothesis", "x = ", "Expected loss",
                  "Received loss", "summed over the batch instead of averaged: it is exactly N=2 times"):
        assert words in out, f"{words!r} missing from:\n{out}"
    pool = graded["mutants__convnet_pool_grad_to_whole_window"]
    status = {t["name"].split(": ", 1)[1].split(" ")[0]: t["status"] for t in pool["tests"]
              if t["function"] == "small_convnet_loss"}
    assert status == {"loss": "passed", "dw1": "failed", "db1": "failed", "dw2": "passed", "db2": "passed"}, status
    out = _test(pool, "small_convnet_loss: dw1")["output"]
    assert "dw1 differs at" in out and "sends each window's gradient to all of its elements" in out, out
