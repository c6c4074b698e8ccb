"""Transparent huge pages for new host batches, as NumPy gives its own arrays.

A new batch-sized array is memory the process has never touched: the
kernel maps and zeroes it a page at a time as it is first written. With
4 KiB pages that costs more than the blend itself (docs/performance.md).
Linux maps 2 MiB pages instead where the program asks
with ``madvise(MADV_HUGEPAGE)`` (the default "madvise" mode of
``/sys/kernel/mm/transparent_hugepage/enabled``), 512 times fewer faults.
NumPy asks for every array from 4 MiB up; torch does not (only with
``THP_MEM_ALLOC_ENABLE=1`` set before it starts), so the walk asks for the
torch outputs it allocates.

``ARRAYMIX_HUGE_PAGES=0`` in the environment turns it off: where memory is
fragmented, a huge page fault may wait for the kernel to compact memory.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from pathlib import Path

__all__ = ["MIN_BYTES", "advise"]

#: Regions from this size up are advised (NumPy's threshold).
MIN_BYTES = 1 << 22

_THP = Path("/sys/kernel/mm/transparent_hugepage")


@functools.cache
def _madvise() -> Callable[[int, int], None] | None:
    """A function advising the huge pages inside ``[start, start + size)``, or
    None where that cannot help (not Linux, turned off, THP not in madvise mode)."""
    if sys.platform != "linux" or os.environ.get("ARRAYMIX_HUGE_PAGES", "1") == "0":
        return None
    try:
        if "[madvise]" not in (_THP / "enabled").read_text():
            return None  # "always" needs no advice, "never" ignores it
        page = int((_THP / "hpage_pmd_size").read_text())
    except (OSError, ValueError):
        return None
    import ctypes
    import mmap

    try:
        call = ctypes.CDLL(None, use_errno=True).madvise
    except (OSError, AttributeError):
        return None
    call.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    call.restype = ctypes.c_int
    flag = mmap.MADV_HUGEPAGE

    def advise_range(start: int, size: int) -> None:
        # only whole huge pages: the advice applies to the pages in the range,
        # and its ends may share a page with other data
        first = -(-start // page) * page
        last = (start + size) // page * page
        if last > first:
            call(first, last - first, flag)  # a refusal leaves ordinary pages

    return advise_range


def advise(start: int, size: int) -> None:
    """Ask for huge pages under ``size`` bytes from address ``start``, from
    :data:`MIN_BYTES` up, before the memory is first written."""
    if size >= MIN_BYTES:
        fn = _madvise()
        if fn is not None:
            fn(start, size)
