"""The JAX backend: the reference, but half-precision blends in float32.

XLA's CPU backend computes float16 and bfloat16 arithmetic a conversion at
a time, several times slower than float32, so half-precision batches are
blended in float32: λ and 1 − λ rounded to the batch's dtype as the
reference rounds them, the products and the sum in float32, one rounding
back (within an ulp of the reference). Everything else is the reference,
which XLA fuses under ``jax.jit``.
"""

from __future__ import annotations

from typing import Any

from .._compat import Array
from .reference import Reference, into, partners, per_sample
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


def widened(xp: Any, x: Array, lam: Array, partner: Array) -> Array:
    """``λ·x + (1 − λ)·partner`` for half-precision ``x``, computed in float32."""
    lam_c = xp.astype(lam, x.dtype)
    lam_w, om_w = xp.astype(lam_c, xp.float32), xp.astype(1 - lam_c, xp.float32)
    if lam.ndim:
        lam_w, om_w = per_sample(xp, lam_w, x.ndim), per_sample(xp, om_w, x.ndim)
    mixed = lam_w * xp.astype(x, xp.float32) + om_w * xp.astype(partner, xp.float32)
    return xp.astype(mixed, x.dtype)
