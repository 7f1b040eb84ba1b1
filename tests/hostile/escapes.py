"""Tries to reach outside the worker: files by absolute path, the grader's process, the network, exec."""
import ctypes
import os
import socket


def write_absolute(path):
    with open(path, "w") as f:
        f.write("forged")
    return "wrote"


def write_own_directory(x):
    os.makedirs("scratch", exist_ok=True)
    with open("scratch/notes.txt", "w") as f:
        f.write("allowed")
    return sorted(os.listdir("."))


def signal_grader(x):
    os.kill(os.getppid(), 0)  # signal 0: only asks whether signalling is permitted
    return "can signal the grader"


def connect(port):
    with socket.create_connection(("127.0.0.1", port), timeout=1):
        return "connected"


def exec_shell(x):
    libc = ctypes.CDLL(None, use_errno=True)
    argv = (ctypes.c_char_p * 3)(b"/bin/sh", b"-c", None)
    libc.execv(b"/bin/sh", argv)
    raise OSError(ctypes.get_errno(), "execv failed")
