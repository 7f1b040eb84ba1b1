"""Turn a submission on disk (.py, .ipynb, a folder or a .zip of those) into the code cells the worker runs.

Nothing here executes student code: it reads files, picks the submission file, strips IPython magics
and checks syntax. A ``.py`` is one cell; a notebook gives one cell per code cell, in order.
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

#: Bounds on what a submission may bring along (a zip bomb or a stray dataset is refused, not copied).
MAX_FILE_BYTES = 20 * 2**20
MAX_TOTAL_BYTES = 50 * 2**20
MAX_FILES = 500
#: Longest file name (one path component, in UTF-8 bytes) and path a submission may hold (Linux's limits).
MAX_NAME_BYTES = 255
MAX_PATH_BYTES = 1024

#: Cell magics whose body is still Python (the magic line is dropped); any other cell magic skips the cell.
PYTHON_CELL_MAGICS = {"time", "timeit", "capture", "prun", "debug"}

_SKIPPED_PARTS = {"__pycache__", "__MACOSX", ".ipynb_checkpoints", ".git"}
_MAGIC_LINE = re.compile(r"^(\s*)(?:[%!]|[\w.,\s\[\]]+=\s*[%!])")


class SubmissionFormatError(ValueError):
    """The submission cannot be read: no code file, several candidates, a bad zip or notebook."""


@dataclass
class Cell:
    """One unit of code run in order: a whole ``.py`` or one notebook code cell.

    ``filename`` is what tracebacks and messages call it (``layers.py``, ``layers.ipynb [cell 3]``).
    ``error`` is set when the cell cannot run at all (a syntax error); the worker then skips it.
    """

    source: str
    filename: str
    error: str | None = None


@dataclass
class SubmissionSource:
    """The code of one submission, ready for the worker.

    ``files``: relative path -> bytes of every file of the submission (copied, read-only, into the
    worker's working directory, so helper modules and data files are there). ``notes``: what the loader
    changed (stripped magics, skipped cells).
    """

    name: str
    kind: str  # "py" | "ipynb"
    cells: list[Cell]
    files: dict[str, bytes] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def module_name(self) -> str:
        """The name the submission's module gets in the worker (``layers`` for ``layers.py``)."""
        stem = PurePosixPath(self.name).stem
        return stem if stem.isidentifier() else "submission"

    @property
    def errors(self) -> list[str]:
        return [c.error for c in self.cells if c.error]

    @property
    def source(self) -> str:
        """All the code, cells joined (for the static import scan of the whole submission)."""
        return "\n".join(c.source for c in self.cells)


def from_text(text: str, name: str = "submission.py") -> SubmissionSource:
    """A submission given as text (``name`` ending in .py or .ipynb says how to read it)."""
    data = text.encode()
    return _from_file_bytes(name, data, {name: data})


def load_submission_source(path, *, prefer=()) -> SubmissionSource:
    """Read the submission at ``path``: a ``.py``, a ``.ipynb``, or a folder / ``.zip`` holding one.

    In a folder or zip (Gradescope's layout) the single ``.py``/``.ipynb`` is the submission; when there
    are several, the one whose name or stem is in ``prefer`` (e.g. ``("layers",)``) is. Other files come
    along in ``files``. Raises ``SubmissionFormatError`` when no single submission file can be chosen.
    """
    path = Path(path)
    if not path.exists():
        raise SubmissionFormatError(f"{path}: no such file or folder")
    if path.is_dir():
        files = _folder_files(path)
    elif path.suffix.lower() == ".zip":
        files = _zip_files(path)
    elif path.suffix.lower() in (".py", ".ipynb"):
        data = path.read_bytes()
        if len(data) > MAX_FILE_BYTES:
            raise SubmissionFormatError(f"{path.name} is larger than {MAX_FILE_BYTES // 2**20} MiB")
        return _from_file_bytes(path.name, data, {path.name: data})
    else:
        raise SubmissionFormatError(f"{path.name}: expected a .py, .ipynb, folder or .zip")
    _check_paths(files, path.name)
    chosen = _choose(files, prefer, path.name)
    return _from_file_bytes(chosen, files[chosen], files)


def _check_paths(files: dict[str, bytes], where: str) -> None:
    """Refuse names the worker's folder cannot hold: too long, or a file that is also a folder."""
    for rel in files:
        encoded = rel.encode("utf-8", "surrogateescape")
        if len(encoded) > MAX_PATH_BYTES:
            raise SubmissionFormatError(f"{where}: a path of {len(encoded)} bytes (the limit is {MAX_PATH_BYTES})")
        for part in PurePosixPath(rel).parts:
            if len(part.encode("utf-8", "surrogateescape")) > MAX_NAME_BYTES:
                raise SubmissionFormatError(f"{where}: a file name longer than {MAX_NAME_BYTES} bytes "
                                            f"({part[:40]}…)")
        if "\0" in rel:
            raise SubmissionFormatError(f"{where}: a file name with a NUL byte")
    names = set(files)
    for rel in files:
        for parent in PurePosixPath(rel).parents:
            if str(parent) in names:
                raise SubmissionFormatError(f"{where}: {str(parent)!r} is both a file and the folder of {rel!r}")


def _choose(files: dict[str, bytes], prefer, where: str) -> str:
    candidates = sorted(p for p in files if p.lower().endswith((".py", ".ipynb")))
    if not candidates:
        raise SubmissionFormatError(f"{where}: no .py or .ipynb file in the submission")
    if len(candidates) == 1:
        return candidates[0]
    prefer = set(prefer)
    named = [p for p in candidates
             if PurePosixPath(p).name in prefer or PurePosixPath(p).stem in prefer]
    if len(named) == 1:
        return named[0]
    # A notebook next to the .py exported from it: the .py is what the student ran last.
    pys = [p for p in (named or candidates) if p.endswith(".py")]
    top = [p for p in pys if "/" not in p]
    if len(top) == 1 and (named or len(pys) == 1):
        return top[0]
    raise SubmissionFormatError(
        f"{where}: several candidate files ({', '.join(candidates)}); name one of them after the assignment"
        + (f" ({', '.join(sorted(prefer))})" if prefer else ""))


def _keep(rel: PurePosixPath) -> bool:
    return not any(part in _SKIPPED_PARTS or part.startswith(".") for part in rel.parts) \
        and not rel.name.startswith("._")


def _folder_files(folder: Path) -> dict[str, bytes]:
    files, total = {}, 0
    for p in sorted(folder.rglob("*")):
        rel = PurePosixPath(p.relative_to(folder).as_posix())
        if p.is_symlink() or not p.is_file() or not _keep(rel):
            continue
        size = p.stat().st_size
        total += size
        if size > MAX_FILE_BYTES or total > MAX_TOTAL_BYTES or len(files) >= MAX_FILES:
            raise SubmissionFormatError(f"{folder}: submission too large (limit {MAX_TOTAL_BYTES // 2**20} MiB, "
                                        f"{MAX_FILES} files, {MAX_FILE_BYTES // 2**20} MiB each)")
        files[str(rel)] = p.read_bytes()
    return files


def _zip_files(path: Path) -> dict[str, bytes]:
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as e:
        raise SubmissionFormatError(f"{path.name}: not a readable zip ({e})") from None
    files, total = {}, 0
    with zf:
        try:
            infos = zf.infolist()
        except Exception as e:  # noqa: BLE001 - a damaged central directory
            raise SubmissionFormatError(f"{path.name}: not a readable zip ({type(e).__name__})") from None
        for info in infos:
            rel = PurePosixPath(info.filename)
            # Absolute names and '..' would write outside the working directory; they are never extracted.
            if info.is_dir() or rel.is_absolute() or ".." in rel.parts or not _keep(rel):
                continue
            total += info.file_size
            if info.file_size > MAX_FILE_BYTES or total > MAX_TOTAL_BYTES or len(files) >= MAX_FILES:
                raise SubmissionFormatError(f"{path.name}: submission too large")
            if str(rel) in files:
                raise SubmissionFormatError(f"{path.name}: {info.filename} is in the zip twice")
            try:
                with zf.open(info) as f:
                    data = f.read(MAX_FILE_BYTES + 1)  # the header's size can lie; never read past the bound
            except (zipfile.BadZipFile, NotImplementedError, RuntimeError, OSError, EOFError, ValueError) as e:
                raise SubmissionFormatError(f"{path.name}: {info.filename[:100]} cannot be extracted "
                                            f"({type(e).__name__}: {str(e)[:100]})") from None
            if len(data) > MAX_FILE_BYTES:
                raise SubmissionFormatError(f"{path.name}: {info.filename} is too large")
            files[str(rel)] = data
    # A zip of a folder: strip the common top folder so the files sit at the working directory's root.
    tops = {PurePosixPath(p).parts[0] for p in files}
    if len(tops) == 1 and all(len(PurePosixPath(p).parts) > 1 for p in files):
        files = {str(PurePosixPath(*PurePosixPath(p).parts[1:])): d for p, d in files.items()}
    return files


def _from_file_bytes(name: str, data: bytes, files: dict[str, bytes]) -> SubmissionSource:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise SubmissionFormatError(f"{name} is not UTF-8 text ({e})") from None
    if name.lower().endswith(".ipynb"):
        return _notebook(name, text, files)
    cell = Cell(text, name)
    cell.error = syntax_error(text, name)
    if cell.error and cell.error.startswith(_UNCOMPILABLE):
        cell.source = ""
    return SubmissionSource(name=name, kind="py", cells=[cell], files=files)


def _notebook(name: str, text: str, files: dict[str, bytes]) -> SubmissionSource:
    import nbformat

    try:
        import warnings

        with warnings.catch_warnings():  # a student's notebook format is the report's business, not stderr's
            warnings.simplefilter("ignore")
            nb = nbformat.reads(text, as_version=4)
    except Exception as e:  # nbformat raises several unrelated types for a broken file
        raise SubmissionFormatError(f"{name} is not a readable notebook ({type(e).__name__}: {e})") from None
    src = SubmissionSource(name=name, kind="ipynb", cells=[], files=files)
    cells = nb.get("cells") if isinstance(nb, dict) else None
    if not isinstance(cells, list):
        raise SubmissionFormatError(f"{name} is not a readable notebook (it has no list of cells)")
    for index, cell in enumerate(cells, 1):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        source = cell.get("source")
        if isinstance(source, list) and all(isinstance(line, str) for line in source):
            source = "".join(source)
        if not isinstance(source, str):
            label = f"{name} [cell {index}]"
            what = "no source" if source is None else f"a source that is {type(source).__name__}, not text"
            src.cells.append(Cell("", label, f"{label} has {what}; the cell was not run"))
            continue
        label = cell_label(name, index, source)
        source, students = without_template_lines(source)
        if not students:
            continue  # the template's own set-up / self-check: not the student's code, not run, no warning
        code, note = strip_magics(source)
        if note:
            src.notes.append(f"{label}: {note}")
        if code is None:
            continue
        c = Cell(code, label)
        c.error = syntax_error(code, label)
        if c.error and c.error.startswith(_UNCOMPILABLE):
            c.source = ""  # nothing downstream (the import scan, the worker) parses it again
        src.cells.append(c)
    return src


#: Lines the notebook template (assignments/notebooks.py) adds itself: the set-up's import of the self-check
#: helper and the self-check calls. The grader grades the student's functions, not these: the lines are
#: blanked (line numbers kept) in every cell, and a cell left with nothing else is not run.
_TEMPLATE_LINES = (re.compile(r"^\s*from convcheck\.assignments\.notebooks import self_check_cell\s*$"),
                   re.compile(r"^\s*self_check_cell\((?:[^()]|\([^()]*\))*\)\s*$"))
_TRIVIAL = re.compile(r"^\s*$")


def without_template_lines(source: str) -> tuple[str, bool]:
    """``source`` with the template's own lines blanked, and whether anything of the student's is left."""
    lines = source.splitlines()
    changed = False
    for i, line in enumerate(lines):
        if any(p.match(line) for p in _TEMPLATE_LINES):
            lines[i], changed = "", True
    if not changed:
        return source, True
    rest = "\n".join(lines)
    return rest, not all(_TRIVIAL.match(line) for line in lines)


def cell_label(name: str, index: int, source: str) -> str:
    """How messages name a notebook cell: as Jupyter shows it, its place among all cells and first line."""
    first = next((line.strip() for line in source.splitlines() if line.strip()), "")
    if len(first) > 60:
        first = first[:57] + "..."
    return f"{name} [cell {index}: {first}]" if first else f"{name} [cell {index}]"


def strip_magics(code: str) -> tuple[str | None, str | None]:
    """``code`` with IPython magics and shell lines replaced by ``pass``, and a note of what changed.

    Returns ``(None, note)`` for a cell whose cell magic is not Python (``%%bash``, ``%%writefile``).
    Lines keep their numbers so messages point at the notebook's lines. Code that already compiles is
    left alone (a line starting with ``%`` inside a string is then not touched).
    """
    lines = code.splitlines()
    if lines and lines[0].lstrip().startswith("%%"):
        magic = lines[0].lstrip()[2:].split(maxsplit=1)[0] if lines[0].strip() != "%%" else ""
        if magic not in PYTHON_CELL_MAGICS:
            return None, f"skipped (cell magic %%{magic} is not Python)"
        lines[0] = "pass"
        stripped = 1
    else:
        try:
            compile(code, "<cell>", "exec")
            return code, None
        except (SyntaxError, ValueError, MemoryError, RecursionError):
            stripped = 0
    for i, line in enumerate(lines):
        m = _MAGIC_LINE.match(line)
        if m:
            lines[i] = m.group(1) + "pass"
            stripped += 1
    if not stripped:
        return code, None
    return "\n".join(lines), f"removed {stripped} IPython magic/shell line{'s' if stripped > 1 else ''}"


_UNCOMPILABLE = "SyntaxError: the code cannot be compiled"


def syntax_error(code: str, filename: str) -> str | None:
    """``None`` if ``code`` compiles, else ``"SyntaxError: msg (file, line n)"`` with the offending line."""
    try:
        compile(code, filename, "exec", dont_inherit=True)
        return None
    except (MemoryError, RecursionError) as e:
        return (f"{_UNCOMPILABLE} ({filename}): it is nested too deeply or too long to compile "
                f"({type(e).__name__}); split the expression")
    except SyntaxError as e:
        where = f"{e.filename or filename}, line {e.lineno}"
        text = (e.text or "").rstrip()
        return f"{type(e).__name__}: {e.msg} ({where})" + (f"\n    {text.strip()}" if text else "")
    except ValueError as e:  # e.g. null bytes
        return f"SyntaxError: {e} ({filename})"


__all__ = ["Cell", "SubmissionSource", "SubmissionFormatError", "load_submission_source", "from_text",
           "strip_magics", "syntax_error"]
