"""The fused GPU kernels of :mod:`._fast`, in Triton's kernel language.

Imported only when Triton is (it ships with CUDA builds of torch); mypy
skips this module, as Triton's language is not typed Python. Each program
covers ``block`` elements of one sample ``s`` (grid: samples x blocks).
Offsets within a sample are 32-bit (a sample has fewer than 2**31
elements, see ``_fast.fused_usable``): the paste divides them per element,
and a 64-bit division costs many times a 32-bit one on a GPU. The start of
a sample, ``s * inner``, and the box bounds (any int64 a caller passes)
stay 64-bit: a batch may exceed 2**31 elements.
"""

import triton
import triton.language as tl

__all__ = ["blend_kernel", "box_kernel", "paste_kernel", "tl"]


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

@triton.jit
def inside_box(offs, lower_ptr, upper_ptr, s, box_stride, stride0, size0, stride1, size1,
               stride2, size2, k: tl.constexpr):
    # whether each offset of sample s lies inside its box, on k cut axes
    box = lower_ptr + s * box_stride
    top = upper_ptr + s * box_stride
    pos = (offs // stride0) % size0
    inside = (pos >= tl.load(box)) & (pos < tl.load(top))
    if k > 1:
        pos = (offs // stride1) % size1
        inside = inside & (pos >= tl.load(box + 1)) & (pos < tl.load(top + 1))
    if k > 2:
        pos = (offs // stride2) % size2
        inside = inside & (pos >= tl.load(box + 2)) & (pos < tl.load(top + 2))
    return inside


@triton.jit(do_not_specialize=["perm_stride", "box_stride", "group", "stride0", "size0",
                               "stride1", "size1", "stride2", "size2"])
def paste_kernel(
        x_ptr, perm_ptr, lower_ptr, upper_ptr, out_ptr, inner, perm_stride, box_stride,
        group, stride0, size0, stride1, size1, stride2, size2,
        k: tl.constexpr, block: tl.constexpr):
    s = tl.program_id(0).to(tl.int64)
    offs = tl.program_id(1) * block + tl.arange(0, block)
    mask = offs < inner
    p = partner_of(perm_ptr, s, perm_stride, group)
    inside = inside_box(offs, lower_ptr, upper_ptr, s, box_stride, stride0, size0, stride1,
                        size1, stride2, size2, k)
    # each element is read from one sample: the partner inside the box
    src = tl.where(inside, p, s)
    value = tl.load(x_ptr + src * inner + offs, mask=mask)
    tl.store(out_ptr + s * inner + offs, value, mask=mask)


@triton.jit(do_not_specialize=["perm_stride", "box_stride", "group", "stride0", "size0",
                               "stride1", "size1", "stride2", "size2"])
def box_kernel(
        src_ptr, perm_ptr, lower_ptr, upper_ptr, dst_ptr, inner, perm_stride, box_stride,
        group, stride0, size0, stride1, size1, stride2, size2,
        k: tl.constexpr, block: tl.constexpr, from_partner: tl.constexpr):
    # Only the box of each sample: dst[s] = src[perm[s]] (from_partner) or
    # src[s] inside it; nothing outside the box is read or written.
    s = tl.program_id(0).to(tl.int64)
    offs = tl.program_id(1) * block + tl.arange(0, block)
    inside = (offs < inner) & inside_box(offs, lower_ptr, upper_ptr, s, box_stride, stride0,
                                         size0, stride1, size1, stride2, size2, k)
    src = partner_of(perm_ptr, s, perm_stride, group) if from_partner else s
    value = tl.load(src_ptr + src * inner + offs, mask=inside)
    tl.store(dst_ptr + s * inner + offs, value, mask=inside)
