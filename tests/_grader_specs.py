"""The ``layers`` spec as it was before issue 14: its first 8 functions (affine, ReLU, naive conv and max
pool), for the grader's tests whose fixtures (tests/submissions/layers/correct, mutants, hostile, tricks)
define only those. The bundled ``layers`` now grades the whole cs231n file (21 functions); the 13 new
ones are tested in test_grader_full_layers.py. Written once per session from the bundled spec, cut
before its "losses" section, so that it never drifts from it."""

from __future__ import annotations

import tempfile
from pathlib import Path

from convcheck.assignments.grader.spec import SPECS_DIR

MARKER = "\n# --- losses"


def _cut(name: str) -> str:
    text = (SPECS_DIR / f"{name}.toml").read_text(encoding="utf-8")
    assert MARKER in text, f"{name}.toml has no {MARKER.strip()!r} section to cut at"
    folder = Path(tempfile.mkdtemp(prefix="convcheck-spec-"))
    path = folder / f"{name}.toml"
    path.write_text(text[:text.index(MARKER)] + "\n", encoding="utf-8")
    return str(path)


LAYERS8 = _cut("layers")
LAYERS8_CS231N = _cut("layers-cs231n")
