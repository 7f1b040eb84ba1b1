"""The sandbox contains hostile submissions (tests/hostile/) and carries honest ones' values intact."""

from __future__ import annotations

import json
import os
import pickle
import signal
import struct
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

from convcheck.assignments.grader import sandbox as sb_module
from convcheck.assignments.grader.worker import wire
from convcheck.assignments.grader.loader import SubmissionFormatError, load_submission_source, strip_magics
from convcheck.assignments.grader.policy import ImportUse, scan_imports
from convcheck.assignments.grader.sandbox import (
    BadReturn, CallTimeout, ForbiddenImport, Handle, LoadFailed, MemoryLimit, NotDefined, Sandbox,
    StaleHandle, StudentException, WorkerCrashed,
)

HOSTILE = Path(__file__).parent / "hostile"
LAYERS_FORBIDDEN = ("torch", "tensorflow", "jax", "scipy.signal", "convcheck")

AFFINE = '''
import numpy as np


def affine_forward(x, w, b):
    out = x.reshape(x.shape[0], -1) @ w + b
    return out, (x, w, b)


def affine_backward(dout, cache):
    x, w, b = cache
    dx = (dout @ w.T).reshape(x.shape)
    dw = x.reshape(x.shape[0], -1).T @ dout
    db = dout.sum(axis=0)
    return dx, dw, db


def relu_inplace(x):
    x[x < 0] = 0  # modifies its input: the cs231n contract forbids this
    return x, None


def scale(x, conv_param):
    conv_param["w"] *= 2
    return x * conv_param["stride"]


def fails(x):
    return helper(x)


def helper(x):
    return np.dot(x, np.ones((7, 7)))
'''


def hostile(name, **options) -> Sandbox:
    options.setdefault("call_timeout", 2.0)
    return Sandbox(HOSTILE / name, **options)


def processes_in_session(sid: int) -> list[int]:
    """Every live process whose session id is ``sid`` (fields of /proc/PID/stat after the command name)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[3]) == sid and fields[0] != "Z":
            found.append(int(entry))
    return found


# --------------------------------------------------------------------------------------------- honest use

def test_round_trip_keeps_cache_in_worker_and_matches_numpy():
    rng = np.random.default_rng(0)
    x, w, b = rng.normal(size=(2, 3, 4)), rng.normal(size=(12, 5)), rng.normal(size=5)
    dout = rng.normal(size=(2, 5))
    with Sandbox.from_source(AFFINE, "layers.py") as sb:
        assert sb.load.ok and {"affine_forward", "affine_backward"} <= set(sb.load.defined)
        out, cache = sb.call("affine_forward", x, w, b, keep=[1]).value
        assert isinstance(cache, Handle) and cache.type_name == "tuple"
        np.testing.assert_array_equal(out, x.reshape(2, -1) @ w + b)
        dx, dw, db = sb.call("affine_backward", dout, cache).value
        np.testing.assert_array_equal(dx, (dout @ w.T).reshape(x.shape))
        np.testing.assert_array_equal(db, dout.sum(0))
        assert out.dtype == np.float64 and out.flags.writeable


def test_mutated_arguments_are_named():
    with Sandbox.from_source(AFFINE, "layers.py") as sb:
        x = np.array([[-1.0, 2.0]])
        r = sb.call("relu_inplace", x, keep=[1])
        assert r.mutated == ["x"]
        np.testing.assert_array_equal(x, [[-1.0, 2.0]])  # the grader's own copy is never touched
        r = sb.call("scale", np.ones(2), {"stride": 2, "w": np.ones(3)})
        assert r.mutated == ["conv_param['w']"]
        assert sb.call("affine_forward", np.ones((1, 2)), np.ones((2, 1)), np.ones(1)).mutated == []


def test_student_exception_shows_only_student_frames():
    with Sandbox.from_source(AFFINE, "layers.py") as sb:
        with pytest.raises(StudentException) as e:
            sb.call("fails", np.ones((2, 3)))
    assert e.value.type_name == "ValueError"
    assert "fails raised ValueError" in str(e.value)
    tb = e.value.traceback
    assert 'File "layers.py", line 29, in fails' in tb and "line 33, in helper" in tb
    assert "_worker_main" not in tb and "numpy" not in tb.split("\n")[0]


def test_not_defined_and_handle_freed():
    with Sandbox.from_source(AFFINE, "layers.py") as sb:
        with pytest.raises(NotDefined, match="conv_forward_naive is not defined"):
            sb.call("conv_forward_naive", np.ones(2))
        _, cache = sb.call("affine_forward", np.ones((1, 2)), np.ones((2, 1)), np.ones(1), keep=[1]).value
        handle_id = cache.id
        del cache
        assert handle_id in sb._to_free
        sb.call("affine_forward", np.ones((1, 2)), np.ones((2, 1)), np.ones(1))
        assert sb._to_free == []  # sent to the worker with that call


def test_hash_seed_is_fixed_so_regrades_repeat():
    source = "def order():\n    return list({'conv', 'pool', 'relu', 'affine', 'dropout'}), hash('x')\n"
    with Sandbox.from_source(source) as first, Sandbox.from_source(source) as second:
        assert first.call("order").value == second.call("order").value


# --------------------------------------------------------------------------------------------- runaway code

def test_infinite_loop_times_out_and_next_call_works():
    with hostile("infinite_loop.py", call_timeout=1.0) as sb:
        first_pid = sb.pid
        start = time.monotonic()
        with pytest.raises(CallTimeout, match="spin did not finish within 1 s"):
            sb.call("spin", 1)
        assert time.monotonic() - start < 3
        assert processes_in_session(first_pid) == []
        assert sb.call("double", np.arange(3)).value.tolist() == [0, 2, 4]
        assert sb.restarts == 1 and sb.pid != first_pid


def test_handles_from_a_killed_worker_are_stale():
    source = AFFINE + "\n\ndef spin(x):\n    while True:\n        pass\n"
    with Sandbox.from_source(source, "layers.py", call_timeout=1.0) as sb:
        _, cache = sb.call("affine_forward", np.ones((1, 2)), np.ones((2, 1)), np.ones(1), keep=[1]).value
        with pytest.raises(CallTimeout):
            sb.call("spin", 0)
        with pytest.raises(StaleHandle, match="lost when the worker restarted"):
            sb.call("affine_backward", np.ones((1, 1)), cache)


def test_memory_hog_hits_the_limit_and_worker_is_replaced():
    with hostile("memory_hog.py", memory_mb=512, call_timeout=10) as sb:
        with pytest.raises(MemoryLimit, match="hog_arrays ran out of memory .limit 512 MiB"):
            sb.call("hog_arrays", 0)
        with pytest.raises(MemoryLimit):
            sb.call("hog_list", 0)
        assert sb.call("fine", 1).value == 2
        assert sb.restarts == 2


def test_segfault_is_reported_with_its_signal():
    with hostile("segfault.py") as sb:
        with pytest.raises(WorkerCrashed) as e:
            sb.call("crash", 0)
        assert "segmentation fault (SIGSEGV)" in str(e.value)
        assert e.value.returncode == -signal.SIGSEGV
        assert sb.call("fine", 1).value == 0


def test_cpu_limit_kills_a_busy_worker():
    with hostile("cpu_burner.py", cpu_seconds=1, call_timeout=20) as sb:
        with pytest.raises(WorkerCrashed, match=r"CPU time limit exceeded \(SIGXCPU\)"):
            sb.call("burn", 0)


def test_os_exit_at_import_is_a_load_error():
    with hostile("exit_at_import.py") as sb:
        assert not sb.load.ok and sb.load.fatal
        assert "ended the worker process while loading (exit code 3" in sb.load.errors[-1]
        with pytest.raises(LoadFailed, match="affine_forward cannot be called"):
            sb.call("affine_forward", 1, 2, 3)


def test_hang_at_import_is_a_load_error():
    with hostile("hang_at_import.py", load_timeout=1.0) as sb:
        assert sb.load.fatal
        assert "loading of the submission did not finish within 1 s" in sb.load.errors[-1]


def test_exits_and_interrupts_in_calls():
    with hostile("exits_in_call.py") as sb:
        with pytest.raises(StudentException, match=r"SystemExit: sys.exit\(2\) was called"):
            sb.call("calls_sys_exit", 0)
        with pytest.raises(StudentException) as e:
            sb.call("raises_keyboard_interrupt", 0)
        assert e.value.type_name == "KeyboardInterrupt"
        assert sb.restarts == 0  # both were caught in the worker, which lives on
        with pytest.raises(WorkerCrashed, match="exit code 7"):
            sb.call("calls_os_exit", 0)
        assert sb.call("fine", 5).value == 5
        with pytest.raises(WorkerCrashed):
            sb.call("closes_pipes", 0)
        assert sb.call("fine", 6).value == 6 and sb.restarts == 2


def test_forks_are_refused_and_nothing_survives_close():
    with hostile("fork_bomb.py", call_timeout=5) as sb:
        pid = sb.pid
        results = sb.call("attempts", 0).value
        assert all(v.startswith("refused") for v in results.values()), results
        with pytest.raises(StudentException, match="PermissionError: starting processes is not allowed"):
            sb.call("bomb", 0)
        assert processes_in_session(pid) == [pid]
    assert processes_in_session(pid) == []
    assert not Path(f"/proc/{pid}").exists()


def test_kill_by_token_reaches_a_process_that_left_the_session():
    token = "test-token-" + os.urandom(4).hex()
    escaped = subprocess.Popen(["sleep", "60"], env={"CONVCHECK_SANDBOX": token, "PATH": "/usr/bin:/bin"},
                               start_new_session=True)
    deadline = time.monotonic() + 5
    while token.encode() not in Path(f"/proc/{escaped.pid}/environ").read_bytes() and time.monotonic() < deadline:
        time.sleep(0.01)  # until `sleep` has exec'd with its own environment
    sb_module._kill_by_token(token)
    assert escaped.wait(timeout=5) == -signal.SIGKILL


# --------------------------------------------------------------------------------------------- cheating

def test_forged_stdout_never_becomes_a_result():
    with hostile("forged_stdout.py") as sb:
        assert '"score": 100' in sb.load.output
        x = np.array([1.0, -2.0])
        r = sb.call("relu_forward", x)
        np.testing.assert_array_equal(r.value[0], [-1.0, -1.0])  # what the function returned, nothing else
        assert "All tests passed" in r.output and '"value": "PASS"' in r.output
        deadline = time.monotonic() + 2
        while '{"score": 100}' not in sb.stray_output and time.monotonic() < deadline:
            time.sleep(0.01)
        assert '{"score": 100}' in sb.stray_output  # fd-level writes land in the bounded side buffer
        assert sb.call("relu_forward", x).value[1] is None  # the protocol was not disturbed


@pytest.mark.parametrize("function", ["write_garbage", "write_pickle", "write_huge_length"])
def test_writing_into_the_reply_pipe_is_a_crash_not_a_result(function):
    marker = Path("/tmp/convcheck-pwned-by-pickle")
    marker.unlink(missing_ok=True)
    with hostile("pipe_forger.py") as sb:
        with pytest.raises(WorkerCrashed, match="malformed reply"):
            sb.call(function, np.ones(2))
        assert sb.call("fine", 3).value == 3  # a fresh worker answers the next call
    assert not marker.exists()


def test_monkeypatching_numpy_stays_in_the_worker():
    allclose, array_equal, npsum = np.allclose, np.array_equal, np.sum
    expected = np.array([0.0, 2.0])
    with hostile("monkeypatch_numpy.py") as sb:
        assert sb.call("patched_in_worker", np.ones(3)).value == (True, 42.0)  # the patch did happen, there
        got, _ = sb.call("relu_forward", np.array([-1.0, 2.0])).value
    assert (np.allclose, np.array_equal, np.sum) == (allclose, array_equal, npsum)
    assert not np.allclose(got, expected) and np.sum(np.ones(3)) == 3.0


def test_stack_cheat_finds_no_expected_values():
    expected = np.full(4, 123456.789)  # what a grader holds; the worker must never see it
    with hostile("stack_cheat.py") as sb:
        found = sb.call("search", np.arange(4.0)).value
    assert expected[0] == 123456.789
    assert found["frame_count"] >= 2
    assert found["frames"] == [] and found["gc"] == 0
    assert found["modules"] == []
    assert found["proc"] != ["read parent memory"]


def test_forbidden_imports_static_scan_and_runtime():
    with hostile("forbidden_imports.py", forbidden_imports=LAYERS_FORBIDDEN) as sb:
        assert [(f.module, f.lineno) for f in sb.load.forbidden] == [
            ("torch", 3), ("scipy.signal", 4), ("convcheck.reference", 5)]
        assert "import of 'torch' is not allowed in this assignment (forbidden_imports.py, line 3)" in sb.load.errors
        for function, module in [("uses_torch", "torch"), ("uses_scipy", "scipy.signal"),
                                 ("uses_convcheck", "convcheck.reference"), ("imports_inside", "torch")]:
            with pytest.raises(ForbiddenImport, match=f"{function}: import of '{module}' is not allowed") as e:
                sb.call(function, np.ones((2, 2)))
            assert e.value.module == module
        assert sb.call("clean", np.array([-1.0, 1.0])).value.tolist() == [0.0, 1.0]
        assert sb.restarts == 0


def test_removing_the_import_hook_is_still_caught():
    with hostile("hook_bypass.py", forbidden_imports=("wave",)) as sb:
        with pytest.raises(ForbiddenImport, match="'wave' is not allowed .*around the import hook"):
            sb.call("bypass", 1)


def test_scan_imports_finds_each_form_with_its_line():
    source = ("import numpy as np\nimport scipy\nimport torch.nn as tnn\nfrom scipy import signal\n"
              "def f(x):\n    return scipy.signal.convolve2d(x, x)\n__import__('jax')\n"
              "from convcheck.reference import conv\nfrom . import sibling\n")
    assert scan_imports(source, LAYERS_FORBIDDEN) == [
        ImportUse("torch.nn", 3), ImportUse("scipy.signal", 4), ImportUse("scipy.signal", 6),
        ImportUse("jax", 7), ImportUse("convcheck.reference", 8)]
    assert scan_imports("import numpy\nimport scipy.special\n", LAYERS_FORBIDDEN) == []
    assert scan_imports("def broken(:\n", LAYERS_FORBIDDEN) == []


def test_malicious_return_values_are_rejected_without_running_code():
    marker = Path("/tmp/convcheck-pwned-by-return")
    marker.unlink(missing_ok=True)
    with hostile("malicious_return.py", max_return_mb=16) as sb:
        for function, reason in [("returns_object", "type malicious_return.Pwn cannot be sent"),
                                 ("returns_object_array", "dtype object cannot be sent"),
                                 ("returns_in_tuple", "type malicious_return.Pwn cannot be sent"),
                                 ("returns_huge", "more than the 16777216"),
                                 ("returns_deep", "nested deeper than 32")]:
            with pytest.raises(BadReturn, match=reason):
                sb.call(function, np.ones(2))
        value = sb.call("returns_subclass", 0).value
        assert type(value) is np.ndarray and value.tolist() == [0.0, 0.0, 0.0]
    assert not marker.exists()


def test_files_are_read_only_copies_in_a_private_directory():
    original = (HOSTILE / "writes_files.py").read_text()
    with hostile("writes_files.py") as sb:
        with pytest.raises(StudentException, match="PermissionError"):
            sb.call("overwrite_self", 0)
        cwd, home, tmpdir, env = sb.call("where", 0).value
        assert home == tmpdir == cwd and "/work/convcheck-sandbox-" in cwd
        assert "CONVCHECK_PROFILE" not in env and "PATH" in env
        with pytest.raises(StudentException, match="PermissionError"):
            sb.call("write_relative", 0)  # the folder above the working directory belongs to the grader
    assert (HOSTILE / "writes_files.py").read_text() == original
    assert not Path(cwd).exists()  # the whole temporary directory is gone after close


def test_worker_cannot_reach_outside_its_directory(tmp_path):
    """Landlock (Linux 5.13+) confines writes and exec; 6.7+ adds TCP, 6.12+ signals (see ``sb.isolation``)."""
    import socket

    target = tmp_path / "grades.csv"
    target.write_text("alice,10\n")
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    with hostile("escapes.py") as sb:
        assert "landlock ABI" in sb.isolation, sb.isolation
        abi = int(sb.confinement["landlock"].split("landlock ABI ")[1].split(",")[0])
        # outside the chroot (root) the path does not exist; under Landlock alone writing it is refused
        with pytest.raises(StudentException, match="PermissionError|FileNotFoundError"):
            sb.call("write_absolute", str(target))
        with pytest.raises(StudentException, match="PermissionError|FileNotFoundError"):
            sb.call("write_absolute", str(Path.cwd() / "forged.txt"))
        assert sb.call("write_own_directory", 0).value == ["escapes.py", "scratch"]
        with pytest.raises(StudentException, match="PermissionError|Permission denied"):
            sb.call("exec_shell", 0)
        if abi >= 4:
            with pytest.raises(StudentException, match="PermissionError"):
                sb.call("connect", listener.getsockname()[1])
        if abi >= 6:
            with pytest.raises(StudentException, match="PermissionError"):
                sb.call("signal_grader", 0)
    listener.close()
    assert target.read_text() == "alice,10\n" and not (Path.cwd() / "forged.txt").exists()


# --------------------------------------------------------------------------------------------- loading

def test_notebook_with_magics_and_a_failing_cell():
    with hostile("notebook_magics.ipynb") as sb:
        load = sb.load
        assert load.errors == [
            "notebook_magics.ipynb [cell 4: x = np.arange(6.0).reshape(2, 3)], line 2: ValueError: this cell fails "
            "on purpose (while loading)"]   # cells named as Jupyter shows them: index among all cells, first line
        assert any("[cell 2: %matplotlib inline]: removed 3 IPython magic/shell lines" in n for n in load.notes)
        assert any("[cell 6: %%bash]: skipped (cell magic %%bash is not Python)" in n for n in load.notes)
        assert load.output == "setup done\n"
        assert set(load.defined) == {"relu_forward", "relu_backward"}  # cells after the failing one ran
        x = np.array([-1.0, 3.0])
        out, cache = sb.call("relu_forward", x, keep=[1]).value
        assert sb.call("relu_backward", np.ones(2), cache).value.tolist() == [0.0, 1.0]


def test_syntax_error_reports_file_and_line():
    with hostile("syntax_error.py") as sb:
        assert not sb.load.ok and not sb.load.fatal
        assert sb.load.errors[0].startswith("SyntaxError: '(' was never closed (syntax_error.py, line 5)")
        with pytest.raises(NotDefined):
            sb.call("relu_forward", np.ones(2))


def test_py_top_level_failure_does_not_hide_later_functions():
    source = "import numpy as np\nfrom cs231n.layers import *\n\ndef relu_forward(x):\n    return np.maximum(x, 0), x\n"
    with Sandbox.from_source(source, "layers.py") as sb:
        assert sb.load.errors == ["layers.py, line 2: ModuleNotFoundError: No module named 'cs231n' (while loading)"]
        assert sb.load.defined == ["relu_forward"]


def test_strip_magics_keeps_line_numbers_and_valid_code():
    code, note = strip_magics("import numpy as np\nfor i in range(2):\n    %time f()\nx = !ls\n")
    assert code.splitlines() == ["import numpy as np", "for i in range(2):", "    pass", "pass"]
    assert note == "removed 2 IPython magic/shell lines"
    assert strip_magics("x = '%d' % 3\n") == ("x = '%d' % 3\n", None)


def test_folder_and_zip_submissions(tmp_path):
    folder = tmp_path / "student"
    (folder / "__pycache__").mkdir(parents=True)
    (folder / "helpers.py").write_text("def twice(x):\n    return 2 * x\n")
    (folder / "layers.py").write_text("from helpers import twice\nDATA = open('data.txt').read()\n"
                                      "def f(x):\n    return twice(x), DATA\n")
    (folder / "data.txt").write_text("hello")
    (folder / "__pycache__" / "junk.py").write_text("x = 1")
    with pytest.raises(SubmissionFormatError, match="several candidate files"):
        load_submission_source(folder)
    assert load_submission_source(folder, prefer=["layers"]).name == "layers.py"
    with Sandbox(folder, prefer=["layers"]) as sb:
        assert sb.call("f", 2).value == (4, "hello")

    archive = tmp_path / "submission.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("upload/layers.ipynb", json.dumps({
            "nbformat": 4, "nbformat_minor": 5, "metadata": {},
            "cells": [{"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
                       "id": "a1", "source": "%pylab inline\ndef g(x):\n    return x + 1"}]}))
        zf.writestr("upload/../../escape.py", "print('never extracted')")
        zf.writestr("__MACOSX/upload/._layers.ipynb", "junk")
    source = load_submission_source(archive)
    assert source.kind == "ipynb" and list(source.files) == ["layers.ipynb"]
    with Sandbox(source) as sb:
        assert sb.call("g", 1).value == 2

    (tmp_path / "empty").mkdir()
    with pytest.raises(SubmissionFormatError, match="no .py or .ipynb"):
        load_submission_source(tmp_path / "empty")


# --------------------------------------------------------------------------------------------- the wire

def test_wire_round_trips_values_exactly():
    value = {"x": np.arange(12.0).reshape(3, 4)[:, ::2], "m": np.array([True, False]),
             "i": np.int64(-3), "f": np.float32(0.1), "t": (2**80, -0.0, float("nan"), 1e-310, 3 + 4j),
             "ü": [None, True, "ünï"], "z": np.zeros((0, 3), np.int32), "s": np.array(5.0)}
    data = wire.encode(value)
    magic, n = wire.HEADER.unpack(data[:wire.HEADER.size])
    back = wire.decode(data[wire.HEADER.size:])
    assert magic == wire.MAGIC and n == len(data) - wire.HEADER.size
    np.testing.assert_array_equal(back["x"], value["x"])
    assert back["m"].dtype == bool and type(back["i"]) is np.int64 and type(back["f"]) is np.float32
    big, negzero, nan, tiny, c = back["t"]
    assert big == 2**80 and str(negzero) == "-0.0" and nan != nan and tiny == 1e-310 and c == 3 + 4j
    assert back["ü"] == [None, True, "ünï"] and back["z"].shape == (0, 3) and back["s"].shape == ()


def framed(structure: bytes, data: bytes = b"") -> bytes:
    return struct.pack(">Q", len(structure)) + structure + data


@pytest.mark.parametrize("body", [
    pickle.dumps(np.zeros(3)),
    b"",
    struct.pack(">Q", 99) + b"[1,2]",                               # structure longer than the message
    framed(b'{"a":["<f8",[2],0,16]}', b"\0" * 8),                   # array data out of bounds
    framed(b'{"a":["|O",[1],0,8]}', b"\0" * 8),                     # object dtype
    framed(b'{"a":["<f8",[3],0,8]}', b"\0" * 8),                    # shape and bytes disagree
    framed(b'{"q":[1]}'),                                           # unknown tag
    framed(b'{"d":[[[1],2]]}'),                                     # unhashable key
    framed(b"[" * 5000 + b"]" * 5000),                              # nesting
    framed(b'{"i":"' + b"9" * 5000 + b'"}'),                        # an int too long to parse
])
def test_wire_rejects_bad_messages(body):
    with pytest.raises(wire.WireError):
        wire.decode(body)
