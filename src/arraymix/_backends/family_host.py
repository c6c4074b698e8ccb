"""The mixing family in host memory (NumPy arrays, CPU torch tensors through
NumPy views): sample by sample, so only what each sample needs is read.

The reference gathers whole partner batches and selects with masks over
the batch; here a Mosaic copies four rectangles per sample, a mask selects
one partner at a time through the mask, and ResizeMix resizes
only the rows and columns of the partner that land in the box. Each
function equals the reference bitwise (ResizeMix: the same operations, in
the same dtype and order, on the positions inside the box). A result
asked for in place is built in a scratch batch and copied back, as a
sample's partners are read after they may have changed. A CPU tensor's
samples are shared among torch's threads (:mod:`.threads`), but for masks
of wider than one-byte values, which torch's ``where`` applies a sample at
a time on its own threads.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from .._compat import Array, is_torch_array, namespace_of, torch_module
from .._params import CutMixParams, MaskParams, MosaicParams
from .reference import grid_mask
from .threads import for_runs, threads_for
from .walk import Ops, cycles, host_list, numpy_of

__all__ = ["mask_host", "mosaic_host", "part_host", "resize_host"]


def _target(x: Array, out: Array | None) -> tuple[Array, Array]:
    """Where the samples are written (a NumPy view) and what is returned."""
    ops = Ops(x)
    result = ops.empty(x) if out is None or out is x else out
    return numpy_of(result), result


def part_host(x: Array, part: Any, result: Array, axes: tuple[int, ...],
              ctype: Any | None) -> Array:
    """A part of a Mixer's draw (its CutMix boxes, or a family part) written
    into ``result`` (a new array, not ``x``) for the samples it changes
    only: the others keep ``result``'s values, and are neither mixed nor
    copied."""
    if isinstance(part, CutMixParams):
        return _boxes_host(x, part.perm, part.lower, part.upper, axes, result)
    if isinstance(part, MaskParams):
        mask = numpy_of(part.mask)
        rows = np.flatnonzero(mask.reshape(mask.shape[0], -1).any(axis=1)).tolist()
        return mask_host(x, part.perm, part.mask, axes, result, rows)
    if isinstance(part, MosaicParams):
        sources = numpy_of(part.sources)
        moved = (sources != np.arange(sources.shape[0])[:, None]).any(axis=1)
        return mosaic_host(x, part.sources, part.centre, axes, result,
                           np.flatnonzero(moved).tolist())
    lower, upper = numpy_of(part.lower), numpy_of(part.upper)
    rows = np.flatnonzero((upper > lower).all(axis=1)).tolist()
    return resize_host(x, part.perm, part.lower, part.upper, axes, ctype, result, rows)


def _boxes_host(x: Array, perm: Array, lower: Array, upper: Array, axes: tuple[int, ...],
                result: Array) -> Array:
    """Each non-empty ``(B, k)`` box copied from the partner into ``result``."""
    src, dst = numpy_of(x), numpy_of(result)
    partner = host_list(perm)
    low, high = host_list(lower), host_list(upper)

    def run(rows: Sequence[int]) -> None:
        index: list[Any] = [slice(None)] * (src.ndim - 1)
        for i in rows:
            a, b = low[i], high[i]
            if all(lo < hi for lo, hi in zip(a, b, strict=True)):
                for k, ax in enumerate(axes):
                    index[ax - 1] = slice(a[k], b[k])
                box = tuple(index)
                dst[i][box] = src[partner[i]][box]

    for_runs(range(len(partner)), run, threads_for(x))
    return result


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
                out: Array | None, rows: list[int] | None = None) -> Array:
    """Each sample's four rectangles copied from their sources.

    Each band of rows (above and below the centre) is copied whole from the
    source of its wider side, then the narrower side over it: NumPy copies
    whole rows much faster than parts of rows, enough to pay for writing
    the narrower side twice."""
    view, result = _target(x, out)
    src, dst = _last_two(numpy_of(x), axes), _last_two(view, axes)
    width = src.shape[-1]
    order = host_list(sources)
    corner = host_list(centre)
    per_sample = bool(corner) and isinstance(corner[0], list)

    def run(samples: Sequence[int]) -> None:
        for i in samples:
            s0, s1, s2, s3 = order[i]
            r, c = corner[i] if per_sample else corner
            for band, left, right in ((slice(0, r), s0, s1), (slice(r, None), s2, s3)):
                if 2 * c >= width:
                    dst[i, ..., band, :] = src[left, ..., band, :]
                    if c < width:
                        dst[i, ..., band, c:] = src[right, ..., band, c:]
                else:
                    dst[i, ..., band, :] = src[right, ..., band, :]
                    if c > 0:
                        dst[i, ..., band, :c] = src[left, ..., band, :c]

    for_runs(range(len(order)) if rows is None else rows, run, threads_for(x))
    return _finish(x, out, result)


def mask_host(x: Array, perm: Array, mask: Array, axes: tuple[int, ...],
              out: Array | None, rows: list[int] | None = None) -> Array:
    """``where(mask, x[perm], x)``, sample by sample, as a select on the
    bits: ``a ^ ((a ^ b) & k)`` with ``k`` all ones where the mask is True.
    Exact for every dtype (values are moved, never computed), and three
    vectorised passes over a sample in cache cost less than NumPy's masked
    copy (``np.copyto(where=)``) or ``np.where``. A CPU tensor of wider
    values takes torch's ``where`` (:func:`_mask_torch`); of one-byte values
    (uint8 images, bool masks) this select, which is vectorised over bytes
    where torch's ``where`` moves one element at a time."""
    view, result = _target(x, out)
    src = numpy_of(x)
    m = grid_mask(namespace_of(np), src, numpy_of(mask), axes)
    partner = host_list(perm)
    if is_torch_array(x) and src.dtype.itemsize > 1:
        return _mask_torch(x, partner, m, result, out, rows)
    bits = np.dtype(f"u{src.dtype.itemsize}")
    a, d = src.view(bits), view.view(bits)
    shared = m.shape[0] == 1
    keep = np.negative(m[0].astype(bits)) if shared else None

    def run(samples: Sequence[int]) -> None:
        tmp = np.empty(src.shape[1:], dtype=bits)
        for i in samples:
            j = partner[i]
            if i == j:
                np.copyto(d[i], a[i])
                continue
            k = keep if keep is not None else np.negative(m[i].astype(bits))
            np.bitwise_xor(a[i], a[j], out=tmp)
            np.bitwise_and(tmp, k, out=tmp)
            np.bitwise_xor(a[i], tmp, out=d[i])

    for_runs(_backwards(partner, rows), run, threads_for(x))
    return _finish(x, out, result)


def _mask_torch(x: Array, partner: list[int], m: np.ndarray, result: Array,
                out: Array | None, rows: list[int] | None) -> Array:
    """:func:`mask_host` for a CPU tensor: torch's ``where`` a sample at a
    time, one pass on torch's threads reading the sample, its partner and
    the mask (exact: values are selected, never computed), where the bit
    select took three."""
    torch = torch_module()
    tm = torch.from_numpy(np.ascontiguousarray(m))
    shared = m.shape[0] == 1
    for i in _backwards(partner, rows):
        j = partner[i]
        if i == j:
            result[i].copy_(x[i])
        else:
            torch.where(tm[0 if shared else i], x[j], x[i], out=result[i])
    return _finish(x, out, result)


def _backwards(partner: list[int], rows: list[int] | None) -> list[int]:
    """The samples (of ``rows``, where given) along the permutation's cycles
    backwards: each sample's partner is the sample before it, just read
    (its own copy), so it is read again from cache."""
    wanted = None if rows is None else set(rows)
    return [i for cycle in cycles(partner) for i in reversed(cycle)
            if wanted is None or i in wanted]


def resize_host(x: Array, perm: Array, lower: Array, upper: Array, axes: tuple[int, ...],
                ctype: Any | None, out: Array | None, rows: list[int] | None = None
                ) -> Array:
    """Each sample copied, then its box filled with its partner resized to
    it (nearest where ``ctype`` is None, else linear in ``ctype`` per axis);
    only the samples in ``rows``, where given.

    Each axis's gathers and arithmetic write into scratch made once per
    run: fresh temporaries of this size cost page faults on every call."""
    view, result = _target(x, out)
    src = numpy_of(x)
    low, high = host_list(lower), host_list(upper)
    per_sample = bool(low) and isinstance(low[0], list)
    partner = host_list(perm)
    work = np.dtype(src.dtype if ctype is None else ctype)
    size = math.prod(src.shape[1:])

    def run(samples: Sequence[int]) -> None:
        index: list[Any] = [slice(None)] * (src.ndim - 1)
        scratch = np.empty((3, size), dtype=work)
        for i in samples:
            np.copyto(view[i], src[i])
            a, b = (low[i], high[i]) if per_sample else (low, high)
            if any(hi <= lo for lo, hi in zip(a, b, strict=True)):
                continue
            part, held = src[partner[i]], 0  # slot 0: the partner converted
            if part.dtype != work:
                part = _into(scratch[0], part.shape, part)
            for k, ax in enumerate(axes):
                # an axis reads the slot that holds the partner so far and
                # writes the two others
                one, other = (s for s in range(3) if s != held)
                part = _resized(part, ax - 1, a[k], b[k], src.shape[ax], ctype,
                                scratch[one], scratch[other])
                held = one if ctype is None else other
            for k, ax in enumerate(axes):
                index[ax - 1] = slice(a[k], b[k])
            box = view[i][tuple(index)]
            if part.dtype.kind == "f" and src.dtype.kind in "iu":
                np.rint(part, out=part)
            np.copyto(box, part, casting="unsafe")

    for_runs(_backwards(partner, rows), run, threads_for(x))
    return _finish(x, out, result)


def _into(flat: np.ndarray, shape: tuple[int, ...], values: np.ndarray) -> np.ndarray:
    """``values`` converted into the front of ``flat``, seen as ``shape``."""
    target = flat[:values.size].reshape(shape)
    np.copyto(target, values, casting="unsafe")
    return target


def _resized(part: np.ndarray, axis: int, low: int, high: int, n: int,
             ctype: Any | None, one: np.ndarray, other: np.ndarray) -> np.ndarray:
    """``part`` resized along ``axis`` to the box ``[low, high)`` of an axis of
    length ``n``: :func:`.reference.box_index`'s positions, inside the box,
    in the flat scratch ``one`` (nearest) or ``other`` (linear, its near
    position in ``one``)."""
    shape = list(part.shape)
    shape[axis] = high - low
    count = math.prod(shape)
    if ctype is None:
        return _gather(part, _nearest(n, high - low), axis,
                       one[:count].reshape(shape))
    first, second, weight = _linear(n, high - low, np.dtype(ctype))
    near = _gather(part, first, axis, one[:count].reshape(shape))
    far = _gather(part, second, axis, other[:count].reshape(shape))
    scale = [1] * part.ndim
    scale[axis] = high - low
    # near + weight * (far - near), in far's memory: the same roundings
    np.subtract(far, near, out=far)
    np.multiply(far, weight.reshape(scale), out=far)
    np.add(near, far, out=far)
    return far


@functools.lru_cache(maxsize=1024)
def _nearest(n: int, length: int) -> np.ndarray:
    """The source position each of ``length`` box positions reads, nearest.
    Inside a box the positions depend on its length alone, so every box of
    that length shares them (a batch's boxes, the next batch's)."""
    offset = np.arange(length)
    src = np.minimum(((2 * offset + 1) * n) // (2 * length), n - 1)
    src.flags.writeable = False
    return src


@functools.lru_cache(maxsize=1024)
def _linear(n: int, length: int, dtype: np.dtype[Any]
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The two neighbours and the weight of the second for each of
    ``length`` box positions, linear in ``dtype`` (shared as :func:`_nearest`'s)."""
    num = np.maximum((2 * np.arange(length, dtype=np.int64) + 1) * n - length, 0)
    whole = num // (2 * length)
    first = np.minimum(whole, n - 1)
    # as :func:`.reference.box_index`: the remainder times the reciprocal
    weight = (num - whole * (2 * length)).astype(dtype) * (dtype.type(1) / dtype.type(2 * length))
    second = np.minimum(first + 1, n - 1)
    for a in (first, second, weight):
        a.flags.writeable = False
    return first, second, weight


def _gather(part: np.ndarray, index: np.ndarray, axis: int, out: np.ndarray) -> np.ndarray:
    """``np.take(part, index, axis=axis)`` into ``out`` (C-ordered). The
    positions are in range, so ``take`` need not check them (with checks it
    gathers into a buffer first)."""
    return np.take(part, index, axis=axis, out=out, mode="clip")
