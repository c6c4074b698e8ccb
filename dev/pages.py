"""Huge pages for new torch CPU batches, measured in a training loop.

    python dev/pages.py              # 3 pairs of runs, 50 steps each
    python dev/pages.py --pairs 5

Whether a new 38 MB array is page-faulted in depends on what the allocator
holds at that moment, which bench/run.py's interleaved rows disturb: there
one row's fresh copy may fault while the next one's does not. Here each run
is a fresh process doing what a training step does on torch CPU: an
out-of-place ``mixup`` of a 64x3x224x224 float32 batch, a convolution on the
result, everything freed before the next step. Runs with
``ARRAYMIX_HUGE_PAGES=0`` (4 KiB pages) and ``=1`` alternate; the table gives
each setting's median over all steps, and the ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

STEPS, WARMUP = 50, 10


def run_steps() -> dict[str, list[float]]:
    """One process's steps: time of the mixup call, and of the whole step."""
    import torch

    import arraymix

    x = torch.rand(64, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    y = torch.randint(0, 1000, (64,))
    weight = torch.rand(64, 3, 3, 3)
    gen = torch.Generator().manual_seed(0)
    mix: list[float] = []
    step: list[float] = []
    for i in range(WARMUP + STEPS):
        start = time.perf_counter()
        xm, ym = arraymix.mixup(x, y, num_classes=1000, rng=gen)
        mixed = time.perf_counter()
        features = torch.relu(torch.nn.functional.conv2d(xm[:16], weight, stride=2))
        float(features.mean())
        del xm, ym, features
        end = time.perf_counter()
        if i >= WARMUP:
            mix.append(mixed - start)
            step.append(end - start)
    return {"mixup": mix, "step": step}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=3, help="runs per setting")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(run_steps()))
        return 0
    times: dict[str, dict[str, list[float]]] = {"0": {}, "1": {}}
    for _ in range(args.pairs):
        for switch in ("0", "1"):
            env = dict(os.environ, ARRAYMIX_HUGE_PAGES=switch)
            done = subprocess.run([sys.executable, __file__, "--child"], env=env, check=True,
                                  capture_output=True, text=True)
            for key, values in json.loads(done.stdout).items():
                times[switch].setdefault(key, []).extend(values)
    print(f"{args.pairs} runs per setting, {STEPS} steps each (medians, ms)\n")
    print("| | 4 KiB pages (ARRAYMIX_HUGE_PAGES=0) | huge pages (default) | ratio |")
    print("|---|---|---|---|")
    for key, label in (("mixup", "mixup out of place"), ("step", "whole step")):
        off, on = (statistics.median(times[s][key]) * 1e3 for s in ("0", "1"))
        print(f"| {label} | {off:.2f} | {on:.2f} | {on / off:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
