"""The corpus: every buggy submission loses points on the function it breaks, and only there; every
correct variant gets full marks. Graded as a batch (2 processes), which also tests the batch runner.

Each file of ``tests/submissions/layers/`` says in its docstring which functions it must lose points
on (``loses: a, b`` or ``loses: nothing``).
"""

from __future__ import annotations

import csv
import json
import re
import shutil
from pathlib import Path

import pytest

from _grader_specs import LAYERS8, LAYERS8_CS231N  # noqa: F401 - the 8-function layers spec
from convcheck.assignments.grader.batch import grade_folder
from convcheck.checks.profiles import examples

CORPUS = Path(__file__).parent / "submissions" / "layers"
#: Examples per check: the spec's default is 30; 15 (dev; 12 under ci) still catches every mutant, which
#: the test below proves — raising it only makes the corpus slower.
BUDGET = max(12, examples(15))


def expected_losses(path: Path) -> list[str]:
    text = (path / "layers.py").read_text() if path.is_dir() else path.read_text()
    if path.suffix == ".ipynb":
        text = "\n".join("".join(c["source"]) for c in json.loads(text)["cells"])
    found = re.search(r"^loses: (.*)$", text, re.M)
    assert found, f"{path.name} must say which functions it loses points on"
    value = found.group(1).split("(")[0].strip()
    return [] if value == "nothing" else sorted(x.strip() for x in value.split(","))


def entries(kind: str) -> list[Path]:
    return sorted((CORPUS / kind).iterdir())


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Grade mutants and correct variants in one batch of 2 processes; reports by student name."""
    folder = tmp_path_factory.mktemp("corpus")
    for kind in ("mutants", "correct"):
        for entry in entries(kind):
            target = folder / f"{kind}__{entry.name}"
            (shutil.copytree if entry.is_dir() else shutil.copy)(entry, target)
    result = grade_folder(folder, LAYERS8, jobs=2, gradebook=folder / "grades.csv", max_examples=BUDGET,
                          progress=False)
    assert result.errors == {}
    reports = {}
    for report in (folder / "_reports").glob("*.json"):
        reports[report.stem] = json.loads(report.read_text())
    return folder, reports


def _lost(report) -> list[str]:
    return sorted(f["name"] for f in report["functions"] if f["score"] != f["max_score"])


def test_corpus_is_big_enough():
    assert len(entries("mutants")) >= 20
    assert len(entries("correct")) >= 4


def test_every_mutant_loses_points_on_the_right_function_only(graded):
    _, reports = graded
    wrong = {}
    for entry in entries("mutants"):
        report = reports[f"mutants__{Path(entry.name).stem}"]
        want = expected_losses(entry)
        assert want, f"{entry.name}: a mutant must name the function it breaks"
        if _lost(report) != want:
            wrong[entry.name] = {"lost": _lost(report), "expected": want}
    assert wrong == {}, f"mutants graded on the wrong functions: {wrong}"


def test_every_correct_variant_gets_full_marks(graded):
    _, reports = graded
    for entry in entries("correct"):
        report = reports[f"correct__{Path(entry.name).stem}"]
        failed = [(t["name"], t["output"][:300]) for t in report["tests"] if t["status"] != "passed"]
        assert report["score"] == report["max_score"] == 100, f"{entry.name}: {failed}"


def test_failures_show_the_shrunk_case_expected_and_received_and_a_hint(graded):
    _, reports = graded
    pad_crop = reports["mutants__conv_backward_pad_crop"]
    test = next(t for t in pad_crop["tests"] if t["name"] == "conv_backward_naive: dx matches torch autograd")
    assert test["status"] == "failed" and test["score"] == 0
    out = test["output"]
    for words in ("Smallest failing case", "conv_backward_naive(dout, cache)", "'pad': 0", "Expected dx",
                  "Received dx", "pad:-pad"):
        assert words in out, f"{words!r} missing from:\n{out}"
    stale = reports["mutants__conv_backward_stale_cache"]
    test = next(t for t in stale["tests"] if t["name"] == "conv_backward_naive: uses the cache of its own forward call")
    assert test["status"] == "failed" and "LAST forward" in test["output"]
    flipped = reports["mutants__conv_forward_flipped_kernel"]
    test = next(t for t in flipped["tests"] if t["check"] == "conv_forward.matches_torch")
    assert "flipped" in test["output"]
    overwrite = reports["mutants__pool_backward_overwrite"]
    assert any("added (+=)" in t["output"] for t in overwrite["tests"] if t["status"] == "failed")
    py2 = reports["mutants__pool_backward_py2_division"]
    assert any("use //" in t["output"] for t in py2["tests"] if t["status"] == "failed")
    mutates = reports["mutants__relu_forward_mutates_x"]
    test = next(t for t in mutates["tests"] if t["name"] == "relu_forward: x is not modified")
    assert test["status"] == "failed" and "modified its input x" in test["output"]


def test_gradebook_has_one_row_per_student_with_per_function_columns(graded):
    folder, reports = graded
    rows = list(csv.DictReader((folder / "grades.csv").open()))
    assert len(rows) == len(reports) == len(entries("mutants")) + len(entries("correct"))
    assert {"student", "score", "max_score", "conv_backward_naive", "status"} <= set(rows[0])
    by_student = {r["student"]: r for r in rows}
    assert by_student["correct__vectorized"]["score"] == "100"
    assert by_student["mutants__conv_backward_pad_crop"]["conv_forward_naive"] == "20"
    assert float(by_student["mutants__conv_backward_pad_crop"]["conv_backward_naive"]) < 20


def test_cs231n_contract_gives_full_marks_to_an_exact_division_solution():
    from convcheck.assignments import grade

    mutant = CORPUS / "mutants" / "conv_forward_assumes_exact_division.py"
    report = grade(mutant, LAYERS8_CS231N, max_examples=BUDGET)
    assert report.score == report.max_score, [t.output[:300] for t in report.tests if t.status != "passed"]
