"""Loaded native libraries without threadpoolctl: the shared objects mapped into this process
(/proc/self/maps) and their own query functions through ctypes. Libraries are opened with
RTLD_NOLOAD, so nothing that is not already loaded ever gets loaded."""
import ctypes
import os
import re

from ._files import read_text

# filename prefix -> (user_api, internal_api); the same prefixes threadpoolctl matches.
KNOWN = [
    ("libscipy_openblas", "blas", "openblas"), ("libopenblas", "blas", "openblas"),
    ("openblas", "blas", "openblas"), ("libmkl_rt", "blas", "mkl"), ("mkl_rt", "blas", "mkl"),
    ("libblis", "blas", "blis"), ("libflexiblas", "blas", "flexiblas"), ("libarmpl", "blas", "armpl"),
    ("libnvpl_blas", "blas", "nvpl"), ("libsatlas", "blas", "atlas"), ("libtatlas", "blas", "atlas"),
    ("libblas", "blas", None), ("libcblas", "blas", None),
    ("libiomp", "openmp", "openmp"), ("libgomp", "openmp", "openmp"), ("libomp", "openmp", "openmp"),
    ("vcomp", "openmp", "openmp"),
]
CUDA_PREFIXES = ("libcudart", "libcublasLt", "libcublas", "libcudnn", "libnccl", "libnvrtc", "libcufft",
                 "libcusparse", "libcusolver", "libcurand", "libnvJitLink", "libcupti", "libcuda",
                 "libnvidia-ml", "libamdhip64", "librocblas", "libMIOpen", "librccl")
_OPENBLAS_AFFIXES = [(p, s) for p in ("", "scipy_") for s in ("", "64_", "_64")]


def mapped_paths():
    """Shared objects mapped into this process, in load order (None where /proc is missing)."""
    text = read_text("/proc/self/maps", 64 << 20)
    if text is None:
        return None
    seen, paths = set(), []
    for line in text.splitlines():
        parts = line.split(None, 5)
        if len(parts) == 6 and parts[5].startswith("/") and ".so" in parts[5]:
            path = parts[5].strip()
            if path.endswith(" (deleted)"):
                path = path[:-len(" (deleted)")]
            if path not in seen:
                seen.add(path)
                paths.append(path)
    return paths


def classify(path):
    name = os.path.basename(path)
    for prefix, user_api, internal_api in KNOWN:
        if not name.startswith(prefix):
            continue
        rest = name[len(prefix):]
        # "libopenblasp-r0.3.21.so" is OpenBLAS, but "libblasfeo.so" is not a plain libblas
        if internal_api is not None or not rest or not rest[0].isalpha():
            return prefix, user_api, internal_api
    return None


def cuda_library(path):
    name = os.path.basename(path)
    for prefix in CUDA_PREFIXES:
        if name.startswith(prefix + ".") or name.startswith(prefix + "-") or name.startswith(prefix + "_"):
            return prefix
    return None


def _open(path):
    mode = getattr(os, "RTLD_NOLOAD", 0) | getattr(os, "RTLD_LAZY", 1)
    try:
        return ctypes.CDLL(path, mode=mode)
    except OSError:
        return None


def _symbol(lib, name):
    try:
        return getattr(lib, name)
    except AttributeError:
        return None


def describe(path):
    """A threadpoolctl-shaped record for one loaded BLAS/OpenMP library (None if not one)."""
    kind = classify(path)
    if kind is None:
        return None
    prefix, user_api, internal_api = kind
    entry = {"user_api": user_api, "internal_api": internal_api, "prefix": prefix, "filepath": path,
             "version": None, "num_threads": None, "threading_layer": None, "architecture": None,
             "detected_by": "maps"}
    lib = _open(path)
    if lib is None:
        entry["error"] = "could not open the loaded library"
        return entry
    if internal_api in ("openblas", None):
        _openblas(lib, entry)
    elif internal_api == "mkl":
        _mkl(lib, entry)
    elif internal_api == "blis":
        _blis(lib, entry)
    elif internal_api == "flexiblas":
        _flexiblas(lib, entry)
    elif user_api == "openmp":
        fn = _symbol(lib, "omp_get_max_threads")
        entry["num_threads"] = fn() if fn else None
    if entry["internal_api"] is None:
        entry["internal_api"] = "generic"          # a plain libblas.so: reference BLAS or unknown
    return entry


def _openblas(lib, entry):
    for prefix, suffix in _OPENBLAS_AFFIXES:
        if _symbol(lib, prefix + "openblas_get_num_threads" + suffix) is not None:
            break
    else:
        return

    def sym(name):
        return _symbol(lib, prefix + name + suffix)

    entry["internal_api"] = "openblas"
    config = sym("openblas_get_config")
    if config is not None:
        config.restype = ctypes.c_char_p
        text = (config() or b"").decode("utf-8", "replace")
        entry["config"] = text.strip()
        words = text.split()
        entry["version"] = words[1] if len(words) > 1 and words[0] == "OpenBLAS" else None
    parallel = sym("openblas_get_parallel")
    layer = parallel() if parallel is not None else None
    entry["threading_layer"] = {0: "disabled", 1: "pthreads", 2: "openmp"}.get(layer, "unknown")
    corename = sym("openblas_get_corename")
    if corename is not None:
        corename.restype = ctypes.c_char_p
        entry["architecture"] = (corename() or b"").decode("utf-8", "replace")
    threads = _symbol(lib, "omp_get_max_threads") if layer == 2 else sym("openblas_get_num_threads")
    entry["num_threads"] = threads() if threads is not None else None


def _mkl(lib, entry):
    get = _symbol(lib, "MKL_Get_Max_Threads")
    entry["num_threads"] = get() if get else None
    version = _symbol(lib, "MKL_Get_Version_String")
    if version is not None:
        buf = ctypes.create_string_buffer(200)
        version(buf, 200)
        text = buf.value.decode("utf-8", "replace")
        match = re.search(r"Version ([^ ]+) ", text)
        entry["version"] = match.group(1) if match else text.strip()
        entry["config"] = text.strip()
    layer = _symbol(lib, "MKL_Set_Threading_Layer")    # called with -1 it only reports the layer
    if layer is not None:
        entry["threading_layer"] = {0: "intel", 1: "sequential", 2: "pgi", 3: "gnu", 4: "tbb",
                                    -1: "not specified"}.get(layer(-1), "unknown")


def _blis(lib, entry):
    get = _symbol(lib, "bli_thread_get_num_threads")
    entry["num_threads"] = get() if get else None
    version = _symbol(lib, "bli_info_get_version_str")
    if version is not None:
        version.restype = ctypes.c_char_p
        entry["version"] = (version() or b"").decode("utf-8", "replace")
    openmp, pthreads = _symbol(lib, "bli_info_get_enable_openmp"), _symbol(lib, "bli_info_get_enable_pthreads")
    if openmp is not None and openmp():
        entry["threading_layer"] = "openmp"
    elif pthreads is not None and pthreads():
        entry["threading_layer"] = "pthreads"
    else:
        entry["threading_layer"] = "disabled"
    arch_id, arch_string = _symbol(lib, "bli_arch_query_id"), _symbol(lib, "bli_arch_string")
    if arch_id is not None and arch_string is not None:
        arch_id.restype, arch_string.restype = ctypes.c_int, ctypes.c_char_p
        entry["architecture"] = (arch_string(arch_id()) or b"").decode("utf-8", "replace")


def _flexiblas(lib, entry):
    get = _symbol(lib, "flexiblas_get_num_threads")
    entry["num_threads"] = get() if get else None
    backend = _symbol(lib, "flexiblas_current_backend")
    if backend is not None:
        buf = ctypes.create_string_buffer(1024)
        backend(buf, 1024)
        entry["current_backend"] = buf.value.decode("utf-8", "replace")
    version = _symbol(lib, "flexiblas_get_version")
    if version is not None:
        parts = [ctypes.c_int() for _ in range(3)]
        version(*[ctypes.byref(p) for p in parts])
        entry["version"] = ".".join(str(p.value) for p in parts)


def cuda_versions(path, prefix):
    """Version a loaded CUDA library reports about itself (no device needed)."""
    lib = _open(path)
    if lib is None:
        return None
    try:
        if prefix == "libcudnn":
            fn = _symbol(lib, "cudnnGetVersion")
            if fn is not None:
                fn.restype = ctypes.c_size_t
                return fn()
        elif prefix in ("libcudart", "libnccl"):
            fn = _symbol(lib, "cudaRuntimeGetVersion" if prefix == "libcudart" else "ncclGetVersion")
            if fn is not None:
                out = ctypes.c_int()
                return out.value if fn(ctypes.byref(out)) == 0 else None
    except Exception:
        return None
    return None
