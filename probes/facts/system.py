"""System facts from /proc and /sys (never lscpu/nproc): OS, container, cgroup limits, affinity, CPU
model/ISA/topology/frequency, transparent huge pages, memory. Absent facts are None."""
import os
import platform

from . import _cgroup, _isa
from ._files import cpu_list, key_values, numbered_dirs, read_int, read_line, read_text, selected

CPU_SYS = "/sys/devices/system/cpu"

# cpuinfo flag -> contract name (x86 names as /proc/cpuinfo spells them; Arm "Features" below).
# The features that decide which ML kernel a library dispatches (shared/reference/cpu-dispatch.md).
X86_FLAGS = ["sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512dq", "avx512cd", "avx512bw",
             "avx512vl", "avx512_bf16", "avx512_vnni", "avx512_fp16", "avx_vnni", "amx_tile", "amx_bf16",
             "amx_int8", "amx_fp16"]
ARM_FLAGS = {"neon": "asimd", "sve": "sve", "sve2": "sve2", "bf16": "bf16", "i8mm": "i8mm", "asimdhp": "asimdhp",
             "sme": "sme"}
X86_V2 = {"sse4_2", "sse4_1", "ssse3", "popcnt", "cx16"}
X86_V3 = {"avx", "avx2", "bmi1", "bmi2", "fma", "f16c", "movbe", "abm"}
X86_V4 = {"avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl"}


def collect(ctx):
    errors = []
    facts = {
        "os": _os(),
        "container": _container(),
        "cgroup": _guard(_cgroup.limits, errors, "cgroup"),
        "affinity": _affinity(),
        "os_cpu_count": os.cpu_count(),
        "cpu": _guard(_cpu, errors, "cpu"),
        "thp": {"enabled": selected(read_line("/sys/kernel/mm/transparent_hugepage/enabled")),
                "defrag": selected(read_line("/sys/kernel/mm/transparent_hugepage/defrag"))},
        "memory": _memory(),
        "load_avg": _load_avg(),
    }
    if errors:
        facts["errors"] = errors
    return facts


def _guard(fn, errors, name):
    try:
        return fn()
    except Exception as exc:  # one fact family failing must not lose the others
        errors.append("system.%s: %s: %s" % (name, type(exc).__name__, exc))
        return None


def _os():
    release = key_values(read_text("/etc/os-release"), "=")
    libc = platform.libc_ver()
    return {
        "name": platform.system(),
        "kernel": platform.release(),
        "distro": release.get("PRETTY_NAME", "").strip('"') or None,
        "distro_id": release.get("ID", "").strip('"') or None,
        "distro_version": release.get("VERSION_ID", "").strip('"') or None,
        "arch": platform.machine(),
        "libc": "%s %s" % libc if libc[0] else None,
    }


def _container():
    kind = None
    cgroup = read_text("/proc/1/cgroup") or ""
    if os.path.exists("/.dockerenv"):
        kind = "docker"
    elif os.path.exists("/run/.containerenv"):
        kind = "podman"
    elif "kubepods" in cgroup:
        kind = "kubernetes"
    elif "docker" in cgroup or "containerd" in cgroup:
        kind = "docker"
    elif "lxc" in cgroup:
        kind = "lxc"
    elif os.environ.get("container"):
        kind = os.environ["container"][:40]          # systemd-nspawn, podman set this
    elif "microsoft" in platform.release().lower():
        kind = "wsl"
    if kind and os.environ.get("KUBERNETES_SERVICE_HOST") and kind != "kubernetes":
        kind = "kubernetes"
    return {"detected": kind is not None, "kind": kind}


def _affinity():
    try:
        cpus = sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return {"cpus": None, "count": None}
    return {"cpus": cpus, "count": len(cpus)}


def _cpu():
    info = _cpuinfo()
    first = info[0] if info else {}
    arch = platform.machine().lower()
    words = set((first.get("flags") or first.get("Features") or "").split())
    if arch in ("aarch64", "arm64"):
        flags = dict((name, word in words) for name, word in ARM_FLAGS.items())
    else:
        flags = dict((name, name in words) for name in X86_FLAGS)
    topo = _topology(info)
    freq = _frequency(first)
    return dict({
        "vendor": first.get("vendor_id") or _arm_vendor(first.get("CPU implementer")),
        "model": first.get("model name") or first.get("Model name") or _arm_part(first),
        "family": _int(first.get("cpu family")),
        "model_number": _int(first.get("model")),
        "stepping": _int(first.get("stepping")),
        "microcode": first.get("microcode"),
        "hypervisor": "hypervisor" in words,
        "flags": flags,
        "isa_level": _isa_level(flags, arch),
        "x86_64_level": _x86_64_level(words) if arch in ("x86_64", "amd64") else None,
        "llc_bytes": _llc_bytes(),
        "hybrid": _hybrid(),
        "amx": _isa.amx_state(flags.get("amx_tile")),          # does the OS grant this process the tiles?
        "sve_vector_bits": _isa.sve_vector_bits(flags.get("sve")),
    }, **dict(topo, **freq))


def _cpuinfo():
    """/proc/cpuinfo as one dict per logical CPU."""
    blocks = (read_text("/proc/cpuinfo", 16 << 20) or "").split("\n\n")
    return [key_values(block) for block in blocks if block.strip()]


def _int(text):
    try:
        return int(text, 0) if text is not None else None
    except ValueError:
        return None


def _topology(info):
    cpus = numbered_dirs(CPU_SYS, "cpu")
    cores, packages = set(), set()
    for path in cpus:
        pkg = read_int(os.path.join(path, "topology/physical_package_id"))
        core = read_int(os.path.join(path, "topology/core_id"))
        if core is not None:
            cores.add((pkg, core))
            packages.add(pkg)
    if not cores and info and "core id" in info[0]:
        cores = set((b.get("physical id"), b.get("core id")) for b in info)
        packages = set(b.get("physical id") for b in info)
    logical = len(info) or len(cpus) or None
    physical = len(cores) or None
    nodes = numbered_dirs("/sys/devices/system/node", "node")
    return {
        "logical_cpus": logical,
        "physical_cores": physical,
        "threads_per_core": (logical // physical) if logical and physical else None,
        "sockets": len(packages) or None,
        "numa_nodes": len(nodes) or None,
        "online": read_line(os.path.join(CPU_SYS, "online")),
    }


def _frequency(first):
    base = os.path.join(CPU_SYS, "cpu0/cpufreq")
    max_khz = read_int(os.path.join(base, "cpuinfo_max_freq"))
    cur_khz = read_int(os.path.join(base, "scaling_cur_freq"))
    cur = cur_khz / 1000.0 if cur_khz else _float(first.get("cpu MHz"))
    return {
        "max_mhz": max_khz / 1000.0 if max_khz else None,
        "cur_mhz": cur,
        "governor": read_line(os.path.join(base, "scaling_governor")),
        "scaling_driver": read_line(os.path.join(base, "scaling_driver")),
        "boost": _boost(),
    }


def _boost():
    value = read_int(os.path.join(CPU_SYS, "cpufreq/boost"))
    if value is None:
        no_turbo = read_int(os.path.join(CPU_SYS, "intel_pstate/no_turbo"))
        return None if no_turbo is None else not no_turbo
    return bool(value)


def _float(text):
    try:
        return float(text) if text is not None else None
    except ValueError:
        return None


def _llc_bytes():
    best = (0, None)
    for path in numbered_dirs(os.path.join(CPU_SYS, "cpu0/cache"), "index"):
        level = read_int(os.path.join(path, "level"))
        size = _size_bytes(read_line(os.path.join(path, "size")))
        if level and size and read_line(os.path.join(path, "type")) != "Instruction" and level >= best[0]:
            best = (level, size)
    return best[1]


def _size_bytes(text):
    if not text:
        return None
    units = {"K": 1024, "M": 1024 ** 2, "G": 1024 ** 3}
    try:
        return int(text[:-1]) * units[text[-1]] if text[-1] in units else int(text)
    except ValueError:
        return None


def _hybrid():
    """Intel hybrid parts expose P-cores and E-cores as two PMUs."""
    p = cpu_list(read_line("/sys/devices/cpu_core/cpus"))
    e = cpu_list(read_line("/sys/devices/cpu_atom/cpus"))
    if p is None and e is None:
        return None
    return {"p_cores": len(p or []), "e_cores": len(e or [])}


def _isa_level(flags, arch):
    if arch in ("aarch64", "arm64"):
        return "sve" if flags.get("sve") else ("neon" if flags.get("neon") else None)
    for name in ("avx512f", "avx2", "avx", "sse4_2"):
        if flags.get(name):
            return "avx512" if name == "avx512f" else name
    return None


def _x86_64_level(words):
    level = "v1"
    for name, need in (("v2", X86_V2), ("v3", X86_V3), ("v4", X86_V4)):
        if not need <= words:
            break
        level = name
    return level


def _arm_vendor(implementer):
    names = {"0x41": "ARM", "0x61": "Apple", "0x51": "Qualcomm", "0x48": "HiSilicon", "0xc0": "Ampere",
             "0x4e": "NVIDIA"}
    return names.get((implementer or "").lower(), implementer)


def _arm_part(first):
    part = first.get("CPU part")
    return "part %s" % part if part else None


def _memory():
    info = key_values(read_text("/proc/meminfo"))

    def kib(name):
        value = info.get(name, "").split()
        return int(value[0]) * 1024 if value and value[0].isdigit() else None

    shm = None
    try:
        st = os.statvfs("/dev/shm")
        shm = st.f_frsize * st.f_blocks
    except (OSError, AttributeError):
        pass
    return {"total_bytes": kib("MemTotal"), "available_bytes": kib("MemAvailable"),
            "swap_total_bytes": kib("SwapTotal"), "hugepages_total": _int(info.get("HugePages_Total")),
            "dev_shm_bytes": shm}


def _load_avg():
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (AttributeError, OSError):
        return None
