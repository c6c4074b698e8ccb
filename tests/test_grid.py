"""CutMix params that know their grid: paste refuses another grid (also
under jax.jit), rescaled maps the boxes to it, bounds gives them per sample."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import arraymix

SEEDS = st.integers(0, 2**32 - 1)


def test_sample_cutmix_records_its_grid_and_paste_checks_it():
    p = arraymix.sample_cutmix(0, 4, (32, 24))
    assert p.sizes == (32, 24)
    images = np.zeros((4, 3, 32, 24), dtype=np.float32)
    arraymix.paste(images, p)                                     # the grid it was drawn for
    with pytest.raises(ValueError, match=r"params\.rescaled\(\(8, 6\)\)"):
        arraymix.paste(np.zeros((4, 8, 6)), p, axes=(1, 2))       # boxes that fit, wrong grid
    arraymix.paste(np.zeros((4, 8, 6)), p.rescaled((8, 6)), axes=(1, 2))


def test_params_made_by_hand_are_pasted_unchecked():
    p = arraymix.CutMixParams(lam=np.asarray(0.5), perm=np.asarray([1, 0]),
                              lower=np.asarray([1, 1]), upper=np.asarray([3, 3]))
    assert p.sizes is None
    assert arraymix.paste(np.zeros((2, 5, 5)), p, axes=(1, 2)).shape == (2, 5, 5)
    with pytest.raises(ValueError, match="without sizes"):
        p.rescaled((2, 2))


@settings(max_examples=20)
@given(batch=st.integers(1, 8), seed=SEEDS, lam_mode=st.sampled_from(["batch", "sample"]),
       grid=st.sampled_from([((32, 32), (8, 8)), ((30, 20), (7, 13)), ((16,), (48,)),
                             ((9, 9, 9), (3, 3, 3))]))
def test_rescaled_rounds_each_bound_to_the_nearest(backend, batch, seed, lam_mode, grid):
    drawn, target = grid
    p = arraymix.sample_cutmix(seed, batch, drawn, lam_mode=lam_mode, xp=backend.xp,
                               device=backend.device)
    q = backend.call(lambda p: p.rescaled(target), p)
    assert q.sizes == target
    assert q.lower.dtype == p.lower.dtype
    if not backend.has_values:
        return
    m, n = np.asarray(drawn), np.asarray(target)
    for old, new in ((p.lower, q.lower), (p.upper, q.upper)):
        old, new = backend.numpy(old).astype(np.int64), backend.numpy(new).astype(np.int64)
        np.testing.assert_array_equal(new, np.floor(old * n / m + 0.5).astype(np.int64))
        assert (np.abs(new - old * n / m) <= 0.5).all()
    np.testing.assert_array_equal(backend.numpy(q.lam), backend.numpy(p.lam))


def test_rescaled_mask_stays_aligned_with_the_image():
    """A mask at a quarter of the resolution, boxes on multiples of 4: the
    pasted mask is the pasted full-resolution mask, subsampled."""
    gen = np.random.default_rng(0)
    full = gen.integers(0, 21, size=(6, 32, 32))
    low = gen.integers(0, 5, size=(6, 2)) * 4
    high = np.minimum(low + gen.integers(0, 5, size=(6, 2)) * 4, 32)
    p = arraymix.CutMixParams(lam=np.ones(6), perm=gen.permutation(6), lower=low, upper=high,
                              sizes=(32, 32))
    small = full[:, ::4, ::4]
    np.testing.assert_array_equal(arraymix.paste(small, p.rescaled((8, 8)), axes=(1, 2)),
                                  arraymix.paste(full, p, axes=(1, 2))[:, ::4, ::4])


@pytest.mark.parametrize("lam_mode", ["batch", "sample"])
def test_bounds_are_per_sample_in_both_modes(backend, lam_mode):
    p = arraymix.sample_cutmix(3, 5, (10, 12), lam_mode=lam_mode, xp=backend.xp,
                               device=backend.device)
    low, high = p.bounds()
    assert tuple(low.shape) == (5, 2)
    assert tuple(high.shape) == (5, 2)
    if backend.has_values:
        np.testing.assert_array_equal(backend.numpy(low),
                                      np.broadcast_to(backend.numpy(p.lower), (5, 2)))


def test_grid_is_static_under_jax_jit_and_vmap():
    jax = pytest.importorskip("jax", reason="jax is not installed")
    import jax.numpy as jnp

    images = jnp.zeros((4, 16, 16, 3))
    masks = jnp.zeros((4, 4, 4), dtype=jnp.int32)

    @jax.jit
    def drawn_inside(key):
        p = arraymix.sample_cutmix(key, 4, (16, 16))
        assert p.sizes == (16, 16)            # a tuple of ints in the trace, not tracers
        return arraymix.paste(images, p, axes=(1, 2)), arraymix.paste(
            masks, p.rescaled((4, 4)), axes=(1, 2))

    x, m = drawn_inside(jax.random.key(0))
    assert x.shape == images.shape
    assert m.shape == (4, 4, 4)

    p = arraymix.sample_cutmix(jax.random.key(1), 4, (16, 16))
    paste = jax.jit(lambda a, p: arraymix.paste(a, p, axes=(1, 2)))
    assert paste(images, p).shape == images.shape                 # params as an argument
    with pytest.raises(ValueError, match="rescaled"):
        paste(masks, p)                                           # refused at trace time

    keys = jax.random.split(jax.random.key(2), 3)
    many = jax.vmap(lambda k: arraymix.sample_cutmix(k, 4, (16, 16), lam_mode="sample"))(keys)
    assert many.sizes == (16, 16)
    assert many.lower.shape == (3, 4, 2)


def test_grid_under_torch_compile():
    torch = pytest.importorskip("torch", reason="torch is not installed")
    torch._dynamo.reset()
    p = arraymix.sample_cutmix(0, 4, (16, 16), lam_mode="sample", xp=torch, device="cpu")

    def step(x, mask, p):
        return arraymix.paste(x, p), arraymix.paste(mask, p.rescaled((8, 8)), axes=(1, 2))

    compiled = torch.compile(step, fullgraph=True, backend="aot_eager")
    x, mask = torch.rand(4, 3, 16, 16), torch.randint(0, 5, (4, 8, 8))
    for got, want in zip(compiled(x, mask, p), step(x, mask, p), strict=True):
        torch.testing.assert_close(got, want)


@pytest.mark.parametrize(("sizes", "error", "match"), [
    ((8,), ValueError, "one length per cut axis"),
    ((8, 0), ValueError, r"sizes\[1\] must be an int >= 1"),
    ("88", TypeError, "sizes must be a sequence of ints"),
    ((8, 2.5), ValueError, r"sizes\[1\]"),
])
def test_rescaled_bad_sizes(sizes, error, match):
    with pytest.raises(error, match=match):
        arraymix.sample_cutmix(0, 2, (16, 16)).rescaled(sizes)
