"""A Mixer's choice among methods: the names, their codes in a draw, the
choice itself, and applying the family's parts of a draw
(:attr:`MixerParams.parts`) to batches and labels.

Each part holds one family method's params for the whole batch, with the
samples that did not choose it left as they are (an empty mask or box, or
a Mosaic whose four sources are the sample itself). Which samples a part
changes is read from the part itself, so applying a draw is: MixUp and
CutMix as before, then each part where it changes its samples.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from ._backends import Reference
from ._backends.reference import part_changed
from ._compat import Array, device
from ._labels import Targets, mix_targets
from ._params import MaskParams, MixParams, MosaicParams, ResizeMixParams
from ._validate import check_real

#: The methods a Mixer chooses among, in the order a uniform draw is
#: compared against their cumulative probabilities (CutMix first, so that
#: ``{"mixup": 1 - p, "cutmix": p}`` draws as ``switch_prob=p`` does).
METHODS = ("cutmix", "mixup", "patchmix", "fmix", "mosaic", "resizemix")

#: Each method's code in :attr:`MixerParams.method` (0: left alone).
CODES = {"mixup": 1, "cutmix": 2, "patchmix": 3, "fmix": 4, "mosaic": 5, "resizemix": 6}

#: The methods of the family, which a draw carries as parts.
FAMILY = ("patchmix", "fmix", "mosaic", "resizemix")

Part = MaskParams | MosaicParams | ResizeMixParams


def check_methods(value: Any) -> dict[str, float] | None:
    """None, or a mapping from method names to probabilities summing to 1."""
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise TypeError(
            "methods must be None or a mapping from method name to probability, such as "
            f"{{'mixup': 0.5, 'mosaic': 0.5}}, got {type(value).__name__}"
        )
    if not value:
        raise ValueError(f"methods must name at least one of {', '.join(METHODS)}")
    chosen: dict[str, float] = {}
    for name, p in value.items():
        if name not in CODES:
            raise ValueError(
                f"methods has an unknown method {name!r}; the methods are "
                f"{', '.join(repr(m) for m in METHODS)}"
            )
        chosen[name] = check_real(p, f"methods[{name!r}]", low=0.0, high=1.0)
    total = math.fsum(chosen.values())
    if abs(total - 1.0) > 1e-6:
        raise ValueError(
            f"the probabilities in methods must sum to 1, got {total:g} "
            f"({', '.join(f'{k}: {v:g}' for k, v in chosen.items())})"
        )
    return {name: chosen[name] for name in METHODS if name in chosen}


def cumulative(weights: Mapping[str, float]) -> np.ndarray[Any, Any]:
    """The cumulative probabilities over :data:`METHODS`, for :func:`choose`."""
    return np.cumsum([weights.get(name, 0.0) for name in METHODS])


def choose(weights: Mapping[str, float], u: Any) -> np.ndarray[Any, Any]:
    """The code of the method each uniform draw in ``u`` picks."""
    bounds = cumulative(weights)
    last = max(i for i, name in enumerate(METHODS) if weights.get(name, 0.0) > 0)
    # a method of probability 0 is never picked: side="right" skips its
    # empty interval; the clip catches u above a total rounded below 1
    index = np.minimum(np.searchsorted(bounds, u, side="right"), last)
    codes = np.asarray([CODES[name] for name in METHODS], dtype=np.int8)
    picked: np.ndarray[Any, Any] = codes[index]
    return picked


def paste_parts(backend: Reference, x: Array, result: Array, parts: tuple[Part, ...],
                cut_axes: tuple[int, ...], nearest: bool, groups: int) -> Array:
    """``result`` with each part's samples taken from that part's mix of ``x``."""
    for part in parts:
        result = backend.mix_part(x, part, result, cut_axes, nearest, groups)
    return result


def four_sources(xp: Any, lam: Array, perm: Array, parts: tuple[Part, ...]
                 ) -> MosaicParams | None:
    """A draw's label weights over four sources per sample, where it holds a
    Mosaic part (None where not): ``(λ, 1 − λ, 0, 0)`` of the sample and
    its partner, and a Mosaic's own four where it changes the sample. The
    targets and the loss of such a draw are those of a Mosaic of these."""
    mosaics = [p for p in parts if isinstance(p, MosaicParams)]
    if not mosaics:
        return None
    (part,) = mosaics
    own = xp.arange(perm.shape[0], dtype=perm.dtype, device=device(perm))
    lam = xp.broadcast_to(lam, perm.shape)
    zero = xp.zeros_like(lam)
    weights = xp.stack([lam, 1.0 - lam, zero, zero], axis=1)
    sources = xp.stack([own, perm, own, own], axis=1)
    mine = part_changed(xp, part)[:, None]
    return part._replace(
        lam=xp.where(mine, xp.astype(part.lam, weights.dtype), weights),
        sources=xp.where(mine, xp.astype(part.sources, sources.dtype), sources),
    )


def draw_targets(backend: Reference, t: Targets | None, lam: Array, perm: Array,
                 parts: tuple[Part, ...], groups: int) -> Array | None:
    """The targets of a Mixer's draw: two sources per sample, or four where
    the draw holds a Mosaic."""
    from ._family import mosaic_targets

    four = four_sources(backend.xp, lam, perm, parts)
    if four is not None:
        return mosaic_targets(backend, t, four, groups)
    return mix_targets(backend, t, MixParams(lam, perm), groups)
