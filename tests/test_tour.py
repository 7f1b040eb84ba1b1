"""The README tour's stumbles (issue 13): summary's spec syntax and messages, output cut by `| head`,
`verify --list` without a module, the Gradescope setup.sh's install constraints."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile

import pytest

from convcheck.cli import main
from convcheck.reference.model import SpecError, parse_spec


@pytest.mark.parametrize("spec", ["input 28×28×1\nconv 32 3×3 relu\nmaxpool 2×2",
                                  "input 28x28x1\nconv 32 3X3 pad same stride 2\nmaxpool 2"])
def test_summary_reads_sizes_as_the_quiz_prints_them(spec):
    assert parse_spec(spec).summary().rows[-1].output_shape[-1] == 32


@pytest.mark.parametrize("spec, message", [
    ("input 28x28\nconv 32 3x3", "the input line ends with the channel count"),       # was "needs 1 or 1 numbers"
    ("input 28\nconv 3 3", "has no channel count"),
])
def test_a_missing_channel_count_is_named(spec, message):
    with pytest.raises(SpecError, match=message):
        parse_spec(spec)


def test_summary_help_documents_the_spec_syntax(capsys):
    with pytest.raises(SystemExit):
        main(["summary", "--help"])
    out = capsys.readouterr().out
    assert "pad valid|same|full|P" in out and "stride S" in out and "conv 32 3x3 pad same stride 2" in out


@pytest.mark.parametrize("argv", [["summary", "vgg16", "--json"],
                                  ["quiz", "export", "--format", "json", "--variants", "300", "-o", "-"],
                                  ["verify", "--list"]])
def test_output_cut_short_by_the_reader_is_no_traceback(argv):
    env = dict(os.environ, PYTHONIOENCODING="utf-8")
    proc = subprocess.Popen([sys.executable, "-m", "convcheck", *argv], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env)
    proc.stdout.read(64)   # what `| head -c 64` reads, then it leaves
    proc.stdout.close()
    err = proc.stderr.read().decode()
    rc = proc.wait(timeout=120)
    assert "Traceback" not in err and "BrokenPipeError" not in err, err
    assert rc in (0, 141), (rc, err)


def test_verify_list_needs_no_module(capsys):
    assert main(["verify", "--list"]) == 0
    assert "conv_forward.matches_reference" in capsys.readouterr().out
    assert main(["verify"]) == 2
    assert "name the implementation" in capsys.readouterr().err


def test_gradescope_setup_installs_with_the_projects_constraints(tmp_path):
    out = tmp_path / "autograder.zip"
    assert main(["gradescope-bundle", "--assignment", "layers", "-o", str(out)]) == 0
    with zipfile.ZipFile(out) as zf:
        setup = zf.read("setup.sh").decode()
        assert "convcheck-src/constraints.txt" in zf.namelist()
    assert "-c ./convcheck-src/constraints.txt ./convcheck-src" in setup and "download.pytorch.org/whl/cpu" in setup


def test_gradescope_setup_with_a_pip_spec_pins_torch(tmp_path):
    import torch

    out = tmp_path / "autograder.zip"
    assert main(["gradescope-bundle", "--assignment", "layers", "--pip-spec", "convcheck==0.1.0", "-o", str(out)]) == 0
    with zipfile.ZipFile(out) as zf:
        setup = zf.read("setup.sh").decode()
    assert f"convcheck==0.1.0 'torch=={torch.__version__.split('+')[0]}'" in setup


def _readme_block(command: str) -> str:
    from pathlib import Path

    text = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    start = text.index(command + "\n") + len(command) + 1
    return text[start:text.index("\n```", start)]


def test_the_readme_quiz_session_is_what_the_quiz_prints():
    import io

    from convcheck.assignments import quiz
    from convcheck.commands.quiz import interactive

    out = io.StringIO()
    answers = "15\n119.344\n119344\nb\n2,255,110,144\n"
    interactive(quiz, n=4, seed=2025, stdin=io.StringIO(answers), stdout=out)
    readme = _readme_block("$ printf '15\\n119.344\\n119344\\nb\\n2,255,110,144\\n' | convcheck quiz --n 4 --seed 2025")
    assert out.getvalue().rstrip("\n") == readme


def test_the_readme_export_line_is_what_export_prints(tmp_path, capsys):
    readme = _readme_block("$ convcheck quiz export --format moodle-xml --variants 5 -o quiz.xml")
    assert main(["quiz", "export", "--format", "moodle-xml", "--variants", "5", "-o", str(tmp_path / "quiz.xml")]) == 0
    assert capsys.readouterr().err.strip().replace(str(tmp_path / "quiz.xml"), "quiz.xml") == readme.strip()
