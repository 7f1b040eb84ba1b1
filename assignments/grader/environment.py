"""The worker's environment: an interpreter, its standard library, NumPy and the worker's code — nothing else.

The grader's own environment holds convcheck (the reference, the checks, the specs), torch and whatever else
the machine has; a worker started from it could read or import all of that. So the worker runs from a
separate, minimal tree made once per (Python, NumPy, worker code) and cached::

    ROOT/                              the environment (world-readable, owned by the grader)
      <its own path>  -> /             so that ROOT's host paths still resolve after chroot(ROOT)
      <sys.base_prefix>/bin/python3.X  the grader's interpreter, copied
      <sys.base_prefix>/lib/python3.X  its standard library (no site-packages, tests, IDLE, Tk)
      <each shared library's path>     the libraries the interpreter, lib-dynload and NumPy link against
      site-packages/numpy, numpy.libs  NumPy (the grader's own, or the version a spec names)
      worker/                          assignments/grader/worker/*.py
      work/                            one folder per running worker (0711: enterable, not listable)

Every file keeps its host path below ROOT, and ROOT holds a link from its own path to ``/``: the worker starts
from ROOT's interpreter on the host, then (as root) calls ``chroot(ROOT)``, and every path it already knows
still names the same file. Without root, Landlock confines its reads to ROOT and its work folder instead.

``worker_environment()`` returns the cached environment, building it on first use (about 180 MB, a few
seconds); ``CONVCHECK_CACHE`` chooses where (default ``/var/cache/convcheck`` for root, else
``~/.cache/convcheck``). Builds are atomic (a temporary folder renamed into place), so parallel graders agree.
Each use marks the environment used; after a build, :func:`prune_environments` removes the ones no grader
has used lately (a new convcheck or Python makes a new one: without pruning the cache only grows).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import stat
import subprocess
import sys
import sysconfig
import time
from dataclasses import dataclass
from pathlib import Path

WORKER_CODE = Path(__file__).parent / "worker"

#: Parts of the standard library a worker never needs (tests, IDLE, Tk, build files, installers).
_STDLIB_SKIP = {"site-packages", "test", "idlelib", "tkinter", "turtledemo", "ensurepip", "lib2to3",
                "dist-packages"}
_STDLIB_SKIP_PREFIX = ("config-",)
_BUILD_VERSION = "2"


class EnvironmentBuildError(RuntimeError):
    """The worker's environment could not be made (the grader refuses to grade rather than run without it)."""


@dataclass(frozen=True)
class WorkerEnvironment:
    root: Path          # the tree above; the worker's chroot when the grader is root
    python: Path        # the interpreter inside it (a host path below root)
    site: Path          # where NumPy is (PYTHONPATH of the worker)
    worker: Path        # the worker's main.py
    libraries: tuple    # folders of shared libraries (LD_LIBRARY_PATH of the worker)
    numpy_version: str

    @property
    def work(self) -> Path:
        return self.root / "work"


def cache_root() -> Path:
    configured = os.environ.get("CONVCHECK_CACHE")
    if configured:
        return Path(configured)
    if os.geteuid() == 0:
        return Path("/var/cache/convcheck")
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "convcheck"


def _numpy_location() -> tuple[Path, str]:
    import numpy

    return Path(numpy.__file__).resolve().parent, numpy.__version__


def _key(python: Path, numpy_dir: Path, numpy_version: str) -> str:
    h = hashlib.sha256()
    for part in (_BUILD_VERSION, str(python), sys.version, str(numpy_dir), numpy_version):
        h.update(part.encode() + b"\0")
    for f in sorted(WORKER_CODE.glob("*.py")):
        h.update(f.name.encode() + f.read_bytes())
    return h.hexdigest()[:16]


def worker_environment(numpy: str | None = None) -> WorkerEnvironment:
    """The cached environment for this interpreter, this worker code and NumPy: the grader's own, or, when
    ``numpy`` is a requirement the grader's does not meet (``"<2"``: a course whose students use NumPy 1.x),
    that NumPy, installed from the package registry once (``pip install --target``) and cached."""
    python = Path(os.path.realpath(getattr(sys, "_base_executable", None) or sys.executable))
    numpy_dir, numpy_version = _numpy_location()
    wanted = None
    if numpy and not _satisfies(numpy_version, numpy):
        wanted, numpy_dir, numpy_version = numpy, Path(f"numpy{numpy}"), numpy
    root = cache_root() / f"worker-{_key(python, numpy_dir, numpy_version)}"
    if not (root / ".complete").exists():
        _build(root, python, None if wanted else numpy_dir, wanted)
        prune_environments(keep=root)
    _mark_used(root)
    return _describe(root, python, (root / ".numpy").read_text())


#: After a build, cached environments are kept when they are among the KEEP_RECENT most recently used
#: (another install's, a spec's other NumPy) or were used in the last KEEP_SECONDS, or a worker runs in one.
KEEP_RECENT = 4
KEEP_SECONDS = 3600.0
#: a build that died (its temporary folder left behind) is removed after this long
STALE_BUILD_SECONDS = 86400.0


def _mark_used(root: Path):
    """The environment's last use is its ``.complete`` marker's mtime."""
    try:
        os.utime(root / ".complete")
    except OSError:
        pass


def prune_environments(keep: Path | None = None, *, now: float | None = None) -> list[Path]:
    """Remove the cached environments of the cache root that no grader used lately (see KEEP_RECENT,
    KEEP_SECONDS), never ``keep`` nor one a live worker runs in, and the folders of builds that died;
    returns the environments removed. Each is first renamed out of its place, so a grader that looks
    for it meanwhile builds it again rather than using half of it."""
    base = cache_root()
    now = time.time() if now is None else now
    found = []
    for root in base.glob("worker-*"):
        try:
            found.append(((root / ".complete").stat().st_mtime, root))
        except OSError:
            continue    # not a finished environment: not ours to judge
    found.sort(reverse=True)
    removed = []
    for rank, (used, root) in enumerate(found):
        if root == keep or rank < KEEP_RECENT or now - used < KEEP_SECONDS or _has_live_work(root):
            continue
        retired = base / f".{root.name}.{os.getpid()}.retired"
        try:
            os.rename(root, retired)
        except OSError:
            continue
        remove_tree(retired)
        removed.append(root)
    for leftover in [*base.glob(".worker-*.tmp"), *base.glob(".worker-*.retired")]:
        try:
            if now - leftover.stat().st_mtime > STALE_BUILD_SECONDS:
                remove_tree(leftover)
        except OSError:
            pass
    return removed


def _satisfies(version: str, requirement: str) -> bool:
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    try:
        return SpecifierSet(requirement).contains(version)
    except InvalidSpecifier:
        raise EnvironmentBuildError(f"numpy = {requirement!r} is not a version requirement (e.g. \"<2\", "
                                    "\"==1.26.4\")") from None


def _pip_numpy(site: Path, requirement: str):
    """Install NumPy matching ``requirement`` (a wheel, no dependencies) into ``site`` with the grader's pip."""
    cmd = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-deps",
           "--only-binary=:all:", "--target", str(site), f"numpy{requirement}"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["pip failed"]
        raise EnvironmentBuildError(f"the spec asks for NumPy {requirement}, which could not be installed from "
                                    f"the package registry ({tail[0]}); grade once where the registry is "
                                    "reachable (the environment is then cached), or change the spec")
    for extra in site.glob("*.dist-info"):
        shutil.rmtree(extra, ignore_errors=True)
    shutil.rmtree(site / "bin", ignore_errors=True)


def _describe(root: Path, python: Path, numpy_version: str) -> WorkerEnvironment:
    listed = [Path(line) for line in (root / ".libraries").read_text().splitlines() if line]
    folders = sorted({str(_inside(root, p.parent)) for p in listed})
    return WorkerEnvironment(root=root, python=Path((root / ".python").read_text()), site=root / "site-packages",
                             worker=root / "worker" / "main.py", libraries=tuple(folders),
                             numpy_version=numpy_version)


def _inside(root: Path, host_path: Path) -> Path:
    return root / str(host_path).lstrip("/")


def _build(root: Path, python: Path, numpy_dir: Path | None, requirement: str | None = None):
    root.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(root.parent, 0o755)
    tmp = root.parent / f".{root.name}.{os.getpid()}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        tmp.mkdir(mode=0o755)
        if sys.platform.startswith("linux"):
            stdlib = Path(sysconfig.get_paths()["stdlib"]).resolve()
            _copy_file(python, _inside(tmp, python))
            shutil.copytree(stdlib, _inside(tmp, stdlib), ignore=_skip_stdlib, symlinks=False)
            (tmp / ".python").write_text(str(_inside(root, python)))
        else:
            # No chroot or Landlock to keep a worker in (macOS: a student's self-check): the worker runs the
            # machine's interpreter, with -S and NumPy alone on its path, and says its reads are not confined.
            (tmp / ".python").write_text(str(python))
        site = tmp / "site-packages"
        site.mkdir()
        if requirement:
            _pip_numpy(site, requirement)
        else:
            shutil.copytree(numpy_dir, site / "numpy", ignore=shutil.ignore_patterns("tests", "testing/tests"))
            libs_dir = numpy_dir.parent / "numpy.libs"
            if libs_dir.is_dir():
                shutil.copytree(libs_dir, site / "numpy.libs")
        (tmp / ".numpy").write_text(_installed_numpy_version(site))
        shutil.copytree(WORKER_CODE, tmp / "worker", ignore=shutil.ignore_patterns("__pycache__", "__init__.py"))
        libraries = _shared_libraries([python, *tmp.rglob("*.so*")]) if sys.platform.startswith("linux") else set()
        for lib in libraries:
            target = _inside(tmp, lib)
            if not target.exists():
                _copy_file(lib, target)
        (tmp / ".libraries").write_text("\n".join(str(p) for p in sorted(libraries)) + "\n")
        # After chroot(root), root's own host path must lead back to root: a link from it to "/".
        link = _inside(tmp, root)
        link.parent.mkdir(parents=True, exist_ok=True)
        os.symlink("/", link)
        (tmp / "work").mkdir(mode=0o711)
        _world_readable(tmp)
        os.chmod(tmp / "work", 0o711)
        (tmp / ".complete").write_text("")
        try:
            os.rename(tmp, root)
        except OSError:
            if not (root / ".complete").exists():  # not a parallel build that won
                raise
    except EnvironmentBuildError:
        raise
    except Exception as exc:
        raise EnvironmentBuildError(f"could not make the worker's environment in {root}: {exc}") from exc
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _installed_numpy_version(site: Path) -> str:
    text = (site / "numpy" / "version.py").read_text() if (site / "numpy" / "version.py").exists() else ""
    m = re.search(r"""^(?:full_)?version\s*(?::\s*str)?\s*=\s*['"]([^'"]+)['"]""", text, re.M)
    return m.group(1) if m else "unknown"


def _skip_stdlib(folder, names):
    return [n for n in names if n in _STDLIB_SKIP or n.startswith(_STDLIB_SKIP_PREFIX)
            or n.startswith("_tkinter.")]


def _copy_file(source: Path, target: Path):
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(os.path.realpath(source), target)


_LDD_LINE = re.compile(r"(?:=>\s*)?(/\S+)\s+\(0x")


def _shared_libraries(files) -> set[Path]:
    """Every shared library (and the dynamic loader) the given ELF files need, as host paths: ``ldd``'s
    answer, both as named and as resolved, so that a lookup by either path finds the file."""
    found: set[Path] = set()
    for f in files:
        if not f.is_file() or f.is_symlink():
            continue
        try:
            out = subprocess.run(["ldd", str(f)], capture_output=True, text=True, timeout=30).stdout
        except (OSError, subprocess.SubprocessError):
            continue
        for line in out.splitlines():
            m = _LDD_LINE.search(line)
            if m and not m.group(1).startswith(str(f.parent)):
                path = Path(m.group(1))
                found.add(path)
                found.add(Path(os.path.realpath(path)))
    return {p for p in found if p.exists()}


def _world_readable(tree: Path):
    for folder, dirs, files in os.walk(tree):
        os.chmod(folder, 0o755)
        for name in files:
            p = os.path.join(folder, name)
            if not os.path.islink(p):
                mode = os.stat(p).st_mode
                os.chmod(p, 0o755 if mode & stat.S_IXUSR else 0o644)


def _grader_alive(name: str) -> bool | None:
    """For a work folder named ``convcheck-sandbox-<grader pid>-<token>``: whether that grader still runs
    (None: not a sandbox's folder)."""
    m = re.fullmatch(r"convcheck-sandbox-(\d+)-[0-9a-f]+", name)
    if not m:
        return None
    try:
        os.kill(int(m.group(1)), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True     # another user's live process
    return True


def _has_live_work(root: Path) -> bool:
    try:
        return any(_grader_alive(entry.name) for entry in os.scandir(root / "work"))
    except OSError:
        return False


def clear_stale_work(env: WorkerEnvironment):
    """Remove work folders left by graders that no longer run (killed with SIGKILL, a lost machine).
    A folder is named ``convcheck-sandbox-<grader pid>-<token>``; it is stale when that pid is gone."""
    try:
        entries = list(os.scandir(env.work))
    except OSError:
        return
    for entry in entries:
        if _grader_alive(entry.name) is False:
            remove_tree(Path(entry.path))


def remove_tree(path: Path):
    """rmtree that first undoes read-only modes a submission may have set on its own folders — inside the
    tree only: the folder holding it (the environment's ``work/``, 0711) is never touched."""
    top = os.path.abspath(path)

    def make_writable(func, p, exc_info):
        if isinstance(exc_info[1], FileNotFoundError):
            return
        try:
            parent = os.path.dirname(p)
            if os.path.abspath(parent).startswith(top):
                os.chmod(parent, 0o700)
            os.chmod(p, 0o700)
            func(p)
        except OSError:
            pass

    shutil.rmtree(path, onerror=make_writable)
