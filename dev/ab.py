"""A/B: this tree's arraymix against the one at a git revision, in one process.

    python dev/ab.py REV                 # every case, 300 interleaved rounds
    python dev/ab.py REV --cases torch-cifar-cutmix numpy-1024-in-place

The package at ``REV`` is extracted with ``git archive`` into a temporary
folder and imported as ``arraymix_old`` beside this tree's ``arraymix``;
each case times the same call of both on the same inputs, in a shuffled
order every round, and prints the medians and new/old. Timings on a shared
machine drift between runs, so only the ratio of one run means much.
"""

from __future__ import annotations

import argparse
import importlib
import itertools
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
Pair = tuple[Callable[[], Any], Callable[[], Any]]


def _old_package(rev: str, where: Path) -> Any:
    """arraymix at ``rev``, imported as ``arraymix_old``."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "src/arraymix"],
                             check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(where)], input=archive, check=True)
    shutil.move(where / "src" / "arraymix", where / "arraymix_old")
    sys.path.insert(0, str(where))
    return importlib.import_module("arraymix_old")


def _cases(new: Any, old: Any) -> dict[str, Callable[[], Pair]]:
    """name -> a factory of (new call, old call) on shared inputs."""
    def numpy_blend(shape: tuple[int, ...], where: str = "in place",
                    dtype: str = "float32") -> Callable[[], Pair]:
        def make() -> Pair:  # the public blend, no labels: into a new batch, a buffer or x
            gen = np.random.default_rng(0)
            x = (gen.integers(0, 256, size=shape).astype(dtype) if dtype == "uint8"
                 else gen.normal(size=shape).astype(dtype))
            p = new.sample_mixup(1, shape[0], lam_mode="sample")
            q = old.MixParams(lam=p.lam, perm=p.perm)
            kw = {} if where == "new" else {"out": x if where == "in place" else np.empty_like(x)}
            return (lambda: new.blend(x, p, **kw)), (lambda: old.blend(x, q, **kw))
        return make

    def torch_call(fn: str, shape: tuple[int, ...], in_place: bool) -> Callable[[], Pair]:
        def make() -> Pair:
            import torch

            x = torch.randn(shape)
            y = torch.randint(0, 1000, (shape[0],))
            gens = torch.Generator().manual_seed(0), torch.Generator().manual_seed(0)
            kw = {"num_classes": 1000, **({"out": x} if in_place else {})}
            calls = [(lambda m=m, g=g: getattr(m, fn)(x, y, rng=g, **kw))
                     for m, g in zip((new, old), gens, strict=True)]
            return calls[0], calls[1]
        return make

    def numpy_call(fn: str, shape: tuple[int, ...], in_place: bool) -> Callable[[], Pair]:
        def make() -> Pair:  # the one-call function with 1000-class ids, NumPy draws
            x = np.random.default_rng(0).normal(size=shape).astype(np.float32)
            y = np.random.default_rng(1).integers(0, 1000, size=shape[0])
            gens = np.random.default_rng(2), np.random.default_rng(2)
            kw = {"num_classes": 1000, **({"out": x} if in_place else {})}
            calls = [(lambda m=m, g=g: getattr(m, fn)(x, y, rng=g, **kw))
                     for m, g in zip((new, old), gens, strict=True)]
            return calls[0], calls[1]
        return make

    def cutmix_sample(library: str, in_place: bool) -> Callable[[], Pair]:
        def make() -> Pair:  # a box per sample, no labels
            x = np.random.default_rng(0).normal(size=(256, 3, 32, 32)).astype(np.float32)
            if library == "torch":
                import torch

                x = torch.asarray(x)
            kw = {"lam_mode": "sample", **({"out": x} if in_place else {})}
            gens = np.random.default_rng(0), np.random.default_rng(0)
            calls = [(lambda m=m, g=g: m.cutmix(x, rng=g, **kw))
                     for m, g in zip((new, old), gens, strict=True)]
            return calls[0], calls[1]
        return make

    def mixer_sample(library: str, shape: tuple[int, ...]) -> Callable[[], Pair]:
        def make() -> Pair:  # the Mixer, MixUp or CutMix per sample, 1000-class ids
            x = np.random.default_rng(0).normal(size=shape).astype(np.float32)
            y = np.random.default_rng(1).integers(0, 1000, size=shape[0])
            if library == "torch":
                import torch

                x, y = torch.asarray(x), torch.asarray(y)
            mixers = [m.Mixer(lam_mode="sample", num_classes=1000, seed=0) for m in (new, old)]
            return (lambda: mixers[0](x, y)), (lambda: mixers[1](x, y))
        return make

    def nhwc_uint8_cutmix_sample() -> Pair:  # a data loader's batch, a box per sample
        x = np.random.default_rng(0).integers(0, 256, size=(256, 32, 32, 3), dtype=np.uint8)
        gens = np.random.default_rng(0), np.random.default_rng(0)
        calls = [(lambda m=m, g=g: m.cutmix(x, rng=g, axes=(1, 2), lam_mode="sample"))
                 for m, g in zip((new, old), gens, strict=True)]
        return calls[0], calls[1]

    def torch_blend_into(shape: tuple[int, ...], where: str = "in place",
                         dtype: str = "float32") -> Callable[[], Pair]:
        def make() -> Pair:  # the public blend, no labels: into a new batch, a buffer or x
            import torch

            x = (torch.randint(0, 256, shape, dtype=torch.uint8) if dtype == "uint8"
                 else torch.randn(shape))
            p = new.sample_mixup(1, shape[0], lam_mode="sample", xp=torch,
                                 device=torch.device("cpu"))
            q = old.MixParams(lam=p.lam, perm=p.perm)
            kw = {} if where == "new" else {"out": x if where == "in place" else
                                            torch.empty_like(x)}
            return (lambda: new.blend(x, p, **kw)), (lambda: old.blend(x, q, **kw))
        return make

    def torch_sample_cutmix() -> Pair:
        import torch

        gens = torch.Generator().manual_seed(0), torch.Generator().manual_seed(0)
        calls = [(lambda m=m, g=g: m.sample_cutmix(g, 256, [32, 32], xp=torch,
                                                   device=torch.device("cpu")))
                 for m, g in zip((new, old), gens, strict=True)]
        return calls[0], calls[1]

    def torch_paste() -> Pair:  # the public paste: params checked on every call
        import torch

        x = torch.randn(256, 3, 32, 32)
        p = new.sample_cutmix(0, 256, [32, 32], xp=torch, device=torch.device("cpu"))
        q = old.CutMixParams(lam=p.lam, perm=p.perm, lower=p.lower, upper=p.upper)
        return (lambda: new.paste(x, p, axes=(2, 3))), (lambda: old.paste(x, q, axes=(2, 3)))

    def torch_blend() -> Pair:  # the public blend: params checked on every call
        import torch

        x = torch.randn(256, 3, 32, 32)
        p = new.sample_mixup(0, 256, xp=torch, device=torch.device("cpu"))
        q = old.MixParams(lam=p.lam, perm=p.perm)
        return (lambda: new.blend(x, p)), (lambda: old.blend(x, q))

    def one_hot(library: str) -> Callable[[], Pair]:
        def make() -> Pair:
            ids = np.random.default_rng(0).integers(0, 1000, size=256)
            if library == "torch":
                import torch

                ids = torch.asarray(ids)
            return (lambda: new.one_hot(ids, 1000, smoothing=0.1)), (
                lambda: old.one_hot(ids, 1000, smoothing=0.1))
        return make

    def jax_pair(call: Callable[[Any, Any], Any]) -> Pair:
        """(new, old) calls of ``call(module, key)``, each with a new key (64
        drawn before timing, taken in turn) and its result waited for."""
        import jax

        calls = []
        for m in (new, old):
            keys = itertools.cycle(list(jax.random.split(jax.random.key(0), 64)))
            calls.append(lambda m=m, keys=keys: jax.block_until_ready(call(m, next(keys))))
        return calls[0], calls[1]

    def jax_jit(fn: str, shape: tuple[int, ...], **kw: Any) -> Callable[[], Pair]:
        def make() -> Pair:  # jitted, with one-hot labels
            import jax

            x = jax.numpy.asarray(np.random.default_rng(0).normal(size=shape), jax.numpy.float32)
            y = jax.numpy.asarray(np.random.default_rng(1).integers(0, 1000, size=shape[0]))
            steps = {m: jax.jit(lambda x, y, k, m=m: getattr(m, fn)(
                x, y, num_classes=1000, rng=k, **kw)) for m in (new, old)}
            return jax_pair(lambda m, k: steps[m](x, y, k))
        return make

    def jax_eager_sample() -> Pair:  # outside jax.jit: one dispatch per jitted piece
        return jax_pair(lambda m, k: m.sample_mixup(k, 64, lam_mode="sample").lam)

    def jax_jit_sample() -> Pair:  # the draws alone, jitted
        import jax

        steps = {m: jax.jit(lambda k, m=m: m.sample_mixup(k, 64)) for m in (new, old)}
        return jax_pair(lambda m, k: steps[m](k))

    def collate(library: str, dtype: str, lam_mode: str) -> Callable[[], Pair]:
        def make() -> Pair:  # 64 CHW samples with class ids, as a DataLoader hands them
            gen = np.random.default_rng(0)
            samples = [gen.integers(0, 256, (3, 224, 224)).astype(dtype) for _ in range(64)]
            if library == "torch":
                import torch

                samples = [torch.from_numpy(s) for s in samples]
            items = [(s, i % 1000) for i, s in enumerate(samples)]
            kw = {"num_classes": 1000, "label_smoothing": 0.1, "cutmix_alpha": 0.0,
                  "lam_mode": lam_mode}
            mixers = [m.Mixer(seed=0, **kw) for m in (new, old)]
            return (lambda: mixers[0].collate(items)), (lambda: mixers[1].collate(items))
        return make

    def family(library: str, fn: str, lam_mode: str, torch_generator: bool = False,
               dtype: str = "float32") -> Callable[[], Pair]:
        def make() -> Pair:  # a family method on 64x3x224x224, out of place
            x = np.random.default_rng(0).random((64, 3, 224, 224), dtype=np.float32)
            if dtype == "uint8":
                x = (x * 255).round().astype(np.uint8)
            if library == "torch":
                import torch

                x = torch.from_numpy(x)

            def rng() -> Any:  # a fresh generator a call: both trees draw the same
                return torch.Generator().manual_seed(1) if torch_generator else 1
            return (lambda: getattr(new, fn)(x, rng=rng(), lam_mode=lam_mode)), (
                lambda: getattr(old, fn)(x, rng=rng(), lam_mode=lam_mode))
        return make

    return {
        "numpy-resizemix": family("numpy", "resizemix", "batch"),
        "numpy-resizemix-sample": family("numpy", "resizemix", "sample"),
        "torch-resizemix-sample": family("torch", "resizemix", "sample"),
        "torch-resizemix": family("torch", "resizemix", "batch"),
        "torch-patchmix": family("torch", "patchmix", "batch"),
        "torch-fmix": family("torch", "fmix", "batch"),
        "torch-patchmix-uint8": family("torch", "patchmix", "batch", dtype="uint8"),
        "torch-fmix-uint8": family("torch", "fmix", "batch", dtype="uint8"),
        "torch-fmix-sample-uint8": family("torch", "fmix", "sample", dtype="uint8"),
        "torch-mosaic": family("torch", "mosaic", "batch"),
        "numpy-mosaic": family("numpy", "mosaic", "batch"),
        "numpy-fmix": family("numpy", "fmix", "batch"),
        "numpy-patchmix": family("numpy", "patchmix", "batch"),
        "numpy-fmix-sample": family("numpy", "fmix", "sample"),
        "torch-fmix-sample": family("torch", "fmix", "sample"),
        "torch-fmix-sample-torch-generator": family("torch", "fmix", "sample",
                                                    torch_generator=True),
        "numpy-collate-uint8": collate("numpy", "uint8", "batch"),
        "numpy-collate-uint8-sample": collate("numpy", "uint8", "sample"),
        "torch-collate-uint8": collate("torch", "uint8", "batch"),
        "numpy-collate-float32": collate("numpy", "float32", "batch"),
        "jax-eager-sample-mixup": jax_eager_sample,
        "jax-jit-sample-mixup": jax_jit_sample,
        "jax-small-mixup": jax_jit("mixup", (128, 16)),
        "jax-imagenet-mixup": jax_jit("mixup", (64, 3, 224, 224)),
        "jax-imagenet-cutmix": jax_jit("cutmix", (64, 3, 224, 224)),
        "jax-fmix": jax_jit("fmix", (64, 3, 224, 224)),
        "jax-fmix-sample": jax_jit("fmix", (64, 3, 224, 224), lam_mode="sample"),
        "jax-resizemix": jax_jit("resizemix", (64, 3, 224, 224)),
        "jax-resizemix-sample": jax_jit("resizemix", (64, 3, 224, 224), lam_mode="sample"),
        "numpy-imagenet-mixer-sample": mixer_sample("numpy", (64, 3, 224, 224)),
        "torch-imagenet-mixer-sample": mixer_sample("torch", (64, 3, 224, 224)),
        "numpy-cifar-mixer-sample": mixer_sample("numpy", (256, 3, 32, 32)),
        "torch-cifar-mixer-sample": mixer_sample("torch", (256, 3, 32, 32)),
        "numpy-imagenet-mixup": numpy_call("mixup", (64, 3, 224, 224), False),
        "numpy-imagenet-mixup-in-place": numpy_call("mixup", (64, 3, 224, 224), True),
        "numpy-imagenet-cutmix": numpy_call("cutmix", (64, 3, 224, 224), False),
        "numpy-imagenet-cutmix-in-place": numpy_call("cutmix", (64, 3, 224, 224), True),
        "numpy-small-mixup": numpy_call("mixup", (128, 16), False),
        "torch-imagenet-mixup": torch_call("mixup", (64, 3, 224, 224), False),
        "torch-imagenet-mixup-in-place": torch_call("mixup", (64, 3, 224, 224), True),
        "torch-imagenet-cutmix": torch_call("cutmix", (64, 3, 224, 224), False),
        "torch-imagenet-cutmix-in-place": torch_call("cutmix", (64, 3, 224, 224), True),
        "jax-cifar-mixup": jax_jit("mixup", (256, 3, 32, 32)),
        "jax-cifar-cutmix": jax_jit("cutmix", (256, 3, 32, 32)),
        "numpy-cifar-in-place": numpy_blend((256, 3, 32, 32)),
        "numpy-1024-in-place": numpy_blend((1024, 3, 32, 32)),
        "numpy-imagenet-blend": numpy_blend((64, 3, 224, 224), "new"),
        "numpy-imagenet-blend-buffer": numpy_blend((64, 3, 224, 224), "buffer"),
        "numpy-imagenet-blend-in-place": numpy_blend((64, 3, 224, 224)),
        "numpy-audio-blend-in-place": numpy_blend((64, 1, 160000)),
        "numpy-nhwc-uint8-blend": numpy_blend((64, 224, 224, 3), "new", "uint8"),
        "numpy-imagenet-uint8-in-place": numpy_blend((64, 3, 224, 224), "in place", "uint8"),
        "numpy-imagenet-uint8-new": numpy_blend((64, 3, 224, 224), "new", "uint8"),
        "torch-imagenet-uint8-in-place": torch_blend_into((64, 3, 224, 224), "in place",
                                                          "uint8"),
        "torch-imagenet-uint8-new": torch_blend_into((64, 3, 224, 224), "new", "uint8"),
        "torch-imagenet-blend": torch_blend_into((64, 3, 224, 224), "new"),
        "torch-imagenet-blend-buffer": torch_blend_into((64, 3, 224, 224), "buffer"),
        "torch-imagenet-blend-in-place": torch_blend_into((64, 3, 224, 224)),
        "torch-cifar-cutmix": torch_call("cutmix", (256, 3, 32, 32), False),
        "torch-cifar-cutmix-in-place": torch_call("cutmix", (256, 3, 32, 32), True),
        "torch-cifar-mixup-in-place": torch_call("mixup", (256, 3, 32, 32), True),
        "torch-small-mixup-in-place": torch_call("mixup", (128, 16), True),
        "numpy-cifar-cutmix-sample": cutmix_sample("numpy", False),
        "numpy-cifar-cutmix-sample-in-place": cutmix_sample("numpy", True),
        "torch-cifar-cutmix-sample": cutmix_sample("torch", False),
        "torch-cifar-cutmix-sample-in-place": cutmix_sample("torch", True),
        "numpy-cifar-nhwc-uint8-cutmix-sample": nhwc_uint8_cutmix_sample,
        "torch-48mib-blend-in-place": torch_blend_into((4096, 3, 32, 32)),
        "torch-96mib-blend-in-place": torch_blend_into((2048, 3, 64, 64)),
        "torch-sample-cutmix": torch_sample_cutmix,
        "torch-cifar-paste": torch_paste,
        "torch-cifar-blend": torch_blend,
        "numpy-one-hot": one_hot("numpy"),
        "torch-one-hot": one_hot("torch"),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rev", help="the git revision to compare with")
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--cases", nargs="*", help="default: every case")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT / "src"))
    import arraymix

    with tempfile.TemporaryDirectory() as tmp:
        old = _old_package(args.rev, Path(tmp))
        cases = _cases(arraymix, old)
        for name in args.cases or list(cases):
            try:
                pair = cases[name]()
            except ImportError as e:
                print(f"{name}: skipped ({e})")
                continue
            times: list[list[float]] = [[], []]
            for fn in pair:  # warm-up
                fn()
            for _ in range(args.rounds):
                order = [0, 1]
                random.shuffle(order)
                for k in order:
                    start = time.perf_counter()
                    pair[k]()
                    times[k].append(time.perf_counter() - start)
            new_ms, old_ms = (statistics.median(t) * 1e3 for t in times)
            print(f"{name:30s} new {new_ms:8.3f} ms  old {old_ms:8.3f} ms  "
                  f"new/old {new_ms / old_ms:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
