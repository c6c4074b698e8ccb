"""The array API reference: every operation in whole-batch array API calls.

The backend of every library without one of its own (array-api-strict,
Dask, CuPy, ndonnx, libraries arraymix has never seen), the base class of
the others, and what every other path is tested equal to. It imports no
framework, reads no array value on the host, makes no shape that depends
on values, and creates every array on the input's device, so it runs under
``jax.jit``, ``torch.compile(fullgraph=True)`` and on lazy or remote arrays.
Arguments arrive checked (:mod:`arraymix._validate`): nothing here checks.
"""

from __future__ import annotations

from typing import Any

from .._compat import Array, api_revision, default_index, device, dtype_bits, isdtype
from .._params import CutMixParams, MaskParams, MosaicParams, ResizeMixParams

__all__ = ["Reference", "along", "blend_arrays", "box_index", "box_mask", "compute_dtype",
           "ctype_of", "exact_at_one", "grid_mask", "into", "nearest_index", "one_hot_values",
           "partners", "per_sample", "resize_ctype", "resized_back", "take_per_sample"]


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


def exact_at_one(xp: Any, dtype: Any) -> bool:
    """Whether a blend with weight 1 gives ``dtype`` data back exactly, whatever
    the partner: integers of up to 32 bits (their compute dtype holds them,
    and a partner is finite). Floats are not (0·inf is NaN), nor 64-bit
    integers (float64 rounds them)."""
    return isdtype(xp, dtype, "integral") and dtype_bits(xp, dtype) <= 32


_CTYPES: dict[tuple[int, Any], Any] = {}


def ctype_of(xp: Any, dtype: Any) -> Any:
    """:func:`compute_dtype`, remembered per library and dtype."""
    key = (id(xp), dtype)
    ctype = _CTYPES.get(key)
    if ctype is None:
        ctype = _CTYPES[key] = compute_dtype(xp, dtype)
    return ctype


def resize_ctype(xp: Any, dtype: Any) -> Any:
    """The dtype a partner is resized in: the compute dtype, at least
    float32 (in float16 a position past 1024 has steps of a whole pixel)."""
    ctype = ctype_of(xp, dtype)
    return xp.float32 if dtype_bits(xp, ctype) < 32 else ctype


def per_sample(xp: Any, a: Array, ndim: int) -> Array:
    """A ``(B,)`` parameter reshaped to broadcast against a ``(B, ...)`` array."""
    return xp.reshape(a, (a.shape[0],) + (1,) * (ndim - 1))


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


def blend_arrays(xp: Any, x: Array, lam: Array, perm: Array, ctype: Any,
                 groups: int = 1) -> Array:
    """``λ·x + (1 − λ)·x[perm]`` in whole-batch operations, in ``ctype``:
    λ rounded to it, the two products and their sum each rounded there,
    integer data rounded to the nearest and cast back."""
    lam = xp.astype(lam, ctype)
    if lam.ndim:
        lam = per_sample(xp, lam, x.ndim)
    partner = partners(xp, x, perm, groups)
    if ctype == x.dtype:
        return lam * x + (1 - lam) * partner
    mixed = lam * xp.astype(x, ctype) + (1 - lam) * xp.astype(partner, ctype)
    if isdtype(xp, x.dtype, "integral"):
        mixed = xp.round(mixed)
    return xp.astype(mixed, x.dtype)


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
            lo, hi = per_sample(xp, lo, x.ndim), per_sample(xp, hi, x.ndim)
        inside = (pos >= lo) & (pos < hi)
        mask = inside if mask is None else mask & inside
    return mask


def nearest_index(xp: Any, n: int, g: int, dev: Any, dtype: Any) -> Array:
    """For each of ``n`` positions, the cell of a grid of ``g`` cells over the
    same extent whose centre is nearest: ``((2i + 1)·g) // (2n)``, in
    integers. Upsampling by a whole factor ``p`` gives ``i // p`` exactly;
    downsampling takes the centre of each block."""
    pos = xp.arange(n, dtype=dtype, device=dev)
    return ((2 * pos + 1) * g) // (2 * n)


def grid_mask(xp: Any, x: Array, mask: Array, axes: tuple[int, ...]) -> Array:
    """A boolean mask of shape ``(*lead, *grid)`` (``lead`` empty or the
    batch) mapped to ``x``'s cut ``axes`` by nearest neighbour, reshaped to
    broadcast against ``x``."""
    k = len(axes)
    lead = mask.ndim - k
    dev = device(x)
    for j, ax in enumerate(axes):
        n, g = x.shape[ax], mask.shape[lead + j]
        if n != g:
            index = nearest_index(xp, n, g, dev, default_index(xp, dev))
            mask = xp.take(mask, index, axis=lead + j)
    order = sorted(range(k), key=lambda j: axes[j])
    if order != list(range(k)):
        mask = xp.permute_dims(mask, (*range(lead), *(lead + j for j in order)))
    shape = [1] * x.ndim
    if lead:
        shape[0] = x.shape[0]
    for ax in axes:
        shape[ax] = x.shape[ax]
    return xp.reshape(mask, tuple(shape))


def take_per_sample(xp: Any, a: Array, index: Array, axis: int) -> Array:
    """``a`` gathered along ``axis`` with each sample's own positions:
    ``index`` is ``(n,)`` (one for the batch: a plain ``take``) or ``(B, n)``.

    Per sample it is ``take_along_axis`` with the index broadcast over the
    other axes (new in the 2024.12 standard); libraries without it, or whose
    version does not broadcast, take sample by sample."""
    if index.ndim == 1:
        return xp.take(a, index, axis=axis)
    shape = [1] * a.ndim
    shape[0], shape[axis] = index.shape[0], index.shape[1]
    if hasattr(xp, "take_along_axis") and api_revision(xp) >= "2024.12":
        taken = xp.take_along_axis(a, xp.reshape(index, tuple(shape)), axis=axis)
        want = (*a.shape[1:axis], index.shape[1], *a.shape[axis + 1:])
        if taken.ndim == a.ndim and tuple(taken.shape[1:]) == want:
            return taken
    return xp.concat([xp.take(a[b:b + 1, ...], index[b, ...], axis=axis)
                      for b in range(a.shape[0])], axis=0)


def box_index(xp: Any, n: int, low: Array, high: Array, dtype: Any,
              ctype: Any | None) -> tuple[Array, Array | None, Array | None]:
    """Where each of ``n`` positions of a box ``[low, high)`` reads a source
    of length ``n`` resized into the box: shape ``(n,)`` for one box, ``(B,
    n)`` for one per sample. Nearest (``ctype`` None): the source position
    whose centre is nearest, in integers. Linear: the two neighbours and the
    weight of the second, with half-pixel centres (as ``align_corners=False``
    resizes), in ``ctype``. Positions outside the box read something valid
    that the caller masks out."""
    dev = device(low)
    pos = xp.arange(n, dtype=dtype, device=dev)
    if low.ndim:
        low, high = low[:, None], high[:, None]
    length = xp.maximum(high - low, xp.ones_like(high))
    last = n - 1
    if ctype is None:
        src = ((2 * (pos - low) + 1) * n) // (2 * length)
        return xp.clip(src, 0, last), None, None
    # The coordinate ((2q + 1)·n − length) / (2·length), at least 0: its whole
    # part in integers, the fraction as remainder × (1 / (2·length)), so that
    # no fused multiply-add (XLA, inductor) nor XLA's rewrite of a division by
    # a broadcast value moves a weight. Offsets clamped into the box keep the
    # integers small; outside it the caller masks.
    offset = xp.minimum(xp.maximum(pos - low, xp.zeros_like(pos)), length - 1)
    num = xp.maximum((2 * offset + 1) * n - length, xp.zeros_like(offset))
    den = 2 * length
    whole = num // den
    first = xp.clip(whole, 0, last)
    weight = xp.astype(num - whole * den, ctype) * (1.0 / xp.astype(den, ctype))
    second = xp.minimum(first + 1, xp.full_like(first, last))
    return first, second, weight


def along(xp: Any, a: Array, ax: int, ndim: int) -> Array:
    """A box's positions or weights, ``(n,)`` for one box or ``(B, n)`` for
    one per sample, shaped to broadcast along axis ``ax`` of an ``ndim``
    array."""
    shape = [1] * ndim
    shape[ax] = a.shape[-1]
    if a.ndim == 2:
        shape[0] = a.shape[0]
    return xp.reshape(a, tuple(shape))


def resized_back(xp: Any, resized: Array, dtype: Any, ctype: Any | None) -> Array:
    """A partner resized in ``ctype`` (None: moved, not computed) back in the
    batch's ``dtype``, integers rounded."""
    if ctype is None or ctype == dtype:
        return resized
    if isdtype(xp, dtype, "integral"):
        resized = xp.round(resized)
    return xp.astype(resized, dtype)


def one_hot_values(num_classes: int, smoothing: float) -> tuple[float, float]:
    """A one-hot row's values (``on`` at its class, ``off`` elsewhere) with
    label smoothing ``s`` over ``C`` classes, as timm: ``1 − s + s/C``, ``s/C``."""
    off = smoothing / num_classes
    return 1.0 - smoothing + off, off


def into(xp: Any, result: Array, out: Array | None) -> Array:
    """``result`` written into ``out``, or ``result`` itself without one."""
    if out is None:
        return result
    out[...] = result
    return out


class Reference:
    """The operations of arraymix for one array API namespace ``xp``.

    Subclasses (the backends of :mod:`arraymix._backends`) override the
    operations they have faster paths for, and call these for the rest.
    Every method returns ``out`` itself when one is given.
    """

    name = "reference"

    def __init__(self, xp: Any) -> None:
        self.xp = xp

    def __repr__(self) -> str:
        return f"<arraymix backend {self.name} for {self.xp.__name__}>"

    def blend(self, x: Array, lam: Array, perm: Array, out: Array | None,
              groups: int) -> Array:
        """``λ·x + (1 − λ)·x[perm]``, into ``out`` (new if None; may be ``x``)."""
        xp = self.xp
        return into(xp, blend_arrays(xp, x, lam, perm, ctype_of(xp, x.dtype), groups), out)

    def keep_rows(self, x: Array, result: Array, keep: Array) -> Array:
        """``result`` (new, not ``x``) with the samples where the ``(B,)``
        boolean ``keep`` is True taken from ``x`` as they are: a blend with
        weight 1 is not a copy where the partner is not finite (0·inf is
        NaN), nor for integers that float64 rounds."""
        xp = self.xp
        return xp.where(per_sample(xp, keep, x.ndim), x, result)

    def blend_keeping(self, x: Array, lam: Array, perm: Array, keep: Array,
                      groups: int) -> Array:
        """:meth:`blend` into a new array, with the samples where ``keep`` is
        True copied as :meth:`keep_rows` copies them."""
        return self.keep_rows(x, self.blend(x, lam, perm, None, groups), keep)

    def paste(self, x: Array, perm: Array, lower: Array, upper: Array,
              axes: tuple[int, ...], out: Array | None, groups: int) -> Array:
        """Each sample's box taken from its partner, into ``out`` (new if None)."""
        xp = self.xp
        mask = box_mask(xp, x, lower, upper, axes)
        return into(xp, xp.where(mask, partners(xp, x, perm, groups), x), out)

    def paste_mask(self, x: Array, perm: Array, mask: Array, axes: tuple[int, ...],
                   out: Array | None, groups: int) -> Array:
        """The partner's value where ``mask`` (mapped to ``x``'s grid) is True."""
        xp = self.xp
        inside = grid_mask(xp, x, mask, axes)
        return into(xp, xp.where(inside, partners(xp, x, perm, groups), x), out)

    def mosaic(self, x: Array, sources: Array, centre: Array, axes: tuple[int, ...],
               out: Array | None, groups: int) -> Array:
        """Each quadrant around ``centre`` from its source (column 0 is the
        sample itself)."""
        xp = self.xp
        top = box_mask(xp, x, xp.zeros_like(centre[..., :1]), centre[..., :1], axes[:1])
        left = box_mask(xp, x, xp.zeros_like(centre[..., 1:]), centre[..., 1:], axes[1:])
        right = partners(xp, x, sources[:, 1], groups)
        upper = xp.where(left, x, right)
        lower = xp.where(left, partners(xp, x, sources[:, 2], groups),
                         partners(xp, x, sources[:, 3], groups))
        return into(xp, xp.where(top, upper, lower), out)

    def resize_paste(self, x: Array, perm: Array, lower: Array, upper: Array,
                     axes: tuple[int, ...], nearest: bool, out: Array | None,
                     groups: int) -> Array:
        """Each partner, whole, resized into the sample's box (separably, one
        cut axis after the other), the rest of the sample kept."""
        xp = self.xp
        index = default_index(xp, device(x))
        ctype = None if nearest else resize_ctype(xp, x.dtype)
        resized = partners(xp, x, perm, groups)
        if ctype is not None and ctype != x.dtype:
            resized = xp.astype(resized, ctype)
        for j, ax in enumerate(axes):
            first, second, weight = box_index(xp, x.shape[ax], lower[..., j],
                                              upper[..., j], index, ctype)
            near = take_per_sample(xp, resized, first, ax)
            if second is None or weight is None:
                resized = near
                continue
            far = take_per_sample(xp, resized, second, ax)
            resized = near + along(xp, weight, ax, x.ndim) * (far - near)
        resized = resized_back(xp, resized, x.dtype, ctype)
        inside = box_mask(xp, x, lower, upper, axes)
        return into(xp, xp.where(inside, resized, x), out)

    def mix_part(self, x: Array,
                 part: CutMixParams | MaskParams | MosaicParams | ResizeMixParams,
                 result: Array, axes: tuple[int, ...], nearest: bool, groups: int) -> Array:
        """``result`` with the samples a part of a Mixer's draw changes taken
        from that part's mix of ``x`` (the others kept): its CutMix boxes
        (``(B, k)`` bounds, empty for the other samples) or a family part."""
        xp = self.xp
        if isinstance(part, CutMixParams):
            inside = box_mask(xp, x, part.lower, part.upper, axes)
            return xp.where(inside, partners(xp, x, part.perm, groups), result)
        if isinstance(part, MaskParams):
            mixed = self.paste_mask(x, part.perm, part.mask, axes, None, groups)
        elif isinstance(part, MosaicParams):
            mixed = self.mosaic(x, part.sources, part.centre, axes, None, groups)
        else:
            mixed = self.resize_paste(x, part.perm, part.lower, part.upper, axes, nearest,
                                      None, groups)
        return xp.where(per_sample(xp, part_changed(xp, part), x.ndim), mixed, result)

    def blend_sources(self, x: Array, weights: Array, sources: Array, out: Array | None,
                      groups: int) -> Array:
        """``Σ_q weights[..., q]·x[sources[:, q]]``: the labels of a mix of
        several sources (a Mosaic), in the compute dtype of ``x``."""
        xp = self.xp
        ctype = ctype_of(xp, x.dtype)
        weights = xp.astype(weights, ctype)
        total = None
        for q in range(sources.shape[1]):
            w = weights[..., q]
            if w.ndim:
                w = per_sample(xp, w, x.ndim)
            term = w * xp.astype(partners(xp, x, sources[:, q], groups), ctype)
            total = term if total is None else total + term
        assert total is not None
        if ctype != x.dtype:
            if isdtype(xp, x.dtype, "integral"):
                total = xp.round(total)
            total = xp.astype(total, x.dtype)
        return into(xp, total, out)

    def one_hot(self, labels: Array, num_classes: int, smoothing: float,
                dtype: Any) -> Array:
        """One-hot rows of class ids; an id out of range gives a row of NaN."""
        xp, dev = self.xp, device(labels)
        # compare in the wide index dtype: uint8 ids against 1000 classes must not wrap
        wide = default_index(xp, dev)
        classes = xp.arange(num_classes, dtype=wide, device=dev)
        ids = xp.astype(labels, wide)[..., None]
        on, off = one_hot_values(num_classes, smoothing)

        def scalar(value: float) -> Array:  # filled on the device: no host-to-device copy
            return xp.full((), value, dtype=dtype, device=dev)

        rows = xp.where(ids == classes, scalar(on), scalar(off))
        valid = (ids >= 0) & (ids < num_classes)
        return xp.where(valid, rows, scalar(float("nan")))

    def mix_ids(self, y: Array, lam: Array, perm: Array, num_classes: int, smoothing: float,
                dtype: Any, groups: int) -> Array:
        """``blend(one_hot(y, C, smoothing=s), (lam, perm))``."""
        return self.blend(self.one_hot(y, num_classes, smoothing, dtype), lam, perm, None,
                          groups)

    def log_softmax(self, z: Array, axis: int) -> Array:
        """``log(softmax(z))`` along ``axis``, the maximum subtracted first."""
        xp = self.xp
        shifted = z - xp.max(z, axis=axis, keepdims=True)
        return shifted - xp.log(xp.sum(xp.exp(shifted), axis=axis, keepdims=True))


def part_changed(xp: Any, part: MaskParams | MosaicParams | ResizeMixParams) -> Array:
    """Bool ``(B,)``: the samples a family part of a Mixer's draw changes (an
    empty mask or box, or a Mosaic of the sample alone, leaves it as it is)."""
    if isinstance(part, MaskParams):
        flat = xp.reshape(part.mask, (part.mask.shape[0], -1))
        return xp.any(flat, axis=1)
    if isinstance(part, MosaicParams):
        own = xp.arange(part.sources.shape[0], dtype=part.sources.dtype,
                        device=device(part.sources))
        return xp.any(part.sources != own[:, None], axis=1)
    return xp.all(part.upper > part.lower, axis=1)
