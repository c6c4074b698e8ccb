"""Parameters: permutations, λ's range, shape and distribution, every generator."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

import arraymix
from reference import check_like

SEEDS = st.integers(0, 2**32 - 1)
MINMAX = st.tuples(st.floats(0.0, 1.0), st.floats(0.0, 1.0)).map(lambda t: tuple(sorted(t)))


def _perm_checks(perm: np.ndarray, pairing: str) -> None:
    n = perm.shape[0]
    assert sorted(perm.tolist()) == list(range(n)), "not a permutation"
    if pairing == "derange" and n:
        assert not np.any(perm == np.arange(n)), "a sample is its own partner"
        assert _cycle_lengths(perm) == [n], "not a single cycle"
    if pairing == "flip":
        np.testing.assert_array_equal(perm[perm], np.arange(n))  # an involution
        np.testing.assert_array_equal(perm, np.arange(n)[::-1])
    if pairing == "roll":
        np.testing.assert_array_equal(perm, (np.arange(n) - 1) % n)  # i takes i-1
        if n:
            assert _cycle_lengths(perm) == [n]


def _cycle_lengths(perm: np.ndarray) -> list[int]:
    seen, lengths = np.zeros(perm.shape[0], bool), []
    for start in range(perm.shape[0]):
        length, i = 0, start
        while not seen[i]:
            seen[i], i, length = True, int(perm[i]), length + 1
        if length:
            lengths.append(length)
    return lengths


@settings(max_examples=25)
@given(batch=st.integers(0, 64), seed=SEEDS, alpha=st.floats(0.01, 10.0),
       lam_mode=st.sampled_from(["batch", "sample"]),
       pairing=st.sampled_from(["permute", "derange", "flip", "roll"]))
def test_params_are_valid_on_every_backend(backend, batch, seed, alpha, lam_mode, pairing):
    if pairing == "derange" and batch == 1:
        pairing = "permute"
    p = arraymix.sample_mixup(seed, batch, alpha=alpha, lam_mode=lam_mode, pairing=pairing,
                              xp=backend.xp, device=backend.device)
    lam_shape = () if lam_mode == "batch" else (batch,)
    info = backend.xp.__array_namespace_info__().default_dtypes(device=backend.device)
    check_like(backend, p.lam, lam_shape, info["real floating"])
    check_like(backend, p.perm, (batch,), info["indexing"])
    if backend.has_values:
        lam, perm = backend.numpy(p.lam), backend.numpy(p.perm)
        assert np.all((lam >= 0) & (lam <= 1))
        _perm_checks(perm, pairing)
        # An int seed gives the same draws in every library.
        ref = arraymix.sample_mixup(seed, batch, alpha=alpha, lam_mode=lam_mode, pairing=pairing)
        np.testing.assert_array_equal(perm, ref.perm)
        np.testing.assert_allclose(lam, ref.lam, rtol=1e-6, atol=1e-30)


def _generators() -> list[object]:
    return ["numpy", "torch", "jax"]


def _draw(kind: str, seed: int, batch: int, **kw: object) -> arraymix.MixParams:
    if kind == "numpy":
        return arraymix.sample_mixup(np.random.default_rng(seed), batch, **kw)
    if kind == "torch":
        torch = pytest.importorskip("torch", reason="torch is not installed")
        return arraymix.sample_mixup(torch.Generator().manual_seed(seed), batch, **kw)
    jax = pytest.importorskip("jax", reason="jax is not installed")
    return arraymix.sample_mixup(jax.random.key(seed), batch, **kw)


@pytest.mark.parametrize("kind", _generators())
@settings(max_examples=10)
@given(batch=st.integers(2, 40), seed=st.integers(0, 2**31 - 1),
       pairing=st.sampled_from(["permute", "derange", "flip", "roll"]))
def test_each_generator_draws_valid_permutations(kind, batch, seed, pairing):
    p = _draw(kind, seed, batch, pairing=pairing, lam_mode="sample")
    _perm_checks(np.asarray(p.perm), pairing)
    lam = np.asarray(p.lam)
    assert lam.shape == (batch,)
    assert np.all((lam >= 0) & (lam <= 1))


@pytest.mark.parametrize("kind", _generators())
@pytest.mark.parametrize("alpha", [0.1, 0.4, 1.0, 4.0, 30.0])
def test_lam_follows_beta(kind, alpha):
    lam = np.asarray(_draw(kind, 20260127, 4000, alpha=alpha, lam_mode="sample").lam)
    # float32 rounds every λ within 6e-8 of 1 to exactly 1 (with α = 0.1 that
    # is 10% of them): test the law below `top`, and the mass above it apart.
    top = 1 - 1e-6
    lam = lam.astype(np.float64)
    below = lam[lam < top]

    def ks_pvalue(a: float) -> float:
        cdf_top = stats.beta.cdf(top, a, a)
        body = stats.kstest(below, lambda v: stats.beta.cdf(v, a, a) / cdf_top).pvalue
        tail = stats.binomtest(lam.size - below.size, lam.size, 1 - cdf_top).pvalue
        return float(min(body, tail))

    assert ks_pvalue(alpha) > 1e-3
    # and it is not some other Beta: a clearly different alpha is rejected
    assert ks_pvalue(alpha * 3) < 1e-3


def _marsaglia_tsang_reference(alpha: float, z: np.ndarray, u: np.ndarray, e: np.ndarray
                               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """log Gamma(alpha) in float64, one variate at a time: the first try of
    Marsaglia and Tsang's method for Gamma(alpha + 1) that passes (the last
    where none does), boosted by exp(-e / alpha). Also the smallest distance
    of a decision taken to its threshold, relative to the size of the terms
    that cancel in it (z²/2 and d·(v − 1)): where float32 may decide otherwise;
    and how far float32's rounding of ``t = 1 + c·z`` (a few ulps of its
    terms) moves ``log v = 3·log t`` of the try taken: far where ``t`` is
    small, as it can be on a last try taken because none passed."""
    d = alpha + 2.0 / 3.0
    c = 1.0 / math.sqrt(9.0 * d)
    out = np.empty(e.shape)
    margin = np.full(e.shape, np.inf)
    moved = np.zeros(e.shape)
    for j in np.ndindex(e.shape):
        log_v = 0.0
        for i in range(z.shape[0]):
            t = 1.0 + c * float(z[(i, *j)])
            if t <= 0:
                log_v = moved[j] = 0.0
                margin[j] = min(margin[j], -t)
                continue
            v = t ** 3
            gap = 0.5 * float(z[(i, *j)]) ** 2 + d - d * v + d * math.log(v) \
                - math.log(1.0 - float(u[(i, *j)]))
            terms = 1.0 + float(z[(i, *j)]) ** 2 + d * abs(v - 1.0)
            margin[j] = min(margin[j], t, abs(gap) / terms)
            log_v = math.log(v)
            moved[j] = 3.0 * 2.0**-22 * (1.0 + c * abs(float(z[(i, *j)]))) / t
            if gap > 0:
                break
        out[j] = math.log(d) + log_v - float(e[j]) / alpha
    return out, margin, moved


def _float32_misses(jax: Any, alpha: float, z: np.ndarray, u: np.ndarray, e: np.ndarray,
                    want: np.ndarray, margin: np.ndarray, moved: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray]:
    """``_random.log_gamma`` on JAX float32 copies of the draws: where it is
    off the float64 reference ``want`` by more than 1e-5 of the result's
    scale (and what float32's ``t`` alone moves, ``moved``) although every
    decision was clear of its threshold (``margin`` over 1e-5), and where
    the decisions were clear."""
    from arraymix import _random

    f32 = [jax.numpy.asarray(a, dtype=jax.numpy.float32) for a in (z, u, e)]
    got = np.asarray(_random.log_gamma(jax.numpy, alpha, *f32), dtype=np.float64)
    clear = margin > 1e-5
    off = np.abs(got - want) > 1e-5 * (1.0 + np.abs(want) + np.abs(e) / alpha) + moved
    return off & clear, clear


@settings(max_examples=40, deadline=None)
@given(alpha=st.floats(1e-3, 1e6), tries=st.integers(1, 16), count=st.integers(1, 12),
       seed=SEEDS, spread=st.floats(0.5, 40.0))
def test_jax_gamma_tries_follow_marsaglia_tsang(alpha, tries, count, seed, spread):
    """The loop-free gamma of the JAX source (``_random.log_gamma``) on given
    draws: equal to a float64 one-at-a-time reference on NumPy float64, and
    on JAX float32 wherever float32 cannot flip a decision (a margin of
    1e-5 of the terms that cancel: the textbook ``d − d·v + d·log v`` loses
    eps·d, and fails here for large α). Wide normals (``spread``) make tries
    fail, a column of very negative ones makes all fail."""
    from arraymix import _random

    rng = np.random.default_rng(seed)
    z = rng.standard_normal((tries, 2, count)) * spread
    z[:, 1, 0] = -1e3  # v < 0 on every try: the last try is taken
    u = rng.random((tries, 2, count))
    e = rng.exponential(size=(2, count))
    want, margin, moved = _marsaglia_tsang_reference(alpha, z, u, e)
    got = _random.log_gamma(arraymix._compat.namespace_of(np), alpha, z, u, e)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    jax = pytest.importorskip("jax", reason="jax is not installed")
    wrong, _ = _float32_misses(jax, alpha, z, u, e, want, margin, moved)
    assert not np.any(wrong), np.flatnonzero(wrong)


@pytest.mark.parametrize("alpha", [1e5, 1e6])
def test_jax_gamma_decides_in_float32_as_in_float64_for_large_alpha(alpha):
    """Float32 draws, a large α: every decision clear of its threshold (as
    above) is taken as float64 takes it, over 4000 variates. The textbook
    test ``d − d·v + d·log v`` gets 3 of them wrong at α = 1e5 and 30 at
    1e6 with these draws."""
    jax = pytest.importorskip("jax", reason="jax is not installed")

    rng = np.random.default_rng(20261128)
    z = rng.standard_normal((16, 2, 2000))
    u = rng.random((16, 2, 2000))
    e = rng.exponential(size=(2, 2000))
    want, margin, moved = _marsaglia_tsang_reference(alpha, z, u, e)
    wrong, clear = _float32_misses(jax, alpha, z, u, e, want, margin, moved)
    assert clear.mean() > 0.99
    assert not np.any(wrong), np.flatnonzero(wrong)


@pytest.mark.parametrize("lam_mode", ["batch", "sample"])
def test_jax_draws_lower_without_a_loop(lam_mode):
    """On a GPU an XLA while loop copies its predicate to the host on every
    iteration (jax.random.beta's gammas are two): the JAX source's draws,
    lowered for CUDA (no GPU needed), hold no loop."""
    jax = pytest.importorskip("jax", reason="jax is not installed")
    draws = {
        "sample_mixup": lambda k: arraymix.sample_mixup(k, 64, lam_mode=lam_mode),
        "sample_cutmix": lambda k: arraymix.sample_cutmix(k, 64, (32, 32), lam_mode=lam_mode),
        "jax.random.beta": lambda k: jax.random.beta(k, 0.2, 0.2),
    }
    loops = {}
    for name, fn in draws.items():
        lowered = jax.jit(fn).trace(jax.random.key(0)).lower(lowering_platforms=("cuda",))
        loops[name] = lowered.as_text().count("stablehlo.while")
    # jax.random.beta's loops show that the count sees loops
    assert loops.pop("jax.random.beta") > 0
    assert loops == {"sample_mixup": 0, "sample_cutmix": 0}


def test_batch_mode_draws_one_lam_per_call():
    lams = [float(arraymix.sample_mixup(s, 3, alpha=0.5).lam) for s in range(2000)]
    assert stats.kstest(lams, "beta", args=(0.5, 0.5)).pvalue > 1e-3


@pytest.mark.parametrize("kind", _generators())
def test_tiny_alpha_stays_in_range(kind):
    lam = np.asarray(_draw(kind, 3, 2000, alpha=1e-3, lam_mode="sample").lam)
    assert np.all(np.isfinite(lam))
    assert np.all((lam >= 0) & (lam <= 1))
    assert 0.35 < np.mean(lam > 0.5) < 0.65  # mass splits between 0 and 1


def test_uniform_permutations():
    """Every permutation of 3 comes up about equally often (chi-square)."""
    gen = np.random.default_rng(11)
    counts: dict[tuple[int, ...], int] = {}
    for _ in range(6000):
        perm = tuple(arraymix.sample_mixup(gen, 3).perm.tolist())
        counts[perm] = counts.get(perm, 0) + 1
    assert len(counts) == 6
    assert stats.chisquare(list(counts.values())).pvalue > 1e-3


def test_generators_advance_and_reproduce():
    torch = pytest.importorskip("torch", reason="torch is not installed")
    g = torch.Generator().manual_seed(5)
    a, b = arraymix.sample_mixup(g, 8), arraymix.sample_mixup(g, 8)
    g2 = torch.Generator().manual_seed(5)
    a2 = arraymix.sample_mixup(g2, 8)
    assert float(a.lam) != float(b.lam)
    assert float(a.lam) == float(a2.lam)
    assert torch.equal(a.perm, a2.perm)
    assert a.lam.dtype == torch.float32
    assert a.perm.device == g.device


def test_jax_key_runs_under_jit():
    jax = pytest.importorskip("jax", reason="jax is not installed")
    fn = jax.jit(lambda key: arraymix.sample_mixup(key, 6, lam_mode="sample",
                                                   pairing="derange"))
    keys = jax.random.key(0), jax.random.key(1)
    with jax.transfer_guard("disallow"):
        p, q = fn(keys[0]), fn(keys[1])
    _perm_checks(np.asarray(p.perm), "derange")
    assert not np.array_equal(np.asarray(p.lam), np.asarray(q.lam))
    legacy = arraymix.sample_mixup(jax.random.PRNGKey(0), 6, lam_mode="sample",
                                   pairing="derange")
    np.testing.assert_array_equal(np.asarray(legacy.perm), np.asarray(p.perm))
    # boxes too, with and without minmax: traced, no host transfer, same as eager
    for minmax in (None, (0.3, 0.6)):
        cut = jax.jit(lambda key, m=minmax: arraymix.sample_cutmix(
            key, 6, (20, 9), lam_mode="sample", minmax=m))
        with jax.transfer_guard("disallow"):
            traced = cut(keys[0])
        eager = arraymix.sample_cutmix(keys[0], 6, (20, 9), lam_mode="sample", minmax=minmax)
        for field in ("lam", "perm", "lower", "upper"):
            np.testing.assert_array_equal(np.asarray(getattr(traced, field)),
                                          np.asarray(getattr(eager, field)), err_msg=field)
        sides = np.asarray(traced.upper - traced.lower)
        np.testing.assert_allclose(np.asarray(traced.lam), 1 - sides.prod(axis=1) / 180,
                                   rtol=0, atol=1e-6)


@settings(max_examples=4, deadline=None)  # each example compiles fourteen functions
@given(seed=st.integers(0, 2**32 - 1), batch=st.integers(1, 9),
       sizes=st.tuples(st.integers(1, 300), st.integers(1, 300)),
       lam_mode=st.sampled_from(["batch", "sample"]))
def test_jax_draws_are_the_same_eager_jitted_and_vmapped(seed, batch, sizes, lam_mode):
    """One key gives the same params, bit for bit, drawn eagerly, under
    ``jax.jit`` and as one of a ``vmap``'s keys, for every sampler."""
    jax = pytest.importorskip("jax", reason="jax is not installed")
    patch = [n for n in range(1, 9) if sizes[0] % n == 0 and sizes[1] % n == 0][-1]
    samplers = {
        "mixup": lambda k: arraymix.sample_mixup(k, batch, lam_mode=lam_mode),
        "cutmix": lambda k: arraymix.sample_cutmix(k, batch, sizes, lam_mode=lam_mode),
        "cutmix minmax": lambda k: arraymix.sample_cutmix(k, batch, sizes, lam_mode=lam_mode,
                                                          minmax=(0.2, 0.7)),
        "fmix": lambda k: arraymix.sample_fmix(k, batch, sizes, lam_mode=lam_mode),
        "patchmix": lambda k: arraymix.sample_patchmix(k, batch, sizes, patch=patch,
                                                       lam_mode=lam_mode),
        "mosaic": lambda k: arraymix.sample_mosaic(k, batch, sizes, lam_mode=lam_mode),
        "resizemix": lambda k: arraymix.sample_resizemix(k, batch, sizes, lam_mode=lam_mode),
    }
    keys = jax.random.split(jax.random.key(seed), 3)
    for name, fn in samplers.items():
        eager, traced = fn(keys[1]), jax.jit(fn)(keys[1])
        mapped = jax.jit(jax.vmap(fn))(keys)
        for field, value in zip(eager._fields, eager, strict=True):
            if not hasattr(value, "shape"):
                continue  # static
            want = np.asarray(value)
            np.testing.assert_array_equal(np.asarray(getattr(traced, field)), want,
                                          err_msg=f"{name} {field} under jax.jit")
            np.testing.assert_array_equal(np.asarray(getattr(mapped, field))[1], want,
                                          err_msg=f"{name} {field} under jax.vmap")


def _first_of_pairs(perm: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Each sample's row of ``values`` replaced by its pair's first member's,
    written out sample by sample: timm's ``mode="pair"`` draws once per pair."""
    out = np.array(values, copy=True)
    for i, j in enumerate(perm.tolist()):
        out[i] = values[min(i, j)]
    return out


@settings(max_examples=30)
@given(seed=SEEDS, pairs=st.integers(0, 12), odd=st.booleans(), groups=st.sampled_from([1, 2]),
       minmax=st.none() | st.just((0.2, 0.7)))
def test_pair_mode_shares_each_pairs_draws(backend, seed, pairs, odd, groups, minmax):
    """``lam_mode="pair"``: the per-sample draws of ``"sample"`` mode, with
    the second member of each flip pair (within its group) given the first's
    λ and box, on every backend; a sample paired with itself keeps its own."""
    batch = groups * (2 * pairs + odd)
    kw = {"pairing": "flip", "groups": groups, "xp": backend.xp, "device": backend.device}
    mix = arraymix.sample_mixup(seed, batch, alpha=0.5, lam_mode="pair", **kw)
    cut = arraymix.sample_cutmix(seed, batch, (9, 14), lam_mode="pair", minmax=minmax, **kw)
    info = backend.xp.__array_namespace_info__().default_dtypes(device=backend.device)
    check_like(backend, mix.lam, (batch,), info["real floating"])
    check_like(backend, cut.lam, (batch,), info["real floating"])
    for bound in (cut.lower, cut.upper):
        check_like(backend, bound, (batch, 2), info["indexing"])
    if not backend.has_values:
        return
    own = arraymix.sample_mixup(seed, batch, alpha=0.5, lam_mode="sample", pairing="flip",
                                groups=groups)
    boxes = arraymix.sample_cutmix(seed, batch, (9, 14), lam_mode="sample", pairing="flip",
                                   groups=groups, minmax=minmax)
    perm = backend.numpy(mix.perm)
    np.testing.assert_array_equal(perm, own.perm)
    np.testing.assert_array_equal(perm[perm], np.arange(batch))
    np.testing.assert_allclose(backend.numpy(mix.lam), _first_of_pairs(perm, own.lam),
                               rtol=1e-6, atol=1e-30)
    np.testing.assert_array_equal(backend.numpy(cut.perm), perm)
    for got, drawn in ((cut.lower, boxes.lower), (cut.upper, boxes.upper)):
        np.testing.assert_array_equal(backend.numpy(got), _first_of_pairs(perm, drawn))
    np.testing.assert_allclose(backend.numpy(cut.lam), _first_of_pairs(perm, boxes.lam),
                               rtol=1e-6, atol=1e-12)


@pytest.mark.parametrize("kind", _generators())
def test_pair_mode_from_every_generator(kind):
    """Generators and keys too: the first members keep the draws of sample
    mode from the same state, the second members copy them."""
    def draw(mode: str) -> tuple[arraymix.MixParams, arraymix.CutMixParams]:
        if kind == "numpy":
            rng: object = np.random.default_rng(5)
        elif kind == "torch":
            rng = pytest.importorskip("torch").Generator().manual_seed(5)
        else:
            rng = pytest.importorskip("jax").random.key(5)
        mix = arraymix.sample_mixup(rng, 11, lam_mode=mode, pairing="flip")
        return mix, arraymix.sample_cutmix(rng, 11, (16, 16), lam_mode=mode, pairing="flip")

    (mix, cut), (own, boxes) = draw("pair"), draw("sample")
    perm = np.asarray(mix.perm)
    np.testing.assert_array_equal(np.asarray(mix.lam), _first_of_pairs(perm, np.asarray(own.lam)))
    for field in ("lam", "lower", "upper"):
        np.testing.assert_array_equal(np.asarray(getattr(cut, field)),
                                      _first_of_pairs(perm, np.asarray(getattr(boxes, field))),
                                      err_msg=field)


def test_pair_mode_runs_under_jit():
    jax = pytest.importorskip("jax", reason="jax is not installed")
    key = jax.random.key(3)
    cut = jax.jit(lambda k: arraymix.sample_cutmix(k, 8, (12, 10), lam_mode="pair",
                                                   pairing="flip", groups=2))
    mix = jax.jit(lambda k: arraymix.sample_mixup(k, 8, lam_mode="pair", pairing="flip"))
    with jax.transfer_guard("disallow"):
        traced_cut, traced_mix = cut(key), mix(key)
    eager_cut = arraymix.sample_cutmix(key, 8, (12, 10), lam_mode="pair", pairing="flip",
                                       groups=2)
    for field in ("perm", "lower", "upper"):
        np.testing.assert_array_equal(np.asarray(getattr(traced_cut, field)),
                                      np.asarray(getattr(eager_cut, field)), err_msg=field)
    np.testing.assert_allclose(np.asarray(traced_cut.lam), np.asarray(eager_cut.lam), rtol=2e-7)
    # the Beta draw compiled may round an ulp apart from the eager one
    np.testing.assert_allclose(np.asarray(traced_mix.lam),
                               np.asarray(arraymix.sample_mixup(key, 8, lam_mode="pair",
                                                                pairing="flip").lam), rtol=2e-6)
    lam = np.asarray(traced_mix.lam)
    np.testing.assert_array_equal(lam, lam[::-1])


@pytest.mark.parametrize("pairing", ["permute", "derange", "roll"])
def test_pair_mode_needs_flip(pairing):
    gen = np.random.default_rng(0)
    for call in (lambda: arraymix.sample_mixup(gen, 6, lam_mode="pair", pairing=pairing),
                 lambda: arraymix.sample_cutmix(gen, 6, (4, 4), lam_mode="pair",
                                                pairing=pairing),
                 lambda: arraymix.cutmix(np.zeros((6, 4, 4)), rng=gen, lam_mode="pair",
                                         pairing=pairing)):
        with pytest.raises(ValueError, match=f"pairing='flip' .* got pairing='{pairing}'"):
            call()
    assert gen.random() == np.random.default_rng(0).random()  # nothing drawn


def test_jax_keys_of_the_wrong_shape_are_named():
    """A batch of keys (say, a vmap's keys passed whole) is not one key."""
    jax = pytest.importorskip("jax", reason="jax is not installed")
    for keys, what in ((jax.random.split(jax.random.key(0), 2), r"shape \(2,\)"),
                       (jax.random.split(jax.random.PRNGKey(0), 2), r"uint32 and shape \(2, 2\)")):
        with pytest.raises(TypeError, match=r"rng must be .* \(one key: .*\), got .*" + what):
            arraymix.sample_mixup(keys, 4)


def _assert_boxes(p: arraymix.CutMixParams, lead: tuple[int, ...], k: int,
                  lower: list[list[int]], upper: list[list[int]], lam: list[float]) -> None:
    """Host params equal boxes written out box by box (NumPy's index and
    float dtypes, shapes ``(*lead, k)`` and ``lead``)."""
    shape = (*lead, k)
    assert p.lower.shape == p.upper.shape == shape
    assert p.lam.shape == lead
    assert p.lower.dtype == p.upper.dtype == np.intp
    assert p.lam.dtype == np.float64
    np.testing.assert_array_equal(p.lower, np.reshape(lower, shape))
    np.testing.assert_array_equal(p.upper, np.reshape(upper, shape))
    np.testing.assert_allclose(p.lam, np.reshape(lam, lead), rtol=0, atol=1e-15)


@settings(max_examples=60)
@given(seed=SEEDS, batch=st.integers(0, 24),
       sizes=st.lists(st.integers(1, 10**6), min_size=1, max_size=3),
       alpha=st.floats(0.05, 20.0), lam_mode=st.sampled_from(["batch", "sample"]),
       correct_lam=st.booleans())
def test_boxes_follow_the_documented_formula(seed, batch, sizes, alpha, lam_mode, correct_lam):
    """From an int seed's draws (λ₀ ~ Beta, then the centres, then the
    permutation, all from ``default_rng(seed)``), each box is written out
    here axis by axis in Python: side ``floor(n·(1−λ₀)^(1/k))``, centre
    ``floor(u·n)``, start ``centre − side // 2``, clipped to ``[0, n]``."""
    p = arraymix.sample_cutmix(seed, batch, sizes, alpha=alpha, lam_mode=lam_mode,
                               correct_lam=correct_lam)
    gen = np.random.default_rng(seed)
    lead = () if lam_mode == "batch" else (batch,)
    lam0 = np.atleast_1d(gen.beta(alpha, alpha, size=lead)).tolist()
    centres = np.reshape(gen.random(size=(*lead, len(sizes))), (-1, len(sizes))).tolist()
    np.testing.assert_array_equal(p.perm, gen.permutation(batch))
    want_lo, want_hi, want_lam = [], [], []
    for l0, units in zip(lam0, centres, strict=True):
        lo, hi, area = [], [], 1
        for n, u in zip(sizes, units, strict=True):
            side = math.floor(n * (1 - l0) ** (1 / len(sizes)))
            start = math.floor(u * n) - side // 2
            lo.append(min(max(start, 0), n))
            hi.append(min(max(start + side, 0), n))
            area *= hi[-1] - lo[-1]
        want_lo.append(lo)
        want_hi.append(hi)
        want_lam.append(1 - area / math.prod(sizes) if correct_lam else l0)
    _assert_boxes(p, lead, len(sizes), want_lo, want_hi, want_lam)


@pytest.mark.parametrize("length", [2**24 + 3, 2**25 + 1, 2**31 - 5])
def test_float32_boxes_stay_inside_axes_float32_cannot_count(length):
    """A JAX key without x64 draws in float32, which holds whole numbers up to
    2**24 exactly: on a longer axis the length rounded up let a quarter of the
    boxes end past the axis (near 2**31, at int32's maximum). Every box stays
    inside, lam is the kept fraction to float32's precision."""
    jax = pytest.importorskip("jax", reason="jax is not installed")
    if jax.config.jax_enable_x64:
        pytest.skip("jax runs with x64 here: it draws in float64")
    for seed in range(4):
        p = arraymix.sample_cutmix(jax.random.key(seed), 256, (length, 5), alpha=0.05,
                                   lam_mode="sample")
        lower = np.asarray(p.lower).astype(np.int64)
        upper = np.asarray(p.upper).astype(np.int64)
        assert np.all((lower >= 0) & (lower <= upper) & (upper <= [length, 5]))
        kept = 1 - np.prod(upper - lower, axis=1) / (length * 5)
        np.testing.assert_allclose(np.asarray(p.lam), kept, rtol=0, atol=1e-6)


@settings(max_examples=30)
@given(seed=SEEDS, batch=st.integers(0, 40), sizes=st.lists(st.integers(1, 300), min_size=1,
                                                              max_size=3),
       alpha=st.floats(0.05, 20.0), lam_mode=st.sampled_from(["batch", "sample"]),
       correct_lam=st.booleans(), minmax=st.none() | MINMAX)
def test_torch_boxes_on_the_host_equal_boxes_on_the_device(seed, batch, sizes, alpha, lam_mode,
                                                           correct_lam, minmax):
    """A CPU torch.Generator's boxes are computed in NumPy (host draws); a GPU
    generator's in torch. From the same draws both give the same params, so
    the host shortcut changes no seed's boxes."""
    torch = pytest.importorskip("torch", reason="torch is not installed")
    from arraymix import _random

    def draw() -> arraymix.CutMixParams:
        return arraymix.sample_cutmix(torch.Generator().manual_seed(seed), batch, sizes,
                                      alpha=alpha, lam_mode=lam_mode,
                                      correct_lam=correct_lam or minmax is not None,
                                      minmax=minmax)

    host = draw()
    with pytest.MonkeyPatch.context() as mp:  # each example patches and restores
        mp.setattr(_random._TorchSource, "host", lambda self, a: None)
        device = draw()
    for field in ("lam", "perm", "lower", "upper"):
        got, want = getattr(host, field), getattr(device, field)
        assert got.dtype == want.dtype, field
        assert got.shape == want.shape, field
        assert torch.equal(got, want), field
    area = float(np.prod(sizes))
    kept = 1 - (host.upper - host.lower).prod(dim=-1).double() / area
    if correct_lam or minmax is not None:
        np.testing.assert_allclose(host.lam.double().numpy(), kept.numpy(), rtol=1e-6,
                                   atol=1e-7)
    assert bool(((host.lower >= 0) & (host.lower <= host.upper)).all())
    assert bool((host.upper <= torch.tensor(sizes)).all())


def _minmax_range(n: int, minmax: tuple[float, float]) -> range:
    """timm's ``randint(int(n * lo), int(n * hi))``: the top excluded, and
    the one length ``int(n * lo)`` where the two meet."""
    first, stop = int(n * minmax[0]), int(n * minmax[1])
    return range(first, max(stop, first + 1))


@settings(max_examples=60)
@given(seed=SEEDS, batch=st.integers(0, 24),
       sizes=st.lists(st.integers(1, 400), min_size=1, max_size=3), minmax=MINMAX,
       lam_mode=st.sampled_from(["batch", "sample"]))
def test_minmax_boxes_follow_the_documented_formula(seed, batch, sizes, minmax, lam_mode):
    """From an int seed's draws (uniforms ``(*lead, 2, k)``, then the
    permutation), each box written out in Python ints: the side the
    ``u0``-quantile of the whole lengths timm's ``cutmix_minmax`` draws
    from, the start the ``u1``-quantile of the places it fits."""
    p = arraymix.sample_cutmix(seed, batch, sizes, lam_mode=lam_mode, minmax=minmax)
    gen = np.random.default_rng(seed)
    lead = () if lam_mode == "batch" else (batch,)
    units = np.reshape(gen.random(size=(*lead, 2, len(sizes))), (-1, 2, len(sizes))).tolist()
    np.testing.assert_array_equal(p.perm, gen.permutation(batch))
    want_lo, want_hi, want_lam = [], [], []
    for (u_side, u_start) in units:
        lo, hi, area = [], [], 1
        for n, us, ut in zip(sizes, u_side, u_start, strict=True):
            lengths = _minmax_range(n, minmax)
            side = lengths[math.floor(us * len(lengths))]
            start = math.floor(ut * (n - side + 1))
            lo.append(start)
            hi.append(start + side)
            area *= side
        want_lo.append(lo)
        want_hi.append(hi)
        want_lam.append(1 - area / math.prod(sizes))
    _assert_boxes(p, lead, len(sizes), want_lo, want_hi, want_lam)


@pytest.mark.parametrize("kind", _generators())
def test_minmax_sides_and_places_are_uniform(kind):
    """Each generator: every side length timm's ``cutmix_minmax`` allows comes
    up equally often (chi-square), no other; and given its side a box is
    placed uniformly where it fits (randomised probability integral
    transform, Kolmogorov-Smirnov)."""
    sizes, minmax, count = (50, 7), (0.2, 0.9), 6000
    if kind == "numpy":
        rng: object = np.random.default_rng(20261127)
    elif kind == "torch":
        torch = pytest.importorskip("torch", reason="torch is not installed")
        rng = torch.Generator().manual_seed(20261127)
    else:
        jax = pytest.importorskip("jax", reason="jax is not installed")
        rng = jax.random.key(20261127)
    p = arraymix.sample_cutmix(rng, count, sizes, lam_mode="sample", minmax=minmax)
    lower = np.asarray(p.lower).astype(np.int64)
    side = np.asarray(p.upper).astype(np.int64) - lower
    noise = np.random.default_rng(5).random(lower.shape)
    for axis, n in enumerate(sizes):
        lengths = _minmax_range(n, minmax)
        seen = np.bincount(side[:, axis] - lengths.start, minlength=len(lengths))
        assert seen.size == len(lengths), f"axis {axis}: a side outside {lengths}"
        if len(lengths) > 1:
            assert stats.chisquare(seen).pvalue > 1e-3, (axis, seen)
        places = n - side[:, axis] + 1
        assert np.all(lower[:, axis] < places)
        pit = (lower[:, axis] + noise[:, axis]) / places
        assert stats.kstest(pit, "uniform").pvalue > 1e-3, axis
    kept = 1 - np.prod(side, axis=1) / math.prod(sizes)
    np.testing.assert_allclose(np.asarray(p.lam, dtype=np.float64), kept, rtol=0, atol=1e-6)


@pytest.mark.parametrize("length", [2**24 + 3, 2**31 - 5])
def test_float32_minmax_boxes_stay_inside_long_axes(length):
    """minmax boxes drawn in float32 (a JAX key without x64) on axes float32
    cannot count: inside the axis, sides within the range, lam the kept fraction."""
    jax = pytest.importorskip("jax", reason="jax is not installed")
    if jax.config.jax_enable_x64:
        pytest.skip("jax runs with x64 here: it draws in float32 only without it")
    minmax = (0.5, 1.0)
    for seed in range(4):
        p = arraymix.sample_cutmix(jax.random.key(seed), 512, (length, 5), lam_mode="sample",
                                   minmax=minmax)
        lower = np.asarray(p.lower).astype(np.int64)
        upper = np.asarray(p.upper).astype(np.int64)
        assert np.all((lower >= 0) & (lower <= upper) & (upper <= [length, 5]))
        side = upper - lower
        # float32 counts this axis in steps of up to 256: the shortest side by one step less
        assert np.all(side[:, 0] >= length // 2 - 256)
        assert np.all(side[:, 0] < length)
        assert np.all(np.isin(side[:, 1], list(_minmax_range(5, minmax))))
        kept = 1 - np.prod(side, axis=1) / (length * 5)
        np.testing.assert_allclose(np.asarray(p.lam), kept, rtol=0, atol=1e-6)


class _ExtremeFloat32Draws:
    """A source whose uniforms are all ``u`` in float32, on the host: the
    worst case of float32 draws, without waiting for one in 2**24."""

    def __init__(self, u: float) -> None:
        self.xp = arraymix._compat.namespace_of(np)
        self.device = "cpu"
        self.u = np.float32(u)

    def uniform(self, shape: tuple[int, ...]) -> np.ndarray:
        return np.full(shape, self.u, dtype=np.float32)

    def permutation(self, n: int) -> np.ndarray:
        return np.arange(n)

    def host(self, a: np.ndarray) -> np.ndarray:
        return a


@pytest.mark.parametrize("u", [0.0, float(np.nextafter(np.float32(1), np.float32(0)))])
@pytest.mark.parametrize("length", [2**24 + 3, 2**25 + 1, 2**31 - 5])
@pytest.mark.parametrize("minmax", [(0.0, 0.0), (0.0, 1.0), (0.5, 1.0), (1.0, 1.0)])
def test_float32_minmax_extremes_stay_inside_the_axis(monkeypatch, u, length, minmax):
    """The largest and smallest float32 draws, on axes float32 cannot count:
    sides within the allowed lengths (to float32's step), boxes inside."""
    from arraymix import _sample

    monkeypatch.setattr(_sample, "source", lambda rng: _ExtremeFloat32Draws(u))
    p = arraymix.sample_cutmix(None, 3, (length, 7), lam_mode="sample", minmax=minmax)
    lower, upper = p.lower.astype(np.int64), p.upper.astype(np.int64)
    assert np.all((lower >= 0) & (lower <= upper) & (upper <= [length, 7])), (lower, upper)
    allowed = _minmax_range(length, minmax)
    step = 2 ** max(0, length.bit_length() - 24)  # float32's spacing at this length
    side = upper[:, 0] - lower[:, 0]
    assert np.all((side >= allowed.start - step) & (side <= allowed.stop - 1))
    assert np.all(np.isin(upper[:, 1] - lower[:, 1], list(_minmax_range(7, minmax))))


def test_minmax_is_checked():
    for bad, error, match in [
        ((0.6, 0.2), ValueError, r"minmax must have min <= max, got \(0.6, 0.2\)"),
        ((0.2,), ValueError, "minmax must be a pair .* got 1 values"),
        ((0.1, 0.2, 0.3), ValueError, "minmax must be a pair .* got 3 values"),
        ((-0.1, 0.5), ValueError, r"minmax\[0\] must be in \[0, 1\]"),
        ((0.1, float("nan")), ValueError, r"minmax\[1\] must be in \[0, 1\]"),
        ((0.1, "0.5"), TypeError, r"minmax\[1\] must be a real number"),
        (0.3, TypeError, "minmax must be None or a pair"),
        ("ab", TypeError, "minmax must be None or a pair"),
        (np.asarray([[0.1, 0.2]]), TypeError, "minmax must be None or a pair"),
    ]:
        gen = np.random.default_rng(0)
        with pytest.raises(error, match=match):
            arraymix.sample_cutmix(gen, 4, (8, 8), minmax=bad)
        with pytest.raises(error, match=match):
            arraymix.cutmix(np.zeros((4, 8, 8)), rng=gen, minmax=bad)
        assert gen.random() == np.random.default_rng(0).random()  # nothing drawn
    with pytest.raises(ValueError, match="correct_lam=False asks for lam = λ₀"):
        arraymix.sample_cutmix(0, 4, (8, 8), minmax=(0.2, 0.8), correct_lam=False)
    # a NumPy pair works as a tuple does
    a = arraymix.sample_cutmix(3, 4, (8, 8), minmax=np.asarray([0.25, 0.5]))
    b = arraymix.sample_cutmix(3, 4, (8, 8), minmax=(0.25, 0.5))
    np.testing.assert_array_equal(a.lower, b.lower)
    np.testing.assert_array_equal(a.upper, b.upper)
