"""Per-call fixed cost of arraymix on small batches against hand-written mixups.

    python dev/fixed_cost.py [--rounds N]

One process, interleaved rounds, medians (µs) and ratios to the hand-written
row of the same backend. Answers one question: what a call costs beside its
arithmetic. The benchmark rows themselves are in bench/run.py.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

import numpy as np

import arraymix


def _time(fn, n=200):
    t = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t) / n * 1e6


def rows():
    out = {}
    gen = np.random.default_rng(0)
    for shape in ((128, 16), (8, 3, 32, 32)):
        x = gen.random(shape, dtype=np.float32)
        y = gen.integers(0, 10, shape[0])
        eye = np.eye(10, dtype=np.float32)
        g = np.random.default_rng(1)
        g2 = np.random.default_rng(1)

        def hand(x=x, y=y, eye=eye, g=g):
            lam = g.beta(0.2, 0.2)
            perm = g.permutation(x.shape[0])
            t = eye[y]
            return lam * x + (1 - lam) * x[perm], lam * t + (1 - lam) * t[perm]

        p = arraymix.sample_mixup(0, shape[0])
        perm = p.perm
        lam = float(p.lam)
        tag = "x".join(map(str, shape))
        out[f"numpy {tag} hand mixup"] = hand
        out[f"numpy {tag} mixup"] = lambda x=x, y=y, g2=g2: arraymix.mixup(
            x, y, num_classes=10, rng=g2)
        out[f"numpy {tag} hand blend"] = lambda x=x, lam=lam, perm=perm: (
            lam * x + (1 - lam) * x[perm])
        out[f"numpy {tag} blend"] = lambda x=x, p=p: arraymix.blend(x, p)
        try:
            import torch
        except ImportError:
            continue
        tx, ty = torch.from_numpy(x), torch.from_numpy(y)
        teye = torch.eye(10)
        tg = torch.Generator().manual_seed(0)
        g3 = np.random.default_rng(1)

        def thand(x=tx, y=ty, eye=teye, g=g3):
            lam = g.beta(0.2, 0.2)
            perm = torch.randperm(x.shape[0])
            t = eye[y]
            return lam * x + (1 - lam) * x[perm], lam * t + (1 - lam) * t[perm]

        tp = arraymix.sample_mixup(0, shape[0], xp=torch, device="cpu")
        tperm = tp.perm
        out[f"torch {tag} hand mixup"] = thand
        g4 = np.random.default_rng(2)
        out[f"torch {tag} mixup np-gen"] = lambda x=tx, y=ty, g=g4: (
            arraymix.mixup(x, y, num_classes=10, rng=g))
        out[f"torch {tag} mixup torch-gen"] = lambda x=tx, y=ty, g=tg: arraymix.mixup(
            x, y, num_classes=10, rng=g)
        out[f"torch {tag} hand blend"] = lambda x=tx, lam=lam, perm=tperm: (
            lam * x + (1 - lam) * x[perm])
        out[f"torch {tag} blend"] = lambda x=tx, p=tp: arraymix.blend(x, p)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=15)
    args = ap.parse_args()
    r = rows()
    times = {k: [] for k in r}
    for fn in r.values():
        _time(fn, 50)
    for _ in range(args.rounds):
        order = list(r)
        random.shuffle(order)
        for k in order:
            times[k].append(_time(r[k]))
    med = {k: statistics.median(v) for k, v in times.items()}
    for k, v in med.items():
        lib, tag = k.split()[:2]
        kind = "mixup" if "mixup" in k else "blend"
        ref = med[f"{lib} {tag} hand {kind}"]
        print(f"{k:40s} {v:8.1f} µs  {v / ref:5.2f}x")


if __name__ == "__main__":
    main()
