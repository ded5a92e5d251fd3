#!/usr/bin/env bash
# GPU check of issue 14, one command on a machine with an NVIDIA GPU (under 5 minutes on one GPU):
#
#   bash benchmarks/gpu_check.sh [--small] [gpu_check.py options]
#
# 1. installs what is missing: solverhub with its cuda and test extras (pip install -e ".[cuda,test]"),
#    or only CuPy with the CUDA libraries from PyPI ("cupy-cuda12x[ctk]") when solverhub is there;
#    offline: WHEELHOUSE=/dir/of/wheels (pip download them elsewhere first); GPU_CHECK_NO_INSTALL=1
#    installs nothing;
# 2. runs the tests marked gpu (pytest -m gpu tests/);
# 3. runs benchmarks/gpu_check.py: GPU against CPU results (1e-6 relative), ADMM and block-sketch
#    speedups against 2 CPU threads, peak GPU memory; prints the markdown table for docs/benchmarks.md.
#
# Output goes to $OUT (set by the device runner) or benchmarks/results/: gpu_check.md, gpu_check.json,
# gpu_tests.txt. Exit code: 0 when the tests and every agreement check passed.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
OUT_DIR=${OUT:-benchmarks/results}
mkdir -p "$OUT_DIR"
say() { echo "gpu_check.sh: $*" >&2; }
started=$(date +%s)

if command -v nvidia-smi >/dev/null 2>&1; then
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader >&2 || true
else
    say "nvidia-smi not found: is the NVIDIA driver installed?"
fi

pip_opts=()
if [ -n "${WHEELHOUSE:-}" ]; then pip_opts=(--no-index --find-links "$WHEELHOUSE"); fi
cupy_works() {
    "$PY" - <<'EOF' 2>/dev/null
import cupy
a = cupy.arange(4, dtype=cupy.float64) * 2.0
assert float(a @ a) == 56.0
EOF
}
if [ -n "${GPU_CHECK_NO_INSTALL:-}" ]; then
    say "GPU_CHECK_NO_INSTALL is set: installing nothing"
elif ! "$PY" -c "import solverhub" 2>/dev/null; then
    say "installing solverhub[cuda,test] (editable)"
    "$PY" -m pip install -q ${pip_opts[@]+"${pip_opts[@]}"} -e ".[cuda,test]" || say "pip install -e .[cuda,test] failed"
elif ! cupy_works; then
    say "installing cupy-cuda12x[ctk] (CuPy with the CUDA libraries from PyPI)"
    "$PY" -m pip install -q ${pip_opts[@]+"${pip_opts[@]}"} "cupy-cuda12x[ctk]>=14" || say "pip install cupy-cuda12x failed"
fi
[ -n "${GPU_CHECK_NO_INSTALL:-}" ] || "$PY" -c "import pytest, threadpoolctl" 2>/dev/null \
    || "$PY" -m pip install -q ${pip_opts[@]+"${pip_opts[@]}"} pytest threadpoolctl || say "pip install pytest failed"

# the probe's answer, one line (the reason when the device cannot be used)
"$PY" -c "from solverhub.plugins.cuda import probe_cuda; print('cuda:', probe_cuda().summary())"

say "tests marked gpu"
timeout 150 "$PY" -m pytest -q -m gpu -p no:cacheprovider tests/ 2>&1 | tee "$OUT_DIR/gpu_tests.txt" | tail -25
tests_rc=${PIPESTATUS[0]}
if [ "$tests_rc" = 5 ]; then say "no test marked gpu was collected"; tests_rc=0; fi

say "GPU against CPU"
# the CPU side is the issue's "2-core CPU": 2 BLAS threads (gpu_check.py also uses threadpoolctl)
OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2 MKL_NUM_THREADS=2 timeout 270 "$PY" benchmarks/gpu_check.py \
    --device cuda --json "$OUT_DIR/gpu_check.json" --markdown "$OUT_DIR/gpu_check.md" "$@"
check_rc=$?

say "tests: exit $tests_rc, check: exit $check_rc, $(( $(date +%s) - started )) s in all; table in $OUT_DIR/gpu_check.md"
[ "$tests_rc" = 0 ] && [ "$check_rc" = 0 ]
