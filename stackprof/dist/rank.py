"""One rank of a distributed stackprof run (per-rank side: standard library + torch; Python 3.8).

Started by torchrun (``torchrun --nproc-per-node N [--nnodes M --node-rank K --rdzv-endpoint H:P]
-m stackprof.dist -o DIR``), by ``stackprof dist``, or alone (one rank). Each rank:
  1. joins the process group (torchrun's variables; the backend: NCCL on GPUs, gloo on CPU) with a
     short, stated timeout — gloo's default is 30 minutes;
  2. checks with the others that every rank runs the same stackprof version and the same plan;
  3. probes its environment (the fact probes of `stackprof probe`);
  4. runs the per-device benchmarks on its own device (ranks that share a CPU take turns: measured
     together they would measure each other);
  5. runs the collectives with every other rank;
  6. sends its files to rank 0 (nodes may not share a filesystem), and rank 0 merges them into one
     report when stackprof's host side is installed here (else it prints the command that does).
Everything is written to DIR/ranks/rank-NNNNN/ as it is measured (outdir.py), so a rank that dies
leaves what it finished.
"""
import argparse
import os
import signal
import socket
import subprocess
import sys
import time
import uuid

from . import gpu_nvml, machine, outdir, placement, plan as planning, probe_loader

DEFAULT_TIMEOUT_S = 60.0
PHASES = ("facts", "device", "collectives")
SIZE_UNITS = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}


class UsageError(Exception):
    """A problem the user must fix (a backend missing, ranks that disagree): one line, exit 2."""


def parse(argv):
    p = argparse.ArgumentParser(prog="python -m stackprof.dist",
                                description="stackprof on one rank of a torch.distributed job (see torchrun)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--quick", dest="mode", action="store_const", const="quick")
    mode.add_argument("--full", dest="mode", action="store_const", const="full")
    p.add_argument("-o", "--output", default="stackprof-dist", help="output folder (shared or per node)")
    p.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S,
                   help="seconds a collective may wait for the other ranks (default %(default)g)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    p.add_argument("--backend", choices=("auto", "gloo", "nccl"), default="auto")
    p.add_argument("--ops", default=None, help="collectives to run (comma-separated; default all six)")
    p.add_argument("--sizes", default=None, help="collective sizes, e.g. 64K,1M,32M (default: by mode)")
    p.add_argument("--phases", default=",".join(PHASES), help="which of facts,device,collectives to run")
    p.add_argument("--no-merge", action="store_true", help="rank 0 does not merge (the launcher will)")
    p.add_argument("--launcher", default=None, help=argparse.SUPPRESS)
    for name, kind in (("model-params", float), ("dtype", str), ("hidden", int), ("seq", int),
                       ("micro-batch", int), ("tp", int), ("pp", int), ("layers", int)):
        p.add_argument("--" + name, type=kind, default=None, help=argparse.SUPPRESS if name != "dtype" else
                       "the model's dtype: GEMM is measured at it too (the what-if compares with it)")
    args = p.parse_args(argv)
    args.mode = args.mode or "default"
    args.phases = [x.strip() for x in args.phases.split(",") if x.strip()]
    unknown = [x for x in args.phases if x not in PHASES]
    if unknown:
        p.error("unknown phase %s (choose from %s)" % (", ".join(unknown), ", ".join(PHASES)))
    args.ops = [x.strip() for x in args.ops.split(",") if x.strip()] if args.ops else None
    bad = [x for x in args.ops or [] if x not in planning.COLLECTIVE_OPS]
    if bad:
        p.error("unknown collective %s (choose from %s)" % (", ".join(bad), ", ".join(planning.COLLECTIVE_OPS)))
    try:
        args.sizes = [parse_size(x) for x in args.sizes.split(",")] if args.sizes else None
    except ValueError as exc:
        p.error(str(exc))
    if not args.timeout > 0:
        p.error("--timeout must be positive")
    return args


def parse_size(text):
    """'64K', '1MiB', '32m', '1048576' -> bytes."""
    raw = text.strip().lower()
    for suffix in ("ib", "b"):
        if raw.endswith(suffix) and len(raw) > len(suffix):
            raw = raw[:-len(suffix)]
            break
    unit = SIZE_UNITS.get(raw[-1:], 1)
    number = raw[:-1] if raw[-1:] in SIZE_UNITS else raw
    try:
        value = int(float(number) * unit)
    except ValueError:
        raise ValueError("not a size: %r (use e.g. 64K, 1M, 1G)" % text)
    if value <= 0:
        raise ValueError("sizes must be positive: %r" % text)
    return value


def identity_from_env(env=None):
    """Who this rank is, from torchrun's variables (one rank of one node when they are absent)."""
    env = os.environ if env is None else env

    def num(name, default):
        try:
            return int(env.get(name, default))
        except ValueError:
            return default
    launched = "RANK" in env and "WORLD_SIZE" in env
    return {"rank": num("RANK", 0), "world_size": num("WORLD_SIZE", 1), "local_rank": num("LOCAL_RANK", 0),
            "local_world_size": num("LOCAL_WORLD_SIZE", 1), "node": num("GROUP_RANK", 0),
            "nnodes": num("GROUP_WORLD_SIZE", 1) if "GROUP_WORLD_SIZE" in env else None,
            "launcher": "torchrun" if "TORCHELASTIC_RUN_ID" in env else ("env" if launched else "single"),
            "restart": num("TORCHELASTIC_RESTART_COUNT", 0), "master": "%s:%s" % (
                env.get("MASTER_ADDR", "?"), env.get("MASTER_PORT", "?")) if launched else None}


def choose_device(torch, requested, local_rank):
    cuda = torch.cuda.is_available()
    if requested == "cpu" or (requested == "auto" and not cuda):
        return torch.device("cpu")
    if not cuda:
        build = "a CPU-only build" if getattr(torch.version, "cuda", None) is None else "no CUDA device visible"
        raise UsageError("--device cuda: torch %s has no CUDA device (%s)" % (torch.__version__, build))
    return torch.device("cuda", local_rank % torch.cuda.device_count())


def choose_backend(requested, device_type, nccl_available, gloo_available, torch_version="?"):
    """NCCL for GPUs, gloo for CPUs; a backend that cannot work here is one clear line."""
    backend = requested
    if requested == "auto":
        backend = "nccl" if device_type == "cuda" and nccl_available else "gloo"
    if backend == "nccl" and not nccl_available:
        raise UsageError("backend nccl is not available in torch %s (no NCCL in this build); use --backend gloo"
                         % torch_version)
    if backend == "nccl" and device_type != "cuda":
        raise UsageError("backend nccl needs CUDA devices; this rank measures the CPU (use gloo)")
    if backend == "gloo" and not gloo_available:
        raise UsageError("backend gloo is not available in torch %s" % torch_version)
    return backend


def _single_rank_env():
    """A rank started without torchrun: a world of one, its store on a free local port."""
    if "RANK" in os.environ and "WORLD_SIZE" in os.environ:
        return
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    os.environ.update({"RANK": "0", "WORLD_SIZE": "1", "LOCAL_RANK": "0", "LOCAL_WORLD_SIZE": "1",
                       "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)})


def say(text):
    sys.stderr.write("stackprof.dist: %s\n" % text)
    sys.stderr.flush()


def one_line(exc):
    return " ".join(("%s: %s" % (type(exc).__name__, exc)).split())[:400]


def main(argv=None):
    args = parse(sys.argv[1:] if argv is None else argv)
    ident = identity_from_env()
    _single_rank_env()
    ident["pid"], ident["host"] = os.getpid(), socket.gethostname()
    ident["stackprof_version"], ident["python"] = probe_loader.stackprof_version(), sys.version.split()[0]
    folder = outdir.RankFolder(args.output, ident["rank"])
    try:
        folder.start(ident)
    except OSError as exc:
        say("error: cannot write to %s: %s" % (args.output, exc.strerror or exc))
        return 2
    _on_signals(folder)
    try:
        return Rank(args, ident, folder).run()
    except UsageError as exc:
        folder.finish("failed", str(exc))
        say("error: rank %d: %s" % (ident["rank"], exc))
        return 2
    except Exception as exc:
        folder.finish("failed", one_line(exc))
        say("error: rank %d: %s" % (ident["rank"], one_line(exc)))
        return 1


def _on_signals(folder):
    def stop(signum, _frame):
        name = signal.Signals(signum).name
        folder.finish("terminated", "stopped by %s in phase %s%s" % (
            name, folder.status.get("phase"), " (%s)" % folder.status["detail"] if folder.status.get("detail") else ""))
        os._exit(128 + signum)
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        try:
            signal.signal(sig, stop)
        except (ValueError, OSError):
            pass


class Rank(object):
    def __init__(self, args, ident, folder):
        self.args, self.ident, self.folder = args, ident, folder
        self.failures = []

    def run(self):
        args, ident, folder = self.args, self.ident, self.folder
        torch, dist = self._torch()
        device = choose_device(torch, args.device, ident["local_rank"])
        backend = choose_backend(args.backend, device.type, dist.is_nccl_available(), dist.is_gloo_available(),
                                 torch.__version__)
        ident.update(device=str(device), backend=backend, torch_version=torch.__version__,
                     placement=placement.describe(torch, device), host_key=placement.host_key())
        coll = probe_loader.load("bench.collectives")
        folder.phase("joining", "%s, rendezvous %s" % (backend, ident.get("master") or "local"))
        try:
            with _native_stderr_into(os.path.join(folder.path, "join.log")):
                world = coll.join(torch, dist, backend, args.timeout, device)
        except Exception as exc:
            raise UsageError("could not join the process group at %s within %g s (%s)" % (
                os.environ.get("MASTER_ADDR", "?") + ":" + os.environ.get("MASTER_PORT", "?"), args.timeout,
                one_line(exc)))
        try:
            return self._measure(torch, dist, coll, world, device)
        finally:
            try:
                dist.destroy_process_group()
            except Exception:
                pass

    def _torch(self):
        try:
            import torch
            import torch.distributed as dist
        except Exception as exc:
            raise UsageError("cannot import torch.distributed in %s: %s" % (sys.executable, one_line(exc)))
        if not dist.is_available():
            raise UsageError("torch %s was built without torch.distributed" % torch.__version__)
        return torch, dist

    def _plan(self, world, device):
        args = self.args
        dev_type = "cuda" if device.type == "cuda" else "cpu"
        return {"mode": args.mode, "phases": list(args.phases), "timeout_s": args.timeout,
                "collectives": planning.collective_cases(args.mode, dev_type, args.ops, args.sizes),
                "collective_budget_s": planning.COLLECTIVE_BUDGET_S[args.mode], "world_size": world.size}

    def _agree(self, world, plan):
        """Every rank's identity; stop everywhere, with one line, if versions or plans differ."""
        mine = {"rank": world.rank, "version": self.ident.get("stackprof_version"), "plan": planning.plan_key(plan),
                "host_key": self.ident["host_key"], "device": self.ident["device"], "run_id": uuid.uuid4().hex,
                "node": self.ident["node"]}
        everyone = world.all_objects(mine)
        versions = sorted(set(str(e["version"]) for e in everyone))
        if len(versions) > 1:
            where = ", ".join("%s on rank %d" % (e["version"], e["rank"]) for e in everyone[:8])
            raise UsageError("stackprof versions differ across ranks (%s): install the same version everywhere" % where)
        odd = [e for e in everyone if e["plan"] != everyone[0]["plan"]]
        if odd:
            raise UsageError("rank %d was started with different options than rank 0 (mode, collectives, "
                             "--timeout or --phases differ): start every rank with the same command" % odd[0]["rank"])
        return everyone

    def _measure(self, torch, dist, coll, world, device):
        args, ident, folder = self.args, self.ident, self.folder
        plan = self._plan(world, device)
        everyone = self._agree(world, plan)
        run_id = everyone[0]["run_id"]
        peers = [e for e in everyone if e["host_key"] == ident["host_key"]]
        ident.update(run_id=run_id, ranks_on_host=len(peers), turn=[e["rank"] for e in peers].index(world.rank))
        folder.identity(ident)
        if world.rank == 0:
            self._job(everyone, plan, run_id)
        facts = {}
        if "facts" in plan["phases"]:
            folder.phase("facts")
            facts = probe_loader.collect_facts(planning.FACT_PROBES, progress=folder.detail)
            folder.facts(facts)
        if "device" in plan["phases"]:
            self._device(torch, dist, world, device, everyone, facts)
        if "collectives" in plan["phases"]:
            folder.phase("collectives")
            world.barrier()
            task = {"framework": "torch", "device": "cuda" if device.type == "cuda" else "cpu",
                    "backend": world.backend, "nproc": world.size, "budget_s": plan["collective_budget_s"],
                    "timeout_s": args.timeout, "nnodes": len(set(e["node"] for e in everyone))}
            for record in coll.measure(world, plan["collectives"], task["device"], plan["collective_budget_s"],
                                       task, progress=folder.detail):
                folder.record(record)
                if record["status"] == "failed":
                    self.failures.append("%s: %s" % (record["id"], record["reason"]))
        folder.phase("gather")
        self._gather(dist, world, run_id)
        error = self.failures[0] if self.failures else None
        folder.finish("failed" if error else "done", error)
        if world.rank == 0:
            self._merge_here()
        return 1 if error else 0

    def _job(self, everyone, plan, run_id):
        args = self.args
        model = {k: getattr(args, k) for k in ("model_params", "dtype", "hidden", "seq", "micro_batch", "tp", "pp",
                                                "layers") if getattr(args, k) is not None}
        outdir.write_json(os.path.join(args.output, "job.json"), {
            "schema": outdir.JOB_SCHEMA, "run_id": run_id, "world_size": len(everyone),
            "nnodes": len(set(e["node"] for e in everyone)), "mode": args.mode, "plan": plan, "model": model,
            "timeout_s": args.timeout, "launcher": args.launcher or self.ident["launcher"],
            "backend": self.ident["backend"], "started": time.time(), "output": os.path.abspath(args.output)})

    def _device(self, torch, dist, world, device, everyone, facts):
        """Per-device benchmarks; ranks sharing a host take turns when their device is the CPU."""
        args, folder = self.args, self.folder
        env = facts.get("environment") or {}
        system = env.get("system") or {}
        tasks = planning.device_tasks(args.mode, str(device), args.dtype, (system.get("cpu") or {}).get("llc_bytes"),
                                      (system.get("memory") or {}).get("available_bytes"), self.ident["ranks_on_host"])
        hosts = {}
        for e in everyone:
            if e["device"] == "cpu":
                hosts.setdefault(e["host_key"], []).append(e["rank"])
        turns = max([len(r) for r in hosts.values()] or [1])
        group, rounds = None, 1
        if turns > 1:       # every rank creates the group (a collective call), and every rank waits its turn
            import datetime
            group = dist.new_group(backend="gloo", timeout=datetime.timedelta(seconds=max(600.0, args.timeout)))
            rounds = 2      # A B then B A, half the budget each: a drift of the machine cannot pass for a rank
        sampler = gpu_nvml.Sampler((self.ident["placement"].get("gpu") or {}).get("pci_bus_id")).start() \
            if device.type == "cuda" else None
        mine = hosts.get(self.ident["host_key"], [])
        my_turn = mine.index(world.rank) if world.rank in mine else 0
        for round_index in range(rounds):
            order = list(range(turns)) if round_index % 2 == 0 else list(reversed(range(turns)))
            for turn in order:
                if group is not None:
                    dist.barrier(group=group)
                if turn == my_turn:
                    folder.phase("device", "round %d of %d, turn %d of %d" % (
                        round_index + 1, rounds, order.index(turn) + 1, turns) if turns > 1 else None)
                    self._run_device_tasks(tasks, round_index, rounds)
        if group is not None:
            dist.barrier(group=group)
        if sampler is not None:
            state = self.ident["gpu_state"] = sampler.stop()
            folder.identity(self.ident)
            gpu = self.ident["placement"].get("gpu") or {}
            pcie = gpu.get("pcie") or {}
            # the GPU's fixed facts join this rank's environment, so the N-way diff compares them too
            facts.setdefault("environment", {})["rank_gpu"] = {
                "name": gpu.get("name"), "memory_bytes": gpu.get("memory_bytes"), "numa_node": gpu.get("numa_node"),
                "pcie_gen_max": pcie.get("gen_max") or state.get("pcie_gen_max"),
                "pcie_width_max": pcie.get("width_max") or state.get("pcie_width_max"),
                "driver_version": state.get("driver_version"), "nvlink_active": state.get("nvlink_active"),
                "nvlink_version": state.get("nvlink_version"), "sm_max_mhz": state.get("sm_max_mhz"),
                "power_limit_w": state.get("power_limit_w")}
            if "facts" in self.args.phases:
                folder.facts(facts)

    def _run_device_tasks(self, tasks, round_index, rounds):
        folder, watch = self.folder, machine.CaseWatch()

        def started(message):
            watch.started(message)
            folder.detail(message)

        def keep(record):
            record["params"] = dict(record.get("params") or {}, round=round_index, rounds=rounds)
            folder.record(watch.attach(record))
        for probe, task_args in tasks:
            task_args = dict(task_args, budget_s=task_args["budget_s"] / rounds)
            try:
                error = probe_loader.run_benchmark(probe, task_args, keep, progress=started)
            except Exception as exc:        # one family failing must not stop the rank
                error = one_line(exc)
            line = "%s: %s" % (probe, error)
            if error and line not in folder.status["errors"]:
                folder.status["errors"].append(line)       # kept in status.json; the rank goes on

    def _gather(self, dist, world, run_id):
        """Rank 0 receives every rank's files; it writes those its filesystem does not already hold."""
        docs = self.folder.documents()
        received = [None] * world.size if world.rank == 0 else None
        try:
            dist.gather_object(docs, received, dst=0, group=world.ctrl)
        except Exception as exc:
            self.failures.append("gathering the ranks' files on rank 0 failed: %s" % one_line(exc))
            return
        if world.rank == 0:
            copied = [r for r, d in enumerate(received) if r and d and outdir.store_documents(
                self.args.output, r, d, run_id)]
            if copied:
                say("copied the files of %d rank(s) from other nodes into %s" % (len(copied), self.args.output))

    def _merge_here(self):
        if self.args.no_merge:
            return
        command = "stackprof dist --merge %s" % self.args.output
        if __package__ != "stackprof.dist" or not _host_installed():
            say("rank results are in %s; merge them where stackprof is installed: %s" % (self.args.output, command))
            return
        say("merging: %s" % command)
        subprocess.call([sys.executable, "-m", "stackprof", "dist", "--merge", self.args.output])


class _native_stderr_into(object):
    """c10d's C++ code logs connection retries and stack frames straight to fd 2: while joining, that
    goes to the rank folder (join.log), so that a rendezvous that cannot be reached is one line."""

    def __init__(self, path):
        self.path = path

    def __enter__(self):
        sys.stderr.flush()
        self.saved = os.dup(2)
        self.file = open(self.path, "w")
        os.dup2(self.file.fileno(), 2)

    def __exit__(self, *exc):
        sys.stderr.flush()
        os.dup2(self.saved, 2)
        os.close(self.saved)
        self.file.close()
        return False


def _host_installed():
    import importlib.util
    return all(importlib.util.find_spec(name) is not None for name in ("click", "jinja2"))
