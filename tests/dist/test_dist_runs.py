"""stackprof dist for real: torchrun (torch 2.13.0 CPU, gloo) launching the per-rank side in the cached
torch venv, which has none of stackprof's host dependencies. Small sizes and a short, stated collective
timeout keep each run to seconds on 2 cores."""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from statistics import median

import pytest

from .slowdown import Slowdown

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent.parent
OPS = "all_reduce,all_gather,reduce_scatter,broadcast,all_to_all,send_recv"
QUICK = ["--quick", "--timeout", "30"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def rank_env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OMP_", "MKL_", "PYTHONPATH"))}
    return dict(env, PYTHONPATH=str(ROOT), **extra)


def node_command(python, node: int, port: int, out: Path, *args) -> list[str]:
    """One torchrun agent of a two-node job on this machine (static rendezvous on 127.0.0.1)."""
    return [str(python), "-m", "torch.distributed.run", "--nnodes", "2", "--node-rank", str(node),
            "--nproc-per-node", "1", "--master-addr", "127.0.0.1", "--master-port", str(port),
            "-m", "stackprof.dist", "-o", str(out), *QUICK, *args]


def run_two_nodes(python, out: Path, node1_env=None, node1_wrap=None, args=(), node1_path=None, timeout=240):
    port = free_port()
    first = subprocess.Popen(node_command(python, 0, port, out, *args), env=rank_env(), stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True, cwd=out.parent)
    cmd = node_command(python, 1, port, out, *args)
    env = rank_env(**(node1_env or {}))
    if node1_path:
        env["PYTHONPATH"] = str(node1_path)
    second = subprocess.Popen(node1_wrap(cmd) if node1_wrap else cmd, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, cwd=out.parent)     # not the checkout: -m finds
                                                                                       # stackprof through PYTHONPATH
    logs = [p.communicate(timeout=timeout)[0] for p in (first, second)]
    return (first.returncode, second.returncode), logs


def merge(stackprof_cli, out: Path, *args):
    done = stackprof_cli("dist", "--merge", out, "--no-verify", *args)
    return done, json.loads((out / "run.json").read_text())


def finding(run: dict, rule_id: str) -> dict | None:
    return next((f for f in run["findings"] if f["id"] == rule_id), None)


def straggler_named(run: dict, who: str) -> dict:
    """The G1 finding naming `who`. When no rank could be judged because other work held the CPUs in
    every round (the judge leaves such rounds out: this shared machine is busy), the test is skipped
    with the judge's reason — never passed."""
    g1 = finding(run, "G1")
    if g1 is not None and g1["title"].startswith(who):
        return g1
    tests = run["dist"]["stragglers"]["tests"]
    reasons = [str((t.get("details") or {}).get("reason")) for t in tests]
    if tests and all("other work held the CPUs" in r for r in reasons):
        pytest.skip(f"machine too busy to judge a straggler: {reasons[0]}")
    raise AssertionError((g1, tests))


# ---- two ranks on one machine, through `stackprof dist` ---------------------------------------------------

def test_two_ranks_all_collectives_and_the_report(venv_torch, tmp_path, stackprof_cli):
    out = tmp_path / "dist"
    done = stackprof_cli("dist", "--nproc", "2", "--python", venv_torch, "-o", out, *QUICK, "--ops", OPS,
                         "--sizes", "64K,1M", "--no-verify", "--model-params", "1e9", "--hidden", "1024",
                         "--seq", "512", "--dp", "2", timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    run = json.loads((out / "run.json").read_text())
    dist = run["dist"]
    assert [r["state"] for r in dist["ranks"]] == ["done", "done"]
    assert {r["device"] for r in dist["ranks"]} == {"cpu"} and dist["backend"] == "gloo"
    assert dist["timeout_s"] == 30
    # both ranks' facts and per-device results arrived
    for rank in (0, 1):
        facts = json.loads((out / "ranks" / f"rank-{rank:05d}" / "facts.json").read_text())
        assert {"system", "python", "env_vars", "packages", "torch"} <= set(facts["environment"])
    stream = next(v for k, v in dist["per_rank"].items() if k.startswith("stream_triad"))
    assert sorted(row[0] for row in stream["rows"] if row[2] == "ok") == [0, 1]
    # every collective ran, its result was right, and algbw/busbw follow from its own samples
    coll = [b for b in run["benchmarks"] if b["op"] in OPS.split(",")]
    assert len(coll) == 12 and all(b["status"] == "ok" for b in coll), [(b["id"], b["reason"]) for b in coll]
    factors = {"all_reduce": 1.0, "all_gather": 0.5, "reduce_scatter": 0.5, "all_to_all": 0.5, "broadcast": 1.0,
               "send_recv": 1.0}
    rows = {r["id"]: r for r in dist["collectives"]}
    for rec in coll:
        assert rec["check"]["ok"] and rec["check"]["sample"] == 2 * 256
        algbw = rec["shape"]["bytes"] / median(rec["samples_s"]) / 1e9
        assert rec["value"] == pytest.approx(algbw, rel=1e-9)
        assert rows[rec["id"]]["busbw_gbps"] == pytest.approx(algbw * factors[rec["op"]], rel=1e-9)
        assert len(rec["params"]["per_rank_median_s"]) == 2
    assert dist["what_if"]["available"] and dist["what_if"]["layout"]["dp"] == 2
    md, html = (out / "report.md").read_text(), (out / "report.html").read_text()
    assert "### Distributed run" in md and "send_recv" in md
    assert 'id="dist"' in html and "chart-collectives" in html and "heat" in html


def test_a_wrong_collective_fails_its_check_and_a_right_one_passes(venv_torch, tmp_path):
    """all_reduce replaced by MAX where SUM is asked: the pooled check of both ranks says so."""
    script = tmp_path / "wrong.py"
    script.write_text(
        "import json, torch, torch.distributed as dist\n"
        "from stackprof.dist import probe_loader\n"
        "coll = probe_loader.load('bench.collectives')\n"
        "world = coll.join(torch, dist, 'gloo', 30, torch.device('cpu'))\n"
        "real = dist.all_reduce\n"
        "dist.all_reduce = lambda t, op=None, group=None, async_op=False: real(t, op=dist.ReduceOp.MAX, group=group)\n"
        "cases = [{'op': 'all_reduce', 'bytes': 65536, 'dtype': 'fp32'}, {'op': 'broadcast', 'bytes': 65536}]\n"
        "out = [(r['status'], r['reason'], r['check']) for r in coll.measure(world, cases, 'cpu', 0.05)]\n"
        "print('RESULT', dist.get_rank(), json.dumps(out), flush=True)\n"
        "dist.destroy_process_group()\n")
    done = subprocess.run([str(venv_torch), "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
                           str(script)], env=rank_env(), capture_output=True, text=True, timeout=120)
    results = [json.loads(line.split(" ", 2)[2]) for line in done.stdout.splitlines() if line.startswith("RESULT")]
    assert len(results) == 2, done.stdout + done.stderr[-2000:]
    for (status, reason, check), (ok_status, _, ok_check) in results:
        assert status == "failed" and reason.startswith("wrong result") and check["ok"] is False
        assert ok_status == "ok" and ok_check["ok"] is True


def test_a_hung_peer_costs_the_stated_timeout_not_gloos_thirty_minutes(venv_torch, tmp_path):
    """Rank 1 never enters the collective: rank 0's case fails after the 3 s timeout it was given, with the
    timeout in the record, and the case after it is not run on a group that cannot be trusted."""
    script = tmp_path / "hang.py"
    script.write_text(
        "import json, time, torch, torch.distributed as dist\n"
        "from stackprof.dist import probe_loader\n"
        "coll = probe_loader.load('bench.collectives')\n"
        "world = coll.join(torch, dist, 'gloo', 3, torch.device('cpu'))\n"
        "if world.rank == 1:\n"
        "    time.sleep(12)\n"
        "else:\n"
        "    started = time.time()\n"
        "    cases = [{'op': 'all_reduce', 'bytes': 65536}, {'op': 'broadcast', 'bytes': 65536}]\n"
        "    out = [(r['status'], r['reason'], r['params'].get('timeout_s')) for r in coll.measure(world, cases, 'cpu', 0.05)]\n"
        "    print('RESULT', round(time.time() - started, 1), json.dumps(out), flush=True)\n")
    done = subprocess.run([str(venv_torch), "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
                           str(script)], env=rank_env(), capture_output=True, text=True, timeout=120)
    line = next((x for x in done.stdout.splitlines() if x.startswith("RESULT")), None)
    assert line is not None, done.stdout + done.stderr[-2000:]
    _, seconds, payload = line.split(" ", 2)
    (first_status, first_reason, _), (second_status, second_reason, _) = json.loads(payload)
    assert first_status == "failed" and "timed out" in first_reason.lower() and "3000ms" in first_reason, first_reason
    assert second_status == "failed" and second_reason.startswith("not run:")
    assert float(seconds) < 11


# ---- two nodes on one machine ---------------------------------------------------------------------------

def test_two_nodes_node_1_with_one_thread_is_named_with_that_fact(venv_torch, tmp_path, stackprof_cli):
    out = tmp_path / "nodes"
    codes, logs = run_two_nodes(venv_torch, out, node1_env={"OMP_NUM_THREADS": "1"},
                                args=("--ops", "all_reduce", "--sizes", "64K"))
    assert codes == (0, 0), logs
    # no click/jinja2 in the torch venv: rank 0 says how to merge instead of merging
    assert "stackprof dist --merge" in logs[0]
    done, run = merge(stackprof_cli, out)
    assert done.returncode == 0, done.stderr[-2000:]
    dist = run["dist"]
    assert dist["nnodes"] == 2 and [n["ranks"] for n in dist["nodes"]] == [[0], [1]]
    entry = next(e for e in dist["env_diff"]["differing"] if e["path"] == "env_vars.vars.OMP_NUM_THREADS")
    assert entry["scope"] == "node"
    assert {(g["value"], tuple(g["nodes"])) for g in entry["values"]} == {("1", (1,)), (None, (0,))}
    g1 = straggler_named(run, "node 1 (rank 1) is a straggler")
    assert any(e.get("fact") == "env_vars.vars.OMP_NUM_THREADS" and e.get("value") == "1" for e in g1["evidence"])
    md = (out / "report.md").read_text()
    assert "env\\_vars.vars.OMP\\_NUM\\_THREADS" in md or "env_vars.vars.OMP_NUM_THREADS" in md


def test_a_rank_under_a_cpu_quota_is_the_straggler_with_evidence(venv_torch, tmp_path, stackprof_cli):
    out = tmp_path / "quota"
    with Slowdown(0.4) as slow:
        codes, logs = run_two_nodes(venv_torch, out, node1_wrap=slow.wrap, args=("--ops", "all_reduce",
                                                                                "--sizes", "64K"))
        evidence = slow.evidence
    assert codes == (0, 0), logs
    done, run = merge(stackprof_cli, out)
    g1 = straggler_named(run, "node 1 (rank 1) is a straggler")
    assert g1["severity"] in ("medium", "high"), g1
    assert any(e.get("fact") == evidence for e in g1["evidence"]), (slow.mode, g1["evidence"])
    assert g1["impact"]["kind"] == "measured" and g1["impact"]["ratio"] > 1.5


# ---- failures ----------------------------------------------------------------------------------------------

def test_a_killed_rank_is_named_and_the_others_are_kept(venv_torch, tmp_path):
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "stackprof", "dist", "--nproc", "2", "--python", str(venv_torch), "-o", str(out),
           *QUICK, "--ops", "all_reduce", "--sizes", "64K,1M,32M", "--no-verify"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    status, identity = out / "ranks" / "rank-00001" / "status.json", out / "ranks" / "rank-00001" / "identity.json"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            if json.loads(status.read_text()).get("phase") == "collectives":
                break
        except (OSError, ValueError):
            pass
        time.sleep(0.05)
    else:
        proc.kill()
        pytest.fail("rank 1 never reached the collectives")
    os.kill(json.loads(identity.read_text())["pid"], signal.SIGKILL)
    stdout, stderr = proc.communicate(timeout=180)
    assert proc.returncode == 1, stderr[-2000:]
    run = json.loads((out / "run.json").read_text())
    ranks = {r["rank"]: r for r in run["dist"]["ranks"]}
    assert ranks[1]["state"] == "died" and "SIGKILL" in ranks[1]["error"] and "collectives" in ranks[1]["error"]
    assert ranks[0]["state"] in ("failed", "terminated")
    # what both ranks measured before the kill is kept
    stream = next(v for k, v in run["dist"]["per_rank"].items() if k.startswith("stream_triad"))
    assert sorted(row[0] for row in stream["rows"]) == [0, 1]
    assert "rank 1 (node 0): died" in stderr
    g3 = finding(run, "G3")
    assert g3 is not None and g3["kind"] == "note"


def test_unreachable_rendezvous_is_one_line(venv_torch, tmp_path):
    env = rank_env(RANK="1", WORLD_SIZE="2", LOCAL_RANK="0", MASTER_ADDR="127.0.0.1", MASTER_PORT=str(free_port()))
    done = subprocess.run([str(venv_torch), "-m", "stackprof.dist", "-o", str(tmp_path / "o"), "--timeout", "3",
                           "--phases", "collectives"], env=env, capture_output=True, text=True, timeout=60)
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 2 and len(lines) == 1, done.stderr
    assert "could not join the process group at 127.0.0.1" in lines[0] and "within 3 s" in lines[0]


def test_missing_backend_is_one_line(venv_torch, tmp_path, stackprof_cli):
    done = stackprof_cli("dist", "--nproc", "1", "--python", venv_torch, "-o", tmp_path / "n", "--backend", "nccl")
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "nccl is not available" in done.stderr, done.stderr
    one = subprocess.run([str(venv_torch), "-m", "stackprof.dist", "-o", str(tmp_path / "m"), "--backend", "nccl"],
                         env=rank_env(), capture_output=True, text=True, timeout=60)
    assert one.returncode == 2 and "backend nccl is not available in torch 2.13.0" in one.stderr


def test_different_stackprof_versions_across_ranks_is_one_line(venv_torch, tmp_path):
    other = tmp_path / "other"
    shutil.copytree(ROOT / "stackprof" / "dist", other / "stackprof" / "dist",
                    ignore=shutil.ignore_patterns("__pycache__"))
    (other / "stackprof" / "__init__.py").write_text('__version__ = "0.0.1-other"\n')
    (other / "probes").symlink_to(ROOT / "probes")
    codes, logs = run_two_nodes(venv_torch, tmp_path / "v", node1_path=other, args=("--phases", "collectives"))
    assert codes != (0, 0)
    for log in logs:
        lines = [line for line in log.splitlines() if line.startswith("stackprof.dist:")]
        assert lines and "stackprof versions differ across ranks" in lines[0], log[-2000:]
