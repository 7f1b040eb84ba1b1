"""The layers specs promise "inputs must not be modified (bn_param's running statistics excepted)" for the
course's losses, normalisations and dropout too: a function that computes the right values but writes into
the caller's x (``x -= mu``, ``x *= mask``) loses its one "not modified" point and nothing else; writing
the running statistics into bn_param's own arrays in place is allowed.

Each variant is the correct full file (tests/submissions/layers/full/correct.py) with one line changed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from convcheck.assignments import grade

CORRECT = Path(__file__).parent / "submissions" / "layers" / "full" / "correct.py"
BUDGET = 6

#: name -> (line of correct.py, its in-place replacement, the functions that must lose points)
IN_PLACE = {
    "softmax_shifts_x": ("    shifted = x - np.max(x, axis=1, keepdims=True)\n",
                         "    x -= np.max(x, axis=1, keepdims=True)\n    shifted = x\n", {"softmax_loss"}),
    "batchnorm_centres_x": ("        xc = x - mu\n", "        x -= mu\n        xc = x\n", {"batchnorm_forward"}),
    "dropout_masks_x": ("        out = x * mask\n", "        x *= mask\n        out = x\n", {"dropout_forward"}),
    "layernorm_normalises_x": ("    x_hat = (x - mu) / std\n", "    x -= mu\n    x /= std\n    x_hat = x\n",
                               {"layernorm_forward"}),
}


def _variant(tmp_path, old, new):
    text = CORRECT.read_text(encoding="utf-8")
    assert text.count(old) == 1, old
    path = tmp_path / "layers.py"
    path.write_text(text.replace(old, new), encoding="utf-8")
    return path


@pytest.mark.parametrize("name", list(IN_PLACE))
def test_a_function_that_writes_into_its_input_loses_only_its_not_modified_point(name, tmp_path):
    old, new, functions = IN_PLACE[name]
    report = grade(_variant(tmp_path, old, new), "layers", seed="practice", max_examples=BUDGET)
    failed = [t for t in report.tests if t.status != "passed"]
    lost = {t.function for t in failed}
    # batch norm's rows of a spatial input can be a view of the caller's x (H = W = 1): it may lose there too
    assert functions <= lost <= functions | {"spatial_batchnorm_forward"}, [t.output for t in failed]
    assert all(t.check == "grader.no_input_mutation" and t.max_score == 1 for t in failed), \
        [(t.name, t.output) for t in failed]
    [first] = [t for t in failed if t.function in functions]
    assert "modified its input x" in first.output and "in place" in first.output
    assert "Hint: In-place operators" in first.output
    assert report.score == report.max_score - len(failed)


def test_running_statistics_written_into_bn_params_own_arrays_are_allowed(tmp_path):
    old = ("        running_mean = momentum * running_mean + (1 - momentum) * mu\n"
           "        running_var = momentum * running_var + (1 - momentum) * var\n")
    new = ("        running_mean *= momentum\n        running_mean += (1 - momentum) * mu\n"
           "        running_var *= momentum\n        running_var += (1 - momentum) * var\n")
    report = grade(_variant(tmp_path, old, new), "layers", seed="practice", max_examples=BUDGET)
    assert report.score == report.max_score, [t.output for t in report.tests if t.status != "passed"]


def test_a_backward_may_not_write_into_dout_when_its_spec_checks_it(tmp_path):
    """The same check on a backward function (dout is the argument it may not touch): a spec that adds
    grader.no_input_mutation to batchnorm_backward catches ``dx_hat = dout; dx_hat *= gamma``."""
    from convcheck.assignments.grader.spec import load_spec

    spec_text = Path(load_spec("layers").source).read_text(encoding="utf-8")
    anchor = '  title = "dgamma and dbeta match the reference"\n  points = 4\n'
    assert spec_text.count(anchor) == 1
    spec = tmp_path / "layers.toml"
    spec.write_text(spec_text.replace(anchor, anchor + '\n  [[functions.checks]]\n  check = "grader.no_input_mutation"\n'
                                      '  title = "dout is not modified"\n  points = 1\n'), encoding="utf-8")
    path = _variant(tmp_path, "    dx_hat = dout * gamma\n    dxc = dx_hat / std\n",
                    "    dx_hat = dout\n    dx_hat *= gamma\n    dxc = dx_hat / std\n")
    report = grade(path, spec, seed="practice", max_examples=BUDGET)
    failed = [t for t in report.tests if t.status != "passed"]
    assert [(t.function, t.check) for t in failed] == [("batchnorm_backward", "grader.no_input_mutation")], \
        [t.output for t in failed]
    assert "modified its input dout" in failed[0].output
