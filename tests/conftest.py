"""Project test configuration: load convcheck's Hypothesis profile (see checks/profiles.py)."""

from convcheck.checks.profiles import load_profile

load_profile()

import os
import tempfile

# Grading draws its seed from a per-course secret file (assignments/grader/secret.py): the tests use their
# own, never the developer's ~/.config/convcheck/grader-secret.
os.environ.setdefault("CONVCHECK_SECRET_FILE",
                      os.path.join(tempfile.mkdtemp(prefix="convcheck-test-secret-"), "grader-secret"))
