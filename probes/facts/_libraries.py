"""What a native library file is: its kind (blas, lapack, openmp, dnn, cuda, rocm, runtime) and a
name a user recognises, from its file name, the folder a distribution puts it in, or the package that
owns it. A generic libblas.so.3 says nothing by itself: the implementation behind it is read from
where its symlinks end and who installed that file."""
import os
import re

# (file-name regex, kind, label); the first match wins, so specific names come before generic ones.
LIBRARIES = (
    (r"lib(scipy_)?openblas", "blas", "OpenBLAS"),
    (r"libmkl_", "blas", "Intel MKL"),
    (r"libblis|libblis-mt", "blas", "BLIS"),
    (r"libflexiblas", "blas", "FlexiBLAS"),
    (r"libarmpl", "blas", "Arm Performance Libraries"),
    (r"libnvpl_(blas|lapack)", "blas", "NVIDIA NVPL"),
    (r"lib[st]?atlas", "blas", "ATLAS"),
    (r"libcblas", "blas", None),
    (r"libblas", "blas", None),
    (r"liblapacke?", "lapack", None),
    (r"libgomp", "openmp", "GNU OpenMP (libgomp)"),
    (r"libiomp5", "openmp", "Intel OpenMP (libiomp5)"),
    (r"lib(omp|omp5)(\.|-|$)", "openmp", "LLVM OpenMP (libomp)"),
    (r"libtbb", "threads", "oneTBB"),
    (r"lib(dnnl|mkldnn)", "dnn", "oneDNN"),
    (r"libcudnn", "cuda", "cuDNN"),
    (r"libnccl", "cuda", "NCCL"),
    (r"libcublasLt|libcublas", "cuda", "cuBLAS"),
    (r"libcusparseLt", "cuda", "cuSPARSELt"),
    (r"libcudart", "cuda", "CUDA runtime"),
    (r"libcufft", "cuda", "cuFFT"), (r"libcusparse", "cuda", "cuSPARSE"), (r"libcusolver", "cuda", "cuSOLVER"),
    (r"libcurand", "cuda", "cuRAND"), (r"libnvrtc", "cuda", "NVRTC"), (r"libnvJitLink", "cuda", "nvJitLink"),
    (r"libcupti", "cuda", "CUPTI"), (r"libcuda\.", "cuda", "NVIDIA driver (libcuda)"),
    (r"libamdhip64", "rocm", "HIP runtime"), (r"librocblas", "rocm", "rocBLAS"), (r"libMIOpen", "rocm", "MIOpen"),
    (r"librccl", "rocm", "RCCL"), (r"libhipblaslt", "rocm", "hipBLASLt"),
    (r"libgfortran", "runtime", "GNU Fortran runtime"), (r"libquadmath", "runtime", "GCC quad-precision math"),
)
_COMPILED = [(re.compile(pattern), kind, label) for pattern, kind, label in LIBRARIES]

# Where Debian and Ubuntu install each BLAS/LAPACK behind /etc/alternatives (folder -> label, package).
DEBIAN_FOLDERS = {
    "blas": ("reference BLAS (Netlib)", "libblas3"), "lapack": ("reference LAPACK (Netlib)", "liblapack3"),
    "openblas-pthread": ("OpenBLAS (pthreads)", "libopenblas0-pthread"),
    "openblas-openmp": ("OpenBLAS (OpenMP)", "libopenblas0-openmp"),
    "openblas-serial": ("OpenBLAS (serial)", "libopenblas0-serial"),
    "blis-pthread": ("BLIS (pthreads)", "libblis4-pthread"), "blis-openmp": ("BLIS (OpenMP)", "libblis4-openmp"),
    "blis-serial": ("BLIS (serial)", "libblis4-serial"), "atlas": ("ATLAS", "libatlas3-base"),
}
# Owning packages (dpkg, rpm, conda) whose name says the implementation.
OWNER_PACKAGES = (
    (r"lib(blas|lapack)3$|^(blas|lapack)$|^(libblas|liblapack)-netlib", "reference BLAS (Netlib)"),
    (r"openblas", "OpenBLAS"), (r"blis", "BLIS"), (r"atlas", "ATLAS"), (r"mkl", "Intel MKL"),
    (r"flexiblas", "FlexiBLAS"), (r"armpl", "Arm Performance Libraries"),
)
# conda-forge's libblas/libcblas/liblapack build strings end with the implementation they point at.
CONDA_BLAS_BUILDS = {"openblas": "OpenBLAS", "mkl": "Intel MKL", "blis": "BLIS", "netlib": "reference BLAS (Netlib)",
                     "accelerate": "Apple Accelerate", "newaccelerate": "Apple Accelerate", "flexiblas": "FlexiBLAS"}
NOTABLE = ("blas", "lapack", "openmp", "threads", "dnn", "cuda", "rocm")


def classify(filename):
    """(kind, label) from a file name, label None for a generic libblas/libcblas/liblapack; None if
    the library is not one stackprof reasons about."""
    name = os.path.basename(filename)
    for regex, kind, label in _COMPILED:
        if regex.match(name):
            return kind, label
    return None


def version_from_name(filename):
    """'libopenblas64_p-r0.3.23-293-gc2f4bdbb.so' -> '0.3.23'; 'libcudnn.so.9.1.0' -> '9.1.0'.
    A bare soname major ('libgomp.so.1') is an ABI number, not a release; auditwheel's renamed
    copies ('libquadmath-96973f99-934c22de.so.0.0.0') keep only the soname's numbers: None."""
    name = os.path.basename(filename)
    found = re.search(r"-r(\d+\.\d+\.\d+)", name)
    if found:
        return found.group(1)
    if re.search(r"-[0-9a-f]{8}", name):
        return None
    found = re.search(r"\.so\.(\d+(?:\.\d+)+)$", name)
    return found.group(1) if found else None


def implementation(real_path, owner=None, conda_build=None):
    """The implementation behind a (maybe generic) BLAS/LAPACK file: from the real file's name, its
    Debian folder, the conda build string, or the owning package."""
    found = classify(real_path or "")
    if found and found[1]:
        return found[1]
    folder = os.path.basename(os.path.dirname(real_path or ""))
    if folder in DEBIAN_FOLDERS:
        return DEBIAN_FOLDERS[folder][0]
    if conda_build:
        tail = conda_build.rsplit("_", 1)[-1]
        if tail in CONDA_BLAS_BUILDS:
            return CONDA_BLAS_BUILDS[tail]
    package = (owner or {}).get("package") or ""
    for pattern, label in OWNER_PACKAGES:
        if re.search(pattern, package):
            return label
    return None


def guesses(real_path, soname):
    """Distribution package names likely to own a library file, tried before reading every list."""
    out = []
    folder = os.path.basename(os.path.dirname(real_path or ""))
    if folder in DEBIAN_FOLDERS:
        out.append(DEBIAN_FOLDERS[folder][1])
    found = re.match(r"(lib[\w+-]*?)\.so\.(\d+)", os.path.basename(soname or real_path or ""))
    if found:
        stem, major = found.groups()
        out.append(stem + ("-" if stem[-1].isdigit() else "") + major)
    return out
