"""The backends' random generators: the only module that draws random numbers.

A *source* wraps one generator and draws four things: Beta, uniform and
normal variates, and permutations, as arrays of its own library. Nothing
else in arraymix knows which generator it is talking to.

- ``None``, an ``int`` seed or a :class:`numpy.random.Generator`: NumPy, on
  the host. The result (O(batch) numbers) is moved to the data's device by
  the caller, so one seed gives the same draws for every library.
- a ``torch.Generator``: torch, on the generator's device, so CUDA data is
  mixed with parameters drawn on the GPU without a host round trip.
- a JAX PRNG key (typed or legacy ``uint32[2]``): ``jax.random``, traceable
  under ``jax.jit``; the key is split before every draw and never reused.
  The Beta is drawn without a loop (:func:`log_gamma`), as a fixed set of
  operations that XLA runs without asking the host.

Frameworks are looked up in ``sys.modules``: an rng can only be a
``torch.Generator`` if torch was imported by the caller already, so
``import arraymix`` imports neither torch nor jax.
"""

from __future__ import annotations

import functools
import math
import sys
from typing import Any, Protocol

import numpy as np

from ._compat import Array, is_jax_array, namespace_of, torch_module

__all__ = ["Source", "log_gamma", "source"]


class Source(Protocol):
    """Draws arrays of one library on one device."""

    xp: Any
    device: Any

    def beta(self, alpha: float, shape: tuple[int, ...]) -> Array:
        """Beta(alpha, alpha) variates, real floating."""

    def uniform(self, shape: tuple[int, ...]) -> Array:
        """Uniform variates in [0, 1), real floating."""

    def normal(self, shape: tuple[int, ...]) -> Array:
        """Standard normal variates, float32 (FMix's noise)."""

    def permutation(self, n: int) -> Array:
        """A uniformly random permutation of ``0 .. n-1``, integer."""

    def permutations(self, rows: int, n: int) -> Array:
        """``rows`` independent random permutations of ``0 .. n-1``, shape (rows, n)."""

    def host(self, a: Array) -> np.ndarray | None:
        """A drawn array as NumPy where it lies in host memory (a view: no
        copy, no sync), else None."""


class _NumpySource:
    def __init__(self, gen: np.random.Generator) -> None:
        self.gen = gen
        self.xp = namespace_of(np)  # cached: a source is made on every call
        self.device = "cpu"

    def beta(self, alpha: float, shape: tuple[int, ...]) -> Array:
        return np.asarray(self.gen.beta(alpha, alpha, size=shape))

    def uniform(self, shape: tuple[int, ...]) -> Array:
        return np.asarray(self.gen.random(size=shape))

    def normal(self, shape: tuple[int, ...]) -> Array:
        # Box-Muller on float32 uniforms: r·cos θ and r·sin θ are two
        # independent standard normals, and NumPy's vectorised log, sqrt,
        # cos and sin on uniforms cost a fraction of its ziggurat normals
        n = math.prod(shape)
        m = (n + 1) // 2
        u = self.gen.random((2, m), dtype=np.float32)
        r, theta = u[0], u[1]
        np.subtract(np.float32(1.0), r, out=r)  # in (0, 1]: a finite log
        np.log(r, out=r)
        np.multiply(r, np.float32(-2.0), out=r)
        np.sqrt(r, out=r)
        np.multiply(theta, np.float32(2.0 * math.pi), out=theta)
        sine = np.sin(theta)
        np.cos(theta, out=theta)
        np.multiply(theta, r, out=theta)  # r·cos θ
        np.multiply(r, sine, out=r)  # r·sin θ
        return u.reshape(-1)[:n].reshape(shape)

    def permutation(self, n: int) -> Array:
        return self.gen.permutation(n)

    def permutations(self, rows: int, n: int) -> Array:
        return self.gen.permuted(np.tile(np.arange(n), (rows, 1)), axis=1)

    def host(self, a: Array) -> np.ndarray | None:
        return np.asarray(a)


class _TorchSource:
    def __init__(self, gen: Any) -> None:
        self.torch = torch_module()
        self.gen = gen
        self.device = gen.device
        self.xp = namespace_of(self.torch)

    def beta(self, alpha: float, shape: tuple[int, ...]) -> Array:
        # Beta(a, a) = X / (X + Y) with X, Y ~ Gamma(a). For small a both
        # gammas underflow to 0, so draw them in log space, using
        # Gamma(a) = Gamma(a + 1) * U ** (1 / a) where -log U ~ Exp(1), and
        # normalise the pair with a softmax: seven kernels, each a launch on a GPU.
        g, e = self.beta_parts(alpha, shape)
        log_gamma = self.torch.add(self.torch.log(g), e, alpha=-1.0 / alpha)
        return self.torch.softmax(log_gamma, dim=0)[0]

    def beta_parts(self, alpha: float, shape: tuple[int, ...]) -> tuple[Array, Array]:
        """What :meth:`beta` is made of, drawn in the same order: ``g`` ~
        Gamma(α + 1) and ``e`` ~ Exp(1), float64 of shape ``(2, *shape)``;
        row 0 gives X, row 1 Y, as ``log X = log g − e / α``. The fused
        kernel (``_backends.torch_cuda.fused_draws``) takes them from here."""
        torch = self.torch
        pair = (2, *shape)
        a = torch.full(pair, alpha + 1.0, dtype=torch.float64, device=self.device)
        g = torch._standard_gamma(a, generator=self.gen)
        e = torch.empty(pair, dtype=torch.float64, device=self.device).exponential_(
            generator=self.gen)
        return g, e

    def uniform(self, shape: tuple[int, ...]) -> Array:
        torch = self.torch
        return torch.rand(shape, dtype=torch.float64, device=self.device, generator=self.gen)

    def normal(self, shape: tuple[int, ...]) -> Array:
        torch = self.torch
        return torch.randn(shape, dtype=torch.float32, device=self.device, generator=self.gen)

    def permutation(self, n: int) -> Array:
        if self.device.type != "cuda":
            return self.torch.randperm(n, device=self.device, generator=self.gen)
        # On CUDA the stable argsort of uniform keys, which the draws kernel
        # (_backends.torch_cuda.fused_draws) ranks in the same launch as λ: randperm is a
        # few kernels of its own there, and the two ways give one permutation
        return self.torch.argsort(self.uniform((n,)), stable=True)

    def permutations(self, rows: int, n: int) -> Array:
        return self.torch.argsort(self.uniform((rows, n)), dim=1, stable=True)

    def host(self, a: Array) -> np.ndarray | None:
        if a.device.type != "cpu" or self.torch.compiler.is_compiling():
            return None
        view: np.ndarray = a.numpy()
        return view


class _JaxSource:
    def __init__(self, key: Any) -> None:
        self.jax = sys.modules["jax"]
        self.key = key
        self.xp = namespace_of(self.jax.numpy)
        self.device = None

    def _next(self) -> Any:
        self.key, sub = self.jax.random.split(self.key)
        return sub

    def beta(self, alpha: float, shape: tuple[int, ...]) -> Array:
        # Not jax.random.beta: its gammas are drawn by rejection in while
        # loops, and on a GPU an XLA while loop copies its predicate to the
        # host on every iteration. The same method (Marsaglia and Tsang),
        # with CANDIDATES tries drawn at once, has a fixed shape and no loop.
        return _jax_beta(self.jax)(self._next(), alpha, shape)

    def uniform(self, shape: tuple[int, ...]) -> Array:
        return self.jax.random.uniform(self._next(), shape)

    def normal(self, shape: tuple[int, ...]) -> Array:
        return self.jax.random.normal(self._next(), shape, dtype=self.jax.numpy.float32)

    def permutation(self, n: int) -> Array:
        return self.jax.random.permutation(self._next(), n)

    def permutations(self, rows: int, n: int) -> Array:
        base = self.jax.numpy.tile(self.jax.numpy.arange(n), (rows, 1))
        return self.jax.random.permutation(self._next(), base, axis=1, independent=True)

    def host(self, a: Array) -> np.ndarray | None:
        return None  # a transfer, and no values at all under jit


#: Tries per gamma variate in :func:`log_gamma`. One is accepted with
#: probability 0.952 or more (shape α + 1 ≥ 1), so all sixteen fail with
#: probability under 1e-21.
CANDIDATES = 16


def log_gamma(xp: Any, alpha: float, z: Array, u: Array, e: Array) -> Array:
    """``log`` of Gamma(``alpha``) variates, from their draws, without a loop.

    Marsaglia and Tsang's method for Gamma(α + 1), whose shape is at least 1,
    then ``log Gamma(α) = log Gamma(α + 1) − E / α`` with E ~ Exp(1) (Stuart's
    boost, in log space, so small α does not underflow to 0). ``z`` (standard
    normal) and ``u`` (uniform in [0, 1)) hold one try per row along axis 0;
    each variate takes the first try accepted, or the last try where none
    is. ``e`` (standard exponential) has the variates' shape. Every
    operation is elementwise: the result's shape is fixed by the draws'.
    """
    d = alpha + 1.0 - 1.0 / 3.0
    c = 1.0 / math.sqrt(9.0 * d)
    w = c * z  # v = (1 + w)³
    positive = w > -1.0  # v > 0
    log_v = 3.0 * xp.log1p(xp.where(positive, w, xp.zeros_like(w)))
    s = w * (3.0 + w * (3.0 + w))  # v − 1, without cancelling
    # accept where log(1 − u) < z²/2 + d·(1 − v + log v), and v > 0. Written
    # as d·(log v − (v − 1)) from w, the cancellation costs an error of about
    # eps·(√d·|z| + z²), not eps·d (float32 draws with a large α); 1 − u is
    # uniform on (0, 1], so its log is finite
    accept = positive & (xp.log1p(-u) < 0.5 * z * z + d * (log_v - s))
    first = log_v[-1, ...]
    for i in range(z.shape[0] - 2, -1, -1):
        first = xp.where(accept[i, ...], log_v[i, ...], first)
    return (math.log(d) + first) - e / alpha


@functools.cache
def _jax_beta(jax: Any) -> Any:
    """Beta(α, α) variates from one JAX key, jitted once per α and shape:
    eager callers pay one dispatch, not one per operation; inside a caller's
    ``jax.jit`` it is inlined."""

    def beta(key: Any, alpha: float, shape: tuple[int, ...]) -> Any:
        pair = (2, *shape)
        kz, ku, ke = jax.random.split(key, 3)
        log_x = log_gamma(
            jax.numpy, alpha,
            jax.random.normal(kz, (CANDIDATES, *pair)),
            jax.random.uniform(ku, (CANDIDATES, *pair)),
            jax.random.exponential(ke, pair),
        )
        return jax.nn.sigmoid(log_x[0] - log_x[1])  # X / (X + Y)

    return jax.jit(beta, static_argnums=(1, 2))


def _is_jax_key(rng: Any) -> bool:
    jax = sys.modules.get("jax")
    if jax is None or not is_jax_array(rng):
        return False
    if jax.dtypes.issubdtype(rng.dtype, jax.dtypes.prng_key):
        return bool(rng.ndim == 0)
    return bool(rng.dtype == np.uint32 and rng.shape == (2,))


def host_source(rng: np.random.Generator) -> Source:
    """The source that draws from a NumPy Generator (:func:`source` of it)."""
    return _NumpySource(rng)


def source(rng: Any) -> Source:
    """The source that draws from ``rng``; a TypeError naming ``rng`` otherwise."""
    if rng is None:
        return _NumpySource(np.random.default_rng())
    if isinstance(rng, np.random.Generator):
        return _NumpySource(rng)
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        if rng < 0:
            raise ValueError(f"rng must be a non-negative int seed, got {rng}")
        return _NumpySource(np.random.default_rng(int(rng)))
    torch = torch_module()
    if torch is not None and isinstance(rng, torch.Generator):
        return _TorchSource(rng)
    if _is_jax_key(rng):
        return _JaxSource(rng)
    got = f"{type(rng).__module__}.{type(rng).__qualname__}"
    if is_jax_array(rng):  # keys of the wrong shape: a batch of keys, or not a key
        got += f" of dtype {rng.dtype} and shape {tuple(rng.shape)}"
    raise TypeError(
        "rng must be None, a non-negative int seed, a numpy.random.Generator, a "
        "torch.Generator or a JAX PRNG key (one key: a typed key of shape (), or a "
        f"uint32 array of shape (2,)), got {got}"
    )
