"""The mixing family in host memory (NumPy arrays, CPU torch tensors through
NumPy views): sample by sample, so only what each sample needs is read.

The reference gathers whole partner batches and selects with masks over
the batch; here a Mosaic copies four rectangles per sample, a mask selects
one partner at a time through the mask, and ResizeMix resizes
only the rows and columns of the partner that land in the box. Each
function equals the reference bitwise (ResizeMix: the same operations, in
the same dtype and order, on the positions inside the box). A result
asked for in place is built in a scratch batch and copied back, as a
sample's partners are read after they may have changed.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._compat import Array, namespace_of
from .reference import grid_mask
from .walk import Ops, host_list, numpy_of

__all__ = ["mask_host", "mosaic_host", "resize_host"]


def _target(x: Array, out: Array | None) -> tuple[Array, Array]:
    """Where the samples are written (a NumPy view) and what is returned."""
    ops = Ops(x)
    result = ops.empty(x) if out is None or out is x else out
    return numpy_of(result), result


def _finish(x: Array, out: Array | None, result: Array) -> Array:
    if out is x:
        Ops(x).copy(x, result)
        return x
    return result


def _last_two(a: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    """``a`` seen with its two cut axes last (a view)."""
    last = (a.ndim - 2, a.ndim - 1)
    return a if axes == last else np.moveaxis(a, axes, last)


def mosaic_host(x: Array, sources: Array, centre: Array, axes: tuple[int, ...],
                out: Array | None) -> Array:
    """Each sample's four rectangles copied from their sources: the batch is
    read once and written once."""
    view, result = _target(x, out)
    src, dst = _last_two(numpy_of(x), axes), _last_two(view, axes)
    order = host_list(sources)
    corner = host_list(centre)
    per_sample = bool(corner) and isinstance(corner[0], list)
    for i, (s0, s1, s2, s3) in enumerate(order):
        r, c = corner[i] if per_sample else corner
        dst[i, ..., :r, :c] = src[s0, ..., :r, :c]
        dst[i, ..., :r, c:] = src[s1, ..., :r, c:]
        dst[i, ..., r:, :c] = src[s2, ..., r:, :c]
        dst[i, ..., r:, c:] = src[s3, ..., r:, c:]
    return _finish(x, out, result)


def mask_host(x: Array, perm: Array, mask: Array, axes: tuple[int, ...],
              out: Array | None) -> Array:
    """``where(mask, x[perm], x)``: the batch copied, then each partner copied
    through the mask (``np.copyto(where=)`` writes no temporary, where
    ``np.where`` builds one per sample)."""
    view, result = _target(x, out)
    src = numpy_of(x)
    np.copyto(view, src)
    m = grid_mask(namespace_of(np), src, numpy_of(mask), axes)
    shared = m.shape[0] == 1
    for i, j in enumerate(host_list(perm)):
        if i != j:
            np.copyto(view[i], src[j], where=m[0] if shared else m[i])
    return _finish(x, out, result)


def resize_host(x: Array, perm: Array, lower: Array, upper: Array, axes: tuple[int, ...],
                ctype: Any | None, out: Array | None) -> Array:
    """The batch copied, then each box filled with its partner resized to it
    (nearest where ``ctype`` is None, else linear in ``ctype`` per axis)."""
    view, result = _target(x, out)
    src = numpy_of(x)
    np.copyto(view, src)
    low, high = host_list(lower), host_list(upper)
    per_sample = bool(low) and isinstance(low[0], list)
    index: list[Any] = [slice(None)] * (src.ndim - 1)
    for i, j in enumerate(host_list(perm)):
        a, b = (low[i], high[i]) if per_sample else (low, high)
        if any(hi <= lo for lo, hi in zip(a, b, strict=True)):
            continue
        part = src[j]
        if ctype is not None and part.dtype != ctype:
            part = part.astype(ctype)
        for k, ax in enumerate(axes):
            part = _resized(part, ax - 1, a[k], b[k], src.shape[ax], ctype)
        if ctype is not None and part.dtype != src.dtype:
            if src.dtype.kind in "iu":
                part = np.round(part)
            part = part.astype(src.dtype)
        for k, ax in enumerate(axes):
            index[ax - 1] = slice(a[k], b[k])
        view[i][tuple(index)] = part
    return _finish(x, out, result)


def _resized(part: np.ndarray, axis: int, low: int, high: int, n: int,
             ctype: Any | None) -> np.ndarray:
    """``part`` resized along ``axis`` to the box ``[low, high)`` of an axis of
    length ``n``: :func:`.reference._box_index`'s positions, inside the box."""
    length = high - low
    offset = np.arange(length)
    if ctype is None:
        src = np.minimum(((2 * offset + 1) * n) // (2 * length), n - 1)
        return np.take(part, src, axis=axis)
    dtype = np.dtype(ctype)
    c = (offset.astype(dtype) + dtype.type(0.5)) * (dtype.type(n) / dtype.type(length)) \
        - dtype.type(0.5)
    c = np.maximum(c, dtype.type(0))
    first = np.clip(np.floor(c).astype(np.int64), 0, n - 1)
    weight = c - first.astype(dtype)
    second = np.minimum(first + 1, n - 1)
    near = np.take(part, first, axis=axis)
    far = np.take(part, second, axis=axis)
    shape = [1] * part.ndim
    shape[axis] = length
    resized: np.ndarray = near + weight.reshape(shape) * (far - near)
    return resized
