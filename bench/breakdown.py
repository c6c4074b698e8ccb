"""Where the time goes in the rows that miss a target: each call taken apart.

    python bench/breakdown.py                     # 40 interleaved rounds, ~10 seconds
    python bench/breakdown.py --rounds 100 --json /tmp/breakdown.json

Four groups, each timed in one process on one input, after a warm-up, in
interleaved rounds (a shuffled order each round); medians and min-max, as
``bench/run.py`` times its rows. Every step is a piece of the public call
at the bottom of its group, or the cheapest call that moves the same bytes:

- **NumPy, 64x3x224x224 float32, into a buffer and into a new array**
  (targets: 1.0x the 3N floor, 1.4x ``x.copy()``). The walk's ufunc calls
  (three a piece of a sample, in its cycle order) are timed as the walk
  makes them, then the same calls on one cached piece, which is their
  arithmetic and call cost with no memory traffic; ``np.add`` of two
  batches is the cheapest single call with a blend's traffic; one pass
  into a new array against the same pass into a buffer is what a new
  array's first-touch page faults add.
- **torch CPU, same batch, into a buffer** (target: 1.0x the 3N floor): one
  ``lerp`` a sample, as the walk makes them, into the buffer and in place,
  and on one cached sample; a cycle's first sample saved, as in place the
  walk saves one a cycle.
- **256x3x32x32 float32: CutMix against MixUp**, NumPy and torch CPU
  (target: CutMix at most MixUp's cost): the draws, the image step taken
  apart (torch's MixUp: the partners gathered, then a ``lerp`` into them;
  CutMix: the batch copied, then the partners' boxes gathered into it), the
  labels, and the public calls with the bench's generators (a NumPy
  ``Generator``, a CPU ``torch.Generator``).

The ``x`` columns divide by the group's base rows: the 3N floor (1.5x the
copy into a preallocated buffer), ``x.copy()``, or the MixUp call.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
import arraymix
from arraymix import _fast

CLASSES = 1000
IMAGENET = (64, 3, 224, 224)
CIFAR = (256, 3, 32, 32)
#: One λ for every step of a group, so the walks replayed here compute what
#: the public calls do with params drawn beforehand.
LAM = 0.3


@dataclass
class Group:
    title: str
    #: step -> a call taking no arguments
    steps: dict[str, Callable[[], Any]] = field(default_factory=dict)
    #: column title -> (the step it divides by, its factor)
    bases: dict[str, tuple[str, float]] = field(default_factory=dict)


def _walk_order(perm: list[int]) -> list[tuple[int, int]]:
    """(sample, partner) in the walk's order: cycle by cycle."""
    return [(i, perm[i]) for cycle in _fast._cycles(perm) for i in cycle]


def numpy_group() -> Group:
    rng = np.random.default_rng(0)
    x = rng.standard_normal(IMAGENET, dtype=np.float32)
    y = rng.integers(0, CLASSES, IMAGENET[0])
    other, buf = x[::-1].copy(), np.empty_like(x)
    perm = rng.permutation(IMAGENET[0])
    params = arraymix.MixParams(lam=np.asarray(LAM), perm=perm)
    pieces = _fast._pieces(x)
    scratch = np.empty_like(x[0][pieces[0][0]])
    lam, om = np.float32(LAM), np.float32(1 - LAM)
    # every ufunc call's operands, made once: the steps time the calls alone
    calls = [(x[i][s], x[j][s], buf[i][s], scratch[t])
             for i, j in _walk_order(perm.tolist()) for s, t in pieces]
    a0, b0, d0, t0 = calls[0]

    def three_passes() -> None:
        for a, b, d, t in calls:
            np.multiply(b, om, out=t)
            np.multiply(a, lam, out=d)
            np.add(d, t, out=d)

    def cached() -> None:  # as many calls, on the first piece only
        for _ in calls:
            np.multiply(b0, om, out=t0)
            np.multiply(a0, lam, out=d0)
            np.add(d0, t0, out=d0)

    gen = np.random.default_rng(1)
    g = Group("NumPy 64x3x224x224 float32: into a buffer and into a new array",
              bases={"× 3N floor": ("copy into a preallocated buffer", 1.5),
                     "× x.copy()": ("x.copy()", 1.0)})
    g.steps = {
        "copy into a preallocated buffer": lambda: np.copyto(buf, x),
        "x.copy()": lambda: x.copy(),
        "np.add(x, x2, out=buf): two batches read, one written": (
            lambda: np.add(x, other, out=buf)),
        "np.add(x, x2): the same into a new array": lambda: np.add(x, other),
        "one pass λ·x into the buffer": lambda: np.multiply(x, lam, out=buf),
        "one pass λ·x into a new array": lambda: np.multiply(x, lam),
        f"the walk's {3 * len(calls)} ufunc calls (3 a piece), into the buffer": three_passes,
        "the same calls on one cached piece (no memory traffic)": cached,
        "arraymix.blend(x, params, out=buf)": lambda: arraymix.blend(x, params, out=buf),
        "arraymix.mixup(x, y, out=buf)": lambda: arraymix.mixup(
            x, y, num_classes=CLASSES, rng=gen, out=buf),
        "arraymix.blend(x, params): a new array": lambda: arraymix.blend(x, params),
        "arraymix.mixup(x, y): a new array": lambda: arraymix.mixup(
            x, y, num_classes=CLASSES, rng=gen),
    }
    return g


def torch_buffer_group(torch: Any) -> Group:
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(IMAGENET, generator=gen)
    y = torch.randint(0, CLASSES, (IMAGENET[0],), generator=gen)
    # in place on a copy, whose values drift towards their partners' but stay normal
    work, buf = x.clone(), torch.empty_like(x)
    perm = torch.randperm(IMAGENET[0], generator=gen)
    params = arraymix.MixParams(lam=torch.tensor(LAM), perm=perm)
    weight = torch.tensor(1 - LAM)
    order = _walk_order(perm.tolist())
    into = [(x[i], x[j], buf[i]) for i, j in order]
    # in place, a cycle's last sample reads the saved first (the walk's one sample of scratch)
    saved = torch.empty_like(x[0])
    inplace = [(work[i], work[j], work[i]) for i, j in order]

    def lerps(triples: list[tuple[Any, Any, Any]]) -> Callable[[], None]:
        def run() -> None:
            for a, b, d in triples:
                torch.lerp(a, b, weight, out=d)
        return run

    a0, b0, d0 = into[0]

    def cached() -> None:
        for _ in into:
            torch.lerp(a0, b0, weight, out=d0)

    def copy_saved() -> None:
        saved.copy_(work[0])

    g = Group("torch CPU 64x3x224x224 float32: into a buffer and in place",
              bases={"× 3N floor": ("copy into a preallocated buffer", 1.5)})
    g.steps = {
        "copy into a preallocated buffer": lambda: buf.copy_(x),
        f"the walk's {len(into)} lerps (one a sample), into the buffer": lerps(into),
        f"the same {len(into)} lerps in place": lerps(inplace),
        "the same lerps on one cached sample (no memory traffic)": cached,
        "one sample saved (a cycle's first)": copy_saved,
        "arraymix.blend(x, params, out=buf)": lambda: arraymix.blend(x, params, out=buf),
        "arraymix.blend(x, params, out=x), in place": (
            lambda: arraymix.blend(work, params, out=work)),
        "arraymix.mixup(x, y, out=buf)": lambda: arraymix.mixup(
            x, y, num_classes=CLASSES, rng=gen, out=buf),
    }
    return g


def torch_cifar_group(torch: Any) -> Group:
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(CIFAR, generator=gen)
    y = torch.randint(0, CLASSES, (CIFAR[0],), generator=gen)
    mix = arraymix.sample_mixup(gen, CIFAR[0])
    cut = arraymix.sample_cutmix(gen, CIFAR[0], CIFAR[2:])
    weight = 1 - mix.lam.to(x.dtype)
    box = _box(cut)
    target = torch.empty_like(x)

    def gather_lerp() -> None:
        partners = torch.index_select(x, 0, mix.perm, out=target)
        torch.lerp(x, partners, weight, out=partners)

    def copy_then_boxes() -> None:
        target.copy_(x)
        torch.index_select(x[box], 0, cut.perm, out=target[box])

    g = Group("torch CPU 256x3x32x32 float32: CutMix against MixUp",
              bases={"× MixUp": ("arraymix.mixup(x, y)", 1.0)})
    g.steps = {
        "sample_mixup(torch.Generator, 256)": lambda: arraymix.sample_mixup(gen, CIFAR[0]),
        "sample_cutmix(torch.Generator, 256, (32, 32))": (
            lambda: arraymix.sample_cutmix(gen, CIFAR[0], CIFAR[2:])),
        "MixUp's image step: the partners gathered (index_select)": (
            lambda: torch.index_select(x, 0, mix.perm, out=target)),
        "MixUp's image step: gathered, then lerp into them": gather_lerp,
        "CutMix's image step: the batch copied (copy_)": lambda: target.copy_(x),
        "CutMix's image step: copied, then the boxes gathered into it": copy_then_boxes,
        **_calls(x, y, gen, mix, cut, torch.float32),
    }
    return g


def numpy_cifar_group() -> Group:
    rng = np.random.default_rng(0)
    x = rng.standard_normal(CIFAR, dtype=np.float32)
    y = rng.integers(0, CLASSES, CIFAR[0])
    gen = np.random.default_rng(1)
    mix = arraymix.sample_mixup(gen, CIFAR[0])
    cut = arraymix.sample_cutmix(gen, CIFAR[0], CIFAR[2:])
    box = _box(cut)
    target = np.empty_like(x)

    def copy_then_boxes() -> None:
        np.copyto(target, x)
        target[box] = x[box][cut.perm]

    g = Group("NumPy 256x3x32x32 float32: CutMix against MixUp",
              bases={"× MixUp": ("arraymix.mixup(x, y)", 1.0)})
    g.steps = {
        "sample_mixup(numpy Generator, 256)": lambda: arraymix.sample_mixup(gen, CIFAR[0]),
        "sample_cutmix(numpy Generator, 256, (32, 32))": (
            lambda: arraymix.sample_cutmix(gen, CIFAR[0], CIFAR[2:])),
        "CutMix's image step: the batch copied (np.copyto)": lambda: np.copyto(target, x),
        "CutMix's image step: copied, then the boxes gathered into it": copy_then_boxes,
        **_calls(x, y, gen, mix, cut, np.float32),
    }
    return g


def _box(cut: Any) -> tuple[slice, ...]:
    """The batch's one CutMix box as an index of an NCHW batch."""
    sides = zip(cut.lower.tolist(), cut.upper.tolist(), strict=True)
    return (slice(None), slice(None), *(slice(a, b) for a, b in sides))


def _calls(x: Any, y: Any, gen: Any, mix: Any, cut: Any,
           labels: Any) -> dict[str, Callable[[], Any]]:
    """The steps both CIFAR-sized groups end with: the public blend and paste
    on the params drawn beforehand, the labels as both calls make them from
    integer ids on the host (``labels``: their dtype), and the public calls."""
    return {
        "blend(x, params)": lambda: arraymix.blend(x, mix),
        "paste(x, params)": lambda: arraymix.paste(x, cut),
        "MixUp's labels: mixed one-hot rows from the ids": (
            lambda: _fast.mix_ids(y, mix.lam, mix.perm, CLASSES, 0.0, labels)),
        "CutMix's labels: mixed one-hot rows from the ids": (
            lambda: _fast.mix_ids(y, cut.lam, cut.perm, CLASSES, 0.0, labels)),
        "arraymix.mixup(x, y)": lambda: arraymix.mixup(x, y, num_classes=CLASSES, rng=gen),
        "arraymix.cutmix(x, y)": lambda: arraymix.cutmix(x, y, num_classes=CLASSES, rng=gen),
    }


def measure(group: Group, rounds: int) -> list[dict[str, Any]]:
    names = list(group.steps)
    times: dict[str, list[float]] = {n: [] for n in names}
    for n in names:  # warm-up
        group.steps[n]()
    for _ in range(rounds):
        random.shuffle(names)
        for n in names:
            gc.disable()
            start = time.perf_counter()
            group.steps[n]()
            times[n].append(time.perf_counter() - start)
            gc.enable()
    medians = {n: statistics.median(t) for n, t in times.items()}
    rows = []
    for n in group.steps:  # in the group's order
        row: dict[str, Any] = {"group": group.title, "step": n, "median_ms": medians[n] * 1e3,
                               "min_ms": min(times[n]) * 1e3, "max_ms": max(times[n]) * 1e3}
        for column, (base, factor) in group.bases.items():
            row[column] = medians[n] / (medians[base] * factor)
        rows.append(row)
    return rows


def table(group: Group, rows: list[dict[str, Any]]) -> str:
    columns = list(group.bases)
    lines = [f"### {group.title}", "",
             "| step | median ms (min–max) | " + " | ".join(columns) + " |",
             "|---|---|" + "---|" * len(columns)]
    for r in rows:
        ratios = " | ".join(f"{r[c]:.2f}" for c in columns)
        lines.append(f"| {r['step']} | {r['median_ms']:.3f} "
                     f"({r['min_ms']:.3f}–{r['max_ms']:.3f}) | {ratios} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--json", help="where to write the rows as JSON")
    args = parser.parse_args(argv)
    makers: list[Callable[[], Group]] = [numpy_group, numpy_cifar_group]
    try:
        import torch

        makers += [lambda: torch_buffer_group(torch), lambda: torch_cifar_group(torch)]
    except ImportError:
        print("torch is not installed: no torch groups", file=sys.stderr)
    every: list[dict[str, Any]] = []
    for make in makers:
        group = make()
        rows = measure(group, args.rounds)
        print(table(group, rows), end="\n\n", flush=True)
        every += rows
        del group  # its batches, before the next group's
        gc.collect()
    if args.json:
        Path(args.json).write_text(json.dumps(every, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
