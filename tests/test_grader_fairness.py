"""Fair, bounded grading (issue 15): secret seeds, points only for computed values, time budgets, and a
report (never a traceback) for any submission. Each test is a hostile submission and the score it may get."""

from __future__ import annotations

import json
import sys
import time
import zipfile
from pathlib import Path

import pytest

from _grader_specs import LAYERS8, LAYERS8_CS231N  # noqa: F401 - the 8-function layers spec
from convcheck.assignments import grade, load_spec
from convcheck.assignments.grader.grade import PRACTICE
from convcheck.checks.profiles import examples

ROOT = Path(__file__).resolve().parent.parent
CORPUS = Path(__file__).parent / "submissions" / "layers"
TRICKS = CORPUS / "tricks"
SOLUTION = ROOT / "solutions" / "layers_solution.py"
BUDGET = max(12, examples(15))   # the corpus's budget: enough to catch every mutant


# --- 1. the seed is secret --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def lookup_table(tmp_path_factory):
    """The 400-odd cases of the public seed 231, recorded offline with the reference solution."""
    sys.path.insert(0, str(ROOT))
    try:
        from tests.fixtures.lookup_table import write_lookup_table
    finally:
        sys.path.remove(str(ROOT))
    path, n = write_lookup_table(tmp_path_factory.mktemp("cheat") / "layers.py", seed=231, max_examples=BUDGET)
    assert n > 100
    return path


def test_a_lookup_table_of_the_public_seed_scores_next_to_nothing_by_default(lookup_table):
    import dataclasses

    # the table decodes its answers with base64 and io: allowed here, so that only the seed stops it
    base = load_spec(LAYERS8)
    spec = dataclasses.replace(base, allowed_imports=base.allowed_imports + ("base64", "hashlib", "io"))
    public = grade(lookup_table, spec, seed=PRACTICE, max_examples=BUDGET)
    assert public.seed == 231 and public.score == 100   # the cheat works against the public seed ...
    report = grade(lookup_table, spec, max_examples=BUDGET)
    assert report.seed != 231
    assert report.score <= 20                          # ... and not against the default, secret one


def test_the_secret_seed_is_recorded_and_replays_byte_identically(tmp_path):
    mutant = CORPUS / "mutants" / "conv_backward_overwrite.py"
    first = grade(mutant, LAYERS8, max_examples=examples(6))
    assert first.seed != load_spec(LAYERS8).seed
    assert first.to_gradescope()["extra_data"]["seed"] == first.seed == json.loads(first.to_json())["seed"]
    assert str(first.seed) not in first.to_text(color=False)
    assert str(first.seed) not in first.to_gradescope()["output"] + "".join(
        t["output"] for t in first.to_gradescope()["tests"])
    replay = grade(mutant, LAYERS8, seed=first.seed, max_examples=examples(6))
    assert replay.to_json() == first.to_json() and replay.to_text(color=False) == first.to_text(color=False)


def test_a_changed_submission_gets_another_seed(tmp_path):
    text = SOLUTION.read_text()
    (tmp_path / "a.py").write_text(text)
    (tmp_path / "b.py").write_text(text + "\n# resubmitted\n")
    from convcheck.assignments.grader.grade import resolve_seed
    from convcheck.assignments.grader.loader import load_submission_source

    spec = load_spec(LAYERS8)
    a = resolve_seed(spec, None, load_submission_source(tmp_path / "a.py").files, "a.py")
    again = resolve_seed(spec, None, load_submission_source(tmp_path / "a.py").files, "a.py")
    b = resolve_seed(spec, None, load_submission_source(tmp_path / "b.py").files, "b.py")
    assert a == again != b and resolve_seed(spec, PRACTICE, None, "") == 231


def test_the_secret_file_is_made_once_private(tmp_path, monkeypatch):
    from convcheck.assignments.grader import secret

    monkeypatch.setenv("CONVCHECK_SECRET_FILE", str(tmp_path / "course" / "grader-secret"))
    one = secret.grading_seed("layers", {"x.py": b"1"})
    assert (tmp_path / "course" / "grader-secret").stat().st_mode & 0o777 == 0o600
    assert secret.grading_seed("layers", {"x.py": b"1"}) == one
    monkeypatch.setenv("CONVCHECK_SECRET_FILE", str(tmp_path / "other"))
    assert secret.grading_seed("layers", {"x.py": b"1"}) != one   # another course, other cases


# --- 2. fair scoring --------------------------------------------------------------------------------

def test_zero_stubs_score_zero():
    report = grade(TRICKS / "zeros.py", LAYERS8, max_examples=BUDGET)
    assert report.score == 0
    aux = [t for t in report.tests if t.check in ("grader.no_input_mutation", "grader.fresh_cache")]
    assert aux and all("Not counted" in t.output for t in aux)


@pytest.mark.parametrize("trick, plain, function", [
    ("conv_backward_refuses_stride.py", "conv_backward_stride_ignored.py", "conv_backward_naive"),
    ("pool_backward_refuses_overlap.py", "pool_backward_overwrite.py", "max_pool_backward_naive"),
])
def test_refusing_in_the_forward_does_not_hide_a_backward_bug(trick, plain, function):
    tricked = grade(TRICKS / trick, LAYERS8, max_examples=BUDGET, seed=232)
    mutant = grade(CORPUS / "mutants" / plain, LAYERS8, max_examples=BUDGET, seed=232)
    assert tricked.score <= mutant.score < 100
    assert tricked.function_scores()[function][0] <= mutant.function_scores()[function][0]
    said = "\n".join(t.output for t in tricked.tests if t.function == function)
    assert "to make the cache for" in said or "could not be checked" in said


def test_a_forward_that_raises_fails_its_backward_example_with_a_message():
    from convcheck.assignments.grader import conventions

    spec = load_spec(LAYERS8)
    backward = spec.function("relu_backward")

    class Runner:
        call_timeout = 10.0

        def call(self, name, *args, keep=None):
            raise RuntimeError("relu_forward raised ValueError: no")

    impl = conventions.adapt(spec, Runner())
    import numpy as np

    with pytest.raises(conventions.ForwardFailed, match="relu_forward raised .* to make the cache for relu_backward"):
        impl[backward.op](np.ones((1, 2)), np.ones((1, 2)))


# --- 4. time budgets --------------------------------------------------------------------------------

SLOW = '''
import time
import numpy as np


def relu_forward(x):
    time.sleep(0.4)
    return np.maximum(0, x), x


def relu_backward(dout, cache):
    time.sleep(0.4)
    return dout * (cache > 0)


def affine_forward(x, w, b):
    return x.reshape(x.shape[0], -1) @ w + b, (x, w, b)


def affine_backward(dout, cache):
    x, w, b = cache
    return (dout @ w.T).reshape(x.shape), x.reshape(x.shape[0], -1).T @ dout, dout.sum(axis=0)
'''


def _small_spec(tmp_path, function_budget, submission_budget):
    import dataclasses

    spec = load_spec(LAYERS8)
    keep = ("affine_forward", "affine_backward", "relu_forward", "relu_backward")
    return dataclasses.replace(spec, functions=tuple(f for f in spec.functions if f.name in keep),
                               function_budget=function_budget, submission_budget=submission_budget)


def test_a_submission_slow_on_every_call_ends_within_its_budget(tmp_path):
    (tmp_path / "slow.py").write_text(SLOW)
    spec = _small_spec(tmp_path, function_budget=6.0, submission_budget=20.0)
    t0 = time.monotonic()
    report = grade(tmp_path / "slow.py", spec, max_examples=20, seed=1)
    wall = time.monotonic() - t0
    assert wall < 20.0 + 10.0, wall   # the budget (time in calls), plus the grader's own work
    scores = report.function_scores()
    assert scores["affine_forward"] == (10, 10) and scores["affine_backward"] == (10, 10)
    assert scores["relu_forward"][0] < 5
    spent = "\n".join(t.output for t in report.tests if t.function == "relu_forward")
    assert "time budget of" in spent and "spent" in spent
    assert any("time budget" in f.note for f in report.functions if f.name == "relu_forward")


def test_budgets_are_read_from_the_spec():
    spec = load_spec(LAYERS8)
    assert spec.function_budget == 60 and spec.submission_budget == 300


# --- 8. never a traceback --------------------------------------------------------------------------

def _zip(path, entries):
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in entries:
            zf.writestr(name, data)
    return path


def _notebook(path, cell):
    nb = {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [cell]}
    path.write_text(json.dumps(nb))
    return path


MALFORMED = {
    "file_and_folder.zip": lambda d: _zip(d / "file_and_folder.zip", [("data", "x"), ("data/x.txt", "y"),
                                                                        ("layers.py", "x = 1\n")]),
    "long_name.zip": lambda d: _zip(d / "long_name.zip", [("a" * 300 + ".txt", "x"), ("layers.py", "x = 1\n")]),
    "long_path.zip": lambda d: _zip(d / "long_path.zip", [("/".join(["d" * 200] * 25) + "/f.txt", "x"),
                                                          ("layers.py", "x = 1\n")]),
    "int_source.ipynb": lambda d: _notebook(d / "int_source.ipynb", {"cell_type": "code", "metadata": {},
                                                                     "outputs": [], "execution_count": None,
                                                                     "source": 5}),
    "no_source.ipynb": lambda d: _notebook(d / "no_source.ipynb", {"cell_type": "code", "metadata": {},
                                                                   "outputs": [], "execution_count": None}),
    "unary_minus.py": lambda d: (d / "unary_minus.py").write_text("x = " + "-" * 100_000 + "1\n") and d / "unary_minus.py",
    "long_sum.py": lambda d: (d / "long_sum.py").write_text("x = " + "+".join(["1"] * 200_000) + "\n") and d / "long_sum.py",
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_a_malformed_submission_gets_a_report_with_zero_points(case, tmp_path, capsys):
    path = MALFORMED[case](tmp_path)
    report = grade(path, LAYERS8, max_examples=3)
    assert report.score == 0 and not report.internal_error
    said = " ".join(report.messages) + report.tests[0].output
    assert any(word in said for word in ("could not be read", "cannot be compiled", "the cell was not run")), said
    assert "Traceback" not in said and "Traceback" not in capsys.readouterr().err


def test_an_internal_error_of_the_grader_is_a_report_that_says_so(monkeypatch):
    import importlib

    grade_module = importlib.import_module("convcheck.assignments.grader.grade")

    def broken(*args, **kwargs):
        raise KeyError("a grader bug")

    monkeypatch.setattr(grade_module, "forbidden_uses", broken)
    report = grade(SOLUTION, LAYERS8, max_examples=3)
    assert report.score == 0 and "KeyError" in report.internal_error
    assert "internal error" in report.messages[0] and "Traceback" not in report.to_text(color=False)
    assert json.loads(report.to_json())["internal_error"]


# --- tour stumbles ---------------------------------------------------------------------------------

def test_the_wrong_assignment_is_named():
    report = grade(ROOT / "solutions" / "model_solution.py", LAYERS8, max_examples=3)
    assert report.score == 0
    assert any("did you mean --assignment model" in m for m in report.messages), report.messages
