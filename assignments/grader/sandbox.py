"""Run an untrusted submission in an isolated worker process and call its functions from the grader.

Usage::

    from convcheck.assignments.grader.sandbox import Sandbox, SubmissionError

    with Sandbox("student/layers.py", forbidden_imports=("torch", "scipy.signal", "convcheck"),
                 call_timeout=5.0, memory_mb=1024) as sb:
        sb.load.ok, sb.load.defined, sb.load.errors      # what loading found
        r = sb.call("conv_forward_naive", x, w, b, {"stride": 1, "pad": 1}, keep=[1])
        out, cache = r.value                             # out: ndarray copied back; cache: a Handle
        r.mutated                                        # ['x'] if the call modified its argument x in place
        r.output, r.seconds                              # what it printed (bounded), time inside the worker
        dx, dw, db = sb.call("conv_backward_naive", dout, cache).value

API
- ``Sandbox(submission, *, forbidden_imports=(), call_timeout=5.0, memory_mb=1024, cpu_seconds=60,
  output_limit=20_000, load_timeout=30.0, max_return_mb=64, file_mb=64, prefer=(), python=None)``:
  ``submission`` is a path
  (``.py``, ``.ipynb``, folder or ``.zip``; ``prefer`` names the file to pick in a folder) or a
  ``SubmissionSource``. ``Sandbox.from_source(text, name="submission.py", **options)`` for code given
  as text (the notebooks' self-check cells). A context manager; ``start()`` is implied by ``with`` and
  by the first use of ``load`` or ``call``.
- ``load -> LoadResult``: ``ok`` (nothing went wrong), ``defined`` (callable names the submission
  defines), ``errors`` (messages: syntax error with file and line, each failing notebook cell or
  top-level statement, each forbidden import with file and line), ``forbidden`` (``ForbiddenUse``
  list from the static scan), ``notes`` (magics stripped, cells skipped), ``output`` (prints while
  loading, bounded), ``fatal`` (the worker cannot run the submission at all: every call raises
  ``LoadFailed``), ``seconds``.
- ``call(name, *args, keep=None, **kwargs) -> CallResult(value, mutated, output, seconds)``.
  Arguments and return values may be None, bool, int, float, complex, str, list, tuple, dict, NumPy
  arrays/scalars of numeric dtypes and ``Handle``s. ``keep``: indexes of the returned tuple whose
  elements stay in the worker and come back as ``Handle`` (the cs231n ``cache``); pass the handle to a
  later call. A handle dropped by the grader is freed in the worker at the next call. ``mutated``
  names the array arguments the call modified in place (``x``, ``conv_param['w']``, ``args[3]``).
  ``return_args``: indexes of positional arguments whose values after the call come back in
  ``CallResult.args_after`` (a list, in that order; None when not asked) — how a grader reads the
  running statistics a course's function writes into its ``bn_param`` dict. They are the submission's
  data like any return value (decoded with the same bounds, never trusted).
- Errors, all ``SubmissionError`` (``str(e)`` is a message for the student; ``e.output`` what the
  call printed): ``CallTimeout``, ``WorkerCrashed`` (exit code or signal: "segmentation fault
  (SIGSEGV)"), ``MemoryLimit``, ``StudentException`` (``type_name``, ``message``, ``traceback`` of the
  student's frames only), ``NotDefined``, ``ForbiddenImport`` (``module``), ``BadReturn`` (a value that
  cannot be read back, too large, or not a tuple where ``keep`` asks for one), ``StaleHandle`` (a handle
  from before a restart), ``LoadFailed``. After ``CallTimeout``, ``WorkerCrashed`` and ``MemoryLimit``
  the worker's whole session is killed and the next call starts a fresh worker (the submission is
  loaded again); only the calls that needed the old worker fail. ``restarts`` counts them.
- ``restart()``, ``close()``; ``stray_output``: what the worker wrote to its fds 1/2 outside Python's
  ``print`` (C extensions, ``os.write``), bounded; ``pid`` (the worker's, also its session id);
  ``isolation`` (what the worker applied, see below); ``source`` (the ``SubmissionSource``).
- The constructor raises ``loader.SubmissionFormatError`` when no submission file can be read or chosen.
- ``scan_imports(source, forbidden) -> [ImportUse(module, lineno)]`` and
  ``load_submission_source(path, prefer=()) -> SubmissionSource`` are re-exported here.

Isolation (why each piece is there)
- A fresh interpreter per submission: ``python -s -P`` (no user site, no script directory on the path) in
  a new session, with a clean environment (HOME and TMPDIR are the sandbox's temporary directory). It is
  ``-I`` without ``-E``: the environment is ours entirely, and ``-E`` would drop the PYTHONHASHSEED=0 that
  makes a regrade byte-identical. The worker never imports ``convcheck`` (an editable install's finder is
  removed too), so the submission finds no grader code; it holds only the inputs of the current call.
- The working directory is a temporary copy of the submission's files, read-only.
- Limits inside the worker (``resource.setrlimit``): RLIMIT_AS (``memory_mb``), RLIMIT_CPU
  (``cpu_seconds``), RLIMIT_FSIZE (``file_mb``), RLIMIT_CORE=0, RLIMIT_NPROC=1 (no fork, no thread).
  Python's process-starting functions raise as well. The wall-clock limit per call is the parent's.
- As root (Gradescope, containers), the worker becomes uid 1e9+pid with no capabilities (the kernel
  exempts uid 0 from RLIMIT_NPROC, and root could lift its limits, signal or trace the grader); if the
  interpreter is not readable by others (a Python under /root) it keeps filesystem uid 0 for reading.
- Landlock (Linux 5.13+): writes only inside the working directory, no exec; 6.7+ no TCP; 6.12+ no
  signals to processes outside the worker. ``isolation`` says what was applied, e.g. ``uid 1000012345,
  no capabilities, files as root; landlock ABI 7: writes only in the working directory, no exec, no TCP,
  no signals out``. Without Landlock and as a non-root user, the worker can write what that user can:
  grade as a dedicated user or in a container then.
- Kills take the whole process group, then any process still carrying the sandbox's token in its
  environment (a child that called ``setsid``), so nothing survives ``close()``.
- Requests and replies travel on two dedicated pipes, never on the worker's stdout. Replies are decoded by
  ``wire.decode`` (JSON + raw array bytes, whitelisted numeric dtypes), never unpickled: a reply is hostile
  input and can only ever produce plain values. The worker's reply is the submission's answer and nothing
  more — it gets the inputs of one call, never an expected value, so a forged reply can claim no more than
  returning that value would.
- Import policy: the static scan (before running) plus an import hook in the worker (``policy.py``).
"""

from __future__ import annotations

import os
import secrets
import select
import signal
import stat
import subprocess
import sys
import threading
import time
import weakref
from dataclasses import dataclass, field
from pathlib import Path

from .worker import wire
from .environment import clear_stale_work, remove_tree, worker_environment
from .loader import SubmissionSource, from_text, load_submission_source
from .policy import ImportUse, local_modules, scan_imports


__all__ = [
    "Sandbox", "Handle", "LoadResult", "CallResult", "ForbiddenUse", "SubmissionError", "CallTimeout",
    "WorkerCrashed", "MemoryLimit", "StudentException", "NotDefined", "ForbiddenImport", "BadReturn",
    "StaleHandle", "LoadFailed", "scan_imports", "load_submission_source", "ImportUse", "SubmissionSource",
]


# --------------------------------------------------------------------------------------------- errors

class SubmissionError(Exception):
    """Something the submission did wrong in a call; ``str(e)`` is written for the student."""

    def __init__(self, message: str, output: str = ""):
        super().__init__(message)
        self.message = message
        self.output = output


class CallTimeout(SubmissionError):
    """The call ran past ``call_timeout`` seconds of wall-clock time; the worker was killed."""


class WorkerCrashed(SubmissionError):
    """The worker died during the call (signal, exit, or it broke the protocol); it was replaced."""

    def __init__(self, message, output="", returncode=None):
        super().__init__(message, output)
        self.returncode = returncode


class MemoryLimit(SubmissionError):
    """The call needed more than ``memory_mb``; the worker was replaced."""


class StudentException(SubmissionError):
    """The submission's function raised; ``traceback`` shows the submission's own frames only."""

    def __init__(self, message, output="", type_name="", traceback=""):
        super().__init__(message, output)
        self.type_name = type_name
        self.traceback = traceback


class NotDefined(SubmissionError):
    """The submission does not define the function."""


class ForbiddenImport(SubmissionError):
    """The function used a module the assignment forbids."""

    def __init__(self, message, output="", module=""):
        super().__init__(message, output)
        self.module = module


class BadReturn(SubmissionError):
    """The function returned something the grader cannot take (type, size, or not the tuple expected)."""


class StaleHandle(SubmissionError):
    """A handle (a kept cache) from a worker that has since been replaced."""


class LoadFailed(SubmissionError):
    """The submission could not be loaded at all (it killed or hung the worker while loading)."""


class DiskLimit(SubmissionError):
    """The submission wrote more than the disk quota (bytes or files) into its working folder."""


class SandboxTooWeak(BaseException):
    """This machine cannot keep a promise the grader makes (``missing``); grading is refused unless allowed.

    A BaseException, like KeyboardInterrupt: it must stop the grading wherever it arises, never be caught
    by a handler that would count it against the student's function."""

    def __init__(self, missing: list[str], applied: dict):
        self.missing, self.applied = missing, applied
        super().__init__(
            "refusing to grade: this machine cannot confine the worker's " + ", ".join(missing)
            + f" ({describe_confinement(applied)}). Grade as root (chroot, a separate uid) or on Linux 5.13+ "
            "(Landlock), or pass --allow-weaker-sandbox to grade anyway; see the README's threat model.")


#: The promises grading cannot do without (worker/confine.py): a worker that can read the grader's files,
#: write outside its folder or reach the network could copy or forge answers.
REQUIRED = ("reads", "writes", "network")
PROMISES = {"reads": "file reads", "writes": "file writes", "network": "network", "processes": "new processes",
            "others": "view of other processes", "uid": "user id"}


def missing_protections(applied: dict) -> list[str]:
    return [PROMISES[p] for p in REQUIRED if not applied.get(p)]


def describe_confinement(applied: dict) -> str:
    """``reads: chroot + landlock ABI 7; writes: ...; network: seccomp; ...`` (``none`` where nothing holds)."""
    if not applied:
        return "not started"
    return "; ".join(f"{p}: {applied.get(p) or 'NOT CONFINED'}" for p in PROMISES if p in applied)


_SIGNALS = {
    signal.SIGSEGV: "segmentation fault", signal.SIGBUS: "bus error", signal.SIGABRT: "aborted",
    signal.SIGFPE: "floating-point exception", signal.SIGILL: "illegal instruction",
    signal.SIGXCPU: "CPU time limit exceeded", signal.SIGXFSZ: "file size limit exceeded",
    signal.SIGKILL: "killed (the system may have run out of memory)", signal.SIGTERM: "terminated",
}


def describe_exit(returncode: int) -> str:
    """``segmentation fault (SIGSEGV)`` / ``exit code 3``: how a worker ended, for messages."""
    if returncode is None:
        return "still running"
    if returncode < 0:
        try:
            sig = signal.Signals(-returncode)
        except ValueError:
            return f"signal {-returncode}"
        return f"{_SIGNALS.get(sig, sig.name)} ({sig.name})"
    return f"exit code {returncode}"


# --------------------------------------------------------------------------------------------- results

@dataclass(frozen=True)
class ForbiddenUse:
    """A forbidden module the static scan found: ``module``, in ``filename`` at ``lineno``."""

    module: str
    filename: str
    lineno: int

    def __str__(self):
        return f"import of {self.module!r} is not allowed in this assignment ({self.filename}, line {self.lineno})"


@dataclass
class LoadResult:
    ok: bool
    defined: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    output: str = ""
    forbidden: list[ForbiddenUse] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    fatal: bool = False
    seconds: float = 0.0


@dataclass
class CallResult:
    value: object
    mutated: list[str]
    output: str
    seconds: float
    args_after: list | None = None


class Handle:
    """An object that stays in the worker (e.g. a cs231n ``cache``); pass it back as an argument."""

    __slots__ = ("id", "type_name", "_generation", "_sandbox", "__weakref__")

    def __init__(self, id, type_name, generation, sandbox_ref):
        self.id, self.type_name, self._generation, self._sandbox = id, type_name, generation, sandbox_ref

    def __repr__(self):
        return f"<Handle {self.id}: {self.type_name} kept in the worker>"

    def __del__(self):
        sandbox = self._sandbox()
        if sandbox is not None and sandbox._generation == self._generation:
            sandbox._to_free.append(self.id)


class _Timeout(Exception):
    pass


class _DiskFull(Exception):
    pass


class _Died(Exception):
    pass


# --------------------------------------------------------------------------------------------- replies

#: The most characters of a student-controlled message (an exception's text, a traceback) the grader keeps.
MESSAGE_LIMIT = 2000


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + f" ... [{len(text) - limit} more characters]"


def _is_str_list(v):
    return type(v) is list and all(type(x) is str for x in v)


def _anything(v):
    return True


# What each reply must hold, field by field (checked before any field is used): required, then optional.
LOADED = ({"op": lambda v: v == "loaded", "defined": _is_str_list, "errors": _is_str_list,
           "output": lambda v: type(v) is str, "seconds": lambda v: type(v) is float},
          {"poisoned": _is_str_list})
RESULT = ({"op": lambda v: v == "result", "id": lambda v: type(v) is int, "value": _anything,
           "mutated": _is_str_list, "output": lambda v: type(v) is str, "seconds": lambda v: type(v) is float},
          {"args_after": lambda v: type(v) is list})
ERROR = ({"op": lambda v: v == "error", "id": lambda v: type(v) is int or v is None,
          "kind": lambda v: type(v) is str, "message": lambda v: type(v) is str,
          "output": lambda v: type(v) is str},
         {"type": lambda v: type(v) is str, "traceback": lambda v: type(v) is str,
          "module": lambda v: type(v) is str, "seconds": lambda v: type(v) is float})


def _shaped(reply, shape) -> bool:
    required, optional = shape
    if type(reply) is not dict or not set(required) <= set(reply) or set(reply) - set(required) - set(optional):
        return False
    return all(check(reply[k]) for k, check in {**required, **optional}.items() if k in reply)


# --------------------------------------------------------------------------------------------- the worker

class _Worker:
    """One worker process and its pipes; knows nothing of submissions or calls."""

    def __init__(self, environment, workdir: Path, env: dict, token: str, output_limit: int):
        req_r, self.req_w = os.pipe()
        self.rep_r, rep_w = os.pipe()
        out_r, out_w = os.pipe()
        self.token = token
        self.workdir = workdir
        try:
            # -S: no site module (no .pth files, no site-packages but NumPy's, given as PYTHONPATH)
            self.proc = subprocess.Popen(
                [str(environment.python), "-s", "-S", "-P", str(environment.worker), str(req_r), str(rep_w)],
                stdin=subprocess.DEVNULL, stdout=out_w, stderr=out_w, pass_fds=(req_r, rep_w),
                cwd=workdir, env=env, start_new_session=True, close_fds=True)
        finally:
            for fd in (req_r, rep_w, out_w):
                os.close(fd)
        os.set_blocking(self.req_w, False)
        self.stray = bytearray()
        self.stray_dropped = 0
        self._output_limit = output_limit
        self._drain = threading.Thread(target=self._drain_output, args=(out_r,), daemon=True)
        self._drain.start()

    def _drain_output(self, fd):
        with open(fd, "rb", buffering=0) as f:
            while chunk := f.read(65536):
                room = self._output_limit - len(self.stray)
                self.stray += chunk[:max(room, 0)]
                self.stray_dropped += max(0, len(chunk) - max(room, 0))

    def send(self, data: bytes, deadline: float):
        view = memoryview(data)
        poller = select.poll()
        poller.register(self.req_w, select.POLLOUT)
        while view:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise _Timeout
            if not poller.poll(remaining * 1000):
                raise _Timeout
            try:
                view = view[os.write(self.req_w, view[:1 << 16]):]
            except BlockingIOError:
                continue
            except (BrokenPipeError, OSError):
                raise _Died from None

    def _read(self, n: int, deadline: float, watch=None) -> bytes:
        buf = bytearray()
        poller = select.poll()
        poller.register(self.rep_r, select.POLLIN)
        while len(buf) < n:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise _Timeout
            if not poller.poll(min(remaining, WATCH_INTERVAL) * 1000):
                if watch is not None:
                    watch()
                continue
            chunk = os.read(self.rep_r, min(n - len(buf), 1 << 20))
            if not chunk:
                raise _Died
            buf += chunk
        return bytes(buf)

    def recv(self, deadline: float, max_bytes: int, make_handle, watch=None):
        """The next reply, decoded safely within ``wire.LIMITS``. Raises _Timeout, _Died, or WorkerCrashed on a
        malformed reply. ``watch()`` runs while waiting (the disk quota)."""
        magic, n = wire.HEADER.unpack(self._read(wire.HEADER.size, deadline, watch))
        if magic != wire.MAGIC or n > max_bytes:
            raise WorkerCrashed("the worker sent a malformed reply (did the submission write to the grader's pipe?)")
        body = self._read(n, deadline, watch)
        if watch is not None:
            watch()
        try:
            return wire.decode(body, make_handle=make_handle, deadline=deadline)
        except wire.WireTimeout:
            raise _Timeout from None
        except wire.WireError as e:
            raise WorkerCrashed(f"the worker sent a malformed reply ({e})") from None

    def kill(self):
        """Kill the worker's whole session, then any escaped process carrying our token; reap; close pipes."""
        pid = self.proc.pid
        try:
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        _kill_by_token(self.token)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        for fd in (self.req_w, self.rep_r):
            try:
                os.close(fd)
            except OSError:
                pass
        self._drain.join(timeout=2)

    def returncode_after_eof(self) -> int | None:
        """After the reply pipe closed: the exit status (killing a worker that closed its pipe but lives)."""
        try:
            return self.proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            self.kill()
            return None


def _protect_grader_memory():
    """Keep a worker from reading the grader's memory through /proc/<ppid>/mem or ptrace.

    Same-user processes may trace each other; a non-dumpable process can only be traced by root. As root
    this is not needed: the worker has dropped its capabilities, and the kernel refuses a tracer whose
    capabilities are not a superset of the target's. (Side effect: no core dumps of the grader.)
    """
    if os.geteuid() != 0 and sys.platform.startswith("linux"):
        import ctypes

        libc = ctypes.CDLL(None)
        libc.syscall.restype = ctypes.c_long
        if libc.syscall(ctypes.c_long(444), None, ctypes.c_size_t(0), ctypes.c_uint32(1)) >= 1:
            return  # Landlock also forbids the worker to trace anything outside its own domain
        PR_SET_DUMPABLE = 4
        libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)


def _kill_by_token(token: str):
    """SIGKILL every process whose initial environment carries ``token`` (children that left the session)."""
    needle = f"CONVCHECK_SANDBOX={token}".encode()
    me = os.getpid()
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        try:
            with open(f"/proc/{entry.name}/environ", "rb") as f:
                if needle in f.read().split(b"\0"):
                    os.kill(int(entry.name), signal.SIGKILL)
        except (OSError, ValueError):
            continue


# --------------------------------------------------------------------------------------------- sandbox

class Sandbox:
    """One isolated worker process running one submission (see the module docstring)."""

    def __init__(self, submission, *, forbidden_imports=(), allowed_imports=None, call_timeout=5.0, memory_mb=1024,
                 cpu_seconds=60, output_limit=20_000, load_timeout=30.0, max_return_mb=64, file_mb=16, disk_mb=64,
                 max_files=256, prefer=(), allow_weaker=False, numpy=None):
        self.source = submission if isinstance(submission, SubmissionSource) \
            else load_submission_source(submission, prefer=prefer)
        self.forbidden_imports = tuple(forbidden_imports)
        self.allowed_imports = None if allowed_imports is None else tuple(allowed_imports)
        self.disk_bytes, self.max_files = int(disk_mb * 2**20), int(max_files)
        self.allow_weaker = bool(allow_weaker)
        self.confinement: dict = {}  # what the worker reported it applied (see worker/confine.py)
        self.call_timeout = float(call_timeout)
        self.load_timeout = float(load_timeout)
        self.memory_mb, self.cpu_seconds, self.file_mb = int(memory_mb), int(cpu_seconds), int(file_mb)
        self.output_limit = int(output_limit)
        self.max_return_bytes = int(max_return_mb * 2**20)
        self.env = worker_environment(numpy)  # EnvironmentBuildError when a spec's NumPy cannot be had
        _clear_stale_once(self.env)
        self.restarts = 0
        self._worker: _Worker | None = None
        self._load: LoadResult | None = None
        self._generation = 0
        self._to_free: list[int] = []
        self._next_id = 0
        self._lock = threading.RLock()
        self._closed = False
        self._stray = b""
        self._workdir = self.env.work / f"convcheck-sandbox-{os.getpid()}-{secrets.token_hex(8)}"
        self._finalizer = weakref.finalize(self, _cleanup, [None], self._workdir)

    @classmethod
    def from_source(cls, text: str, name: str = "submission.py", **options) -> Sandbox:
        """A sandbox for code given as text (``name`` ending in ``.ipynb`` reads it as a notebook)."""
        return cls(from_text(text, name), **options)

    # -- lifecycle

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.close()

    def start(self) -> LoadResult:
        with self._lock:
            if self._closed:
                raise RuntimeError("this Sandbox is closed")
            if self._load is None:
                self._load = self._spawn()
            return self._load

    @property
    def load(self) -> LoadResult:
        return self.start()

    def restart(self):
        """Replace the worker by a fresh one (the submission is loaded again); handles become stale."""
        with self._lock:
            self._stop_worker()
            self._spawn()

    def close(self):
        with self._lock:
            if self._closed:
                return
            self._stop_worker()
            self._closed = True
            self._finalizer()

    @property
    def pid(self) -> int | None:
        """The current worker's process id (it is also its process group and session id), or None."""
        return self._worker.proc.pid if self._worker is not None else None

    @property
    def stray_output(self) -> str:
        worker = self._worker
        data = self._stray + (bytes(worker.stray) if worker else b"")
        return data[:self.output_limit].decode("utf-8", "replace")

    # -- calls

    def call(self, name: str, /, *args, keep=None, return_args=None, **kwargs) -> CallResult:
        with self._lock:
            load = self.start()
            if load.fatal:
                raise LoadFailed(f"{name} cannot be called: the submission could not be loaded ("
                                 + "; ".join(load.errors[-1:]) + ")")
            self._check_handles((args, kwargs))
            if self._worker is None:
                self._spawn()
                if self._load.fatal:
                    raise LoadFailed(f"{name} cannot be called: reloading the submission failed ("
                                     + "; ".join(self._load.errors[-1:]) + ")")
            self._next_id += 1
            call_id = self._next_id
            free, self._to_free = self._to_free, []
            message = {"op": "call", "id": call_id, "name": name, "args": list(args), "kwargs": kwargs,
                       "keep": None if keep is None else [int(i) for i in keep], "free": free}
            if return_args:
                message["return_args"] = [int(i) for i in return_args]
            try:
                data = wire.encode(message, handle_type=Handle, bounded=False)
            except wire.WireError as e:
                raise TypeError(f"cannot send the arguments of {name} to the worker: {e}") from None
            reply = self._exchange(data, self.call_timeout, f"the call to {name}")
            if reply.get("id") != call_id or not (_shaped(reply, RESULT) or _shaped(reply, ERROR)):
                self._replace("protocol")
                raise WorkerCrashed("the worker sent a malformed reply (did the submission write to the grader's "
                                    "pipe?)")
            if reply["op"] == "result":
                return CallResult(reply["value"], reply["mutated"], _cut(reply["output"], self.output_limit),
                                  reply["seconds"], reply.get("args_after") if return_args else None)
            raise self._error(name, reply)

    def _error(self, name, reply) -> SubmissionError:
        kind, message = reply["kind"], _cut(reply["message"], MESSAGE_LIMIT)
        output = _cut(reply["output"], self.output_limit)
        if kind == "exception":
            return StudentException(f"{name} raised {message}", output, _cut(reply.get("type", ""), 200),
                                    _cut(reply.get("traceback", ""), MESSAGE_LIMIT))
        if kind == "forbidden":
            return ForbiddenImport(f"{name}: {message}", output, _cut(reply.get("module", ""), 200))
        if kind == "not_defined":
            return NotDefined(message, output)
        if kind == "memory":
            self._replace("memory")
            return MemoryLimit(f"{name} ran out of memory (limit {self.memory_mb} MiB); the worker was restarted",
                               output)
        if kind == "bad_return":
            return BadReturn(message, output)
        if kind == "stale_handle":
            return StaleHandle(f"{name}: {message}", output)
        self._replace("protocol")
        return WorkerCrashed(f"the worker sent an unknown reply kind {kind[:40]!r}", output)

    def _check_handles(self, value):
        if isinstance(value, Handle):
            if value._sandbox() is not self:
                raise StaleHandle("a handle from another sandbox was passed")
            if value._generation != self._generation:
                raise StaleHandle("a kept value (e.g. a cache) was lost when the worker restarted; "
                                  "call the function that made it again")
        elif type(value) in (list, tuple):
            for v in value:
                self._check_handles(v)
        elif type(value) is dict:
            for v in value.values():
                self._check_handles(v)

    # -- the worker's life

    def _exchange(self, data: bytes | None, timeout: float, what: str):
        """Send ``data`` (None: only wait), return the decoded reply; on timeout/death kill the worker and raise.
        Reading, decoding and the disk quota all count against the one deadline."""
        worker = self._worker
        deadline = time.monotonic() + timeout
        generation = self._generation
        try:
            if data is not None:
                worker.send(data, deadline)
            return worker.recv(deadline, self.max_return_bytes + 8 * self.output_limit + 2**20,
                               lambda i, t: Handle(i, t, generation, weakref.ref(self)), self._watch_disk)
        except _DiskFull as full:
            self._replace("disk")
            raise DiskLimit(f"{what} was stopped: the submission {full.args[0]}; the worker was killed") from None
        except _Timeout:
            self._replace("timeout")
            raise CallTimeout(f"{what} did not finish within {timeout:g} s (infinite loop?); "
                              "the worker was killed") from None
        except _Died:
            rc = worker.returncode_after_eof()
            self._replace("crash")
            if rc is None:
                raise WorkerCrashed(f"the worker closed the grader's pipe during {what} and was killed") from None
            raise WorkerCrashed(f"the worker died during {what}: {describe_exit(rc)}", returncode=rc) from None
        except WorkerCrashed:
            self._replace("protocol")
            raise

    def _watch_disk(self):
        size, count = disk_use(self._workdir, self.max_files)
        if count > self.max_files:
            raise _DiskFull(f"created more than {self.max_files} files")
        if size > self.disk_bytes:
            raise _DiskFull(f"wrote more than {self.disk_bytes // 2**20} MiB to disk")

    def _replace(self, reason: str):
        """Kill the current worker; the next call starts a fresh one."""
        self._stop_worker()
        self.restarts += 1

    def _stop_worker(self):
        worker, self._worker = self._worker, None
        if worker is not None:
            worker.kill()
            self._stray = (self._stray + bytes(worker.stray))[:self.output_limit]
            self._finalizer.detach()
            self._finalizer = weakref.finalize(self, _cleanup, [None], self._workdir)
        self._generation += 1
        self._to_free = []

    def _spawn(self) -> LoadResult:
        """Start a worker and load the submission into it; returns (and keeps) the LoadResult."""
        token = secrets.token_hex(16)
        self._write_files()  # afresh for every worker: nothing an earlier worker wrote survives a restart
        env = {
            "PATH": "/nonexistent", "HOME": str(self._workdir), "TMPDIR": str(self._workdir),
            "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONPATH": str(self.env.site), "LD_LIBRARY_PATH": ":".join(self.env.libraries),
            "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
            "NUMEXPR_NUM_THREADS": "1", "CONVCHECK_SANDBOX": token,
        }
        start = time.monotonic()
        _protect_grader_memory()
        self._worker = _Worker(self.env, self._workdir, env, token, self.output_limit)
        # The finalizer kills this worker if the Sandbox is dropped without close().
        self._finalizer.detach()
        self._finalizer = weakref.finalize(self, _cleanup, [self._worker], self._workdir)
        src = self.source
        rules = self.import_rules
        forbidden = [ForbiddenUse(u.module, c.filename, u.lineno)
                     for c in src.cells for u in scan_imports(c.source, rules, c.filename)]
        errors = [*src.errors, *(str(f) for f in forbidden)]
        message = {
            "op": "load", "kind": src.kind, "module": src.module_name, "imports": rules,
            "root": str(self.env.root), "disable": _disabled_layers(),
            "cells": [{"source": c.source, "filename": c.filename, "error": c.error} for c in src.cells],
            "limits": {"memory_mb": self.memory_mb, "cpu_seconds": self.cpu_seconds, "file_mb": self.file_mb,
                       "parent_pid": os.getpid()},
            "output_limit": self.output_limit, "max_return_bytes": self.max_return_bytes,
        }
        try:
            confined = self._exchange(wire.encode(message, bounded=False), self.load_timeout,
                                      "the confinement of the worker")
            self._check_confinement(confined)
            reply = self._exchange(None, self.load_timeout, "the loading of the submission")
            if reply.get("op") != "loaded" or not _shaped(reply, LOADED):
                raise WorkerCrashed("the worker answered out of turn while loading")
        except (CallTimeout, WorkerCrashed, DiskLimit) as e:
            self._worker = None
            stray = self.stray_output.strip()
            detail = f"\n{stray[-2000:]}" if stray and isinstance(e, WorkerCrashed) and e.returncode == 1 else ""
            reason = str(e)
            if isinstance(e, WorkerCrashed) and e.returncode is not None:
                reason = (f"the submission ended the worker process while loading ({describe_exit(e.returncode)}"
                          f"{'; os._exit or sys.exit from C?' if e.returncode > 0 else ''})")
            self._load = LoadResult(ok=False, errors=[*errors, f"{reason}{detail}"], forbidden=forbidden,
                                    notes=list(src.notes), fatal=True, seconds=time.monotonic() - start)
            return self._load
        errors += [_cut(e, MESSAGE_LIMIT) for e in reply["errors"][:50]]
        self._load = LoadResult(ok=not errors, defined=list(reply["defined"]), errors=errors,
                                output=_cut(reply["output"], self.output_limit), forbidden=forbidden, notes=list(src.notes),
                                seconds=time.monotonic() - start)
        return self._load

    @property
    def import_rules(self) -> dict:
        """What the submission may import (worker/imports.py): the spec's lists and its own modules."""
        local = local_modules(self.source.files)
        return {"allowed": None if self.allowed_imports is None else list(self.allowed_imports),
                "forbidden": list(self.forbidden_imports), "local": local}

    @property
    def isolation(self) -> str:
        """What the worker applied, one promise per entry (``reads: chroot + landlock ABI 7; ...``)."""
        return describe_confinement(self.confinement)

    def _check_confinement(self, reply):
        if reply.get("op") != "confined" or type(reply.get("applied")) is not dict \
                or not all(type(k) is str and type(v) is str for k, v in reply["applied"].items()):
            raise WorkerCrashed("the worker did not report its confinement")
        self.confinement = dict(reply["applied"])
        missing = missing_protections(self.confinement)
        if missing and not self.allow_weaker:
            self._stop_worker()
            raise SandboxTooWeak(missing, self.confinement)

    def _write_files(self):
        """The submission's files, read-only, in a fresh working folder (the worker can't alter the originals)."""
        if self._workdir.exists():
            remove_tree(self._workdir)
        os.chmod(self.env.work, 0o711)  # enterable by the worker's uid, not listable
        self._workdir.mkdir(mode=0o700)
        for rel, data in self.source.files.items():
            target = self._workdir / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            target.chmod(stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)


def _cleanup(workers, workdir: Path):
    for worker in workers:
        if worker is not None:
            worker.kill()
    remove_tree(workdir)


def _disabled_layers() -> list[str]:
    """Layers of confinement left out on purpose: ``CONVCHECK_SANDBOX_DISABLE=chroot,landlock,seccomp,netns``.
    For the grader's own tests (they show each hostile probe succeeding without its layer) and for
    diagnosing a machine; a weakened worker is still refused unless weaker sandboxes are allowed."""
    return [x.strip() for x in os.environ.get("CONVCHECK_SANDBOX_DISABLE", "").split(",") if x.strip()]


_cleared: set = set()


def _clear_stale_once(env):
    """Work folders of graders that died (SIGKILL, a lost machine) are removed when a grader first starts."""
    if env.root not in _cleared:
        _cleared.add(env.root)
        clear_stale_work(env)


def disk_use(folder: Path, max_files: int) -> tuple[int, int]:
    """(bytes, files) under ``folder``, counting at most ``max_files + 1`` entries (the count is the cap)."""
    size = count = 0
    for top, dirs, files in os.walk(folder):
        for name in dirs + files:
            count += 1
            if count > max_files:
                return size, count
            try:
                size += os.lstat(os.path.join(top, name)).st_blocks * 512
            except OSError:
                pass
    return size, count


#: How often (seconds) the disk quota is checked while a call runs.
WATCH_INTERVAL = 0.25


def probe_confinement() -> dict:
    """What a worker on this machine applies (one trivial worker, started once per process)."""
    if not _probed:
        with Sandbox.from_source("def ready():\n    return True\n", allow_weaker=True) as sb:
            sb.call("ready")
            _probed.update(sb.confinement)
    return dict(_probed)


_probed: dict = {}


def refuse_weaker_sandbox(allowed: bool):
    """Raise SandboxTooWeak before any grading when this machine cannot keep a required promise."""
    applied = probe_confinement()
    missing = missing_protections(applied)
    if missing and not allowed:
        raise SandboxTooWeak(missing, applied)


def check_sandbox(out=None, numpy=None) -> int:
    """``convcheck grade --check-sandbox``: start one worker (making its environment, with the NumPy an
    assignment names, if it is not cached yet), print what it could apply, promise by promise.
    Returns 0 when grading is allowed, 2 when a required promise cannot be kept here."""
    out = out or sys.stdout
    with Sandbox.from_source("def ready():\n    return True\n", allow_weaker=True, numpy=numpy) as sb:
        ok = sb.call("ready").value is True
        applied = dict(sb.confinement)
    print(f"worker environment: {sb.env.root} (Python {sys.version.split()[0]}, NumPy {sb.env.numpy_version})",
          file=out)
    for key, promise in PROMISES.items():
        required = " (required)" if key in REQUIRED else ""
        print(f"  {promise + required:<32} {applied.get(key) or 'NOT CONFINED'}", file=out)
    for key in ("landlock_error", "seccomp_error"):
        if applied.get(key):
            print(f"  ({key.replace('_', ' ')}: {applied[key]})", file=out)
    missing = missing_protections(applied)
    if missing or not ok:
        print(f"grading refused here: the worker's {', '.join(missing)} cannot be confined; pass "
              "--allow-weaker-sandbox to grade anyway (the reports will say so)", file=out)
        return 2
    print("grading allowed: every required promise holds", file=out)
    return 0
