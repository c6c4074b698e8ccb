"""New host batches in memory that earlier results have given back.

A new batch-sized array is memory the process has not touched: the kernel
clears each page as it is first written, which costs about as much as a
blend's whole 3N floor (docs/performance.md). glibc hands blocks over its
largest mmap threshold (32 MiB) back to the kernel as soon as they are
freed, so every call pays it again. A training loop drops each result
before it asks for the next, so the blocks behind large results are kept
here and handed out again once no array uses them.

A block is free when nothing but this module refers to it: every NumPy
view of a block has the block itself as its base (NumPy collapses chains
of views onto the array that owns the memory), and a tensor made by
``torch.from_numpy`` keeps its array, so the block's reference count tells.
Where reference counts cannot tell (no ``sys.getrefcount``, or a build
without the GIL, whose counts are deferred), nothing is kept.

``ARRAYMIX_REUSE_MEMORY=0`` in the environment turns it off;
:func:`release_memory` hands the free blocks back.
"""

from __future__ import annotations

import collections
import functools
import math
import os
import sys
import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from .. import _pages
from .tuning import current

__all__ = ["host_empty", "release_memory", "torch_empty"]


def _refs(blocks: list[np.ndarray], i: int) -> int:
    return sys.getrefcount(blocks[i])


@functools.cache
def _kept_refs() -> int | None:
    """The references to a block that only the pool holds (as :func:`_refs`
    counts them), or None where blocks cannot be kept."""
    if os.environ.get("ARRAYMIX_REUSE_MEMORY", "1") == "0":
        return None
    if not hasattr(sys, "getrefcount") or not getattr(sys, "_is_gil_enabled", lambda: True)():
        return None
    return _refs([np.empty(0)], 0)


class _Pool:
    """The kept blocks by size in bytes, the least recently asked for first."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        # reentrant: a finalizer run by the collector inside take may mix again
        self.lock = threading.RLock()
        self.blocks: collections.OrderedDict[int, list[np.ndarray]] = collections.OrderedDict()

    @property
    def kept(self) -> int:
        """The bytes of the kept blocks, free or in use."""
        return sum(nbytes * len(blocks) for nbytes, blocks in self.blocks.items())

    def take(self, nbytes: int, base: int, make: Callable[[int], np.ndarray],
             dtype: np.dtype[Any], shape: tuple[int, ...]) -> np.ndarray:
        """An array of ``shape`` and ``dtype`` (``nbytes``) in a free block,
        kept or new from ``make`` (kept where the bounds allow)."""
        with self.lock:  # the view that holds the block is made before another thread looks
            blocks = self.blocks.setdefault(nbytes, [])
            self.blocks.move_to_end(nbytes)
            for i in range(len(blocks)):
                if _refs(blocks, i) <= base:
                    return blocks[i].view(dtype).reshape(shape)
            block = make(nbytes)
            t = current()
            if len(blocks) < t.reuse_per_size:
                if self.kept + nbytes > t.reuse_max_bytes:
                    self._drop(self.kept + nbytes - t.reuse_max_bytes, base)
                    blocks = self.blocks.setdefault(nbytes, [])  # dropped if it was empty
                if self.kept + nbytes <= t.reuse_max_bytes:
                    blocks.append(block)
            return block.view(dtype).reshape(shape)

    def _drop(self, wanted: int, base: int) -> int:
        """Free blocks let go, the least recently asked sizes first, until
        ``wanted`` bytes are (or every free block is); the bytes let go."""
        dropped = 0
        for nbytes, blocks in list(self.blocks.items()):
            for i in reversed(range(len(blocks))):
                if dropped >= wanted:
                    return dropped
                if _refs(blocks, i) <= base:
                    del blocks[i]
                    dropped += nbytes
            if not blocks:
                del self.blocks[nbytes]
        return dropped


_POOL: list[_Pool] = []


def _pool() -> _Pool:
    # a forked child (a DataLoader worker) starts a pool of its own: the
    # parent's lock may have been held when it forked
    if not _POOL or _POOL[0].pid != os.getpid():
        _POOL[:] = [_Pool()]
    return _POOL[0]


def _numpy_block(nbytes: int) -> np.ndarray:
    return np.empty(nbytes, dtype=np.uint8)  # NumPy asks for huge pages itself


def host_empty(shape: tuple[int, ...], dtype: Any,
               make: Callable[[int], np.ndarray] = _numpy_block) -> np.ndarray:
    """``np.empty(shape, dtype)`` (C order), in a kept block where it is
    large; a new block comes from ``make`` (bytes -> a uint8 array)."""
    dtype = np.dtype(dtype)
    nbytes = dtype.itemsize * math.prod(shape)
    base = _kept_refs()
    if base is None or nbytes < current().reuse_min_bytes:
        return np.empty(shape, dtype=dtype)
    return _pool().take(nbytes, base, make, dtype, shape)


def numpy_like(like: Any, dtype: Any = None) -> np.ndarray:
    """``np.empty_like(like, dtype)``, from a kept block where ``like`` is a
    plain C-ordered array (``empty_like`` keeps other layouts and subclasses)."""
    if type(like) is not np.ndarray or not like.flags.c_contiguous:
        return np.empty_like(like, dtype=dtype)
    return host_empty(like.shape, like.dtype if dtype is None else dtype)


def torch_empty(like: Any, dtype: Any = None) -> Any:
    """``torch.empty_like(like, dtype)`` for a large contiguous CPU tensor,
    from a kept block, or None where that cannot be or need not (another
    layout or device, a dtype NumPy lacks as bfloat16, a small tensor)."""
    import torch

    dtype = like.dtype if dtype is None else dtype
    if like.device.type != "cpu" or like.layout != torch.strided:
        return None
    # empty_like keeps a dense layout (channels-last); a batch expanded
    # from a contiguous sample gets the contiguous one
    if not (like.is_contiguous()
            or (like.ndim > 0 and like.stride(0) == 0 and like[0].is_contiguous())):
        return None
    host = _numpy_dtype(dtype)
    if (host is None or _kept_refs() is None
            or host.itemsize * like.numel() < current().reuse_min_bytes):
        return None  # small tensors: torch's allocator keeps them itself
    return torch.from_numpy(host_empty(tuple(like.shape), host, _torch_block))


def _torch_block(nbytes: int) -> np.ndarray:
    """A block torch allocates, on huge pages as :func:`.walk.fresh_torch`
    asks for them (``ARRAYMIX_HUGE_PAGES`` holds for torch's batches)."""
    import torch

    block = torch.empty(nbytes, dtype=torch.uint8)
    _pages.advise(block.data_ptr(), nbytes)  # from its MIN_BYTES up
    return block.numpy()  # views of it keep it (its base is the tensor)


@functools.cache
def _numpy_dtype(dtype: Any) -> np.dtype[Any] | None:
    import torch

    try:
        return np.dtype(torch.empty((), dtype=dtype).numpy().dtype)
    except (TypeError, RuntimeError):
        return None


def release_memory() -> int:
    """Hand the host memory arraymix keeps for new batches back to the allocator.

    arraymix writes a large new result (4 MiB and up) into memory that an
    earlier result has given back, where there is one: new memory costs as
    much as the mixing itself, as the kernel clears each page when it is
    first written. The memory of results still in use is never touched; it
    is kept for reuse once they are gone. Call this to give the kept memory
    back, say when a process stops mixing. ``ARRAYMIX_REUSE_MEMORY=0`` in
    the environment keeps none.

    Returns
    -------
    int
        The bytes handed back (memory no result uses).

    Examples
    --------
    >>> import numpy as np
    >>> import arraymix
    >>> x = np.zeros((16, 3, 224, 224), dtype=np.float32)
    >>> y = arraymix.mixup(x, rng=0)
    >>> del y                   # its memory is kept for the next result
    >>> arraymix.release_memory() >= 0
    True
    """
    if not _POOL or _POOL[0].pid != os.getpid():
        return 0
    pool = _POOL[0]
    base = _kept_refs()
    if base is None:
        return 0
    with pool.lock:
        return pool._drop(pool.kept, base)
