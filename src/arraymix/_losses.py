"""Loss-side mixing: the cross-entropy of a mixed batch from its class ids.

The loss of a sample mixed with weight λ against one-hot targets is λ times
its loss against its own label plus ``1 − λ`` times its loss against its
partner's, so it needs the two labels and λ, never the ``(B, C)`` mixed
targets. Written against the array API: it runs on every backend, under
``jax.jit`` and ``torch.compile``, and gradients flow through it.
"""

from __future__ import annotations

from typing import Any

from ._apply import _checked_parts
from ._backends import Reference, select
from ._compat import Array, default_index, device, isdtype
from ._params import CutMixParams, MaskParams, MixerParams, MixParams, MosaicParams, ResizeMixParams
from ._switch import four_sources
from ._validate import (
    check_axes,
    check_batch,
    check_box_params,
    check_box_values,
    check_choice,
    check_class_ids,
    check_grid,
    check_lam_values,
    check_mix_params,
    check_mosaic_params,
    check_param,
    check_partner,
    check_perm_values,
    check_real,
    check_source_values,
)

__all__ = ["mixed_cross_entropy"]

REDUCTIONS = ("mean", "sum", "none")


def mixed_cross_entropy(logits: Array, labels: Array,
                        params: (MixParams | CutMixParams | MixerParams | MaskParams
                                 | MosaicParams | ResizeMixParams), /, *,
                        axis: int = -1, label_smoothing: float = 0.0,
                        reduction: str = "mean") -> Array:
    """Cross-entropy of the logits of a mixed batch against its mixed labels,
    from the class ids: no ``(B, C)`` targets are built.

    Parameters
    ----------
    logits : array
        The model's output on the mixed batch, real floating: ``(B, C)``, or
        ``(B, C, ...)`` for dense prediction (segmentation: ``(B, C, H, W)``
        with ``axis=1``).
    labels : array
        The batch's class ids *before* mixing, integer, of ``logits``' shape
        without the class axis: ``(B,)``, or ``(B, H, W)`` per position.
    params : MixParams, CutMixParams, MixerParams, MaskParams, MosaicParams or ResizeMixParams
        The params the batch was mixed with, in ``logits``' library and on
        its device. With a Mosaic each sample's loss weighs its four
        sources' labels by their areas. Per-position labels under FMix,
        patch-grid, Mosaic or ResizeMix params raise a ValueError: each
        position has one label there, so paste the label map with
        :func:`paste` and use a plain cross-entropy.
    axis : int, default -1
        The class axis of ``logits`` (not the batch axis).
    label_smoothing : float, default 0.0
        As :func:`one_hot`: each label's target is ``1 − s + s/C`` on its
        class and ``s/C`` elsewhere, in ``[0, 1)``.
    reduction : {"mean", "sum", "none"}, default "mean"
        ``"none"`` returns the loss per sample ``(B,)`` or per position
        ``(B, H, W)``; ``"mean"`` averages it over every sample and position,
        as ``torch.nn.functional.cross_entropy`` does with probability
        targets; ``"sum"`` adds it up.

    Returns
    -------
    array
        The loss in ``logits``' dtype (computed in float32 for float16 and
        bfloat16 logits), on its device.

    Notes
    -----
    With MixUp params, and with CutMix params for labels of shape ``(B,)``,
    the loss is ``λ·CE(logits, y) + (1 − λ)·CE(logits, y[perm])``, λ per
    sample or for the batch, which equals the cross-entropy against the
    mixed one-hot targets of :func:`mixup` and :func:`cutmix`. With CutMix
    params and dense labels, each position takes the label of the sample its
    pixel came from: the labels are pasted with the params over their last
    ``k`` axes (``k`` the number of cut axes), as :func:`paste` pastes the
    mask. With a :class:`Mixer`'s draw (:class:`MixerParams`) and dense
    labels, each position's label is the pasted one (CutMix samples) and is
    mixed with the partner's by the sample's blend λ (MixUp samples). The
    log-softmax is computed stably (the maximum subtracted first).
    Class ids out of ``[0, C)`` raise a ValueError where they are host arrays
    (NumPy, CPU torch).

    Examples
    --------
    >>> import numpy as np
    >>> import arraymix
    >>> logits = np.log(np.asarray([[0.5, 0.25, 0.25], [0.25, 0.25, 0.5]]))
    >>> p = arraymix.MixParams(lam=np.asarray(0.5), perm=np.asarray([1, 0]))
    >>> loss = arraymix.mixed_cross_entropy(logits, np.asarray([0, 2]), p, reduction="none")
    >>> np.allclose(loss, 0.5 * -np.log(0.5) + 0.5 * -np.log(0.25))
    True
    """
    backend, batch, classes, cls = _check_logits(logits, axis)
    xp = backend.xp
    check_partner(logits, labels, "labels")
    wanted = tuple(s for i, s in enumerate(logits.shape) if i != cls)
    if not isdtype(xp, labels.dtype, "integral") or tuple(labels.shape) != wanted:
        raise ValueError(
            f"labels must be integer class ids of shape {wanted} (logits' shape without "
            f"its class axis {cls}), got {labels.dtype} of shape {tuple(labels.shape)}"
        )
    family = isinstance(params, (MaskParams, MosaicParams, ResizeMixParams))
    if family and labels.ndim > 1:
        raise ValueError(
            f"labels of shape {tuple(labels.shape)} are per position, and under "
            f"{type(params).__name__} each position has one label: paste the label map "
            "with arraymix.paste(labels, params, axes=...) and use a plain cross-entropy"
        )
    if isinstance(params, MosaicParams):
        return _mosaic_loss(backend, logits, labels, params, batch, classes, cls,
                            label_smoothing, reduction)
    if isinstance(params, MixerParams) and params.parts:
        if labels.ndim > 1:
            raise ValueError(
                f"labels of shape {tuple(labels.shape)} are per position, and this Mixer "
                "draw holds samples of the mixing family: paste the label map with "
                "arraymix.paste(labels, params, axes=...) and use a plain cross-entropy"
            )
        lam, perm = check_mix_params(logits, params, batch)
        four = four_sources(xp, lam, perm, _checked_parts(logits, params, batch, None, ()))
        if four is not None:  # Mosaic samples: every sample over four sources
            return _mosaic_loss(backend, logits, labels, four, batch, classes, cls,
                                label_smoothing, reduction)
    lam, perm = check_mix_params(logits, params, batch)
    smoothing = check_real(label_smoothing, "label_smoothing", low=0.0, high=1.0,
                           high_open=True)
    check_choice(reduction, "reduction", REDUCTIONS)
    check_perm_values(perm, batch, 1)
    check_lam_values(lam)
    box: tuple[Array, Array, tuple[int, ...]] | None = None
    dense = labels.ndim > 1
    draw = isinstance(params, MixerParams)
    k = 0
    if isinstance(params, (CutMixParams, MixerParams)):
        k = params.lower.shape[-1] if getattr(params.lower, "ndim", 0) else 0
    if dense and (isinstance(params, CutMixParams) or k):  # a pasted label map
        if not 1 <= k <= labels.ndim - 1:
            raise ValueError(
                f"params must be drawn over at most the {labels.ndim - 1} axes of labels "
                f"after the batch axis, got boxes over {k}"
            )
        lower, upper = check_box_params(logits, params, batch, k)
        cut_axes = tuple(range(labels.ndim - k, labels.ndim))
        lengths = [labels.shape[a] for a in cut_axes]
        check_grid(params, lengths, "labels", cut_axes)
        check_box_values(lower, upper, lengths)
        box = lower, upper, cut_axes
    if dense and isinstance(params, MixerParams):  # the pasted map, weighed by blend λ
        lam = check_param(logits, params.blend_lam, "params.blend_lam", ((batch,),),
                          "real floating")
        check_lam_values(lam, "params.blend_lam")
    check_class_ids(labels, classes, "labels", "")

    work = logits
    if logits.dtype not in (xp.float32, xp.float64):
        work = xp.astype(logits, xp.float32)  # half precision: exp and sums in float32
    logp = backend.log_softmax(work, cls)
    hit = 1.0 - smoothing
    own_labels = labels
    if box is not None:
        own_labels = select(labels).paste(labels, perm, *box, None, 1)
    if box is not None and not draw:  # CutMix: each position has one label
        loss = -hit * _picked(xp, logp, own_labels, cls)
    else:
        weight = lam if lam.dtype == logp.dtype else xp.astype(lam, logp.dtype)
        if weight.ndim and labels.ndim > 1:  # λ per sample over each position
            weight = xp.reshape(weight, (-1,) + (1,) * (labels.ndim - 1))
        own = _picked(xp, logp, own_labels, cls)
        theirs = _picked(xp, logp, xp.take(labels, perm, axis=0), cls)
        loss = -hit * (theirs + weight * (own - theirs))
    return _finish(xp, loss, logp, logits, cls, smoothing, reduction)


def _finish(xp: Any, loss: Array, logp: Array, logits: Array, cls: int, smoothing: float,
            reduction: str) -> Array:
    """The smoothing term, the reduction, and the logits' dtype."""
    if smoothing:
        loss = loss - smoothing * xp.mean(logp, axis=cls)
    if reduction == "mean":
        loss = xp.mean(loss)
    elif reduction == "sum":
        loss = xp.sum(loss)
    return xp.astype(loss, logits.dtype) if loss.dtype != logits.dtype else loss


def _mosaic_loss(backend: Reference, logits: Array, labels: Array, params: MosaicParams,
                 batch: int, classes: int, cls: int, label_smoothing: float,
                 reduction: str) -> Array:
    """:func:`mixed_cross_entropy` of a Mosaic: the four sources' labels
    weighted by their areas."""
    xp = backend.xp
    weights, sources, _ = check_mosaic_params(logits, params, batch)
    smoothing = check_real(label_smoothing, "label_smoothing", low=0.0, high=1.0,
                           high_open=True)
    check_choice(reduction, "reduction", REDUCTIONS)
    check_source_values(sources, batch, 1)
    check_lam_values(weights)
    check_class_ids(labels, classes, "labels", "")
    work = logits
    if logits.dtype not in (xp.float32, xp.float64):
        work = xp.astype(logits, xp.float32)
    logp = backend.log_softmax(work, cls)
    weights = xp.astype(weights, logp.dtype)
    loss = None
    for q in range(4):
        term = weights[..., q] * _picked(xp, logp, xp.take(labels, sources[:, q], axis=0), cls)
        loss = term if loss is None else loss + term
    assert loss is not None
    return _finish(xp, -(1.0 - smoothing) * loss, logp, logits, cls, smoothing, reduction)


def _check_logits(logits: Any, axis: Any) -> tuple[Reference, int, int, int]:
    """Real floating logits with a batch and a class axis: their backend,
    batch size, number of classes and class axis (non-negative)."""
    backend, batch = check_batch(logits, "logits")
    if not isdtype(backend.xp, logits.dtype, "real floating"):
        raise TypeError(f"logits must have a real floating dtype, got {logits.dtype}")
    if logits.ndim < 2:
        raise ValueError(
            f"logits must have a batch and a class axis (ndim >= 2), got shape "
            f"{tuple(logits.shape)}"
        )
    (cls,) = check_axes((axis,), logits.ndim, "axis", drawn=False)  # never the batch axis
    return backend, batch, int(logits.shape[cls]), cls


def _picked(xp: Any, z: Array, labels: Array, cls: int) -> Array:
    """``z`` at each position's label along the class axis, without a one-hot."""
    wide = default_index(xp, device(z))
    index = xp.expand_dims(labels if labels.dtype == wide else xp.astype(labels, wide), axis=cls)
    take_along = getattr(xp, "take_along_axis", None)
    if take_along is not None:
        return xp.squeeze(take_along(z, index, axis=cls), axis=cls)
    shape = [1] * z.ndim
    shape[cls] = z.shape[cls]
    classes = xp.reshape(xp.arange(z.shape[cls], device=device(z)), tuple(shape))
    hits = xp.where(classes == index, z, xp.zeros_like(z))
    return xp.sum(hits, axis=cls)
