#!/usr/bin/env bash
# On a machine with an NVIDIA GPU: the CUDA and CuPy tests, then the JAX GPU
# tests, the GPU benchmark with device syncs (torch), host transfers (JAX)
# and synchronizations (CuPy) inside arraymix calls made errors, and
# dev/gpu_probe.py (where the device time of one call goes); the compile
# tests run too, on the GPU machine's torch. Under 8 minutes (an H200 took
# 6.1). Writes gpu-tests.log, gpu.md, gpu.json, gpu-bench.err and
# gpu-probe.txt to $OUT (default: bench/). Each step stops at its time limit
# with what it has.
#   bash bench/gpu.sh
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-bench}
export PYTHONUNBUFFERED=1 PYTHONPATH="src${PYTHONPATH:+:$PYTHONPATH}"
export XLA_PYTHON_CLIENT_PREALLOCATE=false  # JAX shares the GPU with torch and CuPy
status=0
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -c "import torch, jax, cupy, numpy, triton; print('torch', torch.__version__, '| jax', \
jax.__version__, jax.devices(), '| cupy', cupy.__version__, '| triton', triton.__version__)"
tests() {  # $1: seconds, $2: -k expression
    timeout -s INT "$1" python3 -m pytest -q -p no:cacheprovider --hypothesis-profile=device \
        --tb=short -rfEs -k "$2" tests 2>&1 | tee -a "$out/gpu-tests.log" | tail -40
}
tests 140 "(cuda or cupy or compile) and not jax" || status=1
tests 100 "jax-gpu" || status=1
timeout -s INT 170 python3 bench/run.py --strict-sync --backends torch-cuda jax-gpu cupy \
    --sizes "imagenet f32" "small 128x16" "cifar f32" "imagenet bf16" "imagenet256 f32" \
    --rounds 7 --json "$out/gpu.json" > "$out/gpu.md" 2> >(tee "$out/gpu-bench.err" >&2) || status=1
timeout -s INT 60 python3 dev/gpu_probe.py > "$out/gpu-probe.txt" 2>&1 || status=1
cat "$out/gpu-probe.txt" "$out/gpu.md"
exit $status
