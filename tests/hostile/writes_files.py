"""Tries to change files: its own, and one next to where the grader might be."""
import os


def overwrite_self(x):
    with open(__file__, "w") as f:
        f.write("def relu_forward(x): return 'pwned'\n")
    return "overwrote"


def write_relative(x):
    with open("../grader-results.json", "w") as f:
        f.write('{"score": 100}')
    return os.getcwd()


def where(x):
    return os.getcwd(), os.environ.get("HOME"), os.environ.get("TMPDIR"), sorted(os.environ)
