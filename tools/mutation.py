"""Mutation score of ``reference/`` against the project's tests: ``make mutation`` (not part of ``make test``).

Each mutant (from :mod:`convcheck.mutation`) runs in a private copy of the package laid out as the
install maps it, so the working tree is never modified, even on Ctrl-C. Per mutant the torch-free
tests of its file run first and the torch ones only if those pass, each with ``-x`` and a timeout.
Results are appended to a JSON-lines file keyed by mutant ID, so an interrupted run resumes.

    python tools/mutation.py [FILE ...] [--per-file 60] [--seed 0] [--jobs 2] [--timeout 300]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from convcheck.mutation import Mutant, generate, sample, stale_equivalents  # noqa: E402

EDGES = "tests/test_reference_edges.py"
# per reference file: (torch-free tests, fastest first; tests that import torch)
PLAN = {
    "shapes.py": ([EDGES, "tests/test_shapes.py", "tests/test_metamorphic.py", "tests/test_gradients.py"],
                  ["tests/test_params.py", "tests/test_conv.py", "tests/test_pool.py"]),
    "params.py": ([EDGES], ["tests/test_params.py"]),
    "conv.py": ([EDGES, "tests/test_metamorphic.py", "tests/test_gradients.py"],
                ["tests/test_conv.py", "tests/test_pool.py", "tests/test_layers.py"]),
    "pool.py": ([EDGES, "tests/test_metamorphic.py", "tests/test_gradients.py"], ["tests/test_pool.py"]),
    "layers.py": ([EDGES, "tests/test_gradients.py"], ["tests/test_layers.py"]),
}
HELPERS = ["tests/conftest.py", "tests/_layer_helpers.py", "tests/_layer_strategies.py"]
EQUIVALENTS = ROOT / "tests" / "mutation_equivalents.toml"
RESULTS = ROOT / "build" / "mutation" / "results.jsonl"
# the install's package-dir mapping (pyproject.toml), rebuilt in each private copy
LAYOUT = {"convcheck": "convcheck", "convcheck/reference": "reference", "convcheck/checks": "checks",
          "convcheck/assignments": "assignments"}


def sha(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()[:12]


def load_equivalents(path: Path) -> dict[str, dict[str, str]]:
    if not path.exists():
        return {}
    with path.open("rb") as f:
        return tomllib.load(f)


class Workspace:
    """A private copy of the package and tests: mutants are written here, never into the tree."""

    def __init__(self, parent: Path, name: str, src: Path):
        self.root = parent / name
        ignore = shutil.ignore_patterns("__pycache__", ".hypothesis", "*.pyc")
        for dest, tree in LAYOUT.items():
            shutil.copytree(src / tree, self.root / dest, ignore=ignore, dirs_exist_ok=True)
        shutil.copytree(src / "tests", self.root / "tests", ignore=ignore)
        shutil.copy(src / "pyproject.toml", self.root / "pyproject.toml")
        self.env = {**os.environ, "PYTHONPATH": str(self.root), "PYTHONDONTWRITEBYTECODE": "1",
                    "CONVCHECK_PROFILE": "ci", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
                    "OPENBLAS_NUM_THREADS": "1"}

    def module(self, name: str) -> Path:
        return self.root / "convcheck" / "reference" / name

    def pytest(self, files, timeout, procs) -> tuple[str, str]:
        """Run pytest -x on ``files``; ('passed' | 'failed' | 'timeout', the first failure)."""
        files = [f for f in files if (self.root / f).exists()]
        if not files:
            return "passed", ""
        cmd = [sys.executable, "-m", "pytest", "-x", "-q", "--no-header", "-p", "no:cacheprovider",
               "-o", "addopts=", *files]
        proc = subprocess.Popen(cmd, cwd=self.root, env=self.env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, start_new_session=True)
        procs.add(proc)
        try:
            out, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            return "timeout", f"no result within {timeout}s"
        finally:
            procs.discard(proc)
        if proc.returncode == 0:
            return "passed", ""
        failed = re.findall(r"^(?:FAILED|ERROR) (\S+)", out, re.M)
        return "failed", failed[0] if failed else out.strip().splitlines()[-1][:200] if out.strip() else f"rc={proc.returncode}"


def run_mutant(ws: Workspace, name: str, mutant: Mutant, original: str, timeout: float, procs) -> dict:
    start = time.monotonic()
    path = ws.module(name)
    path.write_text(mutant.source)
    try:
        status, stage, detail = "survived", "", ""
        for stage, files in zip(("torch-free", "torch"), PLAN[name]):
            result, detail = ws.pytest(files, timeout, procs)
            if result != "passed":
                status = "killed" if result == "failed" else "timeout"
                break
        else:
            stage, detail = "", ""
    finally:
        path.write_text(original)
    return {"status": status, "stage": stage, "by": detail, "seconds": round(time.monotonic() - start, 1)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="*", default=list(PLAN), help=f"reference modules (default: {' '.join(PLAN)})")
    ap.add_argument("--per-file", type=int, default=60, help="mutants per file, spread over its functions (0: all)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=300, help="seconds per pytest run of one mutant")
    ap.add_argument("--results", type=Path, default=RESULTS)
    ap.add_argument("--fresh", action="store_true", help="ignore earlier results")
    ap.add_argument("--trust-killed", action="store_true",
                    help="reuse a killed result of the same mutant ID even if the module or its tests changed "
                         "since (right while tests only grow and the mutated statement is unchanged)")
    ap.add_argument("--rev", default=None,
                    help="measure a git revision's reference and tests (e.g. a 'before' figure) instead of the tree")
    ap.add_argument("--no-baseline", action="store_true", help="skip the run of the tests on the unmutated copy")
    ap.add_argument("--report", action="store_true", help="print the report of the results so far, run nothing")
    ap.add_argument("--ids", nargs="+", default=None, help="run only these mutant IDs (no sampling)")
    args = ap.parse_args(argv)
    names = [Path(f).name for f in args.files]
    for n in names:
        if n not in PLAN:
            ap.error(f"no test plan for {n}; known: {', '.join(PLAN)}")

    with tempfile.TemporaryDirectory(prefix="convcheck-mutation-") as tmp:
        src = ROOT
        if args.rev:
            src = Path(tmp) / "src"
            src.mkdir()
            archive = subprocess.run(["git", "-C", str(ROOT), "archive", args.rev, "reference", "checks",
                                      "assignments", "convcheck", "tests", "pyproject.toml"],
                                     capture_output=True, check=True).stdout
            subprocess.run(["tar", "-x", "-C", str(src)], input=archive, check=True)
        return run(args, names, src, Path(tmp))


def pick_order(mutants: list[Mutant], n: int, seed: int) -> list[Mutant]:
    """The first ``n`` of sample()'s picks, in the order picked: every prefix of the run is itself an
    even sample (``sample(k) ⊂ sample(k + 1)``), so a run cut short still measures every function."""
    order, seen = [], set()
    for k in range(1, min(n, len(mutants)) + 1):
        for m in sample(mutants, k, seed):
            if m.id not in seen:
                seen.add(m.id)
                order.append(m)
    return order


def run(args, names, src: Path, tmp: Path) -> int:
    equivalents = load_equivalents(EQUIVALENTS)   # IDs are stable, so the table applies to --rev too
    tests_sha = {n: sha("".join((src / f).read_text() for f in [*PLAN[n][0], *PLAN[n][1], *HELPERS]
                                if (src / f).exists())) for n in names}
    chosen: dict[str, list[Mutant]] = {}
    originals = {}
    for n in names:
        text = (src / "reference" / n).read_text()
        originals[n] = text
        table = equivalents.get(n, {})
        everything = generate(text, equivalents=table, filename=f"reference/{n}")
        for stale in stale_equivalents(everything, table):
            print(f"warning: {EQUIVALENTS.name} marks {n} {stale}, which no mutant has now", file=sys.stderr)
        if args.ids:
            chosen[n] = [m for m in everything if m.id in args.ids]
        else:
            chosen[n] = pick_order(everything, args.per_file or len(everything), args.seed)

    done: dict[tuple[str, str], dict] = {}
    if args.results.exists() and not args.fresh:
        for line in args.results.read_text().splitlines():
            r = json.loads(line)
            done[(r["file"], r["id"])] = r
    args.results.parent.mkdir(parents=True, exist_ok=True)

    def reusable(n, m):
        r = done.get((n, m.id))
        if r is None:
            return None
        if r["source_sha"] == sha(m.source) and r["tests_sha"] == tests_sha[n]:
            return r
        # the same ID is the same change of the same statement; more tests can only kill more
        return r if args.trust_killed and r["status"] in ("killed", "timeout") else None

    # files interleaved, each in pick order: a run cut short has measured every file evenly
    queues = [[(n, m) for m in chosen[n] if m.equivalent is None and reusable(n, m) is None] for n in names]
    todo = [q[i] for i in range(max(map(len, queues), default=0)) for q in queues if i < len(q)]
    if args.report:
        todo = []
    print(f"{sum(map(len, chosen.values()))} mutants sampled, {len(todo)} to run "
          f"({args.jobs} jobs, seed {args.seed}, {args.per_file or 'all'} per file)", flush=True)

    procs: set = set()
    lock = threading.Lock()
    stop = threading.Event()
    pool_ws = [Workspace(tmp, f"w{i}", src) for i in range(max(1, args.jobs))]
    check = subprocess.run([sys.executable, "-c", "import convcheck.reference as r; print(r.__file__)"],
                           cwd=pool_ws[0].root, env=pool_ws[0].env, capture_output=True, text=True)
    if not check.stdout.startswith(str(pool_ws[0].root)):
        print(f"the private copy is not what imports: {check.stdout or check.stderr}", file=sys.stderr)
        return 2
    free = list(pool_ws)
    if todo and not args.no_baseline:
        # every mutant counts as killed when the tests fail anyway: check the unmutated copy first
        for stage in zip(*(PLAN[n] for n in names)):
            files = list(dict.fromkeys(f for group in stage for f in group))
            result, detail = pool_ws[0].pytest(files, args.timeout * 2, procs)
            if result != "passed":
                print(f"the tests fail without any mutant ({detail}): fix them first", file=sys.stderr)
                return 2

    def job(n, m):
        if stop.is_set():
            return None
        with lock:
            ws = free.pop()
        try:
            return run_mutant(ws, n, m, originals[n], args.timeout, procs)
        finally:
            with lock:
                free.append(ws)

    ex = ThreadPoolExecutor(max_workers=len(pool_ws))
    try:
        with args.results.open("a") as out:
            futures = {ex.submit(job, n, m): (n, m) for n, m in todo}
            for i, fut in enumerate(as_completed(futures), 1):
                n, m = futures[fut]
                r = fut.result()
                if r is None:
                    continue
                r = {"file": n, "id": m.id, "source_sha": sha(m.source), "tests_sha": tests_sha[n], **r}
                done[(n, m.id)] = r
                out.write(json.dumps(r) + "\n")
                out.flush()
                print(f"[{i}/{len(todo)}] {n} {m.id} {r['status']} {r['by']} ({r['seconds']}s)", flush=True)
    except KeyboardInterrupt:
        stop.set()
        ex.shutdown(wait=False, cancel_futures=True)
        for p in list(procs):
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        print("\ninterrupted: results so far are kept; run again to resume", file=sys.stderr)
        return 130
    finally:
        ex.shutdown(wait=True)

    for n in names:   # the report lists them in source order
        chosen[n].sort(key=lambda m: (m.lineno, m.id))
    return report(names, chosen, reusable, args.results.with_name(args.results.stem + "-report.md"))


def report(names, chosen, reusable, path: Path) -> int:
    lines = ["| file | mutants | equivalent | killed | survived | score |", "|---|---|---|---|---|---|"]
    survivors_text = []
    for n in names:
        ms = chosen[n]
        eq = [m for m in ms if m.equivalent]
        results = {m.id: reusable(n, m) for m in ms if not m.equivalent}
        killed = [i for i, r in results.items() if r and r["status"] in ("killed", "timeout")]
        alive = [m for m in ms if not m.equivalent and results[m.id] and results[m.id]["status"] == "survived"]
        missing = [i for i, r in results.items() if r is None]
        denom = len(ms) - len(eq) - len(missing)
        score = f"{100 * len(killed) / denom:.1f} %" if denom else "-"
        lines.append(f"| {n} | {len(ms)} | {len(eq)} | {len(killed)} | {len(alive)} | {score}"
                     + (f" ({len(missing)} not run)" if missing else "") + " |")
        for m in alive:
            survivors_text.append(f"--- {n} {m.id} (line {m.lineno}, {m.operator}): {m.description}\n{m.diff}")
    text = "\n".join(lines)
    if survivors_text:
        print("\nSurvivors (add a test that fails on each, or mark it in tests/mutation_equivalents.toml):\n")
        print("\n".join(survivors_text))
    print("\nScore = killed / (mutants − equivalent); equivalent mutants are listed with reasons in "
          "tests/mutation_equivalents.toml\n")
    print(text)
    path.write_text(text + "\n\n" + "\n".join(survivors_text))
    return 0


if __name__ == "__main__":
    sys.exit(main())
