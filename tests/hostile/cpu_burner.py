"""Burns CPU past RLIMIT_CPU (the wall-clock limit is set higher in the test)."""


def burn(x):
    n = 0
    while True:
        n += 1
