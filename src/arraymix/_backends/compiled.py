"""Integer blends compiled by torch's own CPU code generation, for the
collate's ``compiled=True``: the user's explicit choice, never taken otherwise.

The reference blend (:func:`.reference.blend_arrays`: the float32 products,
their sum, the rounding and the cast) traced by ``torch.compile`` becomes one
C++ loop under inductor, where a C++ compiler is present: each element read
and written once, where NumPy's ufuncs make six passes over every piece. The
values are the reference's, as for the eager walk; the collate's tests
compare the two bitwise. torch is imported only when this path is asked for.
"""

from __future__ import annotations

import functools
from typing import Any

from .._compat import Array
from .reference import blend_arrays, compute_dtype

__all__ = ["blend_into"]


@functools.cache
def _compiled() -> Any:
    """The compiled blend, made once a process (a forked DataLoader worker
    shares its parent's; the first call of each dtype compiles)."""
    import array_api_compat.torch as xp
    import torch

    def blend(x: Array, lam: Array, perm: Array, out: Array) -> None:
        # the namespace is found here, and the compute dtype made in the
        # trace, not read from their caches, which the trace would guard on
        out[...] = blend_arrays(xp, x, lam, perm, compute_dtype(xp, x.dtype))

    # sizes symbolic: one loop a dtype serves every batch and sample size.
    # Past torch's limit on recompilations of one function (8: one per
    # integer dtype, and sizes 0 and 1 apart) a call runs these same
    # operations eagerly, equal values, instead of failing
    return torch.compile(blend, dynamic=True)


def blend_into(x: Array, lam: Array, perm: Array, out: Array) -> None:
    """``out = λ·x + (1 − λ)·x[perm]`` for a contiguous CPU tensor of
    integers ``x`` (not ``out``, also contiguous), ``λ`` of shape ``(B,)``
    and ``perm`` of the index dtype; the samples are seen flat."""
    batch = x.shape[0]
    _compiled()(x.view(batch, -1), lam, perm, out.view(batch, -1))
