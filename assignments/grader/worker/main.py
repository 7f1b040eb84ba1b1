"""The worker process that runs one untrusted submission: ``python -s -P _worker_main.py REQUEST_FD REPLY_FD``.

Started only by ``sandbox.Sandbox``. It reads requests from REQUEST_FD and answers on REPLY_FD in the
format of ``wire.py`` (never on stdout: the student's prints go to a bounded capture). The first request
loads the submission (limits, import hook, then the code); every later one calls a function.
It never imports ``convcheck``: its two helpers are loaded by file path, so a submission finds no grader
code in ``sys.modules``, and the worker holds nothing but the inputs of the current call.
"""

import os
import sys


def _load_sibling(name):
    import importlib.util

    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), name + ".py")
    spec = importlib.util.spec_from_file_location(f"_sandbox_{name}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


wire = _load_sibling("wire")
policy = _load_sibling("imports")

import ast  # noqa: E402  (after the helpers: nothing above may depend on the submission's files)
import io  # noqa: E402
import linecache  # noqa: E402
import resource  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402
import types  # noqa: E402

import numpy as np  # noqa: E402


class Capture(io.TextIOBase):
    """``sys.stdout``/``sys.stderr`` of the submission: keeps the first ``limit`` characters, counts the rest."""

    def __init__(self, limit):
        self.limit = limit
        self.parts, self.size, self.dropped = [], 0, 0

    def write(self, s):
        s = s if type(s) is str else str(s)
        room = self.limit - self.size
        if room > 0:
            self.parts.append(s[:room])
            self.size += min(room, len(s))
        self.dropped += max(0, len(s) - max(room, 0))
        return len(s)

    def writable(self):
        return True

    def isatty(self):
        return False

    @property
    def encoding(self):
        return "utf-8"

    def take(self):
        text = "".join(self.parts)
        if self.dropped:
            text += f"\n... [{self.dropped} more characters of output not shown]"
        self.parts, self.size, self.dropped = [], 0, 0
        return text


class Channel:
    """Framed messages over the two pipes given by the grader."""

    def __init__(self, rfd, wfd):
        self.rfd, self.wfd = rfd, wfd

    def _read(self, n):
        buf = bytearray()
        while len(buf) < n:
            chunk = os.read(self.rfd, min(n - len(buf), 1 << 20))
            if not chunk:
                raise EOFError
            buf += chunk
        return bytes(buf)

    def recv(self):
        magic, n = wire.HEADER.unpack(self._read(wire.HEADER.size))
        if magic != wire.MAGIC:
            raise EOFError
        return wire.decode(self._read(n))

    def send_bytes(self, data):
        view = memoryview(data)
        while view:
            view = view[os.write(self.wfd, view):]


# --------------------------------------------------------------------------------------------- limits

def apply_limits(limits):
    """rlimits first (so nothing the submission does can outgrow them), then drop root's privileges."""
    mb = 2**20
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_AS, (limits["memory_mb"] * mb, limits["memory_mb"] * mb))
    cpu = int(limits["cpu_seconds"])
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits["file_mb"] * mb, limits["file_mb"] * mb))
    # The limit counts all processes of the user, so 1 refuses every fork and thread of the worker.
    resource.setrlimit(resource.RLIMIT_NPROC, (1, 1))
    isolation = f"uid {os.getuid()}"
    if os.geteuid() == 0:
        isolation = _drop_root()
    isolation += "; " + _landlock(os.getcwd())
    _refuse_processes()
    # Die with the grader even in the middle of a runaway call (set last: a credential change clears it).
    import ctypes

    ctypes.CDLL(None).prctl(1, 9, 0, 0, 0)  # PR_SET_PDEATHSIG, SIGKILL
    if os.getppid() != limits["parent_pid"]:
        os._exit(0)
    return isolation


def _drop_root():
    """As root, become an unprivileged user of our own; returns how far the drop went (for the grader's log).

    The kernel never applies RLIMIT_NPROC to uid 0, and root could raise its limits again, or signal or trace
    the grader. So the worker takes a uid no other process has (1e9 + its pid: workers graded side by side
    can't signal each other either; the working directory becomes that uid's) and drops every
    capability (bounding set too, so an exec cannot regain them). When the interpreter is readable by
    others, files are accessed as that uid too, so the worker can write only its working directory and
    world-writable places. When it is not (a Python under /root), the filesystem uid stays 0 — the worker
    reads what root owns and, lacking CAP_DAC_OVERRIDE, writes only where root's owner bits allow.
    """
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    PR_CAPBSET_DROP, PR_SET_KEEPCAPS, PR_SET_NO_NEW_PRIVS, CAP_SETUID = 24, 8, 38, 7
    for cap in range(64):
        libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)  # fails past the last capability; harmless

    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

    class Data(ctypes.Structure):
        _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                    ("inheritable", ctypes.c_uint32)]

    def capset(caps):
        header, data = Header(0x20080522, 0), (Data * 2)()  # _LINUX_CAPABILITY_VERSION_3
        data[0].effective = data[0].permitted = caps
        if libc.capset(ctypes.byref(header), data) != 0:
            raise OSError(ctypes.get_errno(), "capset failed")

    own_files = _readable_by_others()
    libc.prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0)
    if own_files:
        os.setgroups([])
    for uid in (1_000_000_000 + os.getpid(), 65534):
        try:
            if own_files:
                os.setresgid(uid, uid, uid)
                _chown_tree(os.getcwd(), uid)  # the working directory becomes the worker's; files stay read-only
            os.setresuid(uid, uid, uid)
            break
        except OSError:
            continue
    if not own_files:
        capset(1 << CAP_SETUID)  # just long enough to set the filesystem uid back to 0
        libc.setfsuid(0)
        if libc.setfsuid(-1) != 0:
            raise OSError("could not keep filesystem uid 0")
    capset(0)
    libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    return f"uid {os.getuid()}, no capabilities, files as " + ("uid " + str(os.getuid()) if own_files else "root")


def _chown_tree(root, uid):
    for folder, dirs, files in os.walk(root):
        for name in [folder, *(os.path.join(folder, n) for n in dirs + files)]:
            os.chown(name, uid, uid, follow_symlinks=False)


def _readable_by_others():
    """Whether a user with no rights can still import from the interpreter, numpy and site-packages."""
    import stat
    import sysconfig

    paths = {sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["platstdlib"], sysconfig.get_paths()["purelib"],
             os.path.dirname(os.path.dirname(np.__file__)), os.path.dirname(os.path.realpath(sys.executable))}
    for path in paths:
        path = os.path.realpath(path)
        if not os.stat(path).st_mode & stat.S_IROTH:
            return False
        while True:
            if not os.stat(path).st_mode & stat.S_IXOTH:
                return False
            parent = os.path.dirname(path)
            if parent == path:
                break
            path = parent
    return True


def _landlock(writable_dir):
    """Linux Landlock (5.13+): writes anywhere but ``writable_dir`` (and /dev/null), every exec, TCP bind and
    connect, and (6.12+) signals to processes outside the worker are refused by the kernel for this process,
    whatever its uid. Reads stay allowed: the interpreter must import. Returns a note for the grader's log."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    SYS_CREATE, SYS_ADD_RULE, SYS_RESTRICT = 444, 445, 446  # x86_64 and aarch64 share these numbers
    abi = libc.syscall(ctypes.c_long(SYS_CREATE), None, ctypes.c_size_t(0), ctypes.c_uint32(1))
    if abi < 1:
        return "no landlock"
    execute, write_file, truncate, refer = 1 << 0, 1 << 1, 1 << 14, 1 << 13
    make_and_remove = sum(1 << bit for bit in range(4, 13))  # remove dir/file, make char/dir/reg/sock/fifo/block/sym
    fs = execute | write_file | make_and_remove | (refer if abi >= 2 else 0) | (truncate if abi >= 3 else 0)
    net = 0b11 if abi >= 4 else 0  # bind, connect TCP
    scoped = 0b11 if abi >= 6 else 0  # abstract unix sockets, signals

    class RulesetAttr(ctypes.Structure):
        _fields_ = [("fs", ctypes.c_uint64), ("net", ctypes.c_uint64), ("scoped", ctypes.c_uint64)]

    class PathBeneath(ctypes.Structure):
        _pack_ = 1
        _fields_ = [("allowed", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]

    attr = RulesetAttr(fs, net, scoped)
    size = 24 if abi >= 6 else 16 if abi >= 4 else 8
    ruleset = libc.syscall(ctypes.c_long(SYS_CREATE), ctypes.byref(attr), ctypes.c_size_t(size), ctypes.c_uint32(0))
    if ruleset < 0:
        return f"no landlock (errno {ctypes.get_errno()})"
    try:
        for path, allowed in ((writable_dir, fs & ~execute), ("/dev/null", write_file | (truncate if abi >= 3 else 0))):
            fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
            try:
                rule = PathBeneath(allowed, fd)
                if libc.syscall(ctypes.c_long(SYS_ADD_RULE), ctypes.c_int(ruleset), ctypes.c_int(1),
                                ctypes.byref(rule), ctypes.c_uint32(0)) != 0:
                    raise OSError(ctypes.get_errno(), f"landlock_add_rule({path}) failed")
            finally:
                os.close(fd)
        libc.prctl(38, 1, 0, 0, 0)  # PR_SET_NO_NEW_PRIVS, required to restrict oneself without privileges
        if libc.syscall(ctypes.c_long(SYS_RESTRICT), ctypes.c_int(ruleset), ctypes.c_uint32(0)) != 0:
            raise OSError(ctypes.get_errno(), "landlock_restrict_self failed")
    finally:
        os.close(ruleset)
    return f"landlock ABI {abi}: writes only in the working directory, no exec" + (
        ", no TCP" if net else "") + (", no signals out" if scoped else "")


def _refuse_processes():
    """Second line behind RLIMIT_NPROC: the usual ways of starting a process fail with a clear message."""
    def refuse(*args, **kwargs):
        raise PermissionError("starting processes is not allowed in the grader's worker")

    for name in ("fork", "forkpty", "system", "popen", "posix_spawn", "posix_spawnp", "execv", "execve",
                 "execl", "execle", "execlp", "execlpe", "execvp", "execvpe", "spawnv", "spawnve", "spawnl",
                 "spawnle", "spawnlp", "spawnlpe", "spawnvp", "spawnvpe"):
        if hasattr(os, name):
            setattr(os, name, refuse)
    try:
        import _posixsubprocess

        _posixsubprocess.fork_exec = refuse
    except ImportError:
        pass


# --------------------------------------------------------------------------------------------- loading

def run_cells(cells, namespace, kind, forbidden):
    """Run the submission; return the messages of what failed. A ``.py`` runs statement by statement, so one
    failing top-level statement (a missing course import) does not hide the functions after it; a notebook
    cell stops at its first error, as in Jupyter, and the next cell runs. A top-level import of a forbidden
    module is not run: its names are bound to stand-ins that raise ``ForbiddenImportError`` when used, so
    only the functions using them fail (even where the module is not installed)."""
    errors = []
    flags = 0
    for cell in cells:
        source, filename = cell["source"], cell["filename"]
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
        if cell.get("error"):
            continue  # a syntax error, reported by the grader from its own compile
        for stmt in ast.parse(source, filename).body:
            try:
                if isinstance(stmt, ast.ImportFrom) and stmt.module == "__future__":
                    import __future__

                    for alias in stmt.names:
                        flags |= getattr(__future__, alias.name).compiler_flag
                stmt = bind_forbidden(stmt, namespace, forbidden)
                if stmt is None:
                    continue
                code = compile(ast.Module(body=[stmt], type_ignores=[]), filename, "exec",
                               flags=flags, dont_inherit=True)
                exec(code, namespace)
            except BaseException as e:  # SystemExit and KeyboardInterrupt at import are the submission's too
                lineno = _student_lineno(e, filename) or stmt.lineno
                where = f"{filename}, line {lineno}"
                errors.append(f"{where}: {describe(e)} (while loading)")
                if kind != "py":
                    break
    return errors


def bind_forbidden(stmt, namespace, forbidden):
    """For an import of forbidden modules: bind their names to stand-ins; return what is left to run."""
    if isinstance(stmt, ast.Import):
        keep = []
        for a in stmt.names:
            bound = a.name if a.asname else a.name.split(".")[0]
            if policy.forbidden_match(bound, forbidden):
                namespace[a.asname or bound] = policy.ForbiddenModule(bound)
            else:
                keep.append(a)
    elif isinstance(stmt, ast.ImportFrom) and stmt.level == 0 and stmt.module:
        keep = []
        for a in stmt.names:
            whole = policy.forbidden_match(stmt.module, forbidden)
            if whole or policy.forbidden_match(f"{stmt.module}.{a.name}", forbidden):
                if a.name != "*":
                    namespace[a.asname or a.name] = policy.Forbidden(stmt.module if whole else f"{stmt.module}.{a.name}")
            else:
                keep.append(a)
    else:
        return stmt
    if not keep:
        return None
    stmt.names = keep
    return stmt


def _student_lineno(e, filename):
    line = None
    for frame in traceback.extract_tb(e.__traceback__):
        if frame.filename == filename:
            line = frame.lineno
    return line


def describe(e):
    """``Type: message`` of an exception, robust to a hostile ``__str__``."""
    name = type(e).__name__ if type(e).__module__ == "builtins" else f"{type(e).__module__}.{type(e).__qualname__}"
    if isinstance(e, SystemExit):
        return f"SystemExit: sys.exit({e.code!r}) was called"
    try:
        message = str(e)
    except BaseException:
        message = "<the exception's message could not be computed>"
    if len(message) > 2000:
        message = message[:2000] + " ..."
    return f"{name}: {message}" if message else name


def defined_names(namespace):
    return sorted(k for k, v in namespace.items()
                  if not k.startswith("__") and not isinstance(v, (types.ModuleType, policy.Forbidden))
                  and callable(v))


# --------------------------------------------------------------------------------------------- calls

class StaleHandle(Exception):
    pass


def prepare(args, kwargs, store, names):
    """Resolve handles to the stored objects and snapshot every array argument (to detect mutation)."""
    snapshots = []

    def walk(value, label):
        if isinstance(value, wire.HandleRef):
            if value.id not in store:
                raise StaleHandle(value.id)
            return store[value.id]  # not snapshotted: the submission's own object, not the grader's input
        if isinstance(value, np.ndarray):
            snapshots.append((label, value, value.copy()))
            return value
        if type(value) is list:
            return [walk(v, f"{label}[{i}]") for i, v in enumerate(value)]
        if type(value) is tuple:
            return tuple(walk(v, f"{label}[{i}]") for i, v in enumerate(value))
        if type(value) is dict:
            return {k: walk(v, f"{label}[{k!r}]") for k, v in value.items()}
        return value

    args = [walk(a, names[i] if i < len(names) else f"args[{i}]") for i, a in enumerate(args)]
    kwargs = {k: walk(v, k) for k, v in kwargs.items()}
    return args, kwargs, snapshots


def positional_names(func):
    import inspect

    try:
        params = inspect.signature(func).parameters.values()
    except (TypeError, ValueError):
        return []
    return [p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]


def student_traceback(e, filenames):
    """The traceback restricted to the submission's own frames (the worker's frames say nothing to a student)."""
    frames = [f for f in traceback.extract_tb(e.__traceback__)
              if f.filename in filenames or f.filename.startswith(os.getcwd() + os.sep)]
    lines = traceback.format_list(frames[-8:])
    return "".join(lines) + describe(e)


def error_reply(call_id, kind, message, output, **extra):
    return {"op": "error", "id": call_id, "kind": kind, "message": message, "output": output, **extra}


def handle_call(msg, namespace, store, state, capture, filenames, forbidden, max_return):
    call_id, name = msg["id"], msg["name"]
    for handle_id in msg.get("free", ()):
        store.pop(handle_id, None)
    func = namespace.get(name)
    if func is None or isinstance(func, (types.ModuleType, policy.Forbidden)) or not callable(func):
        return error_reply(call_id, "not_defined", f"{name} is not defined by the submission", "")
    try:
        args, kwargs, snapshots = prepare(msg["args"], msg["kwargs"], store, positional_names(func))
    except StaleHandle as e:
        return error_reply(call_id, "stale_handle", f"handle {e.args[0]} is not held by this worker", "")
    capture.take()
    start = time.perf_counter()
    try:
        value = func(*args, **kwargs)
    except BaseException as e:
        seconds = time.perf_counter() - start
        output = capture.take()
        chain, seen = e, set()
        while chain is not None and id(chain) not in seen:
            seen.add(id(chain))
            if isinstance(chain, policy.ForbiddenImportError):
                return error_reply(call_id, "forbidden", str(chain), output, module=chain.module)
            chain = chain.__cause__ or chain.__context__
        missing = getattr(e, "name", None) if isinstance(e, ImportError) else None
        if missing:
            match = policy.forbidden_match(missing, forbidden) or next(
                (f for f in forbidden if f.startswith(missing + ".")), None)
            if match:
                return error_reply(call_id, "forbidden", str(policy.ForbiddenImportError(match)), output,
                                   module=match)
        if isinstance(e, MemoryError):
            return error_reply(call_id, "memory", describe(e), output)
        return error_reply(call_id, "exception", describe(e), output, type=type(e).__name__,
                           traceback=student_traceback(e, filenames), seconds=seconds)
    seconds = time.perf_counter() - start
    output = capture.take()
    dodged = policy.bypassed(forbidden)
    if dodged:
        return error_reply(call_id, "forbidden", f"import of {dodged[0]!r} is forbidden in this assignment "
                           "(imported around the import hook)", output, module=dodged[0])
    mutated = [label for label, array, before in snapshots
               if array.shape != before.shape or array.dtype != before.dtype or array.tobytes() != before.tobytes()]
    keep = msg.get("keep")
    if keep is not None:
        if type(value) not in (tuple, list) or any(not -len(value) <= i < len(value) for i in keep):
            return error_reply(call_id, "bad_return", f"{name} returned {_kind_of(value)}, but the grader expects "
                               f"a tuple with at least {max(keep) + 1} elements", output)
        kept = []
        for i, v in enumerate(value):
            if i in keep or i - len(value) in keep:
                state["next_handle"] += 1
                store[state["next_handle"]] = v
                kept.append(wire.HandleRef(state["next_handle"], type(v).__name__))
            else:
                kept.append(v)
        value = type(value)(kept)
    reply = {"op": "result", "id": call_id, "value": value, "mutated": mutated, "output": output,
             "seconds": seconds}
    try:
        data = wire.encode(reply)
    except wire.WireError as e:
        return error_reply(call_id, "bad_return", f"{name} returned a value the grader cannot read: {e}", output)
    if len(data) > max_return:
        return error_reply(call_id, "bad_return", f"{name} returned {len(data)} bytes, more than the "
                           f"{max_return} the grader accepts", output)
    return data


def _kind_of(value):
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape}"
    return f"a value of type {type(value).__name__}"


# --------------------------------------------------------------------------------------------- main

def hide_grader():
    """An editable install of convcheck puts a finder for it on ``sys.meta_path``; the worker has no use
    for it, and a submission should find no trace of the grader's package."""
    def is_grader(obj):
        module = obj.__module__ if isinstance(obj, type) else type(obj).__module__
        return "convcheck" in (module or "")

    sys.meta_path[:] = [f for f in sys.meta_path if not is_grader(f)]
    sys.path_hooks[:] = [h for h in sys.path_hooks if "convcheck" not in (getattr(h, "__module__", "") or "")]
    sys.path_importer_cache.clear()
    for name in [m for m in sys.modules if "convcheck" in m]:
        del sys.modules[name]


def main():
    hide_grader()
    channel = Channel(int(sys.argv[1]), int(sys.argv[2]))
    load = channel.recv()
    isolation = apply_limits(load["limits"])
    forbidden = tuple(load["forbidden"])
    policy.install(forbidden)
    capture = Capture(load["output_limit"])
    sys.stdout = sys.stderr = capture
    sys.stdin = io.StringIO()
    sys.path.append(os.getcwd())  # a folder submission's helper modules; appended, so they never shadow stdlib

    module = types.ModuleType(load["module"])
    module.__file__ = os.path.join(os.getcwd(), load["cells"][0]["filename"]) if load["cells"] else None
    sys.modules[load["module"]] = module
    namespace = module.__dict__
    start = time.perf_counter()
    errors = run_cells(load["cells"], namespace, load["kind"], forbidden)
    dodged = policy.bypassed(forbidden)
    errors += [f"import of {m!r} is forbidden in this assignment (imported around the import hook)" for m in dodged]
    channel.send_bytes(wire.encode({
        "op": "loaded", "defined": defined_names(namespace), "errors": errors, "output": capture.take(),
        "seconds": time.perf_counter() - start, "isolation": isolation,
        "poisoned": sorted(n for n, m in sys.modules.items() if isinstance(m, policy.ForbiddenModule)),
    }))

    filenames = {c["filename"] for c in load["cells"]}
    store, state = {}, {"next_handle": 0}
    max_return = load["max_return_bytes"]
    while True:
        try:
            msg = channel.recv()
        except (EOFError, wire.WireError):
            os._exit(0)
        try:
            reply = handle_call(msg, namespace, store, state, capture, filenames, forbidden, max_return)
        except MemoryError:
            reply = error_reply(msg.get("id"), "memory", "MemoryError", "")
        channel.send_bytes(reply if isinstance(reply, bytes) else wire.encode(reply))


if __name__ == "__main__":
    main()
