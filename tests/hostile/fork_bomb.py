"""Tries every way it knows to start processes that outlive the grader."""
import ctypes
import os
import subprocess
import threading
import time


def attempts(x):
    results = {}
    try:
        pid = os.fork()
        if pid == 0:
            time.sleep(1000)
        results["os.fork"] = f"child {pid}"
    except Exception as e:
        results["os.fork"] = f"refused: {type(e).__name__}: {e}"
    try:
        p = subprocess.Popen(["sleep", "1000"], start_new_session=True)
        results["subprocess"] = f"child {p.pid}"
    except Exception as e:
        results["subprocess"] = f"refused: {type(e).__name__}: {e}"
    libc = ctypes.CDLL(None, use_errno=True)
    pid = libc.fork()
    if pid == 0:
        libc.setsid()
        libc.sleep(1000)
        libc._exit(0)
    results["libc.fork"] = f"child {pid}" if pid > 0 else f"refused: errno {ctypes.get_errno()}"
    try:
        t = threading.Thread(target=time.sleep, args=(1000,), daemon=True)
        t.start()
        results["thread"] = "started"
    except Exception as e:
        results["thread"] = f"refused: {type(e).__name__}: {e}"
    try:
        import resource
        resource.setrlimit(resource.RLIMIT_NPROC, (10000, 10000))
        results["raise_nproc"] = "raised"
    except Exception as e:
        results["raise_nproc"] = f"refused: {type(e).__name__}"
    return results


def bomb(x):
    while True:
        os.fork()
