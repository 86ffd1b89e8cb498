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
