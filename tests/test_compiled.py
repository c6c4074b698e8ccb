"""blend and paste inside compiled code: no graph break, no retrace, gradients."""

from __future__ import annotations

import numpy as np
import pytest

import arraymix


# Dynamo warns (once per process and place) for every functools.lru_cache it
# traces through, array-api-compat's type checks among them, with "silent
# incorrectness is a potential risk": the first compiled step drew 22 such
# warnings. Torch tensors are told apart without them; any back is an error.
@pytest.mark.filterwarnings("error:Dynamo detected a call to a `functools.lru_cache`")
# torch's own modules, imported by dynamo (torch 2.11), use what torch deprecates
@pytest.mark.filterwarnings("ignore:`torch.jit.script_method` is deprecated:DeprecationWarning")
@pytest.mark.parametrize("dynamic", [False, True])
def test_torch_compile_fullgraph(dynamic):
    torch = pytest.importorskip("torch", reason="torch is not installed")
    torch._dynamo.reset()

    def step(x, y, mix, cut, buffer, mask):
        # out of place, into a buffer, in place (the out= checks trace too), a
        # boolean mask pasted, and one-hot labels blended
        return (arraymix.blend(x, mix), arraymix.paste(x, cut, axes=(-2, -1)),
                arraymix.blend(x, mix, out=buffer),
                arraymix.paste(mask, cut, axes=(-2, -1), out=mask),
                arraymix.blend(arraymix.one_hot(y, 5), mix))

    compiled = torch.compile(step, fullgraph=True, dynamic=dynamic, backend="aot_eager")
    for batch in (6, 7):
        x = torch.randn(batch, 3, 8, 8)
        y = torch.arange(batch) % 5
        mix = arraymix.sample_mixup(1, batch, lam_mode="sample", xp=torch, device="cpu")
        cut = arraymix.sample_cutmix(1, batch, (8, 8), lam_mode="sample", xp=torch,
                                     device="cpu")
        mask = x > 0
        got = compiled(x, y, mix, cut, torch.empty_like(x), mask.clone())
        expected = step(x, y, mix, cut, torch.empty_like(x), mask.clone())
        for a, b in zip(got, expected, strict=True):
            torch.testing.assert_close(a, b)


def test_gradient_flows_through_blend():
    """Manifold mixup: d(sum(blend(h)))/dh is λ_i + Σ_{j: perm[j]=i} (1−λ_j)."""
    torch = pytest.importorskip("torch", reason="torch is not installed")
    h = torch.randn(5, 4, dtype=torch.float64, requires_grad=True)
    p = arraymix.sample_mixup(3, 5, lam_mode="sample", pairing="derange", xp=torch,
                              device="cpu")
    arraymix.blend(h, p).sum().backward()
    lam, perm = p.lam.double().numpy(), p.perm.numpy()
    expected = lam.copy()
    np.add.at(expected, perm, 1 - lam)
    np.testing.assert_allclose(h.grad.numpy(), np.repeat(expected[:, None], 4, 1), rtol=1e-12)


@pytest.mark.parametrize("features", [4, 40_000])  # whole-batch kernels, the host walk
def test_gradient_reaches_a_learned_lambda(features):
    """d(sum(blend(h)))/dλ_i = Σ (h_i − h_perm(i)): the fast paths step aside."""
    torch = pytest.importorskip("torch", reason="torch is not installed")
    h = torch.randn(5, features, dtype=torch.float64)
    p = arraymix.sample_mixup(3, 5, lam_mode="sample", pairing="derange", xp=torch,
                              device="cpu")
    lam = p.lam.double().clone().requires_grad_(True)
    for out in (None, torch.empty_like(h)):
        lam.grad = None
        arraymix.blend(h, arraymix.MixParams(lam, p.perm), out=out).sum().backward()
        expected = (h - h[p.perm]).sum(dim=1)
        assert lam.grad is not None
        np.testing.assert_allclose(lam.grad.numpy(), expected.numpy(), rtol=1e-10,
                                   atol=1e-9 * features)


def test_jax_jit_does_not_retrace_for_a_new_key_and_vmaps():
    jax = pytest.importorskip("jax", reason="jax is not installed")
    traces = []

    def mix(x, key):
        traces.append(1)
        return arraymix.mixup(x, rng=key, lam_mode="sample")[0]

    fn = jax.jit(mix)
    x = jax.numpy.ones((4, 3)) * jax.numpy.arange(4.0)[:, None]
    outs = [fn(x, jax.random.key(i)) for i in range(3)]
    assert len(traces) == 1
    assert not np.array_equal(np.asarray(outs[0]), np.asarray(outs[1]))
    keys = jax.random.split(jax.random.key(0), 5)
    batched = jax.vmap(mix, in_axes=(None, 0))(x, keys)
    assert batched.shape == (5, 4, 3)
    grad = jax.grad(lambda h: arraymix.blend(h, arraymix.sample_mixup(
        jax.random.key(1), 4, xp=jax.numpy)).sum())(x)
    np.testing.assert_allclose(np.asarray(grad), 1.0, rtol=1e-6)  # λ + (1−λ) per sample


def test_host_randomness_inside_a_jax_trace_is_refused():
    """Inside jax.jit a NumPy Generator, fresh entropy or a Mixer would draw
    once, at tracing, and every call would repeat that mix: a TypeError
    says so. A key draws per call; an int seed is one fixed mix by design."""
    jax = pytest.importorskip("jax", reason="jax is not installed")
    import jax.numpy as jnp

    x = jnp.arange(24.0).reshape(4, 6)
    y = jnp.asarray([0, 1, 2, 1])
    for fn in (arraymix.mixup, arraymix.cutmix):
        for rng in (None, np.random.default_rng(0)):
            with pytest.raises(TypeError, match="draws on the host, once"):
                jax.jit(lambda a, fn=fn, rng=rng: fn(a, rng=rng, axes=(1,))[0]
                        if fn is arraymix.cutmix else fn(a, rng=rng)[0])(x)
    mixer = arraymix.Mixer(num_classes=3, seed=0, cutmix_axes=(1,))
    for transform in (jax.jit, jax.vmap):
        with pytest.raises(TypeError, match="a Mixer draws on the host"):
            transform(lambda a, b: mixer(a[None], b[None])[0])(x, y)
    step = jax.jit(lambda a, k: arraymix.mixup(a, rng=k)[0])
    keys = jax.random.split(jax.random.key(0))
    assert not np.array_equal(step(x, keys[0]), step(x, keys[1]))
    fixed = jax.jit(lambda a: arraymix.mixup(a, rng=5)[0])
    np.testing.assert_allclose(fixed(x), arraymix.mixup(x, rng=5)[0], rtol=1e-6)  # XLA fuses
    # outside a trace the host generators still work with JAX arrays
    assert mixer(x, y)[0].shape == x.shape


def test_contract_mixup_is_sample_then_blend(backend):
    """For an int seed, mixup == blend(x, p), blend(one_hot(y), p) with p drawn for x."""
    from array_api_compat import array_namespace, device

    gen = np.random.default_rng(4)
    x = backend.asarray(gen.normal(size=(7, 2, 3)).astype(np.float32))
    y = backend.asarray(gen.integers(0, 4, size=7))

    def both(x, y):
        xm, ym = arraymix.mixup(x, y, num_classes=4, label_smoothing=0.1, rng=9,
                                lam_mode="sample", pairing="derange", alpha=0.7)
        p = arraymix.sample_mixup(9, 7, alpha=0.7, lam_mode="sample", pairing="derange",
                                  xp=array_namespace(x), device=device(x))
        t = arraymix.one_hot(y, 4, smoothing=0.1, dtype=backend.xp.float32)
        return xm, ym, arraymix.blend(x, p), arraymix.blend(t, p)

    xm, ym, xb, yb = backend.call(both, x, y)
    if backend.has_values:
        np.testing.assert_array_equal(backend.numpy(xm), backend.numpy(xb))
        # class ids on the host skip building the one-hot batch; on torch the
        # blend rounds once (lerp), so the two agree to an ulp
        np.testing.assert_allclose(backend.numpy(ym), backend.numpy(yb), rtol=0, atol=2e-7)
    assert xm.shape == xb.shape
    assert ym.dtype == yb.dtype
