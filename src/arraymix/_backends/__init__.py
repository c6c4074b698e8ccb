"""Which backend mixes an array: one decision per call, made here.

=============================  ===================  ===============================
array                          backend              module
=============================  ===================  ===============================
``numpy.ndarray``              ``Numpy``            :mod:`.numpy_host`
torch tensor, device ``cpu``   ``TorchCPU``         :mod:`.torch_cpu`
torch tensor, device ``cuda``  ``TorchCUDA``        :mod:`.torch_cuda` (with Triton;
                                                    else ``Torch``)
torch tensor, other devices    ``Torch``            :mod:`.torch_cpu`
JAX array or tracer            ``Jax``              :mod:`.jax_xla`
anything else                  ``Reference(xp)``    :mod:`.reference`
=============================  ===================  ===============================

A backend is an object with the operations ``blend``, ``paste``,
``one_hot`` and ``mix_ids``; each backend decides internally between its
own paths (:data:`.tuning.PATHS`), and falls back on the reference, which
every backend subclasses. The choice depends on the array's type (and a
tensor's device type), so it is cached per type, as einops caches its
backends. Frameworks are never imported here: a torch tensor can only
exist if its caller imported torch.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

from .._compat import Array, array_namespace, is_jax_array, is_numpy_array, is_torch_array
from .._params import register_with_jax
from .jax_xla import Jax
from .numpy_host import NUMPY
from .reference import Reference
from .torch_cpu import Torch, TorchCPU
from .torch_cuda import TorchCUDA, triton_kernels
from .tuning import PATHS, Tuning, current, tuned

__all__ = ["PATHS", "Reference", "Tuning", "current", "for_torch_device", "routed",
           "select", "tuned"]

_BY_TYPE: dict[type, Callable[[Array], Reference]] = {}


def select(x: Array) -> Reference:
    """The backend for ``x`` (an array API array, checked by the caller)."""
    pick = _BY_TYPE.get(type(x))
    if pick is None:
        pick = _BY_TYPE[type(x)] = _picker(x)
    return pick(x)


def _picker(x: Array) -> Callable[[Array], Reference]:
    """How arrays of ``x``'s type find their backend."""
    if is_numpy_array(x):
        return lambda _: NUMPY
    if is_torch_array(x):
        return lambda t: for_torch_device(t.device.type)
    if is_jax_array(x):
        register_with_jax()
        jax = Jax(array_namespace(x))
        return lambda _: jax
    other = Reference(array_namespace(x))
    return lambda _: other


_TORCH: dict[str, Reference] = {}
_ROUTES: dict[str, str] = {}


def for_torch_device(kind: str) -> Reference:
    """The backend of torch tensors on devices of type ``kind`` (``"cpu"``,
    ``"cuda"``, ``"meta"``...)."""
    backend = _TORCH.get(kind)
    if backend is None:
        backend = _TORCH[kind] = _torch_backend(_ROUTES.get(kind, kind))
    return backend


def _torch_backend(kind: str) -> Reference:
    from array_api_compat import torch as xp  # not array_namespace: see _compat.namespace

    if kind == "cpu":
        return TorchCPU(xp)
    if kind == "cuda" and triton_kernels() is not None:
        return TorchCUDA(xp)
    return Torch(xp)


@contextlib.contextmanager
def routed(device: str, like: str) -> Iterator[None]:
    """Run a block with torch tensors on ``device`` taking the backend of
    ``like`` devices: ``routed("cpu", "cuda")`` sends host tensors through
    the CUDA backend (in Triton's interpreter, the fused kernels' check
    without a GPU) and its draws."""
    saved = dict(_ROUTES)
    _ROUTES[device] = like
    _TORCH.clear()
    try:
        yield
    finally:
        _ROUTES.clear()
        _ROUTES.update(saved)
        _TORCH.clear()
