"""The worker holds no answers and reaches nothing: the grader's confinement, attacked as a hostile student would.

The probe is a ``layers`` submission that holds the right answer for every function but gives it only
when one escape works (one escape per function: read the answer key outside its folder, see other
processes, UDP, a Unix socket, import torch past the hook, read the grader's source, write outside its
folder, TCP). Graded normally it must score 0; graded with the layer that stops an escape switched off
(``CONVCHECK_SANDBOX_DISABLE``), that escape's function must score — so each test below can fail.

Confinement as root is chroot + a separate uid (+ Landlock where the kernel has it) + seccomp; these tests
run wherever the grader runs, and skip with their reason where the machine lacks what they exercise.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from convcheck.assignments.grader import GraderError, grade
from convcheck.assignments.grader.environment import worker_environment
from convcheck.assignments.grader.sandbox import DiskLimit, Sandbox, StudentException
from convcheck.assignments.grader.spec import load_spec
from convcheck.assignments.grader.worker.confine import landlock_abi

ROOT = Path(__file__).resolve().parent.parent
SOLUTION = ROOT / "solutions" / "layers_solution.py"
SMALL = 4
IS_ROOT = os.geteuid() == 0
needs_root = pytest.mark.skipif(not IS_ROOT, reason="chroot and a separate uid need the grader to run as root")
needs_landlock = pytest.mark.skipif(landlock_abi() < 1, reason="this kernel has no Landlock (Linux 5.13+)")

ESCAPES = {  # function -> (what it tries, the layer that stops it when the others are off)
    "affine_forward": ("read the answer key outside its folder", "chroot,landlock"),
    "affine_backward": ("see other processes in /proc", "chroot,landlock"),
    "relu_forward": ("send UDP to 127.0.0.1", "seccomp,netns"),
    "relu_backward": ("connect to a pathname Unix socket", "chroot,seccomp,landlock"),
    "conv_forward_naive": ("import torch from the grader's site-packages past the hook", "chroot,landlock"),
    "conv_backward_naive": ("read the grader's own source", "chroot,landlock"),
    "max_pool_forward_naive": ("write a file outside its folder", "chroot,landlock"),
    "max_pool_backward_naive": ("connect over TCP to 127.0.0.1", "seccomp,netns,landlock"),
}


def _probe_source(udp_port: int, unix_path: str, tcp_port: int, outside: str) -> str:
    import torch

    site = str(Path(torch.__file__).resolve().parents[1])
    solution = SOLUTION.read_text()
    for name in ESCAPES:
        solution = solution.replace(f"def {name}(", f"def _right_{name}(")
    escapes = f'''
import importlib, os, socket, sys

def _wrong(result, forward):
    if forward:
        return result[0] * 0 + 7.0, result[1]          # a wrong out, a usable cache
    if isinstance(result, tuple):
        return tuple(r * 0 + 7.0 for r in result)
    return result * 0 + 7.0

def _escaped(attempt):
    try:
        return bool(attempt())
    except Exception:
        return False

def _udp():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    return s.sendto(b"x", ("127.0.0.1", {udp_port})) == 1

def _unix():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect({unix_path!r})
    return True

def _tcp():
    socket.create_connection(("127.0.0.1", {tcp_port}), timeout=1)
    return True

def _torch():
    sys.meta_path[:] = [f for f in sys.meta_path if "Forbidden" not in type(f).__name__]
    sys.path.append({site!r})
    return importlib.import_module("to" + "rch").zeros(1) is not None

def _others():
    return any(p.isdigit() and int(p) != os.getpid() for p in os.listdir("/proc"))

def _write_outside():
    with open({outside!r}, "w") as f:
        f.write("escaped")
    return True

ATTEMPTS = {{
    "affine_forward": lambda: "def affine_forward" in open({str(SOLUTION)!r}).read(),
    "affine_backward": _others,
    "relu_forward": _udp,
    "relu_backward": _unix,
    "conv_forward_naive": _torch,
    "conv_backward_naive": lambda: "CheckFailure" in open({str(ROOT / "checks" / "harness.py")!r}).read(),
    "max_pool_forward_naive": _write_outside,
    "max_pool_backward_naive": _tcp,
}}
'''
    wrappers = "".join(f'''
def {name}(*args):
    result = _right_{name}(*args)
    return result if _escaped(ATTEMPTS["{name}"]) else _wrong(result, {"forward" in name})
''' for name in ESCAPES)
    return solution + escapes + wrappers


@pytest.fixture
def probe(tmp_path):
    """The probe and the targets of its escapes: a UDP socket, a Unix socket, a TCP listener and a folder, all
    of them the grader's, the sockets and the folder open to every user (the attacker's best case)."""
    import shutil
    import tempfile

    shared = Path(tempfile.mkdtemp(prefix="convcheck-probe-", dir="/tmp"))
    os.chmod(shared, 0o777)
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    tcp = socket.socket()
    tcp.bind(("127.0.0.1", 0))
    tcp.listen(64)
    unix_path = str(shared / "grader.sock")
    unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    unix.bind(unix_path)
    unix.listen(64)
    os.chmod(unix_path, 0o777)
    outside = shared / "outside"
    outside.mkdir()
    os.chmod(outside, 0o777)
    path = tmp_path / "probe" / "layers.py"
    path.parent.mkdir()
    path.write_text(_probe_source(udp.getsockname()[1], unix_path, tcp.getsockname()[1], str(outside / "x")))
    yield path, outside / "x"
    for s in (udp, tcp, unix):
        s.close()
    shutil.rmtree(shared, ignore_errors=True)


def _permissive_spec():
    """The layers spec (its 8 functions the probe attacks through; the solution's other 13 are graded
    honestly), with every module the probe uses allowed: what stops it must be the confinement."""
    from _grader_specs import LAYERS8

    spec = load_spec(LAYERS8)
    return dataclasses.replace(spec, allowed_imports=spec.allowed_imports + ("os", "sys", "socket", "importlib"),
                               forbidden_imports=(), call_timeout=30.0)


def _scores(report):
    return {name: s for name, (s, _) in report.function_scores().items()}


def _value_scores(report):
    """Points from the checks of values (torch, gradients), per function: what an escape could earn."""
    aux = ("grader.no_input_mutation", "grader.fresh_cache")
    scores = {f.name: 0.0 for f in report.functions}
    for t in report.tests:
        if t.check not in aux:
            scores[t.function] += t.score
    return scores


@pytest.mark.skipif(not (IS_ROOT or landlock_abi() >= 1), reason="no confinement of reads on this machine")
def test_the_probe_scores_zero_on_every_function(probe):
    path, outside = probe
    report = grade(path, _permissive_spec(), max_examples=SMALL)
    assert _scores(report) == {name: 0 for name in ESCAPES}, report.to_text(color=False)[:3000]
    assert not outside.exists()
    assert "NOT CONFINED" not in report.sandbox and "reads:" in report.sandbox


@needs_root
@pytest.mark.parametrize("name", list(ESCAPES))
def test_each_escape_succeeds_without_the_layers_that_stop_it(probe, monkeypatch, name):
    """The proof that the probe can fail: switch off the layers that stop one escape, and its function scores."""
    path, _ = probe
    monkeypatch.setenv("CONVCHECK_SANDBOX_DISABLE", ESCAPES[name][1])
    spec = dataclasses.replace(_permissive_spec(), functions=tuple(
        f for f in load_spec("layers").functions if f.name == name or f.name == {
            "affine_backward": "affine_forward", "relu_backward": "relu_forward",
            "conv_backward_naive": "conv_forward_naive", "max_pool_backward_naive": "max_pool_forward_naive",
        }.get(name)))
    report = grade(path, spec, max_examples=SMALL, allow_weaker_sandbox=True)
    scores = dict(report.function_scores())
    assert scores[name][0] == scores[name][1] > 0, (ESCAPES[name][0], report.to_text(color=False)[:2000])


@needs_root
@needs_landlock
@pytest.mark.parametrize("alone", ["chroot", "landlock"])
def test_chroot_alone_and_landlock_alone_each_keep_reads_and_writes_in(probe, monkeypatch, alone):
    """Gradescope may lack Landlock; a grader not running as root lacks chroot: each must hold alone."""
    path, outside = probe
    monkeypatch.setenv("CONVCHECK_SANDBOX_DISABLE", "landlock" if alone == "chroot" else "chroot")
    report = grade(path, _permissive_spec(), max_examples=SMALL)
    file_escapes = ["affine_forward", "conv_forward_naive", "conv_backward_naive", "max_pool_forward_naive"]
    assert [_value_scores(report)[n] for n in file_escapes] == [0, 0, 0, 0], report.to_text(color=False)[:3000]
    assert not outside.exists()


@needs_root
def test_seccomp_alone_refuses_every_socket(probe, monkeypatch):
    path, _ = probe
    monkeypatch.setenv("CONVCHECK_SANDBOX_DISABLE", "chroot,landlock,netns")
    report = grade(path, _permissive_spec(), max_examples=SMALL, allow_weaker_sandbox=True)
    assert [_value_scores(report)[n] for n in ("relu_forward", "relu_backward", "max_pool_backward_naive")] == [0, 0, 0]


# --------------------------------------------------------------------------------------------- the named cheats

def _layers_file(tmp_path, body: str, name="layers.py") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(body))
    return path


def test_executing_the_solution_beside_the_worker_scores_zero(tmp_path):
    """Two lines that scored 100/100 when the solution was installed next to the worker's main."""
    path = _layers_file(tmp_path, f"""
        import os, sys
        for where in (os.path.dirname(sys.argv[0]), {str(SOLUTION.parent)!r}):
            try:
                exec(open(os.path.join(where, "layers_solution.py")).read())
            except OSError:
                pass
    """)
    spec = _permissive_spec()
    report = grade(path, spec, max_examples=SMALL)
    assert report.score == 0
    assert "does not define" in report.tests[0].output


def test_loading_the_reference_by_path_scores_zero(tmp_path):
    path = _layers_file(tmp_path, f"""
        import importlib.util, numpy as np

        def _load(name):
            spec = importlib.util.spec_from_file_location("ref_" + name, {str(ROOT / "reference")!r} + "/" + name + ".py")
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            return module

        def relu_forward(x):
            return _load("layers").relu_forward(x), x
    """)
    report = grade(path, _permissive_spec(), max_examples=SMALL)
    assert _value_scores(report)["relu_forward"] == 0
    assert "No such file or directory" in "\n".join(t.output for t in report.tests if t.function == "relu_forward")


def test_torch_hidden_and_scipy_ndimage_score_zero_with_the_module_named(tmp_path):
    pytest.importorskip("scipy.ndimage", reason="scipy is a test dependency: the grader has it, the worker must not")
    path = _layers_file(tmp_path, """
        import numpy as np
        from scipy import ndimage

        def relu_forward(x):
            hooks = __import__("s" + "ys").meta_path   # names hidden from the static scan
            hooks[:] = [f for f in hooks if "Forbidden" not in type(f).__name__]
            torch = __import__("to" + "rch")
            return torch.relu(torch.from_numpy(x)).numpy(), x

        def conv_forward_naive(x, w, b, conv_param):
            out = np.stack([ndimage.correlate(x[0, 0], w[0, 0])])
            return out, None

        def max_pool_forward_naive(x, pool_param):
            return ndimage.maximum_filter(x, 2), None
    """)
    report = grade(path, "layers", max_examples=SMALL)
    scores = _value_scores(report)
    assert scores["relu_forward"] == scores["conv_forward_naive"] == scores["max_pool_forward_naive"] == 0
    text = report.to_text(color=False)
    assert "import of 'scipy' is not allowed in this assignment (layers.py, line 3)" in text
    relu = "\n".join(t.output for t in report.tests if t.function == "relu_forward")
    assert "import of 'torch' is not allowed in this assignment" in relu


def test_the_worker_cannot_import_or_read_convcheck_or_torch(tmp_path):
    import convcheck
    import torch

    paths = [convcheck.__file__, torch.__file__, str(SOLUTION), str(ROOT / "reference" / "conv.py")]
    code = textwrap.dedent(f"""
        import importlib, sys

        def attempts(_):
            found = []
            sys.meta_path[:] = [f for f in sys.meta_path if "Forbidden" not in type(f).__name__]
            for name in ("convcheck", "convcheck.reference", "torch", "scipy", "hypothesis"):
                try:
                    importlib.import_module(name)
                    found.append("imported " + name)
                except ImportError:
                    pass
            for path in {paths!r}:
                try:
                    open(path).read(1)
                    found.append("read " + path)
                except OSError:
                    pass
            return found
    """)
    with Sandbox.from_source(code) as sb:
        assert sb.call("attempts", 0).value == []
        assert "numpy" not in sb.call("attempts", 0).value


# --------------------------------------------------------------------------------------------- disk

def test_filling_the_disk_is_stopped_and_costs_only_that_call(tmp_path):
    code = textwrap.dedent("""
        import os

        def many_files(n):
            for i in range(n):
                open(f"f{i}", "w").close()
            return n

        def big_files(mb):
            block = b"x" * 2**20
            for i in range(10_000):
                with open(f"big{i}", "wb") as f:
                    for _ in range(mb):
                        f.write(block)
            return 0

        def fine(x):
            return x + 1
    """)
    with Sandbox.from_source(code, disk_mb=8, max_files=50, file_mb=4, call_timeout=20) as sb:
        with pytest.raises(DiskLimit, match="created more than 50 files"):
            sb.call("many_files", 10_000)
        assert sb.call("fine", 1).value == 2  # a fresh worker, a fresh folder
        assert sb.call("many_files", 10).value == 10  # the quota is on what stays, and starts again
    with Sandbox.from_source(code, disk_mb=8, max_files=100_000, file_mb=4, call_timeout=20) as sb:
        with pytest.raises(DiskLimit, match="wrote more than 8 MiB to disk"):
            sb.call("big_files", 3)
        with pytest.raises(StudentException, match="File too large|Errno 27"):
            sb.call("big_files", 5)  # one file over RLIMIT_FSIZE (4 MiB)
        assert sb.call("fine", 1).value == 2


def _sandbox_folders() -> set[str]:
    return {p.name for p in worker_environment().work.iterdir()}


def test_the_work_folder_is_removed_when_the_grader_is_terminated(tmp_path):
    path = _layers_file(tmp_path, """
        import time

        def affine_forward(x, w, b):
            time.sleep(60)
    """)
    before = _sandbox_folders()
    proc = subprocess.Popen([sys.executable, "-m", "convcheck", "grade", str(path), "--examples", "2"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not any(f"-{proc.pid}-" in n for n in _sandbox_folders()):
        time.sleep(0.2)
    assert any(f"-{proc.pid}-" in n for n in _sandbox_folders()), "the grader never started its worker"
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)
    assert not any(f"-{proc.pid}-" in n for n in _sandbox_folders() - before)


def test_stale_folders_of_dead_graders_are_cleared_at_start(tmp_path):
    from convcheck.assignments.grader import sandbox as sandbox_module

    work = worker_environment().work
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = work / f"convcheck-sandbox-{dead.pid}-0123abcd"
    stale.mkdir()
    (stale / "junk").write_bytes(b"x" * 1000)
    live = work / f"convcheck-sandbox-{os.getpid()}-4567ef01"
    live.mkdir()
    sandbox_module._cleared.clear()
    with Sandbox.from_source("def f(x):\n    return x\n") as sb:
        assert sb.call("f", 1).value == 1
    assert not stale.exists() and live.exists()
    live.rmdir()


# --------------------------------------------------------------------------------------------- saying what holds

def test_a_weaker_sandbox_is_refused_unless_allowed(tmp_path, monkeypatch):
    path = _layers_file(tmp_path, "def relu_forward(x):\n    return x, x\n")
    monkeypatch.setenv("CONVCHECK_SANDBOX_DISABLE", "chroot,landlock,seccomp,netns")
    with pytest.raises(GraderError, match="refusing to grade: this machine cannot confine the worker's file reads, "
                                          "file writes, network"):
        grade(path, "layers", max_examples=SMALL)
    report = grade(path, "layers", max_examples=SMALL, allow_weaker_sandbox=True)
    assert "graded in a weaker sandbox" in report.to_text(color=False)
    assert "reads: NOT CONFINED" in report.sandbox


def test_check_sandbox_prints_what_this_machine_enforces(monkeypatch):
    out = subprocess.run([sys.executable, "-m", "convcheck", "grade", "--check-sandbox"], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "file reads (required)" in out.stdout and "network (required)" in out.stdout
    assert "grading allowed" in out.stdout
    weak = subprocess.run([sys.executable, "-m", "convcheck", "grade", "--check-sandbox"], capture_output=True,
                          text=True, timeout=120, env={**os.environ, "CONVCHECK_SANDBOX_DISABLE": "chroot,landlock"})
    assert weak.returncode == 2 and "NOT CONFINED" in weak.stdout and "--allow-weaker-sandbox" in weak.stdout


def test_the_worker_is_never_filesystem_root(tmp_path):
    code = "import os\n\ndef ids(_):\n    return list(os.getresuid()) + [os.getuid(), os.geteuid()]\n"
    with Sandbox.from_source(code) as sb:
        ids = sb.call("ids", 0).value
    if IS_ROOT:
        assert 0 not in ids
    else:
        assert ids == [os.getuid()] * 5


def test_the_worker_tree_imports_only_the_standard_library_and_numpy():
    """The boundary shows in the imports: nothing under worker/ imports convcheck (or anything but the
    standard library and NumPy), and its modules load one another by file path, never as a package."""
    import ast

    worker = ROOT / "assignments" / "grader" / "worker"
    allowed = set(sys.stdlib_module_names) | {"numpy"}
    for path in sorted(worker.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                tops = {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom):
                assert node.level == 0, f"{path.name}:{node.lineno} uses a relative import"
                tops = {node.module.split(".")[0]}
            else:
                continue
            assert tops <= allowed, f"{path.name}:{node.lineno} imports {sorted(tops - allowed)}"


def test_removing_a_folder_twice_leaves_the_work_folder_enterable(tmp_path):
    """A failed removal once made the shared work folder 0700, locking every later worker out of its own."""
    from convcheck.assignments.grader.environment import remove_tree

    work = tmp_path / "work"
    work.mkdir(mode=0o711)
    os.chmod(work, 0o711)
    gone = work / "convcheck-sandbox-1-00"
    gone.mkdir()
    remove_tree(gone)
    remove_tree(gone)  # already removed: nothing to do, nothing to chmod
    assert oct(work.stat().st_mode & 0o777) == oct(0o711)
