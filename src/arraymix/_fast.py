"""Measured fast paths: a sample-by-sample walk for host memory (NumPy
arrays, torch CPU tensors), fused kernels for torch CUDA, whole-batch paths
for small host samples, and a shortcut for integer labels on the host.

The array API path (:mod:`._blend`) is the reference; it builds the partner
batch ``x[perm]`` and a few batch-sized temporaries, so it moves several
times the batch through DRAM. Here the batch is walked sample by sample
instead, along the cycles of the permutation, so everything but the batch
itself stays in cache:

- ``out`` may be ``x`` itself: along a cycle ``i0 → i1 → … → ik-1`` sample
  ``i_m`` needs its partner ``i_m+1``, which is overwritten only later, and
  the last one needs ``i0``, saved first. One sample of scratch suffices.
- on NumPy the per-sample arithmetic is the same sequence of roundings as
  the reference (``λ·a``, ``(1 − λ)·b``, their sum, in the compute dtype),
  so the results are equal; torch uses its ``lerp`` kernel, one pass and one
  rounding per sample, within an ulp of the reference.

The walk applies only where the parameters can be read without a device
sync and no trace or autograd graph is being recorded (see :func:`usable`);
B iterations of Python cost a few microseconds each, so small samples take
a whole-batch path instead: on NumPy blocks of samples through one cached
scratch (:func:`blend_blocks`), on torch a gather and one ``lerp``
(:func:`gather_lerp`). New torch batches on the host ask for huge pages
(:func:`fresh_torch`). Each path is tested equal to the array API reference.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import math
import struct
from collections.abc import Callable, Iterator
from typing import Any, cast

import numpy as np

from . import _pages
from ._compat import (
    Array,
    host_readable,
    is_jax_array,
    is_numpy_array,
    is_torch_array,
    isdtype,
    namespace,
    namespace_of,
    numpy_twins,
    torch_module,
)

__all__ = ["blend", "blend_blocks", "blocks_usable", "box_usable", "draws_usable",
           "fresh_torch", "fused_blend", "fused_draws", "fused_paste", "fused_usable",
           "gather_lerp", "gather_lerp_usable", "lerp", "lerp_usable", "mix_ids", "paste",
           "paste_box", "tracks_grad", "usable", "usable_ids", "widen_usable"]

#: Elements per sample from which walking samples beats whole-batch kernels.
#: bench/run.py: at 3×224×224 the walk wins 4-6× (the batch exceeds the
#: caches, a sample does not); at 3×32×32 the whole batch fits in cache and
#: the per-sample dispatch (~5 µs a kernel on torch) makes the walk 4× slower.
MIN_SAMPLE = 32768


def tracks_grad(*arrays: Array | None) -> bool:
    """Whether torch's autograd records any of ``arrays`` (x, out, or a learned
    λ): the fast paths read values on the host or write through ``out=``, which
    would drop the gradient, so only the differentiable paths may run."""
    return any(is_torch_array(a) and a.requires_grad for a in arrays if a is not None)


def on_host(x: Array, out: Array | None, *params: Array) -> bool:
    """Whether the host paths may take these arrays: every value readable
    without a sync or a trace, and autograd recording none of them."""
    if not host_readable(x) or not all(host_readable(p) for p in params):
        return False
    if out is not None and not host_readable(out):
        return False
    return not tracks_grad(x, out, *params)


def numpy_of(a: Array) -> Any:
    """A host array as NumPy: itself, or a CPU tensor's zero-copy view."""
    return a if is_numpy_array(a) else a.numpy()


def usable(x: Array, out: Array | None, *params: Array) -> bool:
    """Whether the per-sample host path applies to these arrays."""
    if math.prod(x.shape[1:]) < MIN_SAMPLE:  # first: small batches pay for every check
        return False
    return on_host(x, out, *params)


def lerp_usable(x: Array, ctype: Any) -> bool:
    """Whether torch's fused ``lerp`` can blend ``x`` (floating torch tensors)."""
    return is_torch_array(x) and ctype == x.dtype


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


def _lerp_weight(x: Array, lam: Array) -> Array:
    weight = 1 - lam.to(x.dtype)
    if weight.ndim:
        weight = weight.reshape((weight.shape[0],) + (1,) * (x.ndim - 1))
    return weight


def gather_lerp_usable(x: Array, out: Array | None, lam: Array) -> bool:
    """Whether the partners can be gathered by ``index_select`` and blended
    by ``lerp`` directly (plain torch tensors: no autograd, no trace, ``out``
    contiguous)."""
    torch = torch_module()
    return not (tracks_grad(x, out, lam) or torch.compiler.is_compiling()
                or (out is not None and not out.is_contiguous()))


def gather_lerp(x: Array, lam: Array, perm: Array, out: Array | None) -> Array:
    """:func:`lerp` with the partners gathered into the result itself, then
    blended in place: one batch-sized allocation (none with ``out=``) where
    gather-then-lerp makes two. Fresh batch-sized buffers page-fault when the
    allocator has handed their memory back, which on CIFAR-sized batches cost
    more than the arithmetic. Same kernels, so the same values as :func:`lerp`.
    In place (``out`` is ``x``) the partners are gathered into scratch first.
    """
    torch = torch_module()
    weight = _lerp_weight(x, lam)
    if out is x:
        return torch.lerp(x, torch.index_select(x, 0, perm), weight, out=x)
    target = torch.index_select(x, 0, perm, out=fresh_torch(x) if out is None else out)
    return torch.lerp(x, target, weight, out=target)


def fresh_torch(like: Array, dtype: Any = None) -> Array:
    """``torch.empty_like``, on huge pages where the memory is the host's and
    large (:mod:`._pages`): its first writes then fault 512 times less often."""
    out = torch_module().empty_like(like, dtype=dtype)
    if out.device.type == "cpu":
        storage = out.untyped_storage()
        _pages.advise(storage.data_ptr(), storage.nbytes())
    return out


def widen_usable(x: Array) -> bool:
    """Whether to blend a half-precision JAX batch in float32: XLA on the CPU
    computes float16 and bfloat16 a conversion at a time, several times
    slower than float32 (bench/run.py: 2-3x a hand-written blend)."""
    return is_jax_array(x) and str(x.dtype) in ("float16", "bfloat16")


def _cycles(perm: list[int]) -> Iterator[list[int]]:
    seen = [False] * len(perm)
    for start in range(len(perm)):
        cycle = []
        i = start
        while not seen[i]:
            seen[i] = True
            cycle.append(i)
            i = perm[i]
        if cycle:
            yield cycle


def _walk(order: list[int], in_place: bool) -> Iterator[tuple[int | None, int, int | None]]:
    """The walk's steps along the cycles of ``order``: ``(save, i, j)``, blend
    sample ``i`` with its partner ``j``, having first copied sample ``save``
    (when not None) into the one sample of scratch. In place a cycle's first
    sample is saved before it is overwritten, and its last sample takes the
    saved copy as partner (``j`` is None)."""
    for cycle in _cycles(order):
        last = len(cycle) - 1
        closes = in_place and last > 0
        for m, i in enumerate(cycle):
            save = cycle[0] if closes and m == 0 else None
            yield save, i, None if closes and m == last else order[i]


def _host_list(a: Array) -> list[Any]:
    values: list[Any] = a.tolist()
    return values


def _wide(dtype: Any) -> Any:
    """The loop NumPy float16 arithmetic runs in: float32, with each result
    rounded to float16 on the way out.

    NumPy's float16 loops convert each operand and result inside the
    arithmetic, one element at a time (a blend costs 65x the memory floor);
    a float32 loop with casting converts in buffered runs, a little faster
    (64x3x224x224 float16: 0.93x the time on this project's machine, where
    the conversions themselves are the bound). The values are the same: a
    product of two float16 numbers is exact in float32, and float32's 24
    bits are enough (2 * 11 + 2) for a sum rounded first to float32, then to
    float16, to be correctly rounded.
    """
    return np.float32 if dtype == np.float16 else None


class _Ops:
    """The few kernels the walk needs, for one library."""

    def __init__(self, x: Array) -> None:
        self.torch = torch_module() if is_torch_array(x) else None
        self.wide = _wide(x.dtype) if self.torch is None else None
        #: integer data is rounded back; floats narrower than the compute
        #: dtype (float8) are only cast, once
        self.rounds = isdtype(namespace(x), x.dtype, "integral")

    def empty(self, like: Array, dtype: Any = None) -> Array:
        if self.torch is not None:
            return fresh_torch(like, dtype)
        return np.empty_like(like, dtype=dtype)  # NumPy asks for huge pages itself

    def copy(self, dst: Array, src: Array) -> None:
        if self.torch is not None:
            dst.copy_(src)
        else:
            np.copyto(dst, src)

    def scaled(self, a: Array, s: Any, dst: Array) -> None:
        if self.torch is not None:
            if a.dtype != dst.dtype and (dst.dtype == self.torch.float64
                                         or a.is_floating_point()):
                # wide integers (torch would multiply them in float32, the
                # default dtype) and float8 (torch has no arithmetic for it):
                # converted into the compute dtype first, exactly
                dst.copy_(a)
                a = dst
            self.torch.mul(a, s, out=dst)
        else:
            np.multiply(a, s, out=dst, casting="unsafe", dtype=self.wide)

    def add(self, a: Array, b: Array, dst: Array) -> None:
        if self.torch is not None:
            self.torch.add(a, b, out=dst)
        else:
            np.add(a, b, out=dst, casting="same_kind", dtype=self.wide)

    def blend(self, a: Array, b: Array, lam: Any, om: Any, dst: Array, tmp: Array,
              acc: Array | None) -> None:
        """``dst = λ·a + (1 − λ)·b`` for one sample; ``dst`` may be ``a``, never ``b``.

        Integer data (``acc`` given) repeats the reference's three roundings
        in the compute dtype on both libraries, so the rounded result is equal:
        one rounding fewer could move a value lying near .5 by one. Floating
        data on torch does not come here: :func:`_lerp_walk` takes one
        ``lerp`` kernel a sample (a single rounding, within an ulp of the
        reference), as three launches per sample cost twice as much.
        """
        # (1 − λ)·b first: for a fixed point in place, b is a and dst
        self.scaled(b, om, tmp)
        if acc is None:
            self.scaled(a, lam, dst)
            self.add(dst, tmp, dst)
        else:
            self.scaled(a, lam, acc)
            self.add(acc, tmp, acc)
            self.round_into(acc, dst)

    def round_into(self, src: Array, dst: Array) -> None:
        if self.torch is not None:
            if self.rounds:
                self.torch.round(src, out=src)
            dst.copy_(src)
        else:
            if self.rounds:
                np.rint(src, out=src)
            np.copyto(dst, src, casting="unsafe")


def _weights(lam: Array, ctype: Any, batch: int) -> tuple[list[Any], list[Any]]:
    """λ and 1 − λ per sample, rounded to the compute dtype exactly as the
    reference rounds them, as host scalars."""
    if is_numpy_array(lam):
        dt = np.dtype(ctype)
        lam_c = np.asarray(lam).astype(dt)
        one_minus = (np.asarray(1, dtype=dt) - lam_c).astype(dt)
        # NumPy scalars of the compute dtype keep float16 arithmetic in float16
        lam_l = [dt.type(v) for v in lam_c.reshape(-1).tolist()]
        om_l = [dt.type(v) for v in one_minus.reshape(-1).tolist()]
    else:
        lam_c = lam.to(ctype)
        lam_l, om_l = _host_list(lam_c.reshape(-1)), _host_list((1 - lam_c).reshape(-1))
    if len(lam_l) == 1:
        return lam_l * batch, om_l * batch
    return lam_l, om_l


def blend(x: Array, lam: Array, perm: Array, out: Array | None, ctype: Any) -> Array:
    """``λ·x + (1 − λ)·x[perm]`` into ``out`` (a new array if None; may be x)."""
    ops = _Ops(x)
    batch = x.shape[0]
    target = ops.empty(x) if out is None else out
    in_place = target is x
    lam_l, om_l = _weights(lam, ctype, batch)
    order = _host_list(perm)
    exact = ctype == x.dtype
    if batch == 0:
        return target
    saved: Array = ops.empty(x[0, ...]) if in_place else None  # read only in place
    if ops.torch is not None and exact:
        _lerp_walk(ops.torch, x, target, order, om_l, saved)
        return target
    # torch (integers, float8): whole samples, as the four
    # views a piece would need cost about a microsecond each
    pieces = _pieces(x) if ops.torch is None else []
    part = x[0][pieces[0][0]] if pieces else x[0, ...]
    tmp = ops.empty(part, dtype=None if exact else ctype)
    if ops.torch is None and exact and ops.wide is None:
        _ufunc_walk(x, target, order, lam_l, om_l, saved, pieces, tmp)
        return target
    acc = None if exact else ops.empty(part, dtype=ctype)
    # (x[i, ...], not x[i]: a NumPy batch of scalars gives views, not scalars)
    for save, i, j in _walk(order, in_place):
        if save is not None:
            ops.copy(saved, x[save, ...])
        partner = saved if j is None else x[j, ...]
        if not pieces:
            ops.blend(x[i, ...], partner, lam_l[i], om_l[i], target[i, ...], tmp, acc)
            continue
        a, dst = x[i], target[i]
        for s, t in pieces:
            ops.blend(a[s], partner[s], lam_l[i], om_l[i], dst[s], tmp[t],
                      None if acc is None else acc[t])
    return target


def _ufunc_walk(x: Array, target: Array, order: list[int], lam_l: list[Any], om_l: list[Any],
                saved: Array, pieces: list[tuple[Index, Index]], tmp: Array) -> None:
    """:func:`blend` for NumPy floats blended in their own dtype: the same
    three ufunc calls a piece as ``_Ops.blend`` (``(1 − λ)·b`` into scratch
    first, then ``λ·a`` into the target, then their sum), so the same values,
    called directly: the samples' views made once, the scratch's
    pieces once a call, no method calls between the ufuncs. 64x3x224x224
    float32 against the general walk (``bench/ab.py``): 0.98x the time into
    a new batch, 0.97x into a buffer, 0.96x in place; ``(64, 1, 160000)``
    audio in place 0.95x. In place, ``saved`` holds each cycle's first
    sample for its last.
    """
    src = [x[i, ...] for i in range(x.shape[0])]  # views, 0-d ones too (list(x) gives scalars)
    dst = src if target is x else [target[i, ...] for i in range(x.shape[0])]
    cuts: list[tuple[Any, Array]] = [(s, tmp[t]) for s, t in pieces] or [(..., tmp)]
    multiply, add = np.multiply, np.add
    for save, i, j in _walk(order, target is x):
        if save is not None:
            np.copyto(saved, src[save])
        b = saved if j is None else src[j]
        a, d, lam, om = src[i], dst[i], lam_l[i], om_l[i]
        for s, t in cuts:
            multiply(b[s], om, out=t)  # first: for a fixed point in place, b is a and d
            piece = d[s]
            multiply(a[s], lam, out=piece)
            add(piece, t, out=piece)


def _lerp_walk(torch: Any, x: Array, target: Array, order: list[int], weights: list[Any],
               saved: Array) -> None:
    """:func:`blend` for torch floats: one ``lerp`` a sample, along the cycles.

    The samples' views are made in one ``unbind`` each for ``x`` and the
    target (0.44 us a view, where indexing costs 0.6 us and a Python step),
    and the loop calls ``lerp`` itself. On 64 ImageNet-sized float32 samples
    the general walk spent 0.6 ms of a 2.8 ms call beside its lerps; this
    one takes 0.90x its time in place, 0.93x into a buffer, 0.96x into a
    new batch (``bench/ab.py``, cases ``torch-imagenet-blend*``). In place,
    ``saved`` holds each cycle's first sample for its last.
    """
    src = x.unbind(0)
    dst = src if target is x else target.unbind(0)
    lerp = torch.lerp
    for save, i, j in _walk(order, target is x):
        if save is not None:
            saved.copy_(src[save])
        lerp(src[i], saved if j is None else src[j], weights[i], out=dst[i])


#: Elements in a piece of a NumPy sample that :func:`blend` takes at a time:
#: its three passes (two products, their sum) then find the piece's result
#: and the partner's product still in the core's 2 MiB L2. 64x3x224x224
#: float32 in pieces of a channel, against whole samples (bench/ab.py):
#: 0.88x the time into a buffer, 0.87x in place, 0.95x into a new batch
#: (page faults are the rest); smaller pieces lose it to the calls
#: (sixteenths of a sample: 1.13x).
PIECE = 1 << 15

Index = tuple[slice, ...]


def _pieces(x: Array) -> list[tuple[Index, Index]]:
    """A sample cut along its first axis longer than one (channels, rows,
    time) into pieces of about :data:`PIECE` elements: for each, its index
    in a sample and in the scratch, which is the size of the first piece.
    Empty where a sample is one piece."""
    sizes = x.shape[1:]
    axis = next((j for j, n in enumerate(sizes) if n > 1), None)
    if axis is None:
        return []
    rows = sizes[axis]
    k = min(rows, round(math.prod(sizes) / PIECE))
    if k <= 1:
        return []
    step = -(-rows // k)
    lead = (slice(None),) * axis
    return [((*lead, slice(c, min(c + step, rows))), (*lead, slice(0, min(step, rows - c))))
            for c in range(0, rows, step)]


#: Kill switch: the tests turn the block walk off to compare both paths.
BLOCKS = True

#: Batches up to this size are blended in place through a new batch that is
#: copied back: in L3, the cycle-ordered blocks' gather and scatter cost
#: more than the copy (CIFAR-sized NumPy, cold caches: 1.08-1.4x); above it,
#: they cost less (1024x3x32x32: 0.85-0.93x) and keep the scratch to a block.
COPY_BACK_BYTES = 4 << 20


def blocks_usable(x: Array, out: Array | None, *params: Array) -> bool:
    """Whether NumPy samples too small to walk one by one can be blended a
    block of samples at a time."""
    return (BLOCKS and is_numpy_array(x) and x.shape[0] > 0
            and all(is_numpy_array(a) for a in params))


def blend_blocks(x: Array, lam: Array, perm: Array, out: Array | None, ctype: Any) -> Array:
    """``λ·x + (1 − λ)·x[perm]`` into ``out`` (new if None), for NumPy samples
    under :data:`MIN_SAMPLE` elements.

    The reference builds the partner batch, two products and their sum: four
    batch-sized arrays, each written to DRAM and read back. Here blocks of
    about twice :data:`MIN_SAMPLE` elements (256 KiB of float32: with the
    block of ``x`` and its result, within a 1 MiB L2 cache) go through one
    scratch: the partners of a block gathered into it, scaled there, and the
    block's result written once (twice as large blocks halve the Python
    calls; measured 0.92-0.95x the time of ``MIN_SAMPLE`` blocks on CIFAR).
    The arithmetic is the walk's (:meth:`_Ops.blend`): the reference's
    roundings, so the result is equal to it. In place (``out`` is ``x``),
    a batch of one block needs nothing more, one of at most
    :data:`COPY_BACK_BYTES` is blended into a new batch and copied back,
    and a larger one takes :func:`_blocks_in_place`: the scratch stays
    bounded whatever the batch.
    """
    batch = x.shape[0]
    step = max(1, 2 * MIN_SAMPLE // max(1, math.prod(x.shape[1:])))
    lam_c = lam.astype(ctype)
    # in the compute dtype, as the reference computes it (NumPy 1.x would
    # make 1 - a 0-d array a float64 scalar, unrounded in a float32 loop)
    om_c = (1 - lam_c).astype(ctype)
    if lam_c.ndim:
        lam_c = lam_c.reshape((batch,) + (1,) * (x.ndim - 1))
        om_c = om_c.reshape(lam_c.shape)
    # the walk's arithmetic, on a block of samples at a time
    ops = _Ops(x)
    in_place = out is x
    if in_place:
        if batch <= 2 * step:
            step = batch  # one block reads every partner before it writes
        elif x.nbytes <= COPY_BACK_BYTES:
            x[...] = blend_blocks(x, lam, perm, None, ctype)
            return x
        else:  # blocks twice as large: the gather and scatter cost less per call
            return _blocks_in_place(x, lam_c, om_c, perm, 2 * step, ops, ctype)
    partner, tmp, acc = _block_scratch(x, min(step, batch), ctype)
    target = np.empty_like(x) if out is None else out
    for i in range(0, batch, step):
        j = min(batch, i + step)
        n = j - i
        # perm was checked (blend) or drawn (mixup): "clip" skips the bounds
        # check that makes take(out=) write through a buffer
        np.take(x, perm[i:j], axis=0, out=partner[:n], mode="clip")
        lam_b, om_b = (lam_c[i:j], om_c[i:j]) if lam_c.ndim else (lam_c, om_c)
        ops.blend(x[i:j], partner[:n], lam_b, om_b, target[i:j], tmp[:n],
                  None if acc is None else acc[:n])
    return target


#: In place, CPU torch samples too small to walk gather the partner batch
#: into scratch up to this size: glibc serves such a batch from its heap,
#: reused call after call, and torch's two threads then beat the blocks
#: below (24-32 MiB of 3x32x32 samples: 1.7-1.8x faster). Above it (glibc's
#: largest mmap threshold) every scratch batch is fresh memory, faulted in
#: on each call, and the cycle-ordered blocks on a NumPy view of the tensor
#: cost 0.64-0.72x as much with a block and a sample of scratch (40-96 MiB).
TORCH_SCRATCH_BYTES = 32 << 20


def torch_blocks_usable(x: Array, out: Array | None, lam: Array, perm: Array) -> bool:
    """Whether a CPU tensor's in-place blend takes :func:`blend_blocks` on
    NumPy views of its memory (a batch over :data:`TORCH_SCRATCH_BYTES` in
    a dtype NumPy has: not bfloat16)."""
    if not (BLOCKS and out is not None and out is x and is_torch_array(x) and x.shape[0] > 0
            and on_host(x, None, lam, perm)):
        return False
    twins = numpy_twins(torch_module())
    return (x.element_size() * x.numel() > TORCH_SCRATCH_BYTES
            and x.dtype in twins and lam.dtype in twins)


def torch_blend_blocks(x: Array, lam: Array, perm: Array, ctype: Any) -> Array:
    """:func:`blend_blocks` in place on a CPU tensor's memory, seen from NumPy
    (same values: the walk's arithmetic, the reference's roundings, in the
    NumPy twin of torch's compute dtype ``ctype``)."""
    view = numpy_of(x)
    blend_blocks(view, numpy_of(lam), numpy_of(perm), view,
                 numpy_twins(torch_module())[ctype])
    return x


def _block_scratch(x: Array, n: int, ctype: Any) -> tuple[Array, Array, Array | None]:
    """Scratch for ``n`` samples: the partners, and the walk's ``tmp`` and
    ``acc`` (floating data scales the gathered partners where they lie)."""
    partner = np.empty((n, *x.shape[1:]), dtype=x.dtype)
    if ctype == x.dtype:
        return partner, partner, None
    return partner, np.empty_like(partner, dtype=ctype), np.empty_like(partner, dtype=ctype)


def _blocks_in_place(x: Array, lam_c: Array, om_c: Array, perm: Array, step: int,
                     ops: _Ops, ctype: Any) -> Array:
    """:func:`blend_blocks` into ``x`` itself, with scratch for one block and
    one sample, not a batch.

    The samples are taken in the order of the permutation's cycles, where
    each one's partner is the next, so a block reads its partners before
    they are overwritten, but for one: the last sample of a cycle reads the
    first, which an earlier block may have written. At most one cycle is
    open across a block's end, so its first sample is saved once, before it
    changes. A block of samples is gathered (they need not lie together),
    blended with its partners and scattered back.
    """
    order = _host_list(perm)
    seq: list[int] = []
    bounds: list[tuple[int, int]] = []  # positions in seq of each cycle's first and last
    for cycle in _cycles(order):
        bounds.append((len(seq), len(seq) + len(cycle) - 1))
        seq += cycle
    rows_all = np.asarray(seq, dtype=np.intp)
    partners_all = perm[rows_all]
    batch = x.shape[0]
    partner, tmp, acc = _block_scratch(x, min(step, batch), ctype)
    rows = np.empty_like(partner)
    saved = np.empty_like(x[0])
    c = 0  # the cycle at the block's first position
    for i in range(0, batch, step):
        j = min(batch, i + step)
        n = j - i
        idx = rows_all[i:j]
        np.take(x, idx, axis=0, out=rows[:n], mode="clip")
        np.take(x, partners_all[i:j], axis=0, out=partner[:n], mode="clip")
        while bounds[c][1] < i:
            c += 1
        first, last = bounds[c]
        if first < i <= last < j:  # a cycle opened before this block closes in it
            partner[last - i] = saved
        d = c
        while bounds[d][1] < j - 1:
            d += 1
        first, last = bounds[d]
        if i <= first and last >= j:  # a cycle opens here and goes on: keep its first
            saved[...] = rows[first - i]
        lam_b, om_b = (lam_c[idx], om_c[idx]) if lam_c.ndim else (lam_c, om_c)
        ops.blend(rows[:n], partner[:n], lam_b, om_b, rows[:n], tmp[:n],
                  None if acc is None else acc[:n])
        x[idx] = rows[:n]
    return x


def _copy_of(ops: _Ops, x: Array, out: Array | None) -> Array:
    """Where a paste writes: ``out`` (new if None) holding a copy of ``x``, unless it is x."""
    if out is None:
        out = ops.empty(x)
    if out is not x:
        ops.copy(out, x)
    return out


#: A box per sample is pasted box by box on the host (a Python loop, about
#: 1.5 us a sample) where samples hold at least this many elements; smaller
#: ones take the whole-batch mask and ``where``, cheaper there. Public paste
#: of 256 samples, interleaved against the mask (NumPy / torch): 1x32x32
#: 1.09x / 1.31x, 3x24x24 0.94x / 0.94x, 2x32x32 0.84x / 0.80x, 3x32x32
#: 0.66x / 0.91x, 1x64x64 0.53x / 0.62x, 3x64x64 (64 samples) 0.40x / 0.60x;
#: torch's rows move by 0.2x between runs (its idle threads spin on the two
#: cores while the loop runs), so the bar is set where both gain: CIFAR's.
PASTE_MIN_SAMPLE = 3072


def paste_usable(x: Array, out: Array | None, perm: Array, lower: Array,
                 upper: Array) -> bool:
    """Whether :func:`paste` applies: host arrays, no autograd, samples large
    enough to walk (:data:`MIN_SAMPLE`), or to copy box by box when every
    sample has its own box (:data:`PASTE_MIN_SAMPLE`)."""
    size = math.prod(x.shape[1:])
    if size < (PASTE_MIN_SAMPLE if lower.ndim == 2 else MIN_SAMPLE):
        return False
    return on_host(x, out, perm, lower, upper)


def paste(x: Array, perm: Array, lower: Array, upper: Array, axes: tuple[int, ...],
          out: Array | None) -> Array:
    """Paste each partner's box into ``out`` (a new array if None; may be x).

    The batch is copied, then each box is copied from its partner, in the
    order of the permutation's cycles when in place. A CPU tensor in a dtype
    NumPy has is handled through NumPy views of its memory: a NumPy slice
    assignment costs about a microsecond, torch's several.
    """
    order, lo, hi = _host_list(perm), _host_list(lower), _host_list(upper)
    target = _copy_of(_Ops(x), x, out)  # a tensor by torch's two-threaded copy
    if is_numpy_array(x) or x.dtype in numpy_twins(torch_module()):
        view = numpy_of(x)  # in place, one view: the loop tells by identity
        _paste_boxes(view, order, lo, hi, axes, view if target is x else numpy_of(target))
    else:  # a torch dtype NumPy lacks (bfloat16)
        _paste_boxes(x, order, lo, hi, axes, target)
    return target


def _paste_boxes(x: Array, order: list[int], lo: list[Any], hi: list[Any],
                 axes: tuple[int, ...], target: Array) -> None:
    """The boxes pasted into ``target``: ``x`` itself, or a copy of it. NumPy
    arrays, or torch tensors (a dtype NumPy lacks). Each box is one slice
    assignment, its index built once per sample (a tuple index: 0.8x the
    time of ``np.copyto`` on views)."""
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
    for cycle in _cycles(order):
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
    """:func:`_paste_boxes` for a box per sample on the last two axes (views
    with them last, for other pairs), its indices written as literal slices:
    per-sample CIFAR CutMix calls took 0.77-0.86x the time of building each
    index in a loop (a Python step per sample is the cost)."""
    if not in_place:
        for i, (j, (a0, a1), (b0, b1)) in enumerate(zip(order, lo, hi, strict=True)):
            if i != j:
                target[i, ..., a0:b0, a1:b1] = x[j, ..., a0:b0, a1:b1]
        return
    for cycle in _cycles(order):
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


def masked_usable(x: Array, out: Array | None, perm: Array, lower: Array,
                  upper: Array) -> bool:
    """Whether :func:`paste_masked` applies: host arrays NumPy can see (NumPy,
    or CPU tensors in a dtype NumPy has, into ``out``: for a new batch torch's
    own two-threaded copies measured 0.91-1.08x as fast), no autograd."""
    if not (BLOCKS and x.shape[0] > 0 and on_host(x, out, perm, lower, upper)):
        return False
    return is_numpy_array(x) or (out is not None
                                 and x.dtype in numpy_twins(torch_module()))


def paste_masked(x: Array, perm: Array, lower: Array, upper: Array, axes: tuple[int, ...],
                 out: Array | None, box_mask: Callable[..., Any]) -> Array:
    """A box per sample on samples too small to copy box by box: the partner
    batch gathered, then copied through the boxes' mask (the reference's
    ``box_mask``, given by the caller, on NumPy views) into the target
    (``np.copyto(where=)``),
    where the reference builds the partner batch and a new one with
    ``where``: one batch of scratch fewer, and 0.62-0.65x the time in place
    (NumPy, 256x3x8x8 to 1024x1x32x32). CPU tensors are handled through NumPy
    views of their memory."""
    view = numpy_of(x)
    mask = box_mask(namespace_of(np), view, numpy_of(lower), numpy_of(upper), axes)
    partner = np.take(view, numpy_of(perm), axis=0)
    target = _copy_of(_Ops(x), x, out)
    np.copyto(view if target is x else numpy_of(target), partner, where=mask)
    return target


def box_usable(x: Array, out: Array | None, perm: Array, lower: Array, upper: Array) -> bool:
    """Whether one box for the whole batch can be pasted by slicing on the host."""
    return lower.ndim == 1 and on_host(x, out, perm, lower, upper)


def paste_box(x: Array, perm: Array, lower: Array, upper: Array, axes: tuple[int, ...],
              out: Array | None) -> Array:
    """Batch mode CutMix by slicing: copy the batch, then gather only the box.

    The reference gathers the whole partner batch and selects with a mask;
    here only the box of every partner is read, so CutMix moves less data
    than MixUp. ``out`` may be ``x``: the partners' boxes are gathered into
    a new array before anything is written.
    """
    ops = _Ops(x)
    target = _copy_of(ops, x, out)
    index: list[Any] = [slice(None)] * x.ndim
    for j, (lo, hi) in enumerate(zip(_host_list(lower), _host_list(upper), strict=True)):
        index[axes[j]] = slice(lo, hi)
    region = tuple(index)
    if ops.torch is not None:  # torch's advanced indexing: 1.3-1.8x index_select on the CPU
        if target is x:  # every box is read before one is written
            target[region] = ops.torch.index_select(x[region], 0, perm)
        else:  # gathered straight into the target's boxes
            ops.torch.index_select(x[region], 0, perm, out=target[region])
    else:
        target[region] = x[region][perm]
    return target


def one_hot_values(num_classes: int, smoothing: float) -> tuple[float, float]:
    """A one-hot row's values (``on`` at its class, ``off`` elsewhere) with
    label smoothing ``s`` over ``C`` classes, as timm: ``1 − s + s/C``, ``s/C``."""
    off = smoothing / num_classes
    return 1.0 - smoothing + off, off


def one_hot_ids(y: Array, num_classes: int, smoothing: float, dtype: Any) -> Array | None:
    """One-hot rows of checked class ids ``y`` (host arrays: NumPy, CPU torch
    outside a trace) as one fill and one scatter of the ids, where the array
    API path compares every id with every class and selects twice; None
    elsewhere. The values are the same Python floats rounded to ``dtype``.
    """
    if not host_readable(y):
        return None
    on, off = one_hot_values(num_classes, smoothing)
    shape = (*y.shape, num_classes)
    if is_numpy_array(y):
        out = np.full(shape, off, dtype=dtype)
        np.put_along_axis(out, y[..., None].astype(np.intp, copy=False), on, axis=-1)
        return out
    if is_torch_array(y):
        torch = torch_module()
        rows = torch.full(shape, off, dtype=dtype, device=y.device)
        result: Array = rows.scatter_(-1, y[..., None].long(), on)
        return result
    return None


def usable_ids(y: Array, lam: Array, perm: Array) -> bool:
    """Whether mixed one-hot rows of class ids ``y`` can be built on the host."""
    return (y.ndim == 1 and all(host_readable(a) for a in (y, lam, perm))
            and not tracks_grad(lam))


def mix_ids(y: Array, lam: Array, perm: Array, num_classes: int, smoothing: float,
            dtype: Any) -> Array:
    """``blend(one_hot(y, C, smoothing=s), (lam, perm))`` without the one-hot.

    A mixed row holds one of four values: ``λ·off + (1 − λ)·off`` at other
    classes, ``λ·on + (1 − λ)·off`` at its own, ``λ·off + (1 − λ)·on`` at its
    partner's, ``λ·on + (1 − λ)·on`` where both are the same. They are
    computed per row with the reference's roundings, so the result is equal
    to the reference: one fill of the B×C result and two scatters of B values
    instead of several passes over B×C arrays.
    """
    if is_torch_array(y):  # CPU tensors: their NumPy views, then a zero-copy wrap
        torch = torch_module()
        np_dtype = np.float64 if dtype == torch.float64 else np.float32  # the targets' dtypes
        return torch.from_numpy(mix_ids(y.numpy(), lam.numpy(), perm.numpy(), num_classes,
                                        smoothing, np_dtype))
    batch = y.shape[0]
    on_f, off_f = one_hot_values(num_classes, smoothing)
    lam_d = np.broadcast_to(np.asarray(lam).astype(dtype), (batch,))
    on = np.asarray(on_f, dtype=dtype)
    off = np.asarray(off_f, dtype=dtype)
    om_d = 1 - lam_d
    partner = y[perm]
    same = partner == y
    own = np.where(same, lam_d * on + om_d * on, lam_d * on + om_d * off)
    theirs = np.where(same, own, lam_d * off + om_d * on)
    out = np.empty((batch, num_classes), dtype=dtype)
    out[...] = (lam_d * off + om_d * off)[:, None]
    rows = np.arange(batch)
    out[rows, partner] = theirs
    out[rows, y] = own
    return out


# --- GPU: one fused kernel per blend or paste -------------------------------
#
# On a GPU the array API path gathers the partner batch first (a read and a
# write of the batch) and then blends (two reads, one write): 5N bytes where
# 3N suffice, and CutMix's mask-and-select moves more. One kernel that reads
# each sample and its partner and writes the result once moves 3N for a
# blend and 2N for a paste (the box of the partner, the rest of the sample).
# It takes the partner as ``perm[i]`` folded into sample i's group, so it
# equals the grouped gather, and an index out of range reads another sample
# of the batch, never outside it. Written in Triton for torch CUDA tensors
# (Triton ships with CUDA builds of torch); compiled once per dtype and
# cached by Triton. In place (``out`` is ``x``, or the same memory) a
# partner could be overwritten before it is read, so each program of the
# in-place kernels owns a tile of columns across the whole batch and takes
# the partners from the tile it loaded: the batch is read and written once,
# with no scratch. Batches of more than
# ``_COLUMN_ROWS`` samples (a tile of every sample would spill registers)
# blend into a new array that is copied back, or gather the partners' boxes
# into scratch before putting them. Measured on an H200
# (docs/bench-gpu.md): a blend at 0.78x the 3N floor against 1.72x for
# gather + lerp. Other GPU libraries (CuPy) take the array API path.

#: Elements one Triton program covers, at most; and the most programs per
#: sample (the grid's second axis).
_BLOCK = 2048
_MAX_BLOCKS = 65535

#: In place: the most samples a column tile spans; the elements of a tile
#: (a program holds it twice, the tile and its gathered partners), at least
#: 8 columns (a 32-byte sector of float32) for every sample. Compiled for
#: sm_90 (tests/scripts/fused_compile.py) these keep every kernel at 16
#: elements a thread (8 of 8-byte dtypes), free of register spills; 1024
#: samples spilled.
_COLUMN_ROWS = 512
_COLUMN_TILE = 2048
_COLUMN_MIN = 8

#: Kill switch: the tests turn the fused kernels off to compare both paths.
FUSED = True

#: Devices whose tensors the fused kernels take. The interpreter check
#: (tests/scripts/fused_interpreter.py) adds "cpu" to drive the public
#: functions through them on host tensors.
FUSED_DEVICES: tuple[str, ...] = ("cuda",)


def _fusable(a: Array, *others: Array | None) -> bool:
    """What every fused kernel needs: a non-empty torch tensor on a CUDA
    device (:data:`FUSED_DEVICES`), outside autograd and ``torch.compile``,
    with Triton."""
    if not (FUSED and is_torch_array(a) and a.device.type in FUSED_DEVICES and a.shape[0]):
        return False
    compiling = bool(torch_module().compiler.is_compiling())
    return not (tracks_grad(a, *others) or compiling) and _triton() is not None


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


def _columns(x: Array, out: Array | None) -> tuple[int, int, int] | None:
    """The in-place column tile, (rows, cols, warps): when ``out`` is ``x``'s
    memory laid out alike and the batch fits a tile; else None."""
    batch, inner = x.shape[0], math.prod(x.shape[1:])
    if (out is None or batch > _COLUMN_ROWS or not out.is_contiguous()
            or out.data_ptr() != x.data_ptr() or not _has_gather()):
        return None
    rows = max(2, 1 << (batch - 1).bit_length())
    cols = min(max(_COLUMN_MIN, _COLUMN_TILE // rows), 1 << (inner - 1).bit_length())
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
    block = _block(num_classes)
    lam_stride = 0 if lam.ndim == 0 else _stride(lam)
    with _on(y):
        _triton().ids_kernel[(batch, -(-num_classes // block))](
            y, perm, lam, out, num_classes, _stride(y), _stride(perm), lam_stride,
            batch // groups, on, off, block=block, **_COMPILE)
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
def _triton() -> Any:
    """The Triton kernels (:mod:`._triton`), compiled on first use; None without Triton."""
    try:
        return importlib.import_module("arraymix._triton")
    except ImportError:
        return None


#: Compile options named on every launch. No fused multiply-adds: with
#: them ptxas contracts ``λ·a + (1 − λ)·b`` around either product, and on an
#: H200 the out-of-place and the in-place kernels chose differently, an ulp
#: apart. Rounded products and sum are the same in every kernel and equal the
#: array API path's (float32) bitwise; a memory-bound kernel loses nothing.
_COMPILE = {"enable_fp_fusion": False}


def _magic(d: int) -> int:
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


def _axis_ways(steps: list[int], sizes: list[int]) -> dict[str, int]:
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
    return hasattr(_triton().tl, "gather")


def _block(inner: int) -> int:
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
    kernels = _triton()
    cdt = kernels.tl.float64 if x.dtype == torch_module().float64 else kernels.tl.float32
    tile = _columns(x, out)
    if tile is not None:
        rows, cols, warps = tile
        with _on(x):
            kernels.blend_columns_kernel[(-(-inner // cols),)](
                x, perm, lam, batch, inner, _stride(perm), lam_stride, batch // groups,
                rows=rows, cols=cols, cdt=cdt, num_warps=warps, **_COMPILE)
        return out
    target = _fused_target(x, out)
    block = _block(inner)
    with _on(x):
        kernels.blend_kernel[(batch, -(-inner // block))](
            x, perm, lam, target, inner, _stride(perm), lam_stride, batch // groups,
            block=block, cdt=cdt, **_COMPILE)
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
        geometry += [x.shape[ax], _magic(step), _magic(x.shape[ax])]
    geometry += [1, _magic(1), _magic(1)] * (3 - len(axes))
    cut = {"k": len(axes), **_axis_ways(steps, [x.shape[ax] for ax in axes])}
    # the kernels read box j of sample s at s * box_stride + j
    lower, upper = lower.contiguous(), upper.contiguous()
    box_stride = len(axes) if lower.ndim == 2 else 0
    kernels = _triton()
    block = _block(inner)
    grid = (batch, -(-inner // block))
    shared = (inner, _stride(perm), box_stride, batch // groups, *geometry)
    tile = _columns(x, out)
    if tile is not None:
        rows, cols, warps = tile
        with _on(x):
            kernels.paste_columns_kernel[(-(-inner // cols),)](
                x, perm, lower, upper, batch, *shared, rows=rows, cols=cols, **cut,
                num_warps=warps, **_COMPILE)
        return out
    with _on(x):
        if out is x:
            scratch = torch_module().empty_like(x)
            kernels.box_kernel[grid](x, perm, lower, upper, scratch, *shared, **cut,
                                     block=block, from_partner=True, **_COMPILE)
            kernels.box_kernel[grid](scratch, perm, lower, upper, x, *shared, **cut,
                                     block=block, from_partner=False, **_COMPILE)
            return x
        target = _fused_target(x, out)
        kernels.paste_kernel[grid](x, perm, lower, upper, target, *shared, **cut,
                                   block=block, **_COMPILE)
    return _fused_result(target, out)


#: The largest product of the cut axes' lengths :func:`fused_draws` takes:
#: every area and their total are then whole float64 numbers, exact in any
#: order, as the array API path's product over the axes is.
DRAWS_MAX_AREA = 2**53


def draws_usable(at: Any, device: Any, sizes: tuple[int, ...] = ()) -> bool:
    """Whether :func:`fused_draws` can make the parameters from a
    ``torch.Generator``'s draws on its device ``at``, for arrays asked on
    ``device`` (None: ``at``): a CUDA device (:data:`FUSED_DEVICES`) outside
    ``torch.compile``, with Triton, and no box or a box on one or two axes
    of at most :data:`DRAWS_MAX_AREA` elements (three take a cube root
    through a power, which only CUDA's own library has in Triton, out of
    reach of the interpreter check)."""
    if not (FUSED and at.type in FUSED_DEVICES and len(sizes) <= 2
            and math.prod(sizes) <= DRAWS_MAX_AREA):
        return False
    torch = torch_module()
    if torch.compiler.is_compiling() or _triton() is None:
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


#: The largest batch whose partners the draws kernel ranks: it compares every
#: key with every other of its group, batch**2 comparisons (16.8 million at
#: 4096, a few microseconds spread over a GPU); larger batches sort.
RANK_MAX = 4096

#: Keys a program of the draws kernel ranks, and compares at a time.
_RANK_BLOCK, _RANK_COLS = 32, 128


def fused_draws(gamma: Array, expo: Array, alpha: float, dtype: Any, index: Any,
                unit: Array | None = None, sizes: tuple[int, ...] = (),
                correct_lam: bool = True, keys: Array | None = None,
                groups: int = 1) -> tuple[Array, Array | None, Array | None, Array | None]:
    """λ (of ``dtype``); with ``unit`` and the cut axes' ``sizes``, the
    CutMix boxes' bounds (of ``index``); with ``keys``, the partners (of
    ``index``): from a torch source's draws (see :func:`draws_usable`), in
    one kernel where torch's operations take a launch each: about 20 for a
    CutMix's λ and box, 4 for a MixUp's λ, a few for a sort.

    ``gamma`` and ``expo`` are ``_TorchSource.beta_parts`` of shape
    ``(2, *lead)``; ``unit`` the uniform draws ``(*lead, k)``; ``keys`` the
    ``B <=`` :data:`RANK_MAX` uniform draws ``_TorchSource.permutation``
    (``permutations`` for ``groups``) sorts. The values are the array API
    path's on the same draws: λ₀ = softmax of ``log g − e / α`` (as
    ``_TorchSource.beta``), then ``_sample._boxes``; each group's partners
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
        block = _RANK_BLOCK if keys is not None else _draws_block(count)
        scale_bits = struct.unpack("<q", struct.pack("<d", -1.0 / alpha))[0]
        size0, size1 = (*sizes, 1, 1)[:2]
        with _on(gamma):
            _triton().draws_kernel[(-(-programs // block),)](
                gamma, expo, gamma if unit is None else unit, gamma if keys is None else keys,
                lam, lam if lower is None else lower, lam if upper is None else upper,
                lam if perm is None else perm, count, scale_bits, math.prod(sizes), size0,
                size1, batch, max(1, batch // groups), k=k, correct=correct_lam,
                rank=keys is not None, block=block, cols=_RANK_COLS, **_COMPILE)
    return lam, lower, upper, perm


def _draws_block(count: int) -> int:
    """Samples per program of the draws kernel without partners: the
    blend's block, at most 1024 (2048 float64 samples spill registers,
    tests/scripts/fused_compile.py)."""
    return min(_block(count), 1024)


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
