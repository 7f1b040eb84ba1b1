"""Returns values that would run code in the grader if it unpickled them."""
import os

import numpy as np


class Pwn:
    def __reduce__(self):
        return (os.system, ("touch /tmp/convcheck-pwned-by-return",))


class FakeArray(np.ndarray):
    def __reduce__(self):
        return (os.system, ("touch /tmp/convcheck-pwned-by-return",))


def returns_object(x):
    return Pwn()


def returns_object_array(x):
    a = np.empty(2, dtype=object)
    a[0] = Pwn()
    return a


def returns_in_tuple(x):
    return x, {"cache": Pwn()}


def returns_subclass(x):
    return np.zeros(3).view(FakeArray)


def returns_huge(x):
    return np.zeros(2**24)  # 128 MiB, over the test's return limit


def returns_deep(x):
    v = []
    for _ in range(10000):
        v = [v]
    return v
