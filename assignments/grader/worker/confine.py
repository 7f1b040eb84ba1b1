"""Confinement of the worker, applied by the worker to itself before any submission code runs.

Standard library only (ctypes for the system calls Python does not wrap). Each protection is a layer that
assumes the others failed; ``confine`` returns what was applied, one entry per promise, so the grader can
put it in the report and refuse to grade where a required promise is not kept:

``reads``      chroot into the worker's environment (root), and/or Landlock's read rules (Linux 5.13+):
               the interpreter, the standard library, NumPy, the worker's code and its own work folder.
``writes``     only the work folder (the chroot has nothing else writable by the worker's uid; Landlock).
``network``    a seccomp filter refuses ``socket``/``socketpair``/io_uring for every family (TCP, UDP, Unix,
               raw, netlink); as root also a fresh, empty network namespace where the kernel allows it.
``processes``  no fork, thread or exec: RLIMIT_NPROC=1 under a uid of its own, and seccomp refuses
               ``execve``; ``ptrace``/``process_vm_*`` refused; signals only to itself.
``others``     other processes are invisible: no ``/proc`` inside the chroot.
``uid``        as root: a uid no other process has (1e9 + pid), no capabilities, never filesystem uid 0.
``limits``     rlimits on memory, CPU, file size, core dumps.
"""

from __future__ import annotations

import ctypes
import os
import resource
import struct

LINUX = os.uname().sysname == "Linux"
libc = ctypes.CDLL(None, use_errno=True)
if LINUX:
    libc.syscall.restype = ctypes.c_long

PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP, PR_CAPBSET_DROP, PR_SET_PDEATHSIG = 38, 22, 24, 1
SECCOMP_MODE_FILTER = 2
CLONE_NEWNET = 0x40000000

# ---------------------------------------------------------------------------------------------- rlimits


def set_limits(limits: dict):
    """rlimits first, so nothing the submission does can outgrow them (on Linux each must hold; elsewhere,
    a self-check on a student's machine, what the system refuses is left out)."""
    mb = 2**20
    cpu = int(limits["cpu_seconds"])
    nofile = int(limits.get("open_files", 64))
    for which, value in ((resource.RLIMIT_CORE, 0), (resource.RLIMIT_AS, limits["memory_mb"] * mb),
                         (resource.RLIMIT_CPU, cpu), (resource.RLIMIT_FSIZE, limits["file_mb"] * mb),
                         # per user: under a uid of its own (or beside the grader) 1 refuses every fork and thread
                         (resource.RLIMIT_NPROC, 1), (resource.RLIMIT_NOFILE, nofile)):
        try:
            resource.setrlimit(which, (value, value + 1 if which == resource.RLIMIT_CPU else value))
        except (ValueError, OSError):
            if LINUX:
                raise


# ---------------------------------------------------------------------------------------------- root


def enter_chroot(root: str, workdir: str) -> bool:
    """As root: make ``root`` the worker's ``/`` (its paths still resolve: see environment.py)."""
    try:
        os.chroot(root)
    except OSError:
        return False
    os.chdir(workdir)
    return True


def leave_network() -> bool:
    """As root: a new network namespace with no interface but a down loopback (needs CAP_SYS_ADMIN)."""
    return libc.unshare(CLONE_NEWNET) == 0


def drop_root(workdir: str) -> int:
    """Become a uid no other process has (1e9 + pid), owning its work folder, with no capabilities.

    The kernel never applies RLIMIT_NPROC to uid 0, and root could lift its limits, leave the chroot, or
    signal and trace the grader. Filesystem access happens as that uid too: the environment is
    world-readable, everything else of the machine is whatever its permissions say to a stranger.
    """
    for cap in range(64):
        libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)  # fails past the last capability; harmless
    uid = 1_000_000_000 + os.getpid()
    os.setgroups([])
    os.chown(workdir, uid, uid)
    for folder, dirs, files in os.walk(workdir):
        for name in dirs + files:
            os.chown(os.path.join(folder, name), uid, uid, follow_symlinks=False)
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)  # clears every capability (no KEEPCAPS)
    if os.geteuid() == 0 or libc.setfsuid(-1) != uid:
        raise OSError("could not leave uid 0")
    return uid


# ---------------------------------------------------------------------------------------------- landlock

_FS_EXECUTE, _FS_WRITE_FILE, _FS_READ_FILE, _FS_READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
_FS_REMOVE_DIR, _FS_REMOVE_FILE, _FS_MAKE_CHAR, _FS_MAKE_DIR, _FS_MAKE_REG = 1 << 4, 1 << 5, 1 << 6, 1 << 7, 1 << 8
_FS_MAKE_SOCK, _FS_MAKE_FIFO, _FS_MAKE_BLOCK, _FS_MAKE_SYM = 1 << 9, 1 << 10, 1 << 11, 1 << 12
_FS_REFER, _FS_TRUNCATE, _FS_IOCTL_DEV = 1 << 13, 1 << 14, 1 << 15


def landlock_abi() -> int:
    if not LINUX:
        return 0
    return libc.syscall(ctypes.c_long(444), None, ctypes.c_size_t(0), ctypes.c_uint32(1))


def landlock(readable: list[str], writable: str) -> str | None:
    """Landlock: read only beneath ``readable`` and ``writable``, write (files and folders) only beneath
    ``writable``, exec nothing; TCP bind/connect refused (ABI 4+); abstract Unix sockets and signals to
    processes outside this one refused (ABI 6+). Returns a description, or None without Landlock."""
    abi = landlock_abi()
    if abi < 1:
        return None
    handled = (_FS_EXECUTE | _FS_WRITE_FILE | _FS_READ_FILE | _FS_READ_DIR | _FS_REMOVE_DIR | _FS_REMOVE_FILE
               | _FS_MAKE_CHAR | _FS_MAKE_DIR | _FS_MAKE_REG | _FS_MAKE_SOCK | _FS_MAKE_FIFO | _FS_MAKE_BLOCK
               | _FS_MAKE_SYM | (_FS_REFER if abi >= 2 else 0) | (_FS_TRUNCATE if abi >= 3 else 0)
               | (_FS_IOCTL_DEV if abi >= 5 else 0))
    read = _FS_READ_FILE | _FS_READ_DIR
    write = read | _FS_WRITE_FILE | _FS_REMOVE_DIR | _FS_REMOVE_FILE | _FS_MAKE_DIR | _FS_MAKE_REG | (
        _FS_TRUNCATE if abi >= 3 else 0)
    net = 0b11 if abi >= 4 else 0
    scoped = 0b11 if abi >= 6 else 0

    class RulesetAttr(ctypes.Structure):
        _fields_ = [("fs", ctypes.c_uint64), ("net", ctypes.c_uint64), ("scoped", ctypes.c_uint64)]

    class PathBeneath(ctypes.Structure):
        _pack_ = 1
        _fields_ = [("allowed", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]

    attr = RulesetAttr(handled, net, scoped)
    size = 24 if abi >= 6 else 16 if abi >= 4 else 8
    ruleset = libc.syscall(ctypes.c_long(444), ctypes.byref(attr), ctypes.c_size_t(size), ctypes.c_uint32(0))
    if ruleset < 0:
        raise OSError(ctypes.get_errno(), "landlock_create_ruleset failed")
    try:
        rules = [(p, read) for p in readable] + [(writable, write)]
        for path, allowed in rules:
            fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
            try:
                rule = PathBeneath(allowed if os.path.isdir(path) else allowed & (read | _FS_WRITE_FILE), fd)
                if libc.syscall(ctypes.c_long(445), ctypes.c_int(ruleset), ctypes.c_int(1), ctypes.byref(rule),
                                ctypes.c_uint32(0)) != 0:
                    raise OSError(ctypes.get_errno(), f"landlock_add_rule({path}) failed")
            finally:
                os.close(fd)
        libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
        if libc.syscall(ctypes.c_long(446), ctypes.c_int(ruleset), ctypes.c_uint32(0)) != 0:
            raise OSError(ctypes.get_errno(), "landlock_restrict_self failed")
    finally:
        os.close(ruleset)
    return f"landlock ABI {abi}" + (", no TCP" if net else "") + (", signals scoped" if scoped else "")


# ---------------------------------------------------------------------------------------------- seccomp

# (audit arch, {name: number}) of the architectures whose numbers we know.
_ARCHES = {
    "x86_64": (0xC000003E, dict(
        socket=41, socketpair=53, execve=59, execveat=322, ptrace=101, process_vm_readv=310,
        process_vm_writev=311, io_uring_setup=425, io_uring_enter=426, io_uring_register=427, unshare=272,
        setns=308, mount=165, umount2=166, chroot=161, pivot_root=155, bpf=321, userfaultfd=323,
        perf_event_open=298, keyctl=250, add_key=248, request_key=249, kill=62, tkill=200, tgkill=234,
        rt_sigqueueinfo=129, rt_tgsigqueueinfo=297, pidfd_send_signal=424, pidfd_open=434, pidfd_getfd=438)),
    "aarch64": (0xC00000B7, dict(
        socket=198, socketpair=199, execve=221, execveat=281, ptrace=117, process_vm_readv=270,
        process_vm_writev=271, io_uring_setup=425, io_uring_enter=426, io_uring_register=427, unshare=97,
        setns=268, mount=40, umount2=39, chroot=51, pivot_root=41, bpf=280, userfaultfd=282,
        perf_event_open=241, keyctl=219, add_key=217, request_key=218, kill=129, tkill=130, tgkill=131,
        rt_sigqueueinfo=138, rt_tgsigqueueinfo=240, pidfd_send_signal=424, pidfd_open=434, pidfd_getfd=438)),
}
_SIGNALS = ("kill", "tkill", "tgkill", "rt_sigqueueinfo", "rt_tgsigqueueinfo")
_RET_ALLOW, _RET_KILL, _RET_EPERM = 0x7FFF0000, 0x80000000, 0x00050000 | 1
_LD_W_ABS, _JEQ_K, _JGE_K, _RET_K = 0x20, 0x15, 0x35, 0x06


def seccomp() -> str | None:
    """Refuse, with EPERM, the system calls a submission has no use for: every socket, exec, tracing,
    namespaces, mounts, io_uring, BPF, keyrings; signals go only to this process. Other architectures'
    system calls (i386 through int 0x80, x32) kill the process. Returns a description, or None."""
    arch = _ARCHES.get(os.uname().machine) if LINUX else None
    if arch is None:
        return None
    audit_arch, numbers = arch
    pid = os.getpid()
    prog = [(_LD_W_ABS, 0, 0, 4), (_JEQ_K, 1, 0, audit_arch), (_RET_K, 0, 0, _RET_KILL), (_LD_W_ABS, 0, 0, 0)]
    if os.uname().machine == "x86_64":
        prog += [(_JGE_K, 0, 1, 0x40000000), (_RET_K, 0, 0, _RET_KILL)]
    for name, nr in numbers.items():
        if name in _SIGNALS:
            # allowed when the first argument (low 32 bits) names this process (or 0: its own group)
            prog += [(_JEQ_K, 0, 5, nr), (_LD_W_ABS, 0, 0, 16), (_JEQ_K, 2, 0, pid), (_JEQ_K, 1, 0, 0),
                     (_RET_K, 0, 0, _RET_EPERM), (_RET_K, 0, 0, _RET_ALLOW)]
        else:
            prog += [(_JEQ_K, 0, 1, nr), (_RET_K, 0, 0, _RET_EPERM)]
    prog.append((_RET_K, 0, 0, _RET_ALLOW))
    raw = b"".join(struct.pack("=HBBI", *ins) for ins in prog)
    buf = ctypes.create_string_buffer(raw, len(raw))

    class Fprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    fprog = Fprog(len(prog), ctypes.cast(buf, ctypes.c_void_p))
    libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "seccomp filter refused")
    return "seccomp: no sockets, exec, tracing, namespaces or signals out"


# ---------------------------------------------------------------------------------------------- all


def refuse_processes():
    """Second line behind RLIMIT_NPROC and seccomp: the usual ways of starting a process fail clearly."""
    def refuse(*args, **kwargs):
        raise PermissionError("starting processes is not allowed in the grader's worker")

    for name in ("fork", "forkpty", "system", "popen", "posix_spawn", "posix_spawnp", "execv", "execve",
                 "execl", "execle", "execlp", "execlpe", "execvp", "execvpe", "spawnv", "spawnve", "spawnl",
                 "spawnle", "spawnlp", "spawnlpe", "spawnvp", "spawnvpe"):
        if hasattr(os, name):
            setattr(os, name, refuse)
    try:
        import _posixsubprocess

        _posixsubprocess.fork_exec = refuse
    except ImportError:
        pass


def confine(limits: dict, root: str, workdir: str, parent_pid: int, disable=()) -> dict:
    """Apply every layer this machine allows, in the order that makes each possible; return what holds.

    Order: rlimits; as root chroot, network namespace, then the uid drop (each needs root); Landlock (needs
    no privilege, but the rules name paths, so after chroot); seccomp last (it refuses ``unshare``).
    ``disable`` names layers to leave out (``chroot``, ``netns``, ``landlock``, ``seccomp``): the grader's
    own tests use it to show that each hostile probe does succeed where a layer is missing."""
    applied = {"reads": "", "writes": "", "network": "", "processes": "", "others": "", "uid": ""}
    set_limits(limits)
    root_user = os.geteuid() == 0
    chrooted = False
    if root_user:
        chrooted = "chroot" not in disable and enter_chroot(root, workdir)
        in_netns = "netns" not in disable and leave_network()
        uid = drop_root(workdir)
        applied["uid"] = "a uid of its own (1e9 + pid), no capabilities" if uid else ""
        if in_netns:
            applied["network"] = "network namespace"
    readable = ["/"] if chrooted else [root]
    ll = sc = None
    try:
        ll = None if "landlock" in disable else landlock(readable, workdir)
    except OSError as e:
        applied["landlock_error"] = str(e)
    try:
        sc = None if "seccomp" in disable else seccomp()
    except OSError as e:
        applied["seccomp_error"] = str(e)
    confined_reads = [how for how, on in (("chroot", chrooted), (ll and ll.split(",")[0], ll)) if on]
    applied["reads"] = " + ".join(confined_reads)
    applied["writes"] = applied["reads"] if (ll or (chrooted and root_user)) else ""
    applied["network"] = " + ".join(x for x in (sc and "seccomp", applied["network"]) if x)
    # RLIMIT_NPROC counts the user's processes: a uid of its own, or a user who also runs the grader
    applied["processes"] = " + ".join(x for x in ("RLIMIT_NPROC", sc and "seccomp") if x)
    if chrooted and not os.path.exists("/proc/1"):
        applied["others"] = "no /proc in the chroot"
    applied["landlock"] = ll or ""
    refuse_processes()
    if LINUX:
        libc.prctl(PR_SET_PDEATHSIG, 9, 0, 0, 0)  # die with the grader (set last: a credential change clears it)
    if os.getppid() != parent_pid:
        os._exit(0)
    return applied
