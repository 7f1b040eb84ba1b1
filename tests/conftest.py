"""Project test configuration: load convcheck's Hypothesis profile (see checks/profiles.py)."""

from convcheck.checks.profiles import load_profile

load_profile()

import os
import tempfile

# Grading draws its seed from a per-course secret file (assignments/grader/secret.py): the tests use their
# own, never the developer's ~/.config/convcheck/grader-secret — a fixed one, so that the suite draws the
# same (secret-derived) cases on every run.
if "CONVCHECK_SECRET_FILE" not in os.environ:
    _secret = os.path.join(tempfile.mkdtemp(prefix="convcheck-test-secret-"), "grader-secret")
    with open(_secret, "wb") as _fh:
        _fh.write(b"convcheck test suite secret, not a course's".ljust(32, b"."))
    os.chmod(_secret, 0o600)
    os.environ["CONVCHECK_SECRET_FILE"] = _secret
