"""Applying drawn parameters: :func:`blend` (MixUp) and :func:`paste` (CutMix).

Each function checks its arguments once, then hands them to the backend
of ``x`` (:mod:`arraymix._backends`), which mixes them without a host read
of array values, so both run under ``jax.jit`` and
``torch.compile(fullgraph=True)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ._backends.reference import exact_at_one, into
from ._compat import Array, isdtype
from ._params import (
    CutMixParams,
    MaskParams,
    MixerParams,
    MixParams,
    MosaicParams,
    ResizeMixParams,
)
from ._switch import Part, four_sources, paste_parts
from ._validate import (
    DEFAULT_AXES,
    check_axes,
    check_batch,
    check_box_params,
    check_box_values,
    check_choice,
    check_grid,
    check_groups,
    check_lam_values,
    check_mask_params,
    check_mix_params,
    check_mosaic_params,
    check_out,
    check_param,
    check_perm_values,
    check_source_values,
)

#: Every kind of params :func:`paste` takes: a region of each sample
#: replaced by its partners' values.
Pasted = CutMixParams | MaskParams | MosaicParams | ResizeMixParams

#: How :func:`paste` resizes a ResizeMix partner into its box.
INTERPOLATIONS = ("bilinear", "nearest")

__all__ = ["blend", "mix", "paste"]


def blend(x: Array, params: MixParams | Pasted, /, *, out: Array | None = None,
          groups: int | None = None) -> Array:
    """Mix each sample with its partner: ``λ·x + (1 − λ)·x[perm]``.

    Parameters
    ----------
    x : array
        Batch with samples on axis 0, real floating or integer. Integer data
        (uint8 images) is blended in float32 (float64 from 32 bits) and
        rounded back.
    params : MixParams, CutMixParams, MaskParams, MosaicParams or ResizeMixParams
        From :func:`sample_mixup` (or any other ``sample_*``: their ``lam``
        and partners mix the labels of that mix), in ``x``'s library and on
        its device. ``lam`` of shape ``(B,)`` is broadcast over the trailing
        axes. With :class:`MosaicParams` each sample is
        ``Σ_q lam[..., q]·x[sources[:, q]]`` over its four sources.
    out : array, optional
        Where to write the result: an array of ``x``'s shape, dtype, library
        and device, which may be ``x`` itself (in place: safe although
        partners overlap) but must not overlap it otherwise (a ValueError;
        inside ``torch.compile``, which cannot trace storage addresses, this
        is not checked). JAX arrays are immutable: there, donate ``x`` with
        ``jax.jit(..., donate_argnums=...)`` instead.
    groups : int, optional
        The ``groups`` the params were drawn with: each partner is then read
        within its group, so a batch sharded over ``groups`` devices (or
        chunks) is mixed without reading another device's data.

    Returns
    -------
    array
        ``out`` if given, else a new array of ``x``'s shape, dtype, library
        and device. ``x`` is modified only if it is passed as ``out``.

    Notes
    -----
    Pure array API: no randomness and no host reads, so it runs inside
    ``jax.jit``, ``jax.vmap`` and ``torch.compile(fullgraph=True)``, and
    gradients flow through it (manifold mixup on hidden activations). λ is
    cast to ``x``'s dtype before it touches the batch, so a float16 batch is
    never promoted; float8 batches are blended in float32 and rounded once,
    integer ones in float32 or float64 and rounded to the nearest. Partner
    indices out of ``[0, B)`` or outside their group, and λ outside
    ``[0, 1]``, raise a ValueError where they are host arrays (NumPy, CPU
    torch); on other devices checking them would cost a sync.

    Examples
    --------
    >>> import numpy as np
    >>> import arraymix
    >>> x = np.asarray([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]])
    >>> p = arraymix.MixParams(lam=np.asarray(0.75), perm=np.asarray([2, 0, 1]))
    >>> arraymix.blend(x, p)
    array([[0.5 , 0.5 ],
           [0.75, 0.75],
           [1.75, 1.75]])
    """
    backend, batch = check_batch(x)
    if isinstance(params, MosaicParams):
        weights, sources, _ = check_mosaic_params(x, params, batch)
        if out is not None:
            check_out(x, out)
        count = check_groups(groups, batch)
        check_source_values(sources, batch, count)
        check_lam_values(weights)
        return backend.blend_sources(x, weights, sources, out, count)
    lam, perm = check_mix_params(x, params, batch)
    parts = _checked_parts(x, params, batch, None, ()) if type(params) is not MixParams else ()
    if out is not None:
        check_out(x, out)
    count = check_groups(groups, batch)
    check_perm_values(perm, batch, count)
    check_lam_values(lam)
    four = four_sources(backend.xp, lam, perm, parts) if parts else None
    if four is not None:  # a Mixer's draw with Mosaic samples: over four sources
        return backend.blend_sources(x, four.lam, four.sources, out, count)
    return backend.blend(x, lam, perm, out, count)


def _checked_parts(x: Array, params: Any, batch: int, cut_axes: tuple[int, ...] | None,
                   axes: Sequence[int]) -> tuple[Part, ...]:
    """The family's parts of a Mixer's draw, checked against ``x`` (for
    :func:`blend`, ``cut_axes`` None: only what mixes labels)."""
    parts = params.parts if isinstance(params, MixerParams) else ()
    if not isinstance(parts, tuple) or not all(isinstance(p, Part) for p in parts):
        raise TypeError("params.parts must be a tuple of MaskParams, MosaicParams and "
                        "ResizeMixParams, as Mixer.draw makes it")
    if sum(isinstance(p, MosaicParams) for p in parts) > 1:
        raise ValueError("params.parts may hold one MosaicParams at most (one per method, "
                         "as Mixer.draw makes it)")
    for p in parts:
        if isinstance(p, MosaicParams):
            _, sources, centre = check_mosaic_params(x, p, batch)
            check_source_values(sources, batch, 1)
            check_lam_values(p.lam, "params.parts' Mosaic lam")
            if cut_axes is not None:
                if len(cut_axes) != 2:
                    raise ValueError(
                        f"a Mosaic needs two cut axes (height, width), got axes={tuple(axes)}"
                    )
                lengths = [x.shape[a] for a in cut_axes]
                check_grid(p, lengths, "x", axes)
                check_box_values(centre, centre, lengths)
        elif cut_axes is None:
            continue
        elif isinstance(p, MaskParams):
            _, perm, _ = check_mask_params(x, p, batch, len(cut_axes))
            check_perm_values(perm, batch, 1)
        else:
            _, perm = check_mix_params(x, p, batch)
            lower, upper = check_box_params(x, p, batch, len(cut_axes))
            lengths = [x.shape[a] for a in cut_axes]
            check_grid(p, lengths, "x", axes)
            check_perm_values(perm, batch, 1)
            check_box_values(lower, upper, lengths)
    return parts



def paste(x: Array, params: Pasted | MixerParams, /, *, axes: Sequence[int] = DEFAULT_AXES,
          out: Array | None = None, groups: int | None = None,
          interpolation: str | None = None) -> Array:
    """Paste each sample's region from its partners: CutMix, FMix, patch
    grids, Mosaic and ResizeMix on the ``axes`` of ``x``.

    With :class:`CutMixParams`, inside the box ``lower[j] <= index_j <
    upper[j]`` (on the ``j``-th axis of ``axes``) the values come from
    ``x[perm]``; everywhere else from ``x``. With :class:`MaskParams` they
    come from ``x[perm]`` where the mask is True; with
    :class:`MosaicParams` each quadrant comes from its source; with
    :class:`ResizeMixParams` the box holds the whole partner, resized.

    Parameters
    ----------
    x : array
        Batch with samples on axis 0, any real or bool dtype: values are
        copied, never computed, so uint8 images and integer or boolean masks
        stay exact.
    params : CutMixParams, MaskParams, MosaicParams, ResizeMixParams or MixerParams
        From :func:`sample_cutmix`, :func:`sample_fmix`,
        :func:`sample_patchmix`, :func:`sample_mosaic` or
        :func:`sample_resizemix`, in ``x``'s library and on its device; or
        a :class:`Mixer`'s draw (:meth:`Mixer.draw`), whose MixUp samples
        keep their own values (a mask cannot be blended) and whose others
        are pasted by their own method.
    axes : sequence of int, default (-2, -1)
        The cut axes, as many as the box has: ``(-2, -1)`` for NCHW images,
        ``(1, 2)`` for NHWC, ``(-1,)`` for audio, ``(-3, -2, -1)`` for volumes.
        The same params with each array's own axes keep an image batch and its
        dense targets (segmentation masks, depth) aligned. Left at the
        default, a batch that looks channels-last (``(B, H, W, C)``, ``C <= 4``
        after larger axes) raises a ValueError rather than being cut across
        its channels; ``axes=(-2, -1)`` passed explicitly cuts it anyway.
    out : array, optional
        Where to write the result, as in :func:`blend`; may be ``x`` itself,
        and then only the boxes change.
    groups : int, optional
        The ``groups`` the params were drawn with, as in :func:`blend`.
    interpolation : {"bilinear", "nearest"}, optional
        ResizeMix (and a Mixer's draw) only: how the partner is resized into the box. Default:
        bilinear for floating data (computed in float32 or wider, as
        :func:`blend`), nearest for integer and boolean data (class masks
        keep their ids). Positions sit at pixel centres, as
        ``align_corners=False`` resizes.

    Returns
    -------
    array
        ``out`` if given, else a new array of ``x``'s shape, dtype, library
        and device. ``x`` is modified only if it is passed as ``out``.

    Notes
    -----
    The box is a mask of broadcast comparisons against ``arange``: no slicing
    by array values, so shapes never depend on the draw and the function
    runs under ``jax.jit`` and ``torch.compile(fullgraph=True)``. Where the
    params are host arrays (NumPy, CPU torch), partners out of ``[0, B)`` or
    outside their group and boxes outside ``0 <= lower <= upper <= length``
    raise a ValueError.

    Examples
    --------
    >>> import numpy as np
    >>> import arraymix
    >>> x = np.stack([np.zeros((4, 4), dtype=np.uint8), np.ones((4, 4), dtype=np.uint8)])
    >>> p = arraymix.CutMixParams(lam=np.asarray(0.75), perm=np.asarray([1, 0]),
    ...                           lower=np.asarray([1, 1]), upper=np.asarray([3, 3]))
    >>> arraymix.paste(x, p)[0]
    array([[0, 0, 0, 0],
           [0, 1, 1, 0],
           [0, 1, 1, 0],
           [0, 0, 0, 0]], dtype=uint8)
    """
    backend, batch = check_batch(x, bool_ok=True)
    cut_axes = check_axes(axes, x.ndim, shape=x.shape, drawn=False)  # boxes may be empty
    resize = isinstance(params, (ResizeMixParams, MixerParams))
    if interpolation is not None and not resize:
        raise ValueError(
            "interpolation applies to ResizeMixParams only (a partner resized into a box), "
            f"got it with {type(params).__name__}"
        )
    nearest = False
    if resize:
        nearest = _nearest(backend.xp, x, interpolation)
    if isinstance(params, MixerParams):
        return _paste_draw(backend, x, params, batch, cut_axes, axes, nearest, out, groups)
    if isinstance(params, MaskParams):
        return _paste_mask(backend, x, params, batch, cut_axes, out, groups)
    if isinstance(params, MosaicParams):
        return _paste_mosaic(backend, x, params, batch, cut_axes, axes, out, groups)
    _, perm = check_mix_params(x, params, batch)
    lower, upper = check_box_params(x, params, batch, len(cut_axes))
    lengths = [x.shape[a] for a in cut_axes]
    check_grid(params, lengths, "x", axes)
    if out is not None:
        check_out(x, out)
    count = check_groups(groups, batch)
    check_perm_values(perm, batch, count)
    check_box_values(lower, upper, lengths)
    if resize:
        return backend.resize_paste(x, perm, lower, upper, cut_axes, nearest, out, count)
    return backend.paste(x, perm, lower, upper, cut_axes, out, count)


def _paste_draw(backend: Any, x: Array, params: MixerParams, batch: int,
                cut_axes: tuple[int, ...], axes: Sequence[int], nearest: bool,
                out: Array | None, groups: int | None) -> Array:
    """:func:`paste` with a Mixer's draw: the CutMix boxes and the family's
    parts (MixUp samples keep their own values: nothing is blended)."""
    _, perm = check_mix_params(x, params, batch)
    lower, upper = check_box_params(x, params, batch, len(cut_axes))
    lengths = [x.shape[a] for a in cut_axes]
    check_grid(params, lengths, "x", axes)
    parts = _checked_parts(x, params, batch, cut_axes, axes)
    if out is not None:
        check_out(x, out)
    count = check_groups(groups, batch)
    check_perm_values(perm, batch, count)
    check_box_values(lower, upper, lengths)
    if not parts:
        return backend.paste(x, perm, lower, upper, cut_axes, out, count)
    pasted = backend.paste(x, perm, lower, upper, cut_axes, None, count)
    return into(backend.xp, paste_parts(backend, x, pasted, parts, cut_axes, nearest, count),
                out)


def _nearest(xp: Any, x: Array, interpolation: Any) -> bool:
    """Whether a ResizeMix partner is resized by nearest neighbour."""
    if interpolation is None:
        return not isdtype(xp, x.dtype, "real floating")
    check_choice(interpolation, "interpolation", INTERPOLATIONS)
    if interpolation == "bilinear" and isdtype(xp, x.dtype, "bool"):
        raise ValueError(
            "interpolation='bilinear' cannot resize a bool array (a mask): use 'nearest'"
        )
    return bool(interpolation == "nearest")


def _paste_mask(backend: Any, x: Array, params: MaskParams, batch: int,
                cut_axes: tuple[int, ...], out: Array | None, groups: int | None) -> Array:
    """:func:`paste` with MaskParams, checked."""
    lam, perm, mask = check_mask_params(x, params, batch, len(cut_axes))
    if out is not None:
        check_out(x, out)
    count = check_groups(groups, batch)
    check_perm_values(perm, batch, count)
    check_lam_values(lam)
    return backend.paste_mask(x, perm, mask, cut_axes, out, count)


def _paste_mosaic(backend: Any, x: Array, params: MosaicParams, batch: int,
                  cut_axes: tuple[int, ...], axes: Sequence[int], out: Array | None,
                  groups: int | None) -> Array:
    """:func:`paste` with MosaicParams, checked."""
    if len(cut_axes) != 2:
        raise ValueError(
            f"a Mosaic needs two cut axes (height, width), got axes={tuple(axes)}"
        )
    weights, sources, centre = check_mosaic_params(x, params, batch)
    lengths = [x.shape[a] for a in cut_axes]
    check_grid(params, lengths, "x", axes)
    if out is not None:
        check_out(x, out)
    count = check_groups(groups, batch)
    check_source_values(sources, batch, count)
    check_lam_values(weights)
    check_box_values(centre, centre, lengths)
    return backend.mosaic(x, sources, centre, cut_axes, out, count)



def mix(x: Array, params: MixParams | Pasted | MixerParams, /, *,
        axes: Sequence[int] = DEFAULT_AXES, out: Array | None = None,
        groups: int | None = None) -> Array:
    """Mix a batch with any params: :func:`blend` for MixUp params,
    :func:`paste` for CutMix params, and for a :class:`Mixer`'s draw
    (:class:`MixerParams`) each sample by its own method, as the Mixer does.

    Parameters
    ----------
    x : array
        Batch with samples on axis 0, real floating or integer.
    params : MixParams, CutMixParams or MixerParams
        In ``x``'s library and on its device.
    axes : sequence of int, default (-2, -1)
        The cut axes, as in :func:`paste` (unused for MixUp params, and for a
        draw of a Mixer that cannot cut).
    out, groups
        As in :func:`blend`.

    Returns
    -------
    array
        ``out`` if given, else a new array of ``x``'s shape, dtype, library
        and device.

    Examples
    --------
    >>> import numpy as np
    >>> import arraymix
    >>> x = np.random.default_rng(0).random((4, 3, 8, 8), dtype=np.float32)
    >>> mixer, twin = arraymix.Mixer(lam_mode="sample", seed=1), arraymix.Mixer(
    ...     lam_mode="sample", seed=1)
    >>> bool((arraymix.mix(x, twin.draw(4, (8, 8))) == mixer(x)[0]).all())
    True
    """
    if isinstance(params, (CutMixParams, MaskParams, MosaicParams, ResizeMixParams)):
        return paste(x, params, axes=axes, out=out, groups=groups)
    if not isinstance(params, MixerParams):
        return blend(x, params, out=out, groups=groups)
    backend, batch = check_batch(x)
    _, perm = check_mix_params(x, params, batch)
    weight = check_param(x, params.blend_lam, "params.blend_lam", ((batch,),), "real floating")
    k = params.lower.shape[-1] if getattr(params.lower, "ndim", 0) == 2 else -1
    cut_axes: tuple[int, ...] = ()
    parts: tuple[Part, ...] = ()
    if k != 0:
        cut_axes = check_axes(axes, x.ndim, shape=x.shape, drawn=False)
        lower, upper = check_box_params(x, params, batch, len(cut_axes))
        lengths = [x.shape[a] for a in cut_axes]
        check_grid(params, lengths, "x", axes)
        check_box_values(lower, upper, lengths)
        parts = _checked_parts(x, params, batch, cut_axes, axes)
    if out is not None:
        check_out(x, out)
    method = check_param(x, params.method, "params.method", ((batch,),), "integral")
    count = check_groups(groups, batch)
    check_perm_values(perm, batch, count)
    check_lam_values(weight, "params.blend_lam")
    xp = backend.xp
    exact = exact_at_one(xp, x.dtype)
    if not cut_axes and exact:
        return backend.blend(x, weight, perm, out, count)
    if exact:
        blended = backend.blend(x, weight, perm, None, count)
    else:  # the samples not blended: copies, not blends with weight 1
        blended = backend.blend_keeping(x, weight, perm, method != 1, count)
    if not cut_axes:
        return into(xp, blended, out)
    nearest = not isdtype(xp, x.dtype, "real floating")
    boxes = CutMixParams(weight, perm, lower, upper)
    mixed = backend.mix_part(x, boxes, blended, cut_axes, nearest, count)
    if parts:
        mixed = paste_parts(backend, x, mixed, parts, cut_axes, nearest, count)
    return into(xp, mixed, out)
