"""The grading seed: drawn from a per-course secret, so that no one can record the graded cases offline.

The spec's seed is public (it is in the spec, and the strategies are in convcheck), so a student who
grades against it can record every case with the reference and submit a lookup table. By default the
seed of a grading is therefore ``HMAC-SHA256(secret, assignment + submission bytes)``: unknown without
the secret, the same for the same submission (a regrade is byte-identical), different for a changed
submission (a resubmission sees other cases). The secret is 32 random bytes in a file created on first
use with mode 0600:

* ``$CONVCHECK_SECRET_FILE`` when set (a course shares one file between its grading machines);
* otherwise ``$XDG_CONFIG_HOME/convcheck/grader-secret`` (``~/.config/convcheck/grader-secret``).

When the file cannot be created (a read-only home), the seed comes from ``os.urandom`` instead: still
secret, still recorded. Every report records its seed (JSON report, Gradescope's ``extra_data``), never
in the text a student reads; ``convcheck grade --seed N`` replays it. ``--practice`` grades with the
spec's public seed (self-checks, practice runs).
"""

from __future__ import annotations

import hashlib
import hmac
import os
from pathlib import Path

SECRET_BYTES = 32


def secret_file() -> Path:
    """Where the course secret lives (see the module docstring)."""
    explicit = os.environ.get("CONVCHECK_SECRET_FILE")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "convcheck" / "grader-secret"


def course_secret() -> bytes | None:
    """The secret's bytes, creating the file on first use; None when it can be neither read nor made."""
    path = secret_file()
    try:
        data = path.read_bytes()
        if len(data) >= 16:
            return data
    except OSError:
        pass
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another grading process made it first (or it is too short: then it is not ours)
        try:
            data = path.read_bytes()
        except OSError:
            return None
        return data if len(data) >= 16 else None
    except OSError:
        return None
    with os.fdopen(fd, "wb") as fh:
        fh.write(os.urandom(SECRET_BYTES))
    return path.read_bytes()


def submission_digest(files: dict[str, bytes] | None, fallback: str = "") -> bytes:
    """A digest of the submission's files (names and bytes, in sorted order)."""
    h = hashlib.sha256()
    for name in sorted(files or {}):
        h.update(name.encode("utf-8", "surrogateescape") + b"\0")
        h.update(hashlib.sha256(files[name]).digest())
    if not files:
        h.update(fallback.encode("utf-8", "surrogateescape"))
    return h.digest()


def grading_seed(assignment: str, files: dict[str, bytes] | None, fallback: str = "") -> int:
    """The seed of one grading: a 32-bit HMAC of the assignment and the submission under the secret."""
    secret = course_secret()
    if secret is None:
        return int.from_bytes(os.urandom(4), "big")
    mac = hmac.new(secret, assignment.encode() + b"\0" + submission_digest(files, fallback), hashlib.sha256)
    return int.from_bytes(mac.digest()[:4], "big")
