"""A spec names the NumPy its students use (``[limits] numpy = "<2"``): the worker runs with that NumPy,
installed once into its own environment from the package registry, and every report names it."""

from __future__ import annotations

import dataclasses
import textwrap

import numpy as np
import pytest

from convcheck.assignments.grader import GraderError, grade
from convcheck.assignments.grader.environment import worker_environment
from convcheck.assignments.grader.sandbox import Sandbox
from convcheck.assignments.grader.spec import SpecError, load_spec, parse_spec

CODE = textwrap.dedent("""
    import numpy as np

    def version(_):
        return np.__version__

    def course_template(a):
        # the course's own template: float() of a (1, 1, 1) array, as its conv_single_step does
        return float(np.sum(a, axis=(0, 1, 2), keepdims=True))
""")


@pytest.fixture(scope="module")
def numpy1_env():
    try:
        return worker_environment("<2")
    except Exception as exc:  # no registry: the grader refuses, which another test checks
        pytest.skip(f"NumPy <2 could not be installed here: {exc}")


def test_the_worker_runs_the_numpy_the_spec_names(numpy1_env):
    assert numpy1_env.numpy_version.startswith("1.")
    with Sandbox.from_source(CODE, numpy="<2") as sb:
        assert sb.call("version", 0).value == numpy1_env.numpy_version
        assert sb.call("course_template", np.ones((2, 2, 3))).value == 12.0
    with Sandbox.from_source(CODE) as sb:
        assert sb.call("version", 0).value == np.__version__  # without the field: the grader's own


def test_a_requirement_the_grader_meets_uses_its_own_numpy():
    assert worker_environment(f"=={np.__version__}").numpy_version == np.__version__


def test_the_report_names_the_numpy_that_graded(numpy1_env, tmp_path):
    path = tmp_path / "layers.py"
    path.write_text("import numpy as np\n\ndef relu_forward(x):\n    return np.maximum(0, x), x\n")
    spec = dataclasses.replace(load_spec("layers"), numpy="<2")
    report = grade(path, spec, max_examples=3)
    assert f"graded with NumPy {numpy1_env.numpy_version}" in report.to_text(color=False)
    assert report.to_dict()["numpy"] == numpy1_env.numpy_version


def test_a_numpy_that_cannot_be_had_is_refused_before_grading(tmp_path):
    path = tmp_path / "layers.py"
    path.write_text("def relu_forward(x):\n    return x, x\n")
    spec = dataclasses.replace(load_spec("layers"), numpy="==0.0.1")
    with pytest.raises(GraderError, match="asks for NumPy ==0.0.1, which could not be installed"):
        grade(path, spec, max_examples=3)


def test_the_spec_field_is_validated():
    base = {"assignment": {"name": "x", "convention": "reference"},
            "functions": [{"name": "f", "op": "relu_forward", "checks": [{"check": "relu_forward.matches_torch",
                                                                          "points": 1}]}]}
    assert parse_spec({**base, "limits": {"numpy": "<2"}}).numpy == "<2"
    with pytest.raises(SpecError, match="is not a version requirement"):
        parse_spec({**base, "limits": {"numpy": "two"}})
