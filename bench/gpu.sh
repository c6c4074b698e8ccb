#!/usr/bin/env bash
# On a machine with an NVIDIA GPU: the CUDA tests, the GPU benchmark with
# device syncs (torch), host transfers (JAX) and synchronizations (CuPy)
# inside arraymix calls made errors, and bench/gpu_probe.py (where the
# device time of one call goes). About 5 minutes. Writes gpu-tests.log,
# gpu.md, gpu.json and gpu-probe.txt to $OUT (default: bench/).
#   bash bench/gpu.sh
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-bench}
export PYTHONUNBUFFERED=1 PYTHONPATH="src${PYTHONPATH:+:$PYTHONPATH}"
export XLA_PYTHON_CLIENT_PREALLOCATE=false  # JAX shares the GPU with torch and CuPy
status=0
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm,clocks.mem --format=csv
python3 -c "import torch, jax, cupy, numpy; print('torch', torch.__version__, '| jax', \
jax.__version__, jax.devices(), '| cupy', cupy.__version__, '| numpy', numpy.__version__)"
timeout 150 python3 -m pytest -q -p no:cacheprovider -k "cuda or gpu or cupy" \
    --durations=8 -rs tests 2>&1 | tee "$out/gpu-tests.log" || status=1
timeout 120 python3 bench/run.py --strict-sync --backends torch-cuda jax-gpu cupy \
    --sizes "imagenet f32" "imagenet256 f32" "imagenet bf16" "cifar f32" "small 128x16" \
    --rounds 10 --json "$out/gpu.json" > "$out/gpu.md" || status=1
timeout 50 python3 bench/gpu_probe.py 2>&1 | tee "$out/gpu-probe.txt" || status=1
cat "$out/gpu.md"
exit $status
