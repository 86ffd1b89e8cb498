"""PyTorch build and runtime facts: torch.__config__.show() and parallel_info() parsed into fields,
CPU capability, CUDA/ROCm versions, cuDNN/NCCL as loaded at run time, compiled arch list vs each
device, backend switches, triton and torch.compile usability (checked without compiling)."""
import os
import re
import shutil
import sys
import sysconfig

from . import _native
from ._framework import Imported, dist_version, installed, one_line


def collect(ctx):
    if not installed("torch"):
        return {"installed": False}
    imp = Imported("torch")
    if imp.error:
        return imp.failure({"version": dist_version("torch")})
    torch = imp.module
    errors = []

    def guard(name, fn, default=None):
        try:
            return fn()
        except Exception as exc:  # each fact on its own: one failing API must not hide the rest
            errors.append("torch.%s: %s" % (name, one_line(exc)))
            return default

    version = str(torch.__version__)
    config_raw = guard("config", torch.__config__.show, "")
    parallel_raw = guard("parallel_info", torch.__config__.parallel_info, "")
    config = parse_config(config_raw)
    cuda = guard("cuda", lambda: _cuda(torch, config, guard), {})
    facts = {
        "installed": True,
        "version": version,
        "local_version": version.partition("+")[2] or None,
        "git_version": getattr(torch.version, "git_version", None),
        "debug": bool(getattr(torch.version, "debug", False)),
        "import_s": imp.seconds,
        "path": os.path.dirname(torch.__file__),
        "config": config,
        "cpu_capability": guard("cpu_capability", lambda: _cpu_capability(torch, config)),
        "parallel": dict(parse_parallel(parallel_raw), num_threads=torch.get_num_threads(),
                         num_interop_threads=torch.get_num_interop_threads(), raw=parallel_raw),
        "cuda": cuda,
        "hip_version": getattr(torch.version, "hip", None),
        "backends": _backends(torch, guard),
        "triton": _triton(),
        "compile": guard("compile", lambda: _compile(torch, cuda)),
        "loaded_libraries": [os.path.basename(p) for p in imp.new_libraries
                             if _native.classify(p) or _native.cuda_library(p)],
        "threads_after_import": _thread_count(),
    }
    if errors:
        facts["errors"] = errors
    return facts


# ----- torch.__config__.show() ------------------------------------------------------------------

def parse_config(text):
    """The show() string -> structured fields; every Build settings key exactly as printed."""
    out = {"raw": text, "build_settings": {}, "compiler": None, "cxx_standard": None,
           "mkl_version": None, "mkl": None, "mkldnn_version": None, "mkldnn_git_hash": None, "openmp": None,
           "lapack": None, "nnpack": None, "cpu_capability": None, "cuda_runtime": None,
           "nvcc_arch_flags": None, "cudnn": None, "magma": None, "hip_runtime": None, "miopen": None}
    for line in (text or "").splitlines():
        item = line.strip().lstrip("-").strip()
        if item.startswith("Build settings:"):
            out["build_settings"] = parse_build_settings(item[len("Build settings:"):])
        elif re.match(r"(GCC|clang|MSVC|Clang|Apple clang) ", item):
            out["compiler"] = item
        elif item.startswith("C++ Version:"):
            out["cxx_standard"] = item.split(":", 1)[1].strip()
        elif "Math Kernel Library" in item:
            match = re.search(r"Version (\d[\d.]*)", item)
            out["mkl_version"] = match.group(1) if match else item
            out["mkl"] = item
        elif "MKL-DNN" in item or "oneDNN" in item:
            match = re.search(r"v(\d[\w.]*)", item)
            out["mkldnn_version"] = match.group(1) if match else item
            git = re.search(r"Git Hash (\w+)", item)
            out["mkldnn_git_hash"] = git.group(1) if git else None
        elif item.startswith("OpenMP"):
            out["openmp"] = item
        elif item.startswith("LAPACK"):
            out["lapack"] = item
        elif item.startswith("NNPACK"):
            out["nnpack"] = "enabled" in item
        elif item.startswith("CPU capability usage:"):
            out["cpu_capability"] = item.split(":", 1)[1].strip()
        elif item.startswith(("CUDA Runtime", "Built with CUDA Runtime")):
            out["cuda_runtime"] = item.split("Runtime", 1)[1].strip()
        elif item.startswith("NVCC architecture flags:"):
            out["nvcc_arch_flags"] = item.split(":", 1)[1].strip()
        elif item.startswith(("CuDNN", "Built with CuDNN")):
            out["cudnn"] = item
        elif item.startswith("Magma"):
            out["magma"] = item.split(None, 1)[1] if " " in item else item
        elif item.startswith("HIP Runtime"):
            out["hip_runtime"] = item.split("Runtime", 1)[1].strip()
        elif item.startswith("MIOpen"):
            out["miopen"] = item.split(None, 1)[1] if " " in item else item
    return out


def parse_build_settings(text):
    """'BLAS_INFO=mkl, CXX_FLAGS= -O2 -fPIC, USE_CUDA=0, ' -> {BLAS_INFO: 'mkl', …}; values may hold
    commas and spaces, so split only before ', KEY='."""
    settings = {}
    for part in re.split(r",\s*(?=[A-Z][A-Z0-9_]*=)", text.strip().rstrip(",")):
        key, found, value = part.partition("=")
        if found and key.strip():
            settings[key.strip()] = value.strip().rstrip(",").strip()
    return settings


def parse_parallel(text):
    """parallel_info() -> backend and the thread counts each runtime reports."""
    def number(pattern):
        match = re.search(pattern, text or "")
        return int(match.group(1)) if match else None

    backend = re.search(r"ATen parallel backend:\s*(.+)", text or "")
    return {
        "backend": backend.group(1).strip() if backend else None,
        "omp_max_threads": number(r"omp_get_max_threads\(\)\s*:\s*(\d+)"),
        "mkl_max_threads": number(r"mkl_get_max_threads\(\)\s*:\s*(\d+)"),
        "hardware_concurrency": number(r"hardware_concurrency\(\)\s*:\s*(\d+)"),
    }


def _cpu_capability(torch, config):
    cpu = getattr(torch.backends, "cpu", None)
    if cpu is not None and hasattr(cpu, "get_cpu_capability"):
        return cpu.get_cpu_capability()
    return config.get("cpu_capability")


# ----- CUDA / ROCm ------------------------------------------------------------------------------

def _cuda(torch, config, guard):
    built = getattr(torch.version, "cuda", None)
    available, init_error = _is_available(torch, guard)
    count = guard("cuda.device_count", torch.cuda.device_count, 0) if available else 0
    arch_list = guard("cuda.get_arch_list", torch.cuda.get_arch_list, []) or []
    cudnn = torch.backends.cudnn
    cudnn_available = bool(guard("cudnn.is_available", cudnn.is_available, False))
    devices = []
    for index in range(count or 0):
        devices.append(guard("cuda.device%d" % index, lambda i=index: _device(torch, i, arch_list)))
    return {
        "built_version": built,
        "available": available,
        "init_error": init_error,
        "device_count": count,
        "arch_list": arch_list,
        "built_arch_flags": config.get("nvcc_arch_flags"),
        "built_archs": _built_archs(config),
        "cudnn_version": guard("cudnn.version", cudnn.version) if cudnn_available else None,
        "cudnn_built_version": config["build_settings"].get("CUDNN_VERSION"),
        "nccl_version": _nccl(torch) if built else None,
        "runtime_libraries": _cuda_runtime_libraries(),
        "devices": devices,
        "module_loading": os.environ.get("CUDA_MODULE_LOADING"),
    }


def _is_available(torch, guard):
    """torch.cuda.is_available() and the warning it gives when CUDA cannot initialise (driver too old,
    no device, …): the line a user would see, kept as the reason."""
    import warnings
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        available = bool(guard("cuda.is_available", torch.cuda.is_available, False))
    messages = [one_line(w.message) for w in caught if "cuda" in str(w.message).lower()]
    return available, (messages[0] if messages else None)


def _device(torch, index, arch_list):
    props = torch.cuda.get_device_properties(index)
    cap = "%d.%d" % (props.major, props.minor)
    return {
        "index": index,
        "name": props.name,
        "capability": cap,
        "total_memory_bytes": int(props.total_memory),
        "multi_processor_count": props.multi_processor_count,
        "arch_match": arch_match(cap, arch_list),
        "gcn_arch": getattr(props, "gcnArchName", None),
    }


def arch_match(capability, arch_list):
    """'sass' when a kernel image for this exact architecture (or an older minor of the same major,
    which is binary compatible) is in the wheel; 'ptx' when only PTX of an older arch can be JIT
    compiled; 'none' otherwise."""
    major, minor = [int(x) for x in capability.split(".")]
    sass, ptx = [], []
    for arch in arch_list or []:
        match = re.match(r"(sm|compute)_(\d+)(\d)[a-z]?$", arch)
        if match:
            (sass if match.group(1) == "sm" else ptx).append((int(match.group(2)), int(match.group(3))))
    if any(m == major and n <= minor for m, n in sass):
        return "sass"
    if any((m, n) <= (major, minor) for m, n in ptx):
        return "ptx"
    return "none" if (sass or ptx) else None       # None: not a CUDA arch list (ROCm gfx…)


def _built_archs(config):
    """Targets in the NVCC flags line (needs a GPU) or the CUDA_FLAGS build setting."""
    flags = (config.get("nvcc_arch_flags") or "") + " " + (config["build_settings"].get("CUDA_FLAGS") or "")
    archs = sorted(set(re.findall(r"code=((?:sm|compute)_\d+[a-z]?)", flags)))
    return archs or None


def _nccl(torch):
    try:
        version = torch.cuda.nccl.version()
    except Exception:
        return None
    if isinstance(version, tuple):
        return ".".join(str(v) for v in version)
    return str(version)


def _cuda_runtime_libraries():
    """CUDA/ROCm libraries actually mapped in the process (not what ldconfig would find)."""
    out = []
    for path in _native.mapped_paths() or []:
        prefix = _native.cuda_library(path)
        if prefix:
            out.append({"name": prefix, "file": os.path.basename(path), "filepath": path,
                        "reported_version": _native.cuda_versions(path, prefix)})
    return out


# ----- backends, triton, compile ----------------------------------------------------------------

def _backends(torch, guard):
    b = torch.backends

    def attr(obj, name):
        return getattr(obj, name, None) if obj is not None else None

    matmul = attr(attr(b, "cuda"), "matmul")
    cudnn = attr(b, "cudnn")
    cuda = attr(b, "cuda")
    return {
        "matmul_allow_tf32": guard("matmul.allow_tf32", lambda: bool(matmul.allow_tf32)),
        "cudnn_allow_tf32": guard("cudnn.allow_tf32", lambda: bool(cudnn.allow_tf32)),
        "matmul_fp32_precision": _optional(lambda: matmul.fp32_precision),
        "float32_matmul_precision": guard("float32_matmul_precision", torch.get_float32_matmul_precision),
        "cudnn_benchmark": guard("cudnn.benchmark", lambda: bool(cudnn.benchmark)),
        "cudnn_deterministic": guard("cudnn.deterministic", lambda: bool(cudnn.deterministic)),
        "cudnn_enabled": guard("cudnn.enabled", lambda: bool(cudnn.enabled)),
        "deterministic_algorithms": guard("deterministic", torch.are_deterministic_algorithms_enabled),
        "mkldnn_enabled": guard("mkldnn.enabled", lambda: bool(b.mkldnn.enabled)),
        "mkldnn_available": guard("mkldnn.is_available", b.mkldnn.is_available),
        "mkl_available": guard("mkl.is_available", b.mkl.is_available),
        "openmp_available": guard("openmp.is_available", b.openmp.is_available),
        "flash_sdp_enabled": _optional(cuda.flash_sdp_enabled),
        "mem_efficient_sdp_enabled": _optional(cuda.mem_efficient_sdp_enabled),
        "math_sdp_enabled": _optional(cuda.math_sdp_enabled),
        "xnnpack_enabled": _optional(lambda: bool(b.xnnpack.enabled)),
    }


def _optional(fn):
    try:
        return fn()
    except Exception:
        return None


def _triton():
    if not installed("triton"):
        return {"installed": False, "version": None}
    # Importing triton costs seconds; its metadata says the version.
    return {"installed": True, "version": dist_version("triton") or dist_version("pytorch-triton")}


def _compile(torch, cuda):
    """Whether torch.compile could work here, from what it needs (without importing dynamo, ~1 s,
    or compiling anything): a supported Python, a C++ compiler for the CPU backend, triton for GPUs."""
    if not hasattr(torch, "compile"):
        return {"usable": False, "reason": "torch %s has no torch.compile" % torch.__version__}
    blockers = []
    if sys.platform == "win32":
        blockers.append("Windows")
    if sysconfig.get_config_var("Py_GIL_DISABLED") and sys.version_info < (3, 13, 3):
        blockers.append("free-threaded Python < 3.13.3")
    cxx = os.environ.get("CXX") or ("clang++" if sys.platform == "darwin" else "g++")
    compiler = shutil.which(cxx)
    reasons = list(blockers)
    if compiler is None:
        reasons.append("no C++ compiler '%s' on PATH (CPU backend)" % cxx)
    gpu_ok = None
    if cuda.get("available"):
        gpu_ok = not blockers and installed("triton")
        if not installed("triton"):
            reasons.append("triton is not installed (GPU backend)")
    return {"usable": not reasons, "reason": "; ".join(reasons) or None, "cxx_compiler": compiler,
            "cpu_backend_usable": not blockers and compiler is not None,
            "gpu_backend_usable": gpu_ok}


def _thread_count():
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return None
