"""Patch grids, FMix, Mosaic and ResizeMix on every backend, against NumPy
float64 references written here by slicing and loops."""

from __future__ import annotations

import warnings

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
    random_batch,
    ref_mask,
    ref_mosaic,
    ref_resize,
)

SEEDS = st.integers(0, 2**32 - 1)
METHODS = ("patchmix", "fmix", "mosaic", "resizemix")
# (one sample's shape, cut axes): NCHW, NHWC, a mask without channels
LAYOUTS = [((3, 8, 12), (-2, -1)), ((8, 12, 3), (1, 2)), ((8, 12), (1, 2))]


def draw(method: str, seed: int, batch: int, sizes: tuple[int, ...], **kw):
    """The params of ``method``, drawn in NumPy from an int seed."""
    if method == "patchmix":
        kw.setdefault("patch", 4)
    return getattr(arraymix, f"sample_{method}")(seed, batch, sizes, **kw)


def on(backend, p):
    """Params moved to a backend (their static ``sizes`` kept)."""
    return type(p)(*(backend.asarray(v) if isinstance(v, np.ndarray) else v for v in p))


def reference(method, x, p, axes, nearest=False):
    if method in ("patchmix", "fmix"):
        return ref_mask(x, p.perm, p.mask, axes)
    if method == "mosaic":
        return ref_mosaic(x, p.sources, p.centre, axes)
    return ref_resize(x, p.perm, p.lower, p.upper, axes, nearest)


def _dtype(backend, data, method):
    names = [n for n in (*FLOATS, *INTS) if n in backend.dtypes]
    if method != "resizemix":
        names.append("bool")
    return data.draw(st.sampled_from(names), label="dtype")


@settings(max_examples=20)
@given(data=st.data(), method=st.sampled_from(METHODS), layout=st.sampled_from(LAYOUTS),
       batch=st.integers(1, 9), seed=SEEDS, lam_mode=st.sampled_from(["batch", "sample"]))
def test_paste_equals_reference(backend, data, method, layout, batch, seed, lam_mode):
    dtype = _dtype(backend, data, method)
    sample_shape, axes = layout
    shape = (batch, *sample_shape)
    sizes = tuple(shape[a] for a in axes)
    gen = np.random.default_rng(seed)
    xnp = gen.random(shape) > 0.5 if dtype == "bool" else random_batch(gen, shape, dtype)
    x = backend.asarray(xnp, dtype if dtype != "bool" else None)
    p = draw(method, seed, batch, sizes, lam_mode=lam_mode)
    interpolation = data.draw(st.sampled_from([None, "nearest"]), label="interpolation") \
        if method == "resizemix" else None
    kw = {"interpolation": interpolation} if interpolation else {}
    got = backend.call(arraymix.paste, x, on(backend, p), axes=axes, **kw)
    check_like(backend, got, shape, x.dtype)
    if not backend.has_values:
        return
    xv = backend.numpy(x)
    nearest = interpolation == "nearest" or dtype not in FLOATS
    expected = reference(method, xv, p, axes, nearest)
    if method == "resizemix" and not nearest:
        scale = float(np.abs(xv.astype(np.float64)).max(initial=1.0))
        eps = {"float16": 2.0**-10, "bfloat16": 2.0**-7}.get(dtype, 2.0**-22)
        np.testing.assert_allclose(backend.numpy(got), expected, rtol=0, atol=4 * eps * scale)
    elif method == "resizemix" and dtype in INTS:
        np.testing.assert_array_equal(backend.numpy(got), expected.astype(dtype))
    else:
        np.testing.assert_array_equal(backend.numpy(got), expected.astype(xv.dtype))


@settings(max_examples=6, deadline=None)
@given(seed=SEEDS, lam_mode=st.sampled_from(["batch", "sample"]),
       sizes=st.tuples(st.integers(96, 320), st.integers(96, 320)),
       scale=st.sampled_from([(0.1, 0.8), (0.5, 1.0)]))
def test_resizemix_at_image_sizes_is_within_roundings_of_the_exact_resize(
        backend, seed, lam_mode, sizes, scale):
    """Float32 images a few hundred elements wide, bilinear, against the
    float64 reference: within a few roundings of the data's scale. A source
    coordinate rounded in float32 is off by up to an ulp of a number near
    the side, which moves a weight, and the value, by far more."""
    gen = np.random.default_rng(seed)
    xv = (gen.random((2, 1, *sizes)) * 2 - 1).astype(np.float32)
    p = arraymix.sample_resizemix(seed, 2, sizes, scale=scale, lam_mode=lam_mode)
    got = backend.call(arraymix.paste, backend.asarray(xv), on(backend, p))
    check_like(backend, got, xv.shape, backend.dtypes["float32"])
    if not backend.has_values:
        return
    expected = ref_resize(xv, p.perm, p.lower, p.upper, (-2, -1), nearest=False)
    ulp = float(np.spacing(np.float32(np.abs(xv).max())))
    np.testing.assert_allclose(backend.numpy(got), expected, rtol=0, atol=8 * ulp)


@settings(max_examples=12)
@given(method=st.sampled_from(METHODS), batch=st.integers(2, 9), seed=SEEDS,
       lam_mode=st.sampled_from(["batch", "sample"]),
       pairing=st.sampled_from(["permute", "derange", "roll"]),
       smoothing=st.sampled_from([0.0, 0.1]))
def test_label_weights_are_the_fractions_in_the_output(backend, method, batch, seed, lam_mode,
                                                      pairing, smoothing):
    """Each sample holds its index everywhere: the output says which source
    every element came from, and the label weights must be those counts."""
    shape = (batch, 2, 8, 16)
    ids = np.broadcast_to(np.arange(batch, dtype=np.float32)[:, None, None, None], shape)
    x = backend.asarray(np.ascontiguousarray(ids))
    y = backend.asarray(np.arange(batch))
    kw = {"patch": 4} if method == "patchmix" else {}
    xm, ym = backend.call(getattr(arraymix, method), x, y, num_classes=batch, rng=seed,
                          lam_mode=lam_mode, pairing=pairing, label_smoothing=smoothing, **kw)
    check_like(backend, xm, shape, x.dtype)
    if not backend.has_values:
        return
    out = backend.numpy(xm).astype(np.float64)
    np.testing.assert_array_equal(out, np.round(out))  # every element one source's
    counts = np.stack([(out == j).reshape(batch, -1).mean(axis=1) for j in range(batch)], 1)
    expected = (1 - smoothing) * counts + smoothing / batch
    np.testing.assert_allclose(backend.numpy(ym), expected, rtol=0, atol=1e-6)


@pytest.mark.parametrize("method", METHODS)
def test_one_call_equals_sample_then_paste(method):
    gen = np.random.default_rng(5)
    x = gen.random((6, 3, 16, 16)).astype(np.float32)
    kw = {"patch": 4} if method == "patchmix" else {}
    xm, ym = getattr(arraymix, method)(x, np.arange(6) % 3, num_classes=3, rng=11,
                                       lam_mode="sample", **kw)
    p = draw(method, 11, 6, (16, 16), lam_mode="sample")
    np.testing.assert_array_equal(xm, arraymix.paste(x, p))
    np.testing.assert_allclose(ym, arraymix.blend(arraymix.one_hot(np.arange(6) % 3, 3), p),
                               rtol=0, atol=1e-7)


def test_resizemix_equals_torch_interpolate():
    """The partner in the box is torch's resize of the whole partner
    (bilinear without antialiasing, and nearest-exact)."""
    torch = pytest.importorskip("torch", reason="torch is not installed")
    functional = torch.nn.functional
    gen = np.random.default_rng(0)
    x = torch.asarray(gen.random((7, 3, 24, 20)))
    p = arraymix.sample_resizemix(3, 7, (24, 20), lam_mode="sample", xp=torch, device="cpu")
    for interpolation, mode in (("bilinear", "bilinear"), ("nearest", "nearest-exact")):
        got = arraymix.paste(x, p, interpolation=interpolation)
        for b in range(7):
            (r0, c0), (r1, c1) = p.lower[b].tolist(), p.upper[b].tolist()
            if r1 == r0 or c1 == c0:
                continue
            kw = {"align_corners": False} if mode == "bilinear" else {}
            want = functional.interpolate(x[p.perm[b]][None], size=(r1 - r0, c1 - c0),
                                          mode=mode, **kw)[0]
            torch.testing.assert_close(got[b, :, r0:r1, c0:c1], want, rtol=0, atol=1e-12)
            outside = torch.ones(24, 20, dtype=torch.bool)
            outside[r0:r1, c0:c1] = False
            assert torch.equal(got[b][:, outside], x[b][:, outside])


def test_uint8_resize_rounds_the_float_resize():
    gen = np.random.default_rng(1)
    x = gen.integers(0, 256, (5, 3, 16, 16)).astype(np.uint8)
    p = arraymix.sample_resizemix(2, 5, (16, 16), lam_mode="sample")
    got = arraymix.paste(x, p, interpolation="bilinear")
    expected = ref_resize(x, p.perm, p.lower, p.upper, (-2, -1), nearest=False)
    assert np.abs(got.astype(np.float64) - expected).max() <= 0.5 + 1e-4


@pytest.mark.parametrize("method", ["patchmix", "fmix"])
def test_mask_maps_to_a_lower_resolution(method):
    """A patch grid or FMix mask drawn for the image applies to its labels at
    half the resolution: they stay aligned with the image's pixels."""
    gen = np.random.default_rng(2)
    labels = gen.integers(0, 5, (4, 16, 16))
    image = np.repeat(np.repeat(labels, 2, axis=1), 2, axis=2)[:, None]  # one label per 2×2
    kw = {"patch": 8} if method == "patchmix" else {}
    p = draw(method, 4, 4, (32, 32), lam_mode="sample", **kw)
    mixed = arraymix.paste(image, p)
    mixed_labels = arraymix.paste(labels, p, axes=(1, 2))
    if method == "patchmix":  # cells of 8 px are 4 label px: exact
        np.testing.assert_array_equal(mixed_labels, mixed[:, 0, ::2, ::2])
    else:  # nearest: each label takes one pixel of its 2×2 block
        np.testing.assert_array_equal(mixed_labels, mixed[:, 0, 1::2, 1::2])


def test_mosaic_moves_masks_with_their_images():
    gen = np.random.default_rng(3)
    image = gen.random((6, 3, 20, 24))
    depth = image.sum(axis=1)
    p = arraymix.sample_mosaic(1, 6, (20, 24), lam_mode="sample")
    np.testing.assert_allclose(arraymix.paste(image, p).sum(axis=1),
                               arraymix.paste(depth, p, axes=(1, 2)), rtol=1e-12)
    even = p._replace(centre=p.centre - p.centre % 2)  # lies on the half grid
    small = arraymix.paste(image[:, :, ::2, ::2], even.rescaled((10, 12)))
    np.testing.assert_array_equal(small, arraymix.paste(image, even)[:, :, ::2, ::2])


# statistics of the draws: fixed seeds, so the tests cannot flake


def test_mosaic_centres_are_uniform_in_the_range():
    p = arraymix.sample_mosaic(0, 4000, (1000, 800), center=(0.2, 0.7), lam_mode="sample")
    for j, n in enumerate((1000, 800)):
        u = (p.centre[:, j] + 0.5) / n
        assert stats.kstest(u, stats.uniform(0.2, 0.5).cdf).pvalue > 1e-3
    np.testing.assert_allclose(p.lam.sum(axis=1), 1.0, rtol=0, atol=1e-12)


def test_resizemix_scales_are_uniform():
    p = arraymix.sample_resizemix(0, 4000, (1000, 1000), scale=(0.1, 0.8), lam_mode="sample")
    tau = (p.upper - p.lower)[:, 0] / 1000 + 0.0005
    assert stats.kstest(tau, stats.uniform(0.1, 0.7).cdf).pvalue > 1e-3
    assert np.all((p.lower >= 0) & (p.upper <= 1000))
    # the box's start is uniform over where it fits
    room = 1000 - (p.upper - p.lower)[:, 1]
    assert stats.kstest((p.lower[:, 1] + 0.5) / (room + 1), "uniform").pvalue > 1e-3


@pytest.mark.parametrize(("alpha", "decay"), [(0.4, 3.0), (1.0, 3.0), (2.0, 3.0), (1.0, 30.0)])
def test_fmix_areas_follow_the_beta(alpha, decay):
    """Also at a decay whose scale, 32**30, is past float32's range: the
    noise is made in float32 and must not overflow."""
    p = arraymix.sample_fmix(0, 2000, (32, 32), alpha=alpha, decay=decay, lam_mode="sample")
    np.testing.assert_array_equal(p.lam, 1 - p.mask.reshape(2000, -1).mean(axis=1))
    jitter = np.random.default_rng(1).uniform(-0.5, 0.5, 2000) / 1024
    assert stats.kstest(np.clip(p.lam + jitter, 0, 1),
                        stats.beta(alpha, alpha).cdf).pvalue > 1e-3


def test_fmix_masks_are_low_frequency():
    """Neighbours differ as often as in a random mask of the same area at
    decay 0 (white noise), and less the larger the decay (fewer, smoother
    regions)."""
    ratios = []
    for decay in (0.0, 1.0, 2.0, 3.0):
        p = arraymix.sample_fmix(0, 50, (64, 64), decay=decay, lam_mode="sample")
        m = p.mask.astype(float)
        changes = np.abs(np.diff(m, axis=2)).mean(axis=(1, 2))
        chance = 2 * p.lam * (1 - p.lam)  # a random mask's rate of changes
        ratios.append(np.median(changes / np.maximum(chance, 1e-9)))
    assert abs(ratios[0] - 1) < 0.05
    assert ratios[1] < 0.7
    assert ratios[3] < 0.15
    assert ratios == sorted(ratios, reverse=True)


@pytest.mark.parametrize("shape", [(2, 3, 7, 5), (1001,), (2, 40, 33, 17)])
def test_fmix_noise_is_standard_normal(shape):
    """The noise a NumPy generator draws for FMix (pairs of normals from
    pairs of uniforms): each value N(0, 1), in float32 and the asked shape,
    and the values of a pair independent (uncorrelated, and their squares
    too, where a shared magnitude would show)."""
    from arraymix._random import host_source

    z = host_source(np.random.default_rng(5)).normal(shape)
    assert z.shape == shape
    assert z.dtype == np.float32
    flat = z.astype(np.float64).ravel()
    assert np.all(np.isfinite(flat))
    assert stats.kstest(flat, "norm").pvalue > 1e-3
    half = flat.size // 2
    if half > 1000:
        first, second = flat[:half], flat[flat.size - half:]
        bound = 5 / np.sqrt(half)
        assert abs(np.corrcoef(first, second)[0, 1]) < bound
        assert abs(np.corrcoef(first**2, second**2)[0, 1]) < bound
    # another generator state, other values
    assert not np.array_equal(host_source(np.random.default_rng(6)).normal(shape), z)


def test_patch_cells_are_uniform():
    p = arraymix.sample_patchmix(0, 4000, (8, 8), patch=4, alpha=1.0, lam_mode="sample")
    taken = p.mask.reshape(4000, 4)
    # given how many cells are taken, each cell is as likely as any other
    some = (taken.sum(axis=1) == 2)
    freq = taken[some].mean(axis=0)
    assert stats.chisquare(taken[some].sum(axis=0)).pvalue > 1e-3
    np.testing.assert_allclose(freq, 0.5, atol=0.05)


def test_mosaic_sources_pair_as_asked():
    p = arraymix.sample_mosaic(0, 12, (8, 8), pairing="roll", groups=3)
    np.testing.assert_array_equal(p.sources[:, 1], [3, 0, 1, 2, 7, 4, 5, 6, 11, 8, 9, 10])
    p = arraymix.sample_mosaic(0, 12, (8, 8), pairing="derange", groups=3)
    assert np.all(p.sources[:, 1:] != np.arange(12)[:, None])
    assert np.all(p.sources // 4 == (np.arange(12) // 4)[:, None])
    for q in (1, 2, 3):
        assert sorted(p.sources[:, q]) == list(range(12))


# compiled code


def test_jax_jit_and_vmap_over_keys():
    jax = pytest.importorskip("jax", reason="jax is not installed")
    import jax.numpy as jnp

    x = jnp.asarray(np.random.default_rng(0).random((4, 3, 16, 16)), dtype=jnp.float32)
    y = jnp.arange(4)
    for method in METHODS:
        fn = getattr(arraymix, method)
        kw = {"patch": 4} if method == "patchmix" else {}

        def step(key, fn=fn, kw=kw):
            return fn(x, y, num_classes=4, rng=key, lam_mode="sample", **kw)

        keys = jax.random.split(jax.random.key(0), 3)
        first = keys[0]
        with jax.transfer_guard("disallow"):
            xm, _ym = jax.jit(step)(first)
            xs, ys = jax.jit(jax.vmap(step))(keys)
        assert xm.shape == x.shape
        assert ys.shape == (3, 4, 4)
        np.testing.assert_allclose(np.asarray(ys.sum(-1)), 1.0, atol=1e-5)
        np.testing.assert_array_equal(np.asarray(xs[0]), np.asarray(xm))
        assert not np.array_equal(np.asarray(xs[0]), np.asarray(xs[1]))


@pytest.mark.filterwarnings("ignore:`torch.jit.script_method` is deprecated:DeprecationWarning")
def test_torch_compile_fullgraph():
    torch = pytest.importorskip("torch", reason="torch is not installed")
    torch._dynamo.reset()
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(5, 3, 16, 16, generator=gen)
    u8 = (x * 255).to(torch.uint8)
    params = [draw(m, 1, 5, (16, 16), lam_mode="sample") for m in METHODS]
    params = [type(p)(*(torch.asarray(v) if isinstance(v, np.ndarray) else v for v in p))
              for p in params]

    def step(x, u8, fm, pm, mo, rm):
        return (arraymix.paste(x, fm), arraymix.paste(u8, pm), arraymix.paste(x, mo),
                arraymix.paste(x, rm), arraymix.paste(u8, rm), arraymix.blend(x, mo))

    compiled = torch.compile(step, fullgraph=True, backend="aot_eager")
    got = compiled(x, u8, params[1], params[0], params[2], params[3])
    expected = step(x, u8, params[1], params[0], params[2], params[3])
    for a, b in zip(got, expected, strict=True):
        torch.testing.assert_close(a, b)


# errors, by name, before any work


def test_errors_name_the_argument():
    x = np.zeros((4, 3, 30, 32), dtype=np.float32)
    with pytest.raises(ValueError, match="patch=16 must divide"):
        arraymix.patchmix(x, rng=0)
    with pytest.raises(ValueError, match="patch must be an int or one length"):
        arraymix.sample_patchmix(0, 4, (32, 32), patch=(4, 4, 4))
    with pytest.raises(ValueError, match="pairing='flip'"):
        arraymix.mosaic(x, rng=0, pairing="flip")
    with pytest.raises(ValueError, match="lam_mode='pair'"):
        arraymix.sample_mosaic(0, 4, (8, 8), lam_mode="pair", pairing="flip")
    with pytest.raises(ValueError, match="two cut axes"):
        arraymix.mosaic(x, rng=0, axes=(-1,))
    with pytest.raises(ValueError, match="sizes must be"):
        arraymix.sample_mosaic(0, 4, (8,))
    with pytest.raises(ValueError, match="center"):
        arraymix.sample_mosaic(0, 4, (8, 8), center=(0.8, 0.2))
    with pytest.raises(ValueError, match="scale"):
        arraymix.resizemix(x, rng=0, scale=(0.1, 1.5))
    with pytest.raises(ValueError, match="decay"):
        arraymix.sample_fmix(0, 4, (8, 8), decay=-1.0)
    with pytest.raises(ValueError, match="interpolation applies to ResizeMixParams"):
        arraymix.paste(x, arraymix.sample_cutmix(0, 4, (30, 32)), interpolation="nearest")
    with pytest.raises(ValueError, match="interpolation"):
        arraymix.resizemix(x, rng=0, interpolation="bicubic")
    p = arraymix.sample_resizemix(0, 4, (30, 32))
    with pytest.raises(ValueError, match="bool"):
        arraymix.paste(x > 0, p, interpolation="bilinear")
    m = arraymix.sample_fmix(0, 4, (30, 32), lam_mode="sample")
    with pytest.raises(ValueError, match=r"params.mask must have shape \(B, \*grid\)"):
        arraymix.paste(x, m._replace(mask=m.mask[0]))
    with pytest.raises(ValueError, match=r"params\.mask must be a bool"):
        arraymix.paste(x, m._replace(mask=m.mask.astype(np.uint8)))
    mo = arraymix.sample_mosaic(0, 4, (30, 32), lam_mode="sample")
    with pytest.raises(ValueError, match=r"params.sources\[:, 0\]"):
        arraymix.paste(x, mo._replace(sources=mo.sources[::-1].copy()))
    with pytest.raises(ValueError, match=r"params\.sources"):
        arraymix.paste(x, mo._replace(sources=mo.sources + np.asarray([0, 9, 0, 0])))
    with pytest.raises(ValueError, match=r"params\.centre"):
        arraymix.paste(x, mo._replace(centre=mo.centre[0]))
    with pytest.raises(ValueError, match="laid out over the cut axes"):
        arraymix.fmix(x[:, 0], np.zeros((4, 30, 32), dtype=np.int64), num_classes=3, rng=0,
                      axes=(1, 2))


# boxes and points


def _random_boxes(gen, batch, n, size):
    corners = gen.uniform(0, size, (batch, n, 2, 2))
    boxes = np.concatenate([corners.min(axis=2), corners.max(axis=2)], axis=-1)
    return boxes.astype(np.float32), gen.random((batch, n)) > 0.2


def ref_mosaic_boxes(boxes, valid, sources, centre, sizes, fraction):
    h, w = sizes
    batch, n = valid.shape
    out, kept = np.zeros((batch, 4 * n, 4)), np.zeros((batch, 4 * n), dtype=bool)
    for b in range(batch):
        r, c = centre[b] if centre.ndim == 2 else centre
        rects = [(0, 0, c, r), (c, 0, w, r), (0, r, c, h), (c, r, w, h)]  # x0 y0 x1 y1
        for q, (x0, y0, x1, y1) in enumerate(rects):
            for k in range(n):
                bx = boxes[sources[b, q], k].astype(np.float64)
                area = (bx[2] - bx[0]) * (bx[3] - bx[1])
                cl = [min(max(bx[0], x0), x1), min(max(bx[1], y0), y1),
                      min(max(bx[2], x0), x1), min(max(bx[3], y0), y1)]
                inside = max(cl[2] - cl[0], 0) * max(cl[3] - cl[1], 0)
                if valid[sources[b, q], k] and inside > 0 and inside >= fraction * area:
                    out[b, q * n + k], kept[b, q * n + k] = cl, True
    return out, kept


@given(seed=SEEDS, batch=st.integers(1, 6), lam_mode=st.sampled_from(["batch", "sample"]))
@settings(max_examples=10)
def test_mosaic_boxes_equal_reference_and_lie_on_their_source(backend, seed, batch, lam_mode):
    gen = np.random.default_rng(seed)
    boxes, valid = _random_boxes(gen, batch, 3, 32)
    p = arraymix.sample_mosaic(seed, batch, (32, 40), lam_mode=lam_mode)
    got, kept = backend.call(arraymix.paste_boxes, backend.asarray(boxes),
                             backend.asarray(valid), on(backend, p))
    check_like(backend, got, (batch, 12, 4), backend.dtypes["float32"])
    if not backend.has_values:
        return
    want, want_kept = ref_mosaic_boxes(boxes, valid, p.sources, p.centre, (32, 40), 0.1)
    np.testing.assert_array_equal(backend.numpy(kept), want_kept)
    np.testing.assert_allclose(backend.numpy(got), want, rtol=0, atol=1e-5)
    # each kept box lies on its source's pixels in the mixed image
    ids = np.broadcast_to(np.arange(batch)[:, None, None], (batch, 32, 40))
    mixed = arraymix.paste(np.ascontiguousarray(ids), p, axes=(1, 2))
    for b, k in zip(*np.nonzero(want_kept), strict=True):
        x0, y0, x1, y1 = want[b, k]
        rows = slice(int(np.ceil(y0 - 0.5)), int(np.ceil(y1 - 0.5)))
        cols = slice(int(np.ceil(x0 - 0.5)), int(np.ceil(x1 - 0.5)))
        assert np.all(mixed[b, rows, cols] == p.sources[b, k // 3])


def test_mosaic_points_stay_in_their_quadrant():
    gen = np.random.default_rng(0)
    points = gen.uniform(0, 32, (5, 6, 2))
    valid = np.ones((5, 6), dtype=bool)
    p = arraymix.sample_mosaic(2, 5, (32, 32), lam_mode="sample")
    got, kept = arraymix.paste_points(points, valid, p)
    assert got.shape == (5, 24, 2)
    for b in range(5):
        r, c = p.centre[b]
        for q in range(4):
            theirs = points[p.sources[b, q]]
            top, left = q < 2, q % 2 == 0
            inside = (((theirs[:, 1] < r) == top) & ((theirs[:, 0] < c) == left))
            np.testing.assert_array_equal(kept[b, 6 * q:6 * q + 6], inside)
            np.testing.assert_array_equal(got[b, 6 * q:6 * q + 6][inside], theirs[inside])


def test_resizemix_boxes_follow_the_resized_partner():
    """The partner's object, painted into its image, lands inside its scaled
    box once the image is resized into the box (nearest: to a pixel)."""
    gen = np.random.default_rng(4)
    batch, size = 6, 48
    boxes, valid = _random_boxes(gen, batch, 2, size)
    boxes = np.round(boxes)
    p = arraymix.sample_resizemix(5, batch, (size, size), scale=(0.4, 0.9),
                                  lam_mode="sample", pairing="derange")
    got, kept = arraymix.paste_boxes(boxes, valid, p)
    own, _ = arraymix.paste_boxes(boxes, valid, arraymix.CutMixParams(*p))
    np.testing.assert_array_equal(got[:, :2], own[:, :2])  # own boxes as CutMix keeps them
    for b in range(batch):
        partner = p.perm[b]
        (r0, c0), (r1, c1) = p.lower[b], p.upper[b]
        scale = np.asarray([(c1 - c0), (r1 - r0)] * 2) / size
        expected = np.asarray([c0, r0, c0, r0]) + boxes[partner] * scale
        for k in range(2):
            area = np.prod(expected[k, 2:] - expected[k, :2])
            assert kept[b, 2 + k] == (valid[partner, k] and area > 0)
            if not kept[b, 2 + k]:
                continue
            np.testing.assert_allclose(got[b, 2 + k], expected[k], atol=1e-4)
            painted = np.zeros((batch, size, size), dtype=np.uint8)
            x0, y0, x1, y1 = boxes[partner, k].astype(int)
            painted[partner, y0:y1, x0:x1] = 1
            mixed = arraymix.paste(painted, p, axes=(1, 2), interpolation="nearest")[b]
            assert mixed[_pixels_in(expected[k], size, -1)].all()   # 1 px inside the box
            assert not mixed[~_pixels_in(expected[k], size, 1)].any()  # none 1 px outside


def _pixels_in(box, size, grow):
    """Which pixels of a square image have their centre inside ``box`` (xyxy)
    grown by ``grow`` pixels on each side."""
    centres = np.arange(size) + 0.5
    x0, y0, x1, y1 = box
    rows = (centres > y0 - grow) & (centres < y1 + grow)
    cols = (centres > x0 - grow) & (centres < x1 + grow)
    return rows[:, None] & cols[None, :]


def test_resizemix_points_are_scaled_into_the_box():
    points = np.asarray([[[0.0, 0.0], [31.0, 15.0]], [[16.0, 16.0], [8.0, 24.0]]])
    valid = np.ones((2, 2), dtype=bool)
    p = arraymix.ResizeMixParams(lam=np.asarray(0.75), perm=np.asarray([1, 0]),
                                 lower=np.asarray([16, 0]), upper=np.asarray([32, 16]),
                                 sizes=(32, 32))
    got, kept = arraymix.paste_points(points, valid, p)
    # sample 0: its own (0, 0) is outside the box [0, 16) × [16, 32), (31, 15) too
    np.testing.assert_array_equal(kept[0], [True, True, True, True])
    np.testing.assert_allclose(got[0, 2:], [[8.0, 24.0], [4.0, 28.0]])
    # sample 1: its own (8, 24) lies in the box and is covered
    np.testing.assert_array_equal(kept[1, :2], [True, False])


def test_masks_have_no_box_rule():
    boxes, valid = np.zeros((2, 1, 4), dtype=np.float32), np.ones((2, 1), dtype=bool)
    p = arraymix.sample_fmix(0, 2, (8, 8))
    with pytest.raises(TypeError, match="boxes cannot follow MaskParams"):
        arraymix.paste_boxes(boxes, valid, p)
    with pytest.raises(TypeError, match="points cannot follow MaskParams"):
        arraymix.paste_points(boxes[..., :2], valid, p)


def test_mixed_cross_entropy_of_each_method(backend):
    """Against the cross-entropy with the mixed soft targets, by NumPy."""
    gen = np.random.default_rng(0)
    logits = gen.normal(size=(6, 5))
    labels = np.asarray([0, 1, 2, 3, 4, 1])
    for method in METHODS:
        p = draw(method, 3, 6, (16, 16), lam_mode="sample")
        got = backend.call(arraymix.mixed_cross_entropy, backend.asarray(logits),
                           backend.asarray(labels), on(backend, p), label_smoothing=0.1,
                           reduction="none")
        if not backend.has_values:
            continue
        targets = arraymix.blend(arraymix.one_hot(labels, 5, smoothing=0.1,
                                                  dtype=np.float64), p)
        logp = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
        np.testing.assert_allclose(backend.numpy(got), -(targets * logp).sum(axis=1),
                                   rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="per position"):
        arraymix.mixed_cross_entropy(np.zeros((6, 5, 4, 4)), np.zeros((6, 4, 4), dtype=int),
                                     draw("fmix", 0, 6, (4, 4)), axis=1)


@settings(max_examples=15)
@given(data=st.data(), method=st.sampled_from(["patchmix", "fmix", "mosaic", "resizemix"]),
       layout=st.sampled_from(LAYOUTS), batch=st.integers(1, 7), seed=SEEDS,
       lam_mode=st.sampled_from(["batch", "sample"]), in_place=st.booleans())
def test_host_paths_equal_the_reference_bitwise(data, method, layout, batch, seed, lam_mode,
                                                in_place):
    """NumPy and CPU torch copy sample by sample; the array API reference
    (forced) must give the same bits, in place or not."""
    from arraymix import _backends

    names = ["float16", "float32", "float64", "uint8", "int16"]
    if method != "resizemix":
        names.append("bool")  # masks are moved bit for bit
    dtype = data.draw(st.sampled_from(names), label="dtype")
    sample_shape, axes = layout
    shape = (batch, *sample_shape)
    gen = np.random.default_rng(seed)
    x = gen.random(shape) < 0.5 if dtype == "bool" else random_batch(gen, shape, dtype)
    drawn = {}
    if method == "resizemix":  # boxes up to the whole image too
        drawn["scale"] = data.draw(st.sampled_from([(0.1, 0.8), (0.6, 1.0), (1.0, 1.0)]),
                                   label="scale")
    p = draw(method, seed, batch, tuple(shape[a] for a in axes), lam_mode=lam_mode, **drawn)
    kw = {}
    if method == "resizemix":
        kw["interpolation"] = data.draw(st.sampled_from(["bilinear", "nearest"]),
                                        label="interpolation")
    with _backends.tuned(force="reference"):
        want = arraymix.paste(x, p, axes=axes, **kw)
    libraries = [(np.asarray, np.asarray)]
    try:
        import torch

        libraries.append((torch.asarray, lambda t: t.numpy()))
    except ImportError:
        pass
    for put, get in libraries:
        xs = put(x.copy())
        ps = type(p)(*(put(v) if isinstance(v, np.ndarray) else v for v in p))
        got = arraymix.paste(xs, ps, axes=axes, out=xs if in_place else None, **kw)
        np.testing.assert_array_equal(get(got), want)


@settings(max_examples=15, deadline=None)
@given(data=st.data(), batch=st.integers(1, 6), seed=SEEDS,
       lam_mode=st.sampled_from(["batch", "sample"]), traced=st.booleans())
def test_jax_resizemix_by_corners_equals_the_reference_bitwise(data, batch, seed, lam_mode,
                                                              traced):
    """JAX reads each partner element from its corners in one gather each;
    the reference (forced) resizes one axis after the other. Same bits as
    the reference under ``jax.jit`` (the corners are always jitted; XLA
    fuses ``a + w * (b - a)`` into one rounding, where eager JAX rounds
    twice), called eagerly or inside a caller's ``jax.jit``, for one to
    three cut axes anywhere, every dtype and both interpolations."""
    jax = pytest.importorskip("jax", reason="jax is not installed")
    from arraymix import _backends

    layouts = [*LAYOUTS, ((16,), (1,)), ((2, 5, 6, 7), (2, 3, 4)), ((6, 2, 9), (1, 3))]
    sample_shape, axes = data.draw(st.sampled_from(layouts), label="layout")
    dtype = data.draw(st.sampled_from(["float16", "bfloat16", "float32", "uint8", "int16"]),
                      label="dtype")
    interpolation = data.draw(st.sampled_from(["bilinear", "nearest"]), label="interpolation")
    scale = data.draw(st.sampled_from([(0.1, 0.8), (0.6, 1.0), (1.0, 1.0)]), label="scale")
    shape = (batch, *sample_shape)
    gen = np.random.default_rng(seed)
    x = jax.numpy.asarray(random_batch(gen, shape, "float32" if dtype == "bfloat16" else dtype),
                          dtype=dtype)
    p = on(jax.numpy, draw("resizemix", seed, batch, tuple(shape[a] for a in axes),
                           lam_mode=lam_mode, scale=scale))

    def paste(x, p):
        return arraymix.paste(x, p, axes=axes, interpolation=interpolation)

    with _backends.tuned(force="reference"):  # traced here, in the forced path
        want = np.asarray(jax.jit(lambda x, p: paste(x, p))(x, p).astype("float32"))
    got = (jax.jit(paste) if traced else paste)(x, p)
    assert got.dtype == x.dtype
    np.testing.assert_array_equal(np.asarray(got.astype("float32")), want)


def test_mosaic_against_kornia():
    """kornia's RandomMosaic crops a 2×2 canvas of four samples. With the
    crossing and the sources read off its output on images of one value
    each, arraymix's Mosaic splits the image the same way (the same picture
    on those images, label weights = the areas counted in kornia's output);
    on real images kornia moves each source's corner nearest the crossing
    into the quadrant, where arraymix keeps the source's own region."""
    torch = pytest.importorskip("torch", reason="torch is not installed")
    try:
        from kornia.augmentation import RandomMosaic
    except Exception as e:  # kornia built for another torch raises more than ImportError
        pytest.skip(f"kornia is not usable here: {e!r}")
    batch, h, w = 6, 8, 12
    op = RandomMosaic(output_size=(h, w), mosaic_grid=(2, 2), start_ratio_range=(0.3, 0.7),
                      p=1.0, data_keys=["input"])
    flat = torch.arange(float(batch)).reshape(batch, 1, 1, 1).expand(batch, 1, h, w)
    images = torch.rand(batch, 1, h, w)
    torch.manual_seed(3)
    theirs_flat = op(flat.contiguous())[:, 0].numpy()
    torch.manual_seed(3)  # the same draws on the real images
    theirs = op(images)[:, 0].numpy()
    centre, sources = np.zeros((batch, 2), dtype=np.int64), np.zeros((batch, 4), dtype=np.int64)
    for i, o in enumerate(theirs_flat):
        rows = [k for k in range(1, h) if (o[k] != o[0]).any()]
        cols = [k for k in range(1, w) if (o[:, k] != o[:, 0]).any()]
        centre[i] = rows[0] if rows else h, cols[0] if cols else w
        sources[i] = o[0, 0], o[0, -1], o[-1, 0], o[-1, -1]
    assert (sources[:, 0] == np.arange(batch)).all()  # kornia's top left is the sample too
    r, c = centre[:, 0].astype(float), centre[:, 1].astype(float)
    lam = np.stack([r * c, r * (w - c), (h - r) * c, (h - r) * (w - c)], axis=1) / (h * w)
    p = arraymix.MosaicParams(lam=lam, sources=sources, centre=centre, sizes=(h, w))
    ours_flat = arraymix.paste(flat.numpy().copy(), p, axes=(2, 3))[:, 0]
    np.testing.assert_array_equal(ours_flat, theirs_flat)
    counted = np.stack([(theirs_flat == j).reshape(batch, -1).mean(axis=1)
                        for j in range(batch)], axis=1)
    rows = arraymix.blend(np.eye(batch), p)
    np.testing.assert_allclose(rows, counted, atol=1e-12)
    ours = arraymix.paste(images.numpy(), p, axes=(2, 3))[:, 0]
    src = images.numpy()[:, 0]
    for i, (a, b, cc, d) in enumerate(sources):
        ri, ci = centre[i]
        np.testing.assert_array_equal(ours[i, :ri, :ci], src[a, :ri, :ci])
        canvas = np.block([[src[a], src[b]], [src[cc], src[d]]])
        np.testing.assert_array_equal(theirs[i], canvas[h - ri:2 * h - ri, w - ci:2 * w - ci])


def _threshold_case(gen, rows, n, kind, dtype):
    """Values of ``kind`` (dtype ``dtype``), how many of each row to keep,
    and the mask a sort gives: the values at or above the one a sort puts at
    position ``n - count`` (none where the count is 0)."""
    if kind == "ties":
        values = gen.integers(0, 6, size=(rows, n)).astype(dtype)
    elif kind == "special":
        pool = np.asarray([-np.inf, -1.5, -0.0, 0.0, 2.5, np.inf, np.nan], dtype=dtype)
        values = gen.choice(pool, size=(rows, n))
    elif kind == "adjacent":  # neighbouring float32 values, either side of zero
        near = (gen.integers(0, 8, size=(rows, n)) + 0x3F800000).astype(np.int32)
        values = (near.view(np.float32) * gen.choice(np.float32([-1, 1]), size=(rows, n))
                  ).astype(dtype)
    else:
        values = gen.standard_normal((rows, n)).astype(dtype)
        if kind == "nan":
            values[gen.random((rows, n)) < 0.3] = np.nan
    count = gen.integers(0, n + 1, size=rows).astype(dtype)
    at = np.clip(n - count, 0, n - 1).astype(np.int64)
    want = values >= np.sort(values, axis=-1)[np.arange(rows), at][:, None]
    want &= (count > 0)[:, None]
    return values, count, want


@given(seed=SEEDS, rows=st.integers(1, 5), n=st.integers(1, 3000),
       kind=st.sampled_from(["ties", "normal", "nan"]), bracket=st.booleans())
@settings(max_examples=40, deadline=None)
def test_mask_threshold_by_selection_equals_the_sort(seed, rows, n, kind, bracket):
    """The FMix threshold by selection (NumPy's partition, on a CPU tensor's
    view too, whole rows or through a bracket from a sample of each row)
    picks the value a sort would put at each row's position: ties, values
    the sample misses and NaN included."""
    from arraymix._backends.tuning import tuned
    from arraymix._compat import namespace_of
    from arraymix._family import _top

    values, count, want = _threshold_case(np.random.default_rng(seed), rows, n, kind,
                                          np.float64)
    with tuned(select_bracket_min=1 if bracket else n + 1):
        got = _top(namespace_of(np), "cpu", values, count)
        np.testing.assert_array_equal(got, want)
        torch = pytest.importorskip("torch", reason="torch is not installed")
        tv, tc = torch.asarray(values), torch.asarray(count)
        got = _top(namespace_of(torch), tv.device, tv, tc).numpy()
    np.testing.assert_array_equal(got, want)


@given(seed=SEEDS, rows=st.integers(1, 5), n=st.integers(1, 3000),
       kind=st.sampled_from(["ties", "normal", "nan", "special", "adjacent"]),
       traced=st.booleans())
@settings(max_examples=30, deadline=None)
def test_mask_threshold_in_jax_equals_the_sort(seed, rows, n, kind, traced):
    """The FMix threshold for float32 JAX values (a bisection over the
    values' order, a count per row each step) picks the value a sort would
    put at each row's position: ties, NaN, infinities and both zeros
    included, eagerly and under ``jax.jit``."""
    jax = pytest.importorskip("jax", reason="jax is not installed")
    from arraymix._compat import namespace_of
    from arraymix._family import _top

    values, count, want = _threshold_case(np.random.default_rng(seed), rows, n, kind,
                                          np.float32)
    jnp = jax.numpy

    def top(v, c):
        return _top(namespace_of(jnp), None, v, c)

    call = jax.jit(top) if traced else top
    got = call(jnp.asarray(values), jnp.asarray(count))
    np.testing.assert_array_equal(np.asarray(got), want)


def test_resizemix_against_mmpretrain():
    """MMPretrain's ResizeMix resizes the whole partner into a CutMix box
    (bilinear, no antialiasing) and weighs the labels by the kept area. With
    its box and permutation read off its output, arraymix's ResizeMix gives
    the same batch and the same label rows. Its draw differs (its box side
    is sqrt(1 - λ) of the image with λ from a Beta mapped into [0.1, 0.8],
    and its box is clipped at the border, squeezing the partner), as
    docs/family.md tells."""
    torch = pytest.importorskip("torch", reason="torch is not installed")
    try:
        with warnings.catch_warnings():  # mmcv-lite warns that its compiled ops are absent
            warnings.simplefilter("ignore")
            from mmpretrain.models.utils.batch_augments import ResizeMix
    except Exception as e:  # mmcv or torchvision missing or built for another torch
        pytest.skip(f"mmpretrain is not usable here: {type(e).__name__}: {e}")
    batch, h, w = 8, 40, 48
    x = torch.rand(batch, 3, h, w, generator=torch.Generator().manual_seed(0))
    scores = torch.eye(batch)
    # MMPretrain draws from NumPy's global generator and torch's
    saved = np.random.get_state()  # noqa: NPY002
    np.random.seed(5)  # noqa: NPY002
    torch.manual_seed(5)
    try:
        draws = [ResizeMix(alpha=1.0).mix(x.clone(), scores.clone()) for _ in range(6)]
    finally:
        np.random.set_state(saved)  # noqa: NPY002
    for theirs, rows in draws:
        changed = (theirs != x).any(dim=0).any(dim=0).numpy()
        r = np.flatnonzero(changed.any(axis=1))
        c = np.flatnonzero(changed.any(axis=0))
        lower, upper = (r[0], c[0]), (r[-1] + 1, c[-1] + 1)
        assert changed[r[0]:r[-1] + 1, c[0]:c[-1] + 1].all()  # one box, shared
        # each sample's partner: the one whose resize fills its box
        box = (upper[0] - lower[0], upper[1] - lower[1])
        resized = torch.nn.functional.interpolate(x, size=box, mode="bilinear",
                                                  align_corners=False)
        inside = theirs[:, :, lower[0]:upper[0], lower[1]:upper[1]]
        gap = (inside[:, None] - resized[None]).abs().flatten(2).amax(dim=2)
        perm = gap.argmin(dim=1).numpy()
        kept = 1.0 - box[0] * box[1] / (h * w)
        p = arraymix.ResizeMixParams(lam=np.float64(kept), perm=perm,
                                     lower=np.asarray(lower), upper=np.asarray(upper),
                                     sizes=(h, w))
        ours = arraymix.paste(x.numpy().astype(np.float64), p)
        # torch finds the source positions in float32: a few units of 1e-6 apart
        np.testing.assert_allclose(ours, theirs.numpy(), rtol=0, atol=1e-5)
        np.testing.assert_allclose(arraymix.blend(np.eye(batch), p), rows.numpy(),
                                   rtol=0, atol=1e-6)


def test_fmix_against_keras_cv(tmp_path):
    """Keras-CV's FourierMix keeps the round(λ·n) largest noise values, as
    arraymix does, with λ ~ Beta(α, α): the kept fractions of its masks and
    of arraymix's follow one distribution, and its label weight is λ itself,
    up to half an element from its mask's fraction (arraymix's is the
    fraction). Its noise uses two rows of the spectrum only (docs/family.md:
    striped masks at a low decay), so the masks' shapes are not compared."""
    import importlib.util
    import subprocess
    import sys
    from pathlib import Path

    if any(importlib.util.find_spec(m) is None for m in ("tensorflow", "keras_cv")):
        pytest.skip("keras_cv and tensorflow are not installed")
    script = Path(__file__).parent / "scripts" / "keras_cv_fmix.py"
    out, count, size = tmp_path / "masks.npz", 400, 32
    subprocess.run([sys.executable, str(script), str(out), str(count), str(size), "3"],
                   check=True, capture_output=True, timeout=600)
    theirs = np.load(out)
    moved = theirs["partner"] >= 0
    n = size * size
    fraction = theirs["own"][moved].reshape(-1, n).mean(axis=1)
    np.testing.assert_allclose(fraction, np.round(theirs["lam"][moved] * n) / n, atol=1e-12)
    assert np.abs(fraction - theirs["lam"][moved]).max() <= 0.5 / n + 1e-7
    p = arraymix.sample_fmix(0, count, (size, size), alpha=1.0, lam_mode="sample")
    ours = 1.0 - p.mask.reshape(count, n).mean(axis=1)
    np.testing.assert_array_equal(p.lam, ours)
    assert stats.ks_2samp(ours, fraction).pvalue > 1e-3
    # the comparison can tell: a Beta(2, 2) area is told apart at this count
    other = arraymix.sample_fmix(0, count, (size, size), alpha=2.0, lam_mode="sample")
    assert stats.ks_2samp(other.lam, fraction).pvalue < 1e-3
