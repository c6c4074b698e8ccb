"""What arraymix is measured against: the floors, hand-written blends, and the
mixup of the libraries users switch from. Each factory returns a callable
``fn(x, y)`` or raises ImportError when its library is missing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

Fn = Callable[[Any, Any], Any]


# --- NumPy -------------------------------------------------------------------

def numpy_floors(x: np.ndarray) -> dict[str, Fn]:
    rows = _copy_floors(np, x)
    # what one ufunc pass over the batch into a new array costs: a blend
    # with the reference's roundings makes three (two of them in cache)
    one = x.dtype.type(1)
    rows["one ufunc pass, new array (x * 1)"] = lambda x, y: np.multiply(x, one)
    # the 3N traffic (two batches read, one written) in the one ufunc pass
    # NumPy has for it: what a blend into a buffer costs at best with ufuncs
    other, buf = x[::-1].copy(), np.empty_like(x)
    rows["one two-input ufunc pass into a buffer (np.add)"] = (
        lambda x, y: np.add(x, other, out=buf))
    rows["one two-input ufunc pass, new array (np.add)"] = lambda x, y: np.add(x, other)
    return rows


def _copy_floors(mod: Any, x: Any) -> dict[str, Fn]:
    """Copying into a preallocated buffer (x1.5: the 3N floor) and a fresh copy,
    for NumPy and CuPy, which spell both alike."""
    buf = mod.empty_like(x)
    return {
        "copy into buffer (floor)": lambda x, y: mod.copyto(buf, x),
        "x.copy()": lambda x, y: x.copy(),
    }


def numpy_hand(num_classes: int) -> Fn:
    """The blend one writes by hand: one λ, a permutation, two temporaries."""
    gen = np.random.default_rng(0)
    eye = np.eye(num_classes, dtype=np.float32)

    def fn(x: np.ndarray, y: np.ndarray) -> Any:
        lam = gen.beta(0.2, 0.2)
        perm = gen.permutation(x.shape[0])
        t = eye[y]
        return (lam * x + (1 - lam) * x[perm]).astype(x.dtype, copy=False), \
            lam * t + (1 - lam) * t[perm]

    return fn


# --- torch -------------------------------------------------------------------

def torch_floors(x: Any) -> dict[str, Fn]:
    import torch

    buf = torch.empty_like(x)
    return {
        "copy into buffer (floor)": lambda x, y: buf.copy_(x),
        "x.clone()": lambda x, y: x.clone(),
    }


def torch_hand(num_classes: int) -> Fn:
    """The blend one writes by hand in torch: λ from the host, a randperm."""
    import torch

    gen = np.random.default_rng(0)

    def fn(x: Any, y: Any) -> Any:
        lam = float(gen.beta(0.2, 0.2))
        perm = torch.randperm(x.shape[0], device=x.device)
        t = torch.nn.functional.one_hot(y, num_classes).to(torch.float32)
        return lam * x + (1 - lam) * x[perm], lam * t + (1 - lam) * t[perm]

    return fn


def tutorial(num_classes: int) -> Fn:
    """The seed tutorial's method (one-hot targets, global NumPy λ, CPU tensor)."""
    import torch

    def fn(data: Any, labels: Any) -> Any:
        targets = torch.nn.functional.one_hot(labels, num_classes).to(torch.float)
        idx = torch.randperm(data.size(0))
        data2, targets2 = data[idx], targets[idx]
        a = torch.FloatTensor([np.random.beta(0.2, 0.2)])  # noqa: NPY002 (as the tutorial)
        return data * a + data2 * (1 - a), targets * a + targets2 * (1 - a)

    return fn


def timm_mixup(num_classes: int, mode: str, cutmix: bool) -> Fn:
    from timm.data import Mixup

    mix = Mixup(mixup_alpha=0.0 if cutmix else 0.2, cutmix_alpha=1.0 if cutmix else 0.0,
                mode=mode, num_classes=num_classes, label_smoothing=0.0)
    return lambda x, y: mix(x, y)  # in place on x, as timm does


def timm_fast_collate(items: list[Any], num_classes: int, mode: str, cutmix: bool) -> Fn:
    """timm's FastCollateMixup on a list of (uint8 NumPy sample, id): it
    stacks and mixes into a uint8 tensor in one call, as in its loaders."""
    from timm.data import FastCollateMixup

    collate = FastCollateMixup(mixup_alpha=0.0 if cutmix else 0.8,
                               cutmix_alpha=1.0 if cutmix else 0.0, mode=mode,
                               num_classes=num_classes, label_smoothing=0.1)
    return lambda x, y: collate(items)


def torchvision_v2(num_classes: int, cutmix: bool) -> Fn:
    from torchvision.transforms import v2

    op = v2.CutMix(num_classes=num_classes) if cutmix else v2.MixUp(num_classes=num_classes,
                                                                   alpha=0.2)
    return lambda x, y: op(x, y)


def kornia_v2(cutmix: bool) -> Fn:
    from kornia.augmentation import RandomCutMixV2, RandomMixUpV2

    op = RandomCutMixV2() if cutmix else RandomMixUpV2()
    return lambda x, y: op(x, y)


def kornia_mosaic(size: tuple[int, int]) -> Fn:
    """kornia's Mosaic: a 2×2 grid of four samples cropped back to ``size``."""
    from kornia.augmentation import RandomMosaic

    op = RandomMosaic(output_size=size, mosaic_grid=(2, 2), p=1.0)
    return lambda x, y: op(x)


def mmpretrain_resizemix(num_classes: int) -> Fn:
    """MMPretrain's ResizeMix batch augment: one box for the batch, the
    partners resized into it in place on the batch, one-hot scores."""
    import warnings

    import torch

    with warnings.catch_warnings():  # mmcv-lite warns that its compiled ops are absent
        warnings.simplefilter("ignore")
        from mmpretrain.models.utils.batch_augments import ResizeMix

    op = ResizeMix(alpha=1.0)
    return lambda x, y: op.mix(x, torch.nn.functional.one_hot(y, num_classes).to(x.dtype))


# --- CuPy --------------------------------------------------------------------

def cupy_floors(x: Any) -> dict[str, Fn]:
    import cupy

    return _copy_floors(cupy, x)


def cupy_hand(num_classes: int) -> Fn:
    """The blend one writes by hand in CuPy: λ from the host, a device permutation."""
    import cupy

    gen = np.random.default_rng(0)
    eye = cupy.eye(num_classes, dtype=cupy.float32)

    def fn(x: Any, y: Any) -> Any:
        lam = float(gen.beta(0.2, 0.2))
        perm = cupy.random.permutation(x.shape[0])
        t = eye[y]
        return (lam * x + (1 - lam) * x[perm]).astype(x.dtype, copy=False), \
            lam * t + (1 - lam) * t[perm]

    return fn


# --- JAX ---------------------------------------------------------------------

def jax_floors(x: Any) -> dict[str, Fn]:
    import jax

    neg = jax.jit(lambda a: -a)  # reads N, writes N: XLA cannot elide it
    return {"jit -x (floor)": lambda x, y: neg(x), "jnp.array(x, copy=True)":
            lambda x, y: jax.numpy.array(x, copy=True)}


def jax_hand_draws(key: Any, batch: int) -> tuple[Any, Any]:
    """λ and the partners as a JAX user writes them: ``jax.random.beta``
    and ``jax.random.permutation``."""
    import jax

    k1, k2 = jax.random.split(key)
    return jax.random.beta(k1, 0.2, 0.2), jax.random.permutation(k2, batch)


def jax_hand_step(num_classes: int) -> Callable[[Any, Any, Any], Any]:
    """The hand-written jitted MixUp of a batch and its class ids, given a key."""
    import jax

    @jax.jit
    def step(x: Any, y: Any, key: Any) -> Any:
        lam, perm = jax_hand_draws(key, x.shape[0])
        t = jax.nn.one_hot(y, num_classes)
        xm = (lam * x + (1 - lam) * x[perm]).astype(x.dtype)
        return xm, lam * t + (1 - lam) * t[perm]

    return step


def jax_hand(num_classes: int) -> Fn:
    import jax

    step = jax_hand_step(num_classes)
    keys = iter(list(jax.random.split(jax.random.key(0), 4096)))  # drawn before timing
    return lambda x, y: step(x, y, next(keys))


# --- the per-call cost: small batches ------------------------------------------

def hand_mixup(backend: str, num_classes: int) -> Fn:
    """mixup written by hand, the tutorial's way: λ from a NumPy Generator,
    a random permutation, ``eye[ids]``, two blends."""
    gen = np.random.default_rng(0)
    if backend == "numpy":
        eye = np.eye(num_classes, dtype=np.float32)

        def numpy_fn(x: Any, y: Any) -> Any:
            lam = gen.beta(0.2, 0.2)
            perm = gen.permutation(x.shape[0])
            t = eye[y]
            return lam * x + (1 - lam) * x[perm], lam * t + (1 - lam) * t[perm]

        return numpy_fn
    import torch

    teye = torch.eye(num_classes)

    def torch_fn(x: Any, y: Any) -> Any:
        lam = float(gen.beta(0.2, 0.2))
        perm = torch.randperm(x.shape[0])
        t = teye[y]
        return lam * x + (1 - lam) * x[perm], lam * t + (1 - lam) * t[perm]

    return torch_fn


def hand_blend(lam: float, perm: Any) -> Fn:
    """``lam * x + (1 - lam) * x[perm]`` with ready parameters."""
    return lambda x, y: lam * x + (1 - lam) * x[perm]


def torch_dense_loss(params: Any, backward: bool) -> Fn:
    """The loss of a mixed batch as one writes it with soft targets: the
    (B, C) mixed one-hot targets, then torch's cross-entropy on them."""
    import torch

    lam = params.lam[:, None]

    def fn(x: Any, y: Any) -> Any:
        z = x.detach().requires_grad_(backward)
        t = torch.nn.functional.one_hot(y, x.shape[1]).to(x.dtype)
        target = lam * t + (1 - lam) * t[params.perm]
        loss = torch.nn.functional.cross_entropy(z, target)
        if backward:
            loss.backward()
        return loss

    return fn


def torch_two_losses(params: Any, backward: bool) -> Fn:
    """The loss of a mixed batch from its ids, by hand: torch's cross-entropy
    against each label, weighted λ and 1 − λ per sample."""
    import torch

    def fn(x: Any, y: Any) -> Any:
        z = x.detach().requires_grad_(backward)
        ce = torch.nn.functional.cross_entropy
        own = ce(z, y, reduction="none")
        theirs = ce(z, y[params.perm], reduction="none")
        loss = (params.lam * own + (1 - params.lam) * theirs).mean()
        if backward:
            loss.backward()
        return loss

    return fn
