"""convcheck.assignments: course material and the autograder for untrusted student code.

``grade(submission, assignment="layers")`` grades a submission (.py, .ipynb, folder or .zip) in an
isolated worker; ``load_spec(name)`` reads an assignment spec (``assignments/specs/*.toml``).
"""

from .grader.spec import Assignment, SpecError, available_specs, load_spec

__all__ = ["grade", "GradeReport", "load_spec", "available_specs", "Assignment", "SpecError"]


def __getattr__(name):
    # grade pulls in the checks (Hypothesis, the reference); load it on first use only
    if name == "grade":
        from .grader import grade

        return grade
    if name == "GradeReport":
        from .grader.scoring import GradeReport

        return GradeReport
    raise AttributeError(name)
