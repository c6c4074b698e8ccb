"""The mixing family beyond MixUp and CutMix: patch grids, FMix, Mosaic and
ResizeMix, each as a ``sample_*`` function (the draws) and a one-call
function (draw, paste, mix the labels).

The draws happen in the generator's library, as in :mod:`._sample`; masks
(FMix, patch grids) are O(B·H·W) booleans and are placed on the data's
device like the other params.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from ._api import _check_call
from ._backends import Reference
from ._backends.reference import partners, per_sample
from ._backends.tuning import current
from ._compat import (
    Array,
    default_float,
    default_index,
    is_jax_array,
    is_torch_array,
    torch_module,
)
from ._labels import Targets, check_not_dense, mix_targets
from ._params import MaskParams, MosaicParams, ResizeMixParams, register_with_jax
from ._random import Source
from ._sample import (
    LamMode,
    Pairing,
    _paired,
    _pairs,
    _place,
    _whole,
    check_draw,
    check_sizes,
    kept_fraction,
)
from ._validate import (
    DEFAULT_AXES,
    check_alpha,
    check_axes,
    check_count,
    check_minmax,
    check_real,
)

__all__ = ["fmix", "mosaic", "patchmix", "resizemix", "sample_fmix", "sample_mosaic",
           "sample_patchmix", "sample_resizemix"]


class _Drawn(NamedTuple):
    """The checked arguments every draw shares."""

    batch: int
    groups: int
    src: Source
    xp: Any
    device: Any
    sizes: tuple[int, ...]


def _checked(rng: Any, batch_size: Any, sizes: Any, lam_mode: Any, pairing: Any,
             groups: Any, xp: Any, device: Any) -> _Drawn:
    """What a ``sample_*`` function checks before it draws."""
    batch, count, src, xp, device = check_draw(rng, batch_size, lam_mode, pairing, groups, xp,
                                               device)
    return _Drawn(batch, count, src, xp, device, check_sizes(sizes, xp, device))


def _top(sxp: Any, sdev: Any, values: Array, count: Array) -> Array:
    """Boolean ``(rows, n)``: True at the ``count[r]`` largest values of each
    row of ``values`` (ties aside): those at or above the value a sort
    would put at position ``n - count[r]`` (no data-dependent shape)."""
    n = values.shape[-1]
    at = sxp.clip(float(n) - count, 0.0, float(n - 1))
    at = sxp.astype(at, default_index(sxp, sdev))
    on_cpu = is_torch_array(values) and values.device.type == "cpu"
    host = values.numpy() if on_cpu else values if isinstance(values, np.ndarray) else None
    if host is not None:
        # the same order statistic by selection, in NumPy (a CPU tensor's
        # view): O(n) a row, where a sort is most of an FMix draw
        rows = (at.numpy() if on_cpu else at).tolist()
        threshold = np.asarray(_select(host, rows), dtype=host.dtype)[:, None]
        if on_cpu:
            threshold = torch_module().from_numpy(threshold)
    elif is_jax_array(values) and values.dtype == sxp.float32:
        threshold = _bisected(values, at)[:, None]
    else:
        ordered = sxp.sort(values, axis=-1)
        threshold = sxp.take_along_axis(ordered, at[:, None], axis=-1)
    return (values >= threshold) & (count[:, None] > 0)


def _bisected(values: Array, at: Array) -> Array:
    """The value at ``at[r]`` of each row of float32 JAX ``values`` sorted
    (NaN last, as ``sort`` puts it): what ``sort`` and ``take`` give, by a
    bisection over the 2**32 orders of float32 values, each step a count
    per row: 32 passes over the values, where XLA's sort of long rows (on
    the CPU, a sort network) makes many more."""
    import jax

    jnp, lax = jax.numpy, jax.lax
    sign = jnp.uint32(0x80000000)
    bits = lax.bitcast_convert_type(jnp.where(jnp.isnan(values), jnp.nan, values), jnp.uint32)
    # an unsigned key in the values' order: negatives reversed below the
    # positives, every NaN one value above +inf
    keys = jnp.where(bits >= sign, ~bits, bits | sign)
    rank = jnp.astype(at, jnp.int32) + 1

    def step(_: Any, bounds: tuple[Array, Array]) -> tuple[Array, Array]:
        low, high = bounds  # the wanted key lies in [low, high]
        middle = low + (high - low) // 2
        enough = jnp.sum(keys <= middle[:, None], axis=-1, dtype=jnp.int32) >= rank
        return jnp.where(enough, low, middle + 1), jnp.where(enough, middle, high)

    rows = values.shape[0]
    start = (jnp.zeros(rows, dtype=jnp.uint32), jnp.full(rows, 0xFFFFFFFF, dtype=jnp.uint32))
    key, _ = lax.fori_loop(0, 32, step, start)
    return lax.bitcast_convert_type(jnp.where(key >= sign, key & ~sign, ~key), jnp.float32)


#: every how many values of a row the bracket's sample takes
_SELECT_STEP = 32


def _select(values: np.ndarray, positions: list[int]) -> list[Any]:
    """The value at ``positions[r]`` of each row of ``values`` sorted: what
    ``np.partition(row, k)[k]`` gives, in less time.

    A sorted sample of each row (every ``_SELECT_STEP``-th value) gives a
    bracket that the order statistic most likely lies in; the values below
    it are only counted and those inside it partitioned. A bracket that
    misses (a count proves it) falls back to the whole row, so the result
    never depends on the sample.
    """
    n = values.shape[-1]
    if n < current().select_bracket_min:
        return [np.partition(row, k)[k] for row, k in zip(values, positions, strict=True)]
    sample = np.sort(values[:, ::_SELECT_STEP], axis=-1)
    m = sample.shape[-1]
    found = []
    for row, ordered, k in zip(values, sample, positions, strict=True):
        q = k * m // n
        # about four standard deviations of where the value falls in the sample
        margin = 8 + int(4.0 * math.sqrt(q * (m - q) / m + 1.0))
        lo = ordered[q - margin] if q >= margin else -np.inf
        hi = ordered[q + margin] if q + margin < m else np.inf
        below = int(np.count_nonzero(row < lo))
        inside = row >= lo
        inside &= row <= hi
        bracket = row[inside]
        j = k - below
        found.append(np.partition(bracket, j)[j] if 0 <= j < bracket.size else
                     np.partition(row, k)[k])
    return found


def _kept(sxp: Any, partner: Array, dtype: Any) -> Array:
    """The fraction of each row of a ``(rows, n)`` mask that is False."""
    n = partner.shape[-1]
    if isinstance(partner, np.ndarray):  # counted without a float copy of the mask
        return kept_fraction(np.count_nonzero(partner, axis=-1).astype(dtype), n)
    return kept_fraction(sxp.sum(sxp.astype(partner, dtype), axis=-1), n)


def _finish_mask(d: _Drawn, lead: tuple[int, ...], grid: tuple[int, ...], partner: Array,
                 lam: Array, lam_mode: str, pairing: str) -> MaskParams:
    """MaskParams from a ``(rows, cells)`` partner mask and its kept
    fractions, in the source's library: shaped, paired and placed."""
    src = d.src
    sxp, sdev = src.xp, src.device
    mask = sxp.reshape(partner, (*lead, *grid))
    lam = sxp.reshape(lam, lead)
    if lam_mode == "pair":
        lam, mask = _paired(src, pairing, d.groups, sxp, sdev, lam, mask)
    return MaskParams(
        lam=_place(sxp, lam, d.xp, default_float(d.xp, d.device), d.device),
        perm=_pairs(src, d.batch, pairing, d.groups, d.xp, d.device),
        mask=_place(sxp, mask, d.xp, d.xp.bool, d.device),
    )


def check_patch(patch: Any, sizes: tuple[int, ...]) -> tuple[int, ...]:
    """The patch's length on each cut axis, each dividing the axis."""
    if isinstance(patch, Sequence) and not isinstance(patch, (str, bytes)):
        if len(patch) != len(sizes):
            raise ValueError(
                f"patch must be an int or one length per cut axis ({len(sizes)}), got "
                f"{len(patch)} lengths"
            )
        lengths = tuple(check_count(p, f"patch[{i}]", minimum=1) for i, p in enumerate(patch))
    else:
        lengths = (check_count(patch, "patch", minimum=1),) * len(sizes)
    for j, (p, n) in enumerate(zip(lengths, sizes, strict=True)):
        if n % p:
            raise ValueError(
                f"patch={p} must divide every cut axis, and axis {j} has length {n} "
                f"({n} = {n // p}·{p} + {n % p}): pick a patch that divides {n}, or crop "
                "the data to a multiple of the patch"
            )
    return lengths


def sample_patchmix(
    rng: Any,
    batch_size: int,
    sizes: Sequence[int],
    /,
    *,
    patch: int | Sequence[int] = 16,
    alpha: float = 1.0,
    lam_mode: LamMode = "batch",
    pairing: Pairing = "permute",
    groups: int | None = None,
    xp: Any = None,
    device: Any = None,
) -> MaskParams:
    """Draw the parameters of a patch-grid mix: which cells of a grid of
    patches come from the partner.

    The cut axes are split into cells of ``patch`` elements per axis (the
    16×16 patches a ViT sees, by default); λ₀ ~ Beta(α, α) and
    ``round((1 − λ₀)·cells)`` cells, chosen uniformly at random, are taken
    from the partner. ``lam`` is the exact fraction of cells kept. Apply the
    result with :func:`paste` (it maps the cell grid to the data's grid, and
    to a mask's or depth map's at the same or a multiple resolution) and the
    labels with :func:`blend`.

    Parameters
    ----------
    rng : None, int, numpy.random.Generator, torch.Generator or JAX key
        As in :func:`sample_mixup`.
    batch_size : int
        Number of samples ``B``.
    sizes : sequence of int
        Lengths of the cut axes, one to three of them.
    patch : int or sequence of int, default 16
        Length of a cell on every cut axis, or one per axis; it must divide
        each axis (a ValueError says which does not).
    alpha : float, default 1.0
        Concentration of Beta(α, α), > 0.
    lam_mode : {"batch", "sample", "pair"}, default "batch"
        One set of cells for the batch (``mask`` of the grid's shape) or one
        per sample (``(B, *grid)``); ``"pair"`` as in :func:`sample_cutmix`.
    pairing, groups, xp, device
        As in :func:`sample_mixup`.

    Returns
    -------
    MaskParams
        ``mask`` on the cell grid: ``sizes[j] // patch[j]`` cells per axis.

    Examples
    --------
    >>> import arraymix
    >>> p = arraymix.sample_patchmix(0, 8, (224, 224), patch=16, lam_mode="sample")
    >>> p.mask.shape, p.lam.shape
    ((8, 14, 14), (8,))
    >>> bool((abs(p.lam - (1 - p.mask.reshape(8, -1).mean(axis=1))) < 1e-12).all())
    True
    """
    alpha = check_alpha(alpha)
    d = _checked(rng, batch_size, sizes, lam_mode, pairing, groups, xp, device)
    lengths = check_patch(patch, d.sizes)
    return draw_patchmix(d, lengths, alpha, lam_mode, pairing)


def draw_patchmix(d: _Drawn, patch: tuple[int, ...], alpha: float, lam_mode: str,
                  pairing: str) -> MaskParams:
    """:func:`sample_patchmix` with its arguments checked."""
    register_with_jax()
    src = d.src
    sxp = src.xp
    lead = () if lam_mode == "batch" else (d.batch,)
    grid = tuple(n // p for n, p in zip(d.sizes, patch, strict=True))
    cells = math.prod(grid)
    lam0 = sxp.reshape(src.beta(alpha, lead), (-1,))
    keys = sxp.reshape(src.uniform((*lead, cells)), (-1, cells))
    count = sxp.round((1.0 - lam0) * float(cells))
    partner = _top(sxp, src.device, keys, count)
    return _finish_mask(d, lead, grid, partner, _kept(sxp, partner, lam0.dtype), lam_mode,
                        pairing)


def sample_fmix(
    rng: Any,
    batch_size: int,
    sizes: Sequence[int],
    /,
    *,
    alpha: float = 1.0,
    decay: float = 3.0,
    lam_mode: LamMode = "batch",
    pairing: Pairing = "permute",
    groups: int | None = None,
    xp: Any = None,
    device: Any = None,
) -> MaskParams:
    """Draw the parameters of an FMix: a mask thresholded from low-frequency
    noise.

    Harris et al., "FMix: Enhancing Mixed Sample Data Augmentation", 2020.
    A random spectrum over the cut axes, scaled by ``1 / f**decay`` (``f``
    the frequency, at least ``1 / max(sizes)``), is transformed back into
    noise; λ₀ ~ Beta(α, α), and the ``round(λ₀·n)`` largest of the ``n``
    noise values keep the sample's own elements, the rest come from the
    partner. ``lam`` is the exact fraction kept, measured on the mask.

    The noise is made in float32 with the array API ``fft`` extension of
    the generator's library (NumPy for an int seed or a NumPy Generator), on
    its device; a library without it raises a TypeError.

    Parameters
    ----------
    rng : None, int, numpy.random.Generator, torch.Generator or JAX key
        As in :func:`sample_mixup`.
    batch_size : int
        Number of samples ``B``.
    sizes : sequence of int
        Lengths of the cut axes, one to three of them: the mask's shape.
    alpha : float, default 1.0
        Concentration of Beta(α, α), > 0.
    decay : float, default 3.0
        How fast the spectrum falls with frequency, >= 0: larger values
        give smoother masks with fewer, larger blobs.
    lam_mode : {"batch", "sample", "pair"}, default "batch"
        One mask for the batch (shape ``sizes``) or one per sample
        (``(B, *sizes)``, O(B·H·W) booleans); ``"pair"`` as in
        :func:`sample_cutmix`.
    pairing, groups, xp, device
        As in :func:`sample_mixup`.

    Returns
    -------
    MaskParams

    Examples
    --------
    >>> import arraymix
    >>> p = arraymix.sample_fmix(0, 4, (32, 32), lam_mode="sample")
    >>> p.mask.shape, p.mask.dtype
    ((4, 32, 32), dtype('bool'))
    >>> bool((abs(p.lam - (1 - p.mask.reshape(4, -1).mean(axis=1))) < 1e-12).all())
    True
    """
    alpha = check_alpha(alpha)
    decay = check_real(decay, "decay", low=0.0, high=math.inf)
    d = _checked(rng, batch_size, sizes, lam_mode, pairing, groups, xp, device)
    return draw_fmix(d, alpha, decay, lam_mode, pairing)


def draw_fmix(d: _Drawn, alpha: float, decay: float, lam_mode: str,
              pairing: str) -> MaskParams:
    """:func:`sample_fmix` with its arguments checked."""
    register_with_jax()
    src = d.src
    sxp, sdev = src.xp, src.device
    fft = getattr(sxp, "fft", None)
    if fft is None:
        raise TypeError(
            "sample_fmix needs the array API fft extension in the generator's library, and "
            f"{getattr(sxp, '__name__', sxp)} has none: pass an int seed or a "
            "numpy.random.Generator (the mask is drawn with NumPy and placed on the device)"
        )
    lead = () if lam_mode == "batch" else (d.batch,)
    sizes = d.sizes
    lam0 = sxp.reshape(src.beta(alpha, lead), (-1,))
    rows = lam0.shape[0]
    kw = {} if sdev is None else {"device": sdev}
    # The noise is made in float32 in every library: only the order of its
    # values is used, and float64 draws and transforms cost several times
    # as much (torch's CPU normals, every FFT).
    real, cdtype = sxp.float32, sxp.complex64
    # the squared frequency of each coefficient of a real transform: the
    # full axes, then half of the last
    half = (*sizes[:-1], sizes[-1] // 2 + 1)
    square = None
    for j, n in enumerate(sizes):
        f = fft.rfftfreq(n, **kw) if j == len(sizes) - 1 else fft.fftfreq(n, **kw)
        shape = [1] * len(sizes)
        shape[j] = half[j]
        term = sxp.reshape(sxp.astype(f, real) ** 2, tuple(shape))
        square = term if square is None else square + term
    assert square is not None
    # 1 / max(f, floor) ** decay up to the constant floor ** -decay, which
    # leaves the order of the noise as it is and keeps a large decay from
    # overflowing float32
    floor = 1.0 / float(max(sizes))
    scale = (floor / sxp.maximum(sxp.sqrt(square), sxp.full_like(square, floor))) ** decay
    parts = src.normal((2, rows, *half))  # float32
    if isinstance(parts, np.ndarray):  # the real and imaginary parts written in place
        spectrum = np.empty(parts.shape[1:], dtype=cdtype)
        np.multiply(parts[0], scale, out=spectrum.real)
        np.multiply(parts[1], scale, out=spectrum.imag)
    elif is_torch_array(parts):  # scaled in place, then one pass into complex
        parts.mul_(scale)
        spectrum = torch_module().complex(parts[0], parts[1])
    else:  # the array API has no complex(real, imag)
        spectrum = (sxp.astype(parts[0] * scale, cdtype)
                    + sxp.astype(parts[1] * scale, cdtype) * 1j)
    axes = tuple(range(1, len(sizes) + 1))
    noise = fft.irfftn(spectrum, s=sizes, axes=axes)
    n = math.prod(sizes)
    noise = sxp.reshape(noise, (rows, n))
    own = _top(sxp, sdev, noise, sxp.round(lam0 * float(n)))
    partner = ~own
    return _finish_mask(d, lead, tuple(sizes), partner, _kept(sxp, partner, lam0.dtype),
                        lam_mode, pairing)


#: Where a Mosaic's centre may fall by default, as fractions of each axis
#: (the middle half, as a 2×2 mosaic cropped to one image's size centres it).
CENTER = (0.25, 0.75)


def _mosaic_pairing(lam_mode: str, pairing: str) -> None:
    if lam_mode == "pair":
        raise ValueError(
            "lam_mode='pair' shares a region between two partners, and a Mosaic has four "
            "sources: use lam_mode='batch' or 'sample'"
        )
    if pairing == "flip":
        raise ValueError(
            "pairing='flip' gives one partner per sample, and a Mosaic needs three different "
            "ones: use pairing='permute', 'derange' or 'roll'"
        )


def sample_mosaic(
    rng: Any,
    batch_size: int,
    sizes: Sequence[int],
    /,
    *,
    center: Sequence[float] = CENTER,
    lam_mode: LamMode = "batch",
    pairing: Pairing = "permute",
    groups: int | None = None,
    xp: Any = None,
    device: Any = None,
) -> MosaicParams:
    """Draw the parameters of a Mosaic: a centre and three partners per sample.

    Bochkovskiy et al., "YOLOv4", 2020, as detection pipelines crop it to
    one image's size: the centre ``(row, col)`` splits each sample into four
    rectangles, and each shows the same region of its source: the sample
    itself top-left, three partners in the others. On each axis of length
    ``n`` the centre is ``floor((lo + (hi − lo)·u)·n)`` for ``u ~ U[0,
    1)``. ``lam`` holds the exact area fractions. Apply with :func:`paste`,
    the labels with :func:`blend`.

    Parameters
    ----------
    rng : None, int, numpy.random.Generator, torch.Generator or JAX key
        As in :func:`sample_mixup`.
    batch_size : int
        Number of samples ``B``.
    sizes : sequence of two ints
        ``(H, W)``.
    center : sequence of two floats, default (0.25, 0.75)
        Where the centre may fall, as fractions ``0 <= lo <= hi <= 1`` of
        each axis.
    lam_mode : {"batch", "sample"}, default "batch"
        One centre for the batch or one per sample.
    pairing : {"permute", "derange", "roll"}, default "permute"
        How each of the three partner columns is drawn: three independent
        permutations, three independent derangements, or the rolls by 1, 2
        and 3 (within each group).
    groups, xp, device
        As in :func:`sample_mixup`.

    Returns
    -------
    MosaicParams

    Examples
    --------
    >>> import arraymix
    >>> p = arraymix.sample_mosaic(0, 8, (32, 32), lam_mode="sample")
    >>> p.centre.shape, p.sources.shape, p.lam.shape
    ((8, 2), (8, 4), (8, 4))
    >>> bool((p.sources[:, 0] == range(8)).all())
    True
    """
    d = _checked(rng, batch_size, sizes, lam_mode, pairing, groups, xp, device)
    _mosaic_pairing(lam_mode, pairing)
    if len(d.sizes) != 2:
        raise ValueError(f"sizes must be (H, W) for a Mosaic, got {len(d.sizes)} lengths")
    span = check_minmax(center, "center", "centre fractions")
    assert span is not None
    return draw_mosaic(d, span, lam_mode, pairing)


def draw_mosaic(d: _Drawn, span: tuple[float, float], lam_mode: str,
                pairing: str) -> MosaicParams:
    """:func:`sample_mosaic` with its arguments checked."""
    register_with_jax()
    src = d.src
    sxp, sdev = src.xp, src.device
    lead = () if lam_mode == "batch" else (d.batch,)
    unit = src.uniform((*lead, 2))
    size = _whole(sxp, sdev, d.sizes, unit.dtype)
    low, high = span
    centre = sxp.minimum(sxp.floor((low + (high - low) * unit) * size), size)
    rows, cols = centre[..., 0], centre[..., 1]
    height, width = size[0], size[1]
    lam = sxp.stack([rows * cols, rows * (width - cols), (height - rows) * cols,
                     (height - rows) * (width - cols)], axis=-1) / float(math.prod(d.sizes))
    idx = default_index(d.xp, d.device)
    own = d.xp.arange(d.batch, dtype=idx, device=d.device)
    if pairing == "roll":
        n = max(d.batch // d.groups, 1)
        columns = [own - own % n + (own - s) % n for s in (1, 2, 3)]
    else:
        columns = [_pairs(src, d.batch, pairing, d.groups, d.xp, d.device) for _ in range(3)]
    return MosaicParams(
        lam=_place(sxp, lam, d.xp, default_float(d.xp, d.device), d.device),
        sources=d.xp.stack([own, *columns], axis=1),
        centre=_place(sxp, sxp.astype(centre, default_index(sxp, sdev)), d.xp, idx, d.device),
        sizes=tuple(d.sizes),
    )


#: The default range of a ResizeMix box side, as a fraction of each axis.
SCALE = (0.1, 0.8)


def sample_resizemix(
    rng: Any,
    batch_size: int,
    sizes: Sequence[int],
    /,
    *,
    scale: Sequence[float] = SCALE,
    lam_mode: LamMode = "batch",
    pairing: Pairing = "permute",
    groups: int | None = None,
    xp: Any = None,
    device: Any = None,
) -> ResizeMixParams:
    """Draw the parameters of a ResizeMix: a box into which the whole
    partner is resized.

    Qin et al., "ResizeMix: Mixing Data with Preserved Object Information
    and True Labels", 2020. τ ~ U(lo, hi) from ``scale``; on each cut axis of
    length ``n`` the box side is ``floor(τ·n)`` and its start is uniform
    over the places where it fits. ``lam`` is the exact fraction outside the
    box. Apply with :func:`paste` (which resizes), the labels with
    :func:`blend`.

    Parameters
    ----------
    rng : None, int, numpy.random.Generator, torch.Generator or JAX key
        As in :func:`sample_mixup`.
    batch_size : int
        Number of samples ``B``.
    sizes : sequence of int
        Lengths of the cut axes, one to three of them.
    scale : sequence of two floats, default (0.1, 0.8)
        The range of τ, the box side as a fraction of each axis,
        ``0 <= lo <= hi <= 1``.
    lam_mode : {"batch", "sample", "pair"}, default "batch"
        One box for the batch or one per sample; ``"pair"`` as in
        :func:`sample_cutmix`.
    pairing, groups, xp, device
        As in :func:`sample_mixup`.

    Returns
    -------
    ResizeMixParams

    Examples
    --------
    >>> import arraymix
    >>> p = arraymix.sample_resizemix(0, 8, (32, 32), lam_mode="sample")
    >>> side = p.upper - p.lower
    >>> bool(((side >= 3) & (side <= 25)).all()), bool((side[:, 0] == side[:, 1]).all())
    (True, True)
    """
    d = _checked(rng, batch_size, sizes, lam_mode, pairing, groups, xp, device)
    span = check_minmax(scale, "scale", "box side fractions")
    assert span is not None
    return draw_resizemix(d, span, lam_mode, pairing)


def draw_resizemix(d: _Drawn, span: tuple[float, float], lam_mode: str,
                   pairing: str) -> ResizeMixParams:
    """:func:`sample_resizemix` with its arguments checked."""
    register_with_jax()
    src = d.src
    sxp, sdev = src.xp, src.device
    lead = () if lam_mode == "batch" else (d.batch,)
    k = len(d.sizes)
    draws = src.uniform((*lead, k + 1))
    size = _whole(sxp, sdev, d.sizes, draws.dtype)
    low, high = span
    tau = low + (high - low) * draws[..., :1]
    side = sxp.minimum(sxp.floor(tau * size), size)
    room = size - side
    lower = sxp.minimum(sxp.floor(draws[..., 1:] * (room + 1.0)), room)
    upper = lower + side
    lam = kept_fraction(sxp.prod(side, axis=-1), math.prod(d.sizes))
    if lam_mode == "pair":
        lam, lower, upper = _paired(src, pairing, d.groups, sxp, sdev, lam, lower, upper)
    index = default_index(sxp, sdev)
    idx = default_index(d.xp, d.device)
    return ResizeMixParams(
        lam=_place(sxp, sxp.asarray(lam), d.xp, default_float(d.xp, d.device), d.device),
        perm=_pairs(src, d.batch, pairing, d.groups, d.xp, d.device),
        lower=_place(sxp, sxp.astype(lower, index), d.xp, idx, d.device),
        upper=_place(sxp, sxp.astype(upper, index), d.xp, idx, d.device),
        sizes=tuple(d.sizes),
    )


def _drawn_for(x: Array, c: Any, cut_axes: tuple[int, ...], method: str) -> _Drawn:
    """A :class:`_Drawn` for a one-call function, from what it checked."""
    sizes = check_sizes([x.shape[a] for a in cut_axes], c.backend.xp, c.device)
    check_not_dense(c.targets, sizes, cut_axes, method=method)
    return _Drawn(c.batch, c.groups, c.source, c.backend.xp, c.device, sizes)


_ONE_CALL = """
    Parameters
    ----------
    x : array
        Batch with samples on axis 0, any real dtype.
    y : array, optional
        As in :func:`mixup`: class ids (with ``num_classes``) or soft rows,
        weighted by the fraction each source contributes. Targets laid out
        over the cut axes raise a ValueError: paste them with the same
        params instead.
    axes : sequence of int, default (-2, -1)
        The cut axes, as in :func:`cutmix`.
    num_classes, label_smoothing, lam_mode, pairing, groups, rng, union
        As in :func:`cutmix`.
    out : array, optional
        Where to write the mixed batch; may be ``x`` itself.

    Returns
    -------
    x_mixed : array
        Same shape, dtype, library and device as ``x``.
    y_mixed : array or None
        The mixed targets: rows sum to 1 (with ``union``, elementwise maxima).
"""


def patchmix(
    x: Array,
    y: Array | None = None,
    /,
    *,
    patch: int | Sequence[int] = 16,
    alpha: float = 1.0,
    axes: Sequence[int] = DEFAULT_AXES,
    num_classes: int | None = None,
    label_smoothing: float = 0.0,
    lam_mode: LamMode = "batch",
    pairing: Pairing = "permute",
    groups: int | None = None,
    rng: Any = None,
    out: Array | None = None,
    union: bool = False,
) -> tuple[Array, Array | None]:
    """Patch-grid mixing: a random set of grid cells of each sample taken
    from its partner (see :func:`sample_patchmix`; ``patch`` must divide
    each cut axis).

    Examples
    --------
    >>> import numpy as np
    >>> import arraymix
    >>> x = np.zeros((8, 3, 32, 32), dtype=np.float32)
    >>> xm, ym = arraymix.patchmix(x, np.arange(8), patch=8, num_classes=10, rng=0)
    >>> xm.shape, ym.shape, bool(np.allclose(ym.sum(axis=1), 1))
    ((8, 3, 32, 32), (8, 10), True)
    """
    c = _check_call(x, y, alpha, num_classes, label_smoothing, lam_mode, pairing, groups, out,
                    rng, union)
    cut_axes = check_axes(axes, x.ndim, shape=x.shape)
    d = _drawn_for(x, c, cut_axes, "patchmix")
    p = draw_patchmix(d, check_patch(patch, d.sizes), c.alpha, lam_mode, pairing)
    return (c.backend.paste_mask(x, p.perm, p.mask, cut_axes, out, c.groups),
            mix_targets(c.backend, c.targets, p, c.groups))


def fmix(
    x: Array,
    y: Array | None = None,
    /,
    *,
    alpha: float = 1.0,
    decay: float = 3.0,
    axes: Sequence[int] = DEFAULT_AXES,
    num_classes: int | None = None,
    label_smoothing: float = 0.0,
    lam_mode: LamMode = "batch",
    pairing: Pairing = "permute",
    groups: int | None = None,
    rng: Any = None,
    out: Array | None = None,
    union: bool = False,
) -> tuple[Array, Array | None]:
    """FMix: each sample takes its partner's values where a mask of
    low-frequency noise says (see :func:`sample_fmix`).

    Examples
    --------
    >>> import numpy as np
    >>> import arraymix
    >>> x = np.zeros((8, 3, 32, 32), dtype=np.uint8)
    >>> xm, ym = arraymix.fmix(x, np.arange(8), num_classes=10, lam_mode="sample", rng=0)
    >>> xm.dtype, ym.shape
    (dtype('uint8'), (8, 10))
    """
    c = _check_call(x, y, alpha, num_classes, label_smoothing, lam_mode, pairing, groups, out,
                    rng, union)
    decay = check_real(decay, "decay", low=0.0, high=math.inf)
    cut_axes = check_axes(axes, x.ndim, shape=x.shape)
    d = _drawn_for(x, c, cut_axes, "fmix")
    p = draw_fmix(d, c.alpha, decay, lam_mode, pairing)
    return (c.backend.paste_mask(x, p.perm, p.mask, cut_axes, out, c.groups),
            mix_targets(c.backend, c.targets, p, c.groups))


def mosaic(
    x: Array,
    y: Array | None = None,
    /,
    *,
    center: Sequence[float] = CENTER,
    axes: Sequence[int] = DEFAULT_AXES,
    num_classes: int | None = None,
    label_smoothing: float = 0.0,
    lam_mode: LamMode = "batch",
    pairing: Pairing = "permute",
    groups: int | None = None,
    rng: Any = None,
    out: Array | None = None,
    union: bool = False,
) -> tuple[Array, Array | None]:
    """Mosaic: each sample split into four rectangles around a random
    centre, three of them from partners (see :func:`sample_mosaic`; two
    cut axes, ``pairing`` not ``"flip"``, ``lam_mode`` not ``"pair"``).

    Examples
    --------
    >>> import numpy as np
    >>> import arraymix
    >>> x = np.zeros((8, 32, 32, 3), dtype=np.uint8)       # NHWC
    >>> xm, ym = arraymix.mosaic(x, np.arange(8), num_classes=10, axes=(1, 2), rng=0)
    >>> xm.shape, bool(np.allclose(ym.sum(axis=1), 1))
    ((8, 32, 32, 3), True)
    """
    c = _check_call(x, y, 1.0, num_classes, label_smoothing, lam_mode, pairing, groups, out,
                    rng, union)
    _mosaic_pairing(lam_mode, pairing)
    cut_axes = check_axes(axes, x.ndim, shape=x.shape)
    if len(cut_axes) != 2:
        raise ValueError(f"a Mosaic needs two cut axes (height, width), got axes={axes}")
    span = check_minmax(center, "center", "centre fractions")
    assert span is not None
    d = _drawn_for(x, c, cut_axes, "mosaic")
    p = draw_mosaic(d, span, lam_mode, pairing)
    return (c.backend.mosaic(x, p.sources, p.centre, cut_axes, out, c.groups),
            mosaic_targets(c.backend, c.targets, p, c.groups))


def mosaic_targets(backend: Reference, t: Targets | None, p: MosaicParams,
                   groups: int) -> Array | None:
    """The targets of a Mosaic: each sample's rows weighted by its four
    sources' area fractions (with ``union``: the maximum over the sources
    that show)."""
    if t is None:
        return None
    xp = backend.xp
    if t.num_classes is None:
        rows = t.y
        if t.smoothing:
            rows = (1 - t.smoothing) * rows + t.smoothing / rows.shape[-1]
    else:
        rows = backend.one_hot(t.y, t.num_classes, t.smoothing, t.dtype)
    if not t.union:
        return backend.blend_sources(rows, p.lam, p.sources, None, groups)
    best = None
    for q in range(4):
        shows = p.lam[..., q] > 0
        if shows.ndim:
            shows = per_sample(xp, shows, rows.ndim)
        seen = xp.where(shows, partners(xp, rows, p.sources[:, q], groups),
                        xp.zeros_like(rows))
        best = seen if best is None else xp.maximum(best, seen)
    return best


def resizemix(
    x: Array,
    y: Array | None = None,
    /,
    *,
    scale: Sequence[float] = SCALE,
    axes: Sequence[int] = DEFAULT_AXES,
    interpolation: str | None = None,
    num_classes: int | None = None,
    label_smoothing: float = 0.0,
    lam_mode: LamMode = "batch",
    pairing: Pairing = "permute",
    groups: int | None = None,
    rng: Any = None,
    out: Array | None = None,
    union: bool = False,
) -> tuple[Array, Array | None]:
    """ResizeMix: the whole partner resized into a box of each sample (see
    :func:`sample_resizemix`; ``interpolation`` as in :func:`paste`).

    Examples
    --------
    >>> import numpy as np
    >>> import arraymix
    >>> x = np.random.default_rng(0).random((8, 3, 32, 32), dtype=np.float32)
    >>> xm, ym = arraymix.resizemix(x, np.arange(8), num_classes=10, rng=0)
    >>> xm.dtype, bool(np.allclose(ym.sum(axis=1), 1))
    (dtype('float32'), True)
    """
    from ._apply import _nearest

    c = _check_call(x, y, 1.0, num_classes, label_smoothing, lam_mode, pairing, groups, out,
                    rng, union)
    nearest = _nearest(c.backend.xp, x, interpolation)
    cut_axes = check_axes(axes, x.ndim, shape=x.shape)
    span = check_minmax(scale, "scale", "box side fractions")
    assert span is not None
    d = _drawn_for(x, c, cut_axes, "resizemix")
    p = draw_resizemix(d, span, lam_mode, pairing)
    return (c.backend.resize_paste(x, p.perm, p.lower, p.upper, cut_axes, nearest, out,
                                   c.groups),
            mix_targets(c.backend, c.targets, p, c.groups))


for _f in (patchmix, fmix, mosaic, resizemix):
    _doc = _f.__doc__ or ""
    _head, _, _tail = _doc.partition("\n    Examples")
    _f.__doc__ = _head.rstrip() + "\n" + _ONE_CALL + "\n    Examples" + _tail
del _f, _doc, _head, _tail
