"""The loader's end to end: images per second through a torch DataLoader.

    python bench/loader.py [--rounds N] [--batches N] [--workers N]

An in-memory dataset of uint8 3x224x224 NumPy samples with 1000-class ids,
batches of 64, the DataLoader's workers doing the collate (persistent,
started before timing): with no mixing (torch's default collate), with
arraymix's ``Mixer.collate`` (eager, and with ``compiled=True`` where a
C++ compiler is), with stacking followed by the Mixer in
place, and with timm's ``FastCollateMixup`` (where timm is installed).
Each round runs one pass of every loader in a shuffled order; the table
gives the median images per second and the ratio to no mixing.
"""

from __future__ import annotations

import argparse
import functools
import random
import shutil
import statistics
import sys
import time
from typing import Any

import numpy as np
import torch

import arraymix

MIX = {"mixup_alpha": 0.8, "cutmix_alpha": 1.0, "label_smoothing": 0.1, "num_classes": 1000}


class StackThenMix:
    """Stack the samples, then mix the batch in place with the Mixer."""

    def __init__(self, mixer: arraymix.Mixer) -> None:
        self.mixer = mixer

    def __call__(self, items: list[tuple[np.ndarray, int]]) -> tuple[torch.Tensor, Any]:
        x = torch.from_numpy(np.stack([s for s, _ in items]))
        return self.mixer(x, torch.tensor([i for _, i in items]), out=x)


def loaders(data: list[tuple[np.ndarray, int]], batch: int,
            workers: int) -> dict[str, torch.utils.data.DataLoader[Any]]:
    def make_on(samples: Any, collate: Any) -> torch.utils.data.DataLoader[Any]:
        return torch.utils.data.DataLoader(samples, batch_size=batch, shuffle=True,
                                           num_workers=workers, collate_fn=collate,
                                           persistent_workers=workers > 0, drop_last=True)

    # tensors (views of the same memory) for torch's collates and arraymix's,
    # whose torch batches then travel through shared memory; timm takes NumPy
    tensors = [(torch.from_numpy(s), i) for s, i in data]
    out = {
        "no mixing (default collate)": make_on(tensors, None),
        "arraymix Mixer.collate": make_on(tensors, arraymix.Mixer(seed=0, **MIX).collate),
        "stack, then Mixer in place": make_on(data, StackThenMix(arraymix.Mixer(seed=0,
                                                                                **MIX))),
    }
    if shutil.which("g++"):
        # torch's CPU code generation for the blends, the user's explicit choice
        compiled = functools.partial(arraymix.Mixer(seed=0, **MIX).collate, compiled=True)
        out["arraymix Mixer.collate, compiled"] = make_on(tensors, compiled)
    try:
        from timm.data import FastCollateMixup

        out["timm FastCollateMixup"] = make_on(data, FastCollateMixup(**MIX))
    except ImportError as e:
        print(f"skipping timm FastCollateMixup: {e}", file=sys.stderr)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--batches", type=int, default=12, help="batches of 64 per pass")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    gen = np.random.default_rng(0)
    batch = 64
    data = [(gen.integers(0, 256, (3, 224, 224), dtype=np.uint8), int(gen.integers(1000)))
            for _ in range(batch * args.batches)]
    rows = loaders(data, batch, args.workers)
    rate: dict[str, list[float]] = {name: [] for name in rows}
    for loader in rows.values():  # start the workers, warm up
        for _ in loader:
            pass
    names = list(rows)
    for _ in range(args.rounds):
        random.shuffle(names)
        for name in names:
            t = time.perf_counter()
            seen = sum(x.shape[0] for x, _ in rows[name])
            rate[name].append(seen / (time.perf_counter() - t))
    base = statistics.median(rate["no mixing (default collate)"])
    print(f"DataLoader, {args.workers} workers, batches of {batch} uint8 3x224x224, "
          f"{args.batches} batches a pass, median of {args.rounds} passes "
          f"(torch {torch.__version__}, {torch.get_num_threads()} threads)")
    print("| collate | images/s | × no mixing |\n|---|---|---|")
    for name in rows:
        med = statistics.median(rate[name])
        print(f"| {name} | {med:.0f} | {med / base:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
