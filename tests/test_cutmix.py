"""CutMix properties on every backend, against a slicing NumPy reference."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

import arraymix
from reference import (
    FLOATS,
    INTS,
    check_like,
    lam_as_used,
    random_batch,
    ref_blend,
    ref_one_hot,
    ref_paste,
    tolerance,
)

# (shape of one batch, cut axes): NCHW, NHWC, audio, volumes, a mask without channels
LAYOUTS = [
    ((3, 7, 9), (-2, -1)),
    ((7, 9, 3), (1, 2)),
    ((2, 40), (-1,)),
    ((1, 5, 6, 4), (-3, -2, -1)),
    ((8, 8), (1, 2)),
]
SEEDS = st.integers(0, 2**32 - 1)


@settings(max_examples=25)
@given(data=st.data(), layout=st.sampled_from(LAYOUTS), batch=st.integers(1, 17), seed=SEEDS,
       alpha=st.floats(0.1, 4.0), lam_mode=st.sampled_from(["batch", "sample", "pair"]),
       pairing=st.sampled_from(["permute", "derange", "flip", "roll"]),
       correct_lam=st.booleans(), smoothing=st.sampled_from([0.0, 0.1]),
       minmax=st.none() | st.sampled_from([(0.2, 0.8), (0.0, 1.0), (0.5, 0.5)]))
def test_cutmix_equals_reference(backend, data, layout, batch, seed, alpha, lam_mode, pairing,
                                 correct_lam, smoothing, minmax):
    if pairing == "derange" and batch == 1:
        pairing = "permute"
    if lam_mode == "pair":  # a box per pair of partners: flip pairs them
        pairing = "flip"
    correct_lam = correct_lam or minmax is not None
    names = [n for n in (*FLOATS, *INTS, "int64") if n in backend.dtypes]
    dtype = data.draw(st.sampled_from(names), label="dtype")
    sample_shape, axes = layout
    shape = (batch, *sample_shape)
    gen = np.random.default_rng(seed)
    xnp = random_batch(gen, shape, dtype) if dtype != "int64" else gen.integers(0, 20, shape)
    x = backend.asarray(xnp, dtype)
    y = backend.asarray(gen.integers(0, 6, size=batch))
    kw = {"alpha": alpha, "lam_mode": lam_mode, "pairing": pairing, "correct_lam": correct_lam,
          "minmax": minmax}
    xm, ym = backend.call(arraymix.cutmix, x, y, axes=axes, num_classes=6,
                          label_smoothing=smoothing, rng=seed, **kw)
    check_like(backend, xm, shape, x.dtype)
    if not backend.has_values:
        return  # torch meta: ran without reading a value; metadata checked
    sizes = [shape[a] for a in axes]
    p = arraymix.sample_cutmix(seed, batch, sizes, **kw)  # same seed, drawn in NumPy
    xv = backend.numpy(x)
    np.testing.assert_array_equal(backend.numpy(xm), ref_paste(xv, p.perm, p.lower, p.upper,
                                                               axes))
    # boxes inside the axes, and lam the exact kept fraction
    assert np.all((p.lower >= 0) & (p.lower <= p.upper) & (p.upper <= np.asarray(sizes)))
    if correct_lam:
        kept = 1 - np.prod(p.upper - p.lower, axis=-1) / np.prod(sizes)
        np.testing.assert_allclose(p.lam, kept, rtol=0, atol=1e-12)
    yv = backend.numpy(ym)
    lam = lam_as_used(backend, p.lam, "float64" if dtype == "float64" else "float32")
    expected = ref_blend(ref_one_hot(backend.numpy(y), 6, smoothing), lam, p.perm)
    np.testing.assert_allclose(yv, expected, atol=tolerance("float32", 1.0), rtol=0)
    np.testing.assert_allclose(yv.sum(-1), 1.0, atol=1e-5)


@settings(max_examples=15)
@given(batch=st.integers(1, 12), seed=SEEDS, lam_mode=st.sampled_from(["batch", "sample"]))
def test_image_and_mask_stay_aligned(backend, batch, seed, lam_mode):
    """One params, an NHWC image batch and its (B, H, W) masks: same boxes."""
    gen = np.random.default_rng(seed)
    mask = gen.integers(0, 5, size=(batch, 6, 10)).astype(np.int32)
    image = np.repeat(mask[..., None], 3, axis=-1).astype(np.uint8)  # image encodes the mask
    p = arraymix.sample_cutmix(seed, batch, (6, 10), lam_mode=lam_mode, xp=backend.xp,
                               device=backend.device)
    im = backend.call(lambda a, q: arraymix.paste(a, q, axes=(1, 2)), backend.asarray(image), p)
    ms = backend.call(lambda a, q: arraymix.paste(a, q, axes=(-2, -1)), backend.asarray(mask),
                      p)
    check_like(backend, im, image.shape, backend.dtypes["uint8"])
    check_like(backend, ms, mask.shape, backend.dtypes["int32"])
    # a boolean mask is pasted as it is (selection, no arithmetic), also in place
    fg = backend.asarray(mask > 2)
    bools = [backend.call(lambda a, q: arraymix.paste(a, q, axes=(1, 2)), fg, p)]
    if arraymix._compat.is_writeable_array(fg):
        bools.append(arraymix.paste(fg, p, axes=(1, 2), out=fg))
    for b in bools:
        check_like(backend, b, mask.shape, backend.xp.bool)
    if backend.has_values:
        np.testing.assert_array_equal(backend.numpy(im)[..., 1], backend.numpy(ms))
        for b in bools:
            np.testing.assert_array_equal(backend.numpy(b), backend.numpy(ms) > 2)


def test_sample_mode_boxes_differ():
    p = arraymix.sample_cutmix(3, 32, (64, 64), lam_mode="sample")
    assert p.lower.shape == (32, 2)
    assert len({tuple(b) for b in np.concatenate([p.lower, p.upper], 1).tolist()}) > 20
    assert np.unique(p.lam).size > 20


@pytest.mark.parametrize("k", [1, 2, 3])
def test_box_statistics(k):
    """λ₀ ~ Beta(α, α); an unclipped box covers floor(size·(1−λ₀)^(1/k)) per axis."""
    sizes = (64,) * k if k > 1 else (4096,)
    alpha = 0.7
    p = arraymix.sample_cutmix(np.random.default_rng(99), 4000, sizes, alpha=alpha,
                               lam_mode="sample", correct_lam=False)
    assert stats.kstest(p.lam, "beta", args=(alpha, alpha)).pvalue > 1e-3
    side = np.floor(np.asarray(sizes) * (1 - p.lam[:, None]) ** (1 / k))
    inside = np.all((p.lower > 0) & (p.upper < np.asarray(sizes)), axis=1)
    assert inside.sum() > 200
    np.testing.assert_array_equal((p.upper - p.lower)[inside], side[inside])
    # clipping only ever shrinks the box
    assert np.all(p.upper - p.lower <= side)
    # centres are uniform: the box midpoints of small boxes spread over the axis
    small = np.all(side < 4, axis=1)
    mid = ((p.lower + p.upper) / 2)[small, 0] / sizes[0]
    assert stats.kstest(mid, "uniform").pvalue > 1e-4


def test_batch_of_one_and_empty(backend):
    x = backend.asarray(np.arange(2 * 3 * 5 * 5, dtype=np.float32).reshape(2, 3, 5, 5))
    one = backend.call(lambda a: arraymix.cutmix(a, rng=1)[0], x[:1, ...])
    empty = backend.call(lambda a: arraymix.cutmix(a, rng=1, groups=2)[0], x[:0, ...])
    check_like(backend, one, (1, 3, 5, 5), x.dtype)
    check_like(backend, empty, (0, 3, 5, 5), x.dtype)
    if backend.has_values:
        np.testing.assert_array_equal(backend.numpy(one), backend.numpy(x[:1, ...]))


@pytest.mark.parametrize(
    ("axes", "error", "match"),
    [
        ((0, 1), ValueError, "batch axis"),
        ((1, 1), ValueError, "repeat"),
        ((4,), ValueError, "out of range"),
        ((-5,), ValueError, "out of range"),
        ((), ValueError, "one to three"),
        ((1, 2, 3, -1), ValueError, "one to three"),
        ("hw", TypeError, "axes"),
        ((1.0,), TypeError, "axes"),
    ],
)
def test_bad_axes(axes, error, match):
    with pytest.raises(error, match=match):
        arraymix.cutmix(np.zeros((2, 3, 4, 4)), axes=axes)


@settings(max_examples=10)
@given(batch=st.integers(1, 6), side=st.tuples(st.integers(5, 40), st.integers(5, 40)),
       channels=st.integers(1, 4))
def test_default_axes_refuse_channels_last_batches(backend, batch, side, channels):
    """The default (-2, -1) would cut an NHWC batch over its width and
    channels (torchvision's CutMix does so silently): a ValueError naming the
    way out; explicit axes, and NCHW batches of the same sizes, are cut."""
    import pickle

    h, w = side
    nhwc = backend.asarray(np.zeros((batch, h, w, channels), np.float32))
    nchw = backend.asarray(np.zeros((batch, channels, h, w), np.float32))
    p = arraymix.sample_cutmix(0, batch, (w, channels), xp=backend.xp, device=backend.device)
    mixer = arraymix.Mixer(seed=0, switch_prob=1.0)
    refusals = {
        "axes": [lambda: backend.call(lambda a: arraymix.cutmix(a, rng=0)[0], nhwc),
                 lambda: backend.call(arraymix.paste, nhwc, p)],
        "cutmix_axes": [lambda: mixer(nhwc), lambda: pickle.loads(pickle.dumps(mixer))(nhwc)],
    }
    for name, calls in refusals.items():
        for call in calls:
            with pytest.raises(ValueError, match=rf"looks channels-last \(NHWC\): the default "
                                                 rf"{name}=\(-2, -1\) .* {name}=\(1, 2\)"):
                call()
    explicit = backend.call(lambda a: arraymix.cutmix(a, rng=0, axes=(-2, -1))[0], nhwc)
    check_like(backend, explicit, (batch, h, w, channels), nhwc.dtype)
    assert backend.call(arraymix.paste, nhwc, p, axes=(-2, -1)).shape == nhwc.shape
    assert arraymix.Mixer(seed=0, cutmix_axes=(1, 2))(nhwc)[0].shape == nhwc.shape
    assert arraymix.Mixer(seed=0, cutmix_alpha=0.0)(nhwc)[0].shape == nhwc.shape  # no cut
    assert backend.call(lambda a: arraymix.cutmix(a, rng=0)[0], nchw).shape == nchw.shape
    assert mixer(nchw)[0].shape == nchw.shape


def test_dense_targets_are_sent_to_paste():
    """Targets laid out over the cut axes would get one weight everywhere:
    refused before anything is drawn, on any layout; per-sample targets and
    MixUp's dense targets are fine."""
    gen = np.random.default_rng(0)
    nchw, nhwc = np.zeros((4, 3, 8, 6), np.float32), np.zeros((4, 8, 6, 3), np.float32)
    masks = gen.integers(0, 3, size=(4, 8, 6))
    probs = gen.random((4, 8, 6, 3)).astype(np.float32)
    cases = [(nchw, (-2, -1), masks, {"num_classes": 3}), (nhwc, (1, 2), masks,
             {"num_classes": 3}), (nchw, (2, 3), probs, {}),
             (np.zeros((4, 50), np.float32), (-1,), gen.integers(0, 3, size=(4, 50)),
              {"num_classes": 3})]
    for x, axes, y, kw in cases:
        rng = np.random.default_rng(1)
        with pytest.raises(ValueError, match=r"y of shape .* is laid out over the cut axes "
                                             r".*paste\(masks, p, axes=\.\.\.\)"):
            arraymix.cutmix(x, y, axes=axes, rng=rng, **kw)
        assert rng.random() == np.random.default_rng(1).random()  # nothing drawn
        with pytest.raises(ValueError, match=r"cutmix_axes=.* lengths"):
            arraymix.Mixer(seed=0, cutmix_axes=axes, label_smoothing=0.0, **kw)(x, y)
        mixed = arraymix.mixup(x, y, rng=0, **kw)[1]  # MixUp blends dense targets whole
        assert mixed.shape[:y.ndim] == y.shape
        arraymix.Mixer(seed=0, cutmix_alpha=0.0, **kw)(x, y)
    for y, kw in ((np.arange(4), {"num_classes": 4}), (np.eye(4, dtype=np.float32), {}),
                  (gen.integers(0, 3, size=(4, 2)), {"num_classes": 3})):
        assert arraymix.cutmix(nchw, y, rng=0, **kw)[1].shape[0] == 4


def test_bad_sizes_and_params():
    with pytest.raises(ValueError, match="sizes must name one to three"):
        arraymix.sample_cutmix(0, 2, (2, 2, 2, 2))
    with pytest.raises(ValueError, match="sizes\\[1\\]"):
        arraymix.sample_cutmix(0, 2, (2, 0))
    with pytest.raises(TypeError, match="sizes must be a sequence"):
        arraymix.sample_cutmix(0, 2, 5)
    with pytest.raises(TypeError, match="correct_lam"):
        arraymix.sample_cutmix(0, 2, (4,), correct_lam=1)
    p = arraymix.sample_cutmix(0, 2, (4, 4))
    with pytest.raises(ValueError, match=r"params.lower must be an integer array of shape \(1,\)"):
        arraymix.paste(np.zeros((2, 4, 4)), p, axes=(-1,))
    with pytest.raises(TypeError, match="params must be CutMixParams"):
        arraymix.paste(np.zeros((2, 4, 4)), arraymix.sample_mixup(0, 2))


def test_matches_timm_formulas():
    """timm's Mixup with pairing 'flip', written from its formulas: batch
    MixUp, per-element MixUp, batch CutMix, and its smoothed targets."""
    gen = np.random.default_rng(0)
    x = gen.normal(size=(5, 3, 8, 8))
    target = np.asarray([0, 3, 1, 1, 2])
    classes, smoothing = 4, 0.1
    off = smoothing / classes
    on = 1 - smoothing + off

    def timm_target(lam: np.ndarray) -> np.ndarray:
        y1 = np.full((5, classes), off)
        y1[np.arange(5), target] = on
        y2 = y1[::-1]
        lam = lam.reshape(-1, 1) if np.ndim(lam) else lam
        return y1 * lam + y2 * (1 - lam)

    # batch mixup: x * lam + x.flip(0) * (1 - lam)
    p = arraymix.sample_mixup(1, 5, alpha=0.8, pairing="flip")
    xm, ym = arraymix.mixup(x, target, alpha=0.8, pairing="flip", num_classes=classes,
                            label_smoothing=smoothing, rng=1)
    np.testing.assert_allclose(xm, x * p.lam + x[::-1] * (1 - p.lam), rtol=1e-12)
    np.testing.assert_allclose(ym, timm_target(p.lam), rtol=1e-12)

    # elem mode: x[i] = x[i] * lam[i] + x[B-1-i] * (1 - lam[i])
    p = arraymix.sample_mixup(2, 5, alpha=0.8, pairing="flip", lam_mode="sample")
    xm, ym = arraymix.mixup(x, target, alpha=0.8, pairing="flip", lam_mode="sample",
                            num_classes=classes, label_smoothing=smoothing, rng=2)
    expected = np.stack([x[i] * p.lam[i] + x[4 - i] * (1 - p.lam[i]) for i in range(5)])
    np.testing.assert_allclose(xm, expected, rtol=1e-12)
    np.testing.assert_allclose(ym, timm_target(p.lam), rtol=1e-12)

    # batch cutmix: x[:, :, yl:yh, xl:xh] = x.flip(0)[:, :, yl:yh, xl:xh]
    p = arraymix.sample_cutmix(3, 5, (8, 8), pairing="flip")
    xm, ym = arraymix.cutmix(x, target, pairing="flip", num_classes=classes,
                             label_smoothing=smoothing, rng=3)
    (yl, xl), (yh, xh) = p.lower.tolist(), p.upper.tolist()
    expected = x.copy()
    expected[:, :, yl:yh, xl:xh] = x[::-1][:, :, yl:yh, xl:xh]
    np.testing.assert_array_equal(xm, expected)
    lam = 1 - (yh - yl) * (xh - xl) / 64  # timm's correct_lam
    np.testing.assert_allclose(ym, timm_target(np.asarray(lam)), rtol=1e-12)


@settings(max_examples=20)
@given(batch=st.integers(1, 12), seed=SEEDS,
       index=st.sampled_from(["uint8", "int8", "int16", "int32"]), per_sample=st.booleans(),
       in_place=st.booleans())
def test_any_integer_dtype_indexes_partners_and_boxes(backend, batch, seed, index, per_sample,
                                                      in_place):
    """Hand-made params may hold partners and boxes in any integer dtype
    (torch indexes with int32 and int64 only): the same mix as with int64
    ones, and the reference's."""
    from arraymix._compat import is_writeable_array

    gen = np.random.default_rng(seed)
    shape = (batch, 3, 6, 7)
    x_np = gen.normal(size=shape).astype(np.float32)
    perm = gen.permutation(batch)
    lam = gen.uniform(size=batch if per_sample else ())
    box = (batch, 2) if per_sample else (2,)
    lower = gen.integers(0, 3, size=box)
    upper = lower + gen.integers(0, 4, size=box)

    def run(dtype: str) -> list[object]:
        ints = {k: backend.asarray(v.astype(dtype))
                for k, v in (("perm", perm), ("lower", lower), ("upper", upper))}
        lam_b = backend.asarray(lam, "float32")
        mix = arraymix.MixParams(lam=lam_b, perm=ints["perm"])
        cut = arraymix.CutMixParams(lam=lam_b, **ints)
        results = []
        for fn, p, kw in ((arraymix.blend, mix, {}), (arraymix.paste, cut, {"axes": (2, 3)})):
            def call(a, q, fn=fn, kw=kw):
                return fn(a, q, out=a if in_place and is_writeable_array(a) else None, **kw)
            results.append(backend.call(call, backend.asarray(x_np), p))
        return results

    narrow, wide = run(index), run("int64")
    for a, b in zip(narrow, wide, strict=True):
        check_like(backend, a, shape, backend.dtypes["float32"])
        if backend.has_values:
            np.testing.assert_array_equal(backend.numpy(a), backend.numpy(b))
    if backend.has_values:
        np.testing.assert_array_equal(backend.numpy(wide[1]),
                                      ref_paste(x_np, perm, lower, upper, (2, 3)))
        lam_r = lam.astype(np.float32).astype(np.float64)
        np.testing.assert_allclose(backend.numpy(wide[0]), ref_blend(x_np, lam_r, perm),
                                   rtol=0, atol=tolerance("float32", 5.0))


@pytest.mark.parametrize("index", ["uint8", "int8"])
@pytest.mark.parametrize("per_sample", [False, True])
def test_narrow_box_bounds_on_axes_longer_than_their_dtype(backend, index, per_sample):
    """uint8 bounds on an axis of 300: positions past 255 are outside the box
    (compared in the bounds' own dtype they wrapped to 0-43 and were pasted)."""
    length, batch = 300, 3
    x_np = np.arange(batch * 2 * length, dtype=np.float32).reshape(batch, 2, length)
    perm = np.asarray([2, 0, 1])
    lower = np.asarray([[3], [0], [20]] if per_sample else [5])
    upper = np.asarray([[40], [10], [90]] if per_sample else [12])
    p = arraymix.CutMixParams(lam=backend.asarray(np.float32(0.5)),
                              perm=backend.asarray(perm.astype(index)),
                              lower=backend.asarray(lower.astype(index)),
                              upper=backend.asarray(upper.astype(index)))
    got = backend.call(arraymix.paste, backend.asarray(x_np), p, axes=(-1,))
    check_like(backend, got, x_np.shape, backend.dtypes["float32"])
    if backend.has_values:
        np.testing.assert_array_equal(backend.numpy(got),
                                      ref_paste(x_np, perm, lower, upper, (-1,)))
