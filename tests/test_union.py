"""union=True: multi-label targets combined by elementwise maximum, on every
backend, against a NumPy reference from the same draw."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import arraymix
from reference import ref_one_hot

SEEDS = st.integers(0, 2**32 - 1)


def ref_union(rows, lam, perm):
    lam = np.broadcast_to(np.asarray(lam, dtype=np.float64), (rows.shape[0],))
    lam = lam.reshape((-1,) + (1,) * (rows.ndim - 1))
    theirs = rows[perm]
    return np.where(lam >= 1, rows, np.where(lam <= 0, theirs, np.maximum(rows, theirs)))


@settings(max_examples=20)
@given(batch=st.integers(1, 12), classes=st.integers(1, 9), seed=SEEDS,
       method=st.sampled_from(["mixup", "cutmix"]), lam_mode=st.sampled_from(["batch", "sample"]),
       ids=st.booleans(), smoothing=st.sampled_from([0.0, 0.1]))
def test_union_equals_reference(backend, batch, classes, seed, method, lam_mode, ids, smoothing):
    gen = np.random.default_rng(seed)
    x = backend.asarray(gen.random((batch, 3, 6, 5), dtype=np.float32))
    if ids:
        y_np = gen.integers(0, classes, size=batch)
        rows = ref_one_hot(y_np, classes, smoothing)
        kw = {"num_classes": classes}
    else:
        y_np = (gen.random((batch, classes)) < 0.4).astype(np.float32)   # multi-hot
        rows = y_np.astype(np.float64)
        if smoothing:
            rows = (1 - smoothing) * rows + smoothing / classes
        kw = {}
    y = backend.asarray(y_np)
    call = arraymix.mixup if method == "mixup" else arraymix.cutmix
    _, got = backend.call(call, x, y, rng=seed, lam_mode=lam_mode, label_smoothing=smoothing,
                          union=True, **kw)
    assert tuple(got.shape) == (batch, classes)
    if not backend.has_values:
        return
    if method == "mixup":
        p = arraymix.sample_mixup(seed, batch, lam_mode=lam_mode)
    else:
        p = arraymix.sample_cutmix(seed, batch, (6, 5), lam_mode=lam_mode)
    lam = arraymix.sample_mixup(seed, batch, lam_mode=lam_mode, xp=backend.xp,
                                device=backend.device).lam if method == "mixup" else p.lam
    want = ref_union(rows, backend.numpy(lam) if method == "mixup" else lam, p.perm)
    np.testing.assert_allclose(backend.numpy(got), want, rtol=0, atol=1e-6)


def test_union_keeps_multi_hot_rows_binary():
    gen = np.random.default_rng(0)
    y = (gen.random((64, 20)) < 0.3).astype(np.float32)
    x = gen.random((64, 8), dtype=np.float32)
    _, got = arraymix.mixup(x, y, alpha=1.0, lam_mode="sample", rng=1, union=True)
    p = arraymix.sample_mixup(1, 64, alpha=1.0, lam_mode="sample")
    assert set(np.unique(got)) <= {0.0, 1.0}
    both = (p.lam > 0) & (p.lam < 1)
    np.testing.assert_array_equal(got[both], np.maximum(y, y[p.perm])[both])


def test_mixer_union_leaves_unmixed_samples_their_own_targets():
    gen = np.random.default_rng(2)
    batch, classes = 48, 12
    x = gen.random((batch, 3, 8, 8), dtype=np.float32) + np.arange(batch)[:, None, None, None]
    y = (gen.random((batch, classes)) < 0.3).astype(np.float32)
    mixer = arraymix.Mixer(prob=0.5, lam_mode="sample", label_smoothing=0.0, union=True, seed=3)
    xm, ym = mixer(x, y)
    untouched = (xm == x).reshape(batch, -1).all(axis=1)
    assert untouched.any()
    assert (~untouched).any()
    np.testing.assert_array_equal(ym[untouched], y[untouched])
    for i in np.flatnonzero(~untouched):  # the union with some partner, or the partner's own
        candidates = [np.maximum(y[i], y[j]) for j in range(batch)] + list(y)
        assert any(np.array_equal(ym[i], c) for c in candidates)


def test_mixer_state_without_union_still_loads():
    mixer = arraymix.Mixer(num_classes=5, seed=0)
    state = mixer.state_dict()
    del state["config"]["union"]                       # as saved before the setting existed
    arraymix.Mixer(num_classes=5).load_state_dict(state)
    with pytest.raises(ValueError, match="union"):
        arraymix.Mixer(num_classes=5, union=True).load_state_dict(state)


@pytest.mark.parametrize("call", [
    lambda: arraymix.mixup(np.zeros((2, 3)), np.zeros((2, 4)), union=1),
    lambda: arraymix.cutmix(np.zeros((2, 1, 4, 4)), union="yes"),
    lambda: arraymix.Mixer(union=None),
])
def test_union_must_be_a_bool(call):
    with pytest.raises(TypeError, match="union must be"):
        call()
