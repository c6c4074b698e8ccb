"""Host loops over samples, split across the threads torch gives a CPU tensor.

torch runs its own CPU kernels on ``torch.get_num_threads()`` threads (one
in a DataLoader worker); the host paths that copy or select sample by
sample through NumPy views would otherwise run on one, so a CPU tensor's
batch is cut into that many runs of samples, one run a thread. NumPy
arrays stay on the caller's thread, as NumPy's own operations do. A run
writes only its own samples of a result that is not the input, so the
order of the runs does not change a value.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from .._compat import Array, is_torch_array, torch_module
from .tuning import current

__all__ = ["for_runs", "threads_for"]


def threads_for(x: Array) -> int:
    """How many threads the host loops over ``x``'s samples may use:
    torch's intra-op count for a CPU tensor of at least
    ``Tuning.thread_min_bytes``, else 1."""
    if not is_torch_array(x):
        return 1
    n: int = torch_module().get_num_threads()
    if n <= 1 or x.element_size() * x.numel() < current().thread_min_bytes:
        return 1
    return n


_POOL: dict[str, Any] = {}


def _pool(workers: int) -> ThreadPoolExecutor:
    """One executor per process: a forked DataLoader worker inherits the
    parent's object but none of its threads, so it makes its own."""
    pid = os.getpid()
    if _POOL.get("pid") != pid or _POOL["workers"] < workers:
        _POOL.update(pid=pid, workers=workers,
                     executor=ThreadPoolExecutor(workers, thread_name_prefix="arraymix"))
    pool: ThreadPoolExecutor = _POOL["executor"]
    return pool


def for_runs(rows: Sequence[int], body: Callable[[Sequence[int]], None], threads: int) -> None:
    """``body(rows)``, with ``rows`` cut into ``threads`` runs run at once
    (the caller's thread takes the first). An exception in any run is
    raised here, after every run has ended."""
    count = min(threads, len(rows))
    if count <= 1:
        body(rows)
        return
    cuts = [len(rows) * k // count for k in range(count + 1)]
    runs = [rows[cuts[k]:cuts[k + 1]] for k in range(count)]
    pool = _pool(count - 1)
    futures: list[Future[None]] = [pool.submit(body, run) for run in runs[1:]]
    try:
        body(runs[0])
    finally:
        errors = [f.exception() for f in futures]
    for error in errors:
        if error is not None:
            raise error
