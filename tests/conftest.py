"""Project test configuration: load convcheck's Hypothesis profile (see checks/profiles.py)."""

from convcheck.checks.profiles import load_profile

load_profile()
