"""How far bilinear ResizeMix lies from the exact (float64) resize, and
whether one JAX key draws the same λ eagerly and under ``jax.jit``.

    python dev/resize_accuracy.py            # this tree
    python dev/resize_accuracy.py --seeds 80

Prints, per backend (NumPy, CPU torch, jitted JAX, each where installed),
the largest error of a float32 batch against the float64 resize of
``tests/reference.py``, in ulps of the batch's largest magnitude (sides 96
to 320, data in [-1, 1)); then how many of 100 JAX keys give a different
λ eagerly and jitted for CutMix and ResizeMix, and the largest difference
between the eager array API path and the jitted call of ResizeMix.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import arraymix  # noqa: E402
from arraymix import _backends  # noqa: E402
from reference import ref_resize  # noqa: E402


def _libraries() -> dict[str, tuple[Any, Any]]:
    """name -> (put, run): an array moved there, and paste called there."""
    found: dict[str, tuple[Any, Any]] = {"numpy": (np.asarray, arraymix.paste)}
    try:
        import torch

        found["torch-cpu"] = (torch.asarray, arraymix.paste)
    except ImportError:
        pass
    try:
        import jax
        import jax.numpy as jnp

        found["jax-jit"] = (jnp.asarray, jax.jit(arraymix.paste))
    except ImportError:
        pass
    return found


def resize_errors(seeds: int) -> dict[str, float]:
    worst: dict[str, float] = {}
    for seed in range(seeds):
        gen = np.random.default_rng(seed)
        sizes = tuple(int(v) for v in gen.integers(96, 321, 2))
        x = (gen.random((3, 2, *sizes)) * 2 - 1).astype(np.float32)
        p = arraymix.sample_resizemix(seed, 3, sizes, lam_mode=("batch", "sample")[seed % 2])
        exact = ref_resize(x, p.perm, p.lower, p.upper, (-2, -1), nearest=False)
        ulp = float(np.spacing(np.float32(np.abs(x).max())))
        for name, (put, run) in _libraries().items():
            q = type(p)(*(put(v) if isinstance(v, np.ndarray) else v for v in p))
            got = np.asarray(run(put(x), q))
            worst[name] = max(worst.get(name, 0.0), float(np.abs(got - exact).max()) / ulp)
    return worst


def jax_eager_and_jitted() -> None:
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        print("jax is not installed: no eager/jit comparison")
        return
    keys = jax.random.split(jax.random.key(0), 100)
    for name in ("cutmix", "resizemix"):
        sampler = getattr(arraymix, f"sample_{name}")

        def fn(k: Any, sampler: Any = sampler) -> Any:
            return sampler(k, 8, (223, 229), lam_mode="sample")

        jitted = jax.jit(fn)
        differ = sum(not np.array_equal(np.asarray(fn(k).lam), np.asarray(jitted(k).lam))
                     for k in keys)
        print(f"{name}: λ differs eagerly and jitted for {differ} of 100 keys")
    worst = 0.0
    for seed in range(12):
        gen = np.random.default_rng(seed)
        x = jnp.asarray((gen.random((8, 3, 224, 224)) * 2 - 1).astype(np.float32))
        p = arraymix.sample_resizemix(seed, 8, (224, 224), lam_mode="sample")
        q = type(p)(*(jnp.asarray(v) if isinstance(v, np.ndarray) else v for v in p))
        with _backends.tuned(force="reference"):
            eager = np.asarray(arraymix.paste(x, q))
        called = np.asarray(arraymix.paste(x, q))
        ulp = float(np.spacing(np.float32(np.abs(np.asarray(x)).max())))
        worst = max(worst, float(np.abs(eager - called).max()) / ulp)
    print(f"ResizeMix 224×224, eager array API path against the jitted call: {worst:.1f} ulps")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=40)
    args = parser.parse_args()
    for name, err in resize_errors(args.seeds).items():
        print(f"{name}: largest error against the float64 resize {err:.1f} ulps of max|x|")
    jax_eager_and_jitted()


if __name__ == "__main__":
    main()
