"""Every sample gets the category of what it was doing: checked on captured py-spy output of real programs
(tests/profile/data, see builders.py) and on stacks made of captured or documented frame names."""
from __future__ import annotations

import pytest

from stackprof.profile import categories as table
from stackprof.profile.attribute import add_up, classify
from stackprof.profile.collapsed import parse_line, read_stacks

from . import builders as b


def totals(name: str):
    stacks, bad = read_stacks(b.DATA / f"{name}.collapsedstack.txt")
    assert bad == 0
    return add_up(stacks, b.root_pid(stacks))


def main_work(t) -> dict:
    """Category shares of the root process's main thread, start-up (imports) left out."""
    key = next(k for k in t.threads if str(k[0]) == str(k[1]))        # the root process's main thread
    cats = {c: n for c, n in t.threads[key].categories.items() if c != "startup"}
    return {c: n / sum(cats.values()) for c, n in cats.items()}


def test_numpy_matmul_spends_most_of_its_time_in_the_named_openblas_with_its_kernel():
    t = totals("matmul")
    shares = main_work(t)
    in_openblas = t.all.details["blas"]["OpenBLAS"] + t.all.details.get("threads_sync", {}).get("OpenBLAS thread pool", 0)
    busy = t.all.samples - t.all.categories["startup"]
    assert in_openblas / busy > 0.5                                  # kernels + OpenBLAS's own pool sync
    assert shares["blas"] > shares.get("python", 0)
    assert set(t.all.kernels["blas"]) == {"SKYLAKEX"}                # from dgemm_kernel_SKYLAKEX
    assert all("openblas" in lib for lib in t.all.libraries["blas"])


def test_pure_python_is_interpreter_time():
    assert main_work(totals("pure_python")).get("python", 0) > 0.9


def test_a_sleeping_program_is_idle():
    t = totals("sleeper")
    assert main_work(t).get("idle", 0) > 0.9
    assert t.all.details["idle"].most_common(1)[0][0] == "clock_nanosleep"


def test_threads_competing_for_the_gil_wait_for_it():
    t = totals("gil_threads")
    spinners = [k for k in t.threads if str(t.thread_names.get(k, "")).startswith("spin")]
    assert len(spinners) == 3
    gil = sum(t.threads[k].categories["gil"] for k in spinners)
    assert gil / sum(t.threads[k].samples for k in spinners) > 0.3     # 3 threads, one GIL
    main = next(k for k in t.threads if str(k[0]) == str(k[1]))
    assert t.threads[main].categories.most_common(1)[0][0] == "idle"   # Thread.join


def test_dataloader_work_is_data_loading_in_the_worker_processes():
    t = totals("dataloader")
    assert len(t.workers) == 2
    for pid in t.workers:
        busy = {c: n for c, n in t.processes[pid].categories.items() if c not in ("idle", "gil")}
        assert busy["data_loading"] / sum(busy.values()) > 0.8
    main = t.threads[(b.root_pid(read_stacks(b.DATA / "dataloader.collapsedstack.txt")[0]),) * 2]
    assert main.details["data_loading"].most_common(1)[0][0] == "main process · waiting"
    assert not any(c in main.categories for c in ("blas", "onednn", "framework"))


# ---- constructed stacks of captured / documented frame names, one per category ---------------------

CASES = [
    # (stack body under the main thread, category, detail or None)
    (b.OPENBLAS, "blas", "OpenBLAS"),
    ("f (m.py:1);cblas_sgemm (libopenblas.so.0);sgemm_kernel_HASWELL (libopenblas.so.0);0x7f01 (libc.so.6)",
     "blas", "OpenBLAS"),
    ("f (m.py:1);mkl_blas_avx512_sgemm_kernel_0 (libmkl_avx512.so.2)", "blas", "MKL"),
    ("f (m.py:1);at::native::cpublas::gemm (libtorch_cpu.so);mkl_blas_avx2_dgemm_kernel_0 (libtorch_cpu.so)",
     "blas", "MKL"),
    ("f (m.py:1);bli_dgemm_haswell_asm_6x8 (libblis.so.4)", "blas", "BLIS"),
    (b.REFBLAS, "blas", "reference BLAS"),
    ("f (m.py:1);dgemm_ (libblas.so.3);dgemm_kernel_SKYLAKEX (libblas.so.3)", "blas", "OpenBLAS"),
    ("f (m.py:1);inner_thread (libopenblas.so.0)", "threads_sync", "OpenBLAS thread pool"),
    (b.GOMP_SPIN, "threads_sync", "libgomp.so.1"),
    ("f (m.py:1);__kmp_wait_template (libiomp5.so)", "threads_sync", "libiomp5.so"),
    ("conv (m.py:1);dnnl::impl::cpu::x64::brgemm_convolution_fwd_t::execute (libtorch_cpu.so);0x7f0100 (?)",
     "onednn", "oneDNN"),
    (b.DISPATCH, "framework_dispatch", "torch dispatch"),
    (b.KERNEL, "framework", "libtorch_cpu.so"),
    ("f (m.py:1);tensorflow::BinaryOp::Compute (libtensorflow_framework.so.2)", "framework", None),
    (b.CUDA_SYNC, "cuda_sync", None),
    (b.CUDA_LAUNCH, "cuda", "libcuda.so.1"),                    # the driver, under cudaLaunchKernel
    ("f (m.py:1);0x7f00aa003000 (libcuda.so.1)", "cuda", "libcuda.so.1"),
    ("f (m.py:1);cudaDeviceSynchronize (libcudart.so.12)", "cuda_sync", None),
    ("f (m.py:1);pthread_cond_timedwait (libc.so.6);0x7f57b02a3f16 (libc.so.6)", "gil", "GIL"),
    ("f (m.py:1);time_sleep (libpython3.11.so.1.0);clock_nanosleep (libc.so.6)", "idle", "clock_nanosleep"),
    ("f (m.py:1);lock_PyThread_acquire_lock (libpython3.11.so.1.0);pthread_cond_timedwait (libc.so.6)", "idle", None),
    ("Event.wait (threading.py:629)", "idle", "threading.py:Event.wait"),
    ("Connection._recv (multiprocessing/connection.py:395);os_read (libpython3.11.so.1.0);read (libc.so.6)",
     "idle", "inter-process wait"),
    ("load (data.py:3);FileIO.readall (<frozen io>:1);_io_FileIO_readall (libpython3.11.so.1.0);read (libc.so.6)",
     "data_loading", "file I/O"),
    ("load (data.py:3);ImageFile.load (PIL/ImageFile.py:290);decode_mcu (libjpeg.so.62)", "data_loading", "decoding"),
    ("__getitem__ (ds.py:9);_worker_loop (torch/utils/data/_utils/worker.py:349)", "data_loading", None),
    (b.DATA_WAIT, "data_loading", "main process · waiting"),
    ("<module> (m.py:1);_find_and_load (<frozen importlib._bootstrap>:1176);dlopen (libc.so.6)", "startup", None),
    ("f (m.py:1);gc_collect_main (libpython3.11.so.1.0)", "python", "garbage collector"),
    ("f (m.py:1);memcpy (libc.so.6)", "python", "Python code"),
    ("f (m.py:1);npy_add_loop (_multiarray_umath.cpython-311-x86_64-linux-gnu.so)", "native_other",
     "_multiarray_umath.cpython-311-x86_64-linux-gnu.so"),
    ("thread (4242): MainThread;0x7f0001 (libc.so.6)", "native_other", "unresolved native code"),
]


@pytest.mark.parametrize("body, category, detail", CASES, ids=[f"{c[1]}-{i}" for i, c in enumerate(CASES)])
def test_constructed_stack_gets_its_category(body, category, detail):
    stack = parse_line(f"{body} 1" if body.startswith("thread ") else b.stack(body, 1))
    verdict = classify(stack.frames)
    assert verdict.category == category, verdict
    if detail is not None:
        assert verdict.detail == detail, verdict


def test_the_worker_loop_stack_order_does_not_matter_for_context():
    """Context categories look at every frame; a worker's idle wait stays idle (the worker has no work)."""
    waiting = "_worker_loop (torch/utils/data/_utils/worker.py:349);Queue.get (multiprocessing/queues.py:113)" \
              ";poll (libc.so.6)"
    assert classify(parse_line(b.stack(waiting, 1)).frames).category == "idle"


def test_kernel_names_from_frames():
    assert classify(parse_line(b.stack(b.OPENBLAS, 1)).frames).kernel == "HASWELL"
    mkl = "f (m.py:1);mkl_blas_avx512_sgemm_kernel_0 (libmkl_avx512.so.2)"
    assert classify(parse_line(b.stack(mkl, 1)).frames).kernel == "avx512"


def test_every_reported_category_is_exercised_by_a_case():
    """A new category is one entry in categories.py — and one case here."""
    covered = {c[1] for c in CASES}
    assert covered == {c.id for c in table.REPORTED}


def test_cuda_names_are_real_api_names():
    """No GPU here: the CUDA entries are keyed on the runtime/driver API's documented names."""
    import re
    for name in ("cudaStreamSynchronize", "cudaDeviceSynchronize", "cudaEventSynchronize", "cuStreamSynchronize",
                 "cuCtxSynchronize", "cudaMemcpy"):
        assert re.search(table.CUDA_SYNC_FUNCTIONS, name), name
    for lib in ("libcudart.so.12", "libcuda.so.1", "libcublas.so.12", "libcublasLt.so.12", "libcudnn.so.9",
                "libnccl.so.2", "libtorch_cuda.so", "libc10_cuda.so"):
        assert re.search(table.CUDA_LIBRARIES, lib), lib
    assert not re.search(table.CUDA_LIBRARIES, "libc.so.6")
