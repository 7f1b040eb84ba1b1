"""The grader end to end: reports and their formats, determinism, the CLI, batches, Gradescope, hostile code."""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from _grader_specs import LAYERS8, LAYERS8_CS231N  # noqa: F401 - the 8-function layers spec
from convcheck.assignments import grade, load_spec
from convcheck.assignments.grader.grade import PRACTICE
from convcheck.checks.profiles import examples
from convcheck.cli import main as cli

ROOT = Path(__file__).resolve().parent.parent
SOLUTION = ROOT / "solutions" / "layers_solution.py"
CORPUS = Path(__file__).parent / "submissions" / "layers"
SMALL = examples(6)  # reports, formats and plumbing: a handful of examples is enough


@pytest.fixture(scope="module")
def solution_report():
    return grade(SOLUTION, LAYERS8, max_examples=SMALL)


# --- reports ---------------------------------------------------------------------------------------

def test_the_reference_solution_gets_full_marks(solution_report):
    assert solution_report.score == solution_report.max_score == 100
    assert all(t.status == "passed" and t.output == "" for t in solution_report.tests)
    assert [f.name for f in solution_report.functions][:2] == ["affine_forward", "affine_backward"]


def test_gradescope_results_follow_gradescopes_schema(solution_report):
    data = solution_report.to_gradescope()
    json.dumps(data)  # JSON-able
    assert set(data) == {"score", "execution_time", "output", "tests", "extra_data"}
    assert data["extra_data"]["seed"] == solution_report.seed   # stored by Gradescope, not shown
    assert isinstance(data["score"], (int, float)) and isinstance(data["execution_time"], int)
    numbers = set()
    for test in data["tests"]:
        assert set(test) == {"name", "number", "score", "max_score", "status", "output", "visibility"}
        function, _, what = test["name"].partition(": ")
        assert function in {f.name for f in load_spec(LAYERS8).functions} and what
        assert test["status"] in ("passed", "failed") and test["visibility"] == "visible"
        assert 0 <= test["score"] <= test["max_score"]
        numbers.add(test["number"])
    assert len(numbers) == len(data["tests"])
    assert "conv_backward_naive: dx matches torch autograd" in [t["name"] for t in data["tests"]]
    assert sum(t["max_score"] for t in data["tests"]) == 100


def test_a_regrade_with_the_same_seed_is_byte_identical():
    mutant = CORPUS / "mutants" / "conv_backward_overwrite.py"
    first = grade(mutant, LAYERS8, max_examples=SMALL)
    second = grade(mutant, LAYERS8, max_examples=SMALL)
    assert first.score < first.max_score  # a failing report, with its counterexample, is the hard case
    assert first.to_json() == second.to_json()
    assert first.to_text(color=False) == second.to_text(color=False)
    one, two = first.to_gradescope(), second.to_gradescope()
    one.pop("execution_time"), two.pop("execution_time")
    assert json.dumps(one) == json.dumps(two)
    assert "execution_time" not in first.to_json() and '"seconds"' not in first.to_json()


def test_text_report_is_plain_without_a_terminal_and_coloured_with_one(solution_report):
    plain = solution_report.to_text(color=False)
    assert "\x1b[" not in plain and "100 / 100" in plain
    assert "\x1b[" in solution_report.to_text(color=True)


def test_missing_functions_score_zero_and_the_rest_is_graded(tmp_path):
    text = SOLUTION.read_text()
    start = text.index("def max_pool_backward_naive")
    (tmp_path / "partial.py").write_text(text[:start])
    report = grade(tmp_path / "partial.py", LAYERS8, max_examples=SMALL)
    scores = report.function_scores()
    assert scores["max_pool_backward_naive"] == (0, 18)
    assert all(s == m for name, (s, m) in scores.items() if name != "max_pool_backward_naive")
    test = next(t for t in report.tests if t.function == "max_pool_backward_naive")
    assert "does not define max_pool_backward_naive" in test.output


def test_a_syntax_error_is_reported_with_file_and_line(tmp_path):
    (tmp_path / "broken.py").write_text(SOLUTION.read_text() + "\ndef oops(:\n    pass\n")
    report = grade(tmp_path / "broken.py", LAYERS8, max_examples=SMALL)
    assert report.score == 0
    assert any("broken.py" in m and "line" in m for m in report.messages), report.messages


def test_an_unreadable_submission_scores_zero_with_a_message(tmp_path):
    (tmp_path / "notes.txt").write_text("no code here")
    report = grade(tmp_path / "notes.txt", LAYERS8, max_examples=SMALL)
    assert report.score == 0 and "could not be read" in report.messages[0]


# --- hostile submissions ----------------------------------------------------------------------------

HOSTILE = CORPUS / "hostile"


@pytest.fixture(scope="module")
def hostile_spec():
    # a short time limit and a small memory cap keep the hostile cases quick; the modules the hostile files use
    # are allowed, so that the worker's run-time defences (not the import rules) are what they meet
    spec = load_spec(LAYERS8)
    return dataclasses.replace(spec, call_timeout=3.0, memory_mb=768,
                               allowed_imports=spec.allowed_imports + ("ctypes", "sys", "os", "inspect", "signal", "gc"))


@pytest.mark.parametrize("name, words", [
    ("infinite_loop.py", "did not finish within 3 s"),
    ("memory_hog.py", "relu_backward"),
    ("segfault.py", "SIGSEGV"),
    ("forged_stdout.py", "differs"),
    ("monkeypatch_numpy.py", "differs"),
    ("stack_cheat.py", "differs"),
    ("forbidden_torch.py", "module torch (forbidden_torch.py, line 7), which this assignment does not allow"),
    ("exit_at_import.py", "exit code 3"),
])
def test_hostile_submissions_lose_only_what_they_break(hostile_spec, name, words):
    from test_grader_corpus import expected_losses

    path = HOSTILE / name
    # a handful of examples catches these at the spec's public seed; a random one may draw only b = 0
    report = grade(path, hostile_spec, max_examples=SMALL, seed=PRACTICE)
    lost = sorted(n for n, (s, m) in report.function_scores().items() if s != m)
    assert lost == expected_losses(path)
    everything = "\n".join(report.messages + [t.output for t in report.tests])
    assert words in everything
    assert report.score < 100


def test_a_notebook_with_magics_and_a_failing_cell_is_graded(hostile_spec):
    report = grade(HOSTILE / "notebook_magics.ipynb", hostile_spec, max_examples=SMALL)
    assert report.score == 100, [t.output[:200] for t in report.tests if t.status != "passed"]
    assert any("AssertionError" in m and "cell" in m for m in report.messages)
    assert any("magic" in m for m in report.messages)


@pytest.mark.parametrize("name", ["forbidden_imports.py", "syntax_error.py", "pipe_forger.py", "forged_stdout.py"])
def test_the_sandbox_hostile_fixtures_get_no_points_they_did_not_earn(name):
    path = ROOT / "tests" / "hostile" / name
    report = grade(path, LAYERS8, max_examples=SMALL)
    # these define none of the assignment's functions, except forged_stdout's wrong relu_forward, which
    # keeps only the point for leaving x alone, whatever it prints
    earned = {t.name for t in report.tests if t.status == "passed"}
    assert earned <= {"relu_forward: x is not modified"}
    assert all(t.output for t in report.tests if t.status == "failed")


# --- the command line ---------------------------------------------------------------------------------

def test_cli_writes_gradescope_json(tmp_path, capsys):
    out = tmp_path / "results.json"
    assert cli(["grade", str(SOLUTION), "--assignment", LAYERS8, "--format", "gradescope",
                "--out", str(out), "--examples", str(SMALL)]) == 0
    data = json.loads(out.read_text())
    assert data["score"] == 100 and len(data["tests"]) == 22


def test_cli_text_and_json(tmp_path, capsys):
    mutant = CORPUS / "mutants" / "relu_backward_gate_on_dout.py"
    assert cli(["grade", str(mutant), "--examples", str(SMALL), "--seed", "7"]) == 0
    text = capsys.readouterr().out
    assert "relu_backward" in text and "Smallest failing case" in text
    assert cli(["grade", str(mutant), "--format", "json", "--examples", str(SMALL), "--seed", "7"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["seed"] == 7 and data["score"] < 100


def test_cli_refuses_an_unknown_assignment(capsys):
    assert cli(["grade", str(SOLUTION), "--assignment", "nope"]) == 2
    assert "no assignment spec" in capsys.readouterr().err


# --- batches -------------------------------------------------------------------------------------------

def test_batch_is_resumable_and_survives_a_broken_submission(tmp_path, capsys):
    roster = tmp_path / "class"
    roster.mkdir()
    shutil.copy(SOLUTION, roster / "ada.py")
    shutil.copytree(CORPUS / "correct" / "loops_folder", roster / "brian")
    (roster / "carl.zip").write_bytes(b"this is not a zip file")
    shutil.copy(CORPUS / "mutants" / "relu_forward_np_max.py", roster / "dana.py")
    book = tmp_path / "grades.csv"
    args = ["grade", str(roster), "--jobs", "2", "--gradebook", str(book), "--examples", str(SMALL)]
    assert cli(args) == 0
    assert "graded 4, skipped 0" in capsys.readouterr().out
    rows = {r["student"]: r for r in csv.DictReader(book.open())}
    # the default spec (layers) grades the whole cs231n file: ada's has all 21 functions, brian's the first 8
    assert rows["ada"]["score"] == "195" and rows["brian"]["score"] == "100"
    assert rows["carl"]["score"] == "0" and rows["carl"]["status"] == "graded"
    assert float(rows["dana"]["relu_forward"]) < 5 and rows["dana"]["conv_forward_naive"] == "20"
    reports = roster / "_reports"
    assert sorted(p.name for p in reports.iterdir()) == ["ada.json", "brian.json", "carl.json", "dana.json"]
    before = (reports / "ada.json").read_bytes()

    (reports / "dana.json").unlink()  # an interrupted batch: dana's report was never written
    assert cli(args) == 0
    assert "graded 1, skipped 3" in capsys.readouterr().out
    assert (reports / "dana.json").exists()

    assert cli(args + ["--regrade"]) == 0
    assert "graded 4, skipped 0" in capsys.readouterr().out
    assert (reports / "ada.json").read_bytes() == before  # deterministic regrade


# --- Gradescope ---------------------------------------------------------------------------------------

def test_gradescope_bundle_runs_end_to_end_in_a_fake_autograder_tree(tmp_path):
    bundle = tmp_path / "autograder.zip"
    assert cli(["gradescope-bundle", "--assignment", LAYERS8, "-o", str(bundle)]) == 0
    with zipfile.ZipFile(bundle) as zf:
        names = set(zf.namelist())
        assert {"setup.sh", "run_autograder", "layers.toml"} <= names
        assert "convcheck-src/pyproject.toml" in names
        assert (zf.getinfo("run_autograder").external_attr >> 16) & 0o111
        root = tmp_path / "autograder"
        zf.extractall(root / "source")
    (root / "source" / "layers.toml").write_text(
        (root / "source" / "layers.toml").read_text().replace("max_examples = 30", f"max_examples = {SMALL}"))
    (root / "submission").mkdir(parents=True)
    shutil.copy(CORPUS / "mutants" / "conv_backward_pad_crop.py", root / "submission" / "layers.py")
    env = dict(os.environ, CONVCHECK_AUTOGRADER_ROOT=str(root),
               CONVCHECK_BIN=str(Path(sys.executable).with_name("convcheck")))
    subprocess.run(["bash", str(root / "source" / "run_autograder")], env=env, check=True, timeout=600)
    results = json.loads((root / "results" / "results.json").read_text())
    assert 0 < results["score"] < 100
    failed = [t["name"] for t in results["tests"] if t["status"] == "failed"]
    assert failed and all(name.startswith("conv_backward_naive: ") for name in failed)


def test_run_autograder_reports_a_grader_failure_instead_of_nothing(tmp_path):
    from convcheck.assignments.grader.gradescope import build_bundle

    build_bundle("layers", tmp_path / "a.zip")
    root = tmp_path / "autograder"
    with zipfile.ZipFile(tmp_path / "a.zip") as zf:
        zf.extractall(root / "source")
    (root / "submission").mkdir()
    env = dict(os.environ, CONVCHECK_AUTOGRADER_ROOT=str(root), CONVCHECK_BIN="/bin/false")
    subprocess.run(["bash", str(root / "source" / "run_autograder")], env=env, check=True, timeout=60)
    results = json.loads((root / "results" / "results.json").read_text())
    assert results["score"] == 0 and "could not grade" in results["output"]


# --- other assignments and the notebooks' self-check -------------------------------------------------------

def test_arithmetic_assignment_grades_reference_convention_functions():
    folder = Path(__file__).parent / "submissions" / "arithmetic"
    correct = grade(folder / "correct.py", "arithmetic", max_examples=examples(30))
    assert correct.score == 100, [t.output[:300] for t in correct.tests if t.status != "passed"]
    mutant = grade(folder / "conv_params_ignores_groups.py", "arithmetic", max_examples=examples(30))
    assert [n for n, (s, m) in mutant.function_scores().items() if s != m] == ["conv_params"]
    test = next(t for t in mutant.tests if t.function == "conv_params")
    assert "groups=" in test.output and "conv_params(" in test.output


def test_self_check_grades_functions_given_as_objects_in_the_worker():
    import importlib.util

    from convcheck.assignments.grader.self_check import self_check

    spec = importlib.util.spec_from_file_location("student_layers", SOLUTION)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    functions = {name: getattr(module, name) for name in ("relu_forward", "relu_backward")}
    report = self_check(functions, LAYERS8)
    scores = report.function_scores()
    assert scores["relu_forward"] == (5, 5) and scores["relu_backward"] == (5, 5)
    assert scores["conv_forward_naive"][0] == 0  # not given: "not defined", not a crash
    assert self_check(SOLUTION, LAYERS8).score == 100
