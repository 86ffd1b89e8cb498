"""Performance-relevant environment variables, from an allow-list only; values that look like secrets
are dropped (only the name is kept, in ``dropped_secret``). Nothing outside the list is recorded."""
import os

from ._secrets import looks_secret

PREFIXES = (
    "OMP_", "GOMP_", "KMP_", "MKL_", "OPENBLAS_", "GOTO_", "BLIS_", "FLEXIBLAS", "VECLIB_", "NUMEXPR_",
    "DNNL_", "ONEDNN_", "ATEN_", "TORCH_", "PYTORCH_", "TORCHINDUCTOR_", "TORCHDYNAMO_", "TRITON_",
    "CUDA_", "CUBLAS_", "CUBLASLT_", "CUDNN_", "NCCL_", "NVIDIA_", "TF_", "XLA_", "JAX_",
    "HIP_", "HSA_", "ROCR_", "ROCBLAS_", "HIPBLASLT_", "MIOPEN_", "MALLOC_", "TCMALLOC_", "JEMALLOC_",
    "NUMPY_", "THP_", "SCIPY_", "GLOO_", "TP_",
)
NAMES = (
    "LD_PRELOAD", "LD_LIBRARY_PATH", "LD_BIND_NOW", "TOKENIZERS_PARALLELISM", "PYTHONMALLOC",
    "PYTHONDEVMODE", "PYTHON_GIL", "PYTHON_JIT", "PYTHONOPTIMIZE", "SLURM_CPUS_PER_TASK",
    "SLURM_CPUS_ON_NODE", "WORLD_SIZE", "LOCAL_WORLD_SIZE", "NVIDIA_TF32_OVERRIDE",
)
# Terraform shares the TF_ prefix; its variables can hold anything, so they are never read.
EXCLUDED_PREFIXES = ("TF_VAR_", "TF_CLI_", "TF_TOKEN_", "TF_LOG", "TF_WORKSPACE", "TF_INPUT",
                     "TF_IN_AUTOMATION", "TF_DATA_DIR", "TF_PLUGIN_CACHE_DIR", "TF_REGISTRY_")
# Names that say "credential" are never recorded, even under an allowed prefix (NVIDIA_API_KEY …).
SECRET_NAME_WORDS = ("TOKEN", "SECRET", "PASSWORD", "PASSWD", "API_KEY", "APIKEY", "ACCESS_KEY",
                     "PRIVATE_KEY", "CREDENTIAL", "AUTH")


def allowed(name):
    if name.startswith(EXCLUDED_PREFIXES):
        return False
    return name in NAMES or name.startswith(PREFIXES)


def secret_name(name):
    upper = name.upper()
    if upper == "TOKENIZERS_PARALLELISM":
        return False
    return any(word in upper for word in SECRET_NAME_WORDS)


def collect(ctx):
    values, dropped = {}, []
    for name in sorted(os.environ):
        if not allowed(name):
            continue
        value = os.environ[name]
        if secret_name(name) or looks_secret(value):
            dropped.append(name)
        else:
            values[name] = value[:2000]
    return {"vars": values, "dropped_secret": dropped, "count": len(values)}
