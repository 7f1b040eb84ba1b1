"""Hangs in a call; the other function is fine."""


def spin(x):
    while True:
        pass


def double(x):
    return x * 2
