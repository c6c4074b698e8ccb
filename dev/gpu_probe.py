"""Where the device time of one arraymix call goes on a CUDA GPU.

    python dev/gpu_probe.py

For a 64x3x224x224 float32 batch with 1000 classes: the kernels one
``mixup`` and one ``cutmix`` launch (torch profiler), with parameters drawn
by a CUDA torch.Generator and by a NumPy Generator; then the device time of
each part alone (sampling, blend and paste with the fused kernels and
without them; the draws kernel also at 4096 samples, where its ranking of
the partners compares every key with every other; the labels), as ratios
to the 3N floor, timed with bench/run.py's clock; last, jitted JAX draws
and mixup, arraymix's against ``jax.random.beta`` and a hand-written blend.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import anchors
import run

import arraymix
from arraymix._backends import tuned

SHAPE = (64, 3, 224, 224)


def _median(clock: run._DeviceClock, fn: Any, name: str, rounds: int = 9) -> tuple[float, float]:
    dev, host = [], []
    for _ in range(rounds):
        d, h, _ = clock.time(fn, name)
        dev.append(d)
        host.append(h)
    return statistics.median(dev) * 1e6, statistics.median(host) * 1e6


def _kernels(torch: Any, label: str, call: Any) -> None:
    from torch.profiler import ProfilerActivity, profile

    for _ in range(3):
        call()
    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        call()
        torch.cuda.synchronize()
    events = [e for e in prof.events() if str(e.device_type).endswith("CUDA")]

    def took(e: Any) -> float:
        return float(getattr(e, "device_time", None) or getattr(e, "cuda_time", 0.0))

    big = [e for e in events if took(e) > 3]
    print(f"{label}: {len(events)} kernels and copies, {sum(took(e) for e in events):.1f} µs "
          f"summed; over 3 µs: " + "; ".join(f"{e.name[:48]} {took(e):.1f}" for e in big))


def main() -> None:
    import torch

    torch.manual_seed(0)
    clock = run._DeviceClock()
    x = torch.rand(SHAPE, device="cuda")
    y = torch.randint(0, 1000, (SHAPE[0],), device="cuda")
    gen = torch.Generator(device="cuda").manual_seed(0)
    host = np.random.default_rng(0)
    buf = torch.empty_like(x)

    for label, rng in (("CUDA generator", gen), ("NumPy generator", host)):
        try:
            _kernels(torch, f"mixup, {label}",
                     lambda rng=rng: arraymix.mixup(x, y, num_classes=1000, rng=rng))
            _kernels(torch, f"cutmix, {label}",
                     lambda rng=rng: arraymix.cutmix(x, y, num_classes=1000, rng=rng))
        except Exception as e:  # the profiler is optional
            print(f"  profiler: {type(e).__name__}: {e}")

    mix = arraymix.sample_mixup(gen, SHAPE[0], xp=torch, device=x.device)
    cut = arraymix.sample_cutmix(gen, SHAPE[0], SHAPE[2:], xp=torch, device=x.device)

    def unfused(fn: Any) -> Any:
        def call() -> Any:
            with tuned(force="lerp"):  # torch's own operations, not the kernels
                return fn()
        return call

    rows = {
        "copy into buffer (floor/1.5)": lambda: buf.copy_(x),
        "sample_mixup, CUDA generator": lambda: arraymix.sample_mixup(
            gen, SHAPE[0], xp=torch, device=x.device),
        "sample_mixup, NumPy generator": lambda: arraymix.sample_mixup(
            host, SHAPE[0], xp=torch, device=x.device),
        "sample_mixup, CUDA generator, torch ops": unfused(lambda: arraymix.sample_mixup(
            gen, SHAPE[0], xp=torch, device=x.device)),
        "sample_mixup, CUDA generator, 4096 samples": lambda: arraymix.sample_mixup(
            gen, 4096, lam_mode="sample", xp=torch, device=x.device),
        "sample_mixup, CUDA generator, 4096 samples, torch ops": unfused(
            lambda: arraymix.sample_mixup(gen, 4096, lam_mode="sample", xp=torch,
                                          device=x.device)),
        # what the draws would cost taken in one call: the uniforms of a
        # loop-free Beta (as JAX's: per gamma 16 tries, each a normal made
        # from one uniform by Box-Muller and a uniform, and an exponential),
        # two box centres and the partners' keys
        "one torch.rand of a cutmix's uniforms (2x33 + 2 + 64)": lambda: torch.rand(
            2 * 33 + 2 + SHAPE[0], dtype=torch.float64, device=x.device, generator=gen),
        "sample_cutmix, CUDA generator": lambda: arraymix.sample_cutmix(
            gen, SHAPE[0], SHAPE[2:], xp=torch, device=x.device),
        "sample_cutmix, CUDA generator, torch ops": unfused(lambda: arraymix.sample_cutmix(
            gen, SHAPE[0], SHAPE[2:], xp=torch, device=x.device)),
        "blend, fused": lambda: arraymix.blend(x, mix),
        "blend, gather + lerp": unfused(lambda: arraymix.blend(x, mix)),
        "blend out=x, fused + copy": lambda: arraymix.blend(buf, mix, out=buf),
        "blend out=x, gather + lerp": unfused(lambda: arraymix.blend(buf, mix, out=buf)),
        "paste, fused": lambda: arraymix.paste(x, cut),
        "paste, mask and select": unfused(lambda: arraymix.paste(x, cut)),
        "labels: one_hot + blend": lambda: arraymix.blend(arraymix.one_hot(y, 1000), mix),
    }
    # the paste with a box per sample too, and in place (column tiles)
    per_sample = arraymix.sample_cutmix(gen, SHAPE[0], SHAPE[2:], lam_mode="sample", xp=torch,
                                        device=x.device)
    rows["paste, a box per sample, fused"] = lambda: arraymix.paste(x, per_sample)
    rows["paste out=x, fused"] = lambda: arraymix.paste(buf, cut, out=buf)
    rows["paste out=x, a box per sample, fused"] = lambda: arraymix.paste(
        buf, per_sample, out=buf)
    for fn in rows.values():  # warm-up, compile
        fn()
    torch.cuda.synchronize()
    floor, _ = _median(clock, rows["copy into buffer (floor/1.5)"], "floor")
    floor *= 1.5
    print(f"\n3N floor {floor:.1f} µs (device copy x 1.5); device µs per call, host µs per call")
    for name, fn in rows.items():
        dev, host_us = _median(clock, fn, name)
        print(f"  {dev:8.1f} µs  {dev / floor:5.2f}× floor   host {host_us:7.1f} µs   {name}")
    _jax_draws()


def _jax_draws(rounds: int = 51) -> None:
    """JAX, jitted, on its default device: the draws of one MixUp by arraymix
    (a Beta without a loop) against ``jax.random.beta`` and ``permutation``,
    and the whole jitted mixup against the hand-written blend; wall time per
    call, each result waited for (a while loop's host round trips count)."""
    try:
        import jax
    except ImportError as e:
        print(f"\njax: not measured ({e})")
        return
    x = jax.numpy.zeros(SHAPE, jax.numpy.float32)
    y = jax.numpy.zeros(SHAPE[:1], jax.numpy.int32)
    calls = {
        "sample_mixup (arraymix)": (jax.jit(lambda k: arraymix.sample_mixup(k, SHAPE[0])), ()),
        "jax.random.beta + permutation": (
            jax.jit(lambda k: anchors.jax_hand_draws(k, SHAPE[0])), ()),
        "mixup (arraymix)": (jax.jit(lambda x, y, k: arraymix.mixup(
            x, y, num_classes=1000, rng=k)), (x, y)),
        "hand-written mixup": (anchors.jax_hand_step(1000), (x, y)),
    }
    keys = list(jax.random.split(jax.random.key(0), rounds + 1))
    times: dict[str, list[float]] = {name: [] for name in calls}
    for fn, args in calls.values():
        jax.block_until_ready(fn(*args, keys[-1]))
    for i in range(rounds):
        for name, (fn, args) in calls.items():
            start = time.perf_counter()
            jax.block_until_ready(fn(*args, keys[i]))
            times[name].append(time.perf_counter() - start)
    print(f"\nJAX on {jax.devices()[0].platform}, jitted, µs per call (median of {rounds}):")
    for name, t in times.items():
        print(f"  {statistics.median(t) * 1e6:8.1f} µs   {name}")


if __name__ == "__main__":
    main()
