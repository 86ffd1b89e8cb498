"""What the OS lets this process use of the CPU's vector and matrix units (Linux, ctypes, stdlib only).

- AMX: the CPU flag is not enough. Linux >= 5.16 manages the tile state (XTILEDATA, xfeature 18) and
  a process must be granted it with arch_prctl(ARCH_REQ_XCOMP_PERM) before touching tiles (oneDNN asks
  itself); a kernel or hypervisor that does not support or grant it leaves the tiles unusable.
- Arm SVE: the vector length this process runs with, prctl(PR_SVE_GET_VL).
Python 3.8 syntax. Every failure is None plus a reason, never an exception.
"""
import ctypes
import ctypes.util
import os
import platform

SYS_ARCH_PRCTL = 158          # x86_64
ARCH_GET_XCOMP_SUPP = 0x1021
ARCH_REQ_XCOMP_PERM = 0x1023
XFEATURE_XTILEDATA = 18
PR_SVE_GET_VL = 51
PR_SVE_VL_LEN_MASK = 0xFFFF


def _libc():
    name = ctypes.util.find_library("c")
    return ctypes.CDLL(name, use_errno=True) if name else None


def amx_state(has_amx_flag):
    """{"kernel_supports": bool|None, "granted": bool|None, "reason": str|None} for the AMX tile data."""
    if not has_amx_flag:
        return None
    if platform.machine().lower() not in ("x86_64", "amd64") or not os.path.exists("/proc/self"):
        return {"kernel_supports": None, "granted": None, "reason": "not Linux on x86-64"}
    try:
        libc = _libc()
        if libc is None:
            return {"kernel_supports": None, "granted": None, "reason": "no C library found for arch_prctl"}
        mask = ctypes.c_ulonglong(0)
        if libc.syscall(SYS_ARCH_PRCTL, ARCH_GET_XCOMP_SUPP, ctypes.byref(mask)) != 0:
            err = ctypes.get_errno()
            return {"kernel_supports": False, "granted": False,
                    "reason": "arch_prctl(ARCH_GET_XCOMP_SUPP) failed: %s (a kernel before 5.16 does not manage "
                              "AMX state)" % os.strerror(err)}
        if not mask.value >> XFEATURE_XTILEDATA & 1:
            return {"kernel_supports": False, "granted": False,
                    "reason": "the kernel does not offer XTILEDATA (AMX tiles) to processes"}
        if libc.syscall(SYS_ARCH_PRCTL, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) != 0:
            err = ctypes.get_errno()
            return {"kernel_supports": True, "granted": False,
                    "reason": "arch_prctl(ARCH_REQ_XCOMP_PERM, XTILEDATA) refused: %s" % os.strerror(err)}
        return {"kernel_supports": True, "granted": True, "reason": None}
    except Exception as exc:
        return {"kernel_supports": None, "granted": None, "reason": "%s: %s" % (type(exc).__name__, exc)}


def sve_vector_bits(has_sve_flag):
    """The SVE vector length of this process in bits, or None."""
    if not has_sve_flag:
        return None
    try:
        libc = _libc()
        value = libc.prctl(PR_SVE_GET_VL, 0, 0, 0, 0) if libc is not None else -1
    except Exception:
        return None
    return (value & PR_SVE_VL_LEN_MASK) * 8 if value > 0 else None
