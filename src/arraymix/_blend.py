"""Pure mixing arithmetic: :func:`blend` (MixUp) and :func:`paste` (CutMix).

Written only against the array API standard, through the array's own
namespace: no randomness, no host reads of array values, no shapes that
depend on values, every new array on the input's device, so both run under
``jax.jit``, ``torch.compile(fullgraph=True)`` and on lazy or remote arrays.
The one exception is checking hand-made params, which reads their values
only where they are host arrays (NumPy, CPU torch outside a trace).
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import Any

from . import _fast
from ._compat import (
    Array,
    api_revision,
    default_index,
    device,
    dtype_bits,
    isdtype,
    namespace,
)
from ._params import CutMixParams, MixParams
from ._validate import (
    check_batch,
    check_box_values,
    check_groups,
    check_lam_values,
    check_out,
    check_param,
    check_perm_values,
    is_bool,
)

__all__ = ["DEFAULT_AXES", "apply_blend", "apply_paste", "axes_tuple", "blend", "box_mask",
           "check_axes", "compute_dtype", "partners", "paste"]


def compute_dtype(xp: Any, dtype: Any) -> Any:
    """The dtype arithmetic on ``dtype`` data happens in.

    Floating data of 16 bits and more keeps its own dtype (float16 is not
    promoted). Narrower floats (float8, float4: a few bits of mantissa, and
    no arithmetic at all in torch) are blended in float32 and rounded once.
    Integers are blended in float32 if float32 holds them exactly (8 and 16
    bits: uint8 images), else in float64.
    """
    bits = dtype_bits(xp, dtype)
    if isdtype(xp, dtype, "real floating"):
        return dtype if bits >= 16 else xp.float32
    return xp.float32 if bits <= 16 else xp.float64


def _check_lam_perm(x: Array, params: Any, batch: int) -> tuple[Array, Array]:
    if not (hasattr(params, "lam") and hasattr(params, "perm")):
        raise TypeError(
            "params must be MixParams or CutMixParams (from sample_mixup or "
            f"sample_cutmix), got {type(params).__name__}"
        )
    lam = check_param(x, params.lam, "params.lam", ((), (batch,)), "real floating")
    perm = check_param(x, params.perm, "params.perm", ((batch,),), "integral")
    return lam, _as_index(perm)


def _as_index(a: Array) -> Array:
    """Hand-made partners or box bounds of any integer dtype in the default
    index dtype: torch indexes with int32 and int64 only, some libraries'
    ``take`` with int64 only, and the positions a box is compared with are
    made in the bounds' dtype (uint8 ones would wrap past 255)."""
    xp = namespace(a)
    index = default_index(xp, device(a))
    return a if a.dtype == index else xp.astype(a, index)


def _per_sample(xp: Any, a: Array, ndim: int) -> Array:
    """Reshape a ``(B,)`` parameter to broadcast against a ``(B, ...)`` array."""
    return xp.reshape(a, (a.shape[0],) + (1,) * (ndim - 1))


def blend(x: Array, params: MixParams | CutMixParams, /, *, out: Array | None = None,
          groups: int | None = None) -> Array:
    """Mix each sample with its partner: ``λ·x + (1 − λ)·x[perm]``.

    Parameters
    ----------
    x : array
        Batch with samples on axis 0, real floating or integer. Integer data
        (uint8 images) is blended in float32 (float64 from 32 bits) and
        rounded back.
    params : MixParams or CutMixParams
        From :func:`sample_mixup` (or :func:`sample_cutmix`: its ``lam`` and
        ``perm`` mix the labels of a CutMix), in ``x``'s library and on its
        device. ``lam`` of shape ``(B,)`` is broadcast over the trailing axes.
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
    return apply_blend(x, params, out, groups, trusted=False)


def apply_blend(x: Array, params: MixParams | CutMixParams, out: Array | None,
                groups: int | None, trusted: bool) -> Array:
    """:func:`blend`. ``trusted``: the caller (mixup, cutmix, the Mixer) has
    checked ``x``, ``out`` and ``groups`` and drew ``params`` for ``x``, so
    nothing is checked twice (on small batches the checks are a tenth of a
    call)."""
    if trusted:
        xp, batch = namespace(x), x.shape[0]
        lam, perm = params.lam, params.perm
    else:
        xp, batch = check_batch(x)
        lam, perm = _check_lam_perm(x, params, batch)
        if out is not None:
            check_out(x, out)
    groups = check_groups(groups, batch)
    if not trusted:
        check_perm_values(perm, batch, groups)
        check_lam_values(lam)
    result = _dispatch_blend(xp, x, lam, perm, out, groups)
    # ``out`` itself, as documented: a tensor subclass's in-place op may hand
    # back a new plain tensor viewing the same memory
    return result if out is None else out


def _dispatch_blend(xp: Any, x: Array, lam: Array, perm: Array, out: Array | None,
                    groups: int) -> Array:
    """The blend by the fastest path that applies to these arrays."""
    ctype = compute_dtype(xp, x.dtype)
    if _fast.usable(x, out, lam, perm):
        return _fast.blend(x, lam, perm, out, ctype)
    if _fast.blocks_usable(x, out, lam, perm):
        return _fast.blend_blocks(x, lam, perm, out, ctype)
    if _fast.torch_blocks_usable(x, out, lam, perm):
        return _fast.torch_blend_blocks(x, lam, perm, ctype)
    if _fast.fused_usable(x, out, lam):
        return _fast.fused_blend(x, lam, perm, out, groups)
    if _fast.lerp_usable(x, ctype):
        if groups == 1 and _fast.gather_lerp_usable(x, out, lam):
            return _fast.gather_lerp(x, lam, perm, out)
        return _fast.lerp(x, lam, partners(xp, x, perm, groups), out)
    if _fast.widen_usable(x):
        return _into(xp, _widened(xp, x, lam, partners(xp, x, perm, groups)), out)
    return _into(xp, _blend(xp, x, lam, perm, ctype, groups), out)


def partners(xp: Any, x: Array, perm: Array, groups: int = 1) -> Array:
    """``x[perm]``; with groups, gathered inside each group.

    Within groups the gather has the groups as a batch axis
    (``take_along_axis`` on a ``(groups, n, ...)`` view), which a compiler
    can split along a sharded batch without moving data between devices.
    Libraries without ``take_along_axis`` (Dask), or whose
    ``take_along_axis`` does not broadcast the index over the sample's axes as
    the standard asks (ndonnx: the result keeps the index's shape), take each
    group's slice on its own, which keeps chunk-aligned groups inside their
    chunks.
    """
    if groups == 1 or x.shape[0] == 0:
        return xp.take(x, perm, axis=0)
    n = x.shape[0] // groups
    local = xp.reshape(perm % n, (groups, n))
    if hasattr(xp, "take_along_axis") and api_revision(xp) >= "2024.12":  # new in 2024.12
        grouped = xp.reshape(x, (groups, n, *x.shape[1:]))
        index = xp.reshape(local, (groups, n) + (1,) * (x.ndim - 1))
        taken = xp.take_along_axis(grouped, index, axis=1)
        if tuple(taken.shape) == tuple(grouped.shape):
            return xp.reshape(taken, x.shape)
    return xp.concat([xp.take(x[g * n:(g + 1) * n, ...], local[g, ...], axis=0)
                      for g in range(groups)], axis=0)


def _blend(xp: Any, x: Array, lam: Array, perm: Array, ctype: Any, groups: int = 1) -> Array:
    """The reference: whole-batch array API operations."""
    lam = xp.astype(lam, ctype)
    if lam.ndim:
        lam = _per_sample(xp, lam, x.ndim)
    partner = partners(xp, x, perm, groups)
    if ctype == x.dtype:
        return lam * x + (1 - lam) * partner
    mixed = lam * xp.astype(x, ctype) + (1 - lam) * xp.astype(partner, ctype)
    if isdtype(xp, x.dtype, "integral"):
        mixed = xp.round(mixed)
    return xp.astype(mixed, x.dtype)


def _widened(xp: Any, x: Array, lam: Array, partner: Array) -> Array:
    """The reference for half-precision data computed in float32: λ and 1 − λ
    rounded to ``x``'s dtype as :func:`_blend` rounds them, the products and
    the sum in float32, one rounding back (within an ulp of :func:`_blend`)."""
    lam_c = xp.astype(lam, x.dtype)
    lam_w, om_w = xp.astype(lam_c, xp.float32), xp.astype(1 - lam_c, xp.float32)
    if lam.ndim:
        lam_w, om_w = _per_sample(xp, lam_w, x.ndim), _per_sample(xp, om_w, x.ndim)
    mixed = lam_w * xp.astype(x, xp.float32) + om_w * xp.astype(partner, xp.float32)
    return xp.astype(mixed, x.dtype)


def _into(xp: Any, result: Array, out: Array | None) -> Array:
    if out is None:
        return result
    out[...] = result
    return out


def _is_index(a: Any) -> bool:
    """An integer (Python's, NumPy's: anything ``operator.index`` takes), not a bool."""
    if is_bool(a):
        return False
    try:
        operator.index(a)
    except TypeError:
        return False
    return True


class _DefaultAxes(tuple[int, ...]):
    """``(-2, -1)`` as the default: told apart from the same axes passed on
    purpose (by type, so a pickled Mixer keeps it), because only the default
    refuses a batch that looks channels-last."""

    __slots__ = ()


#: The default cut axes of :func:`paste`, :func:`~arraymix.cutmix` and the
#: Mixer: the last two, NCHW images.
DEFAULT_AXES: tuple[int, ...] = _DefaultAxes((-2, -1))


def _looks_channels_last(shape: Sequence[Any]) -> bool:
    """``(B, H, W, C)``-like: a last axis of at most 4 (grey, RGB, RGBA)
    after larger ones. Shapes a compiler keeps symbolic are not judged."""
    if len(shape) < 4 or not all(isinstance(n, int) for n in shape[1:]):
        return False
    return bool(shape[-1] <= 4 < min(shape[1], shape[-2]))


def axes_tuple(axes: Any, name: str) -> tuple[int, ...]:
    """One to three axes as a tuple of Python ints (an int alone, NumPy ints
    taken), before ``x``'s ndim is known. Only the items of a sequence are
    tried as ints: torch.compile's tracer (torch 2.11) failed on the
    TypeError ``operator.index`` raises for a tuple."""
    many = axes if isinstance(axes, Sequence) else (axes,)  # an int alone
    if not all(_is_index(a) for a in many):
        raise TypeError(f"{name} must be a tuple of ints, got {axes!r}")
    out = tuple(operator.index(a) for a in many)  # NumPy ints as Python ints
    if not 1 <= len(out) <= 3:
        raise ValueError(f"{name} must name one to three axes, got {out}")
    return out


def check_axes(axes: Any, ndim: int, name: str = "axes", *,
               shape: Sequence[int] | None = None, drawn: bool = True) -> tuple[int, ...]:
    """Cut axes: one to three distinct axes of ``x``, never the batch axis;
    given ``x``'s ``shape``, none of length 0 where a box is to be ``drawn``.
    The default axes refuse a ``shape`` that looks channels-last: they would
    cut the width and the channels (torchvision's CutMix does so silently)."""
    if isinstance(axes, _DefaultAxes) and shape is not None and _looks_channels_last(shape):
        layout, spatial = ("NHWC", (1, 2)) if len(shape) == 4 else ("NDHWC", (1, 2, 3))
        raise ValueError(
            f"x of shape {tuple(shape)} looks channels-last ({layout}): the default "
            f"{name}=(-2, -1) would cut its last two axes, the width and the channel "
            f"axis (length {shape[-1]}). Pass {name}={spatial} for channels-last data, or "
            f"{name}=(-2, -1) to cut the last two axes of this layout on purpose"
        )
    axes = axes_tuple(axes, name)
    out = []
    for a in axes:
        if not -ndim <= a < ndim:
            raise ValueError(f"{name} has axis {a}, out of range for an array of ndim {ndim}")
        a %= ndim
        if a == 0:
            raise ValueError(
                f"{name} must not include the batch axis 0, got {tuple(axes)} for an array "
                f"of ndim {ndim}"
            )
        out.append(a)
    if len(set(out)) != len(out):
        raise ValueError(f"{name} must not repeat an axis, got {tuple(axes)}")
    if drawn and shape is not None and any(shape[a] == 0 for a in out):
        raise ValueError(
            f"x must have length >= 1 on each cut axis to draw a box in; {name}="
            f"{tuple(axes)} have lengths {tuple(shape[a] for a in out)}"
        )
    return tuple(out)


def paste(x: Array, params: CutMixParams, /, *, axes: Sequence[int] = DEFAULT_AXES,
          out: Array | None = None, groups: int | None = None) -> Array:
    """Paste each sample's box from its partner: CutMix on the ``axes`` of ``x``.

    Inside the box ``lower[j] <= index_j < upper[j]`` (on the ``j``-th axis of
    ``axes``) the values come from ``x[perm]``; everywhere else from ``x``.

    Parameters
    ----------
    x : array
        Batch with samples on axis 0, any real or bool dtype: values are
        copied, never computed, so uint8 images and integer or boolean masks
        stay exact.
    params : CutMixParams
        From :func:`sample_cutmix`, in ``x``'s library and on its device.
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
    return apply_paste(x, params, axes, out, groups, trusted=False)


def apply_paste(x: Array, params: CutMixParams, axes: Sequence[int], out: Array | None,
                groups: int | None, trusted: bool) -> Array:
    """:func:`paste`. ``trusted``: as for :func:`apply_blend`, and ``axes`` is
    the caller's checked tuple of non-negative axes."""
    if trusted:
        xp, batch = namespace(x), x.shape[0]
        axes = tuple(axes)
        perm, lower, upper = params.perm, params.lower, params.upper
    else:
        xp, batch = check_batch(x, bool_ok=True)
        axes = check_axes(axes, x.ndim, shape=x.shape, drawn=False)  # boxes may be empty
        _, perm = _check_lam_perm(x, params, batch)
        lower, upper = _check_box(x, params, batch, len(axes))
        if out is not None:
            check_out(x, out)
    groups = check_groups(groups, batch)
    if not trusted:
        check_perm_values(perm, batch, groups)
        check_box_values(lower, upper, [x.shape[a] for a in axes])
    result = _dispatch_paste(xp, x, perm, lower, upper, axes, out, groups)
    return result if out is None else out  # out itself, as in apply_blend


def _dispatch_paste(xp: Any, x: Array, perm: Array, lower: Array, upper: Array,
                    axes: tuple[int, ...], out: Array | None, groups: int) -> Array:
    """The paste by the fastest path that applies to these arrays."""
    if _fast.paste_usable(x, out, perm, lower, upper):
        return _fast.paste(x, perm, lower, upper, axes, out)
    if _fast.box_usable(x, out, perm, lower, upper):
        return _fast.paste_box(x, perm, lower, upper, axes, out)
    if _fast.masked_usable(x, out, perm, lower, upper):
        return _fast.paste_masked(x, perm, lower, upper, axes, out, box_mask)
    if _fast.fused_usable(x, out, None):
        return _fast.fused_paste(x, perm, lower, upper, axes, out, groups)
    mask = box_mask(xp, x, lower, upper, axes)
    return _into(xp, xp.where(mask, partners(xp, x, perm, groups), x), out)


def box_mask(xp: Any, x: Array, lower: Array, upper: Array, axes: tuple[int, ...]) -> Array:
    """Boolean mask, broadcastable to ``x``: True inside each sample's box."""
    mask = None
    for j, ax in enumerate(axes):
        shape = [1] * x.ndim
        shape[ax] = x.shape[ax]
        pos = xp.arange(x.shape[ax], dtype=lower.dtype, device=device(x))
        pos = xp.reshape(pos, tuple(shape))
        lo, hi = lower[..., j], upper[..., j]
        if lo.ndim:
            lo, hi = _per_sample(xp, lo, x.ndim), _per_sample(xp, hi, x.ndim)
        inside = (pos >= lo) & (pos < hi)
        mask = inside if mask is None else mask & inside
    return mask


def _check_box(x: Array, params: Any, batch: int, k: int) -> tuple[Array, Array]:
    if not (hasattr(params, "lower") and hasattr(params, "upper")):
        raise TypeError(
            f"params must be CutMixParams (from sample_cutmix), got {type(params).__name__}"
        )
    shapes = ((k,), (batch, k))
    lower = check_param(x, params.lower, "params.lower", shapes, "integral")
    upper = check_param(x, params.upper, "params.upper", shapes, "integral")
    if lower.shape != upper.shape:
        raise ValueError(
            f"params.lower and params.upper must have the same shape, ({k},) for one box "
            f"or ({batch}, {k}) for a box per sample; got {tuple(lower.shape)} and "
            f"{tuple(upper.shape)}"
        )
    return _as_index(lower), _as_index(upper)
