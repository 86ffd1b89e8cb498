#!/usr/bin/env bash
# stackprof GPU suite: ONE prepared script for a CUDA machine. Finds (or creates) a Python with
# CUDA torch, runs the facts + GPU benchmarks, and writes under $OUT (default ./gpu-suite-out):
#   run.json, report.md (+ report.html when plotly is installed), summary.txt (table and the bf16/fp8
#   GEMM maximum against the MAMF-finder reference), nvidia-smi.txt (state before), dmon.log (clocks,
#   power, temperature sampled during the run), gpu_suite.log.
# Environment: STACKPROF_PYTHON (interpreter to measure), STACKPROF_GPU_MODE (quick|default|full,
# default "default"), STACKPROF_GPU_DEVICE (default cuda:0), STACKPROF_GPU_TIMEOUT (seconds, 540),
# STACKPROF_GPU_VENV (where to create a venv if no interpreter has CUDA torch; needs network).
# It never changes the GPU's clocks, power limit or modes; it only reads them.
set -uo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
OUT=${OUT:-$REPO/gpu-suite-out}
MODE=${STACKPROF_GPU_MODE:-default}
DEVICE=${STACKPROF_GPU_DEVICE:-cuda:0}
LIMIT=${STACKPROF_GPU_TIMEOUT:-540}
mkdir -p "$OUT"
LOG="$OUT/gpu_suite.log"
export PYTHONUNBUFFERED=1
log() { echo "gpu_suite: $*" | tee -a "$LOG" >&2; }

has_cuda_torch() {
    "$1" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)' >/dev/null 2>&1
}
new_enough() {      # the host side of stackprof needs Python >= 3.10
    "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)' >/dev/null 2>&1
}

# 1. The interpreter to measure: given, else the first one found with CUDA torch, else a new venv.
PY=${STACKPROF_PYTHON:-}
if [ -z "$PY" ]; then
    for candidate in python3 /opt/torch/.venv/bin/python3 /opt/conda/bin/python python; do
        if command -v "$candidate" >/dev/null 2>&1 && has_cuda_torch "$candidate"; then
            PY=$(command -v "$candidate"); break
        fi
    done
fi
if [ -z "$PY" ]; then
    VENV=${STACKPROF_GPU_VENV:-$HOME/.cache/stackprof-gpu-venv}
    log "no interpreter with CUDA torch found; creating $VENV (pip install torch numpy: needs network)"
    python3 -m venv "$VENV" >>"$LOG" 2>&1 && "$VENV/bin/pip" install -q torch numpy >>"$LOG" 2>&1 \
        && PY="$VENV/bin/python"
    if [ -z "$PY" ] || ! has_cuda_torch "$PY"; then
        log "FAILED: no Python with a working CUDA torch (see $LOG); nothing was measured"
        exit 1
    fi
fi
log "measuring $PY ($("$PY" -c 'import torch; print(torch.__version__, torch.version.cuda or torch.version.hip)' 2>&1))"

# 2. The host side runs in the same interpreter when it is new enough, else in python3.
HOST=$PY
new_enough "$HOST" || HOST=python3
new_enough "$HOST" || { log "FAILED: stackprof needs Python >= 3.10 on the host side"; exit 1; }

# 3. GPU state before, and clocks/power sampled during the run (read-only queries).
DMON_PID=""
if command -v nvidia-smi >/dev/null 2>&1; then
    nvidia-smi -q > "$OUT/nvidia-smi.txt" 2>&1
    nvidia-smi dmon -s pucm -o T > "$OUT/dmon.log" 2>&1 &
    DMON_PID=$!
fi

# 4. The suite (bounded so that the outputs are written within the caller's limit).
log "mode $MODE on $DEVICE, limit ${LIMIT}s"
timeout "$LIMIT" "$HOST" "$REPO/scripts/gpu_suite.py" --python "$PY" --out "$OUT" --mode "$MODE" \
    --device "$DEVICE" 2> >(tee -a "$LOG" >&2)
STATUS=$?
[ -n "$DMON_PID" ] && kill "$DMON_PID" 2>/dev/null
[ $STATUS -eq 124 ] && log "FAILED: the suite ran past ${LIMIT}s (raise STACKPROF_GPU_TIMEOUT or use STACKPROF_GPU_MODE=quick)"
log "exit status $STATUS; outputs in $OUT"
exit $STATUS
