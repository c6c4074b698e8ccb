"""One fixture, ``backend``, over every array library arraymix runs on.

Each backend knows how to put a NumPy array on its device, how to read an
array back for comparison (``None`` where there is no data: torch's ``meta``
device), and how to call a function the way that backend's users do
(``jax.jit`` under ``jax.transfer_guard("disallow")`` for ``jax-jit``).
A backend whose library is not installed, or whose hardware is absent, is
skipped with the reason.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, settings

settings.register_profile(
    "default", deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
# CI replays a fixed set of examples, so a submission's result does not depend
# on the draw; local runs keep exploring new ones.
settings.register_profile("ci", parent=settings.get_profile("default"), derandomize=True)
# bench/gpu.sh, which must finish in minutes on a GPU machine: a fixed draw,
# and a failure is reported as found rather than shrunk
settings.register_profile("device", parent=settings.get_profile("ci"),
                          phases=[Phase.explicit, Phase.reuse, Phase.generate])
settings.load_profile("ci" if os.environ.get("CI") else "default")


@dataclass
class Backend:
    name: str
    xp: Any
    device: Any
    put: Callable[[np.ndarray], Any]
    get: Callable[[Any], np.ndarray] | None
    dtypes: dict[str, Any]
    jit: bool = False
    guard: Callable[[], contextlib.AbstractContextManager[Any]] = contextlib.nullcontext
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def has_values(self) -> bool:
        return self.get is not None

    def asarray(self, a: Any, dtype: str | None = None) -> Any:
        """A NumPy array (or nested list) on this backend's device."""
        a = np.asarray(a)
        if dtype is None:
            dtype = a.dtype.name
        if dtype == "bfloat16":
            out = self.put(a.astype(np.float32))
            return self.xp.astype(out, self.dtypes["bfloat16"])
        return self.put(a.astype(dtype))

    def numpy(self, a: Any) -> np.ndarray:
        """Read an array back as NumPy (bfloat16 as float32)."""
        assert self.get is not None, f"{self.name} arrays hold no data"
        if a.dtype == self.dtypes.get("bfloat16", object()):
            a = self.xp.astype(a, self.xp.float32)
        return np.asarray(self.get(a))

    def call(self, fn: Callable[..., Any], *args: Any, **static: Any) -> Any:
        """``fn(*args, **static)`` as this backend's users would run it."""
        if not self.jit:
            with self.guard():
                return fn(*args, **static)
        import jax

        with self.guard():
            return jax.jit(functools.partial(fn, **static))(*args)


def _numpy() -> Backend:
    import array_api_compat.numpy as xp

    return Backend("numpy", xp, "cpu", np.asarray, np.asarray, _dtypes(xp))


def _torch(dev: str) -> Backend:
    torch = pytest.importorskip("torch", reason="torch is not installed")
    if dev == "cuda" and not torch.cuda.is_available():
        pytest.skip("torch has no CUDA device here")
    import array_api_compat.torch as xp

    get = None if dev == "meta" else (lambda t: t.detach().cpu().numpy())
    device = torch.empty(0, device=dev).device  # "cuda" made concrete: cuda:0
    return Backend(
        f"torch-{dev}", xp, device, lambda a: torch.asarray(a, device=device), get,
        _dtypes(xp, bfloat16=torch.bfloat16),
    )


def _jax(jit: bool, gpu: bool = False) -> Backend:
    jax = pytest.importorskip("jax", reason="jax is not installed")
    import jax.numpy as jnp

    if gpu:
        try:
            dev = jax.devices("gpu")[0]
        except RuntimeError:
            pytest.skip("jax has no GPU here")
    else:
        dev = jax.devices("cpu")[0]
    dtypes = _dtypes(jnp, bfloat16=jnp.bfloat16)
    if not jax.config.jax_enable_x64:  # 64-bit types silently become 32-bit ones
        dtypes = {k: v for k, v in dtypes.items() if not k.endswith("64")}
    return Backend(
        "jax-jit" if jit else ("jax-gpu" if gpu else "jax"), jnp, dev,
        lambda a: jax.device_put(a, dev), np.asarray, dtypes,
        jit=jit, guard=(lambda: jax.transfer_guard("disallow")) if jit else contextlib.nullcontext,
    )


def _strict() -> Backend:
    xp = pytest.importorskip("array_api_strict", reason="array-api-strict is not installed")
    dev = xp.Device("device1")
    cpu = xp.Device("CPU_DEVICE")
    return Backend(
        "array-api-strict", xp, dev, lambda a: xp.asarray(a, device=dev),
        lambda a: np.asarray(xp.asarray(a, device=cpu, copy=True)), _dtypes(xp),
    )


def _dask() -> Backend:
    pytest.importorskip("dask.array", reason="dask[array] is not installed")
    import array_api_compat.dask.array as xp
    import dask.array as da

    def put(a: np.ndarray) -> Any:
        # Two chunks along the batch axis, so chunk boundaries are exercised.
        chunks = tuple(max(1, -(-n // 2)) if i == 0 else n for i, n in enumerate(a.shape))
        return da.from_array(a, chunks=chunks)

    return Backend("dask", xp, "cpu", put, lambda a: np.asarray(a.compute()), _dtypes(xp))


def _ndonnx() -> Backend:
    ndx = pytest.importorskip("ndonnx", reason="ndonnx is not installed")

    return Backend("ndonnx", ndx, ndx.asarray(np.zeros(1)).device, ndx.asarray,
                   lambda a: np.asarray(a.unwrap_numpy()), _dtypes(ndx))


def _cupy() -> Backend:
    cp = pytest.importorskip("cupy", reason="cupy is not installed")
    try:
        cp.cuda.runtime.getDeviceCount()
    except Exception:
        pytest.skip("cupy has no CUDA device here")
    import array_api_compat.cupy as xp

    return Backend("cupy", xp, cp.cuda.Device(0), cp.asarray, cp.asnumpy, _dtypes(xp))


def _dtypes(xp: Any, **extra: Any) -> dict[str, Any]:
    names = ("float16", "float32", "float64", "uint8", "int8", "int16", "int32", "int64")
    return {n: getattr(xp, n) for n in names if hasattr(xp, n)} | extra


BACKENDS: dict[str, Callable[[], Backend]] = {
    "numpy": _numpy,
    "torch-cpu": lambda: _torch("cpu"),
    "torch-meta": lambda: _torch("meta"),
    "jax": lambda: _jax(jit=False),
    "jax-jit": lambda: _jax(jit=True),
    "array-api-strict": _strict,
    "dask": _dask,
    "ndonnx": _ndonnx,
    "torch-cuda": lambda: _torch("cuda"),
    "jax-gpu": lambda: _jax(jit=True, gpu=True),
    "cupy": _cupy,
}


@pytest.fixture(params=list(BACKENDS))
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    return BACKENDS[request.param]()
