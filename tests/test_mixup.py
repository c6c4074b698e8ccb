"""MixUp properties on every backend, against the float64 NumPy reference."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import arraymix
from reference import (
    EPS,
    FLOATS,
    INTS,
    batch_shapes,
    check_like,
    lam_as_used,
    random_batch,
    ref_blend,
    ref_one_hot,
    tolerance,
)

MODES = st.sampled_from(["batch", "sample"])
PAIRINGS = st.sampled_from(["permute", "derange", "flip", "roll"])
SEEDS = st.integers(0, 2**32 - 1)
ALPHAS = st.floats(0.05, 8.0)


def _dtype(data: st.DataObject, backend: object, kinds: tuple[str, ...]) -> str:
    names = [n for n in kinds if n in backend.dtypes]  # type: ignore[attr-defined]
    return data.draw(st.sampled_from(names), label="dtype")


@settings(max_examples=30)
@given(data=st.data(), shape=batch_shapes(), seed=SEEDS, alpha=ALPHAS,
       lam_mode=st.sampled_from(["batch", "sample", "pair"]),
       pairing=PAIRINGS, classes=st.integers(1, 12), smoothing=st.sampled_from([0.0, 0.1, 0.3]))
def test_mixup_equals_reference(backend, data, shape, seed, alpha, lam_mode, pairing,
                                classes, smoothing):
    if pairing == "derange" and shape[0] == 1:
        pairing = "permute"
    if lam_mode == "pair":  # λ per pair of partners: flip pairs them
        pairing = "flip"
    dtype = _dtype(data, backend, FLOATS + INTS)
    gen = np.random.default_rng(seed)
    x = backend.asarray(random_batch(gen, shape, dtype), dtype)
    y = backend.asarray(gen.integers(0, classes, size=shape[0]))
    before = backend.numpy(x) if backend.has_values else None
    kw = {"alpha": alpha, "lam_mode": lam_mode, "pairing": pairing}
    xm, ym = backend.call(arraymix.mixup, x, y, num_classes=classes,
                          label_smoothing=smoothing, rng=seed, **kw)
    label_dtype = backend.xp.float64 if dtype == "float64" else backend.xp.float32
    check_like(backend, xm, shape, x.dtype)
    check_like(backend, ym, (shape[0], classes), label_dtype)
    if not backend.has_values:
        return  # torch meta: the call ran without reading a value; metadata checked
    p = arraymix.sample_mixup(seed, shape[0], **kw)  # the same seed, drawn in NumPy
    xv = backend.numpy(x)
    np.testing.assert_array_equal(xv, before)  # input unchanged
    lam = lam_as_used(backend, p.lam, dtype)
    expected = ref_blend(xv, lam, p.perm)
    if dtype in INTS:
        expected = np.round(expected)
    atol = tolerance(dtype, float(np.abs(xv).max(initial=0)))
    np.testing.assert_allclose(backend.numpy(xm).astype(np.float64), expected, atol=atol, rtol=0)
    ly = "float64" if dtype == "float64" else "float32"
    yv = backend.numpy(ym)
    expected_y = ref_blend(ref_one_hot(backend.numpy(y), classes, smoothing),
                           lam_as_used(backend, p.lam, ly), p.perm)
    np.testing.assert_allclose(yv, expected_y, atol=tolerance(ly, 1.0), rtol=0)
    np.testing.assert_allclose(yv.sum(axis=-1), 1.0, atol=tolerance(ly, classes))


@settings(max_examples=20)
@given(data=st.data(), shape=batch_shapes(32), seed=SEEDS, lam_mode=MODES,
       a=st.floats(-4, 4), b=st.floats(-4, 4))
def test_blend_is_linear(backend, data, shape, seed, lam_mode, a, b):
    dtype = _dtype(data, backend, ("float32", "float64"))
    gen = np.random.default_rng(seed)
    x1np, x2np = random_batch(gen, shape, dtype), random_batch(gen, shape, dtype)
    p = arraymix.sample_mixup(seed, shape[0], lam_mode=lam_mode, xp=backend.xp,
                              device=backend.device)
    combo = backend.asarray(a * x1np.astype(np.float64) + b * x2np.astype(np.float64), dtype)
    x1, x2 = backend.asarray(x1np), backend.asarray(x2np)
    left = backend.call(arraymix.blend, combo, p)
    parts = backend.call(arraymix.blend, x1, p), backend.call(arraymix.blend, x2, p)
    check_like(backend, left, shape, x1.dtype)
    if backend.has_values:
        right = a * backend.numpy(parts[0]).astype(np.float64) + b * backend.numpy(
            parts[1]).astype(np.float64)
        scale = (abs(a) + abs(b) + 1) * float(np.abs(x1np).max() + np.abs(x2np).max() + 1)
        np.testing.assert_allclose(backend.numpy(left), right, atol=tolerance(dtype, scale),
                                   rtol=0)


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
@pytest.mark.parametrize("side", [8, 80])
def test_blend_with_infinities_follows_the_formula(backend, side):
    """inf, -inf and NaN beside finite values and each other: the float64
    formula's value, except that torch's lerp (CPU tensors above 65,536
    elements, devices without the CUDA kernels) may give NaN where the
    formula gives an infinity (docs/guarantees.md)."""
    gen = np.random.default_rng(3)
    xnp = gen.normal(size=(4, 3, side, side)).astype(np.float32)
    values = np.array([np.inf, -np.inf, np.nan, 1.5], dtype=np.float32)
    perm = np.array([3, 2, 1, 0])  # samples 0 and 1 meet 3 and 2 (and the other way)
    pairs = np.arange(16)
    for i in range(4):  # every ordered pair of the four values, in each sample
        plane = xnp[i, 0].reshape(-1)  # a view
        plane[:16] = values[pairs // 4] if i < 2 else values[pairs % 4]
    lam = np.array([0.3, 0.7, 0.5, 0.2], dtype=np.float32)
    p = arraymix.MixParams(lam=backend.asarray(lam), perm=backend.asarray(perm))
    got = backend.call(arraymix.blend, backend.asarray(xnp), p)
    check_like(backend, got, xnp.shape, backend.asarray(xnp).dtype)
    if not backend.has_values:
        return
    got = backend.numpy(got).astype(np.float64)
    with np.errstate(invalid="ignore"):
        want = lam[:, None, None, None] * xnp.astype(np.float64) + (
            1 - lam[:, None, None, None]) * xnp[perm].astype(np.float64)
    finite, infinite = np.isfinite(want), np.isinf(want)
    np.testing.assert_allclose(got[finite], want[finite], rtol=1e-6, atol=1e-6)
    assert np.isnan(got[np.isnan(want)]).all()
    lerps = backend.name.startswith("torch") and not (backend.name == "torch-cpu"
                                                      and xnp.size <= 65536)
    matches = got[infinite] == want[infinite]
    if lerps:
        matches |= np.isnan(got[infinite])
    assert matches.all(), (got[infinite], want[infinite])
    assert infinite.sum() == 4 * 6  # inf or -inf with a finite value or itself, per sample


@settings(max_examples=20)
@given(shape=batch_shapes(16), seed=SEEDS, classes=st.integers(2, 6), lam_mode=MODES)
def test_soft_targets_are_mixed_as_they_are(backend, shape, seed, classes, lam_mode):
    gen = np.random.default_rng(seed)
    probs = gen.dirichlet(np.ones(classes), size=shape[0]).astype(np.float32)
    x = backend.asarray(random_batch(gen, shape, "float32"))
    y = backend.asarray(probs)
    _, ym = backend.call(arraymix.mixup, x, y, rng=seed, lam_mode=lam_mode)
    check_like(backend, ym, probs.shape, y.dtype)
    if backend.has_values:
        p = arraymix.sample_mixup(seed, shape[0], alpha=0.2, lam_mode=lam_mode)
        lam = lam_as_used(backend, p.lam, "float32")
        np.testing.assert_allclose(backend.numpy(ym), ref_blend(probs, lam, p.perm), atol=1e-6)
        np.testing.assert_allclose(backend.numpy(ym).sum(-1), 1.0, atol=1e-5)


def test_same_seed_same_result(backend):
    gen = np.random.default_rng(7)
    x = backend.asarray(random_batch(gen, (9, 3, 4), "float32"))
    y = backend.asarray(gen.integers(0, 5, size=9))
    first = backend.call(arraymix.mixup, x, y, num_classes=5, rng=123, lam_mode="sample")
    second = backend.call(arraymix.mixup, x, y, num_classes=5, rng=123, lam_mode="sample")
    other = backend.call(arraymix.mixup, x, y, num_classes=5, rng=124, lam_mode="sample")
    check_like(backend, first[0], (9, 3, 4), x.dtype)
    if backend.has_values:
        for a, b in zip(first, second, strict=True):
            np.testing.assert_array_equal(backend.numpy(a), backend.numpy(b))
        assert not np.array_equal(backend.numpy(first[0]), backend.numpy(other[0]))


def test_empty_batch(backend):
    x = backend.asarray(np.zeros((0, 3), np.float32))
    y = backend.asarray(np.zeros((0,), np.int64))
    for pairing in ("permute", "derange", "flip", "roll"):
        for groups in (None, 2):  # an empty batch splits into empty groups
            xm, ym = backend.call(arraymix.mixup, x, y, num_classes=4, rng=0,
                                  pairing=pairing, groups=groups)
            check_like(backend, xm, (0, 3), x.dtype)
            check_like(backend, ym, (0, 4), backend.xp.float32)


def test_batch_of_one_mixes_with_itself(backend):
    x = backend.asarray(np.asarray([[1.5, -2.0, 3.0]], np.float32))
    xm, ym = backend.call(arraymix.mixup, x, backend.asarray(np.asarray([2])), num_classes=3,
                          rng=5, alpha=1.0)
    check_like(backend, xm, (1, 3), x.dtype)
    if backend.has_values:
        np.testing.assert_allclose(backend.numpy(xm), [[1.5, -2.0, 3.0]], rtol=1e-6)
        np.testing.assert_allclose(backend.numpy(ym), [[0.0, 0.0, 1.0]], atol=1e-6)


def test_y_none_gives_none(backend):
    x = backend.asarray(np.ones((4, 2), np.float32))
    xm, ym = backend.call(arraymix.mixup, x, rng=0)
    assert ym is None
    check_like(backend, xm, (4, 2), x.dtype)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_half_precision_is_not_promoted(backend, dtype):
    if dtype not in backend.dtypes:
        pytest.skip(f"{backend.name} has no {dtype}")
    x = backend.asarray(np.linspace(-1, 1, 24).reshape(6, 4), dtype)
    xm, ym = backend.call(arraymix.mixup, x, backend.asarray(np.arange(6) % 3),
                          num_classes=3, rng=1)
    check_like(backend, xm, (6, 4), backend.dtypes[dtype])
    check_like(backend, ym, (6, 3), backend.xp.float32)


def test_narrow_integer_labels_with_many_classes(backend):
    """uint8 class ids and 1000 classes: no class wraps around (kornia #4657)."""
    ids = np.asarray([0, 7, 255, 3], dtype=np.uint8)
    y = backend.asarray(ids)
    rows = backend.call(lambda a: arraymix.one_hot(a, 1000), y)
    check_like(backend, rows, (4, 1000),
               backend.xp.__array_namespace_info__().default_dtypes(
                   device=backend.device)["real floating"])
    if backend.has_values:
        np.testing.assert_array_equal(backend.numpy(rows), ref_one_hot(ids.astype(int), 1000))


@settings(max_examples=30)
@given(data=st.data(), shape=st.lists(st.integers(0, 5), max_size=3),
       classes=st.integers(1, 300), smoothing=st.sampled_from([0.0, 0.1, 0.3]),
       ids_dtype=st.sampled_from(["uint8", "int16", "int32", "int64"]), seed=SEEDS)
def test_one_hot_equals_reference(backend, data, shape, classes, smoothing, ids_dtype, seed):
    """Any label shape, id dtype and row dtype: the reference's rows rounded
    to the dtype, and the host fill-and-scatter equal to the array API path."""
    from arraymix._backends import tuned

    dtype = _dtype(data, backend, FLOATS)
    top = min(classes, np.iinfo(ids_dtype).max + 1)
    ids = np.random.default_rng(seed).integers(0, top, size=shape).astype(ids_dtype)
    y = backend.asarray(ids)
    kw = {"smoothing": smoothing, "dtype": backend.dtypes[dtype]}
    rows = backend.call(lambda a: arraymix.one_hot(a, classes, **kw), y)
    check_like(backend, rows, (*shape, classes), backend.dtypes[dtype])
    if not backend.has_values:
        return
    got = backend.numpy(rows).astype(np.float64)
    np.testing.assert_allclose(got, ref_one_hot(ids.astype(int), classes, smoothing),
                               rtol=EPS[dtype], atol=0)
    with tuned(force="reference"):  # the array API path alone
        generic = backend.call(lambda a: arraymix.one_hot(a, classes, **kw), y)
    np.testing.assert_array_equal(got, backend.numpy(generic).astype(np.float64))
