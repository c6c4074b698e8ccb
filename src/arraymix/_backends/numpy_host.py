"""The NumPy backend: host arrays, whose values are read without a sync.

Blends walk the batch sample by sample (large samples) or block by block
(small ones) through :mod:`.walk`; boxes are copied by slicing
(:mod:`.boxes`); class ids become mixed rows by a fill and a scatter.
Every path equals the array API reference bitwise.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

from .._compat import Array, dtype_kind, namespace_of
from . import boxes, family_host, walk
from .reference import Reference, ctype_of, one_hot_values, resize_ctype
from .tuning import current

__all__ = ["NUMPY", "Numpy", "blend_whole", "host_paste_path", "one_hot_rows", "scatter_ids"]


class Numpy(Reference):
    """NumPy arrays (and the NumPy views of CPU tensors, for :mod:`.torch_cpu`)."""

    name = "numpy"

    def keep_rows(self, x: Array, result: Array, keep: Array) -> Array:
        rows = np.flatnonzero(keep)
        if math.prod(x.shape[1:]) < current().walk_min_sample:
            result[rows] = x[rows]  # small samples: one gather and one scatter
            return result
        for i in rows.tolist():  # large ones: a copy each, no gathered scratch
            np.copyto(result[i, ...], x[i, ...])
        return result

    def blend_keeping(self, x: Array, lam: Array, perm: Array, keep: Array,
                      groups: int) -> Array:
        t = current()
        if (t.force in (None, "walk") and x.shape[0] and x.dtype.kind == "f"
                and (t.force == "walk" or math.prod(x.shape[1:]) >= t.walk_min_sample)):
            # the walk copies the kept samples instead of blending them first
            return walk.walk_blend(x, lam, perm, None, ctype_of(self.xp, x.dtype),
                                   walk.piece_of(x, t), keep=np.flatnonzero(keep).tolist())
        return super().blend_keeping(x, lam, perm, keep, groups)

    def blend(self, x: Array, lam: Array, perm: Array, out: Array | None,
              groups: int) -> Array:
        t = current()
        if t.force == "reference" or not x.shape[0]:
            return super().blend(x, lam, perm, out, groups)
        ctype = ctype_of(self.xp, x.dtype)
        if t.force == "walk" or (t.force != "blocks"
                                 and math.prod(x.shape[1:]) >= t.walk_min_sample):
            return walk.walk_blend(x, lam, perm, out, ctype, walk.piece_of(x, t))
        if out is None and x.shape[0] * math.prod(x.shape[1:]) <= 2 * t.walk_min_sample:
            return blend_whole(x, lam, perm, ctype)  # the batch is one block
        return walk.blend_blocks(x, lam, perm, out, ctype, t)

    def paste(self, x: Array, perm: Array, lower: Array, upper: Array,
              axes: tuple[int, ...], out: Array | None, groups: int) -> Array:
        path = host_paste_path(x, lower, out, numpy_view=True)
        if path == "boxes":
            return boxes.paste_boxes(x, perm, lower, upper, axes, out)
        if path == "slice":
            return boxes.paste_box(x, perm, lower, upper, axes, out)
        if path == "mask-copy":
            return boxes.paste_masked(x, perm, lower, upper, axes, out)
        return super().paste(x, perm, lower, upper, axes, out, groups)

    def paste_mask(self, x: Array, perm: Array, mask: Array, axes: tuple[int, ...],
                   out: Array | None, groups: int) -> Array:
        if current().force == "reference" or not x.shape[0]:
            return super().paste_mask(x, perm, mask, axes, out, groups)
        return family_host.mask_host(x, perm, mask, axes, out)

    def mosaic(self, x: Array, sources: Array, centre: Array, axes: tuple[int, ...],
               out: Array | None, groups: int) -> Array:
        if current().force == "reference" or not x.shape[0]:
            return super().mosaic(x, sources, centre, axes, out, groups)
        return family_host.mosaic_host(x, sources, centre, axes, out)

    def resize_paste(self, x: Array, perm: Array, lower: Array, upper: Array,
                     axes: tuple[int, ...], nearest: bool, out: Array | None,
                     groups: int) -> Array:
        if current().force == "reference" or not x.shape[0]:
            return super().resize_paste(x, perm, lower, upper, axes, nearest, out, groups)
        ctype = None if nearest else resize_ctype(self.xp, x.dtype)
        return family_host.resize_host(x, perm, lower, upper, axes, ctype, out)

    def mix_part(self, x: Array, part: Any, result: Array, axes: tuple[int, ...],
                 nearest: bool, groups: int) -> Array:
        if current().force == "reference" or not x.shape[0]:
            return super().mix_part(x, part, result, axes, nearest, groups)
        ctype = None if nearest else resize_ctype(self.xp, x.dtype)
        return family_host.part_host(x, part, result, axes, ctype)

    def one_hot(self, labels: Array, num_classes: int, smoothing: float,
                dtype: Any) -> Array:
        t = current()
        if t.force == "reference":
            return super().one_hot(labels, num_classes, smoothing, dtype)
        if num_classes <= t.one_hot_table_max:
            return _table(num_classes, smoothing, np.dtype(dtype)).take(labels, axis=0)
        return one_hot_rows(labels, num_classes, smoothing, dtype)

    def mix_ids(self, y: Array, lam: Array, perm: Array, num_classes: int, smoothing: float,
                dtype: Any, groups: int) -> Array:
        t = current()
        if t.force == "reference":
            return super().mix_ids(y, lam, perm, num_classes, smoothing, dtype, groups)
        if y.ndim == 1 and y.shape[0] * num_classes >= t.scatter_ids_min:
            return scatter_ids(y, lam, perm, num_classes, smoothing, dtype)
        if num_classes <= t.one_hot_table_max:
            # the partners' rows are the rows of the partners' ids: two takes
            # from the table instead of building rows and gathering them
            table = _table(num_classes, smoothing, np.dtype(dtype))
            lam_c, om_c = _weights(lam, dtype, y.ndim + 1)
            return (lam_c * table.take(y, axis=0)
                    + om_c * table.take(y.take(perm, axis=0), axis=0))
        if y.ndim != 1:
            return super().mix_ids(y, lam, perm, num_classes, smoothing, dtype, groups)
        return blend_whole(one_hot_rows(y, num_classes, smoothing, dtype), lam, perm, dtype)


def host_paste_path(x: Array, lower: Array, out: Array | None, numpy_view: bool) -> str:
    """How a host batch is pasted: ``"boxes"`` (box by box, samples large
    enough), ``"slice"`` (one box for the batch), ``"mask-copy"`` (a box
    per sample on small samples, through NumPy: ``numpy_view``), else
    ``"reference"``; a forced path where it applies."""
    t = current()
    force = t.force
    if force == "reference" or not x.shape[0]:
        return "reference"
    per_sample = lower.ndim == 2
    if force == "boxes" or (force is None and math.prod(x.shape[1:]) >= (
            t.paste_min_sample if per_sample else t.walk_min_sample)):
        return "boxes"
    if not per_sample and force in (None, "slice"):
        return "slice"
    if numpy_view and force in (None, "mask-copy"):
        return "mask-copy"
    return "reference"


def blend_whole(x: Array, lam: Array, perm: Array, ctype: Any) -> Array:
    """:func:`.reference.blend_arrays` in NumPy's own calls, which cost less
    than the array API wrappers on small batches: the same operations in
    the same order, so the same values."""
    lam_c, om_c = _weights(lam, ctype, x.ndim)
    partner = x.take(perm, axis=0)
    if ctype == x.dtype:  # the two products summed in place: one new array fewer
        np.multiply(partner, om_c, out=partner)
        mixed: Array = lam_c * x
        mixed += partner
        return mixed
    mixed = lam_c * x.astype(ctype) + om_c * partner.astype(ctype)
    if dtype_kind(_NP, x.dtype) == "integral":
        np.rint(mixed, out=mixed)
    return mixed.astype(x.dtype)


def _weights(lam: Array, ctype: Any, ndim: int) -> tuple[Any, Any]:
    """λ and 1 − λ in the compute dtype, shaped to broadcast over ``ndim``
    axes: scalars of that dtype for one λ (the same roundings as 0-d
    arrays, at less cost)."""
    lam_c = lam.astype(ctype, copy=False)
    if lam_c.ndim:
        lam_c = lam_c.reshape((lam_c.shape[0],) + (1,) * (ndim - 1))
        return lam_c, 1 - lam_c
    lam_c = lam_c[()]
    return lam_c, lam_c.dtype.type(1) - lam_c


@functools.lru_cache(maxsize=16)
def _table(num_classes: int, smoothing: float, dtype: np.dtype[Any]) -> np.ndarray[Any, Any]:
    """The read-only ``C×C`` table whose row ``c`` is the one-hot row of
    class ``c`` (the values of :func:`one_hot_rows`)."""
    table: np.ndarray[Any, Any] = one_hot_rows(np.arange(num_classes), num_classes, smoothing,
                                               dtype)
    table.flags.writeable = False
    return table


def one_hot_rows(y: Array, num_classes: int, smoothing: float, dtype: Any) -> Array:
    """One-hot rows of checked NumPy class ids: one fill and one scatter,
    where the reference compares every id with every class and selects
    twice. The values are the same Python floats rounded to ``dtype``."""
    on, off = one_hot_values(num_classes, smoothing)
    rows = np.full((*y.shape, num_classes), off, dtype=dtype)
    if y.ndim == 1:
        rows[np.arange(y.shape[0]), y] = on
    else:
        np.put_along_axis(rows, y[..., None].astype(np.intp, copy=False), on, axis=-1)
    return rows


def scatter_ids(y: Array, lam: Array, perm: Array, num_classes: int, smoothing: float,
            dtype: Any) -> Array:
    """``blend(one_hot(y, C, smoothing=s), (lam, perm))`` without the one-hot.

    A mixed row holds one of four values: ``λ·off + (1 − λ)·off`` at other
    classes, ``λ·on + (1 − λ)·off`` at its own, ``λ·off + (1 − λ)·on`` at its
    partner's, ``λ·on + (1 − λ)·on`` where both are the same. They are
    computed per row with the reference's roundings, so the result is equal
    to the reference: one fill of the B×C result and two scatters of B values
    instead of several passes over B×C arrays. NumPy arrays (a CPU tensor's
    views).
    """
    batch = y.shape[0]
    on_f, off_f = one_hot_values(num_classes, smoothing)
    lam_d = np.broadcast_to(np.asarray(lam).astype(dtype), (batch,))
    on = np.asarray(on_f, dtype=dtype)
    off = np.asarray(off_f, dtype=dtype)
    om_d = 1 - lam_d
    partner = y[perm]
    same = partner == y
    own = np.where(same, lam_d * on + om_d * on, lam_d * on + om_d * off)
    theirs = np.where(same, own, lam_d * off + om_d * on)
    out = np.empty((batch, num_classes), dtype=dtype)
    out[...] = (lam_d * off + om_d * off)[:, None]
    rows = np.arange(batch)
    out[rows, partner] = theirs
    out[rows, y] = own
    return out


_NP = namespace_of(np)


#: The one NumPy backend (array API namespace of NumPy: array_api_compat's).
NUMPY = Numpy(_NP)
