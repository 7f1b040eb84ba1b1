"""Allocates until the memory limit stops it."""
import numpy as np


def hog_arrays(x):
    blocks = []
    while True:
        block = np.empty(2**24)  # 128 MiB each
        block[::4096] = 1.0  # touch a little of every block, as real code would
        blocks.append(block)


def hog_list(x):
    return [x] * 10**11


def fine(x):
    return x + 1
