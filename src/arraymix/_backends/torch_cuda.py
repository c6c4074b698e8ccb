"""The torch CUDA backend: one Triton kernel per blend, paste, mixed
targets and draw (:mod:`._triton`, imported on first use, where Triton is).

On a GPU the reference gathers the partner batch first (a read and a write
of the batch) and then blends (two reads, one write): 5N bytes where 3N
suffice, and CutMix's mask-and-select moves more. One kernel that reads
each sample and its partner and writes the result once moves 3N for a
blend and 2N for a paste (the box of the partner, the rest of the sample).
It takes the partner as ``perm[i]`` folded into sample i's group, so it
equals the grouped gather, and an index out of range reads another sample
of the batch, never outside it. In place (``out`` is ``x``, or the same
memory) a partner could be overwritten before it is read, so each program
of the in-place kernels owns a tile of columns across the whole batch and
takes the partners from the tile it loaded: the batch is read and written
once, with no scratch. Batches of more than ``cuda_column_rows`` samples
(:class:`.tuning.Tuning`: a tile of every sample would spill registers)
blend into a new array that is copied back, or gather the partners' boxes
into scratch before putting them. Where a kernel does not apply (autograd,
``torch.compile``, no Triton, strided views) :class:`.torch_cpu.Torch`'s
paths run.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import math
import struct
from typing import Any, cast

from .._compat import Array, torch_module
from .reference import one_hot_values
from .torch_cpu import Torch
from .tuning import current
from .walk import tracks_grad

__all__ = ["DRAWS_MAX_AREA", "TorchCUDA", "dense_order", "draws_usable", "fused_blend",
           "fused_draws", "fused_ids", "fused_paste", "fused_usable", "triton_kernels"]


class TorchCUDA(Torch):
    """torch tensors on a CUDA device, with Triton."""

    name = "torch-cuda"

    def blend(self, x: Array, lam: Array, perm: Array, out: Array | None,
              groups: int) -> Array:
        if current().force in (None, "fused") and fused_usable(x, out, lam):
            return fused_blend(x, lam, perm, out, groups)
        return super().blend(x, lam, perm, out, groups)

    def paste(self, x: Array, perm: Array, lower: Array, upper: Array,
              axes: tuple[int, ...], out: Array | None, groups: int) -> Array:
        if current().force in (None, "fused") and fused_usable(x, out, None):
            return fused_paste(x, perm, lower, upper, axes, out, groups)
        return super().paste(x, perm, lower, upper, axes, out, groups)

    def mix_ids(self, y: Array, lam: Array, perm: Array, num_classes: int, smoothing: float,
                dtype: Any, groups: int) -> Array:
        if current().force in (None, "fused") and fused_ids_usable(y, lam, dtype):
            return fused_ids(y, lam, perm, num_classes, smoothing, groups)
        return super().mix_ids(y, lam, perm, num_classes, smoothing, dtype, groups)


#: Elements one Triton program covers, at most; and the most programs per
#: sample (the grid's second axis).
_BLOCK = 2048
_MAX_BLOCKS = 65535


#: In place: at least 8 columns (a 32-byte sector of float32) for every
#: sample of a column tile. The tile's rows and elements are
#: :class:`.tuning.Tuning`'s ``cuda_column_rows`` and ``cuda_column_tile``.
_COLUMN_MIN = 8


def _fusable(a: Array, *others: Array | None) -> bool:
    """What every fused kernel needs: a non-empty tensor, outside autograd
    and ``torch.compile``, with Triton."""
    if not a.shape[0]:
        return False
    compiling = bool(torch_module().compiler.is_compiling())
    return not (tracks_grad(a, *others) or compiling) and triton_kernels() is not None


def dense_order(x: Array) -> tuple[int, ...] | None:
    """The order of ``x``'s axes, batch first, in which its memory is
    contiguous: ``(0, 1, 2, 3)`` for NCHW, ``(0, 2, 3, 1)`` for a
    channels-last batch (``torch.channels_last``); None if there is none (a
    strided view, or the batch not outermost)."""
    if x.is_contiguous():
        return tuple(range(x.ndim))
    order = (0, *sorted(range(1, x.ndim), key=lambda d: -x.stride(d)))
    return order if x.permute(order).is_contiguous() else None


def fused_usable(x: Array, out: Array | None, lam: Array | None) -> bool:
    """Whether one fused kernel can blend (``lam`` given) or paste ``x`` (into
    ``out``): :func:`_fusable`, dense with the batch outermost (any order of
    the other axes: channels-last too), a sample under 2**31 elements."""
    if not _fusable(x, out, lam):
        return False
    torch = torch_module()
    floats = (torch.float16, torch.bfloat16, torch.float32, torch.float64)
    if (dense_order(x) is None
            or x.dtype in (torch.bool, torch.complex64, torch.complex128)
            or (x.is_floating_point() and x.element_size() == 1)  # float8: not before sm_89
            or (lam is not None and x.dtype not in floats)):  # integers blend in float32
        return False
    inner: int = math.prod(x.shape[1:])
    return 0 < inner <= _BLOCK * _MAX_BLOCKS


def columns(x: Array, out: Array | None) -> tuple[int, int, int] | None:
    """The in-place column tile, (rows, cols, warps): when ``out`` is ``x``'s
    memory laid out alike and the batch fits a tile; else None."""
    batch, inner = x.shape[0], math.prod(x.shape[1:])
    t = current()
    if (out is None or batch > t.cuda_column_rows or not out.is_contiguous()
            or out.data_ptr() != x.data_ptr() or not _has_gather()):
        return None
    rows = max(2, 1 << (batch - 1).bit_length())
    cols = min(max(_COLUMN_MIN, t.cuda_column_tile // rows), 1 << (inner - 1).bit_length())
    return rows, cols, _columns_warps(rows, cols, x.element_size())


def _columns_warps(rows: int, cols: int, itemsize: int) -> int:
    """Warps for a column tile: 16 elements a thread (8 of 8 bytes), at
    least 4 warps."""
    return max(4, rows * cols * max(1, itemsize // 4) // (16 * 32))


def fused_ids_usable(y: Array, lam: Array, dtype: Any) -> bool:
    """Whether one kernel can build mixed one-hot float32 rows of class ids
    ``y``: 1-d, :func:`_fusable` with a floating ``lam``."""
    return bool(y.ndim == 1 and _fusable(y, lam) and lam.dtype.is_floating_point
                and dtype == torch_module().float32)


def fused_ids(y: Array, lam: Array, perm: Array, num_classes: int, smoothing: float,
              groups: int) -> Array:
    """``blend(one_hot(y, C, smoothing=s), (lam, perm))`` in one kernel (see
    :func:`fused_ids_usable`), where the array API path launches about ten:
    the comparison of every id with every class, the selects, the range
    check, then the blend. An id out of range makes its rows NaN, as
    :func:`one_hot` does on a GPU."""
    batch = y.shape[0]
    on, off = one_hot_values(num_classes, smoothing)
    torch = torch_module()
    out = torch.empty((batch, num_classes), dtype=torch.float32, device=y.device)
    block = block_for(num_classes)
    lam_stride = 0 if lam.ndim == 0 else _stride(lam)
    with _on(y):
        triton_kernels().ids_kernel[(batch, -(-num_classes // block))](
            y, perm, lam, out, num_classes, _stride(y), _stride(perm), lam_stride,
            batch // groups, on, off, block=block, **COMPILE)
    return out


def _fused_target(x: Array, out: Array | None) -> Array:
    """Where a kernel writes: ``out`` if it is contiguous and apart from ``x``,
    else a new array (copied into ``out`` after: in place, a partner must not
    change before it is read, so the result is the same with and without out=)."""
    if out is not None and out.is_contiguous() and (
            out.untyped_storage().data_ptr() != x.untyped_storage().data_ptr()):
        return out
    return torch_module().empty_like(x)


def _fused_result(target: Array, out: Array | None) -> Array:
    if out is None or target is out:
        return target
    out.copy_(target)
    return out


@functools.cache
def triton_kernels() -> Any:
    """The Triton kernels (:mod:`._triton`), compiled on first use; None without Triton."""
    try:
        return importlib.import_module("arraymix._backends._triton")
    except ImportError:
        return None


#: Compile options named on every launch. No fused multiply-adds: with
#: them ptxas may contract ``λ·a + (1 − λ)·b`` around either product, and
#: differently in different kernels. Rounded products and sum are the same
#: in every kernel and equal the reference's bitwise.
COMPILE = {"enable_fp_fusion": False}


def magic(d: int) -> int:
    """``n // d`` as ``(n·m) >> (32 + l)`` for every ``0 <= n < 2**31`` and
    ``d >= 1``, packed as ``m | l << 34`` (the kernels' ``quotient``).

    With ``l = ceil(log2 d)``, ``s = 32 + l`` and ``m = ceil(2**s / d)``:
    ``m·d = 2**s + e`` with ``0 <= e < d``, so ``n·m / 2**s = n/d + n·e/(d·2**s)``
    where the excess is below ``1/d`` (``n·e < 2**31 · 2**l``) and cannot
    carry ``n/d`` past the next integer. ``m <= 2**33`` (``d > 2**(l-1)``),
    so the high word of ``n·m`` is below ``2**32``.
    """
    shift = (d - 1).bit_length()
    return -(-(1 << (32 + shift)) // d) | shift << 34


def axis_ways(steps: list[int], sizes: list[int]) -> dict[str, int]:
    """How the paste kernels find ``offs // step`` on each cut axis (their
    ``axis_index``, last axis first): 1, a step of 1 (``offs`` itself); 2,
    an axis whose step is the next axis's step times its length, so the
    quotient that axis found; 0, a division. ``h0``, ``h1``, ``h2``."""
    ways = {"h0": 0, "h1": 0, "h2": 0}
    for j, step in enumerate(steps):
        if step == 1:
            ways[f"h{j}"] = 1
        elif j + 1 < len(steps) and step == steps[j + 1] * sizes[j + 1]:
            ways[f"h{j}"] = 2
    return ways


@functools.cache
def _has_gather() -> bool:
    """Whether Triton has ``tl.gather`` (3.2 and up), which the in-place
    column kernels take their partners with."""
    return hasattr(triton_kernels().tl, "gather")


def block_for(inner: int) -> int:
    return max(128, min(_BLOCK, 1 << (inner - 1).bit_length()))


class _MemoryOrder:
    """``x`` and ``out`` seen with their axes in ``x``'s memory order (a
    channels-last batch as NHWC: contiguous, as the kernels read it; ``out=x``
    stays one object), and the way back for a result. :func:`fused_usable`
    has found that order; where it is ``x``'s own, the arrays themselves."""

    def __init__(self, x: Array, out: Array | None) -> None:
        self.order = cast(tuple[int, ...], dense_order(x))
        self.out, self.x, self.out_view = out, x, out
        if self.order != tuple(range(x.ndim)):
            self.x = x.permute(self.order)
            self.out_view = self.x if out is x else (
                None if out is None else out.permute(self.order))

    def back(self, result: Array) -> Array:
        """A result of the view as a result of ``x``: ``out``, or ``result``
        with ``x``'s axes (and ``x``'s memory layout)."""
        if self.out is not None:
            return self.out
        if self.order == tuple(range(result.ndim)):
            return result
        return result.permute(tuple(self.order.index(d) for d in range(result.ndim)))


def fused_blend(x: Array, lam: Array, perm: Array, out: Array | None,
                groups: int) -> Array:
    """``λ·x + (1 − λ)·x[perm]`` in one kernel (see :func:`fused_usable`); a
    channels-last batch gives a channels-last result."""
    seen = _MemoryOrder(x, out)
    return seen.back(_fused_blend(seen.x, lam, perm, seen.out_view, groups))


def _fused_blend(x: Array, lam: Array, perm: Array, out: Array | None,
                 groups: int) -> Array:
    batch, inner = x.shape[0], math.prod(x.shape[1:])
    lam_stride = 0 if lam.ndim == 0 else _stride(lam)
    kernels = triton_kernels()
    cdt = kernels.tl.float64 if x.dtype == torch_module().float64 else kernels.tl.float32
    tile = columns(x, out)
    if tile is not None:
        rows, cols, warps = tile
        with _on(x):
            kernels.blend_columns_kernel[(-(-inner // cols),)](
                x, perm, lam, batch, inner, _stride(perm), lam_stride, batch // groups,
                rows=rows, cols=cols, cdt=cdt, num_warps=warps, **COMPILE)
        return out
    target = _fused_target(x, out)
    block = block_for(inner)
    with _on(x):
        kernels.blend_kernel[(batch, -(-inner // block))](
            x, perm, lam, target, inner, _stride(perm), lam_stride, batch // groups,
            block=block, cdt=cdt, **COMPILE)
    return _fused_result(target, out)


def fused_paste(x: Array, perm: Array, lower: Array, upper: Array, axes: tuple[int, ...],
                out: Array | None, groups: int) -> Array:
    """Paste each partner's box in one kernel (see :func:`fused_usable`).

    Out of place, the kernel reads a sample and its partner whole and keeps
    the partner's values inside the box. In place (``out`` is ``x``), one
    kernel reads tiles of columns across the batch and writes them back with
    each sample's box taken from its partner's row of the tile. A batch too
    large for a tile gathers the partners' boxes into a scratch batch, then
    puts them into ``x`` (two kernels that touch nothing outside the boxes).
    A channels-last batch is cut on its memory-order view and gives a
    channels-last result.
    """
    seen = _MemoryOrder(x, out)
    moved = tuple(seen.order.index(a) for a in axes)
    return seen.back(_fused_paste(seen.x, perm, lower, upper, moved, seen.out_view, groups))


def _fused_paste(x: Array, perm: Array, lower: Array, upper: Array, axes: tuple[int, ...],
                 out: Array | None, groups: int) -> Array:
    batch, inner = x.shape[0], math.prod(x.shape[1:])
    geometry: list[int] = []
    steps = [math.prod(x.shape[ax + 1:]) for ax in axes]  # elements between steps, in a sample
    for ax, step in zip(axes, steps, strict=True):  # the length; the step and length as magic
        geometry += [x.shape[ax], magic(step), magic(x.shape[ax])]
    geometry += [1, magic(1), magic(1)] * (3 - len(axes))
    cut = {"k": len(axes), **axis_ways(steps, [x.shape[ax] for ax in axes])}
    # the kernels read box j of sample s at s * box_stride + j
    lower, upper = lower.contiguous(), upper.contiguous()
    box_stride = len(axes) if lower.ndim == 2 else 0
    kernels = triton_kernels()
    block = block_for(inner)
    grid = (batch, -(-inner // block))
    shared = (inner, _stride(perm), box_stride, batch // groups, *geometry)
    tile = columns(x, out)
    if tile is not None:
        rows, cols, warps = tile
        with _on(x):
            kernels.paste_columns_kernel[(-(-inner // cols),)](
                x, perm, lower, upper, batch, *shared, rows=rows, cols=cols, **cut,
                num_warps=warps, **COMPILE)
        return out
    with _on(x):
        if out is x:
            scratch = torch_module().empty_like(x)
            kernels.box_kernel[grid](x, perm, lower, upper, scratch, *shared, **cut,
                                     block=block, from_partner=True, **COMPILE)
            kernels.box_kernel[grid](scratch, perm, lower, upper, x, *shared, **cut,
                                     block=block, from_partner=False, **COMPILE)
            return x
        target = _fused_target(x, out)
        kernels.paste_kernel[grid](x, perm, lower, upper, target, *shared, **cut,
                                   block=block, **COMPILE)
    return _fused_result(target, out)


#: The largest product of the cut axes' lengths :func:`fused_draws` takes:
#: every area and their total are then whole float64 numbers, exact in any
#: order, as the array API path's product over the axes is.
DRAWS_MAX_AREA = 2**53


def draws_usable(at: Any, device: Any, sizes: tuple[int, ...] = ()) -> bool:
    """Whether :func:`fused_draws` can make the parameters from a
    ``torch.Generator``'s draws on its device ``at``, for arrays asked on
    ``device`` (None: ``at``): tensors on ``at`` take this backend (a CUDA
    device), outside ``torch.compile``, with Triton, and no box or a box on
    one or two axes of at most :data:`DRAWS_MAX_AREA` elements (three take
    a cube root through a power, which only CUDA's own library has in
    Triton, out of reach of the interpreter check)."""
    from . import for_torch_device

    if not (len(sizes) <= 2 and math.prod(sizes) <= DRAWS_MAX_AREA
            and isinstance(for_torch_device(at.type), TorchCUDA)):
        return False
    torch = torch_module()
    if torch.compiler.is_compiling() or triton_kernels() is None:
        return False
    return device is None or _same_device(torch.device(device), at)


def _same_device(a: Any, b: Any) -> bool:
    """Whether two torch devices are one (``cuda`` is the current CUDA device)."""
    if a.type != b.type:
        return False
    if a.index == b.index:
        return True
    here = torch_module().cuda.current_device() if a.type == "cuda" else None
    return (here if a.index is None else a.index) == (here if b.index is None else b.index)


#: Keys a program of the draws kernel ranks, and compares at a time.
RANK_BLOCK, RANK_COLS = 32, 128


def fused_draws(gamma: Array, expo: Array, alpha: float, dtype: Any, index: Any,
                unit: Array | None = None, sizes: tuple[int, ...] = (),
                correct_lam: bool = True, keys: Array | None = None,
                groups: int = 1) -> tuple[Array, Array | None, Array | None, Array | None]:
    """λ (of ``dtype``); with ``unit`` and the cut axes' ``sizes``, the
    CutMix boxes' bounds (of ``index``); with ``keys``, the partners (of
    ``index``): from a torch source's draws (see :func:`draws_usable`), in
    one kernel where torch's operations take a launch each: about 20 for a
    CutMix's λ and box, 4 for a MixUp's λ, a few for a sort.

    ``gamma`` and ``expo`` are ``arraymix._random._TorchSource.beta_parts`` of shape
    ``(2, *lead)``; ``unit`` the uniform draws ``(*lead, k)``; ``keys`` the
    ``B <=`` ``Tuning.rank_max`` uniform draws ``arraymix._random._TorchSource.permutation``
    (``permutations`` for ``groups``) sorts. The values are the array API
    path's on the same draws: λ₀ = softmax of ``log g − e / α`` (as
    ``arraymix._random._TorchSource.beta``), then ``arraymix._sample._boxes``; each group's partners
    the stable argsort of its keys.
    """
    torch = torch_module()
    lead = tuple(gamma.shape[1:])
    count, k = math.prod(lead), len(sizes)
    lam = torch.empty(lead, dtype=dtype, device=gamma.device)
    lower = upper = perm = None
    if k:
        lower = torch.empty((*lead, k), dtype=index, device=gamma.device)
        upper = torch.empty_like(lower)
    batch = 0 if keys is None else keys.shape[0]
    if keys is not None:
        perm = torch.empty((batch,), dtype=index, device=gamma.device)
    programs = max(count, batch)
    if programs:
        block = RANK_BLOCK if keys is not None else draws_block(count)
        scale_bits = struct.unpack("<q", struct.pack("<d", -1.0 / alpha))[0]
        size0, size1 = (*sizes, 1, 1)[:2]
        with _on(gamma):
            triton_kernels().draws_kernel[(-(-programs // block),)](
                gamma, expo, gamma if unit is None else unit, gamma if keys is None else keys,
                lam, lam if lower is None else lower, lam if upper is None else upper,
                lam if perm is None else perm, count, scale_bits, math.prod(sizes), size0,
                size1, batch, max(1, batch // groups), k=k, correct=correct_lam,
                rank=keys is not None, block=block, cols=RANK_COLS, **COMPILE)
    return lam, lower, upper, perm


def draws_block(count: int) -> int:
    """Samples per program of the draws kernel without partners: the
    blend's block, at most 512: more float64 samples spill registers with
    some Triton releases (tests/scripts/fused_compile.py checks each)."""
    return min(block_for(count), 512)


def _on(x: Array) -> contextlib.AbstractContextManager[Any]:
    """Launch on x's GPU (Triton launches on the current one)."""
    if x.device.type == "cuda":
        ctx: contextlib.AbstractContextManager[Any] = torch_module().cuda.device(x.device)
        return ctx
    return contextlib.nullcontext()  # Triton's interpreter, on host tensors


def _stride(a: Array) -> int:
    """Stride of ``a`` along its first axis, in elements."""
    stride: int = a.stride(0)
    return stride

