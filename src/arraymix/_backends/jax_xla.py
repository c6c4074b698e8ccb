"""The JAX backend: the reference, but half-precision blends in float32 and
ResizeMix as one gather per corner.

XLA's CPU backend computes float16 and bfloat16 arithmetic a conversion at
a time, several times slower than float32, so half-precision batches are
blended in float32: λ and 1 − λ rounded to the batch's dtype as the
reference rounds them, the products and the sum in float32, one rounding
back (within an ulp of the reference).

ResizeMix's reference resizes one cut axis after the other, each a
``take_along_axis`` over the whole batch that XLA does not fuse with the
next; here every output element reads its 2**k neighbours in the partner
straight from ``x`` (one gather per corner, which XLA fuses with the
arithmetic and the select) and combines them axis by axis in the
reference's order: the reference's values under ``jax.jit``, bit for bit.
It is always jitted (once per shape; inlined in a caller's ``jax.jit``), so
an eager call does not build a batch-sized index per corner; where eager
JAX rounds ``a + w * (b - a)`` twice, XLA's fused loop rounds it once.
Everything else is the reference, which XLA fuses under ``jax.jit``.
"""

from __future__ import annotations

import functools
import itertools
import sys
from typing import Any

from .._compat import Array, default_index, device
from .reference import (
    Reference,
    along,
    box_index,
    box_mask,
    into,
    partners,
    per_sample,
    resize_ctype,
    resized_back,
)
from .tuning import current

__all__ = ["Jax"]

_HALF = ("float16", "bfloat16")


class Jax(Reference):
    """JAX arrays, eager or traced."""

    name = "jax"

    def blend(self, x: Array, lam: Array, perm: Array, out: Array | None,
              groups: int) -> Array:
        if current().force == "reference" or str(x.dtype) not in _HALF:
            return super().blend(x, lam, perm, out, groups)
        xp = self.xp
        return into(xp, widened(xp, x, lam, partners(xp, x, perm, groups)), out)

    def resize_paste(self, x: Array, perm: Array, lower: Array, upper: Array,
                     axes: tuple[int, ...], nearest: bool, out: Array | None,
                     groups: int) -> Array:
        # within groups the reference's grouped gather keeps a sharded batch's
        # partners on their devices; a gather of x by global positions would not
        if current().force == "reference" or groups != 1:
            return super().resize_paste(x, perm, lower, upper, axes, nearest, out, groups)
        axes = tuple(ax % x.ndim for ax in axes)
        resized = _corners_jitted(sys.modules["jax"])(x, perm, lower, upper, axes, nearest)
        return into(self.xp, resized, out)


def widened(xp: Any, x: Array, lam: Array, partner: Array) -> Array:
    """``λ·x + (1 − λ)·partner`` for half-precision ``x``, computed in float32."""
    lam_c = xp.astype(lam, x.dtype)
    lam_w, om_w = xp.astype(lam_c, xp.float32), xp.astype(1 - lam_c, xp.float32)
    if lam.ndim:
        lam_w, om_w = per_sample(xp, lam_w, x.ndim), per_sample(xp, om_w, x.ndim)
    mixed = lam_w * xp.astype(x, xp.float32) + om_w * xp.astype(partner, xp.float32)
    return xp.astype(mixed, x.dtype)


@functools.cache
def _corners_jitted(jax: Any) -> Any:
    """:func:`resized_by_corners` jitted, the axes and the interpolation
    static; inside a caller's ``jax.jit`` it is inlined."""
    def resize(x: Array, perm: Array, lower: Array, upper: Array,
               axes: tuple[int, ...], nearest: bool) -> Array:
        return resized_by_corners(jax.numpy, x, perm, lower, upper, axes, nearest)

    return jax.jit(resize, static_argnums=(4, 5))


def resized_by_corners(xp: Any, x: Array, perm: Array, lower: Array, upper: Array,
                       axes: tuple[int, ...], nearest: bool) -> Array:
    """The reference's ResizeMix (non-negative ``axes``, no groups) with
    every partner element read by integer-array indexing of ``x``: nearest,
    one gather; linear, one per corner of the box's cell, combined along
    the cut axes in their order as the reference's separable passes do."""
    ndim = x.ndim
    ctype = None if nearest else resize_ctype(xp, x.dtype)
    dev = device(x)
    index: list[Array] = [along(xp, perm, 0, ndim)]
    for d in range(1, ndim):
        index.append(along(xp, xp.arange(x.shape[d], device=dev), d, ndim))
    found = [box_index(xp, x.shape[ax], lower[..., j], upper[..., j],
                       default_index(xp, dev), ctype) for j, ax in enumerate(axes)]
    k = len(axes)
    values: dict[tuple[int, ...], Array] = {}
    for corner in [(0,) * k] if nearest else itertools.product((0, 1), repeat=k):
        at = list(index)
        for j, ax in enumerate(axes):
            at[ax] = along(xp, found[j][corner[j]], ax, ndim)  # 0: the near position, 1: the far
        v = x[tuple(at)]
        values[corner] = v if ctype is None or ctype == x.dtype else xp.astype(v, ctype)
    if nearest:
        resized = values[(0,) * k]
    else:
        # the corners that differ in the first remaining axis, joined as its
        # pass joins a near and a far value: near + weight * (far - near)
        for j, ax in enumerate(axes):
            w = along(xp, found[j][2], ax, ndim)  # linear: the weight is there
            values = {rest: values[(0, *rest)] + w * (values[(1, *rest)] - values[(0, *rest)])
                      for rest in itertools.product((0, 1), repeat=k - j - 1)}
        resized = resized_back(xp, values[()], x.dtype, ctype)
    return xp.where(box_mask(xp, x, lower, upper, axes), resized, x)
