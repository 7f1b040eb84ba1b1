"""Hypothesis settings profiles of convcheck, chosen by the ``CONVCHECK_PROFILE`` variable.

Hypothesis loads its own built-in ``ci`` profile whenever ``CI`` is set; :func:`load_profile` loads
ours explicitly so that a CI run is the one designed here, whatever the environment says.

| profile    | examples | derandomized | deadline | database       | for                         |
|------------|----------|--------------|----------|----------------|-----------------------------|
| dev        | 30       | no           | none     | local (.hypothesis) | a quick local run       |
| ci         | 25       | yes          | none     | none           | reproducible CI, ~minutes    |
| thorough   | 2000     | no           | none     | local          | before a release             |

``deadline=None`` everywhere: the first call of a torch op can take far longer than later ones,
and a timing flake is not a correctness signal (speed lives in ``benchmarks/``).
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

ENV_VAR = "CONVCHECK_PROFILE"
DEFAULT = "dev"
_SUPPRESS = [HealthCheck.too_slow, HealthCheck.data_too_large]

settings.register_profile("dev", max_examples=30, deadline=None, suppress_health_check=_SUPPRESS)
settings.register_profile(
    "ci", max_examples=25, deadline=None, derandomize=True, database=None,
    suppress_health_check=_SUPPRESS, print_blob=True,
)
settings.register_profile("thorough", max_examples=2000, deadline=None, suppress_health_check=_SUPPRESS)


def load_profile(name: str | None = None) -> str:
    """Load the named profile (default: ``$CONVCHECK_PROFILE``, else ``dev``) and return its name."""
    name = name or os.environ.get(ENV_VAR) or DEFAULT
    if name not in ("dev", "ci", "thorough"):
        raise ValueError(f"{ENV_VAR} must be dev, ci or thorough, got {name!r}")
    settings.load_profile(name)
    return name


def examples(base: int) -> int:
    """Scale an example count written for the ``dev`` profile to the loaded profile."""
    return max(1, round(base * settings().max_examples / 30))
