"""``convcheck verify MODULE``: text and JSON reports, exit status, --ops/--checks/--list."""

import json

import pytest

from convcheck.cli import main

pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same'")


def test_verify_passes_on_the_reference(capsys):
    rc = main(["verify", "convcheck.checks.adapters.reference", "--ops", "relu_forward", "relu_backward",
               "--examples", "5"])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "PASS    relu_backward.matches_central_differences" in out and "5 passed" in out


def test_verify_fails_with_exit_1_and_json(capsys):
    rc = main(["verify", "convcheck.checks.adapters.broken:flipped_kernel", "--checks",
               "conv_forward.matches_torch", "--examples", "20", "--json"])
    data = json.loads(capsys.readouterr().out)
    assert rc == 1
    (result,) = data["results"]
    assert result["status"] == "failed" and "flipped" in result["hint"]
    assert result["counterexample"]["input_names"] == ["x", "w", "b"]


def test_verify_reports_not_provided_and_lists_checks(capsys):
    assert main(["verify", "convcheck.checks.adapters.example_nhwc", "--ops", "conv_forward", "avg_pool_forward",
                 "--examples", "5"]) == 0
    out = capsys.readouterr().out
    assert "layout NHWC" in out and "not provided: avg_pool_forward" in out
    assert main(["verify", "x", "--list", "--ops", "conv_backward"]) == 0
    assert "conv_backward.dx_matches_torch" in capsys.readouterr().out


def test_verify_bad_module_and_bad_op(capsys):
    assert main(["verify", "no_such_module_xyz"]) == 2
    assert "cannot load" in capsys.readouterr().err
    assert main(["verify", "convcheck.checks.adapters.reference", "--ops", "conv_fwd"]) == 2
    assert "unknown op" in capsys.readouterr().err
