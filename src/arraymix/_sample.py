"""Drawing the parameters of a mix: the only place where randomness enters.

The draws happen in the generator's own library (see :mod:`._random`); the
O(batch) result is then placed in the data's library and on its device, so
blending never waits on the host.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

from ._backends import current, torch_cuda
from ._compat import (
    Array,
    default_float,
    default_index,
    from_host,
    library,
    namespace_of,
    numpy_twins,
    to_device,
    torch_module,
)
from ._compat import device as array_device
from ._params import CutMixParams, MixParams, register_with_jax
from ._random import Source, _NumpySource, source
from ._validate import (
    LAM_MODES,
    check_alpha,
    check_bool,
    check_choice,
    check_count,
    check_groups,
    check_minmax,
    check_pair_mode,
    check_pairing,
    check_revision,
)

__all__ = ["check_cut_range", "check_sizes", "check_target", "draw_cutmix", "draw_mixup",
           "sample_cutmix", "sample_mixup", "shared_in_pairs"]

LamMode = Literal["batch", "sample", "pair"]
Pairing = Literal["permute", "derange", "flip", "roll"]


def check_target(src: Source, xp: Any, device: Any) -> tuple[Any, Any]:
    """The namespace and device the parameters go to (default: the source's)."""
    if xp is not None and xp is src.xp and device == src.device:
        return xp, device  # where the source draws: nothing to check
    if xp is None:
        _check_device(src.xp, device)
        return src.xp, src.device if device is None else device
    try:
        xp = namespace_of(xp)
    except (AttributeError, TypeError):
        raise TypeError(
            "xp must be an array library or its array API namespace (numpy, torch, "
            f"jax.numpy, ...), got {xp!r}"
        ) from None
    check_revision(xp, "xp")
    have, want = library(src.xp), library(xp)
    if have not in ("numpy", want):
        raise TypeError(
            f"rng draws {have} arrays, which cannot be placed in xp={want}: pass an "
            "int seed or a numpy.random.Generator instead"
        )
    _check_device(xp, device)
    return xp, device


#: (library, device) pairs already checked: a call checks each once.
_DEVICES_SEEN: set[tuple[str, Any]] = set()


def _check_device(xp: Any, device: Any) -> None:
    """``device`` is None or one of ``xp``'s devices; a ValueError naming it
    otherwise (not the library's own error from deep inside a draw)."""
    if device is None:
        return
    try:
        key: tuple[str, Any] | None = (library(xp), device)
        seen = key in _DEVICES_SEEN
    except TypeError:  # a device that cannot be a key
        key, seen = None, False
    if seen:
        return
    try:
        xp.empty(0, device=device)
    except Exception as e:  # each library raises its own kind
        raise ValueError(
            f"device={device!r} is not a device of {library(xp)} here: {e}"
        ) from None
    if key is not None:
        _DEVICES_SEEN.add(key)


def _place(have: Any, a: Array, xp: Any, dtype: Any, device: Any) -> Array:
    """Put an array of namespace ``have`` in ``xp`` on ``device`` with ``dtype``.

    Within one library only the dtype (and a real device change) is applied:
    JAX tracers under ``jit`` / ``vmap`` have no device of their own, and
    asking ``asarray`` to place one fails under ``vmap``.
    """
    if library(have) != library(xp):
        return from_host(xp, a, dtype, device)
    if a.dtype != dtype:
        a = xp.astype(a, dtype)
    here = array_device(a)
    if device is None or here is None or here == device:
        return a
    return to_device(xp, a, device)


def _pairs(src: Source, batch_size: int, pairing: str, groups: int, xp: Any,
           device: Any) -> Array:
    """The partner of each sample: ``perm[i]`` is mixed into sample ``i``.

    The batch is ``groups`` contiguous groups of ``n = B / groups`` samples,
    and partners stay inside their group.
    """
    idx = default_index(xp, device)
    n = batch_size // groups if groups else 0
    if pairing in ("flip", "roll"):
        local = xp.arange(n, dtype=idx, device=device)
        local = (n - 1 - local) if pairing == "flip" else xp.roll(local, 1)
        if groups == 1:
            return local
        offsets = xp.arange(0, batch_size, max(n, 1), dtype=idx, device=device)
        return xp.reshape(local[None, :] + offsets[:, None], (batch_size,))
    sxp = src.xp
    if groups == 1 and pairing == "permute":  # the common case, in one draw
        return _place(src.xp, src.permutation(batch_size), xp, idx, device)
    # one group keeps the library's own permutation (and earlier seeds' draws)
    sigma = src.permutation(batch_size)[None, :] if groups == 1 else src.permutations(groups, n)
    if pairing == "derange":
        # One random cycle through each group: sigma[i] takes sigma[i + 1].
        # As a map j -> perm[j] this is perm = sigma[(sigma^-1 + 1) % n],
        # and a single cycle of length >= 2 has no fixed point.
        inverse = sxp.argsort(sigma, axis=1)
        sigma = sxp.take_along_axis(sigma, (inverse + 1) % n, axis=1)
    if groups > 1:
        offsets = sxp.arange(groups, dtype=sigma.dtype, device=src.device) * n
        sigma = sigma + offsets[:, None]
    perm = sxp.reshape(sigma, (batch_size,))
    return _place(src.xp, perm, xp, idx, device)


def sample_mixup(
    rng: Any,
    batch_size: int,
    /,
    *,
    alpha: float = 0.2,
    lam_mode: LamMode = "batch",
    pairing: Pairing = "permute",
    groups: int | None = None,
    xp: Any = None,
    device: Any = None,
) -> MixParams:
    """Draw the parameters of one MixUp: the weights λ and the partners.

    λ ~ Beta(α, α), one for the batch or one per sample; partners as chosen
    by ``pairing``. Apply the result with :func:`blend`, to as many arrays
    of the batch as needed.

    Parameters
    ----------
    rng : None, int, numpy.random.Generator, torch.Generator or JAX key
        Where the randomness comes from. ``None`` draws fresh OS entropy; an
        ``int`` seed gives the same parameters on every call and in every
        library; a ``torch.Generator`` draws on its own device; a JAX key is
        split, never reused, and works under ``jax.jit``.
    batch_size : int
        Number of samples ``B`` (``0`` gives empty parameters).
    alpha : float, default 0.2
        Concentration of the Beta(α, α) distribution, > 0. Small values keep
        λ near 0 or 1 (light mixing); 1 is uniform.
    lam_mode : {"batch", "sample", "pair"}, default "batch"
        One λ for the whole batch (shape ``()``), or one per sample
        (shape ``(B,)``). ``"pair"`` (timm's ``mode="pair"``; needs
        ``pairing="flip"``): one per pair of partners, shape ``(B,)`` with
        ``lam[i] == lam[perm[i]]``, so both weigh themselves alike.
    pairing : {"permute", "derange", "flip", "roll"}, default "permute"
        ``"permute"``: a uniformly random permutation. ``"derange"``: a random
        cycle through all samples, so no sample is mixed with itself (needs
        ``B >= 2``). ``"flip"``: sample ``i`` with ``B-1-i``. ``"roll"``:
        sample ``i`` with ``i-1``. ``flip`` and ``roll`` draw nothing.
    groups : int, optional
        Split the batch into this many equal contiguous groups and pair
        samples only inside their group (``B`` must be a multiple). With
        groups = the number of devices, shards or chunks a batch is split
        over, mixing reads no other device's data; pass the same ``groups``
        to :func:`blend` / :func:`paste`. Default: one group, the whole batch.
    xp : array namespace, optional
        Library of the returned arrays. Default: the generator's own (NumPy
        for ``None``, seeds and NumPy generators).
    device : device, optional
        Device of the returned arrays. Default: the generator's device.

    Returns
    -------
    MixParams
        ``lam`` (the default real floating dtype of ``xp``) and ``perm`` (its
        default index dtype).

    Raises
    ------
    ValueError
        ``alpha`` not finite and > 0, ``batch_size`` negative, an unknown
        ``lam_mode`` or ``pairing``, ``"derange"`` with one sample,
        ``lam_mode="pair"`` with a pairing other than ``"flip"``.
    TypeError
        ``rng`` of another kind, or one whose library cannot produce ``xp``.

    Examples
    --------
    >>> import arraymix
    >>> p = arraymix.sample_mixup(0, 4, alpha=0.4, lam_mode="sample")
    >>> p.lam.shape, sorted(p.perm.tolist())
    ((4,), [0, 1, 2, 3])
    >>> bool(((p.lam >= 0) & (p.lam <= 1)).all())
    True
    >>> q = arraymix.sample_mixup(0, 4, lam_mode="pair", pairing="flip")
    >>> q.perm.tolist(), bool((q.lam == q.lam[q.perm]).all())
    ([3, 2, 1, 0], True)
    """
    alpha = check_alpha(alpha)
    batch, count, src, xp, device = check_draw(rng, batch_size, lam_mode, pairing, groups, xp,
                                               device)
    return draw_mixup(src, batch, alpha, lam_mode, pairing, count, xp, device)


def check_draw(rng: Any, batch_size: Any, lam_mode: Any, pairing: Any, groups: Any, xp: Any,
               device: Any) -> tuple[int, int, Source, Any, Any]:
    """What every ``sample_*`` function checks of the batch, its pairing and
    the generator: the batch size, the group count, the source of the draws
    and the library and device of the params."""
    batch = check_count(batch_size, "batch_size")
    check_choice(lam_mode, "lam_mode", LAM_MODES)
    check_pairing(pairing, batch)
    check_pair_mode(lam_mode, pairing)
    count = check_groups(groups, batch, pairing)
    src = source(rng)
    xp, device = check_target(src, xp, device)
    return batch, count, src, xp, device


def draw_mixup(src: Source, batch_size: int, alpha: float, lam_mode: str, pairing: str,
               groups: int, xp: Any, device: Any) -> MixParams:
    """:func:`sample_mixup` with its arguments checked, from ``src``."""
    lead = () if lam_mode == "batch" else (batch_size,)
    if (type(src) is _NumpySource and lam_mode != "pair" and pairing == "permute"
            and groups == 1):
        if xp is src.xp and device in (None, src.device):
            # NumPy draws for NumPy arrays: already float64 (the default) and
            # intp (the index dtype) where they go
            lam = src.beta(alpha, lead)  # λ first, the partners next: the streams' order
            perm = src.permutation(batch_size)
            return MixParams(lam, perm if perm.dtype == np.intp else perm.astype(np.intp))
        if getattr(device, "type", None) == "cpu" and library(xp) == "torch":
            # and for CPU tensors: cast on the NumPy side, then shared, as
            # from_host does in more steps
            torch = torch_module()
            twin = numpy_twins(torch).get(default_float(xp, device))
            if twin is not None:
                lam = src.beta(alpha, lead).astype(twin)
                perm = src.permutation(batch_size).astype(np.int64, copy=False)
                return MixParams(torch.from_numpy(lam), torch.from_numpy(perm))
    fused = _in_one_kernel(src, batch_size, alpha, lam_mode, pairing, groups, xp, device)
    if fused is not None:
        return MixParams(lam=fused[0], perm=fused[3])
    lam = src.beta(alpha, lead)
    lxp, ldev = src.xp, src.device
    if lam_mode == "pair":  # shared on the host if the draws are there, as sample_cutmix does
        host = src.host(lam)
        if host is not None:
            lxp, ldev, lam = namespace_of(np), "cpu", host
        (lam,) = _paired(src, pairing, groups, lxp, ldev, lam)
    return MixParams(
        lam=_place(lxp, lam, xp, default_float(xp, device), device),
        perm=_pairs(src, batch_size, pairing, groups, xp, device),
    )


def sample_cutmix(
    rng: Any,
    batch_size: int,
    sizes: Sequence[int],
    /,
    *,
    alpha: float = 1.0,
    lam_mode: LamMode = "batch",
    pairing: Pairing = "permute",
    correct_lam: bool = True,
    minmax: Sequence[float] | None = None,
    groups: int | None = None,
    xp: Any = None,
    device: Any = None,
) -> CutMixParams:
    """Draw the parameters of one CutMix: partners, boxes and label weights.

    λ₀ ~ Beta(α, α); on each of the ``k`` cut axes the box side is
    ``floor(size · (1 − λ₀) ** (1 / k))`` (√(1 − λ₀) for images, as in the
    paper), its centre uniform over the axis, and the box is clipped at the
    borders. Apply the result with :func:`paste` (and the labels with
    :func:`blend`).

    With ``minmax=(lo, hi)`` (timm's ``cutmix_minmax``) no λ₀ is drawn:
    on each cut axis of length ``n`` the side is a whole number drawn
    uniformly from ``floor(lo · n)`` up to, not including,
    ``floor(hi · n)`` (exactly ``floor(lo · n)`` where the two meet), and
    the box is placed uniformly where it fits inside the axis.

    Parameters
    ----------
    rng : None, int, numpy.random.Generator, torch.Generator or JAX key
        As in :func:`sample_mixup`.
    batch_size : int
        Number of samples ``B``.
    sizes : sequence of int
        Lengths of the cut axes, one to three of them: ``(H, W)`` for images,
        ``(T,)`` for audio, ``(D, H, W)`` for volumes. At most 2**53 each
        (the boxes are computed in floating point).
    alpha : float, default 1.0
        Concentration of Beta(α, α), > 0.
    lam_mode : {"batch", "sample", "pair"}, default "batch"
        One box for the batch (``lower``/``upper`` of shape ``(k,)``) or one
        per sample (shape ``(B, k)``). ``"pair"`` (timm's ``mode="pair"``;
        needs ``pairing="flip"``): one per pair of partners, shape ``(B, k)``,
        so partners swap the same region.
    pairing : {"permute", "derange", "flip", "roll"}, default "permute"
        As in :func:`sample_mixup`.
    groups : int, optional
        Pair inside equal contiguous groups, as in :func:`sample_mixup`.
    correct_lam : bool, default True
        If True, ``lam`` is exactly the fraction of elements not pasted over,
        ``1 − prod(upper − lower) / prod(sizes)``; if False it is λ₀, which
        overstates the kept fraction when the box is clipped.
    minmax : sequence of two floats, optional
        The shortest and longest box side as fractions of each cut axis,
        ``0 <= lo <= hi <= 1``, drawn as described above instead of from λ₀
        (``alpha`` is then not used, and ``lam`` is always the kept
        fraction: ``correct_lam=False`` raises a ValueError).
    xp, device : optional
        Library and device of the returned arrays, as in :func:`sample_mixup`.

    Returns
    -------
    CutMixParams

    Examples
    --------
    >>> import arraymix
    >>> p = arraymix.sample_cutmix(0, 8, (32, 32), lam_mode="sample")
    >>> p.lower.shape, p.upper.shape, p.lam.shape
    ((8, 2), (8, 2), (8,))
    >>> area = (p.upper - p.lower).prod(axis=1)
    >>> bool(abs(p.lam - (1 - area / 1024)).max() < 1e-12)
    True
    >>> q = arraymix.sample_cutmix(0, 8, (32, 32), minmax=(0.25, 0.75))
    >>> bool(((q.upper - q.lower >= 8) & (q.upper - q.lower < 24)).all())
    True
    """
    alpha = check_alpha(alpha)
    batch_size = check_count(batch_size, "batch_size")
    check_choice(lam_mode, "lam_mode", LAM_MODES)
    check_pairing(pairing, batch_size)
    check_pair_mode(lam_mode, pairing)
    count = check_groups(groups, batch_size, pairing)
    check_bool(correct_lam, "correct_lam")
    box_range = check_cut_range(minmax, correct_lam)
    src = source(rng)
    xp, device = check_target(src, xp, device)
    checked = check_sizes(sizes, xp, device)
    return draw_cutmix(src, batch_size, checked, alpha, lam_mode, pairing, correct_lam,
                       box_range, count, xp, device)


def check_cut_range(minmax: Any, correct_lam: bool, name: str = "minmax",
                    lam_name: str = "correct_lam") -> tuple[float, float] | None:
    """``minmax`` checked, and consistent with ``correct_lam``."""
    box_range = check_minmax(minmax, name)
    if box_range is not None and not correct_lam:
        raise ValueError(
            f"{lam_name}=False asks for lam = λ₀, and boxes drawn from {name} have no λ₀: "
            f"their lam is always the kept fraction; leave {lam_name}=True"
        )
    return box_range


def draw_cutmix(src: Source, batch_size: int, sizes: tuple[int, ...], alpha: float,
                lam_mode: str, pairing: str, correct_lam: bool,
                minmax: tuple[float, float] | None, groups: int, xp: Any,
                device: Any) -> CutMixParams:
    """:func:`sample_cutmix` with its arguments checked, from ``src``."""
    register_with_jax()  # a JAX user's params keep their grid static under jit
    lead, k = (() if lam_mode == "batch" else (batch_size,)), len(sizes)
    fused = None if minmax is not None else _in_one_kernel(
        src, batch_size, alpha, lam_mode, pairing, groups, xp, device, sizes, correct_lam)
    if fused is not None:
        lam, lower, upper, perm = fused
        return CutMixParams(lam=lam, perm=perm, lower=lower, upper=upper, sizes=tuple(sizes))
    if minmax is None:
        draws = [src.beta(alpha, lead), src.uniform((*lead, k))]
    else:
        draws = [src.uniform((*lead, 2, k))]
    # The boxes are a few numbers: where the draws lie in host memory they
    # are computed there (a torch kernel's dispatch costs more than the
    # arithmetic), one box from λ₀ in Python floats (cheaper than a NumPy
    # call per number).
    # Elsewhere, on the draws' device, with nothing copied from the host.
    host = [src.host(a) for a in draws]
    on_host = all(h is not None for h in host)
    sxp, sdev = (namespace_of(np), "cpu") if on_host else (src.xp, src.device)
    if on_host:
        draws = host
    if minmax is not None:
        lam, lower, upper = _minmax_boxes(sxp, sdev, draws[0], sizes, minmax)
    elif on_host and lam_mode == "batch":
        kept, low, high = _one_box(float(draws[0]), draws[1].tolist(), sizes, correct_lam)
        lam, lower, upper = np.asarray(kept), np.asarray(low), np.asarray(high)
    else:
        lam0, unit = draws
        size = _whole(sxp, sdev, sizes, lam0.dtype)
        lam, lower, upper = _boxes(sxp, sdev, lam0, unit, size, sizes, correct_lam)
    if lam_mode == "pair":
        lam, lower, upper = _paired(src, pairing, groups, sxp, sdev, lam, lower, upper)
    src_idx, idx = default_index(sxp, sdev), default_index(xp, device)
    return CutMixParams(
        lam=_place(sxp, lam, xp, default_float(xp, device), device),
        perm=_pairs(src, batch_size, pairing, groups, xp, device),
        lower=_place(sxp, sxp.astype(lower, src_idx), xp, idx, device),
        upper=_place(sxp, sxp.astype(upper, src_idx), xp, idx, device),
        sizes=tuple(sizes),
    )


def _in_one_kernel(src: Source, batch_size: int, alpha: float, lam_mode: str, pairing: str,
                   groups: int, xp: Any, device: Any, sizes: tuple[int, ...] = (),
                   correct_lam: bool = True) -> tuple[Array, Any, Any, Array] | None:
    """λ, the boxes' bounds (None without ``sizes``) and the partners, where
    one kernel can make them from a torch.Generator's draws
    (``torch_cuda.draws_usable``: on a GPU, the arrays asked on its device); else
    None, and nothing is drawn. The draws are the ones torch's operations
    take, in their order: the Beta's parts, the boxes' uniforms, then the
    keys a permutation sorts, which the kernel ranks for pairing
    ``"permute"`` up to ``Tuning.rank_max`` samples (others: :func:`_pairs`,
    after). Pairs share their draws through the array API path."""
    parts = getattr(src, "beta_parts", None)
    if (parts is None or lam_mode == "pair"
            or not torch_cuda.draws_usable(src.device, device, sizes)):
        return None
    lead = () if lam_mode == "batch" else (batch_size,)
    gamma, expo = parts(alpha, lead)
    unit = src.uniform((*lead, len(sizes))) if sizes else None
    ranked = pairing == "permute" and 0 < batch_size <= current().rank_max
    keys = src.uniform((batch_size,)) if ranked else None
    lam, lower, upper, perm = torch_cuda.fused_draws(
        gamma, expo, alpha, default_float(xp, device), default_index(xp, device), unit, sizes,
        correct_lam, keys, groups)
    if perm is None:
        perm = _pairs(src, batch_size, pairing, groups, xp, device)
    return lam, lower, upper, perm


def _whole(sxp: Any, sdev: Any, values: Sequence[int], dtype: Any) -> Array:
    """Whole numbers as a 1-d floating array where the boxes are computed,
    each rounded down to one ``dtype`` holds (:func:`_at_most`). Off the
    host they are filled on the draws' device, as ``asarray`` would copy
    from the host and, on torch CUDA, wait for the device."""
    whole = [float(_at_most(v, sxp, dtype)) for v in values]
    if library(sxp) == "numpy":
        return np.asarray(whole, dtype=dtype)
    return sxp.stack([sxp.full((), v, dtype=dtype, device=sdev) for v in whole])


def kept_fraction(taken: Any, total: int) -> Any:
    """``1 − taken / total`` as ``(total − taken) · (1 / total)``, the
    reciprocal a Python float: the difference of whole numbers is exact and
    the product the one rounding on every backend. XLA turns a division by
    a constant into such a product, and fused it with a following
    subtraction under ``jax.jit`` and not eagerly, so one key's λ differed
    by an ulp between the two."""
    whole = float(total)
    return (whole - taken) * (1.0 / whole)


def _minmax_boxes(sxp: Any, sdev: Any, unit: Array, sizes: tuple[int, ...],
                  minmax: tuple[float, float]) -> tuple[Array, Array, Array]:
    """The kept fraction and the boxes' bounds (whole floats) with
    ``minmax``, from uniform draws ``unit`` ``(*lead, 2, k)`` in ``[0, 1)``
    in their library ``sxp`` on ``sdev``: row 0 places each side within its
    range, row 1 each box within its axis."""
    low, high = minmax
    # the sides' range per axis, in Python floats: as timm's
    # randint(int(n * lo), int(n * hi)), whose top is excluded
    first = [math.floor(n * low) for n in sizes]
    last = [max(math.floor(n * high) - 1, f) for n, f in zip(sizes, first, strict=True)]
    k = len(sizes)
    bounds = _whole(sxp, sdev, [*first, *last, *sizes], unit.dtype)
    shortest, longest, size = bounds[:k], bounds[k:2 * k], bounds[2 * k:]
    # u < 1 keeps each floor below its count; where the counts themselves
    # round (float32 draws on axes past 2**24) the minima keep the bounds
    side = sxp.minimum(shortest + sxp.floor(unit[..., 0, :] * (longest - shortest + 1.0)),
                       longest)
    room = size - side
    lower = sxp.minimum(sxp.floor(unit[..., 1, :] * (room + 1.0)), room)
    upper = sxp.minimum(lower + side, size)
    lam = kept_fraction(sxp.prod(upper - lower, axis=-1), math.prod(sizes))
    return sxp.asarray(lam), lower, upper  # (NumPy gives a scalar for one box)


def _boxes(sxp: Any, sdev: Any, lam0: Array, unit: Array, size: Array,
           sizes: tuple[int, ...], correct_lam: bool) -> tuple[Array, Array, Array]:
    """The kept fraction and the boxes' bounds (whole floats), from the draws
    λ₀ ``(*lead,)`` and the centres' positions ``(*lead, k)`` in ``[0, 1)``,
    in their library ``sxp`` on their device ``sdev``; ``size``: the cut
    axes' lengths ``sizes`` there, in λ₀'s dtype."""
    ratio = (1.0 - lam0) ** (1.0 / len(sizes))
    cut = sxp.floor(size * ratio[..., None])
    centre = sxp.floor(unit * size)
    start = centre - sxp.floor(cut / 2)  # exact for whole numbers, cheaper than //
    zero = sxp.zeros((), dtype=lam0.dtype, device=sdev)  # no host scalar to copy
    # 0 <= centre < size and 0 <= cut <= size, so a box starts below size and
    # ends at or above 0: each end has one bound to clip to (a clip with both
    # costs 30 times as much on NumPy arrays)
    lower = sxp.maximum(start, zero)
    upper = sxp.minimum(start + cut, size)
    if correct_lam:
        lam0 = kept_fraction(sxp.prod(upper - lower, axis=-1), math.prod(sizes))
    return sxp.asarray(lam0), lower, upper  # (NumPy gives a scalar for one box)


def _at_most(n: int, sxp: Any, dtype: Any) -> int:
    """The largest whole number of the floating ``dtype`` not above ``n``.

    Boxes drawn in float32 (a JAX key without x64) on an axis longer than
    2**24 would otherwise take its length rounded up, and end past it (or,
    near 2**31, wrap in int32); on the length rounded down they stay inside.
    """
    digits = 1 - round(math.log2(float(sxp.finfo(dtype).eps)))  # float32: 24
    shift = max(0, n.bit_length() - digits)
    return (n >> shift) << shift


def _one_box(lam0: float, unit: list[float], sizes: tuple[int, ...],
             correct_lam: bool) -> tuple[float, list[int], list[int]]:
    """:func:`_boxes` for one box, in Python floats: the same float64
    operations in the same order (a power, then per axis the products, floors
    and clips; the area multiplied axis by axis), so the same box."""
    ratio = (1.0 - lam0) ** (1.0 / len(sizes))
    lower: list[int] = []
    upper: list[int] = []
    area = 1.0
    for n, u in zip(sizes, unit, strict=True):
        size = float(n)
        cut = float(math.floor(size * ratio))
        start = float(math.floor(u * size)) - cut // 2
        a, b = max(start, 0.0), min(start + cut, size)
        lower.append(int(a))
        upper.append(int(b))
        area *= b - a
    return (kept_fraction(area, math.prod(sizes)) if correct_lam else lam0), lower, upper


#: The longest cut axis: boxes drawn in float64 are exact up to here; beyond,
#: a bound could round past the axis or wrap in the index dtype (float32
#: draws take the axis rounded down, :func:`_at_most`).
MAX_SIZE = 2**53


def check_sizes(sizes: Any, xp: Any, device: Any) -> tuple[int, ...]:
    """One to three axis lengths, each at most :data:`MAX_SIZE` and at most
    what the index dtype of ``xp`` on ``device`` holds (int32 for JAX
    without x64, where a bound would wrap)."""
    if isinstance(sizes, (str, bytes)) or not isinstance(sizes, Sequence):
        raise TypeError(f"sizes must be a sequence of ints, got {type(sizes).__name__}")
    if not 1 <= len(sizes) <= 3:
        raise ValueError(f"sizes must name one to three cut axes, got {len(sizes)}")
    checked = tuple(check_count(s, f"sizes[{i}]", minimum=1, maximum=MAX_SIZE)
                    for i, s in enumerate(sizes))
    longest = max(checked)
    if longest >= 2**31:  # past int32: ask the index dtype
        index = default_index(xp, device)
        top = int(xp.iinfo(index).max)
        if longest > top:
            raise ValueError(
                f"sizes[{checked.index(longest)}] must be <= {top}, the largest value of "
                f"{library(xp)}'s index dtype {index}, got {longest}"
            )
    return checked


def _paired(src: Source, pairing: str, groups: int, sxp: Any, sdev: Any,
            *values: Array) -> list[Array]:
    """``lam_mode="pair"``: per-sample ``values`` (each of shape ``(B, ...)``,
    in ``sxp`` on ``sdev``) with the second member of each pair given the
    first's, as timm's ``mode="pair"`` draws once per pair. Done before the
    values move: on the host a few NumPy calls, cheaper than torch kernels
    on the moved CPU tensors."""
    perm = _pairs(src, values[0].shape[0], pairing, groups, sxp, sdev)  # flip: nothing drawn
    return shared_in_pairs(sxp, perm, *values)


def shared_in_pairs(xp: Any, perm: Array, *values: Array) -> list[Array]:
    """``values`` (each of shape ``(B, ...)``) with each sample's row taken
    from the first member of its pair. ``perm`` pairs both ways
    (``perm[perm[i]] == i``), so that member is ``min(i, perm[i])``; a sample
    paired with itself keeps its own."""
    own = xp.arange(perm.shape[0], dtype=perm.dtype, device=array_device(perm))
    first = xp.minimum(own, perm)
    return [xp.take(v, first, axis=0) for v in values]
