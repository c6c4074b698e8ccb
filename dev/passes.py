"""Where the host blend's time goes, pass by pass, for the rows that stay
above their targets: uint8 MixUp in place and the float32 collate.

    python dev/passes.py [--rounds N]

One process, interleaved rounds, medians. Each pass is the NumPy call the
host walk makes on one piece of a sample (in cache), timed over the pieces
of a 64x3x224x224 batch and set beside the whole call and the copy that
sets the floor. Answers one question: which passes the eager host paths
cannot drop, and what each costs.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np

import arraymix

SHAPE = (64, 3, 224, 224)


def _times(count: int, fn: Callable[[], object]) -> Callable[[], object]:
    """``fn`` called ``count`` times: one pass over every piece of a batch."""
    def run() -> None:
        for _ in range(count):
            fn()
    return run


def _uint8_rows() -> dict[str, Callable[[], object]]:
    gen = np.random.default_rng(0)
    x = gen.integers(0, 256, SHAPE, dtype=np.uint8)
    buf = np.empty_like(x)
    p = arraymix.sample_mixup(1, SHAPE[0])
    piece = 1 << 16  # the walk's integer piece (Tuning.int_piece)
    count = x.size // piece
    a, b = x.reshape(-1)[:piece], x.reshape(-1)[piece:2 * piece]
    cur, nxt, acc, tmp = (np.empty(piece, np.float32) for _ in range(4))
    out = buf.reshape(-1)[:piece]
    lam, om = np.float32(0.3), np.float32(0.7)
    magic = np.float32(1.5 * 2**23)

    return {
        "uint8 floor: copy the batch into a buffer": lambda: np.copyto(buf, x),
        "uint8 blend in place (arraymix.blend, out=x)": lambda: arraymix.blend(x, p, out=x),
        "  pass: convert a piece to float32": _times(count,
            lambda: np.copyto(cur, a, casting="unsafe")),
        "  pass: convert the partner's piece": _times(count,
            lambda: np.copyto(nxt, b, casting="unsafe")),
        "  pass: (1 - lam) * b": _times(count, lambda: np.multiply(nxt, om, out=tmp)),
        "  pass: lam * a": _times(count, lambda: np.multiply(cur, lam, out=acc)),
        "  pass: the sum": _times(count, lambda: np.add(acc, tmp, out=acc)),
        "  pass: the rounding add": _times(count, lambda: np.add(acc, magic, out=acc)),
        "  pass: the cast of the low bits": _times(count,
            lambda: np.copyto(out, acc.view(np.int32), casting="unsafe")),
    }


def _collate_rows() -> dict[str, Callable[[], object]]:
    gen = np.random.default_rng(0)
    samples = [gen.random(SHAPE[1:], dtype=np.float32) for _ in range(SHAPE[0])]
    items = [(s, i % 1000) for i, s in enumerate(samples)]
    mixer = arraymix.Mixer(seed=0, num_classes=1000, cutmix_alpha=0.0)
    piece = 1 << 15  # the walk's float piece (Tuning.piece)
    count = SHAPE[0] * samples[0].size // piece
    a, b = samples[0].reshape(-1)[:piece], samples[1].reshape(-1)[:piece]
    dst, tmp = np.empty(piece, np.float32), np.empty(piece, np.float32)
    lam, om = np.float32(0.3), np.float32(0.7)

    return {
        "float32 stack the samples (np.stack)": lambda: np.stack(samples),
        "float32 Mixer.collate, MixUp": lambda: mixer.collate(items),
        "  pass: (1 - lam) * b": _times(count, lambda: np.multiply(b, om, out=tmp)),
        "  pass: lam * a": _times(count, lambda: np.multiply(a, lam, out=dst)),
        "  pass: the sum": _times(count, lambda: np.add(dst, tmp, out=dst)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    for table in (_uint8_rows(), _collate_rows()):
        times: dict[str, list[float]] = {name: [] for name in table}
        for fn in table.values():
            fn()  # warm
        for _ in range(args.rounds):
            for name, fn in table.items():
                t = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - t)
        first = statistics.median(next(iter(times.values())))
        for name, ts in times.items():
            med = statistics.median(ts)
            print(f"{name:48s} {med * 1e3:8.2f} ms  {med / first:6.2f}x the first row")
        print()


if __name__ == "__main__":
    main()
