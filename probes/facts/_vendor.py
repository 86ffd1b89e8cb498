"""THE table of recognised vendor builds: a distribution's name and version -> who built it, for what
hardware, and from where it is served. One row per pattern, each with the source that documents it.

`origin` says how the build reaches users:
  index      a wheel served by the vendor's package index (download.pytorch.org, Intel's, a site
             wheelhouse): the provenance kind stays "wheel"; the row adds who and for what
  container  built inside a vendor image (NGC, JetPack): the provenance kind becomes "vendor"
  source     built from a source checkout: the provenance kind becomes "local-build"
"""
import re

TORCH_FAMILY = r"(torch|torchvision|torchaudio|torchtext|torchdata|torchao|torchrec|torch-tensorrt|triton|pytorch-triton.*)"

# (id, distribution-name regex, version regex, vendor, description template, origin, accelerator, source)
# The description is formatted with the version regex's groups ({0}, {1} …).
BUILDS = (
    ("nvidia", r".*", r"\+(?:git)?[0-9a-f]{7,}\.nv(\d\d)\.(\d\d)", "NVIDIA",
     "NVIDIA build {0}.{1} (NGC container or JetPack)", "container", "cuda",
     "pytorch/pytorch#123955, pytorch/pytorch#165803 (version <release>a0+<sha>.nvYY.MM)"),
    ("nvidia-tf", r"(nvidia-tensorflow|tensorflow)", r"\+nv(\d\d)\.(\d\d)$", "NVIDIA",
     "NVIDIA build {0}.{1} (NGC container or pypi.nvidia.com)", "container", "cuda",
     "NVIDIA TensorFlow release notes (version <release>+nvYY.MM)"),
    ("source-git", TORCH_FAMILY, r"a0\+git([0-9a-f]{7,})$", "PyTorch",
     "built from a source checkout (git {0})", "source", None,
     "pytorch/pytorch tools/generate_torch_version.py (version.txt + '+git' + sha[:7])"),
    ("pytorch-cpu", TORCH_FAMILY, r"\+cpu(\.cxx11\.abi)?$", "PyTorch",
     "CPU-only build (download.pytorch.org/whl/cpu)", "index", "cpu",
     "https://download.pytorch.org/whl/cpu"),
    ("pytorch-cuda", TORCH_FAMILY, r"\+cu(\d+)(\d)$", "PyTorch",
     "CUDA {0}.{1} build (download.pytorch.org/whl/cu{0}{1})", "index", "cuda",
     "https://download.pytorch.org/whl/"),
    ("pytorch-rocm", TORCH_FAMILY, r"\+rocm(\d+(?:\.\d+)*)$", "AMD",
     "ROCm {0} build (download.pytorch.org/whl/rocm{0} or repo.radeon.com)", "index", "rocm",
     "https://download.pytorch.org/whl/, https://repo.radeon.com/rocm/manylinux/"),
    ("pytorch-xpu", TORCH_FAMILY, r"\+xpu$", "Intel",
     "Intel GPU (XPU) build (download.pytorch.org/whl/xpu)", "index", "xpu",
     "https://download.pytorch.org/whl/xpu"),
    ("intel-extension", r"intel-extension-for-(pytorch|tensorflow)", r"\+(xpu|cpu)", "Intel",
     "Intel Extension, {0} build (Intel's package index)", "index", None,
     "https://pytorch-extension.intel.com/release-whl/stable/"),
    ("jaxlib-cuda", r"jaxlib", r"\+cuda(\d+)\.cudnn(\d)(\d+)$", "Google",
     "CUDA {0} / cuDNN {1}.{2} build (storage.googleapis.com/jax-releases)", "index", "cuda",
     "https://storage.googleapis.com/jax-releases/jax_cuda_releases.html"),
    ("computecanada", r".*", r"\+computecanada$", "Digital Research Alliance of Canada",
     "built for the Alliance's clusters (CVMFS wheelhouse)", "index", None,
     "ComputeCanada/wheels_builder manipulate_wheels.py --insert_local_version"),
    ("tensorflow-cpu", r"tensorflow-cpu", r".*", "Google", "CPU-only TensorFlow", "index", "cpu",
     "https://pypi.org/project/tensorflow-cpu/"),
    ("tensorflow-rocm", r"tensorflow-rocm", r".*", "AMD", "ROCm TensorFlow", "index", "rocm",
     "https://pypi.org/project/tensorflow-rocm/"),
    ("intel-tensorflow", r"(intel-tensorflow.*|tensorflow-intel)", r".*", "Intel", "Intel-optimized TensorFlow",
     "index", "cpu", "https://pypi.org/project/intel-tensorflow/"),
    ("intel-numpy", r"intel-(numpy|scipy)", r".*", "Intel", "Intel build (MKL)", "index", "cpu",
     "https://pypi.org/project/intel-numpy/"),
    ("apple", r"(tensorflow-macos|tensorflow-metal|jax-metal)", r".*", "Apple", "Apple build ({name})", "index",
     "metal", "https://developer.apple.com/metal/tensorflow-plugin/, https://developer.apple.com/metal/jax/"),
)
_COMPILED = [(row, re.compile(row[1] + r"\Z"), re.compile(row[2])) for row in BUILDS]


def match(name, version):
    """The first row matching this distribution: {id, vendor, build, origin, accelerator, source}
    or None."""
    for row, name_re, version_re in _COMPILED:
        if not name_re.match(name or ""):
            continue
        found = version_re.search(version or "")
        if not found:
            continue
        text = row[4].format(*found.groups(), name=name)
        return {"id": row[0], "vendor": row[3], "build": text, "origin": row[5], "accelerator": row[6],
                "source": row[7]}
    return None
