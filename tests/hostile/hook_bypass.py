"""Removes the import hook, then imports a forbidden module (the test forbids `wave`)."""
import sys


def bypass(x):
    sys.meta_path[:] = [f for f in sys.meta_path if "Forbidden" not in type(f).__name__]
    sys.modules.pop("wave", None)
    import wave
    return x
