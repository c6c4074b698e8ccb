"""arraymix benchmark: ratios to the memory floor and to the anchors, in one process.

    python bench/run.py            # every size, 15 interleaved rounds
    python bench/run.py --quick    # ImageNet-like float32 and the small batch, 5 rounds

Every row of one size and backend runs on the same input, after a warm-up,
in interleaved rounds (a shuffled order each round), and reports the median
and min-max time. The 3N floor is 1.5x copying the batch into a
preallocated buffer (a blend reads the batch twice and writes it once).
Peak extra memory is the growth of the process's peak RSS during one call
(Linux /proc, reset before each call, with the memory arraymix keeps from
earlier results released first): bytes beyond the inputs.

On a GPU the time of a row is device time per call: torch CUDA and CuPy
queue K calls behind a sleep kernel and time them with CUDA events (the
host's launch time per call is reported beside it); JAX GPU queues K calls
and waits once. The floor there is a device-to-device copy.

    python bench/run.py --strict-sync --backends torch-cuda jax-gpu cupy
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import json
import platform
import random
import shutil
import statistics
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
import anchors

import arraymix

SIZES = {
    "imagenet f32": ((64, 3, 224, 224), "float32"),
    "cifar f32": ((256, 3, 32, 32), "float32"),
    "small 128x16": ((128, 16), "float32"),
    "imagenet f16": ((64, 3, 224, 224), "float16"),
    "imagenet bf16": ((64, 3, 224, 224), "bfloat16"),
    "imagenet u8": ((64, 3, 224, 224), "uint8"),
    # the fixed cost of a call: 10 classes, against hand-written mixups
    "small 128x16 c10": ((128, 16), "float32"),
    "small 8x3x32x32 c10": ((8, 3, 32, 32), "float32"),
    # the loss of a mixed batch from its ids (logits of B x C classes)
    "loss 256x1000": ((256, 1000), "float32"),
    "loss 64x100000": ((64, 100_000), "float32"),
    # a DataLoader's collate: 64 samples stacked and mixed, 1000-class ids
    "collate u8": ((64, 3, 224, 224), "uint8"),
    "collate f32": ((64, 3, 224, 224), "float32"),
    # the mixing family, each method against the same library's CutMix
    "family f32": ((64, 3, 224, 224), "float32"),
    "family u8": ((64, 3, 224, 224), "uint8"),
    # GPU only (not in the default list): a batch four times a GPU's L2 cache
    "imagenet256 f32": ((256, 3, 224, 224), "float32"),
}
DEFAULT = [s for s in SIZES if s != "imagenet256 f32"]
QUICK = ("imagenet f32", "small 128x16", "small 128x16 c10")
CLASSES = 1000
#: Sizes whose rows are the per-call cost (10 classes), each arraymix row
#: against the hand-written call of its kind
SMALL = {"small 128x16 c10": 10, "small 8x3x32x32 c10": 10}
#: Sizes whose rows are losses of a mixed batch (torch only): arraymix's
#: against the dense mixed targets' cross-entropy, forward and with backward
LOSS = {"loss 256x1000", "loss 64x100000"}
#: Sizes whose rows collate a list of samples (NumPy and CPU torch): each
#: arraymix row against timm's FastCollateMixup of its kind (uint8) or
#: against stacking the samples (float32)
COLLATE = {"collate u8", "collate f32"}
#: Sizes whose rows are the mixing family (NumPy, CPU torch, JAX): each
#: method against the same library's CutMix, both from one draw per call
FAMILY = {"family f32", "family u8"}


def _peak_extra(fn: Callable[[], Any]) -> int | None:
    """Bytes the peak RSS grows by during one call (None off Linux), with no
    memory kept from earlier results: what the call itself needs."""
    arraymix.release_memory()
    try:
        Path("/proc/self/clear_refs").write_text("5")
        before = _status("VmRSS")
        result = fn()
        peak = _status("VmHWM")
        del result
        return max(0, peak - before)
    except OSError:
        return None


def _status(key: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
    raise OSError(key)


def _arraymix_rows(rows: dict[str, tuple[str, Any]], gen: Any, buf: Any,
                   axes_ok: bool) -> None:
    """arraymix out of place, into a preallocated buffer, and in place."""
    def call(fn: Any, **kw: Any) -> Any:
        return lambda x, y: fn(x, y, num_classes=CLASSES, rng=gen, **kw)

    rows["arraymix mixup"] = ("arraymix", call(arraymix.mixup))
    rows["arraymix mixup out=buffer"] = ("arraymix", call(arraymix.mixup, out=buf))
    rows["arraymix mixup in place"] = ("arraymix", lambda x, y: arraymix.mixup(
        x, y, num_classes=CLASSES, rng=gen, out=x))
    if axes_ok:
        rows["arraymix cutmix"] = ("arraymix", call(arraymix.cutmix))
        rows["arraymix cutmix in place"] = ("arraymix", lambda x, y: arraymix.cutmix(
            x, y, num_classes=CLASSES, rng=gen, out=x))


def _no_sync(backend: str, fn: Any) -> Any:
    """``fn`` with device syncs (torch CUDA) and host transfers (JAX) made errors."""
    if backend == "torch-cuda":
        import torch

        def guarded(x: Any, y: Any) -> Any:
            torch.cuda.set_sync_debug_mode("error")
            try:
                return fn(x, y)
            finally:
                torch.cuda.set_sync_debug_mode("default")

        return guarded
    if backend.startswith("jax"):
        import jax

        def guarded_jax(x: Any, y: Any) -> Any:
            with jax.transfer_guard("disallow"):
                return fn(x, y)

        return guarded_jax
    if backend == "cupy":
        import cupyx

        def guarded_cupy(x: Any, y: Any) -> Any:
            with cupyx.allow_synchronize(False):
                return fn(x, y)

        return guarded_cupy
    return fn


def _small_rows(backend: str, x: Any, classes: int) -> dict[str, tuple[str, Any]]:
    """The per-call cost: mixup with 10 classes and blend with ready params,
    against the same calls written by hand (the tutorial's way)."""
    rows: dict[str, tuple[str, Any]] = {}
    host = np.random.default_rng(0)
    for name, fn in (anchors.numpy_floors(x) if backend == "numpy"
                     else anchors.torch_floors(x)).items():
        if name.endswith("(floor)"):
            rows[name] = ("floor", fn)
    rows["arraymix mixup, NumPy rng"] = ("arraymix", lambda x, y: arraymix.mixup(
        x, y, num_classes=classes, rng=host))
    params = arraymix.sample_mixup(0, x.shape[0], xp=arraymix_xp(x), device="cpu")
    rows["arraymix blend, ready params"] = ("arraymix", lambda x, y: arraymix.blend(x, params))
    if backend == "torch-cpu":
        import torch

        gen = torch.Generator().manual_seed(0)
        rows["arraymix mixup, torch.Generator"] = ("arraymix", lambda x, y: arraymix.mixup(
            x, y, num_classes=classes, rng=gen))
    rows["hand-written mixup"] = ("anchor", anchors.hand_mixup(backend, classes))
    rows["hand-written blend, ready params"] = ("anchor", anchors.hand_blend(
        float(params.lam), params.perm))
    return rows


def _loss_rows(x: Any) -> dict[str, tuple[str, Any]]:
    """mixed_cross_entropy from the ids against the dense mixed targets'
    cross-entropy, λ per sample, forward alone and with backward."""
    p = arraymix.sample_mixup(0, x.shape[0], lam_mode="sample", xp=arraymix_xp(x),
                              device=x.device)
    rows: dict[str, tuple[str, Any]] = {}
    for name, fn in anchors.torch_floors(x).items():
        if name.endswith("(floor)"):
            rows[name] = ("floor", fn)

    def ours(backward: bool) -> Any:
        def fn(x: Any, y: Any) -> Any:
            z = x.detach().requires_grad_(backward)
            loss = arraymix.mixed_cross_entropy(z, y, p)
            if backward:
                loss.backward()
            return loss
        return fn

    for backward, tail in ((False, ""), (True, ", with backward")):
        rows["arraymix mixed_cross_entropy" + tail] = ("arraymix", ours(backward))
        rows["dense targets + F.cross_entropy" + tail] = (
            "anchor", anchors.torch_dense_loss(p, backward))
        rows["two F.cross_entropy of ids" + tail] = (
            "anchor", anchors.torch_two_losses(p, backward))
    return rows


def _one_thread(fn: Callable[[], Any]) -> Callable[[Any, Any], Any]:
    """``fn`` run with torch's CPU operations on one thread."""
    import torch

    def run(x: Any, y: Any) -> Any:
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return fn()
        finally:
            torch.set_num_threads(threads)

    return run


def _collate_rows(backend: str, x: Any, y: Any) -> dict[str, tuple[str, Any]]:
    """A DataLoader's collate of 64 samples: stacking them alone, arraymix's
    fused collate, stacking then the Mixer in place, and timm's
    FastCollateMixup (NumPy uint8 samples), each for MixUp and CutMix."""
    rows: dict[str, tuple[str, Any]] = {}
    for name, fn in (anchors.numpy_floors(x) if backend == "numpy"
                     else anchors.torch_floors(x)).items():
        if name.endswith("(floor)"):
            rows[name] = ("floor", fn)
    if backend == "numpy":
        samples = [np.ascontiguousarray(s) for s in x]
        ids = [int(v) for v in y]
        rows["stack the samples"] = ("anchor", lambda x, y: np.stack(samples))
        stack: Any = np.stack
        as_ids: Any = np.asarray
    else:
        import torch

        samples = [s.clone() for s in x]
        ids = [int(v) for v in y.tolist()]
        rows["stack the samples"] = ("anchor", lambda x, y: torch.stack(samples))
        stack, as_ids = torch.stack, torch.tensor
    items = list(zip(samples, ids, strict=True))
    for method, kw in (("mixup", {"mixup_alpha": 0.8, "cutmix_alpha": 0.0}),
                       ("cutmix", {"mixup_alpha": 0.0, "cutmix_alpha": 1.0})):
        for mode in ("batch", "sample"):
            mixer = arraymix.Mixer(num_classes=CLASSES, lam_mode=mode, seed=0, **kw)
            rows[f"arraymix Mixer.collate {method} {mode}"] = (
                "arraymix", lambda x, y, m=mixer: m.collate(items))
            if (str(x.dtype).endswith("uint8") and method == "mixup" and shutil.which("g++")
                    and importlib.util.find_spec("torch")):
                # the user's choice of torch's CPU code generation for the blend,
                # on one thread as timm's collate and a DataLoader worker run
                twin = arraymix.Mixer(num_classes=CLASSES, lam_mode=mode, seed=0, **kw)
                rows[f"arraymix Mixer.collate {method} {mode}, compiled, one thread"] = (
                    "arraymix", _one_thread(lambda m=twin: m.collate(items, compiled=True)))
            if x.dtype == np.uint8 and backend == "numpy":
                try:
                    rows[f"timm FastCollateMixup {method} {mode}"] = (
                        "anchor", anchors.timm_fast_collate(
                            items, CLASSES, "batch" if mode == "batch" else "elem",
                            method == "cutmix"))
                except ImportError as e:
                    print(f"  [{backend}] skipping timm FastCollateMixup: {e}",
                          file=sys.stderr)
        mixer = arraymix.Mixer(num_classes=CLASSES, seed=0, **kw)

        def stacked(x: Any, y: Any, m: Any = mixer) -> Any:
            batch = stack(samples)
            return m(batch, as_ids(ids), out=batch)

        rows[f"stack, then Mixer {method} batch in place"] = ("arraymix", stacked)
    return rows


def _family_rows(backend: str, x: Any) -> dict[str, tuple[str, Any]]:
    """Each method of the family out of place, labels included, against the
    floor and CutMix (the same call style, one draw per call)."""
    floors = {"numpy": anchors.numpy_floors, "torch-cpu": anchors.torch_floors,
              "jax-cpu": anchors.jax_floors}[backend]
    rows: dict[str, tuple[str, Any]] = {n: ("floor", f) for n, f in floors(x).items()}
    methods = {
        "cutmix": (arraymix.cutmix, {}),
        "patchmix (16 px cells)": (arraymix.patchmix, {"patch": 16}),
        "fmix, one mask": (arraymix.fmix, {}),
        "fmix, a mask per sample": (arraymix.fmix, {"lam_mode": "sample"}),
        "mosaic": (arraymix.mosaic, {}),
        "mosaic, a centre per sample": (arraymix.mosaic, {"lam_mode": "sample"}),
        "resizemix": (arraymix.resizemix, {}),
        "resizemix, a box per sample": (arraymix.resizemix, {"lam_mode": "sample"}),
    }
    # each row draws from its own generator, seeded alike: a row sees the same
    # draws in every run whatever the order of the rounds (ResizeMix's cost
    # follows the size of the box it draws)
    if backend == "jax-cpu":
        import jax

        keys = list(jax.random.split(jax.random.key(1), 4096))  # drawn before timing
        for name, (fn, kw) in methods.items():
            jitted = jax.jit(lambda x, y, k, fn=fn, kw=kw: fn(x, y, num_classes=CLASSES,
                                                              rng=k, **kw))
            ks = iter(keys)
            rows[f"arraymix {name} (jit)"] = (
                "arraymix", lambda x, y, f=jitted, ks=ks: f(x, y, next(ks)))
        return rows

    def generator() -> Any:
        if backend == "numpy":
            return np.random.default_rng(0)
        import torch

        return torch.Generator().manual_seed(0)

    for name, (fn, kw) in methods.items():
        gen = generator()
        rows[f"arraymix {name}"] = ("arraymix", lambda x, y, fn=fn, kw=kw, gen=gen: fn(
            x, y, num_classes=CLASSES, rng=gen, **kw))
    # the Mixer choosing among all six (per batch: one method a call, at random)
    six = dict.fromkeys(("mixup", "cutmix", "patchmix", "fmix", "mosaic", "resizemix"), 1 / 6)
    for mode in ("batch", "sample"):
        mixer = arraymix.Mixer(methods=six, lam_mode=mode, num_classes=CLASSES, seed=0)
        rows[f"arraymix Mixer, six methods, lam_mode={mode}"] = (
            "arraymix", lambda x, y, m=mixer: m(x, y))
    if backend == "torch-cpu":
        try:
            rows["kornia RandomMosaic"] = ("anchor", anchors.kornia_mosaic(tuple(x.shape[-2:])))
        except ImportError as e:
            print(f"  [{backend}] skipping kornia RandomMosaic: {e}", file=sys.stderr)
        try:
            rows["mmpretrain ResizeMix (in place)"] = (
                "anchor", anchors.mmpretrain_resizemix(CLASSES))
        except Exception as e:  # not installed, or mmcv/torchvision built for another torch
            print(f"  [{backend}] skipping mmpretrain ResizeMix: {e!r}", file=sys.stderr)
    return rows


def arraymix_xp(x: Any) -> Any:
    import array_api_compat

    return array_api_compat.array_namespace(x)


def _anchor_of(size: str, name: str) -> str | None:
    """The anchor a row of a small or loss size is compared with (None: the best)."""
    if size in LOSS:
        return ("dense targets + F.cross_entropy, with backward" if "backward" in name
                else "dense targets + F.cross_entropy")
    if size in FAMILY:
        return "arraymix cutmix (jit)" if name.endswith("(jit)") else "arraymix cutmix"
    if size in COLLATE:
        if size == "collate f32" or "Mixer" not in name:
            return "stack the samples"
        method = "cutmix" if "cutmix" in name else "mixup"
        mode = "sample" if name.endswith("sample") else "batch"
        return f"timm FastCollateMixup {method} {mode}"
    if size not in SMALL:
        return None
    return "hand-written blend, ready params" if "blend" in name else "hand-written mixup"


def _rows(backend: str, x: Any, y: Any, shape: tuple[int, ...],
          strict: bool = False, size: str = "") -> dict[str, tuple[str, Any]]:
    """name -> (kind, fn(x, y)); kind: floor, arraymix, anchor."""
    if size in SMALL:
        rows = _small_rows(backend, x, SMALL[size]) if backend in ("numpy", "torch-cpu") else {}
    elif size in LOSS:
        rows = _loss_rows(x) if backend.startswith("torch") else {}
    elif size in COLLATE:
        rows = _collate_rows(backend, x, y) if backend in ("numpy", "torch-cpu") else {}
    elif size in FAMILY:
        rows = (_family_rows(backend, x) if backend in ("numpy", "torch-cpu", "jax-cpu")
                else {})
    else:
        rows = _all_rows(backend, x, y, shape)
    if strict:
        rows = {n: (k, _no_sync(backend, f) if k == "arraymix" else f)
                for n, (k, f) in rows.items()}
    return rows


def _all_rows(backend: str, x: Any, y: Any, shape: tuple[int, ...]) -> dict[str, tuple[str, Any]]:
    rows: dict[str, tuple[str, Any]] = {}
    axes_ok = len(shape) == 4

    def add(kind: str, name: str, make: Callable[[], Any]) -> None:
        try:
            rows[name] = (kind, make())
        except ImportError as e:
            print(f"  [{backend}] skipping {name}: {e}", file=sys.stderr)

    if backend == "numpy":
        for name, fn in anchors.numpy_floors(x).items():
            rows[name] = ("floor", fn)
        _arraymix_rows(rows, np.random.default_rng(0), np.empty_like(x), axes_ok)
        rows["hand-written numpy blend"] = ("anchor", anchors.numpy_hand(CLASSES))
    elif backend.startswith("torch"):
        import torch

        for name, fn in anchors.torch_floors(x).items():
            rows[name] = ("floor", fn)
        _arraymix_rows(rows, torch.Generator(device=x.device).manual_seed(0),
                       torch.empty_like(x), axes_ok)
        if backend == "torch-cuda":  # parameters drawn on the host, as timm draws them
            host = np.random.default_rng(0)
            rows["arraymix mixup, NumPy rng"] = ("arraymix", lambda x, y: arraymix.mixup(
                x, y, num_classes=CLASSES, rng=host))
            if axes_ok:
                rows["arraymix cutmix, NumPy rng"] = ("arraymix", lambda x, y: arraymix.cutmix(
                    x, y, num_classes=CLASSES, rng=host))
        if x.ndim == 4:  # the same batch laid out channels-last, as AMP training keeps it
            nhwc = x.contiguous(memory_format=torch.channels_last)
            cl_gen = torch.Generator(device=x.device).manual_seed(0)
            rows["arraymix mixup, channels-last batch"] = ("arraymix", lambda x, y: arraymix.mixup(
                nhwc, y, num_classes=CLASSES, rng=cl_gen))
        if backend == "torch-cpu" and shutil.which("g++"):
            # torch's own CPU code generation, chosen by the user: the array
            # API path (what a traced call takes) compiled into one kernel
            p = arraymix.sample_mixup(0, shape[0], alpha=0.8, xp=arraymix_xp(x), device="cpu")
            fused = torch.compile(lambda x: arraymix.blend(x, p), fullgraph=True)
            fused_in_place = torch.compile(lambda x: arraymix.blend(x, p, out=x),
                                           fullgraph=True)
            rows["arraymix blend, torch.compile'd (inductor)"] = ("arraymix",
                                                                  lambda x, y: fused(x))
            rows["arraymix blend in place, torch.compile'd (inductor)"] = (
                "arraymix", lambda x, y: fused_in_place(x))
        add("anchor", "hand-written torch blend", lambda: anchors.torch_hand(CLASSES))
        add("anchor", "tutorial function", lambda: anchors.tutorial(CLASSES))
        add("anchor", "timm Mixup batch (in place)",
            lambda: anchors.timm_mixup(CLASSES, "batch", cutmix=False))
        add("anchor", "timm Mixup elem (in place)",
            lambda: anchors.timm_mixup(CLASSES, "elem", cutmix=False))
        if axes_ok:
            add("anchor", "timm CutMix batch (in place)",
                lambda: anchors.timm_mixup(CLASSES, "batch", cutmix=True))
        add("anchor", "torchvision v2 MixUp", lambda: anchors.torchvision_v2(CLASSES, False))
        if axes_ok:
            add("anchor", "torchvision v2 CutMix", lambda: anchors.torchvision_v2(CLASSES, True))
            add("anchor", "kornia RandomMixUpV2", lambda: anchors.kornia_v2(False))
            add("anchor", "kornia RandomCutMixV2", lambda: anchors.kornia_v2(True))
    elif backend.startswith("jax"):
        import jax

        for name, fn in anchors.jax_floors(x).items():
            rows[name] = ("floor", fn)
        keys = iter(list(jax.random.split(jax.random.key(1), 4096)))  # drawn before timing
        mix = jax.jit(lambda x, y, k: arraymix.mixup(x, y, num_classes=CLASSES, rng=k))
        rows["arraymix mixup (jit)"] = ("arraymix", lambda x, y: mix(x, y, next(keys)))
        if axes_ok:
            cut = jax.jit(lambda x, y, k: arraymix.cutmix(x, y, num_classes=CLASSES, rng=k))
            rows["arraymix cutmix (jit)"] = ("arraymix", lambda x, y: cut(x, y, next(keys)))
        rows["hand-written jax.jit blend"] = ("anchor", anchors.jax_hand(CLASSES))
    elif backend == "cupy":
        import cupy

        for name, fn in anchors.cupy_floors(x).items():
            rows[name] = ("floor", fn)
        # CuPy has no generator arraymix draws from: parameters come from the host
        _arraymix_rows(rows, np.random.default_rng(0), cupy.empty_like(x), axes_ok)
        rows["hand-written cupy blend"] = ("anchor", anchors.cupy_hand(CLASSES))
    return rows


def _inputs(backend: str, shape: tuple[int, ...], dtype: str,
            size: str = "") -> tuple[Any, Any]:
    gen = np.random.default_rng(0)
    base = gen.integers(0, 256, size=shape).astype(np.float32)
    if dtype != "uint8":
        base /= 255
    labels = gen.integers(0, shape[1] if size in LOSS else SMALL.get(size, CLASSES),
                          size=shape[0])
    if backend == "numpy":
        if dtype == "bfloat16":
            raise TypeError("NumPy has no bfloat16")
        return base.astype(dtype), labels
    if backend.startswith("torch"):
        import torch

        dev = "cuda" if backend == "torch-cuda" else "cpu"
        return (torch.asarray(base, device=dev).to(getattr(torch, dtype)),
                torch.asarray(labels, device=dev))
    if backend == "cupy":
        import cupy

        if dtype == "bfloat16":
            raise TypeError("CuPy has no bfloat16")
        return cupy.asarray(base.astype(dtype)), cupy.asarray(labels)
    import jax
    import jax.numpy as jnp

    dev = jax.devices("gpu" if backend == "jax-gpu" else "cpu")[0]
    return (jax.device_put(jnp.asarray(base, dtype=getattr(jnp, dtype)), dev),
            jax.device_put(jnp.asarray(labels), dev))


def _sync(backend: str, result: Any) -> None:
    if backend.startswith("jax"):
        import jax

        jax.block_until_ready(result)
    elif backend == "torch-cuda":
        import torch

        torch.cuda.synchronize()
    elif backend == "cupy":
        import cupy

        cupy.cuda.Stream.null.synchronize()


GPU = ("torch-cuda", "cupy", "jax-gpu")
#: Calls per timed GPU sample: one host sync per K calls, as in a training loop.
K = 10


class _DeviceClock:
    """Device time of K queued calls, with the GPU kept busy while they are queued.

    torch's ``_sleep`` kernel holds the (legacy default) stream that torch and
    CuPy both use, so the K calls are all queued before the first one runs and
    the events between them time the device's work alone, not the host's
    launches. The host time per call is reported beside it: when it exceeds
    the device time, a loop with nothing else to do would be host-bound.
    """

    def __init__(self) -> None:
        import torch

        self.torch = torch
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        torch.cuda._sleep(10_000_000)
        end.record()
        end.synchronize()
        self.cycles_per_s = 10_000_000 / (start.elapsed_time(end) / 1e3)
        self.sleep_s: dict[str, float] = {}

    def time(self, fn: Callable[[], Any], row: str = "") -> tuple[float, float, bool]:
        torch = self.torch
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        sleep_s = self.sleep_s.get(row, 0.002)
        torch.cuda.synchronize()
        torch.cuda._sleep(int(self.cycles_per_s * sleep_s))
        start.record()
        t = time.perf_counter()
        for _ in range(K):
            fn()
        host = time.perf_counter() - t
        end.record()
        end.synchronize()
        covered = host < sleep_s
        self.sleep_s[row] = max(sleep_s, 2 * host)  # keep ahead of this row's launches
        return start.elapsed_time(end) / 1e3 / K, host / K, covered


def _backends() -> list[str]:
    found = ["numpy"]
    try:
        import torch

        found.append("torch-cpu")
        if torch.cuda.is_available():
            found.append("torch-cuda")
    except ImportError:
        print("  torch is not installed: no torch rows", file=sys.stderr)
    try:
        import jax

        found.append("jax-cpu")
        try:
            jax.devices("gpu")
            found.append("jax-gpu")
        except RuntimeError:
            pass
    except ImportError:
        print("  jax is not installed: no JAX rows", file=sys.stderr)
    try:
        import cupy

        if cupy.cuda.runtime.getDeviceCount():
            found.append("cupy")
    except Exception as e:  # not installed, or no CUDA device: no CuPy rows
        print(f"  no CuPy rows: {type(e).__name__}", file=sys.stderr)
    return found


def measure(backend: str, size: str, rounds: int, strict: bool = False) -> list[dict[str, Any]]:
    shape, dtype = SIZES[size]
    try:
        x, y = _inputs(backend, shape, dtype, size)
    except (TypeError, AttributeError) as e:
        print(f"  [{backend}] {size}: {e}", file=sys.stderr)
        return []
    rows = _rows(backend, x, y, shape, strict, size)
    if not rows:
        return []
    times: dict[str, list[float]] = {name: [] for name in rows}
    errors: dict[str, str] = {}
    for name, (_, fn) in rows.items():  # warm-up (and compile), note failures
        try:
            for _ in range(2):
                _sync(backend, fn(x, y))
        except Exception as e:  # an anchor that cannot mix this input
            first_line = (str(e).splitlines() or [""])[0]
            errors[name] = f"{type(e).__name__}: {first_line[:80]}"
    live = [n for n in rows if n not in errors]
    host: dict[str, list[float]] = {name: [] for name in rows}
    uncovered: dict[str, int] = dict.fromkeys(rows, 0)  # rounds whose launches outran
    clock = _DeviceClock() if backend in ("torch-cuda", "cupy") else None
    for _ in range(rounds):
        random.shuffle(live)
        for name in live:
            fn = rows[name][1]
            gc.disable()
            if clock is not None:  # device time of K queued calls
                dev_s, host_s, covered = clock.time(lambda fn=fn: fn(x, y), name)
                times[name].append(dev_s)
                host[name].append(host_s)
                uncovered[name] += not covered
            elif backend in GPU:  # JAX: K calls queued, then one wait
                t = time.perf_counter()
                for _ in range(K - 1):
                    fn(x, y)
                _sync(backend, fn(x, y))
                times[name].append((time.perf_counter() - t) / K)
            else:
                t = time.perf_counter()
                _sync(backend, fn(x, y))
                times[name].append(time.perf_counter() - t)
            gc.enable()
    memory = {n: _peak_extra(lambda fn=rows[n][1]: _sync(backend, fn(x, y)) or None)
              for n in live} if backend in ("numpy", "torch-cpu") else {}
    nbytes = int(np.prod(shape)) * {"float32": 4, "float16": 2, "bfloat16": 2,
                                     "uint8": 1}[dtype]
    floor_name = next(n for n in rows if n.endswith("(floor)"))
    floor = statistics.median(times[floor_name]) * 1.5 if floor_name in live else float("nan")
    anchor_medians = [statistics.median(times[n]) for n in live if rows[n][0] == "anchor"]
    best_anchor = min(anchor_medians) if anchor_medians else float("nan")
    out = []
    for name, (kind, _) in rows.items():
        entry: dict[str, Any] = {"backend": backend, "size": size, "shape": list(shape),
                                 "dtype": dtype, "bytes": nbytes, "row": name, "kind": kind}
        if name in errors:
            entry["error"] = errors[name]
        else:
            med = statistics.median(times[name])
            own = _anchor_of(size, name)
            anchor = statistics.median(times[own]) if own in live else best_anchor
            entry |= {"median_ms": med * 1e3, "min_ms": min(times[name]) * 1e3,
                      "max_ms": max(times[name]) * 1e3, "x_3n_floor": med / floor,
                      "x_best_anchor": med / anchor,
                      "peak_extra_bytes": memory.get(name)}
            if host[name]:
                entry["host_us_per_call"] = statistics.median(host[name]) * 1e6
                # the first round of a row sets its sleep; a row whose launches
                # outran it in most rounds was timed host-bound
                entry["launches_outran_sleep"] = 2 * uncovered[name] > len(host[name])
        out.append(entry)
    return out


def table(results: list[dict[str, Any]]) -> str:
    lines = ["| size | backend | row | median ms (min–max) | × 3N floor | × best anchor "
             "| peak extra MB (host) or launch µs/call (GPU) |", "|---|---|---|---|---|---|---|"]
    for r in results:
        if "error" in r:
            lines.append(f"| {r['size']} | {r['backend']} | {r['row']} | fails: {r['error']} "
                         "| | | |")
            continue
        mem = r.get("peak_extra_bytes")
        mem_s = "" if mem is None else f"{mem / 2**20:.1f}"
        if "host_us_per_call" in r:  # GPU: device time; host launch time beside it
            mem_s = f"host {r['host_us_per_call']:.0f} µs/call" + (
                " (outran)" if r["launches_outran_sleep"] else "")
        lines.append(
            f"| {r['size']} | {r['backend']} | {r['row']} | {r['median_ms']:.3f} "
            f"({r['min_ms']:.3f}–{r['max_ms']:.3f}) | {r['x_3n_floor']:.2f} | "
            f"{r['x_best_anchor']:.2f} | {mem_s} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="two sizes, 5 rounds")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--sizes", nargs="*", choices=list(SIZES), default=None)
    parser.add_argument("--backends", nargs="*", default=None)
    parser.add_argument("--json", default="bench/results.json", help="where to write JSON")
    parser.add_argument("--strict-sync", action="store_true",
                        help="make a device sync (torch CUDA) or a host transfer (JAX) inside "
                             "an arraymix call an error")
    args = parser.parse_args(argv)
    rounds = args.rounds or (5 if args.quick else 15)
    sizes = args.sizes or list(QUICK if args.quick else DEFAULT)
    backends = args.backends or _backends()
    results: list[dict[str, Any]] = []
    try:
        for size in sizes:
            for backend in backends:
                print(f"{size} on {backend} ...", file=sys.stderr)
                try:
                    results += measure(backend, size, rounds, args.strict_sync)
                except Exception:
                    traceback.print_exc()
    except KeyboardInterrupt:  # out of time: report what was measured
        print("interrupted: the table holds the sizes measured so far", file=sys.stderr)
    machine = {"python": platform.python_version(), "machine": platform.machine(),
               "processor": platform.processor(), "cpus": __import__("os").cpu_count(),
               "rounds": rounds, "numpy": np.__version__}
    for mod in ("torch", "jax", "timm", "torchvision", "kornia"):
        if mod in sys.modules:
            machine[mod] = sys.modules[mod].__version__
    Path(args.json).write_text(json.dumps({"machine": machine, "results": results}, indent=1))
    print(json.dumps(machine))
    print(table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
