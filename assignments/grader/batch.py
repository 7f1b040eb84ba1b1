"""Grade a folder of submissions (one file or subfolder per student) in parallel, resumably.

Each student is graded in a process of their own (``multiprocessing``'s spawn context, at most
``jobs`` at a time, each with an address-space cap of ``memory_mb``): a grading process that dies
(killed from outside, out of memory) costs only that student, who gets an error row naming the cause;
the others are graded exactly as alone. Each report is written atomically (a temporary file in the
same folder, then ``os.replace``), so an interrupted batch leaves only whole reports; a rerun skips
students whose report exists unless ``regrade=True``. The gradebook CSV is written at the end from
all the reports on disk. A submission that breaks the grader itself is recorded as an error with 0
points; it never stops the batch.

Student ids are file stems and folder names; two submissions with the same id (``bob/`` and
``bob.py``) are refused before anything is graded, naming both paths. Gradebook cells that a
spreadsheet would read as a formula (starting with ``=``, ``+``, ``-``, ``@``, tab or CR) are
prefixed with ``'``.

For a course of thousands: split the folder over machines (``--shard I/K``, 0-based: machine I of K
takes students I, I+K, I+2K, … of the sorted list) and merge the report folders, or let Gradescope run
one submission per container (``convcheck gradescope-bundle``).
"""

from __future__ import annotations

import csv
import json
import multiprocessing
import os
import tempfile
import traceback
from dataclasses import dataclass
from pathlib import Path

SUBMISSION_SUFFIXES = (".py", ".ipynb", ".zip")
#: Address-space cap of each grading process (the worker it starts sets its own, lower one).
POOL_MEMORY_MB = 6144


class BatchError(ValueError):
    """The batch cannot start (duplicate student ids, a bad shard): the message says why."""


@dataclass
class BatchResult:
    graded: list[str]
    skipped: list[str]
    errors: dict[str, str]
    gradebook: Path | None


def students(folder: Path) -> list[tuple[str, Path]]:
    """(student id, submission path) for every subfolder or submission file of ``folder``, sorted.

    Raises BatchError when two entries give the same id (``bob/`` and ``bob.py``)."""
    found: dict[str, Path] = {}
    for entry in sorted(Path(folder).iterdir()):
        if entry.name.startswith((".", "_")):
            continue
        if entry.is_dir() or entry.suffix.lower() in SUBMISSION_SUFFIXES:
            sid = entry.stem if entry.is_file() else entry.name
            if sid in found:
                raise BatchError(f"two submissions have the student id {sid!r}: {found[sid]} and {entry}; "
                                 "rename one (each student's report is <id>.json)")
            found[sid] = entry
    return sorted(found.items())


def parse_shard(text: str | None) -> tuple[int, int] | None:
    """``"I/K"`` -> (I, K) with 0 <= I < K; BatchError with the reason otherwise."""
    if text is None:
        return None
    i, sep, k = str(text).partition("/")
    try:
        index, count = int(i), int(k)
    except ValueError:
        index = count = None
    if not sep or index is None:
        raise BatchError(f"--shard {text!r}: expected I/K, e.g. 0/4 for the first of 4 machines (I counts from 0)")
    if count < 1:
        raise BatchError(f"--shard {text!r}: K (the number of shards) must be at least 1")
    if not 0 <= index < count:
        raise BatchError(f"--shard {text!r}: I must be between 0 and {count - 1} (shards count from 0)")
    return index, count


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that a reader sees either the old file or the whole new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def report_path(reports: Path, student: str) -> Path:
    return reports / f"{student}.json"


def grade_one(student: str, path: str, assignment: str, seed, max_examples, reports: str,
              allow_weaker_sandbox: bool = False) -> tuple[str, str | None]:
    """Grade one student and write their report; returns (student, error or None). Runs in a child process."""
    from .grade import grade

    out = report_path(Path(reports), student)
    try:
        report = grade(path, assignment, seed=seed, max_examples=max_examples, name=student,
                       allow_weaker_sandbox=allow_weaker_sandbox)
        data = report.to_dict()
        data["gradescope"] = report.to_gradescope()
        data["gradescope"]["execution_time"] = 0  # keep the stored report deterministic
        write_atomic(out, json.dumps(data, indent=2, ensure_ascii=False) + "\n")
        if report.internal_error:  # the report says so (0 points); the TA sees it as an error too
            write_atomic(out.with_suffix(".error.txt"), report.internal_error + "\n")
            return student, f"internal error of the grader: {report.internal_error}"
        try:
            out.with_suffix(".error.txt").unlink()
        except FileNotFoundError:
            pass
        return student, None
    except Exception as exc:  # the grader failed on this submission: record it, go on with the others
        error = f"{type(exc).__name__}: {exc}"
        write_atomic(out.with_suffix(".error.txt"), error + "\n\n" + traceback.format_exc())
        return student, error


def _child(conn, task, memory_mb, args):
    """A grading process: cap its memory, run ``task(*args)``, send the result back."""
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        cap = int(memory_mb) * 2**20
        if hard == resource.RLIM_INFINITY or cap < hard:
            resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    except (ImportError, ValueError, OSError):
        pass
    try:
        from .grade import private_hypothesis_home

        private_hypothesis_home()
        result = task(*args)
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, never lost
        result = (args[0], f"{type(exc).__name__}: {exc}")
    try:
        conn.send(result)
    finally:
        conn.close()


def _died(code: int | None) -> str:
    import signal

    if code is None:
        return "the grading process did not finish"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        why = " (out of memory? the OOM killer sends SIGKILL)" if -code == signal.SIGKILL else ""
        return f"the grading process was killed by {name}{why}"
    return f"the grading process exited with status {code} without a result"


def run_isolated(tasks: list[tuple], task=None, *, jobs: int = 2, memory_mb: int = POOL_MEMORY_MB,
                 on_done=None) -> dict[str, str | None]:
    """Run ``task(*args)`` for each args (``args[0]`` is the student id) in its own spawned process, at
    most ``jobs`` at once; returns {student: error or None}. A process that dies costs only its student."""
    from multiprocessing.connection import wait

    task = task or grade_one
    # spawn, not fork: the parent may hold torch's thread pools and the sandbox's locks, which a forked
    # child would inherit mid-state (and deadlock on)
    context = multiprocessing.get_context("spawn")
    todo = list(tasks)
    running: dict = {}   # sentinel -> (process, connection, student)
    results: dict[str, str | None] = {}
    while todo or running:
        while todo and len(running) < max(1, int(jobs)):
            args = todo.pop(0)
            receive, send = context.Pipe(duplex=False)
            proc = context.Process(target=_child, args=(send, task, memory_mb, args), daemon=True)
            proc.start()
            send.close()
            running[proc.sentinel] = (proc, receive, args[0])
        ready = wait(list(running) + [r for _, r, _ in running.values()])
        for sentinel in list(running):
            proc, receive, student = running[sentinel]
            got = None
            try:
                if receive in ready or sentinel in ready:
                    if receive.poll():
                        got = receive.recv()
            except (EOFError, OSError):
                got = None
            if got is None and sentinel not in ready:
                continue
            if got is None:
                proc.join(timeout=5)
                got = (student, _died(proc.exitcode))
            else:
                proc.join(timeout=30)
                if proc.is_alive():
                    proc.kill()
                    proc.join()
            receive.close()
            del running[sentinel]
            results[got[0]] = got[1]
            if on_done:
                on_done(got[0], got[1])
    return results


def grade_folder(folder, assignment: str = "layers", *, jobs: int = 2, reports=None, gradebook=None,
                 regrade: bool = False, seed=None, max_examples=None, shard: tuple[int, int] | None = None,
                 progress: bool = True, memory_mb: int = POOL_MEMORY_MB, task=None,
                 allow_weaker_sandbox: bool = False) -> BatchResult:
    """Grade every submission under ``folder``; reports in ``reports`` (default ``folder/_reports``).

    ``task`` replaces :func:`grade_one` (tests use it to kill a grading process). Where this machine cannot
    confine the worker as promised, raises BatchError before grading anyone (unless allowed)."""
    from .sandbox import SandboxTooWeak, refuse_weaker_sandbox
    from .spec import load_spec

    spec = load_spec(assignment)
    try:
        refuse_weaker_sandbox(allow_weaker_sandbox or spec.allow_weaker_sandbox)
    except SandboxTooWeak as exc:
        raise BatchError(str(exc)) from None
    folder = Path(folder)
    if shard is not None:
        parse_shard(f"{shard[0]}/{shard[1]}")
    everyone = students(folder)
    reports = Path(reports) if reports else folder / "_reports"
    reports.mkdir(parents=True, exist_ok=True)
    todo, skipped = [], []
    if shard:
        index, count = shard
        everyone = everyone[index::count]
    for student, path in everyone:
        if not regrade and report_path(reports, student).exists():
            skipped.append(student)
        else:
            todo.append((student, path))
    graded, errors = [], {}
    bar = _progress(progress, len(todo), f"grading {spec.name}")
    with bar as p:
        bar_task = p.add_task("grade", total=len(todo)) if p else None

        def done(student, error):
            if error:
                errors[student] = error
                out = report_path(reports, student).with_suffix(".error.txt")
                try:
                    if not out.exists():
                        write_atomic(out, error + "\n")
                except OSError:
                    pass  # the error is in the result (and the CLI's output) anyway
            else:
                graded.append(student)
            if p:
                p.advance(bar_task)

        run_isolated([(s, str(path), assignment, seed, max_examples, str(reports), allow_weaker_sandbox)
                      for s, path in todo],
                     task, jobs=jobs, memory_mb=max(int(memory_mb), spec.memory_mb + 2048), on_done=done)
    book = None
    if gradebook:
        book = write_gradebook(Path(gradebook), spec, reports, [s for s, _ in everyone])
    return BatchResult(sorted(graded), sorted(skipped), dict(sorted(errors.items())), book)


def spreadsheet_safe(value):
    """A CSV cell a spreadsheet shows as text: a leading =, +, -, @, tab or CR would start a formula."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def write_gradebook(path: Path, spec, reports: Path, roster: list[str]) -> Path:
    """One row per student: total, then one column per function; errors and missing reports noted."""
    header = ["student", "score", "max_score"] + [f.name for f in spec.functions] + ["status"]
    rows = []
    for student in sorted(roster):
        report = report_path(reports, student)
        error = report.with_suffix(".error.txt").exists()
        if report.exists():
            data = json.loads(report.read_text(encoding="utf-8"))
            per = {f["name"]: f["score"] for f in data["functions"]}
            rows.append([student, data["score"], data["max_score"]] + [per.get(f.name, 0) for f in spec.functions]
                        + ["error" if error else "graded"])
        else:
            from .scoring import _points

            rows.append([student, 0, _points(spec.max_score)] + [0] * len(spec.functions)
                        + ["error" if error else "missing"])
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent if str(path.parent) else ".")
    with os.fdopen(fd, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows([[spreadsheet_safe(cell) for cell in row] for row in rows])
    os.replace(tmp, path)
    return path


class _NoProgress:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


def _progress(enabled: bool, total: int, label: str):
    if not enabled:
        return _NoProgress()
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=Console(stderr=True), transient=False)
