"""Writes into the grader's reply pipe directly (its number is on the worker's command line)."""
import os
import pickle
import struct
import sys


class Pwn:
    def __reduce__(self):
        return (eval, ("__import__('pathlib').Path('/tmp/convcheck-pwned-by-pickle').touch()",))


def write_garbage(x):
    os.write(int(sys.argv[2]), b"not a frame at all, just text\n" * 4)
    return x


def write_pickle(x):
    body = pickle.dumps(Pwn())
    os.write(int(sys.argv[2]), b"CCW1" + struct.pack(">Q", len(body)) + body)
    return x


def write_huge_length(x):
    os.write(int(sys.argv[2]), b"CCW1" + struct.pack(">Q", 2**60))
    return x


def fine(x):
    return x
