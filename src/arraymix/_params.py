"""Parameters of one mix: plain data, drawn once, applied to any number of arrays.

They are ``NamedTuple`` s of arrays, so they print, pickle, log and replay as
they are, and pass through ``jax.jit``, ``jax.vmap`` and ``torch.compile`` as
ordinary pytrees / tuples of tensors. The grid a CutMix was drawn for is
static metadata: a tuple of ints, which JAX keeps out of the traced leaves.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any, NamedTuple

from ._compat import Array, namespace

__all__ = ["CutMixParams", "MaskParams", "MixParams", "MixerParams", "MosaicParams",
           "ResizeMixParams", "register_with_jax"]


class MixParams(NamedTuple):
    """What :func:`blend` needs: the mixing weights and the partners.

    Attributes
    ----------
    lam : array
        Weight of each original sample, real floating, in ``[0, 1]``: shape
        ``()`` for one weight for the whole batch, ``(B,)`` for one per sample.
    perm : array
        Integer array of shape ``(B,)``: sample ``i`` is mixed with sample
        ``perm[i]``. A permutation of ``0 .. B-1``.

    Examples
    --------
    >>> import numpy as np
    >>> import arraymix
    >>> p = arraymix.MixParams(lam=np.asarray(0.75), perm=np.asarray([1, 0]))
    >>> arraymix.blend(np.asarray([0.0, 4.0]), p)
    array([1., 3.])
    """

    lam: Array
    perm: Array


class CutMixParams(NamedTuple):
    """What :func:`paste` needs: the partners and the box of each sample.

    Attributes
    ----------
    lam : array
        Label weight of each original sample, in ``[0, 1]``: shape ``()``
        (batch mode) or ``(B,)`` (sample mode). With ``correct_lam`` it is the
        fraction of elements that keep their own value.
    perm : array
        Integer array of shape ``(B,)``: the box in sample ``i`` is cut from
        sample ``perm[i]``.
    lower, upper : array
        Integer arrays of shape ``(k,)`` (one box for the batch) or ``(B, k)``
        (one box per sample), ``k`` the number of cut axes: the box is
        ``lower[j] <= index_j < upper[j]`` on the ``j``-th cut axis.
        :meth:`bounds` gives them per sample in either mode.
    sizes : tuple of int, optional
        The lengths of the cut axes the boxes were drawn for
        (:func:`sample_cutmix` records them): :func:`paste` then refuses an
        array whose cut axes have other lengths, and :meth:`rescaled` maps
        the boxes to another grid. ``None`` for params made by hand with four
        fields, which are pasted unchecked.

    Examples
    --------
    >>> import numpy as np
    >>> import arraymix
    >>> p = arraymix.CutMixParams(lam=np.asarray(0.5), perm=np.asarray([1, 0]),
    ...                           lower=np.asarray([0]), upper=np.asarray([2]))
    >>> arraymix.paste(np.asarray([[1, 1, 1, 1], [2, 2, 2, 2]]), p, axes=(-1,))
    array([[2, 2, 1, 1],
           [1, 1, 2, 2]])
    """

    lam: Array
    perm: Array
    lower: Array
    upper: Array
    sizes: tuple[int, ...] | None = None

    def rescaled(self, sizes: Sequence[int]) -> CutMixParams:
        """The same mix on a grid of other ``sizes``: a mask at a quarter of
        the images' resolution, a depth map, a feature map.

        Each bound ``b`` on an axis of length ``n`` drawn for ``m`` becomes
        ``round(b · n / m)``, halves rounded up, in integers: bounds that
        fall on the new grid (``n`` dividing ``m``'s multiples) are exact, and
        the boxes of neighbouring samples stay as they were relative to each
        other. ``lam`` and ``perm`` are kept: the labels were weighed by the
        fraction of the images kept, whatever the resolution of a target.

        Parameters
        ----------
        sizes : sequence of int
            The new lengths of the cut axes, one per axis the boxes span.

        Returns
        -------
        CutMixParams
            With ``sizes`` recorded, in the params' library and device.

        Examples
        --------
        >>> import numpy as np
        >>> import arraymix
        >>> p = arraymix.sample_cutmix(0, 2, (32, 32), lam_mode="sample")
        >>> q = p.rescaled((8, 8))
        >>> q.sizes, bool((q.lower * 4 <= p.lower + 2).all())
        ((8, 8), True)
        """
        if self.sizes is None:
            raise ValueError(
                "params made without sizes cannot be rescaled: draw them with "
                "sample_cutmix, or make them with sizes=(the lengths they were made for)"
            )
        new = tuple(_length(n, f"sizes[{i}]") for i, n in enumerate(_as_tuple(sizes)))
        if len(new) != len(self.sizes):
            raise ValueError(
                f"sizes must have one length per cut axis, {len(self.sizes)} (the params "
                f"were drawn for {self.sizes}), got {new}"
            )
        xp = namespace(self.lower)
        scale = list(zip(new, self.sizes, strict=True))

        def rescale(b: Array) -> Array:
            columns = [(2 * b[..., j] * n + m) // (2 * m) for j, (n, m) in enumerate(scale)]
            return xp.astype(xp.stack(columns, axis=-1), b.dtype)

        return self._replace(lower=rescale(self.lower), upper=rescale(self.upper), sizes=new)

    def bounds(self) -> tuple[Array, Array]:
        """``(lower, upper)`` of shape ``(B, k)``: one box per sample, whether
        the params hold one box for the batch or one per sample.

        Examples
        --------
        >>> import numpy as np
        >>> import arraymix
        >>> p = arraymix.sample_cutmix(0, 4, (16, 16))   # one box for the batch
        >>> low, high = p.bounds()
        >>> low.shape, bool((low == p.lower).all())
        ((4, 2), True)
        """
        xp = namespace(self.lower)
        shape = (self.perm.shape[0], self.lower.shape[-1])
        return xp.broadcast_to(self.lower, shape), xp.broadcast_to(self.upper, shape)


class MixerParams(NamedTuple):
    """One draw of a :class:`Mixer`, per sample: which method, λ, the partner
    and the box, as arrays (never Python control flow), from
    :meth:`Mixer.draw`.

    It applies to every target of a batch through the same functions as the
    other params: :func:`mix` mixes the batch as the Mixer would,
    :func:`blend` the labels (one-hot or soft), :func:`paste` masks (the
    CutMix samples' boxes; a mask cannot be blended, so MixUp samples keep
    their own), :func:`blend_boxes` and :func:`paste_boxes` boxes,
    :func:`paste_points` keypoints, and :func:`mixed_cross_entropy` the loss.

    Attributes
    ----------
    lam : array
        ``(B,)``: the weight of each sample's own label (the MixUp λ, the
        kept fraction of a CutMix sample, 1 for a sample left alone).
    perm : array
        ``(B,)``: each sample's partner.
    lower, upper : array
        ``(B, k)``: each sample's box over the ``k`` cut axes, empty
        (``lower == upper``) for samples that are not CutMix ones; ``k`` is 0
        when the Mixer cannot cut.
    blend_lam : array
        ``(B,)``: the weight of each sample's own pixels in the blend: λ for
        MixUp samples, 1 for the others (which are copied, not blended: a
        partner's inf or NaN does not reach them).
    method : array
        ``(B,)`` int8: 0 for a sample left alone, 1 MixUp, 2 CutMix, 3 a
        patch grid, 4 FMix, 5 Mosaic, 6 ResizeMix.
    sizes : tuple of int, optional
        The lengths of the cut axes the boxes were drawn for, as in
        :class:`CutMixParams`.
    parts : tuple of MaskParams, MosaicParams or ResizeMixParams
        The draws of the family's methods (a Mixer with ``methods``), one
        per method that some sample chose, each over the whole batch:
        samples that chose another method have an empty mask or box, or a
        Mosaic of themselves. ``lam`` above holds their own label weight
        (for a Mosaic, the area of the quadrants that show the sample
        itself, whose labels :func:`blend` weighs over all four sources);
        empty for a Mixer of MixUp and CutMix alone.
    """

    lam: Array
    perm: Array
    lower: Array
    upper: Array
    blend_lam: Array
    method: Array
    sizes: tuple[int, ...] | None = None
    parts: tuple[MaskParams | MosaicParams | ResizeMixParams, ...] = ()

    def rescaled(self, sizes: Sequence[int]) -> MixerParams:
        """The same draw on a grid of other ``sizes``, as
        :meth:`CutMixParams.rescaled` (masks need no rescaling: they map
        onto any grid)."""
        cut = CutMixParams(self.lam, self.perm, self.lower, self.upper, self.sizes)
        moved = cut.rescaled(sizes)
        parts = tuple(p if isinstance(p, MaskParams) else p.rescaled(sizes)
                      for p in self.parts)
        return self._replace(lower=moved.lower, upper=moved.upper, sizes=moved.sizes,
                             parts=parts)


class MaskParams(NamedTuple):
    """What :func:`paste` needs for a mix whose region is any mask: FMix
    (:func:`sample_fmix`) and patch-grid mixing (:func:`sample_patchmix`).

    Attributes
    ----------
    lam : array
        Label weight of each original sample, real floating: shape ``()``
        (one mask for the batch) or ``(B,)`` (one per sample), the exact
        fraction of the mask's cells that keep the sample's own value.
    perm : array
        Integer array of shape ``(B,)``: where the mask is True, sample
        ``i`` takes the value of sample ``perm[i]``.
    mask : array
        Boolean, of shape ``grid`` (batch mode) or ``(B, *grid)``, one axis
        per cut axis: True where the partner's value is taken. Its grid need
        not be the data's: :func:`paste` maps it by nearest neighbour to the
        lengths of the array's cut axes, exactly where they are a multiple
        of the grid (a patch grid on its images, an FMix mask on its images
        and on their masks at the same resolution).

    Examples
    --------
    >>> import numpy as np
    >>> import arraymix
    >>> p = arraymix.MaskParams(lam=np.asarray(0.5), perm=np.asarray([1, 0]),
    ...                         mask=np.asarray([[True, False], [False, True]]))
    >>> x = np.stack([np.zeros((4, 4), dtype=np.uint8), np.ones((4, 4), dtype=np.uint8)])
    >>> arraymix.paste(x, p)[0]
    array([[1, 1, 0, 0],
           [1, 1, 0, 0],
           [0, 0, 1, 1],
           [0, 0, 1, 1]], dtype=uint8)
    """

    lam: Array
    perm: Array
    mask: Array

    @property
    def grid(self) -> tuple[int, ...]:
        """The lengths of the mask's grid (its cut axes)."""
        return tuple(int(n) for n in self.mask.shape[self.lam.ndim:])


class MosaicParams(NamedTuple):
    """What :func:`paste` needs for a Mosaic (:func:`sample_mosaic`): four
    samples, each showing in one quadrant around a centre.

    Attributes
    ----------
    lam : array
        Real floating, of shape ``(4,)`` (one centre for the batch) or
        ``(B, 4)``: the fraction of the image each quadrant covers, in the
        order top-left, top-right, bottom-left, bottom-right; the label
        weight of the sample shown there. Each row sums to 1.
    sources : array
        Integer ``(B, 4)``: the sample shown in each quadrant of sample
        ``i``; column 0 is ``i`` itself, the others its three partners.
    centre : array
        Integer ``(2,)`` or ``(B, 2)``: the row and column where the
        quadrants meet, ``0 <= centre <= (H, W)``. The top-left quadrant is
        ``rows < centre[0]`` and ``columns < centre[1]``.
    sizes : tuple of int, optional
        ``(H, W)`` the centres were drawn for, as in :class:`CutMixParams`.

    Notes
    -----
    Each quadrant keeps its source's content where it was (no shift, no
    rescaling), so a mask, a depth map or a box of each source stays aligned
    with its pixels.

    Examples
    --------
    >>> import numpy as np
    >>> import arraymix
    >>> p = arraymix.sample_mosaic(0, 8, (32, 32), lam_mode="sample")
    >>> p.lam.shape, p.sources.shape, bool(np.allclose(p.lam.sum(axis=1), 1))
    ((8, 4), (8, 4), True)
    """

    lam: Array
    sources: Array
    centre: Array
    sizes: tuple[int, ...] | None = None

    def rescaled(self, sizes: Sequence[int]) -> MosaicParams:
        """The same mosaic on a grid of other ``sizes`` (a mask at a lower
        resolution), the centre mapped as :meth:`CutMixParams.rescaled`
        maps bounds; ``lam`` and ``sources`` are kept."""
        xp = namespace(self.centre)
        box = CutMixParams(self.lam, self.sources, self.centre, self.centre, self.sizes)
        moved = box.rescaled(sizes)
        return self._replace(centre=xp.astype(moved.lower, self.centre.dtype),
                             sizes=moved.sizes)


class ResizeMixParams(NamedTuple):
    """What :func:`paste` needs for a ResizeMix (:func:`sample_resizemix`):
    each partner, whole, resized into a box of the sample.

    The fields are those of :class:`CutMixParams`, and mean the same: the
    box ``lower <= index < upper`` receives the partner ``perm[i]``,
    resized to the box's lengths, and ``lam`` is the fraction of elements
    outside it. Below, nearest resizing takes the centre pixel of each 2×2
    block of the partner: rows and columns 1 and 3.

    Examples
    --------
    >>> import numpy as np
    >>> import arraymix
    >>> p = arraymix.ResizeMixParams(lam=np.asarray(0.75), perm=np.asarray([1, 0]),
    ...                              lower=np.asarray([0, 0]), upper=np.asarray([2, 2]))
    >>> x = np.arange(32, dtype=np.float32).reshape(2, 4, 4)
    >>> arraymix.paste(x, p, interpolation="nearest")[0]
    array([[21., 23.,  2.,  3.],
           [29., 31.,  6.,  7.],
           [ 8.,  9., 10., 11.],
           [12., 13., 14., 15.]], dtype=float32)
    """

    lam: Array
    perm: Array
    lower: Array
    upper: Array
    sizes: tuple[int, ...] | None = None

    def rescaled(self, sizes: Sequence[int]) -> ResizeMixParams:
        """The same mix on a grid of other ``sizes``, as
        :meth:`CutMixParams.rescaled`."""
        moved = CutMixParams(*self).rescaled(sizes)
        return ResizeMixParams(*moved)

    def bounds(self) -> tuple[Array, Array]:
        """``(lower, upper)`` of shape ``(B, k)``, as :meth:`CutMixParams.bounds`."""
        return CutMixParams(*self).bounds()


def _as_tuple(sizes: Any) -> tuple[Any, ...]:
    if isinstance(sizes, (str, bytes)) or not isinstance(sizes, Sequence):
        raise TypeError(f"sizes must be a sequence of ints, got {type(sizes).__name__}")
    return tuple(sizes)


def _length(n: Any, name: str) -> int:
    if isinstance(n, bool) or not hasattr(n, "__index__") or n.__index__() < 1:
        raise ValueError(f"{name} must be an int >= 1, got {n!r}")
    return int(n.__index__())


_REGISTERED: list[bool] = []


def register_with_jax() -> None:
    """Make ``CutMixParams`` a JAX pytree whose ``sizes`` are static (aux
    data): under ``jax.jit`` and ``jax.vmap`` the four arrays are traced and
    the grid stays a tuple of ints. Done once, where JAX is already imported
    (arraymix never imports it)."""
    if _REGISTERED or "jax" not in sys.modules:
        return
    import jax

    def flatten(p: CutMixParams) -> tuple[tuple[Array, ...], tuple[int, ...] | None]:
        return (p.lam, p.perm, p.lower, p.upper), p.sizes

    def unflatten(sizes: tuple[int, ...] | None, leaves: Sequence[Array]) -> CutMixParams:
        lam, perm, lower, upper = leaves
        return CutMixParams(lam, perm, lower, upper, sizes)

    def flatten_draw(p: MixerParams) -> tuple[tuple[Any, ...], tuple[int, ...] | None]:
        # the parts are pytrees themselves
        return (p.lam, p.perm, p.lower, p.upper, p.blend_lam, p.method, p.parts), p.sizes

    def unflatten_draw(sizes: tuple[int, ...] | None, leaves: Sequence[Any]) -> MixerParams:
        lam, perm, lower, upper, blend_lam, method, parts = leaves
        return MixerParams(lam, perm, lower, upper, blend_lam, method, sizes, tuple(parts))

    def flatten_mosaic(p: MosaicParams) -> tuple[tuple[Array, ...], tuple[int, ...] | None]:
        return (p.lam, p.sources, p.centre), p.sizes

    def unflatten_mosaic(sizes: tuple[int, ...] | None,
                         leaves: Sequence[Array]) -> MosaicParams:
        lam, sources, centre = leaves
        return MosaicParams(lam, sources, centre, sizes)

    def flatten_resized(p: ResizeMixParams) -> tuple[tuple[Array, ...], tuple[int, ...] | None]:
        return (p.lam, p.perm, p.lower, p.upper), p.sizes

    def unflatten_resized(sizes: tuple[int, ...] | None,
                          leaves: Sequence[Array]) -> ResizeMixParams:
        lam, perm, lower, upper = leaves
        return ResizeMixParams(lam, perm, lower, upper, sizes)

    jax.tree_util.register_pytree_node(CutMixParams, flatten, unflatten)
    jax.tree_util.register_pytree_node(MosaicParams, flatten_mosaic, unflatten_mosaic)
    jax.tree_util.register_pytree_node(ResizeMixParams, flatten_resized, unflatten_resized)
    jax.tree_util.register_pytree_node(MixerParams, flatten_draw, unflatten_draw)
    _REGISTERED.append(True)


register_with_jax()
