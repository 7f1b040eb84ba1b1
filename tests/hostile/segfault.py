"""Dereferences NULL in C."""
import ctypes


def crash(x):
    return ctypes.string_at(0)


def fine(x):
    return x - 1
