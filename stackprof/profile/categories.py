"""THE category table: what each sampled stack is spending its time on, keyed on frame and library names.

One entry per category, in priority order. attribute.py walks a stack from the innermost frame
outwards and gives the sample to the first category that matches a frame (``scope="leaf"``);
``scope="context"`` entries instead claim a sample when any frame of the stack matches (a DataLoader
worker's loop, an import), whatever the innermost frame was, except the leaf categories they leave
alone (``keeps``). A new category is one entry here (and one line in docs/schema-profile.md).

Matchers (all regular expressions, searched, case-sensitive):
  functions  native or Python function names (py-spy's frame name, C++ names demangled)
  libraries  the shared library a native frame comes from (basename, as py-spy prints it)
  python     "<file>:<function>" of a Python frame (py-spy's shortened file name)
  caller     the next resolved frame towards the root must match this ("python" = any Python frame)
  within     some frame further towards the root must match this ("<file>:<function>" or a name)
A ``detail`` names the library or kind inside the category (OpenBLAS, MKL, file I/O…); ``{lib}``
is replaced by the frame's library.

Sources of the names: frames captured with py-spy 0.4 --native on this project's machine (numpy 2.4
OpenBLAS, torch 2.13 CPU, CPython 3.11); CUDA names (libcudart, libcuda, cudaStreamSynchronize…)
are the public CUDA runtime/driver API and library names — no GPU was available to capture them.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

# Blocking calls: a thread inside one is not using a CPU (libc, libstdc++, CPython's own wrappers).
WAIT_FUNCTIONS = (r"^(__)?(clock_)?nanosleep$|^usleep$|^sleep$|^time_sleep$|^(__)?(p)?select$|^(__)?(p)?poll$"
                  r"|^epoll_(p)?wait|^accept4?$|^(__libc_)?recv(from|msg)?$|^pthread_cond_(timed|clock)?wait"
                  r"|^pthread_join$|^sem_(timed|clock)?wait|^__new_sem_wait|futex_(abstimed_)?wait|^do_futex_wait"
                  r"|^__lll_lock_wait|^(__)?wait(pid|4)?$|^sigtimedwait$|^sigwaitinfo$|^pause$"
                  r"|^std::condition_variable::wait|^std::__condvar::wait"
                  r"|^(lock_)?PyThread_acquire_lock|^select_(poll_poll|select|epoll_poll)|^sock_(accept|recv)"
                  r"|^os_wait(pid)?|^_queue_SimpleQueue_get")
PYTHON_WAITS = (r"^threading\.py:(Condition\.wait|Event\.wait|Thread\.join|Thread\._wait_for_tstate_lock"
                r"|Semaphore\.acquire|Barrier\.wait)$|^selectors\.py:.*select$|^queue\.py:Queue\.get$"
                r"|^multiprocessing/connection\.py:(wait|_ConnectionBase\.poll|Connection\._poll)$"
                r"|^subprocess\.py:Popen\.(wait|_wait|communicate)$|^socket\.py:socket\.accept$"
                r"|^asyncio/base_events\.py:BaseEventLoop\._run_once$|^time\.py:sleep$")
# Where reading a file descriptor means waiting for another process, not file I/O.
IPC_CALLERS = r"^multiprocessing/|^socket\.py:|^subprocess\.py:|^selectors\.py:|^asyncio/"
FILE_IO_FUNCTIONS = (r"^(__libc_)?(p)?read(v)?(64)?$|^__read_nocancel$|^(__libc_)?(p)?write(v)?(64)?$"
                     r"|^(__libc_)?open(at)?(64)?$|^__open64_nocancel$|^(__)?f?statx?(64)?$|^__fxstat64$"
                     r"|^lseek(64)?$|^(__)?close$|^f(data)?sync$|^getdents(64)?$"
                     r"|^os_(read|write|stat|listdir|scandir|open)|^_io_(FileIO|_Buffered|_RawIOBase|open)")
# How CPython waits for the GIL (a condition variable, futex or semaphore underneath)
GIL_WAITS = (r"^pthread_cond_(timed|clock)?wait|futex_(abstimed_)?wait|^do_futex_wait|^sem_(timed|clock)?wait"
             r"|^__new_sem_wait|^__lll_lock_wait")
# Where CPython takes the GIL back; py-spy drops libpython frames (take_gil…), so a wait directly
# under a Python frame is the GIL.
GIL_CALLERS = r"^(python|take_gil|PyEval_RestoreThread|PyEval_AcquireThread|PyGILState_Ensure|thread_run|t_bootstrap)$"

CUDA_SYNC_FUNCTIONS = (r"^cuda(Stream|Device|Event)Synchronize|^cudaStreamWaitEvent|^cudaMemcpy(2D)?$"
                       r"|^cu(Stream|Ctx|Event)Synchronize|^cuMemcpy(DtoH|HtoD|DtoD)?(_v2)?$"
                       r"|^c10::cuda::(device_synchronize|stream_synchronize|memcpy_and_sync)"
                       r"|^at::cuda::.*[Ss]ynchronize|^at::native::_local_scalar_dense_cuda"
                       r"|^c10::cuda::CUDAStream::synchronize|^ncclCommSynchronize")
CUDA_LIBRARIES = (r"^lib(cudart|cuda|cublas|cublasLt|cudnn|cufft|curand|cusparse|cusolver|nccl|nvrtc|cupti"
                  r"|nvJitLink|nvjpeg|c10_cuda|torch_cuda)\b")

# OpenBLAS kernels carry the core they were built for: dgemm_kernel_SKYLAKEX, sgemm_itcopy_HASWELL…
OPENBLAS_KERNEL = re.compile(r"_([A-Z][A-Z0-9]{2,})$")
MKL_KERNEL = re.compile(r"mkl_(?:blas|lapack)_(avx512(?:_mic)?|avx2|avx|sse4_2|mc3?|def|cnr)_", re.I)
BLIS_KERNEL = re.compile(r"^bli_[sdcz]gemm_([a-z0-9]+)_")


@dataclass(frozen=True)
class Match:
    functions: str = ""
    libraries: str = ""
    python: str = ""
    caller: str = ""
    within: str = ""
    detail: str = ""
    fallback: bool = False          # a catch-all: never decided by a frame of a TRANSPARENT library


@dataclass(frozen=True)
class Category:
    id: str
    label: str
    group: str                      # compute | overhead | wait | data | startup (used by rules and charts)
    matches: tuple = ()
    scope: str = "leaf"             # leaf | context
    keeps: tuple = ()               # context only: leaf categories it leaves alone
    refined_by: tuple = field(default=())   # a matched sample moves to one of these when a frame further
    #                                         towards the root matches it (libcuda code under a sync call)
    short: str = ""                 # a few words, used inside another category's detail


CATEGORIES: tuple[Category, ...] = (
    # ---- context: decided by any frame of the stack --------------------------------------------------
    Category("startup", "imports and start-up", "startup", short="imports", scope="context", matches=(
        Match(python=r"^<frozen importlib\._bootstrap(_external)?>:", detail="imports"),)),
    Category("data_loading", "data loading (DataLoader workers, decoding, file I/O)", "data", short="data loading", scope="context",
             keeps=("idle", "gil"), matches=(
        Match(python=r"^torch/utils/data/_utils/worker\.py:_worker_loop$", detail="DataLoader worker"),
        Match(python=r"^torch/utils/data/_utils/fetch\.py:|^torch/utils/data/dataloader\.py:"
                     r"_SingleProcessDataLoaderIter\._next_data$", detail="DataLoader in the main process"),
        Match(python=r"^tensorflow/python/data/", detail="tf.data"))),
    # The main process waiting for (and unpickling) batches from its workers: waiting counts here.
    Category("data_wait", "waiting for DataLoader workers", "data", short="waiting for workers", scope="context", keeps=(), matches=(
        Match(python=r"^torch/utils/data/dataloader\.py:_MultiProcessingDataLoaderIter\."
                     r"(_next_data|_get_data|_try_get_data)$", detail="main process"),)),
    # ---- leaf: decided by the innermost frame that matches ---------------------------------------
    Category("cuda_sync", "CUDA synchronisation waits", "wait", short="CUDA sync", matches=(
        Match(functions=CUDA_SYNC_FUNCTIONS, detail="{lib}"),)),
    Category("cuda", "CUDA runtime/driver calls", "compute", short="CUDA", refined_by=("cuda_sync",), matches=(
        Match(libraries=CUDA_LIBRARIES, detail="{lib}"),
        Match(functions=r"^(cuda|cu)[A-Z][A-Za-z]+$|^c10::cuda::|^at::cuda::|^cublas|^cudnn", detail="{lib}"))),
    Category("gil", "waiting for the GIL", "wait", short="GIL wait", matches=(
        Match(functions=GIL_WAITS, caller=GIL_CALLERS, libraries=r"^lib(c|pthread)\b", detail="GIL"),)),
    Category("idle", "idle / sleeping / waiting", "wait", short="waiting", matches=(
        Match(functions=FILE_IO_FUNCTIONS, within=IPC_CALLERS, detail="inter-process wait"),
        Match(functions=WAIT_FUNCTIONS, detail="{name}"),
        Match(python=PYTHON_WAITS, detail="{name}"))),
    Category("threads_sync", "thread-pool sync / spin (OpenMP, BLAS pools)", "overhead", short="thread-pool sync", matches=(
        Match(libraries=r"^lib(gomp|iomp5|omp|tbb)\b", detail="{lib}"),
        Match(functions=r"^__kmp_|^gomp_|^GOMP_|^tbb::", detail="OpenMP/TBB runtime"),
        Match(functions=r"^(exec_blas(_async(_wait)?)?|blas_thread_server|inner_thread|exec_threads"
                        r"|blas_thread_init|legacy_exec)$", detail="OpenBLAS thread pool"),
        Match(functions=r"^mkl_serv_(lock|unlock|thread_yield|barrier)", detail="MKL thread pool"),
        Match(functions=r"^c10::ThreadPool::|^at::internal::_parallel_run|^std::thread::join",
              detail="framework thread pool"))),
    Category("blas", "native BLAS/LAPACK", "compute", short="BLAS", matches=(
        Match(libraries=r"openblas", detail="OpenBLAS"),
        Match(functions=r"_(kernel|itcopy|oncopy|incopy|otcopy|beta)_[A-Z][A-Z0-9]{2,}$", detail="OpenBLAS"),
        Match(libraries=r"^lib(mkl_|mkl)", detail="MKL"),
        Match(functions=r"^mkl_(blas|lapack)_|^MKL_", detail="MKL"),
        Match(libraries=r"^lib(blis|flame)", detail="BLIS"),
        Match(functions=r"^bli_", detail="BLIS"),
        Match(libraries=r"Accelerate|vecLib|^libBLAS\.dylib|^libLAPACK\.dylib", detail="Accelerate"),
        Match(libraries=r"^lib(c?blas|refblas|blas64|lapack|lapack64)[.-]", detail="reference BLAS"),
        Match(functions=r"^cblas_|^[sdcz](gemm|gemv|syrk|trsm|axpy|dot|getrf|potrf|gesdd|syevd)_?$",
              detail="BLAS ({lib})"))),
    Category("onednn", "oneDNN / MKL-DNN", "compute", short="oneDNN", matches=(
        Match(libraries=r"^lib(dnnl|mkldnn|zendnn)", detail="{lib}"),
        Match(functions=r"^dnnl[_:]|^mkldnn|^ideep::|^zendnn|jit_(avx|uni|sse|brgemm)|brgemm", detail="oneDNN"))),
    Category("framework_dispatch", "framework dispatch and Python binding overhead", "overhead", short="dispatch", matches=(
        Match(functions=r"^(c10::Dispatcher|c10::impl::|c10::OperatorHandle|at::_ops::|torch::autograd::"
                        r"|torch::PythonArgParser|torch::PythonArgs|THPVariable_|THPFunction|pybind11::"
                        r"|torch::utils::|torch::jit::|c10::TensorImpl|c10::intrusive_ptr|c10::detail::"
                        r"|at::TensorIteratorBase::(build|compute|mark|populate)|at::native::empty|c10::alloc"
                        r"|c10::StorageImpl|c10::SymInt|at::TensorBase::|c10::TensorOptions)",
              detail="torch dispatch"),
        Match(functions=r"^tensorflow::(EagerExecutor|EagerOperation|EagerContext|TFE_)|^TFE_|^pybind11::",
              detail="tensorflow eager dispatch"))),
    Category("framework", "framework native code (libtorch, TF, XLA)", "compute", short="framework native", matches=(
        Match(libraries=r"^lib(torch|c10|shm|caffe2)|^_C\.|libtensorflow|_pywrap_tensorflow|^libxla|xla_extension"
                        r"|^libjax|jaxlib|^libtpu", detail="{lib}"),
        Match(functions=r"^at::|^torch::|^c10::|^tensorflow::|^xla::|^Eigen::|^tsl::", detail="{lib}"))),
    Category("data_io", "data loading (DataLoader workers, decoding, file I/O)", "data", short="I/O or decoding", matches=(
        Match(functions=FILE_IO_FUNCTIONS, detail="file I/O"),
        Match(libraries=r"^lib(jpeg|turbojpeg|png|webp|tiff|avcodec|avformat|swscale|sndfile|nvjpeg|opencv_imgcodecs)"
                        r"|^_imaging|^_webp", detail="decoding"),
        Match(functions=r"^(jpeg_|jsimd_|decode_mcu|png_|ImagingDecode|WebPDecode|avcodec_|cv::imdecode|cv::imread)",
              detail="decoding"),
        Match(python=r"^PIL/.*:(Image\.open|Image\.load|ImageFile\.load|open)$|^torchvision/io/",
              detail="decoding"))),
    Category("python", "Python interpreter", "overhead", short="Python", matches=(
        Match(libraries=r"^libpython|^python[0-9.]*$", functions=r"^gc_|^_PyObject_GC|^collect", detail="garbage collector"),
        Match(python=r".", detail="Python code"),
        Match(libraries=r"^libpython|^python[0-9.]*$", detail="interpreter (C)", fallback=True))),
    Category("native_other", "other native code (numpy loops, extensions, libc)", "compute", short="other native", matches=(
        Match(libraries=r".", detail="{lib}", fallback=True),)),
)

# Libraries whose named frames never decide a sample by themselves: the caller says on whose behalf
# they run (memcpy under OpenBLAS is BLAS, under numpy's loops it is numpy).
TRANSPARENT_LIBRARIES = re.compile(r"^(libc|libpthread|ld-linux[\w-]*|ld-musl[\w-]*|libm|libdl|librt|libgcc_s"
                                   r"|libstdc\+\+|libc\+\+|libc\+\+abi|libutil)[.-]|^\[vdso\]$|^\?$"
                                   r"|^libpython|^python[0-9.]*$")
# data_io is the leaf face of the data_loading category: both are reported as data_loading.
REPORTED_AS = {"data_io": "data_loading", "data_wait": "data_loading"}

BY_ID = {c.id: c for c in CATEGORIES}
REPORTED = [c for c in CATEGORIES if c.id not in REPORTED_AS]    # the categories a profile shows
LABELS = {c.id: c.label for c in REPORTED}
GROUPS = {c.id: c.group for c in REPORTED}
MATH = ("blas", "onednn", "framework", "cuda", "native_other")   # where a model's math runs
