"""Launch the per-rank side on this machine with the target interpreter's own torchrun (host side).

    <python> -m torch.distributed.run --standalone --nproc-per-node N --max-restarts 0 \
        <stackprof/dist/__main__.py> <rank options> --no-merge

The rank entry is started as a script (it loads its folder under a synthetic package name), so the
environment measured needs nothing of stackprof installed. While torchrun runs, the ranks' status
files are polled for progress; torchrun's failure summary tells how each failed rank ended. The
whole launch has a limit; past it, torchrun and its ranks are stopped and what they wrote is kept.
"""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import threading
import time
from collections import deque
from pathlib import Path

from stackprof.dist import outdir
from stackprof.errors import StackprofError
from stackprof.target import Target

RANK_SCRIPT = Path(__file__).resolve().parent / "__main__.py"
PREFLIGHT = r"""
import json, sys
out = {"python": sys.version.split()[0]}
try:
    import torch
    out["torch"] = torch.__version__
    import torch.distributed as dist
    out["distributed"] = dist.is_available()
    if out["distributed"]:
        out["gloo"] = dist.is_gloo_available()
        out["nccl"] = dist.is_nccl_available()
    import importlib.util
    out["torchrun"] = importlib.util.find_spec("torch.distributed.run") is not None
    out["cuda_devices"] = torch.cuda.device_count() if torch.cuda.is_available() else 0
    out["cuda_build"] = torch.version.cuda
except Exception as exc:
    out["error"] = "%s: %s" % (type(exc).__name__, exc)
print(json.dumps(out))
"""


def preflight(target: Target) -> dict:
    """What the target's torch can do; one clear line when it cannot run a distributed job at all."""
    try:
        done = subprocess.run([target.executable, "-c", PREFLIGHT], capture_output=True, text=True, timeout=120)
        info = json.loads(done.stdout.strip().splitlines()[-1])
    except (subprocess.TimeoutExpired, ValueError, IndexError, OSError) as exc:
        raise StackprofError(f"{target.executable}: could not ask torch what it supports ({exc.__class__.__name__})")
    if info.get("error"):
        raise StackprofError(f"{target.executable}: torch cannot be imported ({info['error'][:200]}); "
                             "stackprof dist needs torch in the environment measured")
    if not info.get("distributed"):
        raise StackprofError(f"torch {info.get('torch')} in {target.executable} was built without torch.distributed")
    if not info.get("torchrun"):
        raise StackprofError(f"torch {info.get('torch')} in {target.executable} has no torch.distributed.run "
                             "(torchrun); it needs torch >= 1.10")
    return info


def check_backend(info: dict, backend: str, device: str) -> None:
    """The same refusals as the ranks' (rank.choose_backend / choose_device), once, before launching."""
    torch = info.get("torch")
    if backend == "nccl" and not info.get("nccl"):
        raise StackprofError(f"backend nccl is not available in torch {torch} (no NCCL in this build); "
                             "use --backend gloo")
    if device == "cuda" and not info.get("cuda_devices"):
        why = "a CPU-only build" if not info.get("cuda_build") else "no CUDA device visible"
        raise StackprofError(f"--device cuda: torch {torch} has no CUDA device ({why})")
    if backend == "nccl" and device == "cpu":
        raise StackprofError("backend nccl needs CUDA devices; --device cpu measures the CPU (use gloo)")
    if backend == "gloo" and not info.get("gloo"):
        raise StackprofError(f"backend gloo is not available in torch {torch}")


def choose_nproc(requested: int | None, info: dict) -> int:
    if requested:
        return requested
    return info.get("cuda_devices") or 2


def command(target: Target, nproc: int, rank_args: list[str]) -> list[str]:
    return [target.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(nproc),
            "--max-restarts", "0", str(RANK_SCRIPT), *rank_args, "--no-merge", "--launcher", "stackprof dist"]


class Launch:
    """torchrun running in its own session; progress from the ranks' status files."""

    def __init__(self, cmd: list[str], root: Path, nproc: int, limit_s: float, echo):
        self.cmd, self.root, self.nproc, self.limit_s, self.echo = cmd, root, nproc, limit_s, echo
        self.tail: deque[str] = deque(maxlen=400)
        self.seen: dict[int, tuple] = {}
        self.stopped_for: str | None = None

    def run(self) -> dict:
        started = time.monotonic()
        proc = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, errors="replace", start_new_session=True)
        reader = threading.Thread(target=self._read, args=(proc,), daemon=True)
        reader.start()
        try:
            while proc.poll() is None:
                self._progress()
                if time.monotonic() - started > self.limit_s:
                    self.stopped_for = f"the ranks ran past the limit of {self.limit_s:.0f} s"
                    self.echo(f"{self.stopped_for}: stopping torchrun")
                    stop(proc)
                    break
                time.sleep(0.5)
        except KeyboardInterrupt:
            self.stopped_for = "interrupted"
            stop(proc)
            raise
        finally:
            if proc.poll() is None:
                stop(proc)
            reader.join(timeout=5)
            self._progress()
        return {"returncode": proc.returncode, "exits": parse_failures("\n".join(self.tail)),
                "elapsed_s": round(time.monotonic() - started, 3), "stopped": self.stopped_for,
                "log_tail": list(self.tail)[-40:]}

    def _read(self, proc: subprocess.Popen) -> None:
        for line in proc.stdout:
            line = line.rstrip("\n")
            self.tail.append(line)
            if line.startswith("stackprof.dist:"):
                self.echo(line[len("stackprof.dist:"):].strip())

    def _progress(self) -> None:
        for rank in range(self.nproc):
            status = outdir.read_json(Path(outdir.rank_dir(str(self.root), rank)) / "status.json") or {}
            key = (status.get("state"), status.get("phase"))
            if status and key != self.seen.get(rank):
                self.seen[rank] = key
                if rank and self.nproc > 8 and status.get("state") in ("running", "done"):
                    continue                # many ranks: rank 0's progress and every failure only
                text = status.get("phase") if status.get("state") == "running" else status.get("state")
                if status.get("error"):
                    text += f": {status['error']}"
                self.echo(f"rank {rank}: {text}")


def stop(proc: subprocess.Popen) -> None:
    """SIGTERM to torchrun's whole session (it forwards to the ranks), SIGKILL if it lingers."""
    for sig, wait in ((signal.SIGTERM, 30), (signal.SIGKILL, 10)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


# torchrun's summary of a failed job: "rank : 1 (local_rank: 1)" then "exitcode : -9 (pid: 123)"
_FAILURE = re.compile(r"rank\s*:\s*(\d+)\s*\(local_rank:\s*\d+\)\s*\n\s*exitcode\s*:\s*(-?\d+)")


def parse_failures(text: str) -> dict[int, dict]:
    exits = {}
    for rank, code in _FAILURE.findall(text):
        code = int(code)
        info = {"code": code}
        if code < 0:
            try:
                info["signal"] = signal.Signals(-code).name
            except ValueError:
                info["signal"] = f"signal {-code}"
        exits[int(rank)] = info
    return exits


def limit_for(mode: str, nproc: int, timeout_s: float, collective_cases: int, device_cases: int) -> float:
    """A generous bound on a healthy launch: start-up, per-rank facts, the per-device benchmarks (in
    turns when ranks share the CPU), every collective at its budget several times over, the timeout."""
    from stackprof.dist import plan
    per_case = plan.CASE_BUDGET_S[mode] * 6 + 2
    per_collective = plan.COLLECTIVE_BUDGET_S[mode] * 6 + 1
    return 120 + 2 * timeout_s + nproc * device_cases * per_case + collective_cases * per_collective
