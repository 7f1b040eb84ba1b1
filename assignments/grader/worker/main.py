"""The worker process that runs one untrusted submission: ``python -s -S -P main.py REQUEST_FD REPLY_FD``.

Started only by ``sandbox.Sandbox``, from the worker's own environment (``environment.py``: an interpreter,
the standard library, NumPy and this folder — no convcheck, no torch, no solutions). It reads requests
from REQUEST_FD and answers on REPLY_FD in the format of ``wire.py`` (never on stdout: the student's prints
go to a bounded capture). The first request loads the submission: the worker confines itself
(``confine.py``), reports what holds, installs the import hook, then runs the code; every later request
calls a function. It holds nothing but the inputs of the current call. Standard library and NumPy only.
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
confinement = _load_sibling("confine")

import ast  # noqa: E402  (after the helpers: nothing above may depend on the submission's files)
import io  # noqa: E402
import linecache  # noqa: E402
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
        return wire.decode(self._read(n), bounded=False)  # the grader's requests: its own, trusted

    def send_bytes(self, data):
        view = memoryview(data)
        while view:
            view = view[os.write(self.wfd, view):]


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
            if policy.denied(bound, forbidden):
                namespace[a.asname or bound] = policy.ForbiddenModule(bound)
            else:
                keep.append(a)
    elif isinstance(stmt, ast.ImportFrom) and stmt.level == 0 and stmt.module:
        keep = []
        for a in stmt.names:
            whole = policy.denied(stmt.module, forbidden)
            if whole or policy.denied(f"{stmt.module}.{a.name}", forbidden):
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
    """An error reply, its texts cut so that it always fits the wire's bounds (a traceback may quote a
    100,000-character line of the submission)."""
    def cut(text, n=8000):
        return text if len(text) <= n else text[:n] + f" ... [{len(text) - n} more characters]"

    extra = {k: cut(v) if type(v) is str else v for k, v in extra.items()}
    return {"op": "error", "id": call_id, "kind": kind, "message": cut(message), "output": cut(output, 60000),
            **extra}


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
            match = policy.denied(missing, forbidden) or next(
                (f for f in policy.forbidden_list(forbidden) if f.startswith(missing + ".")), None)
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
        return error_reply(call_id, "forbidden", f"import of {dodged[0]!r} is not allowed in this assignment "
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
    # return_args: indexes of positional arguments whose value AFTER the call goes back with the reply
    # (a param dict the course's function updates, such as bn_param's running statistics). Only
    # arguments the grader itself sent; the grader checks whatever comes back like any return value.
    after = msg.get("return_args")
    if after:
        reply["args_after"] = [args[i] if type(i) is int and 0 <= i < len(args) else None for i in after]
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

def main():
    channel = Channel(int(sys.argv[1]), int(sys.argv[2]))
    load = channel.recv()
    # Confinement before any submission code runs; what holds is reported before the submission can speak.
    applied = confinement.confine(load["limits"], load["root"], os.getcwd(), load["limits"]["parent_pid"],
                                  load.get("disable", ()))
    channel.send_bytes(wire.encode({"op": "confined", "applied": applied}))
    os.environ["HOME"] = os.environ["TMPDIR"] = os.getcwd()  # the folder as the worker now names it
    forbidden = load["imports"]
    filenames = {c["filename"] for c in load["cells"]}
    policy.install(forbidden, filenames)
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
    errors += [f"import of {m!r} is not allowed in this assignment (imported around the import hook)" for m in dodged]
    channel.send_bytes(wire.encode({
        "op": "loaded", "defined": defined_names(namespace), "errors": errors, "output": capture.take(),
        "seconds": time.perf_counter() - start,
        "poisoned": sorted(n for n, m in sys.modules.items() if isinstance(m, policy.ForbiddenModule)),
    }))

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
