"""One-call MixUp and CutMix: validate, sample, then blend or paste."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from ._backends import Reference, select
from ._compat import Array, device, is_traced
from ._labels import Targets, check_not_dense, check_targets, mix_targets
from ._random import Source, host_source, source
from ._sample import (
    LamMode,
    Pairing,
    check_cut_range,
    check_sizes,
    check_target,
    draw_cutmix,
    draw_mixup,
)
from ._validate import (
    DEFAULT_AXES,
    LAM_MODES,
    check_alpha,
    check_axes,
    check_batch,
    check_bool,
    check_choice,
    check_groups,
    check_out,
    check_pair_mode,
    check_pairing,
)

__all__ = ["cutmix", "mixup"]


class _Call(NamedTuple):
    """What the one-call functions have checked: the backend of ``x`` and
    the arguments as they are used."""

    backend: Reference
    batch: int
    alpha: float
    groups: int
    targets: Targets | None
    source: Source
    device: Any


def _check_call(x: Any, y: Any, alpha: Any, num_classes: Any, smoothing: Any, lam_mode: Any,
                pairing: Any, groups: Any, out: Any, rng: Any, union: Any) -> _Call:
    """Everything the one-call functions check before they draw or compute."""
    if _plain_call(x, alpha, lam_mode, pairing, groups, out, rng):
        return _Call(select(x), x.shape[0], alpha, 1,
                     check_targets(x, y, num_classes, smoothing, union), host_source(rng), "cpu")
    return _check_any_call(x, y, alpha, num_classes, smoothing, lam_mode, pairing, groups, out,
                           rng, union)


def _plain_call(x: Any, alpha: Any, lam_mode: Any, pairing: Any, groups: Any, out: Any,
                rng: Any) -> bool:
    """The common host call, recognised in a few comparisons: a NumPy batch,
    a NumPy Generator and arguments that :func:`_check_any_call` accepts as
    they are (tests/test_errors.py checks that it does)."""
    return (type(x) is np.ndarray and type(rng) is np.random.Generator and x.ndim > 0
            and x.dtype.kind in "fiu" and type(alpha) is float and 0.0 < alpha < math.inf
            and (lam_mode == "batch" or lam_mode == "sample") and pairing == "permute"
            and groups is None and out is None)


def _check_any_call(x: Any, y: Any, alpha: Any, num_classes: Any, smoothing: Any,
                    lam_mode: Any, pairing: Any, groups: Any, out: Any, rng: Any,
                    union: Any) -> _Call:
    """:func:`_check_call` for every kind of argument."""
    backend, batch = check_batch(x)
    if is_traced(x) and (rng is None or isinstance(rng, np.random.Generator)):
        raise TypeError(
            f"rng={'None' if rng is None else 'a numpy.random.Generator'} draws on the host, "
            "once, when jax.jit (or vmap) traces this call, so every call of the compiled "
            "function would repeat that mix: inside a trace pass a JAX key (split it per "
            "step), or an int seed for one fixed mix"
        )
    alpha = check_alpha(alpha)
    check_choice(lam_mode, "lam_mode", LAM_MODES)
    check_pairing(pairing, batch)
    check_pair_mode(lam_mode, pairing)
    count = check_groups(groups, batch, pairing)
    soft = check_targets(x, y, num_classes, smoothing, union)
    if out is not None:
        check_out(x, out)
    src = source(rng)
    _, dev = check_target(src, backend.xp, device(x))
    return _Call(backend, batch, alpha, count, soft, src, dev)


def mixup(
    x: Array,
    y: Array | None = None,
    /,
    *,
    alpha: float = 0.2,
    num_classes: int | None = None,
    label_smoothing: float = 0.0,
    lam_mode: LamMode = "batch",
    pairing: Pairing = "permute",
    groups: int | None = None,
    rng: Any = None,
    out: Array | None = None,
    union: bool = False,
) -> tuple[Array, Array | None]:
    """MixUp a batch and its labels: ``λ·x + (1 − λ)·x[perm]``, λ ~ Beta(α, α).

    Zhang et al., "mixup: Beyond Empirical Risk Minimization", ICLR 2018.
    Works on the arrays of any array API library (NumPy, PyTorch on CPU or
    CUDA, JAX, CuPy, Dask, ...) where they are, and returns arrays of the same
    library, device and dtype. The inputs are not modified.

    Parameters
    ----------
    x : array
        Batch with samples on axis 0, any layout (NCHW or NHWC images, audio,
        embeddings, tabular rows). Floating dtypes are kept (float8 is
        blended in float32 and rounded once); integer data (uint8 images)
        is blended in float32 (float64 from 32 bits) and rounded back.
    y : array, optional
        ``None``; integer class ids of shape ``(B, ...)`` (needs
        ``num_classes``; become one-hot rows on a new last axis, then
        smoothed, then mixed); or floating soft targets of shape ``(B, ...)``
        (one-hot, probabilities, multi-label, dense maps), mixed as they are.
    alpha : float, default 0.2
        Beta(α, α) concentration, > 0.
    num_classes : int, optional
        Number of classes, required for integer ``y``.
    label_smoothing : float, default 0.0
        In ``[0, 1)``: one-hot rows hold ``1 − s + s/C`` and ``s/C``.
    lam_mode : {"batch", "sample", "pair"}, default "batch"
        One λ for the batch, one per sample, or one per pair of partners
        (timm's ``mode="pair"``, with ``pairing="flip"``).
    pairing : {"permute", "derange", "flip", "roll"}, default "permute"
        How partners are chosen; see :func:`sample_mixup`.
    groups : int, optional
        Pair only inside this many equal contiguous groups of the batch: with
        groups = the devices (or chunks) a batch is split over, no data moves
        between them. See :func:`sample_mixup`.
    rng : None, int, numpy.random.Generator, torch.Generator or JAX key
        Randomness; see :func:`sample_mixup`. With a JAX key the call is
        traceable: it runs inside ``jax.jit``. There ``None`` or a NumPy
        Generator raises a TypeError: it would draw once, at tracing, and
        every call would repeat that mix.
    out : array, optional
        Where to write the mixed batch; may be ``x`` itself (see :func:`blend`).
    union : bool, default False
        Multi-label targets: a mixed sample holds both samples' content, so
        its targets are the elementwise maximum of its own and its
        partner's (class ids become one-hot rows first, smoothed if asked),
        instead of their λ-weighted sum. Where λ is 1 the sample keeps its
        own targets, where λ is 0 it takes its partner's.

    Returns
    -------
    x_mixed : array
        Same shape, dtype, library and device as ``x``.
    y_mixed : array or None
        Mixed targets, each row summing to 1 for one-hot or soft rows
        (with ``union``, the elementwise maxima instead); ``None`` if ``y``
        is ``None``. Integer ids give float32 targets (float64 for float64
        ``x``).

    Notes
    -----
    For an int seed ``r`` the result equals ``blend(x, p)`` and
    ``blend(one_hot(y, C, smoothing=s), p)`` with
    ``p = sample_mixup(r, B, ..., xp=array_namespace(x), device=device(x))``.

    Examples
    --------
    >>> import numpy as np
    >>> import arraymix
    >>> x = np.arange(12, dtype=np.float32).reshape(4, 3)
    >>> xm, ym = arraymix.mixup(x, np.asarray([0, 1, 2, 1]), num_classes=3, rng=0)
    >>> xm.shape, xm.dtype, ym.shape
    ((4, 3), dtype('float32'), (4, 3))
    >>> np.allclose(ym.sum(axis=1), 1)
    True
    """
    c = _check_call(x, y, alpha, num_classes, label_smoothing, lam_mode, pairing, groups, out,
                    rng, union)
    p = draw_mixup(c.source, c.batch, c.alpha, lam_mode, pairing, c.groups, c.backend.xp,
                   c.device)
    return (c.backend.blend(x, p.lam, p.perm, out, c.groups),
            mix_targets(c.backend, c.targets, p, c.groups))


def cutmix(
    x: Array,
    y: Array | None = None,
    /,
    *,
    alpha: float = 1.0,
    axes: Sequence[int] = DEFAULT_AXES,
    num_classes: int | None = None,
    label_smoothing: float = 0.0,
    lam_mode: LamMode = "batch",
    pairing: Pairing = "permute",
    correct_lam: bool = True,
    minmax: Sequence[float] | None = None,
    groups: int | None = None,
    rng: Any = None,
    out: Array | None = None,
    union: bool = False,
) -> tuple[Array, Array | None]:
    """CutMix a batch and its labels: paste a box of each partner into each sample.

    Yun et al., "CutMix: Regularization Strategy to Train Strong Classifiers
    with Localizable Features", ICCV 2019. The box covers about a fraction
    ``1 − λ₀`` of the cut axes, λ₀ ~ Beta(α, α); the labels are weighted by
    the fraction each sample keeps.

    Parameters
    ----------
    x : array
        Batch with samples on axis 0, any real dtype (copied exactly).
    y : array, optional
        As in :func:`mixup`, weighted per sample by the kept fraction. Targets
        laid out over the cut axes (masks ``(B, H, W)``, per-pixel
        probabilities ``(B, H, W, C)``) raise a ValueError: paste them with
        the same params instead (:func:`sample_cutmix`, :func:`paste`).
    alpha : float, default 1.0
        Beta(α, α) concentration, > 0.
    axes : sequence of int, default (-2, -1)
        The cut axes: ``(-2, -1)`` NCHW images, ``(1, 2)`` NHWC images,
        ``(-1,)`` audio and time series, ``(-3, -2, -1)`` volumes. Left at
        the default, a batch that looks channels-last (``(B, H, W, C)`` with
        ``C <= 4``) raises a ValueError instead of being cut across its
        channels.
    num_classes, label_smoothing, lam_mode, pairing, groups, rng
        As in :func:`mixup`; ``lam_mode="sample"`` gives every sample its own
        box, ``"pair"`` every pair of partners one box, which they swap.
    correct_lam : bool, default True
        Weight the labels by the exact kept fraction (boxes clipped at the
        border keep more than λ₀).
    minmax : sequence of two floats, optional
        timm's ``cutmix_minmax``: each box side is drawn between these
        fractions of its axis and the box lies inside the sample, instead of
        following λ₀ (``alpha`` is not used); see :func:`sample_cutmix`.
    out : array, optional
        Where to write the mixed batch; may be ``x`` itself, and then only
        the boxes are written (see :func:`paste`).
    union : bool, default False
        Multi-label targets combined by elementwise maximum, as in
        :func:`mixup`: a sample with a box pasted in holds both samples'
        content.

    Returns
    -------
    x_mixed : array
        Same shape, dtype, library and device as ``x``.
    y_mixed : array or None
        ``blend(targets, p)`` with the same params: rows sum to 1 (with
        ``union``, the elementwise maxima instead).

    Notes
    -----
    For an int seed ``r`` the result equals ``paste(x, p, axes=axes)`` and
    ``blend(one_hot(y, C, smoothing=s), p)`` with
    ``p = sample_cutmix(r, B, [x.shape[a] for a in axes], ...,
    xp=array_namespace(x), device=device(x))``.

    Examples
    --------
    >>> import numpy as np
    >>> import arraymix
    >>> images = np.zeros((8, 32, 32, 3), dtype=np.uint8)       # NHWC
    >>> xm, ym = arraymix.cutmix(images, np.arange(8), num_classes=10,
    ...                          axes=(1, 2), lam_mode="sample", rng=0)
    >>> xm.shape, xm.dtype, ym.shape
    ((8, 32, 32, 3), dtype('uint8'), (8, 10))
    """
    c = _check_call(x, y, alpha, num_classes, label_smoothing, lam_mode, pairing, groups, out,
                    rng, union)
    cut_axes = check_axes(axes, x.ndim, shape=x.shape)
    check_bool(correct_lam, "correct_lam")
    box_range = check_cut_range(minmax, correct_lam)
    sizes = check_sizes([x.shape[a] for a in cut_axes], c.backend.xp, c.device)
    check_not_dense(c.targets, sizes, cut_axes)
    p = draw_cutmix(c.source, c.batch, sizes, c.alpha, lam_mode, pairing, correct_lam,
                    box_range, c.groups, c.backend.xp, c.device)
    return (c.backend.paste(x, p.perm, p.lower, p.upper, cut_axes, out, c.groups),
            mix_targets(c.backend, c.targets, p, c.groups))
