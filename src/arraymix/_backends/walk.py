"""Blending in host memory (NumPy arrays, CPU torch tensors) sample by
sample or block by block, so that everything but the batch stays in cache.

The reference (:mod:`.reference`) builds the partner batch ``x[perm]`` and a
few batch-sized temporaries, each written to memory and read back. Here the
batch is walked along the cycles of the permutation instead:

- ``out`` may be ``x`` itself: along a cycle ``i0 → i1 → … → ik-1`` sample
  ``i_m`` needs its partner ``i_m+1``, which is overwritten only later, and
  the last one needs ``i0``, saved first. One sample of scratch suffices.
- on NumPy the per-sample arithmetic is the reference's sequence of
  roundings (``λ·a``, ``(1 − λ)·b``, their sum, in the compute dtype), so
  the results are equal; torch uses its ``lerp`` kernel, one pass and one
  rounding per sample, within an ulp of the reference.

Small samples go through :func:`blend_blocks` instead: blocks of samples
through one cached scratch. The callers (:mod:`.numpy_host`,
:mod:`.torch_cpu`) decide which applies; the thresholds are
:class:`.tuning.Tuning`'s.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Container, Iterator, Sequence
from typing import Any

import numpy as np

from .. import _pages
from .._compat import Array, is_numpy_array, is_torch_array, isdtype, namespace, torch_module
from . import reuse
from .threads import for_runs
from .tuning import Tuning

__all__ = ["Ops", "blend_blocks", "copy_of", "cycles", "fresh_torch", "host_list", "int_run",
           "int_runs", "int_walk", "numpy_of", "piece_of", "rounded_into", "tracks_grad",
           "walk_blend"]


def tracks_grad(*arrays: Array | None) -> bool:
    """Whether torch's autograd records any of ``arrays`` (x, out, or a learned
    λ): the fast paths read values on the host or write through ``out=``, which
    would drop the gradient, so only the differentiable paths may run."""
    return any(is_torch_array(a) and a.requires_grad for a in arrays if a is not None)


def numpy_of(a: Array) -> Any:
    """A host array as NumPy: itself, or a CPU tensor's zero-copy view."""
    return a if is_numpy_array(a) else a.numpy()


def fresh_torch(like: Array, dtype: Any = None) -> Array:
    """``torch.empty_like``, on huge pages where the memory is the host's and
    large (:mod:`arraymix._pages`): its first writes then fault 512 times less
    often. A large one comes from memory an earlier result gave back, where
    there is some (:mod:`.reuse`)."""
    kept = reuse.torch_empty(like, dtype)
    if kept is not None:
        return kept
    out = torch_module().empty_like(like, dtype=dtype)
    if out.device.type == "cpu" and out.numel() * out.element_size() >= _pages.MIN_BYTES:
        storage = out.untyped_storage()
        _pages.advise(storage.data_ptr(), storage.nbytes())
    return out


def cycles(perm: list[int]) -> Iterator[list[int]]:
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


def _walk(order: list[int], in_place: bool, skip: Container[int] = ()
          ) -> Iterator[tuple[int | None, int, int | None]]:
    """The walk's steps along the cycles of ``order``: ``(save, i, j)``, blend
    sample ``i`` with its partner ``j``, having first copied sample ``save``
    (when not None) into the one sample of scratch. In place a cycle's first
    sample is saved before it is overwritten, and its last sample takes the
    saved copy as partner (``j`` is None). Into a new target, the samples in
    ``skip`` have no step (each step is independent there)."""
    for cycle in cycles(order):
        last = len(cycle) - 1
        closes = in_place and last > 0
        for m, i in enumerate(cycle):
            if i in skip:
                continue
            save = cycle[0] if closes and m == 0 else None
            yield save, i, None if closes and m == last else order[i]


def host_list(a: Array) -> list[Any]:
    values: list[Any] = a.tolist()
    return values


def _wide(dtype: Any) -> Any:
    """The loop NumPy float16 arithmetic runs in: float32, with each result
    rounded to float16 on the way out.

    NumPy's float16 loops convert each operand and result inside the
    arithmetic, one element at a time; a float32 loop with casting
    converts in buffered runs, which is faster. The values are the same: a
    product of two float16 numbers is exact in float32, and float32's 24
    bits are enough (2 * 11 + 2) for a sum rounded first to float32, then to
    float16, to be correctly rounded.
    """
    return np.float32 if dtype == np.float16 else None


class Ops:
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
        return reuse.numpy_like(like, dtype)  # NumPy asks for huge pages itself

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
        elif a.dtype.kind in "iu" and dst.dtype.kind == "f":
            # integers converted into the float scratch first, exactly, then
            # scaled there: two simple loops cost less than one casting loop
            np.copyto(dst, a, casting="unsafe")
            np.multiply(dst, s, out=dst)
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
        elif self.rounds:
            rounded_into(src, dst)
        else:
            np.copyto(dst, src, casting="unsafe")


#: For each float dtype: ``1.5·2**(p − 1)`` (``p`` the significand's bits)
#: and the unsigned integer of its width. A float ``s`` with ``|s| < 2**(p −
#: 2)`` plus the constant lies where the floats are the integers, so the sum
#: is rounded as ``rint`` rounds ``s`` (to nearest, half to even), and that
#: integer is the sum's low bits.
_MAGIC: dict[Any, tuple[Any, Any]] = {
    np.dtype(np.float32): (np.float32(1.5 * 2**23), np.uint32),
    np.dtype(np.float64): (np.float64(1.5 * 2**52), np.uint64),
}


def rounded_into(src: np.ndarray[Any, Any], dst: np.ndarray[Any, Any]) -> None:
    """``dst[...] = rint(src)`` cast to ``dst``'s integer dtype, as the
    reference rounds; ``src`` (float scratch) is overwritten.

    For integers of at most half the float's width (uint8 and int16 from
    float32, int32 from float64: every blend of two of them lies well within
    the constant's range) it adds :data:`_MAGIC`'s constant and casts the
    bits, two passes cheaper than ``rint`` and a float-to-integer cast.
    """
    magic = _MAGIC.get(src.dtype)
    if magic is not None and 2 * dst.dtype.itemsize <= src.dtype.itemsize:
        np.add(src, magic[0], out=src)
        np.copyto(dst, src.view(magic[1]), casting="unsafe")
        return
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
        lam_l, om_l = host_list(lam_c.reshape(-1)), host_list((1 - lam_c).reshape(-1))
    if len(lam_l) == 1:
        return lam_l * batch, om_l * batch
    return lam_l, om_l


def piece_of(x: Array, t: Tuning) -> int:
    """The walk's piece for ``x``'s samples: integer data blends through
    float scratch in larger pieces (:class:`.tuning.Tuning`)."""
    return t.int_piece if isdtype(namespace(x), x.dtype, "integral") else t.piece


def walk_blend(x: Array, lam: Array, perm: Array, out: Array | None, ctype: Any,
               piece: int, threads: int = 1, keep: Collection[int] = ()) -> Array:
    """``λ·x + (1 − λ)·x[perm]`` into ``out`` (a new array if None; may be x),
    sample by sample along the cycles; NumPy samples in pieces of about
    ``piece`` elements (integers on up to ``threads`` threads). Floating
    samples in ``keep`` are copied instead (into a new array only)."""
    ops = Ops(x)
    batch = x.shape[0]
    target = ops.empty(x) if out is None else out
    in_place = target is x
    kept = set(keep)
    if kept:
        if out is not None or ops.rounds:
            raise ValueError("walk_blend keeps floating samples, and into a new array only")
        for i in kept:
            ops.copy(target[i, ...], x[i, ...])
    lam_l, om_l = _weights(lam, ctype, batch)
    order = host_list(perm)
    exact = ctype == x.dtype
    if batch == 0:
        return target
    # torch (integers, float8): whole samples, as the four
    # views a piece would need cost about a microsecond each
    pieces = _pieces(x, piece) if ops.torch is None else []
    part = x[0][pieces[0][0]] if pieces else x[0, ...]
    if ops.torch is None and ops.rounds:
        # the integer walk saves no sample: a cycle's first piece, converted
        # before any write, is its last step's partner
        src = [x[i, ...] for i in range(batch)]  # views, 0-d ones too
        int_walk(src, src if in_place else [target[i, ...] for i in range(batch)], order,
                 lam_l, om_l, pieces, ops.empty(part, dtype=ctype), threads=threads)
        return target
    saved: Array = ops.empty(x[0, ...]) if in_place else None  # read only in place
    if ops.torch is not None and exact:
        _lerp_walk(ops.torch, x, target, order, om_l, saved, kept)
        return target
    tmp = ops.empty(part, dtype=None if exact else ctype)
    if ops.torch is None and exact and ops.wide is None:
        _ufunc_walk(x, target, order, lam_l, om_l, saved, pieces, tmp, kept)
        return target
    acc = None if exact else ops.empty(part, dtype=ctype)
    # (x[i, ...], not x[i]: a NumPy batch of scalars gives views, not scalars)
    for save, i, j in _walk(order, in_place, kept):
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
                saved: Array, pieces: list[tuple[Index, Index]], tmp: Array,
                skip: Container[int] = ()) -> None:
    """:func:`blend` for NumPy floats blended in their own dtype: the same
    three ufunc calls a piece as ``Ops.blend`` (``(1 − λ)·b`` into scratch
    first, then ``λ·a`` into the target, then their sum), so the same values,
    called directly: the samples' views made once, the scratch's pieces
    once a call, no method calls between the ufuncs. In place, ``saved``
    holds each cycle's first sample for its last.
    """
    src = [x[i, ...] for i in range(x.shape[0])]  # views, 0-d ones too (list(x) gives scalars)
    dst = src if target is x else [target[i, ...] for i in range(x.shape[0])]
    cuts: list[tuple[Any, Array]] = [(s, tmp[t]) for s, t in pieces] or [(..., tmp)]
    multiply, add = np.multiply, np.add
    for save, i, j in _walk(order, target is x, skip):
        if save is not None:
            np.copyto(saved, src[save])
        b = saved if j is None else src[j]
        a, d, lam, om = src[i], dst[i], lam_l[i], om_l[i]
        for s, t in cuts:
            multiply(b[s], om, out=t)  # first: for a fixed point in place, b is a and d
            piece = d[s]
            multiply(a[s], lam, out=piece)
            add(piece, t, out=piece)


def int_walk(src: list[Array], dst: list[Array], order: list[int], lam_l: list[Any],
             om_l: list[Any], pieces: list[tuple[Index, Index]], tmp: Array,
             rows: set[int] | None = None, threads: int = 1) -> None:
    """``dst[i] = λ·src[i] + (1 − λ)·src[order[i]]`` for NumPy integers, for
    every ``i`` or those in ``rows``: the reference's roundings (as
    ``Ops.blend``), with each piece of a sample converted to the compute
    dtype once. ``dst`` may be ``src`` (in place, ``rows`` None).

    A cycle ``i0 → i1 → …`` is walked piece by piece: the conversion of
    ``i_m+1``'s piece, made for ``(1 − λ)·b`` at step ``m``, is ``a`` at
    step ``m + 1``; in place ``i0``'s, made first, is the partner of the
    last step. On ``threads`` threads the cycles, one after the other, are
    cut into that many runs of steps (:mod:`.threads`); in place a run's
    last partner, which another run may overwrite, is read from a copy made
    before any run starts.
    """
    in_place = dst is src
    runs, saved = int_runs(src, order, threads, in_place)

    def body(ks: Sequence[int]) -> None:
        for k in ks:
            int_run(src, dst, order, lam_l, om_l, pieces, tmp, rows, runs[k], saved,
                     in_place)

    for_runs(range(len(runs)), body, len(runs))


Step = tuple[int, bool, bool]


def int_runs(src: list[Array], order: list[int], threads: int, in_place: bool
             ) -> tuple[list[list[Step]], dict[int, Array]]:
    """:func:`int_walk`'s steps ``(sample, starts its cycle, closes it)``
    cut into up to ``threads`` runs, and, in place, copies of the partners
    that one run reads and another writes: the first of a cycle opened in
    an earlier run, and the first step of the next run. The runs may then
    go in any order, or at once."""
    steps = [(i, m == 0, m == len(cycle) - 1) for cycle in cycles(order)
             for m, i in enumerate(cycle)]
    count = max(1, min(threads, len(steps)))
    cuts = [len(steps) * k // count for k in range(count + 1)]
    runs = [steps[cuts[k]:cuts[k + 1]] for k in range(count)]
    saved: dict[int, Array] = {}
    if in_place and count > 1:
        for run in runs:
            opened = False
            for m, (i, starts, closes) in enumerate(run):
                opened = opened or starts
                if (closes and not opened) or (m == len(run) - 1 and not closes):
                    saved[order[i]] = src[order[i]].copy()
    return runs, saved


def int_run(src: list[Array], dst: list[Array], order: list[int], lam_l: list[Any],
             om_l: list[Any], pieces: list[tuple[Index, Index]], tmp: Array,
             rows: set[int] | None, run: list[Step],
             saved: dict[int, Array], in_place: bool) -> None:
    """One run of :func:`int_walk`'s steps ``(sample, starts its cycle,
    closes it)``, with scratch of its own."""
    first, acc, b_s, even, odd = (np.empty_like(tmp) for _ in range(5))
    cuts: list[tuple[Any, Any]] = pieces or [(..., ...)]
    copyto, multiply, add = np.copyto, np.multiply, np.add
    last = len(run) - 1
    for s, t in cuts:
        f0, a_t, b_t, spare = first[t], acc[t], b_s[t], (even[t], odd[t])
        cur = None
        opened = False  # a cycle started in this run, its first piece in f0
        for m, (i, starts, closes) in enumerate(run):
            if starts:
                cur, opened = None, False
                if in_place:
                    copyto(f0, src[i][s], casting="unsafe")
                    cur, opened = f0, True
            if rows is not None and i not in rows:
                cur = None
                continue
            if cur is None:
                cur = spare[(m + 1) & 1]
                copyto(cur, src[i][s], casting="unsafe")
            j = order[i]
            if in_place and closes and opened:
                nxt = f0  # the cycle's first as it was, converted before any write
            else:
                nxt = spare[m & 1]
                source = saved.get(j) if in_place and (closes or m == last) else None
                copyto(nxt, (src[j] if source is None else source)[s], casting="unsafe")
            multiply(nxt, om_l[i], out=b_t)
            multiply(cur, lam_l[i], out=a_t)
            add(a_t, b_t, out=a_t)
            rounded_into(a_t, dst[i][s])
            cur = nxt


def _lerp_walk(torch: Any, x: Array, target: Array, order: list[int], weights: list[Any],
               saved: Array, skip: Container[int] = ()) -> None:
    """:func:`blend` for torch floats: one ``lerp`` a sample, along the cycles.

    The samples' views are made in one ``unbind`` each for ``x`` and the
    target (cheaper than indexing a view per sample), and the loop calls
    ``lerp`` itself. In place,
    ``saved`` holds each cycle's first sample for its last.
    """
    src = x.unbind(0)
    dst = src if target is x else target.unbind(0)
    lerp = torch.lerp
    for save, i, j in _walk(order, target is x, skip):
        if save is not None:
            saved.copy_(src[save])
        lerp(src[i], saved if j is None else src[j], weights[i], out=dst[i])


Index = tuple[slice, ...]


def _pieces(x: Array, piece: int) -> list[tuple[Index, Index]]:
    """A sample cut along its first axis longer than one (channels, rows,
    time) into pieces of about ``piece`` elements: for each, its index
    in a sample and in the scratch, which is the size of the first piece.
    Empty where a sample is one piece."""
    sizes = x.shape[1:]
    axis = next((j for j, n in enumerate(sizes) if n > 1), None)
    if axis is None:
        return []
    rows = sizes[axis]
    k = min(rows, round(math.prod(sizes) / piece))
    if k <= 1:
        return []
    step = -(-rows // k)
    lead = (slice(None),) * axis
    return [((*lead, slice(c, min(c + step, rows))), (*lead, slice(0, min(step, rows - c))))
            for c in range(0, rows, step)]


def blend_blocks(x: Array, lam: Array, perm: Array, out: Array | None, ctype: Any,
                 t: Tuning) -> Array:
    """``λ·x + (1 − λ)·x[perm]`` into ``out`` (new if None), for NumPy samples
    smaller than ``t.walk_min_sample`` elements.

    The reference builds the partner batch, two products and their sum: four
    batch-sized arrays, each written to DRAM and read back. Here blocks of
    about twice ``t.walk_min_sample`` elements (256 KiB of float32: with the
    block of ``x`` and its result, within a 1 MiB L2 cache) go through one
    scratch: the partners of a block gathered into it, scaled there, and the
    block's result written once (twice as large blocks halve the Python
    calls).
    The arithmetic is the walk's (:meth:`Ops.blend`): the reference's
    roundings, so the result is equal to it. In place (``out`` is ``x``),
    a batch of one block needs nothing more, one of at most
    ``t.copy_back_bytes`` is blended into a new batch and copied back,
    and a larger one takes :func:`_blocks_in_place`: the scratch stays
    bounded whatever the batch.
    """
    batch = x.shape[0]
    step = max(1, 2 * t.walk_min_sample // max(1, math.prod(x.shape[1:])))
    lam_c = lam.astype(ctype)
    # in the compute dtype, as the reference computes it (NumPy 1.x would
    # make 1 - a 0-d array a float64 scalar, unrounded in a float32 loop)
    om_c = (1 - lam_c).astype(ctype)
    if lam_c.ndim:
        lam_c = lam_c.reshape((batch,) + (1,) * (x.ndim - 1))
        om_c = om_c.reshape(lam_c.shape)
    # the walk's arithmetic, on a block of samples at a time
    ops = Ops(x)
    in_place = out is x
    if in_place:
        if batch <= 2 * step:
            step = batch  # one block reads every partner before it writes
        elif x.nbytes <= t.copy_back_bytes:
            x[...] = blend_blocks(x, lam, perm, None, ctype, t)
            return x
        else:  # blocks twice as large: the gather and scatter cost less per call
            return _blocks_in_place(x, lam_c, om_c, perm, 2 * step, ops, ctype)
    partner, tmp, acc = _block_scratch(x, min(step, batch), ctype)
    target = reuse.numpy_like(x) if out is None else out
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


def _block_scratch(x: Array, n: int, ctype: Any) -> tuple[Array, Array, Array | None]:
    """Scratch for ``n`` samples: the partners, and the walk's ``tmp`` and
    ``acc`` (floating data scales the gathered partners where they lie)."""
    partner = np.empty((n, *x.shape[1:]), dtype=x.dtype)
    if ctype == x.dtype:
        return partner, partner, None
    return partner, np.empty_like(partner, dtype=ctype), np.empty_like(partner, dtype=ctype)


def _blocks_in_place(x: Array, lam_c: Array, om_c: Array, perm: Array, step: int,
                     ops: Ops, ctype: Any) -> Array:
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
    order = host_list(perm)
    seq: list[int] = []
    bounds: list[tuple[int, int]] = []  # positions in seq of each cycle's first and last
    for cycle in cycles(order):
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


def copy_of(ops: Ops, x: Array, out: Array | None) -> Array:
    """Where a paste writes: ``out`` (new if None) holding a copy of ``x``, unless it is x."""
    if out is None:
        out = ops.empty(x)
    if out is not x:
        ops.copy(out, x)
    return out

