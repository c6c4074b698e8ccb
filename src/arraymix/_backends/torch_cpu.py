"""The torch backends: :class:`Torch` for tensors on any device, and
:class:`TorchCPU` for tensors in host memory.

:class:`Torch` blends floating tensors with torch's ``lerp`` (one kernel,
one rounding, differentiable, traceable by ``torch.compile``) and leaves
the rest to the reference: it is what the ``meta`` device, CUDA without
Triton, other accelerators, autograd and ``torch.compile`` get.
:class:`TorchCPU` adds the host paths for plain tensors (no autograd, no
trace): the walk and NumPy's blocks on the tensor's own memory
(:mod:`.walk`), box copies (:mod:`.boxes`), and class ids through NumPy
views.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import _pages
from .._compat import Array, numpy_twins, torch_module
from . import boxes, family_host, walk
from .numpy_host import NUMPY, blend_whole, host_paste_path
from .reference import Reference, ctype_of, one_hot_values, partners, resize_ctype
from .threads import threads_for
from .tuning import current
from .walk import fresh_torch, tracks_grad

__all__ = ["Torch", "TorchCPU", "lerp"]


class Torch(Reference):
    """torch tensors on any device: ``lerp`` for floating blends."""

    name = "torch"

    def blend(self, x: Array, lam: Array, perm: Array, out: Array | None,
              groups: int) -> Array:
        if current().force == "reference" or ctype_of(self.xp, x.dtype) != x.dtype:
            return super().blend(x, lam, perm, out, groups)
        result = lerp(x, lam, partners(self.xp, x, perm, groups), out)
        # out itself, as documented: a tensor subclass's out= op may hand
        # back a new plain tensor viewing the same memory
        return result if out is None else out

    def log_softmax(self, z: Array, axis: int) -> Array:
        # torch's fused kernel: one pass forward and one backward, where the
        # reference's five operations each keep a (B, C) tensor for autograd
        if current().force == "reference":
            return super().log_softmax(z, axis)
        return torch_module().nn.functional.log_softmax(z, dim=axis)


def host_rows(keep: Array) -> list[int]:
    """The indices where a CPU boolean tensor is True."""
    rows: list[int] = keep.nonzero().flatten().tolist()
    return rows


def plain(*arrays: Array | None) -> bool:
    """Whether host paths may take these tensors: outside ``torch.compile``
    and with no autograd recording any (the host paths read values and
    write through ``out=``, which would drop the gradient)."""
    return not (torch_module().compiler.is_compiling() or tracks_grad(*arrays))


def unrecorded(*arrays: Array | None) -> bool:
    """Whether autograd records nothing of these tensors' use here: outside
    ``torch.compile``, and none requires grad or grad mode is off (an
    optimizer-style update under ``torch.no_grad()``)."""
    torch = torch_module()
    return not torch.compiler.is_compiling() and (
        not tracks_grad(*arrays) or not torch.is_grad_enabled())


def _view(a: Array) -> Any:
    """A host tensor's memory as NumPy (through ``detach`` where it requires grad)."""
    return (a.detach() if a.requires_grad else a).numpy()


class TorchCPU(Torch):
    """torch tensors in host memory: the walk, blocks and box copies."""

    name = "torch-cpu"

    def keep_rows(self, x: Array, result: Array, keep: Array) -> Array:
        torch = torch_module()
        if (torch.compiler.is_compiling() or tracks_grad(x, result)
                or x.dtype not in numpy_twins(torch)):  # torch's own operations
            return super().keep_rows(x, result, keep)
        NUMPY.keep_rows(x.numpy(), result.numpy(), keep.numpy())  # on the same memory
        return result

    def blend_keeping(self, x: Array, lam: Array, perm: Array, keep: Array,
                      groups: int) -> Array:
        t = current()
        if (t.force in (None, "walk") and x.shape[0] and x.is_floating_point()
                and not torch_module().compiler.is_compiling() and plain(x, None, lam)
                and (t.force == "walk" or (math.prod(x.shape[1:]) >= t.walk_min_sample
                                           and x.numel() > 2 * t.walk_min_sample))):
            # the walk copies the kept samples instead of blending them first
            # (a batch that blend blends whole is left to it, for its values)
            return walk.walk_blend(x, lam, perm, None, ctype_of(self.xp, x.dtype),
                                   walk.piece_of(x, t), keep=host_rows(keep))
        return super().blend_keeping(x, lam, perm, keep, groups)

    def blend(self, x: Array, lam: Array, perm: Array, out: Array | None,
              groups: int) -> Array:
        t = current()
        if (t.force == "reference" or not x.shape[0]
                or torch_module().compiler.is_compiling()):  # traced: torch's own kernels
            return super().blend(x, lam, perm, out, groups)
        ctype = ctype_of(self.xp, x.dtype)
        twins = numpy_twins(torch_module())
        if (groups == 1 and t.force in (None, "blocks") and x.dtype in twins
                and lam.dtype in twins and x.numel() <= 2 * t.walk_min_sample
                and x.is_contiguous() and (out is None or out.is_contiguous())
                and unrecorded(x, out, lam)):
            # a small batch: NumPy's operations on the tensors' memory cost
            # less than torch's (the reference's roundings, as NumPy's blocks,
            # new or into out alike, subclass or not)
            mixed = blend_whole(_view(x), _view(lam), _view(perm), twins[ctype])
            if out is None and type(x) is torch_module().Tensor:
                return torch_module().from_numpy(mixed)
            target = fresh_torch(x) if out is None else out
            np.copyto(_view(target), mixed)
            return target
        if not plain(x, out, lam):
            return super().blend(x, lam, perm, out, groups)
        size = math.prod(x.shape[1:])
        if t.force == "walk" or (t.force is None and size >= t.walk_min_sample):
            if (not x.is_floating_point() and x.dtype in twins and lam.dtype in twins
                    and x.is_contiguous() and (out is None or out.is_contiguous())):
                # integers: NumPy's loops on the tensors' memory, the same
                # roundings in faster passes than torch's kernels (contiguous
                # only: NumPy's pieces of a channels-last sample are strided)
                target = fresh_torch(x) if out is None else out
                view = x.numpy()
                walk.walk_blend(view, lam.numpy(), perm.numpy(),
                                view if out is x else target.numpy(), twins[ctype],
                                walk.piece_of(x, t), threads_for(x))
                return target
            return walk.walk_blend(x, lam, perm, out, ctype, walk.piece_of(x, t))
        in_place = out is x
        if (in_place and x.dtype in twins and lam.dtype in twins
                and (t.force == "blocks" or (
                    t.force is None and x.element_size() * x.numel() > t.torch_scratch_bytes))):
            view = x.numpy()  # NumPy's in-place blocks on the tensor's memory
            walk.blend_blocks(view, lam.numpy(), perm.numpy(), view, twins[ctype], t)
            return x
        if (ctype == x.dtype and groups == 1 and t.force in (None, "gather-lerp")
                and (out is None or out.is_contiguous())):
            result = gather_lerp(x, lam, perm, out)
            return result if out is None else out
        return super().blend(x, lam, perm, out, groups)

    def paste(self, x: Array, perm: Array, lower: Array, upper: Array,
              axes: tuple[int, ...], out: Array | None, groups: int) -> Array:
        path = "reference"
        if plain(x, out):
            numpy_view = out is not None and x.dtype in numpy_twins(torch_module())
            path = host_paste_path(x, lower, out, numpy_view)
        if path == "boxes":
            return boxes.paste_boxes(x, perm, lower, upper, axes, out)
        if path == "slice":
            return boxes.paste_box(x, perm, lower, upper, axes, out)
        if path == "mask-copy":
            return boxes.paste_masked(x, perm, lower, upper, axes, out)
        return super().paste(x, perm, lower, upper, axes, out, groups)

    def _family_host(self, x: Array, out: Array | None) -> bool:
        """Whether the family's host paths (NumPy views) may take ``x``."""
        return (current().force != "reference" and bool(x.shape[0]) and plain(x, out)
                and x.dtype in numpy_twins(torch_module()))

    def paste_mask(self, x: Array, perm: Array, mask: Array, axes: tuple[int, ...],
                   out: Array | None, groups: int) -> Array:
        if not self._family_host(x, out):
            return super().paste_mask(x, perm, mask, axes, out, groups)
        return family_host.mask_host(x, perm, mask, axes, out)

    def mosaic(self, x: Array, sources: Array, centre: Array, axes: tuple[int, ...],
               out: Array | None, groups: int) -> Array:
        if not self._family_host(x, out):
            return super().mosaic(x, sources, centre, axes, out, groups)
        return family_host.mosaic_host(x, sources, centre, axes, out)

    def resize_paste(self, x: Array, perm: Array, lower: Array, upper: Array,
                     axes: tuple[int, ...], nearest: bool, out: Array | None,
                     groups: int) -> Array:
        if not self._family_host(x, out):
            return super().resize_paste(x, perm, lower, upper, axes, nearest, out, groups)
        ctype = None if nearest else numpy_twins(torch_module())[resize_ctype(self.xp, x.dtype)]
        return family_host.resize_host(x, perm, lower, upper, axes, ctype, out)

    def mix_part(self, x: Array, part: Any, result: Array, axes: tuple[int, ...],
                 nearest: bool, groups: int) -> Array:
        if not (self._family_host(x, result) and all(
                a.device.type == "cpu" for a in part if hasattr(a, "device"))):
            return super().mix_part(x, part, result, axes, nearest, groups)
        ctype = None if nearest else numpy_twins(torch_module())[resize_ctype(self.xp, x.dtype)]
        return family_host.part_host(x, part, result, axes, ctype)

    def one_hot(self, labels: Array, num_classes: int, smoothing: float,
                dtype: Any) -> Array:
        if current().force == "reference" or not plain():
            return super().one_hot(labels, num_classes, smoothing, dtype)
        on, off = one_hot_values(num_classes, smoothing)
        rows = torch_module().full((*labels.shape, num_classes), off, dtype=dtype)
        result: Array = rows.scatter_(-1, labels[..., None].long(), on)
        return result

    def mix_ids(self, y: Array, lam: Array, perm: Array, num_classes: int, smoothing: float,
                dtype: Any, groups: int) -> Array:
        torch = torch_module()
        twins = numpy_twins(torch)
        if (current().force == "reference" or y.ndim != 1 or not plain(lam)
                or dtype not in twins or lam.dtype not in twins):
            return super().mix_ids(y, lam, perm, num_classes, smoothing, dtype, groups)
        # NumPy's operations on the tensors' views cost less than torch's on small arrays
        return torch.from_numpy(NUMPY.mix_ids(y.numpy(), lam.numpy(), perm.numpy(),
                                              num_classes, smoothing, twins[dtype], groups))


def lerp(x: Array, lam: Array, partner: Array, out: Array | None) -> Array:
    """``λ·x + (1 − λ)·partner`` as one torch kernel: ``lerp(x, partner, 1 − λ)``.

    Whole-batch torch (CUDA, or CPU samples too small to walk): one pass and
    one temporary fewer than the reference's three kernels, no host read, and
    differentiable, traceable by ``torch.compile``. It rounds once, so it is
    within an ulp of the reference rather than equal to it.
    """
    weight = _lerp_weight(x, lam)
    torch = torch_module()
    if out is None:
        return torch.lerp(x, partner, weight)
    if tracks_grad(x, lam, out):  # out= kernels refuse autograd; copy_ records it
        result: Array = out.copy_(torch.lerp(x, partner, weight))
        return result
    return torch.lerp(x, partner, weight, out=out)


def _host_weight(x: Array, lam: Array) -> Any:
    """:func:`_lerp_weight` for host tensors, by NumPy on their views (torch
    operations on a few numbers cost more): ``1 − λ`` in ``x``'s dtype, one
    weight as a Python float (which ``lerp`` converts to that dtype exactly),
    or a tensor per sample."""
    twins = numpy_twins(torch_module())
    if x.dtype not in twins or lam.dtype not in twins:  # bfloat16: torch's own operations
        return _lerp_weight(x, lam)
    ctype = np.dtype(twins[x.dtype])
    lam_c = lam.numpy().astype(ctype)
    weight = ctype.type(1) - lam_c if lam_c.ndim == 0 else 1 - lam_c
    if weight.ndim == 0:
        return float(weight)
    return torch_module().from_numpy(weight.reshape((weight.shape[0],) + (1,) * (x.ndim - 1)))


def _lerp_weight(x: Array, lam: Array) -> Array:
    weight = 1 - lam.to(x.dtype)
    if weight.ndim:
        weight = weight.reshape((weight.shape[0],) + (1,) * (x.ndim - 1))
    return weight


def gather_lerp(x: Array, lam: Array, perm: Array, out: Array | None) -> Array:
    """:func:`lerp` with the partners gathered into the result itself, then
    blended in place: one batch-sized allocation (none with ``out=``) where
    gather-then-lerp makes two. Fresh batch-sized buffers page-fault when the
    allocator has handed their memory back, which on CIFAR-sized batches cost
    more than the arithmetic. Same kernels, so the same values as :func:`lerp`.
    In place (``out`` is ``x``) the partners are gathered into scratch first.
    """
    torch = torch_module()
    weight = _host_weight(x, lam)
    if out is x:
        return torch.lerp(x, torch.index_select(x, 0, perm), weight, out=x)
    if (out is None and x.numel() * x.element_size() < _pages.MIN_BYTES
            and x.is_contiguous()):  # small: no pages to advise, one call fewer
        target = torch.index_select(x, 0, perm)
    else:
        target = torch.index_select(x, 0, perm, out=fresh_torch(x) if out is None else out)
    return torch.lerp(x, target, weight, out=target)

