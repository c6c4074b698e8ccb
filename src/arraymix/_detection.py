"""Detection targets: boxes and keypoints that follow a MixUp, a CutMix, a
Mosaic or a ResizeMix.

Boxes are padded ``(B, N, 4)`` pixel ``xyxy`` arrays and points padded
``(B, N, 2)`` ``xy`` arrays, each with a boolean ``valid`` ``(B, N)``: the
shapes are static, so every function here runs under ``jax.jit`` and
``torch.compile(fullgraph=True)``, and reads nothing back to the host.
CutMix params drawn over two cut axes give each sample's pasted rectangle:
the first cut axis is the height (y), the second the width (x).
"""

from __future__ import annotations

from typing import Any, NamedTuple

from ._compat import Array, default_float, device, isdtype, namespace
from ._params import CutMixParams, MaskParams, MixerParams, MixParams, MosaicParams, ResizeMixParams
from ._switch import CODES
from ._validate import (
    check_coord_values,
    check_coords,
    check_grid_params,
    check_lam_values,
    check_mix_params,
    check_mosaic_params,
    check_param,
    check_perm_values,
    check_real,
    check_source_values,
    check_valid,
)

__all__ = ["blend_boxes", "paste_boxes", "paste_points"]

#: A box is kept when at least this fraction of its area is still seen: a
#: tenth, as detection pipelines filter boxes after geometric augmentation;
#: less leaves a label on a sliver the network cannot recognise.
MIN_VISIBLE = 0.1


def paste_boxes(boxes: Array, valid: Array,
                params: CutMixParams | MixerParams | MosaicParams | ResizeMixParams, /, *,
                min_visible: float = MIN_VISIBLE) -> tuple[Array, Array]:
    """The boxes of a CutMixed batch: each sample's own, and its partner's pasted ones.

    Parameters
    ----------
    boxes : array
        Padded boxes of shape ``(B, N, 4)``, pixel ``xyxy`` (``x1, y1, x2,
        y2``), real floating or integer.
    valid : array
        Boolean ``(B, N)``: which slots of ``boxes`` hold a box.
    params : CutMixParams or MixerParams
        From :func:`sample_cutmix` drawn over the images' two cut axes
        ``(H, W)``, in ``boxes``' library and on its device. Sample ``i``'s
        pasted region is the rectangle ``[lower[i, 1], upper[i, 1]] ×
        [lower[i, 0], upper[i, 0]]`` (x by y). A :class:`Mixer`'s draw
        treats each sample by its method: CutMix samples as here, MixUp
        samples keep both sets as :func:`blend_boxes` does, samples left
        alone their own, Mosaic and ResizeMix samples as their params do
        below (a draw with Mosaic samples gives every sample ``4N`` slots,
        the last ``2N`` empty for the others); a draw with FMix or
        patch-grid samples raises a TypeError. With
        :class:`ResizeMixParams` the sample's own boxes are kept as here,
        and every box of the partner is scaled and shifted into the box, as
        its image is. With :class:`MosaicParams`
        (which need their ``sizes``) each quadrant keeps its source's boxes
        clipped to it, and the result has ``4N`` slots, quadrant by quadrant
        (top-left, the sample's own, first). :class:`MaskParams` raise a
        TypeError: an irregular mask has no rule for a box it cuts.
    min_visible : float, default 0.1
        The least fraction of a box's area that must remain for it to be
        kept, in ``[0, 1]``.

    Returns
    -------
    boxes : array
        ``(B, 2N, 4)`` in ``boxes``' dtype (``4N`` for a Mosaic): the
        sample's own boxes first, unchanged, then the partner's, clipped to
        the pasted rectangle.
        Invalid slots hold zeros.
    valid : array
        Boolean ``(B, 2N)``. An own box stays valid when the part of it
        outside the pasted rectangle is at least ``min_visible`` of its area;
        a partner's box is valid when its part inside the rectangle is.
        Boxes of zero area are invalid.

    Examples
    --------
    >>> import numpy as np
    >>> import arraymix
    >>> boxes = np.asarray([[[0, 0, 4, 4]], [[4, 4, 8, 8]]], dtype=np.float32)
    >>> valid = np.ones((2, 1), dtype=bool)
    >>> p = arraymix.CutMixParams(lam=np.asarray(0.75), perm=np.asarray([1, 0]),
    ...                           lower=np.asarray([4, 4]), upper=np.asarray([8, 8]))
    >>> b, v = arraymix.paste_boxes(boxes, valid, p)
    >>> b[0]  # its own box, then its partner's, which fills the pasted square
    array([[0., 0., 4., 4.],
           [4., 4., 8., 8.]], dtype=float32)
    >>> v  # sample 1's own box lies under the pasted square, its partner's outside it
    array([[ True,  True],
           [False, False]])
    """
    _, batch = check_coords(boxes, "boxes", 4)
    valid = check_valid(boxes, valid)
    _refuse_masks(params, "boxes")
    if isinstance(params, MosaicParams):
        fraction = check_real(min_visible, "min_visible", low=0.0, high=1.0)
        return _mosaic_coords(boxes, valid, params, batch, fraction)
    if isinstance(params, MixerParams):
        fraction = check_real(min_visible, "min_visible", low=0.0, high=1.0)
        out, kept, _ = _drawn_boxes(boxes, valid, params, batch, fraction)
        return out, kept
    _, perm, lower, upper = check_grid_params(boxes, params, batch, "boxes")
    fraction = check_real(min_visible, "min_visible", low=0.0, high=1.0)
    sizes = _resized_sizes(params, "boxes")
    check_coord_values(boxes, valid, "boxes")
    xp = namespace(boxes)
    own, cut, pasted = _cut_boxes(xp, boxes, valid, perm, lower, upper, batch, fraction)
    if sizes is not None:  # ResizeMix: the partner's boxes, whole, scaled into the box
        cut = _scaled(xp, xp.take(boxes, perm, axis=0), lower, upper, batch, sizes, 4)
        work = _work_dtype(xp, boxes)
        pasted = xp.take(valid, perm, axis=0) & (_area(
            xp, cut[..., 0], cut[..., 1], cut[..., 2], cut[..., 3], work) > 0)
    return _joined_slots(xp, boxes, own, cut, pasted)


def blend_boxes(
    boxes: Array, valid: Array, params: MixParams | CutMixParams | MixerParams, /
) -> tuple[Array, Array, Array]:
    """The boxes of a MixUp-ed batch: both images are seen, so both sets are kept.

    Parameters
    ----------
    boxes : array
        Padded boxes of shape ``(B, N, 4)``, pixel ``xyxy``, real floating or
        integer.
    valid : array
        Boolean ``(B, N)``: which slots of ``boxes`` hold a box.
    params : MixParams or MixerParams
        From :func:`sample_mixup` (its ``lam`` and ``perm``), in ``boxes``'
        library and on its device. A :class:`Mixer`'s draw treats each
        sample by its method: MixUp samples as here, CutMix, Mosaic and
        ResizeMix samples as :func:`paste_boxes` does (with
        ``min_visible`` 0.1, their boxes weighted 1; ``4N`` slots where the
        draw holds a Mosaic), samples left alone keep their own.

    Returns
    -------
    boxes : array
        ``(B, 2N, 4)`` in ``boxes``' dtype: the sample's own boxes, then its
        partner's. Invalid slots hold zeros.
    valid : array
        Boolean ``(B, 2N)``.
    weights : array
        ``(B, 2N)`` in ``params.lam``'s dtype: λ for the sample's own boxes
        and ``1 − λ`` for its partner's (a detection loss weighs each box's
        term by it, as the labels are weighed); zero in invalid slots.

    Examples
    --------
    >>> import numpy as np
    >>> import arraymix
    >>> boxes = np.asarray([[[0, 0, 4, 4]], [[4, 4, 8, 8]]], dtype=np.float32)
    >>> valid = np.asarray([[True], [False]])
    >>> p = arraymix.MixParams(lam=np.asarray(0.75), perm=np.asarray([1, 0]))
    >>> b, v, w = arraymix.blend_boxes(boxes, valid, p)
    >>> v
    array([[ True, False],
           [False,  True]])
    >>> w
    array([[0.75, 0.  ],
           [0.  , 0.25]])
    """
    _, batch = check_coords(boxes, "boxes", 4)
    valid = check_valid(boxes, valid)
    if isinstance(params, MixerParams):
        return _drawn_boxes(boxes, valid, params, batch, MIN_VISIBLE)
    lam, perm = check_mix_params(boxes, params, batch)
    check_perm_values(perm, batch, 1)
    check_lam_values(lam)
    check_coord_values(boxes, valid, "boxes")
    xp = namespace(boxes)
    theirs = xp.take(boxes, perm, axis=0)
    t_valid = xp.take(valid, perm, axis=0)
    out, kept = _joined_slots(xp, boxes, valid, theirs, t_valid)
    weight = xp.broadcast_to(xp.reshape(lam, (-1, 1)), (batch, 1))
    weight = xp.broadcast_to(weight, tuple(valid.shape))
    none = xp.zeros_like(weight)
    weights = xp.concat([xp.where(valid, weight, none), xp.where(t_valid, 1 - weight, none)],
                        axis=1)
    return out, kept, weights


def paste_points(points: Array, valid: Array,
                 params: CutMixParams | MixerParams | MosaicParams | ResizeMixParams,
                 /) -> tuple[Array, Array]:
    """The keypoints of a CutMixed batch: own points under the pasted box are
    dropped, the partner's points inside it are added.

    Parameters
    ----------
    points : array
        Padded points of shape ``(B, N, 2)``, pixel ``xy``, real floating or
        integer.
    valid : array
        Boolean ``(B, N)``: which slots of ``points`` hold a point.
    params : CutMixParams or MixerParams
        From :func:`sample_cutmix` drawn over the images' two cut axes
        ``(H, W)``, in ``points``' library and on its device. A point is in
        sample ``i``'s pasted region when ``lower[i] <= (y, x) < upper[i]``.
        With a :class:`Mixer`'s draw, MixUp samples keep both samples'
        points (both images are seen), and Mosaic and ResizeMix samples
        follow their params as below (``4N`` slots where the draw holds a
        Mosaic; FMix or patch-grid samples raise a TypeError). With :class:`ResizeMixParams` every
        point of the partner is scaled into the box; with
        :class:`MosaicParams` each quadrant keeps its source's points inside
        it (``4N`` slots, quadrant by quadrant).

    Returns
    -------
    points : array
        ``(B, 2N, 2)`` in ``points``' dtype: the sample's own points first,
        then its partner's. Invalid slots hold zeros.
    valid : array
        Boolean ``(B, 2N)``: own points outside the pasted region, partner's
        points inside it.

    Examples
    --------
    >>> import numpy as np
    >>> import arraymix
    >>> points = np.asarray([[[1.0, 1.0], [5.0, 5.0]], [[6.0, 2.0], [7.0, 7.0]]])
    >>> valid = np.ones((2, 2), dtype=bool)
    >>> p = arraymix.CutMixParams(lam=np.asarray(0.75), perm=np.asarray([1, 0]),
    ...                           lower=np.asarray([4, 4]), upper=np.asarray([8, 8]))
    >>> q, v = arraymix.paste_points(points, valid, p)
    >>> v[0]  # (5, 5) is pasted over; the partner's (7, 7) comes in
    array([ True, False, False,  True])
    """
    _, batch = check_coords(points, "points", 2)
    valid = check_valid(points, valid)
    _refuse_masks(params, "points")
    if isinstance(params, MosaicParams):
        return _mosaic_coords(points, valid, params, batch, 0.0)
    mixed: Array | None = None
    sizes = None
    family = None
    if isinstance(params, MixerParams):
        perm, lower, upper, _, method = _check_draw(points, params, batch, "points")
        family = _check_family(points, params, batch, "points") if params.parts else None
        mixed = method == 1
    else:
        _, perm, lower, upper = check_grid_params(points, params, batch, "points")
        sizes = _resized_sizes(params, "points")
    check_coord_values(points, valid, "points")
    xp = namespace(points)
    if lower is None or upper is None:  # a draw without CutMix: every box empty
        lower = upper = xp.zeros((batch, 2), dtype=perm.dtype, device=device(points))
    ly, lx, uy, ux = _rectangles(xp, lower, upper, batch, points.dtype)

    def inside(p: Array) -> Array:
        x, y = p[..., 0], p[..., 1]
        return (x >= lx) & (x < ux) & (y >= ly) & (y < uy)

    theirs = xp.take(points, perm, axis=0)
    t_valid = xp.take(valid, perm, axis=0)
    own, added = valid & ~inside(points), t_valid & inside(theirs)
    if sizes is not None:  # ResizeMix: every point of the partner, scaled into the box
        theirs = _scaled(xp, theirs, lower, upper, batch, sizes, 2)
        added = t_valid & inside(theirs)
    if mixed is not None:  # MixUp samples of a draw: both images are seen, all points kept
        both = mixed[:, None]
        own, added = xp.where(both, valid, own), xp.where(both, t_valid, added)
    out, kept = _joined_slots(xp, points, own, theirs, added)
    if family is not None:
        out, kept, _ = _with_family(xp, points, valid, method, family, out, kept, None, batch,
                                    0.0)
    return out, kept


def _cut_boxes(xp: Any, boxes: Array, valid: Array, perm: Array, lower: Array, upper: Array,
               batch: int, fraction: float) -> tuple[Array, Array, Array]:
    """CutMix on boxes: which own boxes stay, the partner's boxes clipped to
    the pasted rectangles, and which of those are kept."""
    ly, lx, uy, ux = _rectangles(xp, lower, upper, batch, boxes.dtype)
    work = _work_dtype(xp, boxes)
    x1, y1, x2, y2 = (boxes[..., j] for j in range(4))
    area = _area(xp, x1, y1, x2, y2, work)
    inside = _area(xp, xp.maximum(x1, lx), xp.maximum(y1, ly), xp.minimum(x2, ux),
                   xp.minimum(y2, uy), work)
    own = valid & (area > 0) & (area - inside >= fraction * area)

    theirs = xp.take(boxes, perm, axis=0)
    t_valid = xp.take(valid, perm, axis=0)
    tx1, ty1, tx2, ty2 = (theirs[..., j] for j in range(4))
    cx1, cx2 = _clamp(xp, tx1, lx, ux), _clamp(xp, tx2, lx, ux)
    cy1, cy2 = _clamp(xp, ty1, ly, uy), _clamp(xp, ty2, ly, uy)
    clipped = _area(xp, cx1, cy1, cx2, cy2, work)
    t_area = _area(xp, tx1, ty1, tx2, ty2, work)
    pasted = t_valid & (clipped > 0) & (clipped >= fraction * t_area)
    return own, xp.stack([cx1, cy1, cx2, cy2], axis=-1), pasted


def _check_draw(coords: Array, params: MixerParams, batch: int, name: str) -> tuple[
        Array, Array | None, Array | None, Array, Array]:
    """A Mixer's draw for boxes or points: partners, the boxes over two cut
    axes (None where the Mixer cannot cut), the blend λ and the methods."""
    masks = sorted({type(p).__name__ for p in params.parts if isinstance(p, MaskParams)})
    if masks:
        raise TypeError(
            f"this Mixer draw holds samples mixed by a mask ({', '.join(masks)}: FMix or "
            f"patch grids), and an irregular mask has no rule for the {name} it cuts "
            f"through: for {name}, leave fmix and patchmix out of the Mixer's methods"
        )
    lower = upper = None
    if getattr(params.lower, "ndim", 0) == 2 and params.lower.shape[-1] == 0:  # cannot cut
        lam, perm = check_mix_params(coords, params, batch)
        check_perm_values(perm, batch, 1)
        check_lam_values(lam)
    else:  # λ, partners and boxes, each checked once
        _, perm, lower, upper = check_grid_params(coords, params, batch, name)
    blend_lam = check_param(coords, params.blend_lam, "params.blend_lam", ((batch,),),
                            "real floating")
    check_lam_values(blend_lam, "params.blend_lam")
    method = check_param(coords, params.method, "params.method", ((batch,),), "integral")
    return perm, lower, upper, blend_lam, method


def _drawn_boxes(boxes: Array, valid: Array, params: MixerParams, batch: int,
                 fraction: float) -> tuple[Array, Array, Array]:
    """Boxes under a Mixer's draw, each sample by its method: CutMix samples
    as :func:`paste_boxes`, MixUp samples as :func:`blend_boxes`, samples
    left alone keep their boxes; the weights as :func:`blend_boxes` (1 for
    the boxes of a CutMix sample)."""
    perm, lower, upper, blend_lam, method = _check_draw(boxes, params, batch, "boxes")
    family = _check_family(boxes, params, batch, "boxes")
    check_coord_values(boxes, valid, "boxes")
    xp = namespace(boxes)
    if lower is None or upper is None:
        lower = upper = xp.zeros((batch, 2), dtype=perm.dtype, device=device(boxes))
    own, cut, pasted = _cut_boxes(xp, boxes, valid, perm, lower, upper, batch, fraction)
    theirs = xp.take(boxes, perm, axis=0)
    t_valid = xp.take(valid, perm, axis=0)
    mixed = (method == 1)[:, None]
    own = xp.where(mixed, valid, own)
    added = xp.where(mixed, t_valid, pasted)
    partner = xp.where(mixed[..., None], theirs, cut)
    out, kept = _joined_slots(xp, boxes, own, partner, added)
    weight = xp.broadcast_to(blend_lam[:, None], tuple(valid.shape))
    none, one = xp.zeros_like(weight), xp.ones_like(weight)
    theirs_weight = xp.where(mixed, 1 - weight, one)
    weights = xp.concat([xp.where(own, weight, none), xp.where(added, theirs_weight, none)],
                        axis=1)
    if not params.parts:
        return out, kept, weights
    out, kept, family_weights = _with_family(xp, boxes, valid, method, family, out, kept,
                                             weights, batch, fraction)
    assert family_weights is not None
    return out, kept, family_weights


class _Family(NamedTuple):
    """The Mosaic and ResizeMix parts of a Mixer's draw, checked (None where
    the draw has none)."""

    mosaic: tuple[Array, Array, tuple[float, float]] | None
    resize: tuple[Array, Array, Array, tuple[float, float]] | None


def _check_family(coords: Array, params: MixerParams, batch: int, name: str) -> _Family:
    """The draw's family parts for ``coords`` (masks were refused by
    :func:`_check_draw`)."""
    mosaic = resize = None
    for part in params.parts:
        if isinstance(part, MosaicParams):
            mosaic = _check_mosaic(coords, part, batch)
        elif isinstance(part, ResizeMixParams):
            _, perm, lower, upper = check_grid_params(coords, part, batch, name)
            sizes = _resized_sizes(part, name)
            assert sizes is not None
            resize = (perm, lower, upper, sizes)
        else:
            raise TypeError("params.parts must hold the parts a Mixer draws (MosaicParams, "
                            f"ResizeMixParams) for {name}, got {type(part).__name__}")
    return _Family(mosaic, resize)


def _with_family(xp: Any, coords: Array, valid: Array, method: Array, family: _Family,
                 out: Array, kept: Array, weights: Array | None, batch: int,
                 fraction: float) -> tuple[Array, Array, Array | None]:
    """The rows of a draw's ResizeMix and Mosaic samples put into the ``2N``
    slots of its MixUp and CutMix ones (``4N`` where it holds a Mosaic, the
    others' last ``2N`` empty); their boxes weigh 1, as a CutMix sample's."""
    if family.resize is not None:
        perm, lower, upper, sizes = family.resize
        own, added, theirs = _resized_partner(xp, coords, valid, perm, lower, upper, batch,
                                              sizes, fraction)
        rows, slots = _joined_slots(xp, coords, own, theirs, added)
        users = method == CODES["resizemix"]
        out = xp.where(users[:, None, None], rows, out)
        kept = xp.where(users[:, None], slots, kept)
    if family.mosaic is not None:
        sources, centre, sizes = family.mosaic
        rows, slots = _mosaic_slots(coords, valid, sources, centre, sizes, batch, fraction)
        users = method == CODES["mosaic"]
        out = xp.where(users[:, None, None], rows, xp.concat([out, xp.zeros_like(out)], axis=1))
        kept = xp.where(users[:, None], slots, xp.concat([kept, xp.zeros_like(kept)], axis=1))
        if weights is not None:
            weights = xp.concat([weights, xp.zeros_like(weights)], axis=1)
    if weights is not None:
        family_users = (method == CODES["resizemix"]) | (method == CODES["mosaic"])
        one, none = xp.ones_like(weights), xp.zeros_like(weights)
        weights = xp.where(family_users[:, None], xp.where(kept, one, none), weights)
    return out, kept, weights


def _resized_partner(xp: Any, coords: Array, valid: Array, perm: Array, lower: Array,
                     upper: Array, batch: int, sizes: tuple[float, float], fraction: float
                     ) -> tuple[Array, Array, Array]:
    """ResizeMix on boxes or points: which own ones stay (as CutMix keeps
    them), which of the partner's are added, and the partner's scaled into
    the box."""
    width = coords.shape[-1]
    theirs = _scaled(xp, xp.take(coords, perm, axis=0), lower, upper, batch, sizes, width)
    t_valid = xp.take(valid, perm, axis=0)
    if width == 4:
        own, _, _ = _cut_boxes(xp, coords, valid, perm, lower, upper, batch, fraction)
        work = _work_dtype(xp, coords)
        added = t_valid & (_area(xp, theirs[..., 0], theirs[..., 1], theirs[..., 2],
                                 theirs[..., 3], work) > 0)
        return own, added, theirs
    ly, lx, uy, ux = _rectangles(xp, lower, upper, batch, coords.dtype)

    def inside(p: Array) -> Array:
        x, y = p[..., 0], p[..., 1]
        return (x >= lx) & (x < ux) & (y >= ly) & (y < uy)

    return valid & ~inside(coords), t_valid & inside(theirs), theirs


def _rectangles(xp: Any, lower: Array, upper: Array, batch: int, dtype: Any) -> tuple[
        Array, Array, Array, Array]:
    """Each sample's pasted rectangle as ``(B, 1)`` columns ``y0, x0, y1, x1``
    in the coordinates' dtype (one box for the batch broadcast to every sample)."""
    low = xp.astype(xp.broadcast_to(lower, (batch, 2)), dtype)
    high = xp.astype(xp.broadcast_to(upper, (batch, 2)), dtype)
    return low[:, 0:1], low[:, 1:2], high[:, 0:1], high[:, 1:2]


def _work_dtype(xp: Any, a: Array) -> Any:
    """Areas are compared in the boxes' own floating dtype, or the library's
    default float for integer boxes (a product of two uint8 sides overflows)."""
    if isdtype(xp, a.dtype, "real floating"):
        return a.dtype
    return default_float(xp, device(a))


def _area(xp: Any, x1: Array, y1: Array, x2: Array, y2: Array, dtype: Any) -> Array:
    """Area of the boxes, zero where they are empty or inverted."""
    w = xp.astype(x2, dtype) - xp.astype(x1, dtype)
    h = xp.astype(y2, dtype) - xp.astype(y1, dtype)
    zero = xp.zeros_like(w)
    return xp.maximum(w, zero) * xp.maximum(h, zero)


def _clamp(xp: Any, a: Array, low: Array, high: Array) -> Array:
    return xp.minimum(xp.maximum(a, low), high)


def _joined_slots(xp: Any, own: Array, own_valid: Array, theirs: Array,
                  their_valid: Array) -> tuple[Array, Array]:
    """Own slots then the partner's, zeros where invalid."""
    zero = xp.zeros_like(own)
    mine = xp.where(own_valid[..., None], own, zero)
    other = xp.where(their_valid[..., None], theirs, zero)
    return xp.concat([mine, other], axis=1), xp.concat([own_valid, their_valid], axis=1)


def _refuse_masks(params: Any, name: str) -> None:
    if isinstance(params, MaskParams):
        raise TypeError(
            f"{name} cannot follow MaskParams (FMix, patch grids): an irregular mask has no "
            f"rule for a {name[:-1]} it cuts through. Use CutMix, Mosaic or ResizeMix params "
            f"for {name}, or mix the {name} by their own mask"
        )


def _resized_sizes(params: Any, name: str) -> tuple[float, float] | None:
    """``(H, W)`` of the images a ResizeMix was drawn for, None for other params."""
    if not isinstance(params, ResizeMixParams):
        return None
    sizes = params.sizes
    if sizes is None or len(sizes) != 2:
        raise ValueError(
            f"params.sizes must be the images' (H, W) to scale the partner's {name} into the "
            f"box, got {sizes}: draw the params with sample_resizemix(rng, B, (H, W))"
        )
    return float(sizes[0]), float(sizes[1])


def _scaled(xp: Any, coords: Array, lower: Array, upper: Array, batch: int,
            sizes: tuple[float, float], width: int) -> Array:
    """Whole-image coordinates (xy pairs, ``width`` 2 or 4) mapped into each
    sample's box, as the image is resized into it."""
    work = _work_dtype(xp, coords)
    ly, lx, uy, ux = _rectangles(xp, lower, upper, batch, work)
    height, wide = sizes
    sx, sy = (ux - lx) / wide, (uy - ly) / height
    columns = []
    for j in range(width):
        c = xp.astype(coords[..., j], work)
        columns.append(lx + c * sx if j % 2 == 0 else ly + c * sy)
    out = xp.stack(columns, axis=-1)
    if isdtype(xp, coords.dtype, "integral"):
        out = xp.round(out)
    return xp.astype(out, coords.dtype)


def _mosaic_coords(coords: Array, valid: Array, params: MosaicParams, batch: int,
                   fraction: float) -> tuple[Array, Array]:
    """Boxes (``fraction`` of each to stay visible) or points of a Mosaic:
    each quadrant's source's, clipped to the quadrant, quadrant by quadrant."""
    sources, centre, sizes = _check_mosaic(coords, params, batch)
    check_coord_values(coords, valid, "boxes" if coords.shape[-1] == 4 else "points")
    return _mosaic_slots(coords, valid, sources, centre, sizes, batch, fraction)


def _check_mosaic(coords: Array, params: MosaicParams, batch: int) -> tuple[
        Array, Array, tuple[float, float]]:
    """A Mosaic's sources, centre and image sizes, checked for ``coords``."""
    _, sources, centre = check_mosaic_params(coords, params, batch)
    check_source_values(sources, batch, 1)
    if params.sizes is None or len(params.sizes) != 2:
        raise ValueError(
            "params.sizes must be the images' (H, W) to clip the quadrants, got "
            f"{params.sizes}: draw the params with sample_mosaic(rng, B, (H, W))"
        )
    return sources, centre, (float(params.sizes[0]), float(params.sizes[1]))


def _mosaic_slots(coords: Array, valid: Array, sources: Array, centre: Array,
                  sizes: tuple[float, float], batch: int, fraction: float
                  ) -> tuple[Array, Array]:
    """:func:`_mosaic_coords` on checked params."""
    xp = namespace(coords)
    work = _work_dtype(xp, coords)
    height, width = sizes
    cy, cx, _, _ = _rectangles(xp, centre, centre, batch, work)
    zero, h, w = xp.zeros_like(cy), xp.full_like(cy, height), xp.full_like(cx, width)
    quadrants = [(zero, zero, cy, cx), (zero, cx, cy, w), (cy, zero, h, cx), (cy, cx, h, w)]
    slots, flags = [], []
    for q, (ly, lx, uy, ux) in enumerate(quadrants):
        theirs = xp.take(coords, sources[:, q], axis=0)
        t_valid = xp.take(valid, sources[:, q], axis=0)
        if coords.shape[-1] == 2:
            x, y = xp.astype(theirs[..., 0], work), xp.astype(theirs[..., 1], work)
            keep = t_valid & (x >= lx) & (x < ux) & (y >= ly) & (y < uy)
            slots.append(xp.where(keep[..., None], theirs, xp.zeros_like(theirs)))
            flags.append(keep)
            continue
        x1, y1, x2, y2 = (xp.astype(theirs[..., j], work) for j in range(4))
        area = _area(xp, x1, y1, x2, y2, work)
        cx1, cx2 = _clamp(xp, x1, lx, ux), _clamp(xp, x2, lx, ux)
        cy1, cy2 = _clamp(xp, y1, ly, uy), _clamp(xp, y2, ly, uy)
        clipped = _area(xp, cx1, cy1, cx2, cy2, work)
        keep = t_valid & (clipped > 0) & (clipped >= fraction * area)
        box = xp.astype(xp.stack([cx1, cy1, cx2, cy2], axis=-1), coords.dtype)
        slots.append(xp.where(keep[..., None], box, xp.zeros_like(box)))
        flags.append(keep)
    return xp.concat(slots, axis=1), xp.concat(flags, axis=1)
