"""CutMix in host memory (NumPy arrays, CPU torch tensors): boxes copied
by slicing instead of a mask over the whole batch.

The reference gathers the partner batch and selects with a mask; here
only the boxes of the partners are read where that pays. The callers
(:mod:`.numpy_host`, :mod:`.torch_cpu`) decide which path applies.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._compat import Array, is_numpy_array, namespace_of, numpy_twins, torch_module
from .reference import box_mask
from .walk import Ops, copy_of, cycles, host_list, numpy_of

__all__ = ["paste_box", "paste_boxes", "paste_masked"]


def paste_boxes(x: Array, perm: Array, lower: Array, upper: Array, axes: tuple[int, ...],
          out: Array | None) -> Array:
    """Paste each partner's box into ``out`` (a new array if None; may be x).

    The batch is copied, then each box is copied from its partner, in the
    order of the permutation's cycles when in place. A CPU tensor in a dtype
    NumPy has is handled through NumPy views of its memory: a NumPy slice
    assignment costs about a microsecond, torch's several.
    """
    order, lo, hi = host_list(perm), host_list(lower), host_list(upper)
    target = copy_of(Ops(x), x, out)  # a tensor by torch's two-threaded copy
    if is_numpy_array(x) or x.dtype in numpy_twins(torch_module()):
        view = numpy_of(x)  # in place, one view: the loop tells by identity
        _boxes_into(view, order, lo, hi, axes, view if target is x else numpy_of(target))
    else:  # a torch dtype NumPy lacks (bfloat16)
        _boxes_into(x, order, lo, hi, axes, target)
    return target


def _boxes_into(x: Array, order: list[int], lo: list[Any], hi: list[Any],
                 axes: tuple[int, ...], target: Array) -> None:
    """The boxes pasted into ``target``: ``x`` itself, or a copy of it. NumPy
    arrays, or torch tensors (a dtype NumPy lacks). Each box is one slice
    assignment, its index built once per sample (a tuple index costs less
    than ``np.copyto`` on views)."""
    in_place = target is x
    per_sample = bool(lo) and isinstance(lo[0], list)
    template: list[Any] = [slice(None)] * x.ndim

    def box(i: int) -> list[Any]:
        """Sample ``i``'s box as an index, the sample itself left to the caller."""
        a, b = (lo[i], hi[i]) if per_sample else (lo, hi)
        index = template.copy()
        for k, ax in enumerate(axes):
            index[ax] = slice(a[k], b[k])
        return index

    if per_sample and len(axes) == 2:  # images, NCHW or NHWC: literal slices
        last_two = (x.ndim - 2, x.ndim - 1)
        if axes != last_two:  # the same memory, seen with the cut axes last
            move = np.moveaxis if is_numpy_array(x) else torch_module().movedim
            x, target = move(x, axes, last_two), move(target, axes, last_two)
        _paste_last_two(x, order, lo, hi, target, in_place)
        return
    if not in_place:  # every partner is read from x, untouched: any order
        for i, j in enumerate(order):
            if i != j:  # pasting a sample's box from itself changes nothing
                index = box(i)
                index[0] = j
                source = x[tuple(index)]
                index[0] = i
                target[tuple(index)] = source
        return
    for cycle in cycles(order):
        if len(cycle) == 1:
            continue
        # the last of the cycle reads the first, which changes first
        index = box(cycle[-1])
        index[0] = cycle[0]
        first = x[tuple(index)]
        saved = first.copy() if is_numpy_array(first) else first.clone()
        for m, i in enumerate(cycle):
            index = box(i)
            if m == len(cycle) - 1:
                source = saved
            else:
                index[0] = order[i]
                source = x[tuple(index)]
            index[0] = i
            target[tuple(index)] = source


def _paste_last_two(x: Array, order: list[int], lo: list[Any], hi: list[Any],
                    target: Array, in_place: bool) -> None:
    """:func:`_boxes_into` for a box per sample on the last two axes (views
    with them last, for other pairs), its indices written as literal slices, which
    saves building an index per sample (a Python step per sample is the cost)."""
    if not in_place:
        for i, (j, (a0, a1), (b0, b1)) in enumerate(zip(order, lo, hi, strict=True)):
            if i != j:
                target[i, ..., a0:b0, a1:b1] = x[j, ..., a0:b0, a1:b1]
        return
    for cycle in cycles(order):
        if len(cycle) == 1:
            continue
        # the last of the cycle reads the first, which changes first
        last = cycle[-1]
        (a0, a1), (b0, b1) = lo[last], hi[last]
        first = x[cycle[0], ..., a0:b0, a1:b1]
        saved = first.copy() if is_numpy_array(first) else first.clone()
        for i in cycle[:-1]:
            (a0, a1), (b0, b1) = lo[i], hi[i]
            x[i, ..., a0:b0, a1:b1] = x[order[i], ..., a0:b0, a1:b1]
        (a0, a1), (b0, b1) = lo[last], hi[last]
        x[last, ..., a0:b0, a1:b1] = saved


def paste_masked(x: Array, perm: Array, lower: Array, upper: Array, axes: tuple[int, ...],
                 out: Array | None) -> Array:
    """A box per sample on samples too small to copy box by box: the partner
    batch gathered, then copied through the boxes' mask (the reference's
    :func:`.reference.box_mask`, on NumPy views) into the target
    (``np.copyto(where=)``), where the reference builds the partner batch
    and a new one with ``where``: one batch of scratch fewer. CPU tensors
    are handled through NumPy views of their memory."""
    view = numpy_of(x)
    mask = box_mask(namespace_of(np), view, numpy_of(lower), numpy_of(upper), axes)
    partner = np.take(view, numpy_of(perm), axis=0)
    target = copy_of(Ops(x), x, out)
    np.copyto(view if target is x else numpy_of(target), partner, where=mask)
    return target


def paste_box(x: Array, perm: Array, lower: Array, upper: Array, axes: tuple[int, ...],
              out: Array | None) -> Array:
    """Batch mode CutMix by slicing: copy the batch, then gather only the box.

    The reference gathers the whole partner batch and selects with a mask;
    here only the box of every partner is read, so CutMix moves less data
    than MixUp. ``out`` may be ``x``: the partners' boxes are gathered into
    a new array before anything is written.
    """
    ops = Ops(x)
    target = copy_of(ops, x, out)
    index: list[Any] = [slice(None)] * x.ndim
    for j, (lo, hi) in enumerate(zip(host_list(lower), host_list(upper), strict=True)):
        index[axes[j]] = slice(lo, hi)
    region = tuple(index)
    if ops.torch is not None:  # index_select costs less than torch's advanced indexing
        if target is x:  # every box is read before one is written
            target[region] = ops.torch.index_select(x[region], 0, perm)
        else:  # gathered straight into the target's boxes
            ops.torch.index_select(x[region], 0, perm, out=target[region])
    else:
        target[region] = x[region][perm]
    return target

