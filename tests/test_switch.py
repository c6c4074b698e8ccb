"""A Mixer choosing among every method (``methods=``): its batches, labels,
draws and loss on every backend, against float64 NumPy references written
by slicing and loops (tests/reference.py)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

import arraymix
from reference import ref_mask, ref_mosaic, ref_paste, ref_resize
from test_detection import area, random_boxes, ref_paste_boxes, ref_paste_points

SEEDS = st.integers(0, 2**32 - 1)
ALL = ("mixup", "cutmix", "patchmix", "fmix", "mosaic", "resizemix")
CODE = {name: i + 1 for i, name in enumerate(ALL)}
SIZES = (8, 12)
PATCH = 4


@st.composite
def method_maps(draw, names=ALL):
    """A mapping of two to four methods with probabilities summing to 1."""
    chosen = draw(st.lists(st.sampled_from(names), min_size=1, max_size=4, unique=True))
    weights = draw(st.lists(st.integers(1, 4), min_size=len(chosen), max_size=len(chosen)))
    return {name: w / sum(weights) for name, w in zip(chosen, weights, strict=True)}


def make(methods, lam_mode, seed, classes, **kw):
    return arraymix.Mixer(methods=methods, lam_mode=lam_mode, seed=seed, num_classes=classes,
                          label_smoothing=0.0, patch=PATCH, **kw)


def ref_draw(x, p, axes, nearest):
    """``mix(x, p)`` for a Mixer's draw, sample by sample by its method."""
    host = lambda a: np.asarray(a)  # noqa: E731
    method, perm = host(p.method), host(p.perm)
    lam = np.broadcast_to(host(p.blend_lam), method.shape)
    x64 = x.astype(np.float64)
    out = x64.copy()
    pasted = ref_paste(x64, perm, host(p.lower), host(p.upper), axes)
    masks = [q for q in p.parts if isinstance(q, arraymix.MaskParams)]
    for i, m in enumerate(method.tolist()):
        if m == CODE["mixup"]:
            out[i] = lam[i] * x64[i] + (1 - lam[i]) * x64[perm[i]]
        elif m == CODE["cutmix"]:
            out[i] = pasted[i]
        elif m in (CODE["patchmix"], CODE["fmix"]):
            # the patch grid is coarser than the data; FMix's is the data's own
            (q,) = [q for q in masks if (tuple(q.mask.shape[1:]) == SIZES) == (m == 4)]
            out[i] = ref_mask(x64, host(q.perm), host(q.mask), axes)[i]
        elif m == CODE["mosaic"]:
            (q,) = [q for q in p.parts if isinstance(q, arraymix.MosaicParams)]
            out[i] = ref_mosaic(x64, host(q.sources), host(q.centre), axes)[i]
        elif m == CODE["resizemix"]:
            (q,) = [q for q in p.parts if isinstance(q, arraymix.ResizeMixParams)]
            out[i] = ref_resize(x64, host(q.perm), host(q.lower), host(q.upper), axes,
                                nearest)[i]
    return out


def host_draw(backend, p):
    """A draw read back to NumPy (its parts too)."""
    get = backend.numpy
    parts = tuple(type(q)(*(v if isinstance(v, tuple) or v is None else get(v) for v in q))
                  for q in p.parts)
    return p._replace(**{f: get(getattr(p, f)) for f in
                         ("lam", "perm", "lower", "upper", "blend_lam", "method")},
                      parts=parts)


@settings(max_examples=15, deadline=None)
@given(methods=method_maps(), lam_mode=st.sampled_from(["batch", "sample"]), seed=SEEDS,
       batch=st.integers(2, 8), dtype=st.sampled_from(["float32", "uint8"]))
def test_mixer_equals_its_draw_and_the_reference(backend, methods, lam_mode, seed, batch,
                                                 dtype):
    if backend.jit:
        pytest.skip("a Mixer draws on the host: it refuses a jax.jit trace")
    mixer, twin = (make(methods, lam_mode, seed, batch) for _ in range(2))
    gen = np.random.default_rng(seed)
    data = (gen.random((batch, 3, *SIZES)) * 255).astype(dtype)
    x, y = backend.asarray(data), backend.asarray(np.arange(batch))
    for _ in range(2):  # two calls: the streams stay in step
        xm, ym = mixer(x, y)
        p = twin.draw(batch, SIZES, xp=backend.xp, device=backend.device)
        got = arraymix.mix(x, p)
        rows = arraymix.blend(arraymix.one_hot(y, batch), p)
        if not backend.has_values:
            continue
        np.testing.assert_array_equal(backend.numpy(got), backend.numpy(xm))
        np.testing.assert_allclose(backend.numpy(rows), backend.numpy(ym), atol=1e-6)
        expected = ref_draw(data, host_draw(backend, p), (-2, -1), dtype == "uint8")
        if dtype == "uint8":  # blended in float32 and rounded: within one of float64
            assert np.abs(backend.numpy(xm).astype(np.float64) - expected).max() <= 1
        else:
            np.testing.assert_allclose(backend.numpy(xm), expected, rtol=1e-5, atol=1e-5)


@settings(max_examples=12, deadline=None)
@given(methods=method_maps(ALL[1:]), lam_mode=st.sampled_from(["batch", "sample"]),
       seed=SEEDS, batch=st.integers(2, 9), pairing=st.sampled_from(["permute", "roll"]))
def test_label_weights_are_the_fractions_in_the_output(backend, methods, lam_mode, seed,
                                                      batch, pairing):
    """Each sample holds its index everywhere, and nothing is blended: the
    output tells each element's source, and the targets must be the counts."""
    if backend.jit:
        pytest.skip("a Mixer draws on the host: it refuses a jax.jit trace")
    shape = (batch, 2, *SIZES)
    ids = np.broadcast_to(np.arange(batch, dtype=np.float32)[:, None, None, None], shape)
    mixer = make(methods, lam_mode, seed, batch, pairing=pairing, prob=0.8)
    xm, ym = mixer(backend.asarray(np.ascontiguousarray(ids)),
                   backend.asarray(np.arange(batch)))
    if not backend.has_values:
        return
    out = backend.numpy(xm).astype(np.float64)
    np.testing.assert_array_equal(out, np.round(out))
    counts = np.stack([(out == j).reshape(batch, -1).mean(axis=1) for j in range(batch)], 1)
    np.testing.assert_allclose(backend.numpy(ym), counts, rtol=0, atol=1e-6)


@pytest.mark.parametrize("lam_mode", ["batch", "sample"])
@pytest.mark.parametrize("switch", [0.0, 0.3, 1.0])
def test_mixup_and_cutmix_draw_as_switch_prob_does(lam_mode, switch):
    """``methods={"mixup": 1 - p, "cutmix": p}`` is ``switch_prob=p``, draw for draw."""
    gen = np.random.default_rng(3)
    x = gen.random((6, 3, *SIZES), dtype=np.float32)
    y = np.arange(6)
    for seed in range(4):
        old = arraymix.Mixer(switch_prob=switch, lam_mode=lam_mode, seed=seed, num_classes=6,
                             prob=0.7)
        new = arraymix.Mixer(methods={"mixup": 1 - switch, "cutmix": switch},
                             lam_mode=lam_mode, seed=seed, num_classes=6, prob=0.7)
        for _ in range(3):
            (xo, yo), (xn, yn) = old(x, y), new(x, y)
            np.testing.assert_array_equal(xo, xn)
            np.testing.assert_array_equal(yo, yn)
        assert old.state_dict()["rng"] == new.state_dict()["rng"]


def test_methods_are_chosen_with_their_probabilities():
    methods = {"mixup": 0.1, "cutmix": 0.2, "patchmix": 0.1, "fmix": 0.15, "mosaic": 0.25,
               "resizemix": 0.2}
    expected = np.asarray([methods[name] for name in ALL])
    per_sample = make(methods, "sample", 0, 4).draw(4000, SIZES)
    counts = np.bincount(per_sample.method, minlength=7)[1:]
    assert stats.chisquare(counts, expected * counts.sum()).pvalue > 1e-3
    mixer = make(methods, "batch", 1, 4)
    batch = [int(mixer.draw(2, SIZES).method[0]) for _ in range(600)]
    counts = np.bincount(batch, minlength=7)[1:]
    assert stats.chisquare(counts, expected * counts.sum()).pvalue > 1e-3
    # a method of probability 0 is never chosen
    never = make({"mixup": 0.5, "fmix": 0.0, "mosaic": 0.5}, "sample", 2, 4).draw(2000, SIZES)
    assert set(np.unique(never.method)) == {CODE["mixup"], CODE["mosaic"]}


def test_loss_of_a_draw_equals_the_blended_targets():
    gen = np.random.default_rng(5)
    batch, classes = 16, 7
    mixer = make({"mixup": 0.2, "mosaic": 0.4, "fmix": 0.2, "resizemix": 0.2}, "sample", 5,
                 classes)
    p = mixer.draw(batch, SIZES)
    assert CODE["mosaic"] in p.method
    labels = gen.integers(0, classes, size=batch)
    logits = gen.normal(size=(batch, classes))
    loss = arraymix.mixed_cross_entropy(logits, labels, p, reduction="none",
                                        label_smoothing=0.1)
    # the targets from the draw's pixels' sources, in float64
    weights = np.zeros((batch, batch))
    mosaic = next(q for q in p.parts if isinstance(q, arraymix.MosaicParams))
    for i in range(batch):
        if p.method[i] == CODE["mosaic"]:
            for q in range(4):
                weights[i, mosaic.sources[i, q]] += mosaic.lam[i, q]
        else:
            weights[i, i] += p.lam[i]
            weights[i, p.perm[i]] += 1 - p.lam[i]
    targets = weights @ np.eye(classes)[labels] * 0.9 + 0.1 / classes
    logp = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    np.testing.assert_allclose(loss, -(targets * logp).sum(axis=1), rtol=1e-10)


def test_a_draw_pastes_masks_with_each_samples_method():
    """Class masks follow the image: every family and CutMix sample's mask
    comes from the source its pixels came from; MixUp samples keep theirs."""
    batch = 10
    mixer = make({"mixup": 0.2, "cutmix": 0.2, "patchmix": 0.2, "mosaic": 0.2,
                  "resizemix": 0.2}, "sample", 7, batch)
    p = mixer.draw(batch, SIZES)
    ids = np.broadcast_to(np.arange(batch)[:, None, None], (batch, *SIZES))
    source = arraymix.mix(np.ascontiguousarray(ids).astype(np.float32)[:, None], p)[:, 0]
    masks = np.ascontiguousarray(ids).astype(np.int16) * 3
    pasted = arraymix.paste(masks, p, axes=(1, 2))
    kept = p.method == CODE["mixup"]
    np.testing.assert_array_equal(pasted[kept], masks[kept])
    np.testing.assert_array_equal(pasted[~kept], (source[~kept] * 3).astype(np.int16))


def test_collate_equals_the_call_on_the_stacked_batch():
    gen = np.random.default_rng(2)
    samples = [(gen.integers(0, 255, (3, *SIZES), dtype=np.uint8), i % 5) for i in range(8)]
    methods = {"cutmix": 0.3, "fmix": 0.3, "mosaic": 0.4}
    for lam_mode in ("batch", "sample"):
        a, b = make(methods, lam_mode, 4, 5), make(methods, lam_mode, 4, 5)
        for _ in range(3):
            xa, ya = a.collate(samples)
            xb, yb = b(np.stack([s for s, _ in samples]), np.asarray([c for _, c in samples]))
            np.testing.assert_array_equal(xa, xb)
            np.testing.assert_array_equal(ya, yb)


def test_state_round_trip_and_older_states():
    methods = {"mixup": 0.5, "resizemix": 0.5}
    mixer = make(methods, "sample", 9, 4, resizemix_scale=(0.2, 0.6))
    x = np.random.default_rng(0).random((4, 3, *SIZES), dtype=np.float32)
    mixer(x, np.arange(4))
    resumed = make(methods, "sample", None, 4, resizemix_scale=(0.2, 0.6))
    resumed.load_state_dict(mixer.state_dict())
    np.testing.assert_array_equal(resumed(x, np.arange(4))[0], mixer(x, np.arange(4))[0])
    with pytest.raises(ValueError, match="methods"):
        make(None, "sample", None, 4).load_state_dict(mixer.state_dict())
    # a state saved before the family's settings existed loads into a plain Mixer
    plain = arraymix.Mixer(num_classes=4, seed=1)
    state = plain.state_dict()
    for key in ("methods", "patch", "patchmix_alpha", "fmix_alpha", "fmix_decay",
                "mosaic_center", "resizemix_scale"):
        del state["config"][key]
    arraymix.Mixer(num_classes=4).load_state_dict(state)


def test_jax_jit_applies_a_draw_with_parts():
    jax = pytest.importorskip("jax", reason="JAX is not installed")
    jnp = jax.numpy
    mixer = make({"cutmix": 0.25, "fmix": 0.25, "mosaic": 0.25, "resizemix": 0.25}, "sample",
                 3, 6)
    p = mixer.draw(6, SIZES, xp=jnp)
    x = jnp.asarray(np.random.default_rng(1).random((6, 3, *SIZES), dtype=np.float32))
    eager = arraymix.mix(x, p)
    jitted = jax.jit(arraymix.mix)(x, p)
    np.testing.assert_allclose(np.asarray(jitted), np.asarray(eager), rtol=1e-6, atol=1e-6)
    rows = jax.jit(arraymix.blend)(arraymix.one_hot(jnp.arange(6), 6), p)
    np.testing.assert_allclose(np.asarray(rows).sum(axis=1), 1.0, rtol=1e-6)


def test_bad_settings_name_the_argument():
    with pytest.raises(ValueError, match="methods has an unknown method 'mixpu'"):
        arraymix.Mixer(methods={"mixpu": 1.0})
    with pytest.raises(ValueError, match="sum to 1"):
        arraymix.Mixer(methods={"mixup": 0.5, "fmix": 0.4})
    with pytest.raises(ValueError, match=r"methods\['fmix'\]"):
        arraymix.Mixer(methods={"mixup": 1.0, "fmix": -0.5})
    with pytest.raises(TypeError, match="methods must be None or a mapping"):
        arraymix.Mixer(methods=[("mixup", 1.0)])
    with pytest.raises(ValueError, match="mixup_alpha is 0"):
        arraymix.Mixer(methods={"mixup": 0.5, "fmix": 0.5}, mixup_alpha=0)
    with pytest.raises(ValueError, match="lam_mode='pair'"):
        arraymix.Mixer(methods={"fmix": 1.0}, lam_mode="pair", pairing="flip")
    with pytest.raises(ValueError, match="pairing='flip'"):
        arraymix.Mixer(methods={"mosaic": 1.0}, pairing="flip")
    with pytest.raises(ValueError, match="fmix_alpha"):
        arraymix.Mixer(methods={"fmix": 1.0}, fmix_alpha=0)
    with pytest.raises(ValueError, match="mosaic_center"):
        arraymix.Mixer(mosaic_center=(0.8, 0.2))
    x = np.zeros((4, 3, *SIZES), dtype=np.float32)
    with pytest.raises(ValueError, match="patch=5 must divide"):
        arraymix.Mixer(methods={"patchmix": 1.0}, patch=5, lam_mode="sample")(x)
    with pytest.raises(ValueError, match="two cut axes"):
        arraymix.Mixer(methods={"mosaic": 1.0}, cutmix_axes=(-1,))(x)
    mixer = arraymix.Mixer(methods={"mosaic": 1.0}, seed=0)
    p = mixer.draw(4, SIZES)
    boxes = np.zeros((4, 1, 4))
    (part,) = p.parts
    bad = p._replace(parts=(part._replace(centre=part.centre[:2]),))
    with pytest.raises(ValueError, match=r"params\.centre"):  # the draw's parts are checked
        arraymix.paste_boxes(boxes, np.ones((4, 1), dtype=bool), bad)
    with pytest.raises(ValueError, match="sizes must give"):
        mixer.draw(4)


def test_torchvision_transform_with_the_family():
    """MixerTransform over a Mixer with family methods: images, labels and
    masks at half resolution equal the twin draw applied to each."""
    try:
        import torch
        from torchvision import tv_tensors

        from arraymix.torchvision import MixerTransform
    except Exception as e:  # a torchvision built for another torch raises more
        pytest.skip(f"torchvision v2 is not usable here: {e!r}")
    methods = {"mixup": 0.25, "mosaic": 0.25, "fmix": 0.25, "resizemix": 0.25}
    transform = MixerTransform(make(methods, "sample", 11, 5))
    twin = make(methods, "sample", 11, 5)
    images = torch.rand(6, 3, 16, 16)
    masks = tv_tensors.Mask(torch.arange(6).repeat_interleave(64).reshape(6, 8, 8))
    out_images, labels, out_masks = transform(tv_tensors.Image(images),
                                              torch.arange(6) % 5, masks)
    p = twin.draw(6, (16, 16), xp=None)
    np.testing.assert_allclose(out_images.numpy(), arraymix.mix(images.numpy(), p),
                               rtol=1e-6, atol=1e-6)
    rows = arraymix.blend(arraymix.one_hot(np.arange(6) % 5, 5), p)
    np.testing.assert_allclose(labels.numpy(), rows, rtol=1e-6, atol=1e-7)
    expected = arraymix.paste(masks.numpy(), p.rescaled((8, 8)), axes=(1, 2))
    np.testing.assert_array_equal(out_masks.numpy(), expected)
    boxes = tv_tensors.BoundingBoxes([[1, 1, 8, 8]], format="XYXY", canvas_size=(16, 16))
    with pytest.raises(TypeError, match=r"paste_boxes .* on the Mixer's draw"):
        transform(tv_tensors.Image(images), [{"boxes": boxes, "labels": torch.tensor([1])}] * 6)


@pytest.mark.parametrize("dtype", ["float32", "uint8", "float16"])
def test_host_parts_equal_the_reference_bitwise(dtype):
    """NumPy and CPU torch write a draw's family parts sample by sample; the
    array API reference (forced) must give the same bits."""
    from arraymix import _backends

    # no MixUp: torch blends with its lerp, within an ulp of the reference
    methods = {"cutmix": 0.2, "patchmix": 0.2, "fmix": 0.2, "mosaic": 0.2, "resizemix": 0.2}
    p = make(methods, "sample", 13, 9, prob=0.9).draw(9, SIZES)
    data = (np.random.default_rng(4).random((9, 3, *SIZES)) * 255).astype(dtype)
    with _backends.tuned(force="reference"):
        want = arraymix.mix(data, p)
    np.testing.assert_array_equal(arraymix.mix(data, p), want)
    torch = pytest.importorskip("torch", reason="torch is not installed")
    tp = p._replace(**{f: torch.from_numpy(np.asarray(getattr(p, f)))
                       for f in ("lam", "perm", "lower", "upper", "blend_lam", "method")},
                    parts=tuple(type(q)(*(torch.from_numpy(v) if isinstance(v, np.ndarray)
                                          else v for v in q)) for q in p.parts))
    np.testing.assert_array_equal(arraymix.mix(torch.from_numpy(data), tp).numpy(), want)


@pytest.mark.parametrize("lam_mode", ["batch", "sample"])
def test_groups_out_and_pickling_with_the_family(lam_mode):
    """Partners stay inside their group for every method; ``out=x`` mixes in
    place to the same result; a pickled Mixer continues the same stream."""
    import pickle

    batch, groups = 12, 3
    methods = {"cutmix": 0.2, "patchmix": 0.2, "fmix": 0.2, "mosaic": 0.2, "resizemix": 0.2}
    mixer = make(methods, lam_mode, 21, batch, groups=groups)
    twin = pickle.loads(pickle.dumps(mixer))
    ids = np.broadcast_to(np.arange(batch, dtype=np.float32)[:, None, None, None],
                          (batch, 1, *SIZES))
    for _ in range(4):
        x = np.ascontiguousarray(ids)
        xm, ym = mixer(x, np.arange(batch))
        inplace = x.copy()
        xi, yi = twin(inplace, np.arange(batch), out=inplace)
        assert xi is inplace
        np.testing.assert_array_equal(xi, xm)
        np.testing.assert_array_equal(yi, ym)
        group = np.arange(batch) // (batch // groups)
        for i in range(batch):  # every value a sample shows is from its own group
            shown = np.unique(xm[i]).astype(int)
            assert (group[shown] == group[i]).all(), (i, shown)
        assert (group[np.nonzero(ym)[1]] == group[np.nonzero(ym)[0]]).all()


def test_torch_compile_applies_a_draw_with_parts():
    torch = pytest.importorskip("torch", reason="torch is not installed")
    torch._dynamo.reset()
    methods = {"mixup": 0.2, "cutmix": 0.2, "fmix": 0.2, "mosaic": 0.2, "resizemix": 0.2}
    p = make(methods, "sample", 17, 6).draw(6, SIZES, xp=torch, device="cpu")
    x = torch.rand(6, 3, *SIZES, generator=torch.Generator().manual_seed(0))
    ids = torch.arange(6)

    def step(x, ids, p):
        return arraymix.mix(x, p), arraymix.blend(arraymix.one_hot(ids, 6), p)

    compiled = torch.compile(step, fullgraph=True, backend="aot_eager")
    for a, b in zip(compiled(x, ids, p), step(x, ids, p), strict=True):
        torch.testing.assert_close(a, b)


def test_bad_parts_are_refused_by_name():
    p = arraymix.Mixer(methods={"mosaic": 1.0}, seed=0).draw(4, SIZES)
    x = np.zeros((4, 3, *SIZES), dtype=np.float32)
    with pytest.raises(ValueError, match="one MosaicParams at most"):
        arraymix.mix(x, p._replace(parts=p.parts * 2))
    with pytest.raises(TypeError, match=r"params\.parts must be a tuple"):
        arraymix.blend(np.eye(4), p._replace(parts=[p.parts[0]]))
    bad = p.parts[0]._replace(sources=np.full((4, 4), 9))  # a partner out of range
    with pytest.raises(ValueError, match="sources"):
        arraymix.mix(x, p._replace(parts=(bad,)))


def ref_family_coords(coords, valid, p, fraction):
    """Boxes (or points) of a Mixer's draw with Mosaic and ResizeMix samples,
    sample by sample by its method, in float64: ``4N`` slots where the draw
    holds a Mosaic, else ``2N``; MixUp samples keep both sets, CutMix and
    ResizeMix samples their own boxes outside the box, Mosaic samples each
    quadrant's source's clipped to it."""
    boxes = coords.shape[-1] == 4
    batch, n = valid.shape
    c64 = coords.astype(np.float64)
    method, perm = np.asarray(p.method), np.asarray(p.perm)
    wide = 4 if any(isinstance(q, arraymix.MosaicParams) for q in p.parts) else 2
    out, kept = np.zeros((batch, wide * n, coords.shape[-1])), np.zeros((batch, wide * n), bool)
    lower, upper = np.asarray(p.lower), np.asarray(p.upper)
    if boxes:
        cut, cut_ok = ref_paste_boxes(c64, valid, perm, lower, upper, fraction)
    else:
        cut, cut_ok = ref_paste_points(c64, valid, perm, lower, upper)
    for i, m in enumerate(method.tolist()):
        if m == CODE["mixup"]:
            kept[i, :2 * n] = np.concatenate([valid[i], valid[perm[i]]])
            out[i, :2 * n] = np.concatenate([c64[i], c64[perm[i]]]) * kept[i, :2 * n, None]
        elif m == CODE["mosaic"]:
            (q,) = [q for q in p.parts if isinstance(q, arraymix.MosaicParams)]
            h, w = q.sizes
            r, c = np.asarray(q.centre)[i]
            rects = [(0, 0, c, r), (c, 0, w, r), (0, r, c, h), (c, r, w, h)]  # x0 y0 x1 y1
            for k, (x0, y0, x1, y1) in enumerate(rects):
                src = np.asarray(q.sources)[i, k]
                for j in range(n):
                    t = c64[src, j]
                    if boxes:
                        cl = [min(max(t[0], x0), x1), min(max(t[1], y0), y1),
                              min(max(t[2], x0), x1), min(max(t[3], y0), y1)]
                        ok = area(cl) > 0 and area(cl) >= fraction * area(t)
                    else:
                        cl, ok = t, x0 <= t[0] < x1 and y0 <= t[1] < y1
                    if valid[src, j] and ok:
                        out[i, k * n + j], kept[i, k * n + j] = cl, True
        elif m == CODE["resizemix"]:
            (q,) = [q for q in p.parts if isinstance(q, arraymix.ResizeMixParams)]
            (y0, x0), (y1, x1) = np.asarray(q.lower)[i], np.asarray(q.upper)[i]
            h, w = q.sizes
            partner = np.asarray(q.perm)[i]
            if boxes:
                own, own_ok = ref_paste_boxes(c64, valid, np.asarray(q.perm), q.lower, q.upper,
                                              fraction)
            else:
                own, own_ok = ref_paste_points(c64, valid, np.asarray(q.perm), q.lower,
                                               q.upper)
            out[i, :n], kept[i, :n] = own[i, :n], own_ok[i, :n]
            for j in range(n):
                t = c64[partner, j].reshape(-1, 2)
                moved = (np.asarray([x0, y0]) + t * [(x1 - x0) / w, (y1 - y0) / h]).ravel()
                ok = (area(moved) > 0 if boxes
                      else x0 <= moved[0] < x1 and y0 <= moved[1] < y1)
                if valid[partner, j] and ok:
                    out[i, n + j], kept[i, n + j] = moved, True
        else:  # CutMix, or left alone (an empty box)
            out[i, :2 * n], kept[i, :2 * n] = cut[i], cut_ok[i]
    return out, kept


@settings(max_examples=10, deadline=None)
@given(methods=method_maps(("mixup", "cutmix", "mosaic", "resizemix")),
       lam_mode=st.sampled_from(["batch", "sample"]), seed=SEEDS, batch=st.integers(2, 8),
       fraction=st.sampled_from([0.0, 0.25, 0.5]))
def test_boxes_and_points_follow_a_draw_with_mosaic_and_resizemix(backend, methods, lam_mode,
                                                                  seed, batch, fraction):
    """Each sample's boxes and points by its method, against float64
    references; the MixUp, CutMix and Mosaic slots exactly, the ResizeMix
    partner's scaled coordinates to float32 rounding."""
    gen = np.random.default_rng(seed)
    h, w = 24, 32
    p = make(methods, lam_mode, seed, 5).draw(batch, (h, w), xp=backend.xp,
                                               device=backend.device)
    boxes, valid = random_boxes(gen, batch, 3, h, w)
    points = np.floor(gen.random((batch, 4, 2)) * [w, h])
    pvalid = gen.random((batch, 4)) < 0.8
    got, kept = backend.call(arraymix.paste_boxes, backend.asarray(boxes.astype(np.float32)),
                             backend.asarray(valid), p, min_visible=fraction)
    q, qv = backend.call(arraymix.paste_points, backend.asarray(points.astype(np.float32)),
                         backend.asarray(pvalid), p)
    if not backend.has_values:
        return
    hp = host_draw(backend, p)
    for coords, flags, out, ok, frac in ((boxes, valid, got, kept, fraction),
                                         (points, pvalid, q, qv, 0.0)):
        want, want_ok = ref_family_coords(coords, flags, hp, frac)
        assert backend.numpy(out).shape == want.shape
        np.testing.assert_array_equal(backend.numpy(ok), want_ok)
        np.testing.assert_allclose(backend.numpy(out), want, rtol=0, atol=1e-4)
    # blend_boxes gives the same boxes (at its own min_visible) and weighs
    # each kept box of a CutMix, Mosaic or ResizeMix sample 1
    b, v, wts = backend.call(arraymix.blend_boxes, backend.asarray(boxes.astype(np.float32)),
                             backend.asarray(valid), p)
    b2, v2 = backend.call(arraymix.paste_boxes, backend.asarray(boxes.astype(np.float32)),
                          backend.asarray(valid), p)
    np.testing.assert_array_equal(backend.numpy(b), backend.numpy(b2))
    np.testing.assert_array_equal(backend.numpy(v), backend.numpy(v2))
    method, wts, v = hp.method, backend.numpy(wts), backend.numpy(v)
    whole = np.isin(method, [CODE["cutmix"], CODE["mosaic"], CODE["resizemix"]])
    np.testing.assert_array_equal(wts[whole], v[whole].astype(wts.dtype))
    assert (wts[~v] == 0).all()


def test_boxes_refuse_a_draw_with_masks_by_name():
    p = make({"mixup": 0.5, "fmix": 0.5}, "batch", 0, 5).draw(4, SIZES)
    while not p.parts:  # a batch draw of MixUp alone has no part to refuse
        p = make({"fmix": 1.0}, "batch", 0, 5).draw(4, SIZES)
    boxes, valid = np.zeros((4, 1, 4), np.float32), np.ones((4, 1), dtype=bool)
    with pytest.raises(TypeError, match=r"MaskParams.*leave fmix and patchmix out"):
        arraymix.paste_boxes(boxes, valid, p)
    with pytest.raises(TypeError, match=r"MaskParams.*points"):
        arraymix.paste_points(boxes[..., :2], valid, p)
    with pytest.raises(TypeError, match="MaskParams"):
        arraymix.blend_boxes(boxes, valid, p)
