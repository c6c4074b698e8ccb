#!/usr/bin/env bash
# On a machine with an NVIDIA GPU: the CUDA tests, then the GPU benchmark with
# device syncs (torch) and host transfers (JAX) inside arraymix calls made
# errors. Meant to finish in under 8 minutes. Writes gpu-tests.log, gpu.md and
# gpu.json to $OUT (default: bench/).
#   bash bench/gpu.sh
set -euo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-bench}
export PYTHONUNBUFFERED=1 PYTHONPATH="src${PYTHONPATH:+:$PYTHONPATH}"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv || true
python3 -m pytest -q -p no:cacheprovider -k "cuda or gpu or cupy" tests 2>&1 | tee "$out/gpu-tests.log"
python3 bench/run.py --strict-sync --backends torch-cuda jax-gpu \
    --sizes "imagenet f32" "imagenet bf16" "cifar f32" "small 128x16" --rounds 15 \
    --json "$out/gpu.json" | tee "$out/gpu.md"
