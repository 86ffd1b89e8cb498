"""stackprof dist without processes: nccl-tests' bandwidth arithmetic against hand-computed values,
backend/device selection (including the NCCL paths, whose runs need a GPU machine: only their
selection logic is tested here), the plan, torchrun's failure summary, the straggler tests, the
what-if formulas, and the per-rank side's import rule."""
from __future__ import annotations

import ast
import math
import sys
import types
from pathlib import Path

import pytest

from stackprof.dist import launch, plan, rank, stragglers, whatif
from stackprof.paths import import_probe

ROOT = Path(__file__).resolve().parent.parent.parent
DIST = ROOT / "stackprof" / "dist"
DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture(scope="module")
def coll():
    return import_probe("bench.collectives", package="_stackprof_probes_dist_units")


# ---- algbw / busbw (nccl-tests doc/PERFORMANCE.md) ------------------------------------------------------

@pytest.mark.parametrize("op, n, factor", [
    ("all_reduce", 2, 1.0), ("all_reduce", 8, 1.75), ("all_reduce", 1, 0.0),
    ("all_gather", 4, 0.75), ("reduce_scatter", 8, 0.875), ("all_to_all", 2, 0.5),
    ("broadcast", 16, 1.0), ("send_recv", 2, 1.0)])
def test_busbw_factor_per_collective(coll, op, n, factor):
    assert coll.busbw_factor(op, n) == pytest.approx(factor)


def test_algbw_and_busbw_from_a_record_match_hand_computed_values(coll):
    """8 ranks, all_reduce of 64 MiB taking 10 ms: algbw = 67108864 B / 0.01 s = 6.7108864 GB/s,
    busbw = algbw x 2*7/8 = 11.7440512 GB/s — through the same code the report uses."""
    from stackprof import bench
    from stackprof.dist import flow
    from stackprof.model import Run
    spec = coll.describe("torch", "cuda", {"op": "all_reduce", "bytes": 64 << 20, "dtype": "fp32", "ranks": 8,
                                           "backend": "nccl"})
    harness = import_probe("harness", package="_stackprof_probes_dist_units")
    record = harness.base_record(spec, "bench.collectives", {})
    record["samples_s"] = [0.010, 0.010, 0.010]
    run = Run(benchmarks=[record], dist={"device_type": "cuda", "world_size": 8, "nnodes": 1, "per_rank": {}})
    bench.finish(run)
    flow.finish(run)
    row = run.dist["collectives"][0]
    assert row["algbw_gbps"] == pytest.approx(6.7108864)
    assert row["busbw_gbps"] == pytest.approx(11.7440512)
    assert "no peak" in run.dist["link_peak"]["text"]


def test_sizes_are_rounded_so_each_rank_owns_whole_elements(coll):
    # all_gather of 1000 B over 3 ranks of fp32: S must be a multiple of 3 * 4 = 12 -> 996
    assert coll.array_bytes("all_gather", 1000, 3, 4) == 996
    assert coll.array_bytes("all_reduce", 1000, 3, 4) == 1000
    spec = coll.describe("torch", "cpu", {"op": "all_to_all", "bytes": 1000, "dtype": "fp32", "ranks": 3})
    assert spec["bytes"] == 996 and spec["params"]["bytes_per_rank"] == 332 and spec["variant"] == "gloo"


def test_all_reduce_calls_between_refills_keep_fp32_finite(coll):
    for n in (2, 8, 64, 1024):
        cap = coll.calls_cap("all_reduce", "fp32", n)
        worst = 1.5 * n * (n + 1) / 2 * float(n) ** cap
        assert cap >= 1 and worst < 3.4e38
    assert coll.calls_cap("broadcast", "fp32", 8) == 1000


def test_expected_values_follow_each_ranks_contribution(coll):
    """Rank r contributes base * (r + 1): all_reduce sums them, all_gather places rank k's block k,
    send/recv receives the previous rank's."""
    base = [1.25, 0.75, 1.0, 0.5]
    assert coll._terms("all_reduce", 3, 0, 4, 2) == [(0, 2), (1, 2), (2, 2)]
    assert coll._terms("all_gather", 2, 1, 2, 3) == [(1, 1)]
    assert coll._terms("reduce_scatter", 2, 1, 2, 0) == [(0, 2), (1, 2)]
    assert coll._terms("all_to_all", 2, 1, 2, 0) == [(0, 2)]
    assert coll._terms("send_recv", 4, 0, 4, 3) == [(3, 3)]
    total = sum(base[i] * (k + 1) for k, i in coll._terms("all_reduce", 3, 0, 4, 2))
    assert total == pytest.approx(6.0)


# ---- selection logic (the NCCL paths run on a GPU machine: scripts/gpu_suite.sh) ---------------------

@pytest.mark.parametrize("requested, device, nccl, expected", [
    ("auto", "cuda", True, "nccl"), ("auto", "cpu", True, "gloo"), ("auto", "cuda", False, "gloo"),
    ("gloo", "cuda", True, "gloo"), ("nccl", "cuda", True, "nccl")])
def test_backend_choice(requested, device, nccl, expected):
    assert rank.choose_backend(requested, device, nccl, True) == expected


@pytest.mark.parametrize("requested, device, nccl, gloo, words", [
    ("nccl", "cuda", False, True, "nccl is not available"), ("nccl", "cpu", True, True, "needs CUDA devices"),
    ("gloo", "cpu", False, False, "gloo is not available")])
def test_backend_that_cannot_work_is_one_clear_line(requested, device, nccl, gloo, words):
    with pytest.raises(rank.UsageError, match=words):
        rank.choose_backend(requested, device, nccl, gloo, "2.13.0+cpu")


def test_device_choice_maps_local_rank_to_a_visible_gpu():
    def fake(devices, cuda_build="12.8"):
        cuda = types.SimpleNamespace(is_available=lambda: devices > 0, device_count=lambda: devices)
        return types.SimpleNamespace(cuda=cuda, version=types.SimpleNamespace(cuda=cuda_build), __version__="x",
                                     device=lambda *a: a)
    assert rank.choose_device(fake(8), "auto", 3) == ("cuda", 3)
    assert rank.choose_device(fake(1), "auto", 3) == ("cuda", 0)      # CUDA_VISIBLE_DEVICES=<one per rank>
    assert rank.choose_device(fake(0), "auto", 0) == ("cpu",)
    assert rank.choose_device(fake(8), "cpu", 0) == ("cpu",)
    with pytest.raises(rank.UsageError, match="CPU-only build"):
        rank.choose_device(fake(0, None), "cuda", 0)


def test_identity_from_torchrun_variables():
    env = {"RANK": "5", "WORLD_SIZE": "8", "LOCAL_RANK": "1", "LOCAL_WORLD_SIZE": "4", "GROUP_RANK": "1",
           "GROUP_WORLD_SIZE": "2", "TORCHELASTIC_RUN_ID": "x", "MASTER_ADDR": "10.0.0.1", "MASTER_PORT": "29500"}
    ident = rank.identity_from_env(env)
    assert (ident["rank"], ident["local_rank"], ident["node"], ident["nnodes"]) == (5, 1, 1, 2)
    assert ident["launcher"] == "torchrun" and ident["master"] == "10.0.0.1:29500"
    assert rank.identity_from_env({})["launcher"] == "single"


@pytest.mark.parametrize("text, value", [("64K", 65536), ("1MiB", 1 << 20), ("32m", 32 << 20), ("4096", 4096),
                                         ("1.5G", int(1.5 * (1 << 30)))])
def test_sizes(text, value):
    assert rank.parse_size(text) == value


@pytest.mark.parametrize("text", ["", "abc", "-1K", "0"])
def test_bad_sizes(text):
    with pytest.raises(ValueError):
        rank.parse_size(text)


def test_plan_is_bounded_and_the_same_for_the_same_options():
    cpu = plan.collective_sizes("full", "cpu")
    assert min(cpu) == 1024 and max(cpu) == 256 << 20
    gpu = plan.collective_sizes("full", "cuda")
    assert min(gpu) == 1024 and max(gpu) == 4 << 30
    assert {c["op"] for c in plan.collective_cases("quick", "cpu")} == set(plan.COLLECTIVE_OPS)
    a = {"mode": "quick", "collectives": plan.collective_cases("quick", "cpu"), "collective_budget_s": 0.15,
         "phases": ["facts"], "timeout_s": 60.0}
    assert plan.plan_key(a) == plan.plan_key(dict(a, world_size=4))
    assert plan.plan_key(a) != plan.plan_key(dict(a, timeout_s=30.0))
    tasks = dict(plan.device_tasks("quick", "cuda:0", "bf16"))
    assert {c["dtype"] for c in tasks["bench.gemm"]["cases"]} == {"fp32", "bf16"} and "bench.transfer" in tasks


# ---- torchrun's failure summary (captured from a real run of torch 2.13.0) ----------------------------

def test_torchrun_failure_summary_gives_each_failed_ranks_exit():
    text = (DATA / "torchrun-sigkill.txt").read_text()
    assert launch.parse_failures(text) == {0: {"code": -15, "signal": "SIGTERM"}, 1: {"code": -9, "signal": "SIGKILL"}}
    assert launch.parse_failures("nothing failed") == {}


# ---- stragglers --------------------------------------------------------------------------------------

def _entries(values: dict[int, float]) -> list[dict]:
    return [{"rank": r, "status": "ok", "value": v, "op": "gemm", "unit": "GFLOP/s"} for r, v in values.items()]


def test_median_mad_flags_only_the_outlier():
    """Eight ranks within 2% of each other and one at 70%: only that one is named (values constructed to
    exercise the outlier test: z = 0.6745 * (v - median) / MAD)."""
    values = {r: 100.0 + (r % 4) * 0.5 for r in range(8)}
    values[8] = 70.0
    tests = stragglers._many({"id": "gemm/x"}, [{"unit": "rank", "who": r, "ranks": [r], "value": v, "rounds": []}
                                                for r, v in values.items()], "kernel throughput")
    flagged = [t for t in tests if t["straggler"]]
    assert [t["who"] for t in flagged] == [8]
    assert flagged[0]["details"]["z"] < -stragglers.Z_LIMIT
    assert flagged[0]["ratio"] == pytest.approx(100.75 / 70.0)


def test_identical_ranks_cannot_flag_a_rounding_difference():
    values = {r: 100.0 for r in range(6)}
    values[6] = 99.0                                 # 1% below: MAD is 0, floored at 1% of the median
    tests = stragglers._many({"id": "gemm/x"}, [{"unit": "rank", "who": r, "ranks": [r], "value": v, "rounds": []}
                                                for r, v in values.items()], "kernel throughput")
    assert not any(t["straggler"] for t in tests)


def test_two_ranks_use_the_judges_test_with_rounds():
    slow = [[0.020 + i * 1e-5 for i in range(12)], [0.021 + i * 1e-5 for i in range(12)]]
    fast = [[0.010 + i * 1e-5 for i in range(12)], [0.0101 + i * 1e-5 for i in range(12)]]
    verdict = stragglers._two_unit_test({"id": "gemm/x"}, slow, fast)
    assert verdict["status"] == "confirmed" and verdict["ratio"] > 1.9
    noise = [[0.010, 0.012, 0.0105, 0.011, 0.0098]]
    same = stragglers._two_unit_test({"id": "gemm/x"}, noise, noise)
    assert same["status"] != "confirmed"


def test_relative_values_for_the_heat_map():
    rel = stragglers.relative({"gemm/x": _entries({0: 100.0, 1: 50.0, 2: 100.0})})
    assert rel["gemm/x"] == {0: 1.0, 1: 0.5, 2: 1.0}


# ---- what-if ---------------------------------------------------------------------------------------------

def _coll(op, size, algbw, factor):
    return {"op": op, "status": "ok", "value": algbw, "shape": {"bytes": size}, "work": {"bytes": size},
            "params": {"busbw_factor": factor}}


def test_whatif_formulas_by_hand():
    """7e9 params bf16, tp 8, pp 4, 64 ranks -> dp 2. busbw all_reduce 100 GB/s at every size, send/recv 20.
    DP: G = 7e9/32*2 B = 437.5e6 B; t = G * 2(2-1)/2 / 100e9 = 4.375 ms.
    TP layer: A = 1*4096*4096*2 = 33554432 B; t = 4 * A * 2*7/8 / 100e9 = 2.3488 ms.
    PP: t = 2 * A / 20e9 = 3.3554 ms. Compute at 500 GFLOP/s: step = 6 * 7e9/32 * 4096 / 500e9 = 10.752 s."""
    coll = [_coll("all_reduce", s, 100.0, 1.0) for s in (1 << 20, 1 << 30)]
    coll += [_coll("send_recv", s, 20.0, 1.0) for s in (1 << 20, 1 << 30)]
    per_rank = {"gemm/torch/cuda:0/bf16/4096x4096x4096": [{"op": "gemm", "dtype": "bf16", "status": "ok",
                                                            "value": 500.0}]}
    out = whatif.estimate({"model_params": 7e9, "dtype": "bf16", "hidden": 4096, "seq": 4096, "tp": 8, "pp": 4},
                          64, coll, per_rank, "test links")
    rows = {r["part"].split()[0]: r for r in out["rows"]}
    assert out["layout"] == {"tp": 8, "pp": 4, "dp": 2, "world_size_measured": 64}
    assert rows["data-parallel"]["comm_s"] == pytest.approx(437.5e6 / 100e9)
    assert rows["data-parallel"]["compute_s"] == pytest.approx(6 * 7e9 / 32 * 4096 / 500e9)
    assert rows["tensor-parallel"]["comm_s"] == pytest.approx(4 * 33554432 * 1.75 / 100e9)
    assert rows["pipeline"]["comm_s"] == pytest.approx(2 * 33554432 / 20e9)
    assert rows["pipeline"]["bound"] == "compute"
    assert out["model"]["layers"] == round(7e9 / (12 * 4096 * 4096))


def test_whatif_interpolates_on_log_scales_and_says_when_it_extrapolates():
    points = [(1 << 20, 10.0), (1 << 24, 40.0)]
    value, note = whatif.busbw_at(points, 1 << 22)        # halfway in log size -> geometric mean
    assert value == pytest.approx(20.0) and "interpolated" in note
    value, note = whatif.busbw_at(points, 1 << 30)
    assert value == 40.0 and "outside the measured sizes" in note
    assert whatif.estimate({}, 2, [], {}, "x")["available"] is False


# ---- the per-rank side imports only the standard library, torch and itself ------------------------------

PER_RANK = [DIST / f"{name}.py" for name in __import__("stackprof.dist", fromlist=["x"]).PER_RANK_MODULES]


@pytest.mark.parametrize("path", PER_RANK, ids=lambda p: p.name)
def test_per_rank_modules_import_only_stdlib_torch_and_each_other(path):
    tree = ast.parse(path.read_text(encoding="utf-8"), feature_version=(3, 8))
    allowed = set(sys.stdlib_module_names) | {"torch"}
    own = {p.stem for p in PER_RANK}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                assert alias.name.split(".")[0] in allowed, f"{path.name} imports {alias.name}"
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                assert (node.module or "").split(".")[0] in allowed, f"{path.name} imports {node.module}"
            else:
                names = [node.module] if node.module else [a.name for a in node.names]
                assert all(n in own for n in names), f"{path.name} imports a host module: {names}"


def test_per_rank_entry_runs_without_stackprofs_host_dependencies(venv_bare):
    """The bare venv has neither torch nor click/jinja2: the rank entry starts (argument parsing, probe
    loading) and fails on torch with one clear line, never on a host dependency."""
    import subprocess
    out = subprocess.run([str(venv_bare), str(DIST / "__main__.py"), "--quick", "-o", "/tmp/stackprof-dist-bare",
                          "--phases", "collectives"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2, out.stderr
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "cannot import torch.distributed" in lines[0], out.stderr
    assert "Traceback" not in out.stderr


def test_a_round_disturbed_by_other_work_cannot_name_a_rank():
    """Twice as slow in both rounds, but other work held the suspect's CPUs 40% of the first round: that
    round is left out, one clean round is not enough, nobody is named."""
    slow = [[0.020 + i * 1e-5 for i in range(12)], [0.021 + i * 1e-5 for i in range(12)]]
    fast = [[0.010 + i * 1e-5 for i in range(12)], [0.0101 + i * 1e-5 for i in range(12)]]
    verdict = stragglers._two_unit_test({"id": "gemm/x"}, slow, fast, [0.40, 0.01])
    assert verdict["status"] != "confirmed" and verdict["left_out_rounds"] == [0]
    units = [{"unit": "rank", "who": r, "ranks": [r], "value": 100.0 + r * 0.1, "rounds": [], "contention": [0.0]}
             for r in range(6)]
    units.append({"unit": "rank", "who": 6, "ranks": [6], "value": 60.0, "rounds": [], "contention": [0.3, 0.0]})
    flagged = [t for t in stragglers._many({"id": "gemm/x"}, units, "kernel throughput") if t.get("who") == 6]
    assert flagged and not flagged[0]["straggler"] and "other work held its CPUs" in flagged[0]["details"]["reason"]


def test_link_peak_only_where_it_can_be_known():
    from stackprof.dist.flow import link_peak
    assert link_peak({"device_type": "cpu"})["gbps"] is None
    pcie = {"device_type": "cuda", "nnodes": 1, "ranks": [
        {"rank": 0, "gpu": {"pcie": {"gen": 4, "width": 16}}, "gpu_state": {"nvlink_active": 0}},
        {"rank": 1, "gpu": {"pcie": {"gen": 4, "width": 16}}, "gpu_state": {"nvlink_active": 0, "pcie_gen": 4,
                                                                          "pcie_width": 8}}]}
    peak = link_peak(pcie)
    assert peak["gbps"] == pytest.approx(1.969 * 8, abs=0.01) and "rank 1" in peak["text"]
    nvlink = dict(pcie, ranks=[dict(r, gpu_state={"nvlink_active": 18}) for r in pcie["ranks"]])
    assert link_peak(nvlink)["gbps"] is None and "NVLink is active" in link_peak(nvlink)["text"]
    assert link_peak(dict(pcie, nnodes=2))["gbps"] is None


def test_cpu_lists_become_ranges():
    from stackprof.dist.merge import cpu_ranges
    assert cpu_ranges([0, 1, 2, 3, 8]) == "0-3,8" and cpu_ranges([5]) == "5" and cpu_ranges([0, 2, 3]) == "0,2-3"
    assert cpu_ranges(None) is None


def test_verify_in_a_dist_run_leaves_single_process_experiments_alone():
    """A per-device benchmark ran inside a torchrun rank; verify would re-run it in a plain process."""
    from stackprof.dist import flow
    from stackprof.model import Run
    run = Run(benchmarks=[{"id": "gemm/x", "op": "gemm"}, {"id": "all_reduce/x", "op": "all_reduce"}],
              findings=[{"id": "B3", "title": "t", "experiment": {"env": {"OMP_NUM_THREADS": None}, "benchmarks": ["gemm/x"]}},
                        {"id": "F8", "title": "u", "experiment": {"env": {"NCCL_P2P_DISABLE": None},
                                                                  "benchmarks": ["all_reduce/x"]}}])
    held = flow._hold_single_process_experiments(run)
    assert run.findings[0]["experiment"] is None and run.findings[1]["experiment"] is not None
    flow._restore(run, held)
    assert run.findings[0]["experiment"]["benchmarks"] == ["gemm/x"]
    assert run.findings[0]["verification"]["status"] == "skipped" and "torchrun" in run.findings[0]["verification"]["note"]


def test_g1_evidence_names_placement_that_differs():
    """A GPU rank flagged by the two-rank test: its GPU on another NUMA node than its CPUs, a throttle
    reason and a narrower PCIe link are evidence (GPU-shaped rows: selection only, no GPU here)."""
    from stackprof.model import Run
    from stackprof.rules import RULES
    from stackprof.rules.facts import Facts
    dist = {"nnodes": 1, "world_size": 2, "ranks": [
        {"rank": 0, "node": 0, "device": "cuda:0", "cpu_count": 8, "numa_nodes": [0], "gpu": {"numa_node": 0}},
        {"rank": 1, "node": 0, "device": "cuda:1", "cpu_count": 8, "numa_nodes": [0],
         "gpu": {"numa_node": 1, "pcie": {"gen": 4, "width": 8, "gen_max": 4, "width_max": 16}},
         "gpu_state": {"throttle_reasons": ["hw_slowdown"], "sm_mhz_min": 1100, "sm_max_mhz": 1980}}],
        "stragglers": {"flagged": [{"benchmark": "gemm/torch/cuda:1/bf16/4096x4096x4096", "kind": "kernel throughput",
                                    "unit": "rank", "who": 1, "ranks": [1], "value": 400.0, "peers_value": 700.0,
                                    "ratio": 1.75, "test": "judge", "straggler": True, "peers": [0]}]},
        "env_diff": {"differing": []}}
    finding = RULES["G1"].check(Facts(Run(dist=dist)))
    facts = {e.get("fact") for e in finding.evidence}
    assert {"dist.ranks[1].gpu.numa_node", "dist.ranks[1].gpu_state.throttle_reasons",
            "dist.ranks[1].gpu.pcie"} <= facts
    assert finding.kind == "defect" and finding.severity == "high"
