"""The one door to array-api-compat, and the few questions asked of arrays.

Every module of arraymix that needs a namespace, a device or a backend test
imports it from here, so the compatibility layer can be pinned, patched or
replaced in a single place.
"""

from __future__ import annotations

import functools
import sys
from typing import Any

import array_api_compat as _compat
import numpy as np
from array_api_compat import device as _device

__all__ = [
    "Array",
    "api_revision",
    "array_namespace",
    "default_float",
    "default_index",
    "device",
    "dtype_bits",
    "from_host",
    "host_readable",
    "is_array_api_obj",
    "is_jax_array",
    "is_numpy_array",
    "is_torch_array",
    "is_writeable_array",
    "isdtype",
    "library",
    "namespace",
    "namespace_of",
    "to_device",
]

#: Arrays of any array API library. The standard defines no static type that
#: every library's arrays satisfy, so the public signatures use ``Any``.
Array = Any


# Torch tensors are told apart by isinstance before array-api-compat is
# asked: its type checks are functools.lru_cache'd, and torch.compile warns
# once for every cached function it traces through (22 warnings on the first
# compiled blend, paste and one_hot). The answers are the same.


_TORCH: list[Any] = []


def torch_module() -> Any:
    """The torch module if it has been imported, else None (arraymix never
    imports it). Found in ``sys.modules`` once, then kept: code that
    torch.compile traces reads a module global, not ``sys.modules``, which
    torch 2.11's tracer copies whole to read one entry (and fails on, when an
    import changes it meanwhile)."""
    if _TORCH:
        return _TORCH[0]
    torch = sys.modules.get("torch")
    if torch is not None:
        _TORCH.append(torch)
    return torch


def is_torch_array(x: Any) -> bool:
    """Whether ``x`` is a torch tensor (of any subclass)."""
    torch = torch_module()
    # the exact type first: isinstance goes through the tensor metaclass's
    # __instancecheck__, several times slower
    return torch is not None and (type(x) is torch.Tensor or isinstance(x, torch.Tensor))


def is_numpy_array(x: Any) -> bool:
    """``array_api_compat.is_numpy_array``."""
    if type(x) is np.ndarray:  # the common case, answered first
        return True
    return not is_torch_array(x) and _compat.is_numpy_array(x)


def is_jax_array(x: Any) -> bool:
    """``array_api_compat.is_jax_array``."""
    return not is_torch_array(x) and _compat.is_jax_array(x)


def is_array_api_obj(x: Any) -> bool:
    """``array_api_compat.is_array_api_obj``."""
    return type(x) is np.ndarray or is_torch_array(x) or _compat.is_array_api_obj(x)


def is_writeable_array(x: Any) -> bool:
    """``array_api_compat.is_writeable_array`` (every torch tensor is)."""
    return is_torch_array(x) or _compat.is_writeable_array(x)


array_namespace = _compat.array_namespace


_NAMESPACES: dict[type, Any] = {}


def namespace(x: Array, *others: Array) -> Any:
    """``array_namespace(x, *others)``, cached for the exact array types of the
    hot host path (NumPy arrays, torch tensors), where the answer depends on
    the type alone; a TypeError if the arrays come from different libraries."""
    kind = type(x)
    if all(type(o) is kind for o in others):
        xp = _NAMESPACES.get(kind)
        if xp is None:
            if is_torch_array(x):  # under torch.compile: without the cached checks
                from array_api_compat import torch as xp
            else:
                xp = array_namespace(x)
            if is_numpy_array(x) or (kind.__module__ == "torch" and kind.__name__ == "Tensor"):
                _NAMESPACES[kind] = xp
        return xp
    return array_namespace(x, *others)


@functools.cache
def namespace_of(xp: Any) -> Any:
    """The array API namespace of a library given as a module (``numpy``,
    ``torch``, ``jax.numpy``) or as a namespace already."""
    return array_namespace(xp.empty(0))


def api_revision(xp: Any) -> str:
    """The array API revision a namespace declares, ``"YYYY.MM"`` (such
    strings order as dates); one later than any where it declares none."""
    revision = getattr(xp, "__array_api_version__", None)
    return revision if isinstance(revision, str) else "9999.12"


def library(xp: Any) -> str:
    """The library a namespace belongs to: ``"numpy"``, ``"torch"``, ``"jax"``..."""
    try:
        return _library(xp)
    except TypeError:  # a namespace that cannot be a key
        return _library.__wrapped__(xp)


@functools.cache
def _library(xp: Any) -> str:
    name: str = xp.__name__.removeprefix("array_api_compat.")
    return name.split(".")[0]


def _extension_kind(dtype: Any) -> str | None:
    """The kind of a NumPy dtype that ml_dtypes adds (``bfloat16``,
    ``float8_*``, ``int4``...: what a JAX array of those dtypes becomes in
    NumPy), which NumPy's own ``isdtype`` refuses; None for any other dtype."""
    if not (isinstance(dtype, np.dtype) and dtype.type.__module__ == "ml_dtypes"):
        return None
    return "integral" if "int" in dtype.name else "real floating"


def isdtype(xp: Any, dtype: Any, kind: str | tuple[str, ...]) -> bool:
    """``xp.isdtype(dtype, kind)``, answered for ml_dtypes' dtypes too."""
    extension = _extension_kind(dtype)
    if extension is None:
        return bool(xp.isdtype(dtype, kind))
    kinds = (kind,) if isinstance(kind, str) else kind
    return extension in kinds or "numeric" in kinds


_KINDS: dict[tuple[int, Any], str] = {}


def dtype_kind(xp: Any, dtype: Any) -> str:
    """``"real floating"``, ``"integral"``, ``"bool"`` or ``"other"``
    (complex, strings...): the kind of ``dtype`` in ``xp``, remembered per
    library and dtype."""
    key = (id(xp), dtype)
    kind = _KINDS.get(key)
    if kind is None:
        kind = next((k for k in ("real floating", "integral", "bool") if isdtype(xp, dtype, k)),
                    "other")
        _KINDS[key] = kind
    return kind


def dtype_bits(xp: Any, dtype: Any) -> int:
    """The width of a real dtype in bits (a 4-bit type stored in a byte counts 8)."""
    size = getattr(dtype, "itemsize", None)
    if isinstance(size, int):
        return 8 * size
    info = xp.finfo(dtype) if isdtype(xp, dtype, "real floating") else xp.iinfo(dtype)
    return int(info.bits)


def device(x: Array) -> Any:
    """``array_api_compat.device(x)``, answered directly for the hot host types."""
    kind = type(x)
    if kind.__module__ == "numpy" and kind.__name__ == "ndarray":
        return "cpu"
    if kind.__module__ == "torch" and kind.__name__ == "Tensor":
        return x.device
    return _device(x)


def default_float(xp: Any, dev: Any) -> Any:
    """The default real floating dtype of ``xp`` on ``dev``."""
    return _default_dtypes(xp, dev)["real floating"]


def default_index(xp: Any, dev: Any) -> Any:
    """The default indexing dtype of ``xp`` on ``dev``."""
    return _default_dtypes(xp, dev)["indexing"]


_DEFAULTS: dict[tuple[int, Any], dict[str, Any]] = {}


def _default_dtypes(xp: Any, dev: Any) -> dict[str, Any]:
    """``xp``'s default dtypes on ``dev``, remembered per library and device
    for NumPy; other libraries' may change at run time (torch's
    ``set_default_dtype``, JAX's x64 mode), so they are asked each time)."""
    if getattr(xp, "__name__", None) != "array_api_compat.numpy":
        found: dict[str, Any] = xp.__array_namespace_info__().default_dtypes(device=dev)
        return found
    key = (id(xp), dev)
    cached = _DEFAULTS.get(key)
    if cached is None:
        cached = _DEFAULTS[key] = xp.__array_namespace_info__().default_dtypes(device=dev)
    return cached


def from_host(xp: Any, a: Any, dtype: Any, dev: Any) -> Array:
    """A host NumPy array as an ``xp`` array of ``dtype`` on ``dev``, with no device sync.

    torch's plain host-to-GPU copy waits for the device to finish its queue
    (a stream sync on every call, which stalls a training loop); here the
    copy is queued instead (``non_blocking``). From pageable memory the
    driver stages the bytes before the call returns, so ``a`` may go at once.
    Other libraries' ``asarray`` already queues the copy (CuPy, JAX).
    """
    if library(xp) == "torch":
        torch = torch_module()
        host = np.asarray(a)
        if host.ndim:
            host = np.ascontiguousarray(host)
        same = _numpy_twin(torch, dtype)
        if same is not None:  # cast on the NumPy side: a torch .to() costs microseconds
            t = torch.from_numpy(host.astype(same, copy=False))
        else:
            t = torch.from_numpy(host).to(dtype)
        if dev is None or getattr(dev, "type", None) == "cpu" or torch.device(dev).type == "cpu":
            return t
        return to_device(xp, t, dev)
    return xp.asarray(a, dtype=dtype, device=dev)


def _numpy_twin(torch: Any, dtype: Any) -> Any:
    """The NumPy dtype holding the same values as torch's ``dtype``; None for
    those NumPy lacks (bfloat16)."""
    return numpy_twins(torch).get(dtype)


@functools.cache
def numpy_twins(torch: Any) -> dict[Any, Any]:
    return {torch.float16: np.float16, torch.float32: np.float32,
            torch.float64: np.float64, torch.int8: np.int8, torch.int16: np.int16,
            torch.int32: np.int32, torch.int64: np.int64, torch.uint8: np.uint8,
            torch.bool: np.bool_}


def to_device(xp: Any, a: Array, dev: Any) -> Array:
    """``a`` of library ``xp`` on ``dev``; a torch host-to-GPU move is queued (see
    :func:`from_host`), never a stream sync."""
    if library(xp) == "torch":
        torch = torch_module()
        dev = torch.device(dev)
        queued = a.device.type == "cpu" and dev.type not in ("cpu", "meta")
        return a.to(dev, non_blocking=queued)
    return xp.asarray(a, device=dev)


def is_traced(a: Any) -> bool:
    """Whether ``a`` is a JAX tracer: a value inside ``jax.jit``, ``vmap`` or
    ``grad``, whose Python code runs once, when the function is traced."""
    if type(a) is np.ndarray or not is_jax_array(a):
        return False
    return isinstance(a, sys.modules["jax"].core.Tracer)


def host_readable(a: Array) -> bool:
    """Whether reading ``a``'s values costs no device sync and breaks no trace.

    True for NumPy arrays and for torch tensors in host memory outside of a
    ``torch.compile`` trace; False for everything else (GPU memory, the
    ``meta`` device, JAX tracers, lazy Dask graphs).
    """
    if type(a) is np.ndarray:
        return True
    if is_torch_array(a):
        return bool(a.is_cpu) and not torch_module().compiler.is_compiling()
    return is_numpy_array(a)
