"""Profile sections built by the real code (collapsed -> attribute -> summarize) from captured py-spy output.

tests/profile/data/*.collapsedstack.txt were recorded on this project's 2-core AMD EPYC (Zen 4) VM with
`py-spy 0.4.3 record --native --idle --threads` (dataloader: also --subprocesses) through
stackprof.profile.record, running tests/profile/programs/<name>.py 2 (about 2 s of work each;
numpy 2.4.6 with its bundled OpenBLAS 0.3.31, torch 2.13.0+cpu, CPython 3.11). The machine was shared:
other jobs loaded its CPUs while some were recorded (matmul's main thread waits a lot for its
OpenBLAS worker). CUDA stacks are constructed from the public CUDA API names: no GPU was available.
"""
from __future__ import annotations

from pathlib import Path

from stackprof.profile.attribute import add_up
from stackprof.profile.collapsed import parse_line, read_stacks
from stackprof.profile.record import Recording
from stackprof.profile.summarize import build
from stackprof.profile.threads import ThreadCpu

DATA = Path(__file__).resolve().parent / "data"
PROGRAMS = Path(__file__).resolve().parent / "programs"
ARGS = ["py-spy", "record", "--pid", "1", "--format", "raw", "--threads", "--output", "x", "--rate", "100",
        "--native", "--idle"]


def root_pid(stacks) -> int | None:
    for stack in stacks:
        if stack.processes:
            return stack.processes[0][0]
    for stack in stacks:
        if stack.thread_name == "MainThread" and stack.tid.isdigit():
            return int(stack.tid)
    return next((int(s.tid) for s in stacks if s.tid.isdigit()), None)


def recording(raw: Path | None, pid: int | None, wall_s: float = 2.2, **fields) -> Recording:
    """A Recording as record.Recorder leaves it, for a raw file captured earlier (no py-spy run here)."""
    rec = Recording(mode="launch", pid=pid, command=["python", "program.py"], raw_path=raw, exit_status=0,
                    wall_s=wall_s, started_utc="2026-11-30T10:00:00Z", native=True,
                    pyspy={"version": "0.4.3", "args": list(ARGS), "errors_reported": 0},
                    threads=ThreadCpu(False, "not measured (built from a captured file)"))
    for key, value in fields.items():
        setattr(rec, key, value)
    return rec


def section_from_stacks(stacks, environment: dict | None = None, wall_s: float = 2.2, **fields) -> dict:
    pid = root_pid(stacks)
    return build(recording(None, pid, wall_s, **fields), add_up(stacks, pid), environment or {})


def captured(name: str, environment: dict | None = None, **fields) -> dict:
    stacks, _ = read_stacks(DATA / f"{name}.collapsedstack.txt")
    return section_from_stacks(stacks, environment, **fields)


def from_lines(lines: list[str], environment: dict | None = None, **fields) -> dict:
    return section_from_stacks([s for s in (parse_line(line) for line in lines) if s], environment, **fields)


# Frame strings as py-spy --native writes them (captured here), for constructed stacks.
MAIN = "thread (4242): MainThread;<module> (train.py:40)"
OPENBLAS = "dgemm_kernel_HASWELL (libscipy_openblas64_-32a4b2a6.so)"
REFBLAS = "dgemm_ (libblas.so.3)"
DISPATCH = ("forward (model.py:12);THPVariable_add (libtorch_python.so);at::_ops::add_Tensor::call (libtorch_cpu.so);"
            "c10::Dispatcher::callBoxed (libtorch_cpu.so)")
KERNEL = "forward (model.py:12);at::native::cpu_kernel_vec (libtorch_cpu.so)"
CUDA_SYNC = ("step (train.py:88);THPVariable_item (libtorch_python.so);at::native::_local_scalar_dense_cuda "
             "(libtorch_cuda.so);cudaStreamSynchronize (libcudart.so.12);0x7f00aa001000 (libcuda.so.1)")
CUDA_LAUNCH = "forward (model.py:12);cudaLaunchKernel (libcudart.so.12);0x7f00aa002000 (libcuda.so.1)"
DATA_WAIT = ("_BaseDataLoaderIter.__next__ (torch/utils/data/dataloader.py:725);"
             "_MultiProcessingDataLoaderIter._next_data (torch/utils/data/dataloader.py:1505);"
             "_MultiProcessingDataLoaderIter._get_data (torch/utils/data/dataloader.py:1464);"
             "_MultiProcessingDataLoaderIter._try_get_data (torch/utils/data/dataloader.py:1291);"
             "Queue.get (multiprocessing/queues.py:113);_ConnectionBase.poll (multiprocessing/connection.py:257);"
             "select_poll_poll (selectmodule.c.h:223);poll (libc.so.6)")
GOMP_SPIN = "forward (model.py:12);at::internal::invoke_parallel (libtorch_cpu.so);gomp_team_barrier_wait_end (libgomp.so.1)"


def stack(body: str, n: int, thread: str = MAIN) -> str:
    return f"{thread};{body} {n}"
