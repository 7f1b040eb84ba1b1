"""The grader: runs untrusted submissions in a confined worker and scores them against a spec.

Parent side (this package): ``grade`` (one submission), ``batch`` (a class), ``spec``, ``scoring``,
``feedback``, ``gradescope``, ``conventions``, ``sandbox`` (starts and talks to the worker). The worker
itself lives in ``worker/``, a standalone tree (standard library + NumPy) that never imports convcheck.
"""

from .grade import GraderError, forbidden_uses, grade

__all__ = ["grade", "GraderError", "forbidden_uses"]
