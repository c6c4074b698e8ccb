"""Where each backend switches between its paths: every threshold in one place.

The values were chosen by measurement (``bench/run.py``, ``dev/``; the
figures are in docs/performance.md). Tests change them, or force a path by
name, with :func:`tuned`, and never patch a module.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator

__all__ = ["PATHS", "Tuning", "current", "tuned"]


@dataclasses.dataclass(frozen=True)
class Tuning:
    """The thresholds of the host paths, and a path to force."""

    #: Elements per sample from which a host batch is blended sample by
    #: sample along the permutation's cycles: a sample then stays in cache
    #: where the batch does not; below it a Python step per sample costs
    #: more than whole-batch operations.
    walk_min_sample: int = 1 << 15
    #: Elements per sample from which a box per sample is copied box by box
    #: on the host; below it one mask over the batch costs less than a
    #: Python step per sample.
    paste_min_sample: int = 3072
    #: Elements of a NumPy sample the walk blends at a time: the three
    #: passes over a piece (two products, their sum) then stay in L2.
    piece: int = 1 << 15
    #: The same for integer samples, blended through float scratch: larger
    #: pieces halve the Python steps per sample, and the scratch (two float
    #: pieces) still fits in L2 beside the integer sources.
    int_piece: int = 1 << 16
    #: A NumPy batch of small samples up to this size is blended in place
    #: through a new batch copied back (it sits in cache, so the copy costs
    #: less than gathering and scattering blocks in cycle order).
    copy_back_bytes: int = 4 << 20
    #: A CPU tensor of small samples up to this size is blended in place
    #: by gathering the partners into scratch, which the allocator reuses;
    #: above it (glibc's largest mmap threshold) fresh scratch would fault
    #: in on every call, so NumPy's in-place blocks run on its memory.
    torch_scratch_bytes: int = 32 << 20
    #: Elements of the ``(B, C)`` mixed one-hot targets of 1-d class ids from
    #: which a host backend fills them and scatters the ids and the
    #: partners' ids (one pass over ``B×C``); below it the one-hot rows are
    #: built and blended, in fewer Python-level operations.
    scatter_ids_min: int = 1 << 16
    #: The most classes for which a host backend keeps the ``C×C`` table of
    #: one-hot rows (per smoothing and dtype) and picks rows from it: a
    #: small call then costs two takes instead of a fill and a scatter; the
    #: bound keeps each table within a few hundred KiB.
    one_hot_table_max: int = 256
    #: Bytes of a CPU tensor from which the host loops over its samples
    #: run on torch's threads (:mod:`.threads`); below it handing runs to
    #: threads costs more than it saves.
    thread_min_bytes: int = 4 << 20
    #: Values per row from which an FMix threshold is selected through a
    #: bracket from a sorted sample of the row (see ``_family._select``);
    #: below it the sample and the counting cost more than partitioning the
    #: whole row.
    select_bracket_min: int = 4096
    #: New host arrays from this size up are made in memory that an earlier
    #: result gave back (:mod:`.reuse`); smaller ones come from the
    #: allocator, which keeps and reuses memory of their size itself.
    reuse_min_bytes: int = 4 << 20
    #: The most blocks of one size kept for reuse (a loop holds its last
    #: result while it asks for the next), and the most bytes of blocks in
    #: all; a size not asked for lately gives way to a new one.
    reuse_per_size: int = 4
    reuse_max_bytes: int = 1 << 30
    #: The largest batch whose partners the CUDA draws kernel ranks (it
    #: compares every key with every other of its group); larger ones sort.
    rank_max: int = 4096
    #: In place on CUDA: the most samples a column tile of the fused kernels
    #: spans, and the elements of a tile (a program holds it twice, the tile
    #: and its gathered partners): these keep every kernel free of register
    #: spills (tests/scripts/fused_compile.py compiles them).
    cuda_column_rows: int = 512
    cuda_column_tile: int = 2048
    #: A path every backend that has it takes wherever it can
    #: (:data:`PATHS`): ``"reference"`` forces the array API reference.
    force: str | None = None


#: The paths of each backend, by operation, the default choice first where
#: it depends on nothing but the backend. What a backend lacks (the walk on
#: JAX) it never takes, forced or not.
PATHS: dict[str, dict[str, tuple[str, ...]]] = {
    "numpy": {"blend": ("walk", "blocks", "reference"),
              "paste": ("boxes", "slice", "mask-copy", "reference")},
    "torch-cpu": {"blend": ("walk", "blocks", "gather-lerp", "lerp", "reference"),
                  "paste": ("boxes", "slice", "mask-copy", "reference")},
    "torch": {"blend": ("lerp", "reference"), "paste": ("reference",)},
    "torch-cuda": {"blend": ("fused", "lerp", "reference"), "paste": ("fused", "reference")},
    "jax": {"blend": ("widen", "reference"), "paste": ("reference",)},
    "reference": {"blend": ("reference",), "paste": ("reference",)},
}

_STACK = [Tuning()]


def current() -> Tuning:
    """The tuning in force."""
    return _STACK[-1]


@contextlib.contextmanager
def tuned(**changes: object) -> Iterator[Tuning]:
    """Run a block with some thresholds changed or a path forced.

    >>> from arraymix._backends.tuning import current, tuned
    >>> with tuned(walk_min_sample=1, force="walk") as t:
    ...     current() is t
    True
    >>> current().force is None
    True
    """
    force = changes.get("force")
    if force is not None and not any(force in ops[op] for ops in PATHS.values() for op in ops):
        raise ValueError(f"no backend has a path named {force!r}")
    _STACK.append(dataclasses.replace(current(), **changes))  # type: ignore[arg-type]
    try:
        yield _STACK[-1]
    finally:
        _STACK.pop()
