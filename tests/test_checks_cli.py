"""``convcheck verify MODULE``: text and JSON reports, exit status, --ops/--checks/--list."""

import io
import json
import sys

import pytest

from convcheck.cli import main

pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same'")


def test_verify_passes_on_the_reference(capsys):
    rc = main(["verify", "convcheck.checks.adapters.reference", "--ops", "relu_forward", "relu_backward",
               "--examples", "5"])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "PASS     relu_backward.matches_central_differences" in out and "5 passed" in out


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


def test_verify_signatures_prints_every_op_and_its_return_convention(capsys):
    from convcheck.checks.ops import OPS

    assert main(["verify", "--signatures"]) == 0
    out = capsys.readouterr().out
    for name in OPS:
        assert f"\n{name}(" in "\n" + out, name
    assert "conv_backward(dout, x, w, b=None, stride=1, padding=0, dilation=1, groups=1)\n    -> (dx, dw, db)" in out
    assert "(loss, dlogits)" in out and "KEPT as 1s" in out and "(in, out)" in out
    assert main(["verify", "--signatures", "--ops", "dense_forward"]) == 0
    assert capsys.readouterr().out.count("\n") == 2


def test_verify_exclude_and_a_file_path(capsys, tmp_path):
    adapter = tmp_path / "relu_only.py"
    adapter.write_text("from convcheck.checks.adapters.reference import relu_forward, relu_backward\n")
    rc = main(["verify", str(adapter), "--examples", "3", "--exclude", "relu_backward.*central*", "relu_forward"])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "EXCL     relu_backward.matches_central_differences" in out and "EXCL     relu_forward.matches_torch" in out
    assert "PASS     relu_backward.matches_torch" in out and "2 passed" in out and "3 excluded" in out


def test_the_convcheck_entry_point_finds_a_module_in_the_current_folder(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    (tmp_path / "my_ops.py").write_text("from convcheck.checks.adapters.reference import relu_forward\n")
    script = Path(sys.executable).parent / "convcheck"
    proc = subprocess.run([str(script), "verify", "my_ops", "--examples", "3"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "PASS     relu_forward.matches_reference" in proc.stdout


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_verify_shows_progress_only_on_a_terminal_and_on_one_line(capsys, monkeypatch):
    """Progress lines on a redirected stderr repeated every result before the report (``2>&1``)."""
    argv = ["verify", "convcheck.checks.adapters.reference", "--ops", "relu_forward", "--examples", "3"]
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert "PASS     relu_forward.matches_torch" in captured.out and captured.err == ""
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert main(argv) == 0
    progress = terminal.getvalue()
    assert "relu_forward.matches_torch" in progress and "\n" not in progress
    assert progress.endswith("\r\x1b[K")  # the line is cleared before the report


def test_verify_takes_the_capabilities_of_a_dict_adapter(capsys, tmp_path):
    """``MODULE:ATTR`` naming a dict: its CAPABILITIES key counts, as for verify() and the pytest plugin."""
    adapter = tmp_path / "nhwc_dict.py"
    adapter.write_text("from convcheck.checks.adapters import example_nhwc\n"
                       "OPS = {'conv_forward': example_nhwc.conv_forward, 'CAPABILITIES': example_nhwc.CAPABILITIES}\n")
    rc = main(["verify", f"{adapter}:OPS", "--checks", "conv_forward.matches_reference", "--examples", "5"])
    out = capsys.readouterr().out
    assert rc == 0 and "layout NHWC" in out, out
