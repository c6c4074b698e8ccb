"""arraymix quick start: the same mixup on every library installed here.

Run: python examples/quickstart.py
"""

from __future__ import annotations

import importlib.util
import time

import numpy as np

import arraymix


def show(name: str, x_mixed: object, y_mixed: object, seconds: float) -> None:
    print(f"{name:<22} x {tuple(x_mixed.shape)} {x_mixed.dtype!s:<16} "  # type: ignore[attr-defined]
          f"y {tuple(y_mixed.shape)} rows sum to "  # type: ignore[attr-defined]
          f"{float(y_mixed.sum(-1).min()):.4f}..{float(y_mixed.sum(-1).max()):.4f}"  # type: ignore[attr-defined]
          f"   {seconds * 1e3:6.1f} ms")


def main() -> None:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(16, 3, 32, 32), dtype=np.uint8)  # a uint8 NCHW batch
    labels = rng.integers(0, 10, size=16)
    params = arraymix.sample_mixup(0, 16, alpha=0.4, lam_mode="sample")
    print(f"one seed, one set of partners everywhere: perm = {params.perm.tolist()}\n")

    t = time.perf_counter()
    xm, ym = arraymix.mixup(images, labels, num_classes=10, alpha=0.4, lam_mode="sample",
                            label_smoothing=0.1, rng=0)
    show("numpy mixup", xm, ym, time.perf_counter() - t)
    t = time.perf_counter()
    xm, ym = arraymix.cutmix(images, labels, num_classes=10, lam_mode="sample", rng=0)
    show("numpy cutmix", xm, ym, time.perf_counter() - t)
    mixer = arraymix.Mixer(num_classes=10, seed=0, lam_mode="sample")
    t = time.perf_counter()
    xm, ym = mixer(images.astype(np.float32) / 255, labels)
    show("numpy Mixer", xm, ym, time.perf_counter() - t)

    if importlib.util.find_spec("torch"):
        import torch

        dev = "cuda" if torch.cuda.is_available() else "cpu"
        x = torch.asarray(images, device=dev).float().div(255)
        y = torch.asarray(labels, device=dev)
        t = time.perf_counter()
        xm, ym = arraymix.mixup(x, y, num_classes=10, alpha=0.4, lam_mode="sample", rng=0)
        show(f"torch ({dev}) mixup", xm, ym, time.perf_counter() - t)
    else:
        print("torch is not installed: pip install 'arraymix[torch]'")

    if importlib.util.find_spec("jax"):
        import jax

        step = jax.jit(lambda x, y, key: arraymix.mixup(x, y, num_classes=10, rng=key))
        x, y = jax.numpy.asarray(images, dtype=jax.numpy.bfloat16), jax.numpy.asarray(labels)
        step(x, y, jax.random.key(0))  # compile once
        t = time.perf_counter()
        xm, ym = step(x, y, jax.random.key(1))
        xm.block_until_ready()
        show("jax (jit) mixup", xm, ym, time.perf_counter() - t)
    else:
        print("jax is not installed: pip install 'arraymix[jax]'")


if __name__ == "__main__":
    main()
