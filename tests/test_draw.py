"""A Mixer's draw: applied to the batch and the labels it equals the Mixer's
own output; applied to masks, boxes, points and the loss it follows each
sample's method. References in float64 NumPy, written here and in
test_detection."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import arraymix
from reference import ref_paste
from test_detection import random_boxes, ref_blend_boxes, ref_paste_boxes, ref_paste_points

SEEDS = st.integers(0, 2**32 - 1)
SETTINGS = st.fixed_dictionaries({
    "lam_mode": st.sampled_from(["batch", "sample", "pair"]),
    "prob": st.sampled_from([1.0, 0.6, 0.0]),
    "switch_prob": st.sampled_from([0.0, 0.5, 1.0]),
    "mixup_alpha": st.sampled_from([0.0, 0.4]),
    "cutmix_alpha": st.sampled_from([0.0, 1.0]),
    "cutmix_minmax": st.none() | st.just((0.2, 0.8)),
})


def mixer_pair(settings_, seed, classes=6):
    kw = dict(settings_)
    if kw["lam_mode"] == "pair":
        kw["pairing"] = "flip"
    if kw["mixup_alpha"] == 0 and kw["cutmix_alpha"] == 0 and kw["cutmix_minmax"] is None:
        kw["mixup_alpha"] = 0.4
    make = lambda: arraymix.Mixer(num_classes=classes, label_smoothing=0.1, seed=seed, **kw)  # noqa: E731
    return make(), make()


@settings(max_examples=25)
@given(settings_=SETTINGS, seed=SEEDS, batch=st.integers(1, 9))
def test_draw_applied_equals_the_mixer(backend, settings_, seed, batch):
    if backend.jit:
        pytest.skip("a Mixer draws on the host: it refuses a jax.jit trace")
    mixer, twin = mixer_pair(settings_, seed)
    gen = np.random.default_rng(seed)
    x = backend.asarray(gen.random((batch, 3, 7, 6), dtype=np.float32))
    y = backend.asarray(gen.integers(0, 6, size=batch))
    for _ in range(2):  # two calls: the stream stays in step
        xm, ym = mixer(x, y)
        p = twin.draw(batch, (7, 6), xp=backend.xp, device=backend.device)
        got_x = arraymix.mix(x, p)
        got_y = arraymix.blend(arraymix.one_hot(y, 6, smoothing=0.1), p)
        assert tuple(p.method.shape) == (batch,)
        if not backend.has_values:
            continue
        np.testing.assert_allclose(backend.numpy(got_x), backend.numpy(xm), rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(backend.numpy(got_y), backend.numpy(ym), rtol=1e-6, atol=1e-7)
        method = backend.numpy(p.method)
        lam, blend_lam = backend.numpy(p.lam), backend.numpy(p.blend_lam)
        low, high = backend.numpy(p.lower), backend.numpy(p.upper)
        empty = (high - low).prod(axis=1) == 0
        assert (blend_lam[method != 1] == 1).all()
        assert empty[method != 2].all()
        assert (lam[method == 0] == 1).all()


def test_draw_drives_image_mask_boxes_points_and_labels():
    gen = np.random.default_rng(0)
    batch, h, w = 12, 24, 32
    mixer = arraymix.Mixer(num_classes=5, lam_mode="sample", switch_prob=0.5, prob=0.8, seed=1)
    p = mixer.draw(batch, (h, w))
    method, perm = p.method, p.perm
    assert set(np.unique(method)) == {0, 1, 2}
    ids = np.broadcast_to(np.arange(batch)[:, None, None], (batch, h, w))
    image_source = arraymix.mix(np.ascontiguousarray(ids).astype(np.float64)[:, None], p)[:, 0]
    masks = gen.integers(0, 21, size=(batch, h, w))
    m = arraymix.paste(masks, p, axes=(1, 2))
    np.testing.assert_array_equal(m, ref_paste(masks, perm, p.lower, p.upper, (1, 2)))
    for i in np.flatnonzero(method == 2):  # a CutMix pixel's class comes with its pixel
        from_partner = image_source[i] == perm[i]
        np.testing.assert_array_equal(m[i][from_partner], masks[perm[i]][from_partner])

    boxes, valid = random_boxes(gen, batch, 3, h, w)
    b, v, wts = arraymix.blend_boxes(boxes.astype(np.float32), valid, p)
    cut_b, cut_v = ref_paste_boxes(boxes, valid, perm, p.lower, p.upper, 0.1)
    mix_b, mix_v, mix_w = ref_blend_boxes(boxes, valid, perm, p.blend_lam)
    for i in range(batch):
        if method[i] == 1:
            want_b, want_v, want_w = mix_b[i], mix_v[i], mix_w[i]
        else:
            want_b, want_v, want_w = cut_b[i], cut_v[i], cut_v[i].astype(float)
        np.testing.assert_array_equal(v[i], want_v)
        np.testing.assert_array_equal(b[i], want_b)
        np.testing.assert_allclose(wts[i], want_w, atol=1e-7)
    b2, v2 = arraymix.paste_boxes(boxes.astype(np.float32), valid, p)
    np.testing.assert_array_equal(b2, b)
    np.testing.assert_array_equal(v2, v)

    points = np.floor(gen.random((batch, 4, 2)) * [w, h])
    pvalid = gen.random((batch, 4)) < 0.8
    q, qv = arraymix.paste_points(points, pvalid, p)
    cut_q, cut_qv = ref_paste_points(points, pvalid, perm, p.lower, p.upper)
    for i in range(batch):
        if method[i] == 1:  # both images seen: every valid point of both
            want_v = np.concatenate([pvalid[i], pvalid[perm[i]]])
            want_q = np.concatenate([points[i], points[perm[i]]]) * want_v[:, None]
        else:
            want_v, want_q = cut_qv[i], cut_q[i]
        np.testing.assert_array_equal(qv[i], want_v)
        np.testing.assert_array_equal(q[i], want_q)

    labels = gen.integers(0, 5, size=batch)
    logits = gen.normal(size=(batch, 5))
    targets = arraymix.blend(arraymix.one_hot(labels, 5), p)
    log_p = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    np.testing.assert_allclose(arraymix.mixed_cross_entropy(logits, labels, p, reduction="none"),
                               -(targets * log_p).sum(1), rtol=1e-10)


def test_draw_in_the_segmentation_loss():
    gen = np.random.default_rng(3)
    batch, classes, h, w = 10, 4, 6, 8
    p = arraymix.Mixer(lam_mode="sample", seed=2).draw(batch, (h, w))
    labels = gen.integers(0, classes, size=(batch, h, w))
    logits = gen.normal(size=(batch, classes, h, w))
    got = arraymix.mixed_cross_entropy(logits, labels, p, axis=1, reduction="none")
    log_p = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    pasted = ref_paste(labels, p.perm, p.lower, p.upper, (1, 2))
    own = -np.take_along_axis(log_p, pasted[:, None], 1)[:, 0]
    theirs = -np.take_along_axis(log_p, labels[p.perm][:, None], 1)[:, 0]
    lam = p.blend_lam[:, None, None]
    np.testing.assert_allclose(got, lam * own + (1 - lam) * theirs, rtol=1e-10)


def test_draw_under_jax_jit():
    jax = pytest.importorskip("jax", reason="jax is not installed")
    import jax.numpy as jnp

    mixer = arraymix.Mixer(lam_mode="sample", seed=0)
    p = mixer.draw(6, (8, 8), xp=jnp)
    x = jnp.ones((6, 3, 8, 8)) * jnp.arange(6.0)[:, None, None, None]
    got = jax.jit(arraymix.mix)(x, p)        # the draw is a pytree, its grid static
    np.testing.assert_allclose(np.asarray(got), np.asarray(arraymix.mix(x, p)))


def test_draw_without_cutmix_needs_no_sizes():
    p = arraymix.Mixer(cutmix_alpha=0.0, lam_mode="sample", seed=0).draw(4)
    assert p.lower.shape == (4, 0)
    assert p.sizes is None
    x = np.random.default_rng(0).random((4, 5), dtype=np.float32)
    assert arraymix.mix(x, p).shape == (4, 5)


@pytest.mark.parametrize(("call", "error", "match"), [
    (lambda m: m.draw(4), ValueError, "this Mixer may run CutMix"),
    (lambda m: m.draw(4, 8), TypeError, "sizes must be a sequence"),
    (lambda m: m.draw(4, (8, 8, 8, 8)), ValueError, "sizes must name one to three cut axes"),
    (lambda m: m.draw(-1, (8, 8)), ValueError, "batch_size"),
    (lambda m: m.draw(4, (8, 8), xp="numpy"), TypeError, "xp must be an array library"),
])
def test_draw_bad_input(call, error, match):
    with pytest.raises(error, match=match):
        call(arraymix.Mixer(seed=0))
