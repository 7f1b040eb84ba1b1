"""Ends the worker process while it is being loaded."""
import os

print("about to leave")


def affine_forward(x, w, b):
    return x @ w + b, None


os._exit(3)
