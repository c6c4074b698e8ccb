"""What one ResizeMix call costs for each box side, as a ratio to the
copy floor: the bench's ResizeMix rows draw their box, and its size sets
their time.

    python dev/box_sides.py [--rounds 15] [--sides 0.3 0.45 0.6 0.8]

One 64×3×224×224 float32 batch, out of place, params drawn once per side
(one box for the batch, and one box per sample of that side), NumPy and
CPU torch interleaved in one process; medians. The 3N floor is 1.5× the
copy into a buffer, as in ``bench/run.py``.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np

import arraymix


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--sides", type=float, nargs="+", default=[0.3, 0.45, 0.6, 0.8])
    args = parser.parse_args()
    x = np.random.default_rng(0).random((64, 3, 224, 224), dtype=np.float32)
    buffer = np.empty_like(x)
    cases: dict[str, Callable[[], Any]] = {"numpy copy into a buffer": lambda: np.copyto(buffer, x)}
    libraries: list[tuple[str, Any, Callable[[np.ndarray], Any]]] = [("numpy", x, np.asarray)]
    try:
        import torch

        tx, tbuffer = torch.from_numpy(x.copy()), torch.empty(x.shape)
        cases["torch copy into a buffer"] = lambda: tbuffer.copy_(tx)
        libraries.append(("torch", tx, torch.from_numpy))
    except ImportError:
        pass
    for side in args.sides:
        for mode in ("batch", "sample"):
            p = arraymix.sample_resizemix(0, 64, (224, 224), scale=(side, side), lam_mode=mode)
            for name, data, put in libraries:
                q = type(p)(*(put(v) if isinstance(v, np.ndarray) else v for v in p))
                cases[f"{name} side {side} {mode}"] = (
                    lambda data=data, q=q: arraymix.paste(data, q))
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(args.rounds):
        for name, call in cases.items():
            start = time.perf_counter()
            call()
            times[name].append(time.perf_counter() - start)
    medians = {name: statistics.median(t) for name, t in times.items()}
    for name, median in medians.items():
        library = name.split()[0]
        floor = 1.5 * medians[f"{library} copy into a buffer"]
        print(f"{name:32s} {median * 1e3:8.2f} ms  {median / floor:5.2f}× the 3N floor")


if __name__ == "__main__":
    main()
