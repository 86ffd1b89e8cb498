"""May this process read another process's memory (what py-spy needs)? The Linux rules, explained.

Launching the program as a child needs no capability: stackprof starts it and lets py-spy (also
stackprof's child) read it — under Yama's ``ptrace_scope=1`` the child names stackprof as its
ptracer (prctl PR_SET_PTRACER) before it executes the program. Attaching to a running PID is what
needs permission: CAP_SYS_PTRACE, or ``kernel.yama.ptrace_scope`` 0 and the same user.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

YAMA = "/proc/sys/kernel/yama/ptrace_scope"
CAP_SYS_PTRACE = 19
PR_SET_PTRACER = 0x59616D61
SCOPE_TEXT = {0: "0 (classic: any process of the same user)", 1: "1 (restricted: only descendants)",
              2: "2 (admin-only: needs CAP_SYS_PTRACE)", 3: "3 (no attach at all until reboot)"}


def ptrace_scope() -> int | None:
    try:
        with open(YAMA, encoding="ascii") as handle:
            return int(handle.read().strip())
    except (OSError, ValueError):
        return None


def has_cap_sys_ptrace() -> bool | None:
    try:
        with open("/proc/self/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("CapEff:"):
                    return bool(int(line.split()[1], 16) >> CAP_SYS_PTRACE & 1)
    except (OSError, ValueError, IndexError):
        return None
    return None


def process_uid(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status", encoding="utf-8", errors="replace") as handle:
            for line in handle:
                if line.startswith("Uid:"):
                    return int(line.split()[2])       # effective uid
    except (OSError, ValueError, IndexError):
        return None
    return None


def pid_problem(pid: int) -> str | None:
    """None when the PID names a live process, else one line saying why not."""
    if pid <= 0:
        return f"{pid} is not a valid process id"
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return f"no process with PID {pid} (it may have exited)"
    except PermissionError:
        return None                                # exists, owned by someone else: attach_problem says more
    except OSError as exc:
        return f"cannot check PID {pid}: {exc.strerror or exc}"
    return None


def attach_problem(pid: int) -> str | None:
    """Why attaching to ``pid`` will fail, when that can be known beforehand; None when it should work
    (or cannot be told: then py-spy's own failure is explained by ``explain_denied``)."""
    if not sys.platform.startswith("linux"):
        return None
    cap = has_cap_sys_ptrace()
    if cap:
        return None if ptrace_scope() != 3 else explain_denied(pid)
    uid = process_uid(pid)
    if uid is not None and uid != os.geteuid():
        return explain_denied(pid)
    scope = ptrace_scope()
    if scope is not None and scope >= 1:
        return explain_denied(pid)
    return None


def explain_denied(pid: int) -> str:
    scope, cap, uid = ptrace_scope(), has_cap_sys_ptrace(), process_uid(pid)
    facts = [f"kernel.yama.ptrace_scope = {SCOPE_TEXT.get(scope, scope) if scope is not None else 'not set (no Yama)'}",
             f"CAP_SYS_PTRACE {'present' if cap else 'missing' if cap is False else 'unknown'}"]
    if uid is not None and uid != os.geteuid():
        facts.append(f"PID {pid} belongs to uid {uid}, stackprof runs as uid {os.geteuid()}")
    if scope == 3:
        need = "ptrace_scope 3 forbids attaching to any process until reboot"
    elif uid is not None and uid != os.geteuid():
        need = "attaching to another user's process needs CAP_SYS_PTRACE (run as root, e.g. sudo)"
    else:
        need = ("attaching to a process that is not a child of stackprof needs CAP_SYS_PTRACE (sudo; in a container "
                "--cap-add SYS_PTRACE, Kubernetes securityContext.capabilities.add: [SYS_PTRACE]) or "
                "`sysctl kernel.yama.ptrace_scope=0` (same user)")
    return (f"cannot attach to PID {pid}: {need}. Launching the program instead needs none: "
            f"stackprof profile -- COMMAND … ({'; '.join(facts)})")


def allow_parent_to_trace() -> None:
    """preexec hook of the launched program: under Yama scope 1, let stackprof and its children
    (py-spy) read it. Runs in the child between fork and exec; failures are ignored (scope 0 or no
    Yama need nothing; scope ≥ 2 cannot be helped from here)."""
    if ptrace_scope() != 1:
        return
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PTRACER, os.getppid(), 0, 0, 0)
    except (OSError, AttributeError):
        pass
