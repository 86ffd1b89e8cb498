"""Collectives through torch.distributed: all_reduce, all_gather, reduce_scatter, broadcast,
all_to_all and send/recv to the ring neighbour, on NCCL (GPUs) or gloo (CPU), timed as nccl-tests
times them and reported as algorithm bandwidth (value) with the bus-bandwidth factor beside it
(docs/collectives.md has every formula).

Sizes: `bytes` is S, the bytes of the whole logical array (nccl-tests' "size"): the buffer of
all_reduce, broadcast and send/recv; the gathered output of all_gather, the input of
reduce_scatter, the whole send buffer of all_to_all (each rank owns S/n of those). algbw = S / t.

Timing (every rank must make the same collective calls, or the job hangs): the harness makes the
first call and checks it; its own estimate and warm-up loops, which depend on each rank's clock and
CPU quota, find the collective disarmed (a call returns the last output without communicating). The
LockstepTimer then does the measuring: the ranks agree on a per-call estimate (the slowest rank's),
and from it on one warm-up count, one number of calls per timed block (at least MIN_BLOCK_S, or the
harness's sustained block when any rank runs under a CPU quota) and one number of blocks. Each block
starts with a host barrier and ends with a device synchronisation; its time is the slowest rank's
(nccl-tests reports the average over ranks by default; the slowest is what the job waits for). Each
rank's own block times are kept too (params.per_rank_median_s).
all_reduce works in place and SUM grows the values n-fold per call: the buffer is refilled outside
the timed region before each block, and a block holds at most as many calls as keep fp32 far from
overflow (params.calls_cap).

Correctness: rank r contributes base * (r + 1) (base: random in [0.5, 1.5), the same on every
rank), so every output element has a known value; each rank checks a sample of its output and
the ranks pool their samples, so that every rank reaches the same verdict.

Task args (run through the agent, e.g. by verify's re-run): {"framework": "torch", "device":
"cpu"|"cuda", "backend": "gloo"|"nccl", "nproc": 2, "budget_s": 0.2, "timeout_s": 60, "cases": [...]}:
the probe launches `torch.distributed.run --standalone` with nproc workers of this interpreter.
Case: {"op": "all_reduce", "bytes": 1048576, "dtype": "fp32", "ranks": 2, "backend": "gloo"}.
Standard library + torch; Python 3.8 syntax.
"""
import datetime
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import time

from .. import harness
from ..facts._secrets import looks_secret

OPS = ("all_reduce", "all_gather", "reduce_scatter", "broadcast", "all_to_all", "send_recv")
SPLIT = ("all_gather", "reduce_scatter", "all_to_all")      # each rank owns S / n of the array
ITEMSIZE = {"fp32": 4, "fp64": 8, "bf16": 2, "fp16": 2}
METHOD = {"name": "stackprof.collectives", "version": "1",
          "timing": "host barrier, calls per block, device sync; slowest rank per block"}
MIN_REPS = 5
MIN_BLOCK_S = 0.005            # several calls per block, as nccl-tests times 20: one call is scheduling noise
ESTIMATE_CALLS = 3
MAX_REPS = 200
WARMUP_SHARE = 0.2
MAX_WARMUP_CALLS = 200
SAMPLE = 256                     # output elements each rank checks
GROWTH_LIMIT = {"fp32": 1e30, "fp64": 1e300, "bf16": 1e30, "fp16": 3e4}
# The variables that choose transports and tune the collectives (recorded with every record; a value
# that looks like a secret is dropped, as the env_vars probe drops it).
TRANSPORT_PREFIXES = ("NCCL_", "GLOO_", "TP_", "TORCH_NCCL_", "TORCH_GLOO_", "TORCH_DISTRIBUTED_", "UCX_", "FI_",
                      "CUDA_VISIBLE_DEVICES")
BOOT = ("import importlib, importlib.util, os, sys\n"
        "root = sys.argv[1]\n"
        "spec = importlib.util.spec_from_file_location('_stackprof_probes', os.path.join(root, '__init__.py'),"
        " submodule_search_locations=[root])\n"
        "pkg = importlib.util.module_from_spec(spec); sys.modules['_stackprof_probes'] = pkg\n"
        "spec.loader.exec_module(pkg)\n"
        "sys.exit(importlib.import_module('_stackprof_probes.bench.collectives').worker(sys.argv[2]))\n")


def busbw_factor(op, n):
    """nccl-tests' bus-bandwidth factor (doc/PERFORMANCE.md): busbw = algbw * factor."""
    if op == "all_reduce":
        return 2.0 * (n - 1) / n
    if op in SPLIT:
        return (n - 1) / float(n)
    return 1.0                   # broadcast, send/recv: the one link of the root / the pair


def array_bytes(op, size, n, itemsize):
    """S rounded down so that every rank owns a whole number of elements (at least one)."""
    unit = itemsize * (n if op in SPLIT else 1)
    return max(unit, int(size) // unit * unit)


def describe(framework, device, case):
    op, dtype, n = case["op"], case.get("dtype", "fp32"), int(case.get("ranks") or 1)
    backend = case.get("backend") or ("nccl" if str(device).startswith("cuda") else "gloo")
    size = array_bytes(op, case["bytes"], n, ITEMSIZE[dtype])
    return {
        "op": op, "framework": framework, "device": device, "dtype": dtype,
        "shape": {"bytes": size, "ranks": n}, "shape_text": "%dB_n%d" % (size, n), "variant": backend,
        "unit": "GB/s", "direction": "higher", "flops": None, "bytes": float(size),
        "params": {"backend": backend, "ranks": n, "busbw_factor": busbw_factor(op, n),
                   "bytes_per_rank": size // n if op in SPLIT else size, "collective_method": dict(METHOD)},
    }


# ---- the world: the data group, a gloo control group, agreement helpers ----------------------------

class World(object):
    """This rank's view of the job: `group` carries the measured collectives; `ctrl` (gloo, CPU
    tensors) carries barriers and agreements, so they never mix with the measured traffic."""

    def __init__(self, torch, dist, backend, timeout_s, device):
        self.torch, self.dist, self.backend, self.timeout_s = torch, dist, backend, float(timeout_s)
        self.device = device
        self.rank, self.size = dist.get_rank(), dist.get_world_size()
        self.group = dist.group.WORLD
        self.ctrl = dist.new_group(backend="gloo", timeout=datetime.timedelta(seconds=self.timeout_s)) \
            if backend != "gloo" else self.group

    def barrier(self):
        self.dist.barrier(group=self.ctrl)

    def max(self, value):
        t = self.torch.tensor([float(value)], dtype=self.torch.float64)
        self.dist.all_reduce(t, op=self.dist.ReduceOp.MAX, group=self.ctrl)
        return float(t.item())

    def all_floats(self, values):
        """Every rank's list of floats (all the same length), in rank order."""
        t = self.torch.tensor([float(v) for v in values], dtype=self.torch.float64)
        out = [self.torch.empty_like(t) for _ in range(self.size)]
        self.dist.all_gather(out, t, group=self.ctrl)
        return [o.tolist() for o in out]

    def all_objects(self, obj):
        out = [None] * self.size
        self.dist.all_gather_object(out, obj, group=self.ctrl)
        return out

    def sync(self):
        if self.device.type == "cuda":
            self.torch.cuda.synchronize(self.device)


def join(torch, dist, backend, timeout_s, device):
    """Join the job's process group (env:// — torchrun's variables) with a stated timeout."""
    if device.type == "cuda":
        torch.cuda.set_device(device)
    dist.init_process_group(backend=backend, timeout=datetime.timedelta(seconds=float(timeout_s)))
    return World(torch, dist, backend, timeout_s, device)


# ---- one case ---------------------------------------------------------------------------------------

class Gate(object):
    """The collective as the harness sees it: armed for the first (checked) call and inside the
    LockstepTimer's blocks; disarmed in between, when a call returns the last output unchanged."""

    def __init__(self, call):
        self.call, self.armed, self.output, self.calls = call, True, None, 0

    def __call__(self):
        if self.armed:
            self.output = self.call()
            self.calls += 1
        return self.output


class LockstepTimer(object):
    """harness timer for collectives: every decision that sets a number of calls is agreed between
    the ranks. Fills inner / reps / warmup_calls / per_rank / sustained for the record."""
    name = "barrier+perf_counter, slowest rank"

    def __init__(self, world, gate, budget_s, calls_cap):
        self.world, self.gate, self.budget_s = world, gate, float(budget_s)
        self.calls_cap = max(1, int(calls_cap))
        self.inner = self.reps = self.warmup_calls = 0
        self.per_rank, self.sustained_s = [], None

    def sync(self):
        self.world.sync()

    def blocks(self, _fn, _inner, _reps, before):
        world, refill, gate = self.world, before or (lambda: None), self.gate
        gate.armed = True
        try:
            return self._blocks(world, refill, gate)
        finally:
            gate.armed = False

    def _blocks(self, world, refill, fn):
        sustain = world.max(getattr(harness, "sustained_block_s", lambda: None)() or 0.0)   # any rank under a quota
        self.sustained_s = sustain or None
        min_block = max(MIN_BLOCK_S, sustain)
        world.barrier()                                 # every rank has arrived
        start = time.perf_counter()
        refill()
        world.sync()
        world.barrier()
        overhead = time.perf_counter() - start          # what each block costs besides its calls
        times = []
        for _ in range(ESTIMATE_CALLS):                 # the median of a few: one call can be a stall
            start = time.perf_counter()
            fn()
            world.sync()
            times.append(time.perf_counter() - start)
        per_call, overhead = world.max(_median(times)), world.max(overhead)
        per_call = max(per_call, 1e-7)
        inner = max(1, min(self.calls_cap, int(math.ceil(min_block / per_call))))
        warm = max(1, min(MAX_WARMUP_CALLS, int(math.ceil(max(self.budget_s * WARMUP_SHARE, sustain) / per_call))))
        reps = int(self.budget_s * (1 - WARMUP_SHARE) / (per_call * inner + overhead))
        reps = max(MIN_REPS, min(MAX_REPS, reps))
        done = 0
        while done < warm:
            refill()
            chunk = min(self.calls_cap, warm - done)
            for _ in range(chunk):
                fn()
            done += chunk
        world.sync()
        local = []
        for _ in range(reps):
            refill()
            world.sync()
            world.barrier()
            start = time.perf_counter()
            for _ in range(inner):
                fn()
            world.sync()
            local.append((time.perf_counter() - start) / inner)
        self.per_rank = world.all_floats(local)
        self.inner, self.reps, self.warmup_calls = inner, reps, warm + ESTIMATE_CALLS
        return [max(column) for column in zip(*self.per_rank)]


def calls_cap(op, dtype, n):
    """all_reduce SUM multiplies the values by n per call: calls between refills that keep them finite."""
    if op != "all_reduce" or n < 2:
        return 1000
    first = 1.5 * n * (n + 1) / 2.0                 # largest value after the first call
    return max(1, int(math.log(GROWTH_LIMIT[dtype] / first) / math.log(n)))


def prepare(world, case, record, budget_s):
    """Buffers, the call and its check; every rank learns whether every other could prepare."""
    torch = world.torch
    made, problem = None, None
    try:
        made = _buffers(world, case, record)
    except harness.Skip as exc:
        problem = ("skip", str(exc))
    except Exception as exc:          # out of memory on one rank must not leave the others waiting
        problem = ("skip" if harness.is_out_of_memory(exc) else "fail", harness.describe_error(exc))
    verdicts = world.all_objects(problem)
    bad = [(rank, p) for rank, p in enumerate(verdicts) if p is not None]
    if bad:
        rank, (kind, why) = bad[0]
        text = why if all(p == bad[0][1] for _, p in bad) else "rank %d: %s" % (rank, why)
        if kind == "skip":
            raise harness.Skip(text)
        raise RuntimeError(text)
    fn, indices, expected, before = made
    cap = calls_cap(case["op"], case.get("dtype", "fp32"), world.size)
    record["params"]["calls_cap"] = cap

    gate = Gate(fn)

    def check(out):
        gate.armed = False                  # the harness's own loops from here on are not collectives
        world.sync()
        got = out.flatten().index_select(0, torch.tensor(indices, device=out.device)).double().tolist()
        pooled = world.all_objects((got, expected))       # every rank judges all ranks' samples
        return [v for g, _ in pooled for v in g], [v for _, e in pooled for v in e]

    return harness.Kernel(gate, check, before=before, timer=LockstepTimer(world, gate, budget_s, cap))


def _buffers(world, case, record):
    """(fn, sampled output indices, their expected values, before) for this rank."""
    torch, dist = world.torch, world.dist
    op, dtype, n, r, dev = case["op"], case.get("dtype", "fp32"), world.size, world.rank, world.device
    if op not in OPS:
        raise harness.Skip("unknown collective '%s'" % op)
    if op == "send_recv" and n < 2:
        raise harness.Skip("send/recv needs at least 2 ranks")
    tdt = getattr(torch, {"fp32": "float32", "fp64": "float64", "bf16": "bfloat16", "fp16": "float16"}[dtype])
    size = record["shape"]["bytes"]
    total = size // ITEMSIZE[dtype]
    chunk = total // n if op in SPLIT else total
    _memory_room(torch, dev, size, n)
    gen = torch.Generator().manual_seed(20240 + total)           # the same base on every rank
    base = (torch.rand(chunk if op == "all_gather" else total, generator=gen) + 0.5).to(tdt)
    mine = (base * (r + 1)).to(dev)                             # rank r contributes base * (r + 1)
    indices = harness.sample_indices(chunk if op == "reduce_scatter" else total, SAMPLE, seed=7)
    expected = _expected(torch, base, [_terms(op, n, r, chunk, i) for i in indices])
    del base
    record["params"]["elements"] = total
    before = None
    if op == "all_reduce":
        pristine, buf = mine, mine.clone()

        def before():
            buf.copy_(pristine)

        def fn():
            dist.all_reduce(buf, group=world.group)
            return buf
    elif op == "broadcast":
        buf = mine.clone()
        root = dist.get_global_rank(world.group, 0) if hasattr(dist, "get_global_rank") else 0

        def fn():
            dist.broadcast(buf, src=root, group=world.group)
            return buf
    elif op in ("all_gather", "reduce_scatter"):
        out = torch.empty(total if op == "all_gather" else chunk, dtype=tdt, device=dev)
        names = ("all_gather_single", "all_gather_into_tensor") if op == "all_gather" else \
            ("reduce_scatter_single", "reduce_scatter_tensor")
        call = next(getattr(dist, name) for name in names if hasattr(dist, name))

        def fn():
            call(out, mine, group=world.group)
            return out
    elif op == "all_to_all":
        out = torch.empty(total, dtype=tdt, device=dev)

        def fn():
            dist.all_to_all_single(out, mine, group=world.group)
            return out
    else:
        out = torch.empty(total, dtype=tdt, device=dev)
        peer_next, peer_prev = (r + 1) % n, (r - 1) % n

        def fn():
            ops = [dist.P2POp(dist.isend, mine, peer_next, world.group),
                   dist.P2POp(dist.irecv, out, peer_prev, world.group)]
            for req in dist.batch_isend_irecv(ops):
                req.wait()
            return out
    return fn, indices, expected, before


def _terms(op, n, r, chunk, i):
    """The (rank k, base index) pairs whose base * (k + 1) sum to output element i of rank r."""
    if op == "all_reduce":
        return [(k, i) for k in range(n)]
    if op == "broadcast":
        return [(0, i)]
    if op == "all_gather":
        return [(i // chunk, i % chunk)]
    if op == "reduce_scatter":
        return [(k, r * chunk + i) for k in range(n)]
    if op == "all_to_all":
        return [(i // chunk, r * chunk + i % chunk)]
    return [((r - 1) % n, i)]                                     # send_recv: from the previous rank


def _expected(torch, base, terms_per_element):
    """Expected outputs in float64, each term rounded exactly as its rank computed it (base * (k + 1)
    in the collective's dtype); one vectorised product per contributing rank."""
    by_rank = {}
    for slot, terms in enumerate(terms_per_element):
        for k, b in terms:
            by_rank.setdefault(k, []).append((slot, b))
    sums = [0.0] * len(terms_per_element)
    for k, pairs in by_rank.items():
        picked = base.index_select(0, torch.tensor([b for _, b in pairs], dtype=torch.long))
        for (slot, _), value in zip(pairs, (picked * (k + 1)).double().tolist()):
            sums[slot] += value
    return sums


def _memory_room(torch, dev, size, n):
    """Three buffers of S must fit in half of what is free (a quarter on a shared host)."""
    need = 3 * size
    if dev.type == "cuda":
        free, _total = torch.cuda.mem_get_info(dev)
        if need > free // 2:
            raise harness.Skip("%d bytes need %d free on %s, %d are" % (size, need, dev, free))
        return
    free = _available_host_bytes()
    if free is not None and need > free // (2 * max(1, n)):
        raise harness.Skip("%d bytes x3 do not fit in the host's available memory (%d) shared by %d ranks"
                           % (size, free, n))


def _available_host_bytes():
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def measure(world, cases, device, budget_s, task_args=None, progress=None):
    """Yield one record per case; every rank of `world` must call this with the same cases.
    After a case fails (a peer died, a timeout) the process group cannot be trusted: the cases left
    come back failed without running."""
    broken = None
    for case in cases:
        case = dict(case, ranks=world.size, backend=world.backend)
        spec = describe("torch", device, case)
        record = harness.base_record(spec, "bench.collectives", dict(task_args or {}, cases=[case]))
        record["method"] = dict(record["method"], collective=dict(METHOD))
        record["params"]["nnodes"] = (task_args or {}).get("nnodes") or 1
        record["params"]["transport_env"] = transport_env()
        if progress is not None:
            progress(record["id"])
        if broken:
            record["status"], record["reason"] = "failed", "not run: " + broken
            yield record
            continue
        holder = {}

        def make_kernel(case=case, record=record):
            holder["kernel"] = prepare(world, case, record, budget_s)
            return holder["kernel"]
        # budget 0: the harness's own loops find the collective disarmed; the LockstepTimer measures.
        harness.run_case(record, make_kernel, 0.0)
        kernel = holder.get("kernel")
        if kernel is not None and record["status"] == "ok":
            timer = kernel.timer
            record["inner"] = timer.inner
            record["params"].update({"warmup_calls": timer.warmup_calls, "reps": timer.reps,
                                     "per_rank_median_s": [_median(s) for s in timer.per_rank],
                                     "timeout_s": world.timeout_s, "collective_calls": kernel.fn.calls})
            record["params"].pop("sustained", None)          # set by the harness on quota'd ranks only
            record["method"].pop("blocks", None)
            if timer.sustained_s:
                record["params"]["sustained"] = {"block_s": timer.sustained_s, "any_rank_under_quota": True}
                record["method"]["blocks"] = "sustained"
        if record["status"] == "failed" and record.get("check") is None:
            # an exception (a peer died, a timeout), not a wrong result: the group cannot be trusted
            broken = "%s failed on rank %d (%s); the process group may be unusable" % (
                record["id"], world.rank, record["reason"])
        yield record


def transport_env():
    return dict((k, v[:300]) for k, v in sorted(os.environ.items())
                if k.startswith(TRANSPORT_PREFIXES) and "TOKEN" not in k.upper() and not looks_secret(v))


def _median(values):
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2.0


# ---- the probe, run through the agent: launch torchrun workers of this interpreter ---------------------

def run(ctx, **args):
    """Launch `nproc` ranks with the interpreter's own torch.distributed.run and yield rank 0's
    records (the agent streams them). Used to re-measure collectives with a changed environment."""
    cases = args.get("cases") or []
    nproc = int(args.get("nproc") or (cases[0].get("ranks") if cases else 2) or 2)
    budget_s = float(args.get("budget_s", 0.2))
    timeout_s = float(args.get("timeout_s") or 60)
    seen, error = set(), None
    tmp = tempfile.mkdtemp(prefix="stackprof-collectives-")
    out_path = os.path.join(tmp, "records.jsonl")
    worker_args = dict(args, nproc=nproc, output=out_path)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(nproc),
           "--max-restarts", "0", "--no-python", sys.executable, "-c", BOOT, root, json.dumps(worker_args)]
    deadline = time.time() + 60 + timeout_s + len(cases) * (budget_s * 6 + 10)
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=sys.stderr, stderr=sys.stderr,
                            start_new_session=True)
    offset = 0
    try:
        while True:
            finished = proc.poll() is not None
            offset, records = _read_new(out_path, offset)
            for record in records:
                seen.add(record.get("id"))
                yield record
            if finished:
                if proc.returncode:
                    error = "torch.distributed.run exited with status %s" % proc.returncode
                break
            if time.time() > deadline:
                error = "the ranks did not finish within %.0f s" % (deadline - time.time() + 0)
                _kill(proc)
                break
            time.sleep(0.1)
    finally:
        if proc.poll() is None:
            _kill(proc)
        try:
            os.remove(out_path)
            os.rmdir(tmp)
        except OSError:
            pass
    for case in cases:
        spec = describe(args.get("framework", "torch"), args["device"], dict(case, ranks=nproc))
        record = harness.base_record(spec, "bench.collectives", dict(args, cases=[case]))
        if record["id"] not in seen:
            record["status"], record["reason"] = "failed", "not measured: %s" % (error or "no result from rank 0")
            yield record


def _read_new(path, offset):
    try:
        with open(path) as handle:
            handle.seek(offset)
            text = handle.read()
    except OSError:
        return offset, []
    complete = text[:text.rfind("\n") + 1]
    records = [json.loads(line) for line in complete.splitlines() if line.strip()]
    return offset + len(complete), records


def _kill(proc):
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
    except Exception:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except Exception:
            pass


def worker(args_json):
    """One rank started by run(): join, measure, rank 0 appends its records to args["output"]."""
    args = json.loads(args_json)
    try:
        import torch
        import torch.distributed as dist
    except Exception as exc:
        sys.stderr.write("stackprof collectives: cannot import torch.distributed: %s\n" % harness.describe_error(exc))
        return 2
    local = int(os.environ.get("LOCAL_RANK", "0"))
    device = torch.device("cuda", local % max(1, torch.cuda.device_count())) if args["device"].startswith("cuda") \
        else torch.device("cpu")
    backend = args.get("backend") or ("nccl" if device.type == "cuda" else "gloo")
    world = join(torch, dist, backend, float(args.get("timeout_s") or 60), device)
    failed = False
    task_args = {k: v for k, v in args.items() if k not in ("output", "cases")}
    for record in measure(world, args.get("cases") or [], args["device"], float(args.get("budget_s", 0.2)),
                          task_args):
        failed = failed or record["status"] == "failed"
        if world.rank == 0:
            with open(args["output"], "a") as handle:
                handle.write(json.dumps(record) + "\n")
    try:
        dist.destroy_process_group()
    except Exception:
        pass
    return 1 if failed else 0
