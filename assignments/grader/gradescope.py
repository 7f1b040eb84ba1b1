"""The Gradescope autograder bundle: ``setup.sh`` + ``run_autograder`` + the spec + convcheck's source.

Gradescope unzips the bundle into ``/autograder/source``, runs ``setup.sh`` once per image, and for
every submission runs ``run_autograder``, which must leave ``/autograder/results/results.json``.
Gradescope then runs one container per submission, which is how a course of thousands is graded.

``run_autograder`` reads two environment variables so that it can be tested outside Gradescope:
``CONVCHECK_AUTOGRADER_ROOT`` (default ``/autograder``) and ``CONVCHECK_BIN`` (default: the
``convcheck`` that ``setup.sh`` installed).
"""

from __future__ import annotations

import io
import stat
import zipfile
from pathlib import Path

#: What of the project goes into the bundle (when convcheck runs from a source checkout).
SOURCE_ITEMS = ("pyproject.toml", "constraints.txt", "README.md", "convcheck", "reference", "checks", "assignments")

SETUP_SH = """#!/usr/bin/env bash
# Gradescope runs this once when it builds the autograder image.
set -euo pipefail
cd "$(dirname "$0")"
apt-get update -qq >/dev/null 2>&1 || true
apt-get install -y -qq python3 python3-pip python3-venv >/dev/null 2>&1 || true
python3 -m venv /opt/convcheck
# CPU wheels of torch (about 200 MB; PyPI's default Linux torch is the multi-GB CUDA build): the grader
# needs torch as its oracle, never a GPU. {pin_note}
/opt/convcheck/bin/pip install --quiet --extra-index-url https://download.pytorch.org/whl/cpu {constraints}{install}
# Make the worker's minimal environment now (the interpreter, its standard library and the assignment's NumPy,
# nothing else), and print what this image enforces on a submission; grading refuses where it cannot confine.
/opt/convcheck/bin/convcheck grade --check-sandbox --assignment ./{spec_file} \
    || echo "WARNING: this image cannot confine the grader's worker; every grading will be refused (see above)"
"""

RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope runs this for every submission: grade {root}/submission into {root}/results/results.json.
set -uo pipefail
ROOT="${{CONVCHECK_AUTOGRADER_ROOT:-/autograder}}"
CONVCHECK="${{CONVCHECK_BIN:-/opt/convcheck/bin/convcheck}}"
SOURCE="$ROOT/source"
mkdir -p "$ROOT/results"
rm -f "$ROOT/results/results.json"
if ! "$CONVCHECK" grade "$ROOT/submission" --assignment "$SOURCE/{spec_file}" \\
        --format gradescope --out "$ROOT/results/results.json" 2>"$ROOT/results/grader-stderr.txt"; then
    # the grader itself failed: its own report (exit status 3) already says so; without one, say so here
    if [ ! -s "$ROOT/results/results.json" ]; then
        printf '%s\\n' '{{"score": 0, "output": "The autograder could not grade this submission; your instructor has been told. (convcheck grade failed; see grader-stderr.txt)", "tests": []}}' \\
            > "$ROOT/results/results.json"
    fi
fi
"""


def _setup_sh(install: str, include_source: bool, spec_file: str) -> str:
    """setup.sh installing with the project's constraints (the torch release CI is tested with): the
    bundled ``constraints.txt``, or, for ``--pip-spec``, the torch version building this bundle."""
    if include_source:
        return SETUP_SH.format(install=install, spec_file=spec_file, constraints="-c ./convcheck-src/constraints.txt ",
                               pin_note="Pinned by the project's constraints.txt.")
    from importlib.metadata import version as installed

    version = installed("torch").split("+")[0]  # the metadata, not an import of torch
    return SETUP_SH.format(install=f"{install} 'torch=={version}'", spec_file=spec_file, constraints="",
                           pin_note=f"Pinned to torch {version}, the version that built this bundle.")


def project_root() -> Path | None:
    """The source checkout convcheck runs from (an editable install), or None for an installed wheel."""
    import convcheck

    root = Path(convcheck.__file__).resolve().parent.parent
    return root if (root / "pyproject.toml").exists() and (root / "assignments").is_dir() else None


def _add(zf: zipfile.ZipFile, name: str, data: bytes, executable: bool = False) -> None:
    info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))  # fixed: the same bundle every time
    mode = 0o755 if executable else 0o644
    info.external_attr = (stat.S_IFREG | mode) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    zf.writestr(info, data)


def build_bundle(assignment: str, output, *, pip_spec: str | None = None) -> Path:
    """Write the autograder zip for ``assignment`` (a bundled spec name or a .toml path) to ``output``."""
    from .spec import load_spec

    spec = load_spec(assignment)
    spec_file = f"{spec.name}.toml"
    root = project_root()
    include_source = pip_spec is None and root is not None
    install = "./convcheck-src" if include_source else (pip_spec or "convcheck")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        _add(zf, "setup.sh", _setup_sh(install, include_source, spec_file).encode(), executable=True)
        _add(zf, "run_autograder", RUN_AUTOGRADER.format(root="/autograder", spec_file=spec_file).encode(),
             executable=True)
        _add(zf, spec_file, Path(spec.source).read_bytes())
        if include_source:
            for item in SOURCE_ITEMS:
                path = root / item
                files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file()) if path.exists() else []
                for f in files:
                    rel = f.relative_to(root)
                    if "__pycache__" in rel.parts or f.suffix in (".pyc", ".pyo") \
                            or any(part.startswith(".") for part in rel.parts):
                        continue
                    _add(zf, f"convcheck-src/{rel.as_posix()}", f.read_bytes())
    output = Path(output)
    output.write_bytes(buf.getvalue())
    return output
