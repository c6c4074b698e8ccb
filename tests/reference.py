"""Independent float64 NumPy reference implementations, written from the
papers' formulas, and helpers shared by the tests."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from hypothesis import strategies as st

import arraymix

FLOATS = ("float16", "bfloat16", "float32", "float64")
INTS = ("uint8", "int16")
EPS = {"float16": 2.0**-10, "bfloat16": 2.0**-7, "float32": 2.0**-23, "float64": 2.0**-52}


def ref_blend(x: np.ndarray, lam: np.ndarray, perm: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    lam = np.asarray(lam, dtype=np.float64)
    lam = lam.reshape(lam.shape + (1,) * (x.ndim - lam.ndim))
    return lam * x + (1.0 - lam) * x[np.asarray(perm)]


def ref_one_hot(labels: np.ndarray, num_classes: int, smoothing: float = 0.0) -> np.ndarray:
    out = np.full((*labels.shape, num_classes), smoothing / num_classes)
    np.put_along_axis(out, labels[..., None], 1.0 - smoothing + smoothing / num_classes, -1)
    return out


def ref_paste(x: np.ndarray, perm: np.ndarray, lower: np.ndarray, upper: np.ndarray,
              axes: tuple[int, ...]) -> np.ndarray:
    """CutMix by slicing, one sample at a time."""
    out = np.array(x, copy=True)
    lower, upper = np.asarray(lower), np.asarray(upper)
    for i in range(x.shape[0]):
        lo = lower[i] if lower.ndim == 2 else lower
        hi = upper[i] if upper.ndim == 2 else upper
        index: list[Any] = [slice(None)] * (x.ndim - 1)
        for j, ax in enumerate(axes):
            index[ax % x.ndim - 1] = slice(int(lo[j]), int(hi[j]))
        out[i][tuple(index)] = x[int(perm[i])][tuple(index)]
    return out


#: 8-bit float formats: machine epsilon and smallest normal number (format facts)
FLOAT8 = {"float8_e4m3fn": (2.0**-3, 2.0**-6), "float8_e5m2": (2.0**-2, 2.0**-14)}


def float8_dtype(backend: Any, name: str) -> Any:
    """The backend's 8-bit float dtype ``name``, or None where its library has
    none (the array API standard defines none; NumPy has them from ml_dtypes)."""
    if backend.name.startswith("torch"):
        import torch

        return getattr(torch, name, None)
    if backend.name.startswith("jax"):
        import jax.numpy as jnp

        return getattr(jnp, name, None)
    if backend.name == "numpy":
        try:
            import ml_dtypes
        except ImportError:
            return None
        return np.dtype(getattr(ml_dtypes, name))
    return None


def half_ulp(values: np.ndarray, name: str) -> np.ndarray:
    """Half the spacing of the 8-bit float format ``name`` around ``values``:
    the most a correctly rounded result may differ from them."""
    eps, normal = FLOAT8[name]
    magnitude = np.abs(values)
    exponent = np.floor(np.log2(np.where(magnitude > 0, magnitude, 1.0)))
    return 0.5 * eps * np.maximum(2.0**exponent, normal)


def tolerance(dtype: str, scale: float) -> float:
    """Absolute tolerance for a blend computed in ``dtype`` on values of ``scale``."""
    if dtype in EPS:
        return 4 * EPS[dtype] * max(scale, 1.0)
    return 1.0  # integers: round-half ties may land either side


def rounds_once(backend: Any) -> bool:
    """Whether ``backend`` blends floating data with one rounding (torch's lerp,
    the fused CUDA kernels) rather than the reference's three: equal to an ulp."""
    return bool(backend.name.startswith("torch"))


def random_batch(rng: np.random.Generator, shape: tuple[int, ...], dtype: str) -> np.ndarray:
    if dtype in INTS:
        info = np.iinfo(dtype)
        return rng.integers(info.min, int(info.max) + 1, size=shape).astype(dtype)
    return rng.normal(scale=3.0, size=shape).astype("float32" if dtype == "bfloat16" else dtype)


def lam_as_used(backend: Any, lam: np.ndarray, dtype: str) -> np.ndarray:
    """λ as the backend applies it: its default float, then x's compute dtype."""
    xp = backend.xp
    default = xp.__array_namespace_info__().default_dtypes(device=None)["real floating"]
    a = xp.asarray(np.asarray(lam), dtype=default)
    compute = backend.dtypes[dtype] if dtype in FLOATS else xp.float32
    return np.asarray(backend.numpy(xp.astype(a, compute)), dtype=np.float64)


def batch_shapes(max_batch: int = 64) -> st.SearchStrategy[tuple[int, ...]]:
    return st.tuples(
        st.integers(1, max_batch), st.lists(st.integers(1, 5), min_size=0, max_size=3)
    ).map(lambda t: (t[0], *t[1]))


def check_like(backend: Any, out: Any, shape: tuple[int, ...], dtype: Any) -> None:
    """Namespace, shape, dtype and device of a result, before any value."""
    from array_api_compat import array_namespace, device

    assert array_namespace(out).__name__ == backend.xp.__name__
    assert tuple(out.shape) == tuple(shape)
    assert out.dtype == dtype
    if not backend.jit:
        assert device(out) == backend.device


def reference_params(seed: int, batch: int, **kw: Any) -> arraymix.MixParams:
    """The params an int seed gives, drawn in NumPy."""
    return arraymix.sample_mixup(seed, batch, **kw)


# The mixing family, by slicing and loops in float64.

def _nearest(n: int, g: int) -> np.ndarray:
    """The grid cell (of ``g``) whose centre is nearest each of ``n`` positions."""
    return np.floor((np.arange(n) + 0.5) * g / n).astype(int)


def ref_mask(x, perm, mask, axes):
    axes = tuple(a % x.ndim for a in axes)
    out = x.astype(np.float64)
    for b in range(x.shape[0]):
        m = mask if mask.ndim == len(axes) else mask[b]
        for j, ax in enumerate(axes):
            m = np.take(m, _nearest(x.shape[ax], m.shape[j]), axis=j)
        shape = [1] * (x.ndim - 1)
        for ax in axes:
            shape[ax - 1] = x.shape[ax]
        m = np.broadcast_to(m.reshape(shape), x.shape[1:])
        out[b][m] = x[perm[b]].astype(np.float64)[m]
    return out


def ref_mosaic(x, sources, centre, axes):
    axes = tuple(a % x.ndim for a in axes)
    out = np.empty(x.shape, dtype=np.float64)
    for b in range(x.shape[0]):
        r, c = (centre if centre.ndim == 1 else centre[b]).tolist()
        for q, (rows, cols) in enumerate([(slice(0, r), slice(0, c)),
                                          (slice(0, r), slice(c, None)),
                                          (slice(r, None), slice(0, c)),
                                          (slice(r, None), slice(c, None))]):
            index = [slice(None)] * x.ndim
            index[0], index[axes[0]], index[axes[1]] = b, rows, cols
            source = [slice(None)] * x.ndim
            source[0], source[axes[0]], source[axes[1]] = sources[b, q], rows, cols
            out[tuple(index)] = x[tuple(source)]
    return out


def _resize_axis(a, axis, length, nearest):
    """``a`` resized to ``length`` along ``axis``: half-pixel centres."""
    n = a.shape[axis]
    moved = np.moveaxis(a, axis, 0)
    rows = []
    for i in range(length):
        c = (i + 0.5) * n / length - 0.5
        if nearest:
            rows.append(moved[min(math.floor(c + 0.5), n - 1)])
            continue
        c = max(c, 0.0)
        i0 = min(math.floor(c), n - 1)
        i1 = min(i0 + 1, n - 1)
        w = c - i0
        rows.append(moved[i0] * (1 - w) + moved[i1] * w)
    return np.moveaxis(np.stack(rows), 0, axis)


def ref_resize(x, perm, lower, upper, axes, nearest):
    axes = tuple(a % x.ndim for a in axes)
    out = x.astype(np.float64)
    for b in range(x.shape[0]):
        lo = lower if lower.ndim == 1 else lower[b]
        hi = upper if upper.ndim == 1 else upper[b]
        if np.any(hi <= lo):
            continue
        part = x[perm[b]].astype(np.float64)
        for j, ax in enumerate(axes):
            part = _resize_axis(part, ax - 1, int(hi[j] - lo[j]), nearest)
        index = [slice(None)] * (x.ndim - 1)
        for j, ax in enumerate(axes):
            index[ax - 1] = slice(int(lo[j]), int(hi[j]))
        out[b][tuple(index)] = part
    return out
