"""The fused GPU kernels of :mod:`.torch_cuda`, in Triton's kernel language.

Imported only when Triton is (it ships with CUDA builds of torch); mypy
skips this module, as Triton's language is not typed Python. Out of place,
each program covers ``block`` elements of one sample ``s`` (grid: samples x
blocks). In place, each program covers ``cols`` elements of every sample
(grid: column tiles), see :func:`blend_columns_kernel`.
Offsets within a sample are 32-bit (a sample has fewer than 2**31
elements, see ``torch_cuda.fused_usable``): the paste finds each element's
place on the cut axes from its offset with 32-bit products (``quotient``),
where a 64-bit division costs many times a 32-bit one on a GPU, and
compares it with box bounds clamped to the axis (any int64 a caller passes)
in 32 bits. The start of a sample, ``s * inner``, stays 64-bit: a batch may
exceed 2**31 elements.
"""

import triton
import triton.language as tl

__all__ = ["blend_columns_kernel", "blend_kernel", "box_kernel", "draws_kernel", "ids_kernel",
           "paste_columns_kernel", "paste_kernel", "tl"]


@triton.jit
def partner_of(perm_ptr, s, perm_stride, group):
    # perm[s], folded into the group of sample s
    p = tl.load(perm_ptr + s * perm_stride).to(tl.int64)
    return (s // group) * group + ((p % group) + group) % group


# Triton compiles a variant per divisibility of each int argument; only the
# sample size is worth one (it lets the loads vectorize), so a new batch
# shape rarely costs a compile.
@triton.jit(do_not_specialize=["perm_stride", "lam_stride", "group"])
def blend_kernel(
        x_ptr, perm_ptr, lam_ptr, out_ptr, inner, perm_stride, lam_stride, group,
        block: tl.constexpr, cdt: tl.constexpr):
    s = tl.program_id(0).to(tl.int64)
    offs = tl.program_id(1) * block + tl.arange(0, block)
    mask = offs < inner
    p = partner_of(perm_ptr, s, perm_stride, group)
    # λ and 1 − λ rounded to the data's dtype, as the array API path does
    lam = tl.load(lam_ptr + s * lam_stride).to(x_ptr.dtype.element_ty)
    om = (1.0 - lam.to(cdt)).to(x_ptr.dtype.element_ty).to(cdt)
    a = tl.load(x_ptr + s * inner + offs, mask=mask).to(cdt)
    b = tl.load(x_ptr + p * inner + offs, mask=mask).to(cdt)
    mixed = lam.to(cdt) * a + om * b
    tl.store(out_ptr + s * inner + offs, mixed.to(out_ptr.dtype.element_ty), mask=mask)

@triton.jit(do_not_specialize=["ids_stride", "perm_stride", "lam_stride", "group"])
def ids_kernel(
        ids_ptr, perm_ptr, lam_ptr, out_ptr, classes, ids_stride, perm_stride, lam_stride,
        group, on, off, block: tl.constexpr):
    # Mixed one-hot float32 rows of class ids, without the one-hot rows:
    # λ·a + (1 − λ)·b where a and b are `on` at the sample's and its
    # partner's class and `off` elsewhere (the blend kernel's arithmetic on
    # the rows one_hot would make); NaN where either id is out of range.
    s = tl.program_id(0).to(tl.int64)
    c = tl.program_id(1) * block + tl.arange(0, block)
    p = partner_of(perm_ptr, s, perm_stride, group)
    own = tl.load(ids_ptr + s * ids_stride).to(tl.int64)
    theirs = tl.load(ids_ptr + p * ids_stride).to(tl.int64)
    lam = tl.load(lam_ptr + s * lam_stride).to(tl.float32)
    om = 1.0 - lam
    a = tl.where(c == own, on, off)
    b = tl.where(c == theirs, on, off)
    valid = (own >= 0) & (own < classes) & (theirs >= 0) & (theirs < classes)
    mixed = tl.where(valid, lam * a + om * b, float("nan"))
    tl.store(out_ptr + s * classes + c, mixed, mask=c < classes)


@triton.jit
def quotient(n, packed):
    # n // d for 0 <= n < 2**31 without a division: the high word of n * m,
    # shifted right by l, with d's multiplier m <= 2**33 and l packed as
    # m | l << 34 (see torch_cuda.magic). The high word is umulhi(n, m's low
    # word) + n * m's high bits: three 32-bit instructions where an integer
    # division takes a few dozen, per element.
    packed = packed.to(tl.int64)
    low = (packed & 0xFFFFFFFF).to(tl.uint32)
    high = ((packed >> 32) & 3).to(tl.uint32)
    shift = (packed >> 34).to(tl.uint32)
    u = n.to(tl.uint32)
    return ((tl.umulhi(u, low) + u * high) >> shift).to(tl.int32)


@triton.jit
def axis_index(offs, carried, step, size, span, how: tl.constexpr):
    # (offs // step) % size, the index along one cut axis, and
    # offs // (step * size), which is the next outer axis's offs // step
    # where that axis is adjacent: how 0 divides offs by step, how 1 takes
    # offs itself (a step of 1), how 2 takes what the inner axis carried
    if how == 1:
        q = offs
    elif how == 2:
        q = carried
    else:
        q = quotient(offs, step)
    r = quotient(q, span)
    return q - r * size, r


@triton.jit
def within(pos, box, top, size, j: tl.constexpr):
    # lower <= pos < upper on cut axis j. The bounds, any int64, are clamped
    # to [0, size] first (the same test for a pos in [0, size)), so that
    # each element is compared in 32 bits, where a 64-bit comparison takes
    # two instructions.
    lower = tl.minimum(tl.maximum(tl.load(box + j), 0), size).to(tl.int32)
    upper = tl.minimum(tl.maximum(tl.load(top + j), 0), size).to(tl.int32)
    return (pos >= lower) & (pos < upper)


@triton.jit
def inside_box(offs, lower_ptr, upper_ptr, s, box_stride, size0, step0, span0, size1, step1,
               span1, size2, step2, span2, k: tl.constexpr, h0: tl.constexpr,
               h1: tl.constexpr, h2: tl.constexpr):
    # whether each offset of sample s lies inside its box, on k cut axes:
    # axis j's index is (offs // step_j) % size_j, step_j and size_j given as
    # magic numbers (step_j, span_j), found from the last axis to the first
    # so that an axis adjacent to the next (h_j 2, see axis_index) reuses its
    # quotient: NCHW cut on (H, W) takes two quotients per element, not four
    box = lower_ptr + s * box_stride
    top = upper_ptr + s * box_stride
    if k == 1:
        pos0, r = axis_index(offs, offs, step0, size0, span0, h0)
        inside = within(pos0, box, top, size0, 0)
    elif k == 2:
        pos1, r = axis_index(offs, offs, step1, size1, span1, h1)
        pos0, r = axis_index(offs, r, step0, size0, span0, h0)
        inside = within(pos0, box, top, size0, 0) & within(pos1, box, top, size1, 1)
    else:
        pos2, r = axis_index(offs, offs, step2, size2, span2, h2)
        pos1, r = axis_index(offs, r, step1, size1, span1, h1)
        pos0, r = axis_index(offs, r, step0, size0, span0, h0)
        inside = (within(pos0, box, top, size0, 0) & within(pos1, box, top, size1, 1)
                  & within(pos2, box, top, size2, 2))
    return inside


# The cut axes, three numbers each: the axis's length, the elements between
# its steps and its length as magic numbers (see quotient).
GEOMETRY = ["size0", "step0", "span0", "size1", "step1", "span1", "size2", "step2", "span2"]


@triton.jit(do_not_specialize=["perm_stride", "box_stride", "group", *GEOMETRY])
def paste_kernel(
        x_ptr, perm_ptr, lower_ptr, upper_ptr, out_ptr, inner, perm_stride, box_stride,
        group, size0, step0, span0, size1, step1, span1, size2, step2, span2,
        k: tl.constexpr, h0: tl.constexpr, h1: tl.constexpr, h2: tl.constexpr,
        block: tl.constexpr):
    s = tl.program_id(0).to(tl.int64)
    offs = tl.program_id(1) * block + tl.arange(0, block)
    mask = offs < inner
    p = partner_of(perm_ptr, s, perm_stride, group)
    inside = inside_box(offs, lower_ptr, upper_ptr, s, box_stride, size0, step0, span0,
                        size1, step1, span1, size2, step2, span2, k, h0, h1, h2)
    # Both samples read whole, then selected: contiguous loads that vectorize,
    # where reading each element from the one sample it takes (addresses or
    # masks chosen per element) loads a word at a time (the variants timed
    # side by side are in docs/bench-gpu.md).
    own = tl.load(x_ptr + s * inner + offs, mask=mask)
    theirs = tl.load(x_ptr + p * inner + offs, mask=mask)
    tl.store(out_ptr + s * inner + offs, tl.where(inside, theirs, own), mask=mask)


@triton.jit(do_not_specialize=["perm_stride", "box_stride", "group", *GEOMETRY])
def box_kernel(
        src_ptr, perm_ptr, lower_ptr, upper_ptr, dst_ptr, inner, perm_stride, box_stride,
        group, size0, step0, span0, size1, step1, span1, size2, step2, span2,
        k: tl.constexpr, h0: tl.constexpr, h1: tl.constexpr, h2: tl.constexpr,
        block: tl.constexpr, from_partner: tl.constexpr):
    # Only the box of each sample: dst[s] = src[perm[s]] (from_partner) or
    # src[s] inside it; nothing outside the box is read or written.
    s = tl.program_id(0).to(tl.int64)
    offs = tl.program_id(1) * block + tl.arange(0, block)
    inside = (offs < inner) & inside_box(offs, lower_ptr, upper_ptr, s, box_stride, size0,
                                         step0, span0, size1, step1, span1, size2, step2,
                                         span2, k, h0, h1, h2)
    src = partner_of(perm_ptr, s, perm_stride, group) if from_partner else s
    value = tl.load(src_ptr + src * inner + offs, mask=inside)
    tl.store(dst_ptr + s * inner + offs, value, mask=inside)


# --- in place: a program owns a tile of columns across the whole batch -------
#
# out[s] = f(x[s], x[perm[s]]) overwrites samples that other samples still
# have to read. A program that loads columns c0..c0+cols of every sample
# at once, takes each partner's row from what it loaded (tl.gather, not a
# second read of memory) and then stores those columns owns them alone: no
# other program reads or writes them, and each stored value depends on the
# loaded tile, so every element is read before it is overwritten. The batch
# is read once and written once (2N), with no scratch, where a blend into a
# new batch copied back moves 5N and takes a batch of memory.


@triton.jit
def rows_of(batch, rows: tl.constexpr):
    # the tile's sample indices (rows is batch rounded up to a power of two);
    # padding rows point at sample 0, so their loads stay in bounds
    r = tl.arange(0, rows)
    live = r < batch
    return tl.where(live, r, 0).to(tl.int64), live


@triton.jit(do_not_specialize=["batch", "perm_stride", "lam_stride", "group"])
def blend_columns_kernel(
        x_ptr, perm_ptr, lam_ptr, batch, inner, perm_stride, lam_stride, group,
        rows: tl.constexpr, cols: tl.constexpr, cdt: tl.constexpr):
    s, live = rows_of(batch, rows)
    c = tl.program_id(0) * cols + tl.arange(0, cols)
    mask = live[:, None] & (c < inner)[None, :]
    p = partner_of(perm_ptr, s, perm_stride, group)
    lam = tl.load(lam_ptr + s * lam_stride).to(x_ptr.dtype.element_ty)
    om = (1.0 - lam.to(cdt)).to(x_ptr.dtype.element_ty).to(cdt)
    offs = s[:, None] * inner + c[None, :]
    a = tl.load(x_ptr + offs, mask=mask)
    b = tl.gather(a, tl.broadcast_to(p[:, None].to(tl.int32), (rows, cols)), 0)
    mixed = lam.to(cdt)[:, None] * a.to(cdt) + om[:, None] * b.to(cdt)
    tl.store(x_ptr + offs, mixed.to(x_ptr.dtype.element_ty), mask=mask)


@triton.jit(do_not_specialize=["batch", "perm_stride", "box_stride", "group", *GEOMETRY])
def paste_columns_kernel(
        x_ptr, perm_ptr, lower_ptr, upper_ptr, batch, inner, perm_stride, box_stride,
        group, size0, step0, span0, size1, step1, span1, size2, step2, span2,
        rows: tl.constexpr, cols: tl.constexpr, k: tl.constexpr, h0: tl.constexpr,
        h1: tl.constexpr, h2: tl.constexpr):
    s, live = rows_of(batch, rows)
    c = tl.program_id(0) * cols + tl.arange(0, cols)
    mask = live[:, None] & (c < inner)[None, :]
    p = partner_of(perm_ptr, s, perm_stride, group)
    offs = s[:, None] * inner + c[None, :]
    inside = inside_box(c[None, :], lower_ptr, upper_ptr, s[:, None], box_stride, size0,
                        step0, span0, size1, step1, span1, size2, step2, span2, k, h0,
                        h1, h2)
    # The whole tile is read and written back, each element outside the
    # boxes as it was read: loads and stores that vectorize, as the blend's,
    # where reading and writing only the boxes, masked per element, took
    # twice as long (docs/bench-gpu.md).
    a = tl.load(x_ptr + offs, mask=mask)
    b = tl.gather(a, tl.broadcast_to(p[:, None].to(tl.int32), (rows, cols)), 0)
    tl.store(x_ptr + offs, tl.where(inside, b, a), mask=mask)


# --- the parameters, from a torch.Generator's draws on the GPU ---------------
#
# Turning a few dozen numbers into λ and boxes with torch's own operations
# takes a kernel per operation, each a launch on a GPU
# (sample_cutmix: about 33 of them). One program does it for `block`
# samples, in float64, with the operations of the array API path
# (_sample._boxes) in the same order; a product or sum is rounded on its own
# (no contraction, torch_cuda.COMPILE), as there.


@triton.jit
def float64_of(bits):
    # a float64 passed as its bits (Triton passes Python floats as float32)
    return bits.to(tl.int64).to(tl.float64, bitcast=True)


@triton.jit
def cut_axis(ratio, unit_ptr, i, live, size, lower_ptr, upper_ptr, k: tl.constexpr,
             j: tl.constexpr):
    # the box on cut axis j (as _sample._boxes): its side floor(size * ratio),
    # its centre floor(u * size), clipped at the axis's ends; returns its length
    n = size.to(tl.int64).to(tl.float64)
    cut = tl.floor(n * ratio)
    centre = tl.floor(tl.load(unit_ptr + i * k + j, mask=live, other=0.0) * n)
    start = centre - tl.floor(cut * 0.5)
    lower = tl.maximum(start, 0.0)
    upper = tl.minimum(start + cut, n)
    tl.store(lower_ptr + i * k + j, lower.to(lower_ptr.dtype.element_ty), mask=live)
    tl.store(upper_ptr + i * k + j, upper.to(upper_ptr.dtype.element_ty), mask=live)
    return upper - lower


@triton.jit
def rank_into(keys_ptr, perm_ptr, i, batch, group, block: tl.constexpr, cols: tl.constexpr):
    # A stable argsort of each group's keys, as a scatter: key i's rank r
    # among its group's (ties by index) puts i at perm[first + r]. Each
    # program compares its block of keys with every key of their groups,
    # `cols` at a time: batch**2 comparisons (Tuning.rank_max bounds it).
    live = i < batch
    mine = tl.load(keys_ptr + i, mask=live, other=0.0)
    first = (i // group) * group
    start = tl.program_id(0) * block
    lo = (start // group) * group
    hi = tl.minimum(((tl.minimum(start + block, batch) - 1) // group + 1) * group, batch)
    rank = tl.zeros((block,), tl.int32)
    for j0 in tl.range(lo, hi, cols):
        j = j0 + tl.arange(0, cols)
        theirs = tl.load(keys_ptr + j, mask=j < hi, other=0.0)
        before = (theirs[None, :] < mine[:, None]) | (
            (theirs[None, :] == mine[:, None]) & (j[None, :] < i[:, None]))
        # (a live key's group ends by hi: the batch is whole groups)
        same = (j[None, :] >= first[:, None]) & (j[None, :] < first[:, None] + group)
        rank += tl.sum((before & same).to(tl.int32), axis=1)
    tl.store(perm_ptr + first + rank, i.to(perm_ptr.dtype.element_ty), mask=live)


@triton.jit(do_not_specialize=["count", "scale_bits", "total", "size0", "size1", "batch",
                               "group"])
def draws_kernel(
        gamma_ptr, exp_ptr, unit_ptr, keys_ptr, lam_ptr, lower_ptr, upper_ptr, perm_ptr,
        count, scale_bits, total, size0, size1, batch, group, k: tl.constexpr,
        correct: tl.constexpr, rank: tl.constexpr, block: tl.constexpr,
        cols: tl.constexpr):
    # λ₀ ~ Beta(α, α) for `count` samples from Gamma(α + 1) draws g and
    # Exp(1) draws e (rows 0 and 1: X and Y): log X = log g + scale * e with
    # scale = -1 / α, and λ₀ = X / (X + Y) as a softmax of the two logs, so
    # that small α does not underflow. k = 0: λ = λ₀ (MixUp). k = 1 or 2:
    # a CutMix box per sample on k axes from λ₀ and the uniform draws u
    # (count x k), and λ the kept fraction (total - area) * (1 / total) (correct) or λ₀.
    # rank: the partners too, from `batch` uniform keys (see rank_into).
    i = tl.program_id(0) * block + tl.arange(0, block)
    live = i < count
    scale = float64_of(scale_bits)
    one = tl.full((block,), 1.0, tl.float64)
    x = tl.log(tl.load(gamma_ptr + i, mask=live, other=1.0)) + scale * tl.load(
        exp_ptr + i, mask=live, other=0.0)
    y = tl.log(tl.load(gamma_ptr + count + i, mask=live, other=1.0)) + scale * tl.load(
        exp_ptr + count + i, mask=live, other=0.0)
    top = tl.maximum(x, y)
    a = tl.exp(x - top)
    b = tl.exp(y - top)
    lam = a / (a + b)
    if k > 0:
        rest = one - lam
        # (1 - λ₀) ** (1 / k): the array API path's power is a square root for
        # k = 2 (NumPy's and torch's, correctly rounded both)
        ratio = rest if k == 1 else tl.sqrt(rest)
        area = cut_axis(ratio, unit_ptr, i, live, size0, lower_ptr, upper_ptr, k, 0)
        if k == 2:
            area = area * cut_axis(ratio, unit_ptr, i, live, size1, lower_ptr, upper_ptr, k, 1)
        if correct:
            whole = total.to(tl.int64).to(tl.float64)
            lam = (whole - area) * (1.0 / whole)  # as _sample.kept_fraction
    tl.store(lam_ptr + i, lam.to(lam_ptr.dtype.element_ty), mask=live)
    if rank:
        rank_into(keys_ptr, perm_ptr, i, batch, group, block, cols)
