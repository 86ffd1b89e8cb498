#!/usr/bin/env bash
# stackprof GPU suite: ONE prepared script for a CUDA machine. Needs no network: it measures the first
# interpreter that has CUDA torch (the image's), and runs stackprof from this checkout with that same
# Python (>= 3.10; torch, numpy, nvidia-ml-py, click and jinja2 as a GPU image has them; plotly optional).
# It writes, redacted and ready to commit under reports/examples/ (into $OUT, default
# reports/examples/gpu-suite):
#   run.json, report.md (report.html where plotly is installed; else `stackprof report run.json
#   --format html -o report.html` on any machine with stackprof), summary.txt (which GPU, L2 flush and
#   NVML-sample checks, findings per kind, GEMM maxima against the datasheet and MAMF references),
#   gpu_state.csv (nvidia-smi query before the suite: no serial numbers or UUIDs), dmon.log (clocks,
#   power, temperature sampled during the run), gpu_suite.log.
# Usage: scripts/gpu_suite.sh [--dry-run]   (--dry-run: no GPU needed; plans the suite, writes the files
#   from the facts alone, so the script can be checked anywhere)
# Environment: STACKPROF_PYTHON (interpreter to measure), STACKPROF_GPU_MODE (quick|default|full,
# default "default": under 5 minutes on one H100/H200), STACKPROF_GPU_DEVICE (default cuda:0),
# STACKPROF_GPU_TIMEOUT (seconds for the suite itself, default 270; at the limit the suite is
# interrupted and still writes what it measured).
# It never changes the GPU's clocks, power limit or modes; it only reads them.
set -uo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
OUT=${OUT:-$REPO/reports/examples/gpu-suite}
MODE=${STACKPROF_GPU_MODE:-default}
DEVICE=${STACKPROF_GPU_DEVICE:-cuda:0}
LIMIT=${STACKPROF_GPU_TIMEOUT:-270}
DRY=""
[ "${1:-}" = "--dry-run" ] && DRY="--dry-run"
mkdir -p "$OUT"
WORK=$(mktemp -d)
LOG="$WORK/gpu_suite.log"
export PYTHONUNBUFFERED=1
log() { echo "gpu_suite: $*" | tee -a "$LOG" >&2; }

has_torch() {       # with CUDA, unless this is a dry run
    local check='import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)'
    [ -n "$DRY" ] && check='import torch'
    "$1" -c "$check" >/dev/null 2>&1
}
new_enough() {      # the host side of stackprof needs Python >= 3.10
    "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)' >/dev/null 2>&1
}

# 1. The interpreter to measure: given, else the first one found with CUDA torch. Nothing is installed.
PY=${STACKPROF_PYTHON:-}
if [ -z "$PY" ]; then
    for candidate in python3 /opt/torch/.venv/bin/python3 /opt/conda/bin/python python; do
        if command -v "$candidate" >/dev/null 2>&1 && has_torch "$candidate"; then
            PY=$(command -v "$candidate"); break
        fi
    done
fi
SUITE_STATUS=0
if [ -z "$PY" ] || ! has_torch "$PY"; then
    log "FAILED: no Python with a working CUDA torch found (set STACKPROF_PYTHON); nothing was measured"
    SUITE_STATUS=2
else
    log "measuring $PY ($("$PY" -c 'import torch; print(torch.__version__, torch.version.cuda or torch.version.hip)' 2>&1))"
    # 2. The host side runs in the same interpreter when it is new enough, else in python3.
    HOST=$PY
    new_enough "$HOST" || HOST=python3
    if ! new_enough "$HOST"; then
        log "FAILED: stackprof needs Python >= 3.10 on the host side"
        SUITE_STATUS=2
    fi
fi

if [ "$SUITE_STATUS" -eq 0 ]; then
    # 3. GPU state before (no identifiers), and clocks/power sampled during the run: read-only queries.
    DMON_PID=""
    if [ -z "$DRY" ] && command -v nvidia-smi >/dev/null 2>&1; then
        FIELDS=index,name,driver_version,pstate,temperature.gpu,power.draw,power.limit,power.default_limit,clocks.sm,clocks.max.sm,clocks.mem,clocks.max.mem,pcie.link.gen.current,pcie.link.gen.max,pcie.link.width.current,pcie.link.width.max,persistence_mode,ecc.mode.current,mig.mode.current,compute_mode
        nvidia-smi --query-gpu="$FIELDS" --format=csv > "$OUT/gpu_state.csv" 2>>"$LOG" \
            || log "nvidia-smi could not answer the state query (see the log)"
        nvidia-smi dmon -s pucm -o T > "$OUT/dmon.log" 2>&1 &
        DMON_PID=$!
    fi

    # 4. The suite, bounded: at the limit it is interrupted (SIGINT) and still writes what it measured.
    log "mode $MODE on $DEVICE, limit ${LIMIT}s${DRY:+ (dry run)}"
    timeout --signal=INT --kill-after=30 "$LIMIT" "$HOST" "$REPO/scripts/gpu_suite.py" --python "$PY" \
        --out "$OUT" --mode "$MODE" --device "$DEVICE" $DRY 2> >(tee -a "$LOG" >&2)
    SUITE_STATUS=$?
    [ -n "$DMON_PID" ] && kill "$DMON_PID" 2>/dev/null
    [ "$SUITE_STATUS" -eq 130 ] && log "the suite reached its ${LIMIT}s limit: the outputs hold what was finished"
    log "exit status $SUITE_STATUS; outputs in $OUT"
    "$HOST" "$REPO/scripts/gpu_suite.py" --redact-file "$LOG" "$OUT/gpu_suite.log"
else
    cp "$LOG" "$OUT/gpu_suite.log"
fi
rm -rf "$WORK"
# The single-GPU suite ends here; its status is in SUITE_STATUS. Blocks appended below run after it.
(exit "$SUITE_STATUS")

# 5. stackprof dist, the single-GPU path (issue 13): the per-rank entry that torchrun starts on a cluster,
#    here one rank with the NCCL backend on the GPU (collectives, per-device benchmarks, NVML state through
#    ctypes), merged through the Python API into $OUT/dist (run.json, report.md, report.html with plotly).
#    The raw rank folders (unredacted facts) stay in a temporary folder. --dry-run: the same entry on the
#    CPU with gloo. STACKPROF_GPU_DIST=0 skips it; STACKPROF_GPU_DIST_TIMEOUT bounds it (default 240 s).
DIST_STATUS=0
if [ "${STACKPROF_GPU_DIST:-1}" = "1" ] && [ -n "${PY:-}" ] && [ -n "${HOST:-}" ]; then
    DIST_WORK=$(mktemp -d)
    DIST_OUT="$OUT/dist"
    mkdir -p "$DIST_OUT"
    DIST_ARGS=(--quick --device cuda --backend nccl --timeout 60 --model-params 7e9 --dtype bf16 --hidden 4096 --seq 4096)
    [ -n "$DRY" ] && DIST_ARGS=(--quick --device cpu --backend gloo --timeout 30 --ops all_reduce --sizes 64K)
    echo "gpu_suite: dist: one rank, ${DIST_ARGS[*]}" >&2
    timeout --kill-after=30 "${STACKPROF_GPU_DIST_TIMEOUT:-240}" "$PY" -m torch.distributed.run --standalone \
        --nproc-per-node 1 --max-restarts 0 "$REPO/stackprof/dist/__main__.py" "${DIST_ARGS[@]}" \
        -o "$DIST_WORK" --no-merge --launcher gpu_suite.sh
    DIST_STATUS=$?
    "$HOST" - "$REPO" "$DIST_WORK" "$DIST_OUT" <<'PY' || DIST_STATUS=$(( DIST_STATUS ? DIST_STATUS : 1 ))
import sys
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from stackprof.dist import flow
from stackprof.pipeline import finalize, write_outputs

run = flow.build(Path(sys.argv[2]), redact=True)
flow.diagnose(run, None, verify_budget_s=None, echo=lambda m: print("gpu_suite: dist:", m, file=sys.stderr))
run = finalize(run, redact=True)
paths = write_outputs(run, Path(sys.argv[3]))
for row in run.dist.get("ranks") or []:
    print(f"gpu_suite: dist: rank {row['rank']} {row['state']} on {row.get('device')} ({row.get('backend')}); "
          f"gpu {row.get('gpu')}; NVML {row.get('gpu_state')}" + (f"; {row['error']}" if row.get("error") else ""),
          file=sys.stderr)
for c in run.dist.get("collectives") or []:
    print(f"gpu_suite: dist: {c['id']}: {c['status']} algbw {c.get('algbw_gbps')} GB/s busbw {c.get('busbw_gbps')} "
          f"check {c.get('check_ok')}" + (f" ({c['reason']})" if c.get("reason") else ""), file=sys.stderr)
for e in run.errors:
    print(f"gpu_suite: dist: error: {e.get('source')}: {e.get('message')}", file=sys.stderr)
print("gpu_suite: dist: wrote " + ", ".join(str(p) for p in paths.values()), file=sys.stderr)
sys.exit(flow.outcome(run)[0])
PY
    rm -rf "$DIST_WORK"
    echo "gpu_suite: dist: exit status $DIST_STATUS; outputs in $DIST_OUT" >&2
fi
[ "$SUITE_STATUS" -eq 0 ] && SUITE_STATUS=$DIST_STATUS
(exit "$SUITE_STATUS")
