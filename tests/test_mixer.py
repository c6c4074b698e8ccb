"""Mixer: the method switch, prob applied once, labels, and a resumable stream."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

import arraymix
from arraymix._backends.tuning import tuned
from reference import check_like, ref_one_hot

B, C = 9, 9  # sample i has class i, so its label row tells its λ; flip pairs i and 8-i


def _classify(x: np.ndarray, out: np.ndarray, y: np.ndarray, smoothing: float) -> list[str]:
    """What happened to each sample, read off the output alone (pairing flip).

    MixUp: every element is λ·x_i + (1−λ)·x_j with λ from the label row.
    CutMix: every element is x_i or x_j, and the x_j ones are a fraction 1−λ.
    """
    kinds = []
    for i in range(B):
        j = B - 1 - i
        if i == j:
            continue
        off = smoothing / C
        lam = (y[i, i] - off) / (1 - smoothing)
        if np.allclose(out[i], x[i]) and np.isclose(lam, 1):
            kinds.append("none")
        elif np.allclose(out[i], lam * x[i] + (1 - lam) * x[j], atol=1e-5):
            kinds.append("mixup")
        else:
            from_j = np.isclose(out[i], x[j]) & ~np.isclose(x[i], x[j])
            assert np.all(np.isclose(out[i], x[i]) | from_j), f"sample {i} is neither"
            assert np.isclose(from_j.mean(), 1 - lam, atol=1e-6), f"sample {i}: λ is not kept"
            kinds.append("cutmix")
    return kinds


def _pairs_agree(x: np.ndarray, out: np.ndarray, y: np.ndarray) -> list[str]:
    """Pair mode (pairing flip, no smoothing): partners ``i`` and ``j`` share
    the method and λ, and CutMix partners swap one region."""
    kinds = _classify(x, out, y, 0.0)
    for i in range(B // 2):
        j = B - 1 - i
        assert kinds[i] == kinds[-1 - i], f"pair {i}, {j}: {kinds[i]} and {kinds[-1 - i]}"
        np.testing.assert_allclose(y[i, i], y[j, j], atol=1e-6)
        np.testing.assert_allclose(y[i, j], y[j, i], atol=1e-6)
        if kinds[i] == "cutmix":
            np.testing.assert_array_equal(out[i] != x[i], out[j] != x[j])
    return kinds[:B // 2]


@pytest.mark.parametrize("lam_mode", ["batch", "sample", "pair"])
def test_mixer_on_every_backend(backend, lam_mode):
    gen = np.random.default_rng(0)
    xnp = gen.normal(size=(B, 2, 6, 6)).astype(np.float32)
    mixer = arraymix.Mixer(num_classes=C, lam_mode=lam_mode, pairing="flip", prob=0.7,
                           label_smoothing=0.1, seed=1)
    x, y = backend.asarray(xnp), backend.asarray(np.arange(B))
    for _ in range(4):
        out, ym = mixer(x, y)
        check_like(backend, out, xnp.shape, x.dtype)
        check_like(backend, ym, (B, C), backend.xp.float32)
        if backend.has_values:
            yv = backend.numpy(ym)
            np.testing.assert_allclose(yv.sum(1), 1, atol=1e-5)
            _classify(xnp, backend.numpy(out), yv, 0.1)
            np.testing.assert_array_equal(backend.numpy(x), xnp)
    if lam_mode == "pair" and backend.has_values:
        plain = arraymix.Mixer(num_classes=C, lam_mode="pair", pairing="flip", prob=0.7,
                               label_smoothing=0.0, seed=1)
        seen = set()
        for _ in range(6):
            out, ym = plain(x, y)
            seen |= set(_pairs_agree(xnp, backend.numpy(out), backend.numpy(ym)))
        assert seen == {"none", "mixup", "cutmix"}


@settings(max_examples=12, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), lam_mode=st.sampled_from(["batch", "sample", "pair"]),
       prob=st.sampled_from([0.0, 0.5, 1.0]), switch_prob=st.floats(0.0, 1.0),
       big=st.booleans(), minmax=st.none() | st.just((0.2, 0.9)))
def test_mixer_out_and_in_place_equal_the_new_batch(backend, seed, lam_mode, prob,
                                                     switch_prob, big, minmax):
    """``out=`` a buffer and ``out=x`` give the Mixer's own result, from the same
    stream; samples over the host walk's threshold (``big``) take the
    cycle-by-cycle in-place paths; boxes from λ or from ``cutmix_minmax``."""
    shape = (B, 3, 128, 96) if big else (B, 2, 6, 6)
    xnp = np.random.default_rng(seed).normal(size=shape).astype(np.float32)
    x, y = backend.asarray(xnp), backend.asarray(np.arange(B))

    def mixer():
        return arraymix.Mixer(num_classes=C, lam_mode=lam_mode, pairing="flip", prob=prob,
                              switch_prob=switch_prob, label_smoothing=0.0,
                              cutmix_minmax=minmax, seed=seed)

    want, ywant = mixer()(x, y)
    if not arraymix._compat.is_writeable_array(x):
        with pytest.raises(TypeError, match="donate_argnums"):
            mixer()(x, y, out=x)
        return
    buffer = backend.asarray(np.zeros(shape, np.float32))
    into, yinto = mixer()(x, y, out=buffer)
    assert into is buffer
    same = backend.asarray(xnp)
    in_place, yin = mixer()(same, y, out=same)
    assert in_place is same
    for got, ygot in ((into, yinto), (in_place, yin)):
        check_like(backend, got, shape, x.dtype)
        if backend.has_values:
            np.testing.assert_array_equal(backend.numpy(got), backend.numpy(want))
            np.testing.assert_array_equal(backend.numpy(ygot), backend.numpy(ywant))
    if backend.has_values:
        np.testing.assert_array_equal(backend.numpy(x), xnp)  # read, never written
        if not big:  # (a big sample may hold two values np.isclose takes for one)
            _classify(xnp, backend.numpy(in_place), backend.numpy(yin), 0.0)


def test_prob_zero_returns_batch_untouched_with_smoothed_labels():
    x = np.random.default_rng(0).normal(size=(B, 3, 4, 4))
    mixer = arraymix.Mixer(num_classes=C, prob=0.0, label_smoothing=0.2, seed=0)
    out, y = mixer(x, np.arange(B))
    np.testing.assert_array_equal(out, x)
    np.testing.assert_allclose(y, ref_one_hot(np.arange(B), C, 0.2))


@pytest.mark.parametrize("lam_mode", ["batch", "sample", "pair"])
@pytest.mark.parametrize(("switch_prob", "only"), [(0.0, "mixup"), (1.0, "cutmix")])
def test_switch_prob_extremes(lam_mode, switch_prob, only):
    x = np.random.default_rng(1).normal(size=(B, 1, 8, 8))
    mixer = arraymix.Mixer(num_classes=C, switch_prob=switch_prob, lam_mode=lam_mode,
                           pairing="flip", label_smoothing=0.0, seed=2)
    seen = set()
    for _ in range(20):
        out, y = mixer(x, np.arange(B))
        seen |= set(_classify(x, out, y, 0.0))
    assert seen <= {only, "none"}
    assert only in seen


@pytest.mark.parametrize("alphas", [(0.0, 1.0), (1.0, 0.0)])
def test_alpha_zero_turns_a_method_off(alphas):
    x = np.random.default_rng(1).normal(size=(B, 1, 8, 8))
    mixer = arraymix.Mixer(mixup_alpha=alphas[0], cutmix_alpha=alphas[1], num_classes=C,
                           pairing="flip", label_smoothing=0.0, lam_mode="sample", seed=3)
    kinds = set()
    for _ in range(10):
        out, y = mixer(x, np.arange(B))
        kinds |= set(_classify(x, out, y, 0.0))
    assert kinds <= {"mixup" if alphas[0] else "cutmix", "none"}


@pytest.mark.parametrize("lam_mode", ["batch", "sample", "pair"])
def test_observed_methods_match_prob_and_switch_prob(lam_mode):
    prob, switch = 0.6, 0.3
    x = np.random.default_rng(5).normal(size=(B, 1, 16, 16))
    mixer = arraymix.Mixer(num_classes=C, prob=prob, switch_prob=switch, lam_mode=lam_mode,
                           pairing="flip", label_smoothing=0.0, mixup_alpha=1.0, seed=7)
    calls = {"batch": 300, "sample": 80, "pair": 160}[lam_mode]
    counts = {"none": 0, "mixup": 0, "cutmix": 0}
    for _ in range(calls):
        out, y = mixer(x, np.arange(B))
        kinds = _classify(x, out, y, 0.0)
        if lam_mode == "batch":
            # one decision per batch: every sample shows the same method,
            # except that a CutMix box may miss a sample entirely
            kinds = ["cutmix"] if "cutmix" in kinds else kinds[:1]
        elif lam_mode == "pair":  # one decision per pair, the same for both
            kinds = _pairs_agree(x, out, y)
        for k in kinds:
            counts[k] += 1
    n = sum(counts.values())
    # a "none" can also be a MixUp with λ = 1 or an empty CutMix box: rare here
    assert stats.binomtest(counts["none"], n, 1 - prob).pvalue > 1e-3, counts
    mixed = counts["mixup"] + counts["cutmix"]
    assert stats.binomtest(counts["cutmix"], mixed, switch).pvalue > 1e-3, counts


def test_state_dict_and_pickle_continue_the_stream():
    x = np.random.default_rng(0).normal(size=(B, 3, 8, 8)).astype(np.float32)
    y = np.arange(B)
    for lam_mode in ("batch", "sample"):
        mixer = arraymix.Mixer(num_classes=C, lam_mode=lam_mode, seed=11)
        mixer(x, y)
        state = json.loads(json.dumps(mixer.state_dict()))  # plain data
        copy = pickle.loads(pickle.dumps(mixer))
        expected = [mixer(x, y) for _ in range(5)]
        resumed = arraymix.Mixer(num_classes=C, lam_mode=lam_mode, seed=999)
        resumed.load_state_dict(state)
        for got in ([resumed(x, y) for _ in range(5)], [copy(x, y) for _ in range(5)]):
            for (a, b), (c, d) in zip(got, expected, strict=True):
                np.testing.assert_array_equal(a, c)
                np.testing.assert_array_equal(b, d)


def test_same_seed_same_stream_and_none_seed_differs():
    x = np.random.default_rng(0).normal(size=(B, 3, 8, 8))
    a = arraymix.Mixer(num_classes=C, seed=4)(x, np.arange(B))[0]
    b = arraymix.Mixer(num_classes=C, seed=4)(x, np.arange(B))[0]
    np.testing.assert_array_equal(a, b)
    c = arraymix.Mixer(num_classes=C)(x, np.arange(B))[0]
    d = arraymix.Mixer(num_classes=C)(x, np.arange(B))[0]
    assert not np.array_equal(c, d)


def test_layouts_and_uint8():
    gen = np.random.default_rng(2)
    nhwc = gen.integers(0, 256, size=(7, 10, 12, 3)).astype(np.uint8)
    audio = gen.normal(size=(5, 2, 400)).astype(np.float32)
    out, y = arraymix.Mixer(num_classes=3, cutmix_axes=(1, 2), seed=0, switch_prob=1.0)(
        nhwc, np.arange(7) % 3)
    assert out.dtype == np.uint8
    assert out.shape == nhwc.shape
    # CutMix copies whole pixels: every output pixel is one of the inputs' pixels
    flat_in = {tuple(p) for p in nhwc.reshape(-1, 3).tolist()}
    assert {tuple(p) for p in out.reshape(-1, 3).tolist()} <= flat_in
    out, y = arraymix.Mixer(num_classes=4, cutmix_axes=(-1,), seed=0, lam_mode="sample")(
        audio, np.arange(5) % 4)
    assert out.shape == audio.shape
    assert y.shape == (5, 4)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"mixup_alpha": -1.0}, ValueError, "mixup_alpha"),
        ({"cutmix_alpha": float("nan")}, ValueError, "cutmix_alpha"),
        ({"mixup_alpha": 0.0, "cutmix_alpha": 0.0}, ValueError, "both 0"),
        ({"prob": 1.5}, ValueError, "prob"),
        ({"switch_prob": -0.1}, ValueError, "switch_prob"),
        ({"lam_mode": "elem"}, ValueError, "lam_mode"),
        ({"lam_mode": "pair", "pairing": "permute"}, ValueError,
         r"lam_mode='pair' .* needs .* pairing='flip'"),
        ({"pairing": "random"}, ValueError, "pairing"),
        ({"label_smoothing": 1.0}, ValueError, "label_smoothing"),
        ({"num_classes": 0}, ValueError, "num_classes"),
        ({"cutmix_axes": (0, 1)}, ValueError, "cutmix_axes"),
        ({"cutmix_axes": (2, 2)}, ValueError, "cutmix_axes"),
        ({"cutmix_axes": "hw"}, TypeError, "cutmix_axes"),
        ({"seed": -1}, ValueError, "seed"),
        ({"correct_lam": "yes"}, TypeError, "correct_lam"),
        ({"cutmix_minmax": (0.9, 0.1)}, ValueError, "cutmix_minmax must have min <= max"),
        ({"cutmix_minmax": 0.5}, TypeError, "cutmix_minmax must be None or a pair"),
        ({"cutmix_minmax": (0.2, 0.8), "correct_lam": False}, ValueError,
         "boxes drawn from cutmix_minmax have no λ₀"),
    ],
)
def test_bad_configuration(kwargs, error, match):
    with pytest.raises(error, match=match):
        arraymix.Mixer(**kwargs)
    if "seed" in kwargs or len(kwargs) > 1:
        return
    # a setting changed later is checked as at construction, and left as it was
    mixer = arraymix.Mixer(num_classes=3)
    before = mixer.state_dict()
    (name, value), = kwargs.items()
    with pytest.raises(error, match=match):
        setattr(mixer, name, value)
    assert mixer.state_dict() == before


def test_settings_changed_between_calls_take_effect():
    """timm stops mixing for the last epochs with ``mixup_enabled = False``:
    here ``prob = 0``; a name that is no setting is refused, not ignored."""
    x = np.random.default_rng(0).normal(size=(B, 3, 4, 4))
    mixer = arraymix.Mixer(num_classes=C, label_smoothing=0.2, seed=0)
    assert not np.array_equal(mixer(x, np.arange(B))[0], x)
    with pytest.raises(AttributeError, match=r"mixup_enabled = False: set prob = 0"):
        mixer.mixup_enabled = False
    mixer.prob = 0
    out, y = mixer(x, np.arange(B))
    np.testing.assert_array_equal(out, x)
    np.testing.assert_allclose(y, ref_one_hot(np.arange(B), C, 0.2))
    assert "prob=0.0" in repr(mixer)
    mixer.prob, mixer.mixup_alpha, mixer.cutmix_alpha = 1.0, 0.0, 0.0
    with pytest.raises(ValueError, match="both 0"):
        mixer(x, np.arange(B))
    mixer.cutmix_axes = -1  # one axis, as at construction
    assert mixer.cutmix_axes == (-1,)
    mixer.cutmix_axes = (np.int64(1), np.int64(2))  # NumPy ints, as cutmix takes them
    assert mixer.cutmix_axes == (1, 2)


    class Scheduled(arraymix.Mixer):
        """A subclass keeps attributes of its own; its settings are checked."""

        def __init__(self, **kw):
            super().__init__(**kw)
            self.epoch = 0

    scheduled = Scheduled(num_classes=C, seed=0)
    scheduled.epoch = 3
    with pytest.raises(ValueError, match="prob"):
        scheduled.prob = 1.5


@pytest.mark.parametrize("lam_mode", ["batch", "sample"])
def test_cutmix_minmax_turns_cutmix_on_and_sets_the_sides(lam_mode):
    """As in timm, ``cutmix_minmax`` turns CutMix on even with
    ``cutmix_alpha=0``, and every box side is one of the lengths it allows
    (``int(n * lo)`` up to ``int(n * hi)``, excluded), its label weight the
    kept fraction."""
    x = np.random.default_rng(1).normal(size=(B, 1, 20, 10))
    mixer = arraymix.Mixer(mixup_alpha=0.0, cutmix_alpha=0.0, cutmix_minmax=(0.3, 0.7),
                           num_classes=C, pairing="flip", label_smoothing=0.0,
                           lam_mode=lam_mode, seed=3)
    kinds, heights, widths = set(), set(), set()
    for _ in range(120):
        out, y = mixer(x, np.arange(B))
        kinds |= set(_classify(x, out, y, 0.0))
        for i in range(B):
            rows, cols = np.nonzero(out[i, 0] != x[i, 0])
            if rows.size:  # the box's extent (the partner differs everywhere)
                heights.add(int(rows.max() - rows.min() + 1))
                widths.add(int(cols.max() - cols.min() + 1))
    assert kinds == {"cutmix"}
    assert heights == set(range(6, 14))
    assert widths == set(range(3, 7))
    # both methods on: the switch still picks between them
    mixer.mixup_alpha = 1.0
    seen = set()
    for _ in range(40):
        out, y = mixer(x, np.arange(B))
        seen |= set(_classify(x, out, y, 0.0))
    assert {"mixup", "cutmix"} <= seen


def test_cutmix_minmax_in_state_and_checked_with_correct_lam():
    mixer = arraymix.Mixer(num_classes=3, cutmix_minmax=(0.25, 0.75), seed=0)
    state = mixer.state_dict()
    assert state["config"]["cutmix_minmax"] == [0.25, 0.75]
    assert "cutmix_minmax=[0.25, 0.75]" in repr(mixer)
    json.dumps(state)
    with pytest.raises(ValueError, match=r"differs in: cutmix_minmax"):
        arraymix.Mixer(num_classes=3).load_state_dict(state)
    # a state saved before the setting existed loads into a Mixer without it
    plain = arraymix.Mixer(num_classes=3, seed=1)
    old = plain.state_dict()
    del old["config"]["cutmix_minmax"]
    resumed = arraymix.Mixer(num_classes=3)
    resumed.load_state_dict(old)
    x, ids = np.arange(432.0).reshape(4, 3, 6, 6), np.asarray([0, 1, 2, 0])
    np.testing.assert_array_equal(resumed(x, ids)[0], plain(x, ids)[0])
    # correct_lam=False set later is refused at the next call, before any draw
    mixer.correct_lam = False
    with pytest.raises(ValueError, match="cutmix_minmax have no λ₀"):
        mixer(x, ids)
    assert mixer.state_dict()["rng"] == state["rng"]


def test_pair_mode_needs_flip_when_called():
    """lam_mode and pairing may change one at a time; the pair needs flip at
    the next call, refused before any draw."""
    x, ids = np.arange(432.0).reshape(4, 3, 6, 6), np.arange(4)
    mixer = arraymix.Mixer(num_classes=4, label_smoothing=0.0, seed=0)
    mixer.lam_mode = "pair"
    state = mixer.state_dict()
    with pytest.raises(ValueError, match="got pairing='permute'"):
        mixer(x, ids)
    assert mixer.state_dict() == state
    mixer.pairing = "flip"
    _out, y = mixer(x, ids)
    # samples 0 and 3 are partners: one λ, each weighing the other's class by 1 − λ
    np.testing.assert_allclose([y[3, 3], y[3, 0]], [y[0, 0], y[0, 3]])
    assert 0 < y[0, 3] < 1
    assert "lam_mode='pair'" in repr(mixer)


def test_pair_mode_inside_groups():
    """With groups, flip pairs inside each group, and so does the sharing."""
    x = np.random.default_rng(0).normal(size=(8, 1, 6, 6))
    mixer = arraymix.Mixer(num_classes=8, lam_mode="pair", pairing="flip", groups=2,
                           label_smoothing=0.0, seed=3)
    for _ in range(5):
        _out, y = mixer(x, np.arange(8))
        for i, j in ((0, 3), (1, 2), (4, 7), (5, 6)):
            np.testing.assert_allclose([y[j, j], y[j, i]], [y[i, i], y[i, j]])
            np.testing.assert_allclose(y[i, i] + y[i, j], 1.0)


def test_both_alphas_zero_is_fine_when_prob_is_zero():
    out, _y = arraymix.Mixer(mixup_alpha=0, cutmix_alpha=0, prob=0, num_classes=2)(
        np.ones((2, 3)), np.asarray([0, 1]))
    np.testing.assert_array_equal(out, np.ones((2, 3)))


def test_state_from_another_configuration_is_refused():
    state = arraymix.Mixer(num_classes=10, prob=0.5).state_dict()
    with pytest.raises(ValueError, match=r"another configuration \(differs in: prob\)"):
        arraymix.Mixer(num_classes=10).load_state_dict(state)
    with pytest.raises(ValueError, match="state must be a dict"):
        arraymix.Mixer(num_classes=10).load_state_dict({"rng": 1})


@pytest.mark.parametrize("part", ["config", "rng"])
@pytest.mark.parametrize("value", [None, "pcg64", 3, [], {}, {"bit_generator": "MT19937"}])
def test_a_corrupt_state_is_refused_and_the_stream_kept(part, value):
    """A state whose parts are not what state_dict() wrote (a hand-edited or
    truncated checkpoint) raises a ValueError naming it, and the Mixer goes
    on with its own stream."""
    mixer, twin = arraymix.Mixer(num_classes=3, seed=4), arraymix.Mixer(num_classes=3, seed=4)
    state = {**mixer.state_dict(), part: value}
    if part == "rng":
        match = r"state\['rng'\] must be the NumPy PCG64 state"
    else:
        match = "another configuration" if isinstance(value, dict) else "state must be a dict"
    with pytest.raises(ValueError, match=match):
        mixer.load_state_dict(state)
    x, ids = np.arange(432.0).reshape(4, 3, 6, 6), np.asarray([0, 1, 2, 0])
    np.testing.assert_array_equal(mixer(x, ids)[0], twin(x, ids)[0])


def test_cutmix_axes_out_of_range_for_the_batch():
    with pytest.raises(ValueError, match="cutmix_axes"):
        arraymix.Mixer(num_classes=2, cutmix_axes=(3, 4))(np.ones((2, 3, 4)), np.asarray([0, 1]))


def test_seeds_are_not_lengths():
    """Seeds may be as large as NumPy's SeedSequence takes (beyond 2**63),
    where counts and lengths stop at a signed 64-bit size."""
    x, ids = np.arange(432.0).reshape(4, 3, 6, 6), np.asarray([0, 1, 2, 0])
    for seed in (2**100, (2**70, 3)):
        a, b = arraymix.Mixer(num_classes=3, seed=seed), arraymix.Mixer(num_classes=3, seed=seed)
        np.testing.assert_array_equal(a(x, ids)[1], b(x, ids)[1])


@pytest.mark.parametrize(("mode", "lam_mode"), [("batch", "batch"), ("elem", "sample"),
                                                ("pair", "pair")])
def test_from_timm_is_the_same_recipe(mode, lam_mode):
    args = {"mixup_alpha": 0.8, "cutmix_alpha": 1.0, "cutmix_minmax": None, "prob": 0.9,
            "switch_prob": 0.4, "mode": mode, "correct_lam": True, "label_smoothing": 0.2,
            "num_classes": 7}
    ours = arraymix.Mixer.from_timm(**args, seed=3)
    same = arraymix.Mixer(mixup_alpha=0.8, cutmix_alpha=1.0, prob=0.9, switch_prob=0.4,
                          lam_mode=lam_mode, pairing="flip", correct_lam=True,
                          label_smoothing=0.2, num_classes=7, seed=3)
    x = np.random.default_rng(0).random((9, 3, 8, 8), dtype=np.float32)   # odd works
    for _ in range(3):
        a, b = ours(x, np.arange(9) % 7), same(x, np.arange(9) % 7)
        np.testing.assert_array_equal(a[0], b[0])
        np.testing.assert_array_equal(a[1], b[1])


def test_from_timm_defaults_are_timms():
    mixer = arraymix.Mixer.from_timm()
    assert (mixer.mixup_alpha, mixer.cutmix_alpha, mixer.prob, mixer.lam_mode,
            mixer.label_smoothing, mixer.num_classes) == (1.0, 0.0, 1.0, "batch", 0.1, 1000)


def test_from_timm_takes_timms_arguments_and_defaults():
    mixup = pytest.importorskip("timm.data", reason="timm is not installed").Mixup
    import inspect

    theirs = {k: v.default for k, v in inspect.signature(mixup).parameters.items()}
    ours = {k: v.default for k, v in inspect.signature(arraymix.Mixer.from_timm).parameters.items()
            if k != "seed"}
    assert ours == theirs


def test_from_timm_multi_label_mixes_dense_targets_by_weight():
    """timm's multi_label: dense (B, C) multi-hot targets blended with the
    images' λ and partners (the float64 reference from the twin's draw)."""
    gen = np.random.default_rng(5)
    x = gen.random((6, 3, 8, 8), dtype=np.float32)
    y = (gen.random((6, 4)) < 0.4).astype(np.float32)
    ours = arraymix.Mixer.from_timm(mixup_alpha=0.5, cutmix_alpha=1.0, mode="elem",
                                    label_smoothing=0.0, num_classes=4, multi_label=True,
                                    seed=2)
    twin = arraymix.Mixer.from_timm(mixup_alpha=0.5, cutmix_alpha=1.0, mode="elem",
                                    label_smoothing=0.0, num_classes=4, seed=2)
    p = twin.draw(6, (8, 8))
    lam, perm = np.asarray(p.lam, dtype=np.float64), np.asarray(p.perm)
    _, got = ours(x, y)
    np.testing.assert_allclose(got, lam[:, None] * y + (1 - lam[:, None]) * y[perm], atol=1e-6)
    with pytest.raises(ValueError, match=r"multi_label=True needs label_smoothing=0"):
        arraymix.Mixer.from_timm(multi_label=True)  # timm's default smoothing, towards 0.5


def test_from_timm_refuses_what_timm_refuses():
    with pytest.raises(ValueError, match="mode must be one of"):
        arraymix.Mixer.from_timm(mode="elementwise")
    with pytest.raises(TypeError):
        arraymix.Mixer.from_timm(lam_mode="sample")  # not one of timm's arguments


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
@pytest.mark.parametrize("walk", [False, True])
@pytest.mark.parametrize("apply", ["call", "mix"])
def test_samples_not_blended_keep_their_values_beside_partners_not_finite(backend, apply,
                                                                          walk):
    """Per sample, a sample the draw leaves alone is its own, and a CutMix
    sample is its own outside the box, even where the partner is inf or NaN
    (a blend with weight 1 would give 0·inf = NaN there); MixUp samples
    follow the float64 formula. The Mixer's call and ``mix`` of its draw,
    on the host walk (which copies those samples itself) and off it."""
    gen = np.random.default_rng(5)
    xnp = gen.normal(size=(B, 2, 6, 6)).astype(np.float32)
    xnp[::2, :, 0, 0] = np.inf
    xnp[1::3, 1, 2, 3] = -np.inf
    xnp[2::3, 0, 4, 4] = np.nan
    kw = {"mixup_alpha": 1.0, "cutmix_alpha": 1.0, "lam_mode": "sample", "prob": 0.7,
          "seed": 11}
    p = arraymix.Mixer(**kw).draw(B, (6, 6))
    method = np.asarray(p.method)
    assert {0, 1, 2} <= set(method.tolist())  # every case is met by this seed
    x = backend.asarray(xnp)
    with tuned(walk_min_sample=1 if walk else 1 << 15):
        if apply == "call":
            out, _ = arraymix.Mixer(**kw)(x)
        else:
            dev = arraymix._compat.device(x)
            out = arraymix.mix(x, arraymix.Mixer(**kw).draw(B, (6, 6), xp=backend.xp,
                                                            device=dev))
    check_like(backend, out, xnp.shape, x.dtype)
    if not backend.has_values:
        return
    got = backend.numpy(out)
    perm, lam = np.asarray(p.perm), np.asarray(p.blend_lam, dtype=np.float64)
    lower, upper = np.asarray(p.lower), np.asarray(p.upper)
    for i in range(B):
        want = xnp[i].copy()
        if method[i] == 1:  # where finite: torch's lerp makes NaN of inf + w·(b − inf)
            with np.errstate(invalid="ignore"):
                want = lam[i] * xnp[i].astype(np.float64) + (1 - lam[i]) * xnp[perm[i]]
            finite = np.isfinite(want)
            np.testing.assert_allclose(got[i][finite], want[finite], rtol=1e-6, atol=1e-6)
            continue
        if method[i] == 2:
            box = (slice(None), slice(lower[i, 0], upper[i, 0]), slice(lower[i, 1], upper[i, 1]))
            want[box] = xnp[perm[i]][box]
        np.testing.assert_array_equal(got[i], want, err_msg=f"sample {i}, method {method[i]}")


def test_samples_not_blended_keep_64_bit_integers():
    """int64 values past 2**53 (which float64 rounds) in samples left alone."""
    x = np.random.default_rng(2).integers(2**60, 2**62, size=(B, 1, 4, 4), dtype=np.int64)
    kw = {"mixup_alpha": 1.0, "cutmix_alpha": 1.0, "lam_mode": "sample", "prob": 0.5,
          "seed": 4}
    method = np.asarray(arraymix.Mixer(**kw).draw(B, (4, 4)).method)
    assert 0 in method.tolist()
    out, _ = arraymix.Mixer(**kw)(x)
    np.testing.assert_array_equal(out[method == 0], x[method == 0])
