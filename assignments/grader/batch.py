"""Grade a folder of submissions (one file or subfolder per student) in parallel, resumably.

Parallelism is the standard library's ``concurrent.futures.ProcessPoolExecutor``: each task grades
one student (itself starting one sandbox worker). Each report is written atomically (a temporary
file in the same folder, then ``os.replace``), so an interrupted batch leaves only whole reports;
a rerun skips students whose report exists unless ``regrade=True``. The gradebook CSV is written at
the end from all the reports on disk. A submission that breaks the grader itself is recorded as an
error row with 0 points; it never stops the batch.

For a course of thousands: split the folder over machines (``--shard i/k`` takes every k-th student,
deterministically) and merge the report folders, or let Gradescope run one submission per container
(``convcheck gradescope-bundle``).
"""

from __future__ import annotations

import csv
import json
import multiprocessing
import os
import tempfile
import traceback
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

SUBMISSION_SUFFIXES = (".py", ".ipynb", ".zip")


@dataclass
class BatchResult:
    graded: list[str]
    skipped: list[str]
    errors: dict[str, str]
    gradebook: Path | None


def students(folder: Path) -> list[tuple[str, Path]]:
    """(student id, submission path) for every subfolder or submission file of ``folder``, sorted."""
    found = []
    for entry in sorted(Path(folder).iterdir()):
        if entry.name.startswith((".", "_")):
            continue
        if entry.is_dir() or entry.suffix.lower() in SUBMISSION_SUFFIXES:
            found.append((entry.stem if entry.is_file() else entry.name, entry))
    return found


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


def grade_one(student: str, path: str, assignment: str, seed, max_examples, reports: str) -> tuple[str, str | None]:
    """Grade one student and write their report; returns (student, error or None). Runs in a pool process."""
    from .grade import grade

    out = report_path(Path(reports), student)
    try:
        report = grade(path, assignment, seed=seed, max_examples=max_examples, name=student)
        data = report.to_dict()
        data["gradescope"] = report.to_gradescope()
        data["gradescope"]["execution_time"] = 0  # keep the stored report deterministic
        write_atomic(out, json.dumps(data, indent=2, ensure_ascii=False) + "\n")
        return student, None
    except Exception as exc:  # the grader failed on this submission: record it, go on with the others
        error = f"{type(exc).__name__}: {exc}"
        write_atomic(out.with_suffix(".error.txt"), error + "\n\n" + traceback.format_exc())
        return student, error


def grade_folder(folder, assignment: str = "layers", *, jobs: int = 2, reports=None, gradebook=None,
                 regrade: bool = False, seed=None, max_examples=None, shard: tuple[int, int] | None = None,
                 progress: bool = True) -> BatchResult:
    """Grade every submission under ``folder``; reports in ``reports`` (default ``folder/_reports``)."""
    from .spec import load_spec

    spec = load_spec(assignment)
    folder = Path(folder)
    reports = Path(reports) if reports else folder / "_reports"
    reports.mkdir(parents=True, exist_ok=True)
    todo, skipped = [], []
    everyone = students(folder)
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
        task = p.add_task("grade", total=len(todo)) if p else None
        if todo:
            # spawn, not fork: the parent may hold torch's thread pools and the sandbox's locks, which a
            # forked child would inherit mid-state (and deadlock on)
            context = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(max_workers=max(1, int(jobs)), mp_context=context) as pool:
                futures = [pool.submit(grade_one, s, str(path), assignment, seed, max_examples, str(reports))
                           for s, path in todo]
                for future in as_completed(futures):
                    try:
                        student, error = future.result()
                    except Exception as exc:  # a pool process died (killed from outside): note and go on
                        student, error = "?", f"{type(exc).__name__}: {exc}"
                    if error:
                        errors[student] = error
                    else:
                        graded.append(student)
                    if p:
                        p.advance(task)
    book = None
    if gradebook:
        book = write_gradebook(Path(gradebook), spec, reports, [s for s, _ in everyone])
    return BatchResult(sorted(graded), sorted(skipped), dict(sorted(errors.items())), book)


def write_gradebook(path: Path, spec, reports: Path, roster: list[str]) -> Path:
    """One row per student: total, then one column per function; errors and missing reports noted."""
    header = ["student", "score", "max_score"] + [f.name for f in spec.functions] + ["status"]
    rows = []
    for student in sorted(roster):
        report = report_path(reports, student)
        if report.exists():
            data = json.loads(report.read_text(encoding="utf-8"))
            per = {f["name"]: f["score"] for f in data["functions"]}
            rows.append([student, data["score"], data["max_score"]] + [per.get(f.name, 0) for f in spec.functions]
                        + ["graded"])
        else:
            status = "error" if report.with_suffix(".error.txt").exists() else "missing"
            rows.append([student, 0, spec.max_score] + [0] * len(spec.functions) + [status])
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent if str(path.parent) else ".")
    with os.fdopen(fd, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
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
