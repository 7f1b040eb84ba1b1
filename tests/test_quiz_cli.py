"""``convcheck quiz``: the scripted interactive session, ``quiz check``, ``show``, ``list`` and ``export``."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET

from convcheck.assignments import quiz
from convcheck.cli import main
from convcheck.commands.quiz import interactive


INTS = "conv-params,dense-params,connections,model-params"  # questions answered by one integer


def _session(answers: list[str], **kwargs) -> tuple[int, str]:
    out = io.StringIO()
    rc = interactive(quiz, stdin=io.StringIO("".join(a + "\n" for a in answers)), stdout=out, **kwargs)
    return rc, out.getvalue()


def test_scripted_session_asks_checks_and_explains():
    questions = quiz.sample(3, seed=5, topic=INTS)
    right = [q.answer.display(q.choices) for q in questions]
    rc, text = _session([right[0], "not a number", "1", "skip"], n=3, seed=5, topic=INTS)
    assert rc == 0
    for i, q in enumerate(questions, 1):
        assert f"Question {i}/3  [{q.id}]" in text and q.text.split("\n")[0] in text
    assert "✓ correct" in text                       # first answer right
    assert "try again" in text                        # malformed answer gets a message, then a retry
    assert text.count("✗ not quite") == 1            # "1" is marked wrong
    assert f"answer: {right[2]}" in text              # skip reveals the answer
    assert questions[0].explanation.split("\n")[0] in text
    assert text.rstrip().endswith("score: 1/3")


def test_session_stops_at_quit_and_at_end_of_input():
    rc, text = _session(["quit"], n=4, seed=1)
    assert rc == 0 and "Question 2/4" not in text and text.rstrip().endswith("score: 0/0")
    rc, text = _session([], n=2, seed=1)
    assert rc == 0 and text.rstrip().endswith("score: 0/0")


def test_three_malformed_answers_move_on():
    rc, text = _session(["x", "y", "z", "quit"], n=2, seed=2, topic="output-size")
    assert text.count("try again") == 3 and "Question 2/2" in text


def test_quiz_check_command(capsys):
    assert main(["quiz", "check", "conv-params:0", "560"]) == 0
    out = capsys.readouterr().out
    assert "[conv-params:0] correct" in out and "(27 + 1)·20 = 560" in out
    assert main(["quiz", "check", "conv-out-2d:0", "14", "×", "14", "×", "32"]) == 0
    assert main(["quiz", "check", "conv-out-2d:0", "13x13"]) == 1
    assert "not quite: the answer is 14 × 14" in capsys.readouterr().out
    assert main(["quiz", "check", "conv-out-2d:0", "fourteen"]) == 2
    assert main(["quiz", "check", "no-such-template:1", "3"]) == 2
    assert "unknown template" in capsys.readouterr().err
    assert main(["quiz", "check", "--json", "model-params:0", "62,006"]) == 0
    verdict = json.loads(capsys.readouterr().out)
    assert verdict["status"] == "correct" and verdict["answer"] == "62,006"


def test_quiz_show_and_list(capsys):
    assert main(["quiz", "show", "--answer", "activation-memory:0"]) == 0
    out = capsys.readouterr().out
    assert "228×228×3" in out and "answer: 20,430,400 bytes" in out
    assert main(["quiz", "list"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in quiz.TEMPLATES) and all(f"{t}:" in out for t in quiz.TOPICS)


def test_quiz_export_command(tmp_path, capsys):
    target = tmp_path / "quiz.xml"
    assert main(["quiz", "export", "--format", "moodle-xml", "--variants", "2", "-o", str(target)]) == 0
    root = ET.parse(target).getroot()
    n = len([q for q in root.findall("question") if q.get("type") != "category"])
    assert n == len(quiz.variants(2)) and f"wrote {n} questions" in capsys.readouterr().err
    target = tmp_path / "quiz.json"
    assert main(["quiz", "export", "--format", "json", "--variants", "1", "--topic", "memory", "-o", str(target)]) == 0
    assert {q["template"] for q in json.loads(target.read_text())["questions"]} == {
        "activation-memory", "activation-memory-batch", "conv-macs"}


def test_console_script_reads_piped_stdin():
    q = quiz.sample(1, seed=9)[0]
    answer = q.answer.display(q.choices).split(")")[0]
    env = dict(os.environ, PYTHONIOENCODING="utf-8")
    done = subprocess.run([sys.executable, "-m", "convcheck", "quiz", "--n", "1", "--seed", "9"],
                          input=answer + "\n", capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    assert f"[{q.id}]" in done.stdout and "✓ correct" in done.stdout and "score: 1/1" in done.stdout
