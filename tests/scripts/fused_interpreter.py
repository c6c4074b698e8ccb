"""The fused CUDA kernels (arraymix._backends._triton) on host tensors, in Triton's interpreter.

Run with TRITON_INTERPRET=1 set before Triton is imported (tests/test_fused.py
does): the kernels then run on CPU tensors, so their indexing, grouping,
boxes and roundings are checked against float64 NumPy references on a
machine without a GPU; then mixup and cutmix are called with the fused
kernels taking host tensors (as they take CUDA tensors), so the dispatch to
them is checked too, and sample_mixup and sample_cutmix draw from a CPU
torch.Generator through the draws kernel, as from a CUDA one. Prints "ok"
and the number of examples.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
import triton
import triton.language as tl
from hypothesis import given, settings
from hypothesis import strategies as st

import arraymix
from arraymix import _random
from arraymix._backends import _triton, routed, tuned
from arraymix._backends import torch_cuda as _fast

DTYPES = {"float32": (torch.float32, 1e-6), "float64": (torch.float64, 1e-12),
          "float16": (torch.float16, 2e-3), "bfloat16": (torch.bfloat16, 1.6e-2)}
COUNT = [0]


@st.composite
def batches(draw: st.DrawFn) -> tuple[tuple[int, ...], int]:
    groups = draw(st.integers(1, 3))
    batch = groups * draw(st.integers(1, 4))
    rest = draw(st.lists(st.integers(1, 9), min_size=1, max_size=3))
    return (batch, *rest), groups


@settings(max_examples=40, deadline=None, derandomize=True)
@given(case=batches(), dtype=st.sampled_from(list(DTYPES)), seed=st.integers(0, 2**32 - 1),
       lam_mode=st.sampled_from(["batch", "sample"]),
       pairing=st.sampled_from(["permute", "flip", "roll"]),
       tile=st.sampled_from([2, 16, 64, 8192]), columns=st.booleans(), data=st.data())
def check(case: tuple[tuple[int, ...], int], dtype: str, seed: int, lam_mode: str,
          pairing: str, tile: int, columns: bool, data: st.DataObject) -> None:
    # in place: column tiles of `tile` elements (several programs, a ragged
    # last one), or the batch too large for a tile (scratch, then copied back)
    rows = 512 if columns else case[0][0] - 1
    with tuned(cuda_column_tile=tile, cuda_column_rows=rows):
        check_kernels(case, dtype, seed, lam_mode, pairing, data)


def check_kernels(case: tuple[tuple[int, ...], int], dtype: str, seed: int, lam_mode: str,
                  pairing: str, data: st.DataObject) -> None:
    """The kernels called directly, against float64 NumPy references."""
    shape, groups = case
    batch = shape[0]
    tdtype, tol = DTYPES[dtype]
    gen = np.random.default_rng(seed)
    x = torch.asarray(gen.normal(scale=3.0, size=shape)).to(tdtype)
    kw = {"lam_mode": lam_mode, "pairing": pairing, "groups": groups, "xp": torch,
          "device": "cpu"}
    mix = arraymix.sample_mixup(seed, batch, alpha=0.7, **kw)

    # blend: λ·x + (1 − λ)·x[perm], perm folded into each group
    got = _fast.fused_blend(x, mix.lam, mix.perm, None, groups)
    xf = x.double().numpy()
    lam = mix.lam.to(tdtype).double().numpy()
    lam = lam.reshape((-1,) + (1,) * (x.ndim - 1)) if lam.ndim else lam
    want = lam * xf + (1 - lam) * xf[mix.perm.numpy()]
    assert got.dtype == tdtype
    assert got.shape == x.shape
    np.testing.assert_allclose(got.double().numpy(), want, rtol=0,
                               atol=tol * max(1.0, float(np.abs(xf).max())))
    # in place, into the same memory through another tensor, and into a
    # non-contiguous buffer: the same values, bitwise
    same = x.clone()
    assert _fast.fused_blend(same, mix.lam, mix.perm, same, groups) is same
    assert torch.equal(same, got)
    same = x.clone()
    alias = same.view(shape)
    assert _fast.fused_blend(same, mix.lam, mix.perm, alias, groups) is alias
    assert torch.equal(same, got)
    strided = torch.zeros((*shape[1:], batch), dtype=tdtype).movedim(-1, 0)
    assert _fast.fused_blend(x, mix.lam, mix.perm, strided, groups) is strided
    assert torch.equal(strided, got)

    # mixed one-hot rows of class ids: the blend of one_hot's rows, bitwise,
    # and the float64 reference; an id out of range makes its rows NaN
    classes = data.draw(st.integers(1, 300), label="classes")
    smoothing = data.draw(st.sampled_from([0.0, 0.1]), label="smoothing")
    id_dtype = data.draw(st.sampled_from([torch.uint8, torch.int32, torch.int64]), label="ids")
    ids_np = gen.integers(0, min(classes, 256), size=batch)
    ids = torch.asarray(ids_np).to(id_dtype)
    got = _fast.fused_ids(ids, mix.lam, mix.perm, classes, smoothing, groups)
    rows = arraymix.one_hot(ids, classes, smoothing=smoothing, dtype=torch.float32)
    assert torch.equal(got, _fast.fused_blend(rows, mix.lam, mix.perm, None, groups))
    lam32 = mix.lam.float().double().numpy()
    lam32 = lam32[:, None] if lam32.ndim else lam32
    one = np.full((batch, classes), smoothing / classes)
    one[np.arange(batch), ids_np] += 1 - smoothing
    want = lam32 * one + (1 - lam32) * one[mix.perm.numpy()]
    np.testing.assert_allclose(got.double().numpy(), want, rtol=0, atol=4 * 2.0**-23)
    bad = ids.to(torch.int64).clone()
    bad[batch - 1] = data.draw(st.sampled_from([-1, classes, classes + 7]), label="bad id")
    poisoned = _fast.fused_ids(bad, mix.lam, mix.perm, classes, smoothing, groups).numpy()
    touched = (np.arange(batch) == batch - 1) | (mix.perm.numpy() == batch - 1)
    assert np.isnan(poisoned[touched]).all()
    np.testing.assert_array_equal(poisoned[~touched], got.numpy()[~touched])

    # paste: a box from the partner on one to three trailing axes, any dtype
    ndim = len(shape) - 1
    # in any order: the kernels reuse a quotient between adjacent axes
    axes = tuple(data.draw(st.permutations(sorted(data.draw(
        st.sets(st.integers(1, ndim), min_size=1, max_size=min(3, ndim)), label="axes"))),
        label="axes' order"))
    ints = data.draw(st.sampled_from(["uint8", "int64", "float32"]), label="paste dtype")
    xi = torch.asarray(gen.integers(0, 200, size=shape)).to(getattr(torch, ints))
    cut = arraymix.sample_cutmix(seed, batch, [shape[a] for a in axes], **kw)
    got = _fast.fused_paste(xi, cut.perm, cut.lower, cut.upper, axes, None, groups)
    lower = np.broadcast_to(cut.lower.numpy(), (batch, len(axes)))
    upper = np.broadcast_to(cut.upper.numpy(), (batch, len(axes)))
    want = xi.numpy().copy()
    for i, j in enumerate(cut.perm.numpy()):
        region: list[slice] = [slice(None)] * ndim
        for k, ax in enumerate(axes):
            region[ax - 1] = slice(lower[i, k], upper[i, k])
        want[i][tuple(region)] = xi.numpy()[j][tuple(region)]
    assert torch.equal(got, torch.asarray(want))
    strided = torch.zeros((*shape[1:], batch), dtype=xi.dtype).movedim(-1, 0)
    assert _fast.fused_paste(xi, cut.perm, cut.lower, cut.upper, axes, strided,
                             groups) is strided
    assert torch.equal(strided, got)
    # bounds out of range (on a GPU they are not checked before the work):
    # the box is still lower <= index < upper, compared in 64 bits
    wild_lower, wild_upper = cut.lower - 3, cut.upper + 2**33
    wild = _fast.fused_paste(xi, cut.perm, wild_lower, wild_upper, axes, None, groups)
    grid = np.indices(shape[1:])
    lo = np.broadcast_to(wild_lower.numpy(), (batch, len(axes)))
    hi = np.broadcast_to(wild_upper.numpy(), (batch, len(axes)))
    want = xi.numpy().copy()
    for i, j in enumerate(cut.perm.numpy()):
        inside = np.ones(shape[1:], dtype=bool)
        for k, ax in enumerate(axes):
            inside &= (grid[ax - 1] >= lo[i, k]) & (grid[ax - 1] < hi[i, k])
        want[i] = np.where(inside, xi.numpy()[j], xi.numpy()[i])
    assert torch.equal(wild, torch.asarray(want))
    # in place (column tiles, or the boxes through scratch), same values
    same = xi.clone()
    assert _fast.fused_paste(same, cut.perm, cut.lower, cut.upper, axes, same, groups) is same
    assert torch.equal(same, got)
    same = xi.clone()
    alias = same.view(shape)
    assert _fast.fused_paste(same, cut.perm, cut.lower, cut.upper, axes, alias,
                             groups) is alias
    assert torch.equal(same, got)
    COUNT[0] += 1


@contextlib.contextmanager
def fused_on_host() -> Iterator[None]:
    """The public functions take the fused kernels for host tensors, and no
    host shortcut, as they do for CUDA tensors."""
    with routed("cpu", "cuda"):
        yield


@contextlib.contextmanager
def counting(names: tuple[str, ...]) -> Iterator[list[int]]:
    """How often the fused kernels' entry points are called."""
    calls = [0]
    saved = {n: getattr(_fast, n) for n in names}

    def counted(f: Any) -> Any:
        def call(*args: Any, **kw: Any) -> Any:
            calls[0] += 1
            return f(*args, **kw)
        return call

    for n, f in saved.items():
        setattr(_fast, n, counted(f))
    try:
        yield calls
    finally:
        for n, f in saved.items():
            setattr(_fast, n, f)


def laid_out(x: torch.Tensor, channels_last: bool) -> torch.Tensor:
    """``x`` itself, or the same values with axis 1 last in memory (what
    ``torch.channels_last`` does to an NCHW batch)."""
    if not channels_last or x.ndim < 3:
        return x
    order = (0, *range(2, x.ndim), 1)
    return x.permute(order).contiguous().permute(
        tuple(order.index(d) for d in range(x.ndim)))


@settings(max_examples=30, deadline=None, derandomize=True)
@given(case=batches(), dtype=st.sampled_from(["float32", "bfloat16", "uint8"]),
       seed=st.integers(0, 2**32 - 1), lam_mode=st.sampled_from(["batch", "sample"]),
       fn=st.sampled_from(["mixup", "cutmix"]), classes=st.integers(1, 50),
       smoothing=st.sampled_from([0.0, 0.1]), channels_last=st.booleans())
def check_public(case: tuple[tuple[int, ...], int], dtype: str, seed: int, lam_mode: str,
                 fn: str, classes: int, smoothing: float, channels_last: bool) -> None:
    """mixup and cutmix through the dispatch to the kernels (out of place,
    into a buffer, in place), against the host paths' result for one seed; a
    channels-last batch takes the kernels too and keeps its layout."""
    shape, groups = case
    gen = np.random.default_rng(seed)
    x = torch.asarray(gen.integers(0, 256, size=shape)).to(getattr(torch, dtype))
    x = laid_out(x, channels_last)
    original = x.clone()
    y = torch.asarray(gen.integers(0, classes, size=shape[0]))
    mix = getattr(arraymix, fn)
    kw: dict[str, Any] = {"num_classes": classes, "label_smoothing": smoothing,
                          "lam_mode": lam_mode, "groups": groups, "rng": seed}
    if fn == "cutmix":
        kw["axes"] = tuple(range(1, len(shape)))[-2:]
    want_x, want_y = mix(x, y, **kw)  # the host paths, as without a GPU
    with fused_on_host(), counting(("fused_blend", "fused_paste")) as calls:
        got_x, got_y = mix(x, y, **kw)
        same = x.clone()  # clone keeps the layout
        in_x, in_y = mix(same, y, out=same, **kw)
        buf = torch.empty_like(x)
        buf_x, buf_y = mix(x, y, out=buf, **kw)
    if x.dtype.is_floating_point or fn == "cutmix":  # integers blend by the array API
        assert calls[0] == 3, calls
    assert got_x.stride() == x.stride()
    assert torch.equal(x, original)
    assert in_x is same
    assert buf_x is buf
    for a in (in_x, buf_x):
        assert torch.equal(a, got_x)
    for b in (in_y, buf_y):
        assert torch.equal(b, got_y)
    assert got_x.dtype == x.dtype
    assert got_y.dtype == torch.float32
    # the host paths round three times (or lerp), the kernels once: an ulp
    # apart; integers round the blend back, half-way cases either side
    scale = 255.0
    tol = {"float32": 4 * 2.0**-23 * scale, "bfloat16": 2.0**-7 * scale, "uint8": 1.0}[dtype]
    np.testing.assert_allclose(got_x.double().numpy(), want_x.double().numpy(), rtol=0,
                               atol=0 if fn == "cutmix" else tol)
    np.testing.assert_allclose(got_y.numpy(), want_y.numpy(), rtol=0, atol=4 * 2.0**-23)
    COUNT[0] += 1


@triton.jit
def quotients(n_ptr, out_ptr, packed, count, block: tl.constexpr):
    i = tl.arange(0, block)
    live = i < count
    n = tl.load(n_ptr + i, mask=live)
    tl.store(out_ptr + i, _triton.quotient(n, packed), mask=live)


def check_quotient() -> None:
    """The kernels' division by a magic number, over the whole range of
    offsets (below 2**31) and divisors from 1 to 2**31 - 1."""
    gen = np.random.default_rng(0)
    divisors = [1, 2, 3, 7, 224, 672, 50176, 150528, 2**30, 2**30 + 1, 2**31 - 1,
                *gen.integers(1, 2**31, size=40).tolist()]
    for d in divisors:
        near = [k * d + j for k in ((2**31 - 1) // d, 1, 0) for j in (-1, 0, 1)]
        n = np.array([v for v in near + gen.integers(0, 2**31, size=200).tolist()
                      if 0 <= v < 2**31], dtype=np.int32)
        out = torch.empty(len(n), dtype=torch.int32)
        quotients[(1,)](torch.asarray(n), out, _fast.magic(d), len(n), block=256)
        np.testing.assert_array_equal(out.numpy(), n // d, err_msg=f"d={d}")
    COUNT[0] += 1


@settings(max_examples=60, deadline=None, derandomize=True)
@given(groups=st.integers(1, 3), each=st.integers(0, 40), k=st.integers(0, 2),
       lam_mode=st.sampled_from(["batch", "sample"]),
       pairing=st.sampled_from(["permute", "permute", "derange", "flip"]),
       alpha=st.sampled_from([0.01, 0.2, 1.0, 7.5]),
       sizes=st.lists(st.sampled_from([1, 2, 3, 7, 32, 224, 1023, 2**20 + 1]), min_size=2,
                      max_size=2),
       correct=st.booleans(), seed=st.integers(0, 2**63 - 1), wide=st.booleans(),
       rank_max=st.sampled_from([4096, 4096, 5]))
def check_draws(groups: int, each: int, k: int, lam_mode: str, pairing: str, alpha: float,
                sizes: list[int], correct: bool, seed: int, wide: bool, rank_max: int) -> None:
    """The draws kernel: λ, the boxes and the partners from a torch.Generator's
    draws (the Beta's gamma and exponential parts, the uniforms, then the
    partners' keys, in the order the torch ops take them), against a float64
    NumPy computation of sample_cutmix's definition on the same draws and a
    stable NumPy argsort of each group's keys: equal, bitwise. Batches over
    rank_max (here sometimes 5) and pairings other than "permute" leave the
    partners to torch's operations, drawn after the same draws."""
    batch = groups * each
    if pairing == "derange" and each < 2:
        pairing = "permute"
    gen = torch.Generator().manual_seed(seed)
    state = gen.get_state()
    cut = tuple(sizes[:k])
    saved = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64 if wide else torch.float32)  # λ's dtype
    kw: dict[str, Any] = {"alpha": alpha, "lam_mode": lam_mode, "pairing": pairing,
                          "groups": groups if batch else None}
    try:
        with fused_on_host(), tuned(rank_max=rank_max), counting(("fused_draws",)) as calls:
            if k:
                p = arraymix.sample_cutmix(gen, batch, cut, correct_lam=correct, **kw)
            else:
                p = arraymix.sample_mixup(gen, batch, **kw)
    finally:
        torch.set_default_dtype(saved)
    assert calls[0] == 1
    lead = () if lam_mode == "batch" else (batch,)
    again = torch.Generator()
    again.set_state(state)
    src = _random.source(again)
    g, e = (a.numpy() for a in src.beta_parts(alpha, lead))
    log_x = np.log(g) + (-1.0 / alpha) * e
    top = np.maximum(log_x[0], log_x[1])
    a, b = np.exp(log_x[0] - top), np.exp(log_x[1] - top)
    lam0 = a / (a + b)
    # ... which is the torch ops' Beta (a softmax) on these draws, to an ulp or two
    soft = torch.softmax(torch.asarray(log_x), dim=0)[0].numpy()
    np.testing.assert_allclose(lam0, soft, rtol=4e-16, atol=0)
    want = lam0
    if k:
        unit = src.uniform((*lead, k)).numpy()
        n = np.asarray(cut, dtype=np.float64)
        side = np.floor(n * ((1.0 - lam0) ** (1.0 / k))[..., None])
        start = np.floor(unit * n) - np.floor(side / 2)
        lower, upper = np.maximum(start, 0.0), np.minimum(start + side, n)
        if correct:
            total = float(np.prod(cut))
            want = (total - np.prod(upper - lower, axis=-1)) * (1.0 / total)
        assert p.lower.dtype == p.upper.dtype == torch.int64
        assert p.lower.shape == p.upper.shape == (*lead, k)
        np.testing.assert_array_equal(p.lower.numpy(), lower)
        np.testing.assert_array_equal(p.upper.numpy(), upper)
    dtype = torch.float64 if wide else torch.float32
    assert p.lam.dtype == dtype
    assert p.lam.shape == lead
    np.testing.assert_array_equal(p.lam.numpy(), np.asarray(want).astype(p.lam.numpy().dtype))
    assert p.perm.dtype == torch.int64
    if pairing == "permute" and 0 < batch <= rank_max:
        keys = src.uniform((batch,)).numpy().reshape(groups, each)
        ranked = np.argsort(keys, axis=1, kind="stable") + each * np.arange(groups)[:, None]
        np.testing.assert_array_equal(p.perm.numpy(), ranked.reshape(-1))
    else:
        # torch's operations on the next draws: the kernel took none of them
        drawn = arraymix._sample._pairs(src, batch, pairing, groups if batch else 1, src.xp,
                                        None)
        np.testing.assert_array_equal(p.perm.numpy(), drawn.numpy())
        assert sorted(p.perm.tolist()) == list(range(batch))
    COUNT[0] += 1


@settings(max_examples=30, deadline=None, derandomize=True)
@given(groups=st.integers(1, 4), each=st.integers(1, 80), levels=st.integers(1, 6),
       seed=st.integers(0, 2**32 - 1))
def check_ranks(groups: int, each: int, levels: int, seed: int) -> None:
    """The draws kernel's partners from keys with ties (a few distinct
    values): each group's stable argsort, ties in index order."""
    gen = np.random.default_rng(seed)
    batch = groups * each
    keys = torch.asarray(gen.integers(0, levels, size=batch) / levels)
    parts = torch.ones((2, batch), dtype=torch.float64)
    _, _, _, perm = _fast.fused_draws(parts, parts, 1.0, torch.float32, torch.int64,
                                      keys=keys, groups=groups)
    assert perm is not None
    ranked = np.argsort(keys.numpy().reshape(groups, each), axis=1, kind="stable")
    want = ranked + each * np.arange(groups)[:, None]
    np.testing.assert_array_equal(perm.numpy(), want.reshape(-1))
    COUNT[0] += 1


def check_draws_elsewhere() -> None:
    """What the draws kernel leaves to torch's operations: pairs, three cut
    axes, minmax, and a device other than the generator's."""
    gen = torch.Generator().manual_seed(0)
    with fused_on_host(), counting(("fused_draws",)) as calls:
        arraymix.sample_mixup(gen, 6, lam_mode="pair", pairing="flip")
        arraymix.sample_cutmix(gen, 6, (4, 5), lam_mode="pair", pairing="flip")
        arraymix.sample_cutmix(gen, 6, (4, 5, 6))
        arraymix.sample_cutmix(gen, 6, (4, 5), minmax=(0.2, 0.8))
        arraymix.sample_cutmix(gen, 6, (4, 5), device="meta")
    assert calls[0] == 0
    COUNT[0] += 1


if __name__ == "__main__":
    check_quotient()
    check()
    check_public()
    check_draws()
    check_ranks()
    check_draws_elsewhere()
    print("ok", COUNT[0])
