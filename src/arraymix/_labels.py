"""Targets: class ids to one-hot rows, label smoothing, and their mixing."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from ._backends import Reference, select
from ._backends.reference import partners, per_sample
from ._compat import (
    Array,
    default_float,
    device,
    dtype_kind,
    is_array_api_obj,
    isdtype,
    namespace_of,
)
from ._params import CutMixParams, MaskParams, MixParams, ResizeMixParams
from ._validate import (
    MAX_LENGTH,
    check_bool,
    check_class_ids,
    check_count,
    check_partner,
    check_real,
    check_revision,
    refuse_unsupported,
)

__all__ = ["Targets", "Weighted", "check_targets", "mix_targets", "one_hot"]

_NP = namespace_of(np)

#: Params whose ``lam`` and ``perm`` weigh each sample and its one partner.
Weighted = MixParams | CutMixParams | MaskParams | ResizeMixParams


def one_hot(
    labels: Array,
    num_classes: int,
    /,
    *,
    smoothing: float = 0.0,
    dtype: Any = None,
) -> Array:
    """Class ids to one-hot rows, optionally smoothed.

    With smoothing ``s`` and ``C`` classes, the row of class ``c`` holds
    ``1 − s + s/C`` at ``c`` and ``s/C`` elsewhere (as timm): rows sum to 1.

    Parameters
    ----------
    labels : array
        Integer class ids of any shape ``S``, each in ``[0, num_classes)``.
    num_classes : int
        Number of classes ``C`` (> 0).
    smoothing : float, default 0.0
        Label smoothing, in ``[0, 1)``.
    dtype : dtype, optional
        Real floating dtype of the result; default: the library's default
        real floating dtype on the labels' device.

    Returns
    -------
    array
        Shape ``S + (C,)``, on the labels' device.

    Raises
    ------
    ValueError
        A class id out of range, where the ids can be read without a device
        sync (NumPy arrays, torch tensors on the CPU outside
        ``torch.compile``). Elsewhere the row of an out-of-range id is NaN,
        so the loss shows it instead of training on a wrong target.

    Examples
    --------
    >>> import numpy as np
    >>> import arraymix
    >>> arraymix.one_hot(np.asarray([0, 2]), 3)
    array([[1., 0., 0.],
           [0., 0., 1.]])
    >>> arraymix.one_hot(np.asarray([1]), 4, smoothing=0.2)
    array([[0.05, 0.85, 0.05, 0.05]])
    """
    backend = _int_labels(labels, "labels")
    xp = backend.xp
    num_classes = check_count(num_classes, "num_classes", minimum=1)
    smoothing = check_real(smoothing, "smoothing", low=0.0, high=1.0, high_open=True)
    dev = device(labels)
    if dtype is None:
        dtype = default_float(xp, dev)
    elif not _is_real_float(xp, dtype):
        raise TypeError(
            f"dtype must be a real floating dtype of the labels' library, got {dtype!r}"
        )
    check_class_ids(labels, num_classes, "labels")
    return backend.one_hot(labels, num_classes, smoothing, dtype)


def _is_real_float(xp: Any, dtype: Any) -> bool:
    """Whether ``dtype`` is a real floating dtype of ``xp``; False for
    anything else, another library's dtype included."""
    try:
        return bool(isdtype(xp, dtype, "real floating"))
    except (AttributeError, TypeError, ValueError):  # not a dtype xp knows
        return False


def _int_labels(labels: Any, name: str) -> Reference:
    """The backend of integer class ids ``labels``."""
    if not is_array_api_obj(labels):
        raise TypeError(f"{name} must be an integer array, got {type(labels).__name__}")
    refuse_unsupported(labels, name)
    backend = select(labels)
    check_revision(backend.xp, name)
    if not isdtype(backend.xp, labels.dtype, "integral"):
        raise TypeError(f"{name} must have an integer dtype, got {labels.dtype}")
    return backend


class Targets(NamedTuple):
    """Checked targets, before any work: what :func:`mix_targets` mixes."""

    y: Array
    num_classes: int | None  # set for integer class ids
    smoothing: float
    dtype: Any
    union: bool = False  # mixed by elementwise max (multi-label), not by weights


def check_targets(x: Array, y: Any, num_classes: Any, smoothing: Any,
                  union: Any = False) -> Targets | None:
    """Check the targets that go with ``x``; None if ``y`` is None.

    Integer ``y`` of shape ``(B, ...)`` will become one-hot rows on a new last
    axis, float32 (float64 for float64 ``x``). Floating ``y`` is soft already
    and keeps its dtype; smoothing, if any, pulls it towards uniform over its
    last axis.
    """
    if _plain_ids(x, y, num_classes, smoothing, union):
        check_class_ids(y, num_classes)  # the values are read all the same
        return Targets(y, num_classes, smoothing,
                       _NP.float64 if x.dtype == _NP.float64 else _NP.float32, union)
    return _check_any_targets(x, y, num_classes, smoothing, union)


def _plain_ids(x: Array, y: Any, num_classes: Any, smoothing: Any, union: Any) -> bool:
    """NumPy class ids for a NumPy batch with arguments that
    :func:`_check_any_targets` accepts as they are, recognised in a few
    comparisons (tests/test_errors.py checks that it does)."""
    return (type(y) is np.ndarray and type(x) is np.ndarray and y.dtype.kind in "iu"
            and y.ndim > 0 and y.shape[0] == x.shape[0] and type(num_classes) is int
            and 0 < num_classes <= MAX_LENGTH and type(smoothing) is float
            and 0.0 <= smoothing < 1.0 and (union is False or union is True))


def _check_any_targets(x: Array, y: Any, num_classes: Any, smoothing: Any,
                       union: Any) -> Targets | None:
    """:func:`check_targets` for every kind of argument."""
    smoothing = check_real(smoothing, "label_smoothing", low=0.0, high=1.0, high_open=True)
    union = check_bool(union, "union")
    if num_classes is not None:
        num_classes = check_count(num_classes, "num_classes", minimum=1)
    if y is None:
        return None
    xp = check_partner(x, y, "y")
    kind = dtype_kind(xp, y.dtype)
    if kind == "integral":
        if num_classes is None:
            raise ValueError(
                "num_classes is required when y holds integer class ids (it sets "
                f"the width of the one-hot rows); y is {y.dtype} of shape "
                f"{tuple(y.shape)}. Multi-hot or soft targets stored as integers are "
                "mixed as floats: pass them as a floating array"
            )
        check_class_ids(y, num_classes)
        dtype = xp.float64 if x.dtype == xp.float64 else xp.float32
        return Targets(y, num_classes, smoothing, dtype, union)
    if kind != "real floating":
        hint = ("; boolean multi-hot targets are mixed as floats (pass them as a floating "
                "array), binary class ids as integers") if kind == "bool" else ""
        raise TypeError(
            f"y must hold integer class ids or real floating soft targets, got {y.dtype}{hint}"
        )
    if smoothing and y.ndim < 2:
        raise ValueError(
            "label_smoothing needs soft targets y with a class axis, shape "
            f"(B, ..., C); got shape {tuple(y.shape)}"
        )
    if num_classes is not None and y.ndim < 2:
        # A (B,) floating y has no class axis: these are class ids stored as
        # floats, or scalar targets; blending them as numbers would be silent.
        raise ValueError(
            f"y holds {y.dtype} values of shape {tuple(y.shape)} with num_classes="
            f"{num_classes}: class ids must have an integer dtype, soft targets a "
            "class axis (B, ..., C)"
        )
    if num_classes is not None and y.shape[-1] != num_classes:
        raise ValueError(
            f"num_classes={num_classes} does not match the last axis of the soft "
            f"targets y, of length {y.shape[-1]}"
        )
    return Targets(y, None, smoothing, y.dtype, union)


def check_not_dense(t: Targets | None, sizes: Sequence[int], axes: tuple[int, ...],
                    name: str = "axes", method: str = "cutmix") -> None:
    """CutMix weighs targets by one λ per sample. Targets laid out over the
    cut axes (segmentation masks ``(B, H, W)``, per-pixel probabilities
    ``(B, H, W, C)``, per-frame labels ``(B, T)``) would get that one weight
    at every position, inside the box and out: refuse them, and say how
    dense targets are pasted instead."""
    if t is None:
        return
    shape = tuple(t.y.shape)
    dense = shape[1:] if t.num_classes is not None else shape[1:-1]
    if sizes and tuple(dense) == tuple(sizes):
        raise ValueError(
            f"y of shape {shape} is laid out over the cut axes ({name}={axes}, lengths "
            f"{tuple(sizes)}), but {method} weighs y by one number per sample, the kept "
            "fraction: every position would get it, inside the pasted region and out. Paste "
            f"dense targets with the same params: p = sample_{method}(rng, B, sizes); "
            "paste(x, p, axes=...); paste(masks, p, axes=...)"
        )


def mix_targets(backend: Reference, t: Targets | None,
                params: Weighted | None, groups: int) -> Array | None:
    """The mixed targets by ``x``'s backend: ``blend(one_hot(y), params)``,
    or the unmixed rows when ``params`` is None (a batch the Mixer left
    alone)."""
    if t is None:
        return None
    if t.num_classes is None:
        y = t.y
        if t.smoothing:
            y = (1 - t.smoothing) * y + t.smoothing / y.shape[-1]
        if params is None:
            return y
        if t.union:
            return _union(backend.xp, y, params, groups)
        return backend.blend(y, params.lam, params.perm, None, groups)
    if params is None:
        return backend.one_hot(t.y, t.num_classes, t.smoothing, t.dtype)
    if t.union:
        rows = backend.one_hot(t.y, t.num_classes, t.smoothing, t.dtype)
        return _union(backend.xp, rows, params, groups)
    return backend.mix_ids(t.y, params.lam, params.perm, t.num_classes, t.smoothing, t.dtype,
                           groups)


def _union(xp: Any, rows: Array, params: Weighted, groups: int) -> Array:
    """Targets of a multi-label mix: the elementwise max of a sample's rows
    and its partner's where both are seen (0 < λ < 1); a sample's own rows
    where λ = 1 (unmixed, or nothing pasted) and its partner's where λ = 0."""
    theirs = partners(xp, rows, params.perm, groups)
    lam = params.lam
    if lam.ndim:
        lam = per_sample(xp, lam, rows.ndim)
    both = xp.maximum(rows, theirs)
    return xp.where(lam >= 1, rows, xp.where(lam <= 0, theirs, both))
