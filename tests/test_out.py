"""``out=`` on every backend, and the host fast paths equal to the array API path."""

from __future__ import annotations

import math
import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import arraymix
from arraymix._backends import PATHS, current, reference, select, tuned, walk
from reference import (
    FLOAT8,
    FLOATS,
    INTS,
    batch_shapes,
    check_like,
    float8_dtype,
    half_ulp,
    random_batch,
    ref_blend,
    ref_paste,
    rounds_once,
    tolerance,
)

SEEDS = st.integers(0, 2**32 - 1)
PAIRINGS = st.sampled_from(["permute", "derange", "flip", "roll"])
MODES = st.sampled_from(["batch", "sample"])


def _params(backend, seed, shape, lam_mode, pairing, axes):
    kw = {"lam_mode": lam_mode, "pairing": pairing, "xp": backend.xp, "device": backend.device}
    mix = arraymix.sample_mixup(seed, shape[0], alpha=0.7, **kw)
    cut = arraymix.sample_cutmix(seed, shape[0], [shape[a] for a in axes], **kw)
    return mix, cut


@pytest.fixture(params=["reference", "walk", "blocks"])
def threshold(request):
    """Run with the array API reference forced on every backend, and with
    the fast paths on: the host walk at every sample size, in pieces, and
    the fused GPU kernels ("walk"), or NumPy's blocks of samples under 64
    elements, several per block, and the walk above ("blocks"); in place
    along the cycles (no batch copied back), CPU tensors in NumPy's blocks."""
    if request.param == "reference":
        with tuned(force="reference"):
            yield request.param
        return
    size = 1 if request.param == "walk" else 64
    with tuned(walk_min_sample=size, paste_min_sample=size, copy_back_bytes=0, piece=8,
               torch_scratch_bytes=0):
        yield request.param


@settings(max_examples=15)
@given(data=st.data(), shape=batch_shapes(24).filter(lambda s: len(s) >= 3), seed=SEEDS,
       lam_mode=MODES, pairing=PAIRINGS)
def test_out_and_in_place_equal_the_reference(backend, threshold, data, shape, seed,
                                              lam_mode, pairing):
    if pairing == "derange" and shape[0] == 1:
        pairing = "permute"
    names = [n for n in (*FLOATS, *INTS) if n in backend.dtypes]
    dtype = data.draw(st.sampled_from(names), label="dtype")
    xnp = random_batch(np.random.default_rng(seed), shape, dtype)
    # NCHW, NHWC, two apart, one axis, and three where the batch has them
    choices = [(-2, -1), (1, 2), (1, -1), (-1,)] + ([(1, 2, 3)] if len(shape) >= 4 else [])
    axes = data.draw(st.sampled_from(choices), label="axes")
    mix, cut = _params(backend, seed, shape, lam_mode, pairing, axes)
    x = backend.asarray(xnp, dtype)
    xp = backend.xp
    ctype = reference.compute_dtype(xp, x.dtype)
    expected = (reference.blend_arrays(xp, x, mix.lam, mix.perm, ctype),
                xp.where(reference.box_mask(xp, x, cut.lower, cut.upper,
                                             tuple(a % len(shape) for a in axes)),
                         xp.take(x, cut.perm, axis=0), x))
    if not arraymix._compat.is_writeable_array(x):
        with pytest.raises(TypeError, match="donate_argnums"):
            arraymix.blend(x, mix, out=x)
        return
    for op, params, kw, want in ((arraymix.blend, mix, {}, expected[0]),
                                 (arraymix.paste, cut, {"axes": axes}, expected[1])):
        fresh = op(x, params, **kw)
        buffer = backend.asarray(np.zeros(shape), dtype)
        into = op(x, params, out=buffer, **kw)
        assert into is buffer
        same = backend.asarray(xnp, dtype)
        in_place = op(same, params, out=same, **kw)
        assert in_place is same
        for got in (fresh, into, in_place):
            check_like(backend, got, shape, x.dtype)
            if not backend.has_values:
                continue
            if op is arraymix.blend and rounds_once(backend) and dtype in FLOATS:
                # torch's lerp and the GPU kernels round once instead of three times
                scale = float(np.abs(backend.numpy(x)).max(initial=0))
                np.testing.assert_allclose(backend.numpy(got), backend.numpy(want), rtol=0,
                                           atol=tolerance(dtype, scale))
            else:  # bitwise: NumPy's walk repeats the reference's roundings
                np.testing.assert_array_equal(backend.numpy(got), backend.numpy(want))
        if backend.has_values:
            np.testing.assert_array_equal(backend.numpy(x), backend.numpy(
                backend.asarray(xnp, dtype)))


LAYOUTS = ("contiguous", "channels-last", "batch-last", "every-other-column",
           "every-other-sample")


def _laid_out(backend, xnp, dtype, layout):
    """``xnp`` on the backend as a view with the given memory layout (same
    values, same logical shape): what the host paths' NumPy views, samples
    and blocks of samples must not assume away."""
    xp = backend.xp
    if layout in ("channels-last", "batch-last"):
        order = ((0, *range(2, xnp.ndim), 1) if layout == "channels-last"
                 else (*range(1, xnp.ndim), 0))
        stored = backend.asarray(np.ascontiguousarray(np.transpose(xnp, order)), dtype)
        return xp.permute_dims(stored, tuple(int(i) for i in np.argsort(order)))
    if layout == "every-other-column":
        wide = np.repeat(xnp, 2, axis=-1)
        return backend.asarray(wide, dtype)[..., ::2]
    if layout == "every-other-sample":
        return backend.asarray(np.repeat(xnp, 2, axis=0), dtype)[::2, ...]
    return backend.asarray(xnp, dtype)


@settings(max_examples=12)  # x 3 thresholds: kept short for bench/gpu.sh's CUDA budget
@given(data=st.data(), shape=batch_shapes(12).filter(lambda s: len(s) >= 3), seed=SEEDS,
       lam_mode=MODES, layout=st.sampled_from(LAYOUTS), out_layout=st.sampled_from(LAYOUTS))
def test_any_memory_layout_gives_the_contiguous_result(backend, threshold, data, shape, seed,
                                                       lam_mode, layout, out_layout):
    """Views (channels-last, batch-last, strided) as x and as out, in place and
    not, equal the contiguous batch's result: bit for bit, but where torch's
    lerp rounds once and NumPy's walk (on torch's memory) three times."""
    if not backend.has_values or not arraymix._compat.is_writeable_array(
            backend.asarray(np.zeros(1))):
        pytest.skip(f"{backend.name} arrays are immutable or hold no values: no layouts "
                    "to write into")
    names = [n for n in (*FLOATS, *INTS) if n in backend.dtypes]
    dtype = data.draw(st.sampled_from(names), label="dtype")
    xnp = random_batch(np.random.default_rng(seed), shape, dtype)
    contiguous = backend.asarray(xnp, dtype)
    x = _laid_out(backend, xnp, dtype, layout)
    axes = (-2, -1)
    mix, cut = _params(backend, seed, shape, lam_mode, "permute", axes)
    for op, params, kw in ((arraymix.blend, mix, {}), (arraymix.paste, cut, {"axes": axes})):
        want = backend.numpy(op(contiguous, params, **kw))
        fresh = op(x, params, **kw)
        buffer = _laid_out(backend, np.zeros(shape), dtype, out_layout)
        into = op(x, params, out=buffer, **kw)
        same = _laid_out(backend, xnp, dtype, layout)
        in_place = op(same, params, out=same, **kw)
        assert into is buffer
        assert in_place is same
        for got in (fresh, into, in_place):
            check_like(backend, got, shape, x.dtype)
            if op is arraymix.blend and rounds_once(backend) and dtype in FLOATS:
                atol = tolerance(dtype, float(np.abs(backend.numpy(x)).max(initial=0)))
                np.testing.assert_allclose(backend.numpy(got), want, rtol=0, atol=atol)
            else:
                np.testing.assert_array_equal(backend.numpy(got), want)
        np.testing.assert_array_equal(backend.numpy(x), backend.numpy(contiguous))


@settings(max_examples=10)
@given(shape=batch_shapes(12).filter(lambda s: len(s) >= 3), seed=SEEDS, lam_mode=MODES,
       name=st.sampled_from(sorted(FLOAT8)))
def test_eight_bit_floats_are_blended_in_float32_and_rounded_once(backend, threshold, shape,
                                                                  seed, lam_mode, name):
    """float8 keeps its dtype but not its arithmetic (three roundings to 2-3
    bits of mantissa, and λ itself rounded to them, would weigh the pixels
    differently from the labels; torch has none on the CPU): each result is
    the float64 blend correctly rounded, on every path; boxes are copied."""
    dtype = float8_dtype(backend, name)
    if dtype is None:
        pytest.skip(f"{backend.name} has no {name} dtype")
    xp = backend.xp
    x = xp.astype(backend.asarray(random_batch(np.random.default_rng(seed), shape, "float32")),
                  dtype)
    values = backend.numpy(xp.astype(x, xp.float32)) if backend.has_values else None
    mix, cut = _params(backend, seed, shape, lam_mode, "permute", (-2, -1))
    xm, ym = backend.call(arraymix.mixup, x, backend.asarray(np.arange(shape[0]) % 3),
                          num_classes=3, rng=seed, lam_mode=lam_mode)
    check_like(backend, xm, shape, dtype)
    check_like(backend, ym, (shape[0], 3), xp.float32)
    results = [(backend.call(arraymix.blend, x, mix), mix),
               (backend.call(arraymix.paste, x, cut, axes=(-2, -1)), cut)]
    if arraymix._compat.is_writeable_array(x):
        same = xp.astype(x, dtype, copy=True)
        results += [(arraymix.blend(same, mix, out=same), mix)]
        same = xp.astype(x, dtype, copy=True)
        results += [(arraymix.paste(same, cut, axes=(-2, -1), out=same), cut)]
    for got, params in results:
        check_like(backend, got, shape, dtype)
        if values is None:
            continue
        got64 = backend.numpy(xp.astype(got, xp.float32)).astype(np.float64)
        perm = backend.numpy(params.perm)
        if params is mix:
            lam = backend.numpy(mix.lam)
            want = ref_blend(values, lam, perm)
            # the float32 blend's own error is a few float32 ulps of its terms
            # λ·a and (1 − λ)·b, not of their sum, which cancels when the
            # terms' signs differ
            terms = ref_blend(np.abs(values), lam, perm)
            assert np.all(np.abs(got64 - want) <= half_ulp(want, name) + 2.0**-21 * terms)
        else:
            want = ref_paste(values, perm, backend.numpy(cut.lower), backend.numpy(cut.upper),
                             (-2, -1))
            np.testing.assert_array_equal(got64, want)
    if values is not None:
        np.testing.assert_array_equal(backend.numpy(xp.astype(x, xp.float32)), values)


@settings(max_examples=10)
@given(shape=batch_shapes(12).filter(lambda s: len(s) >= 3), seed=SEEDS, lam_mode=MODES)
def test_numpy_bfloat16_from_ml_dtypes_mixes_as_bfloat16(threshold, shape, seed, lam_mode):
    """``np.asarray`` of a JAX bfloat16 batch has ml_dtypes' bfloat16, which
    NumPy's ``isdtype`` refuses: it mixes as bfloat16 does in torch and JAX
    (λ rounded to it), on every host path, and CutMix copies it."""
    ml_dtypes = pytest.importorskip("ml_dtypes", reason="ml_dtypes is not installed")
    bf16 = np.dtype(ml_dtypes.bfloat16)
    x = random_batch(np.random.default_rng(seed), shape, "float32").astype(bf16)
    values = x.astype(np.float64)
    mix = arraymix.sample_mixup(seed, shape[0], lam_mode=lam_mode)
    cut = arraymix.sample_cutmix(seed, shape[0], shape[-2:], lam_mode=lam_mode)
    lam = np.asarray(mix.lam).astype(bf16).astype(np.float64)
    want = ref_blend(values, lam, mix.perm)
    atol = tolerance("bfloat16", float(np.abs(values).max(initial=0)))
    same = x.copy()
    for got in (arraymix.blend(x, mix), arraymix.blend(same, mix, out=same)):
        assert got.dtype == bf16
        np.testing.assert_allclose(got.astype(np.float64), want, rtol=0, atol=atol)
    same = x.copy()
    for got in (arraymix.paste(x, cut, axes=(-2, -1)),
                arraymix.paste(same, cut, axes=(-2, -1), out=same)):
        assert got.dtype == bf16
        np.testing.assert_array_equal(got.astype(np.float64),
                                      ref_paste(values, cut.perm, cut.lower, cut.upper, (-2, -1)))
    xm, ym = arraymix.mixup(x, np.arange(shape[0]) % 4, num_classes=4, rng=seed)
    assert xm.dtype == bf16
    assert ym.dtype == np.float32
    np.testing.assert_allclose(ym.sum(axis=-1), 1.0, atol=1e-6)
    np.testing.assert_array_equal(x.astype(np.float64), values)


@settings(max_examples=15)
@given(data=st.data(), shape=batch_shapes(24), seed=SEEDS, lam_mode=MODES)
def test_half_precision_paths_are_within_an_ulp_of_the_reference(backend, data, shape, seed,
                                                                 lam_mode):
    """Each backend's own half-precision blend (torch's lerp or fused kernel,
    JAX's float32 arithmetic, the host walk) against the array API reference."""
    halves = [d for d in ("float16", "bfloat16") if d in backend.dtypes]
    if not halves:  # the same for every example: the array API standard has none
        pytest.skip(f"{backend.name} has no half-precision dtype")
    dtype = data.draw(st.sampled_from(halves), label="dtype")
    gen = np.random.default_rng(seed)
    xnp = random_batch(gen, shape, dtype)
    x = backend.asarray(xnp, dtype)
    mix = arraymix.sample_mixup(seed, shape[0], alpha=0.7, lam_mode=lam_mode,
                                xp=backend.xp, device=backend.device)
    xp = backend.xp
    got = backend.call(arraymix.blend, x, mix)
    want = backend.call(lambda a, p: reference.blend_arrays(xp, a, p.lam, p.perm, a.dtype), x, mix)
    check_like(backend, got, shape, x.dtype)
    if backend.has_values:
        scale = float(np.abs(backend.numpy(x)).max(initial=0))
        np.testing.assert_allclose(backend.numpy(got), backend.numpy(want), rtol=0,
                                   atol=tolerance(dtype, scale))


def test_one_call_functions_take_out(backend):
    gen = np.random.default_rng(0)
    xnp = gen.normal(size=(5, 3, 16, 16)).astype(np.float32)
    x = backend.asarray(xnp)
    if not arraymix._compat.is_writeable_array(x):
        with pytest.raises(TypeError, match="immutable"):
            arraymix.mixup(x, out=x)
        return
    for fn in (arraymix.mixup, arraymix.cutmix):
        want, _ = fn(x, rng=3, lam_mode="sample")
        buf = backend.asarray(xnp)
        got, _ = fn(buf, rng=3, lam_mode="sample", out=buf)
        assert got is buf
        if backend.has_values:
            np.testing.assert_array_equal(backend.numpy(got), backend.numpy(want))


def test_bad_out():
    x = np.zeros((4, 3, 8, 8), np.float32)
    p = arraymix.sample_mixup(0, 4)
    with pytest.raises(ValueError, match="out must have x's dtype"):
        arraymix.blend(x, p, out=np.zeros_like(x, dtype=np.float64))
    with pytest.raises(ValueError, match=r"out must be a numeric array of shape \(4, 3, 8, 8\)"):
        arraymix.blend(x, p, out=np.zeros((4, 3, 8)))
    with pytest.raises(ValueError, match="overlap"):
        arraymix.blend(x, p, out=x[::-1])
    with pytest.raises(TypeError, match="out must be an array"):
        arraymix.blend(x, p, out=[0])
    torch = pytest.importorskip("torch", reason="torch is not installed")
    with pytest.raises(TypeError, match="out must come from x's array library"):
        arraymix.blend(x, p, out=torch.zeros(4, 3, 8, 8))


def test_fast_path_keeps_autograd():
    torch = pytest.importorskip("torch", reason="torch is not installed")
    h = torch.randn(4, 64, 64, requires_grad=True)
    p = arraymix.sample_mixup(0, 4, xp=torch, device="cpu")
    arraymix.blend(h, p).sum().backward()  # takes the array API path: no out= kernels
    assert h.grad is not None


@settings(max_examples=15)
@given(batch=st.integers(0, 40), classes=st.integers(1, 30), seed=SEEDS, lam_mode=MODES,
       pairing=PAIRINGS, smoothing=st.sampled_from([0.0, 0.1, 0.25]),
       wide=st.booleans(), path=st.sampled_from(["default", "rows", "scatter"]))
def test_mixed_class_ids_equal_blended_one_hot(backend, batch, classes, seed, lam_mode,
                                               pairing, smoothing, wide, path):
    """Each host shortcut for integer labels (rows from the one-hot table,
    built rows blended, the scatter) gives the reference's values exactly."""
    from arraymix._backends import tuned
    from arraymix._labels import check_targets, mix_targets

    tuning = {"default": {}, "rows": {"one_hot_table_max": 0},
              "scatter": {"scatter_ids_min": 1}}[path]

    if pairing == "derange" and batch == 1:
        pairing = "permute"
    ids = np.random.default_rng(seed).integers(0, classes, size=batch)
    x = backend.asarray(np.zeros((batch, 2), np.float64 if wide and "float64" in
                                 backend.dtypes else np.float32))
    y = backend.asarray(ids)
    p = arraymix.sample_mixup(seed, batch, lam_mode=lam_mode, pairing=pairing,
                              xp=backend.xp, device=backend.device)
    t = check_targets(x, y, classes, smoothing)
    with tuned(**tuning):
        got = backend.call(lambda y_, p_: mix_targets(select(y_), t._replace(y=y_), p_, 1),
                           y, p)
    xp = backend.xp
    want = backend.call(lambda y_, p_: reference.blend_arrays(  # the array API reference
        xp, arraymix.one_hot(y_, classes, smoothing=smoothing, dtype=t.dtype), p_.lam,
        p_.perm, t.dtype), y, p)
    check_like(backend, got, (batch, classes), t.dtype)
    if not backend.has_values:
        return
    if backend.name != "torch-cuda":  # the host shortcut, or the same array API path
        np.testing.assert_array_equal(backend.numpy(got), backend.numpy(want))
    else:  # no host shortcut on a GPU: the blend rounds once
        np.testing.assert_allclose(backend.numpy(got), backend.numpy(want), rtol=0,
                                   atol=4 * np.finfo(backend.numpy(got).dtype).eps)


@pytest.mark.parametrize("library", ["numpy", "torch"])
@settings(max_examples=40)
@given(data=st.data(), inner=st.integers(1, 40),
       dtype=st.sampled_from(["float32", "uint8", "float16", "int32"]),
       per_sample=st.booleans(), seed=SEEDS)
def test_small_samples_in_place_follow_the_cycles(library, data, inner, dtype,
                                                  per_sample, seed):
    """The in-place block walk on any permutation: cycles inside a block,
    across several blocks, fixed points; a batch copied back; equal to the
    array API path and to the float64 reference, whatever the blocks' size.
    CPU torch tensors take it on a NumPy view of their memory above
    ``TORCH_SCRATCH_BYTES`` (here: 0), and gather into scratch below."""
    min_sample = data.draw(st.integers(inner, 4 * inner + 8), label="MIN_SAMPLE")
    copy_back = data.draw(st.sampled_from([0, 2**40]), label="copy_back_bytes")
    scratch = data.draw(st.sampled_from([0, 2**40]), label="torch_scratch_bytes")
    batch = data.draw(st.integers(1, 30), label="batch")
    perm = np.asarray(data.draw(st.permutations(range(batch)), label="perm"), dtype=np.int64)
    gen = np.random.default_rng(seed)
    lam = gen.uniform(size=batch if per_sample else ()).astype(np.float32)
    xnp = random_batch(gen, (batch, inner), dtype)
    if library == "torch":
        torch = pytest.importorskip("torch", reason="torch is not installed")
        import array_api_compat.torch as xp

        put = torch.from_numpy
    else:
        import array_api_compat.numpy as xp

        put = np.asarray
    params = arraymix.MixParams(lam=put(lam), perm=put(perm))
    x = put(xnp.copy())
    with tuned(walk_min_sample=min_sample, copy_back_bytes=copy_back,
               torch_scratch_bytes=scratch):
        got = arraymix.blend(x, params, out=x)
    assert got is x
    want = reference.blend_arrays(xp, put(xnp), params.lam, params.perm,
                         reference.compute_dtype(xp, x.dtype))
    got, want = np.asarray(got), np.asarray(want)
    torch_blocks = library == "torch" and scratch == 0 and inner < min_sample
    if library == "numpy" or torch_blocks or dtype not in FLOATS:  # the reference's roundings
        np.testing.assert_array_equal(got, want)
    # (else torch's walk or gather and lerp, which round once: the tolerance below)
    exact = ref_blend(xnp, lam, perm)
    if dtype in INTS or dtype == "int32":
        info = np.iinfo(dtype)
        exact = np.clip(np.rint(exact), info.min, info.max)
    np.testing.assert_allclose(got.astype(np.float64), exact, rtol=0,
                               atol=tolerance(dtype, float(np.abs(xnp).max(initial=0))))


@settings(max_examples=40)
@given(data=st.data(), dtype=st.sampled_from(["float32", "float64", "float16", "uint8", "int16",
                                              "int8", "uint16", "int32", "int64"]),
       per_sample=st.booleans(), seed=SEEDS)
def test_numpy_walk_in_pieces_equals_the_reference(data, dtype, per_sample, seed):
    """The NumPy walk cuts a sample along its first axis longer than one
    (after any axes of length one, as in ``(B, 1, T)`` audio) into pieces,
    the last one shorter: every element is blended once, into a new batch,
    a buffer and in place, bitwise equal to the array API path and within
    rounding of the float64 reference. Integers walk each cycle piece by
    piece (each piece converted once), every integer width rounded
    (a constant's bits up to half the compute dtype's width, ``rint``
    above)."""
    import array_api_compat.numpy as xp

    ones = data.draw(st.integers(0, 2), label="leading axes of length one")
    rows = data.draw(st.integers(2, 9), label="rows")
    rest = data.draw(st.lists(st.integers(1, 4), max_size=2), label="inner axes")
    shape = (data.draw(st.integers(1, 12), label="batch"), *([1] * ones), rows, *rest)
    piece = data.draw(st.integers(1, math.prod(shape[1:])), label="piece")
    pieces = walk._pieces(np.empty(shape, dtype), piece)
    covered = np.zeros(shape[1:], dtype=np.int64)
    for index, _ in pieces:
        covered[index] += 1
    assert (covered == 1).all() or not pieces  # each element in exactly one piece
    gen = np.random.default_rng(seed)
    xnp = random_batch(gen, shape, dtype)
    lam = gen.uniform(size=shape[0] if per_sample else ()).astype(np.float32)
    perm = gen.permutation(shape[0])
    params = arraymix.MixParams(lam=lam, perm=perm)
    want = reference.blend_arrays(xp, xnp, lam, perm, reference.compute_dtype(xp, xnp.dtype))
    buffer = np.zeros_like(xnp)
    same = xnp.copy()
    with tuned(walk_min_sample=1, piece=piece, int_piece=piece):
        results = (arraymix.blend(xnp, params), arraymix.blend(xnp, params, out=buffer),
                   arraymix.blend(same, params, out=same))
    for got in results:
        np.testing.assert_array_equal(got, want)
    exact = ref_blend(xnp, lam, perm)
    if xnp.dtype.kind in "iu":
        info = np.iinfo(xnp.dtype)
        exact = np.clip(np.rint(exact), info.min, info.max)
    np.testing.assert_allclose(same.astype(np.float64), exact, rtol=0,
                               atol=tolerance(dtype, float(np.abs(xnp).max(initial=0))))


@pytest.mark.parametrize("path", ["walk", "blocks"])
@pytest.mark.parametrize("dtype", ["uint8", "int8", "int16"])
def test_every_pair_of_small_integers_rounds_as_the_float32_formula(path, dtype):
    """All 65,536 pairs of 8-bit values (and the extremes of int16 beside
    them), at 200 weights: the host paths give round(λ·a + (1 − λ)·b)
    computed in float32 exactly, so no faster rounding may move a value
    lying near .5."""
    info = np.iinfo(dtype)
    values = np.arange(-128, 128) if info.min < 0 else np.arange(256)
    a, b = (v.ravel() for v in np.meshgrid(values, values, indexing="ij"))
    if dtype == "int16":
        a = np.concatenate([a * 256, [info.min, info.max, info.min, info.max, -1, 0]])
        b = np.concatenate([b * 256 + 255, [info.max, info.min, info.min, info.max, 1, -1]])
    x = np.stack([a, b]).astype(dtype)
    gen = np.random.default_rng(7)
    lams = np.concatenate([[0.0, 1.0, 0.5, 0.25, 0.75, 2.0**-24, 1 - 2.0**-24, 1e-30, 0.1],
                           gen.uniform(size=91), gen.beta(0.2, 0.2, size=100)])
    perm = np.asarray([1, 0])
    for lam in lams.astype(np.float32):
        lam32, om32 = np.float32(lam), np.float32(1) - np.float32(lam)
        f = x.astype(np.float32)
        want = np.rint(lam32 * f + om32 * f[perm]).astype(dtype)
        params = arraymix.MixParams(lam=np.asarray(lam), perm=perm)
        with tuned(force=path, walk_min_sample=1, int_piece=4096):
            got = arraymix.blend(x, params)
            same = x.copy()
            arraymix.blend(same, params, out=same)
        np.testing.assert_array_equal(got, want, err_msg=f"λ = {lam!r}")
        np.testing.assert_array_equal(same, want, err_msg=f"λ = {lam!r}, in place")


@settings(max_examples=20)
@given(data=st.data(), batch=st.integers(1, 12), per_sample=st.booleans(), seed=SEEDS)
def test_a_batch_of_scalars_blends_like_the_reference(backend, threshold, data, batch,
                                                      per_sample, seed):
    """A batch of shape ``(B,)``: each sample a single value (0-d), which the
    walk must see as a view to write through (NumPy hands out scalars when a
    1-d array is iterated or indexed by one integer). New, buffer and in
    place, equal to the array API path and within rounding of the float64
    reference."""
    names = [n for n in (*FLOATS, *INTS) if n in backend.dtypes]
    dtype = data.draw(st.sampled_from(names), label="dtype")
    gen = np.random.default_rng(seed)
    xnp = random_batch(gen, (batch,), dtype)
    lam_np = gen.uniform(size=batch if per_sample else ())
    perm_np = gen.permutation(batch)
    xp = backend.xp
    x = backend.asarray(xnp, dtype)
    params = arraymix.MixParams(lam=backend.asarray(lam_np, "float32"),
                                perm=backend.asarray(perm_np, "int64"))
    want = reference.blend_arrays(xp, x, params.lam, params.perm,
                                  reference.compute_dtype(xp, x.dtype))
    if not arraymix._compat.is_writeable_array(x):
        results = [arraymix.blend(x, params)]
    else:
        buffer = backend.asarray(np.zeros(batch), dtype)
        same = backend.asarray(xnp, dtype)
        results = [arraymix.blend(x, params), arraymix.blend(x, params, out=buffer),
                   arraymix.blend(same, params, out=same)]
    if not backend.has_values:
        return
    scale = float(np.abs(xnp).max(initial=0))
    exact = ref_blend(xnp, backend.numpy(params.lam), perm_np)
    if dtype in INTS:
        info = np.iinfo(dtype)
        exact = np.clip(np.rint(exact), info.min, info.max)
    # torch's lerp rounds once; JAX computes half precision in float32
    within_ulp = dtype in FLOATS and (rounds_once(backend) or (
        select(x).name == "jax" and dtype in ("float16", "bfloat16")))
    for got in results:
        check_like(backend, got, (batch,), x.dtype)
        if within_ulp:
            np.testing.assert_allclose(backend.numpy(got), backend.numpy(want), rtol=0,
                                       atol=tolerance(dtype, scale))
        else:
            np.testing.assert_array_equal(backend.numpy(got), backend.numpy(want))
        np.testing.assert_allclose(backend.numpy(got).astype(np.float64), exact, rtol=0,
                                   atol=tolerance(dtype, scale))


def test_small_samples_in_place_need_no_batch_of_scratch():
    """In place, NumPy's block walk allocates a block and a sample, not a batch,
    above the size it copies back (NumPy reports its buffers to tracemalloc)."""
    x = np.random.default_rng(0).normal(size=(512, 3, 32, 32)).astype(np.float32)
    assert x.nbytes > current().copy_back_bytes
    params = arraymix.sample_mixup(1, 512, lam_mode="sample")
    block = 4 * current().walk_min_sample * x.itemsize  # the samples of a block, and their partners
    tracemalloc.start()
    try:
        arraymix.blend(x, params, out=x)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2 * block + 2 * x[0].nbytes + 65536 < x.nbytes // 4


def test_large_torch_batches_in_place_need_no_batch_of_scratch():
    """Above ``torch_scratch_bytes`` a CPU tensor of small samples is blended
    in place by NumPy's block walk on its own memory: the reference's
    roundings, bitwise (gathering the partners and one ``lerp`` would round
    once), and the walk's NumPy scratch is a block and a sample."""
    torch = pytest.importorskip("torch", reason="torch is not installed")
    import array_api_compat.torch as xp

    x = torch.randn(512, 3, 32, 32)
    params = arraymix.sample_mixup(1, 512, lam_mode="sample", xp=torch, device="cpu")
    want = reference.blend_arrays(xp, x, params.lam, params.perm, x.dtype)
    block = 4 * current().walk_min_sample * x.element_size()
    with tuned(torch_scratch_bytes=x.nbytes // 2):
        tracemalloc.start()
        try:
            got = arraymix.blend(x, params, out=x)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert got is x
    assert peak < 2 * block + 2 * x[0].nbytes + 65536 < x.nbytes // 4
    assert torch.equal(x, want)


def test_a_box_per_sample_is_pasted_without_a_batch_of_scratch():
    """Per-sample boxes on CIFAR-sized NumPy samples are copied box by box: in
    place the scratch is one box per cycle, out of place one output batch
    (the mask and ``where`` took two batches either way); smaller samples
    take one batch in place."""
    x = np.random.default_rng(0).normal(size=(256, 3, 32, 32)).astype(np.float32)
    assert math.prod(x.shape[1:]) >= current().paste_min_sample
    params = arraymix.sample_cutmix(0, 256, (32, 32), lam_mode="sample")
    want = arraymix.paste(x, params)
    peaks = []
    for out in (None, x):
        tracemalloc.start()
        try:
            got = arraymix.paste(x, params, out=out)
            peaks.append(tracemalloc.get_traced_memory()[1])
        finally:
            tracemalloc.stop()
        np.testing.assert_array_equal(got, want)
    assert peaks[0] < x.nbytes + 65536
    assert peaks[1] < x[0].nbytes + 65536
    # smaller samples: the partner batch through the boxes' mask, one batch in place
    small = np.random.default_rng(1).normal(size=(256, 3, 16, 16)).astype(np.float32)
    assert math.prod(small.shape[1:]) < current().paste_min_sample
    params = arraymix.sample_cutmix(0, 256, (16, 16), lam_mode="sample")
    want = arraymix.paste(small, params)
    tracemalloc.start()
    try:
        got = arraymix.paste(small, params, out=small)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    np.testing.assert_array_equal(got, want)
    assert peak < small.nbytes * 1.1 + 65536  # the partners and a boolean mask


def test_out_itself_is_returned_for_a_tensor_subclass():
    """A subclass whose operations return plain tensors (as torchvision's
    tv_tensors do) still gets ``out`` itself back, mixed, on every path."""
    torch = pytest.importorskip("torch", reason="torch is not installed")

    class Plain(torch.Tensor):
        @classmethod
        def __torch_function__(cls, func, types, args=(), kwargs=None):
            with torch._C.DisableTorchFunctionSubclass():
                result = func(*args, **(kwargs or {}))
            # a result that is an instance (an out= or in-place op's) comes back plain
            return result.as_subclass(torch.Tensor) if isinstance(result, cls) else result

    for shape in ((8, 3, 16, 16), (8, 3, 128, 128)):  # below and above the walk's size
        base = torch.randn(shape)
        want = (arraymix.mixup(base, rng=0)[0], arraymix.cutmix(base, rng=0)[0])
        for fn, expected in zip((arraymix.mixup, arraymix.cutmix), want, strict=True):
            for out in ("self", "buffer"):
                x = base.clone().as_subclass(Plain)
                target = x if out == "self" else torch.empty(shape).as_subclass(Plain)
                got = fn(x, rng=0, out=target)[0]
                assert got is target
                assert torch.equal(got.as_subclass(torch.Tensor), expected)
        x = base.clone().as_subclass(Plain)
        assert arraymix.Mixer(seed=0)(x, out=x)[0] is x


HOST_PATHS = [(library, op, path) for library in ("numpy", "torch-cpu")
              for op, paths in PATHS[library].items() for path in paths]


@pytest.mark.parametrize(("library", "op", "path"), HOST_PATHS)
@settings(max_examples=12)
@given(shape=batch_shapes(12).filter(lambda s: len(s) >= 3), seed=SEEDS,
       dtype=st.sampled_from(["float32", "float64", "float16", "uint8", "int32"]),
       lam_mode=MODES, where=st.sampled_from(["new", "buffer", "in place"]))
def test_each_registered_host_path_equals_the_float64_reference(library, op, path, shape,
                                                                seed, dtype, lam_mode, where):
    """Every path the host backends register, forced by name (where it
    applies; elsewhere the backend's own choice), into a new batch, a buffer
    and in place: within rounding of the float64 reference, the box copies
    exactly, ``x`` unchanged unless it is ``out``."""
    if library == "torch-cpu":
        torch = pytest.importorskip("torch", reason="torch is not installed")
        put, get, xp = torch.from_numpy, (lambda t: t.numpy()), torch
    else:
        put, get, xp = np.asarray, np.asarray, np
    xnp = random_batch(np.random.default_rng(seed), shape, dtype)
    x = put(xnp.copy())
    kw = {"lam_mode": lam_mode, "xp": xp, "device": "cpu"}
    if op == "blend":
        p = arraymix.sample_mixup(seed, shape[0], alpha=0.7, **kw)
        want = ref_blend(xnp, get(p.lam), get(p.perm))
        if dtype in INTS or dtype == "int32":
            info = np.iinfo(dtype)
            want = np.clip(np.rint(want), info.min, info.max)
    else:
        p = arraymix.sample_cutmix(seed, shape[0], shape[-2:], **kw)
        want = ref_paste(xnp, get(p.perm), get(p.lower), get(p.upper), (-2, -1))
    out = {"new": None, "buffer": put(np.zeros_like(xnp)), "in place": x}[where]
    kw = {"axes": (-2, -1)} if op == "paste" else {}
    with tuned(force=path):
        got = getattr(arraymix, op)(x, p, out=out, **kw)
    assert got is out or out is None
    assert got.dtype == x.dtype
    assert tuple(got.shape) == shape
    scale = float(np.abs(xnp).max(initial=0))
    if op == "paste":
        np.testing.assert_array_equal(get(got), want)
    else:
        np.testing.assert_allclose(get(got).astype(np.float64), want, rtol=0,
                                   atol=tolerance(dtype, scale))
    if where != "in place":
        np.testing.assert_array_equal(get(x), xnp)
