"""Boxes and keypoints that follow a mix, on every backend, against plain
per-box NumPy references written here (float64, one box at a time)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import arraymix

SEEDS = st.integers(0, 2**32 - 1)
# coordinates are whole pixels and the fractions dyadic, so every area and
# threshold is exact in each dtype drawn and a box is never decided by rounding
FRACTIONS = [0.0, 0.25, 0.5, 0.75, 1.0]
DTYPES = ["float16", "float32", "float64", "int16", "int32"]


def rectangles(lower, upper, batch):
    return np.broadcast_to(lower, (batch, 2)), np.broadcast_to(upper, (batch, 2))


def area(b):
    return max(0.0, b[2] - b[0]) * max(0.0, b[3] - b[1])


def ref_paste_boxes(boxes, valid, perm, lower, upper, frac):
    boxes = boxes.astype(np.float64)
    batch, n = valid.shape
    lows, highs = rectangles(lower, upper, batch)
    out, ok = np.zeros((batch, 2 * n, 4)), np.zeros((batch, 2 * n), dtype=bool)
    for i in range(batch):
        (y0, x0), (y1, x1) = lows[i], highs[i]
        for k in range(n):
            b = boxes[i, k]
            under = area([max(b[0], x0), max(b[1], y0), min(b[2], x1), min(b[3], y1)])
            if valid[i, k] and area(b) > 0 and area(b) - under >= frac * area(b):
                out[i, k], ok[i, k] = b, True
            t = boxes[perm[i], k]
            cut = [min(max(t[0], x0), x1), min(max(t[1], y0), y1),
                   min(max(t[2], x0), x1), min(max(t[3], y0), y1)]
            if valid[perm[i], k] and area(cut) > 0 and area(cut) >= frac * area(t):
                out[i, n + k], ok[i, n + k] = cut, True
    return out, ok


def ref_blend_boxes(boxes, valid, perm, lam):
    batch, n = valid.shape
    lam = np.broadcast_to(np.asarray(lam, dtype=np.float64), (batch,))
    out, ok = np.zeros((batch, 2 * n, 4)), np.zeros((batch, 2 * n), dtype=bool)
    weights = np.zeros((batch, 2 * n))
    for i in range(batch):
        for k in range(n):
            if valid[i, k]:
                out[i, k], ok[i, k], weights[i, k] = boxes[i, k], True, lam[i]
            if valid[perm[i], k]:
                out[i, n + k], ok[i, n + k] = boxes[perm[i], k], True
                weights[i, n + k] = 1 - lam[i]
    return out, ok, weights


def ref_paste_points(points, valid, perm, lower, upper):
    batch, n = valid.shape
    lows, highs = rectangles(lower, upper, batch)
    out, ok = np.zeros((batch, 2 * n, 2)), np.zeros((batch, 2 * n), dtype=bool)
    for i in range(batch):
        (y0, x0), (y1, x1) = lows[i], highs[i]

        def inside(p, y0=y0, x0=x0, y1=y1, x1=x1):
            return x0 <= p[0] < x1 and y0 <= p[1] < y1

        for k in range(n):
            if valid[i, k] and not inside(points[i, k]):
                out[i, k], ok[i, k] = points[i, k], True
            if valid[perm[i], k] and inside(points[perm[i], k]):
                out[i, n + k], ok[i, n + k] = points[perm[i], k], True
    return out, ok


def random_boxes(gen, batch, n, h, w):
    x = np.sort(gen.integers(0, w + 1, size=(batch, n, 2)), axis=-1)
    y = np.sort(gen.integers(0, h + 1, size=(batch, n, 2)), axis=-1)
    boxes = np.stack([x[..., 0], y[..., 0], x[..., 1], y[..., 1]], axis=-1)
    return boxes, gen.random((batch, n)) < 0.8


def usable(backend, dtype):
    return dtype in backend.dtypes


@settings(max_examples=30)
@given(data=st.data(), batch=st.integers(1, 9), n=st.integers(1, 5), seed=SEEDS,
       size=st.tuples(st.integers(1, 40), st.integers(1, 40)),
       lam_mode=st.sampled_from(["batch", "sample"]), frac=st.sampled_from(FRACTIONS))
def test_paste_boxes_equals_reference(backend, data, batch, n, seed, size, lam_mode, frac):
    dtype = data.draw(st.sampled_from([d for d in DTYPES if usable(backend, d)]), label="dtype")
    gen = np.random.default_rng(seed)
    boxes_np, valid_np = random_boxes(gen, batch, n, *size)
    boxes, valid = backend.asarray(boxes_np, dtype), backend.asarray(valid_np)
    p = arraymix.sample_cutmix(seed, batch, size, lam_mode=lam_mode, xp=backend.xp,
                               device=backend.device)
    got, ok = backend.call(arraymix.paste_boxes, boxes, valid, p, min_visible=frac)
    assert tuple(got.shape) == (batch, 2 * n, 4)
    assert got.dtype == boxes.dtype
    assert tuple(ok.shape) == (batch, 2 * n)
    if not backend.has_values:
        return
    q = arraymix.sample_cutmix(seed, batch, size, lam_mode=lam_mode)  # the same draw, NumPy
    want, want_ok = ref_paste_boxes(boxes_np, valid_np, q.perm, q.lower, q.upper, frac)
    np.testing.assert_array_equal(backend.numpy(ok), want_ok)
    np.testing.assert_array_equal(backend.numpy(got).astype(np.float64), want)


@settings(max_examples=20)
@given(data=st.data(), batch=st.integers(1, 9), n=st.integers(1, 5), seed=SEEDS,
       lam_mode=st.sampled_from(["batch", "sample"]))
def test_blend_boxes_equals_reference(backend, data, batch, n, seed, lam_mode):
    dtype = data.draw(st.sampled_from([d for d in DTYPES if usable(backend, d)]), label="dtype")
    gen = np.random.default_rng(seed)
    boxes_np, valid_np = random_boxes(gen, batch, n, 30, 20)
    boxes, valid = backend.asarray(boxes_np, dtype), backend.asarray(valid_np)
    p = arraymix.sample_mixup(seed, batch, lam_mode=lam_mode, xp=backend.xp,
                              device=backend.device)
    got, ok, weights = backend.call(arraymix.blend_boxes, boxes, valid, p)
    assert tuple(got.shape) == (batch, 2 * n, 4)
    assert got.dtype == boxes.dtype
    assert weights.dtype == p.lam.dtype
    if not backend.has_values:
        return
    q = arraymix.sample_mixup(seed, batch, lam_mode=lam_mode)
    lam = backend.numpy(p.lam).astype(np.float64)  # λ as the backend holds it
    want, want_ok, want_w = ref_blend_boxes(boxes_np, valid_np, q.perm, lam)
    np.testing.assert_array_equal(backend.numpy(ok), want_ok)
    np.testing.assert_array_equal(backend.numpy(got).astype(np.float64), want)
    np.testing.assert_allclose(backend.numpy(weights), want_w, rtol=0, atol=1e-6)


@settings(max_examples=20)
@given(data=st.data(), batch=st.integers(1, 9), n=st.integers(1, 6), seed=SEEDS,
       lam_mode=st.sampled_from(["batch", "sample"]), whole=st.booleans())
def test_paste_points_equals_reference(backend, data, batch, n, seed, lam_mode, whole):
    dtype = data.draw(st.sampled_from([d for d in DTYPES if usable(backend, d)]), label="dtype")
    gen = np.random.default_rng(seed)
    h, w = 17, 23
    pts = gen.random((batch, n, 2)) * [w, h]
    points_np = np.floor(pts) if whole or dtype.startswith("int") else pts
    points_np = points_np.astype(dtype if dtype != "float16" else "float64")
    valid_np = gen.random((batch, n)) < 0.8
    points, valid = backend.asarray(points_np, dtype), backend.asarray(valid_np)
    p = arraymix.sample_cutmix(seed, batch, (h, w), lam_mode=lam_mode, xp=backend.xp,
                               device=backend.device)
    got, ok = backend.call(arraymix.paste_points, points, valid, p)
    assert tuple(got.shape) == (batch, 2 * n, 2)
    assert got.dtype == points.dtype
    if not backend.has_values:
        return
    q = arraymix.sample_cutmix(seed, batch, (h, w), lam_mode=lam_mode)
    as_held = backend.numpy(points).astype(np.float64)  # float16 rounding included
    want, want_ok = ref_paste_points(as_held, valid_np, q.perm, q.lower, q.upper)
    np.testing.assert_array_equal(backend.numpy(ok), want_ok)
    np.testing.assert_array_equal(backend.numpy(got).astype(np.float64), want)


def test_boxes_follow_the_pasted_pixels():
    """A kept partner box covers pixels that now hold the partner's values; a
    dropped own box has under min_visible of its pixels left."""
    gen = np.random.default_rng(5)
    batch, h, w = 16, 24, 32
    boxes, valid = random_boxes(gen, batch, 4, h, w)
    boxes = boxes.astype(np.float32)
    p = arraymix.sample_cutmix(3, batch, (h, w), lam_mode="sample")
    ids = np.broadcast_to(np.arange(batch)[:, None, None], (batch, h, w))
    source = arraymix.paste(np.ascontiguousarray(ids), p, axes=(1, 2))  # whose pixel
    out, ok = arraymix.paste_boxes(boxes, valid, p, min_visible=0.5)
    for i in range(batch):
        for k in range(8):
            if not ok[i, k]:
                continue
            x1, y1, x2, y2 = out[i, k].astype(int)
            region = source[i, y1:y2, x1:x2]
            if k >= 4:   # the partner's, clipped: wholly its pixels
                assert (region == p.perm[i]).all()
            else:        # its own: at least half still its own
                assert (region == i).mean() >= 0.5


def test_default_min_visible_drops_slivers():
    boxes = np.asarray([[[0, 0, 20, 10]], [[0, 0, 20, 10]]], dtype=np.float32)  # area 200
    valid = np.ones((2, 1), dtype=bool)

    def kept(upper_x):  # the pasted rectangle: y in [0, 10], x in [0, upper_x]
        p = arraymix.CutMixParams(lam=np.asarray(0.0), perm=np.asarray([1, 0]),
                                  lower=np.asarray([0, 0]), upper=np.asarray([10, upper_x]))
        return arraymix.paste_boxes(boxes, valid, p)[1][:, 0]

    assert kept(17).all()            # 15% of each own box left: kept
    assert not kept(19).any()        # 5% left: dropped
    assert not kept(20).any()        # covered


def test_boxes_compile_and_vmap():
    torch = pytest.importorskip("torch", reason="torch is not installed")
    torch._dynamo.reset()

    def step(boxes, valid, points, cut, mix):
        return (*arraymix.paste_boxes(boxes, valid, cut), *arraymix.blend_boxes(boxes, valid, mix),
                *arraymix.paste_points(points, valid, cut))

    compiled = torch.compile(step, fullgraph=True, backend="aot_eager")
    gen = np.random.default_rng(0)
    boxes, valid = random_boxes(gen, 6, 3, 16, 16)
    args = (torch.asarray(boxes, dtype=torch.float32), torch.asarray(valid),
            torch.asarray(gen.random((6, 3, 2)) * 16),
            arraymix.sample_cutmix(1, 6, (16, 16), lam_mode="sample", xp=torch, device="cpu"),
            arraymix.sample_mixup(1, 6, xp=torch, device="cpu"))
    for got, want in zip(compiled(*args), step(*args), strict=True):
        torch.testing.assert_close(got, want)


def test_boxes_under_jax_vmap_over_keys():
    jax = pytest.importorskip("jax", reason="jax is not installed")
    import jax.numpy as jnp

    gen = np.random.default_rng(1)
    boxes_np, valid_np = random_boxes(gen, 5, 3, 12, 12)
    boxes, valid = jnp.asarray(boxes_np, dtype=jnp.float32), jnp.asarray(valid_np)

    def one(key):
        return arraymix.paste_boxes(boxes, valid, arraymix.sample_cutmix(key, 5, (12, 12)))

    keys = jax.random.split(jax.random.key(0), 4)
    got, ok = jax.jit(jax.vmap(one))(keys)
    assert got.shape == (4, 5, 6, 4)
    for j in range(4):
        p = arraymix.sample_cutmix(keys[j], 5, (12, 12))
        want, want_ok = ref_paste_boxes(boxes_np, valid_np, np.asarray(p.perm),
                                        np.asarray(p.lower), np.asarray(p.upper), 0.1)
        np.testing.assert_array_equal(np.asarray(ok[j]), want_ok)
        np.testing.assert_array_equal(np.asarray(got[j]), want)


GOOD_BOXES = np.asarray([[[0, 0, 4, 4]], [[2, 2, 6, 6]]], dtype=np.float32)
GOOD_VALID = np.ones((2, 1), dtype=bool)
CUT = arraymix.CutMixParams(lam=np.asarray(0.5), perm=np.asarray([1, 0]),
                            lower=np.asarray([1, 1]), upper=np.asarray([5, 5]))


@pytest.mark.parametrize(("call", "error", "match"), [
    (lambda: arraymix.paste_boxes(GOOD_BOXES[..., :3], GOOD_VALID, CUT), ValueError,
     r"boxes must be an array of \(B, N, 4\)"),
    (lambda: arraymix.paste_boxes(GOOD_BOXES.tolist(), GOOD_VALID, CUT), TypeError,
     "boxes must be an array"),
    (lambda: arraymix.paste_boxes(GOOD_BOXES, GOOD_VALID.astype(int), CUT), ValueError,
     "valid must be a bool array"),
    (lambda: arraymix.paste_boxes(GOOD_BOXES, GOOD_VALID[:, :0], CUT), ValueError,
     r"valid must be a bool array of shape \(2, 1\)"),
    (lambda: arraymix.paste_boxes(GOOD_BOXES, GOOD_VALID, CUT, min_visible=1.5), ValueError,
     r"min_visible must be in \[0, 1\]"),
    (lambda: arraymix.paste_boxes(GOOD_BOXES, GOOD_VALID, arraymix.sample_cutmix(
        0, 2, (4, 4, 4))), ValueError, "two cut axes"),
    (lambda: arraymix.paste_boxes(GOOD_BOXES, GOOD_VALID, arraymix.sample_mixup(0, 2)),
     TypeError, "params must be CutMixParams"),
    (lambda: arraymix.paste_boxes(np.where(GOOD_BOXES == 4, np.nan, GOOD_BOXES),
                                  GOOD_VALID, CUT), ValueError, "finite"),
    (lambda: arraymix.paste_boxes(GOOD_BOXES[..., [2, 1, 0, 3]], GOOD_VALID, CUT), ValueError,
     "inverted box"),
    (lambda: arraymix.blend_boxes(GOOD_BOXES, GOOD_VALID, CUT._replace(perm=np.asarray([0, 0]))),
     ValueError, "params.perm"),
    (lambda: arraymix.paste_points(GOOD_BOXES, GOOD_VALID, CUT), ValueError,
     r"points must be an array of \(B, N, 2\)"),
])
def test_bad_input_is_named(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_nan_in_an_invalid_slot_is_fine():
    boxes = GOOD_BOXES.copy()
    boxes[1, 0] = np.nan
    out, ok = arraymix.paste_boxes(boxes, np.asarray([[True], [False]]), CUT)
    assert np.isfinite(out).all()
    assert not ok[1, 0]  # its own slot; its partner's box is pasted in


def test_boxes_from_another_library_are_refused():
    torch = pytest.importorskip("torch", reason="torch is not installed")
    with pytest.raises(TypeError, match="valid must come from"):
        arraymix.paste_boxes(torch.asarray(GOOD_BOXES), GOOD_VALID, CUT)
